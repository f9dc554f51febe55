/*
 * guard.c: the thaw guard (see guard.h): the daemon's side of the
 * socketpair, and the guard process itself (guard_child onwards).
 *
 * Why a process and not a thread: a daemon killed with SIGKILL, crashed
 * or OOM-killed takes its threads with it, and a daemon stuck in a write
 * to a frozen filesystem may hold locks a thread would need.  The guard
 * shares nothing with the daemon but a socket: the kernel closes the
 * daemon's end whatever way the daemon dies, and that EOF is the signal.
 *
 * Hazards:
 * - The guard is forked from a daemon that may have threads (a freeze
 *   worker during guard_restart()).  After such a fork only
 *   async-signal-safe calls are allowed in the child, so the guard makes
 *   system calls and nothing else: no malloc, no stdio, no logging, no
 *   exit handlers (_exit).  Its state is one fixed struct on its stack.
 * - No file I/O after start: a read or write that reaches a frozen
 *   filesystem can block the one process meant to thaw it.  The one file
 *   it writes, /proc/self/oom_score_adj, is written before it serves, and
 *   is on procfs.  It closes every inherited fd (stdin, stdout and stderr
 *   too: they may be a file on a filesystem we freeze) and it chdirs to
 *   "/" so as not to pin a mount.
 * - mlockall(MCL_CURRENT | MCL_FUTURE): the guard must not wait for
 *   memory (swap-in, reclaim) when it matters.  This copies every page
 *   it inherited, which is why the daemon forks it early, while small.
 *   Under ASan or TSan it is skipped (and said so in guard_note()):
 *   their terabytes of shadow mapping cannot be locked.
 * - Order: fds are kept in arrival order, which is freeze order; thaw is
 *   newest first.  A filesystem on a loop device is frozen before the one
 *   holding its image, so its thaw, which writes its superblock into that
 *   image, comes after the outer one is writable again.  Thawed the other
 *   way round the guard would sleep in FITHAW forever.  For the same
 *   reason a held filesystem whose image lies on a filesystem frozen by
 *   someone else cannot be thawed by the guard (it blocks, as the daemon
 *   would).
 * - EINVAL from FITHAW: not frozen (any more); fine.  EBUSY from the
 *   daemon's FIFREEZE means someone else froze it: the daemon must then
 *   guard_drop() it, or the guard would thaw another's freeze if the
 *   daemon died before saying so (a window of one message; we err on the
 *   side of thawing).
 * - Signals: SIGTERM, SIGINT, SIGHUP and the other terminating signals a
 *   service manager or a terminal sends are ignored: stopping the service
 *   signals every process of the cgroup, and the guard must live until
 *   it sees the daemon's EOF, thaw, and then exit by itself.  So are the
 *   stray signals of sigs.h.
 */
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "guard.h"
#include "sigs.h"
#include "util.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define GUARD_NO_MLOCK 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define GUARD_NO_MLOCK 1
#endif
#endif

#define START_MS 5000 /* for the guard's hello */
#define STOP_MS 2000 /* for it to exit after EOF, before SIGKILL */
#define KILL_MS 1000 /* for it to die after SIGKILL */
#define POLL_MS 10
#define SEND_WAIT_MS 1000 /* for room on a full socket */

/*
 * The protocol: one fixed-size message per SOCK_SEQPACKET packet, both
 * ways, checked for its exact size.  It is private to one binary (the
 * daemon and the child it forked), so it has no version.
 */
enum gmsg_type {
	/* daemon -> guard */
	GM_HOLD = 1, /* slot, path; one fd in SCM_RIGHTS */
	GM_DROP, /* slot */
	GM_ARM, /* arg[0]: lease ms, 0 disarms */
	GM_THAWED, /* (nothing) */
	/* guard -> daemon */
	GM_HELLO = 100, /* arg[0]: HELLO_* flags; err: mlockall's errno */
	GM_THAWED_ONE, /* slot, err, path */
	GM_LEASE, /* arg[]: thawed, not frozen, failed; err: truncated */
	GM_ERROR, /* err */
};

#define HELLO_LOCKED 0x1 /* mlockall worked */
#define HELLO_NOLOCK_SAN 0x2 /* mlockall skipped: sanitizer build */
#define HELLO_OOM 0x4 /* oom_score_adj -1000 set */

struct gmsg {
	uint32_t type;
	int32_t slot;
	uint32_t arg[3];
	int32_t err;
	char path[GUARD_PATH_MAX]; /* NUL-terminated */
};

