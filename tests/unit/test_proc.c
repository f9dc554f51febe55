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
 * nothing still ends it.  And the rest of proc.h: a process's command
 * name; a program image opened once and executed later, whatever its
 * path names by then; our own program's directory, refused once the
 * program was removed or replaced.
 */
#include <sys/types.h>
#include <sys/stat.h>
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

/* comm: ours, a child's (after its exec), and "?" for nobody. */
static void
test_comm(void **state)
{
	struct proc p;
	char buf[32], small[4];
	int st;

	proc_comm(getpid(), buf, sizeof(buf));
	assert_string_equal(buf, "test_proc");
	proc_comm(getpid(), small, sizeof(small));
	assert_string_equal(small, "tes");
	assert_int_equal(run(&p, "exec sleep 30", -1), 0);
	/* the exec has happened once sleep's name shows: wait for it */
	for (st = 0; st < 500; st++) {
		proc_comm(p.pid, buf, sizeof(buf));
		if (strcmp(buf, "sleep") == 0)
			break;
		usleep(10000);
	}
	assert_string_equal(buf, "sleep");
	assert_int_equal(proc_kill(&p, SIGKILL, true), 0);
	assert_int_equal(proc_wait(&p, 5000, &st), 0);
	assert_true(proc_release(&p));
	/* reaped: nobody has that pid now (barring a reuse this quick) */
	proc_comm(p.pid, buf, sizeof(buf));
	assert_string_equal(buf, "?");
	proc_comm(-5, buf, sizeof(buf));
	assert_string_equal(buf, "?");
}

/* Copy file from to to, mode 0755. */
static void
copy(const char *from, const char *to)
{
	char buf[65536];
	ssize_t n;
	int in, out;

	assert_true((in = open(from, O_RDONLY | O_CLOEXEC)) != -1);
	assert_true((out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	                 0755)) != -1);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write_all(out, buf, (size_t)n), 0);
	assert_int_equal(n, 0);
	close(in);
	close(out);
}

/* Run the image fd with a shell's -c script; its wait status. */
static int
exec_status(int fd, const char *script)
{
	char *argv[] = {"sh", "-c", (char *)script, NULL};
	pid_t pid;
	int st;

	if ((pid = fork()) == 0) {
		proc_exec_image(fd, argv, environ);
		_exit(126);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

/*
 * image: what is executed is the file opened, even once another file
 * has taken its name; a directory or a file without an execute bit is
 * refused at open, naming the path.
 */
static void
test_image(void **state)
{
	char dir[] = "/tmp/test_proc.XXXXXX", path[64], other[64];
	char err[256];
	int fd, st;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/prog", dir);
	snprintf(other, sizeof(other), "%s/other", dir);
	copy("/bin/sh", path);
	assert_true((fd = proc_image_open(path, err, sizeof(err))) >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	st = exec_status(fd, "exit 9");
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 9);
	/* replaced, as an upgrade does (rename over it): still the
	 * opened one runs, and the new one is not even executable */
	assert_int_equal(
	    symlink("/nonexistent", other) == 0 ? rename(other, path) : -1, 0);
	st = exec_status(fd, "exit 8");
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 8);
	close(fd);

	assert_int_equal(proc_image_open(dir, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not an executable file"));
	assert_non_null(strstr(err, dir));
	assert_int_equal(unlink(path), 0);
	copy("/bin/sh", path);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(proc_image_open(path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not an executable file"));
	assert_int_equal(unlink(path), 0);
	assert_int_equal(proc_image_open(path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, path));
	assert_int_equal(rmdir(dir), 0);
}

static char self_path[4096];

/*
 * self_dir: this program's directory; and for a copy of it that was
 * removed after it started (an upgrade replaced it), an error that says
 * to restart, not a directory whose siblings may be another version's.
 */
static void
test_self_dir(void **state)
{
	char dir[4096], want[4096], tmp[] = "/tmp/test_proc.XXXXXX";
	char path[64], err[256], *argv[3], buf[512];
	int pipefd[2], st;
	ssize_t n;
	pid_t pid;

	assert_int_equal(proc_self_dir(dir, sizeof(dir), err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "%s", self_path);
	*strrchr(want, '/') = '\0';
	assert_string_equal(dir, want);
	assert_int_equal(proc_self_dir(dir, 4, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too long"));

	assert_non_null(mkdtemp(tmp));
	snprintf(path, sizeof(path), "%s/copy", tmp);
	copy(self_path, path);
	assert_int_equal(pipe(pipefd), 0);
	argv[0] = path;
	argv[1] = "--self-dir-unlinked";
	argv[2] = NULL;
	if ((pid = fork()) == 0) {
		dup2(pipefd[1], 1);
		execv(path, argv);
		_exit(126);
	}
	close(pipefd[1]);
	n = read(pipefd[0], buf, sizeof(buf) - 1);
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 1);
	assert_non_null(strstr(buf, "was replaced after it started"));
	assert_int_equal(rmdir(tmp), 0);
}

/* The copy test_self_dir runs: remove ourselves, then ask. */
static int
self_dir_unlinked(const char *self)
{
	char dir[4096], err[256];

	if (unlink(self) == -1)
		return 2;
	if (proc_self_dir(dir, sizeof(dir), err, sizeof(err)) == 0) {
		printf("%s\n", dir);
		return 0;
	}
	printf("%s\n", err);
	return 1;
}

int
main(int argc, char **argv)
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
	    cmocka_unit_test(test_comm),
	    cmocka_unit_test(test_image),
	    cmocka_unit_test(test_self_dir),
	};

	if (argc == 2 && strcmp(argv[1], "--self-dir-unlinked") == 0)
		return self_dir_unlinked(argv[0]);
	if (realpath(argv[0], self_path) == NULL)
		return 2;

	return cmocka_run_group_tests(tests, NULL, NULL);
}
