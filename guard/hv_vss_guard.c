/*
 * hv_vss_guard: the thaw guard, a program of its own that hv_vss_daemon
 * starts (fork and exec, daemon/guard.c) and talks to over one socket;
 * see daemon/guard.h for what it does and daemon/guard_proto.h for the
 * messages.  It is not meant to be run by hand: it is started with its
 * socket as fd 3 and the grace period as its one argument, and nothing
 * else: no other fd, an empty environment.
 *
 * Why a process and not a thread: a daemon killed with SIGKILL, crashed
 * or OOM-killed takes its threads with it, and a daemon stuck in a write
 * to a frozen filesystem may hold locks a thread would need.  The guard
 * shares nothing with the daemon but a socket: the kernel closes the
 * daemon's end whatever way the daemon dies, and that EOF is the signal.
 *
 * Why a program and not a fork of the daemon: a fork inherits the
 * daemon's memory (mlockall would lock all of it, libraries and heap),
 * every fd it forgot to mark close-on-exec, and, from a daemon with
 * threads, the rule that the child may make async-signal-safe calls
 * only.  A fresh image of this small, statically linked program starts
 * with nothing but what it is given, and locks only itself.
 *
 * Hazards:
 * - No file I/O after start: a read or write that reaches a frozen
 *   filesystem can block the one process meant to thaw it.  The one file
 *   it may write, Linux's /proc/self/oom_score_adj (sandbox.h), is
 *   written before it serves, and is on procfs.  It closes every fd but its socket (the daemon's start
 *   already did; run by hand, stdin, stdout and stderr may be a file on a
 *   filesystem we freeze) and chdirs to "/" so as not to pin a mount.
 *   No stdio, no malloc: its state is one fixed struct.
 * - mlockall(MCL_CURRENT | MCL_FUTURE): the guard must not wait for
 *   memory (swap-in, reclaim) when it matters.  Under ASan or TSan it is
 *   skipped (and said so in the hello): their terabytes of shadow mapping
 *   cannot be locked.
 * - Order: fds are kept in arrival order, which is freeze order; thaw is
 *   newest first.  A filesystem on a loop device is frozen before the one
 *   holding its image, so its thaw, which writes its superblock into that
 *   image, comes after the outer one is writable again.  Thawed the other
 *   way round the guard would sleep in FITHAW forever.  For the same
 *   reason a held filesystem whose image lies on a filesystem frozen by
 *   someone else cannot be thawed by the guard (it blocks, as the daemon
 *   would).
 * - Where closing a hold thaws (FreeBSD's /dev/ufssuspend, os/fsfreeze.h)
 *   the daemon hands over each hold once frozen (GM_SUSPENDED) and
 *   closes its own copy: the guard's is then the last reference, so its
 *   thaw is a close, its death resumes everything, and the daemon's own
 *   thaw is GM_RESUME.  No ioctl is needed in capability mode.
 * - EINVAL from FITHAW: not frozen (any more); fine.  EBUSY from the
 *   daemon's FIFREEZE means someone else froze it: the daemon must then
 *   drop it, or the guard would thaw another's freeze if the daemon died
 *   before saying so (a window of one message; we err on the side of
 *   thawing).
 * - A sandbox (sandbox.h: Linux's seccomp allow-list, filter.c;
 *   FreeBSD's Capsicum capability mode), entered once set up and before
 *   the hello: serving, the guard can poll, read and answer its socket,
 *   thaw and close what it holds, and exit; on Linux any other call
 *   kills it with SIGSYS, on FreeBSD fails with ECAPMODE.  Under ASan or
 *   TSan it is skipped like mlockall (their runtimes make calls of their
 *   own), and said so in the hello.
 * - Not dumpable (sandbox_nodump(): Linux's PR_SET_DUMPABLE 0,
 *   FreeBSD's PROC_TRACE_CTL): a guard killed by SIGSYS, or
 *   crashed, must not write a core, which goes to its directory or to
 *   a core_pattern helper writing on a filesystem that may be frozen:
 *   it would hang there, its socket still open, and the daemon would
 *   not know it is dead.
 * - Signals: SIGTERM, SIGINT, SIGHUP and the other terminating signals a
 *   service manager or a terminal sends are ignored: stopping the service
 *   signals every process of the cgroup, and the guard must live until
 *   it sees the daemon's EOF, thaw, and then exit by itself.
 */
