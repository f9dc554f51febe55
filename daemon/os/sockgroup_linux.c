/*
 * sockgroup_linux.c: sockets born in their group on Linux (sockgroup.h).
 *
 * A new file's group is its creator's filesystem gid (unless the
 * directory is set-group-ID), so bind() runs with the filesystem gid
 * switched to the group (CAP_SETGID): the file is born in it.
 * setfsgid() changes the calling thread alone (glibc's setegid() would
 * signal every thread, a freezer thread stuck in FIFREEZE included, and
 * wait for it), and nothing but bind() runs in between.
 */
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>

#include <errno.h>
#include <unistd.h>

#include "sockgroup.h"

/* Switch this thread's filesystem gid; the old one, or -1 if refused. */
static gid_t
fsgid_switch(gid_t gid)
{
	gid_t old = (gid_t)setfsgid(gid);

	/* setfsgid() reports nothing: ask (an invalid gid changes nothing) */
	if ((gid_t)setfsgid((gid_t)-1) == gid)
		return old;
	return (gid_t)-1;
}

int
sock_bind_group(int fd, const struct sockaddr_un *sun, gid_t gid, int *gerr)
{
	struct stat st;
	gid_t old = (gid_t)-1;
	int rc, e;

	*gerr = 0;
	if (gid != (gid_t)-1)
		old = fsgid_switch(gid);
	rc = bind(fd, (const struct sockaddr *)sun, sizeof(*sun));
	e = errno;
	/* never go on with the wrong gid: every later file would get it */
	if (old != (gid_t)-1 && fsgid_switch(old) == (gid_t)-1) {
		errno = EPERM;
		return -1;
	}
	if (rc == -1) {
		errno = e;
		return -1;
	}
	if (gid == (gid_t)-1)
		return 0;
	/* refused (no CAP_SETGID), or a set-group-ID directory: chown() */
	if (stat(sun->sun_path, &st) == -1)
		*gerr = errno;
	else if (st.st_gid != gid && chown(sun->sun_path, (uid_t)-1, gid) == -1)
		*gerr = errno;
	return 0;
}
