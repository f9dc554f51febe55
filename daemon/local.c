/*
 * local.c: hv_vss_ctl's requests that go through the machine (see
 * local.h): who asked, what it is owed, and the answers on its
 * connection.
 */
#include <sys/types.h>

#include <stdio.h>
#include <string.h>

#include "apps.h"
#include "ctl.h"
#include "history.h"
#include "holds.h"
#include "local.h"
#include "log.h"

static struct {
	const struct txn *txn;
	struct apps *apps;
	local_feed_fn feed;
	struct ctl_conn *local_conn; /* awaits the local reply */
	struct ctl_conn *hold_conn; /* holds a local freeze */
	/* a release-apps that came while another request was owed: the
	 * machine answers it (it may call a hold being taken off) */
	struct ctl_conn *release_conn;
	uint64_t hold_txid; /* ... of this transaction */
	uint64_t local_txid; /* the transaction local_conn awaits */
	bool local_hold; /* the local FREEZE is a hold */
	struct holder holder; /* of the last detached hold (holds.h) */
} l;

void
local_init(const struct txn *t, struct apps *apps, local_feed_fn feed)
{
	memset(&l, 0, sizeof(l));
	l.txn = t;
	l.apps = apps;
	l.feed = feed;
}

/* A local request to the machine (its actions are carried out by the
 * time this returns). */
static void
request(enum txn_op op, unsigned int ms)
{
	struct txn_event ev = {
	    .kind = TE_HOST_REQUEST, .op = op, .local = true, .ms = ms};

	l.feed(&ev);
}

/* c asks the machine (ev, a local request), and awaits its answer. */
static void
ask_event(struct ctl_conn *c, const struct txn_event *ev)
{
	l.local_conn = c;
	l.feed(ev);
	if (l.local_conn == c)
		l.local_txid = l.txn->id;
}

static void
ask(struct ctl_conn *c, enum txn_op op, unsigned int ms)
{
	struct txn_event ev = {
	    .kind = TE_HOST_REQUEST, .op = op, .local = true, .ms = ms};

	ask_event(c, &ev);
}

/* The local requester is gone, or gave up. */
static void
lost(const char *why)
{
	struct txn_event ev = {.kind = TE_LOCAL_LOST, .reason = why};

	l.feed(&ev);
}

/*
 * A detached hold is in place: its holder's times, and "HELD <txid>
 * <since> <until>" (epoch seconds) to the asker, who may go now.
 */
static void
held_reply(struct ctl_conn *c, uint64_t id)
{
	char text[512];

	holder_held(&l.holder);
	holder_text(&l.holder, text, sizeof(text));
	log_info("hold: %s", text);
	ctl_line(c, "HELD %llu %lld %lld", (unsigned long long)id,
	    (long long)l.holder.since.tv_sec, (long long)l.holder.until.tv_sec);
}

void
local_reply(const struct txn_action *a)
{
	struct ctl_conn *c = l.local_conn;
	uint64_t id = a->id;
	bool ok = a->ok;
	const char *why = a->text;

	if (l.release_conn != NULL && a->op == TXN_OP_RELEASE && a->aside) {
		/* the answer at once to the release-apps being passed on */
		c = l.release_conn;
		l.release_conn = NULL;
		ctl_done(c, ok, ok ? NULL : why[0] ? why : "refused");
		return;
	}
	l.local_conn = NULL;
	if (c == NULL)
		return;
	if (ok && l.local_hold && l.txn->state == TXN_FROZEN) {
		l.local_hold = false;
		l.hold_conn = c;
		l.hold_txid = id;
		ctl_frozen(c, id);
		return;
	}
	if (ok && l.txn->state == TXN_HELD && id == l.holder.txid)
		held_reply(c, id);
	ctl_done(c, ok, ok ? NULL : why[0] ? why : "refused");
}

void
local_freeze(struct ctl_conn *c, unsigned int ms, bool hold, void *arg)
{
	if (l.local_conn != NULL || l.hold_conn != NULL) {
		ctl_done(c, false, "another local request is in progress");
		return;
	}
	l.local_hold = hold;
	ask(c, TXN_OP_FREEZE, ms);
}

/* hv_vss_ctl hold: the apps and hooks alone, detached (holds.h). */
void
local_hold_apps(
    struct ctl_conn *c, unsigned int ms, const char *label, void *arg)
{
	struct holder prev;
	uid_t uid;
	pid_t pid;