#include <sys/resource.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "guard_proto.h"
#include "os/fsfreeze.h"
#include "sandbox.h"
#include "sigs.h"

/* a sanitizer build: no mlockall, no filter (see the top of this file) */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define GUARD_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define GUARD_SANITIZED 1
#endif
#endif

#define DEAD __attribute__((noreturn))

struct held {
	int fd; /* -1: dropped or released */
	int slot;
	bool suspended; /* fd is a hold whose close thaws (GM_SUSPENDED) */
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

/* static: in the image, so locked by MCL_CURRENT like the rest */
static struct gstate s;

static void g_protocol_error(struct gstate *, int, int) DEAD;
static void g_serve(struct gstate *) DEAD;

static uint64_t
g_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

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
g_release(struct gstate *g)
{
	size_t i;

	for (i = 0; i < g->nheld; i++)
		if (g->held[i].fd != -1) {
			close(g->held[i].fd);
			g->held[i].fd = -1;
		}
	g->nheld = 0;
	g->armed = false;
}

/*
 * Thaw everything held, newest first (see the top of this file), then
 * release it all.  With report, tell the daemon what was done: one
 * GM_THAWED_ONE per filesystem, then GM_LEASE.  Returns the failures.
 */
static unsigned int
g_thaw_all(struct gstate *g, bool report)
{
	unsigned int nthawed = 0, nnot = 0, nfail = 0;
	bool truncated = false;
	struct gmsg m;
	struct held *h;
	size_t i;
	int err;

	for (i = g->nheld; i-- > 0;) {
		h = &g->held[i];
		if (h->fd == -1)
			continue;
		/* FITHAW on Linux (the one ioctl filter.c allows); where
		 * closing thaws (FreeBSD) the close of the last reference
		 * resumes, and a directory not yet suspended thaws nothing */
		if (fsfreeze_close_thaws) {
			close(h->fd);
			h->fd = -1;
			err = h->suspended ? 0 : EINVAL;
		} else
			err = -fsfreeze_thaw(&h->fd);
		if (err == 0)
			nthawed++;
		else if (err == EINVAL)
			nnot++;
		else
			nfail++;
		if (h->fd != -1)
			close(h->fd);
		h->fd = -1;
		if (report && !truncated) {
			memset(&m, 0, sizeof(m));
			m.type = GM_THAWED_ONE;
			m.slot = h->slot;
			m.err = err;
			memcpy(m.path, h->path, sizeof(m.path));
			/* a full socket: keep room for the summary */
			truncated = !g_send(g->sock, &m);
		}
	}
	g_release(g);
	if (report) {
		memset(&m, 0, sizeof(m));
		m.type = GM_LEASE;
		m.arg[0] = nthawed;
		m.arg[1] = nnot;
		m.arg[2] = nfail;
		m.err = truncated;
		(void)g_send(g->sock, &m);
	}
	return nfail;
}

/*
 * A message the daemon should never have sent: a bug in the daemon.  The
 * guard's "fatal": say so, thaw what it holds and exit (the daemon sees
 * EOF and starts another).
 */
static void
g_protocol_error(struct gstate *g, int fd, int err)
{
	struct gmsg m;

	if (fd != -1)
		close(fd);
	memset(&m, 0, sizeof(m));
	m.type = GM_ERROR;
	m.err = err;
	(void)g_send(g->sock, &m);
	(void)g_thaw_all(g, false);
	_exit(2);
}

/* One message: 1, 0 at EOF (or a dead socket). */
static int
g_recv(struct gstate *g, struct gmsg *m, int *fdp)
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
		n = recvmsg(g->sock, &mh, MSG_CMSG_CLOEXEC);
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
		g_protocol_error(g, *fdp, EPROTO);
	return 1;
}

