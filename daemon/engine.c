/*
 * engine.c: the engine's end of the parent's socket (engine.h).
 *
 * Hazards:
 * - The parent refuses a stage sent while another runs ("busy"), and
 *   the machine may ask for two at once (a cancel's abort hooks while a
 *   freeze stage ends): stages are queued here and sent one at a time,
 *   the next when the reply to the last one is in.
 * - engine_call() reads the socket itself; what it reads that is not
 *   its reply (events, replies to other requests) is kept and handed on
 *   from the loop, so that no callback runs inside the caller's call.
 * - The parent's end closing means the parent is gone (the kernel kills
 *   us too: PDEATHSIG); gone() is called once.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "engine.h"
#include "log.h"
#include "privproto.h"
#include "util.h"

#define STAGES_MAX 16
#define KEPT_MAX 32
#define RECV_MAX (sizeof(struct priv_rep) + PRIV_PLAN_MAX)

static struct {
	int sock;
	struct event *ev;
	struct event *later; /* hands kept messages on */
	struct engine_cb cb;
	struct priv_req stages[STAGES_MAX]; /* [0] runs if running */
	size_t nstages;
	bool running;
	struct priv_rep kept[KEPT_MAX];
	size_t nkept;
	bool gone;
	unsigned char *buf;
} e = {.sock = -1};

bool
engine_on(void)
{
	return e.sock >= 0;
}

static int
send_req(const struct priv_req *r, const void *text, size_t len)
{
	struct iovec iov[2] = {
	    {(void *)(uintptr_t)r, sizeof(*r)}, {(void *)(uintptr_t)text, len}};
	struct msghdr mh;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = len > 0 ? 2 : 1;
	if (sendmsg(e.sock, &mh, MSG_NOSIGNAL) == -1)
		return -errno;
	return 0;
}

/* The next stage, if none runs. */
static void
next_stage(void)
{
	int rc;

	while (!e.running && e.nstages > 0) {
		if ((rc = send_req(&e.stages[0], NULL, 0)) == 0) {
			e.running = true;
			return;
		}
		log_warnx("engine: cannot send %s txn %llu to the parent: %s",
		    priv_type_name(e.stages[0].type),
		    (unsigned long long)e.stages[0].txid, strerror(-rc));
		/* the parent is gone; the socket's close says so */
		memmove(&e.stages[0], &e.stages[1],
		    --e.nstages * sizeof(e.stages[0]));
	}
}

static void
parent_gone(void)
{
	if (e.gone)
		return;
	e.gone = true;
	if (e.ev != NULL)
		event_del(e.ev);
	e.cb.gone(e.cb.arg);
}

/* One message from the parent, handed on. */
static void
dispatch(const struct priv_rep *rep)
{
	if (rep->type >= PRIV_EV_FIRST) {
		e.cb.event(rep, e.cb.arg);
		return;
	}
	struct priv_req req;

	if (!priv_is_side(rep->type) && e.running && e.nstages > 0 &&
	    e.stages[0].type == rep->type) {
		req = e.stages[0];
		e.running = false;
		memmove(&e.stages[0], &e.stages[1],
		    --e.nstages * sizeof(e.stages[0]));
		e.cb.reply(rep, &req, e.cb.arg);
	} else
		e.cb.reply(rep, NULL, e.cb.arg);
	next_stage();
}

/* Read one message: its length (0: the parent is gone), -errno. */
static ssize_t
recv_one(int *fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov = {e.buf, RECV_MAX};
	struct msghdr mh;
	struct cmsghdr *cm;
	ssize_t n;

	*fd = -1;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = u.buf;
	mh.msg_controllen = sizeof(u.buf);
	if ((n = recvmsg(e.sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC)) == -1)
		return -errno;
	for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(int)))
			memcpy(fd, CMSG_DATA(cm), sizeof(int));
	if (n > 0 && priv_msg_kind(e.buf, (size_t)n) < 0) {
		log_warnx(
		    "engine: a message of %zd bytes from the parent that is neither a reply nor an event",
		    n);
		if (*fd >= 0)
			close(*fd);
		return -EPROTO;
	}
	return n;
}

static void
keep(const struct priv_rep *rep)
{
	if (e.nkept == KEPT_MAX) {
		log_warnx("engine: %s from the parent lost (%d kept already)",
		    priv_type_name(rep->type), KEPT_MAX);
		return;
	}
	e.kept[e.nkept++] = *rep;
	event_active(e.later, EV_TIMEOUT, 0);
}

static void
later_cb(evutil_socket_t fd, short what, void *arg)
{
	struct priv_rep rep;

	while (e.nkept > 0 && !e.gone) {
		rep = e.kept[0];
		memmove(&e.kept[0], &e.kept[1], --e.nkept * sizeof(e.kept[0]));
		dispatch(&rep);
	}
}

