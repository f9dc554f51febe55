/*
 * work_priv.c: the privileged work asked of the privileged parent
 * (work.h, privsep mode): it plans, freezes, thaws, runs the hooks and
 * keeps the guard and the record; engine.c carries the requests and
 * replies (priv.h).  What the parent did is mirrored here, for the
 * status and for the machine's "nothing frozen".
 */
#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "apps.h"
#include "conf.h"
#include "engine.h"
#include "holds.h"
#include "host.h"
#include "log.h"
#include "metrics.h"
#include "plan.h"
#include "privproto.h"
#include "status.h"
#include "txn.h"
#include "util.h"
#include "work.h"

static struct {
	const struct conf *conf;
	struct apps *apps;
	const struct work_cb *cb;
	struct timespec frozen_since; /* wall clock */
	struct event *abort_retry_ev; /* hooks "abort" after a cancel */
	uint64_t abort_txid;
	uint64_t lease_id;
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

static void
pw_check(uint64_t id, unsigned int ms)
{
	/* the parent plans; the apps are asked once it has */
	pe.check_id = id;
	pe.check_ms = ms;
	ask(PRIV_CHECK, id, 0);
}

static void
pw_hooks(enum hooks_phase phase, uint64_t id, unsigned int ms)
{
	if (phase == HOOKS_FREEZE) {
		ensure_planned(id);
		pe.hooks_id = id;
		ask(PRIV_HOOKS, id, PRIV_PHASE_FREEZE);
	} else if (pe.hooks_id != id)
		/* no hook saw "freeze": none is owed "thaw" */
		pe.cb->feed(TE_HOOKS_THAWED, id, true, NULL);
	else
		ask(PRIV_HOOKS, id, PRIV_PHASE_THAW);
}

/* a freeze stage not started yet never will; one running is stopped
 * (its reply then counts for nothing) */
static void
pw_hooks_abort(uint64_t id, unsigned int ms)
{
	if (engine_unqueue(PRIV_HOOKS, id) == 0 &&
	    engine_pending(PRIV_HOOKS, id)) {
		pe.hooks_cancelled = id;
		(void)engine_send(PRIV_CANCEL, id, 0, NULL, 0);
	}
	if (pe.hooks_id == id)
		ask(PRIV_HOOKS, id, PRIV_PHASE_ABORT);
	pe.abort_txid = id;
}

static void
abort_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	ask(PRIV_HOOKS, pe.abort_txid, PRIV_PHASE_ABORT);
}

static void
pw_freeze(uint64_t id, bool host)
{
	ensure_planned(id);
	clock_gettime(CLOCK_REALTIME, &pe.frozen_since);
	log_hold();
	pe.freezing = id;
	ask(PRIV_FREEZE, id, host ? 0 : 1);
}

/* A FREEZE not sent yet never is; one running is cancelled (its reply,
 * undone, follows). */
static void
pw_cancel(uint64_t id)
{
	if (engine_unqueue(PRIV_FREEZE, id) > 0) {
		pe.freezing = 0;
		pe.cb->feed(
		    TE_FS_FROZEN, id, false, "cancelled before it started");
	} else if (pe.freezing == id)
		(void)engine_send(PRIV_CANCEL, id, 0, NULL, 0);
}

static void
pw_thaw(uint64_t id)
{
	if (pe.nfrozen == 0 && pe.freezing == 0)
		pe.cb->feed(TE_FS_THAWED, id, true, NULL);
	else
		ask(PRIV_THAW, pe.freezing ? pe.freezing : pe.frozen_id, 0);
}

/* The parent armed its guard with max_frozen at the FREEZE: the lease
 * may shorten that, never stretch it, and the parent's thaw disarms it. */
static void
pw_lease(uint64_t id, enum txn_guard guard, unsigned int guard_ms)
{
	pe.lease_id = id;
	if (guard == TXN_GUARD_ARM && guard_ms > 0 &&
	    (pe.nfrozen > 0 || pe.freezing))
		(void)engine_send(PRIV_ARM, id, guard_ms, NULL, 0);
}

static bool
pw_busy(void)
{
	return pe.freezing != 0 || engine_pending(PRIV_THAW, 0);
}

static size_t
pw_nfrozen(void)
{
	return pe.nfrozen;
}

