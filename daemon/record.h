/*
 * record.h: the ownership record, run_dir/frozen: which superblocks this
 * daemon froze, for which transaction, when, so that a daemon restarted
 * after a crash thaws its own freezes, and nothing else.
 *
 * Before each FIFREEZE the daemon records the filesystem (record_add);
 * after its thaw it removes it (record_remove, record_clear).  Every
 * change rewrites the whole file atomically (a temporary file renamed
 * over it), so a reader sees the old record or the new one, never half.
 * At start-up, before the first freeze, record_recover() thaws what a
 * dead daemon left frozen; run_dir/thawed-behind (record_behind()) keeps
 * that its snapshot's THAW is owed E_FAIL.
 *
 * The file (one line each, '\n'-terminated, single spaces):
 *
 *	hvvss-frozen 1
 *	<major>:<minor> <txid> <time> <pid> <pstart> <mountpoint>
 *
 * major:minor is the superblock's device number as /proc/self/mountinfo
 * shows it (btrfs: the filesystem's 0:N, not a subvolume's st_dev); txid
 * the transaction (decimal u64); time the Unix time it was recorded; pid
 * and pstart the daemon that froze it and its start time (field 22 of
 * /proc/PID/stat), which together name a process even after its pid is
 * reused; mountpoint last, absolute, with space, tab, newline and
 * backslash written as \040, \011, \012 and \134 as in mountinfo.
 */
#ifndef HVVSS_RECORD_H
#define HVVSS_RECORD_H

#include <sys/types.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RECORD_FILE "frozen" /* in run_dir */
#define RECORD_MAGIC "hvvss-frozen 1"
#define RECORD_BEHIND_FILE "thawed-behind" /* in run_dir */
#define RECORD_BEHIND_MAGIC "hvvss-thawed-behind 1"
#define RECORD_EXPEDITED_FILE "expedited" /* in run_dir */
#define RECORD_MAX 256 /* entries in one record */
/* a line: five numbers and a mount point, each byte possibly escaped */
#define RECORD_LINE_MAX (4 * PATH_MAX + 128)

struct record_entry {
	dev_t dev; /* the superblock, as in mountinfo */
	uint64_t txid;
	uint64_t time; /* when recorded, Unix seconds */
	pid_t pid; /* who froze it */
	uint64_t pstart; /* its start time, clock ticks after boot */
	char mountpoint[PATH_MAX];
};

struct record;

/*
 * 0 if dir is on a tmpfs or ramfs, else -1 and why in err.  The record
 * must live in memory: it is written while filesystems are frozen (a
 * write to a frozen filesystem blocks the daemon, which would then never
 * thaw it), and it must not outlive a reboot (a stale record would name
 * filesystems nobody froze).
 */
int record_check_dir(const char *dir, char *err, size_t errlen);

/*
 * Start recording into run_dir (made if missing; it must pass
 * record_check_dir, be a directory owned by us and not writable by group
 * or others).  Entries already in the file (left by record_recover(),
 * which should run first) are kept.  Until record_close() (or death) we
 * hold our owner lock on run_dir: one byte, at an offset made of our pid
 * and start time, which tells another daemon's record_recover() that our
 * entries are ours.  NULL and err on failure.
 */
struct record *record_open(const char *run_dir, char *err, size_t errlen);
/* Free r; the file stays as it is. */
void record_close(struct record *r);

/*
 * Record that we are about to freeze dev at mountpoint for txid (an
 * entry for dev already there is replaced).  0 or -errno; on failure
 * the file is unchanged, and the filesystem must not be frozen.
 */
int
record_add(struct record *r, dev_t dev, const char *mountpoint, uint64_t txid);
/*
 * A freeze's filesystems in one write: after record_begin(),
 * record_add() only stages (0 or -errno, nothing written), and
 * record_commit() writes the record with all of them (on failure, 0 or
 * -errno, as if record_begin() had not been called), or
 * record_rollback() drops them.  A record rewritten once per filesystem
 * was most of the time a 64-filesystem FREEZE spent outside its
 * FIFREEZEs (bench/README.md).
 */
int record_begin(struct record *r);
int record_commit(struct record *r);
void record_rollback(struct record *r);
/* dev is thawed (or was never frozen by us: EBUSY, a failure). */
int record_remove(struct record *r, dev_t dev);
/* Remove every entry of ours (after a thaw); others' stay. */
int record_clear(struct record *r);
size_t record_count(const struct record *r);
const struct record_entry *record_get(const struct record *r, size_t i);

/* The device number of the superblock the mount that fd is on, as in
 * mountinfo (fsfreeze_devs(), os/fsfreeze.h).  0 or -errno. */
