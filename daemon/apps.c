/*
 * apps.c: the application socket and the applications' part of a
 * transaction (doc/DESIGN.md, "Application socket (protocol 1)").
 *
 * Applications register with HELLO and are asked CHECK (can a backup run
 * now?), FREEZE (flush and hold, by tier: tier 0 first, every app of a
 * tier at once, each tier given its share of the stage's time), and THAW
 * or ABORT (resume; THAW by tier, 9 first).  The daemon must never wait
 * on an application it cannot afford to: every socket is non-blocking,
 * every buffer bounded (a line may be at most APP_LINE_MAX bytes; an app
 * that does not read what we send is dropped once APPS_OUT_MAX bytes
 * wait for it), every wait has a deadline, and a client that breaks the
 * protocol loses its connection and nothing else.  An app lost while it
 * is asked to freeze is a veto: its data may not be flushed.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "appproto.h"
#include "apps.h"
#include "log.h"
#include "os/peercred.h"
#include "os/sockgroup.h"
#include "util.h"

/* glibc's <sys/queue.h> lacks it */
#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar) \
	for ((var) = TAILQ_FIRST(head); \
	     (var) != NULL && ((tvar) = TAILQ_NEXT(var, field), 1); \
	     (var) = (tvar))
#endif

#define APPS_OUT_MAX (16 * APP_LINE_MAX) /* unread by the app */
#define APPS_HELLO_SECONDS 5 /* to say HELLO after connecting */
#define APPS_NTIERS (APP_TIER_MAX + 1)
#define APPS_PAST 4 /* transactions an app's late answers are known for */
#define APPS_GONE_MAX 8 /* registered apps gone, kept for status */

/* What an app was sent in one transaction, and what it answered. */
enum { ASKED_CHECK = 1, ASKED_FREEZE = 2, ASKED_RESUME = 4 };

struct asked {
	uint64_t txid; /* 0: unused */
	unsigned int asked; /* ASKED_* sent */
	unsigned int answered; /* ASKED_* answered */
};

enum app_wait {
	AW_NONE,
	AW_READY, /* asked CHECK */
	AW_FROZEN, /* asked FREEZE */
	AW_THAWED, /* told THAW or ABORT */
};

struct app {
	TAILQ_ENTRY(app) entry;
	struct apps *apps;
	struct bufferevent *bev;
	struct event *hello_ev;
	bool registered;
	uint64_t id;
	char name[APP_NAME_MAX + 1];
	unsigned int tier;
	uint32_t need_ms;
	pid_t pid;
	uid_t uid;

	enum app_wait wait;
	bool dead; /* dropped, freed soon */
	bool asked_freeze; /* in apps->txid */
	bool frozen; /* answered FROZEN in apps->txid */

	/* the last APPS_PAST transactions it was asked in: an answer to
	 * one of them is late, not a protocol error */
	struct asked past[APPS_PAST];
	uint64_t forgot; /* the newest txid that fell out of past[] */
};

TAILQ_HEAD(applist, app);

struct apps {
	struct event_base *base;
	struct evconnlistener *lis;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	apps_done_fn done;
	void *arg;
	struct applist list;
	struct applist zombies; /* dropped, to free */
	struct event *reap_ev;
	struct event *relisten_ev; /* accepting again after an error */
	struct event *done_ev; /* tells the daemon, deferred */
	bool done_ok;
	enum apps_stage done_stage; /* what ended, as it was then */
	uint64_t done_txid;
	char done_reason[APPS_REASON_MAX];
	size_t nconn;
	size_t nreg;
	size_t max_clients;
	uint64_t next_id;

	/* the stage in progress, if active */
	bool active;
	enum apps_stage stage;
	uint64_t txid;
	int tier; /* -1 before the first */
	int last; /* the last tier of this part of the stage */
	unsigned int pending; /* answers still awaited */
	uint64_t deadline_ms; /* of the whole stage, mono_ms() */
	unsigned int tier_ms; /* the current tier's budget */
	struct event *timer;
	char missing[APPS_REASON_MAX];

	size_t max_per_uid; /* connections, root not counted */
	time_t uid_warned; /* last "uid over its limit" warning */
	time_t full_warned; /* last "app_max_clients reached" warning */

