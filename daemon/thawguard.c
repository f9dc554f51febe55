/*
 * thawguard.c: the thaw guard and the ownership record around every
 * freeze (see thawguard.h): the freezer's hooks, the guard's events, its
 * restarts, and TA_LEASE carried out.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "freeze.h"
#include "guard.h"
#include "log.h"
#include "metrics.h"
#include "record.h"
#include "thawguard.h"
#include "util.h"

#define GUARD_HELLO_SECONDS 5 /* for a new thaw guard to say hello */
/* before another start, after one that failed or died before its hello */
#define GUARD_RESPAWN_US 1000000

static struct {
	struct event_base *base;
	struct freezer *freezer;
	struct thawguard_cb cb;
	struct guard *guard;
	struct event *ev; /* its socket; NULL: no guard process */
	struct event *timer_ev; /* its hello's deadline, or a respawn */
	bool helloed; /* the current guard has said hello */
	unsigned int gen; /* hellos so far: which guard is this */
	unsigned int prepared_gen; /* ... that fs_prepare() handed fds to */
	unsigned int arm_ms; /* the machine's last arming; 0: disarmed */
	struct record *record;
	uint64_t txid; /* the freeze in progress, for the record */
	bool host; /* ... is the host's (thawguard_freezing()) */
	/* a freeze that waits for a new guard's hello */
	struct event *wait_ev;
	uint64_t wait_txid; /* 0: none */
	uint64_t wait_until_us; /* monotonic */
	uint64_t waited_txid; /* the last one that waited: it waits once */
} g;

static void guard_cb(evutil_socket_t, short, void *);

void
thawguard_lease(enum txn_guard how, unsigned int ms)
{
	if (how == TXN_GUARD_KEEP)
		return;
	g.arm_ms = how == TXN_GUARD_ARM ? ms : 0;
	if (g.guard != NULL && guard_ready(g.guard))
		guard_arm(g.guard, g.arm_ms);
}

/*
 * Where closing a hold thaws (FreeBSD): the guard takes each hold once
 * frozen, and ours is closed, so that the guard's death or close resumes
 * it (os/fsfreeze.h).  What it will not take (starting, dead) stays ours
 * until the next hello hands it over.
 */
static void
hand_holds(void)
{
	size_t i;
	int hold, rc;

	if (g.guard == NULL || !guard_ready(g.guard))
		return;
	for (i = 0; i < freezer_nfrozen(g.freezer); i++) {
		if ((hold = freezer_frozen_hold(g.freezer, i)) < 0)
			continue;
		rc = guard_suspended(g.guard, freezer_frozen_slot(g.freezer, i),
		    hold, freezer_frozen_path(g.freezer, i));
		if (rc == 0)
			freezer_hold_handed(g.freezer, i);
		else
			log_warnx(
			    "thaw guard: cannot hand it the hold of %s: %s; the daemon keeps it",
			    freezer_frozen_path(g.freezer, i), strerror(-rc));
	}
}

/* Hand a guard that said hello what is frozen now, in freeze order. */
static void
handoff(void)
{
	size_t i;
	int slot;

	for (i = 0; i < freezer_nfrozen(g.freezer); i++) {
		slot = guard_hold(g.guard, freezer_frozen_fd(g.freezer, i),
		    freezer_frozen_path(g.freezer, i));
		freezer_set_slot(g.freezer, i, slot);
	}
	hand_holds();
	/* and armed as the machine last said (TA_LEASE) */
	if (g.arm_ms > 0)
		guard_arm(g.guard, g.arm_ms);
}

void
thawguard_freezing(uint64_t txid, bool host)
{
	g.txid = txid;
	g.host = host;
}

bool
thawguard_host(void)
{
	return g.host;
}

void
thawguard_frozen(uint64_t txid)
{
	const char *note;
	int rc;

	if (g.host && g.record != NULL && record_behind(g.record, &note) > 0 &&
	    (rc = record_set_behind(g.record, 0)) != 0)
		log_warnx("%s: %s", RECORD_BEHIND_FILE, strerror(-rc));
	/*
	 * A guard that said hello while the job ran holds none of it (the
	 * one handed the fds died): hand it all, or the daemon's death
	 * would leave them frozen.
	 */
	if (g.guard != NULL && guard_ready(g.guard) &&
	    g.prepared_gen != g.gen) {
		log_warnx(
		    "txn %llu: the thaw guard restarted while freezing: handing the new one what is frozen",
		    (unsigned long long)txid);
		handoff();
	} else
		hand_holds();
}

/* Freezer hooks: the guard holds each fd, the record names it. */
static int
fs_prepare(int fd, const char *path, dev_t dev, void *arg)
{
	int slot;

	/* staged, and written for all of them once all are (fs_prepared()),
	 * before anything is frozen */
	if (g.record != NULL &&
	    (record_begin(g.record) < 0 ||
	        record_add(g.record, dev, path, g.txid) < 0))
		return -EIO;
	if (g.guard == NULL)
		return 0;
	/* -EAGAIN: not up yet; -EPIPE: it died a moment ago, the loop has
	 * not seen it yet (thawguard_wait()) */
	if ((slot = guard_hold(g.guard, fd, path)) < 0)
		return slot;
	g.prepared_gen = g.gen;
	return slot;
}

