/*
 * proc_comm_freebsd.c: a process's command name on FreeBSD, proc.h's
 * proc_comm(): kern.proc.pid's kinfo_proc, ki_comm.  A file of its own
 * because <sys/user.h>, which declares struct kinfo_proc, brings the
 * kernel's struct proc with it, and proc.h has a struct proc of ours.
 */
#include <sys/types.h>
#include <sys/sysctl.h>
#include <sys/user.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* proc.h's, declared here rather than including it (see above) */
int proc_comm(pid_t pid, char *buf, size_t len);

int
proc_comm(pid_t pid, char *buf, size_t len)
{
	int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PID, (int)pid};
	struct kinfo_proc kp;
	size_t n = sizeof(kp);

	snprintf(buf, len, "?");
	memset(&kp, 0, sizeof(kp));
	if (sysctl(mib, 4, &kp, &n, NULL, 0) == -1)
		return -errno;
	if (n != sizeof(kp) || kp.ki_pid != pid)
		return -ESRCH;
	snprintf(buf, len, "%s", kp.ki_comm);
	return 0;
}
