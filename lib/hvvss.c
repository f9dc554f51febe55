/*
 * hvvss.c: libhvvss, an application's end of hv_vss_daemon's socket
 * (doc/DESIGN.md, "Application socket (protocol 1)"; the lines
 * themselves are parsed and formatted by common/appproto.c, the daemon's
 * own codec).
 *
 * The library runs inside other people's programs, so it keeps to a few
 * rules: it never logs, exits or raises SIGPIPE (MSG_NOSIGNAL), it
 * returns -errno, its buffers are fixed (one line, APP_LINE_MAX), and it
 * never blocks the caller's loop for long: the socket is non-blocking,
 * hvvss_dispatch reads only what has arrived, and an answer the daemon
 * does not take is given up after a deadline.
 *
 * Two things are subtler than they look.  hvvss_open reads the daemon's
 * OK with MSG_PEEK and consumes exactly that line, so that a request sent
 * right behind it stays in the socket, where the caller's poll sees it;
 * a library-side buffer would hide it until the next unrelated wakeup.
 * And an application that answered FROZEN holds its writes until THAW: if
 * the daemon dies or breaks the protocol in between, nobody would ever
 * send that THAW, so the library calls thaw (aborted) itself when the
 * connection fails while frozen.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "appproto.h"
#include "hvvss.h"
#include "util.h"

_Static_assert(HVVSS_TIER_DEFAULT == APP_TIER_DEFAULT, "default tier");
_Static_assert(HVVSS_TIER_MAX == APP_TIER_MAX, "highest tier");

/* An answer the daemon does not read within this is a dead daemon. */
#define HVVSS_SEND_TIMEOUT_MS 5000
/* Between connect attempts while the daemon's backlog is full. */
#define HVVSS_CONNECT_RETRY_MS 10
/*
 * The longest reason a VETO line can carry: "VETO " + a 20-digit txid +
 * " " + reason + "\n" fits in APP_LINE_MAX.
 */
#define HVVSS_VETO_REASON_MAX (APP_LINE_MAX - 5 - 20 - 1 - 1)

struct hvvss {
	int fd;
	uint64_t app_id;
	struct hvvss_callbacks cb;
	void *arg;
	int err; /* sticky: the handle is dead */
	bool frozen; /* answered FROZEN, no THAW yet */
	uint64_t frozen_txid;
	size_t inlen;
	char in[APP_LINE_MAX]; /* a partial line, at most */
};

/* Wait until fd is ready for events or deadline (ms) passes. */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = {.fd = fd, .events = events};
	int64_t left;
	int n;

	for (;;) {
		left = deadline - (int64_t)mono_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (n > 0)
			return 0; /* POLLHUP, POLLERR: the next call says */
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

/* Send all of buf, waiting for room until deadline. */
static int
send_all(int fd, const char *buf, size_t len, int64_t deadline)
{
	ssize_t n;
	int rc;

	while (len > 0) {
		n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n >= 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EPIPE)
			return -ECONNRESET; /* one code for "daemon gone" */
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		if ((rc = wait_fd(fd, POLLOUT, deadline)) < 0)
			return rc;
	}
	return 0;
}

static int
send_msg(int fd, const struct app_msg *m, int64_t deadline)
{
	char line[APP_LINE_MAX + 1];
	int len;

	if ((len = app_format(m, line, sizeof(line))) < 0)
		return len;
	return send_all(fd, line, (size_t)len, deadline);
}

static int
connect_until(int fd, const struct sockaddr_un *sun, int64_t deadline)
{
	const struct timespec pause = {0, HVVSS_CONNECT_RETRY_MS * 1000000L};

	for (;;) {
		if (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) ==
		    0)
			return 0;
		if (errno == EINTR)
			continue;
		/* A non-blocking AF_UNIX connect says EAGAIN, not
		 * EINPROGRESS, when the listener's backlog is full. */
		if (errno != EAGAIN)
			return -errno;
		if ((int64_t)mono_ms() >= deadline)
			return -ETIMEDOUT;
		nanosleep(&pause, NULL);
	}
}

/*
 * Read exactly one line (with its '\n') into line, consuming nothing
 * behind it: peek, then take up to and including the newline.
 */
