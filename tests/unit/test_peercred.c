/*
 * test_peercred.c: unit tests for daemon/os/peercred_linux.c, Linux's
 * side of the peer-credentials seam (daemon/os/peercred.h).
 *
 * Over a socketpair, the peer is ourselves as we were at its creation;
 * over a real connect(), it is the connecting process as it was at
 * connect(): as root, a child drops to another uid, gid and group list
 * before it connects, and the listener must see exactly those (which a
 * lookup by uid in the group database would not give), with the
 * child's pid.  A socket that is not AF_UNIX, or not connected, or not
 * a socket, is refused, never answered with a made-up peer.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "os/peercred.h"

static void
test_socketpair(void **state)
{
	struct peercred pc;
	gid_t groups[PEERCRED_NGROUPS];
	int sv[2], n, i;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(peercred_get(sv[0], &pc), 0);
	assert_int_equal(pc.uid, geteuid());
	assert_int_equal(pc.gid, getegid());
	assert_int_equal(pc.pid, getpid());
	assert_false(pc.groups_cut);
	n = getgroups(PEERCRED_NGROUPS, groups);
	assert_true(n >= 0);
	assert_int_equal(pc.ngroups, (size_t)n);
	for (i = 0; i < n; i++)
		assert_true(peercred_in_group(&pc, groups[i]));
	assert_true(peercred_in_group(&pc, getegid()));
	assert_false(peercred_in_group(&pc, (gid_t)-1));
	close(sv[0]);
	close(sv[1]);
}

static void
test_not_a_peer(void **state)
{
	struct peercred pc;
	int fd, pfd[2];

	/* not connected */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_true(peercred_get(fd, &pc) < 0);
	assert_int_equal(pc.uid, (uid_t)-1);
	assert_int_equal(pc.pid, -1);
	assert_int_equal(pc.ngroups, 0);
	close(fd);
	/* not AF_UNIX */
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	assert_true(peercred_get(fd, &pc) < 0);
	assert_int_equal(pc.uid, (uid_t)-1);
	close(fd);
	/* not a socket */
	assert_int_equal(pipe(pfd), 0);
	assert_int_equal(peercred_get(pfd[0], &pc), -ENOTSOCK);
	close(pfd[0]);
	close(pfd[1]);
	assert_int_equal(peercred_get(-1, &pc), -EBADF);
}

/* As root: a child of another uid, gid and groups connects. */
static void
test_connect_other_user(void **state)
{
	const uid_t uid = 65534;
	const gid_t gid = 65533, extra[2] = {4242, 4343};
	struct sockaddr_un sa;
	struct peercred pc;
	char dir[] = "/tmp/test_peercred.XXXXXX";
	int lfd, cfd, st;
	pid_t pid;
	char c;

	if (geteuid() != 0)
		skip();
	assert_non_null(mkdtemp(dir));
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/s", dir);
	assert_int_equal(chmod(dir, 0755), 0);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(chmod(sa.sun_path, 0777), 0);
	assert_int_equal(listen(lfd, 1), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd;

		if (setgroups(2, extra) == -1 || setgid(gid) == -1 ||
		    setuid(uid) == -1)
			_exit(2);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd == -1 ||
		    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1)
			_exit(3);
		/* stay until the parent has asked */
		(void)read(fd, &c, 1);
		_exit(0);
	}
	cfd = accept(lfd, NULL, NULL);
	assert_true(cfd >= 0);
	assert_int_equal(peercred_get(cfd, &pc), 0);
	assert_int_equal(pc.uid, uid);
	assert_int_equal(pc.gid, gid);
	assert_int_equal(pc.pid, pid);
	assert_int_equal(pc.ngroups, 2);
	assert_true(peercred_in_group(&pc, 4242));
	assert_true(peercred_in_group(&pc, 4343));
	assert_true(peercred_in_group(&pc, gid));
	assert_false(peercred_in_group(&pc, 0));
	assert_int_equal(write(cfd, "x", 1), 1);
	close(cfd);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(lfd);
	unlink(sa.sun_path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_socketpair),
	    cmocka_unit_test(test_not_a_peer),
	    cmocka_unit_test(test_connect_other_user),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