static void
g_handle(struct gstate *g, struct gmsg *m, int fd)
{
	struct held *h;
	size_t i;

	if (fd != -1 && m->type != GM_HOLD && m->type != GM_SUSPENDED)
		g_protocol_error(g, fd, EPROTO);
	switch (m->type) {
	case GM_HOLD:
		if (fd == -1)
			g_protocol_error(g, fd, EPROTO);
		if (g->nheld == GUARD_MAX_FDS)
			g_protocol_error(g, fd, ENOSPC);
		h = &g->held[g->nheld++];
		h->fd = fd;
		h->slot = m->slot;
		h->suspended = false;
		m->path[sizeof(m->path) - 1] = '\0';
		memcpy(h->path, m->path, sizeof(h->path));
		break;
	case GM_SUSPENDED:
		/* the slot's directory gives way to its hold; a slot we do
		 * not know (handed before a restart) is held anew: never
		 * close a hold we were given, that would resume it */
		if (fd == -1)
			g_protocol_error(g, fd, EPROTO);
		for (i = 0, h = NULL; i < g->nheld && h == NULL; i++)
			if (g->held[i].fd != -1 && g->held[i].slot == m->slot)
				h = &g->held[i];
		if (h == NULL) {
			if (g->nheld == GUARD_MAX_FDS)
				g_protocol_error(g, fd, ENOSPC);
			h = &g->held[g->nheld++];
			h->slot = m->slot;
			m->path[sizeof(m->path) - 1] = '\0';
			memcpy(h->path, m->path, sizeof(h->path));
		} else
			close(h->fd);
		h->fd = fd;
		h->suspended = true;
		break;
	case GM_RESUME:
		/* the daemon's thaw where closing thaws: an unknown slot is
		 * one the lease resumed already */
		for (i = 0; i < g->nheld; i++)
			if (g->held[i].fd != -1 && g->held[i].slot == m->slot) {
				close(g->held[i].fd);
				g->held[i].fd = -1;
			}
		break;
	case GM_DROP:
		/* an unknown slot is a drop racing a lease thaw: fine */
		for (i = 0; i < g->nheld; i++)
			if (g->held[i].fd != -1 && g->held[i].slot == m->slot) {
				close(g->held[i].fd);
				g->held[i].fd = -1;
			}
		break;
	case GM_ARM:
		g->armed = m->arg[0] != 0;
		g->deadline_ms = g_now_ms() + m->arg[0] + g->grace_ms;
		break;
	case GM_THAWED:
		g_release(g);
		break;
	default:
		g_protocol_error(g, fd, EPROTO);
	}
}

static void
g_serve(struct gstate *g)
{
	struct pollfd pfd;
	struct gmsg m;
	uint64_t now;
	int timeout, fd;

	for (;;) {
		timeout = -1;
		if (g->armed) {
			now = g_now_ms();
			if (now >= g->deadline_ms) {
				/* the daemon is stuck: thaw without it */
				(void)g_thaw_all(g, true);
				continue;
			}
			timeout = g->deadline_ms - now > INT_MAX
			    ? INT_MAX
			    : (int)(g->deadline_ms - now) + 1;
		}
		pfd.fd = g->sock;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, timeout) <= 0)
			continue; /* timeout (checked above), EINTR */
		memset(&m, 0, sizeof(m));
		if (g_recv(g, &m, &fd) == 0)
			break;
		g_handle(g, &m, fd);
	}
	/* EOF: the daemon died (or let us go); what we hold is ours */
	_exit(g_thaw_all(g, false) == 0 ? 0 : 1);
}

/* Close every fd but keep. */
static void
g_close_fds(int keep)
{
	struct rlimit rl;
	int fd, max = 65536;

	if (close_range(0, keep - 1, 0) == 0 &&
	    close_range(keep + 1, ~0U, 0) == 0)
		return;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		max = rl.rlim_cur > INT_MAX ? INT_MAX : (int)rl.rlim_cur;
	for (fd = 0; fd < max; fd++)
		if (fd != keep)
			close(fd);
}

