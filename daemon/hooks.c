/*
 * hooks.c: runs the hooks directory's executables for a transaction's
 * "freeze", "thaw" and "abort" stages (what and in which order: hooks.h).
 *
 * A hook is someone else's program run as root at the moment the machine
 * is most fragile, so everything about it is bounded: who may have put it
 * there (root only, checked on the directory and on the file just before
 * each start), how long it runs (a timer, then SIGKILL to its whole
 * process group), how much of its output is kept (HOOKS_OUTPUT_MAX per
 * run, the rest counted and drained), and how long we wait for a process
 * that will not die (HOOKS_KILL_GRACE_MS, after which it is left to be
 * reaped whenever it does).  One hook runs at a time; the loop stays live
 * meanwhile: the hook's pipe, its process handle and its timer are three
 * events.
 *
 * The process itself is os/proc.h's: held by a handle, never by its pid
 * alone, started with nothing of the daemon's (only 0-2 open: the thaw
 * guard's directory descriptors of frozen filesystems must never leak
 * into a hook; a new session; default signal dispositions), and no code
 * of ours runs in the child of a daemon with threads (the freezer).
 *
 * We exec the hook by path after checking it with fstatat() on the
 * directory's descriptor.  Between the two, only someone who can write
 * the directory could swap the file, and we have just checked that only
 * root can.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "hooks.h"
#include "os/proc.h"
#include "util.h"

#define HOOKS_DRAIN_MAX (64 * 1024) /* read per callback and after reap */
#define HOOKS_OUTPUT_RUNS (3 * HOOKS_MAX) /* runs kept for hooks_output */

/* One hook of a stage. */
struct item {
	struct hooks_entry e;
	bool done; /* e is final */
	bool ran; /* it was started */
};

/* What one hook printed in one stage. */
struct capture {
	struct capture *next;
	char name[HOOKS_NAME_MAX + 1];
	enum hooks_phase phase;
	size_t len; /* kept, in buf */
	size_t total; /* printed */
	char buf[HOOKS_OUTPUT_MAX];
};

/* A killed hook that has not died yet: reaped whenever it does. */
struct straggler {
	struct straggler *next;
	struct hooks *h;
	struct proc proc;
	struct event *ev;
};

/* How a hook ended, for hook_over(). */
enum ending {
	END_STATUS, /* it exited: its wait(2) status */
	END_LOST, /* it ended, reaped by someone else: no status */
	END_STUCK, /* still there after SIGKILL */
};

/* The hook running now (proc.fd -1: none). */
struct run {
	struct proc proc;
	int outfd; /* -1 once closed */
	struct event *pid_ev, *out_ev;
	bool killed; /* its time ran out: SIGKILL sent */
	uint64_t start_us;
	struct capture *cap; /* NULL if out of memory */
	size_t printed;
	struct item *item;
};

/* A hook started with "freeze" in transaction memo_txid. */
struct memo {
	char name[HOOKS_NAME_MAX + 1];
	bool froze; /* its "freeze" exited 0 */
};

struct hooks {
	struct event_base *base;
	hooks_done_fn done;
	void *arg;
	struct event *finish_ev; /* delivers the result from the loop */
	struct event *timer_ev; /* the running hook's deadline */

	/* the stage; running until its done has been called */
	bool running;
	enum hooks_phase phase;
	uint64_t txid;
	unsigned int timeout_ms;
	char dir[PATH_MAX];
	int dirfd;
	char dir_why[HOOKS_REASON_MAX]; /* the directory itself failed */
	struct item items[HOOKS_MAX + 1]; /* + 1: to see one too many */
	size_t nitems, next;
	bool stop; /* "freeze" failed: run no more */
	uint64_t start_us, duration_us;
	struct run cur;

	bool memo_valid;
	uint64_t memo_txid;
	struct memo memo[HOOKS_MAX];
	size_t nmemo;

	struct straggler *stragglers;

	struct capture *out_head, **out_tail;
	size_t nout;
	size_t out_lost; /* runs whose output was dropped (HOOKS_OUTPUT_RUNS) */
};

enum verdict {
	V_RUN, /* a hook we may run */
	V_IGNORE, /* not a hook at all: say nothing */
	V_NOT, /* a hook we will not run: e says why */
};

static void run_next(struct hooks *);

const char *
hooks_phase_name(enum hooks_phase phase)
{
	switch (phase) {
	case HOOKS_FREEZE:
		return "freeze";
	case HOOKS_THAW:
		return "thaw";
	case HOOKS_ABORT:
		return "abort";
	}
	return "?";
}

