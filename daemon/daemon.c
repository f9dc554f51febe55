/*
 * daemon.c: the shell around the transaction machine (txn.c).
 *
 * Each event (a host request, a local request from hv_vss_ctl, a stage's
 * result, a timer) is queued and fed to txn_step(); the history is kept
 * from the event and its actions (history_note()), and each action is
 * handed to the module of its role: the host channel or local.c for a
 * reply, the plan and apps.c for a check, apps.c and hooks.c for their
 * stages (the tiers and budgets as the action says), freeze.c for the
 * filesystems, thawguard.c and the lease timer for TA_LEASE.  Nothing
 * here decides what a transaction does next.  A stage that finishes at
 * once feeds its result through the same queue, so txn_step() is never
 * re-entered.
 *
 * The log is held in memory from just before the first FIFREEZE until
 * nothing can be frozen any more (see log.h); after every batch of
 * events we check whether it can be released.
 */
#include <sys/types.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "appproto.h"
#include "apps.h"
#include "conf.h"
#include "ctl.h"
#include "daemon.h"
#include "engine.h"
#include "freeze.h"
#include "history.h"
#include "holds.h"
#include "hooks.h"
#include "host.h"
#include "local.h"
#include "log.h"
#include "metrics.h"
#include "mountwatch.h"
#include "os/devstack.h"
#include "plan.h"
#include "privproto.h"
#include "status.h"
#include "thawguard.h"
#include "txn.h"
#include "util.h"

#define RETHAW_SECONDS 2 /* between tries of a thaw that failed */
#define QUEUE_MAX 16
/* a plan made at HOT_BACKUP serves the FREEZE that follows within this
 * long, if the mount table did not change meanwhile (mountwatch.h) */
#define PLAN_REUSE_MS 60000

static struct {
	struct event_base *base;
	struct conf conf;
	const char *conf_path;
	char *const *overrides;
	int noverrides;
	struct txn txn;
	struct freezer *freezer;
	struct hostchan *host;
	struct apps *apps;
	struct hooks *hooks;
	struct ctl *ctl;
	struct mountwatch *mounts; /* NULL: always read the table */
	struct plan checked; /* made at the last HOT_BACKUP */
	bool checked_valid; /* ... and not used or outdated since */
	uint64_t checked_us; /* monotonic, when made */
	struct timespec frozen_since; /* wall clock */
	uint64_t lease_until_us; /* monotonic; 0: no lease */
	struct event *abort_retry_ev; /* hooks "abort" after a cancel */
	struct event *rethaw_ev; /* what failed to thaw, tried again */
	uint64_t abort_txid;
	unsigned int abort_ms;
	struct event *deadline_ev, *lease_ev;
	uint64_t deadline_id, lease_id;
	struct event *sig_ev[4];

	struct txn_event queue[QUEUE_MAX];
	char reasons[QUEUE_MAX][TXN_TEXT_MAX];
	size_t qhead, qlen;
	bool pumping;
	bool reconnect; /* the device was lost */
	bool reload; /* SIGHUP while busy */
	bool metrics_due; /* write the metrics file once thawed */
	bool stopping;
	uint64_t apps_t0; /* monotonic ms, when an app freeze started */
} d;

/*
 * Privsep mode (daemon_start_engine()): this process is the engine, and
 * its parent plans, freezes, thaws, runs the hooks and keeps the guard
 * and the record (engine.h, priv.h).  What the parent did is mirrored
 * here, for the status and for nothing_frozen().
 */
static struct {
	bool on;
	uint64_t planned; /* the txid the parent planned */
	uint64_t check_id; /* TA_CHECK's CHECK in flight */
	unsigned int check_ms;
	uint64_t hooks_id; /* its freeze hooks were asked for */
	uint64_t hooks_cancelled; /* its freeze hooks' stage cancelled */
	uint64_t freezing; /* a FREEZE asked for, not answered */
	uint64_t frozen_id; /* what the parent holds frozen */
	size_t nfrozen;
	char paths[PRIV_REASON_MAX];
	pid_t guard_pid;
	bool guard_dead;
} pe;

static void pump(void);
static void begin_txn(const struct txn_action *);
static struct txn_event *
feed(enum txn_event_kind, uint64_t, enum txn_op, bool, const char *);

/* A request that cannot even be sent fails as its reply would. */
static void
priv_reply(const struct priv_rep *, const struct priv_req *, void *);

static void
ask(enum priv_type type, uint64_t id, uint32_t arg)
{
	struct priv_req req;
	struct priv_rep rep;
	char why[128];
	int rc;

	if ((rc = engine_send(type, id, arg, NULL, 0)) == 0)
		return;
	snprintf(why, sizeof(why), "cannot ask the privileged parent: %s",
	    strerror(-rc));
	priv_req_make(&req, type, id, arg);
	priv_rep_make(&rep, (uint16_t)type, id, rc, 0, why);
	priv_reply(&rep, &req, NULL);
}

/* The parent plans txn id before its first privileged stage (and anew
 * at its FREEZE, itself, if the mount table changed since). */
static void
ensure_planned(uint64_t id)
{
	if (pe.planned == id || engine_pending(PRIV_CHECK, id))
		return;
	ask(PRIV_CHECK, id, 0);
}

static bool
fs_busy(void)
{
	if (pe.on)
		return pe.freezing != 0 || engine_pending(PRIV_THAW, 0);
	return freezer_busy(d.freezer);
}

static size_t
fs_nfrozen(void)
{
	return pe.on ? pe.nfrozen : freezer_nfrozen(d.freezer);
}

static struct txn_event *
feed(enum txn_event_kind kind, uint64_t id, enum txn_op op, bool ok,
    const char *reason)
{
	size_t i;

	if (d.qlen == QUEUE_MAX)
		fatalx("event queue overflow (bug)");
	i = (d.qhead + d.qlen++) % QUEUE_MAX;
	snprintf(
	    d.reasons[i], sizeof(d.reasons[i]), "%s", reason ? reason : "");
	d.queue[i] = (struct txn_event){
	    .kind = kind, .id = id, .op = op, .ok = ok, .reason = d.reasons[i]};
	return &d.queue[i];
}

