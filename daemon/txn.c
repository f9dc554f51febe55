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

#include "hv_msg.h"
#include "txn.h"

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
};

const char *
txn_state_name(enum txn_state s)
{
	return s < TXN_NSTATES ? state_names[s] : "?";
}

const char *
txn_op_name(unsigned int op)
{
	switch (op) {
	case TXN_OP_HOLD:
		return "HOLD";
	case TXN_OP_RELEASE:
		return "RELEASE";
	default:
		return hv_op_name(op);
	}
}

void
txn_init(struct txn *t, const struct txn_limits *limits)
{
	memset(t, 0, sizeof(*t));
	t->state = TXN_IDLE;
	t->limits = *limits;
}

bool
txn_may_be_frozen(const struct txn *t)
{
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
static uint32_t
hot_backup_policy(struct txn *t, struct txn_actions *out, bool local,
    uint8_t op, uint32_t hresult, const char *why)
{
	if (local || op != HV_OP_HOT_BACKUP || hresult == HV_S_OK ||
	    !t->limits.hot_backup_ok)
		return hresult;
	say(t, out, LOG_WARNING,
	    "HOT_BACKUP would be refused (%s); answering S_OK (hot_backup_veto = ok): the FREEZE will fail on it instead",
	    why);
	return HV_S_OK;
}

/* Answer the current request, if the kernel still waits for it. */
static void
reply(struct txn *t, struct txn_actions *out, uint32_t hresult)
{
	struct txn_action *a;
	uint32_t asked = hresult;

	if (!t->owe_reply)
		return;
	t->owe_reply = false;
	hresult = hot_backup_policy(
	    t, out, t->local, t->op, hresult, t->why[0] ? t->why : "failed");
	if (hresult != asked)
		t->vetoed = true; /* t->why keeps the reason */
	a = act(t, out, TA_REPLY);
	a->hresult = hresult;
	a->local = t->local;
	if (asked != HV_S_OK)
		snprintf(a->text, sizeof(a->text), "%s",
		    t->why[0] ? t->why : "failed");
	say(t, out, hresult == HV_S_OK ? LOG_INFO : LOG_WARNING,
	    "%s%s answered %s", t->local ? "local " : "", txn_op_name(t->op),
	    hresult == HV_S_OK ? "S_OK" : "E_FAIL");
}

/*
 * An immediate answer to a request that starts nothing.  It leaves the
 * current transaction alone: it may belong to the other requester.
 */
static void
answer_now(struct txn *t, struct txn_actions *out, bool local, uint8_t op,
    uint32_t hresult)
{
	struct txn_action *a;
	char text[TXN_TEXT_MAX] = "";
	const char *why;

	/* the reason is what the caller just logged (every caller does),
	 * without its "txn N: " */
	if (hresult != HV_S_OK && out->n >= 1 &&
	    out->a[out->n - 1].kind == TA_LOG) {
		why = strstr(out->a[out->n - 1].text, ": ");
		snprintf(text, sizeof(text), "%s",
		    why != NULL ? why + 2 : out->a[out->n - 1].text);
	}
	hresult = hot_backup_policy(t, out, local, op, hresult, text);
	a = act(t, out, TA_REPLY);
	a->hresult = hresult;
	a->local = local;
	snprintf(a->text, sizeof(a->text), "%s", text);
	say(t, out, hresult == HV_S_OK ? LOG_INFO : LOG_WARNING,
	    "%s%s answered %s", local ? "local " : "", txn_op_name(op),
	    hresult == HV_S_OK ? "S_OK" : "E_FAIL");
}

static void
set_why(struct txn *t, const char *reason)
{
	snprintf(t->why, sizeof(t->why), "%s",
	    reason != NULL && *reason != '\0' ? reason : "no reason given");
}

static void
release_apps(struct txn *t, struct txn_actions *out)
{
	act(t, out, TA_APPS_ABORT);
	t->apps_frozen = false;
}

static void
start_thaw(struct txn *t, struct txn_actions *out)
{
	t->state = TXN_FS_THAWING;
	t->result = HV_S_OK;
	timer(t, out, TA_LEASE, 0);
	timer(t, out, TA_DEADLINE, t->limits.thaw_ms);
	act(t, out, TA_FS_THAW);
}

/*
 * The end of a hold: the apps (and hooks) are told THAW; no filesystem
 * was frozen.  result: what the RELEASE will be answered.
 */
static void
start_release(struct txn *t, struct txn_actions *out, uint32_t result)
{
	t->state = TXN_APPS_THAWING;
	t->result = result;
	timer(t, out, TA_LEASE, 0);
	timer(t, out, TA_DEADLINE, t->limits.thaw_ms);
	act(t, out, TA_APPS_THAW)->ms = t->limits.thaw_ms;
	t->apps_frozen = false;
}

static void
idle_request(struct txn *, uint8_t, bool, unsigned int, struct txn_actions *);

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
	t->op = HV_OP_FREEZE;
	t->owe_reply = true;
	t->why[0] = '\0';
	set_why(t, why);
	say(t, out, LOG_WARNING,
	    "FREEZE failed: %s (refused at HOT_BACKUP, answered S_OK there: hot_backup_veto = ok)",
	    t->why);
	reply(t, out, HV_E_FAIL);
}

