/*
 * devstack_freebsd.c: the image under an md(4) disk (devstack.h).
 *
 * MDIOCQUERY (<sys/mdioctl.h>) on /dev/mdctl, as mdconfig -l -u N does:
 * md_version MDIOVERSION, md_unit N, and md_file pointing at a buffer of
 * PATH_MAX, into which the kernel copies the backing file's path
 * (kern_mdquery_locked() in sys/dev/md/md.c: copyout() of the whole
 * string, with no length from us, for every MD_VNODE unit, so the
 * buffer must be PATH_MAX, the size of the kernel's own copy).
 * md_label is left NULL: the kernel then copies no label.  ENOENT: no
 * such unit (detached since the mount table was read).
 */
#include <sys/types.h>
#include <sys/param.h>
#include <sys/ioctl.h>
#include <sys/mdioctl.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <paths.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "devstack.h"
#include "util.h"

const char *const devstack_system_root = NULL;

int
devstack_image(
    const char *source, char *img, size_t imglen, char *err, size_t errlen)
{
	struct md_ioctl mdio;
	char file[PATH_MAX];
	int fd, unit, e;

	if ((unit = devstack_md_unit(source)) < 0)
		return 0;
	if ((fd = open(_PATH_DEV MDCTL_NAME, O_RDONLY | O_CLOEXEC)) == -1) {
		e = errno;
		errfmt(err, errlen, e, "%s (for %s)", _PATH_DEV MDCTL_NAME,
		    source);
		return -e;
	}
	memset(&mdio, 0, sizeof(mdio));
	memset(file, 0, sizeof(file));
	mdio.md_version = MDIOVERSION;
	mdio.md_unit = (unsigned)unit;
	mdio.md_file = file;
	if (ioctl(fd, MDIOCQUERY, &mdio) == -1) {
		e = errno;
		close(fd);
		errfmt(
		    err, errlen, e, "MDIOCQUERY md%d (for %s)", unit, source);
		return -e;
	}
	close(fd);
	if (mdio.md_type != MD_VNODE || file[0] == '\0')
		return 0;
	file[sizeof(file) - 1] = '\0';
	if (strlen(file) >= imglen) {
		errfmt(err, errlen, 0,
		    "md%d (for %s): image path longer than %zu", unit, source,
		    imglen);
		return -ENAMETOOLONG;
	}
	strcpy(img, file);
	return 1;
}

int
devstack_walk(const struct devstack_opts *o, const struct devstack_src *src,
    devstack_fn fn, void *arg, char *err, size_t errlen)
{
	char img[PATH_MAX];
	int rc;

	(void)o;
	if ((rc = devstack_image(src->source, img, sizeof(img), err, errlen)) <=
	    0)
		return rc;
	return fn(img, true, 0, arg);
}