int record_devno(int fd, dev_t *dev);

/* One line, without its newline: its length, or -ENAMETOOLONG. */
int record_format(const struct record_entry *e, char *buf, size_t len);
/* Parse one line (without its newline) strictly: 0, or -EINVAL. */
int record_parse(const char *line, struct record_entry *e);

enum record_outcome {
	RECORD_THAWED, /* FITHAW worked: it was left frozen */
	RECORD_NOT_FROZEN, /* FITHAW said EINVAL: thawed already */
	RECORD_FAILED, /* FITHAW failed otherwise; kept for next time */
	RECORD_GONE, /* the mount point is gone or unreadable */
	RECORD_OTHER_FS, /* another filesystem is mounted there now */
	RECORD_OWNER_ALIVE, /* the daemon that froze it still runs; kept */
	RECORD_BAD_LINE, /* not a record line; ignored and dropped */
};

struct record_report {
	enum record_outcome outcome;
	int err; /* errno behind GONE or FAILED */
	unsigned int line; /* in the file */
	dev_t found; /* OTHER_FS: the device there now */
	struct record_entry e; /* (BAD_LINE: zeroed) */
};

/*
 * Thaw what the record in run_dir says a dead daemon froze, newest
 * first, and only that: every entry is checked against the mount table
 * (the filesystem now at its mount point must be the recorded
 * superblock) and against its owner (still holding its lock on run_dir,
 * see record_open(): left alone).  A
 * filesystem not in the record is never touched, even if it is frozen:
 * somebody else froze it (fsfreeze, another tool), and only they know
 * when to thaw it.  Rewrites the record with what must be tried again
 * (FAILED, OWNER_ALIVE), or removes it.  *reports (free() it) gets one
 * per line, in the order handled.  0; or -1 and err if the record cannot
 * be trusted at all (not on tmpfs, not ours, no magic line): then
 * nothing is touched.
 */
int record_recover(const char *run_dir, struct record_report **reports,
    size_t *nreports, char *err, size_t errlen);

/*
 * How many of the reports are filesystems a dead daemon of ours had
 * frozen (or was freezing) and that are thawed now, by recovery or
 * already by its guard: it died in its frozen window, and the host's
 * THAW for that snapshot, if it comes, must be answered E_FAIL.
 */
size_t record_thawed_behind(const struct record_report *, size_t n);

/*
 * That fact outlives the daemon that learnt it: run_dir/thawed-behind
 * ("hvvss-thawed-behind 1", then the count) says that a snapshot was
 * thawed behind the host's back and its THAW is still to be answered
 * E_FAIL, so that a daemon killed before that THAW (and the next, and
 * the next) leaves it to the one after.  record_open() reads it; a file
 * that is not ours alone, or not that, is ignored, and *note (else NULL)
 * says so.  record_set_behind() writes it (n > 0), or removes it (0):
 * its owner does once a host FREEZE since has frozen (the host has moved
 * on, no THAW is owed for the old snapshot any more; hv_vss_ctl's local
 * freeze is not that).  Not as that FREEZE starts: the unlink would
 * come right before its FIFREEZE, and cost a cold freeze a grace period
 * (write_record()).
 */
unsigned int record_behind(const struct record *r, const char **note);
int record_set_behind(struct record *r, unsigned int n);
/*
 * At start, after record_recover() and record_open(): what recovery
 * found thawed behind (record_thawed_behind()) is kept in the file, and
 * returned; with none, what an earlier daemon kept there.  0: no THAW is
 * owed E_FAIL.  err: a problem to log (else empty).
 */
unsigned int record_start_behind(
    struct record *r, size_t recovered, char *err, size_t errlen);

/*
 * run_dir/expedited (empty): the kernel's grace periods may be expedited
 * for a freeze under way (expedite_freeze, freezer_set_expedite()).  A
 * daemon killed then leaves them so for everyone; the next one finds
 * the file (record_expedited_left(), read by record_open()) and puts
 * them back.  on: made (in place, as it comes right before the
 * FIFREEZEs: see write_record()); off: removed.  0 or -errno.
 */
int record_note_expedited(struct record *r, bool on);
bool record_expedited_left(const struct record *r);
/*
 * At start, after record_open(): if the daemon before died expediting,
 * put grace periods back to normal and say so in err (1); else 0.
 */
int record_start_expedited(struct record *r, char *err, size_t errlen);

/* "thawed", "not frozen", ...: one word or two, for logs. */
const char *record_outcome_name(enum record_outcome o);
/* A whole log line for one report. */
void record_describe(const struct record_report *rep, char *buf, size_t len);

#endif /* HVVSS_RECORD_H */
