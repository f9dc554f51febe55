/*
 * owner_linux.c: the record's owner lock on Linux (owner.h): field 22
 * of /proc/self/stat, and open file description locks.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "owner.h"

int
owner_start(uint64_t *out)
{
	char buf[1024], *p, *tok, *save;
	ssize_t n;
	int fd, field;

	if ((fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC)) == -1)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	/* "pid (comm) state ppid ...": comm may hold anything */
	if ((p = strrchr(buf, ')')) == NULL)
		return -EIO;
	for (field = 3, tok = strtok_r(p + 1, " ", &save); tok != NULL;
	     field++, tok = strtok_r(NULL, " ", &save))
		if (field == 22) {
			*out = strtoull(tok, NULL, 10);
			return 0;
		}
	return -EIO;
}

/*
 * F_OFD_SETLK takes a read lock (any number of owners may hold theirs);
 * F_OFD_GETLK asks whether a write lock could be had.  PID_MAX is 2^22:
 * the offset fits.
 */
static int
lock(int dirfd, int cmd, pid_t pid, uint64_t pstart)
{
	struct flock l;

	memset(&l, 0, sizeof(l));
	l.l_type = cmd == F_OFD_SETLK ? F_RDLCK : F_WRLCK;
	l.l_whence = SEEK_SET;
	l.l_start = (off_t)pid << 40 | (off_t)(pstart & 0xffffffffffULL);
	l.l_len = 1;
	if (fcntl(dirfd, cmd, &l) == -1)
		return -errno;
	return cmd == F_OFD_GETLK && l.l_type != F_UNLCK;
}

int
owner_hold(int dirfd, pid_t pid, uint64_t pstart)
{
	return lock(dirfd, F_OFD_SETLK, pid, pstart);
}

int
owner_alive(int dirfd, pid_t pid, uint64_t pstart)
{
	return lock(dirfd, F_OFD_GETLK, pid, pstart);
}