static int
read_one_line(int fd, char line[APP_LINE_MAX], size_t *lenp, int64_t deadline)
{
	size_t got = 0, take;
	char *nl;
	ssize_t n;
	int rc;

	for (;;) {
		if ((rc = wait_fd(fd, POLLIN, deadline)) < 0)
			return rc;
		n = recv(fd, line + got, APP_LINE_MAX - got, MSG_PEEK);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN ||
			    errno == EWOULDBLOCK)
				continue;
			return -errno;
		}
		nl = memchr(line + got, '\n', (size_t)n);
		take = nl != NULL ? (size_t)(nl - (line + got)) + 1 : (size_t)n;
		n = recv(fd, line + got, take, 0);
		if (n != (ssize_t)take)
			return n < 0 ? -errno : -EIO;
		got += take;
		if (nl != NULL) {
			*lenp = got - 1;
			return 0;
		}
		if (got == APP_LINE_MAX)
			return -EPROTO; /* longer than any line may be */
	}
}

int
hvvss_open(const char *path, const char *name, int tier,
    unsigned int timeout_ms, struct hvvss **out)
{
	struct sockaddr_un sun;
	struct app_msg m;
	char line[APP_LINE_MAX];
	struct hvvss *h;
	int64_t deadline;
	size_t len = 0;
	int rc;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	if (path == NULL)
		path = HVVSS_SOCKET_DEFAULT;
	if (name == NULL || !app_name_valid(name) || tier < 0 ||
	    tier > HVVSS_TIER_MAX || *path == '\0')
		return -EINVAL;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);

	memset(&m, 0, sizeof(m));
	m.type = AM_HELLO;
	m.version = APP_PROTO_VERSION;
	m.tier = (unsigned int)tier;
	m.timeout_ms = timeout_ms;
	m.has_timeout = timeout_ms != 0;
	strcpy(m.name, name); /* app_name_valid: at most APP_NAME_MAX */

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return -ENOMEM;
	h->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (h->fd == -1) {
		rc = -errno;
		free(h);
		return rc;
	}
	deadline = (int64_t)mono_ms() + HVVSS_OPEN_TIMEOUT_MS;
	if ((rc = connect_until(h->fd, &sun, deadline)) < 0 ||
	    (rc = send_msg(h->fd, &m, deadline)) < 0 ||
	    (rc = read_one_line(h->fd, line, &len, deadline)) < 0)
		goto fail;
	if (app_parse(line, len, &m) < 0) {
		rc = -EPROTO;
		goto fail;
	}
	switch (m.type) {
	case AM_OK:
		h->app_id = m.app_id;
		*out = h;
		return 0;
	case AM_ERR:
		rc = -EPERM; /* the daemon logs why */
		break;
	default:
		rc = -EPROTO;
		break;
	}
fail:
	hvvss_close(h);
	return rc;
}

void
hvvss_set_callbacks(
    struct hvvss *h, const struct hvvss_callbacks *cb, void *arg)
{
	if (cb != NULL)
		h->cb = *cb;
	else
		memset(&h->cb, 0, sizeof(h->cb));
	h->arg = arg;
}

int
hvvss_fd(const struct hvvss *h)
{
	return h->fd;
}

uint64_t
hvvss_app_id(const struct hvvss *h)
{
	return h->app_id;
}

/*
 * Make what a callback wrote a valid <reason>: printable ASCII, single
 * spaces, no space at either end, short enough for the VETO line.  A
 * newline in it would otherwise end the line early and let an
 * application's text be read as a second request.  Returns the length.
 */
static size_t
sanitize(const char *in, char *out, size_t cap)
{
	size_t n = 0;
	bool space = false;
	unsigned char c;

	for (; *in != '\0' && n + 1 < cap; in++) {
		c = (unsigned char)*in;
		if (c <= ' ' || c == 0x7f) {
			space = n > 0;
			continue;
		}
		if (space) {
			if (n + 2 >= cap)
				break; /* no room for what follows it */
			out[n++] = ' ';
			space = false;
		}
		out[n++] = c < 0x80 ? (char)c : '?';
	}
	out[n] = '\0';
	return n;
}

/*
 * strerror_r() is GNU's (returning the message) where glibc and
 * _GNU_SOURCE meet, POSIX's (returning 0 and filling buf) elsewhere, as
 * on FreeBSD: "" if it has no message.
 */
static const char *
errstr(int err, char *buf, size_t len)
{
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
	return strerror_r(err, buf, len);
#else
	return strerror_r(err, buf, len) == 0 ? buf : "";
#endif
}

