/*
 * sandbox_linux.c: the engine's confinement and the parent's filter on
 * Linux (sandbox.h).
 *
 * Order in sandbox_engine(), and why:
 *  1. the user is looked up first, while /etc/passwd can be read;
 *  2. if given one, the new root is checked (a directory owned by root,
 *     writable by no one else, empty: nothing to read, nowhere to
 *     write, no device node, no set-user-ID file), then chroot() and
 *     chdir("/");
 *  3. the bounding set is emptied while we still may (CAP_SETPCAP; the
 *     systemd unit does not grant it, and then the set stays as the
 *     unit left it, which no longer matters: see 6);
 *  4. groups, gid, uid: setresuid() to a uid other than 0 clears the
 *     permitted and effective sets (no SECBIT_KEEP_CAPS), and a
 *     setresuid(0) afterwards is checked to fail;
 *  5. the inheritable and ambient sets are cleared explicitly, and all
 *     five sets checked to be empty but the bounding one;
 *  5b. the parent-death signal (SIGKILL), after the ids changed, which
 *     clear it;
 *  6. no_new_privs (no execve can give anything back, whatever the
 *     bounding set; and the filter can be loaded without privilege),
 *     not dumpable (no core in a directory of someone else's, and no
 *     ptrace by another process of the same user);
 *  7. the seccomp filter, last, so that steps 1-6 need no place in it.
 *
 * The lists.  Engine: what an event loop (libevent: epoll or poll,
 * eventfd, its internal pipe, a socketpair for signals, FIONREAD on
 * sockets) serving Unix sockets needs, and malloc and stdio on the
 * descriptors it holds.  No open, no exec, no fork, no kill of anyone
 * else, no bind, connect or socket (socketpair only), no ioctl but
 * FIONREAD and TCGETS: a subverted engine can talk to its sockets and
 * to its parent, which re-checks everything (privproto.c), and reach no
 * file, socket or program by its name, chrooted or not.  Parent: its
 * hooks inherit its filter (a filter survives fork and execve), so it
 * allows what an ordinary program run as a hook needs (files,
 * processes, identities for runuser, SysV IPC, Unix sockets), plus what
 * the parent itself does (ioctl: FIFREEZE, FITHAW, LOOP_GET_STATUS64;
 * chroot where it may, setres[ug]id, capset, prctl and seccomp, to
 * confine an engine it restarts; mlockall and seccomp for
 * the guard it starts).  Out of both: mount and pivot_root, ptrace and
 * process_vm_*, module and kexec calls, bpf, perf_event_open, clock and
 * time setting, reboot and swap, unshare and setns, open_by_handle_at,
 * userfaultfd, io_uring, keyrings but keyctl (PAM's pam_keyinit in
 * runuser), personality, mknod, acct, quotactl, syslog(2).
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "sandbox.h"
#include "util.h"

/* A call allowed, if argument arg (>= 0) equals val (32 bits). */
struct call {
	const char *name;
	int arg;
	uint32_t val;
	const char *shown; /* its name in the lists, if not name */
};

/* A call libseccomp may not know by name yet: by its number. */
struct newcall {
	const char *name;
	int nr;
};

#define ANY -1

