/*
 * sandbox.h: what the thaw guard does to itself before it serves, one
 * file per platform (issue 11, item 2): hv_vss_guard.c says when, the
 * platform's file says how.
 *
 *                 Linux (sandbox_linux.c)     FreeBSD (sandbox_freebsd.c)
 *   name          PR_SET_NAME                 (fexecve names it already)
 *   OOM killer    oom_score_adj -1000         procctl(PROC_SPROTECT)
 *   no core       PR_SET_DUMPABLE 0           procctl(PROC_TRACE_CTL)
 *   memory        mlockall                    mlockall
 *   last          seccomp allow-list          Capsicum capability mode
 *                 (filter.c)                  (cap_enter)
 *
 * Each one that fails leaves the guard serving (a guard that thaws
 * without one of these is better than none), and its hello says which
 * failed and why (daemon/guard.c writes the note the status shows).
 */
#ifndef HVVSS_GUARD_SANDBOX_H
#define HVVSS_GUARD_SANDBOX_H

#include <stdbool.h>

/* What sandbox_enter() enters, for the hello: "seccomp filter" */
extern const char sandbox_kind[];

/* The name ps(1) shows, where exec did not give it. */
void sandbox_name(const char *name);

/* Ask the OOM killer to spare us: true if it will. */
bool sandbox_oom_exempt(void);

/*
 * No core dump, no debugger: a guard killed by its sandbox, or crashed,
 * must not write a core on a filesystem that may be frozen (see the top
 * of hv_vss_guard.c).
 */
void sandbox_nodump(void);

/* Lock every page, now and later: 0, or errno. */
int sandbox_lock(void);

/*
 * Last, once set up: from here on only what serving needs (poll, recvmsg
 * and send on the socket, the thaw, close, the clock, exit).  0, or
 * -errno (nothing entered).
 */
int sandbox_enter(void);

#endif /* HVVSS_GUARD_SANDBOX_H */
