/*
 * freeze.h: freezing and thawing filesystems, off the event loop.
 *
 * FIFREEZE can take seconds (it writes back every dirty page first) and,
 * on a wrongly ordered stack, forever; so each job runs on the freezer's
 * own lasting threads and its result comes back to the loop through a
 * pipe, keeping timers and sockets live meanwhile.
 */
#ifndef HVVSS_FREEZE_H
#define HVVSS_FREEZE_H

#include <sys/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plan.h"

struct event_base;
struct freezer;

#define FREEZE_REASON_MAX 256

/* What one job did. */
struct freeze_result {
	uint64_t id; /* the caller's, echoed */
	bool thaw; /* a thaw job (else a freeze job) */
	bool ok;
	bool cancelled; /* freeze undone on request */
	char reason[FREEZE_REASON_MAX]; /* the culprit */
	size_t nfrozen; /* filesystems we hold frozen now */
	size_t nstale; /* thaw: found thawed already, by someone else */
	char order[FREEZE_REASON_MAX]; /* as frozen / thawed */
	uint64_t sync_us; /* presync time */
	uint64_t freeze_us; /* FIFREEZE time, all levels */
	/* freeze: grace periods were expedited for it (1), or could not
	 * be (-errno: why), or were not (0) (freezer_set_expedite()) */
	int expedited;
	/* putting them back to normal failed (-errno): tried again before
	 * the next freeze, and by the next daemon to start */
	int restore_err;
};

typedef void (*freeze_done_fn)(const struct freeze_result *, void *);

/*
 * What the daemon does around each freeze (the thaw guard, the ownership
 * record): prepare() for each target once every directory is open and
 * checked against the plan (dev: the superblock the fd is on), before
 * anything is frozen (a slot number >= 0, or -errno to refuse the
 * freeze); released() once nothing of ours is frozen any more.  Both run
 * on the loop thread.
 */
struct freezer_hooks {
	int (*prepare)(int fd, const char *path, dev_t dev, void *arg);
	void (*released)(void *arg);
	void *arg;
	/* where closing a hold thaws: have the guard close slot's hold
	 * (freezer_hold_handed()), newest first, on the loop, as a thaw
	 * begins; 0 once told */
	int (*resume)(int slot, void *arg);
	/* freezer_set_expedite(): grace periods are about to be made
	 * expedited (on; not if this fails: 0 or -errno), or are normal
	 * again (off).  A daemon killed in between must have them put back
	 * at its next start: the owner notes it. */
	int (*expediting)(bool on, void *arg);
	/* after prepare() for every target (ok: a -errno refuses the
	 * freeze), or after one failed (!ok): the owner commits, or drops,
	 * what prepare() staged (record_begin()) */
	int (*prepared)(bool ok, void *arg);
};

struct freezer *freezer_new(struct event_base *, freeze_done_fn, void *);
void freezer_set_hooks(struct freezer *, const struct freezer_hooks *);
/*
 * expedite_freeze: make the kernel's grace periods expedited (os/
 * fsfreeze.h) from just before a freeze job starts until it reports or
 * is cancelled, on the loop, if they are normal (somebody else's
 * expedited ones are theirs: never written).
 */
void freezer_set_expedite(struct freezer *, bool);
/*
 * For the log line of a freeze: ", grace periods expedited", or why
 * they could not be (", grace periods not expedited: ..."), or "".
 */
const char *freezer_expedite_note(const struct freeze_result *r);
void freezer_free(struct freezer *);

/*
 * Freeze the plan's targets: open each and check that it is still the
 * planned mount and superblock (else -ESTALE, nothing frozen), syncfs()
 * all of them (if presync), then FIFREEZE level by level, the targets of
 * a level in parallel.  On any failure (a target frozen by someone else
 * included) everything already frozen is thawed, in reverse order,
 * before the result is reported.  -EBUSY if a job is running.
 */
int freezer_freeze(struct freezer *, const struct plan *, bool, uint64_t);
/* Undo the running freeze job as soon as it finishes. */
void freezer_cancel(struct freezer *);
/* Thaw what we hold frozen, in exact reverse order.  -EBUSY if busy. */
int freezer_thaw(struct freezer *, uint64_t);
/* Thaw now, on the calling thread (signals, fatal errors). */
void freezer_thaw_now(struct freezer *);
bool freezer_busy(const struct freezer *);
/* Why the last freezer_freeze() failed before it started. */
const char *freezer_last_reason(const struct freezer *);
size_t freezer_nfrozen(const struct freezer *);
/* The i-th frozen filesystem, in freeze order: its mount point. */
const char *freezer_frozen_path(const struct freezer *, size_t);
/* Its directory fd (for a new guard to hold), or -1. */
int freezer_frozen_fd(const struct freezer *, size_t);
/* Its new slot number, after the guard was restarted. */
void freezer_set_slot(struct freezer *, size_t, int);
int freezer_frozen_slot(const struct freezer *, size_t);

/*
 * Where closing a hold thaws (os/fsfreeze.h: FreeBSD), the thaw guard
 * takes each hold once frozen and is its last reference, so that the
 * guard's death or close resumes it.  freezer_frozen_hold(): the i-th
 * frozen filesystem's hold while still ours alone (else -1; always -1
 * on Linux, or while a job runs); freezer_hold_handed(): the guard has
 * it, ours is closed; from then on the thaw goes through the resume
 * hook.  freezer_guard_lost(): the guard died, and with it the holds
 * it had: those filesystems are resumed, and the next thaw says so
 * (nstale).  Returns how many.
 */
int freezer_frozen_hold(const struct freezer *, size_t);
void freezer_hold_handed(struct freezer *, size_t);
size_t freezer_guard_lost(struct freezer *);

#endif /* HVVSS_FREEZE_H */
