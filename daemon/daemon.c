/*
 * daemon.c: the shell around the transaction machine (txn.c).
 *
 * Each event (a host request, a local request from hv_vss_ctl, a stage's
 * result, a timer) is queued and fed to txn_step(); the history is kept
 * from the event and its actions (history_note()), and each action is
 * handed to the module of its role: the host channel or local.c for a
 * reply, apps.c for the applications' stages (the tiers and budgets as
 * the action says), the lease timer for TA_LEASE, and the privileged
 * work (plan, hooks, freeze, thaw, the guard's lease) to work.h's ops,
 * in process (work_local.c) or asked of the privsep parent
 * (work_priv.c), picked at start.  Nothing
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
#include "history.h"
#include "host.h"
#include "local.h"
#include "log.h"
#include "metrics.h"
#include "status.h"
#include "txn.h"
#include "util.h"
#include "work.h"

#define QUEUE_MAX 16

static struct {
	struct event_base *base;
	struct conf conf;
	const char *conf_path;
	char *const *overrides;
	int noverrides;
	struct txn txn;
	bool priv; /* privsep mode: the parent does the work */
	const struct work_ops *work; /* work_local() or work_priv() */
	struct hostchan *host;
	struct apps *apps;
	struct ctl *ctl;
	uint64_t lease_until_us; /* monotonic; 0: no lease */
	struct event *deadline_ev, *lease_ev, *rethaw_ev;
	uint64_t deadline_id, lease_id, rethaw_id;
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
feed(enum txn_event_kind, uint64_t, enum txn_op, bool, const char *);

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