static void
pw_view(struct daemon_view *v, char *paths, size_t len)
{
	v->frozen_since = pe.frozen_since;
	v->guard_pid = pe.guard_pid;
	v->guard_alive = !pe.guard_dead;
	if (!pw_busy() && pe.nfrozen > 0)
		snprintf(paths, len, "%s", pe.paths);
}

/* PLAN's text (priv.h, priv_plan_text(), priv_hooks_text()) back into
 * a plan and its hooks (their names never NULL on 0). */
static int
plan_parse(char *text, struct plan *p, struct plan_hooks *ph)
{
	char *line, *next, *f[6], ***hooks = &ph->names;
	size_t n, cap_t = 0, cap_s = 0, nh = 0, cap_h = 1;
	void *np;

	memset(p, 0, sizeof(*p));
	memset(ph, 0, sizeof(*ph));
	if ((*hooks = calloc(cap_h, sizeof(**hooks))) == NULL)
		return -1;
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
		} else if (strcmp(f[0], "hook") == 0 && n == 2) {
			if (nh + 1 == cap_h) {
				cap_h *= 2;
				if ((np = reallocarray(*hooks, cap_h,
				         sizeof(**hooks))) == NULL)
					return -1;
				*hooks = np;
			}
			if (((*hooks)[nh] = strdup(f[1])) == NULL)
				return -1;
			(*hooks)[++nh] = NULL;
		} else if (strcmp(f[0], "hooks_fail") == 0 && n == 2) {
			snprintf(ph->why, sizeof(ph->why), "%s", f[1]);
		} else if (strcmp(f[0], "hooks_more") == 0 && n == 2) {
			ph->more = strtoul(f[1], NULL, 10);
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

/* The parent's plan: the one it would freeze by. */
static int
pw_plan(bool json, struct evbuffer *out)
{
	struct priv_rep rep;
	struct plan_hooks ph;
	struct plan p;
	char *text;
	int rc;

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
	rc = plan_parse(text, &p, &ph);
	free(text);
	if (rc == 0)
		plan_render(&p, pe.conf, pe.apps, &ph, json, out);
	else
		evbuffer_add_printf(out, "cannot plan: out of memory\n");
	plan_hooks_clear(&ph);
	plan_free(&p);
	return rc;
}

/* The configuration file: the parent opens it. */
static int
pw_load_conf(struct conf *c, const char *path, char *err, size_t errlen)
{
	struct priv_rep rep;
	FILE *fp;
	int rc, fd;

	rc = engine_call(PRIV_CONF, 0, 0, &rep, &fd, NULL, 0, 5000);
	if (rc == 0 && (rep.status != 0 || fd < 0)) {
		snprintf(err, errlen, "%s", rep.reason);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (rc < 0 || (fp = fdopen(fd, "r")) == NULL) {
		errfmt(err, errlen, rc < 0 ? -rc : errno, "%s", path);
		if (rc == 0)
			close(fd);
		return -1;
	}
	return conf_load_fp(c, fp, path, err, errlen);
}

static void
pw_nothing(void)
{
}

/* The parent writes the metrics file; the engine has the counters. */
static void
pw_metrics(const char *path)
{
	size_t len;
	char *text;
	int rc;

	if ((text = metrics_text(&len)) == NULL)
		return;
	if (len > 0 && len <= PRIV_METRICS_MAX &&
	    (rc = engine_send(PRIV_METRICS, 0, (uint32_t)len, text, len)) < 0)
		log_warnx("metrics %s: %s", path, strerror(-rc));
	free(text);
}

/* The process ends now: the parent unlinks the sockets (the engine may
 * not) and thaws whatever is left. */
static bool
pw_end(void)
{
	engine_close();
	return true;
}

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
		pe.cb->feed(TE_HOOKS_FROZEN, id, false, why);
	if (engine_unqueue(PRIV_FREEZE, id) > 0) {
		pe.freezing = 0;
		pe.cb->feed(TE_FS_FROZEN, id, false, why);
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
				apps_check(pe.apps, id, pe.check_ms);
			else
				pe.cb->feed(TE_CHECK_DONE, id, false,
				    priv_why(rep, why, sizeof(why)));
		} else if (!ok)
			plan_failed(id, priv_why(rep, why, sizeof(why)));
		break;
	case PRIV_HOOKS:
		if (req->arg == PRIV_PHASE_ABORT) {
			if (rep->status == -EBUSY) {
				/* a killed hook not yet reaped */
				struct timeval tv = {0, 100 * 1000};

				evtimer_add(pe.abort_retry_ev, &tv);
			} else if (!ok)
				log_warnx("txn %llu: hooks abort: %s",
				    (unsigned long long)id,
				    priv_why(rep, why, sizeof(why)));
			return;
		}
		if (req->arg == PRIV_PHASE_FREEZE && pe.hooks_cancelled == id) {
			pe.hooks_cancelled = 0;
			return; /* the machine moved on: pw_hooks_abort() */
		}
		pe.cb->feed(req->arg == PRIV_PHASE_FREEZE ? TE_HOOKS_FROZEN
		                                          : TE_HOOKS_THAWED,
		    id, ok, ok ? NULL : priv_why(rep, why, sizeof(why)));
		break;
	case PRIV_FREEZE:
		pe.freezing = 0;
		if (ok) {
			pe.frozen_id = id;
			pe.nfrozen = rep->value;
			snprintf(pe.paths, sizeof(pe.paths), "%s", rep->reason);
			clock_gettime(CLOCK_REALTIME, &pe.frozen_since);
			log_info(
			    "txn %llu: the parent froze %u filesystem%s: %s",
			    (unsigned long long)id, rep->value,
			    rep->value == 1 ? "" : "s", rep->reason);
		}
		if (!ok && rep->value > 0) {
			/* its undo failed too: thawed as after a THAW */
			pe.frozen_id = id;
			pe.nfrozen = rep->value;
		}
		pe.cb
		    ->feed(TE_FS_FROZEN, id, ok,
		        ok ? NULL : priv_why(rep, why, sizeof(why)))
		    ->left_frozen = !ok && rep->value > 0;
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
			pe.cb->feed(TE_FS_THAWED, id, false, rep->reason);
		else if (rep->status == PRIV_R_ORDER || ok)
			pe.cb->feed(TE_FS_THAWED, id, true, NULL);
		else
			pe.cb->feed(TE_FS_THAWED, id, false,
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
	pe.cb->pump();
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
		pe.cb->feed(TE_LEASE_EXPIRED, pe.lease_id, false, NULL);
		pe.cb->pump();
		break;
	case PRIV_EV_THAWED:
		log_warnx("thaw guard thawed %s%s%s", ev->reason,
		    ev->status ? ": " : "",
		    ev->status ? strerror(-ev->status) : "");
		break;
	case PRIV_EV_THAWED_BEHIND:
		pe.cb->thawed_behind(
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
	pe.cb->gone();
}

/* The host device, opened by the parent. */
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

/* A process's name, which the engine's /proc may not show. */
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

static const struct work_ops ops = {
    .check = pw_check,
    .hooks = pw_hooks,
    .hooks_abort = pw_hooks_abort,
    .freeze = pw_freeze,
    .cancel = pw_cancel,
    .thaw = pw_thaw,
    .lease = pw_lease,
    .busy = pw_busy,
    .nfrozen = pw_nfrozen,
    .view = pw_view,
    .plan = pw_plan,
    .load_conf = pw_load_conf,
    .reconf = pw_nothing, /* the parent plans by its own */
    .settle = pw_nothing, /* the parent logs the hooks' output */
    .metrics = pw_metrics,
    .emergency_thaw = pw_nothing, /* the parent thaws once we are gone */
    .end = pw_end,
    .free = pw_nothing, /* never: pw_end() */
};

/* The engine's side of sock, before its confinement; guard_pid for the
 * status. */
void
work_priv_open(struct event_base *base, int sock, pid_t guard_pid)
{
	static const struct engine_cb ecb = {
	    priv_reply, priv_event, priv_gone, NULL};
	char err[256];

	pe.guard_pid = guard_pid;
	if (engine_open(base, sock, &ecb, err, sizeof(err)) == -1)
		fatalx("%s", err);
	holds_set_comm(engine_comm);
}

const struct work_ops *
work_priv(struct event_base *base, const struct conf *c, struct apps *apps,
    struct hostchan *host, const struct work_cb *cb)
{
	pe.conf = c;
	pe.apps = apps;
	pe.cb = cb;
	if ((pe.abort_retry_ev = evtimer_new(base, abort_retry_cb, NULL)) ==
	    NULL)
		fatalx("out of memory");
	hostchan_set_opener(host, engine_device, NULL);
	return &ops;
}
