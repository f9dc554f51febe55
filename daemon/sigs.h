/*
 * sigs.h: which signals hv_vss_daemon and its thaw guard ignore.
 *
 * A signal nobody handles and whose default is to end (or stop) the
 * process would kill the daemon in the middle of a backup: a stray
 * SIGUSR1 from a monitoring script, a real-time signal meant for another
 * process, SIGTSTP from a terminal.  The guard would thaw, but the backup
 * fails.  So every such signal is ignored; hv_vss_daemon(8), SIGNALS,
 * lists them (POSIX's here, each platform's own in os/sigtab.h).  Left alone are SIGKILL and SIGSTOP (they cannot be caught),
 * the signals the daemon handles (SIGHUP, SIGINT, SIGQUIT, SIGTERM),
 * those whose default is already to ignore (SIGCHLD, SIGURG, SIGWINCH,
 * SIGCONT), and those that report a fault in the daemon itself (SIGSEGV,
 * SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS): ignoring a fault
 * would loop on it, and a crash is what the guard is for.
 */
#ifndef HVVSS_SIGS_H
#define HVVSS_SIGS_H

#include <stdbool.h>
#include <stddef.h>

#define SIGS_MAX 128 /* more than Linux (64) or FreeBSD (126) has */

/*
 * The stray signals into sigs (at most max), and the count.  quiet[i]
 * (if quiet is not NULL) says that sigs[i] is one the daemon raises on
 * itself (SIGPIPE, SIGXFSZ: a failed write says why) and so is not worth
 * a log line.
 */
size_t sigs_stray(int *sigs, bool *quiet, size_t max);

/*
 * Set every stray signal to SIG_IGN.  Async-signal-safe: the guard calls
 * it in the child right after fork.  Ignored dispositions survive exec,
 * so whoever execs a program must give it the defaults back (hooks.c
 * does, with POSIX_SPAWN_SETSIGDEF).
 */
void sigs_ignore_stray(void);

/* A signal's name ("SIGUSR1", "SIGSYS", "SIGRTMIN+3"), in buf if it must
 * be made. */
const char *sigs_name(int sig, char *buf, size_t len);

#endif /* HVVSS_SIGS_H */
