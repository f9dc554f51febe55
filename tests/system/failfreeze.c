/*
 * failfreeze.so: fault injection for the system tests, by LD_PRELOAD.
 *
 * FIFREEZE on the mount point named in HVVSS_FAIL_FREEZE fails with EIO
 * (or the errno in HVVSS_FAIL_ERRNO); every other ioctl, and FIFREEZE on
 * every other filesystem, goes to the real one.  This gives a freeze that
 * fails part-way, after other filesystems were really frozen, so a test
 * can check that they are all really thawed before the host hears
 * E_FAIL.  With HVVSS_FREEZE_DELAY_MS set, every FIFREEZE first sleeps
 * that long: a slow filesystem, so that a test can look at the daemon
 * while its freezer is busy.  Only the tests load it; the daemon has no
 * test hooks.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

int ioctl(int, unsigned long, ...);

int
ioctl(int fd, unsigned long req, ...)
{
	static int (*real)(int, unsigned long, void *);
	const char *victim = getenv("HVVSS_FAIL_FREEZE");
	const char *e = getenv("HVVSS_FAIL_ERRNO");
	char link[64], path[PATH_MAX];
	ssize_t n;
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
	if (req == FIFREEZE && victim != NULL) {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, path, sizeof(path) - 1);
		if (n > 0) {
			path[n] = '\0';
			if (strcmp(path, victim) == 0) {
				errno = e != NULL ? atoi(e) : EIO;
				return -1;
			}
		}
	}
	return real(fd, req, arg);
}
