/*
 * owner_freebsd.c: the record's owner lock on FreeBSD (owner.h):
 * kern.proc.pid's start time, and POSIX record locks (see owner.h for
 * what they cost).
 */
#include <sys/types.h>
#include <sys/param.h>
#include <sys/sysctl.h>
#include <sys/user.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "owner.h"

int
owner_start(uint64_t *out)
{
	int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PID, (int)getpid()};
	struct kinfo_proc kp;
	size_t len = sizeof(kp);

	if (sysctl(mib, 4, &kp, &len, NULL, 0) == -1)
		return -errno;
	if (len != sizeof(kp))
		return -EIO;
	*out = (uint64_t)kp.ki_start.tv_sec * 1000000 +
	    (uint64_t)kp.ki_start.tv_usec;
	return 0;
}

static int
lock(int dirfd, int cmd, pid_t pid, uint64_t pstart)
{
	struct flock l;

	memset(&l, 0, sizeof(l));
	l.l_type = cmd == F_SETLK ? F_RDLCK : F_WRLCK;
	l.l_whence = SEEK_SET;
	l.l_start = (off_t)pid << 40 | (off_t)(pstart & 0xffffffffffULL);
	l.l_len = 1;
	if (fcntl(dirfd, cmd, &l) == -1)
		return -errno;
	return cmd == F_GETLK && l.l_type != F_UNLCK;
}

int
owner_hold(int dirfd, pid_t pid, uint64_t pstart)
{
	return lock(dirfd, F_SETLK, pid, pstart);
}

int
owner_alive(int dirfd, pid_t pid, uint64_t pstart)
{
	return lock(dirfd, F_GETLK, pid, pstart);
}