static void
arm(struct event *ev, uint64_t *slot, uint64_t id, unsigned int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	evtimer_del(ev);
	*slot = id;
	if (ms > 0)
		evtimer_add(ev, &tv);
	if (ev == d.lease_ev)
		d.lease_until_us = ms > 0 ? mono_us() + ms * 1000ULL : 0;
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	feed(TE_DEADLINE, d.deadline_id, 0, false, NULL);
	pump();
}

static void
lease_cb(evutil_socket_t fd, short what, void *arg)
{
	feed(TE_LEASE_EXPIRED, d.lease_id, 0, false, NULL);
	pump();
}

/* Build the plan now; false (with the reason) if it refuses a backup. */
static bool
make_plan(struct plan *p, char *why, size_t len)
{
	char err[256];

	/* before the table is read: a change made meanwhile then shows at
	 * the next look, and the plan is made anew (mountwatch.h) */
	if (d.mounts != NULL)
		(void)mountwatch_changed(d.mounts);
	if (plan_build(p, &d.conf, NULL, devstack_system_root, true, err,
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
	if (d.checked_valid)
		plan_free(&d.checked);
	d.checked_valid = false;
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
	bool reuse = d.checked_valid && d.mounts != NULL &&
	    mono_us() - d.checked_us <= PLAN_REUSE_MS * 1000ULL &&
	    !mountwatch_changed(d.mounts);

	if (reuse) {
		*p = d.checked;
		d.checked_valid = false; /* one FREEZE each; ours to free */
		log_debug("plan: the mount table is as at HOT_BACKUP");
		return true;
	}
	forget_checked_plan();
	return make_plan(p, why, len);
}

static void
log_plan(const struct plan *p)
{
	size_t i;

	for (i = 0; i < p->ntargets; i++)
		log_debug("plan: freeze %s (%s, level %d)%s%s",
		    p->targets[i].mountpoint, p->targets[i].fstype,
		    p->targets[i].level,
		    p->targets[i].order_reason[0] ? ": " : "",
		    p->targets[i].order_reason);
	for (i = 0; i < p->nskips; i++)
		log_debug("plan: skip %s (%s): %s", p->skips[i].mountpoint,
		    p->skips[i].fstype, p->skips[i].reason);
}

static void
do_check(uint64_t id, unsigned int ms)
{
	struct plan p;
	char why[TXN_TEXT_MAX];

	if (pe.on) {
		/* the parent plans; the apps are asked once it has */
		pe.check_id = id;
		pe.check_ms = ms;
		ask(PRIV_CHECK, id, 0);
		return;
	}
	forget_checked_plan();
	if (!make_plan(&p, why, sizeof(why))) {
		feed(TE_CHECK_DONE, id, 0, false, why);
		return;
	}
	log_plan(&p);
	if (p.ntargets == 0)
		log_warnx(
		    "HOT_BACKUP: no filesystem to freeze; the snapshot will be crash-consistent only");
	d.checked = p; /* for the FREEZE that follows */
	d.checked_valid = true;
	d.checked_us = mono_us();
	/* then every application: apps_done() feeds TE_CHECK_DONE */
	apps_check(d.apps, id, ms);
}

/* An application stage ended: the machine decides what follows. */
static void
apps_done(
    enum apps_stage stage, uint64_t id, bool ok, const char *reason, void *arg)
{
	switch (stage) {
	case APPS_CHECK:
		feed(TE_CHECK_DONE, id, 0, ok, reason);
		break;
	case APPS_FREEZE:
		/* how long the part took: the next part gets the rest */
		feed(TE_APPS_FROZEN, id, 0, ok, reason)->ms =
		    (unsigned int)(mono_ms() - d.apps_t0);
		break;
	case APPS_THAW:
		if (reason != NULL)
			log_warnx("txn %llu: THAW: %s", (unsigned long long)id,
			    reason);
		feed(TE_APPS_THAWED, id, 0, true, NULL);
		break;
	}
	pump();
}

/* Start a hooks stage; one that cannot start ends at once, failed. */
static void
run_hooks(enum hooks_phase phase, uint64_t id, unsigned int ms)
{
	int rc;

	if (pe.on) {
		if (phase == HOOKS_FREEZE) {
			ensure_planned(id);
			pe.hooks_id = id;
			ask(PRIV_HOOKS, id, PRIV_PHASE_FREEZE);
		} else if (pe.hooks_id != id)
			/* no hook saw "freeze": none is owed "thaw" */
			feed(TE_HOOKS_THAWED, id, 0, true, NULL);
		else
			ask(PRIV_HOOKS, id, PRIV_PHASE_THAW);
		return;
	}
	if ((rc = hooks_run(d.hooks, d.conf.hooks_dir, phase, ms, id)) == 0)
		return;
	log_warnx("txn %llu: hooks %s: %s", (unsigned long long)id,
	    hooks_phase_name(phase), strerror(-rc));
	feed(phase == HOOKS_FREEZE ? TE_HOOKS_FROZEN : TE_HOOKS_THAWED, id, 0,
	    false, "cannot run the hooks");
}

static void
hooks_done(const struct hooks_result *r, void *arg)
{
	switch (r->phase) {
	case HOOKS_FREEZE:
		feed(TE_HOOKS_FROZEN, r->txid, 0, r->ok, r->reason);
		break;
	case HOOKS_THAW:
		feed(TE_HOOKS_THAWED, r->txid, 0, r->ok, r->reason);
		break;
	case HOOKS_ABORT:
		/* nobody waits for an abort: only the log hears of it */
		if (!r->ok)
			log_warnx("txn %llu: hooks abort: %s",
			    (unsigned long long)r->txid, r->reason);
		return;
	}
	pump();
}

/*
 * "abort" to the hooks that saw "freeze" (the machine's TA_HOOKS_ABORT);
 * after a cancel, once the killed hook is reaped.
 */
static void
abort_hooks(uint64_t id, unsigned int ms)
{
	struct timeval tv = {0, 100 * 1000};

	if (pe.on) {
		/* a freeze stage not started yet never will; one running
		 * is stopped (its reply then counts for nothing) */
		if (engine_unqueue(PRIV_HOOKS, id) == 0 &&
		    engine_pending(PRIV_HOOKS, id)) {
			pe.hooks_cancelled = id;
			(void)engine_send(PRIV_CANCEL, id, 0, NULL, 0);
		}
		if (pe.hooks_id == id)
			ask(PRIV_HOOKS, id, PRIV_PHASE_ABORT);
		d.abort_txid = id;
		d.abort_ms = ms;
		return;
	}
	if (hooks_busy(d.hooks))
		hooks_cancel(d.hooks);
	if (hooks_pending(d.hooks, id, HOOKS_ABORT) == 0)
		return;
	if (hooks_run(d.hooks, d.conf.hooks_dir, HOOKS_ABORT, ms, id) ==
	    -EBUSY) {
		d.abort_txid = id; /* a killed hook not yet reaped */
		d.abort_ms = ms;
		evtimer_add(d.abort_retry_ev, &tv);
	}
}

static void
abort_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	if (pe.on) {
		ask(PRIV_HOOKS, d.abort_txid, PRIV_PHASE_ABORT);
		return;
	}
	abort_hooks(d.abort_txid, d.abort_ms);
}

static void
emit_hook_output(
    const char *hook, enum hooks_phase phase, const char *line, void *arg)
{
	log_info("hook %s (%s): %s", hook, hooks_phase_name(phase), line);
}

static void
do_fs_freeze(uint64_t id)
{
	struct plan p;
	char why[TXN_TEXT_MAX];
	int rc;

	if (pe.on) {
		ensure_planned(id);
		clock_gettime(CLOCK_REALTIME, &d.frozen_since);
		log_hold();
		pe.freezing = id;
		ask(PRIV_FREEZE, id, 0);
		return;
	}
	/* nothing is frozen that no guard holds: a guard that is starting
	 * is waited for (thawguard_wait()), not the freeze refused */
	if (thawguard_wait(id, 0))
		return;
	/* the mount table may have changed since HOT_BACKUP */
	if (!freeze_plan(&p, why, sizeof(why))) {
		feed(TE_FS_FROZEN, id, 0, false, why);
		return;
	}
	log_plan(&p);
	/* what status shows while the freezer works (freeze_done sets it
	 * again once all is frozen): the window may open from now on */
	clock_gettime(CLOCK_REALTIME, &d.frozen_since);
	log_hold(); /* from here on nothing may touch a file */
	thawguard_freezing(id);
	rc = freezer_freeze(d.freezer, &p, d.conf.presync, id);
	plan_free(&p);
	/* a guard restarting: wait for it on the loop, then try again */
	if (rc < 0 && thawguard_wait(id, rc))
		return;
	if (rc < 0) {
		snprintf(why, sizeof(why), "%s",
		    freezer_last_reason(d.freezer)[0]
		        ? freezer_last_reason(d.freezer)
		        : strerror(-rc));
		feed(TE_FS_FROZEN, id, 0, false, why);
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
			feed(TE_FS_THAWED, r->id, 0, false, why);
			pump();
			return;
		}
		if (r->ok)
			log_info("txn %llu: thawed in %.1f ms: %s",
			    (unsigned long long)r->id, r->freeze_us / 1000.0,
			    r->order[0] ? r->order : "nothing was frozen");
		feed(TE_FS_THAWED, r->id, 0, r->ok, r->reason);
	} else {
		if (r->ok) {
			log_info(
			    "txn %llu: froze %zu filesystem%s in %.1f ms (presync %.1f ms): %s",
			    (unsigned long long)r->id, r->nfrozen,
			    r->nfrozen == 1 ? "" : "s", r->freeze_us / 1000.0,
			    r->sync_us / 1000.0, r->order);
		} else if (r->order[0])
			log_info("txn %llu: thawed again: %s",
			    (unsigned long long)r->id, r->order);
		if (r->ok) {
			clock_gettime(CLOCK_REALTIME, &d.frozen_since);
			thawguard_frozen(r->id);
		}
		feed(TE_FS_FROZEN, r->id, 0, r->ok, r->reason);
	}
	pump();
}

