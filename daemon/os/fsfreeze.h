/*
 * fsfreeze.h: the platform's freeze primitive, one filesystem at a time:
 * the seam under freeze.c (issue 11, item 2; issue 12, item 2).
 *
 * freeze.c decides what is frozen, in which order, on which thread, and
 * what a failure undoes; this says how one filesystem is frozen, thawed,
 * and found frozen by someone else.  A frozen filesystem is held by one
 * descriptor, the "hold":
 *
 *   Linux (today in freeze.c and mountid.c, to move behind this with
 *   the seams): the hold is the mount point's directory, opened and
 *   checked against the plan's mount id and superblock; FIFREEZE on it
 *   freezes, FITHAW thaws, EBUSY from FIFREEZE means frozen already (by
 *   someone else: the kernel does not say who), EINVAL from FITHAW
 *   means thawed already.  Closing the hold thaws nothing: a process
 *   must stay to thaw, which is why the thaw guard exists.
 *
 *   FreeBSD (fsfreeze_freebsd.c): the hold is a descriptor of
 *   /dev/ufssuspend on which UFSSUSPEND suspended writes to the
 *   filesystem named by its fsid (statfs(2)'s f_fsid).  One descriptor
 *   holds one filesystem; closing its last reference resumes it, by the
 *   kernel, also when the holder dies.  Only UFS can be suspended.
 *   EBUSY means suspended already through another descriptor of
 *   /dev/ufssuspend.  Nobody but the holder can resume it, so "thawed
 *   already" does not happen.  The suspending process must be
 *   single-threaded and hold no file open for writing on that
 *   filesystem: the daemon, with its worker threads, cannot suspend;
 *   the thaw guard (hv_vss_guard: exec'd, one thread, no file open)
 *   can, and holding the descriptors itself is exactly its job.
 *   doc/FREEBSD.md, "The UFS freezer", has the kernel's lines.
 */
#ifndef HVVSS_FSFREEZE_H
#define HVVSS_FSFREEZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the platform can do for a filesystem type. */
enum fsfreeze_kind {
	FSFREEZE_NONE, /* cannot freeze: the `unfreezable` policy decides
			* (skip or veto), as for vfat on Linux */
	FSFREEZE_SUSPEND, /* can freeze (FIFREEZE; UFSSUSPEND) */
	FSFREEZE_PSEUDO, /* holds no data of the guest's own (devfs,
			  * procfs, tmpfs, nullfs: its lower layer is
			  * planned on its own): never planned */
};

/*
 * The identity the plan recorded for a filesystem and the freeze checks
 * again: Linux, the superblock's dev_t in val[0] (mountid.c adds the
 * mount id); FreeBSD, statfs(2)'s f_fsid.
 */
struct fsfreeze_id {
	uint32_t val[2];
};

enum fsfreeze_kind fsfreeze_kind(const char *fstype);

/* Does closing the last descriptor of a hold thaw it?  FreeBSD yes,
 * Linux no: the guard thaws by closing (FreeBSD) or by FITHAW (Linux). */
extern const bool fsfreeze_close_thaws;

/*
 * Freeze the filesystem mounted at path, which must still be the one
 * the plan saw (want; NULL: whatever is there).  On success *hold is the
 * descriptor that holds it (close-on-exec).  -errno, with the culprit in
 * err: -ESTALE (path now reaches another filesystem), -EOPNOTSUPP (not a
 * type this platform freezes), -EBUSY (frozen by someone else),
 * -EDEADLK (FreeBSD: this process has threads, or a file open for
 * writing on it; nothing was asked of the kernel), what the kernel says.
 * May block for as long as the filesystem takes to write back.
 */
int fsfreeze_hold(const char *path, const struct fsfreeze_id *want, int *hold,
    char *err, size_t errlen);

/*
 * Thaw what hold holds and close it.  0, or -errno with err set (the
 * descriptor is closed either way; on FreeBSD the close itself thaws).
 */
int fsfreeze_release(int hold, char *err, size_t errlen);

#endif /* HVVSS_FSFREEZE_H */
