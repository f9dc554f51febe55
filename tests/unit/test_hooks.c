/*
 * test_hooks.c: the hooks runner (daemon/hooks.c) with real processes.
 *
 * Each test makes a hooks directory of shell scripts (root-owned, 0755,
 * as the daemon wants it), runs stages on a real libevent loop and checks
 * what the result says against what the hooks themselves wrote down: the
 * order they ran in, their arguments and environment, and, for the ones
 * that must die, that they and their children are gone.  Hooks append
 * "NAME ARG PHASE TXID" to a log outside the hooks directory.
 *
 * Needs root (the hooks must be owned by root, and one test chowns a
 * hook to uid 1); skipped otherwise.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "hooks.h"
#include "util.h"

#define STAGE_LIMIT_MS 20000 /* no test stage may take longer */

static struct {
	char top[PATH_MAX]; /* temporary, holds the two below */
	char dir[PATH_MAX]; /* the hooks directory */
	char work[PATH_MAX]; /* where hooks write what they saw */
	char log[PATH_MAX];
	struct event_base *base;
	struct hooks *h;
	bool in_run; /* inside hooks_run(): done must not come now */
	int ndone;
	bool expired;
	struct hooks_result res; /* a copy of the last result */
	struct hooks_entry entries[HOOKS_MAX];
	char out[16384]; /* hooks_output(), "hook/phase: line\n" each */
} fx;

static void
done_cb(const struct hooks_result *r, void *arg)
{
	assert_ptr_equal(arg, &fx);
	assert_false(fx.in_run); /* never from inside hooks_run() */
	assert_false(hooks_busy(fx.h));
	assert_true(r->nentries <= HOOKS_MAX);
	fx.res = *r;
	if (r->nentries > 0)
		memcpy(
		    fx.entries, r->entries, r->nentries * sizeof(*r->entries));
	fx.res.entries = fx.entries;
	fx.ndone++;
}

static void
expire_cb(evutil_socket_t fd, short what, void *arg)
{
	fx.expired = true;
}

/* Run the loop until a done arrives or ms pass; false if none came. */
static bool
loop_until_done(unsigned int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	struct event *ev;
	int before = fx.ndone;

	fx.expired = false;
	assert_non_null(ev = evtimer_new(fx.base, expire_cb, NULL));
	assert_int_equal(evtimer_add(ev, &tv), 0);
	while (fx.ndone == before && !fx.expired)
		assert_int_not_equal(event_base_loop(fx.base, EVLOOP_ONCE), -1);
	event_free(ev);
	return fx.ndone > before;
}

static int
start_stage(enum hooks_phase phase, unsigned int ms, uint64_t txid)
{
	int rc;

	fx.in_run = true;
	rc = hooks_run(fx.h, fx.dir, phase, ms, txid);
	fx.in_run = false;
	return rc;
}

/* Run a stage to its end; the result is in fx.res. */
static const struct hooks_result *
stage(enum hooks_phase phase, unsigned int ms, uint64_t txid)
{
	assert_int_equal(start_stage(phase, ms, txid), 0);
	assert_true(hooks_busy(fx.h));
	if (!loop_until_done(STAGE_LIMIT_MS))
		fail_msg("%s stage still running after %d ms",
		    hooks_phase_name(phase), STAGE_LIMIT_MS);
	assert_int_equal(fx.res.phase, phase);
	assert_int_equal(fx.res.txid, txid);
	return &fx.res;
}