static void
do_fs_thaw(uint64_t id)
{
	int rc;

	if (pe.on) {
		if (pe.nfrozen == 0 && pe.freezing == 0)
			feed(TE_FS_THAWED, id, 0, true, NULL);
		else
			ask(PRIV_THAW, pe.freezing ? pe.freezing : pe.frozen_id,
			    0);
		return;
	}
	if ((rc = freezer_thaw(d.freezer, id)) < 0)
		feed(TE_FS_THAWED, id, 0, false, strerror(-rc));
}

static void
view(struct daemon_view *v, char *paths, size_t len)
{
	uint64_t now = mono_us();
	size_t i, n;

	memset(v, 0, sizeof(*v));
	v->state = txn_state_name(d.txn.state);
	v->txid = d.txn.id;
	v->local = d.txn.local;
	v->frozen = !fs_busy() && fs_nfrozen() > 0;
	v->frozen_since = d.frozen_since;
	v->lease_left_ms = d.lease_until_us > now
	    ? (long long)(d.lease_until_us - now) / 1000
	    : -1;
	v->device = d.conf.device;
	v->connected = hostchan_connected(d.host);
	v->guard_pid = pe.on ? pe.guard_pid : thawguard_pid();
	v->guard_alive = pe.on ? !pe.guard_dead : thawguard_alive();
	v->apps = d.apps;
	local_hold_view(v->hold_text, sizeof(v->hold_text), v->hold_json,
	    sizeof(v->hold_json));
	paths[0] = '\0';
	v->frozen_paths = paths;
	/* a running job changes what is frozen under us: say so, and read
	 * nothing its threads write */
	if (fs_busy()) {
		v->frozen = txn_may_be_frozen(&d.txn);
		snprintf(paths, len, "(a freeze or thaw is in progress)");
		return;
	}
	if (pe.on) {
		if (pe.nfrozen > 0)
			snprintf(paths, len, "%s", pe.paths);
		return;
	}
	for (i = 0, n = 0; i < freezer_nfrozen(d.freezer); i++)
		n += snprintf(paths + n, n < len ? len - n : 0, "%s%s",
		    i ? " " : "", freezer_frozen_path(d.freezer, i));
}