	/* registered apps gone: the last few for status, and those not yet
	 * told to a transaction (apps_news()) */
	struct apps_gone gone[APPS_GONE_MAX];
	unsigned int gone_next, gone_count;
	char news[APPS_REASON_MAX];
	size_t news_n; /* gone since apps_news() */
	size_t news_told; /* of which named in news[] */
};

static void next_tier(struct apps *);

static void
who(const struct app *a, char *buf, size_t len)
{
	snprintf(buf, len, "app %s (pid %d, uid %u)",
	    a->registered ? a->name : "(unregistered)", (int)a->pid,
	    (unsigned int)a->uid);
}

/* The record of txid in a's past, or NULL. */
static struct asked *
past_find(struct app *a, uint64_t txid)
{
	size_t i;

	if (txid == 0)
		return NULL;
	for (i = 0; i < APPS_PAST; i++)
		if (a->past[i].txid == txid)
			return &a->past[i];
	return NULL;
}

/* Note that a was sent what (ASKED_*) in txid; the oldest record goes. */
static void
past_ask(struct app *a, uint64_t txid, unsigned int what)
{
	struct asked *p, *old;
	size_t i;

	if ((p = past_find(a, txid)) == NULL) {
		old = &a->past[0];
		for (i = 1; i < APPS_PAST; i++)
			if (a->past[i].txid < old->txid)
				old = &a->past[i];
		if (old->txid > a->forgot)
			a->forgot = old->txid;
		p = old;
		*p = (struct asked){.txid = txid};
	}
	p->asked |= what;
}

/* Which ASKED_* an answer answers. */
static unsigned int
answers(enum app_msg_type t)
{
	switch (t) {
	case AM_READY:
		return ASKED_CHECK;
	case AM_FROZEN:
		return ASKED_FREEZE;
	case AM_THAWED:
		return ASKED_RESUME;
	default: /* VETO: to a CHECK or a FREEZE */
		return ASKED_CHECK | ASKED_FREEZE;
	}
}

static unsigned int
ms_left(const struct apps *as)
{
	uint64_t now = mono_ms();

	return as->deadline_ms > now ? (unsigned int)(as->deadline_ms - now)
	                             : 0;
}

static void
arm(struct apps *as, unsigned int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	evtimer_add(as->timer, &tv);
}

/*
 * End the stage.  The daemon is told from the loop, not from here: we may
 * be deep in a read callback, and what the daemon does next (ABORT to
 * everyone, say) must not change the list under it.
 */
static void
finish(struct apps *as, bool ok, const char *reason)
{
	struct app *a;

	evtimer_del(as->timer);
	as->active = false;
	TAILQ_FOREACH(a, &as->list, entry)
		if (a->wait == AW_READY || a->wait == AW_FROZEN)
			a->wait = AW_NONE;
	as->done_ok = ok;
	as->done_stage = as->stage;
	as->done_txid = as->txid;
	snprintf(as->done_reason, sizeof(as->done_reason), "%s",
	    reason != NULL ? reason : "");
	event_active(as->done_ev, EV_TIMEOUT, 0);
}

static void
done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct apps *as = arg;

	as->done(as->done_stage, as->done_txid, as->done_ok,
	    as->done_reason[0] ? as->done_reason : NULL, as->arg);
}

/* Free what drop() left: nobody holds a pointer to it any more. */
static void
reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct apps *as = arg;
	struct app *a;

	while ((a = TAILQ_FIRST(&as->zombies)) != NULL) {
		TAILQ_REMOVE(&as->zombies, a, entry);
		free(a);
	}
}

/*
 * A registered app is gone: no backup from now on is consistent for it.
 * Kept for status (the last APPS_GONE_MAX) and for the next transaction's
 * log and history (apps_news()).
 */
static void
gone(struct apps *as, const struct app *a, const char *name, const char *why)
{
	struct apps_gone *g = &as->gone[as->gone_next];
	size_t n;

	memset(g, 0, sizeof(*g));
	g->id = a->id;
	snprintf(g->name, sizeof(g->name), "%s", a->name);
	g->pid = a->pid;
	g->uid = a->uid;
	g->txid = as->txid;
	clock_gettime(CLOCK_REALTIME, &g->when);
	snprintf(g->why, sizeof(g->why), "%s", why);
	as->gone_next = (as->gone_next + 1) % APPS_GONE_MAX;
	if (as->gone_count < APPS_GONE_MAX)
		as->gone_count++;
	n = strlen(as->news);
	/* whole entries, in order, while they fit; the rest is counted
	 * ("and N more") */
	if (as->news_told == as->news_n++ &&
	    n + strlen(name) + strlen(why) + 4 < sizeof(as->news) - 24) {
		snprintf(as->news + n, sizeof(as->news) - n, "%s%s: %s",
		    n ? "; " : "", name, why);
		as->news_told++;
	}
}

