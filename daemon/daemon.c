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

#include <event2/event.h>

#include "appproto.h"
#include "apps.h"
#include "conf.h"
#include "ctl.h"
#include "daemon.h"
#include "freeze.h"
#include "history.h"
#include "hooks.h"
#include "host.h"
#include "local.h"
#include "log.h"
#include "metrics.h"
#include "mountwatch.h"
#include "os/devstack.h"
#include "plan.h"
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

static void pump(void);
static void begin_txn(const struct txn_action *);

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
	v->frozen = !freezer_busy(d.freezer) && freezer_nfrozen(d.freezer) > 0;
	v->frozen_since = d.frozen_since;
	v->lease_left_ms = d.lease_until_us > now
	    ? (long long)(d.lease_until_us - now) / 1000
	    : -1;
	v->device = d.conf.device;
	v->connected = hostchan_connected(d.host);
	v->guard_pid = thawguard_pid();
	v->guard_alive = thawguard_alive();
	v->apps = d.apps;
	local_hold_view(v->hold_text, sizeof(v->hold_text), v->hold_json,
	    sizeof(v->hold_json));
	paths[0] = '\0';
	v->frozen_paths = paths;
	/* a running job changes what is frozen under us: say so, and read
	 * nothing its threads write */
	if (freezer_busy(d.freezer)) {
		v->frozen = txn_may_be_frozen(&d.txn);
		snprintf(paths, len, "(a freeze or thaw is in progress)");
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

static int
ctl_plan(bool json, struct evbuffer *out, void *arg)
{
	return plan_write(&d.conf, d.apps, json, out);
}

static int
ctl_history(unsigned int n, bool json, struct evbuffer *out, void *arg)
{
	return history_write(n, json, out);
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
	return !txn_may_be_frozen(&d.txn) && !freezer_busy(d.freezer) &&
	    freezer_nfrozen(d.freezer) == 0;
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
	if (conf_load(&c, d.conf_path, true, err, sizeof(err)) != 0)
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
	if (txn_idle(&d.txn) && !freezer_busy(d.freezer) &&
	    freezer_nfrozen(d.freezer) > 0)
		(void)freezer_thaw(d.freezer, 0);
}

/* After each batch: release the log, reconnect, reload, stop. */
static void
settle(void)
{
	struct timeval tv = {RETHAW_SECONDS, 0};

	if (!nothing_frozen()) {
		if (txn_idle(&d.txn) && !freezer_busy(d.freezer) &&
		    !evtimer_pending(d.rethaw_ev, NULL))
			evtimer_add(d.rethaw_ev, &tv);
		return;
	}
	if (log_held())
		log_release();
	hooks_output(d.hooks, emit_hook_output, NULL);
	if (d.metrics_due && d.conf.metrics_file[0] != '\0') {
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
	if (d.freezer != NULL)
		freezer_thaw_now(d.freezer);
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

void
daemon_start(struct event_base *base, const struct conf *c,
    const char *conf_path, char *const *overrides, int noverrides)
{
	static const struct host_callbacks cb = {
	    host_request_cb, host_lost_cb, host_registered_cb};
	const int sigs[4] = {SIGTERM, SIGINT, SIGQUIT, SIGHUP};
	struct txn_limits lim = limits(c);
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
	if ((d.freezer = freezer_new(base, freeze_done, NULL)) == NULL ||
	    (d.host = hostchan_new(base, c, &cb, NULL)) == NULL ||
	    (d.deadline_ev = evtimer_new(base, deadline_cb, NULL)) == NULL ||
	    (d.lease_ev = evtimer_new(base, lease_cb, NULL)) == NULL)
		fatalx("out of memory");
	if ((d.rethaw_ev = evtimer_new(base, rethaw_cb, NULL)) == NULL)
		fatalx("out of memory");
	if ((d.hooks = hooks_new(base, hooks_done, NULL)) == NULL ||
	    (d.abort_retry_ev = evtimer_new(base, abort_retry_cb, NULL)) ==
	        NULL)
		fatalx("out of memory");
	if ((d.apps = apps_new(base, c, apps_done, NULL)) == NULL)
		fatalx("cannot serve applications on %s", c->app_socket);
	local_init(&d.txn, d.apps, local_feed);
	if ((d.ctl = ctl_new(base, c, &ctl_handlers, NULL)) == NULL)
		fatalx("cannot serve hv_vss_ctl on %s", c->ctl_socket);
	thawguard_start(base, d.freezer, c->run_dir, &guard_cb);
	/* without it every FREEZE reads the mount table anew: slower with
	 * many mounts, never wrong */
	if ((d.mounts = mountwatch_open(NULL)) == NULL)
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