static int
ctl_status(bool json, struct evbuffer *out, void *arg)
{
	struct daemon_view v;
	char paths[2048];

	view(&v, paths, sizeof(paths));
	return status_write(&v, json, out);
}

/* PLAN's text (priv.h, priv_plan_text()) back into a plan. */
static int
plan_parse(char *text, struct plan *p)
{
	char *line, *next, *f[6];
	size_t n, cap_t = 0, cap_s = 0;
	void *np;

	memset(p, 0, sizeof(*p));
	for (line = text; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		for (n = 0; n < 6 && line != NULL; n++)
			f[n] = strsep(&line, "\t");
		if (strcmp(f[0], "veto") == 0 && n >= 2) {
			p->veto = true;
			snprintf(
			    p->veto_reason, sizeof(p->veto_reason), "%s", f[1]);
		} else if (strcmp(f[0], "target") == 0 && n == 6) {
			struct plan_target *t;

			if (p->ntargets == cap_t) {
				cap_t = cap_t ? cap_t * 2 : 8;
				if ((np = reallocarray(p->targets, cap_t,
				         sizeof(*t))) == NULL)
					return -1;
				p->targets = np;
			}
			t = &p->targets[p->ntargets++];
			memset(t, 0, sizeof(*t));
			t->mountpoint = strdup(f[1]);
			t->fstype = strdup(f[2]);
			t->source = strdup(f[3]);
			t->level = atoi(f[4]);
			snprintf(t->order_reason, sizeof(t->order_reason), "%s",
			    f[5]);
			if (!t->mountpoint || !t->fstype || !t->source)
				return -1;
		} else if (strcmp(f[0], "skip") == 0 && n >= 4) {
			struct plan_skip *sk;

			if (p->nskips == cap_s) {
				cap_s = cap_s ? cap_s * 2 : 8;
				if ((np = reallocarray(
				         p->skips, cap_s, sizeof(*sk))) == NULL)
					return -1;
				p->skips = np;
			}
			sk = &p->skips[p->nskips++];
			memset(sk, 0, sizeof(*sk));
			sk->mountpoint = strdup(f[1]);
			sk->fstype = strdup(f[2]);
			snprintf(sk->reason, sizeof(sk->reason), "%s", f[3]);
			if (!sk->mountpoint || !sk->fstype)
				return -1;
		}
	}
	return 0;
}

static int
ctl_plan(bool json, struct evbuffer *out, void *arg)
{
	struct priv_rep rep;
	struct plan p;
	char *text;
	int rc;

	if (!pe.on)
		return plan_write(&d.conf, d.apps, json, out);
	/* the parent's plan: the one it would freeze by */
	if ((text = malloc(PRIV_PLAN_MAX + 1)) == NULL) {
		evbuffer_add_printf(out, "cannot plan: out of memory\n");
		return -1;
	}
	rc = engine_call(
	    PRIV_PLAN, 0, 0, &rep, NULL, text, PRIV_PLAN_MAX + 1, 5000);
	if (rc < 0 || rep.status != 0) {
		evbuffer_add_printf(out, "cannot plan: %s\n",
		    rc < 0 ? strerror(-rc) : rep.reason);
		free(text);
		return -1;
	}
	rc = plan_parse(text, &p);
	free(text);
	if (rc == 0)
		plan_render(&p, &d.conf, d.apps, false, json, out);
	else
		evbuffer_add_printf(out, "cannot plan: out of memory\n");
	plan_free(&p);
	return rc;
}

static int
ctl_history(unsigned int n, bool json, struct evbuffer *out, void *arg)
{
	return history_write(n, json, out);
}

/* TA_FS_CANCEL in privsep mode: a FREEZE not sent yet never is; one
 * running is cancelled (its reply, undone, follows). */
static void
fs_cancel(uint64_t id)
{
	if (engine_unqueue(PRIV_FREEZE, id) > 0) {
		pe.freezing = 0;
		feed(TE_FS_FROZEN, id, 0, false, "cancelled before it started");
	} else if (pe.freezing == id)
		(void)engine_send(PRIV_CANCEL, id, 0, NULL, 0);
}

static void
execute(const struct txn_actions *acts)
{
	const struct txn_action *a;
	size_t i;

	for (i = 0; i < acts->n; i++) {
		a = &acts->a[i];
		switch (a->kind) {
		case TA_REPLY:
			if (a->local)
				local_reply(a);
			else
				(void)hostchan_reply(d.host, a->ok);
			break;
		case TA_CHECK:
			do_check(a->id, a->ms);
			break;
		case TA_APPS_FREEZE:
			d.apps_t0 = mono_ms();
			apps_freeze_tiers(d.apps, a->id, a->ms, a->from, a->to);
			break;
		case TA_APPS_ABORT:
			apps_abort(d.apps, a->id);
			break;
		case TA_APPS_THAW:
			apps_thaw_tiers(d.apps, a->id, a->ms, a->from, a->to);
			break;
		case TA_HOOKS_FREEZE:
			run_hooks(HOOKS_FREEZE, a->id, a->ms);
			break;
		case TA_HOOKS_ABORT:
			abort_hooks(a->id, a->ms);
			break;
		case TA_HOOKS_THAW:
			run_hooks(HOOKS_THAW, a->id, a->ms);
			break;
		case TA_BEGIN:
			begin_txn(a);
			break;
		case TA_STAGE: /* for history_note() */
			break;
		case TA_PROGRESS:
			local_progress(a->text);
			break;
		case TA_FS_FREEZE:
			do_fs_freeze(a->id);
			break;
		case TA_FS_CANCEL:
			if (pe.on) {
				fs_cancel(a->id);
				break;
			}
			/* one that waits for the guard ends now, undone */
			if (thawguard_cancel_wait())
				feed(TE_FS_FROZEN, a->id, 0, false,
				    "cancelled while waiting for the thaw guard");
			else
				freezer_cancel(d.freezer);
			break;
		case TA_FS_THAW:
			do_fs_thaw(a->id);
			break;
		case TA_DEADLINE:
			arm(d.deadline_ev, &d.deadline_id, a->id, a->ms);
			break;
		case TA_LEASE:
			arm(d.lease_ev, &d.lease_id, a->id, a->ms);
			/* the parent armed its guard with max_frozen at the
			 * FREEZE: the lease may shorten that, never stretch
			 * it, and the parent's thaw disarms it */
			if (pe.on && a->guard == TXN_GUARD_ARM &&
			    a->guard_ms > 0 && (pe.nfrozen > 0 || pe.freezing))
				(void)engine_send(
				    PRIV_ARM, a->id, a->guard_ms, NULL, 0);
			else if (!pe.on)
				thawguard_lease(a->guard, a->guard_ms);
			break;
		case TA_LOG:
			if (a->prio <= LOG_WARNING)
				log_warnx("%s", a->text);
			else
				log_info("%s", a->text);
			break;
		default:
			break;
		}
	}
}