static void
drop(struct app *a, const char *why)
{
	struct apps *as = a->apps;
	char name[128], reason[APPS_REASON_MAX];
	bool veto;

	who(a, name, sizeof(name));
	veto = as->active &&
	    ((as->stage == APPS_FREEZE && a->wait == AW_FROZEN) ||
	        (as->stage == APPS_CHECK && a->wait == AW_READY));
	if (a->registered) {
		log_info("%s: disconnected: %s", name, why);
		gone(as, a, name, why);
	} else
		log_debug("%s: disconnected: %s", name, why);
	TAILQ_REMOVE(&as->list, a, entry);
	as->nconn--;
	if (a->registered)
		as->nreg--;
	if (a->hello_ev != NULL)
		event_free(a->hello_ev);
	a->hello_ev = NULL;
	bufferevent_free(a->bev);
	a->dead = true;
	TAILQ_INSERT_TAIL(&as->zombies, a, entry);
	event_active(as->reap_ev, EV_TIMEOUT, 0);
	if (as->active && as->stage == APPS_THAW && a->wait == AW_THAWED &&
	    a->tier == (unsigned int)as->tier && as->pending > 0) {
		as->pending--;
		if (as->pending == 0) {
			evtimer_del(as->timer);
			next_tier(as);
		}
	}
	if (veto) {
		snprintf(reason, sizeof(reason),
		    "%s: lost while asked to %s (%s)", name,
		    as->stage == APPS_FREEZE ? "FREEZE" : "CHECK", why);
		finish(as, false, reason);
	}
}

/* Queue one line for a; false if a was dropped (it does not read). */
static bool
say(struct app *a, const struct app_msg *m)
{
	char line[APP_LINE_MAX + 1];
	int n;

	if ((n = app_format(m, line, sizeof(line))) < 0)
		fatalx("app_format %s: %s (bug)", app_msg_name(m->type),
		    strerror(-n));
	if (evbuffer_get_length(bufferevent_get_output(a->bev)) + (size_t)n >
	    APPS_OUT_MAX) {
		drop(a, "not reading what it is sent");
		return false;
	}
	bufferevent_write(a->bev, line, (size_t)n);
	switch (m->type) {
	case AM_CHECK:
		past_ask(a, m->txid, ASKED_CHECK);
		break;
	case AM_FREEZE:
		past_ask(a, m->txid, ASKED_FREEZE);
		break;
	case AM_THAW:
	case AM_ABORT:
		past_ask(a, m->txid, ASKED_RESUME);
		break;
	default:
		break;
	}
	return true;
}

static void
refuse(struct app *a, const char *reason)
{
	struct app_msg m = {.type = AM_ERR};

	snprintf(m.reason, sizeof(m.reason), "%s", reason);
	if (say(a, &m))
		drop(a, reason);
}

/* The budget of each remaining non-empty tier: needs first, then equal. */
static unsigned int
tier_budget(struct apps *as, int tier, int step)
{
	unsigned int need[APPS_NTIERS] = {0}, left = ms_left(as);
	bool used[APPS_NTIERS] = {false};
	unsigned long long total = 0;
	unsigned int k = 0;
	struct app *a;
	int t;

	TAILQ_FOREACH(a, &as->list, entry) {
		if (!a->registered ||
		    (as->stage == APPS_THAW && !a->asked_freeze))
			continue;
		used[a->tier] = true;
		if (a->need_ms > need[a->tier])
			need[a->tier] = a->need_ms;
	}
	for (t = tier; t >= 0 && t < APPS_NTIERS; t += step)
		if (used[t]) {
			k++;
			total += need[t];
		}
	if (k == 0)
		return left;
	if (total <= left) /* each its need, and a share of the rest */
		return need[tier] + (unsigned int)((left - total) / k);
	return left / k; /* needs exceed the stage: split evenly */
}

