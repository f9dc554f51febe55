/*
 * privsep.c: the parent starts, serves and restarts its engine
 * (privsep.h).
 *
 * Hazards:
 * - The parent is threaded (the freezer's threads, libevent's locks)
 *   when it forks a restarted engine.  Only the calling thread goes on in
 *   the child, and a lock another thread held stays held: so the child
 *   looks up nothing (the user's ids were looked up once, at the start,
 *   sandbox_user()), and calls only what takes no lock of the parent's
 *   but malloc's, which glibc's fork() resets in the child.
 * - The child inherits every descriptor of the parent: the guard's
 *   socket, the freezer's pipes, the device, the event loop's.  An engine
 *   holding one of them could talk to the guard or forge the freezer's
 *   results, so every descriptor is closed but the engine's socket, its
 *   kept ones and 0-2, before anything of the engine runs.
 * - The parent may die first: the engine gets SIGKILL then (Linux's
 *   PR_SET_PDEATHSIG, set by sandbox_engine_as() once the ids changed,
 *   which clear it; FreeBSD's PROC_PDEATHSIG_CTL), rather than serving
 *   on with no one to freeze.
 * - A compromised engine may close its socket and live on: the engine is
 *   killed (SIGKILL) before it is reaped, so that waitpid() cannot hang
 *   and no second engine ever runs beside it.
 * - The engine is reaped by its pid, never by waitpid(-1): hooks and the
 *   guard are children too, and reaped by their own modules.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf.h"
#include "log.h"
#include "priv.h"
#include "privsep.h"
#include "sigs.h"
#include "os/sandbox.h"
#include "util.h"

struct privsep {
	struct event_base *base;
	const struct conf *c;
	struct guard *guard;
	struct privsep_conf pc;
	char root[4096]; /* "" for no chroot */
	uid_t uid;
	gid_t gid;
	struct priv *priv;
	pid_t pid; /* the engine, -1 if none */
	uint64_t started_ms;
	unsigned int backoff_ms;
	unsigned int restarts;
	struct event *reap; /* the engine is gone: reap it */
	struct event *restart; /* the backoff passed: start another */
	struct record *record;
	/* the last engine (or the daemon before us) died in its frozen
	 * window: the next engine is told first (PRIV_EV_THAWED_BEHIND) */
	bool behind;
	unsigned int nbehind;
	void (*stopped)(void *); /* stopping: called once it is gone */
	void *stopped_arg;
};

const char *
privsep_status(int status, char *buf, size_t len)
{
	const char *name;
	char num[32];
	int sig;

	if (WIFEXITED(status)) {
		snprintf(buf, len, "exited %d", WEXITSTATUS(status));
		return buf;
	}
	if (!WIFSIGNALED(status)) {
		snprintf(buf, len, "wait status %#x", (unsigned int)status);
		return buf;
	}
	sig = WTERMSIG(status);
	name = sigs_name(sig, num, sizeof(num));
	snprintf(buf, len, "killed by %s (%s)%s", name, strsignal(sig),
	    sig == SIGSYS ? ": a system call outside its seccomp list"
	        : sig == SIGTRAP
	        ? ": a call outside capability mode, or a debugger trap"
	        : "");
	return buf;
}

/* In the child: close every descriptor but 0-2, sock and keep[]. */
static void
close_others(int sock, const int *keep, size_t nkeep)
{
	int fds[PRIVSEP_KEEP_MAX + 1], t;
	size_t n = 0, i, j;
	unsigned int from = 3;

	fds[n++] = sock;
	for (i = 0; i < nkeep; i++)
		fds[n++] = keep[i];
	for (i = 1; i < n; i++) /* insertion sort: a few at most */
		for (j = i; j > 0 && fds[j - 1] > fds[j]; j--) {
			t = fds[j];
			fds[j] = fds[j - 1];
			fds[j - 1] = t;
		}
	for (i = 0; i < n; i++) {
		if (fds[i] < (int)from) /* 0-2, or a duplicate */
			continue;
		if ((unsigned int)fds[i] > from)
			(void)close_range(from, (unsigned int)fds[i] - 1, 0);
		from = (unsigned int)fds[i] + 1;
	}
	(void)close_range(from, ~0U, 0);
}

