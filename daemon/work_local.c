/*
 * work_local.c: the privileged work done in this process (work.h): the
 * plan (plan.c), the hooks (hooks.c), the freezer (freeze.c) and the
 * thaw guard's lease (thawguard.c).  A plan made at HOT_BACKUP serves
 * the FREEZE that follows if the mount table did not change meanwhile.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "apps.h"
#include "conf.h"
#include "freeze.h"
#include "hooks.h"
#include "log.h"
#include "metrics.h"
#include "mountwatch.h"
#include "os/devstack.h"
#include "plan.h"
#include "status.h"
#include "thawguard.h"
#include "txn.h"
#include "util.h"
#include "work.h"

/* a plan made at HOT_BACKUP serves the FREEZE that follows within this
 * long, if the mount table did not change meanwhile (mountwatch.h) */
#define PLAN_REUSE_MS 60000

static struct {
	const struct conf *conf;
	struct apps *apps;
	const struct work_cb *cb;
	struct freezer *freezer;
	struct hooks *hooks;
	struct mountwatch *mounts; /* NULL: always read the table */
	struct plan checked; /* made at the last HOT_BACKUP */
	bool checked_valid; /* ... and not used or outdated since */
	uint64_t checked_us; /* monotonic, when made */
	struct timespec frozen_since; /* wall clock */
	struct event *abort_retry_ev; /* hooks "abort" after a cancel */
	uint64_t abort_txid;
	unsigned int abort_ms;
	uint64_t lease_id;
} w;

/* Build the plan now; false (with the reason) if it refuses a backup. */
static bool
make_plan(struct plan *p, char *why, size_t len)
{
	char err[256];

	/* before the table is read: a change made meanwhile then shows at
	 * the next look, and the plan is made anew (mountwatch.h) */
	if (w.mounts != NULL)
		(void)mountwatch_changed(w.mounts);
	if (plan_build(p, w.conf, NULL, devstack_system_root, true, err,
	        sizeof(err)) != 0) {
		snprintf(why, len, "cannot read the mount table: %s", err);
		return false;
	}
	if (p->veto) {
		snprintf(why, len, "%s", p->veto_reason);
		plan_free(p);
		return false;
	}
	return true;
}

/* The HOT_BACKUP's plan is no longer to be trusted. */
static void
forget_checked_plan(void)
{
	if (w.checked_valid)
		plan_free(&w.checked);
	w.checked_valid = false;
}

/*
 * The plan for a FREEZE: the one HOT_BACKUP made, if the mount table has
 * not changed since and it is recent, else a new one.  With thousands of
 * unrelated mounts (a container host), reading the table is most of a
 * FREEZE's own time, and it is spent while the applications hold.
 * Either way the freezer checks each target's mount and device when it
 * opens it, so a plan can never make it freeze something else.
 */
static bool
freeze_plan(struct plan *p, char *why, size_t len)
{
	bool reuse = w.checked_valid && w.mounts != NULL &&
	    mono_us() - w.checked_us <= PLAN_REUSE_MS * 1000ULL &&
	    !mountwatch_changed(w.mounts);

	if (reuse) {
		*p = w.checked;
		w.checked_valid = false; /* one FREEZE each; ours to free */
		log_debug("plan: the mount table is as at HOT_BACKUP");
		return true;
	}
	forget_checked_plan();
	return make_plan(p, why, len);
}

static void
lw_check(uint64_t id, unsigned int ms)
{
	struct plan p;
	char why[TXN_TEXT_MAX];

	forget_checked_plan();
	if (!make_plan(&p, why, sizeof(why))) {
		w.cb->feed(TE_CHECK_DONE, id, false, why);
		return;
	}
	plan_log(&p);
	if (p.ntargets == 0)
		log_warnx(
		    "HOT_BACKUP: no filesystem to freeze; the snapshot will be crash-consistent only");
	w.checked = p; /* for the FREEZE that follows */
	w.checked_valid = true;
	w.checked_us = mono_us();
	/* then every application: apps_done() feeds TE_CHECK_DONE */
	apps_check(w.apps, id, ms);
}

/* Start a hooks stage; one that cannot start ends at once, failed. */
static void
lw_hooks(enum hooks_phase phase, uint64_t id, unsigned int ms)
{
	int rc;

	if ((rc = hooks_run(w.hooks, w.conf->hooks_dir, phase, ms, id)) == 0)
		return;
	log_warnx("txn %llu: hooks %s: %s", (unsigned long long)id,
	    hooks_phase_name(phase), strerror(-rc));
	w.cb->feed(phase == HOOKS_FREEZE ? TE_HOOKS_FROZEN : TE_HOOKS_THAWED,
	    id, false, "cannot run the hooks");
}

