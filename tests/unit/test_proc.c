/*
 * test_proc.c: unit tests for daemon/os/proc_linux.c, Linux's side of
 * the process-handle seam (daemon/os/proc.h) that the FreeBSD side
 * (pdfork) implements too.
 *
 * What a hook runner relies on: the exit status comes back
 * wait(2)-style; an exec failure is an error of the spawn, not a
 * status; the deadline is kept (a process that outlives it is
 * -ETIMEDOUT, not waited for); killing the group reaches the
 * grandchildren too; the child starts with nothing of ours (no
 * descriptor above 2, no blocked signal, its own session); fd turns
 * readable at exit; and release of a stopped process that ignores
 * nothing still ends it.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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

#include "os/proc.h"
#include "util.h"

extern char **environ;

static int
run(struct proc *p, const char *script, int out)
{
	char *argv[] = {"sh", "-c", (char *)script, NULL};
	struct proc_spawn s = {.path = "/bin/sh",
	    .argv = argv,
	    .envp = environ,
	    .fd_in = -1,
	    .fd_out = out,
	    .fd_err = -1};
	char err[256];

	return proc_spawn(p, &s, err, sizeof(err));
}

static void
test_status(void **state)
{
	struct proc p;
	int st;

	assert_int_equal(run(&p, "exit 7", -1), 0);
	assert_int_equal(proc_wait(&p, 5000, &st), 0);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 7);
	/* asked again: the same answer, no second reap */
	assert_int_equal(proc_wait(&p, 0, &st), 0);
	assert_int_equal(WEXITSTATUS(st), 7);
	assert_true(proc_release(&p));

	assert_int_equal(run(&p, "kill -TERM $$", -1), 0);
	assert_int_equal(proc_wait(&p, 5000, &st), 0);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGTERM);
	assert_true(proc_release(&p));
}

