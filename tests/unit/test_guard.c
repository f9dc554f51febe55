/*
 * test_guard.c: unit tests for the thaw guard's protocol (daemon/guard.c),
 * with a real guard process but nothing frozen.  The "filesystems" it is
 * handed are pipes: FITHAW on a pipe reaches pipefs, an internal
 * superblock that is never frozen, so the guard's thaw gets EINVAL (or
 * EPERM without root) and nothing anywhere is touched.  What is checked:
 * the guard's name and its indifference to SIGTERM; that it is its own
 * program (exe, cmdline, an empty environment, fd 3 its only fd, memory
 * locked); that guard_spawn() does not wait and holds are refused until
 * the hello; that a missing or wrong program is named; the lease firing no
 * earlier than lease + grace, thawing newest first and skipping a dropped
 * slot, then reporting; guard_thawed() releasing everything so that no
 * lease fires later; the fd limit; a guard killed under us (GUARD_EV_DIED,
 * -EPIPE) and restarted.  Real freezes, and the guard thawing them when
 * the daemon dies, are tests/system/t_guard.sh.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "guard.h"
#include "util.h"

#define GRACE_MS 100

/* The next event within ms: 1, or 0 if none came. */
static int
next_event(struct guard *g, struct guard_event *ev, int ms)
{
	struct pollfd pfd = {guard_fd(g), POLLIN, 0};
	uint64_t end = mono_ms() + (uint64_t)ms;
	int rc;

	for (;;) {
		if ((rc = guard_read(g, ev)) != 0) {
			assert_int_equal(rc, 1);
			return 1;
		}
		if (mono_ms() >= end)
			return 0;
		(void)poll(&pfd, 1, (int)(end - mono_ms()));
	}
}

/*
 * The guard's program: this test is build/tests/unit/test_guard, the
 * guard build/hv_vss_guard (the daemon finds it beside itself).
 */
static char guard_path[4096];

static int
find_guard(void **state)
{
	char err[512];
	ssize_t n;
	char *p;
	int i;

	if (guard_path[0] == '\0') {
		n = readlink(
		    "/proc/self/exe", guard_path, sizeof(guard_path) - 32);
		assert_true(n > 0);
		guard_path[n] = '\0';
		for (i = 0; i < 3; i++)
			if ((p = strrchr(guard_path, '/')) != NULL)
				*p = '\0';
		strcat(guard_path, "/hv_vss_guard");
	}
	if (guard_image(guard_path, err, sizeof(err)) == -1)
		fail_msg("guard_image: %s", err);
	return 0;
}

/* A /proc/PID file, whole (NULs kept); its length. */
static size_t
read_proc(pid_t pid, const char *what, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	assert_true((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0);
	n = read(fd, buf, len - 1);
	close(fd);
	assert_true(n >= 0);
	buf[n] = '\0';
	return (size_t)n;
}

static void
read_comm(pid_t pid, char *buf, size_t len)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	assert_non_null(f = fopen(path, "r"));
	assert_non_null(fgets(buf, (int)len, f));
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
}

/* A FITHAW of a pipe: not frozen (EINVAL), or no right to ask (EPERM). */
static void
assert_harmless(int err)
{
	if (err != EINVAL && err != EPERM)
		fail_msg("FITHAW of a pipe gave %s", strerror(err));
}

static void
start_and_signals(void **state)
{
	struct guard *g;
	char err[256], comm[32];
	pid_t pid;

	assert_non_null(g = guard_start(GRACE_MS, err, sizeof(err)));
	pid = guard_pid(g);
	assert_true(pid > 0);
	assert_true(guard_alive(g));
	assert_true(guard_fd(g) >= 0);
	assert_non_null(strstr(guard_note(g), "thaw guard pid"));
	read_comm(pid, comm, sizeof(comm));
	assert_string_equal(comm, "hv_vss_guard");
	/* a service stop signals the whole cgroup: the guard stays */
	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(kill(pid, SIGINT), 0);
	assert_int_equal(kill(pid, SIGHUP), 0);
	usleep(100000);
	assert_true(guard_alive(g));
	assert_int_equal(kill(pid, 0), 0);
	/* nothing to report */
	{
		struct guard_event ev;

		assert_int_equal(next_event(g, &ev, 50), 0);
	}
	/* closing our end makes it exit; guard_free reaps it */
	guard_free(g);
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(errno, ESRCH);
}