/* In the child: become the engine, never return. */
static void
child(struct privsep *ps, int sock)
{
	char err[512];
	sigset_t all;
	int sig;

	/* the engine dies with its parent: sandbox_engine_as() asks for
	 * that (Linux: after the ids changed, which clear it) */
	/* nothing of the parent's signal handling: its pipe is closed */
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)signal(sig, SIG_DFL);
	sigemptyset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, NULL);
	close_others(sock, ps->pc.keep, ps->pc.nkeep);
	if (ps->pc.before != NULL && ps->pc.before(sock, ps->pc.arg) == -1)
		_exit(1);
	if (sandbox_engine_as(ps->uid, ps->gid,
	        ps->root[0] != '\0' ? ps->root : NULL, err,
	        sizeof(err)) == -1) {
		log_warnx("privsep: the engine cannot confine itself: %s", err);
		_exit(1);
	}
	_exit(ps->pc.engine(sock, ps->pc.arg));
}

static void gone_cb(struct priv *, void *);

static int
spawn(struct privsep *ps, char *err, size_t errlen)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		errfmt(err, errlen, errno, "engine socketpair");
		return -1;
	}
	if ((pid = fork()) == -1) {
		errfmt(err, errlen, errno, "fork the engine");
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		close(sv[0]);
		child(ps, sv[1]);
	}
	close(sv[1]);
	ps->pid = pid;
	ps->started_ms = mono_ms();
	if ((ps->priv = priv_new(ps->base, ps->c, ps->guard, sv[0], gone_cb, ps,
	         err, errlen)) == NULL) {
		close(sv[0]);
		(void)kill(pid, SIGKILL);
		(void)waitpid(pid, NULL, 0);
		ps->pid = -1;
		return -1;
	}
	priv_set_record(ps->priv, ps->record);
	if (ps->behind) {
		priv_tell_thawed_behind(ps->priv, ps->nbehind);
		ps->behind = false;
	}
	if (ps->root[0] != '\0')
		log_info(
		    "privsep: engine pid %d started (user uid %u, root %s)",
		    (int)pid, (unsigned int)ps->uid, ps->root);
	else
		log_info(
		    "privsep: engine pid %d started (user uid %u, not chrooted: no CAP_SYS_CHROOT; its filter reaches no path)",
		    (int)pid, (unsigned int)ps->uid);
	return 0;
}

static void
restart_cb(evutil_socket_t fd, short what, void *arg)
{
	struct privsep *ps = arg;
	char err[512];
	struct timeval tv;

	ps->restarts++;
	if (spawn(ps, err, sizeof(err)) == 0)
		return;
	log_warnx("privsep: cannot start an engine: %s: trying again in %u ms",
	    err, ps->backoff_ms);
	tv.tv_sec = ps->backoff_ms / 1000;
	tv.tv_usec = (ps->backoff_ms % 1000) * 1000;
	evtimer_add(ps->restart, &tv);
	if (ps->backoff_ms < PRIVSEP_BACKOFF_MAX_MS)
		ps->backoff_ms = ps->backoff_ms * 2 > PRIVSEP_BACKOFF_MAX_MS
		    ? PRIVSEP_BACKOFF_MAX_MS
		    : ps->backoff_ms * 2;
}

/* Reap the engine that is gone; start another after the backoff. */
static void
reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct privsep *ps = arg;
	char how[128];
	struct timeval tv;
	uint64_t lived;
	int status = 0;
	pid_t pid = ps->pid;
	unsigned int n;

	if (priv_thawed_behind(ps->priv, &n)) {
		ps->behind = true;
		ps->nbehind = n;
	}
	priv_free(ps->priv);
	ps->priv = NULL;
	/* one that closed its end and lives on is killed now */
	(void)kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	ps->pid = -1;
	/* the device the engine had: closed and opened anew, so that the
	 * kernel fails what was in flight, with no moment in which another
	 * daemon could take it */
	(void)priv_device_reopen(ps->c);
	lived = mono_ms() - ps->started_ms;
	if (ps->stopped != NULL) {
		log_info("privsep: the engine (pid %d) %s", (int)pid,
		    privsep_status(status, how, sizeof(how)));
		ps->stopped(ps->stopped_arg);
		return;
	}
	if (lived >= PRIVSEP_STABLE_MS)
		ps->backoff_ms = PRIVSEP_BACKOFF_MIN_MS;
	log_warnx(
	    "privsep: the engine (pid %d) %s after %llu ms: restarting in %u ms",
	    (int)pid, privsep_status(status, how, sizeof(how)),
	    (unsigned long long)lived, ps->backoff_ms);
	tv.tv_sec = ps->backoff_ms / 1000;
	tv.tv_usec = (ps->backoff_ms % 1000) * 1000;
	evtimer_add(ps->restart, &tv);
	ps->backoff_ms = ps->backoff_ms * 2 > PRIVSEP_BACKOFF_MAX_MS
	    ? PRIVSEP_BACKOFF_MAX_MS
	    : ps->backoff_ms * 2;
}

