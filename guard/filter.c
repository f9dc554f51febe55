/*
 * filter.c: the thaw guard's seccomp allow-list, the smallest of the
 * project's processes.  Once set up (signals, oom_score_adj, its fds
 * closed, chdir, mlockall), the guard does nothing but wait on its
 * socket, read the daemon's messages with the fds they carry, thaw and
 * close those fds, answer, and exit.  Every other system call kills it
 * (SCMP_ACT_KILL_PROCESS, SIGSYS): its socket closes, the daemon sees
 * EOF, starts another guard and hands it what is frozen (daemon.c,
 * guard_cb()).  A dead guard thaws nothing, but the filesystems stay
 * held by the daemon, which thaws them itself.
 *
 * What is allowed, and why (the calls are the libc's, statically
 * linked, as strace shows them):
 * - poll (ppoll where there is no poll): waiting on the socket and the
 *   lease; restart_syscall, which the kernel uses to resume a poll with
 *   a timeout after SIGSTOP/SIGCONT or a ptrace stop.
 * - recvmsg, on fd 3 only, with the flags it uses: the daemon's
 *   messages and SCM_RIGHTS.
 * - sendto (send()), on fd 3 only, to no address, never blocking
 *   (MSG_DONTWAIT | MSG_NOSIGNAL): the answers.
 * - ioctl, FITHAW only: never FIFREEZE, or anything else, on the
 *   filesystems it holds.  A guard that could freeze could hang the
 *   machine.
 * - close: the held fds, once thawed or released.
 * - clock_gettime: the lease's clock, when the vDSO falls back to the
 *   system call (a clock source it cannot read).
 * - exit_group: _exit().
 * No open, no write, no mmap, no socket, no execve: a guard subverted
 * through its socket can thaw early what it was handed, and nothing
 * else.
 *
 * PR_SET_NO_NEW_PRIVS first: the guard runs as root with CAP_SYS_ADMIN
 * and could load a filter without it, but with it an exec, were one
 * allowed, could not gain privileges either, and the filter does not
 * depend on the capability.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <errno.h>
#include <linux/fs.h>
#include <seccomp.h>
#include <stddef.h>

#include "guard_proto.h"
#include "filter.h"

/* a system call allowed, if its arguments compare so (all of them) */
struct rule {
	int nr;
	unsigned int ncmp;
	struct scmp_arg_cmp cmp[3];
};

int
guard_filter(void)
{
	/* the argument comparisons are compound literals: not static */
	const struct rule rules[] = {
#ifdef __NR_poll
	    {SCMP_SYS(poll), 0, {{0}}},
#else
	    {SCMP_SYS(ppoll), 0, {{0}}},
#endif
	    {SCMP_SYS(restart_syscall), 0, {{0}}},
	    {SCMP_SYS(recvmsg), 2,
	        {SCMP_A0_32(SCMP_CMP_EQ, GUARD_SOCK_FD),
	            SCMP_A2_32(SCMP_CMP_EQ, MSG_CMSG_CLOEXEC)}},
	    {SCMP_SYS(sendto), 3,
	        {SCMP_A0_32(SCMP_CMP_EQ, GUARD_SOCK_FD),
	            SCMP_A3_32(SCMP_CMP_EQ, MSG_DONTWAIT | MSG_NOSIGNAL),
	            SCMP_A4_64(SCMP_CMP_EQ, 0)}},
	    /* the kernel reads the request as an unsigned int: so do we */
	    {SCMP_SYS(ioctl), 1, {SCMP_A1_32(SCMP_CMP_EQ, FITHAW)}},
	    {SCMP_SYS(close), 0, {{0}}},
	    {SCMP_SYS(clock_gettime), 0, {{0}}},
	    {SCMP_SYS(exit_group), 0, {{0}}},
	};
	scmp_filter_ctx ctx;
	size_t i;
	int rc = 0;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return -errno;
	/*
	 * libseccomp asks the kernel, through seccomp(2), whether it can
	 * kill the process; where seccomp(2) is refused (systemd's
	 * @system-service filter, which the unit uses, has prctl but not
	 * seccomp, and libseccomp loads through prctl then), it says no.
	 * The guard has one thread: killing it kills the process the same
	 * way (SIGSYS).
	 */
	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL &&
	    (ctx = seccomp_init(SCMP_ACT_KILL_THREAD)) == NULL)
		return -ENOTSUP;
	for (i = 0; i < sizeof(rules) / sizeof(rules[0]) && rc == 0; i++)
		rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, rules[i].nr,
		    rules[i].ncmp, rules[i].cmp);
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	return rc;
}
