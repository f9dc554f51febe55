/*
 * fsfreeze_freebsd.c: the UFS freezer (fsfreeze.h), through FreeBSD's
 * /dev/ufssuspend (sys/ufs/ffs/ffs_suspend.c; doc/FREEBSD.md, "The UFS
 * freezer", cites the lines each rule below comes from).
 *
 * - UFSSUSPEND takes an fsid, not a path: the plan's f_fsid is checked
 *   against statfs(path) first, and is then what the kernel suspends,
 *   so what is frozen is what was planned even if path changes after.
 * - One suspension per open of /dev/ufssuspend (the kernel keeps it as
 *   the descriptor's private data: a second UFSSUSPEND on the same
 *   descriptor fails EBUSY and undoes itself), so each hold opens the
 *   device anew.  Its last close resumes: a dying holder thaws.
 * - The kernel refuses (EDEADLK) a process with more than one thread or
 *   with a file open for writing on that filesystem, and on that path
 *   (FreeBSD 14) returns without dropping the mount's busy reference,
 *   which would leave it impossible to unmount.  So we check both
 *   ourselves and never ask the kernel when either holds.
 * - A process with threads (the daemon: its freezer's workers) suspends
 *   through a child: pdfork() copies only the calling thread, the child
 *   closes every descriptor but its socket (so it has no file open for
 *   writing anywhere), suspends, and hands the /dev/ufssuspend
 *   descriptor back with SCM_RIGHTS.  The suspension belongs to the open
 *   file, not to the process ("inherited during fork", and resumed by
 *   whoever closes its last reference: doc/FREEBSD.md), so the parent's
 *   copy holds it once the child is gone, and a parent that dies
 *   resumes it.  Between pdfork() and _exit() the child makes system
 *   calls only (async-signal-safe).  The caller still must not write to
 *   what it suspended, as on Linux.
 * - EBUSY: suspended already through /dev/ufssuspend by another
 *   process.  A suspension by someone else's snapshot (mksnap_ffs) is
 *   not an error: the kernel waits for it to end.
 * - The kernel serialises suspensions (one lock around the write-back),
 *   so holds are taken one after the other: parallel levels buy nothing
 *   here.
 */
#include <sys/types.h>
#include <sys/param.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/procdesc.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysctl.h>
#include <sys/uio.h>
#include <sys/user.h>

#include <ufs/ffs/fs.h>

#include <errno.h>
#include <fcntl.h>
#include <paths.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fsfreeze.h"
#include "util.h"

const bool fsfreeze_close_thaws = true;
const char fsfreeze_op_freeze[] = "UFSSUSPEND";
const char fsfreeze_op_thaw[] = "UFSRESUME";

enum fsfreeze_kind
fsfreeze_kind(const char *fstype)
{
	static const char *const pseudo[] = {"devfs", "fdescfs", "procfs",
	    "linprocfs", "linsysfs", "tmpfs", "nullfs", "unionfs", "mqueuefs",
	    "autofs", "fusefs", "nfs", "smbfs", "p9fs", NULL};
	size_t i;

	if (strcmp(fstype, "ufs") == 0)
		return FSFREEZE_SUSPEND;
	for (i = 0; pseudo[i] != NULL; i++)
		if (strcmp(fstype, pseudo[i]) == 0)
			return FSFREEZE_PSEUDO;
	/* zfs, msdosfs, ext2fs, cd9660 ...: the unfreezable policy */
	return FSFREEZE_NONE;
}

/* How many threads this process has (kern.proc.pid), or -1. */
static int
own_threads(void)
{
	int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PID, (int)getpid()};
	struct kinfo_proc kp;
	size_t len = sizeof(kp);

	if (sysctl(mib, 4, &kp, &len, NULL, 0) == -1 || len != sizeof(kp))
		return -1;
	return kp.ki_numthreads;
}

/* A descriptor of ours open for writing on fsid, or -1. */
static int
writer_on(const fsid_t *fsid)
{
	struct statfs sf;
	int fd, fl, max;

	max = getdtablesize();
	if (max > 65536)
		max = 65536;
	for (fd = 0; fd < max; fd++) {
		if ((fl = fcntl(fd, F_GETFL)) == -1)
			continue;
		if ((fl & O_ACCMODE) == O_RDONLY)
			continue;
		/* sockets, pipes, devices: not on a filesystem's mount */
		if (fstatfs(fd, &sf) == -1)
			continue;
		if (memcmp(&sf.f_fsid, fsid, sizeof(*fsid)) == 0)
			return fd;
	}
	return -1;
}

/*
 * The child's half: suspend fsid with nothing but system calls, and
 * send back the errno (0) and, on success, the descriptor.
 */