static void
hooks_done(const struct hooks_result *r, void *arg)
{
	switch (r->phase) {
	case HOOKS_FREEZE:
		w.cb->feed(TE_HOOKS_FROZEN, r->txid, r->ok, r->reason);
		break;
	case HOOKS_THAW:
		w.cb->feed(TE_HOOKS_THAWED, r->txid, r->ok, r->reason);
		break;
	case HOOKS_ABORT:
		/* nobody waits for an abort: only the log hears of it */
		if (!r->ok)
			log_warnx("txn %llu: hooks abort: %s",
			    (unsigned long long)r->txid, r->reason);
		return;
	}
	w.cb->pump();
}

/* "abort" to the hooks that saw "freeze"; after a cancel, once the
 * killed hook is reaped. */
static void
lw_hooks_abort(uint64_t id, unsigned int ms)
{
	struct timeval tv = {0, 100 * 1000};

	if (hooks_busy(w.hooks))
		hooks_cancel(w.hooks);
	if (hooks_pending(w.hooks, id, HOOKS_ABORT) == 0)
		return;
	if (hooks_run(w.hooks, w.conf->hooks_dir, HOOKS_ABORT, ms, id) ==
	    -EBUSY) {
		w.abort_txid = id; /* a killed hook not yet reaped */
		w.abort_ms = ms;
		evtimer_add(w.abort_retry_ev, &tv);
	}
}

static void
abort_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	lw_hooks_abort(w.abort_txid, w.abort_ms);
}

static void
emit_hook_output(
    const char *hook, enum hooks_phase phase, const char *line, void *arg)
{
	log_info("hook %s (%s): %s", hook, hooks_phase_name(phase), line);
}

static void
lw_freeze(uint64_t id, bool host)
{
	struct plan p;
	char why[TXN_TEXT_MAX];
	int rc;

	/* nothing is frozen that no guard holds: a guard that is starting
	 * is waited for (thawguard_wait()), not the freeze refused */
	if (thawguard_wait(id, 0))
		return;
	/* the mount table may have changed since HOT_BACKUP */
	if (!freeze_plan(&p, why, sizeof(why))) {
		w.cb->feed(TE_FS_FROZEN, id, false, why);
		return;
	}
	plan_log(&p);
	/* what status shows while the freezer works (freeze_done sets it
	 * again once all is frozen): the window may open from now on */
	clock_gettime(CLOCK_REALTIME, &w.frozen_since);
	log_hold(); /* from here on nothing may touch a file */
	thawguard_freezing(id, host);
	freezer_set_expedite(w.freezer, w.conf->expedite_freeze);
	rc = freezer_freeze(w.freezer, &p, w.conf->presync, id);
	plan_free(&p);
	/* a guard restarting: wait for it on the loop, then try again */
	if (rc < 0 && thawguard_wait(id, rc))
		return;
	if (rc < 0) {
		snprintf(why, sizeof(why), "%s",
		    freezer_last_reason(w.freezer)[0]
		        ? freezer_last_reason(w.freezer)
		        : strerror(-rc));
		w.cb->feed(TE_FS_FROZEN, id, false, why);
	}
}

static void
freeze_done(const struct freeze_result *r, void *arg)
{
	if (r->thaw) {
		if (r->ok && r->nstale > 0) {
			char why[TXN_TEXT_MAX];

			snprintf(why, sizeof(why),
			    "%zu filesystem%s thawed by someone else before THAW (the thaw guard, or an admin): the snapshot may be inconsistent",
			    r->nstale, r->nstale == 1 ? " was" : "s were");
			w.cb->feed(TE_FS_THAWED, r->id, false, why);
			w.cb->pump();
			return;
		}
		if (r->ok)
			log_info("txn %llu: thawed in %.1f ms: %s",
			    (unsigned long long)r->id, r->freeze_us / 1000.0,
			    r->order[0] ? r->order : "nothing was frozen");
		w.cb->feed(TE_FS_THAWED, r->id, r->ok, r->reason);
	} else {
		if (r->ok) {
			log_info(
			    "txn %llu: froze %zu filesystem%s in %.1f ms (presync %.1f ms%s): %s",
			    (unsigned long long)r->id, r->nfrozen,
			    r->nfrozen == 1 ? "" : "s", r->freeze_us / 1000.0,
			    r->sync_us / 1000.0, freezer_expedite_note(r),
			    r->order);
		} else if (r->order[0])
			log_info("txn %llu: thawed again: %s",
			    (unsigned long long)r->id, r->order);
		if (r->ok) {
			clock_gettime(CLOCK_REALTIME, &w.frozen_since);
			thawguard_frozen(r->id);
		}
		w.cb->feed(TE_FS_FROZEN, r->id, r->ok, r->reason)->left_frozen =
		    !r->ok && r->nfrozen > 0;
	}
	w.cb->pump();
}

