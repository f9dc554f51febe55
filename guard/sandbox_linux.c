/*
 * sandbox_linux.c: the thaw guard's sandbox on Linux (sandbox.h).
 *
 * - PR_SET_NAME: started by execveat(fd), the kernel names the process
 *   after the descriptor ("3"), not the program.
 * - /proc/self/oom_score_adj -1000 (CAP_SYS_RESOURCE): written before
 *   the guard serves, on procfs, which is never frozen.
 * - PR_SET_DUMPABLE 0: no core, and only root with CAP_SYS_PTRACE may
 *   attach.
 * - seccomp: filter.c's allow-list, with PR_SET_NO_NEW_PRIVS.
 */
#include <sys/mman.h>
#include <sys/prctl.h>

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "filter.h"
#include "sandbox.h"

const char sandbox_kind[] = "seccomp filter";

void
sandbox_name(const char *name)
{
	(void)prctl(PR_SET_NAME, name, 0, 0, 0);
}

bool
sandbox_oom_exempt(void)
{
	bool done = false;
	int fd;

	fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (fd != -1) {
		done = write(fd, "-1000", 5) == 5;
		close(fd);
	}
	return done;
}

void
sandbox_nodump(void)
{
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

int
sandbox_lock(void)
{
	return mlockall(MCL_CURRENT | MCL_FUTURE) == 0 ? 0 : errno;
}

int
sandbox_enter(void)
{
	return guard_filter();
}