/* Hand the guard the read end of a new pipe; close ours.  The slot. */
static int
hold_pipe(struct guard *g, const char *name)
{
	int p[2], slot;

	assert_int_equal(pipe(p), 0);
	slot = guard_hold(g, p[0], name);
	/* the guard has its own copy */
	close(p[0]);
	close(p[1]);
	return slot;
}

static void
lease(void **state)
{
	static const char *names[] = {"/mnt/a", "/mnt/b", "/mnt/c"};
	struct guard *g;
	struct guard_event ev;
	char err[256];
	uint64_t t0, el;
	int i;

	assert_non_null(g = guard_start(GRACE_MS, err, sizeof(err)));
	for (i = 0; i < 3; i++)
		assert_int_equal(hold_pipe(g, names[i]), i);
	assert_int_equal(guard_drop(g, 1), 0);
	t0 = mono_ms();
	assert_int_equal(guard_arm(g, 200), 0);

	/* newest first, the dropped one skipped, not before lease + grace */
	assert_int_equal(next_event(g, &ev, 3000), 1);
	el = mono_ms() - t0;
	if (el < 200 + GRACE_MS - 5 || el > 1500)
		fail_msg("lease fired after %llu ms, want about %d",
		    (unsigned long long)el, 200 + GRACE_MS);
	assert_int_equal(ev.type, GUARD_EV_THAWED);
	assert_int_equal(ev.slot, 2);
	assert_string_equal(ev.path, "/mnt/c");
	assert_harmless(ev.err);
	assert_int_equal(next_event(g, &ev, 1000), 1);
	assert_int_equal(ev.type, GUARD_EV_THAWED);
	assert_int_equal(ev.slot, 0);
	assert_string_equal(ev.path, "/mnt/a");
	assert_harmless(ev.err);
	assert_int_equal(next_event(g, &ev, 1000), 1);
	assert_int_equal(ev.type, GUARD_EV_LEASE);
	assert_int_equal(ev.nthawed, 0);
	assert_int_equal(ev.nnotfrozen + ev.nfailed, 2);
	assert_false(ev.truncated);
	/* once: the guard let everything go and disarmed */
	assert_int_equal(next_event(g, &ev, 2 * (200 + GRACE_MS)), 0);
	assert_true(guard_alive(g));

	/* re-arming restarts the clock */
	assert_int_equal(hold_pipe(g, "/mnt/d"), 3);
	assert_int_equal(guard_arm(g, 200), 0);
	usleep(200000);
	assert_int_equal(guard_arm(g, 200), 0); /* before it fired */
	t0 = mono_ms();
	assert_int_equal(next_event(g, &ev, 3000), 1);
	el = mono_ms() - t0;
	if (el < 200 + GRACE_MS - 5)
		fail_msg("re-armed lease fired after %llu ms",
		    (unsigned long long)el);
	assert_int_equal(ev.type, GUARD_EV_THAWED);
	assert_string_equal(ev.path, "/mnt/d");
	assert_int_equal(next_event(g, &ev, 1000), 1);
	assert_int_equal(ev.type, GUARD_EV_LEASE);
	assert_int_equal(ev.nnotfrozen + ev.nfailed, 1);

	/* 0 disarms */
	assert_int_equal(hold_pipe(g, "/mnt/e"), 4);
	assert_int_equal(guard_arm(g, 100), 0);
	assert_int_equal(guard_arm(g, 0), 0);
	assert_int_equal(next_event(g, &ev, 2 * (100 + GRACE_MS)), 0);
	guard_free(g);
}

