/*
 * proc.h: a child process held by a handle, not by its pid: the seam
 * under hooks.c (issue 11, item 2; issue 12, item 3).
 *
 * A hook runs with a deadline, is killed with its whole process group
 * when the deadline passes, and its exit is an event on the loop.  The
 * pid alone races: once a child is reaped its pid may be reused, and a
 * kill aimed at the hook reaches a stranger.  So the child is held by a
 * descriptor that names the process itself, and it is never reaped
 * behind the holder's back: while the handle is open, pid (and the
 * process group it leads) names nobody else.
 *
 *   Linux (proc_linux.c): posix_spawn() (glibc's is a vfork-style clone, no code of
 *   ours runs in the child of a threaded daemon), then pidfd_open() of
 *   the unreaped child; the pidfd turns readable when it exits,
 *   waitid(P_PIDFD) reaps it.  A process that will not die after
 *   SIGKILL (stuck in the kernel) must be kept and reaped later:
 *   hooks.c's "linger" list.
 *
 *   FreeBSD (proc_freebsd.c): pdfork(2) gives the process descriptor
 *   directly, with no window at all.  It cannot be watched by the event
 *   loop's kqueue backend as a readable descriptor (the process
 *   descriptor takes EVFILT_PROCDESC only), so fd is a kqueue of our
 *   own holding EVFILT_PROCDESC/NOTE_EXIT on it: a kqueue is readable
 *   when an event waits, to poll(2) and to libevent alike, and the
 *   event carries the exit status.  The kernel reaps the process when
 *   the descriptor closes, killing it first if it still runs: no linger
 *   list is needed.  pdfork's child of a threaded daemon runs only
 *   async-signal-safe calls before execve.
 *
 * How hooks.c uses it:
 *   start a hook                   proc_spawn()
 *   its exit, an event (pid_cb)    event on proc.fd, then proc_wait(p, 0)
 *   the deadline's SIGKILL         proc_kill(p, SIGKILL, true)
 *   the straggler list             proc_release(): false = keep watching
 *   hooks_free(), the end          proc_wait(p, grace), proc_forget()
 *
 * The thaw guard (guard.c) is started otherwise: fork, then exec of a
 * program opened once at start, so that an upgrade that replaces the
 * files cannot pair the daemon with another version's guard
 * (proc_self_dir(), proc_image_open(), proc_exec_image()).  And the
 * holder of a detached hold (holds.c) is named by its command name
 * (proc_comm()).  Linux: /proc/self/exe, an O_PATH descriptor and
 * execveat(AT_EMPTY_PATH), /proc/PID/comm.  FreeBSD: the
 * kern.proc.pathname and kern.proc.pid sysctls, an O_EXEC descriptor
 * and fexecve(2).
 */
#ifndef HVVSS_PROC_H
#define HVVSS_PROC_H

#include <sys/types.h>
#include <stdbool.h>
#include <stddef.h>

struct proc_spawn {
	const char *path; /* executed as is */
	char *const *argv;
	char *const *envp;
	int fd_in, fd_out, fd_err; /* the child's 0, 1, 2; -1: /dev/null */
	const char *dir; /* the child's working directory; NULL: ours */
	/* every other descriptor is closed in the child; its signal mask
	 * is empty and every disposition the default; it leads a new
	 * session (and process group) */
};

struct proc {
	pid_t pid;
	int fd; /* readable once the process has exited */
	int pd; /* FreeBSD: the process descriptor; Linux: -1 */
	bool exited; /* its status is known (and on Linux it is reaped) */
	int status; /* wait(2)-style, once exited */
};

/*
 * Start s->path.  0, or -errno with the culprit in err: an execve()
 * failure in the child (ENOENT, EACCES, ENOEXEC ...) is reported here,
 * as posix_spawn() does, not as an exit status.
 */
int proc_spawn(
    struct proc *p, const struct proc_spawn *s, char *err, size_t errlen);

/* Signal the process, or with group its whole process group.  0 or
 * -errno; a process that has exited already is not an error. */
int proc_kill(struct proc *p, int sig, bool group);

/*
 * Wait up to timeout_ms (0: do not wait, -1: for ever) for the process
 * to exit.  0 with *status (wait(2)-style), -ETIMEDOUT, or -errno.
 */
int proc_wait(struct proc *p, int timeout_ms, int *status);

/*
 * Let go of the handle.  true: nothing is left of the process (exited
 * and reaped, or, on FreeBSD, killed and reaped by the kernel); false
 * (Linux only): it still runs after the SIGKILL sent here, and p stays
 * valid: watch p->fd and call proc_release() again once it is readable.
 */
bool proc_release(struct proc *p);

/*
 * Close the handle now, whatever the process does: for the end of the
 * holder (hooks_free()), after proc_kill() and a last proc_wait().  One
 * that still runs is left to the kernel: on Linux it stays a zombie
 * until we exit, on FreeBSD the kernel reaps it when it dies.
 */
void proc_forget(struct proc *p);

/*
 * The directory of this process's program, into buf: 0, or -1 with the
 * culprit in err (also when the program was replaced or removed since
 * it started, as far as the kernel can tell: its siblings may be
 * another version's).
 */
int proc_self_dir(char *buf, size_t len, char *err, size_t errlen);

/*
 * Open the program at path to execute it later (proc_exec_image()),
 * close-on-exec: the descriptor, or -1 with the culprit in err.  It is
 * checked to be a regular file with an execute bit.
 */
int proc_image_open(const char *path, char *err, size_t errlen);

/*
 * Execute the program opened by proc_image_open(): returns only if the
 * exec failed (errno says why).  Async-signal-safe: for the child of a
 * fork in a process with threads.
 */
void proc_exec_image(int fd, char *const argv[], char *const envp[]);

/*
 * The command name of process pid (at most 19 bytes on FreeBSD, 15 on
 * Linux) into buf: 0, or -errno with "?" in buf if it cannot be had
 * (-ENOENT/-ESRCH: gone; -EACCES: not ours to see).  Never touches a
 * filesystem that can be frozen: procfs, a sysctl.
 */
int proc_comm(pid_t pid, char *buf, size_t len);

#endif /* HVVSS_PROC_H */
