/*
 * sockgroup_freebsd.c: sockets given their group on FreeBSD
 * (sockgroup.h).
 *
 * A new file takes its directory's group whatever its creator's gid, so
 * there is no switching: bind(), then chown() when the group differs.
 * The daemon runs as root there, with no capability bounding set.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <unistd.h>

#include "sockgroup.h"

int
sock_bind_group(int fd, const struct sockaddr_un *sun, gid_t gid, int *gerr)
{
	struct stat st;

	*gerr = 0;
	if (bind(fd, (const struct sockaddr *)sun, sizeof(*sun)) == -1)
		return -1;
	if (gid == (gid_t)-1)
		return 0;
	if (stat(sun->sun_path, &st) == -1)
		*gerr = errno;
	else if (st.st_gid != gid && chown(sun->sun_path, (uid_t)-1, gid) == -1)
		*gerr = errno;
	return 0;
}
