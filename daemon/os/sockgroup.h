/*
 * sockgroup.h: bind a Unix socket whose file belongs to a given group
 * (app_socket_group, ctl_group): the platform seam.
 *
 * The systemd unit (etc/hv_vss_daemon.service) keeps CAP_SETGID, for
 * hooks, but not CAP_CHOWN.  fchown() on the socket's descriptor would
 * not do anywhere: it changes the socket's own inode, not the file
 * bind() makes.
 *
 *   sockgroup_linux.c    a new file's group is its creator's filesystem
 *                        gid: bind() under setfsgid(group)
 *   sockgroup_freebsd.c  a new file takes its directory's group: bind(),
 *                        then chown() (root may, there)
 *
 * Both check the group the file got and chown() it when it differs (a
 * set-group-ID run_dir on Linux).
 */
#ifndef HVVSS_SOCKGROUP_H
#define HVVSS_SOCKGROUP_H

#include <sys/types.h>
#include <sys/un.h>

/*
 * bind() fd to sun; with gid other than (gid_t)-1, the socket's file
 * ends up in group gid (mode untouched).  -1 with errno when bind()
 * fails (or, on Linux, the filesystem gid could not be switched back:
 * the caller must not go on); otherwise 0, with *gerr 0 or the errno of
 * what kept the file from its group (the socket is kept as it is).
 */
int
sock_bind_group(int fd, const struct sockaddr_un *sun, gid_t gid, int *gerr);

#endif