	if (l.local_conn != NULL || l.hold_conn != NULL) {
		ctl_done(c, false, "another local request is in progress");
		return;
	}
	ctl_peer(c, &uid, &pid);
	/* a hold refused leaves the one in place its holder */
	prev = l.holder;
	holder_ask(&l.holder, uid, pid, label, ms);
	l.local_hold = false;
	ask(c, TXN_OP_HOLD, ms);
	if (l.holder.txid == 0) /* no transaction of its own was begun */
		l.holder = prev;
}

void
local_release_apps(struct ctl_conn *c, void *arg)
{
	char gone[APPS_REASON_MAX];
	struct txn_event ev = {.kind = TE_HOST_REQUEST,
	    .op = TXN_OP_RELEASE,
	    .local = true,
	    .reason = gone};

	/*
	 * Another request is owed (a hold being taken, say): the release
	 * still goes to the machine, which decides (a hold being taken is
	 * called off; anything else refuses it) and answers it at once.
	 */
	if (l.local_conn != NULL) {
		if (l.release_conn != NULL) {
			ctl_done(
			    c, false, "another local request is in progress");
			return;
		}
		/* local_conn is owed: the machine answers it at once */
		l.release_conn = c;
		request(TXN_OP_RELEASE, 0);
		if (l.release_conn == c) {
			l.release_conn = NULL;
			ctl_done(
			    c, false, "another local request is in progress");
		}
		return;
	}
	/* the apps gone since the hold began: the machine judges */
	ev.ngone = (unsigned int)apps_news_peek(l.apps, gone, sizeof(gone));
	ask_event(c, &ev);
}

void
local_thaw(struct ctl_conn *c, void *arg)
{
	if (l.local_conn != NULL) {
		ctl_done(c, false, "another local request is in progress");
		return;
	}
	/* a held snapshot ends when its holder says so, not before */
	if (l.hold_conn != NULL) {
		ctl_done(c, false,
		    "a snapshot held by another hv_vss_ctl is in progress; it thaws when that one ends");
		return;
	}
	ask(c, TXN_OP_THAW, 0);
}

/* True while the hold's own transaction is still frozen. */
static bool
hold_live(void)
{
	return l.txn->local && l.txn->id == l.hold_txid &&
	    l.txn->state == TXN_FROZEN;
}

void
local_release(struct ctl_conn *c, void *arg)
{
	if (c != l.hold_conn)
		return;
	l.hold_conn = NULL;
	if (!hold_live()) {
		ctl_done(c, false,
		    "the snapshot was thawed before the release: its timeout passed, or the daemon is stopping");
		return;
	}
	ask(c, TXN_OP_THAW, 0);
}

/*
 * A client went away: its hold is over, a request it awaited is undone;
 * but only if the transaction is still that client's own.
 */
void
local_gone(struct ctl_conn *c, void *arg)
{
	bool mine;

	if (c == l.hold_conn) {
		l.hold_conn = NULL;
		mine = hold_live();
	} else if (c == l.local_conn) {
		l.local_conn = NULL;
		mine = l.txn->local && l.txn->id == l.local_txid &&
		    l.txn->state != TXN_IDLE;
	} else
		return;
	if (!mine)
		return;
	log_warnx("hv_vss_ctl went away: undoing its snapshot");
	lost("hv_vss_ctl went away");
}

void
local_progress(const char *text)
{
	if (l.local_conn != NULL)
		ctl_progress(l.local_conn, "%s", text);
}

void
local_begin(const struct txn_action *a)
{
	char who[256];

	if (a->op != TXN_OP_HOLD || !a->local)
		return;
	holder_txid(&l.holder, a->id);
	holder_who(&l.holder, who, sizeof(who));
	history_who(a->id, who);
}

void
local_settle(void)
{
	/* a local request the machine no longer owes (its transaction was
	 * undone under it) gets its answer here, or never */
	if (l.local_conn != NULL && !(l.txn->local && l.txn->owe_reply)) {
		ctl_done(l.local_conn, false,
		    "the request was undone before it could be answered");
		l.local_conn = NULL;
	}
}

void
local_hold_view(char *text, size_t tlen, char *json, size_t jlen)
{
	/* a detached hold being taken or in place */
	if (l.txn->local && l.txn->hold && l.holder.txid == l.txn->id &&
	    (l.txn->state == TXN_HELD || l.txn->state == TXN_APPS_FREEZING ||
	        l.txn->state == TXN_HOOKS_FREEZING)) {
		holder_text(&l.holder, text, tlen);
		holder_json(&l.holder, json, jlen);
	}
}
