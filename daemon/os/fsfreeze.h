/*
 * fsfreeze.h: the platform's freeze primitive, one filesystem at a time:
 * the seam under freeze.c (issue 11, item 2; issue 12, item 2).
 *
 * freeze.c decides what is frozen, in which order, on which thread, and
 * what a failure undoes; this says how one filesystem is frozen, thawed,
 * and found frozen by someone else.  A frozen filesystem is held by one
 * descriptor, the "hold":
 *
 *   Linux (fsfreeze_linux.c, with mountid_linux.c): the hold is the
 *   mount point's directory, opened and checked against the plan's
 *   mount id and superblock; FIFREEZE on it freezes, FITHAW thaws,
 *   EBUSY from FIFREEZE means frozen already (by someone else: the
 *   kernel does not say who), EINVAL from FITHAW means thawed already.
 *   Closing the hold thaws nothing: a process must stay to thaw, which
 *   is why the thaw guard exists.
 *
 *   FreeBSD (fsfreeze_freebsd.c): the hold is a descriptor of
 *   /dev/ufssuspend on which UFSSUSPEND suspended writes to the
 *   filesystem named by its fsid (statfs(2)'s f_fsid).  One descriptor
 *   holds one filesystem; closing its last reference resumes it, by the
 *   kernel, also when the holder dies.  Only UFS can be suspended.
 *   EBUSY means suspended already through another descriptor of
 *   /dev/ufssuspend.  Nobody but a holder can resume it, so "thawed
 *   already" does not happen.  The kernel suspends only for a
 *   single-threaded process holding no file open for writing on that
 *   filesystem: a process with threads (the daemon, with its freezer's
 *   workers) suspends through a single-threaded child, which hands the
 *   descriptor back (the suspension belongs to the open file, so the
 *   parent's copy holds it).  doc/FREEBSD.md, "The UFS freezer", has
 *   the kernel's lines.
 *
 *   The thaw guard gets the directories before the freeze (prepare()),
 *   as on Linux, and then each hold once frozen (guard_suspended(),
 *   thawguard.c), and the daemon closes its own copy: the guard's is
 *   the last reference, so a daemon that hangs is resumed by the
 *   guard's lease (a close), a guard that dies resumes by its death, and
 *   the daemon's own thaw asks the guard to close (guard_resume(),
 *   freeze.c's resume hook).
 */
#ifndef HVVSS_FSFREEZE_H
#define HVVSS_FSFREEZE_H

#include <sys/types.h>
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
 * again (mtab.h fills it): Linux, the mount id in val[0] and the
 * superblock's device number in val[1] (the kernel's 32-bit encoding:
 * what is checked is the mount and its superblock, see
 * mountid_linux.c); FreeBSD, statfs(2)'s f_fsid.
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
 * -EDEADLK (FreeBSD: this single-threaded process has a file open for
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

/*
 * The steps of a hold, for a freezer that opens and checks every target
 * on one thread, hands the descriptors to the thaw guard, and freezes
 * them on others (freeze.c):
 *
 *   fsfreeze_open()    the mount point's directory, close-on-exec
 *   fsfreeze_check()   all of them against the plan, at once (one read
 *                      of the mount table on Linux before 6.8)
 *   fsfreeze_sync()    write back, before the frozen window
 *   fsfreeze_freeze()  freeze; *hold is what fsfreeze_thaw() takes:
 *                      Linux, the directory itself; FreeBSD, a new
 *                      descriptor of /dev/ufssuspend
 *   fsfreeze_thaw()    thaw; FreeBSD also closes the hold
 *
 * fsfreeze_hold() and fsfreeze_release() are the same steps for one
 * filesystem.
 */

/* The primitives' names, for messages: "FIFREEZE" and "FITHAW" on
 * Linux, "UFSSUSPEND" and "UFSRESUME" on FreeBSD. */
extern const char fsfreeze_op_freeze[];
extern const char fsfreeze_op_thaw[];

/* Open path to freeze it later: 0 with *fd, or -errno. */
int fsfreeze_open(const char *path, int *fd);

/*
 * Is each of the n open directories (fsfreeze_open()) still on the
 * planned filesystem want[i]?  An open directory pins its mount, so
 * what it reaches cannot change after this.  0 with devs[i] the
 * superblock's device number (for the guard and the record); -ESTALE
 * and why, naming paths[i], the plan and what was found; another
 * -errno and the culprit if the mount table could not be read.
 */
int fsfreeze_check(const int *fds, const char *const *paths,
    const struct fsfreeze_id *want, dev_t *devs, size_t n, char *err,
    size_t errlen);

/*
 * The superblock each of the n open directories is on, for the
 * record's recovery: errs[i] 0 with devs[i], or an errno (ENOENT: its
 * mount was detached).  0, or -errno if the table could not be read.
 */
int fsfreeze_devs(const int *fds, size_t n, dev_t *devs, int *errs);

/* Write the filesystem back (outside the frozen window).  0 or -errno. */
int fsfreeze_sync(int fd);

/*
 * A cold FIFREEZE waits for a grace period of the kernel's RCU at each
 * of its three freeze levels, about 8 ms each on the machines measured;
 * expedited, one takes well under a millisecond (bench/README.md).
 * fsfreeze_expedited(): 0 if grace periods are normal, 1 if they are
 * expedited already (somebody else's doing: theirs to put back) or
 * there is nothing to expedite (FreeBSD), or -errno.
 * fsfreeze_expedite(): every grace period expedited (on), for the whole
 * system, or normal again (off); 0 or -errno.  Linux:
 * /sys/kernel/rcu_expedited; the _at() forms do the same on another
 * file, for the tests.
 */
int fsfreeze_expedited(void);
int fsfreeze_expedite(bool on);
int fsfreeze_expedited_at(const char *knob);
int fsfreeze_expedite_at(const char *knob, bool on);

/*
 * Freeze the filesystem the open directory fd is on, from any thread.
 * 0 with *hold; -EBUSY (frozen already, by someone else), or what the
 * kernel says.  May block while it writes back.
 * The caller keeps fd open for as long as it holds the freeze.
 */
int fsfreeze_freeze(int fd, int *hold);

/*
 * Thaw what *hold holds.  0; -EINVAL if it was not frozen (any more:
 * someone thawed it under us); another -errno.  Where closing thaws
 * (fsfreeze_close_thaws) the hold is closed too and *hold set to -1;
 * elsewhere it stays open (it is the directory of fsfreeze_open()).
 */
int fsfreeze_thaw(int *hold);

#endif /* HVVSS_FSFREEZE_H */
