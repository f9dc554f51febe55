/*
 * priv.c: the privileged parent's request handler (priv.h).
 *
 * One stage at a time: a request is read, checked by privproto.c
 * against the transaction's state, and either refused at once or done.
 * The socket is read all along, also while a stage runs (a freeze or a
 * hooks stage takes seconds, off the loop), so that a CANCEL reaches
 * it; privproto.c refuses any other stage meanwhile ("busy"), and the
 * side requests (CANCEL, COMM, PLAN, METRICS) are answered at once and
 * touch no transaction state.  A stage's reply goes out when it is
 * done, and only then is the state moved on.
 *
 * Unasked, the parent tells the engine what the guard did (priv_guard()
 * forwards its events).  The mount table it asks only when a plan is
 * about to be used (CHECK, FREEZE): nothing wakes it while idle.
 *
 * What the parent acts on is its own: the plan comes from its own
 * /proc/self/mountinfo and its configuration's allow-list (plan_build),
 * the hooks from its own hooks_dir, the device from its own device key.
 * The guard holds every filesystem before it is frozen (as the daemon's
 * does) and is armed with max_frozen once the freeze is done: a lease
 * the engine can shorten, never stretch (privproto.c).
 *
 * Hazards:
 * - A datagram longer than a request is read with MSG_TRUNC, so its
 *   true length is seen and refused, not a truncated copy accepted.
 * - Descriptors passed with a request (SCM_RIGHTS) are closed unread:
 *   the engine has nothing to hand the parent.
 * - The engine's end closing is the engine's death: thaw at once, on
 *   this thread, before anything else (freezer_thaw_now); a running
 *   hooks stage is stopped; a running freeze job is cancelled (undone as
 *   soon as it is back: a FIFREEZE cannot be interrupted) and only then,
 *   with nothing frozen, is gone() called.
 * - METRICS's file may be on a filesystem someone else froze: it is
 *   written on a detached thread (as metrics.c does), one at a time.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf.h"
#include "freeze.h"
#include "guard.h"
#include "hooks.h"
#include "host.h"
#include "log.h"
#include "metrics.h"
#include "mountwatch.h"
#include "os/devstack.h"
#include "os/proc.h"
#include "plan.h"
#include "priv.h"
#include "privproto.h"
#include "record.h"
#include "status.h"
#include "util.h"

/* a plan made by one CHECK serves the next transaction's CHECK within
 * this long, if the mount table did not change meanwhile (the FREEZE
 * that follows a HOT_BACKUP; mountwatch.h) */
#define PLAN_REUSE_MS 60000
#define GUARD_AWAIT_MS 1000 /* a FREEZE waits this for a new guard */
#define GUARD_POLL_MS 5
/* the largest datagram the engine may send, and one byte to see more */
#define MSG_MAX (sizeof(struct priv_req) + PRIV_METRICS_MAX + 1)

struct priv {
	const struct conf *c;
	struct event_base *base;
	struct guard *guard;
	int sock;
	struct event *ev;
	struct freezer *freezer;
	struct hooks *hooks;
	struct plan plan;
	bool planned; /* plan holds plan_build()'s result */
	bool reusable; /* ... made by the last CHECK, not frozen by yet */
	uint64_t planned_ms; /* monotonic, when made */
	struct priv_state st;
	struct priv_req cur; /* the request being done */
	size_t nfrozen; /* by the last FREEZE */
	uint64_t ndone, nrefused;
	uint64_t nlost; /* replies not sent since the last one sent */
	priv_gone_fn gone;
	void *arg;
	bool dead; /* the engine is gone: waiting for a job to end */
	bool behind; /* ... in its frozen window (priv_thawed_behind()) */
	unsigned int nbehind; /* what was frozen then */
	unsigned int told; /* told of one behind, no FREEZE since: 0 none */
	struct mountwatch *mw;
	struct record *record; /* NULL: none (tests) */
	struct event *gwait; /* a FREEZE waiting for the guard's hello */
	uint64_t gwait_until; /* monotonic ms */
	unsigned int guard_gen; /* hellos seen */
	unsigned int prepared_gen; /* ... when fs_prepare() last held */
	unsigned int arm_ms; /* the lease last armed, for a new guard */
	unsigned char *buf; /* MSG_MAX bytes */
};

/*
 * The host device, kept open by the parent across its engines: a
 * restarted engine gets it back at once, and no other VSS daemon can
 * take it meanwhile.  Opened anew when an engine is gone (so that the
 * kernel fails what was in flight) and when one asks (it lost the
 * channel).
 */
static int kept_dev = -1;
static char conf_path[CONF_PATH_MAX]; /* CONF's file; "": none */

void
priv_set_conf_path(const char *path)
{
	snprintf(conf_path, sizeof(conf_path), "%s", path ? path : "");
}

void
priv_set_record(struct priv *p, struct record *r)
{
	p->record = r;
}

int
priv_device_reopen(const struct conf *c)
{
	return kept_dev >= 0 ? priv_device_renew(c) : 0;
}