/* The daemon's thaw where closing thaws: the guard closes the hold. */
static int
fs_resume(int slot, void *arg)
{
	if (g.guard == NULL)
		return -EPIPE;
	return guard_resume(g.guard, slot);
}

/* Every target staged in the record: written (or dropped) at once. */
static int
fs_prepared(bool ok, void *arg)
{
	int rc;

	if (g.record == NULL)
		return 0;
	if (!ok) {
		record_rollback(g.record);
		return 0;
	}
	/* -EIO, as fs_prepare(): -EAGAIN and -EPIPE mean "the guard" */
	if ((rc = record_commit(g.record)) < 0) {
		log_warnx("%s: %s", RECORD_FILE, strerror(-rc));
		return -EIO;
	}
	return 0;
}

/* expedite_freeze: noted, for a daemon killed in between (record.h) */
static int
fs_expediting(bool on, void *arg)
{
	int rc = g.record != NULL ? record_note_expedited(g.record, on) : 0;

	if (rc < 0 && !on)
		log_warnx("%s: %s", RECORD_EXPEDITED_FILE, strerror(-rc));
	return rc;
}

static void
fs_released(void *arg)
{
	if (g.guard != NULL)
		guard_thawed(g.guard); /* which disarms it too */
	g.arm_ms = 0;
	if (g.record != NULL)
		record_clear(g.record);
}

static void
wait_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t txid = g.wait_txid;

	g.wait_txid = 0;
	if (txid != 0)
		g.cb.retry_freeze(txid, g.cb.arg);
}

/* The freeze that waits goes on now (once its guard is up). */
static void
wake(void)
{
	struct timeval now = {0, 0};

	if (g.wait_txid != 0)
		evtimer_add(g.wait_ev, &now);
}

/*
 * A freeze that comes while a new guard starts (it was killed a moment
 * ago, or is found dead now) waits for its hello, which takes a few
 * milliseconds, rather than fail the backup; at most THAWGUARD_AWAIT_MS,
 * then the freeze is refused (guard_hold() says -EAGAIN), as it is while
 * no guard runs at all.  Nothing is ever frozen that no guard holds, and
 * the loop never blocks for it.
 */
bool
thawguard_wait(uint64_t txid, int err)
{
	uint64_t now = mono_us();
	struct timeval tv;

	if (g.guard == NULL || (err != 0 && err != -EAGAIN && err != -EPIPE))
		return false;
	/* what is waiting on its socket: its death, or its hello */
	if (g.ev != NULL)
		guard_cb(guard_fd(g.guard), EV_READ, NULL);
	if (err == 0 && guard_ready(g.guard))
		return false;
	if (g.waited_txid != txid) {
		g.waited_txid = txid;
		g.wait_until_us = now + THAWGUARD_AWAIT_MS * 1000ULL;
	}
	if (now >= g.wait_until_us)
		return false;
	if (g.wait_txid != txid)
		log_debug(
		    "txn %llu: the thaw guard is starting: the freeze waits for its hello",
		    (unsigned long long)txid);
	g.wait_txid = txid;
	if (guard_ready(g.guard)) {
		/* it is up by now: try again at once */
		wake();
		return true;
	}
	tv.tv_sec = (g.wait_until_us - now) / 1000000;
	tv.tv_usec = (g.wait_until_us - now) % 1000000;
	evtimer_add(g.wait_ev, &tv);
	return true;
}

bool
thawguard_cancel_wait(void)
{
	bool waiting = g.wait_txid != 0;

	g.wait_txid = 0;
	evtimer_del(g.wait_ev);
	return waiting;
}

/*
 * Start a thaw guard and watch it, without waiting: its hello
 * (GUARD_EV_READY) or its death comes through guard_cb(), and until the
 * hello fs_prepare() is refused, so nothing is frozen unguarded.
 */
static void
guard_up(void)
{
	struct timeval tv = {GUARD_HELLO_SECONDS, 0};
	char err[256];

	if (guard_spawn(g.guard, err, sizeof(err)) == -1) {
		log_warnx("thaw guard: %s; trying again in 1 s", err);
		tv = (struct timeval){0, GUARD_RESPAWN_US};
		evtimer_add(g.timer_ev, &tv);
		return;
	}
	g.helloed = false;
	g.ev = event_new(
	    g.base, guard_fd(g.guard), EV_READ | EV_PERSIST, guard_cb, NULL);
	if (g.ev == NULL || event_add(g.ev, NULL) != 0)
		fatalx("cannot watch the thaw guard");
	evtimer_add(g.timer_ev, &tv);
}

/* No guard process: start one.  A guard that will not say hello: kill
 * it (its death restarts it). */