struct guard {
	pid_t pid; /* -1: none */
	int fd; /* our end; -1: none */
	unsigned int grace_ms;
	bool dead; /* EOF seen, or reaped */
	bool reaped;
	int status; /* wait status once reaped, else -1 */
	int nslots; /* holds since the last guard_thawed() */
	char note[GUARD_NOTE_MAX];
};

/* --- the guard process ------------------------------------------------ */

#define DEAD __attribute__((noreturn))

struct held {
	int fd; /* -1: dropped or released */
	int slot;
	char path[GUARD_PATH_MAX];
};

struct gstate {
	int sock;
	unsigned int grace_ms;
	struct held held[GUARD_MAX_FDS]; /* in arrival (= freeze) order */
	size_t nheld;
	bool armed;
	uint64_t deadline_ms; /* CLOCK_MONOTONIC */
};

static void g_protocol_error(struct gstate *, int, int) DEAD;
static void g_serve(struct gstate *) DEAD;
static void guard_child(int, unsigned int) DEAD;

/* Never blocks: a stuck daemon must not stop the guard from thawing. */
static bool
g_send(int sock, const struct gmsg *m)
{
	ssize_t n;

	do
		n = send(sock, m, sizeof(*m), MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	return n == (ssize_t)sizeof(*m);
}

/* Close every held fd without thawing. */
static void
g_release(struct gstate *s)
{
	size_t i;

	for (i = 0; i < s->nheld; i++)
		if (s->held[i].fd != -1) {
			close(s->held[i].fd);
			s->held[i].fd = -1;
		}
	s->nheld = 0;
	s->armed = false;
}

/*
 * Thaw everything held, newest first (see the top of this file), then
 * release it all.  With report, tell the daemon what was done: one
 * GM_THAWED_ONE per filesystem, then GM_LEASE.  Returns the failures.
 */
static unsigned int
g_thaw_all(struct gstate *s, bool report)
{
	unsigned int nthawed = 0, nnot = 0, nfail = 0;
	bool truncated = false;
	struct gmsg m;
	struct held *h;
	size_t i;
	int err;

	for (i = s->nheld; i-- > 0;) {
		h = &s->held[i];
		if (h->fd == -1)
			continue;
		err = ioctl(h->fd, FITHAW, 0) == 0 ? 0 : errno;
		if (err == 0)
			nthawed++;
		else if (err == EINVAL)
			nnot++;
		else
			nfail++;
		close(h->fd);
		h->fd = -1;
		if (report && !truncated) {
			memset(&m, 0, sizeof(m));
			m.type = GM_THAWED_ONE;
			m.slot = h->slot;
			m.err = err;
			memcpy(m.path, h->path, sizeof(m.path));
			/* a full socket: keep room for the summary */
			truncated = !g_send(s->sock, &m);
		}
	}
	g_release(s);
	if (report) {
		memset(&m, 0, sizeof(m));
		m.type = GM_LEASE;
		m.arg[0] = nthawed;
		m.arg[1] = nnot;
		m.arg[2] = nfail;
		m.err = truncated;
		(void)g_send(s->sock, &m);
	}
	return nfail;
}

/*
 * A message the daemon should never have sent: a bug in the daemon.  The
 * guard's "fatal": say so, thaw what it holds and exit (the daemon sees
 * EOF and starts another).
 */
static void
g_protocol_error(struct gstate *s, int fd, int err)
{
	struct gmsg m;

	if (fd != -1)
		close(fd);
	memset(&m, 0, sizeof(m));
	m.type = GM_ERROR;
	m.err = err;
	(void)g_send(s->sock, &m);
	(void)g_thaw_all(s, false);
	_exit(2);
}

/* One message: 1, 0 at EOF (or a dead socket). */
static int
g_recv(struct gstate *s, struct gmsg *m, int *fdp)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov = {m, sizeof(*m)};
	struct msghdr mh;
	struct cmsghdr *c;
	ssize_t n;
	size_t k, nfds;
	int fds[1 + (sizeof(u.buf) / sizeof(int))];

	*fdp = -1;
	for (;;) {
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		n = recvmsg(s->sock, &mh, MSG_CMSG_CLOEXEC);
		if (n == -1 && errno == EINTR)
			continue;
		break;
	}
	if (n <= 0)
		return 0; /* EOF, ECONNRESET, anything: the daemon is gone */
	nfds = 0;
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (k = 0; k < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int) &&
		     nfds < sizeof(fds) / sizeof(fds[0]);
		     k++)
			memcpy(&fds[nfds++], CMSG_DATA(c) + k * sizeof(int),
			    sizeof(int));
	}
	for (k = 1; k < nfds; k++)
		close(fds[k]);
	if (nfds > 0)
		*fdp = fds[0];
	if (n != (ssize_t)sizeof(*m) || nfds > 1 ||
	    (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0)
		g_protocol_error(s, *fdp, EPROTO);
	return 1;
}