int
priv_device_renew(const struct conf *c)
{
	if (kept_dev >= 0)
		close(kept_dev);
	kept_dev = open(c->device, O_RDWR | O_CLOEXEC);
	return kept_dev >= 0 ? 0 : -errno;
}

bool
priv_idle(const struct priv *p)
{
	/* not between the freeze hooks and the thaw (or abort) hooks
	 * either: those must come from one hooks_dir */
	return !p->st.busy && p->st.tx != PRIV_TX_FROZEN &&
	    !p->st.hooks_frozen && !p->dead && freezer_nfrozen(p->freezer) == 0;
}

void
priv_conf_changed(struct priv *p)
{
	if (p->planned)
		plan_free(&p->plan);
	p->planned = false;
	p->reusable = false;
}

uint64_t
priv_ndone(const struct priv *p)
{
	return p->ndone;
}

uint64_t
priv_nrefused(const struct priv *p)
{
	return p->nrefused;
}

/* Send one reply (or event), with fd (>= 0) as ancillary data, and
 * text (PLAN) after it. */
static void
reply_text(struct priv *p, uint16_t type, uint64_t txid, int32_t status,
    uint32_t value, const char *reason, int fd, const char *text, size_t len)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct priv_rep rep;
	struct iovec iov[2];
	struct msghdr mh;
	struct cmsghdr *cm;

	if (p->dead)
		return;
	priv_rep_make(&rep, type, txid, status, value, reason);
	iov[0].iov_base = &rep;
	iov[0].iov_len = sizeof(rep);
	iov[1].iov_base = (void *)(uintptr_t)text;
	iov[1].iov_len = len;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = len > 0 ? 2 : 1;
	if (fd >= 0) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	/* an engine that does not read its replies loses them, and no
	 * more: the parent never blocks on it, and says so once a burst */
	if (sendmsg(p->sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) == -1) {
		if (p->nlost++ == 0)
			log_warn("priv: reply to %s txn %llu",
			    priv_type_name(type), (unsigned long long)txid);
		return;
	}
	if (p->nlost > 0) {
		log_warnx(
		    "priv: %llu replies or events lost: the engine did not read them",
		    (unsigned long long)p->nlost);
		p->nlost = 0;
	}
}

static void
reply(struct priv *p, uint16_t type, uint64_t txid, int32_t status,
    uint32_t value, const char *reason, int fd)
{
	reply_text(p, type, txid, status, value, reason, fd, NULL, 0);
}

/*
 * The engine is gone and the last job is back: thaw; if freeze hooks
 * ran and neither thaw nor abort hooks did, run abort (an application a
 * hook paused must not stay paused for an engine that is gone); then
 * say so.
 */
static void
gone_final(struct priv *p)
{
	int rc;

	freezer_thaw_now(p->freezer);
	if (p->st.hooks_frozen) {
		p->st.hooks_frozen = false;
		log_warnx(
		    "priv: txn %llu: the engine is gone after its freeze hooks: running the abort hooks",
		    (unsigned long long)p->st.txid);
		if ((rc = hooks_run(p->hooks, p->c->hooks_dir, HOOKS_ABORT,
		         p->c->hook_timeout_ms, p->st.txid)) == 0)
			return; /* hooks_cb() calls us again */
		log_warnx("priv: txn %llu: abort hooks: %s",
		    (unsigned long long)p->st.txid, strerror(-rc));
	}
	if (freezer_nfrozen(p->freezer) == 0 && log_held())
		log_release();
	if (freezer_nfrozen(p->freezer) > 0)
		log_warnx(
		    "priv: %zu filesystem%s still frozen for the engine that is gone: the thaw guard holds them",
		    freezer_nfrozen(p->freezer),
		    freezer_nfrozen(p->freezer) == 1 ? "" : "s");
	if (p->gone != NULL)
		p->gone(p, p->arg);
}

/* The request being done is done: reply, move the state on, read on. */
static void
done(
    struct priv *p, bool ok, int32_t status, uint32_t value, const char *reason)
{
	struct priv_req r = p->cur;

	p->st.busy = false;
	p->st.running = 0;
	priv_apply(&p->st, &r, ok, mono_ms());
	/* a failed freeze whose undo failed too: still frozen, and the
	 * engine's THAW (tried again) and thaw hooks are let through */
	if (r.type == PRIV_FREEZE && !ok && freezer_nfrozen(p->freezer) > 0) {
		p->st.tx = PRIV_TX_FROZEN;
		p->st.thaw_failed = true;
	}
	if (r.type == PRIV_FREEZE && ok && p->guard != NULL)
		guard_arm(p->guard, p->c->max_frozen_ms);
	p->ndone++;
	if (p->dead) {
		gone_final(p);
		return;
	}
	reply(p, r.type, r.txid, ok ? 0 : (status < 0 ? status : -EIO), value,
	    reason, -1);
}

static void handoff(struct priv *);