/*
 * A request arrived while the current one is unanswered: the kernel gave
 * up on ours (it serves one at a time).  Void our answer, undo what the
 * stage started, then serve the new request.  A thaw goes on, and so
 * does its deadline: the thaw still has to end.
 */
static void
superseded(struct txn *t, uint8_t op, struct txn_actions *out)
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
		idle_request(t, op, local, 0, out);
		break;
	case TXN_APPS_FREEZING:
		timer(t, out, TA_DEADLINE, 0);
		release_apps(t, out);
		t->state = TXN_IDLE;
		idle_request(t, op, local, 0, out);
		break;
	case TXN_FS_FREEZING:
		timer(t, out, TA_DEADLINE, 0);
		act(t, out, TA_FS_CANCEL);
		release_apps(t, out);
		t->state = TXN_ABORTING;
		say(t, out, LOG_WARNING,
		    "%s refused: the superseded freeze is being undone",
		    txn_op_name(op));
		answer_now(t, out, local, op, HV_E_FAIL);
		break;
	default:
		say(t, out, LOG_WARNING, "%s refused: busy %s", txn_op_name(op),
		    txn_state_name(t->state));
		answer_now(t, out, local, op, HV_E_FAIL);
		break;
	}
}

static void
idle_request(struct txn *t, uint8_t op, bool local, unsigned int ms,
    struct txn_actions *out)
{
	if (local && op != HV_OP_FREEZE && op != HV_OP_THAW &&
	    op != TXN_OP_HOLD && op != TXN_OP_RELEASE) {
		say(t, out, LOG_WARNING,
		    "local %s refused: only FREEZE, THAW, HOLD and RELEASE are local requests",
		    txn_op_name(op));
		answer_now(t, out, local, op, HV_E_FAIL);
		return;
	}
	if (!local && (op == TXN_OP_HOLD || op == TXN_OP_RELEASE))
		op = HV_OP_COUNT; /* not the host's: an unknown op */
	if (!local && (op == HV_OP_HOT_BACKUP || op == HV_OP_FREEZE) &&
	    t->vetoed) {
		t->vetoed = false;
		if (op == HV_OP_FREEZE) {
			vetoed_freeze(t, out);
			return;
		}
	}
	switch (op) {
	case HV_OP_HOT_BACKUP:
		t->local = local;
		t->id++;
		t->why[0] = '\0'; /* a new transaction's */
		t->op = op;
		t->owe_reply = true;
		t->state = TXN_CHECKING;
		timer(t, out, TA_DEADLINE, t->limits.check_ms);
		act(t, out, TA_CHECK);
		break;
	case TXN_OP_HOLD:
	case HV_OP_FREEZE:
		t->local = local;
		t->hold = op == TXN_OP_HOLD;
		if (t->hold)
			t->hold_expired = false;
		t->lease_ms = local && ms > 0 ? ms : t->limits.max_frozen_ms;
		t->id++;
		t->why[0] = '\0'; /* a new transaction's */
		t->op = op;
		t->owe_reply = true;
		if (!t->hold)
			t->lease_expired[local] = false;
		t->state = TXN_APPS_FREEZING;
		timer(t, out, TA_DEADLINE, t->limits.app_freeze_ms);
		act(t, out, TA_APPS_FREEZE)->ms = t->limits.app_freeze_ms;
		break;
	case HV_OP_THAW:
		if (t->lease_expired[local]) {
			t->lease_expired[local] = false;
			say(t, out, LOG_WARNING,
			    "THAW after the lease expired: the filesystems were thawed before it, the snapshot may be inconsistent");
			answer_now(t, out, local, op, HV_E_FAIL);
		} else {
			say(t, out, LOG_INFO,
			    "THAW with nothing frozen: nothing to do");
			answer_now(t, out, local, op, HV_S_OK);
		}
		break;
	case TXN_OP_RELEASE:
		if (t->hold_expired) {
			t->hold_expired = false;
			say(t, out, LOG_WARNING,
			    "RELEASE after the hold's lease expired: the applications were released before it, the backup taken meanwhile may be inconsistent");
			answer_now(t, out, local, op, HV_E_FAIL);
		} else {
			say(t, out, LOG_INFO,
			    "RELEASE with nothing held: nothing to do");
			answer_now(t, out, local, op, HV_S_OK);
		}
		break;
	default:
		say(t, out, LOG_WARNING, "unexpected operation %u (%s)", op,
		    txn_op_name(op));
		answer_now(t, out, local, op, HV_E_FAIL);
		break;
	}
}

