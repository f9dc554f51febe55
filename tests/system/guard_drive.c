/*
 * guard_drive: drives daemon/guard.c and daemon/record.c the way the
 * daemon will, so that tests/system/t_guard.sh can kill it, let it hang,
 * and watch what the thaw guard and the ownership record do about the
 * filesystems it froze.  Run it only inside the sandbox, on its -m mounts:
 * it really freezes the mount points it is given.
 *
 *	guard_drive die MP...
 *		start a guard; for each MP in order: open it, guard_hold()
 *		it, FIFREEZE it; say "frozen", then wait to be killed.
 *	guard_drive stuck LEASE_MS GRACE_MS MP...
 *		the same with guard_arm(LEASE_MS) before the first freeze;
 *		then "hang": sleep LEASE_MS + GRACE_MS + 1500 ms without
 *		reading the socket, then print the guard's reports.
 *	guard_drive normal LEASE_MS GRACE_MS MP...
 *		hold, arm, freeze, FITHAW newest first, guard_thawed(); wait
 *		until the guard holds nothing; say "ready" and wait for a line
 *		on stdin (the test freezes something by hand meanwhile); stay
 *		LEASE_MS + GRACE_MS + 1000 ms, print any report (none is
 *		expected), exit (the guard sees EOF and must thaw nothing).
 *	guard_drive record RUN_DIR TXID MP...
 *		like die, but record_add() each MP in RUN_DIR before its
 *		freeze.
 *	guard_drive fake RUN_DIR MP MAJOR:MINOR
 *		record an entry for MP under a device that is not its own,
 *		then exit (its owner is then dead).
 *	guard_drive recover RUN_DIR
 *		record_recover(), one line per report.
 *
 * Output, one line each, flushed: "guard PID NOTE", "dev MP M:m st_dev
 * M:m", "frozen", "event ...", "report OUTCOME: TEXT", "guard_fds N",
 * "error ...".  Exit status 0, or 1 with an "error" line.
 */
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "guard.h"
#include "record.h"
#include "util.h"

#define MAX_MP 16

static int fds[MAX_MP];
static const char *mps[MAX_MP];
static int nmp;
static struct guard *g;

static void usage(void) __attribute__((noreturn));

static void
usage(void)
{
	fprintf(stderr,
	    "usage: guard_drive die MP...\n"
	    "       guard_drive stuck|normal LEASE_MS GRACE_MS MP...\n"
	    "       guard_drive record RUN_DIR TXID MP...\n"
	    "       guard_drive fake RUN_DIR MP MAJOR:MINOR\n"
	    "       guard_drive recover RUN_DIR\n");
	exit(2);
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void
sleep_ms(unsigned int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static void die(const char *, const char *, int) __attribute__((noreturn));

/* Thaw what we froze (newest first) and fail. */
static void
die(const char *what, const char *mp, int err)
{
	int i;

	say("error %s %s: %s", what, mp, strerror(err));
	for (i = nmp; i-- > 0;)
		if (fds[i] >= 0)
			(void)ioctl(fds[i], FITHAW, 0);
	exit(1);
}

/*
 * The guard's program, as the daemon finds it beside itself: this driver
 * is build/tests/guard_drive, the guard build/hv_vss_guard.
 */
static void
find_guard(void)
{
	char self[4096], err[512];
	ssize_t n;
	char *p;

	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 32)) == -1) {
		say("error /proc/self/exe: %s", strerror(errno));
		exit(1);
	}
	self[n] = '\0';
	if ((p = strrchr(self, '/')) != NULL)
		*p = '\0';
	if ((p = strrchr(self, '/')) != NULL)
		*p = '\0';
	strcat(self, "/hv_vss_guard");
	if (guard_image(self, err, sizeof(err)) == -1) {
		say("error guard_image: %s", err);
		exit(1);
	}
}

static void
start_guard(unsigned int grace_ms)
{
	char err[256];

	find_guard();
	if ((g = guard_start(grace_ms, err, sizeof(err))) == NULL) {
		say("error guard_start: %s", err);
		exit(1);
	}
	say("guard %d %s", (int)guard_pid(g), guard_note(g));
}

static void
open_all(char **argv, int argc)
{
	int i;

	if (argc < 1 || argc > MAX_MP)
		usage();
	for (i = 0; i < argc; i++)
		fds[i] = -1;
	for (nmp = 0; nmp < argc; nmp++) {
		mps[nmp] = argv[nmp];
		fds[nmp] = open(argv[nmp], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fds[nmp] == -1)
			die("open", argv[nmp], errno);
	}
}

/* Hold (and with r, record) then freeze each, in order. */
static void
hold_and_freeze(struct record *r, uint64_t txid)
{
	struct stat st;
	dev_t dev;
	int i, rc, frozen = 0;

	for (i = 0; i < nmp; i++) {
		if (r != NULL) {
			if ((rc = record_devno(fds[i], &dev)) != 0 ||
			    fstat(fds[i], &st) == -1)
				die("devno", mps[i], rc != 0 ? -rc : errno);
			say("dev %s %u:%u st_dev %u:%u", mps[i], major(dev),
			    minor(dev), major(st.st_dev), minor(st.st_dev));
			if ((rc = record_add(r, dev, mps[i], txid)) != 0)
				die("record_add", mps[i], -rc);
		}
		if ((rc = guard_hold(g, fds[i], mps[i])) < 0)
			die("guard_hold", mps[i], -rc);
		if (ioctl(fds[i], FIFREEZE, 0) == -1) {
			/* do not thaw what is not ours */
			int e = errno;

			fds[i] = -1;
			die("FIFREEZE", mps[i], e);
		}
		frozen++;
	}
	say("frozen %d", frozen);
}

