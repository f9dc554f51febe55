/*
 * rawfreeze: the floor for bench/run.  FIFREEZE, then FITHAW, on the
 * given mount points, with nothing else around it (no host channel, no
 * plan; a presync only with -S), timing each call; one JSON object on
 * stdout.
 *
 *	rawfreeze [-pStx] [-g ms] [-n count] [-w | -c | -o dir] mountpoint ...
 *
 *	-p	parallel: one thread per mount point, all released at once
 *		for each phase (the threads are made before the first
 *		iteration, so their creation is not timed).  Without -p,
 *		sequential: freeze in the order given, thaw in reverse.
 *	-g	pause before each iteration (default 0).  A freeze soon after
 *		a thaw is cheaper: the kernel's percpu rwsem of each freeze
 *		level may still be in its slow mode, so a new freeze need not
 *		wait for an RCU grace period.
 *	-n	iterations (default 1).
 *	-S	syncfs(2) every filesystem (in the same way, sequential or
 *		parallel) right before each freeze, as hvvss's presync does;
 *		timed apart, as sync_us.
 *	-t	parallel, but as hvvss's freeze.c did before its threads
 *		lasted: a fresh thread per mount point for each phase,
 *		created when the phase starts and joined at its end (timed
 *		with it).
 *	-x	right before each freeze (after -S), make a thread that
 *		returns at once and join it: a thread that just ended.
 *	-w	right before each freeze (after -S), write a small file in
 *		dir (a tmpfs such as /run), fsync it and rename it into
 *		place, as hvvss's ownership record is written; it is removed
 *		after the thaw.  Neither is timed.
 *	-c	the same, but created in place (O_EXCL), not renamed: as
 *		hvvss wrote the record of a backup's first filesystem.
 *	-o	the same, but overwritten in place in a file that stays
 *		(made before the first iteration, removed at the end): as
 *		hvvss writes its record now.
 *
 * Run it only inside the sandbox (tests/system/sandbox.c) on its -m
 * mounts: it really freezes them.  Hazards:
 * - Every mount point is opened before anything is frozen, and thawed
 *   through that fd: no path lookup ever touches a frozen filesystem.
 * - SIGINT, SIGTERM and SIGHUP are blocked while anything may be frozen
 *   and looked at only between iterations, so that a signal never ends
 *   this program with a filesystem left frozen (the sandbox thaws on its
 *   way out anyway).
 * - A FIFREEZE that fails thaws what this iteration froze, then exits 1.
 *   A FITHAW that fails is reported and the others are still thawed.
 *
 * Output: {"program": "rawfreeze", "mode": "parallel"|"sequential",
 * "filesystems": [...], "iterations": [{"sync_us", "freeze_us", "thaw_us",
 * "fs_freeze_us": [...], "fs_thaw_us": [...]}, ...]}; freeze_us and
 * thaw_us are the whole phase, from releasing the first call to the
 * return of the last.
 */
#include <sys/ioctl.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_FS 64

struct fs {
	const char *path;
	int fd;
	int frozen; /* by us, now */
	int err; /* errno of the last call, 0 */
	uint64_t us; /* duration of the last call */
	pthread_t tid;
};

static struct fs fss[MAX_FS];
static int nfs;
#define SYNCFS 1UL /* not an ioctl: syncfs(2) */
static unsigned long cmd; /* the workers' phase: SYNCFS, FIFREEZE, FITHAW */
static pthread_barrier_t go, done;

static void
usage(void)
{
	fprintf(stderr,
	    "usage: rawfreeze [-pStx] [-g ms] [-n count] [-w | -c | -o dir] "
	    "mountpoint ...\n");
	exit(2);
}

static uint64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* One call on one filesystem; records its duration and outcome. */
static void
one(struct fs *f, unsigned long op)
{
	uint64_t t0;

	if (op == FITHAW && !f->frozen)
		return;
	t0 = mono_us();
	if (op == SYNCFS) {
		f->err = syncfs(f->fd) == -1 ? errno : 0;
		f->us = mono_us() - t0;
		return;
	}
	f->err = ioctl(f->fd, op, 0) == -1 ? errno : 0;
	f->us = mono_us() - t0;
	if (f->err == 0)
		f->frozen = op == FIFREEZE;
}

/* -x: a thread that does nothing */
static void *
nothing(void *arg)
{
	return arg;
}

