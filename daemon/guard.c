/*
 * guard.c: the thaw guard (see guard.h), the daemon's side: finding the
 * guard's program, starting it, and the socket.  The guard itself is
 * guard/hv_vss_guard.c; the messages are guard_proto.h.
 *
 * Starting it: fork with every signal blocked, then in the child only
 * dup2/fcntl/close_range and the exec, which are async-signal-safe (the
 * daemon has threads: the freezer's workers).  The child's fds are its socket as
 * fd 3 and nothing else (close_range, not a hope that every fd of the
 * daemon and its libraries is close-on-exec), its environment is empty,
 * and its program is the file guard_image() opened at start
 * (os/proc.h's proc_image_open() and proc_exec_image(): Linux's
 * execveat of an O_PATH fd, FreeBSD's fexecve): a daemon whose files
 * were replaced by an upgrade still starts the guard it was installed
 * with.  fork, not posix_spawn: posix_spawn cannot exec an fd.
 *
 * Nothing here waits on the daemon's loop: guard_spawn() returns once
 * the child is forked, and the hello, the death (EOF on the socket) and
 * the reaping are seen by guard_read() when the socket is readable.  A
 * guard that closed its socket is exiting: guard_read() reports
 * GUARD_EV_DIED once it is reaped, which is at once in practice, and
 * meanwhile says "nothing yet" while the socket stays readable (at most
 * EXIT_WAIT_MS, then it reports it with an unknown status and reaps it
 * later).  Only guard_start(), guard_restart() and guard_free() wait.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "guard.h"
#include "guard_proto.h"
#include "os/proc.h"
#include "util.h"

#define GUARD_PROGRAM "hv_vss_guard"
#define START_MS 5000 /* for the guard's hello, where we wait */
#define STOP_MS 2000 /* for it to exit after EOF, before SIGKILL */
#define KILL_MS 1000 /* for it to die after SIGKILL */
#define EXIT_WAIT_MS 1000 /* from its EOF to its reaping */
#define POLL_MS 10
#define SEND_WAIT_MS 1000 /* for room on a full socket */

struct guard {
	pid_t pid; /* -1: none */
	int fd; /* our end; -1: none */
	unsigned int grace_ms;
	bool ready; /* said hello */
	bool dead; /* EOF seen, or reaped */
	bool died_told; /* GUARD_EV_DIED returned */
	bool reaped;
	int status; /* wait status once reaped, else -1 */
	uint64_t eof_ms; /* when its EOF was first seen; 0: not yet */
	pid_t stale; /* exited, not reaped yet; -1: none */
	int nslots; /* holds since the last guard_thawed() */
	char note[GUARD_NOTE_MAX];
};

/* the guard's program, opened once (guard_image()) */
static int image_fd = -1;

int
guard_image(const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX], buf[PATH_MAX + sizeof(GUARD_PROGRAM)];
	int fd;

	if (path == NULL) {
		if (proc_self_dir(dir, sizeof(dir), err, errlen) == -1)
			return -1;
		snprintf(buf, sizeof(buf), "%s/%s", dir, GUARD_PROGRAM);
		path = buf;
	}
	if ((fd = proc_image_open(path, err, errlen)) == -1)
		return -1;
	if (image_fd != -1)
		close(image_fd);
	image_fd = fd;
	return 0;
}

/*
 * In the child, right after fork: become the guard's program, with sock
 * as fd GUARD_SOCK_FD and no other fd.  Async-signal-safe calls only:
 * the daemon may have threads.
 */
static void __attribute__((noreturn))
exec_guard(int sock, int img, char *const argv[])
{
	static char *const envp[] = {NULL};
	int fd;

	/* out of fd 3's way first */
	if (img <= GUARD_SOCK_FD &&
	    (img = fcntl(img, F_DUPFD_CLOEXEC, GUARD_SOCK_FD + 1)) == -1)
		_exit(127);
	if (sock == GUARD_SOCK_FD) {
		if (fcntl(sock, F_SETFD, 0) == -1)
			_exit(127);
	} else if (dup2(sock, GUARD_SOCK_FD) == -1)
		_exit(127);
	/* img is close-on-exec: everything but fd 3 goes */
	if (close_range(0, GUARD_SOCK_FD - 1, 0) == -1 ||
	    (img > GUARD_SOCK_FD + 1 &&
	        close_range(GUARD_SOCK_FD + 1, img - 1, 0) == -1) ||
	    close_range(img + 1, ~0U, 0) == -1) {
		for (fd = 0; fd < 65536; fd++)
			if (fd != GUARD_SOCK_FD && fd != img)
				close(fd);
	}
	/* every signal still blocked (guard_spawn()): the guard unblocks
	 * them once it ignores the ones that would end it */
	proc_exec_image(img, argv, envp);
	_exit(127);
}

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