static void
freeze_cb(const struct freeze_result *r, void *arg)
{
	struct priv *p = arg;
	const char *note;
	int rc;

	if (r->thaw) {
		char why[PRIV_REASON_MAX];

		if (r->ok)
			log_info("priv: txn %llu: thawed in %.1f ms: %s",
			    (unsigned long long)r->id, r->freeze_us / 1000.0,
			    r->order[0] ? r->order : "nothing was frozen");
		else
			log_warnx("priv: txn %llu: thaw failed: %s",
			    (unsigned long long)r->id, r->reason);
		if (log_held() && freezer_nfrozen(p->freezer) == 0)
			log_release();
		if (r->ok && r->nstale > 0) {
			snprintf(why, sizeof(why),
			    "%zu filesystem%s thawed by someone else before THAW (the thaw guard, or an admin): the snapshot may be inconsistent",
			    r->nstale, r->nstale == 1 ? " was" : "s were");
			/* done (thawed), its reason says what the host
			 * must hear: E_FAIL */
			done(p, true, 0, (uint32_t)p->nfrozen, why);
		} else
			done(p, r->ok, r->ok ? 0 : -EIO,
			    r->ok ? (uint32_t)p->nfrozen : 0,
			    r->ok ? NULL : r->reason);
		if (r->ok)
			p->nfrozen = 0;
		return;
	}
	if (r->ok && p->guard != NULL && guard_ready(p->guard) &&
	    p->prepared_gen != p->guard_gen)
		handoff(p);
	if (r->ok) {
		p->nfrozen = r->nfrozen;
		/* a host FREEZE froze: the host moved on from a snapshot
		 * thawed behind its back (record.h) */
		if (p->cur.arg == 0 && p->record != NULL &&
		    record_behind(p->record, &note) > 0 &&
		    (rc = record_set_behind(p->record, 0)) != 0)
			log_warnx(
			    "priv: %s: %s", RECORD_BEHIND_FILE, strerror(-rc));
		log_info(
		    "priv: txn %llu: froze %zu filesystem%s in %.1f ms (presync %.1f ms%s): %s",
		    (unsigned long long)r->id, r->nfrozen,
		    r->nfrozen == 1 ? "" : "s", r->freeze_us / 1000.0,
		    r->sync_us / 1000.0, freezer_expedite_note(r), r->order);
	} else {
		log_warnx("priv: txn %llu: freeze failed: %s",
		    (unsigned long long)r->id, r->reason);
		if (r->order[0])
			log_info("priv: txn %llu: thawed again: %s",
			    (unsigned long long)r->id, r->order);
		if (log_held() && freezer_nfrozen(p->freezer) == 0)
			log_release();
	}
	/* done: the order, which status shows as what is frozen */
	done(p, r->ok, r->ok ? 0 : (r->cancelled ? -ECANCELED : -EIO),
	    (uint32_t)r->nfrozen, r->ok ? r->order : r->reason);
}

static void
emit_hook_output(
    const char *hook, enum hooks_phase phase, const char *line, void *arg)
{
	log_info("priv: hook %s (%s): %s", hook, hooks_phase_name(phase), line);
}

static void
hooks_cb(const struct hooks_result *r, void *arg)
{
	struct priv *p = arg;

	log_info("priv: txn %llu: %s hooks: %zu ran%s%s",
	    (unsigned long long)r->txid, hooks_phase_name(r->phase), r->nran,
	    r->ok ? "" : ": ", r->reason);
	/* what the hooks printed, once nothing can be frozen (thaw and
	 * abort are refused while frozen), as the daemon logs it */
	if (r->phase != HOOKS_FREEZE)
		hooks_output(p->hooks, emit_hook_output, NULL);
	if (p->dead && !p->st.busy) {
		/* gone_final()'s abort hooks */
		gone_final(p);
		return;
	}
	done(p, r->ok, r->ok ? 0 : -EIO, (uint32_t)r->nran, r->reason);
}

/* Freezer hooks: the guard holds each filesystem before it is frozen. */
static int
fs_prepare(int fd, const char *path, dev_t dev, void *arg)
{
	struct priv *p = arg;
	int slot;

	/* named in the record first (staged, and written for all of them
	 * before anything is frozen: fs_prepared()): a parent that dies
	 * from then on is followed by one that thaws it at its start */
	if (p->record != NULL &&
	    (record_begin(p->record) < 0 ||
	        record_add(p->record, dev, path, p->cur.txid) < 0))
		return -EIO;
	if (p->guard == NULL)
		return 0;
	if ((slot = guard_hold(p->guard, fd, path)) < 0)
		return slot;
	p->prepared_gen = p->guard_gen;
	/* stuck in the freeze itself: the guard thaws after this */
	guard_arm(p->guard, p->c->fs_freeze_timeout_ms + p->c->max_frozen_ms);
	return slot;
}

/* Every target staged in the record: written (or dropped) at once. */
static int
fs_prepared(bool ok, void *arg)
{
	struct priv *p = arg;
	int rc;

	if (p->record == NULL)
		return 0;
	if (!ok) {
		record_rollback(p->record);
		return 0;
	}
	/* -EIO, as fs_prepare(): -EAGAIN and -EPIPE mean "the guard" */
	if ((rc = record_commit(p->record)) < 0) {
		log_warnx("priv: %s: %s", RECORD_FILE, strerror(-rc));
		return -EIO;
	}
	return 0;
}