static void set_why(struct hooks_entry *, enum hooks_status, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_why(struct hooks_entry *e, enum hooks_status status, const char *fmt, ...)
{
	va_list ap;

	e->status = status;
	va_start(ap, fmt);
	(void)vsnprintf(e->why, sizeof(e->why), fmt, ap);
	va_end(ap);
}

/* [A-Za-z0-9_][A-Za-z0-9_.-]*, as run-parts(8) and cron take them. */
static bool valid_name(const char *);
static bool leftover(const char *);

static bool
valid_name(const char *name)
{
	const char *s;

	if (name[0] == '.' || name[0] == '-' || name[0] == '\0')
		return false;
	for (s = name; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		        (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' ||
		        *s == '-'))
			return false;
	return s - name <= HOOKS_NAME_MAX;
}

/*
 * What editors and package managers leave beside a file: an old copy
 * must not run as a second hook (foo and foo.dpkg-old would freeze a
 * database twice).
 */
static bool
leftover(const char *name)
{
	static const char *const suffixes[] = {"~", ".bak", ".orig", ".rpmnew",
	    ".rpmsave", ".sample", ".disabled"};
	size_t i, len = strlen(name), n;

	if (strstr(name, ".dpkg-") != NULL)
		return true;
	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		n = strlen(suffixes[i]);
		if (len >= n && strcmp(name + len - n, suffixes[i]) == 0)
			return true;
	}
	return false;
}

/*
 * Whether st may not be trusted to run as root: owned by someone else,
 * or writable by someone else.  why says which.
 */
static bool
insecure(const struct stat *st, char *why, size_t len)
{
	mode_t w = st->st_mode & (S_IWGRP | S_IWOTH);

	if (st->st_uid != 0) {
		snprintf(why, len, "owned by uid %u, not root",
		    (unsigned int)st->st_uid);
		return true;
	}
	if (w == 0)
		return false;
	snprintf(why, len, "writable by %s",
	    w == (S_IWGRP | S_IWOTH) ? "group and others"
	        : w == S_IWGRP       ? "group"
	                             : "others");
	return true;
}

/*
 * Look at name in dirfd.  scan: we are listing the directory (whatever is
 * not a hook is ignored); else it was a hook, and is checked again just
 * before it runs.
 */
static enum verdict
check_hook(int dirfd, const char *name, struct hooks_entry *e, bool scan)
{
	struct stat st;
	char why[64];

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		if (scan && errno == ENOENT)
			return V_IGNORE; /* removed while we listed */
		if (errno == ENOENT)
			set_why(e, HOOK_ERROR, "no longer there");
		else
			set_why(
			    e, HOOK_ERROR, "cannot check: %s", strerror(errno));
		return V_NOT;
	}
	if (S_ISLNK(st.st_mode)) {
		/* a link to what would be a hook: say why it will not run */
		if (fstatat(dirfd, name, &st, 0) == 0 && S_ISREG(st.st_mode) &&
		    (st.st_mode & 0111) != 0) {
			set_why(e, HOOK_REFUSED, "refused: a symbolic link");
			return V_NOT;
		}
		if (scan)
			return V_IGNORE;
		set_why(e, HOOK_ERROR, "no longer a regular file");
		return V_NOT;
	}
	if (!S_ISREG(st.st_mode)) {
		if (scan)
			return V_IGNORE;
		set_why(e, HOOK_ERROR, "no longer a regular file");
		return V_NOT;
	}
	if ((st.st_mode & 0111) == 0) {
		set_why(e, scan ? HOOK_SKIPPED : HOOK_ERROR, "%s",
		    scan ? "not executable" : "no longer executable");
		return V_NOT;
	}
	if (insecure(&st, why, sizeof(why))) {
		set_why(e, HOOK_REFUSED, "refused: %s", why);
		return V_NOT;
	}
	return V_RUN;
}

enum dir_state {
	DIR_OK, /* open in h->dirfd */
	DIR_MISSING, /* ENOENT: no hooks */
	DIR_REFUSED, /* unsafe owner or mode: why says which */
	DIR_ERROR, /* cannot be opened: why says why */
};

