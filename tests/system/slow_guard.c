/*
 * slow_guard: for t_guard.sh only, installed as hv_vss_guard beside a
 * copy of the daemon, with the real guard beside it as
 * hv_vss_guard.real: a thaw guard that takes SLOW_MS to say hello.  It
 * sleeps, then executes the real one with its arguments, its fd 3 and
 * its (empty) environment.  The daemon must go on answering meanwhile:
 * restarting the guard never waits on the event loop (issue 11, item 3).
 */
#include <limits.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define SLOW_MS 1500

int
main(int argc, char **argv)
{
	struct timespec ts = {SLOW_MS / 1000, (SLOW_MS % 1000) * 1000000L};
	char self[PATH_MAX], real[PATH_MAX + 8];
	char *const env[] = {NULL};
	ssize_t n;

	(void)argc;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return 127;
	self[n] = '\0';
	snprintf(real, sizeof(real), "%s.real", self);
	while (nanosleep(&ts, &ts) == -1)
		;
	execve(real, argv, env);
	return 127;
}
