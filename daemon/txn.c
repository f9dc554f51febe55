/*
 * txn.c: the transaction state machine (see txn.h for the contract).
 *
 * Two hazards shape it.  First, Linux does not check which request a
 * reply answers: once the kernel has given up on a request (its timeout,
 * or the device was lost), our answer to it must never be written, and a
 * freeze nobody is waiting for must be undone at once.  That is what
 * owe_reply tracks.  Second, a stage that overruns cannot be stopped
 * mid-syscall (FIFREEZE may sleep for long), so a deadline answers the
 * host at once and leaves TA_FS_CANCEL behind: the freezer undoes
 * everything as soon as the stuck call returns, and until then we are
 * ABORTING and refuse new work.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "txn.h"

/*
 * An application stage's budget comes this much before the machine's
 * deadline on it: when an app is late, apps.c names it before the
 * transaction's generic deadline fires.
 */
#define APPS_GRACE_MS 200

static const char *const state_names[TXN_NSTATES] = {
    [TXN_IDLE] = "idle",
    [TXN_CHECKING] = "checking",
    [TXN_APPS_FREEZING] = "freezing apps",
    [TXN_FS_FREEZING] = "freezing filesystems",
    [TXN_FROZEN] = "frozen",
    [TXN_FS_THAWING] = "thawing filesystems",
    [TXN_APPS_THAWING] = "thawing apps",
    [TXN_ABORTING] = "aborting",
    [TXN_HELD] = "holding apps",
    [TXN_HOOKS_FREEZING] = "running freeze hooks",
    [TXN_HOOKS_THAWING] = "running thaw hooks",
};

static const char *const op_names[TXN_NOPS] = {
    [TXN_OP_CHECK] = "HOT_BACKUP",
    [TXN_OP_FREEZE] = "FREEZE",
    [TXN_OP_THAW] = "THAW",
    [TXN_OP_OTHER] = "UNKNOWN",
    [TXN_OP_HOLD] = "HOLD",
    [TXN_OP_RELEASE] = "RELEASE",
};

const char *
txn_state_name(enum txn_state s)
{
	return s < TXN_NSTATES ? state_names[s] : "?";
}

const char *
txn_op_name(enum txn_op op)
{
	return (unsigned int)op < TXN_NOPS ? op_names[op] : "?";
}

void
txn_set_limits(struct txn *t, const struct txn_limits *limits)
{
	t->conf = *limits;
	if (t->conf.rethaw_ms == 0)
		t->conf.rethaw_ms = TXN_RETHAW_MS;
	if (t->state == TXN_IDLE)
		t->limits = t->conf;
}

void
txn_init(struct txn *t, const struct txn_limits *limits)
{
	memset(t, 0, sizeof(*t));
	t->state = TXN_IDLE;
	txn_set_limits(t, limits);
}

/* v * num / den, at least 1 (a zero deadline would disarm) */
static unsigned int
scale(unsigned int v, unsigned int num, unsigned int den)
{
	uint64_t r = (uint64_t)v * num / (den ? den : 1);

	return r > 0 ? (unsigned int)r : 1;
}

void
txn_budget(struct txn_limits *lim, enum txn_op op, unsigned int budget)
{
	unsigned int sum;

	if (budget == 0)
		return;
	switch (op) {
	case TXN_OP_CHECK:
		if (lim->check_ms > budget)
			lim->check_ms = budget;
		break;
	case TXN_OP_FREEZE:
		/* one stage after the other: the machine keeps no clock,
		 * so each gets its share of the budget whatever the one
		 * before it used */
		sum = lim->app_freeze_ms + lim->hook_ms + lim->fs_freeze_ms;
		if (sum <= budget)
			break;
		lim->app_freeze_ms = scale(lim->app_freeze_ms, budget, sum);
		lim->hook_ms = scale(lim->hook_ms, budget, sum);
		lim->fs_freeze_ms = scale(lim->fs_freeze_ms, budget, sum);
		break;
	case TXN_OP_THAW:
		/* the filesystems' stage, then the applications' */
		if (2 * (uint64_t)lim->thaw_ms > budget)
			lim->thaw_ms = budget / 2 > 0 ? budget / 2 : 1;
		if (lim->hook_ms > lim->thaw_ms)
			lim->hook_ms = lim->thaw_ms;
		break;
	default:
		break;
	}
}

/* The limits of a request that starts stages now: budget_ms is its. */
static void
use_budget(struct txn *t, enum txn_op op, unsigned int budget_ms)
{
	t->limits = t->conf;
	txn_budget(&t->limits, op, budget_ms);
}

bool
txn_idle(const struct txn *t)
{
	return t->state == TXN_IDLE;
}

void
txn_thawed_behind(struct txn *t)
{
	if (t->state == TXN_IDLE)
		t->lease_expired[0] = true;
}

bool
txn_may_be_frozen(const struct txn *t)
{
	if (t->thaw_owed)
		return true;
	switch (t->state) {
	case TXN_FS_FREEZING:
	case TXN_FROZEN:
	case TXN_FS_THAWING:
	case TXN_ABORTING:
		return true;
	default:
		return false;
	}
}

