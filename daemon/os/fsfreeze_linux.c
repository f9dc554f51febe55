/*
 * fsfreeze_linux.c: the freezer's primitive on Linux (fsfreeze.h):
 * FIFREEZE and FITHAW on the mount point's open directory, and the
 * check that the directory is on the planned mount and superblock
 * (mountid_linux.c does the identifying).
 *
 * - What is frozen is what was planned.  A mount that went between the
 *   plan and the open (umount, umount -l, umount and mount again)
 *   leaves the path on the filesystem beneath, which must never be
 *   frozen: the open directory is identified (mount id, superblock) and
 *   compared with the plan's before anything freezes.  The fd pins its
 *   mount, so what FIFREEZE reaches through it cannot change after.
 * - EBUSY from FIFREEZE: the superblock is frozen already, and since a
 *   plan names each superblock once, by someone else.
 * - EINVAL from FITHAW: it is not frozen (any more).
 * - Closing the directory thaws nothing (fsfreeze_close_thaws false):
 *   the thaw guard holds a copy of it and issues FITHAW itself, which
 *   is the one ioctl its seccomp filter allows (guard/filter.c).
 */
#include <sys/types.h>
#include <sys/ioctl.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsfreeze.h"
#include "mountid.h"

#define MOUNTINFO "/proc/self/mountinfo"

const bool fsfreeze_close_thaws = false;
const char fsfreeze_op_freeze[] = "FIFREEZE";
const char fsfreeze_op_thaw[] = "FITHAW";

enum fsfreeze_kind
fsfreeze_kind(const char *fstype)
{
	/* the block filesystems whose kernel driver implements freeze */
	static const char *const suspend[] = {"ext2", "ext3", "ext4", "xfs",
	    "btrfs", "f2fs", "jfs", "reiserfs", "gfs2", "ocfs2", "nilfs2",
	    NULL};
	static const char *const pseudo[] = {"proc", "sysfs", "cgroup",
	    "cgroup2", "devpts", "securityfs", "debugfs", "tracefs", "configfs",
	    "pstore", "bpf", "mqueue", "hugetlbfs", "autofs", "binfmt_misc",
	    "efivarfs", "fusectl", "rpc_pipefs", "nfsd", "nsfs", "selinuxfs",
	    "binder", "xenfs", "tmpfs", "ramfs", "devtmpfs", "rootfs",
	    "overlay", "fuse", NULL};
	size_t i;

	for (i = 0; suspend[i] != NULL; i++)
		if (strcmp(fstype, suspend[i]) == 0)
			return FSFREEZE_SUSPEND;
	for (i = 0; pseudo[i] != NULL; i++)
		if (strcmp(fstype, pseudo[i]) == 0)
			return FSFREEZE_PSEUDO;
	return FSFREEZE_NONE;
}

