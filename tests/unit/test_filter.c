/*
 * test_filter.c: the thaw guard's seccomp allow-list (guard/filter.c),
 * loaded in a forked child that then makes one call: what the guard
 * does serving passes, anything else kills the child with SIGSYS.  The
 * "filesystem" is a pipe: FITHAW and FIFREEZE on pipefs fail harmlessly
 * if the filter ever let them through, and nothing anywhere is frozen.
 * Each case twice: as is, and under a filter like the systemd unit's,
 * which refuses seccomp(2) itself.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <seccomp.h>

#include "filter.h"
#include "guard_proto.h"

enum call {
	C_POLL,
	C_RECVMSG,
	C_SEND,
	C_FITHAW,
	C_CLOSE,
	C_CLOCK,
	C_EXIT,
	/* forbidden */
	C_RECVMSG_FLAGS,
	C_FIFREEZE,
	C_FIGETBSZ,
	C_OPEN,
	C_WRITE,
	C_SEND_BLOCKING,
	C_SEND_OTHER_FD,
	C_RECV_OTHER_FD,
	C_SOCKET,
	C_MMAP,
	C_KILL,
};

/*
 * What the systemd unit's SystemCallFilter=@system-service with
 * SystemCallErrorNumber=EPERM does to the guard's set-up: seccomp(2)
 * refused (prctl allowed), everything else let through.
 */
static int
unit_filter(void)
{
	scmp_filter_ctx ctx;
	int rc;

	if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL)
		return -1;
	rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(seccomp), 0);
	if (rc == 0)
		rc = prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	/* libseccomp keeps what it found the kernel can do (seccomp(2)
	 * worked for this load): as the guard's one load, it must ask */
	if (rc == 0)
		rc = seccomp_reset(NULL, SCMP_ACT_ALLOW);
	return rc;
}

/*
 * In a child, with fd 3 one end of a socket pair (a message waiting on
 * it) and fd 4 the read end of a pipe, as in the guard: not dumpable,
 * load the filter, make the call.  The child's wait status: an exit
 * code says the call was let through, and whether it worked.
 */
