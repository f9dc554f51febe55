/*
 * mountid_linux.c: which mount and superblock an open directory is on
 * (see mountid.h).
 *
 * The fallback reads mountinfo by hand rather than with libmount: it
 * needs three fields of a few lines, and a second full parse at FREEZE
 * time would double what a host with 10,000 unrelated mounts (containers)
 * pays for the plan.  mtab_linux.c keeps using libmount for the plan.
 *
 * statmount(2) is called through syscall(): Debian 12's headers (Linux
 * 6.1) have neither it nor STATX_MNT_ID_UNIQUE, so both, and the part of
 * struct statmount read here, are declared below as the kernel's ABI
 * (include/uapi/linux/mount.h).  A kernel without them answers ENOSYS or
 * leaves STATX_MNT_ID_UNIQUE out of stx_mask, and the fallback runs.
 */
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mountid.h"

#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE 0x00004000U
#endif
#if !defined(__NR_statmount) && !defined(__alpha__) && !defined(__mips__)
#define __NR_statmount 457 /* the same on every other architecture */
#endif
#define SM_SB_BASIC 0x00000001U /* STATMOUNT_SB_BASIC */
#define SM_MNT_BASIC 0x00000002U /* STATMOUNT_MNT_BASIC */
#define SM_MNT_POINT 0x00000010U /* STATMOUNT_MNT_POINT */
#define SM_REQ_SIZE_VER0 24 /* MNT_ID_REQ_SIZE_VER0 */
#define SM_FIXED 512 /* sizeof(struct statmount): strings follow */

struct sm_req {
	uint32_t size;
	uint32_t spare;
	uint64_t mnt_id;
	uint64_t param;
};

struct sm {
	uint32_t size;
	uint32_t mnt_opts;
	uint64_t mask;
	uint32_t sb_dev_major;
	uint32_t sb_dev_minor;
	uint64_t sb_magic;
	uint32_t sb_flags;
	uint32_t fs_type;
	uint64_t mnt_id;
	uint64_t mnt_parent_id;
	uint32_t mnt_id_old;
	uint32_t mnt_parent_id_old;
	uint64_t mnt_attr;
	uint64_t mnt_propagation;
	uint64_t mnt_peer_group;
	uint64_t mnt_master;
	uint64_t propagate_from;
	uint32_t mnt_root;
	uint32_t mnt_point;
	uint64_t spare2[50];
};

_Static_assert(sizeof(struct sm) == SM_FIXED, "struct statmount's size");

int
mountid_statmount(int fd, struct mountid *out)
{
#ifdef __NR_statmount
	union {
		struct sm sm;
		char buf[SM_FIXED + 4096];
	} u;
	struct sm_req req;
	struct statx stx;
	const char *mp;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID_UNIQUE, &stx) == -1)
		return -errno;
	if (!(stx.stx_mask & STATX_MNT_ID_UNIQUE))
		return -ENOSYS; /* before Linux 6.8 */
	memset(&req, 0, sizeof(req));
	req.size = SM_REQ_SIZE_VER0;
	req.mnt_id = stx.stx_mnt_id;
	req.param = SM_SB_BASIC | SM_MNT_BASIC | SM_MNT_POINT;
	memset(&u, 0, sizeof(u));
	if (syscall(__NR_statmount, &req, &u, sizeof(u), 0) == -1) {
		/* EPERM: a seccomp filter that predates statmount (the
		 * systemd unit's SystemCallFilter on an older systemd) */
		if (errno == ENOSYS || errno == EPERM)
			return -ENOSYS;
		if (errno != EOVERFLOW)
			return -errno;
		/* a mount point longer than the buffer: go without it */
		req.param &= ~(uint64_t)SM_MNT_POINT;
		memset(&u, 0, sizeof(u));
		if (syscall(__NR_statmount, &req, &u, sizeof(u), 0) == -1)
			return -errno;
	}
	if ((u.sm.mask & (SM_SB_BASIC | SM_MNT_BASIC)) !=
	    (SM_SB_BASIC | SM_MNT_BASIC))
		return -ENOSYS;
	out->err = 0;
	out->id = (int)u.sm.mnt_id_old;
	out->dev = makedev(u.sm.sb_dev_major, u.sm.sb_dev_minor);
	out->where[0] = '\0';
	if ((u.sm.mask & SM_MNT_POINT) &&
	    u.sm.mnt_point < sizeof(u.buf) - SM_FIXED) {
		mp = u.buf + SM_FIXED + u.sm.mnt_point;
		snprintf(out->where, sizeof(out->where), "%.*s",
		    (int)strnlen(mp, sizeof(u.buf) - SM_FIXED - u.sm.mnt_point),
		    mp);
	}
	return 0;
#else
	(void)fd;
	(void)out;
	return -ENOSYS;
#endif
}

