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

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
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

/* An empty directory owned by root and writable by no one else. */
static int
check_root(const char *root, char *err, size_t errlen)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd;

	if ((fd = open(root,
	         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		errfmt(err, errlen, errno, "engine root %s", root);
		return -1;
	}
	if (fstat(fd, &st) == -1 || st.st_uid != 0 ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		errfmt(err, errlen, 0,
		    "engine root %s: must be root's and writable by no one else",
		    root);
		close(fd);
		return -1;
	}
	if ((d = fdopendir(fd)) == NULL) {
		errfmt(err, errlen, errno, "engine root %s", root);
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0) {
			errfmt(err, errlen, 0, "engine root %s: not empty (%s)",
			    root, de->d_name);
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return 0;
}

int
sandbox_user(const char *user, uid_t *uid, gid_t *gid, char *err, size_t errlen)
{
	struct passwd *pw;

	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		errfmt(err, errlen, errno, "engine user %s: %s", user,
		    errno == 0 ? "no such user" : "getpwnam");
		return -1;
	}
	if (pw->pw_uid == 0 || pw->pw_gid == 0) {
		errfmt(err, errlen, 0,
		    "engine user %s: uid %u gid %u: not root's", user,
		    (unsigned int)pw->pw_uid, (unsigned int)pw->pw_gid);
		return -1;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

int
sandbox_engine(const char *user, const char *root, char *err, size_t errlen)
{
	uid_t uid;
	gid_t gid;

	if (sandbox_user(user, &uid, &gid, err, errlen) == -1)
		return -1;
	return sandbox_engine_as(uid, gid, root, err, errlen);
}

int
sandbox_engine_as(
    uid_t uid, gid_t gid, const char *root, char *err, size_t errlen)
{
	uid_t r, e, s;
	int trap = PROC_TRAPCAP_CTL_ENABLE;

	if (uid == 0 || gid == 0) {
		errfmt(err, errlen, 0, "engine uid %u gid %u: not root's",
		    (unsigned int)uid, (unsigned int)gid);
		return -1;
	}
	if (check_root(root, err, errlen) == -1)
		return -1;
	if (chroot(root) == -1 || chdir("/") == -1) {
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
