/*
 * plan.h: which filesystems a backup freezes, in which order, and why the
 * others are left out.  Built from the mount table (os/mtab.h: Linux's
 * mountinfo) and the device stacks (os/devstack.h: on Linux sysfs, loop
 * backing files, dm/md slaves); pure otherwise, so that the unit tests
 * feed it fixture files.
 *
 * Rules (doc/DESIGN.md, "Which filesystems, in which order"):
 * - candidates: read-write mounts of block-device filesystems whose type
 *   can freeze (ext2/3/4, xfs, btrfs, f2fs, jfs, reiserfs, gfs2, ocfs2,
 *   nilfs2);
 * - one target per superblock (mountinfo major:minor): bind mounts and
 *   btrfs subvolumes share one, the shortest mount point names it;
 * - skipped with a reason: read-only, pseudo, network, FUSE, overlay,
 *   tmpfs, not in the `mounts` allow-list, excluded by path or type;
 *   an unfreezable read-write disk filesystem (vfat, exfat, ntfs, ...)
 *   is skipped or vetoes, as `unfreezable` says;
 * - order: a filesystem on a loop device (or dm/md over one) is frozen
 *   before the filesystem that holds its backing file; otherwise deeper
 *   mount points before their parents; "/" last.  A cycle is an error
 *   (veto with the cycle named).
 */
#ifndef HVVSS_PLAN_H
#define HVVSS_PLAN_H

#include <sys/types.h>
#include <stdbool.h>
#include <stddef.h>

#include "conf.h"
#include "os/fsfreeze.h"

#define PLAN_REASON_MAX 160

struct plan_target {
	char *mountpoint; /* where we open it to FIFREEZE */
	char *fstype;
	char *source; /* e.g. /dev/loop3 */
	int mount_id; /* mountinfo's id of the mount at mountpoint: the
			 * freezer checks that the path still reaches it */
	dev_t dev; /* mountinfo major:minor (btrfs: the
					 * filesystem's 0:N, not a subvolume's
					 * st_dev) */
	struct fsfreeze_id fsid; /* what the freezer checks (fsfreeze.h) */
	int level; /* 0 first; same level: independent */
	/* why it comes where it does, e.g. "image /mnt/a/b.img lives on
	 * /mnt/a" or "child of /" (empty for a free-standing target) */
	char order_reason[PLAN_REASON_MAX];
	size_t nmounts; /* mount points sharing this sb */
};

struct plan_skip {
	char *mountpoint;
	char *fstype;
	char reason[PLAN_REASON_MAX];
};

struct plan {
	struct plan_target *targets; /* in freeze order */
	size_t ntargets;
	struct plan_skip *skips;
	size_t nskips;
	bool veto; /* the policy refuses a backup now */
	char veto_reason[PLAN_REASON_MAX * 2];
};

/*
 * Build the plan from the mount table saved at mountinfo (Linux: a
 * mountinfo file, normally /proc/self/mountinfo; NULL: the system's own
 * table, mtab_read()) and the device tree at sysfs (Linux: normally
 * "/sys"; a missing tree means "no dm or md information").  With
 * probe_loops, a disk image device that the tree cannot describe is
 * asked for its backing file itself (Linux: LOOP_GET_STATUS64 on the
 * source the table names), so that the order stays right without /sys
 * (containers, the test sandbox).  Returns 0, or -1 with a message in
 * err (unreadable table, out of memory).
 */
int plan_build(struct plan *p, const struct conf *c, const char *mountinfo,
    const char *sysfs, bool probe_loops, char *err, size_t errlen);

/* Free what plan_build() allocated. */
void plan_free(struct plan *p);

#endif /* HVVSS_PLAN_H */