static void
guard_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	if (g.ev == NULL)
		guard_up();
	else if (!guard_ready(g.guard)) {
		log_warnx("thaw guard pid %d said no hello in %d s; killing it",
		    (int)guard_pid(g.guard), GUARD_HELLO_SECONDS);
		guard_kill(g.guard);
	}
}

/* The guard said something: hello, it thawed on its own, or it died. */
static void
guard_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = {0, GUARD_RESPAWN_US};
	struct guard_event ev;
	size_t n;
	int rc;

	while ((rc = guard_read(g.guard, &ev)) == 1) {
		switch (ev.type) {
		case GUARD_EV_READY:
			evtimer_del(g.timer_ev);
			g.helloed = true;
			g.gen++;
			log_info("%s", guard_note(g.guard));
			/* a running job's threads write what is frozen: it is
			 * handed over when the job is done (thawguard_frozen()) */
			if (!freezer_busy(g.freezer))
				handoff();
			wake();
			break;
		case GUARD_EV_THAWED:
			log_warnx("thaw guard thawed %s%s%s", ev.path,
			    ev.err ? ": " : "", ev.err ? strerror(ev.err) : "");
			break;
		case GUARD_EV_LEASE:
			log_warnx(
			    "thaw guard: the daemon did not thaw in time; the guard thawed what it held");
			metrics_guard_thaw();
			/* as the lease: the next THAW must say E_FAIL */
			g.cb.lease_passed(g.cb.arg);
			break;
		case GUARD_EV_ERROR:
			if (ev.err == EPROTO && !guard_ready(g.guard))
				log_warnx("%s", guard_note(g.guard));
			else
				log_warnx(
				    "thaw guard rejected a message (bug)");
			break;
		case GUARD_EV_DIED:
			/* where closing thaws, what it alone held is resumed:
			 * the next THAW must not call the snapshot good */
			if ((n = freezer_guard_lost(g.freezer)) > 0)
				log_warnx(
				    "thaw guard died holding %zu suspended filesystem%s: its death resumed them",
				    n, n == 1 ? "" : "s");
			event_free(g.ev);
			g.ev = NULL;
			evtimer_del(g.timer_ev);
			/* one that dies before its hello (a broken
			 * install) is not restarted in a tight loop */
			if (!g.helloed) {
				log_warnx(
				    "thaw guard died (status %d); restarting it in 1 s",
				    ev.status);
				evtimer_add(g.timer_ev, &tv);
			} else {
				log_warnx(
				    "thaw guard died (status %d); restarting it",
				    ev.status);
				guard_up();
			}
			return;
		}
	}
}

size_t
thawguard_start(struct event_base *base, struct freezer *freezer,
    const char *run_dir, const struct thawguard_cb *cb)
{
	static const struct freezer_hooks fh = {fs_prepare, fs_released, NULL,
	    fs_resume, fs_expediting, fs_prepared};
	struct record_report *reports = NULL;
	size_t n = 0, i, behind;
	char err[512], line[512];

	g.base = base;
	g.freezer = freezer;
	g.cb = *cb;
	if (record_recover(run_dir, &reports, &n, err, sizeof(err)) != 0)
		log_warnx("recovery from %s: %s", run_dir, err);
	for (i = 0; i < n; i++) {
		record_describe(&reports[i], line, sizeof(line));
		log_warnx("recovery: %s", line);
	}
	behind = record_thawed_behind(reports, n);
	free(reports);
	if ((g.record = record_open(run_dir, err, sizeof(err))) == NULL)
		fatalx("ownership record: %s", err);
	behind = record_start_behind(g.record, behind, err, sizeof(err));
	if (err[0] != '\0')
		log_warnx("%s", err);
	if (record_start_expedited(g.record, err, sizeof(err)))
		log_warnx("%s", err);
	/* at start, waiting for it: a daemon without one must not run */
	if ((g.guard = guard_start(0, err, sizeof(err))) == NULL)
		fatalx("thaw guard: %s", err);
	log_info("%s", guard_note(g.guard));
	g.helloed = true;
	if ((g.timer_ev = evtimer_new(base, guard_timer_cb, NULL)) == NULL ||
	    (g.wait_ev = evtimer_new(base, wait_cb, NULL)) == NULL)
		fatalx("out of memory");
	g.ev = event_new(
	    base, guard_fd(g.guard), EV_READ | EV_PERSIST, guard_cb, NULL);
	if (g.ev == NULL || event_add(g.ev, NULL) != 0)
		fatalx("cannot watch the thaw guard");
	freezer_set_hooks(freezer, &fh);
	return behind;
}

void
thawguard_free(void)
{
	if (g.ev != NULL)
		event_free(g.ev);
	if (g.timer_ev != NULL)
		event_free(g.timer_ev);
	if (g.wait_ev != NULL)
		event_free(g.wait_ev);
	guard_free(g.guard);
	record_close(g.record);
	memset(&g, 0, sizeof(g));
}

pid_t
thawguard_pid(void)
{
	return g.guard != NULL ? guard_pid(g.guard) : 0;
}

bool
thawguard_alive(void)
{
	return g.guard != NULL && guard_alive(g.guard);
}