#ifdef HVVSS_TEST_TRIGGERS
/*
 * Test builds only (make's hv_vss_guard_trig, never the program that is
 * installed): SIGUSR2, which the guard otherwise ignores, makes it call
 * open(2), which its filter forbids: it must die by SIGSYS wherever it
 * is.  Without the filter the call works and the guard goes on, which is
 * what t_guard.sh catches.
 */
static void
g_test_trigger(int sig)
{
	int fd;

	if ((fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1)
		close(fd);
}
#endif

/*
 * Run by hand: say why not on stderr, the one time it may be written.
 * write(2), not stdio: nothing here buffers.
 */
static void DEAD
usage(const char *why)
{
	static const char pre[] = "hv_vss_guard: ";
	static const char post[] = "; it is started by hv_vss_daemon only "
	                           "(usage: hv_vss_guard GRACE_MS, with its "
	                           "socket as fd 3)\n";

	(void)!write(STDERR_FILENO, pre, sizeof(pre) - 1);
	(void)!write(STDERR_FILENO, why, strlen(why));
	(void)!write(STDERR_FILENO, post, sizeof(post) - 1);
	_exit(2);
}

int
main(int argc, char **argv)
{
	static const int ignored[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGPIPE,
	    SIGALRM, SIGUSR1, SIGUSR2, SIGTSTP, SIGTTIN, SIGTTOU};
	struct sigaction sa;
	struct gmsg m;
	sigset_t none;
	unsigned long grace;
	socklen_t len;
	char *end;
	size_t i;
	int type;

	/* first, before a signal can end us (they are blocked until
	 * then, daemon/guard.c): the daemon's EOF does */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	for (i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		(void)sigaction(ignored[i], &sa, NULL);
	/* and every other stray whose default would end us (sigs.h) */
	sigs_ignore_stray();
#ifdef HVVSS_TEST_TRIGGERS
	sa.sa_handler = g_test_trigger;
	(void)sigaction(SIGUSR2, &sa, NULL);
#endif
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	/* started by an exec of a descriptor: Linux names us after it */
	sandbox_name("hv_vss_guard");

	if (argc != 2)
		usage("one argument expected");
	errno = 0;
	grace = strtoul(argv[1], &end, 10);
	if (errno != 0 || end == argv[1] || *end != '\0' || grace == 0 ||
	    grace > INT_MAX)
		usage("GRACE_MS is not a number of milliseconds");
	len = sizeof(type);
	if (getsockopt(GUARD_SOCK_FD, SOL_SOCKET, SO_TYPE, &type, &len) != 0 ||
	    type != SOCK_SEQPACKET)
		usage("fd 3 is not a SOCK_SEQPACKET socket");

	memset(&m, 0, sizeof(m));
	m.type = GM_HELLO;
	m.arg[1] = GUARD_PROTO_VERSION;
	m.arg[2] = sizeof(struct gmsg);
	/* the sandbox's name, for the daemon's note */
	strncpy(m.path, sandbox_kind, sizeof(m.path) - 1);
	if (sandbox_oom_exempt())
		m.arg[0] |= HELLO_OOM;
	/* no core: see the top of this file */
	sandbox_nodump();
	g_close_fds(GUARD_SOCK_FD);
	/* not to pin a mount; it cannot fail in practice, and a guard left
	 * in its directory would still thaw (a (void) cast does not quiet
	 * warn_unused_result under _FORTIFY_SOURCE) */
	if (chdir("/") == -1)
		m.err = errno;
#ifdef GUARD_SANITIZED
	m.arg[0] |= HELLO_NOLOCK_SAN;
	m.err = ENOTSUP;
	m.slot = ENOTSUP;
#else
	if ((m.err = sandbox_lock()) == 0)
		m.arg[0] |= HELLO_LOCKED;
	/* last: from here on, only what serving needs (sandbox.h) */
	if ((m.slot = -sandbox_enter()) == 0)
		m.arg[0] |= HELLO_FILTERED;
#endif
	s.sock = GUARD_SOCK_FD;
	s.grace_ms = (unsigned int)grace;
	if (!g_send(s.sock, &m))
		_exit(3);
	g_serve(&s);
}