static void
on_request(struct txn *t, uint8_t op, bool local, unsigned int ms,
    struct txn_actions *out)
{
	if (t->state == TXN_HELD && !local) {
		/*
		 * Another agent's backup holds the applications: the host's
		 * would freeze them under it, or thaw them before that
		 * agent's snapshot is taken (hv_vss_daemon(8), HOLDS)
		 */
		say(t, out, LOG_WARNING,
		    "%s refused: the applications are held for another backup agent (hv_vss_ctl hold, txn %llu) until its release or its lease",
		    txn_op_name(op), (unsigned long long)t->id);
		answer_now(t, out, local, op, HV_E_FAIL);
		return;
	}
	if (t->state != TXN_IDLE && local != t->local) {
		/* host and local requests never interleave */
		say(t, out, LOG_WARNING,
		    "%s%s refused: a %s transaction is in progress (%s)",
		    local ? "local " : "", txn_op_name(op),
		    t->local ? "local" : "host", txn_state_name(t->state));
		answer_now(t, out, local, op, HV_E_FAIL);
		return;
	}
	switch (t->state) {
	case TXN_IDLE:
		idle_request(t, op, local, ms, out);
		return;
	case TXN_FROZEN:
		if (op == HV_OP_THAW) {
			t->op = op;
			t->owe_reply = true;
			start_thaw(t, out);
		} else if (op == HV_OP_FREEZE && !local) {
			say(t, out, LOG_INFO,
			    "FREEZE while frozen: already frozen, nothing to do");
			answer_now(t, out, local, op, HV_S_OK);
		} else {
			say(t, out, LOG_WARNING,
			    "%s refused: frozen, a backup is in progress",
			    txn_op_name(op));
			answer_now(t, out, local, op, HV_E_FAIL);
		}
		return;
	case TXN_HELD:
		if (op == TXN_OP_RELEASE) {
			t->op = op;
			t->owe_reply = true;
			start_release(t, out, HV_S_OK);
		} else {
			say(t, out, LOG_WARNING,
			    "local %s refused: the applications are held (hv_vss_ctl hold); release them first",
			    txn_op_name(op));
			answer_now(t, out, local, op, HV_E_FAIL);
		}
		return;
	case TXN_FS_THAWING:
	case TXN_APPS_THAWING:
		if (!t->owe_reply &&
		    op == (t->hold ? TXN_OP_RELEASE : HV_OP_THAW)) {
			/* the host's THAW for a thaw already under way (the
			 * lease's, or one the kernel gave up on); the stage's
			 * deadline may have passed: it gets one of its own */
			t->op = op;
			t->owe_reply = true;
			timer(t, out, TA_DEADLINE, t->limits.thaw_ms);
			return;
		}
		break;
	case TXN_ABORTING:
		break;
	default:
		break;
	}
	if (t->owe_reply && !local) {
		superseded(t, op, out);
		return;
	}
	say(t, out, LOG_WARNING, "%s refused: busy %s", txn_op_name(op),
	    txn_state_name(t->state));
	answer_now(t, out, local, op, HV_E_FAIL);
}

static void
fail(struct txn *t, struct txn_actions *out, const char *what,
    const char *reason)
{
	set_why(t, reason);
	say(t, out, LOG_WARNING, "%s failed: %s", what, t->why);
	reply(t, out, HV_E_FAIL);
}