/* Ask the next non-empty tier (FREEZE ascending, THAW descending). */
static void
next_tier(struct apps *as)
{
	int step = as->stage == APPS_THAW ? -1 : 1;
	struct app *a, *tmp;
	struct app_msg m;
	bool any;
	int t;

	/* up to as->last: the hooks may come between two tiers */
	for (t = as->tier + step; t >= 0 && t < APPS_NTIERS &&
	     (step > 0 ? t <= as->last : t >= as->last);
	     t += step) {
		any = false;
		TAILQ_FOREACH(a, &as->list, entry)
			if (a->registered && a->tier == (unsigned int)t &&
			    (as->stage != APPS_THAW || a->asked_freeze))
				any = true;
		if (any)
			break;
	}
	if (t < 0 || t >= APPS_NTIERS ||
	    (step > 0 ? t > as->last : t < as->last)) {
		finish(as, true, as->missing[0] ? as->missing : NULL);
		return;
	}
	as->tier = t;
	as->tier_ms = tier_budget(as, t, step);
	as->pending = 0;
	memset(&m, 0, sizeof(m));
	m.txid = as->txid;
	m.type = as->stage == APPS_THAW ? AM_THAW : AM_FREEZE;
	m.ms = as->tier_ms;
	TAILQ_FOREACH(a, &as->list, entry)
		if (a->registered && a->tier == (unsigned int)t &&
		    (as->stage != APPS_THAW || a->asked_freeze)) {
			a->wait =
			    as->stage == APPS_THAW ? AW_THAWED : AW_FROZEN;
			if (as->stage == APPS_FREEZE)
				a->asked_freeze = true;
			as->pending++;
		}
	arm(as, as->tier_ms);
	log_debug("txn %llu: %s tier %d: %u app%s, %u ms",
	    (unsigned long long)as->txid, app_msg_name(m.type), t, as->pending,
	    as->pending == 1 ? "" : "s", as->tier_ms);
	/* say() may drop an app, which may end the stage: walk safely */
	TAILQ_FOREACH_SAFE(a, &as->list, entry, tmp) {
		if (a->wait != (m.type == AM_THAW ? AW_THAWED : AW_FROZEN) ||
		    a->tier != (unsigned int)t)
			continue;
		/* one app dropped (not reading) must not stop the others
		 * of its tier from being told; but a stage that ended or
		 * moved on meanwhile is not ours to continue */
		(void)say(a, &m);
		if (!as->active || as->tier != t)
			return;
	}
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct apps *as = arg;
	char reason[APPS_REASON_MAX], name[128];
	const char *op;
	struct app *a;
	enum app_wait w;
	size_t n = 0;
	unsigned int ms;

	if (!as->active)
		return;
	w = as->stage == APPS_CHECK    ? AW_READY
	    : as->stage == APPS_FREEZE ? AW_FROZEN
	                               : AW_THAWED;
	op = as->stage == APPS_CHECK   ? "CHECK"
	    : as->stage == APPS_FREEZE ? "FREEZE"
	                               : "THAW";
	ms = as->tier_ms;
	reason[0] = '\0';
	TAILQ_FOREACH(a, &as->list, entry) {
		if (a->wait != w)
			continue;
		who(a, name, sizeof(name));
		n = strlen(reason);
		snprintf(reason + n, sizeof(reason) - n, "%s%s", n ? ", " : "",
		    name);
	}
	n = strlen(reason);
	snprintf(reason + n, sizeof(reason) - n,
	    ": no answer to %s within %u ms", op, ms);
	if (as->stage != APPS_THAW) {
		finish(as, false, reason);
		return;
	}
	/* a missing THAWED is reported, not fatal: go on to the next tier */
	TAILQ_FOREACH(a, &as->list, entry)
		if (a->wait == AW_THAWED && a->tier == (unsigned int)as->tier)
			a->wait = AW_NONE;
	log_warnx("txn %llu: %s", (unsigned long long)as->txid, reason);
	n = strlen(as->missing);
	snprintf(as->missing + n, sizeof(as->missing) - n, "%s%s",
	    n ? "; " : "", reason);
	next_tier(as);
}

static void
hello(struct app *a, const struct app_msg *m)
{
	struct apps *as = a->apps;
	struct app_msg ok = {.type = AM_OK};
	char name[128];

	a->registered = true;
	a->id = ++as->next_id;
	snprintf(a->name, sizeof(a->name), "%s", m->name);
	a->tier = m->tier;
	a->need_ms = m->has_timeout ? m->timeout_ms : 0;
	as->nreg++;
	event_free(a->hello_ev);
	a->hello_ev = NULL;
	ok.app_id = a->id;
	who(a, name, sizeof(name));
	if (a->need_ms > 0)
		log_info(
		    "%s registered: id %llu, tier %u, needs %u ms to flush",
		    name, (unsigned long long)a->id, a->tier, a->need_ms);
	else
		log_info("%s registered: id %llu, tier %u", name,
		    (unsigned long long)a->id, a->tier);
	(void)say(a, &ok);
}