static struct txn_action *
act(struct txn *t, struct txn_actions *out, enum txn_action_kind kind)
{
	struct txn_action *a;

	/* TXN_MAX_ACTIONS bounds the longest path through txn_step() (the
	 * model test checks it): more would be our bug */
	if (out->n == TXN_MAX_ACTIONS)
		abort();
	a = &out->a[out->n++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	a->id = t->id;
	return a;
}

static void __attribute__((format(printf, 4, 5)))
say(struct txn *t, struct txn_actions *out, int prio, const char *fmt, ...)
{
	struct txn_action *a = act(t, out, TA_LOG);
	va_list ap;
	int n;

	a->prio = prio;
	n = snprintf(
	    a->text, sizeof(a->text), "txn %llu: ", (unsigned long long)t->id);
	va_start(ap, fmt);
	vsnprintf(a->text + n, sizeof(a->text) - n, fmt, ap);
	va_end(ap);
}

static void
timer(struct txn *t, struct txn_actions *out, enum txn_action_kind kind,
    unsigned int ms)
{
	act(t, out, kind)->ms = ms;
}

/*
 * hot_backup_veto = ok: the host's HOT_BACKUP is answered S_OK whatever
 * refused it, which stays in the reply's text (the history keeps it as
 * the culprit); the FREEZE that follows meets it again and fails.
 */
static bool
hot_backup_policy(struct txn *t, struct txn_actions *out, bool local,
    enum txn_op op, bool ok, const char *why)
{
	if (local || op != TXN_OP_CHECK || ok || !t->limits.hot_backup_ok)
		return ok;
	say(t, out, LOG_WARNING,
	    "HOT_BACKUP would be refused (%s); answering S_OK (hot_backup_veto = ok): the FREEZE will fail on it instead",
	    why);
	return true;
}

/* Answer the current request, if the kernel still waits for it. */
static void
reply(struct txn *t, struct txn_actions *out, bool ok)
{
	struct txn_action *a;
	bool asked = ok;

	if (!t->owe_reply)
		return;
	t->owe_reply = false;
	ok = hot_backup_policy(
	    t, out, t->local, t->op, ok, t->why[0] ? t->why : "failed");
	if (ok != asked)
		t->vetoed = true; /* t->why keeps the reason */
	a = act(t, out, TA_REPLY);
	a->ok = ok;
	a->local = t->local;
	a->op = t->op;
	if (!asked)
		snprintf(a->text, sizeof(a->text), "%s",
		    t->why[0] ? t->why : "failed");
	say(t, out, ok ? LOG_INFO : LOG_WARNING, "%s%s answered %s",
	    t->local ? "local " : "", txn_op_name(t->op),
	    ok ? "S_OK" : "E_FAIL");
}

/*
 * An immediate answer to a request that starts nothing, logged with its
 * reason (which a refusal's reply carries).  It leaves the current
 * transaction alone: it may belong to the other requester.
 */
static void __attribute__((format(printf, 6, 7)))
answer_now(struct txn *t, struct txn_actions *out, bool local, enum txn_op op,
    bool ok, const char *fmt, ...)
{
	struct txn_action *a;
	char why[TXN_TEXT_MAX];
	bool asked = ok;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	say(t, out, ok ? LOG_INFO : LOG_WARNING, "%s", why);
	ok = hot_backup_policy(t, out, local, op, ok, why);
	a = act(t, out, TA_REPLY);
	a->ok = ok;
	a->local = local;
	a->op = op;
	a->aside = true;
	/* a refusal says why, even one hot_backup_veto turned into S_OK */
	snprintf(a->text, sizeof(a->text), "%s", asked ? "" : why);
	say(t, out, ok ? LOG_INFO : LOG_WARNING, "%s%s answered %s",
	    local ? "local " : "", txn_op_name(op), ok ? "S_OK" : "E_FAIL");
}

static void
set_why(struct txn *t, const char *reason)
{
	snprintf(t->why, sizeof(t->why), "%s",
	    reason != NULL && *reason != '\0' ? reason : "no reason given");
}

static void
stage(struct txn *t, struct txn_actions *out, enum txn_stage s)
{
	act(t, out, TA_STAGE)->stage = s;
}

/* A stage done, for a local requester to show (hv_vss_ctl's "# "). */
static void
progress(struct txn *t, struct txn_actions *out, const char *text)
{
	if (t->local && t->owe_reply)
		snprintf(
		    act(t, out, TA_PROGRESS)->text, TXN_TEXT_MAX, "%s", text);
}

/* An application stage's budget, inside the machine's deadline on it. */
static unsigned int
app_ms(unsigned int stage_ms)
{
	return stage_ms > 2 * APPS_GRACE_MS ? stage_ms - APPS_GRACE_MS
	                                    : stage_ms / 2;
}

static void
lease(struct txn *t, struct txn_actions *out, unsigned int ms,
    enum txn_guard guard, unsigned int guard_ms)
{
	struct txn_action *a = act(t, out, TA_LEASE);

	a->ms = ms;
	a->guard = guard;
	a->guard_ms = guard_ms;
}

/* Undo an application stage: ABORT to the apps, "abort" to the hooks
 * that saw "freeze" (the runner stops those still running first). */
static void
release_apps(struct txn *t, struct txn_actions *out)
{
	act(t, out, TA_APPS_ABORT);
	t->apps_frozen = false;
	if (t->hooks_frozen)
		act(t, out, TA_HOOKS_ABORT)->ms = t->limits.hook_ms;
	t->hooks_frozen = false;
}

/* Ask the applications of tiers from..to (a descending range: thaw) to
 * freeze (TA_APPS_FREEZE) or thaw (TA_APPS_THAW) within ms. */
static void
apps_stage(struct txn *t, struct txn_actions *out, enum txn_action_kind kind,
    unsigned int ms, int from, int to)
{
	struct txn_action *a = act(t, out, kind);

	a->ms = ms;
	a->from = from;
	a->to = to;
}

/* The tiers above the hooks, if hooks_tier leaves any. */
static bool
tiers_after_hooks(const struct txn *t)
{
	return t->limits.hooks_tier < TXN_TIERS;
}

/*
 * FREEZE and HOLD: the tiers below hooks_tier (maybe none: the apps
 * answer at once), then the hooks, then the rest, all under one
 * deadline (txn_limits).
 */
static void
start_apps_freeze(struct txn *t, struct txn_actions *out)
{
	t->state = TXN_APPS_FREEZING;
	t->after_hooks = false;
	t->apps_left_ms = 0;
	timer(t, out, TA_DEADLINE, t->limits.app_freeze_ms + t->limits.hook_ms);
	apps_stage(t, out, TA_APPS_FREEZE, app_ms(t->limits.app_freeze_ms), 0,
	    t->limits.hooks_tier - 1);
}

static void
start_hooks_freeze(struct txn *t, struct txn_actions *out)
{
	t->state = TXN_HOOKS_FREEZING;
	t->hooks_frozen = true; /* a hook killed mid-"freeze" saw it too */
	act(t, out, TA_HOOKS_FREEZE)->ms = t->limits.hook_ms;
}

/*
 * THAW and RELEASE, the mirror: the tiers from hooks_tier up, tier 9
 * first, then the hooks, then the tiers below; the apps' time is shared
 * by the parts there are.
 */
static unsigned int
thaw_part_ms(const struct txn *t)
{
	return app_ms(t->limits.thaw_ms) / (tiers_after_hooks(t) ? 2 : 1);
}

static void
start_hooks_thaw(struct txn *t, struct txn_actions *out)
{
	t->state = TXN_HOOKS_THAWING;
	t->hooks_frozen = false;
	act(t, out, TA_HOOKS_THAW)->ms = t->limits.hook_ms;
}

static void
start_apps_thaw(struct txn *t, struct txn_actions *out)
{
	timer(t, out, TA_DEADLINE, t->limits.thaw_ms);
	t->apps_frozen = false;
	t->after_hooks = false;
	if (!tiers_after_hooks(t)) {
		start_hooks_thaw(t, out);
		return;
	}
	t->state = TXN_APPS_THAWING;
	apps_stage(t, out, TA_APPS_THAW, thaw_part_ms(t), TXN_TIERS - 1,
	    t->limits.hooks_tier);
}

static void
start_thaw(struct txn *t, struct txn_actions *out)
{
	stage(t, out, TXN_STAGE_FROZEN);
	t->state = TXN_FS_THAWING;
	t->result = true;
	/* the guard's clock runs on until the filesystems are thawed */
	lease(t, out, 0, TXN_GUARD_KEEP, 0);
	timer(t, out, TA_DEADLINE, t->limits.thaw_ms);
	act(t, out, TA_FS_THAW);
}

/*
 * The end of a hold: the apps (and hooks) are told THAW; no filesystem
 * was frozen.  ok: what the RELEASE will be answered.
 */
static void
start_release(struct txn *t, struct txn_actions *out, bool ok)
{
	stage(t, out, TXN_STAGE_FROZEN);
	t->result = ok;
	lease(t, out, 0, TXN_GUARD_KEEP, 0);
	start_apps_thaw(t, out);
}

static void idle_request(struct txn *, enum txn_op, bool, unsigned int,
    unsigned int, struct txn_actions *);

/*
 * hot_backup_veto = ok: the HOT_BACKUP before this FREEZE was refused by
 * its check and answered S_OK anyway; the FREEZE fails on that reason,
 * without asking anyone again (an application that vetoed the backup
 * vetoed this FREEZE too).  A transaction of its own, for the history.
 */
static void
vetoed_freeze(struct txn *t, struct txn_actions *out)
{
	char why[TXN_TEXT_MAX];

	snprintf(why, sizeof(why), "%s", t->why);
	t->local = false;
	t->id++;
	t->op = TXN_OP_FREEZE;
	t->owe_reply = true;
	t->why[0] = '\0';
	act(t, out, TA_BEGIN)->op = t->op;
	set_why(t, why);
	say(t, out, LOG_WARNING,
	    "FREEZE failed: %s (refused at HOT_BACKUP, answered S_OK there: hot_backup_veto = ok)",
	    t->why);
	reply(t, out, false);
}

/*
 * A request arrived while the current one is unanswered: the kernel gave
 * up on ours (it serves one at a time).  Void our answer, undo what the
 * stage started, then serve the new request.  A thaw goes on, and so
 * does its deadline: the thaw still has to end.
 */
static void
superseded(
    struct txn *t, enum txn_op op, unsigned int budget, struct txn_actions *out)
{
	const bool local = false; /* only the kernel gives up on requests */

	say(t, out, LOG_WARNING,
	    "%s superseded by %s: the kernel gave up on it; its answer will not be sent",
	    txn_op_name(t->op), txn_op_name(op));
	t->owe_reply = false;
	switch (t->state) {
	case TXN_CHECKING:
		timer(t, out, TA_DEADLINE, 0);
		t->state = TXN_IDLE;
		idle_request(t, op, local, 0, budget, out);
		break;
	case TXN_APPS_FREEZING:
	case TXN_HOOKS_FREEZING:
		timer(t, out, TA_DEADLINE, 0);
		release_apps(t, out);
		t->state = TXN_IDLE;
		idle_request(t, op, local, 0, budget, out);
		break;
	case TXN_FS_FREEZING:
		timer(t, out, TA_DEADLINE, 0);
		act(t, out, TA_FS_CANCEL);
		release_apps(t, out);
		t->state = TXN_ABORTING;
		answer_now(t, out, local, op, false,
		    "%s refused: the superseded freeze is being undone",
		    txn_op_name(op));
		break;
	default:
		answer_now(t, out, local, op, false, "%s refused: busy %s",
		    txn_op_name(op), txn_state_name(t->state));
		break;
	}
}

/* A new transaction serves op from now on. */
static void
begin(struct txn *t, struct txn_actions *out, enum txn_op op, bool local)
{
	struct txn_action *a;

	t->local = local;
	t->id++;
	t->why[0] = '\0'; /* a new transaction's */
	t->op = op;
	t->owe_reply = true;
	a = act(t, out, TA_BEGIN);
	a->op = op;
	a->local = local;
}

/*
 * Idle, with filesystems of ours still frozen after a thaw that failed
 * (it is tried again every rethaw_ms): nothing may freeze or hold again
 * until it succeeds, and a THAW is no news to the host.  True if op was
 * answered here.
 */
static bool
still_frozen(struct txn *t, enum txn_op op, bool local, struct txn_actions *out)
{
	const unsigned int s = (t->limits.rethaw_ms + 999) / 1000;

	switch (op) {
	case TXN_OP_CHECK:
	case TXN_OP_FREEZE:
	case TXN_OP_HOLD:
		/* a refused HOT_BACKUP's FREEZE is refused here too, and
		 * starts no transaction: the retry's result keeps its id */
		if (!local)
			t->vetoed = false;
		answer_now(t, out, local, op, false,
		    "%s%s refused: filesystems a thaw failed on are still frozen (the thaw is tried again every %u s, and the guard thaws them at its lease's end)",
		    local ? "local " : "", txn_op_name(op), s);
		return true;
	case TXN_OP_THAW:
		t->lease_expired[local] = false;
		answer_now(t, out, local, op, false,
		    "THAW failed: filesystems a thaw failed on are still frozen (the thaw is tried again every %u s, and the guard thaws them at its lease's end)",
		    s);
		return true;
	default:
		return false;
	}
}

static void
idle_request(struct txn *t, enum txn_op op, bool local, unsigned int ms,
    unsigned int budget, struct txn_actions *out)
{
	/* the host's request: its stages end within what its kernel
	 * leaves (budget); a local one's within the configured limits */
	use_budget(t, op, local ? 0 : budget);
	if (local && op != TXN_OP_FREEZE && op != TXN_OP_THAW &&
	    op != TXN_OP_HOLD && op != TXN_OP_RELEASE) {
		answer_now(t, out, local, op, false,
		    "local %s refused: only FREEZE, THAW, HOLD and RELEASE are local requests",
		    txn_op_name(op));
		return;
	}
	if (!local && (op == TXN_OP_HOLD || op == TXN_OP_RELEASE))
		op = TXN_OP_OTHER; /* not the host's: an unknown op */
	if (t->thaw_owed && still_frozen(t, op, local, out))
		return;
	if (!local && (op == TXN_OP_CHECK || op == TXN_OP_FREEZE) &&
	    t->vetoed) {
		t->vetoed = false;
		if (op == TXN_OP_FREEZE) {
			vetoed_freeze(t, out);
			return;
		}
	}
	switch (op) {
	case TXN_OP_CHECK:
		begin(t, out, op, local);
		t->state = TXN_CHECKING;
		timer(t, out, TA_DEADLINE, t->limits.check_ms);
		act(t, out, TA_CHECK)->ms = app_ms(t->limits.check_ms);
		break;
	case TXN_OP_HOLD:
	case TXN_OP_FREEZE:
		t->hold = op == TXN_OP_HOLD;
		if (t->hold)
			t->hold_expired = false;
		else
			t->lease_expired[local] = false;
		t->lease_ms = local && ms > 0 ? ms : t->limits.max_frozen_ms;
		begin(t, out, op, local);
		start_apps_freeze(t, out);
		break;
	case TXN_OP_THAW:
		if (t->lease_expired[local]) {
			t->lease_expired[local] = false;
			answer_now(t, out, local, op, false,
			    "THAW after the lease expired: the filesystems were thawed before it, the snapshot may be inconsistent");
		} else
			answer_now(t, out, local, op, true,
			    "THAW with nothing frozen: nothing to do");
		break;
	case TXN_OP_RELEASE:
		if (t->hold_expired) {
			t->hold_expired = false;
			answer_now(t, out, local, op, false,
			    "RELEASE after the hold's lease expired: the applications were released before it, the backup taken meanwhile may be inconsistent");
		} else
			answer_now(t, out, local, op, true,
			    "RELEASE with nothing held: nothing to do");
		break;
	default:
		answer_now(t, out, local, op, false,
		    "unexpected operation (%s)", txn_op_name(op));
		break;
	}
}

static void freeze_failed(struct txn *, struct txn_actions *, const char *);

/*
 * A RELEASE while the hold is still being taken calls it off: the agent
 * gave up on its freeze (its script timed out or was killed) and will not
 * release again, so the hold would otherwise last its whole lease.  The
 * HOLD is answered E_FAIL, the applications and hooks told ABORT, and the
 * RELEASE S_OK: nothing stays held.
 */
static void
call_hold_off(struct txn *t, struct txn_actions *out)
{
	say(t, out, LOG_WARNING,
	    "released while the applications were being held: calling the hold off");
	freeze_failed(t, out,
	    "released before the applications were held: the hold is called off");
	answer_now(t, out, true, TXN_OP_RELEASE, true,
	    "RELEASE of a hold being taken: called off, nothing held");
}

/*
 * The names did not fit: end at the last whole one, not in the middle of
 * a name, and say that more are left out (the count says how many).
 */
static void
cut_names(char *why, size_t len)
{
	static const char more[] = "; and more";
	char *p;

	why[len - sizeof(more)] = '\0';
	if ((p = strrchr(why, ';')) != NULL)
		*p = '\0';
	snprintf(why + strlen(why), len - strlen(why), "%s", more);
}

/*
 * A detached hold's RELEASE.  Applications gone while it held them
 * (closed, dropped) were thawed by their library when their connection
 * failed, and a hold freezes no filesystem under them: the backup taken
 * meanwhile is not consistent for them, and the RELEASE says so
 * (E_FAIL), naming them; the next transaction would say it only after
 * that backup was kept.
 */
static void
release_hold(struct txn *t, struct txn_actions *out, unsigned int ngone,
    const char *gone)
{
	t->op = TXN_OP_RELEASE;
	t->owe_reply = true;
	if (ngone == 0) {
		start_release(t, out, true);
		return;
	}
	if ((size_t)snprintf(t->why, sizeof(t->why),
	        "%u registered app%s gone while held, not part of the backup taken meanwhile: %s",
	        ngone, ngone == 1 ? "" : "s",
	        gone != NULL ? gone : "") >= sizeof(t->why))
		cut_names(t->why, sizeof(t->why));
	say(t, out, LOG_WARNING, "%s", t->why);
	act(t, out, TA_FORGET_GONE);
	start_release(t, out, false);
}

static void
on_request(struct txn *t, const struct txn_event *ev, struct txn_actions *out)
{
	enum txn_op op = ev->op;
	bool local = ev->local;
	unsigned int ms = ev->ms, budget = ev->budget_ms;

	if ((unsigned int)op >= TXN_NOPS)
		op = TXN_OP_OTHER;
	if (t->state == TXN_HELD && !local) {
		/*
		 * Another agent's backup holds the applications: the host's
		 * would freeze them under it, or thaw them before that
		 * agent's snapshot is taken (hv_vss_daemon(8), HOLDS)
		 */
		answer_now(t, out, local, op, false,
		    "%s refused: the applications are held for another backup agent (hv_vss_ctl hold, txn %llu) until its release or its lease",
		    txn_op_name(op), (unsigned long long)t->id);
		return;
	}
	if (t->state != TXN_IDLE && local != t->local) {
		/* host and local requests never interleave */
		answer_now(t, out, local, op, false,
		    "%s%s refused: a %s transaction is in progress (%s)",
		    local ? "local " : "", txn_op_name(op),
		    t->local ? "local" : "host", txn_state_name(t->state));
		return;
	}
	switch (t->state) {
	case TXN_IDLE:
		idle_request(t, op, local, ms, budget, out);
		return;
	case TXN_FROZEN:
		if (op == TXN_OP_THAW) {
			t->op = op;
			t->owe_reply = true;
			use_budget(t, op, local ? 0 : budget);
			start_thaw(t, out);
		} else if (op == TXN_OP_FREEZE && !local)
			answer_now(t, out, local, op, true,
			    "FREEZE while frozen: already frozen, nothing to do");
		else
			answer_now(t, out, local, op, false,
			    "%s refused: frozen, a backup is in progress",
			    txn_op_name(op));
		return;
	case TXN_HELD:
		if (op == TXN_OP_RELEASE)
			release_hold(t, out, ev->ngone, ev->reason);
		else
			answer_now(t, out, local, op, false,
			    "local %s refused: the applications are held (hv_vss_ctl hold); release them first",
			    txn_op_name(op));
		return;
	case TXN_APPS_FREEZING:
	case TXN_HOOKS_FREEZING:
		if (local && t->hold && op == TXN_OP_RELEASE) {
			call_hold_off(t, out);
			return;
		}
		break;
	case TXN_FS_THAWING:
	case TXN_APPS_THAWING:
	case TXN_HOOKS_THAWING:
		if (!t->owe_reply &&
		    op == (t->hold ? TXN_OP_RELEASE : TXN_OP_THAW)) {
			/* the host's THAW for a thaw already under way (the
			 * lease's, or one the kernel gave up on); the stage's
			 * deadline may have passed: it gets one of its own */
			t->op = op;
			t->owe_reply = true;
			use_budget(t, op, local ? 0 : budget);
			timer(t, out, TA_DEADLINE, t->limits.thaw_ms);
			return;
		}
		break;
	default:
		break;
	}
	if (t->owe_reply && !local) {
		superseded(t, op, budget, out);
		return;
	}
	answer_now(t, out, local, op, false, "%s refused: busy %s",
	    txn_op_name(op), txn_state_name(t->state));
}

static void
fail(struct txn *t, struct txn_actions *out, const char *what,
    const char *reason)
{
	set_why(t, reason);
	say(t, out, LOG_WARNING, "%s failed: %s", what, t->why);
	reply(t, out, false);
}

static void
on_deadline(struct txn *t, struct txn_actions *out)
{
	char why[TXN_TEXT_MAX];

	switch (t->state) {
	case TXN_CHECKING:
		stage(t, out, TXN_STAGE_CHECK);
		snprintf(why, sizeof(why), "no answer within %u ms",
		    t->limits.check_ms);
		fail(t, out, "HOT_BACKUP check", why);
		t->state = TXN_IDLE;
		break;
	case TXN_APPS_FREEZING:
	case TXN_HOOKS_FREEZING:
		stage(t, out, TXN_STAGE_APPS);
		release_apps(t, out);
		snprintf(why, sizeof(why),
		    "applications and freeze hooks did not all answer within %u ms",
		    t->limits.app_freeze_ms + t->limits.hook_ms);
		fail(t, out, txn_op_name(t->op), why);
		t->state = TXN_IDLE;
		break;
	case TXN_FS_FREEZING:
		act(t, out, TA_FS_CANCEL);
		release_apps(t, out);
		snprintf(why, sizeof(why),
		    "freezing the filesystems took longer than %u ms; undoing when the stuck call returns",
		    t->limits.fs_freeze_ms);
		fail(t, out, "FREEZE", why);
		t->state = TXN_ABORTING;
		break;
	case TXN_FS_THAWING:
		snprintf(why, sizeof(why),
		    "thawing took longer than %u ms; still trying",
		    t->limits.thaw_ms);
		fail(t, out, "THAW", why);
		break;
	case TXN_APPS_THAWING:
	case TXN_HOOKS_THAWING:
		stage(t, out, TXN_STAGE_THAW);
		say(t, out, LOG_WARNING,
		    "applications did not all confirm THAW within %u ms",
		    t->limits.thaw_ms);
		if (t->state == TXN_HOOKS_THAWING) {
			/* the apps' stage is free: they are not left frozen
			 * for the hooks' sake */
			say(t, out, LOG_WARNING,
			    "its thaw hooks outlasted the transaction; the applications after them are told THAW now");
			apps_stage(t, out, TA_APPS_THAW, thaw_part_ms(t),
			    t->limits.hooks_tier - 1, 0);
		}
		/* the hooks still get their "thaw", whatever the apps do
		 * (the tiers below hooks_tier are then left to their own
		 * timeout: the apps' stage still runs) */
		if (t->hooks_frozen)
			start_hooks_thaw(t, out);
		reply(t, out, t->result);
		t->state = TXN_IDLE;
		break;
	default:
		break;
	}
}

static void
on_lease(struct txn *t, struct txn_actions *out)
{
	if (t->state == TXN_HELD) {
		stage(t, out, TXN_STAGE_LEASE);
		t->hold_expired = true;
		set_why(t,
		    "the hold's lease expired before RELEASE: the applications were released, the backup may be inconsistent");
		say(t, out, LOG_WARNING,
		    "applications held for the hold's lease (%u ms) without a RELEASE: releasing them now; the RELEASE will be answered E_FAIL",
		    t->lease_ms);
		t->owe_reply = false;
		start_release(t, out, false);
		return;
	}
	if (t->state != TXN_FROZEN)
		return;
	stage(t, out, TXN_STAGE_LEASE);
	t->lease_expired[t->local] = true;
	set_why(t,
	    "the lease expired before THAW: the filesystems were thawed, the snapshot may be inconsistent");
	if (t->local)
		say(t, out, LOG_WARNING,
		    "local snapshot frozen for its timeout (%u ms) without a THAW: thawing now",
		    t->lease_ms);
	else
		say(t, out, LOG_WARNING,
		    "frozen for max_frozen (%u ms) without a THAW: thawing now; the next THAW will be answered E_FAIL",
		    t->lease_ms);
	t->owe_reply = false;
	use_budget(t, TXN_OP_THAW, 0); /* nobody waits on this one */
	start_thaw(t, out);
}

/*
 * The host's device, or the local requester, went away: what it is owed
 * is void, and what it started is undone.  Only the party that owns the
 * transaction in progress matters.
 */
static void
on_lost(struct txn *t, bool local, bool rejected, struct txn_actions *out)
{
	if (!local)
		t->vetoed = false; /* a new session: its backups are new */
	if (t->state == TXN_IDLE || t->local != local)
		return;
	if (t->owe_reply)
		say(t, out, LOG_WARNING, "%s lost: %s will not be answered",
		    local ? "local requester" : "device", txn_op_name(t->op));
	t->owe_reply = false;
	switch (t->state) {
	case TXN_CHECKING:
		t->state = TXN_IDLE;
		break;
	case TXN_APPS_FREEZING:
	case TXN_HOOKS_FREEZING:
		timer(t, out, TA_DEADLINE, 0);
		release_apps(t, out);
		t->state = TXN_IDLE;
		break;
	case TXN_FS_FREEZING:
		timer(t, out, TA_DEADLINE, 0);
		act(t, out, TA_FS_CANCEL);
		release_apps(t, out);
		t->state = TXN_ABORTING;
		break;
	case TXN_HELD:
		/* the daemon is stopping: nobody will release them */
		say(t, out, LOG_WARNING,
		    "local requester lost while holding the applications: releasing them");
		start_release(t, out, false);
		break;
	case TXN_FROZEN:
		say(t, out, LOG_WARNING, "%s lost while frozen: thawing",
		    local ? "local requester" : "device");
		/*
		 * The host may take its snapshot after this thaw, so its
		 * THAW (once the device is back) must say E_FAIL, as after
		 * the lease.  Not when the kernel merely rejected our FREEZE
		 * answer: then the host was told E_FAIL already.
		 */
		if (!local && !rejected)
			t->lease_expired[0] = true;
		use_budget(t, TXN_OP_THAW, 0); /* nobody waits on it */
		start_thaw(t, out);
		break;
	default:
		break;
	}
}

/* The applications and hooks hold: the filesystems next, or the hold. */
static void
apps_held(struct txn *t, struct txn_actions *out)
{
	stage(t, out, TXN_STAGE_APPS);
	if (t->hold) {
		/* nothing more: the other agent freezes */
		timer(t, out, TA_DEADLINE, 0);
		t->state = TXN_HELD;
		lease(t, out, t->lease_ms, TXN_GUARD_KEEP, 0);
		reply(t, out, true);
		return;
	}
	t->state = TXN_FS_FREEZING;
	timer(t, out, TA_DEADLINE, t->limits.fs_freeze_ms);
	/* nothing is frozen that the guard does not hold and thaw on its
	 * own if we are stuck past the freeze's deadline plus the lease */
	lease(t, out, 0, TXN_GUARD_ARM, t->limits.fs_freeze_ms + t->lease_ms);
	act(t, out, TA_FS_FREEZE)->local = t->local;
}

/* An application or hook stage of the freeze failed: undo it. */
static void
freeze_failed(struct txn *t, struct txn_actions *out, const char *reason)
{
	stage(t, out, TXN_STAGE_APPS);
	timer(t, out, TA_DEADLINE, 0);
	release_apps(t, out);
	fail(t, out, txn_op_name(t->op), reason);
	t->state = TXN_IDLE;
}

static void
on_apps_frozen(
    struct txn *t, const struct txn_event *ev, struct txn_actions *out)
{
	unsigned int budget = app_ms(t->limits.app_freeze_ms);

	if (t->state != TXN_APPS_FREEZING)
		return;
	if (!ev->ok) {
		freeze_failed(t, out, ev->reason);
		return;
	}
	t->apps_frozen = true;
	if (t->after_hooks) {
		progress(t, out, "applications from hooks_tier up frozen");
		apps_held(t, out);
		return;
	}
	/* the tiers after the hooks get what is left of the apps' time */
	t->apps_left_ms = budget > ev->ms ? budget - ev->ms : 1;
	progress(t, out,
	    tiers_after_hooks(t) ? "applications below hooks_tier frozen"
	                         : "applications frozen");
	start_hooks_freeze(t, out);
}

static void
on_hooks_frozen(
    struct txn *t, const struct txn_event *ev, struct txn_actions *out)
{
	if (t->state != TXN_HOOKS_FREEZING)
		return;
	if (!ev->ok) {
		freeze_failed(t, out, ev->reason);
		return;
	}
	progress(t, out, "freeze hooks done");
	if (!tiers_after_hooks(t)) {
		apps_held(t, out);
		return;
	}
	t->state = TXN_APPS_FREEZING;
	t->after_hooks = true;
	apps_stage(t, out, TA_APPS_FREEZE, t->apps_left_ms,
	    t->limits.hooks_tier, TXN_TIERS - 1);
}

/*
 * A freeze that failed, or was cancelled, came back undone (say: what
 * to log then): nothing of it stays frozen and the guard is disarmed;
 * unless its undo failed too: then, as after a failed thaw, what is
 * left stays the guard's and is tried again once idle (txn_step()).
 */
static void
undone(struct txn *t, const struct txn_event *ev, struct txn_actions *out,
    const char *said)
{
	if (!ev->left_frozen) {
		if (said != NULL)
			say(t, out, LOG_INFO, "%s", said);
		lease(t, out, 0, TXN_GUARD_DISARM, 0);
		return;
	}
	t->thaw_owed = true;
	say(t, out, LOG_WARNING,
	    "the freeze could not all be undone: what is left stays frozen, the thaw guard's, and its thaw is tried again every %u s",
	    (t->limits.rethaw_ms + 999) / 1000);
}

static void
on_fs_frozen(struct txn *t, const struct txn_event *ev, struct txn_actions *out)
{
	if (t->state == TXN_ABORTING) {
		/* the cancelled freeze came back, undone */
		stage(t, out, TXN_STAGE_FS);
		undone(t, ev, out, "cancelled freeze undone");
		t->state = TXN_IDLE;
		return;
	}
	if (t->state != TXN_FS_FREEZING)
		return;
	stage(t, out, TXN_STAGE_FS);
	timer(t, out, TA_DEADLINE, 0);
	if (!ev->ok) {
		undone(t, ev, out, NULL);
		release_apps(t, out);
		fail(t, out, "FREEZE", ev->reason);
		t->state = TXN_IDLE;
		return;
	}
	t->state = TXN_FROZEN;
	progress(t, out, "filesystems frozen");
	lease(t, out, t->lease_ms, TXN_GUARD_ARM, t->lease_ms);
	reply(t, out, true);
}

/* The thaw a failed one left owed, tried again (on_rethaw_due()). */
static void
on_rethawed(struct txn *t, const struct txn_event *ev, struct txn_actions *out)
{
	t->rethawing = false;
	if (!ev->ok) {
		/* once: the next tries go on quietly */
		if (!t->rethaw_said)
			say(t, out, LOG_WARNING,
			    "the thaw tried again failed too: %s; trying again every %u s until it works",
			    ev->reason != NULL ? ev->reason : "failed",
			    (t->limits.rethaw_ms + 999) / 1000);
		t->rethaw_said = true;
		return; /* txn_step() sets the timer again */
	}
	t->thaw_owed = false;
	t->rethaw_said = false;
	say(t, out, LOG_INFO,
	    "the thaw that failed was tried again and succeeded: nothing of ours is frozen");
	lease(t, out, 0, TXN_GUARD_DISARM, 0);
}

static void
on_fs_thawed(struct txn *t, const struct txn_event *ev, struct txn_actions *out)
{
	if (t->state == TXN_IDLE && t->rethawing) {
		on_rethawed(t, ev, out);
		return;
	}
	if (t->state != TXN_FS_THAWING)
		return;
	if (!ev->ok) {
		/* the guard keeps what could not be thawed, on its clock;
		 * it is tried again once idle (txn_step()) */
		t->thaw_owed = true;
		t->result = false;
		set_why(t, ev->reason);
		say(t, out, LOG_WARNING, "THAW failed: %s", t->why);
	} else
		lease(t, out, 0, TXN_GUARD_DISARM, 0);
	if (t->lease_expired[t->local])
		t->result = false;
	start_apps_thaw(t, out);
}

static void
thaw_done(struct txn *t, struct txn_actions *out)
{
	stage(t, out, TXN_STAGE_THAW);
	timer(t, out, TA_DEADLINE, 0);
	if (t->owe_reply && t->hold && t->hold_expired) {
		/* the RELEASE arrived during the lease's release */
		t->hold_expired = false;
		say(t, out, LOG_WARNING,
		    "RELEASE after the hold's lease expired: the backup may be inconsistent");
	} else if (t->owe_reply && !t->hold && t->lease_expired[t->local]) {
		/* the host's THAW arrived during the lease's thaw */
		t->lease_expired[t->local] = false;
		say(t, out, LOG_WARNING,
		    "THAW after the lease expired: the snapshot may be inconsistent");
	}
	reply(t, out, t->result);
	t->state = TXN_IDLE;
}

static void
on_apps_thawed(struct txn *t, struct txn_actions *out)
{
	if (t->state != TXN_APPS_THAWING)
		return;
	if (!t->after_hooks) {
		/* the tiers from hooks_tier up resumed: the hooks next */
		start_hooks_thaw(t, out);
		return;
	}
	thaw_done(t, out);
}

static void
on_hooks_thawed(
    struct txn *t, const struct txn_event *ev, struct txn_actions *out)
{
	if (t->state != TXN_HOOKS_THAWING)
		return;
	if (!ev->ok)
		say(t, out, LOG_WARNING, "hooks thaw: %s",
		    ev->reason != NULL ? ev->reason : "failed");
	/* then the tiers below hooks_tier, tier hooks_tier-1 first */
	t->state = TXN_APPS_THAWING;
	t->after_hooks = true;
	apps_stage(
	    t, out, TA_APPS_THAW, thaw_part_ms(t), t->limits.hooks_tier - 1, 0);
}

static void
step(struct txn *t, const struct txn_event *ev, struct txn_actions *out);

/* Idle, and the time came to try the failed thaw again. */
static void
on_rethaw_due(struct txn *t, struct txn_actions *out)
{
	if (!t->rethaw_armed)
		return;
	t->rethaw_armed = false;
	if (t->state != TXN_IDLE || !t->thaw_owed || t->rethawing)
		return;
	t->rethawing = true;
	act(t, out, TA_FS_THAW);
}

void
txn_step(struct txn *t, const struct txn_event *ev, struct txn_actions *out)
{
	enum txn_state before = t->state;
	uint64_t id = t->id;

	out->n = 0;
	step(t, ev, out);
	/* the transaction is over (a request that superseded it may have
	 * begun the next: that one is not) */
	if (before != TXN_IDLE && t->state == TXN_IDLE && t->id == id)
		stage(t, out, TXN_STAGE_END);
	/* what a failed thaw left frozen is tried again while idle (a
	 * timer set under an older id fires stale) */
	if (t->id != id)
		t->rethaw_armed = false;
	if (t->state == TXN_IDLE && t->thaw_owed && !t->rethawing &&
	    !t->rethaw_armed) {
		t->rethaw_armed = true;
		timer(t, out, TA_RETHAW_TIMER, t->limits.rethaw_ms);
	}
}

static void
step(struct txn *t, const struct txn_event *ev, struct txn_actions *out)
{
	switch (ev->kind) {
	case TE_HOST_REQUEST:
		on_request(t, ev, out);
		return;
	case TE_HOST_LOST:
	case TE_LOCAL_LOST:
		on_lost(t, ev->kind == TE_LOCAL_LOST, ev->ok, out);
		return;
	default:
		break;
	}
	if (ev->id != t->id)
		return; /* stale: from a transaction already over */

	switch (ev->kind) {
	case TE_CHECK_DONE:
		if (t->state != TXN_CHECKING)
			return;
		stage(t, out, TXN_STAGE_CHECK);
		timer(t, out, TA_DEADLINE, 0);
		if (ev->ok)
			reply(t, out, true);
		else
			fail(t, out, "HOT_BACKUP check", ev->reason);
		t->state = TXN_IDLE;
		return;
	case TE_APPS_FROZEN:
		on_apps_frozen(t, ev, out);
		return;
	case TE_HOOKS_FROZEN:
		on_hooks_frozen(t, ev, out);
		return;
	case TE_FS_FROZEN:
		on_fs_frozen(t, ev, out);
		return;
	case TE_FS_THAWED:
		on_fs_thawed(t, ev, out);
		return;
	case TE_APPS_THAWED:
		on_apps_thawed(t, out);
		return;
	case TE_HOOKS_THAWED:
		on_hooks_thawed(t, ev, out);
		return;
	case TE_DEADLINE:
		on_deadline(t, out);
		return;
	case TE_LEASE_EXPIRED:
		on_lease(t, out);
		return;
	case TE_RETHAW_DUE:
		on_rethaw_due(t, out);
		return;
	default:
		return;
	}
}