/* expedite_freeze: noted, for a parent killed in between (record.h) */
static int
fs_expediting(bool on, void *arg)
{
	struct priv *p = arg;
	int rc = p->record != NULL ? record_note_expedited(p->record, on) : 0;

	if (rc < 0 && !on)
		log_warnx("priv: %s: %s", RECORD_EXPEDITED_FILE, strerror(-rc));
	return rc;
}

static void
fs_released(void *arg)
{
	struct priv *p = arg;

	if (p->guard != NULL)
		guard_thawed(p->guard);
	if (p->record != NULL)
		record_clear(p->record);
}

/* A guard that said hello while something is frozen holds it all now,
 * in freeze order, armed as it last was. */
static void
handoff(struct priv *p)
{
	size_t i;
	int slot;

	if (freezer_nfrozen(p->freezer) == 0)
		return;
	log_warnx("priv: txn %llu: a new thaw guard: handing it what is frozen",
	    (unsigned long long)p->st.txid);
	for (i = 0; i < freezer_nfrozen(p->freezer); i++) {
		slot = guard_hold(p->guard, freezer_frozen_fd(p->freezer, i),
		    freezer_frozen_path(p->freezer, i));
		freezer_set_slot(p->freezer, i, slot);
	}
	guard_arm(p->guard, p->arm_ms > 0 ? p->arm_ms : p->c->max_frozen_ms);
}

static void
start_freeze(struct priv *p)
{
	char why[PRIV_REASON_MAX];
	int rc;

	struct timeval tv = {0, GUARD_POLL_MS * 1000};

	log_hold(); /* from here on the log may sit on a frozen fs */
	freezer_set_expedite(p->freezer, p->c->expedite_freeze);
	rc = freezer_freeze(p->freezer, &p->plan, p->c->presync, p->cur.txid);
	/* the guard died a moment ago (its death not read yet), or a new
	 * one is not up yet: wait for it, within the window */
	if ((rc == -EPIPE || rc == -EAGAIN) && p->guard != NULL &&
	    mono_ms() < p->gwait_until) {
		log_release();
		evtimer_add(p->gwait, &tv);
		return;
	}
	if (rc < 0) {
		snprintf(
		    why, sizeof(why), "%s", freezer_last_reason(p->freezer));
		log_release();
		done(p, false, rc, 0, why);
	}
}

/*
 * Nothing is frozen that no guard holds: a FREEZE that comes while a
 * new guard starts (the last one was killed a moment ago) waits for its
 * hello, at most GUARD_AWAIT_MS, rather than fail; then it is tried
 * anyway, and refused by guard_hold() if there is still none.
 */
static void
gwait_cb(evutil_socket_t fd, short what, void *arg)
{
	struct priv *p = arg;
	struct timeval tv = {0, GUARD_POLL_MS * 1000};

	if (!p->st.busy || p->st.running != PRIV_FREEZE)
		return;
	if (guard_ready(p->guard) || mono_ms() >= p->gwait_until) {
		start_freeze(p);
		return;
	}
	evtimer_add(p->gwait, &tv);
}

static void
do_device(struct priv *p)
{
	char why[PRIV_REASON_MAX];
	int rc;

	if ((kept_dev < 0 || p->cur.arg == 1) &&
	    (rc = priv_device_renew(p->c)) < 0) {
		/* busy: the reason names who holds it (the engine cannot
		 * look into /proc) */
		if (rc == -EBUSY)
			host_device_holder(p->c->device, why, sizeof(why));
		else
			errfmt(why, sizeof(why), -rc, "%s", p->c->device);
		done(p, false, rc, 0, why);
		return;
	}
	/* done() without its reply, then the reply with the fd (a copy:
	 * ours stays open) */
	p->st.busy = false;
	p->st.running = 0;
	p->ndone++;
	reply(p, PRIV_DEVICE, 0, 0, 0, NULL, kept_dev);
}

/* The plan, made anew from the mount table: 0, or -1 with the reply
 * (a failure) sent. */
static int
plan_anew(struct priv *p)
{
	char err[PRIV_REASON_MAX];

	if (p->planned) {
		plan_free(&p->plan);
		p->planned = false;
	}
	p->planned_ms = mono_ms();
	if (plan_build(&p->plan, p->c, NULL, devstack_system_root, true, err,
	        sizeof(err)) == -1) {
		log_warnx("priv: txn %llu: plan: %s",
		    (unsigned long long)p->cur.txid, err);
		done(p, false, -EIO, 0, err);
		return -1;
	}
	p->planned = true;
	plan_log(&p->plan);
	if (p->plan.veto) {
		log_warnx("priv: txn %llu: plan vetoed: %s",
		    (unsigned long long)p->cur.txid, p->plan.veto_reason);
		done(p, false, -EPERM, 0, p->plan.veto_reason);
		return -1;
	}
	return 0;
}

/* Has the mount table changed since it was last asked (no watch: it
 * may have)?  Asked only when a plan is about to be used: no timer. */
static bool
mounts_changed(struct priv *p)
{
	return p->mw == NULL || mountwatch_changed(p->mw);
}