static void
child_suspend(int sock, const fsid_t *fsid)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr mh;
	struct cmsghdr *c;
	struct iovec iov;
	int e = 0, fd;

	if ((fd = open(_PATH_UFSSUSPEND, O_RDWR)) == -1)
		e = errno;
	else if (ioctl(fd, UFSSUSPEND, fsid) == -1) {
		e = errno;
		close(fd);
		fd = -1;
	}
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = &e;
	iov.iov_len = sizeof(e);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (fd != -1) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	/* if this fails the parent reads EOF; our copy closes at _exit,
	 * which resumes: nothing is left suspended */
	(void)sendmsg(sock, &mh, 0);
	_exit(0);
}

/*
 * Suspend fsid from a single-threaded child (see the top of this
 * file): 0 with *hold, or -errno (the kernel's, through the child).
 */
static int
suspend_by_child(const fsid_t *fsid, int *hold)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr mh;
	struct cmsghdr *c;
	struct iovec iov;
	int sv[2], pd, e, got = -1;
	ssize_t n;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		return -errno;
	if ((pid = pdfork(&pd, PD_CLOEXEC)) == -1) {
		e = errno;
		close(sv[0]);
		close(sv[1]);
		return -e;
	}
	if (pid == 0) {
		/* our socket to 0, and nothing else open */
		if (dup2(sv[1], 0) == -1)
			_exit(1);
		closefrom(1);
		child_suspend(0, fsid);
	}
	close(sv[1]);
	memset(&mh, 0, sizeof(mh));
	memset(&u, 0, sizeof(u));
	e = EPIPE; /* the child died before it answered */
	iov.iov_base = &e;
	iov.iov_len = sizeof(e);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = u.buf;
	mh.msg_controllen = sizeof(u.buf);
	while (
	    (n = recvmsg(sv[0], &mh, MSG_CMSG_CLOEXEC)) == -1 && errno == EINTR)
		;
	if (n == -1)
		e = errno;
	else if (n != (ssize_t)sizeof(e))
		e = EPIPE;
	for (c = CMSG_FIRSTHDR(&mh); n > 0 && c != NULL;
	     c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&got, CMSG_DATA(c), sizeof(int));
	close(sv[0]);
	/* the kernel reaps it; it has answered, so a SIGKILL from this
	 * close if it has not exited yet costs nothing */
	close(pd);
	if (e == 0 && got == -1)
		e = EPROTO;
	if (e != 0) {
		if (got != -1)
			close(got);
		return -e;
	}
	*hold = got;
	return 0;
}

/* What the kernel's refusal of UFSSUSPEND means, into err: -e. */
static int
suspend_failed(int e, const char *path, char *err, size_t errlen)
{
	switch (e) {
	case EBUSY:
		errfmt(err, errlen, 0,
		    "UFSSUSPEND %s: suspended already by another process",
		    path);
		break;
	case ENOENT:
		errfmt(
		    err, errlen, 0, "UFSSUSPEND %s: no longer mounted", path);
		break;
	case EPERM:
		errfmt(err, errlen, 0,
		    "UFSSUSPEND %s: refused (in a jail, or by MAC)", path);
		break;
	default:
		errfmt(err, errlen, e, "UFSSUSPEND %s", path);
	}
	return -e;
}

/*
 * Suspend the filesystem sf describes (path names it in messages): the
 * kernel's refusals checked first (see the top of this file).
 */
static int
suspend(const struct statfs *sf, const char *path, int *hold, char *err,
    size_t errlen)
{
	int fd, n, e;

	if (fsfreeze_kind(sf->f_fstypename) != FSFREEZE_SUSPEND) {
		errfmt(err, errlen, 0, "%s: %s cannot be suspended (UFS only)",
		    path, sf->f_fstypename);
		return -EOPNOTSUPP;
	}
	if ((n = own_threads()) == -1) {
		e = errno != 0 ? errno : EIO;
		errfmt(err, errlen, e, "%s: kern.proc.pid (our threads)", path);
		return -e;
	}
	if (n > 1 && (e = -suspend_by_child(&sf->f_fsid, hold)) != 0)
		return suspend_failed(e, path, err, errlen);
	if (n > 1)
		return 0;
	if ((fd = writer_on(&sf->f_fsid)) != -1) {
		errfmt(err, errlen, 0,
		    "%s: UFSSUSPEND refuses a process with a file open for writing on it (fd %d)",
		    path, fd);
		return -EDEADLK;
	}
	if ((fd = open(_PATH_UFSSUSPEND, O_RDWR | O_CLOEXEC)) == -1) {
		e = errno;
		errfmt(err, errlen, e, "%s", _PATH_UFSSUSPEND);
		return -e;
	}
	if (ioctl(fd, UFSSUSPEND, &sf->f_fsid) == -1) {
		e = errno;
		close(fd);
		return suspend_failed(e, path, err, errlen);
	}
	*hold = fd;
	return 0;
}