/* mountinfo's escapes (\040 and the like) undone, into dst. */
static void
unescape(char *dst, size_t len, const char *src, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i < n && o + 1 < len; i++) {
		if (src[i] == '\\' && i + 3 < n && src[i + 1] >= '0' &&
		    src[i + 1] <= '3' && src[i + 2] >= '0' &&
		    src[i + 2] <= '7' && src[i + 3] >= '0' &&
		    src[i + 3] <= '7') {
			dst[o++] = (char)((src[i + 1] - '0') << 6 |
			    (src[i + 2] - '0') << 3 | (src[i + 3] - '0'));
			i += 3;
			continue;
		}
		dst[o++] = src[i];
	}
	dst[o] = '\0';
}

/*
 * One mountinfo line: "ID PARENT MAJ:MIN ROOT MOUNTPOINT ...".  0 with
 * id, dev and the mount point's bytes, or -1 for a line not so made.
 */
static int
parse_line(const char *s, int *id, dev_t *dev, const char **mp, size_t *mplen)
{
	unsigned long v[4];
	char *end;
	size_t k;

	for (k = 0; k < 4; k++) {
		if (*s < '0' || *s > '9')
			return -1;
		errno = 0;
		v[k] = strtoul(s, &end, 10);
		if (errno != 0 || end == s)
			return -1;
		s = end;
		if (*s != (k == 2 ? ':' : ' '))
			return -1;
		s++;
	}
	if (v[0] > INT32_MAX)
		return -1;
	/* the root (field 4), then the mount point */
	if ((s = strchr(s, ' ')) == NULL)
		return -1;
	s++;
	*mp = s;
	*mplen = strcspn(s, " \n");
	*id = (int)v[0];
	*dev = makedev(v[2], v[3]);
	return 0;
}

int
mountid_scan(const char *mountinfo, struct mountid *out, size_t n)
{
	FILE *fp = NULL;
	char *line = NULL;
	size_t cap = 0, i, left = 0, mplen;
	const char *mp;
	bool *want;
	dev_t dev;
	int id, rc = 0;

	if ((want = calloc(n + 1, sizeof(*want))) == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		if (out[i].err == 0) {
			want[i] = true;
			left++;
		}
	if (left > 0 && (fp = fopen(mountinfo, "re")) == NULL) {
		rc = -errno;
		free(want);
		return rc;
	}
	while (left > 0 && getline(&line, &cap, fp) != -1) {
		if (parse_line(line, &id, &dev, &mp, &mplen) != 0)
			continue;
		for (i = 0; i < n; i++) {
			if (!want[i] || out[i].id != id)
				continue;
			want[i] = false;
			left--;
			out[i].dev = dev;
			unescape(out[i].where, sizeof(out[i].where), mp, mplen);
		}
	}
	if (left > 0 && ferror(fp))
		rc = -EIO;
	for (i = 0; i < n && rc == 0; i++)
		if (want[i])
			out[i].err = ENOENT; /* detached: umount -l */
	if (fp != NULL)
		fclose(fp);
	free(line);
	free(want);
	return rc;
}

int
mountid_fds(
    const int *fds, size_t n, struct mountid *out, const char *mountinfo)
{
	struct statx stx;
	size_t i;
	int rc = -ENOSYS;

	for (i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		if ((rc = mountid_statmount(fds[i], &out[i])) == -ENOSYS)
			break;
		out[i].err = -rc;
	}
	if (n == 0 || rc != -ENOSYS)
		return 0;

	/* no statmount: statx's mount id, then one scan for the devices */
	for (i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		if (statx(fds[i], "", AT_EMPTY_PATH, STATX_MNT_ID, &stx) == -1)
			out[i].err = errno;
		else if (!(stx.stx_mask & STATX_MNT_ID))
			out[i].err = ENOTSUP; /* before Linux 5.8 */
		else
			out[i].id = (int)stx.stx_mnt_id;
	}
	return mountid_scan(mountinfo, out, n);
}

bool
mountid_check(const struct mountid *got, int id, dev_t dev, const char *path,
    char *why, size_t len)
{
	if (got->err == ENOENT) {
		snprintf(why, len,
		    "%s: its mount (planned: mount %d, device %u:%u) was detached while being opened",
		    path, id, major(dev), minor(dev));
		return false;
	}
	if (got->err != 0) {
		snprintf(why, len, "cannot tell which mount %s is on: %s", path,
		    strerror(got->err));
		return false;
	}
	if (got->id == id && got->dev == dev)
		return true;
	snprintf(why, len,
	    "%s is no longer the planned mount %d of device %u:%u: the path reaches mount %d of device %u:%u%s%s instead",
	    path, id, major(dev), minor(dev), got->id, major(got->dev),
	    minor(got->dev), got->where[0] ? " at " : "", got->where);
	return false;
}

uint32_t
mountid_encode_dev(dev_t dev)
{
	unsigned int ma = major(dev), mi = minor(dev);

	return (mi & 0xffU) | (ma & 0xfffU) << 8 | (mi & ~0xffU) << 12;
}

dev_t
mountid_decode_dev(uint32_t v)
{
	return makedev(
	    (v & 0xfff00U) >> 8, (v & 0xffU) | ((v >> 12) & 0xfff00U));
}