static void
g_handle(struct gstate *s, struct gmsg *m, int fd)
{
	struct held *h;
	size_t i;

	if (fd != -1 && m->type != GM_HOLD)
		g_protocol_error(s, fd, EPROTO);
	switch (m->type) {
	case GM_HOLD:
		if (fd == -1)
			g_protocol_error(s, fd, EPROTO);
		if (s->nheld == GUARD_MAX_FDS)
			g_protocol_error(s, fd, ENOSPC);
		h = &s->held[s->nheld++];
		h->fd = fd;
		h->slot = m->slot;
		m->path[sizeof(m->path) - 1] = '\0';
		memcpy(h->path, m->path, sizeof(h->path));
		break;
	case GM_DROP:
		/* an unknown slot is a drop racing a lease thaw: fine */
		for (i = 0; i < s->nheld; i++)
			if (s->held[i].fd != -1 && s->held[i].slot == m->slot) {
				close(s->held[i].fd);
				s->held[i].fd = -1;
			}
		break;
	case GM_ARM:
		s->armed = m->arg[0] != 0;
		s->deadline_ms = mono_ms() + m->arg[0] + s->grace_ms;
		break;
	case GM_THAWED:
		g_release(s);
		break;
	default:
		g_protocol_error(s, fd, EPROTO);
	}
}

static void
g_serve(struct gstate *s)
{
	struct pollfd pfd;
	struct gmsg m;
	uint64_t now;
	int timeout, fd;

	for (;;) {
		timeout = -1;
		if (s->armed) {
			now = mono_ms();
			if (now >= s->deadline_ms) {
				/* the daemon is stuck: thaw without it */
				(void)g_thaw_all(s, true);
				continue;
			}
			timeout = s->deadline_ms - now > INT_MAX
			    ? INT_MAX
			    : (int)(s->deadline_ms - now) + 1;
		}
		pfd.fd = s->sock;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, timeout) <= 0)
			continue; /* timeout (checked above), EINTR */
		memset(&m, 0, sizeof(m));
		if (g_recv(s, &m, &fd) == 0)
			break;
		g_handle(s, &m, fd);
	}
	/* EOF: the daemon died (or let us go); what we hold is ours */
	_exit(g_thaw_all(s, false) == 0 ? 0 : 1);
}

/* Close every fd but keep. */
static void
g_close_fds(int keep)
{
	struct rlimit rl;
	int fd, max = 65536;

	if ((keep == 0 || close_range(0, keep - 1, 0) == 0) &&
	    close_range(keep + 1, ~0U, 0) == 0)
		return;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		max = rl.rlim_cur > INT_MAX ? INT_MAX : (int)rl.rlim_cur;
	for (fd = 0; fd < max; fd++)
		if (fd != keep)
			close(fd);
}

