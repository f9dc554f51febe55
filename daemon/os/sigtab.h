/*
 * sigtab.h: the platform's own signals, beyond POSIX's, that would end
 * hv_vss_daemon or its guard by default and that neither handles: the
 * seam under sigs.c (issue 11, item 2).
 *
 * sigs.c lists the POSIX ones (SIGUSR1, SIGALRM, SIGTSTP ...) and the
 * real-time range; each kernel adds a few of its own, with their names
 * for the log (glibc's sigabbrev_np() and FreeBSD's sys_signame[] are
 * each one libc's alone):
 *
 *   sigtab_linux.c    SIGPWR, SIGSTKFLT
 *   sigtab_freebsd.c  SIGEMT
 *
 * Not here, whatever the platform: signals whose default is already to
 * ignore (FreeBSD's SIGINFO, SIGTHR, SIGLIBRT), and those that report a
 * fault of the process itself (sigs.h says why).
 */
#ifndef HVVSS_SIGTAB_H
#define HVVSS_SIGTAB_H

#include <stddef.h>

struct sigtab {
	int sig;
	const char *name; /* "SIGPWR" */
};

extern const struct sigtab sigtab_os[];
extern const size_t sigtab_nos;

#endif /* HVVSS_SIGTAB_H */