/* What both lists hold: an event loop on Unix sockets, and malloc. */
#define COMMON_CALLS \
	{"read", ANY, 0, NULL}, {"readv", ANY, 0, NULL}, \
	    {"write", ANY, 0, NULL}, {"writev", ANY, 0, NULL}, \
	    {"close", ANY, 0, NULL}, {"fstat", ANY, 0, NULL}, \
	    {"newfstatat", ANY, 0, NULL}, {"fcntl", ANY, 0, NULL}, \
	    {"mmap", ANY, 0, NULL}, {"munmap", ANY, 0, NULL}, \
	    {"mremap", ANY, 0, NULL}, {"mprotect", ANY, 0, NULL}, \
	    {"madvise", ANY, 0, NULL}, {"brk", ANY, 0, NULL}, \
	    {"futex", ANY, 0, NULL}, {"rt_sigaction", ANY, 0, NULL}, \
	    {"rt_sigprocmask", ANY, 0, NULL}, {"rt_sigreturn", ANY, 0, NULL}, \
	    {"epoll_create1", ANY, 0, NULL}, {"epoll_ctl", ANY, 0, NULL}, \
	    {"epoll_wait", ANY, 0, NULL}, {"epoll_pwait", ANY, 0, NULL}, \
	    {"poll", ANY, 0, NULL}, {"ppoll", ANY, 0, NULL}, \
	    {"eventfd2", ANY, 0, NULL}, \
	    {"socketpair", 0, AF_UNIX, "socketpair(AF_UNIX)"}, \
	    {"accept", ANY, 0, NULL}, {"accept4", ANY, 0, NULL}, \
	    {"recvmsg", ANY, 0, NULL}, {"sendmsg", ANY, 0, NULL}, \
	    {"recvfrom", ANY, 0, NULL}, {"sendto", ANY, 0, NULL}, \
	    {"getsockopt", ANY, 0, NULL}, {"setsockopt", ANY, 0, NULL}, \
	    {"getsockname", ANY, 0, NULL}, {"getpeername", ANY, 0, NULL}, \
	    {"shutdown", ANY, 0, NULL}, {"clock_gettime", ANY, 0, NULL}, \
	    {"clock_getres", ANY, 0, NULL}, {"gettimeofday", ANY, 0, NULL}, \
	    {"clock_nanosleep", ANY, 0, NULL}, {"nanosleep", ANY, 0, NULL}, \
	    {"getpid", ANY, 0, NULL}, {"gettid", ANY, 0, NULL}, \
	    {"getuid", ANY, 0, NULL}, {"geteuid", ANY, 0, NULL}, \
	    {"getgid", ANY, 0, NULL}, {"getegid", ANY, 0, NULL}, \
	    {"getrandom", ANY, 0, NULL}, {"restart_syscall", ANY, 0, NULL}, \
	    {"exit", ANY, 0, NULL}, \
	{ \
		"exit_group", ANY, 0, NULL \
	}

static const struct call engine_calls[] = {
    COMMON_CALLS,
    /* libevent's internal notification pipe (event_base_new) */
    {"pipe2", ANY, 0, NULL},
    /* libevent's evbuffer_read(); isatty() of stdio */
    {"ioctl", 1, FIONREAD, "ioctl(FIONREAD)"},
    {"ioctl", 1, TCGETS, "ioctl(TCGETS)"},
};

