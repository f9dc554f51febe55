/*
 * sandbox.h: confining the processes of the privilege split (issue 15),
 * the seam under the parent's start of its engine.
 *
 * The engine (it parses every byte from applications, hv_vss_ctl and
 * the host) runs as its own system user (hvvss), without capabilities,
 * unable to gain privileges, not dumpable, and under a small seccomp
 * allow-list: it can serve the sockets it was handed and talk to its
 * parent, nothing more.  That list names no call that opens, creates,
 * binds, connects or executes a path, nor socket(2): the filesystem is
 * out of its reach without a chroot.  It is chrooted to an empty
 * directory as well where the parent may chroot (sandbox_may_chroot());
 * the systemd unit does not grant that, for reasons it gives.  The
 * parent (root: it freezes, thaws and starts hooks) runs under a larger
 * allow-list that its hooks inherit, so it is as large as an ordinary
 * program needs; what no part of hvvss ever does (mount, ptrace, module
 * and clock calls, namespaces ...) is out of both.  The guard has its
 * own, smallest list (guard/filter.c).  A call outside a list kills the
 * process that made it with SIGSYS (SCMP_ACT_KILL_PROCESS).
 *
 *   Linux (sandbox_linux.c): libseccomp; chroot, setresuid and capset.
 *   FreeBSD (sandbox_freebsd.c): chroot, setresuid, then Capsicum's
 *   capability mode for the engine, its violations trapped (SIGTRAP
 *   kills it); the parent has no filter there (it says why).
 */
#ifndef HVVSS_SANDBOX_H
#define HVVSS_SANDBOX_H

#include <sys/types.h>
#include <stdbool.h>
#include <stddef.h>

#define SANDBOX_USER "hvvss" /* the engine's system user */

/*
 * Confine the calling process as the engine: user's uid and gid (not
 * root), chroot to root (an existing empty directory owned by root and
 * writable by no one else; no chroot if root is NULL), no capabilities
 * in any set (the bounding
 * set too where CAP_SETPCAP allows), no_new_privs, not dumpable, then
 * the engine's seccomp filter.  Call it after every file the engine
 * needs is open.  -1 and err on failure: the caller must exit then, as
 * the process may be half confined.
 */
int
sandbox_engine(const char *user, const char *root, char *err, size_t errlen);

/*
 * The same in two steps, for a parent that forks its engine from a
 * threaded process: the user is looked up before the fork (NSS is no
 * place for a child of a threaded process), the confinement done in the
 * child.  sandbox_user(): -1 and err for an unknown user or root's ids.
 */
int sandbox_user(
    const char *user, uid_t *uid, gid_t *gid, char *err, size_t errlen);
int sandbox_engine_as(
    uid_t uid, gid_t gid, const char *root, char *err, size_t errlen);

/* root is an empty directory, root's, writable by no one else: 0, or -1
 * and err (sandbox_common.c; sandbox_engine_as() checks it first). */
int sandbox_check_root(const char *root, char *err, size_t errlen);

/*
 * Whether this process may chroot(2), and so give its engine an empty
 * root.  Linux: CAP_SYS_CHROOT in its effective set (and chroot(2) left
 * by any filter above it: the caller learns that from a failure);
 * FreeBSD: root.
 */
bool sandbox_may_chroot(void);

/* The parent's own filter (no_new_privs first).  -1 and err. */
int sandbox_parent(char *err, size_t errlen);

/*
 * The system calls each list allows, by name, NULL-terminated (calls
 * with argument conditions are marked in the name: "socket(AF_UNIX)").
 */
const char *const *sandbox_engine_calls(void);
const char *const *sandbox_parent_calls(void);

#ifdef HVVSS_TEST_TRIGGERS
/* Attempt a call outside both lists (ptrace): the caller dies of it. */
void sandbox_test_forbidden(void);
#endif

#endif /* HVVSS_SANDBOX_H */