static void
thawed_releases(void **state)
{
	struct guard *g;
	struct guard_event ev;
	char err[256], path[64];
	int p[2], i;

	assert_non_null(g = guard_start(GRACE_MS, err, sizeof(err)));
	assert_int_equal(pipe(p), 0);
	assert_int_equal(guard_hold(g, p[0], "/mnt/a"), 0);
	assert_int_equal(guard_arm(g, 100), 0);
	assert_int_equal(guard_thawed(g), 0);
	/* no lease fires after "thawed" */
	assert_int_equal(next_event(g, &ev, 3 * (100 + GRACE_MS)), 0);
	/* and slots start again from 0 */
	assert_int_equal(guard_hold(g, p[0], "/mnt/a"), 0);
	assert_int_equal(guard_thawed(g), 0);

	/* at most GUARD_MAX_FDS at once */
	for (i = 0; i < GUARD_MAX_FDS; i++) {
		snprintf(path, sizeof(path), "/mnt/%d", i);
		assert_int_equal(guard_hold(g, p[0], path), i);
	}
	assert_int_equal(guard_hold(g, p[0], "/mnt/more"), -ENOSPC);
	assert_int_equal(guard_thawed(g), 0);
	assert_int_equal(guard_hold(g, p[0], "/mnt/again"), 0);
	assert_int_equal(guard_hold(g, -1, "/mnt/bad"), -EBADF);
	/* a mount point longer than reports keep is cut, not refused */
	{
		char longp[GUARD_PATH_MAX * 2];

		memset(longp, 'x', sizeof(longp) - 1);
		longp[0] = '/';
		longp[sizeof(longp) - 1] = '\0';
		assert_int_equal(guard_hold(g, p[0], longp), 1);
	}
	assert_int_equal(guard_thawed(g), 0);
	assert_int_equal(next_event(g, &ev, 100), 0);
	assert_true(guard_alive(g));
	close(p[0]);
	close(p[1]);
	guard_free(g);
}

static void
died_and_restart(void **state)
{
	struct guard *g;
	struct guard_event ev;
	char err[256];
	pid_t old;
	int p[2];

	assert_non_null(g = guard_start(GRACE_MS, err, sizeof(err)));
	old = guard_pid(g);
	assert_int_equal(kill(old, SIGKILL), 0);
	assert_int_equal(next_event(g, &ev, 3000), 1);
	assert_int_equal(ev.type, GUARD_EV_DIED);
	assert_true(WIFSIGNALED(ev.status));
	assert_int_equal(WTERMSIG(ev.status), SIGKILL);
	assert_false(guard_alive(g));
	/* known dead: nothing more to read, nothing can be held */
	assert_int_equal(guard_read(g, &ev), 0);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(guard_hold(g, p[0], "/mnt/a"), -EPIPE);
	assert_int_equal(guard_arm(g, 100), -EPIPE);
	assert_int_equal(guard_thawed(g), -EPIPE);

	assert_int_equal(guard_restart(g, err, sizeof(err)), 0);
	assert_true(guard_pid(g) > 0);
	assert_true(guard_pid(g) != old);
	assert_true(guard_alive(g));
	assert_int_equal(guard_hold(g, p[0], "/mnt/a"), 0);
	assert_int_equal(guard_thawed(g), 0);

	/* a restart of a live guard stops the old one first */
	old = guard_pid(g);
	assert_int_equal(guard_restart(g, err, sizeof(err)), 0);
	assert_int_equal(kill(old, 0), -1);
	assert_int_equal(errno, ESRCH);
	assert_true(guard_alive(g));
	close(p[0]);
	close(p[1]);
	guard_free(g);
}

/*
 * The guard is its own program: /proc/PID/exe and cmdline say so; its
 * environment is empty and its only fd is its socket as fd 3, although
 * we hold an fd that is not close-on-exec; its memory is locked; it is
 * under its seccomp filter, with no new privileges.  It is not dumpable
 * (no core on a frozen filesystem), so that only root may read its exe,
 * environ and fds: run as another user, this test checks that they are
 * refused instead.
 */