static const struct call parent_calls[] = {
    COMMON_CALLS,
    /* the sockets a restarted engine binds before it confines itself
     * (it inherits this filter), and its hooks' */
    {"socket", 0, AF_UNIX, "socket(AF_UNIX)"},
    /* FIFREEZE, FITHAW, LOOP_GET_STATUS64, and whatever a hook asks */
    {"ioctl", ANY, 0, NULL},
    /* files */
    {"open", ANY, 0, NULL},
    {"openat", ANY, 0, NULL},
    {"openat2", ANY, 0, NULL},
    {"creat", ANY, 0, NULL},
    {"stat", ANY, 0, NULL},
    {"lstat", ANY, 0, NULL},
    {"statx", ANY, 0, NULL},
    {"statfs", ANY, 0, NULL},
    {"fstatfs", ANY, 0, NULL},
    {"access", ANY, 0, NULL},
    {"faccessat", ANY, 0, NULL},
    {"faccessat2", ANY, 0, NULL},
    {"readlink", ANY, 0, NULL},
    {"readlinkat", ANY, 0, NULL},
    {"getdents64", ANY, 0, NULL},
    {"getcwd", ANY, 0, NULL},
    {"chdir", ANY, 0, NULL},
    {"fchdir", ANY, 0, NULL},
    {"mkdir", ANY, 0, NULL},
    {"mkdirat", ANY, 0, NULL},
    {"rmdir", ANY, 0, NULL},
    {"unlink", ANY, 0, NULL},
    {"unlinkat", ANY, 0, NULL},
    {"rename", ANY, 0, NULL},
    {"renameat", ANY, 0, NULL},
    {"renameat2", ANY, 0, NULL},
    {"link", ANY, 0, NULL},
    {"linkat", ANY, 0, NULL},
    {"symlink", ANY, 0, NULL},
    {"symlinkat", ANY, 0, NULL},
    {"chmod", ANY, 0, NULL},
    {"fchmod", ANY, 0, NULL},
    {"fchmodat", ANY, 0, NULL},
    {"chown", ANY, 0, NULL},
    {"fchown", ANY, 0, NULL},
    {"lchown", ANY, 0, NULL},
    {"fchownat", ANY, 0, NULL},
    {"umask", ANY, 0, NULL},
    {"utimensat", ANY, 0, NULL},
    {"truncate", ANY, 0, NULL},
    {"ftruncate", ANY, 0, NULL},
    {"fallocate", ANY, 0, NULL},
    {"fadvise64", ANY, 0, NULL},
    {"readahead", ANY, 0, NULL},
    {"lseek", ANY, 0, NULL},
    {"pread64", ANY, 0, NULL},
    {"pwrite64", ANY, 0, NULL},
    {"preadv", ANY, 0, NULL},
    {"pwritev", ANY, 0, NULL},
    {"sendfile", ANY, 0, NULL},
    {"splice", ANY, 0, NULL},
    {"copy_file_range", ANY, 0, NULL},
    {"fsync", ANY, 0, NULL},
    {"fdatasync", ANY, 0, NULL},
    {"syncfs", ANY, 0, NULL},
    {"sync", ANY, 0, NULL},
    {"flock", ANY, 0, NULL},
    {"dup", ANY, 0, NULL},
    {"dup2", ANY, 0, NULL},
    {"dup3", ANY, 0, NULL},
    {"pipe", ANY, 0, NULL},
    {"pipe2", ANY, 0, NULL},
    {"getxattr", ANY, 0, NULL},
    {"lgetxattr", ANY, 0, NULL},
    {"fgetxattr", ANY, 0, NULL},
    {"listxattr", ANY, 0, NULL},
    {"llistxattr", ANY, 0, NULL},
    {"flistxattr", ANY, 0, NULL},
    {"inotify_init1", ANY, 0, NULL},
    {"inotify_add_watch", ANY, 0, NULL},
    {"inotify_rm_watch", ANY, 0, NULL},
    {"close_range", ANY, 0, NULL},
    {"memfd_create", ANY, 0, NULL},
    /* processes: hooks, the guard, a restarted engine */
    {"clone", ANY, 0, NULL},
    {"clone3", ANY, 0, NULL},
    {"fork", ANY, 0, NULL},
    {"vfork", ANY, 0, NULL},
    {"execve", ANY, 0, NULL},
    {"execveat", ANY, 0, NULL},
    {"wait4", ANY, 0, NULL},
    {"waitid", ANY, 0, NULL},
    {"kill", ANY, 0, NULL},
    {"tgkill", ANY, 0, NULL},
    {"tkill", ANY, 0, NULL},
    {"pidfd_open", ANY, 0, NULL},
    {"pidfd_send_signal", ANY, 0, NULL},
    {"setsid", ANY, 0, NULL},
    {"setpgid", ANY, 0, NULL},
    {"getpgid", ANY, 0, NULL},
    {"getpgrp", ANY, 0, NULL},
    {"getsid", ANY, 0, NULL},
    {"getppid", ANY, 0, NULL},
    {"prctl", ANY, 0, NULL},
    {"arch_prctl", ANY, 0, NULL},
    {"set_tid_address", ANY, 0, NULL},
    {"set_robust_list", ANY, 0, NULL},
    {"get_robust_list", ANY, 0, NULL},
    {"rseq", ANY, 0, NULL},
    {"sched_yield", ANY, 0, NULL},
    {"sched_getaffinity", ANY, 0, NULL},
    {"getrlimit", ANY, 0, NULL},
    {"prlimit64", ANY, 0, NULL},
    {"getrusage", ANY, 0, NULL},
    {"getpriority", ANY, 0, NULL},
    {"setpriority", ANY, 0, NULL},
    {"times", ANY, 0, NULL},
    {"sysinfo", ANY, 0, NULL},
    {"uname", ANY, 0, NULL},
    {"getcpu", ANY, 0, NULL},
    {"alarm", ANY, 0, NULL},
    {"setitimer", ANY, 0, NULL},
    {"getitimer", ANY, 0, NULL},
    {"timerfd_create", ANY, 0, NULL},
    {"timerfd_settime", ANY, 0, NULL},
    {"timerfd_gettime", ANY, 0, NULL},
    {"signalfd4", ANY, 0, NULL},
    {"sigaltstack", ANY, 0, NULL},
    {"rt_sigsuspend", ANY, 0, NULL},
    {"rt_sigtimedwait", ANY, 0, NULL},
    {"select", ANY, 0, NULL},
    {"pselect6", ANY, 0, NULL},
    {"connect", ANY, 0, NULL},
    {"bind", ANY, 0, NULL},
    {"listen", ANY, 0, NULL},
    /* identities: runuser in a hook, and the engine's confinement */
    {"setuid", ANY, 0, NULL},
    {"setgid", ANY, 0, NULL},
    {"setreuid", ANY, 0, NULL},
    {"setregid", ANY, 0, NULL},
    {"setresuid", ANY, 0, NULL},
    {"setresgid", ANY, 0, NULL},
    {"getresuid", ANY, 0, NULL},
    {"getresgid", ANY, 0, NULL},
    {"setgroups", ANY, 0, NULL},
    {"getgroups", ANY, 0, NULL},
    {"setfsuid", ANY, 0, NULL},
    {"setfsgid", ANY, 0, NULL},
    {"capget", ANY, 0, NULL},
    {"capset", ANY, 0, NULL},
    {"chroot", ANY, 0, NULL},
    {"seccomp", ANY, 0, NULL},
    {"keyctl", ANY, 0, NULL},
    /* the guard's memory */
    {"mlock", ANY, 0, NULL},
    {"mlockall", ANY, 0, NULL},
    {"munlockall", ANY, 0, NULL},
    {"mincore", ANY, 0, NULL},
    {"msync", ANY, 0, NULL},
    /* SysV IPC: a hook may need an application's semaphores */
    {"shmget", ANY, 0, NULL},
    {"shmat", ANY, 0, NULL},
    {"shmdt", ANY, 0, NULL},
    {"shmctl", ANY, 0, NULL},
    {"semget", ANY, 0, NULL},
    {"semop", ANY, 0, NULL},
    {"semtimedop", ANY, 0, NULL},
    {"semctl", ANY, 0, NULL},
};

