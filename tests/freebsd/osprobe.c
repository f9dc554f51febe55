/*
 * osprobe.c: the FreeBSD platform files (the *_freebsd.c files of
 * daemon/os), linked into one program that uses each once, harmlessly,
 * so that on a FreeBSD machine "osprobe" shows what the daemon's seams
 * will see there: the mount table with each filesystem's freeze kind
 * and md image, this process's own peer credentials over a socketpair,
 * and a child run by process descriptor with a deadline.  With a mount point as argument
 * (as root, on a UFS filesystem nothing else writes to), it also
 * suspends that filesystem for one second and resumes it by closing.
 * "make freebsd" builds it; it is not run here (no FreeBSD kernel).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "os/devstack.h"
#include "os/fsfreeze.h"
#include "os/mtab.h"
#include "os/peercred.h"
#include "os/proc.h"

extern char **environ;

static const char *
kind_name(enum fsfreeze_kind k)
{
	switch (k) {
	case FSFREEZE_SUSPEND:
		return "suspend";
	case FSFREEZE_PSEUDO:
		return "pseudo";
	case FSFREEZE_NONE:
		break;
	}
	return "unfreezable";
}

static int
mounts(void)
{
	struct mtab t;
	char err[256], img[1024];
	size_t i;
	int rc;

	if (mtab_read(&t, err, sizeof(err)) != 0) {
		fprintf(stderr, "osprobe: %s\n", err);
		return 1;
	}
	for (i = 0; i < t.n; i++) {
		printf("mount %d parent %d %s on %s type %s%s fsid %08x:%08x "
		       "dev %ju freeze %s",
		    t.v[i].id, t.v[i].parent_id, t.v[i].source, t.v[i].target,
		    t.v[i].fstype, t.v[i].ro ? " ro" : "",
		    (unsigned)t.v[i].fsid.val[0], (unsigned)t.v[i].fsid.val[1],
		    (uintmax_t)t.v[i].dev,
		    kind_name(fsfreeze_kind(t.v[i].fstype)));
		rc = devstack_image(
		    t.v[i].source, img, sizeof(img), err, sizeof(err));
		if (rc == 1)
			printf(" image %s", img);
		else if (rc < 0)
			printf(" image ? (%s)", err);
		printf("\n");
	}
	mtab_free(&t);
	return 0;
}

static int
peer(void)
{
	struct peercred pc;
	int sv[2], rc;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return 1;
	rc = peercred_get(sv[0], &pc);
	printf("peercred rc %d uid %u gid %u pid %d (mine %d) groups %zu%s\n",
	    rc, (unsigned)pc.uid, (unsigned)pc.gid, (int)pc.pid, (int)getpid(),
	    pc.ngroups, pc.groups_cut ? " (cut)" : "");
	close(sv[0]);
	close(sv[1]);
	return rc != 0 || pc.uid != geteuid() ||
	    (pc.pid != -1 && pc.pid != getpid());
}

static int
child(void)
{
	char *argv[] = {"sh", "-c", "sleep 5", NULL};
	struct proc_spawn s = {.path = "/bin/sh",
	    .argv = argv,
	    .envp = environ,
	    .fd_in = -1,
	    .fd_out = -1,
	    .fd_err = -1};
	struct proc p;
	char err[256];
	int st, rc;

	if ((rc = proc_spawn(&p, &s, err, sizeof(err))) != 0) {
		fprintf(stderr, "osprobe: %s\n", err);
		return 1;
	}
	rc = proc_wait(&p, 200, &st);
	printf("proc pid %d: wait 200 ms: %s\n", (int)p.pid,
	    rc == -ETIMEDOUT ? "timed out, as it should" : strerror(-rc));
	proc_kill(&p, SIGKILL, true);
	rc = proc_wait(&p, 5000, &st);
	printf("proc killed: rc %d signal %d\n", rc,
	    WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	proc_release(&p);
	return rc != 0 || !WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL;
}

static int
suspend(const char *path)
{
	char err[512];
	int hold, rc;

	if ((rc = fsfreeze_hold(path, NULL, &hold, err, sizeof(err))) != 0) {
		fprintf(stderr, "osprobe: %s\n", err);
		return 1;
	}
	printf("suspended %s; resuming in 1 s by close\n", path);
	sleep(1);
	rc = fsfreeze_release(hold, err, sizeof(err));
	printf("resumed %s: %s\n", path, rc == 0 ? "ok" : err);
	return rc != 0;
}

int
main(int argc, char *argv[])
{
	int bad = 0;

	bad |= mounts();
	bad |= peer();
	bad |= child();
	if (argc > 1)
		bad |= suspend(argv[1]);
	return bad;
}