static void
test_exec_failure(void **state)
{
	char *argv[] = {"nope", NULL};
	struct proc_spawn s = {.path = "/nonexistent/nope",
	    .argv = argv,
	    .envp = environ,
	    .fd_in = -1,
	    .fd_out = -1,
	    .fd_err = -1};
	struct proc p;
	char err[256] = "";

	assert_int_equal(proc_spawn(&p, &s, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/nope"));
}

static void
test_deadline_and_group_kill(void **state)
{
	struct proc p;
	struct pollfd pfd;
	uint64_t t0;
	int st, pipefd[2];
	char buf[64];
	ssize_t n;
	pid_t grandchild;

	assert_int_equal(pipe(pipefd), 0);
	/* a grandchild in the same group, its pid on stdout */
	assert_int_equal(run(&p, "sleep 30 & echo $!; wait", pipefd[1]), 0);
	close(pipefd[1]);
	n = read(pipefd[0], buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	grandchild = (pid_t)atoi(buf);
	assert_true(grandchild > 0);

	t0 = mono_ms();
	assert_int_equal(proc_wait(&p, 200, &st), -ETIMEDOUT);
	assert_true(mono_ms() - t0 >= 190);
	assert_true(mono_ms() - t0 < 2000);
	pfd.fd = p.fd;
	pfd.events = POLLIN;
	assert_int_equal(poll(&pfd, 1, 0), 0);

	assert_int_equal(proc_kill(&p, SIGKILL, true), 0);
	assert_int_equal(proc_wait(&p, 5000, &st), 0);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGKILL);
	/* the grandchild got it too (reparented, so poll kill(0)) */
	t0 = mono_ms();
	while (kill(grandchild, 0) == 0 && mono_ms() - t0 < 5000)
		usleep(10000);
	assert_int_equal(kill(grandchild, 0), -1);
	/* a killed, exited process: killing again is no error */
	assert_int_equal(proc_kill(&p, SIGKILL, true), 0);
	assert_true(proc_release(&p));
	close(pipefd[0]);
}

static void
test_clean_child(void **state)
{
	struct proc p;
	int st, pipefd[2], stray;
	sigset_t block, old;
	char buf[256], tail[32];
	size_t len;
	ssize_t n;

	/* a descriptor of ours, and a blocked signal: neither inherited */
	stray = open("/dev/null", O_RDONLY);
	assert_true(stray > 2);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &old);
	assert_int_equal(pipe(pipefd), 0);
	assert_int_equal(
	    run(&p,
	        "ls /proc/self/fd | tr '\\n' ' '; echo; "
	        "grep SigBlk /proc/self/status; cut -d' ' -f6 /proc/$$/stat; echo $$",
	        pipefd[1]),
	    0);
	close(pipefd[1]);
	sigprocmask(SIG_SETMASK, &old, NULL);
	len = 0;
	while (len < sizeof(buf) - 1 &&
	    (n = read(pipefd[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	assert_int_equal(proc_wait(&p, 5000, &st), 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* 0 1 2, and 3: ls's own directory */
	if (strstr(buf, "0 1 2 3 \n") == NULL)
		fail_msg("child's output: %s", buf);
	assert_non_null(strstr(buf, "SigBlk:\t0000000000000000"));
	/* its own session: it leads it (the last two lines agree) */
	snprintf(tail, sizeof(tail), "%d\n%d\n", (int)p.pid, (int)p.pid);
	if (strstr(buf, tail) == NULL)
		fail_msg("not a session leader: %s", buf);
	assert_true(proc_release(&p));
	close(pipefd[0]);
	close(stray);
}

/* The mask seen by the spawned program itself (a shell may reset its
 * own, so grep is run directly), with SIGUSR1 blocked in the parent. */
static void
test_clean_mask(void **state)
{
	char *argv[] = {"grep", "SigBlk", "/proc/self/status", NULL};
	struct proc_spawn s = {.path = "/bin/grep",
	    .argv = argv,
	    .envp = environ,
	    .fd_in = -1,
	    .fd_out = -1,
	    .fd_err = -1};
	struct proc p;
	sigset_t block, old;
	char err[256], buf[128];
	int st, pipefd[2];
	ssize_t n;

	assert_int_equal(pipe(pipefd), 0);
	s.fd_out = pipefd[1];
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &old);
	assert_int_equal(proc_spawn(&p, &s, err, sizeof(err)), 0);
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(pipefd[1]);
	n = read(pipefd[0], buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_int_equal(proc_wait(&p, 5000, &st), 0);
	if (strcmp(buf, "SigBlk:\t0000000000000000\n") != 0)
		fail_msg("the child's mask: %s", buf);
	assert_true(proc_release(&p));
	close(pipefd[0]);
}

static void
test_release_running(void **state)
{
	struct proc p;
	pid_t pid;
	uint64_t t0;

	assert_int_equal(run(&p, "exec sleep 30", -1), 0);
	pid = p.pid;
	/* SIGKILL is sent; sleep dies at once, but the kernel may need
	 * a moment: false means "watch fd and ask again" */
	t0 = mono_ms();
	while (!proc_release(&p)) {
		assert_true(mono_ms() - t0 < 5000);
		usleep(10000);
	}
	assert_int_equal(p.fd, -1);
	/* reaped: the pid names no zombie of ours */
	assert_int_equal(waitpid(pid, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

/*
 * A child reaped behind the holder's back (a SIGCHLD handler with
 * waitpid(-1), or SIGCHLD ignored): its handle stays readable for ever,
 * so release must let go of it, not say "watch and ask again" (which
 * made the hooks' straggler event spin).
 */
static void
test_release_reaped_elsewhere(void **state)
{
	struct pollfd pfd;
	struct proc p;
	int st;

	assert_int_equal(run(&p, "exec sleep 30", -1), 0);
	assert_int_equal(kill(p.pid, SIGKILL), 0);
	assert_int_equal(waitpid(p.pid, &st, 0), p.pid);
	pfd.fd = p.fd;
	pfd.events = POLLIN;
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	assert_true(proc_wait(&p, 0, &st) < 0); /* no status: it is lost */
	assert_true(proc_release(&p));
	assert_int_equal(p.fd, -1);
}

/* dir: the child runs there; without it, in ours. */
static void
test_dir(void **state)
{
	char *argv[] = {"sh", "-c", "pwd", NULL};
	struct proc_spawn s = {.path = "/bin/sh",
	    .argv = argv,
	    .envp = environ,
	    .fd_in = -1,
	    .fd_out = -1,
	    .fd_err = -1,
	    .dir = "/"};
	struct proc p;
	char err[256], buf[128];
	int st, pipefd[2];
	ssize_t n;

	assert_int_equal(chdir("/tmp"), 0);
	assert_int_equal(pipe(pipefd), 0);
	s.fd_out = pipefd[1];
	assert_int_equal(proc_spawn(&p, &s, err, sizeof(err)), 0);
	close(pipefd[1]);
	n = read(pipefd[0], buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "/\n");
	assert_int_equal(proc_wait(&p, 5000, &st), 0);
	assert_true(proc_release(&p));
	close(pipefd[0]);

	s.dir = "/nonexistent";
	s.fd_out = -1;
	assert_int_equal(proc_spawn(&p, &s, err, sizeof(err)), -ENOENT);
}

/* forget: the handle is closed at once, even on a process that runs. */
static void
test_forget(void **state)
{
	struct proc p;
	pid_t pid;
	int st;

	assert_int_equal(run(&p, "exec sleep 30", -1), 0);
	pid = p.pid;
	assert_int_equal(proc_kill(&p, SIGKILL, true), 0);
	proc_forget(&p);
	assert_int_equal(p.fd, -1);
	/* left as a zombie of ours (Linux): reap it here */
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_status),
	    cmocka_unit_test(test_exec_failure),
	    cmocka_unit_test(test_deadline_and_group_kill),
	    cmocka_unit_test(test_clean_child),
	    cmocka_unit_test(test_clean_mask),
	    cmocka_unit_test(test_release_running),
	    cmocka_unit_test(test_release_reaped_elsewhere),
	    cmocka_unit_test(test_dir),
	    cmocka_unit_test(test_forget),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