static void
sock_cb(evutil_socket_t fd, short what, void *arg)
{
	struct priv_rep rep;
	ssize_t n;
	int pfd;

	for (;;) {
		if ((n = recv_one(&pfd)) == -EAGAIN || n == -EINTR ||
		    n == -EPROTO)
			return;
		if (n <= 0) {
			parent_gone();
			return;
		}
		if (pfd >= 0)
			close(pfd); /* only DEVICE's has one: engine_call() */
		memcpy(&rep, e.buf, sizeof(rep));
		rep.reason[sizeof(rep.reason) - 1] = '\0';
		dispatch(&rep);
	}
}

int
engine_send(enum priv_type type, uint64_t txid, uint32_t arg, const void *text,
    size_t len)
{
	struct priv_req r;

	if (e.sock < 0 || e.gone)
		return -EPIPE;
	priv_req_make(&r, type, txid, arg);
	if (priv_is_side(type))
		return send_req(&r, text, len);
	if (e.nstages == STAGES_MAX)
		return -ENOBUFS;
	e.stages[e.nstages++] = r;
	next_stage();
	return 0;
}

bool
engine_pending(enum priv_type type, uint64_t txid)
{
	size_t i;

	for (i = 0; i < e.nstages; i++)
		if (e.stages[i].type == type &&
		    (txid == 0 || e.stages[i].txid == txid))
			return true;
	return false;
}

size_t
engine_unqueue(enum priv_type type, uint64_t txid)
{
	size_t i = e.running ? 1 : 0, n = 0;

	while (i < e.nstages) {
		if (e.stages[i].type == type && e.stages[i].txid == txid) {
			memmove(&e.stages[i], &e.stages[i + 1],
			    (e.nstages - i - 1) * sizeof(e.stages[0]));
			e.nstages--;
			n++;
		} else
			i++;
	}
	return n;
}

int
engine_call(enum priv_type type, uint64_t txid, uint32_t arg,
    struct priv_rep *rep, int *fdp, char *text, size_t textmax,
    unsigned int timeout_ms)
{
	struct priv_req r;
	uint64_t until = mono_ms() + timeout_ms, now;
	struct pollfd pfd;
	ssize_t n;
	size_t tl;
	int rc, fd;

	if (fdp != NULL)
		*fdp = -1;
	if (e.sock < 0 || e.gone)
		return -EPIPE;
	priv_req_make(&r, type, txid, arg);
	if ((rc = send_req(&r, NULL, 0)) < 0)
		return rc;
	for (;;) {
		now = mono_ms();
		if (now >= until)
			return -ETIMEDOUT;
		pfd.fd = e.sock;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)(until - now)) == -1) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if ((n = recv_one(&fd)) == -EAGAIN || n == -EINTR ||
		    n == -EPROTO)
			continue;
		if (n <= 0) {
			/* seen again by the loop, which says so */
			event_active(e.ev, EV_READ, 0);
			return -EPIPE;
		}
		memcpy(rep, e.buf, sizeof(*rep));
		rep->reason[sizeof(rep->reason) - 1] = '\0';
		if (rep->type != type || rep->txid != txid ||
		    priv_msg_kind(e.buf, (size_t)n) != 0) {
			if (fd >= 0)
				close(fd);
			keep(rep);
			continue;
		}
		if (fdp != NULL)
			*fdp = fd;
		else if (fd >= 0)
			close(fd);
		if (text != NULL && textmax > 0) {
			tl = (size_t)n - sizeof(*rep);
			if (rep->status != 0 || (size_t)n < sizeof(*rep))
				tl = 0;
			if (tl > textmax - 1)
				tl = textmax - 1;
			memcpy(text, e.buf + sizeof(*rep), tl);
			text[tl] = '\0';
		}
		return 0;
	}
}

int
engine_open(struct event_base *base, int sock, const struct engine_cb *cb,
    char *err, size_t errlen)
{
	e.sock = sock;
	e.cb = *cb;
	if ((e.buf = malloc(RECV_MAX)) == NULL ||
	    (e.ev = event_new(
	         base, sock, EV_READ | EV_PERSIST, sock_cb, NULL)) == NULL ||
	    (e.later = event_new(base, -1, 0, later_cb, NULL)) == NULL ||
	    event_add(e.ev, NULL) != 0) {
		errfmt(err, errlen, ENOMEM, "engine");
		engine_close();
		return -1;
	}
	return 0;
}

void
engine_close(void)
{
	if (e.ev != NULL)
		event_free(e.ev);
	if (e.later != NULL)
		event_free(e.later);
	free(e.buf);
	if (e.sock >= 0)
		close(e.sock);
	memset(&e, 0, sizeof(e));
	e.sock = -1;
}