int
fsfreeze_open(const char *path, int *fd)
{
	if ((*fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -errno;
	return 0;
}

int
fsfreeze_devs(const int *fds, size_t n, dev_t *devs, int *errs)
{
	struct mountid *ids;
	size_t i;
	int rc;

	if ((ids = calloc(n + 1, sizeof(*ids))) == NULL)
		return -ENOMEM;
	if ((rc = mountid_fds(fds, n, ids, MOUNTINFO)) == 0)
		for (i = 0; i < n; i++) {
			errs[i] = ids[i].err;
			devs[i] = ids[i].dev;
		}
	free(ids);
	return rc;
}

int
fsfreeze_check(const int *fds, const char *const *paths,
    const struct fsfreeze_id *want, dev_t *devs, size_t n, char *err,
    size_t errlen)
{
	struct mountid *ids;
	size_t i;
	int rc;

	if ((ids = calloc(n + 1, sizeof(*ids))) == NULL) {
		snprintf(err, errlen, "cannot check the planned mounts: %s",
		    strerror(ENOMEM));
		return -ENOMEM;
	}
	if ((rc = mountid_fds(fds, n, ids, MOUNTINFO)) < 0)
		snprintf(err, errlen, "cannot check the planned mounts: %s: %s",
		    MOUNTINFO, strerror(-rc));
	for (i = 0; i < n && rc == 0; i++) {
		if (!mountid_check(&ids[i], (int)want[i].val[0],
		        mountid_decode_dev(want[i].val[1]), paths[i], err,
		        errlen))
			rc = -ESTALE;
		else
			devs[i] = ids[i].dev; /* the planned one, now checked */
	}
	free(ids);
	return rc;
}

int
fsfreeze_sync(int fd)
{
	return syncfs(fd) == 0 ? 0 : -errno;
}

#define RCU_EXPEDITED "/sys/kernel/rcu_expedited"

int
fsfreeze_expedited_at(const char *knob)
{
	char buf[16], *end;
	ssize_t n;
	long v;
	int fd, rc = 0;

	if ((fd = open(knob, O_RDONLY | O_CLOEXEC)) == -1)
		return -errno;
	if ((n = read(fd, buf, sizeof(buf) - 1)) == -1)
		rc = -errno;
	close(fd);
	if (rc != 0)
		return rc;
	buf[n] = '\0';
	errno = 0;
	v = strtol(buf, &end, 10);
	if (end == buf || errno != 0 || (*end != '\0' && *end != '\n'))
		return -EINVAL;
	/* the kernel takes any other number as "expedited" too */
	return v != 0;
}

int
fsfreeze_expedite_at(const char *knob, bool on)
{
	ssize_t n;
	int fd, rc = 0;

	if ((fd = open(knob, O_WRONLY | O_TRUNC | O_CLOEXEC)) == -1)
		return -errno;
	if ((n = write(fd, on ? "1\n" : "0\n", 2)) != 2)
		rc = n == -1 ? -errno : -EIO;
	if (close(fd) == -1 && rc == 0)
		rc = -errno;
	return rc;
}

int
fsfreeze_expedited(void)
{
	return fsfreeze_expedited_at(RCU_EXPEDITED);
}

int
fsfreeze_expedite(bool on)
{
	return fsfreeze_expedite_at(RCU_EXPEDITED, on);
}

int
fsfreeze_freeze(int fd, int *hold)
{
	*hold = -1;
	if (ioctl(fd, FIFREEZE, 0) == -1)
		return -errno;
	*hold = fd;
	return 0;
}

int
fsfreeze_thaw(int *hold)
{
	return ioctl(*hold, FITHAW, 0) == 0 ? 0 : -errno;
}

int
fsfreeze_hold(const char *path, const struct fsfreeze_id *want, int *hold,
    char *err, size_t errlen)
{
	dev_t dev;
	int fd, rc, h;

	*hold = -1;
	if ((rc = fsfreeze_open(path, &fd)) != 0) {
		snprintf(err, errlen, "open %s: %s", path, strerror(-rc));
		return rc;
	}
	if (want != NULL &&
	    (rc = fsfreeze_check(&fd, &path, want, &dev, 1, err, errlen)) !=
	        0) {
		close(fd);
		return rc;
	}
	if ((rc = fsfreeze_freeze(fd, &h)) != 0) {
		if (rc == -EBUSY)
			snprintf(err, errlen,
			    "FIFREEZE %s: frozen already by another freezer",
			    path);
		else if (rc == -EOPNOTSUPP)
			snprintf(err, errlen,
			    "FIFREEZE %s: its filesystem cannot be frozen",
			    path);
		else
			snprintf(err, errlen, "FIFREEZE %s: %s", path,
			    strerror(-rc));
		close(fd);
		return rc;
	}
	*hold = h;
	return 0;
}

int
fsfreeze_release(int hold, char *err, size_t errlen)
{
	int rc = fsfreeze_thaw(&hold);

	if (rc != 0)
		snprintf(err, errlen, "FITHAW: %s", strerror(-rc));
	if (close(hold) == -1 && rc == 0) {
		rc = -errno;
		snprintf(err, errlen, "close: %s", strerror(-rc));
	}
	return rc;
}