/* In the child, right after fork: become the guard.  Never returns. */
static void
guard_child(int sock, unsigned int grace_ms)
{
	static const int ignored[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGPIPE,
	    SIGALRM, SIGUSR1, SIGUSR2, SIGTSTP, SIGTTIN, SIGTTOU};
	struct gstate s;
	struct sigaction sa;
	struct gmsg m;
	sigset_t none;
	size_t i;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	for (i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		(void)sigaction(ignored[i], &sa, NULL);
	/* and the strays the daemon ignores: forked later, the guard would
	 * otherwise inherit the daemon's event loop handlers for them */
	sigs_ignore_stray();
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	(void)prctl(PR_SET_NAME, "hv_vss_guard", 0, 0, 0);

	memset(&m, 0, sizeof(m));
	m.type = GM_HELLO;
	fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (fd != -1) {
		if (write(fd, "-1000", 5) == 5)
			m.arg[0] |= HELLO_OOM;
		close(fd);
	}
	g_close_fds(sock);
	(void)chdir("/");
#ifdef GUARD_NO_MLOCK
	m.arg[0] |= HELLO_NOLOCK_SAN;
	m.err = ENOTSUP;
#else
	if (mlockall(MCL_CURRENT | MCL_FUTURE) == 0)
		m.arg[0] |= HELLO_LOCKED;
	else
		m.err = errno;
#endif
	memset(&s, 0, sizeof(s));
	s.sock = sock;
	s.grace_ms = grace_ms;
	if (!g_send(sock, &m))
		_exit(3);
	g_serve(&s);
}

/* --- the daemon's side ------------------------------------------------ */

/* Reap the guard, waiting at most ms; true once reaped. */
static bool
reap(struct guard *g, int ms)
{
	struct timespec ts = {0, POLL_MS * 1000000L};
	pid_t r;
	int st;

	if (g->reaped || g->pid <= 0)
		return true;
	for (;;) {
		r = waitpid(g->pid, &st, WNOHANG);
		if (r == g->pid || (r == -1 && errno == ECHILD)) {
			/* ECHILD: someone else reaped it (status unknown) */
			g->status = r == g->pid ? st : -1;
			g->reaped = g->dead = true;
			return true;
		}
		if (ms <= 0)
			return false;
		nanosleep(&ts, NULL);
		ms -= POLL_MS;
	}
}

/* Close our end, let it thaw and exit, then reap (see guard_free). */
static void
stop(struct guard *g)
{
	if (g->fd != -1) {
		close(g->fd);
		g->fd = -1;
	}
	if (g->pid > 0 && !reap(g, STOP_MS)) {
		kill(g->pid, SIGKILL);
		/* still there if stuck in FITHAW (uninterruptible): leave
		 * the zombie to be */
		(void)reap(g, KILL_MS);
	}
	g->pid = -1;
	g->dead = true;
}

static int
spawn(struct guard *g, char *err, size_t errlen)
{
	struct pollfd pfd;
	struct gmsg m;
	int sv[2], e;
	ssize_t n;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		errfmt(err, errlen, errno, "socketpair");
		return -1;
	}
	switch (g->pid = fork()) {
	case -1:
		e = errno;
		close(sv[0]);
		close(sv[1]);
		errfmt(err, errlen, e, "fork");
		return -1;
	case 0:
		guard_child(sv[1], g->grace_ms);
	}
	close(sv[1]);
	g->fd = sv[0];
	g->dead = g->reaped = false;
	g->status = -1;
	g->nslots = 0;
	if (fcntl(g->fd, F_SETFL, O_NONBLOCK) == -1) {
		errfmt(err, errlen, errno, "fcntl");
		stop(g);
		return -1;
	}

	/* the guard is ready once it says hello */
	pfd.fd = g->fd;
	pfd.events = POLLIN;
	while (poll(&pfd, 1, START_MS) == -1 && errno == EINTR)
		;
	n = recv(g->fd, &m, sizeof(m), MSG_DONTWAIT);
	if (n != (ssize_t)sizeof(m) || m.type != GM_HELLO) {
		if (n == -1)
			errfmt(err, errlen, errno, "the thaw guard's hello");
		else
			errfmt(err, errlen, 0,
			    "the thaw guard did not start (got %zd bytes)", n);
		stop(g);
		return -1;
	}
	if (m.arg[0] & HELLO_LOCKED)
		snprintf(g->note, sizeof(g->note),
		    "thaw guard pid %d, memory locked", (int)g->pid);
	else if (m.arg[0] & HELLO_NOLOCK_SAN)
		snprintf(g->note, sizeof(g->note),
		    "thaw guard pid %d, memory NOT locked (sanitizer build)",
		    (int)g->pid);
	else
		snprintf(g->note, sizeof(g->note),
		    "thaw guard pid %d, memory NOT locked (mlockall: %s)",
		    (int)g->pid, strerror(m.err));
	n = strlen(g->note);
	snprintf(g->note + n, sizeof(g->note) - n, "%s",
	    m.arg[0] & HELLO_OOM ? ", OOM killer exempt"
	                         : ", OOM killer NOT exempt");
	return 0;
}

struct guard *
guard_start(unsigned int grace_ms, char *err, size_t errlen)
{
	struct guard *g;

	if ((g = calloc(1, sizeof(*g))) == NULL) {
		errfmt(err, errlen, errno, "calloc");
		return NULL;
	}
	g->pid = -1;
	g->fd = -1;
	g->grace_ms = grace_ms != 0 ? grace_ms : GUARD_GRACE_MS;
	if (spawn(g, err, errlen) == -1) {
		free(g);
		return NULL;
	}
	return g;
}

void
guard_free(struct guard *g)
{
	if (g == NULL)
		return;
	stop(g);
	free(g);
}

int
guard_restart(struct guard *g, char *err, size_t errlen)
{
	stop(g);
	return spawn(g, err, errlen);
}