/* -w, -c, -o: a record written as hvvss writes its own (see above) */
static void
write_record(int how, const char *tmp, const char *path)
{
	const char *name = how == 'w' ? tmp : path;
	int fd, flags = O_WRONLY | O_CLOEXEC;

	if (how == 'w')
		flags |= O_CREAT | O_TRUNC;
	else if (how == 'c')
		flags |= O_CREAT | O_EXCL;
	if ((fd = open(name, flags, 0600)) == -1) {
		fprintf(stderr, "rawfreeze: %s: %s\n", name, strerror(errno));
		return;
	}
	if (pwrite(fd, "rawfreeze\n", 10, 0) != 10 || fsync(fd) == -1)
		fprintf(stderr, "rawfreeze: %s: %s\n", name, strerror(errno));
	close(fd);
	if (how == 'w' && rename(tmp, path) == -1)
		fprintf(
		    stderr, "rawfreeze: rename %s: %s\n", tmp, strerror(errno));
}

/* -t: one call in a thread of its own */
static void *
one_thread(void *arg)
{
	one(arg, cmd);
	return NULL;
}

static void *
worker(void *arg)
{
	struct fs *f = arg;

	for (;;) {
		pthread_barrier_wait(&go);
		if (cmd == 0)
			break;
		one(f, cmd);
		pthread_barrier_wait(&done);
	}
	return NULL;
}

/* Run op on every filesystem; returns the phase's duration. */
static uint64_t
phase(unsigned long op, int parallel)
{
	uint64_t t0 = mono_us();
	int i, started[MAX_FS];

	if (parallel == 2) {
		cmd = op;
		for (i = 0; i < nfs; i++)
			started[i] = pthread_create(&fss[i].tid, NULL,
			                 one_thread, &fss[i]) == 0;
		for (i = 0; i < nfs; i++)
			if (started[i])
				pthread_join(fss[i].tid, NULL);
			else
				one(&fss[i], op);
	} else if (parallel) {
		cmd = op;
		pthread_barrier_wait(&go);
		pthread_barrier_wait(&done);
	} else if (op == SYNCFS) {
		for (i = 0; i < nfs; i++)
			one(&fss[i], op);
	} else if (op == FIFREEZE) {
		for (i = 0; i < nfs; i++) {
			one(&fss[i], op);
			if (fss[i].err != 0)
				break; /* the caller undoes */
		}
	} else {
		for (i = nfs; i-- > 0;)
			one(&fss[i], op);
	}
	return mono_us() - t0;
}

static void
print_list(const char *key, const uint64_t *v)
{
	int i;

	printf(", \"%s\": [", key);
	for (i = 0; i < nfs; i++)
		printf("%s%llu", i ? ", " : "", (unsigned long long)v[i]);
	printf("]");
}

