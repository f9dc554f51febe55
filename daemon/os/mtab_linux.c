/*
 * mtab_linux.c: the mount table on Linux (mtab.h), read from mountinfo
 * with libmount.  Only this file of the daemon links libmount.
 *
 * libmount ignores lines it cannot parse.  We do not: a plan built from
 * part of the mount table could miss the filesystem that holds a loop
 * image and freeze in the wrong order, so the read fails instead.  The
 * kernel never writes such a line.
 */
#include <sys/types.h>
#include <sys/statfs.h>

#include <errno.h>
#include <fcntl.h>
#include <libmount.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mountid.h"
#include "mtab.h"
#include "util.h"

#define MOUNTINFO "/proc/self/mountinfo"

static bool
has_opt(const char *optstr, const char *name)
{
	char *val = NULL;
	size_t valsz = 0;

	return optstr != NULL &&
	    mnt_optstr_get_option(optstr, name, &val, &valsz) == 0;
}

static int
parse_error(struct libmnt_table *tb, const char *file, int line)
{
	int *bad = mnt_table_get_userdata(tb);

	(void)file;
	if (bad != NULL && *bad == 0)
		*bad = line > 0 ? line : 1;
	return 1;
}

static char *
xstrdup(const char *s)
{
	return strdup(s != NULL ? s : "");
}

int
mtab_read_file(struct mtab *t, const char *path, char *err, size_t errlen)
{
	struct libmnt_table *tb;
	struct libmnt_iter *it = NULL;
	struct libmnt_fs *fs;
	int bad = 0, rc = -ENOMEM, n;

	t->v = NULL;
	t->n = 0;
	if (path == NULL)
		path = MOUNTINFO;
	if ((tb = mnt_new_table()) == NULL)
		goto nomem;
	mnt_table_set_userdata(tb, &bad);
	mnt_table_set_parser_errcb(tb, parse_error);
	if ((n = mnt_table_parse_file(tb, path)) < 0) {
		errfmt(err, errlen, -n, "%s", path);
		rc = n;
		goto out;
	}
	if (bad != 0) {
		errfmt(
		    err, errlen, 0, "%s:%d: not a mountinfo line", path, bad);
		rc = -EINVAL;
		goto out;
	}
	n = mnt_table_get_nents(tb);
	if ((t->v = calloc(n > 0 ? (size_t)n : 1, sizeof(*t->v))) == NULL)
		goto nomem;
	if ((it = mnt_new_iter(MNT_ITER_FORWARD)) == NULL)
		goto nomem;
	while (t->n < (size_t)n && mnt_table_next_fs(tb, it, &fs) == 0) {
		struct mtab_entry *m = &t->v[t->n];

		/* fstab syntax also parses: insist on mountinfo's fields */
		if (mnt_fs_get_root(fs) == NULL ||
		    mnt_fs_get_target(fs) == NULL ||
		    mnt_fs_get_fstype(fs) == NULL) {
			errfmt(err, errlen, 0, "%s: not in mountinfo format",
			    path);
			rc = -EINVAL;
			goto out;
		}
		m->target = xstrdup(mnt_fs_get_target(fs));
		m->fstype = xstrdup(mnt_fs_get_fstype(fs));
		m->source = xstrdup(mnt_fs_get_source(fs));
		m->root = xstrdup(mnt_fs_get_root(fs));
		t->n++;
		if (m->target == NULL || m->fstype == NULL ||
		    m->source == NULL || m->root == NULL)
			goto nomem;
		m->dev = mnt_fs_get_devno(fs);
		m->id = mnt_fs_get_id(fs);
		m->parent_id = mnt_fs_get_parent_id(fs);
		m->fsid.val[0] = (uint32_t)m->id;
		m->fsid.val[1] = mountid_encode_dev(m->dev);
		/*
		 * The superblock's "ro" alone, not this mount's: FIFREEZE
		 * acts on the superblock and works through a read-only
		 * mount, and a filesystem seen here only through read-only
		 * mounts (a read-only bind, ProtectSystem= in the systemd
		 * unit) may be written through a read-write one elsewhere
		 * (another namespace, the rest of the system): it must be
		 * frozen.
		 */
		m->ro = has_opt(mnt_fs_get_fs_options(fs), "ro");
		m->local = !mnt_fs_is_netfs(fs);
	}
	rc = 0;
	goto out;
nomem:
	errfmt(err, errlen, 0, "out of memory");
out:
	mnt_free_iter(it);
	mnt_unref_table(tb);
	if (rc != 0)
		mtab_free(t);
	return rc;
}

int
mtab_read(struct mtab *t, char *err, size_t errlen)
{
	return mtab_read_file(t, MOUNTINFO, err, errlen);
}

void
mtab_free(struct mtab *t)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		free(t->v[i].target);
		free(t->v[i].source);
		free(t->v[i].fstype);
		free(t->v[i].root);
	}
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

int
mtab_in_memory(const char *path, char *fstype, size_t len)
{
	struct statfs sf;

	if (statfs(path, &sf) == -1)
		return -errno;
	if ((unsigned long)sf.f_type == (unsigned long)TMPFS_MAGIC) {
		snprintf(fstype, len, "tmpfs");
		return 1;
	}
	if ((unsigned long)sf.f_type == (unsigned long)RAMFS_MAGIC) {
		snprintf(fstype, len, "ramfs");
		return 1;
	}
	snprintf(fstype, len, "0x%lx", (unsigned long)sf.f_type);
	return 0;
}

/*
 * The kernel compares the namespace's event count with the one it last
 * reported on this open file: poll() says POLLERR|POLLPRI when they
 * differ.  The file is never read.
 */
int
mtab_watch_open(const char *path)
{
	int fd;

	if ((fd = open(
	         path != NULL ? path : MOUNTINFO, O_RDONLY | O_CLOEXEC)) == -1)
		return -errno;
	return fd;
}