static void
rethaw_cb(evutil_socket_t fd, short what, void *arg)
{
	feed(TE_RETHAW_DUE, d.rethaw_id, 0, false, NULL);
	pump();
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

static void
view(struct daemon_view *v, char *paths, size_t len)
{
	uint64_t now = mono_us();

	memset(v, 0, sizeof(*v));
	v->state = txn_state_name(d.txn.state);
	v->txid = d.txn.id;
	v->local = d.txn.local;
	v->frozen = !d.work->busy() && d.work->nfrozen() > 0;
	v->lease_left_ms = d.lease_until_us > now
	    ? (long long)(d.lease_until_us - now) / 1000
	    : -1;
	v->device = d.conf.device;
	v->connected = hostchan_connected(d.host);
	v->apps = d.apps;
	local_hold_view(v->hold_text, sizeof(v->hold_text), v->hold_json,
	    sizeof(v->hold_json));
	paths[0] = '\0';
	v->frozen_paths = paths;
	d.work->view(v, paths, len);
	/* a running job changes what is frozen under us: say so, and read
	 * nothing its threads write */
	if (d.work->busy()) {
		v->frozen = txn_may_be_frozen(&d.txn);
		snprintf(paths, len, "(a freeze or thaw is in progress)");
	}
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
	return d.work->plan(json, out);
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
			d.work->check(a->id, a->ms);
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
			d.work->hooks(HOOKS_FREEZE, a->id, a->ms);
			break;
		case TA_HOOKS_ABORT:
			d.work->hooks_abort(a->id, a->ms);
			break;
		case TA_HOOKS_THAW:
			d.work->hooks(HOOKS_THAW, a->id, a->ms);
			break;
		case TA_BEGIN:
			begin_txn(a);
			break;
		case TA_STAGE: /* for history_note() */
			break;
		case TA_FORGET_GONE:
			apps_news_clear(d.apps);
			break;
		case TA_PROGRESS:
			local_progress(a->text);
			break;
		case TA_FS_FREEZE:
			d.work->freeze(a->id, !a->local);
			break;
		case TA_FS_CANCEL:
			d.work->cancel(a->id);
			break;
		case TA_FS_THAW:
			d.work->thaw(a->id);
			break;
		case TA_DEADLINE:
			arm(d.deadline_ev, &d.deadline_id, a->id, a->ms);
			break;
		case TA_LEASE:
			arm(d.lease_ev, &d.lease_id, a->id, a->ms);
			d.work->lease(a->id, a->guard, a->guard_ms);
			break;
		case TA_RETHAW_TIMER:
			arm(d.rethaw_ev, &d.rethaw_id, a->id, a->ms);
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
	return !txn_may_be_frozen(&d.txn) && !d.work->busy() &&
	    d.work->nfrozen() == 0;
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
	if (d.work->load_conf(&c, d.conf_path, err, sizeof(err)) != 0)
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
	d.work->reconf(); /* a plan made with the old allow-list */
	log_setdebug(c.debug > log_getdebug() ? c.debug : log_getdebug());
	log_info("configuration reloaded from %s", d.conf_path);
	return;
bad:
	log_warnx("SIGHUP: %s; keeping the running configuration", err);
	conf_clear(&c);
}

/* After each batch: release the log, reconnect, reload, stop. */
static void
settle(void)
{
	if (!nothing_frozen())
		return;
	if (log_held())
		log_release();
	d.work->settle();
	if (d.metrics_due && d.conf.metrics_file[0] != '\0')
		d.work->metrics(d.conf.metrics_file);
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
	if (d.work != NULL)
		d.work->emergency_thaw();
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
	q->ngone = ev->ngone;
	pump();
}

/* The privileged work's results (work.h): queued as any other event. */
static struct txn_event *
work_feed(enum txn_event_kind kind, uint64_t id, bool ok, const char *reason)
{
	return feed(kind, id, 0, ok, reason);
}

/* The privileged parent is gone: nothing can be frozen or thawed. */
static void
work_gone(void)
{
	d.stopping = true;
	event_base_loopbreak(d.base);
}

/*
 * Who ran it died in its frozen window, and it was thawed behind the
 * host's back: the host's THAW for that snapshot, if it comes, says so.
 */
static void
work_thawed_behind(size_t n, const char *who)
{
	log_warnx(
	    "%s died with %zu filesystem%s frozen, thawed since: the host's THAW for that snapshot, if it comes, will be answered E_FAIL",
	    who, n, n == 1 ? "" : "s");
	txn_thawed_behind(&d.txn);
}

static const struct work_cb work_cb = {
    work_feed, pump, work_gone, work_thawed_behind};

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
	d.priv = true;
	work_priv_open(base, sock, guard_pid);
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
	if ((d.host = hostchan_new(base, c, &cb, NULL)) == NULL ||
	    (d.deadline_ev = evtimer_new(base, deadline_cb, NULL)) == NULL ||
	    (d.lease_ev = evtimer_new(base, lease_cb, NULL)) == NULL ||
	    (d.rethaw_ev = evtimer_new(base, rethaw_cb, NULL)) == NULL)
		fatalx("out of memory");
	if ((d.apps = apps_new(base, c, apps_done, NULL)) == NULL)
		fatalx("cannot serve applications on %s", c->app_socket);
	local_init(&d.txn, d.apps, local_feed);
	if ((d.ctl = ctl_new(base, c, &ctl_handlers, NULL)) == NULL)
		fatalx("cannot serve hv_vss_ctl on %s", c->ctl_socket);
	d.work = d.priv ? work_priv(base, &d.conf, d.apps, d.host, &work_cb)
	                : work_local(base, &d.conf, d.apps, &work_cb);
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
	/* privsep mode: the process ends now (the parent unlinks the
	 * sockets, which the engine may not, and thaws what is left) */
	if (d.work->end())
		return 0;
	hostchan_free(d.host);
	ctl_free(d.ctl);
	apps_free(d.apps);
	event_free(d.rethaw_ev);
	d.work->free();
	event_free(d.deadline_ev);
	event_free(d.lease_ev);
	conf_clear(&d.conf);
	return 0; /* a stop asked for by a signal, after thawing */
}
