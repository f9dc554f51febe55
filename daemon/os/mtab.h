/*
 * mtab.h: the mount table as records: the seam under plan.c's mount
 * selection (issue 11, item 2; issue 12, item 3).
 *
 * The record carries what plan.c's own entry (struct ment in plan.c)
 * takes from the table, so the plan's rules (one target per
 * filesystem, read-only skipped, types classified, children before
 * parents) run unchanged above it:
 *
 *   Linux (mtab_linux.c, with libmount, from /proc/self/mountinfo):
 *   id and parent_id are mountinfo's; dev is its major:minor; root the
 *   bind or subvolume root; ro the per-mount or superblock "ro"; fsid
 *   the mount id and dev (fsfreeze.h); local what libmount does not
 *   call a network filesystem.
 *
 *   FreeBSD (mtab_freebsd.c): getfsstat(2), the call behind
 *   getmntinfo(3), with MNT_NOWAIT (the kernel's cached figures, never
 *   a round trip to an NFS server) into our own buffer (getmntinfo's is
 *   static, shared by every caller in the process).  target is
 *   f_mntonname, source f_mntfromname, fstype f_fstypename, ro
 *   f_flags & MNT_RDONLY, fsid f_fsid (what UFSSUSPEND takes).
 *   FreeBSD has no mount ids: id is the entry's place in the table
 *   (1-based; the kernel lists mounts in mount order, so a mount
 *   comes after the one it sits on) and parent_id that of the nearest
 *   earlier mount whose mount point contains it.  dev is the st_dev
 *   of the mount point for a local filesystem (MNT_LOCAL), 0 for a
 *   network one, whose server we never wait on.  There are no bind
 *   mounts: nullfs is a type of its own, its source a directory; root
 *   is always "/".
 */
#ifndef HVVSS_MTAB_H
#define HVVSS_MTAB_H

#include <sys/types.h>
#include <stdbool.h>
#include <stddef.h>

#include "fsfreeze.h"

struct mtab_entry {
	char *target; /* mount point */
	char *source; /* e.g. /dev/ada0p2, /dev/md0, zroot/usr, host:/x */
	char *fstype;
	char *root; /* Linux: bind or subvolume root; FreeBSD: "/" */
	dev_t dev; /* the filesystem's device number (see above), or 0 */
	struct fsfreeze_id fsid; /* FreeBSD f_fsid; Linux id and dev */
	int id; /* unique in this table, > 0 */
	int parent_id; /* the mount it sits on, 0 for the root */
	bool ro; /* the filesystem is read-only (Linux: its superblock) */
	bool local; /* not a network filesystem */
};

struct mtab {
	struct mtab_entry *v;
	size_t n;
};

/* Read the mount table.  0, or -errno with the culprit in err. */
int mtab_read(struct mtab *t, char *err, size_t errlen);

/*
 * Read a mount table saved to a file, for the tests and for a table
 * other than our own (Linux: the mountinfo format, which
 * /proc/PID/mountinfo is; path NULL: mtab_read()).  The whole file or
 * nothing: a line that does not parse fails the read, since a plan
 * made from part of the table could miss the filesystem that holds a
 * disk image and freeze in the wrong order.  FreeBSD's table has no
 * file form: any path there is -EOPNOTSUPP.
 */
int mtab_read_file(struct mtab *t, const char *path, char *err, size_t errlen);

/*
 * Is path on a filesystem that lives in memory (Linux tmpfs or ramfs,
 * FreeBSD tmpfs)?  1 or 0, with its type in fstype; -errno.
 */
int mtab_in_memory(const char *path, char *fstype, size_t len);

/*
 * A descriptor on which poll(2) reports POLLPRI once the mount table
 * changed since the last poll (Linux: an open mountinfo; path NULL: our
 * own).  -errno where the platform has none: FreeBSD's mount events
 * (kqueue EVFILT_FS) are not used yet, so there -EOPNOTSUPP, and the
 * table is read afresh each time.
 */
int mtab_watch_open(const char *path);

/* Free what mtab_read() allocated; t is empty afterwards. */
void mtab_free(struct mtab *t);

#endif /* HVVSS_MTAB_H */