/* The reason for a veto: the callback's, else what its rc says. */
static void
veto_reason(int rc, const char *in, char *out, size_t cap)
{
	char ebuf[128];

	if (sanitize(in, out, cap) > 0)
		return;
	/* strerror_r may speak the locale's language: sanitize that too */
	if (rc < 0 && sanitize(errstr(-rc, ebuf, sizeof(ebuf)), out, cap) > 0)
		return;
	snprintf(out, cap, "vetoed (%d)", rc);
}

static int
answer(struct hvvss *h, enum app_msg_type type, uint64_t txid, int rc,
    const char *reason)
{
	struct app_msg m;

	memset(&m, 0, sizeof(m));
	m.type = rc == 0 ? type : AM_VETO;
	m.txid = txid;
	if (rc != 0)
		veto_reason(rc, reason, m.reason, HVVSS_VETO_REASON_MAX + 1);
	return send_msg(h->fd, &m, (int64_t)mono_ms() + HVVSS_SEND_TIMEOUT_MS);
}

/* Act on one line from the daemon (without its '\n'). */
static int
handle_line(struct hvvss *h, const char *line, size_t len)
{
	char reason[HVVSS_VETO_REASON_MAX + 1];
	struct app_msg m;
	int rc = 0;

	if (app_parse(line, len, &m) < 0)
		return -EPROTO;
	reason[0] = '\0';
	switch (m.type) {
	case AM_CHECK:
		if (h->cb.check != NULL)
			rc =
			    h->cb.check(m.txid, reason, sizeof(reason), h->arg);
		reason[sizeof(reason) - 1] = '\0';
		return answer(h, AM_READY, m.txid, rc, reason);
	case AM_FREEZE:
		if (h->cb.freeze != NULL)
			rc = h->cb.freeze(
			    m.txid, m.ms, reason, sizeof(reason), h->arg);
		reason[sizeof(reason) - 1] = '\0';
		if (rc == 0) {
			/* frozen now, even if FROZEN cannot be sent */
			h->frozen = true;
			h->frozen_txid = m.txid;
		}
		return answer(h, AM_FROZEN, m.txid, rc, reason);
	case AM_THAW:
	case AM_ABORT:
		h->frozen = false;
		if (h->cb.thaw != NULL)
			h->cb.thaw(m.txid, m.type == AM_ABORT, h->arg);
		return answer(h, AM_THAWED, m.txid, 0, NULL);
	default:
		return -EPROTO; /* OK, ERR or an app's word */
	}
}

/* The handle is dead: remember why, and release a held freeze. */
static int
fail(struct hvvss *h, int rc)
{
	h->err = rc;
	if (h->frozen) {
		h->frozen = false;
		if (h->cb.thaw != NULL)
			h->cb.thaw(h->frozen_txid, true, h->arg);
	}
	return rc;
}

int
hvvss_dispatch(struct hvvss *h)
{
	char *p, *nl;
	size_t left;
	ssize_t n;
	int rc;

	if (h->err != 0)
		return h->err;
	for (;;) {
		n = recv(h->fd, h->in + h->inlen, sizeof(h->in) - h->inlen,
		    MSG_DONTWAIT);
		if (n == 0)
			return fail(h, -ECONNRESET);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return fail(h, -errno);
		}
		h->inlen += (size_t)n;
		p = h->in;
		left = h->inlen;
		while ((nl = memchr(p, '\n', left)) != NULL) {
			if ((rc = handle_line(h, p, (size_t)(nl - p))) < 0)
				return fail(h, rc);
			left -= (size_t)(nl - p) + 1;
			p = nl + 1;
		}
		memmove(h->in, p, left);
		h->inlen = left;
		if (h->inlen == sizeof(h->in))
			return fail(h, -EPROTO); /* a line too long */
	}
}

int
hvvss_run(struct hvvss *h)
{
	struct pollfd pfd = {.fd = h->fd, .events = POLLIN};
	int rc;

	for (;;) {
		if ((rc = hvvss_dispatch(h)) < 0)
			return rc;
		if (poll(&pfd, 1, -1) == -1)
			return -errno; /* -EINTR: the caller decides */
	}
}

void
hvvss_close(struct hvvss *h)
{
	if (h == NULL)
		return;
	if (h->fd != -1)
		close(h->fd);
	free(h);
}
