/*
 * mountid.h: which mount, and which superblock, an open directory is on
 * (Linux; the half of fsfreeze_linux.c that identifies, and of nothing
 * above daemon/os/).
 *
 * The freezer opens each planned mount point by path; between the plan
 * and that open the mount can go (umount, umount -l, umount and mount
 * again), and the path then reaches whatever lies beneath: the parent
 * filesystem, often "/".  An open fd pins its mount, so once the fd is
 * identified what FIFREEZE reaches through it cannot change; this file
 * does the identifying, and the check against the plan.
 *
 * Identity is the mount id (mountinfo's first field) and the
 * superblock's device number as mountinfo shows it (btrfs: the
 * filesystem's 0:N, not a subvolume's st_dev, which is why fstat() is
 * not used).  Where the kernel has statmount(2) (Linux 6.8) each fd is
 * asked directly; otherwise (Linux 6.1, Debian 12) statx() gives the
 * mount id and one scan of mountinfo, read after every fd is open, gives
 * the device: a pinned mount keeps its id, so the scan cannot confuse it
 * with a mount that reused an id since.
 */
#ifndef HVVSS_MOUNTID_H
#define HVVSS_MOUNTID_H

#include <sys/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MOUNTID_WHERE_MAX 160 /* a mount point, for messages */

struct mountid {
	int err; /* 0, or errno: ENOENT if the mount is not in our
			 * table any more (detached by umount -l) */
	int id; /* mountinfo's mount id */
	dev_t dev; /* the superblock, as mountinfo says */
	char where[MOUNTID_WHERE_MAX]; /* its mount point ("" unknown) */
};

/*
 * Identify each of the n fds into out[i] (statmount(2) if the kernel has
 * it, else statx() and one scan of mountinfo, normally
 * /proc/self/mountinfo).  Per-fd failures are in out[i].err; the return
 * is 0, or -errno if nothing could be identified (mountinfo unreadable).
 */
int mountid_fds(
    const int *fds, size_t n, struct mountid *out, const char *mountinfo);

/*
 * The fallback's half, pure: fill dev and where of every out[i] whose id
 * a line of the mountinfo file has, and set err to ENOENT for the others.
 * 0, or -errno if the file cannot be read.
 */
int mountid_scan(const char *mountinfo, struct mountid *out, size_t n);

/*
 * statmount(2) for one fd: 0, -ENOSYS where the kernel lacks it or a
 * seccomp filter refuses it (EPERM), or another -errno.
 */
int mountid_statmount(int fd, struct mountid *out);

/*
 * Is what the fd at path reached (got) the planned mount (id) and
 * superblock (dev)?  If not, false and why, naming path, the plan and
 * what was found instead.
 */
bool mountid_check(const struct mountid *got, int id, dev_t dev,
    const char *path, char *why, size_t len);

/*
 * A device number in the kernel's 32 bits (new_encode_dev(): 12 bits
 * of major, 20 of minor), as struct fsfreeze_id carries it, and back.
 */
uint32_t mountid_encode_dev(dev_t dev);
dev_t mountid_decode_dev(uint32_t v);

#endif /* HVVSS_MOUNTID_H */
