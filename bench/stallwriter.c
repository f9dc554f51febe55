/*
 * stallwriter: the application of bench/run's write-stall rows.  One
 * thread per file, each doing 4 KiB buffered writes in a loop (pwrite,
 * no sync), cycling over the first span bytes of its file and pausing
 * between writes, and timing every write(2).  A write that took at least
 * the threshold is a stall: its start (CLOCK_MONOTONIC) and duration
 * are kept, so that the driver can charge it to the backup it fell in.
 *
 *	stallwriter [-i interval_us] [-s span_kib] [-m threshold_us] file ...
 *
 *	-i	pause between two writes of one thread (default 1000 us:
 *		about 4 MB/s per file, an application logging steadily)
 *	-s	span cycled over, in KiB (default 16384): what the writer
 *		itself keeps dirty stays below this
 *	-m	stall threshold (default 1000 us)
 *
 * It runs until SIGTERM or SIGINT, then waits for every thread's current
 * write to return (a write to a frozen filesystem returns only after the
 * thaw: stop this only once everything is thawed) and prints one JSON
 * object on stdout:
 *
 *	{"program": "stallwriter", "files": [...], "writes": [N, ...],
 *	 "max_us": [N, ...], "dropped": N,
 *	 "stalls": [[start_us, duration_us, file_index], ...]}
 *
 * start_us is CLOCK_MONOTONIC in microseconds (Python's
 * time.monotonic_ns() // 1000 on Linux).  It writes only to its files.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_FILES 64
#define MAX_STALLS 65536 /* per thread; more are counted as dropped */
#define WSIZE 4096

struct stall {
	uint64_t start_us;
	uint64_t us;
};

struct writer {
	const char *path;
	int fd;
	pthread_t tid;
	uint64_t writes;
	uint64_t max_us;
	uint64_t dropped;
	size_t nstalls;
	struct stall *stalls;
	int err; /* errno of a failed write, 0 */
};

static struct writer ws[MAX_FILES];
static int nw;
static long interval_us = 1000;
static long long span = 16384LL * 1024;
static long threshold_us = 1000;
static atomic_int stop;

static void
usage(void)
{
	fprintf(stderr,
	    "usage: stallwriter [-i interval_us] [-s span_kib] "
	    "[-m threshold_us] file ...\n");
	exit(2);
}

static uint64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void *
writer(void *arg)
{
	struct writer *w = arg;
	struct timespec pause = {
	    interval_us / 1000000, (interval_us % 1000000) * 1000};
	char buf[WSIZE];
	off_t off = 0;
	uint64_t t0, us;
	ssize_t n;

	memset(buf, 'w', sizeof(buf));
	while (!atomic_load(&stop)) {
		t0 = mono_us();
		n = pwrite(w->fd, buf, sizeof(buf), off);
		us = mono_us() - t0;
		if (n != (ssize_t)sizeof(buf)) {
			w->err = n == -1 ? errno : EIO;
			break;
		}
		w->writes++;
		if (us > w->max_us)
			w->max_us = us;
		if (us >= (uint64_t)threshold_us) {
			if (w->nstalls < MAX_STALLS)
				w->stalls[w->nstalls++] =
				    (struct stall){t0, us};
			else
				w->dropped++;
		}
		off = (off + WSIZE) % span;
		if (interval_us > 0)
			nanosleep(&pause, NULL);
	}
	return NULL;
}

static long
number(const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		usage();
	return v;
}

int
main(int argc, char *argv[])
{
	sigset_t stopset;
	uint64_t dropped = 0;
	size_t k;
	int c, i, sig, rc = 0;

	while ((c = getopt(argc, argv, "i:s:m:")) != -1) {
		switch (c) {
		case 'i':
			interval_us = number(optarg, 0, 10000000);
			break;
		case 's':
			span = number(optarg, 4, 64L * 1024 * 1024) * 1024LL;
			break;
		case 'm':
			threshold_us = number(optarg, 1, 100000000);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || argc > MAX_FILES)
		usage();

	/* blocked in every thread; the main thread waits for them */
	sigemptyset(&stopset);
	sigaddset(&stopset, SIGINT);
	sigaddset(&stopset, SIGTERM);
	sigprocmask(SIG_BLOCK, &stopset, NULL);

	for (i = 0; i < argc; i++) {
		ws[i].path = argv[i];
		ws[i].fd = open(argv[i], O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (ws[i].fd == -1) {
			fprintf(stderr, "stallwriter: open %s: %s\n", argv[i],
			    strerror(errno));
			return 1;
		}
		ws[i].stalls = calloc(MAX_STALLS, sizeof(*ws[i].stalls));
		if (ws[i].stalls == NULL) {
			fprintf(stderr, "stallwriter: out of memory\n");
			return 1;
		}
	}
	nw = argc;
	for (i = 0; i < nw; i++)
		if (pthread_create(&ws[i].tid, NULL, writer, &ws[i]) != 0) {
			fprintf(stderr, "stallwriter: pthread_create\n");
			atomic_store(&stop, 1);
			nw = i;
			rc = 1;
			break;
		}
	if (rc == 0)
		sigwait(&stopset, &sig);
	atomic_store(&stop, 1);
	for (i = 0; i < nw; i++)
		pthread_join(ws[i].tid, NULL);

	printf("{\"program\": \"stallwriter\", \"threshold_us\": %ld, "
	       "\"interval_us\": %ld, \"files\": [",
	    threshold_us, interval_us);
	for (i = 0; i < nw; i++)
		printf("%s\"%s\"", i ? ", " : "", ws[i].path);
	printf("],\n \"writes\": [");
	for (i = 0; i < nw; i++)
		printf(
		    "%s%llu", i ? ", " : "", (unsigned long long)ws[i].writes);
	printf("], \"max_us\": [");
	for (i = 0; i < nw; i++)
		printf(
		    "%s%llu", i ? ", " : "", (unsigned long long)ws[i].max_us);
	printf("],\n \"stalls\": [");
	c = 0;
	for (i = 0; i < nw; i++) {
		dropped += ws[i].dropped;
		for (k = 0; k < ws[i].nstalls; k++, c++)
			printf("%s[%llu, %llu, %d]", c ? ", " : "",
			    (unsigned long long)ws[i].stalls[k].start_us,
			    (unsigned long long)ws[i].stalls[k].us, i);
	}
	printf("], \"dropped\": %llu}\n", (unsigned long long)dropped);

	for (i = 0; i < nw; i++) {
		if (ws[i].err != 0) {
			fprintf(stderr, "stallwriter: write %s: %s\n",
			    ws[i].path, strerror(ws[i].err));
			rc = 1;
		}
		close(ws[i].fd);
		free(ws[i].stalls);
	}
	return rc;
}
