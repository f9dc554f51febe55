/*
 * proc_linux.c: child processes by pidfd, on Linux (proc.h).
 *
 * posix_spawn() starts the child (glibc's runs no code of ours in it, a
 * must in a daemon with threads) with a new session, default signal
 * dispositions, an empty mask, only 0-2 open (closefrom file action,
 * glibc 2.34) and, if asked, another directory (chdir file action,
 * glibc 2.29); pidfd_open() (Linux 5.3) then names it.  The
 * child cannot be reaped in between (only we reap it, and SIGCHLD is
 * not ignored), so its pid still names it when pidfd_open() runs.  (With
 * SIGCHLD ignored the kernel reaps it at exit: one that is over before
 * pidfd_open() fails the spawn with ESRCH, and the status of one that
 * ends later is lost, a proc_wait() error.)
 * waitid(P_PIDFD) (Linux 5.4) reaps exactly this child.
 *
 * A program image is an O_PATH descriptor, executed by execveat(fd, "",
 * AT_EMPTY_PATH) (Linux 3.19, glibc 2.34): the file opened, whatever
 * its path names by then.  Our own program is /proc/self/exe, which
 * says " (deleted)" once the file was replaced or removed.
 */
#include <sys/types.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"
#include "util.h"

int
proc_spawn(struct proc *p, const struct proc_spawn *s, char *err, size_t errlen)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t all, none;
	int fds[3] = {s->fd_in, s->fd_out, s->fd_err};
	int i, rc, fd;
	pid_t pid;

	p->pid = -1;
	p->fd = p->pd = -1;
	p->exited = false;
	p->status = 0;
	sigfillset(&all);
	sigemptyset(&none);
	if ((rc = posix_spawn_file_actions_init(&fa)) != 0) {
		errfmt(err, errlen, rc, "%s", s->path);
		return -rc;
	}
	if ((rc = posix_spawnattr_init(&at)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		errfmt(err, errlen, rc, "%s", s->path);
		return -rc;
	}
	for (i = 0; i < 3 && rc == 0; i++)
		rc = fds[i] == -1
		    ? posix_spawn_file_actions_addopen(
		          &fa, i, "/dev/null", O_RDWR, 0)
		    : posix_spawn_file_actions_adddup2(&fa, fds[i], i);
	if (rc == 0)
		rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	if (rc == 0 && s->dir != NULL)
		rc = posix_spawn_file_actions_addchdir_np(&fa, s->dir);
	if (rc == 0)
		rc = posix_spawnattr_setflags(&at,
		    POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF |
		        POSIX_SPAWN_SETSIGMASK);
	if (rc == 0)
		rc = posix_spawnattr_setsigdefault(&at, &all);
	if (rc == 0)
		rc = posix_spawnattr_setsigmask(&at, &none);
	if (rc == 0)
		rc = posix_spawn(&pid, s->path, &fa, &at, s->argv, s->envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (rc != 0) {
		errfmt(err, errlen, rc, "%s", s->path);
		return -rc;
	}
	p->pid = pid;
	if ((fd = pidfd_open(pid, 0)) == -1) {
		rc = errno;
		errfmt(err, errlen, rc, "%s: pidfd_open", s->path);
		/* no way to hold it: end it, and reap it, now */
		(void)kill(-pid, SIGKILL);
		(void)waitpid(pid, NULL, 0);
		p->pid = -1;
		return -rc;
	}
	p->fd = fd;
	return 0;
}

int
proc_kill(struct proc *p, int sig, bool group)
{
	if (p->exited)
		return 0;
	if (group ? kill(-p->pid, sig)
	          : pidfd_send_signal(p->fd, sig, NULL, 0)) {
		if (errno == ESRCH)
			return 0;
		return -errno;
	}
	return 0;
}

int
proc_wait(struct proc *p, int timeout_ms, int *status)
{
	struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
	siginfo_t si;
	int n;

	if (!p->exited) {
		while ((n = poll(&pfd, 1, timeout_ms)) == -1 && errno == EINTR)
			;
		if (n == -1)
			return -errno;
		if (n == 0)
			return -ETIMEDOUT;
		memset(&si, 0, sizeof(si));
		if (waitid(P_PIDFD, (id_t)p->fd, &si, WEXITED | WNOHANG) == -1)
			return -errno;
		if (si.si_pid == 0)
			return -EAGAIN;
		p->exited = true;
		p->status = si.si_code == CLD_EXITED
		    ? (si.si_status & 0xff) << 8
		    : (si.si_status & 0x7f) |
		        (si.si_code == CLD_DUMPED ? 0x80 : 0);
	}
	if (status != NULL)
		*status = p->status;
	return 0;
}

bool
proc_release(struct proc *p)
{
	int rc;

	if (p->fd == -1)
		return true;
	if (!p->exited) {
		(void)proc_kill(p, SIGKILL, false);
		rc = proc_wait(p, 0, NULL);
		/* anything else (ECHILD: reaped behind our back, SIGCHLD
		 * ignored) leaves nothing to wait for, and an fd that stays
		 * readable for ever */
		if (rc == -ETIMEDOUT || rc == -EAGAIN || rc == -EINTR)
			return false;
	}
	close(p->fd);
	p->fd = -1;
	return true;
}

void
proc_forget(struct proc *p)
{
	if (p->fd != -1)
		close(p->fd);
	p->fd = -1;
}

int
proc_self_dir(char *buf, size_t len, char *err, size_t errlen)
{
	static const char deleted[] = " (deleted)";
	char self[PATH_MAX];
	ssize_t n;
	char *slash;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n == -1) {
		errfmt(err, errlen, errno, "/proc/self/exe");
		return -1;
	}
	self[n] = '\0';
	/* replaced under us: its siblings may be another version's */
	if ((size_t)n > sizeof(deleted) - 1 &&
	    strcmp(self + n - (sizeof(deleted) - 1), deleted) == 0) {
		snprintf(err, errlen,
		    "%s was replaced after it started; restart it", self);
		return -1;
	}
	if ((slash = strrchr(self, '/')) == NULL) {
		snprintf(err, errlen, "/proc/self/exe: %s", self);
		return -1;
	}
	*slash = '\0';
	if ((size_t)snprintf(buf, len, "%s", self) >= len) {
		snprintf(err, errlen, "%s: path too long", self);
		return -1;
	}
	return 0;
}

int
proc_image_open(const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	if ((fd = open(path, O_PATH | O_CLOEXEC)) == -1) {
		errfmt(err, errlen, errno, "%s", path);
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (st.st_mode & 0111) == 0) {
		snprintf(err, errlen, "%s: not an executable file", path);
		close(fd);
		return -1;
	}
	return fd;
}

void
proc_exec_image(int fd, char *const argv[], char *const envp[])
{
	(void)execveat(fd, "", argv, envp, AT_EMPTY_PATH);
}

int
proc_comm(pid_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd, e;

	snprintf(buf, len, "?");
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -errno;
	n = read(fd, buf, len - 1);
	e = n < 0 ? errno : ESRCH; /* empty: it went while we read */
	close(fd);
	if (n <= 0) {
		snprintf(buf, len, "?");
		return -e;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}