static void
reap_stale(struct guard *g)
{
	if (g->stale > 0 && waitpid(g->stale, NULL, WNOHANG) != 0)
		g->stale = -1;
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
	if (g->stale > 0)
		(void)waitpid(g->stale, NULL, WNOHANG);
	g->stale = -1;
	g->pid = -1;
	g->dead = true;
	g->ready = false;
}

struct guard *
guard_new(unsigned int grace_ms, char *err, size_t errlen)
{
	struct guard *g;

	if ((g = calloc(1, sizeof(*g))) == NULL) {
		errfmt(err, errlen, errno, "calloc");
		return NULL;
	}
	g->pid = -1;
	g->fd = -1;
	g->stale = -1;
	g->status = -1;
	g->dead = g->died_told = true;
	g->grace_ms = grace_ms != 0 ? grace_ms : GUARD_GRACE_MS;
	return g;
}

int
guard_spawn(struct guard *g, char *err, size_t errlen)
{
	char grace[16], *argv[] = {GUARD_PROGRAM, grace, NULL};
	sigset_t all, old;
	int sv[2], e;
	pid_t pid;

	if (image_fd == -1 && guard_image(NULL, err, errlen) == -1)
		return -1;
	if (g->pid > 0 && !g->reaped) {
		if (!g->dead) {
			snprintf(err, errlen, "thaw guard pid %d still runs",
			    (int)g->pid);
			return -1;
		}
		reap_stale(g); /* one at a time */
		g->stale = g->pid; /* reported dead, not reaped yet */
	}
	reap_stale(g);
	if (g->fd != -1) {
		close(g->fd);
		g->fd = -1;
	}
	g->pid = -1;
	snprintf(grace, sizeof(grace), "%u", g->grace_ms);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		errfmt(err, errlen, errno, "socketpair");
		return -1;
	}
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) == -1) {
		e = errno;
		close(sv[0]);
		close(sv[1]);
		errfmt(err, errlen, e, "fcntl");
		return -1;
	}
	/*
	 * No signal between fork and exec: a handler of the daemon's
	 * (libevent's) would run in the child, and a SIGTERM before the
	 * guard ignores it would end the guard.
	 */
	sigfillset(&all);
	(void)pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0)
		exec_guard(sv[1], image_fd, argv);
	e = errno;
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid == -1) {
		close(sv[0]);
		close(sv[1]);
		errfmt(err, errlen, e, "fork");
		return -1;
	}
	close(sv[1]);
	g->pid = pid;
	g->fd = sv[0];
	g->ready = g->dead = g->died_told = g->reaped = false;
	g->status = -1;
	g->eof_ms = 0;
	g->nslots = 0;
	snprintf(
	    g->note, sizeof(g->note), "thaw guard pid %d, starting", (int)pid);
	return 0;
}

void
guard_kill(struct guard *g)
{
	if (g->pid > 0 && !g->reaped)
		(void)kill(g->pid, SIGKILL);
}

/* Wait for the hello of a guard just spawned (start-up and tests). */
static int
wait_ready(struct guard *g, char *err, size_t errlen)
{
	struct guard_event ev;
	struct pollfd pfd;
	uint64_t end = mono_ms() + START_MS;
	int rc;

	for (;;) {
		rc = guard_read(g, &ev);
		if (rc == 1 && ev.type == GUARD_EV_READY)
			return 0;
		if (rc < 0 || (rc == 1 && ev.type == GUARD_EV_DIED)) {
			if (rc < 0)
				errfmt(
				    err, errlen, -rc, "the thaw guard's hello");
			else if (ev.status != -1 && WIFEXITED(ev.status) &&
			    WEXITSTATUS(ev.status) == 127)
				snprintf(err, errlen,
				    "the thaw guard could not be executed (exit 127)");
			else
				snprintf(err, errlen,
				    "the thaw guard died before its hello (status %d)",
				    ev.status);
			return -1;
		}
		if (rc == 1) {
			/* GUARD_EV_ERROR: a wrong program; its death
			 * follows */
			snprintf(err, errlen, "%s", g->note);
			stop(g);
			return -1;
		}
		if (mono_ms() >= end) {
			snprintf(err, errlen,
			    "the thaw guard did not say hello in %d ms",
			    START_MS);
			stop(g);
			return -1;
		}
		pfd.fd = g->fd;
		pfd.events = POLLIN;
		(void)poll(&pfd, 1, (int)(end - mono_ms()) + 1);
	}
}

