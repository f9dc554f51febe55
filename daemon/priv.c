/*
 * priv.c: the privileged parent's request handler (priv.h).
 *
 * One request at a time: a request is read, checked by privproto.c
 * against the transaction's state, and either refused at once or done;
 * while one is being done (a freeze or a hooks stage takes seconds, off
 * the loop) the socket is not read, so the engine's next request waits
 * in the socket and cannot race the one running.  The reply goes out
 * when it is done, and only then is the state moved on.
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
 *   this thread, before anything else (freezer_thaw_now).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
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
#include "log.h"
#include "plan.h"
#include "priv.h"
#include "privproto.h"
#include "util.h"

#define MOUNTINFO "/proc/self/mountinfo"

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
	struct priv_state st;
	struct priv_req cur; /* the request being done */
	size_t nfrozen; /* by the last FREEZE */
	uint64_t ndone, nrefused;
	priv_gone_fn gone;
	void *arg;
};

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

/* Send one reply, with fd (>= 0) as ancillary data. */
static void
reply(struct priv *p, uint16_t type, uint64_t txid, int32_t status,
    uint32_t value, const char *reason, int fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct priv_rep rep;
	struct iovec iov;
	struct msghdr mh;
	struct cmsghdr *cm;

	priv_rep_make(&rep, type, txid, status, value, reason);
	iov.iov_base = &rep;
	iov.iov_len = sizeof(rep);
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
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
	/* the engine reads its reply before it asks again: never full */
	if (sendmsg(p->sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) == -1)
		log_warn("priv: reply to %s txn %llu", priv_type_name(type),
		    (unsigned long long)txid);
}

/* The request being done is done: reply, move the state on, read on. */
static void
done(
    struct priv *p, bool ok, int32_t status, uint32_t value, const char *reason)
{
	struct priv_req r = p->cur;

	p->st.busy = false;
	priv_apply(&p->st, &r, ok, mono_ms());
	if (r.type == PRIV_FREEZE && ok && p->guard != NULL)
		guard_arm(p->guard, p->c->max_frozen_ms);
	p->ndone++;
	reply(p, r.type, r.txid, ok ? 0 : (status < 0 ? status : -EIO), value,
	    reason, -1);
	if (p->ev != NULL)
		event_add(p->ev, NULL);
}

static void
freeze_cb(const struct freeze_result *r, void *arg)
{
	struct priv *p = arg;

	if (r->thaw) {
		if (r->ok)
			log_info("priv: txn %llu: thawed: %s",
			    (unsigned long long)r->id,
			    r->order[0] ? r->order : "nothing was frozen");
		else
			log_warnx("priv: txn %llu: thaw failed: %s",
			    (unsigned long long)r->id, r->reason);
		done(p, r->ok, -EIO, r->ok ? (uint32_t)p->nfrozen : 0,
		    r->reason);
		if (r->ok)
			p->nfrozen = 0;
		return;
	}
	if (r->ok) {
		p->nfrozen = r->nfrozen;
		log_info("priv: txn %llu: froze %zu filesystem%s: %s",
		    (unsigned long long)r->id, r->nfrozen,
		    r->nfrozen == 1 ? "" : "s", r->order);
	} else
		log_warnx("priv: txn %llu: freeze failed: %s",
		    (unsigned long long)r->id, r->reason);
	done(p, r->ok, -EIO, (uint32_t)r->nfrozen, r->reason);
}

static void
hooks_cb(const struct hooks_result *r, void *arg)
{
	struct priv *p = arg;

	log_info("priv: txn %llu: %s hooks: %zu ran%s%s",
	    (unsigned long long)r->txid, hooks_phase_name(r->phase), r->nran,
	    r->ok ? "" : ": ", r->reason);
	done(p, r->ok, -EIO, (uint32_t)r->nran, r->reason);
}

/* Freezer hooks: the guard holds each filesystem before it is frozen. */
static int
fs_prepare(int fd, const char *path, dev_t dev, void *arg)
{
	struct priv *p = arg;
	int slot;

	if (p->guard == NULL)
		return 0;
	if ((slot = guard_hold(p->guard, fd, path)) < 0)
		return slot;
	/* stuck in the freeze itself: the guard thaws after this */
	guard_arm(p->guard, p->c->fs_freeze_timeout_ms + p->c->max_frozen_ms);
	return slot;
}

static void
fs_released(void *arg)
{
	struct priv *p = arg;

	if (p->guard != NULL)
		guard_thawed(p->guard);
}

