/*
 * thawguard.h: the daemon's side of what undoes a freeze it cannot undo
 * itself (guard.h, record.h): every filesystem's directory fd goes to
 * the thaw guard and its device to the ownership record before it is
 * frozen (the freezer's prepare hook), so that a daemon that dies frozen
 * is undone by the guard, or by the next daemon from the record.
 *
 * Nothing here decides when the guard is armed: TA_LEASE does
 * (txn.h), and thawguard_lease() carries it out, now or, for a guard
 * that is restarting, once it says hello.  A guard that dies is started
 * again without blocking the event loop; a freeze that finds it not up
 * yet waits for its hello on the loop (thawguard_wait()).
 */
#ifndef HVVSS_THAWGUARD_H
#define HVVSS_THAWGUARD_H

#include <sys/types.h>
#include <stdbool.h>
#include <stdint.h>

#include "txn.h"

struct event_base;
struct freezer;

#define THAWGUARD_AWAIT_MS 1000 /* a freeze waits this for a new guard */

struct thawguard_cb {
	/* the guard thawed on its own, its lease passed: as the lease */
	void (*lease_passed)(void *arg);
	/* the freeze of txid that waited for the guard may try again
	 * (the guard is up, or the wait is over: then it fails) */
	void (*retry_freeze)(uint64_t txid, void *arg);
	void *arg;
};

/*
 * Thaw what a previous daemon of ours left frozen (the record in run_dir
 * says which; nothing else is touched), open the record, start the
 * guard (waiting for its hello: a daemon without one must not run), and
 * become freezer's prepare and released hooks.  Fatal on failure.
 * Returns how many filesystems the daemon before us had frozen, thawed
 * now (record_thawed_behind()).
 */
size_t thawguard_start(struct event_base *, struct freezer *,
    const char *run_dir, const struct thawguard_cb *);
void thawguard_free(void);
/* TA_LEASE's guard part. */
void thawguard_lease(enum txn_guard, unsigned int ms);
/* The freeze of txid starts: what the record names it with; host: the
 * host's FREEZE, not hv_vss_ctl's. */
void thawguard_freezing(uint64_t txid, bool host);
/* That freeze's host. */
bool thawguard_host(void);
/*
 * It froze: a guard that restarted meanwhile is handed all of it; a
 * host FREEZE ends what was owed for a snapshot thawed behind
 * (record_set_behind()).
 */
void thawguard_frozen(uint64_t txid);
/*
 * The guard is not up (or a hold was refused for it: err, -EAGAIN or
 * -EPIPE; 0 to ask before trying): true if the freeze of txid is to wait
 * for it, retry_freeze() coming on the loop; false once it has waited
 * THAWGUARD_AWAIT_MS or need not wait.
 */
bool thawguard_wait(uint64_t txid, int err);
/* The freeze that waits is called off: true if one was waiting. */
bool thawguard_cancel_wait(void);
pid_t thawguard_pid(void);
bool thawguard_alive(void);

#endif /* HVVSS_THAWGUARD_H */
