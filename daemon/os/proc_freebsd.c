/*
 * proc_freebsd.c: child processes by process descriptor, on FreeBSD
 * (proc.h).
 *
 * pdfork(2) returns the child's process descriptor with the pid; no
 * SIGCHLD is sent for it, and the child is reaped by the kernel when
 * the last reference to the descriptor closes (killed first with
 * SIGKILL if it still runs: no PD_DAEMON).  Until then it stays a zombie
 * after exiting, so its pid and process group are ours to signal.
 *
 * The exit status comes from EVFILT_PROCDESC/NOTE_EXIT, whose data is
 * the wait(2)-style status; registered on a process that has exited
 * already, the event fires at once (procdesc_kqops_event(), the initial
 * test after registration, in sys/kern/sys_procdesc.c).
 *
 * Between pdfork() and execve() the child of a threaded process may make
 * only async-signal-safe calls; an execve() failure goes back to the
 * parent as an errno through a close-on-exec pipe.
 *
 * A program image is an O_EXEC descriptor, executed by fexecve(2).  Our
 * own program's path is the kern.proc.pathname sysctl, which the kernel
 * finds through its name cache: a program replaced or removed since it
 * started has no path any more, and the sysctl fails (ENOENT).
 * proc_comm() is in proc_comm_freebsd.c: <sys/user.h> declares the
 * kernel's own struct proc.
 */
#include <sys/types.h>
#include <sys/event.h>
#include <sys/procdesc.h>
#include <sys/stat.h>
#include <sys/sysctl.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <paths.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"
#include "util.h"

/* In the child: async-signal-safe calls only. */
static void
child(const struct proc_spawn *s, int errfd)
{
	struct sigaction sa;
	sigset_t none;
	int fds[3] = {s->fd_in, s->fd_out, s->fd_err};
	int i, nul = -1, e, fd;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (i = 1; i < NSIG; i++)
		if (i != SIGKILL && i != SIGSTOP)
			(void)sigaction(i, &sa, NULL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	if (setsid() == -1)
		goto fail;
	/* the error pipe above 2, where 0-2 will not land on it */
	if ((fd = fcntl(errfd, F_DUPFD_CLOEXEC, 3)) == -1)
		goto fail;
	errfd = fd;
	/* out of the way of 0-2 first, so that dup2 cannot clobber one
	 * source with another */
	for (i = 0; i < 3; i++) {
		if (fds[i] == -1) {
			if (nul == -1 &&
			    (nul = open(_PATH_DEVNULL, O_RDWR)) == -1)
				goto fail;
			fds[i] = nul;
		}
		if ((fds[i] = fcntl(fds[i], F_DUPFD, 3)) == -1)
			goto fail;
	}
	for (i = 0; i < 3; i++)
		if (dup2(fds[i], i) == -1)
			goto fail;
	/* the error pipe survives until the exec closes it */
	if (dup2(errfd, 3) == -1 || fcntl(3, F_SETFD, FD_CLOEXEC) == -1)
		goto fail;
	closefrom(4);
	if (s->dir != NULL && chdir(s->dir) == -1)
		goto fail;
	execve(s->path, s->argv, s->envp);
	errfd = 3;
fail:
	e = errno;
	(void)write(errfd, &e, sizeof(e));
	_exit(127);
}

int
proc_spawn(struct proc *p, const struct proc_spawn *s, char *err, size_t errlen)
{
	struct kevent kev;
	ssize_t n;
	int pipefd[2], pd, e, kq;
	pid_t pid;

	p->pid = -1;
	p->fd = p->pd = -1;
	p->exited = false;
	p->status = 0;
	if (pipe2(pipefd, O_CLOEXEC) == -1) {
		e = errno;
		errfmt(err, errlen, e, "%s: pipe", s->path);
		return -e;
	}
	if ((kq = kqueue()) == -1) {
		e = errno;
		errfmt(err, errlen, e, "%s: kqueue", s->path);
		close(pipefd[0]);
		close(pipefd[1]);
		return -e;
	}
	if ((pid = pdfork(&pd, PD_CLOEXEC)) == -1) {
		e = errno;
		errfmt(err, errlen, e, "%s: pdfork", s->path);
		close(kq);
		close(pipefd[0]);
		close(pipefd[1]);
		return -e;
	}
	if (pid == 0)
		child(s, pipefd[1]);
	close(pipefd[1]);
	p->pid = pid;
	p->pd = pd;
	p->fd = kq;
	/* 0 bytes: the exec happened (the pipe closed with it) */
	while ((n = read(pipefd[0], &e, sizeof(e))) == -1 && errno == EINTR)
		;
	close(pipefd[0]);
	if (n == (ssize_t)sizeof(e)) {
		errfmt(err, errlen, e, "%s", s->path);
		(void)proc_release(p);
		return -e;
	}
	EV_SET(&kev, pd, EVFILT_PROCDESC, EV_ADD, NOTE_EXIT, 0, NULL);
	if (kevent(kq, &kev, 1, NULL, 0, NULL) == -1) {
		e = errno;
		errfmt(err, errlen, e, "%s: kevent(EVFILT_PROCDESC)", s->path);
		(void)proc_release(p);
		return -e;
	}
	return 0;
}

int
proc_kill(struct proc *p, int sig, bool group)
{
	if (p->exited)
		return 0;
	/* the group's leader is ours and unreaped: -pid is still its
	 * group, whoever else has started meanwhile */
	if (group ? kill(-p->pid, sig) : pdkill(p->pd, sig)) {
		if (errno == ESRCH)
			return 0;
		return -errno;
	}
	return 0;
}

int
proc_wait(struct proc *p, int timeout_ms, int *status)
{
	struct kevent kev;
	struct timespec ts, *tsp = NULL;
	int n;

	if (!p->exited) {
		if (timeout_ms >= 0) {
			ts.tv_sec = timeout_ms / 1000;
			ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000;
			tsp = &ts;
		}
		while ((n = kevent(p->fd, NULL, 0, &kev, 1, tsp)) == -1 &&
		    errno == EINTR)
			;
		if (n == -1)
			return -errno;
		if (n == 0)
			return -ETIMEDOUT;
		if (kev.filter != EVFILT_PROCDESC ||
		    (kev.fflags & NOTE_EXIT) == 0)
			return -EAGAIN;
		p->exited = true;
		p->status = (int)kev.data;
	}
	if (status != NULL)
		*status = p->status;
	return 0;
}

bool
proc_release(struct proc *p)
{
	/* the last close of the process descriptor kills (SIGKILL) a
	 * process still running and reaps it, now or when it dies */
	if (p->pd != -1)
		close(p->pd);
	if (p->fd != -1)
		close(p->fd);
	p->pd = p->fd = -1;
	return true;
}

void
proc_forget(struct proc *p)
{
	(void)proc_release(p);
}

int
proc_self_dir(char *buf, size_t len, char *err, size_t errlen)
{
	int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PATHNAME, -1};
	char self[PATH_MAX];
	size_t n = sizeof(self);
	char *slash;

	if (sysctl(mib, 4, self, &n, NULL, 0) == -1) {
		/* ENOENT: replaced or removed since it started */
		errfmt(err, errlen, errno,
		    "kern.proc.pathname (this program was replaced after it started? restart it)");
		return -1;
	}
	self[sizeof(self) - 1] = '\0';
	if ((slash = strrchr(self, '/')) == NULL) {
		snprintf(err, errlen, "kern.proc.pathname: %s", self);
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

	if ((fd = open(path, O_EXEC | O_CLOEXEC)) == -1) {
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
	(void)fexecve(fd, argv, envp);
}