/* Is sf the filesystem planned as want, mounted at path? */
static int
same_fs(const struct statfs *sf, const char *path,
    const struct fsfreeze_id *want, char *err, size_t errlen)
{
	if (strcmp(sf->f_mntonname, path) != 0) {
		errfmt(err, errlen, 0,
		    "%s: no longer a mount point (it is on %s)", path,
		    sf->f_mntonname);
		return -ESTALE;
	}
	if (want != NULL &&
	    memcmp(want->val, &sf->f_fsid, sizeof(want->val)) != 0) {
		errfmt(err, errlen, 0,
		    "%s: another filesystem is mounted there now (fsid %08x:%08x, planned %08x:%08x)",
		    path, (unsigned)sf->f_fsid.val[0],
		    (unsigned)sf->f_fsid.val[1], (unsigned)want->val[0],
		    (unsigned)want->val[1]);
		return -ESTALE;
	}
	return 0;
}

int
fsfreeze_hold(const char *path, const struct fsfreeze_id *want, int *hold,
    char *err, size_t errlen)
{
	struct statfs sf;
	int e, rc;

	*hold = -1;
	if (statfs(path, &sf) == -1) {
		e = errno;
		errfmt(err, errlen, e, "%s: statfs", path);
		return -e;
	}
	if ((rc = same_fs(&sf, path, want, err, errlen)) != 0)
		return rc;
	return suspend(&sf, path, hold, err, errlen);
}

int
fsfreeze_open(const char *path, int *fd)
{
	if ((*fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -errno;
	return 0;
}

/*
 * fstatfs() of the open directory: the fsid it reaches.  The directory
 * keeps its filesystem busy (no unmount but a forced one), so the fsid
 * that UFSSUSPEND takes later is this one's.
 */
int
fsfreeze_check(const int *fds, const char *const *paths,
    const struct fsfreeze_id *want, dev_t *devs, size_t n, char *err,
    size_t errlen)
{
	struct statfs sf;
	struct stat st;
	size_t i;
	int e, rc;

	for (i = 0; i < n; i++) {
		if (fstatfs(fds[i], &sf) == -1 || fstat(fds[i], &st) == -1) {
			e = errno;
			errfmt(err, errlen, e, "%s: fstatfs", paths[i]);
			return -e;
		}
		if ((rc = same_fs(&sf, paths[i], &want[i], err, errlen)) != 0)
			return rc;
		devs[i] = st.st_dev;
	}
	return 0;
}

int
fsfreeze_devs(const int *fds, size_t n, dev_t *devs, int *errs)
{
	struct stat st;
	size_t i;

	for (i = 0; i < n; i++) {
		errs[i] = fstat(fds[i], &st) == 0 ? 0 : errno;
		devs[i] = errs[i] == 0 ? st.st_dev : 0;
	}
	return 0;
}

/*
 * Nothing to do: UFSSUSPEND writes the filesystem back itself, and
 * FreeBSD has no per-filesystem sync(2) (sync(2) is every filesystem
 * and does not wait).
 */
int
fsfreeze_sync(int fd)
{
	(void)fd;
	return 0;
}

/* UFS suspension waits for no grace period: nothing to hurry */
int
fsfreeze_expedited_at(const char *knob)
{
	(void)knob;
	return 1;
}

int
fsfreeze_expedite_at(const char *knob, bool on)
{
	(void)knob;
	(void)on;
	return 0;
}

int
fsfreeze_expedited(void)
{
	return 1;
}

int
fsfreeze_expedite(bool on)
{
	return fsfreeze_expedite_at(NULL, on);
}

int
fsfreeze_freeze(int fd, int *hold)
{
	struct statfs sf;
	char why[256];

	*hold = -1;
	if (fstatfs(fd, &sf) == -1)
		return -errno;
	return suspend(&sf, sf.f_mntonname, hold, why, sizeof(why));
}

int
fsfreeze_thaw(int *hold)
{
	char why[256];
	int rc = fsfreeze_release(*hold, why, sizeof(why));

	*hold = -1;
	return rc;
}

int
fsfreeze_release(int hold, char *err, size_t errlen)
{
	int e = 0;

	/* UFSRESUME says whether this descriptor held a suspension; the
	 * close would resume it anyway */
	if (ioctl(hold, UFSRESUME) == -1) {
		e = errno;
		errfmt(err, errlen, e, "UFSRESUME");
	}
	if (close(hold) == -1 && e == 0) {
		e = errno;
		errfmt(err, errlen, e, "close %s", _PATH_UFSSUSPEND);
	}
	return -e;
}