/* priv.c: the engine's end closed, and it thawed.  Not freed here: this
 * runs inside priv's own callback. */
static void
gone_cb(struct priv *p, void *arg)
{
	struct privsep *ps = arg;

	event_active(ps->reap, EV_TIMEOUT, 0);
}

struct privsep *
privsep_start(struct event_base *base, const struct conf *c,
    struct guard *guard, const struct privsep_conf *pc, char *err,
    size_t errlen)
{
	struct privsep *ps;

	if (pc->nkeep > PRIVSEP_KEEP_MAX || pc->engine == NULL ||
	    pc->user == NULL) {
		errfmt(err, errlen, EINVAL, "privsep");
		return NULL;
	}
	if ((ps = calloc(1, sizeof(*ps))) == NULL) {
		errfmt(err, errlen, errno, "privsep");
		return NULL;
	}
	ps->base = base;
	ps->c = c;
	ps->guard = guard;
	ps->pc = *pc;
	ps->pid = -1;
	ps->backoff_ms = PRIVSEP_BACKOFF_MIN_MS;
	ps->behind = pc->thawed_behind > 0;
	ps->nbehind = pc->thawed_behind;
	snprintf(
	    ps->root, sizeof(ps->root), "%s", pc->root != NULL ? pc->root : "");
	if (sandbox_user(pc->user, &ps->uid, &ps->gid, err, errlen) == -1) {
		free(ps);
		return NULL;
	}
	if ((ps->reap = event_new(base, -1, 0, reap_cb, ps)) == NULL ||
	    (ps->restart = evtimer_new(base, restart_cb, ps)) == NULL) {
		errfmt(err, errlen, ENOMEM, "privsep");
		privsep_free(ps);
		return NULL;
	}
	if (spawn(ps, err, errlen) == -1) {
		privsep_free(ps);
		return NULL;
	}
	return ps;
}

void
privsep_free(struct privsep *ps)
{
	if (ps == NULL)
		return;
	/* thaws first (priv_free), then the engine goes */
	priv_free(ps->priv);
	if (ps->pid > 0) {
		(void)kill(ps->pid, SIGKILL);
		while (waitpid(ps->pid, NULL, 0) == -1 && errno == EINTR)
			;
	}
	if (ps->reap != NULL)
		event_free(ps->reap);
	if (ps->restart != NULL)
		event_free(ps->restart);
	free(ps);
}

void
privsep_stop(struct privsep *ps, int sig, void (*done)(void *), void *arg)
{
	ps->stopped = done;
	ps->stopped_arg = arg;
	evtimer_del(ps->restart);
	if (ps->pid <= 0) {
		done(arg);
		return;
	}
	(void)kill(ps->pid, sig);
}

int
privsep_signal(const struct privsep *ps, int sig)
{
	if (ps->pid <= 0)
		return -ESRCH;
	return kill(ps->pid, sig) == 0 ? 0 : -errno;
}

bool
privsep_idle(const struct privsep *ps)
{
	return ps->priv == NULL || priv_idle(ps->priv);
}

void
privsep_conf_changed(struct privsep *ps)
{
	if (ps->priv != NULL)
		priv_conf_changed(ps->priv);
}

void
privsep_set_record(struct privsep *ps, struct record *r)
{
	ps->record = r;
	if (ps->priv != NULL)
		priv_set_record(ps->priv, r);
}

void
privsep_guard(struct privsep *ps, const struct guard_event *ev)
{
	if (ps->priv != NULL)
		priv_guard(ps->priv, ev);
}

pid_t
privsep_engine_pid(const struct privsep *ps)
{
	return ps->pid;
}

unsigned int
privsep_restarts(const struct privsep *ps)
{
	return ps->restarts;
}