static void
do_check(struct priv *p)
{
	/* the mount table as at HOT_BACKUP: its plan serves (the freezer
	 * checks each target's mount and device when it opens it: a plan
	 * can never make it freeze another) */
	if (!mounts_changed(p) && p->planned && p->reusable &&
	    mono_ms() - p->planned_ms <= PLAN_REUSE_MS) {
		p->reusable = false;
		log_debug("plan: the mount table is as at HOT_BACKUP");
		done(p, true, 0, (uint32_t)p->plan.ntargets, NULL);
		return;
	}
	if (plan_anew(p) == 0) {
		p->reusable = true;
		done(p, true, 0, (uint32_t)p->plan.ntargets, NULL);
	}
}

static void
do_request(struct priv *p)
{
	const struct priv_req *r = &p->cur;
	static const enum hooks_phase phases[] = {
	    [PRIV_PHASE_FREEZE] = HOOKS_FREEZE,
	    [PRIV_PHASE_THAW] = HOOKS_THAW,
	    [PRIV_PHASE_ABORT] = HOOKS_ABORT,
	};
	char why[PRIV_REASON_MAX];
	int rc;

	p->st.busy = true;
	p->st.running = r->type;
	switch (r->type) {
	case PRIV_DEVICE:
		do_device(p);
		return;
	case PRIV_CHECK:
		do_check(p);
		return;
	case PRIV_FREEZE:
		p->reusable = false; /* one FREEZE each */
		/* the host's FREEZE: the engine forgot what it was told (a
		 * local one's does not end what the host is owed) */
		if (r->arg == 0)
			p->told = 0;
		/* hooks may have run for seconds since this txn's CHECK; a
		 * SIGHUP meanwhile dropped its plan (priv_conf_changed()) */
		if (!p->planned ||
		    (p->mw != NULL && mountwatch_changed(p->mw))) {
			log_info(
			    "priv: txn %llu: the mount table or the configuration changed since its plan: planned anew",
			    (unsigned long long)p->cur.txid);
			if (plan_anew(p) == -1)
				return;
		}
		p->gwait_until = mono_ms() + GUARD_AWAIT_MS;
		if (p->guard != NULL && !guard_ready(p->guard)) {
			gwait_cb(-1, 0, p);
			return;
		}
		start_freeze(p);
		return; /* freeze_cb() */
	case PRIV_THAW:
		if ((rc = freezer_thaw(p->freezer, r->txid)) < 0)
			done(p, false, rc, 0, "the freezer is busy");
		return; /* freeze_cb() */
	case PRIV_HOOKS:
		if ((rc = hooks_run(p->hooks, p->c->hooks_dir, phases[r->arg],
		         p->c->hook_timeout_ms, r->txid)) < 0) {
			errfmt(
			    why, sizeof(why), -rc, "hooks %s", p->c->hooks_dir);
			done(p, false, rc, 0, why);
		}
		return; /* hooks_cb() */
	case PRIV_ARM:
		if (p->guard == NULL) {
			done(p, false, -ENOTCONN, 0, "no thaw guard");
			return;
		}
		rc = guard_arm(p->guard, r->arg);
		if (rc == 0)
			p->arm_ms = r->arg;
		done(p, rc == 0, rc, r->arg, rc == 0 ? NULL : "guard_arm");
		return;
	case PRIV_DISARM:
		/* nothing frozen (privproto.c): the guard holds nothing */
		done(p, true, 0, 0, NULL);
		return;
	default: /* side requests never come here */
		done(p, false, -EINVAL, 0, "not a stage");
		return;
	}
}

/* Append one field: control bytes as '?', so no field breaks a line. */
static size_t
put_field(char *out, size_t room, const char *f, bool last)
{
	size_t n = 0;

	for (; f != NULL && *f != '\0' && n + 1 < room; f++, n++)
		out[n] = ((unsigned char)*f < 0x20 || *f == 0x7f) ? '?' : *f;
	if (n + 1 > room)
		return room;
	out[n++] = last ? '\n' : '\t';
	return n;
}

/* One line of fields, whole or not at all: its length, or 0. */
static size_t
put_line(char *out, size_t room, const char *const *f, size_t nf)
{
	size_t i, n = 0, k;

	for (i = 0; i < nf; i++) {
		k = put_field(out + n, room - n, f[i], i + 1 == nf);
		if (n + k >= room ||
		    out[n + k - 1] != (i + 1 == nf ? '\n' : '\t'))
			return 0;
		n += k;
	}
	return n;
}