static int
run(enum call c, bool like_unit)
{
	struct gmsg hello;
	int sv[2], p[2], st, n;
	pid_t pid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	assert_int_equal(pipe(p), 0);
	/* above 4, where the child puts its fds */
	for (n = 0; n < 2; n++) {
		sv[n] = fcntl(sv[n], F_DUPFD, 10);
		p[n] = fcntl(p[n], F_DUPFD, 10);
		assert_true(sv[n] >= 10 && p[n] >= 10);
	}
	memset(&hello, 0, sizeof(hello));
	assert_int_equal(send(sv[0], &hello, sizeof(hello), 0), sizeof(hello));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct gmsg m;
		struct pollfd pfd = {GUARD_SOCK_FD, POLLIN, 0};
		struct iovec iov = {&m, sizeof(m)};
		struct msghdr mh;
		struct timespec ts;
		char b = 0;
		int code;

		if (dup2(sv[1], GUARD_SOCK_FD) == -1 || dup2(p[0], 4) == -1)
			_exit(100);
		memset(&m, 0, sizeof(m));
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		/* no core in the test's directory */
		(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
		if (like_unit && unit_filter() != 0)
			_exit(104);
		if (guard_filter() != 0)
			_exit(101);
		/*
		 * Raw system calls, with the arguments the guard's libc
		 * passes (strace): what is tested is the kernel's filter,
		 * not a libc or a sanitizer's interceptors, which may make
		 * calls of their own (the guard runs unfiltered under a
		 * sanitizer).  No noreturn call such as _exit(2) either:
		 * ASan precedes one with sigaltstack(2).
		 */
		code = 103; /* a forbidden call let through */
		switch (c) {
		case C_POLL:
			n = (int)syscall(SYS_poll, &pfd, 1, 1);
			code = n == 1 ? 0 : 102;
			break;
		case C_RECVMSG:
			n = (int)syscall(
			    SYS_recvmsg, GUARD_SOCK_FD, &mh, MSG_CMSG_CLOEXEC);
			code = n == (int)sizeof(m) ? 0 : 102;
			break;
		case C_RECVMSG_FLAGS:
			(void)syscall(SYS_recvmsg, GUARD_SOCK_FD, &mh,
			    MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
			break;
		case C_SEND:
			n = (int)syscall(SYS_sendto, GUARD_SOCK_FD, &m,
			    sizeof(m), MSG_DONTWAIT | MSG_NOSIGNAL, NULL, 0);
			code = n == (int)sizeof(m) ? 0 : 102;
			break;
		case C_FITHAW:
			n = (int)syscall(SYS_ioctl, 4, FITHAW, 0);
			code = n == -1 ? 0 : 102;
			break;
		case C_CLOSE:
			code = syscall(SYS_close, 4) == 0 ? 0 : 102;
			break;
		case C_CLOCK:
			n = (int)syscall(
			    SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
			code = n == 0 ? 0 : 102;
			break;
		case C_EXIT:
			code = 7;
			break;
		case C_FIFREEZE:
			(void)syscall(SYS_ioctl, 4, FIFREEZE, 0);
			break;
		case C_FIGETBSZ:
			(void)syscall(SYS_ioctl, 4, FIGETBSZ, &n);
			break;
		case C_OPEN:
			(void)syscall(SYS_openat, AT_FDCWD, "/", O_RDONLY);
			break;
		case C_WRITE:
			(void)syscall(SYS_write, p[1], &b, 1);
			break;
		case C_SEND_BLOCKING:
			(void)syscall(SYS_sendto, GUARD_SOCK_FD, &m, sizeof(m),
			    0, NULL, 0);
			break;
		case C_SEND_OTHER_FD:
			(void)syscall(SYS_sendto, sv[1], &m, sizeof(m),
			    MSG_DONTWAIT | MSG_NOSIGNAL, NULL, 0);
			break;
		case C_RECV_OTHER_FD:
			(void)syscall(
			    SYS_recvmsg, sv[1], &mh, MSG_CMSG_CLOEXEC);
			break;
		case C_SOCKET:
			(void)syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
			break;
		case C_MMAP:
			(void)syscall(SYS_mmap, NULL, 4096, PROT_READ,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			break;
		case C_KILL:
			(void)syscall(SYS_kill, getppid(), 0);
			break;
		}
		(void)syscall(SYS_exit_group, code);
		abort(); /* not reached */
	}
	close(sv[1]);
	close(p[0]);
	close(p[1]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	close(sv[0]);
	return st;
}

static void
assert_exits(int st, int code)
{
	if (!WIFEXITED(st) || WEXITSTATUS(st) != code)
		fail_msg("wait status %#x, want exit %d", st, code);
}

/* c: enum call, to name the culprit */
static void
assert_sigsys(int st, int c)
{
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSYS || WCOREDUMP(st))
		fail_msg(
		    "call %d: wait status %#x, want SIGSYS (no core)", c, st);
}

static void
allowed_in(bool like_unit)
{
	assert_exits(run(C_POLL, like_unit), 0);
	assert_exits(run(C_RECVMSG, like_unit), 0);
	assert_exits(run(C_SEND, like_unit), 0);
	assert_exits(run(C_FITHAW, like_unit), 0);
	assert_exits(run(C_CLOSE, like_unit), 0);
	assert_exits(run(C_CLOCK, like_unit), 0);
	assert_exits(run(C_EXIT, like_unit), 7);
}

static void
forbidden_in(bool like_unit)
{
	static const enum call calls[] = {C_RECVMSG_FLAGS, C_FIFREEZE,
	    C_FIGETBSZ, C_OPEN, C_WRITE, C_SEND_BLOCKING, C_SEND_OTHER_FD,
	    C_RECV_OTHER_FD, C_SOCKET, C_MMAP, C_KILL};
	size_t i;

	for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
		assert_sigsys(run(calls[i], like_unit), (int)calls[i]);
}

static void
allowed(void **state)
{
	allowed_in(false);
}

static void
forbidden(void **state)
{
	forbidden_in(false);
}

/* under the unit's filter, which refuses seccomp(2): the same */
static void
allowed_under_unit(void **state)
{
	allowed_in(true);
}

static void
forbidden_under_unit(void **state)
{
	forbidden_in(true);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(allowed),
	    cmocka_unit_test(forbidden),
	    cmocka_unit_test(allowed_under_unit),
	    cmocka_unit_test(forbidden_under_unit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