int
guard_fd(const struct guard *g)
{
	return g->fd;
}

pid_t
guard_pid(const struct guard *g)
{
	return g->pid;
}

bool
guard_alive(struct guard *g)
{
	if (g->pid <= 0 || g->dead)
		return false;
	return !reap(g, 0);
}

const char *
guard_note(const struct guard *g)
{
	return g->note;
}

/*
 * Send one message (with fd if >= 0); never SIGPIPEs, and blocks only
 * while the socket is full, SEND_WAIT_MS at most.
 */
static int
d_send(struct guard *g, struct gmsg *m, int fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov = {m, sizeof(*m)};
	struct msghdr mh;
	struct cmsghdr *c;
	struct pollfd pfd;
	ssize_t n;
	int waited;

	if (g->dead || g->fd == -1)
		return -EPIPE;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (fd >= 0) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	for (waited = 0;;) {
		n = sendmsg(g->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		/*
		 * A full socket: the guard is behind (a socket holds about
		 * 160 messages, fewer than GUARD_MAX_FDS).  It reads as fast
		 * as it can, so wait for it, a little.
		 */
		if (n == -1 && errno == EAGAIN && waited < SEND_WAIT_MS) {
			pfd.fd = g->fd;
			pfd.events = POLLOUT;
			(void)poll(&pfd, 1, POLL_MS);
			waited += POLL_MS;
			continue;
		}
		break;
	}
	if (n == (ssize_t)sizeof(*m))
		return 0;
	if (n == -1 && (errno == EPIPE || errno == ECONNRESET)) {
		g->dead = true;
		return -EPIPE;
	}
	return n == -1 ? -errno : -EIO;
}

int
guard_hold(struct guard *g, int dirfd, const char *mountpoint)
{
	struct gmsg m;
	int rc;

	if (dirfd < 0)
		return -EBADF;
	if (g->nslots >= GUARD_MAX_FDS)
		return -ENOSPC;
	memset(&m, 0, sizeof(m));
	m.type = GM_HOLD;
	m.slot = g->nslots;
	snprintf(m.path, sizeof(m.path), "%s", mountpoint);
	if ((rc = d_send(g, &m, dirfd)) != 0)
		return rc;
	return g->nslots++;
}

int
guard_drop(struct guard *g, int slot)
{
	struct gmsg m;

	memset(&m, 0, sizeof(m));
	m.type = GM_DROP;
	m.slot = slot;
	return d_send(g, &m, -1);
}

int
guard_arm(struct guard *g, unsigned int lease_ms)
{
	struct gmsg m;

	memset(&m, 0, sizeof(m));
	m.type = GM_ARM;
	m.arg[0] = lease_ms;
	return d_send(g, &m, -1);
}

int
guard_thawed(struct guard *g)
{
	struct gmsg m;
	int rc;

	memset(&m, 0, sizeof(m));
	m.type = GM_THAWED;
	if ((rc = d_send(g, &m, -1)) == 0)
		g->nslots = 0;
	return rc;
}

int
guard_read(struct guard *g, struct guard_event *ev)
{
	struct gmsg m;
	ssize_t n;

	if (g->dead || g->fd == -1)
		return 0;
	do
		n = recv(g->fd, &m, sizeof(m), MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	memset(ev, 0, sizeof(*ev));
	if (n == 0 || (n == -1 && errno == ECONNRESET)) {
		/* it has closed its end: it is exiting, if not gone */
		g->dead = true;
		(void)reap(g, STOP_MS);
		ev->type = GUARD_EV_DIED;
		ev->status = g->reaped ? g->status : -1;
		return 1;
	}
	if (n == -1)
		return -errno;
	if (n != (ssize_t)sizeof(m))
		return -EPROTO;
	switch (m.type) {
	case GM_THAWED_ONE:
		ev->type = GUARD_EV_THAWED;
		ev->slot = m.slot;
		ev->err = m.err;
		m.path[sizeof(m.path) - 1] = '\0';
		memcpy(ev->path, m.path, sizeof(ev->path));
		return 1;
	case GM_LEASE:
		ev->type = GUARD_EV_LEASE;
		ev->nthawed = m.arg[0];
		ev->nnotfrozen = m.arg[1];
		ev->nfailed = m.arg[2];
		ev->truncated = m.err != 0;
		return 1;
	case GM_ERROR:
		ev->type = GUARD_EV_ERROR;
		ev->err = m.err;
		return 1;
	default:
		return -EPROTO;
	}
}