static bool
nothing_frozen(void)
{
	return !txn_may_be_frozen(&d.txn) && !fs_busy() && fs_nfrozen() == 0;
}

/* The transaction's deadlines and stage order from the configuration. */
static struct txn_limits
limits(const struct conf *c)
{
	struct txn_limits l = {
	    .check_ms = c->check_timeout_ms,
	    .app_freeze_ms = c->app_freeze_timeout_ms,
	    .fs_freeze_ms = c->fs_freeze_timeout_ms,
	    .thaw_ms = c->thaw_timeout_ms,
	    .max_frozen_ms = c->max_frozen_ms,
	    .hook_ms = c->hook_timeout_ms,
	    .hooks_tier = (int)c->hooks_tier,
	    .hot_backup_ok = c->hot_backup_veto_ok,
	};

	return l;
}

/* The configuration file into c; the engine has its parent open it. */
static int
load_conf(struct conf *c, char *err, size_t errlen)
{
	struct priv_rep rep;
	FILE *fp;
	int rc, fd;

	if (!pe.on)
		return conf_load(c, d.conf_path, true, err, errlen);
	rc = engine_call(PRIV_CONF, 0, 0, &rep, &fd, NULL, 0, 5000);
	if (rc == 0 && (rep.status != 0 || fd < 0)) {
		snprintf(err, errlen, "%s", rep.reason);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (rc < 0 || (fp = fdopen(fd, "r")) == NULL) {
		errfmt(err, errlen, rc < 0 ? -rc : errno, "%s", d.conf_path);
		if (rc == 0)
			close(fd);
		return -1;
	}
	return conf_load_fp(c, fp, d.conf_path, err, errlen);
}

static void
reload_conf(void)
{
	struct txn_limits lim;
	struct conf c;
	char err[512];
	int i;

	d.reload = false;
	conf_defaults(&c);
	/* required: a file gone at reload must not mean "the defaults"
	 * (an empty mounts list would freeze every filesystem) */
	if (load_conf(&c, err, sizeof(err)) != 0)
		goto bad;
	for (i = 0; i < d.noverrides; i++)
		if (conf_set(&c, d.overrides[i], err, sizeof(err)) != 0)
			goto bad;
	if (strcmp(c.device, d.conf.device) != 0) {
		log_warnx(
		    "SIGHUP: device changed to %s: reconnecting", c.device);
		hostchan_close(d.host);
		hostchan_set_device(d.host, c.device);
		d.reconnect = true;
	}
	/* the backend's own settings (FreeBSD: app_device), and what its
	 * kernel's timers make of the deadlines, said again */
	host_conf_apply(&c);
	hostchan_reconf(d.host, &c);
	/* what the sockets and the record were made with stays until the
	 * next start: say so rather than pretend */
	if (strcmp(c.run_dir, d.conf.run_dir) != 0 ||
	    strcmp(c.app_socket, d.conf.app_socket) != 0 ||
	    c.app_socket_mode != d.conf.app_socket_mode ||
	    strcmp(c.app_socket_group, d.conf.app_socket_group) != 0 ||
	    c.app_max_clients != d.conf.app_max_clients ||
	    c.app_max_per_uid != d.conf.app_max_per_uid ||
	    strcmp(c.ctl_socket, d.conf.ctl_socket) != 0 ||
	    strcmp(c.ctl_group, d.conf.ctl_group) != 0)
		log_warnx(
		    "SIGHUP: run_dir and the app and control socket settings take effect at the next start");
	conf_clear(&d.conf);
	d.conf = c;
	lim = limits(&c);
	txn_set_limits(&d.txn, &lim);
	forget_checked_plan(); /* made with the old allow-list */
	log_setdebug(c.debug > log_getdebug() ? c.debug : log_getdebug());
	log_info("configuration reloaded from %s", d.conf_path);
	return;
bad:
	log_warnx("SIGHUP: %s; keeping the running configuration", err);
	conf_clear(&c);
}

/*
 * A FITHAW that failed left filesystems frozen (and still held by the
 * guard and the record): try again every few seconds while idle.
 */
static void
rethaw_cb(evutil_socket_t fd, short what, void *arg)
{
	if (pe.on) {
		if (txn_idle(&d.txn) && !fs_busy() && pe.nfrozen > 0)
			ask(PRIV_THAW, pe.frozen_id, 0);
		return;
	}
	if (txn_idle(&d.txn) && !freezer_busy(d.freezer) &&
	    freezer_nfrozen(d.freezer) > 0)
		(void)freezer_thaw(d.freezer, 0);
}

/* The parent writes the metrics file; the engine has the counters. */
static void
send_metrics(void)
{
	size_t len;
	char *text;
	int rc;

	if ((text = metrics_text(&len)) == NULL)
		return;
	if (len > 0 && len <= PRIV_METRICS_MAX &&
	    (rc = engine_send(PRIV_METRICS, 0, (uint32_t)len, text, len)) < 0)
		log_warnx("metrics %s: %s", d.conf.metrics_file, strerror(-rc));
	free(text);
}

/* After each batch: release the log, reconnect, reload, stop. */
static void
settle(void)
{
	struct timeval tv = {RETHAW_SECONDS, 0};

	if (!nothing_frozen()) {
		if (txn_idle(&d.txn) && !fs_busy() &&
		    !evtimer_pending(d.rethaw_ev, NULL))
			evtimer_add(d.rethaw_ev, &tv);
		return;
	}
	if (log_held())
		log_release();
	if (!pe.on)
		hooks_output(d.hooks, emit_hook_output, NULL);
	if (pe.on && d.metrics_due && d.conf.metrics_file[0] != '\0')
		send_metrics();
	else if (d.metrics_due && d.conf.metrics_file[0] != '\0') {
		int rc = metrics_write(d.conf.metrics_file);

		if (rc < 0)
			log_warnx("metrics %s: %s", d.conf.metrics_file,
			    strerror(-rc));
	}
	d.metrics_due = false;
	if (!txn_idle(&d.txn))
		return;
	if (d.reload)
		reload_conf();
	if (d.stopping) {
		event_base_loopbreak(d.base);
		return;
	}
	if (d.reconnect) {
		d.reconnect = false;
		hostchan_connect(d.host);
	}
}

/*
 * A transaction begins: the first backup without an app says so, by
 * name; a detached hold's holder is its requester.
 */
static void
begin_txn(const struct txn_action *a)
{
	char gone[APPS_REASON_MAX];
	size_t n;

	if ((n = apps_news(d.apps, gone, sizeof(gone))) > 0) {
		log_warnx(
		    "txn %llu: %zu registered app%s gone since the last transaction, not part of this one: %s",
		    (unsigned long long)a->id, n, n == 1 ? "" : "s", gone);
		history_gone(a->id, gone);
	}
	local_begin(a);
}

static void
pump(void)
{
	struct txn_actions acts;
	struct txn_event ev;

	if (d.pumping)
		return; /* the outer pump() will get to it */
	d.pumping = true;
	while (d.qlen > 0) {
		ev = d.queue[d.qhead];
		d.qhead = (d.qhead + 1) % QUEUE_MAX;
		d.qlen--;
		txn_step(&d.txn, &ev, &acts);
		if (history_note(&ev, &acts))
			d.metrics_due = true;
		execute(&acts);
	}
	d.pumping = false;
	local_settle();
	settle();
}

static void
host_request_cb(
    enum host_req req, const char *name, unsigned int budget_ms, void *arg)
{
	static const enum txn_op op[] = {[HOST_CHECK] = TXN_OP_CHECK,
	    [HOST_FREEZE] = TXN_OP_FREEZE,
	    [HOST_THAW] = TXN_OP_THAW,
	    [HOST_OTHER] = TXN_OP_OTHER};

	if (budget_ms > 0)
		log_debug("host: %s, %u ms to answer", name, budget_ms);
	else
		log_debug("host: %s", name);
	feed(TE_HOST_REQUEST, 0, op[req], false, NULL)->budget_ms = budget_ms;
	pump();
}

static void
host_lost_cb(const char *why, bool rejected, void *arg)
{
	log_warnx("host channel %s: %s; reconnecting once nothing is frozen",
	    d.conf.device, why);
	d.reconnect = true;
	feed(TE_HOST_LOST, 0, 0, rejected, why);
	pump();
}

static void
host_registered_cb(uint32_t version, void *arg)
{
	log_info("registered with %s (kernel VSS protocol %u)", d.conf.device,
	    version);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	if (sig == SIGHUP) {
		d.reload = true;
		settle();
		return;
	}
	log_info("%s: %s", strsignal(sig),
	    nothing_frozen() ? "exiting" : "thawing, then exiting");
	d.stopping = true;
	/* answer nothing more; closing the device fails what is in flight */
	hostchan_close(d.host);
	feed(TE_HOST_LOST, 0, 0, false, "stopping");
	feed(TE_LOCAL_LOST, 0, 0, false, "stopping");
	pump();
}

/* fatal(): thaw before the process ends. */
static void
emergency_thaw(void)
{
	/* privsep mode: the parent thaws when this process is gone */
	if (d.freezer != NULL)
		freezer_thaw_now(d.freezer);
}

/* --- privsep mode: the parent's replies and events ---------------------- */

/* A stage's failure as the machine hears it: the parent's reason. */
static const char *
priv_why(const struct priv_rep *rep, char *buf, size_t len)
{
	if (rep->reason[0] != '\0')
		snprintf(buf, len, "%s", rep->reason);
	else if (rep->status > 0)
		snprintf(
		    buf, len, "refused: %s", priv_refusal_name(rep->status));
	else
		snprintf(buf, len, "%s", strerror(-rep->status));
	return buf;
}

/* txn id's CHECK failed: what was queued behind it fails with it. */
static void
plan_failed(uint64_t id, const char *why)
{
	if (engine_unqueue(PRIV_HOOKS, id) > 0)
		feed(TE_HOOKS_FROZEN, id, 0, false, why);
	if (engine_unqueue(PRIV_FREEZE, id) > 0) {
		pe.freezing = 0;
		feed(TE_FS_FROZEN, id, 0, false, why);
	}
}

static void
priv_reply(const struct priv_rep *rep, const struct priv_req *req, void *arg)
{
	char why[TXN_TEXT_MAX];
	bool ok = rep->status == 0;
	uint64_t id = rep->txid;

	if (req == NULL) { /* a side request's */
		if (rep->status != 0 && rep->type != PRIV_CANCEL)
			log_warnx("parent: %s: %s", priv_type_name(rep->type),
			    priv_why(rep, why, sizeof(why)));
		return;
	}
	switch (req->type) {
	case PRIV_CHECK:
		pe.planned = ok ? id : 0;
		if (ok && rep->value == 0 && pe.check_id == id)
			log_warnx(
			    "HOT_BACKUP: no filesystem to freeze; the snapshot will be crash-consistent only");
		if (pe.check_id == id) {
			pe.check_id = 0;
			if (ok)
				apps_check(d.apps, id, pe.check_ms);
			else
				feed(TE_CHECK_DONE, id, 0, false,
				    priv_why(rep, why, sizeof(why)));
		} else if (!ok)
			plan_failed(id, priv_why(rep, why, sizeof(why)));
		break;
	case PRIV_HOOKS:
		if (req->arg == PRIV_PHASE_ABORT) {
			if (rep->status == -EBUSY) {
				/* a killed hook not yet reaped */
				struct timeval tv = {0, 100 * 1000};

				evtimer_add(d.abort_retry_ev, &tv);
			} else if (!ok)
				log_warnx("txn %llu: hooks abort: %s",
				    (unsigned long long)id,
				    priv_why(rep, why, sizeof(why)));
			return;
		}
		if (req->arg == PRIV_PHASE_FREEZE && pe.hooks_cancelled == id) {
			pe.hooks_cancelled = 0;
			return; /* the machine moved on: abort_hooks() */
		}
		feed(req->arg == PRIV_PHASE_FREEZE ? TE_HOOKS_FROZEN
		                                   : TE_HOOKS_THAWED,
		    id, 0, ok, ok ? NULL : priv_why(rep, why, sizeof(why)));
		break;
	case PRIV_FREEZE:
		pe.freezing = 0;
		if (ok) {
			pe.frozen_id = id;
			pe.nfrozen = rep->value;
			snprintf(pe.paths, sizeof(pe.paths), "%s", rep->reason);
			clock_gettime(CLOCK_REALTIME, &d.frozen_since);
			log_info(
			    "txn %llu: the parent froze %u filesystem%s: %s",
			    (unsigned long long)id, rep->value,
			    rep->value == 1 ? "" : "s", rep->reason);
		}
		feed(TE_FS_FROZEN, id, 0, ok,
		    ok ? NULL : priv_why(rep, why, sizeof(why)));
		break;
	case PRIV_THAW:
		/* refused as "nothing of it is frozen": thawed already;
		 * done with a reason: thawed, but some had been thawed by
		 * someone else before (the host must hear E_FAIL) */
		if (rep->status == PRIV_R_ORDER || ok) {
			pe.nfrozen = 0;
			pe.paths[0] = '\0';
		}
		if (ok && rep->reason[0] != '\0')
			feed(TE_FS_THAWED, id, 0, false, rep->reason);
		else if (rep->status == PRIV_R_ORDER || ok)
			feed(TE_FS_THAWED, id, 0, true, NULL);
		else
			feed(TE_FS_THAWED, id, 0, false,
			    priv_why(rep, why, sizeof(why)));
		break;
	case PRIV_ARM:
		if (!ok)
			log_debug("txn %llu: lease not re-armed: %s",
			    (unsigned long long)id,
			    priv_why(rep, why, sizeof(why)));
		return;
	default:
		return;
	}
	pump();
}

/*
 * Who ran it died in its frozen window, and it was thawed behind the
 * host's back: the host's THAW for that snapshot, if it comes, says so.
 */
static void
thawed_behind(size_t n, const char *who)
{
	log_warnx(
	    "%s died with %zu filesystem%s frozen, thawed since: the host's THAW for that snapshot, if it comes, will be answered E_FAIL",
	    who, n, n == 1 ? "" : "s");
	txn_thawed_behind(&d.txn);
}

static void
priv_event(const struct priv_rep *ev, void *arg)
{
	switch (ev->type) {
	case PRIV_EV_LEASE:
		log_warnx(
		    "thaw guard: the daemon did not thaw in time; the guard thawed what it held (%s)",
		    ev->reason);
		metrics_guard_thaw();
		/* as the lease: the next THAW must say E_FAIL */
		feed(TE_LEASE_EXPIRED, d.lease_id, 0, false, NULL);
		pump();
		break;
	case PRIV_EV_THAWED:
		log_warnx("thaw guard thawed %s%s%s", ev->reason,
		    ev->status ? ": " : "",
		    ev->status ? strerror(-ev->status) : "");
		break;
	case PRIV_EV_THAWED_BEHIND:
		thawed_behind(
		    ev->value, "the engine or daemon before this one");
		break;
	case PRIV_EV_GUARD_DIED:
		pe.guard_dead = true;
		log_warnx("thaw guard died (status %u)", ev->value);
		break;
	}
}

/* The parent is gone: nothing can be frozen or thawed any more. */
static void
priv_gone(void *arg)
{
	log_warnx("the privileged parent is gone: exiting");
	d.stopping = true;
	event_base_loopbreak(d.base);
}

static int
engine_device(
    const char *device, bool fresh, char *why, size_t whylen, void *arg)
{
	struct priv_rep rep;
	int rc, fd;

	rc = engine_call(
	    PRIV_DEVICE, 0, fresh ? 1 : 0, &rep, &fd, NULL, 0, 5000);
	if (rc < 0)
		return rc;
	if (rep.status != 0 || fd < 0) {
		if (fd >= 0)
			close(fd);
		if (rep.status == -EBUSY)
			snprintf(why, whylen, "%s", rep.reason);
		return rep.status < 0 ? rep.status : -EAGAIN;
	}
	return fd;
}

static int
engine_comm(pid_t pid, char *buf, size_t len)
{
	struct priv_rep rep;
	int rc;

	snprintf(buf, len, "?");
	if (pid <= 0 || pid > PRIV_PID_MAX)
		return -EINVAL;
	rc =
	    engine_call(PRIV_COMM, 0, (uint32_t)pid, &rep, NULL, NULL, 0, 2000);
	if (rc < 0)
		return rc;
	if (rep.status != 0)
		return rep.status < 0 ? rep.status : -EINVAL;
	snprintf(buf, len, "%s", rep.reason);
	return 0;
}

static const struct ctl_handlers ctl_handlers = {ctl_status, ctl_plan,
    ctl_history, local_freeze, local_thaw, local_release, local_gone,
    local_hold_apps, local_release_apps};

/* local.c's requests: fed and carried out at once. */
static void
local_feed(const struct txn_event *ev)
{
	struct txn_event *q =
	    feed(ev->kind, ev->id, ev->op, ev->ok, ev->reason);

	q->local = ev->local;
	q->ms = ev->ms;
	pump();
}

/* The guard thawed on its own: as the lease (the next THAW says E_FAIL). */
static void
guard_lease_passed(void *arg)
{
	feed(TE_LEASE_EXPIRED, d.lease_id, 0, false, NULL);
	pump();
}

/* A freeze that waited for the thaw guard to come up tries again. */
static void
guard_retry_freeze(uint64_t id, void *arg)
{
	do_fs_freeze(id);
	pump();
}

static const struct thawguard_cb guard_cb = {
    guard_lease_passed, guard_retry_freeze, NULL};

/*
 * The engine's start, in the child of the parent, as root still (the
 * sockets are bound and given their groups here), before its
 * confinement: what needs the parent is asked through sock.
 */
void
daemon_start_engine(struct event_base *base, const struct conf *c,
    const char *conf_path, char *const *overrides, int noverrides, int sock,
    pid_t guard_pid)
{
	static const struct engine_cb ecb = {
	    priv_reply, priv_event, priv_gone, NULL};
	char err[256];

	pe.on = true;
	pe.guard_pid = guard_pid;
	if (engine_open(base, sock, &ecb, err, sizeof(err)) == -1)
		fatalx("%s", err);
	holds_set_comm(engine_comm);
	daemon_start(base, c, conf_path, overrides, noverrides);
}

void
daemon_start(struct event_base *base, const struct conf *c,
    const char *conf_path, char *const *overrides, int noverrides)
{
	static const struct host_callbacks cb = {
	    host_request_cb, host_lost_cb, host_registered_cb};
	const int sigs[4] = {SIGTERM, SIGINT, SIGQUIT, SIGHUP};
	struct txn_limits lim = limits(c);
	size_t n;
	int i;

	d.base = base;
	d.conf = *c;
	d.conf_path = conf_path;
	d.overrides = overrides;
	d.noverrides = noverrides;
	txn_init(&d.txn, &lim);
	log_set_fatal_hook(emergency_thaw);
	/* what the host backend's kernel cannot fit, said at start (and at
	 * each reload) */
	host_conf_apply(c);
	if ((!pe.on &&
	        (d.freezer = freezer_new(base, freeze_done, NULL)) == NULL) ||
	    (d.host = hostchan_new(base, c, &cb, NULL)) == NULL ||
	    (d.deadline_ev = evtimer_new(base, deadline_cb, NULL)) == NULL ||
	    (d.lease_ev = evtimer_new(base, lease_cb, NULL)) == NULL)
		fatalx("out of memory");
	if ((d.rethaw_ev = evtimer_new(base, rethaw_cb, NULL)) == NULL)
		fatalx("out of memory");
	if ((!pe.on && (d.hooks = hooks_new(base, hooks_done, NULL)) == NULL) ||
	    (d.abort_retry_ev = evtimer_new(base, abort_retry_cb, NULL)) ==
	        NULL)
		fatalx("out of memory");
	if ((d.apps = apps_new(base, c, apps_done, NULL)) == NULL)
		fatalx("cannot serve applications on %s", c->app_socket);
	local_init(&d.txn, d.apps, local_feed);
	if ((d.ctl = ctl_new(base, c, &ctl_handlers, NULL)) == NULL)
		fatalx("cannot serve hv_vss_ctl on %s", c->ctl_socket);
	if (pe.on)
		hostchan_set_opener(d.host, engine_device, NULL);
	else if ((n = thawguard_start(base, d.freezer, c->run_dir, &guard_cb)) >
	    0)
		thawed_behind(n, "the daemon before this one");
	/* without it every FREEZE reads the mount table anew: slower with
	 * many mounts, never wrong (privsep: the parent watches) */
	if (!pe.on && (d.mounts = mountwatch_open(NULL)) == NULL)
		log_warn("cannot watch the mount table for changes");
	/* a client gone mid-write must not kill us */
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < 4; i++) {
		d.sig_ev[i] = evsignal_new(base, sigs[i], signal_cb, NULL);
		if (d.sig_ev[i] == NULL || event_add(d.sig_ev[i], NULL) != 0)
			fatalx("cannot catch signals");
	}
	hostchan_connect(d.host);
}