static void
on_deadline(struct txn *t, struct txn_actions *out)
{
	char why[TXN_TEXT_MAX];

	switch (t->state) {
	case TXN_CHECKING:
		snprintf(why, sizeof(why), "no answer within %u ms",
		    t->limits.check_ms);
		fail(t, out, "HOT_BACKUP check", why);
		t->state = TXN_IDLE;
		break;
	case TXN_APPS_FREEZING:
		release_apps(t, out);
		snprintf(why, sizeof(why),
		    "applications and freeze hooks did not all answer within %u ms",
		    t->limits.app_freeze_ms);
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
		say(t, out, LOG_WARNING,
		    "applications did not all confirm THAW within %u ms",
		    t->limits.thaw_ms);
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
		t->hold_expired = true;
		set_why(t,
		    "the hold's lease expired before RELEASE: the applications were released, the backup may be inconsistent");
		say(t, out, LOG_WARNING,
		    "applications held for the hold's lease (%u ms) without a RELEASE: releasing them now; the RELEASE will be answered E_FAIL",
		    t->lease_ms);
		t->owe_reply = false;
		start_release(t, out, HV_E_FAIL);
		return;
	}
	if (t->state != TXN_FROZEN)
		return;
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
		start_release(t, out, HV_E_FAIL);
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
		start_thaw(t, out);
		break;
	default:
		break;
	}
}

void
txn_step(struct txn *t, const struct txn_event *ev, struct txn_actions *out)
{
	out->n = 0;
	switch (ev->kind) {
	case TE_HOST_REQUEST:
		on_request(t, ev->op, ev->local, ev->ms, out);
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
		timer(t, out, TA_DEADLINE, 0);
		if (ev->ok)
			reply(t, out, HV_S_OK);
		else
			fail(t, out, "HOT_BACKUP check", ev->reason);
		t->state = TXN_IDLE;
		return;
	case TE_APPS_FROZEN:
		if (t->state != TXN_APPS_FREEZING)
			return;
		if (!ev->ok) {
			timer(t, out, TA_DEADLINE, 0);
			release_apps(t, out);
			fail(t, out, txn_op_name(t->op), ev->reason);
			t->state = TXN_IDLE;
			return;
		}
		t->apps_frozen = true;
		if (t->hold) {
			/* nothing more: the other agent freezes */
			timer(t, out, TA_DEADLINE, 0);
			t->state = TXN_HELD;
			timer(t, out, TA_LEASE, t->lease_ms);
			reply(t, out, HV_S_OK);
			return;
		}
		t->state = TXN_FS_FREEZING;
		timer(t, out, TA_DEADLINE, t->limits.fs_freeze_ms);
		act(t, out, TA_FS_FREEZE);
		return;
	case TE_FS_FROZEN:
		if (t->state == TXN_ABORTING) {
			/* the cancelled freeze came back, undone */
			say(t, out, LOG_INFO, "cancelled freeze undone");
			t->state = TXN_IDLE;
			return;
		}
		if (t->state != TXN_FS_FREEZING)
			return;
		timer(t, out, TA_DEADLINE, 0);
		if (!ev->ok) {
			release_apps(t, out);
			fail(t, out, "FREEZE", ev->reason);
			t->state = TXN_IDLE;
			return;
		}
		t->state = TXN_FROZEN;
		timer(t, out, TA_LEASE, t->lease_ms);
		reply(t, out, HV_S_OK);
		return;
	case TE_FS_THAWED:
		if (t->state != TXN_FS_THAWING)
			return;
		if (!ev->ok) {
			t->result = HV_E_FAIL;
			set_why(t, ev->reason);
			say(t, out, LOG_WARNING, "THAW failed: %s", t->why);
		}
		if (t->lease_expired[t->local])
			t->result = HV_E_FAIL;
		t->state = TXN_APPS_THAWING;
		timer(t, out, TA_DEADLINE, t->limits.thaw_ms);
		act(t, out, TA_APPS_THAW)->ms = t->limits.thaw_ms;
		t->apps_frozen = false;
		return;
	case TE_APPS_THAWED:
		if (t->state != TXN_APPS_THAWING)
			return;
		timer(t, out, TA_DEADLINE, 0);
		if (t->owe_reply && t->hold && t->hold_expired) {
			/* the RELEASE arrived during the lease's release */
			t->hold_expired = false;
			say(t, out, LOG_WARNING,
			    "RELEASE after the hold's lease expired: the backup may be inconsistent");
		} else if (t->owe_reply && !t->hold &&
		    t->lease_expired[t->local]) {
			/* the host's THAW arrived during the lease's thaw */
			t->lease_expired[t->local] = false;
			say(t, out, LOG_WARNING,
			    "THAW after the lease expired: the snapshot may be inconsistent");
		}
		reply(t, out, t->result);
		t->state = TXN_IDLE;
		return;
	case TE_DEADLINE:
		on_deadline(t, out);
		return;
	case TE_LEASE_EXPIRED:
		on_lease(t, out);
		return;
	default:
		return;
	}
}
