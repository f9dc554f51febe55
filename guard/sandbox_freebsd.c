/*
 * sandbox_freebsd.c: the thaw guard's sandbox on FreeBSD (sandbox.h).
 *
 * - The name: fexecve(2) names the process after its program already.
 * - procctl(PROC_SPROTECT, PPROT_SET): spared by the OOM killer, as
 *   protect(1) does (root only).
 * - procctl(PROC_TRACE_CTL, PROC_TRACE_CTL_DISABLE): no ptrace attach,
 *   and the kernel writes no core for a process so marked
 *   (sys/kern/kern_sig.c, coredump(): P2_NOTRACE).  RLIMIT_CORE 0 as
 *   well, should the procctl be refused.
 * - Capsicum, cap_enter(2): no global namespace any more (no open, no
 *   statfs by path, no socket, no exec, most sysctls refused), only the
 *   descriptors held.  Serving needs nothing else: poll, recvmsg and
 *   send on fd 3 (whose rights are cut to those), the descriptors the
 *   daemon hands over with all their rights (ioctl and close), the
 *   clock and exit are all allowed in capability mode.  The guard does
 *   not suspend: the daemon hands it each /dev/ufssuspend descriptor
 *   once frozen (GM_SUSPENDED, in SCM_RIGHTS, which recvmsg(2) takes in
 *   capability mode) and closes its own copy, so that the guard's is
 *   the last reference; the guard's thaw is close(2) of it, which
 *   capability mode allows on any descriptor, and needs no ioctl right
 *   (doc/FREEBSD.md, "How the guard and the record map onto closing
 *   resumes").
 */
#include <sys/types.h>
#include <sys/capsicum.h>
#include <sys/mman.h>
#include <sys/procctl.h>
#include <sys/resource.h>

#include <errno.h>
#include <unistd.h>

#include "guard_proto.h"
#include "sandbox.h"

const char sandbox_kind[] = "capability mode";

void
sandbox_name(const char *name)
{
	(void)name;
}

bool
sandbox_oom_exempt(void)
{
	int op = PPROT_SET;

	return procctl(P_PID, getpid(), PROC_SPROTECT, &op) == 0;
}

void
sandbox_nodump(void)
{
	struct rlimit rl = {0, 0};
	int op = PROC_TRACE_CTL_DISABLE;

	(void)procctl(P_PID, getpid(), PROC_TRACE_CTL, &op);
	(void)setrlimit(RLIMIT_CORE, &rl);
}

int
sandbox_lock(void)
{
	return mlockall(MCL_CURRENT | MCL_FUTURE) == 0 ? 0 : errno;
}

int
sandbox_enter(void)
{
	cap_rights_t rights;

	/* the socket: read, answer, wait on it; nothing else */
	cap_rights_init(&rights, CAP_RECV, CAP_SEND, CAP_EVENT);
	if (cap_rights_limit(GUARD_SOCK_FD, &rights) == -1)
		return -errno;
	if (cap_enter() == -1)
		return -errno;
	return 0;
}