/*
 * mountid.c's statmount(2) (Linux 6.8) is newer than Debian 12's
 * libseccomp: by number, the same on every architecture but alpha and
 * mips.  Allowed rather than refused: the freeze's check of each mount
 * is more exact with it.
 */
static const struct newcall parent_new[] = {
#if !defined(__alpha__) && !defined(__mips__)
    {"statmount", 457},
#endif
    {NULL, 0},
};

#define NCALLS(a) (sizeof(a) / sizeof((a)[0]))

/* The names, for the lists and the man page (built once). */
static const char *engine_names[NCALLS(engine_calls) + 1];
static const char *parent_names[NCALLS(parent_calls) + NCALLS(parent_new)];

static const char *const *
names(const struct call *c, size_t n, const char **out)
{
	size_t i, j = 0;

	if (out[0] != NULL)
		return out;
	for (i = 0; i < n; i++)
		out[j++] = c[i].shown != NULL ? c[i].shown : c[i].name;
	out[j] = NULL;
	return out;
}

const char *const *
sandbox_engine_calls(void)
{
	return names(engine_calls, NCALLS(engine_calls), engine_names);
}

const char *const *
sandbox_parent_calls(void)
{
	size_t i, n = NCALLS(parent_calls);

	if (parent_names[0] == NULL) {
		names(parent_calls, n, parent_names);
		for (i = 0; parent_new[i].name != NULL; i++)
			parent_names[n + i] = parent_new[i].name;
		parent_names[n + i] = NULL;
	}
	return parent_names;
}

/*
 * Load an allow-list: every other call kills the process.  Calls this
 * architecture does not have (open on arm64) are left out.  soft: a
 * socket of another family than AF_UNIX fails with EAFNOSUPPORT instead
 * (the parent's: its hooks inherit the filter, and PAM's runuser opens
 * an audit netlink socket, whose failure it takes in its stride, as it
 * does under the unit's RestrictAddressFamilies).
 */
static int
load(const struct call *c, size_t n, const struct newcall *nc, bool soft,
    const char *what, char *err, size_t errlen)
{
	scmp_filter_ctx ctx;
	size_t i;
	int nr, rc;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		errfmt(
		    err, errlen, errno, "%s filter: PR_SET_NO_NEW_PRIVS", what);
		return -1;
	}
	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL) {
		errfmt(err, errlen, ENOMEM, "%s filter: seccomp_init", what);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if ((nr = seccomp_syscall_resolve_name(c[i].name)) ==
		    __NR_SCMP_ERROR)
			continue;
		if (c[i].arg == ANY)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		else
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
			    SCMP_CMP32(
			        (unsigned int)c[i].arg, SCMP_CMP_EQ, c[i].val));
		if (rc < 0) {
			errfmt(err, errlen, -rc, "%s filter: %s", what,
			    c[i].shown != NULL ? c[i].shown : c[i].name);
			seccomp_release(ctx);
			return -1;
		}
	}
	if (soft &&
	    ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT),
	          SCMP_SYS(socket), 1,
	          SCMP_CMP32(0, SCMP_CMP_NE, (unsigned int)AF_UNIX))) < 0 ||
	        (rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT),
	             SCMP_SYS(socketpair), 1,
	             SCMP_CMP32(0, SCMP_CMP_NE, (unsigned int)AF_UNIX))) < 0)) {
		errfmt(err, errlen, -rc, "%s filter: socket", what);
		seccomp_release(ctx);
		return -1;
	}
	for (; nc != NULL && nc->name != NULL; nc++) {
		if ((nr = seccomp_syscall_resolve_name(nc->name)) ==
		    __NR_SCMP_ERROR)
			nr = nc->nr;
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0)) < 0) {
			errfmt(
			    err, errlen, -rc, "%s filter: %s", what, nc->name);
			seccomp_release(ctx);
			return -1;
		}
	}
	if ((rc = seccomp_load(ctx)) < 0) {
		errfmt(err, errlen, -rc, "%s filter: seccomp_load", what);
		seccomp_release(ctx);
		return -1;
	}
	seccomp_release(ctx);
	return 0;
}