int
main(int argc, char *argv[])
{
	sigset_t stop, pending;
	uint64_t sus = 0, fus, tus;
	uint64_t fs_freeze[MAX_FS], fs_thaw[MAX_FS];
	int was[MAX_FS];
	long count = 1, gap_ms = 0;
	struct timespec gap;
	int c, i, it, parallel = 0, presync = 0, exited = 0, rc = 0, how = 0;
	char *end, *dir = NULL, tmp[4096], rec[4096];
	pthread_t tid;

	while ((c = getopt(argc, argv, "pStxg:n:w:c:o:")) != -1) {
		switch (c) {
		case 'x':
			exited = 1;
			break;
		case 'w':
		case 'c':
		case 'o':
			how = c;
			dir = optarg;
			if (snprintf(tmp, sizeof(tmp), "%s/.rawfreeze.tmp",
			        dir) >= (int)sizeof(tmp) ||
			    snprintf(rec, sizeof(rec), "%s/rawfreeze.rec",
			        dir) >= (int)sizeof(rec))
				usage();
			break;
		case 'g':
			gap_ms = strtol(optarg, &end, 10);
			if (*end != '\0' || gap_ms < 0 || gap_ms > 3600000)
				usage();
			break;
		case 'p':
			if (parallel == 0)
				parallel = 1;
			break;
		case 'S':
			presync = 1;
			break;
		case 't':
			parallel = 2;
			break;
		case 'n':
			count = strtol(optarg, &end, 10);
			if (*end != '\0' || count < 1 || count > 100000)
				usage();
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || argc > MAX_FS)
		usage();

	for (i = 0; i < argc; i++) {
		fss[i].path = argv[i];
		fss[i].fd = open(argv[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fss[i].fd == -1) {
			fprintf(stderr, "rawfreeze: open %s: %s\n", argv[i],
			    strerror(errno));
			return 1;
		}
	}
	nfs = argc;
	if (how == 'o') {
		/* the file that stays */
		if ((c = open(rec, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		         0600)) == -1) {
			fprintf(stderr, "rawfreeze: %s: %s\n", rec,
			    strerror(errno));
			return 1;
		}
		close(c);
	}

	/* blocked here, inherited by every worker */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGHUP);
	sigprocmask(SIG_BLOCK, &stop, NULL);

	if (parallel == 1) {
		if (pthread_barrier_init(&go, NULL, nfs + 1) != 0 ||
		    pthread_barrier_init(&done, NULL, nfs + 1) != 0) {
			fprintf(stderr, "rawfreeze: pthread_barrier_init\n");
			return 1;
		}
		for (i = 0; i < nfs; i++)
			if (pthread_create(
			        &fss[i].tid, NULL, worker, &fss[i]) != 0) {
				/* the barriers need every thread */
				fprintf(stderr, "rawfreeze: pthread_create\n");
				_exit(1);
			}
	}

	printf("{\"program\": \"rawfreeze\", \"mode\": \"%s\", "
	       "\"filesystems\": [",
	    parallel == 2  ? "thread-per-call"
	        : parallel ? "parallel"
	                   : "sequential");
	for (i = 0; i < nfs; i++)
		printf("%s\"%s\"", i ? ", " : "", fss[i].path);
	printf("],\n \"iterations\": [");

	gap.tv_sec = gap_ms / 1000;
	gap.tv_nsec = (gap_ms % 1000) * 1000000;
	for (it = 0; it < count; it++) {
		if (gap_ms > 0)
			nanosleep(&gap, NULL);
		if (presync)
			sus = phase(SYNCFS, parallel);
		if (exited && pthread_create(&tid, NULL, nothing, NULL) == 0)
			pthread_join(tid, NULL);
		if (dir != NULL)
			write_record(how, tmp, rec);
		fus = phase(FIFREEZE, parallel);
		for (i = 0; i < nfs; i++) {
			fs_freeze[i] = fss[i].us;
			was[i] = fss[i].frozen;
			if (fss[i].err == 0)
				continue;
			/* EBUSY: frozen by someone else, not ours to thaw
			 * and not a measurement of anything */
			fprintf(stderr, "rawfreeze: FIFREEZE %s: %s\n",
			    fss[i].path, strerror(fss[i].err));
			rc = 1;
		}
		tus = phase(FITHAW, parallel);
		if (dir != NULL && how != 'o')
			(void)unlink(rec);
		for (i = 0; i < nfs; i++) {
			fs_thaw[i] = was[i] ? fss[i].us : 0;
			if (was[i] && fss[i].frozen) {
				fprintf(stderr, "rawfreeze: FITHAW %s: %s\n",
				    fss[i].path, strerror(fss[i].err));
				rc = 1;
			}
		}
		if (rc != 0)
			break;
		printf("%s\n  {\"sync_us\": %llu, \"freeze_us\": %llu, "
		       "\"thaw_us\": %llu",
		    it ? "," : "", (unsigned long long)sus,
		    (unsigned long long)fus, (unsigned long long)tus);
		print_list("fs_freeze_us", fs_freeze);
		print_list("fs_thaw_us", fs_thaw);
		printf("}");
		fflush(stdout);
		if (sigpending(&pending) == 0 &&
		    (sigismember(&pending, SIGINT) ||
		        sigismember(&pending, SIGTERM) ||
		        sigismember(&pending, SIGHUP))) {
			fprintf(stderr, "rawfreeze: interrupted after %d\n",
			    it + 1);
			rc = 1;
			break;
		}
	}
	printf("]}\n");

	if (parallel == 1) {
		cmd = 0;
		pthread_barrier_wait(&go);
		for (i = 0; i < nfs; i++)
			pthread_join(fss[i].tid, NULL);
	}
	for (i = 0; i < nfs; i++)
		close(fss[i].fd);
	if (how == 'o')
		(void)unlink(rec);
	return rc;
}
