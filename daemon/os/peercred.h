/*
 * peercred.h: who is at the other end of a local stream socket: the
 * platform seam for peer credentials (issue 11, item 2).
 *
 * The application socket (apps.c) counts connections per uid; the
 * control socket (ctl.c) lets root or a member of ctl_group read status
 * and names the peer's pid in its log.  Both need the credentials the
 * kernel recorded when the peer connected, never a lookup in the group
 * database: NSS may go to a daemon or a directory stuck on a frozen
 * /var, and these run on the event loop, frozen window included.
 *
 * One interface, one file per platform, the caller includes nothing of
 * the platform's:
 *
 *   peercred_linux.c    SO_PEERCRED (uid, gid, pid) and SO_PEERGROUPS
 *                       (the supplementary groups, Linux 4.13)
 *   peercred_freebsd.c  LOCAL_PEERCRED (struct xucred: uid, groups with
 *                       the effective gid first, and cr_pid since
 *                       FreeBSD 13); getpeereid(3) is libc's wrapper of
 *                       the same option and gives uid and gid only
 *
 * apps.c and ctl.c go through this interface only: nothing above it
 * says which kernel it runs on.
 */
#ifndef HVVSS_PEERCRED_H
#define HVVSS_PEERCRED_H

#include <sys/types.h>
#include <stdbool.h>
#include <stddef.h>

/* More groups than this and the list is cut (ngroups_cut): FreeBSD's
 * xucred holds 16 at most whatever we ask (XU_NGROUPS) */
#define PEERCRED_NGROUPS 256

struct peercred {
	uid_t uid; /* effective uid at connect() (socketpair(): creation) */
	gid_t gid; /* effective gid, the same moment */
	pid_t pid; /* the connecting process, or -1 if the kernel cannot say
		    * (FreeBSD before 13) */
	size_t ngroups; /* supplementary groups in groups[] */
	bool groups_cut; /* the kernel had more than groups[] holds, or
			  * cannot list them: a group test that fails may
			  * be wrong, one that passes is right */
	gid_t groups[PEERCRED_NGROUPS];
};

/*
 * The peer of the connected local socket fd.  0, or -errno: -ENOTSOCK,
 * -ENOTCONN, -EINVAL (not a local socket), what getsockopt() says.  On
 * failure *pc holds uid and gid -1, pid -1, no groups.
 */
int peercred_get(int fd, struct peercred *pc);

/* Is gid the peer's effective gid or one of the groups listed? */
static inline bool
peercred_in_group(const struct peercred *pc, gid_t gid)
{
	size_t i;

	if (gid == (gid_t)-1)
		return false;
	if (pc->gid == gid)
		return true;
	for (i = 0; i < pc->ngroups; i++)
		if (pc->groups[i] == gid)
			return true;
	return false;
}

#endif /* HVVSS_PEERCRED_H */