/*
 * An answer to a transaction that is not the one in progress, but one
 * the app was asked in: late, and harmless (protocol 1, appproto.h).
 * The daemon does not wait for the THAWED that answers an ABORT, and a
 * deadline or another app's veto can end a stage before an app answers;
 * none of that is the app's fault.  One answer needs more than a note:
 * FROZEN for a transaction the app was never told to leave (its stage
 * ended with it silent and no ABORT followed) would hold it frozen until
 * the next THAW; it is told ABORT now.
 */
static void
late(struct app *a, const struct app_msg *m, struct asked *p)
{
	struct app_msg ab = {.type = AM_ABORT, .txid = m->txid};
	unsigned int what = answers(m->type);

	log_debug("app %s: late %s %llu (now txn %llu)%s, ignored", a->name,
	    app_msg_name(m->type), (unsigned long long)m->txid,
	    (unsigned long long)a->apps->txid,
	    (p->asked & what) == 0     ? ": not asked"
	        : (p->answered & what) ? ": answered before"
	                               : "");
	p->answered |= p->asked & what;
	if (m->type == AM_FROZEN && (p->asked & ASKED_FREEZE) &&
	    !(p->asked & ASKED_RESUME))
		(void)say(a, &ab);
}

/* An answer from a registered app (a may be dropped meanwhile). */
static void
answer(struct app *a, const struct app_msg *m)
{
	struct apps *as = a->apps;
	char name[128], reason[APPS_REASON_MAX];
	enum app_wait want;
	struct asked *p;

	if ((p = past_find(a, m->txid)) == NULL) {
		if (m->txid != 0 && m->txid <= a->forgot) {
			/* asked, maybe, too long ago to tell: harmless */
			log_debug(
			    "app %s: %s %llu: older than its last %d transactions, ignored",
			    a->name, app_msg_name(m->type),
			    (unsigned long long)m->txid, APPS_PAST);
			return;
		}
		drop(a, "answer for a transaction it was never asked about");
		return;
	}
	if (m->txid != as->txid) {
		late(a, m, p);
		return;
	}
	p->answered |= p->asked & answers(m->type);
	want = m->type == AM_READY ? AW_READY
	    : m->type == AM_FROZEN ? AW_FROZEN
	    : m->type == AM_THAWED ? AW_THAWED
	                           : a->wait;
	if (m->type == AM_VETO && a->wait != AW_READY && a->wait != AW_FROZEN)
		want = AW_NONE; /* a VETO to nothing we asked */
	if (a->wait != want || want == AW_NONE) {
		/* late (after a deadline or an abort): harmless */
		log_debug("app %s: late or unasked %s %llu ignored", a->name,
		    app_msg_name(m->type), (unsigned long long)m->txid);
		return;
	}
	a->wait = AW_NONE;
	if (m->type == AM_VETO) {
		who(a, name, sizeof(name));
		snprintf(
		    reason, sizeof(reason), "%s: VETO %s", name, m->reason);
		if (as->active)
			finish(as, false, reason);
		return;
	}
	if (m->type == AM_FROZEN)
		a->frozen = true;
	if (m->type == AM_THAWED)
		a->frozen = false;
	if (!as->active || as->pending == 0)
		return; /* THAWED after an ABORT */
	if (--as->pending > 0)
		return;
	evtimer_del(as->timer);
	if (as->stage == APPS_CHECK)
		finish(as, true, NULL);
	else
		next_tier(as);
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct app *a = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct app_msg m;
	size_t len;
	char *line;
	int rc;

	while ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF)) != NULL) {
		rc = app_parse(line, len, &m);
		free(line);
		if (rc == -EPROTONOSUPPORT && !a->registered) {
			refuse(a, "protocol version not supported (1 is)");
			return;
		}
		if (rc != 0) {
			drop(a,
			    rc == -EMSGSIZE ? "line too long"
			                    : "malformed line");
			return;
		}
		switch (m.type) {
		case AM_HELLO:
			if (a->registered) {
				drop(a, "second HELLO");
				return;
			}
			hello(a, &m);
			break;
		case AM_READY:
		case AM_FROZEN:
		case AM_THAWED:
		case AM_VETO:
			if (!a->registered) {
				drop(a, "answer before HELLO");
				return;
			}
			answer(a, &m);
			break;
		default:
			drop(a, "not a line an application sends");
			return;
		}
		if (a->dead)
			return; /* dropped while we served it */
	}
	if (evbuffer_get_length(in) >= APP_LINE_MAX)
		drop(a, "line too long");
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct app *a = arg;

	int e;

	if (what & BEV_EVENT_EOF)
		drop(a, "closed");
	else if (what & BEV_EVENT_ERROR) {
		/* it closed, and we wrote before we read the EOF: it left,
		 * which is no "Broken pipe" of ours */
		e = EVUTIL_SOCKET_ERROR();
		drop(a, e == EPIPE || e == ECONNRESET ? "closed" : strerror(e));
	}
}

