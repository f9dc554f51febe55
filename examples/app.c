/*
 * app.c: the smallest useful libhvvss application.  It appends a line to
 * FILE every 100 ms through stdio's buffer, as programs with their own
 * write buffers do, so that what it wrote is in its memory, not on disk.
 * On FREEZE it flushes and fsyncs the file and writes nothing more until
 * THAW or ABORT: a snapshot then holds exactly the lines it had written.
 * It says what it does on standard output.
 *
 *	app FILE [SOCKET]
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <hvvss.h>

static FILE *out;
static long lines;
static bool frozen;

static int
on_check(uint64_t txid, char *reason, size_t len, void *arg)
{
	printf("check %llu\n", (unsigned long long)txid);
	return 0;
}

static int
on_freeze(uint64_t txid, unsigned int ms, char *reason, size_t len, void *arg)
{
	if (fflush(out) == EOF || fsync(fileno(out)) == -1) {
		snprintf(reason, len, "flushing: %s", strerror(errno));
		return -1;
	}
	frozen = true;
	printf("freeze %llu within %u ms: %ld lines on disk, holding\n",
	    (unsigned long long)txid, ms, lines);
	return 0;
}

static void
on_thaw(uint64_t txid, bool aborted, void *arg)
{
	frozen = false;
	printf("%s %llu: writing again\n", aborted ? "abort" : "thaw",
	    (unsigned long long)txid);
}

int
main(int argc, char *argv[])
{
	const struct hvvss_callbacks cb = {on_check, on_freeze, on_thaw};
	struct pollfd pfd = {.events = POLLIN};
	struct hvvss *h;
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2 || argc > 3 || (out = fopen(argv[1], "a")) == NULL) {
		fprintf(stderr, "usage: app file [socket]\n");
		return 2;
	}
	rc = hvvss_open(argc > 2 ? argv[2] : NULL, "example-app",
	    HVVSS_TIER_DEFAULT, 500, &h);
	if (rc < 0) {
		fprintf(stderr, "app: cannot register: %s\n", strerror(-rc));
		return 1;
	}
	hvvss_set_callbacks(h, &cb, NULL);
	printf("registered as app %llu\n", (unsigned long long)hvvss_app_id(h));
	pfd.fd = hvvss_fd(h);
	for (;;) {
		if (poll(&pfd, 1, 100) > 0 && (rc = hvvss_dispatch(h)) < 0)
			break;
		if (!frozen)
			fprintf(out, "line %ld\n", lines++);
	}
	printf("daemon gone (%s): exiting\n", strerror(-rc));
	hvvss_close(h);
	return 0;
}