struct guard *
guard_start(unsigned int grace_ms, char *err, size_t errlen)
{
	struct guard *g;

	if ((g = guard_new(grace_ms, err, errlen)) == NULL)
		return NULL;
	if (guard_spawn(g, err, errlen) == -1 ||
	    wait_ready(g, err, errlen) == -1) {
		guard_free(g);
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
	if (guard_spawn(g, err, errlen) == -1)
		return -1;
	return wait_ready(g, err, errlen);
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

bool
guard_ready(const struct guard *g)
{
	return g->ready && !g->dead;
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
	if (!g->ready)
		return -EAGAIN; /* nothing held before its hello */
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
guard_suspended(struct guard *g, int slot, int hold, const char *path)
{
	struct gmsg m;

	if (hold < 0)
		return -EBADF;
	memset(&m, 0, sizeof(m));
	m.type = GM_SUSPENDED;
	m.slot = slot;
	snprintf(m.path, sizeof(m.path), "%s", path);
	return d_send(g, &m, hold);
}

int
guard_resume(struct guard *g, int slot)
{
	struct gmsg m;

	memset(&m, 0, sizeof(m));
	m.type = GM_RESUME;
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

/* Its hello: the note, or why it is refused (a wrong program). */
static int
hello(struct guard *g, const struct gmsg *m, struct guard_event *ev)
{
	char kind[32];
	size_t n;

	if (m->type != GM_HELLO || m->arg[1] != GUARD_PROTO_VERSION ||
	    m->arg[2] != sizeof(struct gmsg)) {
		/* GUARD_NOTE_MAX: short */
		snprintf(g->note, sizeof(g->note),
		    "thaw guard pid %d is another version's (hello %u, protocol %u, size %u; want protocol %d)",
		    (int)g->pid, m->type, m->arg[1], m->arg[2],
		    GUARD_PROTO_VERSION);
		guard_kill(g);
		ev->type = GUARD_EV_ERROR;
		ev->err = EPROTO;
		return 1;
	}
	if (m->arg[0] & HELLO_LOCKED)
		snprintf(g->note, sizeof(g->note),
		    "thaw guard pid %d, memory locked", (int)g->pid);
	else if (m->arg[0] & HELLO_NOLOCK_SAN)
		snprintf(g->note, sizeof(g->note),
		    "thaw guard pid %d, memory NOT locked (sanitizer build)",
		    (int)g->pid);
	else
		snprintf(g->note, sizeof(g->note),
		    "thaw guard pid %d, memory NOT locked (mlockall: %s)",
		    (int)g->pid, strerror(m->err));
	n = strlen(g->note);
	snprintf(g->note + n, sizeof(g->note) - n, "%s",
	    m->arg[0] & HELLO_OOM ? ", OOM killer exempt"
	                          : ", OOM killer NOT exempt");
	/* the sandbox's name (guard/sandbox.h): "seccomp filter" */
	memcpy(kind, m->path, sizeof(kind) - 1);
	kind[sizeof(kind) - 1] = '\0';
	if (kind[0] == '\0')
		snprintf(kind, sizeof(kind), "sandbox");
	n = strlen(g->note);
	if (m->arg[0] & HELLO_FILTERED)
		snprintf(g->note + n, sizeof(g->note) - n, ", %s on", kind);
	else if (m->arg[0] & HELLO_NOLOCK_SAN)
		snprintf(g->note + n, sizeof(g->note) - n,
		    ", NO %s (sanitizer build)", kind);
	else
		snprintf(g->note + n, sizeof(g->note) - n, ", NO %s (%s)", kind,
		    strerror(m->slot));
	g->ready = true;
	ev->type = GUARD_EV_READY;
	return 1;
}

/* Its socket is at EOF: DIED once reaped (see the top of this file). */
static int
died(struct guard *g, struct guard_event *ev)
{
	uint64_t now = mono_ms();

	g->ready = false;
	if (g->eof_ms == 0)
		g->eof_ms = now;
	if (!reap(g, 0) && now - g->eof_ms < EXIT_WAIT_MS)
		return 0; /* exiting: the socket stays readable */
	g->dead = g->died_told = true;
	ev->type = GUARD_EV_DIED;
	ev->status = g->reaped ? g->status : -1;
	return 1;
}

int
guard_read(struct guard *g, struct guard_event *ev)
{
	struct gmsg m;
	ssize_t n;

	if (g->died_told || g->fd == -1)
		return 0;
	memset(ev, 0, sizeof(*ev));
	do
		n = recv(g->fd, &m, sizeof(m), MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n == 0 || (n == -1 && errno == ECONNRESET))
		return died(g, ev); /* it has closed its end: exiting */
	if (n == -1)
		return -errno;
	if (n != (ssize_t)sizeof(m))
		return -EPROTO;
	if (!g->ready)
		return hello(g, &m, ev);
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