static void
do_device(struct priv *p)
{
	char why[PRIV_REASON_MAX];
	int fd, e;

	if ((fd = open(p->c->device, O_RDWR | O_CLOEXEC)) == -1) {
		e = errno;
		errfmt(why, sizeof(why), e, "%s", p->c->device);
		done(p, false, -e, 0, why);
		return;
	}
	/* done() without its reply, then the reply with the fd */
	p->st.busy = false;
	p->ndone++;
	reply(p, PRIV_DEVICE, 0, 0, 0, NULL, fd);
	close(fd);
	event_add(p->ev, NULL);
}

static void
do_check(struct priv *p)
{
	char err[PRIV_REASON_MAX];

	if (p->planned) {
		plan_free(&p->plan);
		p->planned = false;
	}
	if (plan_build(&p->plan, p->c, MOUNTINFO, "/sys", true, err,
	        sizeof(err)) == -1) {
		log_warnx("priv: txn %llu: plan: %s",
		    (unsigned long long)p->cur.txid, err);
		done(p, false, -EIO, 0, err);
		return;
	}
	p->planned = true;
	if (p->plan.veto) {
		log_warnx("priv: txn %llu: plan vetoed: %s",
		    (unsigned long long)p->cur.txid, p->plan.veto_reason);
		done(p, false, -EPERM, 0, p->plan.veto_reason);
		return;
	}
	done(p, true, 0, (uint32_t)p->plan.ntargets, NULL);
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
	switch (r->type) {
	case PRIV_DEVICE:
		do_device(p);
		return;
	case PRIV_CHECK:
		do_check(p);
		return;
	case PRIV_FREEZE:
		if ((rc = freezer_freeze(
		         p->freezer, &p->plan, p->c->presync, r->txid)) < 0) {
			snprintf(why, sizeof(why), "%s",
			    freezer_last_reason(p->freezer));
			done(p, false, rc, 0, why);
		}
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
		done(p, rc == 0, rc, r->arg, rc == 0 ? NULL : "guard_arm");
		return;
	case PRIV_DISARM:
		/* nothing frozen (privproto.c): the guard holds nothing */
		done(p, true, 0, 0, NULL);
		return;
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
	if (freezer_nfrozen(p->freezer) > 0)
		log_warnx(
		    "priv: the engine is gone while txn %llu holds %zu filesystem%s frozen: thawing",
		    (unsigned long long)p->st.txid, freezer_nfrozen(p->freezer),
		    freezer_nfrozen(p->freezer) == 1 ? "" : "s");
	else
		log_info("priv: the engine is gone");
	freezer_thaw_now(p->freezer);
	if (p->ev != NULL) {
		event_free(p->ev);
		p->ev = NULL;
	}
	if (p->gone != NULL)
		p->gone(p, p->arg);
}

static void
sock_cb(evutil_socket_t fd, short what, void *arg)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * 8)];
	} u;
	struct priv *p = arg;
	struct priv_req buf[2]; /* room to see one too long */
	char why[PRIV_REASON_MAX];
	struct iovec iov = {buf, sizeof(buf)};
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
	    &p->st, buf, (size_t)n, mono_ms(), &p->cur, why, sizeof(why));
	if (rc != 0) {
		p->nrefused++;
		log_warnx("priv: refused: %s", why);
		reply(p, n >= 4 ? buf[0].type : 0,
		    (size_t)n >= sizeof(buf[0]) ? buf[0].txid : 0, rc, 0, why,
		    -1);
		return;
	}
	log_debug("priv: %s txn %llu arg %u", priv_type_name(p->cur.type),
	    (unsigned long long)p->cur.txid, p->cur.arg);
	/* no reading until it is done: one request at a time */
	event_del(p->ev);
	do_request(p);
}

struct priv *
priv_new(struct event_base *base, const struct conf *c, struct guard *guard,
    int sock, priv_gone_fn gonefn, void *arg, char *err, size_t errlen)
{
	static const struct freezer_hooks fh0 = {
	    fs_prepare, fs_released, NULL, NULL};
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
	if ((p->freezer = freezer_new(base, freeze_cb, p)) == NULL ||
	    (p->hooks = hooks_new(base, hooks_cb, p)) == NULL ||
	    (p->ev = event_new(base, sock, EV_READ | EV_PERSIST, sock_cb, p)) ==
	        NULL) {
		errfmt(err, errlen, errno, "priv");
		priv_free(p);
		return NULL;
	}
	fh.arg = p;
	freezer_set_hooks(p->freezer, &fh);
	event_add(p->ev, NULL);
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
	if (p->planned)
		plan_free(&p->plan);
	if (p->sock >= 0)
		close(p->sock);
	free(p);
}