/* TA_FS_CANCEL: one that waits for the guard ends now, undone. */
static void
lw_cancel(uint64_t id)
{
	if (thawguard_cancel_wait())
		w.cb->feed(TE_FS_FROZEN, id, false,
		    "cancelled while waiting for the thaw guard");
	else
		freezer_cancel(w.freezer);
}

static void
lw_thaw(uint64_t id)
{
	int rc;

	if ((rc = freezer_thaw(w.freezer, id)) < 0)
		w.cb->feed(TE_FS_THAWED, id, false, strerror(-rc));
}

static void
lw_lease(uint64_t id, enum txn_guard guard, unsigned int guard_ms)
{
	w.lease_id = id;
	thawguard_lease(guard, guard_ms);
}

static bool
lw_busy(void)
{
	return freezer_busy(w.freezer);
}

static size_t
lw_nfrozen(void)
{
	return freezer_nfrozen(w.freezer);
}

static void
lw_view(struct daemon_view *v, char *paths, size_t len)
{
	size_t i, n;

	v->frozen_since = w.frozen_since;
	v->guard_pid = thawguard_pid();
	v->guard_alive = thawguard_alive();
	if (freezer_busy(w.freezer))
		return;
	for (i = 0, n = 0; i < freezer_nfrozen(w.freezer); i++)
		n += snprintf(paths + n, n < len ? len - n : 0, "%s%s",
		    i ? " " : "", freezer_frozen_path(w.freezer, i));
}

static int
lw_plan(bool json, struct evbuffer *out)
{
	return plan_write(w.conf, w.apps, json, out);
}

static int
lw_load_conf(struct conf *c, const char *path, char *err, size_t errlen)
{
	return conf_load(c, path, true, err, errlen);
}

static void
lw_settle(void)
{
	hooks_output(w.hooks, emit_hook_output, NULL);
}

static void
lw_metrics(const char *path)
{
	int rc;

	if ((rc = metrics_write(path)) < 0)
		log_warnx("metrics %s: %s", path, strerror(-rc));
}

static void
lw_emergency_thaw(void)
{
	if (w.freezer != NULL)
		freezer_thaw_now(w.freezer);
}

static bool
lw_end(void)
{
	hooks_output(w.hooks, emit_hook_output, NULL);
	return false;
}

static void
lw_free(void)
{
	hooks_free(w.hooks);
	event_free(w.abort_retry_ev);
	freezer_free(w.freezer);
	w.freezer = NULL;
	thawguard_free();
	forget_checked_plan();
	mountwatch_close(w.mounts);
}

/* The guard thawed on its own: as the lease (the next THAW says E_FAIL). */
static void
guard_lease_passed(void *arg)
{
	w.cb->feed(TE_LEASE_EXPIRED, w.lease_id, false, NULL);
	w.cb->pump();
}

/* A freeze that waited for the thaw guard to come up tries again. */
static void
guard_retry_freeze(uint64_t id, void *arg)
{
	lw_freeze(id, thawguard_host());
	w.cb->pump();
}

static const struct thawguard_cb guard_cb = {
    guard_lease_passed, guard_retry_freeze, NULL};

static const struct work_ops ops = {
    .check = lw_check,
    .hooks = lw_hooks,
    .hooks_abort = lw_hooks_abort,
    .freeze = lw_freeze,
    .cancel = lw_cancel,
    .thaw = lw_thaw,
    .lease = lw_lease,
    .busy = lw_busy,
    .nfrozen = lw_nfrozen,
    .view = lw_view,
    .plan = lw_plan,
    .load_conf = lw_load_conf,
    .reconf = forget_checked_plan, /* made with the old allow-list */
    .settle = lw_settle,
    .metrics = lw_metrics,
    .emergency_thaw = lw_emergency_thaw,
    .end = lw_end,
    .free = lw_free,
};

const struct work_ops *
work_local(struct event_base *base, const struct conf *c, struct apps *apps,
    const struct work_cb *cb)
{
	size_t n;

	w.conf = c;
	w.apps = apps;
	w.cb = cb;
	if ((w.freezer = freezer_new(base, freeze_done, NULL)) == NULL ||
	    (w.hooks = hooks_new(base, hooks_done, NULL)) == NULL ||
	    (w.abort_retry_ev = evtimer_new(base, abort_retry_cb, NULL)) ==
	        NULL)
		fatalx("out of memory");
	if ((n = thawguard_start(base, w.freezer, c->run_dir, &guard_cb)) > 0)
		cb->thawed_behind(n, "the daemon before this one");
	/* without it every FREEZE reads the mount table anew: slower with
	 * many mounts, never wrong */
	if ((w.mounts = mountwatch_open(NULL)) == NULL)
		log_warn("cannot watch the mount table for changes");
	return &ops;
}