bool
sandbox_may_chroot(void)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &h, data) == -1)
		return false;
	return (data[CAP_TO_INDEX(CAP_SYS_CHROOT)].effective &
	           CAP_TO_MASK(CAP_SYS_CHROOT)) != 0;
}

int
sandbox_parent(char *err, size_t errlen)
{
	return load(parent_calls, NCALLS(parent_calls), parent_new, true,
	    "parent", err, errlen);
}

/* Empty every capability set we can; -1 if one is left. */
static int
drop_caps(char *err, size_t errlen)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &h, data) == -1) {
		errfmt(err, errlen, errno, "capset");
		return -1;
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == -1 &&
	    errno != EINVAL) {
		errfmt(err, errlen, errno, "PR_CAP_AMBIENT_CLEAR_ALL");
		return -1;
	}
	memset(data, 0xff, sizeof(data));
	if (syscall(SYS_capget, &h, data) == -1) {
		errfmt(err, errlen, errno, "capget");
		return -1;
	}
	if ((data[0].permitted | data[1].permitted | data[0].effective |
	        data[1].effective | data[0].inheritable |
	        data[1].inheritable) != 0) {
		errfmt(err, errlen, 0, "capabilities left after capset");
		return -1;
	}
	return 0;
}

int
sandbox_engine_as(
    uid_t uid, gid_t gid, const char *root, char *err, size_t errlen)
{
	uid_t r, e, s;
	pid_t ppid = getppid();
	int cap;

	if (uid == 0 || gid == 0) {
		errfmt(err, errlen, 0, "engine uid %u gid %u: not root's",
		    (unsigned int)uid, (unsigned int)gid);
		return -1;
	}
	if (root != NULL && sandbox_check_root(root, err, errlen) == -1)
		return -1;
	if (root != NULL && (chroot(root) == -1 || chdir("/") == -1)) {
		errfmt(err, errlen, errno, "chroot %s", root);
		return -1;
	}
	/* needs CAP_SETPCAP; without it the set stays (see the top) */
	for (cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == -1 &&
		    errno != EPERM)
			break;
	if (setgroups(1, &gid) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1) {
		errfmt(err, errlen, errno, "engine uid %u gid %u",
		    (unsigned int)uid, (unsigned int)gid);
		return -1;
	}
	if (setresuid(0, 0, 0) != -1 || getresuid(&r, &e, &s) == -1 ||
	    r != uid || e != uid || s != uid) {
		errfmt(err, errlen, 0, "engine uid %u: could become root again",
		    (unsigned int)uid);
		return -1;
	}
	if (drop_caps(err, errlen) == -1)
		return -1;
	/*
	 * The engine dies with its parent, rather than serve on with no one
	 * to freeze.  Set here, after the ids changed: a change of ids
	 * clears it (commit_creds()); and checked, for a parent that died
	 * before.
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1) {
		errfmt(err, errlen, errno, "PR_SET_PDEATHSIG");
		return -1;
	}
	if (getppid() != ppid) {
		errfmt(err, errlen, 0, "the engine's parent (pid %d) is gone",
		    (int)ppid);
		return -1;
	}
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1) {
		errfmt(err, errlen, errno, "PR_SET_DUMPABLE");
		return -1;
	}
	return load(engine_calls, NCALLS(engine_calls), NULL, false, "engine",
	    err, errlen);
}

#ifdef HVVSS_TEST_TRIGGERS
void
sandbox_test_forbidden(void)
{
	/* in neither list: SIGSYS */
	(void)syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0);
}
#endif