static void
write_text(const char *path, const char *text, mode_t mode)
{
	FILE *f;

	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* The whole file, or "" if there is none. */
static const char *
slurp(const char *path)
{
	static char buf[65536];
	size_t n = 0;
	FILE *f;

	buf[0] = '\0';
	if ((f = fopen(path, "r")) == NULL)
		return buf;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/*
 * A hook: it notes "NAME ARG PHASE TXID" in the log, then runs body
 * (where WORK stands for the work directory).
 */
static void
add_hook(const char *name, mode_t mode, const char *body)
{
	char path[PATH_MAX], text[8192], *w;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", fx.dir, name);
	n = (size_t)snprintf(text, sizeof(text),
	    "#!/bin/sh\n"
	    "echo \"${0##*/} $1 $HVVSS_PHASE $HVVSS_TXID\" >>'%s'\n",
	    fx.log);
	for (; *body != '\0'; body++) {
		if (strncmp(body, "WORK", 4) == 0) {
			n += (size_t)snprintf(
			    text + n, sizeof(text) - n, "%s", fx.work);
			body += 3;
		} else if (n < sizeof(text) - 1) {
			text[n++] = *body;
		}
	}
	text[n] = '\0';
	assert_true(n < sizeof(text) - 1);
	w = strstr(text, "WORK");
	assert_null(w);
	write_text(path, text, mode);
}

static void
hook_path(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", fx.dir, name);
}

static const struct hooks_entry *
entry(size_t i)
{
	assert_true(i < fx.res.nentries);
	return &fx.res.entries[i];
}

static void
assert_entry(
    size_t i, const char *name, enum hooks_status status, const char *why)
{
	const struct hooks_entry *e = entry(i);

	assert_string_equal(e->name, name);
	assert_string_equal(e->why, why);
	assert_int_equal(e->status, status);
}

/* A pid from a file a hook wrote, or 0. */
static pid_t
read_pid(const char *file)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", fx.work, file);
	return (pid_t)atol(slurp(path));
}

/* pid is gone or a zombie (our init may be slow to reap orphans). */
static bool
dead(pid_t pid)
{
	char path[64], stat[512], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return true;
	p = fgets(stat, sizeof(stat), f);
	fclose(f);
	if (p == NULL || (p = strrchr(stat, ')')) == NULL)
		return true;
	return p[2] == 'Z' || p[2] == 'X';
}

static bool
dies_within(pid_t pid, unsigned int ms)
{
	uint64_t end = mono_ms() + ms;

	while (!dead(pid)) {
		if (mono_ms() > end)
			return false;
		usleep(10000);
	}
	return true;
}

static void
emit_cb(const char *hook, enum hooks_phase phase, const char *line, void *arg)
{
	size_t n = strlen(fx.out);

	assert_ptr_equal(arg, &fx);
	snprintf(fx.out + n, sizeof(fx.out) - n, "%s/%s: %s\n", hook,
	    hooks_phase_name(phase), line);
}

static const char *
output(void)
{
	fx.out[0] = '\0';
	hooks_output(fx.h, emit_cb, &fx);
	return fx.out;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* Kill what a test's hooks left in the background (pid files *.pid). */
static void
kill_leftovers(void)
{
	static const char *const files[] = {"bg.pid", "hook.pid"};
	size_t i;
	pid_t pid;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if ((pid = read_pid(files[i])) > 1)
			(void)kill(pid, SIGKILL);
}

static int
setup(void **state)
{
	const char *tmp = getenv("TMPDIR");

	memset(&fx, 0, sizeof(fx));
	snprintf(fx.top, sizeof(fx.top), "%s/test_hooks.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(fx.top) == NULL)
		return -1;
	snprintf(fx.dir, sizeof(fx.dir), "%s/hooks.d", fx.top);
	snprintf(fx.work, sizeof(fx.work), "%s/work", fx.top);
	snprintf(fx.log, sizeof(fx.log), "%s/log", fx.work);
	if (chmod(fx.top, 0755) == -1 || mkdir(fx.dir, 0755) == -1 ||
	    chmod(fx.dir, 0755) == -1 || mkdir(fx.work, 0755) == -1)
		return -1;
	if ((fx.base = event_base_new()) == NULL)
		return -1;
	if ((fx.h = hooks_new(fx.base, done_cb, &fx)) == NULL)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	hooks_free(fx.h);
	kill_leftovers();
	event_base_free(fx.base);
	(void)nftw(fx.top, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* Name order on freeze, reverse on thaw; arguments and txid. */
#define LOG_ORDER \
	"10-a freeze freeze 42\n" \
	"20-b freeze freeze 42\n" \
	"30-c freeze freeze 42\n" \
	"Z_upper freeze freeze 42\n" \
	"a-lower freeze freeze 42\n" \
	"a-lower thaw thaw 42\n" \
	"Z_upper thaw thaw 42\n" \
	"30-c thaw thaw 42\n" \
	"20-b thaw thaw 42\n" \
	"10-a thaw thaw 42\n"

static void
test_order(void **state)
{
	const struct hooks_result *r;

	add_hook("30-c", 0755, "");
	add_hook("10-a", 0755, "");
	add_hook("20-b", 0700, "");
	add_hook("a-lower", 0755, "");
	add_hook("Z_upper", 0755, ""); /* C locale: before lowercase */

	r = stage(HOOKS_FREEZE, 5000, 42);
	assert_true(r->ok);
	assert_string_equal(r->reason, "");
	assert_int_equal(r->nran, 5);
	assert_int_equal(r->nentries, 5);
	assert_entry(0, "10-a", HOOK_OK, "");
	assert_entry(1, "20-b", HOOK_OK, "");
	assert_entry(2, "30-c", HOOK_OK, "");
	assert_entry(3, "Z_upper", HOOK_OK, "");
	assert_entry(4, "a-lower", HOOK_OK, "");
	assert_int_equal(entry(0)->exit_code, 0);
	assert_int_equal(entry(0)->signal, 0);
	assert_true(entry(0)->duration_us > 0);
	assert_true(r->duration_us >= entry(0)->duration_us);
	assert_int_equal(hooks_pending(fx.h, 42, HOOKS_THAW), 5);
	assert_int_equal(hooks_pending(fx.h, 42, HOOKS_ABORT), 5);
	assert_int_equal(hooks_pending(fx.h, 41, HOOKS_THAW), 0);

	r = stage(HOOKS_THAW, 5000, 42);
	assert_true(r->ok);
	assert_int_equal(r->nran, 5);
	assert_entry(0, "a-lower", HOOK_OK, "");
	assert_entry(4, "10-a", HOOK_OK, "");
	assert_string_equal(slurp(fx.log), LOG_ORDER);

	/* told once: a second thaw (or an abort) reaches nobody */
	assert_int_equal(hooks_pending(fx.h, 42, HOOKS_THAW), 0);
	r = stage(HOOKS_THAW, 5000, 42);
	assert_true(r->ok);
	assert_int_equal(r->nran, 0);
	r = stage(HOOKS_ABORT, 5000, 42);
	assert_true(r->ok);
	assert_int_equal(r->nran, 0);
	assert_string_equal(slurp(fx.log), LOG_ORDER);
}

/* What a hook gets: environment, descriptors, session, signals, cwd. */
static void
test_process_setup(void **state)
{
	char path[PATH_MAX];
	struct sigaction sa, old;
	unsigned long long sigign;
	int leak, pid, pgrp, sid;

	/* things the daemon has that a hook must not inherit */
	setenv("HVVSS_TEST_LEAK", "1", 1);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	assert_int_equal(sigaction(SIGPIPE, &sa, &old), 0);
	assert_true((leak = open("/dev/null", O_RDONLY)) > 2); /* no CLOEXEC */

	add_hook("10-env", 0755,
	    "env | grep -v '^PWD=' | sort >WORK/env\n"
	    "ls /proc/self/fd >WORK/fds\n"
	    "readlink /proc/$$/fd/0 >WORK/stdin\n"
	    "pwd >WORK/cwd\n"
	    "cut -d' ' -f1,5,6 /proc/$$/stat >WORK/ids\n"
	    "grep '^SigIgn:' /proc/$$/status >WORK/sigign\n");
	stage(HOOKS_FREEZE, 5000, 18446744073709551615ULL);
	assert_true(fx.res.ok);
	sigaction(SIGPIPE, &old, NULL);
	close(leak);
	unsetenv("HVVSS_TEST_LEAK");

	snprintf(path, sizeof(path), "%s/env", fx.work);
	assert_string_equal(slurp(path),
	    "HVVSS_PHASE=freeze\n"
	    "HVVSS_TIMEOUT_MS=5000\n"
	    "HVVSS_TXID=18446744073709551615\n"
	    "PATH=/usr/sbin:/usr/bin:/sbin:/bin\n");
	/* 0 1 2, and 3, the directory ls reads: nothing of ours */
	snprintf(path, sizeof(path), "%s/fds", fx.work);
	assert_string_equal(slurp(path), "0\n1\n2\n3\n");
	snprintf(path, sizeof(path), "%s/stdin", fx.work);
	assert_string_equal(slurp(path), "/dev/null\n");
	snprintf(path, sizeof(path), "%s/cwd", fx.work);
	assert_string_equal(slurp(path), "/\n");
	/* its own session and process group: pid = pgid = sid */
	snprintf(path, sizeof(path), "%s/ids", fx.work);
	assert_int_equal(sscanf(slurp(path), "%d %d %d", &pid, &pgrp, &sid), 3);
	assert_int_equal(pgrp, pid);
	assert_int_equal(sid, pid);
	/*
	 * SIGPIPE back to its default, like every other standard signal.
	 * (glibc's posix_spawn leaves its two internal real-time signals,
	 * 32 and 33, ignored; any glibc program sets them up again.)
	 */
	snprintf(path, sizeof(path), "%s/sigign", fx.work);
	assert_int_equal(sscanf(slurp(path), "SigIgn: %llx", &sigign), 1);
	assert_int_equal(sigign & 0x7fffffffULL, 0);
}

/* exit 3 vetoes freeze, names the hook; the hooks after it never run. */
static void
test_veto(void **state)
{
	const struct hooks_result *r;

	add_hook("10-a", 0755, "");
	add_hook("20-b", 0755, "echo cannot flush >&2; exit 3\n");
	add_hook("30-c", 0755, "");

	r = stage(HOOKS_FREEZE, 5000, 7);
	assert_false(r->ok);
	assert_string_equal(r->reason, "hook 20-b: exit 3");
	assert_int_equal(r->nran, 2);
	assert_int_equal(r->nentries, 2);
	assert_entry(0, "10-a", HOOK_OK, "");
	assert_entry(1, "20-b", HOOK_FAILED, "exit 3");
	assert_int_equal(entry(1)->exit_code, 3);
	assert_string_equal(
	    slurp(fx.log), "10-a freeze freeze 7\n20-b freeze freeze 7\n");
	assert_string_equal(output(), "20-b/freeze: cannot flush\n");
}

/*
 * abort goes to every hook that saw freeze (the failed one too: it may
 * have half done its work), in reverse order, and never to the others;
 * thaw only to those whose freeze succeeded.
 */
static void
test_abort_only_seen(void **state)
{
	const struct hooks_result *r;

	add_hook("10-a", 0755, "");
	add_hook("20-b", 0755, "[ \"$1\" = freeze ] && exit 1; exit 0\n");
	add_hook("30-c", 0755, "");

	r = stage(HOOKS_FREEZE, 5000, 9);
	assert_false(r->ok);
	assert_string_equal(r->reason, "hook 20-b: exit 1");
	assert_int_equal(hooks_pending(fx.h, 9, HOOKS_ABORT), 2);
	assert_int_equal(hooks_pending(fx.h, 9, HOOKS_THAW), 1);

	/* another transaction's abort reaches nobody, and forgets nothing */
	r = stage(HOOKS_ABORT, 5000, 8);
	assert_true(r->ok);
	assert_int_equal(r->nran, 0);
	assert_int_equal(hooks_pending(fx.h, 9, HOOKS_ABORT), 2);

	r = stage(HOOKS_ABORT, 5000, 9);
	assert_true(r->ok);
	assert_int_equal(r->nran, 2);
	assert_entry(0, "20-b", HOOK_OK, "");
	assert_entry(1, "10-a", HOOK_OK, "");
	assert_string_equal(slurp(fx.log),
	    "10-a freeze freeze 9\n"
	    "20-b freeze freeze 9\n"
	    "20-b abort abort 9\n"
	    "10-a abort abort 9\n");
	assert_int_equal(hooks_pending(fx.h, 9, HOOKS_ABORT), 0);

	/* the same failure, then thaw: only the hook that froze */
	assert_int_equal(truncate(fx.log, 0), 0);
	stage(HOOKS_FREEZE, 5000, 10);
	r = stage(HOOKS_THAW, 5000, 10);
	assert_true(r->ok);
	assert_int_equal(r->nran, 1);
	assert_entry(0, "10-a", HOOK_OK, "");
	assert_string_equal(slurp(fx.log),
	    "10-a freeze freeze 10\n"
	    "20-b freeze freeze 10\n"
	    "10-a thaw thaw 10\n");
}

/* A failure on thaw is reported, and the other hooks still run. */
static void
test_thaw_failures_go_on(void **state)
{
	const struct hooks_result *r;

	add_hook("10-a", 0755, "[ \"$1\" = thaw ] && exit 4; exit 0\n");
	add_hook("20-b", 0755, "[ \"$1\" = thaw ] && kill -TERM $$; exit 0\n");
	add_hook("30-c", 0755, "");

	assert_true(stage(HOOKS_FREEZE, 5000, 3)->ok);
	r = stage(HOOKS_THAW, 5000, 3);
	assert_false(r->ok);
	assert_int_equal(r->nran, 3);
	assert_string_equal(
	    r->reason, "hook 20-b: killed by signal 15 (and 1 more)");
	assert_entry(0, "30-c", HOOK_OK, "");
	assert_entry(1, "20-b", HOOK_FAILED, "killed by signal 15");
	assert_int_equal(entry(1)->signal, SIGTERM);
	assert_int_equal(entry(1)->exit_code, -1);
	assert_entry(2, "10-a", HOOK_FAILED, "exit 4");
	assert_string_equal(slurp(fx.log),
	    "10-a freeze freeze 3\n"
	    "20-b freeze freeze 3\n"
	    "30-c freeze freeze 3\n"
	    "30-c thaw thaw 3\n"
	    "20-b thaw thaw 3\n"
	    "10-a thaw thaw 3\n");
}

/*
 * A hook that sleeps past its time, with a child of its own: both die,
 * within the budget, and the stage says so.
 */
static void
test_timeout(void **state)
{
	const struct hooks_result *r;
	pid_t hook, bg;
	uint64_t t0;

	add_hook("10-a", 0755, "");
	add_hook("20-slow", 0755,
	    "echo $$ >WORK/hook.pid\n"
	    "sleep 100 &\n"
	    "echo $! >WORK/bg.pid\n"
	    "echo about to sleep\n"
	    "sleep 100\n");
	add_hook("30-c", 0755, "");

	t0 = mono_ms();
	r = stage(HOOKS_FREEZE, 300, 5);
	/* libevent's clock is coarse (a tick or so): allow 20 ms early */
	assert_true(mono_ms() - t0 >= 300 - 20);
	assert_true(mono_ms() - t0 < 300 + HOOKS_KILL_GRACE_MS);
	assert_false(r->ok);
	assert_string_equal(r->reason, "hook 20-slow: timed out after 300 ms");
	assert_int_equal(r->nentries, 2);
	assert_entry(1, "20-slow", HOOK_TIMEOUT, "timed out after 300 ms");
	assert_int_equal(entry(1)->signal, SIGKILL);
	assert_true(entry(1)->duration_us >= (300 - 20) * 1000);

	assert_true((hook = read_pid("hook.pid")) > 1);
	assert_true((bg = read_pid("bg.pid")) > 1);
	assert_true(dies_within(hook, 1000));
	assert_true(dies_within(bg, 1000)); /* the group was killed */
	assert_string_equal(output(), "20-slow/freeze: about to sleep\n");

	/* it saw freeze, so it gets abort; 30-c never ran */
	assert_int_equal(hooks_pending(fx.h, 5, HOOKS_ABORT), 2);
}

/*
 * A hook that exits but leaves a child holding its output pipe: done
 * when it is reaped, not when the pipe closes.  The child lives on (it
 * may be holding a lock until thaw).
 */
static void
test_exit_with_pipe_held(void **state)
{
	const struct hooks_result *r;
	uint64_t t0;
	pid_t bg;

	add_hook("10-daemonize", 0755,
	    "sleep 30 &\n"
	    "echo $! >WORK/bg.pid\n"
	    "echo started helper\n"
	    "exit 0\n");

	t0 = mono_ms();
	r = stage(HOOKS_FREEZE, 5000, 6);
	assert_true(mono_ms() - t0 < 2000);
	assert_true(r->ok);
	assert_int_equal(entry(0)->exit_code, 0);
	assert_true((bg = read_pid("bg.pid")) > 1);
	assert_false(dead(bg));
	assert_string_equal(output(), "10-daemonize/freeze: started helper\n");
	/* teardown kills it */
}

/* Refused: group- or other-writable, not root's, a link, unsafe dir. */
static void
test_refused(void **state)
{
	char path[PATH_MAX], target[PATH_MAX];
	const struct hooks_result *r;

	add_hook("10-a", 0755, "");
	add_hook("20-gw", 0775, "");

	/* a refused hook vetoes before anything runs: nothing to undo */
	r = stage(HOOKS_FREEZE, 5000, 1);
	assert_false(r->ok);
	assert_int_equal(r->nran, 0);
	assert_string_equal(
	    r->reason, "hook 20-gw: refused: writable by group");
	assert_int_equal(r->nentries, 1);
	assert_entry(0, "20-gw", HOOK_REFUSED, "refused: writable by group");
	assert_string_equal(slurp(fx.log), "");
	assert_int_equal(hooks_pending(fx.h, 1, HOOKS_ABORT), 0);

	hook_path("20-gw", path, sizeof(path));
	assert_int_equal(chmod(path, 0757), 0);
	r = stage(HOOKS_FREEZE, 5000, 2);
	assert_string_equal(
	    r->reason, "hook 20-gw: refused: writable by others");
	assert_int_equal(chmod(path, 0777), 0);
	r = stage(HOOKS_FREEZE, 5000, 2);
	assert_string_equal(
	    r->reason, "hook 20-gw: refused: writable by group and others");

	assert_int_equal(chmod(path, 0755), 0);
	assert_int_equal(chown(path, 1, 0), 0);
	r = stage(HOOKS_FREEZE, 5000, 3);
	assert_false(r->ok);
	assert_string_equal(
	    r->reason, "hook 20-gw: refused: owned by uid 1, not root");
	assert_int_equal(r->nran, 0);
	assert_string_equal(slurp(fx.log), "");
	assert_int_equal(unlink(path), 0);

	/* a link to an executable: refused (the check would be of the link) */
	snprintf(target, sizeof(target), "%s/real", fx.work);
	write_text(target, "#!/bin/sh\nexit 0\n", 0755);
	hook_path("15-link", path, sizeof(path));
	assert_int_equal(symlink(target, path), 0);
	r = stage(HOOKS_FREEZE, 5000, 4);
	assert_false(r->ok);
	assert_string_equal(
	    r->reason, "hook 15-link: refused: a symbolic link");
	assert_int_equal(unlink(path), 0);

	/* the directory itself */
	assert_int_equal(chmod(fx.dir, 0775), 0);
	r = stage(HOOKS_FREEZE, 5000, 5);
	assert_false(r->ok);
	assert_int_equal(r->nran, 0);
	assert_int_equal(r->nentries, 0);
	snprintf(target, sizeof(target),
	    "hooks directory %s: refused: writable by group", fx.dir);
	assert_string_equal(r->reason, target);
	assert_int_equal(chmod(fx.dir, 0755), 0);
	assert_int_equal(chown(fx.dir, 1, 0), 0);
	r = stage(HOOKS_FREEZE, 5000, 6);
	snprintf(target, sizeof(target),
	    "hooks directory %s: refused: owned by uid 1, not root", fx.dir);
	assert_string_equal(r->reason, target);
	assert_int_equal(chown(fx.dir, 0, 0), 0);
	assert_string_equal(slurp(fx.log), "");

	/* all good again */
	assert_true(stage(HOOKS_FREEZE, 5000, 7)->ok);
	assert_string_equal(slurp(fx.log), "10-a freeze freeze 7\n");
}

/* A hook made unsafe between freeze and thaw is not run on thaw. */
static void
test_refused_on_thaw(void **state)
{
	char path[PATH_MAX];
	const struct hooks_result *r;

	add_hook("10-a", 0755, "");
	add_hook("20-b", 0755, "");
	assert_true(stage(HOOKS_FREEZE, 5000, 11)->ok);
	hook_path("20-b", path, sizeof(path));
	assert_int_equal(chmod(path, 0775), 0);
	hook_path("10-a", path, sizeof(path));
	assert_int_equal(unlink(path), 0);

	r = stage(HOOKS_THAW, 5000, 11);
	assert_false(r->ok);
	assert_int_equal(r->nran, 0);
	assert_string_equal(
	    r->reason, "hook 20-b: refused: writable by group (and 1 more)");
	assert_entry(0, "20-b", HOOK_REFUSED, "refused: writable by group");
	assert_entry(1, "10-a", HOOK_ERROR, "no longer there");
	assert_string_equal(
	    slurp(fx.log), "10-a freeze freeze 11\n20-b freeze freeze 11\n");
}

/* Output: both streams, in order, made safe; at most 4 KiB kept. */
static void
test_output(void **state)
{
	char want[HOOKS_OUTPUT_MAX + 256], xs[HOOKS_OUTPUT_MAX + 1];
	const char *out;

	add_hook("10-talk", 0755,
	    "echo one\n"
	    "echo two >&2\n"
	    "printf 'tab\\there bell\\a cr\\r\\n\\n\\nlast, no newline'\n");
	add_hook("20-flood", 0755,
	    "head -c 100000 /dev/zero | tr '\\000' x\n"
	    "echo; echo gone\n");
	add_hook("30-quiet", 0755, "");
	assert_true(stage(HOOKS_FREEZE, 5000, 1)->ok);
	assert_int_equal(entry(0)->output_bytes, 4 + 4 + 37);
	assert_int_equal(entry(1)->output_bytes, 100006);
	assert_int_equal(entry(2)->output_bytes, 0);
	assert_true(stage(HOOKS_THAW, 5000, 1)->ok);

	/* in the order they ran; thaw in reverse; 30-quiet said nothing */
	out = output();
	memset(xs, 'x', HOOKS_OUTPUT_MAX);
	xs[HOOKS_OUTPUT_MAX] = '\0';
	snprintf(want, sizeof(want),
	    "10-talk/freeze: one\n"
	    "10-talk/freeze: two\n"
	    "10-talk/freeze: tab\there bell? cr\n"
	    "10-talk/freeze: last, no newline\n"
	    "20-flood/freeze: %s\n"
	    "20-flood/freeze: (95910 more bytes of output not kept)\n",
	    xs);
	assert_int_equal(strncmp(out, want, strlen(want)), 0);
	out += strlen(want);
	snprintf(want, sizeof(want),
	    "20-flood/thaw: %s\n"
	    "20-flood/thaw: (95910 more bytes of output not kept)\n"
	    "10-talk/thaw: one\n"
	    "10-talk/thaw: two\n"
	    "10-talk/thaw: tab\there bell? cr\n"
	    "10-talk/thaw: last, no newline\n",
	    xs);
	assert_string_equal(out, want);
	/* handed out once */
	assert_string_equal(output(), "");
}

/* No directory: no hooks, and that is fine. */
static void
test_missing_dir(void **state)
{
	const struct hooks_result *r;

	assert_int_equal(rmdir(fx.dir), 0);
	r = stage(HOOKS_FREEZE, 5000, 1);
	assert_true(r->ok);
	assert_int_equal(r->nran, 0);
	assert_int_equal(r->nentries, 0);
	assert_string_equal(r->reason, "");
	r = stage(HOOKS_THAW, 5000, 1);
	assert_true(r->ok);
	assert_int_equal(r->nentries, 0);
	r = stage(HOOKS_ABORT, 5000, 1);
	assert_true(r->ok);
	assert_int_equal(fx.ndone, 3);
}

/* The directory vanishing between freeze and thaw is reported. */
static void
test_dir_gone_on_thaw(void **state)
{
	char path[PATH_MAX];
	const struct hooks_result *r;

	add_hook("10-a", 0755, "");
	assert_true(stage(HOOKS_FREEZE, 5000, 1)->ok);
	hook_path("10-a", path, sizeof(path));
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(fx.dir), 0);
	r = stage(HOOKS_THAW, 5000, 1);
	assert_false(r->ok);
	assert_entry(0, "10-a", HOOK_ERROR,
	    "hooks directory: No such file or directory");
}

/* Leftovers, odd names and non-files are not hooks; nor is a README. */
static void
test_leftovers(void **state)
{
	static const char *const junk[] = {"10-a~", "10-a.bak", "10-a.orig",
	    "10-a.dpkg-old", "10-a.dpkg-dist", "10-a.dpkg-new", "10-a.rpmnew",
	    "10-a.rpmsave", "10-a.sample", "10-a.disabled", ".hidden", "-dash",
	    "has space", "semi;colon", "caf\xc3\xa9"};
	char path[PATH_MAX];
	const struct hooks_result *r;
	size_t i;

	add_hook("10-a", 0755, "");
	for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		add_hook(junk[i], 0777, ""); /* unsafe too: still ignored */
	add_hook("README", 0644, "");
	snprintf(path, sizeof(path), "%s/50-dir", fx.dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/60-fifo", fx.dir);
	assert_int_equal(mkfifo(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/70-dangling", fx.dir);
	assert_int_equal(symlink("/nonexistent/x", path), 0);

	r = stage(HOOKS_FREEZE, 5000, 1);
	assert_true(r->ok);
	assert_int_equal(r->nran, 1);
	assert_int_equal(r->nentries, 2);
	assert_entry(0, "10-a", HOOK_OK, "");
	assert_entry(1, "README", HOOK_SKIPPED, "not executable");
	assert_string_equal(slurp(fx.log), "10-a freeze freeze 1\n");
}

/* At most HOOKS_MAX hooks; what is not a hook does not count. */
static void
test_too_many(void **state)
{
	char name[32], path[PATH_MAX], want[PATH_MAX + 64];
	const struct hooks_result *r;
	int i;

	for (i = 0; i < HOOKS_MAX; i++) {
		snprintf(name, sizeof(name), "%03d", i);
		hook_path(name, path, sizeof(path));
		write_text(path, "#!/bin/sh\nexit 0\n", 0755);
	}
	snprintf(path, sizeof(path), "%s/zz-dir", fx.dir);
	assert_int_equal(mkdir(path, 0755), 0);
	add_hook("zz-junk.bak", 0755, "");
	r = stage(HOOKS_FREEZE, 5000, 1);
	assert_true(r->ok);
	assert_int_equal(r->nran, HOOKS_MAX);
	assert_string_equal(entry(HOOKS_MAX - 1)->name, "127");

	add_hook("zz-one-more", 0644, ""); /* not executable, but a hook */
	r = stage(HOOKS_FREEZE, 5000, 2);
	assert_false(r->ok);
	assert_int_equal(r->nran, 0);
	assert_int_equal(r->nentries, 0);
	snprintf(want, sizeof(want), "hooks directory %s: more than %d hooks",
	    fx.dir, HOOKS_MAX);
	assert_string_equal(r->reason, want);
	assert_string_equal(slurp(fx.log), "");
}

/* Killed by a signal, and a file that cannot be executed. */
static void
test_signal_and_exec_failure(void **state)
{
	char path[PATH_MAX];
	const struct hooks_result *r;

	add_hook("10-usr1", 0755, "kill -USR1 $$\n"); /* no core dump */
	r = stage(HOOKS_FREEZE, 5000, 1);
	assert_false(r->ok);
	assert_string_equal(r->reason, "hook 10-usr1: killed by signal 10");
	assert_entry(0, "10-usr1", HOOK_FAILED, "killed by signal 10");
	assert_int_equal(entry(0)->signal, SIGUSR1);
	assert_int_equal(entry(0)->exit_code, -1);
	hook_path("10-usr1", path, sizeof(path));
	assert_int_equal(unlink(path), 0);

	hook_path("10-garbage", path, sizeof(path));
	write_text(path, "\x01\x02 not a program\n", 0755);
	add_hook("20-b", 0755, "");
	r = stage(HOOKS_FREEZE, 5000, 2);
	assert_false(r->ok);
	assert_int_equal(r->nran, 0);
	assert_string_equal(
	    r->reason, "hook 10-garbage: cannot run: Exec format error");
	assert_entry(
	    0, "10-garbage", HOOK_ERROR, "cannot run: Exec format error");
	assert_int_equal(hooks_pending(fx.h, 2, HOOKS_ABORT), 0);
	assert_string_equal(slurp(fx.log), "10-usr1 freeze freeze 1\n");
}

/* One stage at a time; bad arguments. */
static void
test_busy_and_args(void **state)
{
	add_hook("10-a", 0755, "sleep 0.2\n");
	assert_false(hooks_busy(fx.h));
	assert_int_equal(start_stage(HOOKS_FREEZE, 5000, 1), 0);
	assert_int_equal(start_stage(HOOKS_THAW, 5000, 1), -EBUSY);
	assert_true(loop_until_done(STAGE_LIMIT_MS));
	assert_true(fx.res.ok);
	assert_int_equal(fx.ndone, 1);

	assert_int_equal(hooks_run(fx.h, fx.dir, HOOKS_FREEZE, 0, 1), -EINVAL);
	assert_int_equal(hooks_run(fx.h, "", HOOKS_FREEZE, 5, 1), -EINVAL);
	assert_int_equal(hooks_run(fx.h, NULL, HOOKS_FREEZE, 5, 1), -EINVAL);
	assert_int_equal(
	    hooks_run(fx.h, fx.dir, (enum hooks_phase)7, 5, 1), -EINVAL);
	assert_false(hooks_busy(fx.h));

	/* a result with no hooks at all still comes from the loop */
	assert_int_equal(start_stage(HOOKS_ABORT, 5000, 99), 0);
	assert_true(hooks_busy(fx.h));
	assert_int_equal(fx.ndone, 1);
	assert_true(loop_until_done(STAGE_LIMIT_MS));
	assert_int_equal(fx.ndone, 2);
}

static void
cancel_cb(evutil_socket_t fd, short what, void *arg)
{
	hooks_cancel(fx.h);
}

/*
 * The caller's own deadline: cancel kills the running hook, no done
 * comes, and the hook counts as having seen freeze.
 */
static void
test_cancel(void **state)
{
	struct timeval tv = {0, 300000};
	struct event *ev;
	pid_t hook, bg;

	add_hook("10-a", 0755, "");
	add_hook("20-slow", 0755,
	    "[ \"$1\" = freeze ] || exit 0\n"
	    "echo $$ >WORK/hook.pid\n"
	    "sleep 100 &\n"
	    "echo $! >WORK/bg.pid\n"
	    "wait\n");
	add_hook("30-c", 0755, "");

	assert_non_null(ev = evtimer_new(fx.base, cancel_cb, NULL));
	assert_int_equal(evtimer_add(ev, &tv), 0);
	assert_int_equal(start_stage(HOOKS_FREEZE, 10000, 4), 0);
	assert_false(loop_until_done(1500)); /* no done */
	event_free(ev);
	assert_false(hooks_busy(fx.h));
	assert_true((hook = read_pid("hook.pid")) > 1);
	assert_true((bg = read_pid("bg.pid")) > 1);
	assert_true(dies_within(hook, 1000));
	assert_true(dies_within(bg, 1000));
	/* and reaped by us, from the loop (it is our child: nobody else can) */
	assert_true(loop_until_done(100) == false);
	assert_int_equal(kill(hook, 0), -1);
	assert_int_equal(errno, ESRCH);
	assert_int_equal(hooks_pending(fx.h, 4, HOOKS_ABORT), 2);

	assert_int_equal(truncate(fx.log, 0), 0);
	assert_true(stage(HOOKS_ABORT, 5000, 4)->ok);
	assert_string_equal(
	    slurp(fx.log), "20-slow abort abort 4\n10-a abort abort 4\n");
	assert_int_equal(fx.ndone, 1);
}

/* hooks_free during a stage kills and reaps the running hook. */
static void
test_free_while_running(void **state)
{
	struct timeval tv = {0, 200000};
	pid_t hook;
	uint64_t t0;

	add_hook("10-slow", 0755, "echo $$ >WORK/hook.pid\nexec sleep 100\n");
	assert_int_equal(start_stage(HOOKS_FREEZE, 10000, 1), 0);
	event_base_loopexit(fx.base, &tv);
	event_base_dispatch(fx.base);
	assert_true((hook = read_pid("hook.pid")) > 1);
	assert_false(dead(hook));
	t0 = mono_ms();
	hooks_free(fx.h);
	fx.h = NULL;
	assert_true(mono_ms() - t0 < HOOKS_KILL_GRACE_MS);
	/* reaped by us: not even a zombie */
	assert_int_equal(kill(hook, 0), -1);
	assert_int_equal(errno, ESRCH);
	assert_int_equal(fx.ndone, 0);
}

/* done may start the next stage at once (or free the runner). */
static void
chain_cb(const struct hooks_result *r, void *arg)
{
	struct hooks **hp = arg;

	fx.ndone++;
	if (r->phase == HOOKS_FREEZE) {
		assert_false(r->ok);
		assert_int_equal(
		    hooks_run(*hp, fx.dir, HOOKS_ABORT, 5000, r->txid), 0);
		/* r is still ours to read */
		assert_string_equal(r->entries[0].name, "10-a");
		assert_string_equal(r->reason, "hook 20-b: exit 2");
	} else {
		assert_true(r->ok);
		hooks_free(*hp);
		*hp = NULL;
	}
}

static void
test_chained_stages(void **state)
{
	struct hooks *h;

	add_hook("10-a", 0755, "");
	add_hook("20-b", 0755, "[ \"$1\" = freeze ] && exit 2; exit 0\n");
	assert_non_null(h = hooks_new(fx.base, chain_cb, &h));
	assert_int_equal(hooks_run(h, fx.dir, HOOKS_FREEZE, 5000, 77), 0);
	assert_true(loop_until_done(STAGE_LIMIT_MS));
	assert_true(loop_until_done(STAGE_LIMIT_MS));
	assert_null(h);
	assert_int_equal(fx.ndone, 2);
	assert_string_equal(slurp(fx.log),
	    "10-a freeze freeze 77\n"
	    "20-b freeze freeze 77\n"
	    "20-b abort abort 77\n"
	    "10-a abort abort 77\n");
}

/*
 * SIGCHLD ignored (a library's doing, say): the kernel reaps the hook
 * itself, and its status is gone.  The hook's entry says so, and the
 * stage ends (a failed freeze) instead of hanging on a handle that
 * stays readable.
 */
static void
test_status_lost(void **state)
{
	const struct hooks_result *r;
	struct sigaction sa, old;

	/* the sleep: the handle is taken after the start (os/proc.h), and
	 * a child reaped before that cannot be held at all */
	add_hook("10-a", 0755, "sleep 0.2; exit 0\n");
	add_hook("20-b", 0755, "exit 0\n");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	assert_int_equal(sigaction(SIGCHLD, &sa, &old), 0);
	r = stage(HOOKS_FREEZE, 5000, 9);
	sigaction(SIGCHLD, &old, NULL);
	assert_false(r->ok);
	assert_int_equal(r->nran, 1);
	assert_int_equal(r->nentries, 1);
	assert_entry(0, "10-a", HOOK_ERROR,
	    "ended, but its exit status was lost (reaped by someone else)");
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_order),
	    T(test_process_setup),
	    T(test_veto),
	    T(test_abort_only_seen),
	    T(test_thaw_failures_go_on),
	    T(test_timeout),
	    T(test_exit_with_pipe_held),
	    T(test_refused),
	    T(test_refused_on_thaw),
	    T(test_output),
	    T(test_missing_dir),
	    T(test_dir_gone_on_thaw),
	    T(test_leftovers),
	    T(test_too_many),
	    T(test_signal_and_exec_failure),
	    T(test_busy_and_args),
	    T(test_cancel),
	    T(test_free_while_running),
	    T(test_chained_stages),
	    T(test_status_lost),
	};
#undef T

	if (geteuid() != 0) {
		fprintf(stderr,
		    "test_hooks: needs root (hooks must be "
		    "owned by root); skipped\n");
		return 0;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