int
daemon_run(void)
{
	int i;

	event_base_dispatch(d.base);
	/*
	 * Stopping.  A second SIGTERM (the service manager's, the host
	 * emulator's) must not cut the thaw and the teardown short: freeing
	 * the events puts back the default action, so ignore them instead.
	 */
	for (i = 0; i < 4; i++) {
		int sig;

		if (d.sig_ev[i] == NULL)
			continue;
		sig = event_get_signal(d.sig_ev[i]);
		event_free(d.sig_ev[i]);
		d.sig_ev[i] = NULL;
		signal(sig, SIG_IGN);
	}
	emergency_thaw();
	if (log_held())
		log_release();
	if (pe.on) {
		/* the process ends now: the parent unlinks the sockets (the
		 * engine may not) and thaws whatever is left */
		engine_close();
		return 0;
	}
	hooks_output(d.hooks, emit_hook_output, NULL);
	hostchan_free(d.host);
	ctl_free(d.ctl);
	apps_free(d.apps);
	hooks_free(d.hooks);
	event_free(d.abort_retry_ev);
	event_free(d.rethaw_ev);
	freezer_free(d.freezer);
	thawguard_free();
	forget_checked_plan();
	mountwatch_close(d.mounts);
	event_free(d.deadline_ev);
	event_free(d.lease_ev);
	conf_clear(&d.conf);
	return 0; /* a stop asked for by a signal, after thawing */
}