static void
hello_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	drop(arg, "no HELLO in time");
}

static void
accept_cb(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct apps *as = arg;
	struct timeval tv = {APPS_HELLO_SECONDS, 0};
	static const char busy[] = "ERR too many connections\n";
	static const char uidbusy[] = "ERR too many connections for this uid\n";
	struct peercred cred;
	struct app *a;
	size_t mine = 0;
	time_t now;

	/* on failure uid and pid are -1: counted as one unknown uid */
	(void)peercred_get(fd, &cred);
	/* one uid must not take every slot (app_max_per_uid); root can
	 * stop the daemon anyway and is not counted */
	if (cred.uid != 0) {
		TAILQ_FOREACH(a, &as->list, entry)
			if (a->uid == cred.uid)
				mine++;
	}
	if (cred.uid != 0 && mine >= as->max_per_uid) {
		now = time(NULL);
		if (now != as->uid_warned) /* a flood: once a second */
			log_warnx(
			    "app socket: uid %u has %zu connections (app_max_per_uid); refusing more",
			    (unsigned int)cred.uid, mine);
		as->uid_warned = now;
		(void)send(fd, uidbusy, sizeof(uidbusy) - 1,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		evutil_closesocket(fd);
		return;
	}
	if (as->nconn >= as->max_clients) {
		/* said, or an application refused is in no log (once a
		 * second: a flood) */
		now = time(NULL);
		if (now != as->full_warned)
			log_warnx(
			    "app socket: %zu connections (app_max_clients); refusing uid %u (pid %d)",
			    as->nconn, (unsigned int)cred.uid, (int)cred.pid);
		as->full_warned = now;
		/* one try, never blocking: the socket is non-blocking */
		(void)send(
		    fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		evutil_closesocket(fd);
		return;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		evutil_closesocket(fd);
		return;
	}
	a->apps = as;
	a->pid = cred.pid;
	a->uid = cred.uid;
	a->bev = bufferevent_socket_new(as->base, fd, BEV_OPT_CLOSE_ON_FREE);
	a->hello_ev = evtimer_new(as->base, hello_timeout_cb, a);
	if (a->bev == NULL || a->hello_ev == NULL) {
		if (a->bev != NULL)
			bufferevent_free(a->bev);
		else
			evutil_closesocket(fd);
		if (a->hello_ev != NULL)
			event_free(a->hello_ev);
		free(a);
		return;
	}
	/* stop reading past two lines: bounds what a flood can make us hold */
	bufferevent_setwatermark(a->bev, EV_READ, 0, 2 * APP_LINE_MAX);
	bufferevent_setcb(a->bev, read_cb, NULL, event_cb, a);
	bufferevent_enable(a->bev, EV_READ | EV_WRITE);
	evtimer_add(a->hello_ev, &tv);
	TAILQ_INSERT_TAIL(&as->list, a, entry);
	as->nconn++;
}

static void
listen_error_cb(struct evconnlistener *lis, void *arg)
{
	struct apps *as = arg;
	struct timeval tv = {1, 0};

	/* EMFILE and friends: the pending connection stays pending, and
	 * would come back at once; pause accepting for a second instead of
	 * spinning (and filling the held log) */
	log_warn("app socket accept (pausing 1 s)");
	evconnlistener_disable(lis);
	evtimer_add(as->relisten_ev, &tv);
}

static void
relisten_cb(evutil_socket_t fd, short what, void *arg)
{
	struct apps *as = arg;

	evconnlistener_enable(as->lis);
}

static void
begin(struct apps *as, enum apps_stage stage, uint64_t txid, unsigned int ms)
{
	if (as->active)
		evtimer_del(as->timer);
	event_del(as->done_ev); /* a result not yet told is moot now */
	as->deadline_ms = mono_ms() + ms;
	as->active = true;
	as->stage = stage;
	as->tier = stage == APPS_THAW ? APPS_NTIERS : -1;
	as->pending = 0;
	as->missing[0] = '\0';
	if (stage != APPS_THAW && as->txid != txid) {
		struct app *a;

		TAILQ_FOREACH(a, &as->list, entry) {
			a->asked_freeze = false;
			a->frozen = false;
		}
	}
	as->txid = txid;
}

void
apps_check(struct apps *as, uint64_t txid, unsigned int ms)
{
	struct app_msg m = {.type = AM_CHECK, .txid = txid};
	struct app *a, *tmp;

	begin(as, APPS_CHECK, txid, ms);
	as->tier_ms = ms;
	TAILQ_FOREACH(a, &as->list, entry)
		if (a->registered) {
			a->wait = AW_READY;
			as->pending++;
		}
	if (as->pending == 0) {
		finish(as, true, NULL);
		return;
	}
	arm(as, ms);
	TAILQ_FOREACH_SAFE(a, &as->list, entry, tmp)
		if (a->wait == AW_READY && (!say(a, &m) || !as->active))
			return;
}

void
apps_freeze(struct apps *as, uint64_t txid, unsigned int ms)
{
	apps_freeze_tiers(as, txid, ms, 0, APPS_NTIERS - 1);
}

void
apps_freeze_tiers(
    struct apps *as, uint64_t txid, unsigned int ms, int from, int to)
{
	begin(as, APPS_FREEZE, txid, ms);
	as->tier = from - 1;
	as->last = to;
	next_tier(as);
}

void
apps_abort(struct apps *as, uint64_t txid)
{
	struct app_msg m = {.type = AM_ABORT, .txid = txid};
	struct app *a, *tmp;

	if (as->txid != txid)
		return;
	event_del(as->done_ev); /* an aborted stage's result is moot */
	if (as->active) {
		evtimer_del(as->timer);
		as->active = false;
	}
	TAILQ_FOREACH_SAFE(a, &as->list, entry, tmp) {
		if (!a->asked_freeze)
			continue;
		a->asked_freeze = false;
		a->wait = AW_THAWED;
		(void)say(a, &m);
	}
}

void
apps_thaw(struct apps *as, uint64_t txid, unsigned int ms)
{
	apps_thaw_tiers(as, txid, ms, APPS_NTIERS - 1, 0);
}

void
apps_thaw_tiers(
    struct apps *as, uint64_t txid, unsigned int ms, int from, int to)
{
	begin(as, APPS_THAW, txid, ms);
	as->tier = from + 1;
	as->last = to;
	next_tier(as);
}

void
apps_foreach_gone(const struct apps *as,
    void (*fn)(const struct apps_gone *, void *), void *arg)
{
	unsigned int i;

	for (i = 1; i <= as->gone_count; i++)
		fn(&as->gone[(as->gone_next + APPS_GONE_MAX - i) %
		       APPS_GONE_MAX],
		    arg);
}

size_t
apps_news_peek(const struct apps *as, char *buf, size_t len)
{
	size_t n = as->news_n;

	if (as->news_told < n)
		snprintf(
		    buf, len, "%s; and %zu more", as->news, n - as->news_told);
	else
		snprintf(buf, len, "%s", as->news);
	return n;
}

void
apps_news_clear(struct apps *as)
{
	as->news[0] = '\0';
	as->news_n = as->news_told = 0;
}

size_t
apps_news(struct apps *as, char *buf, size_t len)
{
	size_t n = apps_news_peek(as, buf, len);

	apps_news_clear(as);
	return n;
}

size_t
apps_count(const struct apps *as)
{
	return as->nreg;
}

void
apps_foreach(const struct apps *as,
    void (*fn)(const struct apps_info *, void *), void *arg)
{
	struct apps_info info;
	const struct app *a;

	TAILQ_FOREACH(a, &as->list, entry) {
		if (!a->registered)
			continue;
		info = (struct apps_info){
		    a->id, a->name, a->tier, a->pid, a->uid, a->need_ms};
		fn(&info, arg);
	}
}

/* Bind the socket: a stale one is replaced, a live one is an error. */
static int
bind_socket(struct apps *as, const struct conf *c)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct group *gr;
	gid_t gid;
	int gerr;
	struct stat st;
	int fd;

	if (mkdir(c->run_dir, 0755) == -1 && errno != EEXIST) {
		log_warn("mkdir %s", c->run_dir);
		return -1;
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", c->app_socket);
	snprintf(as->path, sizeof(as->path), "%s", c->app_socket);
	if (lstat(sun.sun_path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_warnx(
			    "%s exists and is not a socket", sun.sun_path);
			return -1;
		}
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd != -1 &&
		    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			close(fd);
			log_warnx(
			    "%s: another daemon is serving it", sun.sun_path);
			return -1;
		}
		if (fd != -1)
			close(fd);
		unlink(sun.sun_path);
	}
	if ((fd = socket(
	         AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1)
		return -1;
	gid = (gid_t)-1;
	if (c->app_socket_group[0] != '\0') {
		if ((gr = getgrnam(c->app_socket_group)) == NULL)
			log_warnx(
			    "app_socket_group %s: no such group; the socket stays root's",
			    c->app_socket_group);
		else
			gid = gr->gr_gid;
	}
	/* born in the group: no CAP_CHOWN (os/sockgroup.h) */
	if (sock_bind_group(fd, &sun, gid, &gerr) == -1) {
		log_warn("bind %s", sun.sun_path);
		close(fd);
		return -1;
	}
	if (gerr != 0)
		log_warnx("%s: app_socket_group %s: %s", sun.sun_path,
		    c->app_socket_group, strerror(gerr));
	if (chmod(sun.sun_path, c->app_socket_mode) == -1)
		log_warn("chmod %s", sun.sun_path);
	if (listen(fd, 128) == -1) {
		log_warn("listen %s", sun.sun_path);
		close(fd);
		return -1;
	}
	return fd;
}

struct apps *
apps_new(
    struct event_base *base, const struct conf *c, apps_done_fn done, void *arg)
{
	struct apps *as;
	int fd;

	if ((as = calloc(1, sizeof(*as))) == NULL)
		return NULL;
	as->base = base;
	as->done = done;
	as->arg = arg;
	as->max_clients = c->app_max_clients;
	as->max_per_uid = c->app_max_per_uid;
	TAILQ_INIT(&as->list);
	TAILQ_INIT(&as->zombies);
	as->reap_ev = event_new(base, -1, 0, reap_cb, as);
	as->relisten_ev = evtimer_new(base, relisten_cb, as);
	as->done_ev = event_new(base, -1, 0, done_cb, as);
	if (as->reap_ev == NULL || as->done_ev == NULL ||
	    as->relisten_ev == NULL ||
	    (as->timer = evtimer_new(base, timer_cb, as)) == NULL ||
	    (fd = bind_socket(as, c)) == -1) {
		apps_free(as);
		return NULL;
	}
	as->lis = evconnlistener_new(base, accept_cb, as,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (as->lis == NULL) {
		close(fd);
		apps_free(as);
		return NULL;
	}
	evconnlistener_set_error_cb(as->lis, listen_error_cb);
	return as;
}

void
apps_free(struct apps *as)
{
	struct app *a;

	if (as == NULL)
		return;
	while ((a = TAILQ_FIRST(&as->list)) != NULL) {
		TAILQ_REMOVE(&as->list, a, entry);
		/* the daemon is stopping: one non-blocking try to deliver
		 * what is queued (an ABORT, a THAW) before closing */
		(void)evbuffer_write(
		    bufferevent_get_output(a->bev), bufferevent_getfd(a->bev));
		if (a->hello_ev != NULL)
			event_free(a->hello_ev);
		bufferevent_free(a->bev);
		free(a);
	}
	if (as->lis != NULL) {
		evconnlistener_free(as->lis);
		unlink(as->path);
	}
	if (as->timer != NULL)
		event_free(as->timer);
	reap_cb(-1, 0, as);
	if (as->reap_ev != NULL)
		event_free(as->reap_ev);
	if (as->relisten_ev != NULL)
		event_free(as->relisten_ev);
	if (as->done_ev != NULL)
		event_free(as->done_ev);
	free(as);
}