/* Processes' open fds, from /proc (the guard's: what it holds). */
static int
count_fds(pid_t pid)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Print every report waiting on the socket; how many. */
static int
drain(void)
{
	struct guard_event ev;
	int n = 0, rc;

	while ((rc = guard_read(g, &ev)) == 1) {
		n++;
		switch (ev.type) {
		case GUARD_EV_READY:
			say("event ready"); /* guard_start() took it */
			break;
		case GUARD_EV_THAWED:
			say("event thawed %s err=%d slot=%d", ev.path, ev.err,
			    ev.slot);
			break;
		case GUARD_EV_LEASE:
			say("event lease thawed=%u notfrozen=%u failed=%u "
			    "truncated=%d",
			    ev.nthawed, ev.nnotfrozen, ev.nfailed,
			    ev.truncated);
			break;
		case GUARD_EV_ERROR:
			say("event error %s", strerror(ev.err));
			break;
		case GUARD_EV_DIED:
			say("event died status=%d", ev.status);
			return n;
		}
	}
	if (rc < 0)
		say("error guard_read: %s", strerror(-rc));
	return n;
}

static unsigned int
number(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v > 3600000)
		usage();
	return (unsigned int)v;
}

static int
do_stuck(unsigned int lease, unsigned int grace)
{
	uint64_t t0;
	int rc;

	t0 = mono_ms();
	if ((rc = guard_arm(g, lease)) != 0)
		die("guard_arm", "", -rc);
	hold_and_freeze(NULL, 0);
	/* stuck: not a look at the socket until well after the lease */
	sleep_ms(lease + grace + 1500);
	say("woke after %llu ms", (unsigned long long)(mono_ms() - t0));
	drain();
	say("guard_fds %d", count_fds(guard_pid(g)));
	return 0;
}

static int
do_normal(unsigned int lease, unsigned int grace)
{
	struct pollfd pfd;
	uint64_t t0, end;
	char line[64];
	int i, rc;

	t0 = mono_ms();
	if ((rc = guard_arm(g, lease)) != 0)
		die("guard_arm", "", -rc);
	hold_and_freeze(NULL, 0);
	sleep_ms(200);
	for (i = nmp; i-- > 0;)
		if (ioctl(fds[i], FITHAW, 0) == -1)
			die("FITHAW", mps[i], errno);
	if ((rc = guard_thawed(g)) != 0)
		die("guard_thawed", "", -rc);
	say("thawed");
	/* the guard lets its fds go: only its socket is left */
	for (i = 0; i < 200 && count_fds(guard_pid(g)) != 1; i++)
		sleep_ms(10);
	say("guard_fds %d", count_fds(guard_pid(g)));
	say("ready");
	if (fgets(line, sizeof(line), stdin) == NULL)
		die("stdin", "", EPIPE);
	/* past the lease: the guard must say and do nothing */
	end = mono_ms() + lease + grace + 1000;
	while (mono_ms() < end) {
		pfd.fd = guard_fd(g);
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)(end - mono_ms())) == 1 && drain() > 0)
			break;
	}
	say("quiet after %llu ms", (unsigned long long)(mono_ms() - t0));
	return 0;
}

static int
do_fake(const char *run_dir, const char *mp, const char *devs)
{
	struct record *r;
	unsigned int maj, min;
	char err[512], c;
	int rc;

	if (sscanf(devs, "%u:%u%c", &maj, &min, &c) != 2)
		usage();
	if ((r = record_open(run_dir, err, sizeof(err))) == NULL) {
		say("error record_open: %s", err);
		return 1;
	}
	if ((rc = record_add(r, makedev(maj, min), mp, 1)) != 0) {
		say("error record_add: %s", strerror(-rc));
		return 1;
	}
	say("recorded %s %u:%u", mp, maj, min);
	record_close(r);
	return 0;
}

static int
do_recover(const char *run_dir)
{
	struct record_report *reps;
	char err[512], line[PATH_MAX + 512];
	size_t n, i;
	int rc;

	rc = record_recover(run_dir, &reps, &n, err, sizeof(err));
	for (i = 0; i < n; i++) {
		record_describe(&reps[i], line, sizeof(line));
		say("report %s: %s", record_outcome_name(reps[i].outcome),
		    line);
	}
	free(reps);
	if (rc != 0) {
		say("error record_recover: %s", err);
		return 1;
	}
	say("recovered %zu", n);
	return 0;
}

int
main(int argc, char *argv[])
{
	struct record *r;
	char err[512];

	if (argc < 2)
		usage();
	if (strcmp(argv[1], "die") == 0) {
		open_all(argv + 2, argc - 2);
		start_guard(0);
		hold_and_freeze(NULL, 0);
		for (;;)
			pause();
	}
	if (strcmp(argv[1], "stuck") == 0 || strcmp(argv[1], "normal") == 0) {
		unsigned int lease, grace;

		if (argc < 5)
			usage();
		lease = number(argv[2]);
		grace = number(argv[3]);
		open_all(argv + 4, argc - 4);
		start_guard(grace);
		return argv[1][0] == 's' ? do_stuck(lease, grace)
		                         : do_normal(lease, grace);
	}
	if (strcmp(argv[1], "record") == 0) {
		if (argc < 5)
			usage();
		open_all(argv + 4, argc - 4);
		start_guard(0);
		if ((r = record_open(argv[2], err, sizeof(err))) == NULL) {
			say("error record_open: %s", err);
			return 1;
		}
		hold_and_freeze(r, strtoull(argv[3], NULL, 10));
		for (;;)
			pause();
	}
	if (strcmp(argv[1], "fake") == 0 && argc == 5)
		return do_fake(argv[2], argv[3], argv[4]);
	if (strcmp(argv[1], "recover") == 0 && argc == 3)
		return do_recover(argv[2]);
	usage();
}