/* Open the stage's directory into h->dirfd, and check it. */
static enum dir_state
open_dir(struct hooks *h, char *why, size_t len)
{
	struct stat st;
	int fd;

	if ((fd = open(h->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		snprintf(why, len, "%s", strerror(errno));
		return errno == ENOENT ? DIR_MISSING : DIR_ERROR;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(why, len, "%s", strerror(errno));
		close(fd);
		return DIR_ERROR;
	}
	if (insecure(&st, why, len)) {
		close(fd);
		return DIR_REFUSED;
	}
	h->dirfd = fd;
	return DIR_OK;
}

static int
item_cmp(const void *a, const void *b)
{
	return strcmp(
	    ((const struct item *)a)->e.name, ((const struct item *)b)->e.name);
}

static struct item *
add_item(struct hooks *h, const char *name)
{
	struct item *it = &h->items[h->nitems++];

	memset(it, 0, sizeof(*it));
	snprintf(it->e.name, sizeof(it->e.name), "%s", name);
	it->e.exit_code = -1;
	return it;
}

/* "freeze": list the directory, in name order. */
static void
plan_freeze(struct hooks *h)
{
	struct dirent *de;
	struct item *it;
	DIR *d;
	char why[HOOKS_WHY_MAX];
	size_t i;
	int fd;

	h->memo_valid = true;
	h->memo_txid = h->txid;
	h->nmemo = 0;

	switch (open_dir(h, why, sizeof(why))) {
	case DIR_OK:
		break;
	case DIR_MISSING:
		return;
	case DIR_REFUSED:
		snprintf(h->dir_why, sizeof(h->dir_why),
		    "hooks directory %s: refused: %s", h->dir, why);
		return;
	case DIR_ERROR:
		snprintf(h->dir_why, sizeof(h->dir_why),
		    "hooks directory %s: %s", h->dir, why);
		return;
	}
	if ((fd = dup(h->dirfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		snprintf(h->dir_why, sizeof(h->dir_why),
		    "hooks directory %s: %s", h->dir, strerror(errno));
		if (fd != -1)
			close(fd);
		return;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (!valid_name(de->d_name) || leftover(de->d_name))
			continue;
		it = add_item(h, de->d_name); /* items has a spare slot */
		switch (check_hook(h->dirfd, de->d_name, &it->e, true)) {
		case V_RUN:
			break;
		case V_IGNORE:
			h->nitems--;
			continue;
		case V_NOT:
			it->done = true;
			break;
		}
		if (h->nitems > HOOKS_MAX) {
			snprintf(h->dir_why, sizeof(h->dir_why),
			    "hooks directory %s: more than %d hooks", h->dir,
			    HOOKS_MAX);
			h->nitems = 0;
			closedir(d);
			return;
		}
	}
	if (errno != 0) {
		snprintf(h->dir_why, sizeof(h->dir_why),
		    "hooks directory %s: %s", h->dir, strerror(errno));
		h->nitems = 0;
		closedir(d);
		return;
	}
	closedir(d);
	qsort(h->items, h->nitems, sizeof(h->items[0]), item_cmp);

	/* a refused hook vetoes before any hook runs: nothing to undo */
	for (i = 0; i < h->nitems; i++)
		if (h->items[i].done && h->items[i].e.status == HOOK_REFUSED)
			h->stop = true;
}

int
hooks_preview(const char *dir, char ***names, char *why, size_t whylen)
{
	struct hooks *h;
	size_t i, k = 0;
	int rc = 0;

	why[0] = '\0';
	*names = NULL;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return -ENOMEM;
	h->dirfd = -1;
	snprintf(h->dir, sizeof(h->dir), "%s", dir);
	plan_freeze(h);
	if (h->dirfd != -1)
		close(h->dirfd);
	if (h->dir_why[0] != '\0')
		snprintf(why, whylen, "%s", h->dir_why);
	if ((*names = calloc(h->nitems + 1, sizeof(**names))) == NULL)
		rc = -ENOMEM;
	for (i = 0; rc == 0 && i < h->nitems; i++) {
		const struct item *it = &h->items[i];

		/* a refused hook vetoes the stage before anything runs */
		if (it->done && it->e.status == HOOK_REFUSED && why[0] == '\0')
			snprintf(
			    why, whylen, "hook %s: %s", it->e.name, it->e.why);
		if (it->done)
			continue; /* refused or skipped: never run */
		if (((*names)[k] = strdup(it->e.name)) == NULL)
			rc = -ENOMEM;
		else
			k++;
	}
	free(h);
	return rc;
}

/*
 * "thaw" and "abort": the hooks remembered from this transaction's
 * "freeze", in reverse order; then forget them, so that no hook is told
 * twice.
 */
static void
plan_undo(struct hooks *h)
{
	char why[HOOKS_WHY_MAX];
	enum dir_state st;
	struct item *it;
	size_t i;

	if (!h->memo_valid || h->memo_txid != h->txid)
		return;
	for (i = h->nmemo; i-- > 0;)
		if (h->phase == HOOKS_ABORT || h->memo[i].froze)
			add_item(h, h->memo[i].name);
	h->memo_valid = false;
	h->nmemo = 0;
	if (h->nitems == 0)
		return;

	if ((st = open_dir(h, why, sizeof(why))) == DIR_OK)
		return;
	/* each hook that should have been told is reported, none runs */
	for (i = 0; i < h->nitems; i++) {
		it = &h->items[i];
		it->done = true;
		if (st == DIR_REFUSED)
			set_why(&it->e, HOOK_REFUSED,
			    "refused: hooks directory %s", why);
		else
			set_why(&it->e, HOOK_ERROR, "hooks directory: %s", why);
	}
}

/* Keep what fits of n bytes of output, count them all. */
static void
keep_output(struct run *p, const char *buf, size_t n)
{
	size_t room;

	p->printed += n;
	if (p->cap == NULL)
		return;
	p->cap->total += n;
	room = sizeof(p->cap->buf) - p->cap->len;
	if (n > room)
		n = room;
	memcpy(p->cap->buf + p->cap->len, buf, n);
	p->cap->len += n;
}

/*
 * Read at most max bytes of what the pipe holds; false at EOF or on an
 * error (the pipe is of no more use).
 */
static bool
read_output(struct run *p, size_t max)
{
	char buf[4096];
	size_t got = 0;
	ssize_t n;

	while (got < max) {
		n = read(p->outfd, buf, sizeof(buf));
		if (n > 0) {
			keep_output(p, buf, (size_t)n);
			got += (size_t)n;
		} else if (n == -1 && errno == EINTR) {
			continue;
		} else if (n == -1 && errno == EAGAIN) {
			return true;
		} else {
			return false;
		}
	}
	return true;
}

static void
close_output(struct run *p)
{
	if (p->out_ev != NULL) {
		event_free(p->out_ev);
		p->out_ev = NULL;
	}
	if (p->outfd != -1) {
		close(p->outfd);
		p->outfd = -1;
	}
}

static void
out_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hooks *h = arg;

	(void)fd;
	(void)what;
	if (!read_output(&h->cur, HOOKS_DRAIN_MAX))
		close_output(&h->cur);
}

/* File a finished run's output for hooks_output(). */
static void
stash_output(struct hooks *h, struct capture *c)
{
	struct capture *old;

	if (c == NULL)
		return;
	if (c->total == 0) {
		free(c);
		return;
	}
	if (h->nout == HOOKS_OUTPUT_RUNS) {
		/* nobody has asked for a long time: keep the newest */
		old = h->out_head;
		if ((h->out_head = old->next) == NULL)
			h->out_tail = &h->out_head;
		free(old);
		h->nout--;
		h->out_lost++;
	}
	c->next = NULL;
	*h->out_tail = c;
	h->out_tail = &c->next;
	h->nout++;
}

/* Nothing running: the handle and the pipe closed. */
static void
run_clear(struct run *p)
{
	memset(p, 0, sizeof(*p));
	p->proc.pid = -1;
	p->proc.fd = p->proc.pd = -1;
	p->outfd = -1;
}

static void
straggler_cb(evutil_socket_t fd, short what, void *arg)
{
	struct straggler *l = arg, **lp;

	(void)fd;
	(void)what;
	if (!proc_release(&l->proc))
		return; /* not yet */
	for (lp = &l->h->stragglers; *lp != l; lp = &(*lp)->next)
		;
	*lp = l->next;
	event_free(l->ev);
	free(l);
}

/*
 * The running hook was killed but has not died (stuck in the kernel, or
 * cancelled just now): stop waiting for it, but keep its handle watched
 * so that it is reaped when it does die.  p's handle is gone after this.
 */
static void
straggle(struct hooks *h, struct run *p)
{
	struct straggler *l;

	event_free(p->pid_ev);
	p->pid_ev = NULL;
	if (proc_release(&p->proc))
		return; /* it died meanwhile, or there is nothing to wait for */
	if ((l = calloc(1, sizeof(*l))) == NULL ||
	    (l->ev = event_new(h->base, p->proc.fd, EV_READ | EV_PERSIST,
	         straggler_cb, l)) == NULL ||
	    event_add(l->ev, NULL) == -1) {
		/* cannot watch it: it stays a zombie until we exit */
		if (l != NULL && l->ev != NULL)
			event_free(l->ev);
		free(l);
		proc_forget(&p->proc);
		return;
	}
	l->h = h;
	l->proc = p->proc;
	l->next = h->stragglers;
	h->stragglers = l;
	p->proc.fd = p->proc.pd = -1;
}

/* Wait until deadline (mono_us) for the process to die; reap it. */
static void
reap_by(struct proc *proc, uint64_t deadline)
{
	uint64_t now = mono_us();

	(void)proc_wait(proc,
	    now < deadline ? (int)((deadline - now + 999) / 1000) : 0, NULL);
}

/*
 * The running hook is over: how it ended, and its wait(2) status if
 * END_STATUS.  File its entry and output, then go on.
 */
static void
hook_over(struct hooks *h, enum ending how, int status)
{
	struct run *p = &h->cur;
	struct hooks_entry *e = &p->item->e;
	size_t i;

	/*
	 * Whatever it wrote before it ended is in the pipe; take it, but do
	 * not wait for EOF: something it started may hold the pipe open.
	 */
	if (p->outfd != -1)
		(void)read_output(p, HOOKS_DRAIN_MAX);
	close_output(p);
	evtimer_del(h->timer_ev);
	e->duration_us = mono_us() - p->start_us;
	e->output_bytes = p->printed;

	if (how == END_STUCK) {
		set_why(e, HOOK_TIMEOUT,
		    "timed out after %u ms, still there %u ms after SIGKILL",
		    h->timeout_ms, HOOKS_KILL_GRACE_MS);
		straggle(h, p);
	} else {
		if (how == END_STATUS && WIFEXITED(status))
			e->exit_code = WEXITSTATUS(status);
		else if (how == END_STATUS && WIFSIGNALED(status))
			e->signal = WTERMSIG(status);
		if (p->killed)
			set_why(e, HOOK_TIMEOUT, "timed out after %u ms",
			    h->timeout_ms);
		else if (how == END_LOST)
			set_why(e, HOOK_ERROR,
			    "ended, but its exit status was lost (reaped by someone else)");
		else if (!WIFEXITED(status))
			set_why(e, HOOK_FAILED, "killed by signal %d%s",
			    WTERMSIG(status),
			    WCOREDUMP(status) ? " (core dumped)" : "");
		else if (WEXITSTATUS(status) != 0)
			set_why(e, HOOK_FAILED, "exit %d", WEXITSTATUS(status));
		else
			set_why(e, HOOK_OK, "%s", "");
	}
	if (p->pid_ev != NULL)
		event_free(p->pid_ev);
	(void)proc_release(&p->proc); /* reaped already: closes it */
	if (p->cap != NULL) {
		snprintf(p->cap->name, sizeof(p->cap->name), "%s", e->name);
		p->cap->phase = h->phase;
	}
	stash_output(h, p->cap);
	p->item->done = true;

	if (h->phase == HOOKS_FREEZE) {
		if (e->status == HOOK_OK) {
			for (i = 0; i < h->nmemo; i++)
				if (strcmp(h->memo[i].name, e->name) == 0)
					h->memo[i].froze = true;
		} else {
			h->stop = true;
		}
	}
	run_clear(p);
	run_next(h);
}

static void
pid_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hooks *h = arg;
	int rc, status = 0;

	(void)fd;
	(void)what;
	rc = proc_wait(&h->cur.proc, 0, &status);
	if (rc == -ETIMEDOUT || rc == -EAGAIN || rc == -EINTR)
		return; /* not yet */
	/* an error: reaped by someone else (SIGCHLD ignored?), it has ended */
	hook_over(h, rc == 0 ? END_STATUS : END_LOST, status);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hooks *h = arg;
	struct run *p = &h->cur;
	struct timeval tv = {
	    HOOKS_KILL_GRACE_MS / 1000, (HOOKS_KILL_GRACE_MS % 1000) * 1000};
	int status;

	(void)fd;
	(void)what;
	if (p->killed) {
		hook_over(h, END_STUCK, 0);
		return;
	}
	/* it may have exited just now, its handle's event not yet run */
	if (proc_wait(&p->proc, 0, &status) == 0) {
		hook_over(h, END_STATUS, status);
		return;
	}
	/*
	 * The whole group: a hook's children (a sleep in a shell script)
	 * would otherwise live on.  The leader is not reaped yet, so the
	 * group id cannot belong to anyone else.
	 */
	(void)proc_kill(&p->proc, SIGKILL, true);
	p->killed = true;
	evtimer_add(h->timer_ev, &tv);
}

/*
 * Start the hook it, its output into a pipe, its stdin /dev/null, in
 * "/"; errno value on failure.
 */
static int
spawn(struct hooks *h, struct item *it, struct proc *proc, int *outfd)
{
	char path[PATH_MAX], env_phase[32], env_txid[48], env_timeout[48];
	char *argv[3], *envp[5];
	struct proc_spawn ps;
	int p[2], fd, i, rc;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", h->dir, it->e.name) >=
	    sizeof(path))
		return ENAMETOOLONG;
	snprintf(env_phase, sizeof(env_phase), "HVVSS_PHASE=%s",
	    hooks_phase_name(h->phase));
	snprintf(env_txid, sizeof(env_txid), "HVVSS_TXID=%" PRIu64, h->txid);
	snprintf(env_timeout, sizeof(env_timeout), "HVVSS_TIMEOUT_MS=%u",
	    h->timeout_ms);
	argv[0] = path;
	argv[1] = (char *)hooks_phase_name(h->phase);
	argv[2] = NULL;
	envp[0] = (char *)HOOKS_ENV_PATH;
	envp[1] = env_phase;
	envp[2] = env_txid;
	envp[3] = env_timeout;
	envp[4] = NULL;

	/*
	 * Only our end is non-blocking: O_NONBLOCK belongs to the open file,
	 * and a hook writing to a non-blocking pipe would lose output.
	 * Both ends above 2, so that the file actions below cannot clobber
	 * one with another.
	 */
	if (pipe2(p, O_CLOEXEC) == -1)
		return errno;
	for (i = 0; i < 2; i++) {
		if (p[i] > 2)
			continue;
		if ((fd = fcntl(p[i], F_DUPFD_CLOEXEC, 3)) == -1) {
			rc = errno;
			close(p[0]);
			close(p[1]);
			return rc;
		}
		close(p[i]);
		p[i] = fd;
	}
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) == -1) {
		rc = errno;
		close(p[0]);
		close(p[1]);
		return rc;
	}

	memset(&ps, 0, sizeof(ps));
	ps.path = path;
	ps.argv = argv;
	ps.envp = envp;
	ps.fd_in = -1;
	ps.fd_out = ps.fd_err = p[1];
	ps.dir = "/";
	rc = -proc_spawn(proc, &ps, NULL, 0);
	close(p[1]);
	if (rc != 0) {
		close(p[0]);
		return rc;
	}
	*outfd = p[0];
	return 0;
}