size_t
priv_plan_text(const struct plan *pl, char *out, size_t max)
{
	/* room kept for the last line: "more\t<n>\n" */
	const size_t tail = 32;
	char level[16], more[24];
	const char *mf[] = {"more", more};
	size_t i, n = 0, k, left = 0;

	if (max <= tail)
		return 0;
	if (pl->veto) {
		const char *f[] = {"veto", pl->veto_reason};

		n += put_line(out + n, max - tail - n, f, 2);
	}
	for (i = 0; i < pl->ntargets; i++) {
		const struct plan_target *t = &pl->targets[i];
		const char *f[] = {"target", t->mountpoint, t->fstype,
		    t->source, level, t->order_reason};

		snprintf(level, sizeof(level), "%d", t->level);
		if (left > 0 ||
		    (k = put_line(out + n, max - tail - n, f, 6)) == 0)
			left++;
		else
			n += k;
	}
	for (i = 0; i < pl->nskips; i++) {
		const struct plan_skip *sk = &pl->skips[i];
		const char *f[] = {
		    "skip", sk->mountpoint, sk->fstype, sk->reason};

		if (left > 0 ||
		    (k = put_line(out + n, max - tail - n, f, 4)) == 0)
			left++;
		else
			n += k;
	}
	if (left > 0) {
		snprintf(more, sizeof(more), "%zu", left);
		n += put_line(out + n, max - n, mf, 2);
	}
	return n;
}

size_t
priv_hooks_text(const struct plan_hooks *ph, char *out, size_t max)
{
	/* room kept for the last line: "hooks_more\t<n>\n" */
	const size_t tail = 40;
	const char *ff[] = {"hooks_fail", ph->why};
	char more[24];
	const char *mf[] = {"hooks_more", more};
	size_t i, n = 0, k, left = 0;

	if (max <= tail)
		return 0;
	if (ph->why[0] != '\0')
		n += put_line(out, max - tail, ff, 2);
	for (i = 0; ph->names != NULL && ph->names[i] != NULL; i++) {
		const char *f[] = {"hook", ph->names[i]};

		if (left > 0 ||
		    (k = put_line(out + n, max - tail - n, f, 2)) == 0) {
			left++;
			continue;
		}
		n += k;
	}
	if (left > 0) {
		snprintf(more, sizeof(more), "%zu", left);
		n += put_line(out + n, max - n, mf, 2);
	}
	return n;
}

static void
do_cancel(struct priv *p, const struct priv_req *r)
{
	char why[PRIV_REASON_MAX];

	snprintf(why, sizeof(why), "cancelling %s txn %llu",
	    priv_type_name(p->st.running), (unsigned long long)r->txid);
	log_warnx("priv: the engine cancels %s txn %llu",
	    priv_type_name(p->st.running), (unsigned long long)r->txid);
	reply(p, PRIV_CANCEL, r->txid, 0, 0, why, -1);
	if (p->st.running == PRIV_FREEZE) {
		/* undone once back: freeze_cb() replies -ECANCELED */
		freezer_cancel(p->freezer);
		return;
	}
	/* HOOKS: hooks_cancel() calls no one back */
	hooks_cancel(p->hooks);
	done(p, false, -ECANCELED, 0, "cancelled by the engine");
}

static void
do_comm(struct priv *p, const struct priv_req *r)
{
	char comm[64], err[PRIV_REASON_MAX];
	size_t i;
	int rc;

	if ((rc = proc_comm((pid_t)r->arg, comm, sizeof(comm))) < 0) {
		errfmt(err, sizeof(err), -rc, "the command name of process %u",
		    r->arg);
		reply(p, PRIV_COMM, 0, rc, r->arg, err, -1);
		return;
	}
	for (i = 0; comm[i] != '\0'; i++)
		if (!isprint((unsigned char)comm[i]))
			comm[i] = '?';
	reply(p, PRIV_COMM, 0, 0, r->arg, comm, -1);
}

static void
do_plan(struct priv *p)
{
	char err[PRIV_REASON_MAX], *text;
	char htext[PRIV_PLAN_MAX / 4];
	struct plan_hooks ph = {0};
	struct plan pl;
	size_t n, h;

	if (plan_build(&pl, p->c, NULL, devstack_system_root, true, err,
	        sizeof(err)) == -1) {
		reply(p, PRIV_PLAN, 0, -EIO, 0, err, -1);
		return;
	}
	if ((text = malloc(PRIV_PLAN_MAX)) == NULL ||
	    plan_hooks_read(p->c->hooks_dir, &ph) != 0) {
		free(text);
		plan_hooks_clear(&ph);
		plan_free(&pl);
		reply(p, PRIV_PLAN, 0, -ENOMEM, 0, "plan text", -1);
		return;
	}
	/* the hooks last, in a quarter of the room at most: the
	 * filesystems are what the plan is for */
	h = priv_hooks_text(&ph, htext, sizeof(htext));
	n = priv_plan_text(&pl, text, PRIV_PLAN_MAX - h);
	memcpy(text + n, htext, h);
	reply_text(
	    p, PRIV_PLAN, 0, 0, (uint32_t)(n + h), NULL, -1, text, n + h);
	plan_hooks_clear(&ph);
	free(text);
	plan_free(&pl);
}

/* The engine's text, to the parent's own metrics_file (metrics.c). */
static void
do_metrics(struct priv *p, const struct priv_req *r, const unsigned char *text)
{
	int rc;

	if (p->c->metrics_file[0] == '\0') {
		reply(p, PRIV_METRICS, 0, -ENOENT, 0, "no metrics_file", -1);
		return;
	}
	if ((rc = metrics_write_text(
	         p->c->metrics_file, (const char *)text, r->arg)) < 0) {
		reply(p, PRIV_METRICS, 0, rc, 0, "metrics", -1);
		return;
	}
	reply(p, PRIV_METRICS, 0, 0, r->arg, NULL, -1);
}

