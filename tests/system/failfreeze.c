/*
 * failfreeze.so: fault injection for the system tests, by LD_PRELOAD.
 *
 * FIFREEZE on the mount point named in HVVSS_FAIL_FREEZE fails with EIO
 * (or the errno in HVVSS_FAIL_ERRNO); every other ioctl, and FIFREEZE on
 * every other filesystem, goes to the real one.  This gives a freeze that
 * fails part-way, after other filesystems were really frozen, so a test
 * can check that they are all really thawed before the host hears
 * E_FAIL.  FITHAW on the mount point named in HVVSS_FAIL_THAW fails
 * with EIO, the first HVVSS_FAIL_THAW_TIMES times in each process (every
 * time if unset): a thaw that fails, then works when tried again.
 * With HVVSS_FREEZE_DELAY_MS set, every FIFREEZE first sleeps
 * that long: a slow filesystem, so that a test can look at the daemon
 * while its freezer is busy.  Only the tests load it; the daemon has no
 * test hooks.
 *
 * With HVVSS_NO_STATMOUNT set, statmount(2) called through syscall()
 * fails with ENOSYS, as on Linux 6.1, and /tmp/statmount-hidden is
 * created to show that it was asked: the daemon then checks its freeze
 * targets the old way (statx() and mountinfo).
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __NR_statmount
#define __NR_statmount 457
#endif

int ioctl(int, unsigned long, ...);
long syscall(long, ...);

long
syscall(long n, ...)
{
	static long (*real)(long, ...);
	long a[6];
	va_list ap;
	int i, fd;

	va_start(ap, n);
	for (i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "syscall");
	if (n == __NR_statmount && getenv("HVVSS_NO_STATMOUNT") != NULL) {
		fd = open("/tmp/statmount-hidden",
		    O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd >= 0)
			close(fd);
		errno = ENOSYS;
		return -1;
	}
	return real(n, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* fd is open on path (as the kernel names it) */
static int
names(int fd, const char *path)
{
	char link[64], got[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((n = readlink(link, got, sizeof(got) - 1)) <= 0)
		return 0;
	got[n] = '\0';
	return strcmp(got, path) == 0;
}

/* HVVSS_FAIL_THAW: this FITHAW fails (and is counted) */
static int
thaw_fails(int fd)
{
	static long failed;
	const char *victim = getenv("HVVSS_FAIL_THAW");
	const char *times = getenv("HVVSS_FAIL_THAW_TIMES");

	if (victim == NULL || !names(fd, victim))
		return 0;
	if (times != NULL && failed >= atol(times))
		return 0;
	failed++;
	return 1;
}

int
ioctl(int fd, unsigned long req, ...)
{
	static int (*real)(int, unsigned long, void *);
	const char *victim = getenv("HVVSS_FAIL_FREEZE");
	const char *e = getenv("HVVSS_FAIL_ERRNO");
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "ioctl");
	if (req == FIFREEZE && getenv("HVVSS_FREEZE_DELAY_MS") != NULL) {
		/* all of it, as a real FIFREEZE would, even if a signal
		 * handler runs on this thread meanwhile */
		long ms = atol(getenv("HVVSS_FREEZE_DELAY_MS"));
		struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
	}
	if (req == FIFREEZE && victim != NULL && names(fd, victim)) {
		errno = e != NULL ? atoi(e) : EIO;
		return -1;
	}
	if (req == FITHAW && thaw_fails(fd)) {
		errno = EIO;
		return -1;
	}
	return real(fd, req, arg);
}