/* Start it: 0, or an errno value (it did not run). */
static int
start(struct hooks *h, struct item *it)
{
	struct run *p = &h->cur;
	struct timeval tv = {
	    h->timeout_ms / 1000, (h->timeout_ms % 1000) * 1000};
	int outfd, rc;

	run_clear(p);
	p->start_us = mono_us();
	if ((rc = spawn(h, it, &p->proc, &outfd)) != 0) {
		run_clear(p);
		return rc;
	}
	p->outfd = outfd;
	p->item = it;
	p->cap = calloc(1, sizeof(*p->cap)); /* NULL: output counted only */

	if (h->phase == HOOKS_FREEZE && h->nmemo < HOOKS_MAX) {
		/* it has seen "freeze" from now on, whatever it does */
		memcpy(h->memo[h->nmemo].name, it->e.name,
		    sizeof(h->memo[h->nmemo].name)); /* both NUL-ended */
		h->memo[h->nmemo++].froze = false;
	}
	it->ran = true;

	if ((p->pid_ev = event_new(h->base, p->proc.fd, EV_READ | EV_PERSIST,
	         pid_cb, h)) == NULL ||
	    event_add(p->pid_ev, NULL) == -1 ||
	    (p->out_ev = event_new(
	         h->base, outfd, EV_READ | EV_PERSIST, out_cb, h)) == NULL ||
	    event_add(p->out_ev, NULL) == -1 ||
	    evtimer_add(h->timer_ev, &tv) == -1) {
		/* no way to watch it: kill it and say so */
		(void)proc_kill(&p->proc, SIGKILL, true);
		reap_by(&p->proc, mono_us() + HOOKS_KILL_GRACE_MS * 1000ULL);
		close_output(p);
		if (p->pid_ev != NULL)
			event_free(p->pid_ev);
		evtimer_del(h->timer_ev);
		proc_forget(&p->proc);
		free(p->cap);
		run_clear(p);
		return ENOMEM;
	}
	return 0;
}

