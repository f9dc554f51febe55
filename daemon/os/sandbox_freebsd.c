/*
 * sandbox_freebsd.c: the engine's confinement on FreeBSD (sandbox.h),
 * with Capsicum instead of a seccomp list.
 *
 * The engine: the same user, chroot, groups and ids as on Linux
 * (sandbox_linux.c, steps 1-4), then cap_enter(): capability mode, in
 * which no call reaches a global namespace (no open of a path, no
 * connect or bind to an address, no kill of another process, no
 * sysctl writes): the engine can use the descriptors it holds, its
 * sockets and its parent's, nothing more.  FreeBSD has no capabilities
 * to drop and no no_new_privs: setuid to a user that is not root leaves
 * nothing to regain (checked, as on Linux), and capability mode forbids
 * execve.  A forbidden call fails with ECAPMODE, unless the process
 * asked to be trapped: PROC_TRAPCAP_CTL makes it a SIGTRAP, which kills
 * the engine (nothing handles it), so that a subverted engine dies as it
 * does on Linux (SIGSYS there) and the parent restarts it.
 *
 * The parent: no filter.  It opens mount points, runs hooks that are
 * arbitrary programs, and starts the guard; capability mode would
 * forbid all three, and FreeBSD has no per-call allow-list to put in its
 * place.  sandbox_parent() says so and succeeds: the parent stays what
 * it is today, root, and the split still takes every parser out of it.
 */
#include <sys/types.h>
#include <sys/capsicum.h>
#include <sys/procctl.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "sandbox.h"
#include "util.h"

static const char *const engine_list[] = {
    "capability mode (cap_enter): no global namespace", NULL};
static const char *const parent_list[] = {
    "none: no per-call filter on FreeBSD", NULL};

const char *const *
sandbox_engine_calls(void)
{
	return engine_list;
}

const char *const *
sandbox_parent_calls(void)
{
	return parent_list;
}

int
sandbox_parent(char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	return 0;
}

bool
sandbox_may_chroot(void)
{
	return geteuid() == 0;
}

int
sandbox_engine_as(
    uid_t uid, gid_t gid, const char *root, char *err, size_t errlen)
{
	uid_t r, e, s;
	int trap = PROC_TRAPCAP_CTL_ENABLE, sig = SIGKILL;

	/* dies with its parent; changing ids does not clear it here */
	if (procctl(P_PID, 0, PROC_PDEATHSIG_CTL, &sig) == -1) {
		errfmt(err, errlen, errno, "procctl PROC_PDEATHSIG_CTL");
		return -1;
	}
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
	/* a forbidden call kills (SIGTRAP) rather than fail */
	if (procctl(P_PID, 0, PROC_TRAPCAP_CTL, &trap) == -1) {
		errfmt(err, errlen, errno, "PROC_TRAPCAP_CTL");
		return -1;
	}
	if (cap_enter() == -1) {
		errfmt(err, errlen, errno, "cap_enter");
		return -1;
	}
	return 0;
}

#ifdef HVVSS_TEST_TRIGGERS
void
sandbox_test_forbidden(void)
{
	/* a path: no global namespace in capability mode */
	(void)open("/", O_RDONLY);
}
#endif