static void
exec_image(void **state)
{
	char err[256], buf[4096], real[4096], line[64];
	struct guard *g;
	struct dirent *de;
	size_t n;
	DIR *dir;
	pid_t pid;
	int leak, nfd = 0, fd3 = 0;

	assert_true((leak = open("/dev/null", O_RDONLY)) >= 0); /* no CLOEXEC */
	assert_non_null(g = guard_start(GRACE_MS, err, sizeof(err)));
	pid = guard_pid(g);
	read_proc(pid, "status", buf, sizeof(buf));
	if (strstr(guard_note(g), "(sanitizer build)") == NULL) {
		assert_non_null(strstr(guard_note(g), "seccomp filter on"));
		assert_non_null(strstr(buf, "\nSeccomp:\t2\n"));
		assert_non_null(strstr(buf, "\nNoNewPrivs:\t1\n"));
	}
	if (geteuid() != 0) {
		snprintf(line, sizeof(line), "/proc/%d/exe", (int)pid);
		assert_int_equal(readlink(line, buf, sizeof(buf)), -1);
		assert_int_equal(errno, EACCES);
		close(leak);
		guard_free(g);
		return;
	}
	assert_non_null(realpath(guard_path, real));
	snprintf(line, sizeof(line), "/proc/%d/exe", (int)pid);
	n = (size_t)readlink(line, buf, sizeof(buf) - 1);
	assert_true(n > 0 && n < sizeof(buf));
	buf[n] = '\0';
	assert_string_equal(buf, real);
	n = read_proc(pid, "cmdline", buf, sizeof(buf));
	snprintf(line, sizeof(line), "hv_vss_guard%c%d", '\0', GRACE_MS);
	assert_int_equal(n, strlen("hv_vss_guard") + 1 + strlen(line + 13) + 1);
	assert_memory_equal(buf, line, n - 1);
	assert_int_equal(read_proc(pid, "environ", buf, sizeof(buf)), 0);

	snprintf(line, sizeof(line), "/proc/%d/fd", (int)pid);
	assert_non_null(dir = opendir(line));
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		nfd++;
		fd3 += strcmp(de->d_name, "3") == 0;
	}
	closedir(dir);
	assert_int_equal(nfd, 1);
	assert_int_equal(fd3, 1);
	snprintf(line, sizeof(line), "/proc/%d/fd/3", (int)pid);
	n = (size_t)readlink(line, buf, sizeof(buf) - 1);
	assert_true(n > 0 && n < sizeof(buf));
	buf[n] = '\0';
	assert_true(strncmp(buf, "socket:", 7) == 0);

	if (strstr(guard_note(g), "memory locked") != NULL) {
		read_proc(pid, "status", buf, sizeof(buf));
		assert_non_null(strstr(buf, "VmLck:"));
		assert_true(atoi(strstr(buf, "VmLck:") + 6) > 0);
	}
	close(leak);
	guard_free(g);
}

/*
 * guard_spawn() does not wait: with a program that never says hello
 * (sleep), it returns at once, holds are refused (-EAGAIN: nothing may
 * be frozen unguarded), and guard_kill() gives GUARD_EV_DIED.  The same
 * guard then spawns the real program: GUARD_EV_READY, and holds work.
 */
static void
async_spawn(void **state)
{
	struct guard *g;
	struct guard_event ev;
	char err[256];
	uint64_t t0;
	int p[2];

	assert_int_equal(guard_image("/bin/sleep", err, sizeof(err)), 0);
	assert_non_null(g = guard_new(GRACE_MS, err, sizeof(err)));
	t0 = mono_ms();
	assert_int_equal(guard_spawn(g, err, sizeof(err)), 0);
	if (mono_ms() - t0 > 500)
		fail_msg("guard_spawn took %llu ms",
		    (unsigned long long)(mono_ms() - t0));
	assert_true(guard_alive(g));
	assert_false(guard_ready(g));
	assert_int_equal(pipe(p), 0);
	assert_int_equal(guard_hold(g, p[0], "/mnt/a"), -EAGAIN);
	assert_int_equal(guard_arm(g, 100), -EAGAIN);
	assert_int_equal(next_event(g, &ev, 200), 0);
	guard_kill(g);
	assert_int_equal(next_event(g, &ev, 3000), 1);
	assert_int_equal(ev.type, GUARD_EV_DIED);
	assert_true(WIFSIGNALED(ev.status));
	assert_int_equal(WTERMSIG(ev.status), SIGKILL);
	assert_int_equal(guard_hold(g, p[0], "/mnt/a"), -EPIPE);

	find_guard(state);
	assert_int_equal(guard_spawn(g, err, sizeof(err)), 0);
	assert_int_equal(next_event(g, &ev, 5000), 1);
	assert_int_equal(ev.type, GUARD_EV_READY);
	assert_true(guard_ready(g));
	assert_non_null(strstr(guard_note(g), "thaw guard pid"));
	assert_int_equal(guard_hold(g, p[0], "/mnt/a"), 0);
	assert_int_equal(guard_thawed(g), 0);
	close(p[0]);
	close(p[1]);
	guard_free(g);
}