/* The stage is over: have the loop deliver the result. */
static void
finish(struct hooks *h)
{
	if (h->dirfd != -1) {
		close(h->dirfd);
		h->dirfd = -1;
	}
	h->duration_us = mono_us() - h->start_us;
	event_active(h->finish_ev, EV_TIMEOUT, 0);
}

/* Start the next hook that may run, or finish. */
static void
run_next(struct hooks *h)
{
	struct item *it;
	int rc;

	while (!h->stop && h->next < h->nitems) {
		it = &h->items[h->next++];
		if (it->done)
			continue;
		/* time has passed since the listing: look again */
		if (check_hook(h->dirfd, it->e.name, &it->e, false) != V_RUN) {
			it->done = true;
			if (h->phase == HOOKS_FREEZE)
				h->stop = true;
			continue;
		}
		if ((rc = start(h, it)) != 0) {
			set_why(
			    &it->e, HOOK_ERROR, "cannot run: %s", strerror(rc));
			it->done = true;
			if (h->phase == HOOKS_FREEZE)
				h->stop = true;
			continue;
		}
		return; /* hook_over() calls us again */
	}
	finish(h);
}

static void
finish_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hooks *h = arg;
	struct hooks_result r;
	struct hooks_entry *entries;
	hooks_done_fn done = h->done;
	void *done_arg = h->arg;
	size_t i, n = 0, bad = 0;
	const struct item *first = NULL;

	(void)fd;
	(void)what;
	memset(&r, 0, sizeof(r));
	r.txid = h->txid;
	r.phase = h->phase;
	r.duration_us = h->duration_us;
	for (i = 0; i < h->nitems; i++) {
		if (!h->items[i].done)
			continue;
		n++;
		if (h->items[i].ran)
			r.nran++;
		if (h->items[i].e.status != HOOK_OK &&
		    h->items[i].e.status != HOOK_SKIPPED) {
			if (bad++ == 0)
				first = &h->items[i];
		}
	}
	r.ok = bad == 0 && h->dir_why[0] == '\0';
	if (h->dir_why[0] != '\0')
		snprintf(r.reason, sizeof(r.reason), "%s", h->dir_why);
	else if (bad == 1)
		snprintf(r.reason, sizeof(r.reason), "hook %s: %s",
		    first->e.name, first->e.why);
	else if (bad > 1)
		snprintf(r.reason, sizeof(r.reason),
		    "hook %s: %s (and %zu more)", first->e.name, first->e.why,
		    bad - 1);

	/*
	 * A copy, so that done may start the next stage (or free us) and
	 * still read its result.
	 */
	if (n > 0 && (entries = calloc(n, sizeof(*entries))) != NULL) {
		for (i = 0, n = 0; i < h->nitems; i++)
			if (h->items[i].done)
				entries[n++] = h->items[i].e;
		r.entries = entries;
		r.nentries = n;
	} else {
		entries = NULL;
	}
	h->running = false;
	done(&r, done_arg); /* h may be gone from here on */
	free(entries);
}