/* The configuration file, for the engine to read (it cannot open it). */
static void
do_conf(struct priv *p)
{
	char why[PRIV_REASON_MAX];
	int fd;

	if (conf_path[0] == '\0') {
		reply(p, PRIV_CONF, 0, -ENOENT, 0, "no configuration file", -1);
		return;
	}
	if ((fd = open(conf_path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		int e = errno;

		errfmt(why, sizeof(why), e, "%s", conf_path);
		reply(p, PRIV_CONF, 0, -e, 0, why, -1);
		return;
	}
	reply(p, PRIV_CONF, 0, 0, 0, NULL, fd);
	close(fd);
}

static void
do_side(struct priv *p, const struct priv_req *r, const unsigned char *buf)
{
	switch (r->type) {
	case PRIV_CANCEL:
		do_cancel(p, r);
		break;
	case PRIV_COMM:
		do_comm(p, r);
		break;
	case PRIV_PLAN:
		do_plan(p);
		break;
	case PRIV_METRICS:
		do_metrics(p, r, buf + sizeof(*r));
		break;
	case PRIV_CONF:
		do_conf(p);
		break;
	}
}

/* Close any descriptors the engine sent along: it has none to give. */
static void
close_passed(struct msghdr *mh)
{
	struct cmsghdr *cm;
	size_t i, n;
	int fd;

	for (cm = CMSG_FIRSTHDR(mh); cm != NULL; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			memcpy(
			    &fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(fd));
			close(fd);
		}
	}
}

static void
gone(struct priv *p)
{
	int rc;

	p->behind = p->st.tx == PRIV_TX_FROZEN &&
	    !(p->st.busy && p->st.running == PRIV_FREEZE);
	p->nbehind = (unsigned int)freezer_nfrozen(p->freezer);
	if (freezer_nfrozen(p->freezer) > 0)
		log_warnx(
		    "priv: the engine is gone while txn %llu holds %zu filesystem%s frozen: thawing",
		    (unsigned long long)p->st.txid, freezer_nfrozen(p->freezer),
		    freezer_nfrozen(p->freezer) == 1 ? "" : "s");
	else if (!p->st.busy)
		log_info("priv: the engine is gone");
	freezer_thaw_now(p->freezer);
	/* kept in run_dir too (after the thaw, which clears the record):
	 * this parent may die before the host's THAW */
	if (p->behind && p->record != NULL &&
	    (rc = record_set_behind(p->record, p->nbehind)) != 0)
		log_warnx(
		    "priv: keeping what was thawed behind: %s", strerror(-rc));
	if (p->ev != NULL) {
		event_free(p->ev);
		p->ev = NULL;
	}
	p->dead = true;
	if (p->st.busy && p->st.running == PRIV_HOOKS) {
		/* a hook killed in "freeze" counts as having seen it */
		hooks_cancel(p->hooks);
		priv_apply(&p->st, &p->cur, false, mono_ms());
		p->st.busy = false;
		p->st.running = 0;
	}
	if (p->st.busy &&
	    (p->st.running == PRIV_FREEZE || p->st.running == PRIV_THAW)) {
		/* back later: done() calls gone_final() */
		log_warnx(
		    "priv: the engine is gone during %s txn %llu: %s once it is back",
		    priv_type_name(p->st.running),
		    (unsigned long long)p->st.txid,
		    p->st.running == PRIV_FREEZE ? "undone" : "thawed");
		if (p->st.running == PRIV_FREEZE)
			freezer_cancel(p->freezer);
		return;
	}
	gone_final(p);
}

static void
sock_cb(evutil_socket_t fd, short what, void *arg)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * 8)];
	} u;
	struct priv *p = arg;
	struct priv_req r;
	char why[PRIV_REASON_MAX];
	struct iovec iov = {p->buf, MSG_MAX};
	struct msghdr mh;
	ssize_t n;
	int rc;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = u.buf;
	mh.msg_controllen = sizeof(u.buf);
	if ((n = recvmsg(
	         fd, &mh, MSG_TRUNC | MSG_DONTWAIT | MSG_CMSG_CLOEXEC)) == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		log_warn("priv: engine socket");
		gone(p);
		return;
	}
	close_passed(&mh);
	if (n == 0) {
		gone(p);
		return;
	}
	rc = priv_check(
	    &p->st, p->buf, (size_t)n, mono_ms(), &r, why, sizeof(why));
	if (rc != 0) {
		struct priv_req h;

		memset(&h, 0, sizeof(h));
		memcpy(
		    &h, p->buf, (size_t)n < sizeof(h) ? (size_t)n : sizeof(h));
		/* every refusal is answered; the log gets the first ones
		 * and then every 1000th, so a flood cannot fill it */
		if (p->nrefused < 100 || p->nrefused % 1000 == 0)
			log_warnx("priv: refused: %s (%llu refused so far)",
			    why, (unsigned long long)p->nrefused + 1);
		p->nrefused++;
		/* an unknown type is not echoed: it could look like an
		 * event to the engine */
		reply(p, h.type <= PRIV_TYPE_MAX ? h.type : 0, h.txid, rc, 0,
		    why, -1);
		return;
	}
	log_debug("priv: %s txn %llu arg %u", priv_type_name(r.type),
	    (unsigned long long)r.txid, r.arg);
	if (priv_is_side(r.type)) {
		do_side(p, &r, p->buf);
		return;
	}
	p->cur = r;
	do_request(p);
}