/* A missing, a non-executable, and a wrong program: each named. */
/* Has the other end of pipe p (the guard's copy too) been closed?  Waits
 * up to ms for it. */
static bool
closed_within(int rfd, int ms)
{
	struct pollfd pfd = {rfd, POLLIN, 0};
	char c;

	if (poll(&pfd, 1, ms) != 1)
		return false;
	return read(rfd, &c, 1) == 0;
}

/*
 * Where closing a hold thaws (FreeBSD's /dev/ufssuspend), the daemon
 * hands each hold over once frozen (guard_suspended()) and closes its
 * own copy: the guard's is the last reference.  The holds here are the
 * write ends of pipes, whose read end sees EOF when the guard's last
 * copy goes: guard_resume() closes exactly that slot's, the others stay;
 * a slot unknown to the guard (handed before a restart) is held, not
 * closed; the guard's death closes what is left.
 */
static void
suspended_holds(void **state)
{
	struct guard_event ev;
	struct guard *g;
	char err[512];
	int dir[2], a[2], b[2], c[2], s0, s1, st;
	pid_t pid;

	assert_non_null(g = guard_start(GRACE_MS, err, sizeof(err)));
	assert_int_equal(pipe(dir), 0);
	assert_int_equal(pipe(a), 0);
	assert_int_equal(pipe(b), 0);
	assert_int_equal(pipe(c), 0);
	assert_true((s0 = guard_hold(g, dir[0], "/mnt/a")) >= 0);
	assert_true((s1 = guard_hold(g, dir[0], "/mnt/b")) >= 0);
	assert_int_equal(guard_suspended(g, s0, a[1], "/mnt/a"), 0);
	assert_int_equal(guard_suspended(g, s1, b[1], "/mnt/b"), 0);
	assert_int_equal(guard_suspended(g, 77, c[1], "/mnt/c"), 0);
	assert_int_equal(guard_suspended(g, s0, -1, "/mnt/a"), -EBADF);
	/* the daemon's copies go: the guard's are the last */
	close(a[1]);
	close(b[1]);
	close(c[1]);
	assert_false(closed_within(a[0], 100));
	assert_int_equal(guard_resume(g, s1), 0);
	assert_true(closed_within(b[0], 2000));
	assert_false(closed_within(a[0], 100));
	assert_false(closed_within(c[0], 0));
	/* an unknown slot (resumed by a lease already): nothing closes */
	assert_int_equal(guard_resume(g, 12345), 0);
	assert_false(closed_within(a[0], 100));
	assert_int_equal(next_event(g, &ev, 0), 0);
	/* killed: its copies close, which is what resumes */
	pid = guard_pid(g);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_true(closed_within(a[0], 2000));
	assert_true(closed_within(c[0], 2000));
	assert_int_equal(next_event(g, &ev, 2000), 1);
	assert_int_equal(ev.type, GUARD_EV_DIED);
	st = ev.status;
	assert_true(WIFSIGNALED(st));
	guard_free(g);
	close(dir[0]);
	close(dir[1]);
	close(a[0]);
	close(b[0]);
	close(c[0]);
}

static void
bad_images(void **state)
{
	char err[512];

	assert_int_equal(
	    guard_image("/nonexistent/hv_vss_guard", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/hv_vss_guard: No such file"));
	assert_int_equal(
	    guard_image("/proc/self/status", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not an executable file"));
	/* exits 0 at once, without a hello */
	assert_int_equal(guard_image("/bin/true", err, sizeof(err)), 0);
	assert_null(guard_start(GRACE_MS, err, sizeof(err)));
	assert_non_null(strstr(err, "died before its hello"));
	find_guard(state);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(start_and_signals),
	    cmocka_unit_test(lease),
	    cmocka_unit_test(thawed_releases),
	    cmocka_unit_test(died_and_restart),
	    cmocka_unit_test(exec_image),
	    cmocka_unit_test(async_spawn),
	    cmocka_unit_test(suspended_holds),
	    cmocka_unit_test(bad_images),
	};

	return cmocka_run_group_tests(tests, find_guard, NULL);
}
