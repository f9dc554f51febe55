/*
 * sockgroup.c: bind a Unix socket whose file belongs to a given group
 * (app_socket_group, ctl_group), without CAP_CHOWN.
 *
 * The systemd unit (etc/hv_vss_daemon.service) keeps CAP_SETGID, for
 * hooks, but not CAP_CHOWN.  On Linux a new file's group is its
 * creator's filesystem gid (unless the directory is set-group-ID), so
 * bind() runs with the filesystem gid switched to the group: the file is
 * born in it.  setfsgid() changes the calling thread alone (glibc's
 * setegid() would signal every thread, a freezer thread stuck in
 * FIFREEZE included, and wait for it), and nothing but bind() runs in
 * between.  fchown() on the socket's descriptor would not do: it changes
 * the socket's own inode, not the file bind() makes.
 *
 * Elsewhere (FreeBSD) a new file takes its directory's group whatever
 * its creator's, as a set-group-ID run_dir does on Linux: what the file
 * got is checked, and chown() gives it the group then (root may there).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#ifdef __linux__
#include <sys/fsuid.h>
#endif

#include <errno.h>
#include <unistd.h>

#include "log.h"
#include "sockgroup.h"

/* Switch this thread's filesystem gid; the old one, or -1 if refused. */
static gid_t
fsgid_switch(gid_t gid)
{
#ifdef __linux__
	gid_t old = (gid_t)setfsgid(gid);

	/* setfsgid() reports nothing: ask (an invalid gid changes nothing) */
	if ((gid_t)setfsgid((gid_t)-1) == gid)
		return old;
#else
	(void)gid;
#endif
	return (gid_t)-1;
}

int
sock_bind_group(int fd, const struct sockaddr_un *sun, gid_t gid)
{
	struct stat st;
	gid_t old = (gid_t)-1;
	int rc, e;

	if (gid != (gid_t)-1)
		old = fsgid_switch(gid);
	rc = bind(fd, (const struct sockaddr *)sun, sizeof(*sun));
	e = errno;
	/* Never go on with the wrong group: every later file would get it. */
	if (old != (gid_t)-1 && fsgid_switch(old) == (gid_t)-1)
		fatalx("%s: cannot switch the filesystem gid back to %u",
		    sun->sun_path, (unsigned)old);
	if (rc == -1) {
		errno = e;
		return -1;
	}
	if (gid == (gid_t)-1)
		return 0;
	if (stat(sun->sun_path, &st) == -1) {
		log_warn("stat %s", sun->sun_path);
		return 0;
	}
	if (st.st_gid != gid && chown(sun->sun_path, (uid_t)-1, gid) == -1)
		log_warn("chown %s to group %u", sun->sun_path, (unsigned)gid);
	return 0;
}