/* Tell the engine, unasked. */
static void
event_to_engine(struct priv *p, enum priv_event type, int32_t status,
    uint32_t value, const char *reason)
{
	reply(p, (uint16_t)type, p->st.txid, status, value, reason, -1);
}

bool
priv_thawed_behind(const struct priv *p, unsigned int *n)
{
	if (p->dead && p->behind) {
		*n = p->nbehind;
		return true;
	}
	/* told and gone before a FREEZE: the host's THAW may still come,
	 * so the next engine is told again (if the told one answered it,
	 * a second THAW gets E_FAIL too: the safe side) */
	*n = p->told;
	return p->dead && p->told > 0;
}

void
priv_tell_thawed_behind(struct priv *p, unsigned int n)
{
	p->told = n > 0 ? n : 1;
	event_to_engine(p, PRIV_EV_THAWED_BEHIND, 0, n,
	    "a previous engine or daemon died in its frozen window");
}

void
priv_guard(struct priv *p, const struct guard_event *ev)
{
	char why[PRIV_REASON_MAX];

	switch (ev->type) {
	case GUARD_EV_READY:
		p->guard_gen++;
		/* a running job's threads hold what is frozen: handed over
		 * once it is back (freeze_cb) */
		if (!p->st.busy)
			handoff(p);
		break;
	case GUARD_EV_THAWED:
		event_to_engine(
		    p, PRIV_EV_THAWED, -ev->err, (uint32_t)ev->slot, ev->path);
		break;
	case GUARD_EV_LEASE:
		snprintf(why, sizeof(why),
		    "%u thawed, %u found thawed, %u failed", ev->nthawed,
		    ev->nnotfrozen, ev->nfailed);
		event_to_engine(p, PRIV_EV_LEASE, 0, ev->nthawed, why);
		break;
	case GUARD_EV_DIED:
		event_to_engine(p, PRIV_EV_GUARD_DIED, 0, (uint32_t)ev->status,
		    "the thaw guard died");
		break;
	default:
		break;
	}
}

struct priv *
priv_new(struct event_base *base, const struct conf *c, struct guard *guard,
    int sock, priv_gone_fn gonefn, void *arg, char *err, size_t errlen)
{
	static const struct freezer_hooks fh0 = {
	    fs_prepare, fs_released, NULL, NULL, fs_expediting, fs_prepared};
	struct freezer_hooks fh = fh0;
	struct priv *p;
	int fl;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		errfmt(err, errlen, errno, "priv");
		return NULL;
	}
	p->c = c;
	p->base = base;
	p->guard = guard;
	p->sock = sock;
	p->gone = gonefn;
	p->arg = arg;
	p->st.max_frozen_ms = c->max_frozen_ms;
	if ((fl = fcntl(sock, F_GETFL)) == -1 ||
	    fcntl(sock, F_SETFL, fl | O_NONBLOCK) == -1) {
		errfmt(err, errlen, errno, "engine socket");
		free(p);
		return NULL;
	}
	if ((p->buf = malloc(MSG_MAX)) == NULL ||
	    (p->freezer = freezer_new(base, freeze_cb, p)) == NULL ||
	    (p->hooks = hooks_new(base, hooks_cb, p)) == NULL ||
	    (p->ev = event_new(base, sock, EV_READ | EV_PERSIST, sock_cb, p)) ==
	        NULL ||
	    (p->gwait = evtimer_new(base, gwait_cb, p)) == NULL) {
		errfmt(err, errlen, errno, "priv");
		priv_free(p);
		return NULL;
	}
	fh.arg = p;
	freezer_set_hooks(p->freezer, &fh);
	event_add(p->ev, NULL);
	/* no watch (no /proc): no event, FREEZE re-checks every target */
	if ((p->mw = mountwatch_open(NULL)) != NULL)
		(void)mountwatch_changed(p->mw); /* primed: now is known */
	return p;
}

void
priv_free(struct priv *p)
{
	if (p == NULL)
		return;
	if (p->freezer != NULL) {
		freezer_thaw_now(p->freezer);
		freezer_free(p->freezer);
	}
	if (p->hooks != NULL)
		hooks_free(p->hooks);
	if (p->ev != NULL)
		event_free(p->ev);
	if (p->gwait != NULL)
		event_free(p->gwait);
	mountwatch_close(p->mw);
	if (p->planned)
		plan_free(&p->plan);
	if (p->sock >= 0)
		close(p->sock);
	free(p->buf);
	free(p);
}