struct hooks *
hooks_new(struct event_base *base, hooks_done_fn done, void *arg)
{
	struct hooks *h;

	if (base == NULL || done == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	h->base = base;
	h->done = done;
	h->arg = arg;
	h->dirfd = -1;
	run_clear(&h->cur);
	h->out_tail = &h->out_head;
	if ((h->finish_ev = event_new(base, -1, 0, finish_cb, h)) == NULL ||
	    (h->timer_ev = evtimer_new(base, timer_cb, h)) == NULL) {
		if (h->finish_ev != NULL)
			event_free(h->finish_ev);
		free(h);
		errno = ENOMEM;
		return NULL;
	}
	return h;
}

int
hooks_run(struct hooks *h, const char *dir, enum hooks_phase phase,
    unsigned int timeout_ms, uint64_t txid)
{
	if (h->running)
		return -EBUSY;
	if (dir == NULL || *dir == '\0' || strlen(dir) >= sizeof(h->dir) ||
	    (phase != HOOKS_FREEZE && phase != HOOKS_THAW &&
	        phase != HOOKS_ABORT) ||
	    timeout_ms == 0 || timeout_ms > 86400000)
		return -EINVAL;

	h->running = true;
	h->phase = phase;
	h->txid = txid;
	h->timeout_ms = timeout_ms;
	snprintf(h->dir, sizeof(h->dir), "%s", dir);
	h->dirfd = -1;
	h->dir_why[0] = '\0';
	h->nitems = h->next = 0;
	h->stop = false;
	h->start_us = mono_us();

	if (phase == HOOKS_FREEZE)
		plan_freeze(h);
	else
		plan_undo(h);
	run_next(h);
	return 0;
}

/* Kill the running hook and leave it to be reaped when it dies. */
static void
drop_current(struct hooks *h)
{
	struct run *p = &h->cur;

	if (p->proc.fd == -1)
		return;
	(void)proc_kill(&p->proc, SIGKILL, true);
	evtimer_del(h->timer_ev);
	close_output(p);
	if (p->cap != NULL) {
		snprintf(
		    p->cap->name, sizeof(p->cap->name), "%s", p->item->e.name);
		p->cap->phase = h->phase;
	}
	stash_output(h, p->cap);
	straggle(h, p);
	run_clear(p);
}

void
hooks_cancel(struct hooks *h)
{
	if (h == NULL || !h->running)
		return;
	drop_current(h);
	event_del(h->finish_ev);
	if (h->dirfd != -1) {
		close(h->dirfd);
		h->dirfd = -1;
	}
	h->running = false;
}

void
hooks_free(struct hooks *h)
{
	struct straggler *l;
	struct capture *c;
	uint64_t deadline;

	if (h == NULL)
		return;
	hooks_cancel(h);
	/* everything still there gets the same grace, all at once */
	for (l = h->stragglers; l != NULL; l = l->next)
		(void)proc_kill(&l->proc, SIGKILL, true);
	deadline = mono_us() + HOOKS_KILL_GRACE_MS * 1000ULL;
	while ((l = h->stragglers) != NULL) {
		h->stragglers = l->next;
		reap_by(&l->proc, deadline);
		event_free(l->ev);
		proc_forget(&l->proc);
		free(l);
	}
	while ((c = h->out_head) != NULL) {
		h->out_head = c->next;
		free(c);
	}
	event_free(h->finish_ev);
	event_free(h->timer_ev);
	free(h);
}

bool
hooks_busy(const struct hooks *h)
{
	return h->running;
}

size_t
hooks_pending(const struct hooks *h, uint64_t txid, enum hooks_phase phase)
{
	size_t i, n = 0;

	if (phase == HOOKS_FREEZE || !h->memo_valid || h->memo_txid != txid)
		return 0;
	for (i = 0; i < h->nmemo; i++)
		if (phase == HOOKS_ABORT || h->memo[i].froze)
			n++;
	return n;
}

/* One run's output, line by line, made safe to log. */
static void
emit_capture(const struct capture *c, hooks_emit_fn emit, void *arg)
{
	char line[HOOKS_OUTPUT_MAX + 1], more[80];
	unsigned char ch;
	size_t i, n = 0;

	for (i = 0; i <= c->len; i++) {
		if (i == c->len || c->buf[i] == '\n') {
			if (n > 0) {
				line[n] = '\0';
				emit(c->name, c->phase, line, arg);
			}
			n = 0;
			continue;
		}
		ch = (unsigned char)c->buf[i];
		if (ch == '\r' && (i + 1 == c->len || c->buf[i + 1] == '\n'))
			continue;
		line[n++] =
		    (ch < 0x20 && ch != '\t') || ch == 0x7f ? '?' : (char)ch;
	}
	if (c->total > c->len) {
		snprintf(more, sizeof(more),
		    "(%zu more bytes of output not kept)", c->total - c->len);
		emit(c->name, c->phase, more, arg);
	}
}

void
hooks_output(struct hooks *h, hooks_emit_fn emit, void *arg)
{
	struct capture *c;
	char lost[80];

	if (h->out_lost > 0) {
		snprintf(lost, sizeof(lost),
		    "(output of %zu earlier hook runs not kept)", h->out_lost);
		emit("-", h->out_head != NULL ? h->out_head->phase : h->phase,
		    lost, arg);
		h->out_lost = 0;
	}
	while ((c = h->out_head) != NULL) {
		h->out_head = c->next;
		emit_capture(c, emit, arg);
		free(c);
	}
	h->out_tail = &h->out_head;
	h->nout = 0;
}
