/*
 * sockgroup.h: bind a Unix socket whose file belongs to a given group.
 */
#ifndef SOCKGROUP_H
#define SOCKGROUP_H

#include <sys/types.h>
#include <sys/un.h>

/*
 * bind() fd to sun; with gid other than (gid_t)-1, the socket's file
 * ends up in group gid (mode untouched).  -1 with errno when bind()
 * fails; a group that cannot be given is logged, and the socket kept.
 */
int sock_bind_group(int fd, const struct sockaddr_un *sun, gid_t gid);

#endif
