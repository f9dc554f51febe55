/*
 * peercred_linux.c: peer credentials on Linux (peercred.h).
 *
 * SO_PEERCRED gives uid, gid and pid as the kernel recorded them at
 * connect() (for socketpair(), at its creation); SO_PEERGROUPS (Linux
 * 4.13) the supplementary groups of that same moment.  SO_PEERGROUPS
 * answers ERANGE, copying nothing, when the buffer is too small: the
 * list is then reported cut and empty rather than allocating on the
 * event loop for a peer in more than PEERCRED_NGROUPS groups.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <string.h>

#include "peercred.h"

int
peercred_get(int fd, struct peercred *pc)
{
	struct ucred cred;
	socklen_t len = sizeof(cred), glen = sizeof(pc->groups);

	memset(pc, 0, sizeof(*pc));
	pc->uid = (uid_t)-1;
	pc->gid = (gid_t)-1;
	pc->pid = -1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
		return -errno;
	if (len != sizeof(cred))
		return -EINVAL;
	/* a socket with no peer credentials (not AF_UNIX, or never
	 * connected) answers the "nobody" triple rather than failing */
	if (cred.pid == 0 && cred.uid == (uid_t)-1)
		return -EINVAL;
	pc->uid = cred.uid;
	pc->gid = cred.gid;
	pc->pid = cred.pid;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, pc->groups, &glen) ==
	    -1) {
		/* ERANGE: more than we hold; else a kernel before 4.13 */
		pc->groups_cut = true;
		glen = 0;
	}
	pc->ngroups = glen / sizeof(gid_t);
	return 0;
}
