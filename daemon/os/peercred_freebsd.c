/*
 * peercred_freebsd.c: peer credentials on FreeBSD (peercred.h).
 *
 * LOCAL_PEERCRED (level SOL_LOCAL, <sys/un.h>) fills a struct xucred
 * (<sys/ucred.h>) as the kernel recorded it at connect() (socketpair():
 * at creation): cr_uid, cr_groups[0] the effective gid (cr_gid is that
 * element's other name), cr_groups[1 .. cr_ngroups) the supplementary
 * groups, at most XU_NGROUPS (16) in all: a peer in more groups is cut
 * there by the kernel, and we say so.  cr_pid shares a union with a
 * pointer that FreeBSD before 13 left zero: 0 means "cannot say".
 * cr_version must be XUCRED_VERSION, or the layout is not ours.
 * getpeereid(3) is libc's wrapper of the same option, uid and gid only.
 */
#include <sys/types.h>
#include <sys/param.h>
#include <sys/socket.h>
#include <sys/ucred.h>
#include <sys/un.h>

#include <errno.h>
#include <string.h>

#include "peercred.h"

int
peercred_get(int fd, struct peercred *pc)
{
	struct xucred xuc;
	socklen_t len = sizeof(xuc);
	int i;

	memset(pc, 0, sizeof(*pc));
	pc->uid = (uid_t)-1;
	pc->gid = (gid_t)-1;
	pc->pid = -1;
	memset(&xuc, 0, sizeof(xuc));
	if (getsockopt(fd, SOL_LOCAL, LOCAL_PEERCRED, &xuc, &len) == -1)
		return -errno;
	if (len != sizeof(xuc) || xuc.cr_version != XUCRED_VERSION ||
	    xuc.cr_ngroups < 1 || xuc.cr_ngroups > XU_NGROUPS)
		return -EINVAL;
	pc->uid = xuc.cr_uid;
	pc->gid = xuc.cr_gid;
	pc->pid = xuc.cr_pid > 0 ? xuc.cr_pid : -1;
	for (i = 1; i < xuc.cr_ngroups; i++)
		pc->groups[pc->ngroups++] = xuc.cr_groups[i];
	/* a full xucred may be a cut one: the kernel does not say */
	pc->groups_cut = xuc.cr_ngroups == XU_NGROUPS;
	return 0;
}
