/*
 * test_lib.c: unit tests for libhvvss (lib/hvvss.c) against a fake
 * daemon: a Unix socket in a temporary directory whose far end the test
 * drives by hand.  A helper thread plays the daemon only while
 * hvvss_open blocks (accept, read the HELLO, answer); after that the test
 * writes the daemon's lines itself, in whatever pieces it likes, calls
 * hvvss_dispatch, and reads back exactly what the library answered.
 *
 * Every comparison is against the exact bytes of the protocol, so that a
 * stray space or a second line from a bad reason fails.  An alarm guards
 * each test: a library that blocks where it must not kills the binary
 * rather than hanging the suite, and SIGPIPE keeps its default action, so
 * a send without MSG_NOSIGNAL would kill it too.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "appproto.h"
#include "hvvss.h"

#define TEST_ALARM 20 /* seconds: each test takes milliseconds */

struct fake {
	char dir[64];
	char path[128];
	int lfd; /* listening */
	int fd; /* the daemon's end of the connection, -1 before open */
	const char *reply; /* the daemon's answer to HELLO */
	bool close_after; /* close at once after reply (as after ERR) */
	char hello[APP_LINE_MAX + 1]; /* what the library said */
	pthread_t thr;
	/* what the callbacks saw and what they return */
	char log[4096];
	int check_rc, freeze_rc;
	const char *reason;
	struct hvvss *h;
};

static void
logf_(struct fake *f, const char *fmt, ...)
{
	size_t n = strlen(f->log);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->log + n, sizeof(f->log) - n, fmt, ap);
	va_end(ap);
}

static int
cb_check(uint64_t txid, char *reason, size_t len, void *arg)
{
	struct fake *f = arg;

	logf_(f, "check %llu;", (unsigned long long)txid);
	assert_true(len > 200); /* room for a useful reason */
	assert_int_equal(reason[0], '\0');
	if (f->reason != NULL)
		snprintf(reason, len, "%s", f->reason);
	return f->check_rc;
}

static int
cb_freeze(uint64_t txid, unsigned int ms, char *reason, size_t len, void *arg)
{
	struct fake *f = arg;

	logf_(f, "freeze %llu %u;", (unsigned long long)txid, ms);
	assert_int_equal(reason[0], '\0');
	if (f->reason != NULL)
		snprintf(reason, len, "%s", f->reason);
	return f->freeze_rc;
}

static void
cb_thaw(uint64_t txid, bool aborted, void *arg)
{
	struct fake *f = arg;

	logf_(f, "thaw %llu %d;", (unsigned long long)txid, aborted);
}

static const struct hvvss_callbacks cbs = {cb_check, cb_freeze, cb_thaw};

/* The daemon while hvvss_open waits: accept, read HELLO, answer. */
static void *
fake_daemon(void *arg)
{
	struct fake *f = arg;
	struct timeval tv = {5, 0};
	size_t n = 0;
	int fd;

	if ((fd = accept(f->lfd, NULL, NULL)) == -1)
		return NULL;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (n < sizeof(f->hello) - 1 && read(fd, f->hello + n, 1) == 1)
		if (f->hello[n++] == '\n')
			break;
	f->hello[n] = '\0';
	if (f->reply != NULL &&
	    write(fd, f->reply, strlen(f->reply)) != (ssize_t)strlen(f->reply))
		f->hello[0] = '\0';
	if (f->close_after)
		close(fd);
	else
		f->fd = fd;
	return NULL;
}

static int
setup(void **state)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct fake *f;

	alarm(TEST_ALARM);
	signal(SIGPIPE, SIG_DFL);
	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->fd = -1;
	strcpy(f->dir, "/tmp/hvvss-test-lib.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/app.sock", f->dir);
	strcpy(sun.sun_path, f->path);
	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(f->lfd >= 0);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(f->lfd, 8), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fake *f = *state;

	hvvss_close(f->h);
	if (f->fd != -1)
		close(f->fd);
	close(f->lfd);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	alarm(0);
	return 0;
}

/* hvvss_open against the fake daemon answering reply. */
static int
open_with(struct fake *f, const char *reply, const char *name, int tier,
    unsigned int timeout_ms)
{
	int rc;

	f->reply = reply;
	assert_int_equal(pthread_create(&f->thr, NULL, fake_daemon, f), 0);
	rc = hvvss_open(f->path, name, tier, timeout_ms, &f->h);
	assert_int_equal(pthread_join(f->thr, NULL), 0);
	return rc;
}

/* Registered as "test-app", callbacks set, nothing exchanged yet. */
static void
open_ok(struct fake *f)
{
	assert_int_equal(open_with(f, "OK 42\n", "test-app", 3, 1500), 0);
	assert_non_null(f->h);
	assert_true(f->fd >= 0);
	hvvss_set_callbacks(f->h, &cbs, f);
}

static void
daemon_says(struct fake *f, const char *s)
{
	assert_int_equal(write(f->fd, s, strlen(s)), (ssize_t)strlen(s));
}

/* All the library has sent so far (it sends before dispatch returns). */
static const char *
daemon_hears(struct fake *f)
{
	static char buf[8192];
	ssize_t n;
	size_t got = 0;

	while ((n = recv(
	            f->fd, buf + got, sizeof(buf) - 1 - got, MSG_DONTWAIT)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	return buf;
}

static void
test_open_hello(void **state)
{
	struct fake *f = *state;
	int fl;

	open_ok(f);
	assert_string_equal(f->hello, "HELLO 1 test-app tier=3 timeout=1500\n");
	assert_int_equal(hvvss_app_id(f->h), 42);
	fl = fcntl(hvvss_fd(f->h), F_GETFL);
	assert_true(fl & O_NONBLOCK);
	assert_true(fcntl(hvvss_fd(f->h), F_GETFD) & FD_CLOEXEC);
	assert_string_equal(daemon_hears(f), "");
}

static void
test_open_defaults(void **state)
{
	struct fake *f = *state;

	assert_int_equal(open_with(f, "OK 18446744073709551615\n", "a",
	                     HVVSS_TIER_DEFAULT, 0),
	    0);
	assert_string_equal(f->hello, "HELLO 1 a tier=5\n");
	assert_true(hvvss_app_id(f->h) == UINT64_MAX);
}

static void
test_open_err(void **state)
{
	struct fake *f = *state;

	f->close_after = true;
	assert_int_equal(open_with(f, "ERR name in use\n", "db", 1, 0), -EPERM);
	assert_null(f->h);
	assert_string_equal(f->hello, "HELLO 1 db tier=1\n");
}

/* Anything but OK or ERR, or no answer at all, is not a registration. */
static void
test_open_bad_reply(void **state)
{
	static const char *const replies[] = {"CHECK 1\n", "OK\n", "OK 01\n",
	    "ok 1\n", "OK 1 \n", "HELLO 1 x\n", "\n"};
	struct fake *f = *state;
	size_t i;

	for (i = 0; i < sizeof(replies) / sizeof(replies[0]); i++) {
		f->close_after = true;
		assert_int_equal(open_with(f, replies[i], "x", 0, 0), -EPROTO);
		assert_null(f->h);
	}
	f->close_after = true;
	assert_int_equal(open_with(f, NULL, "x", 0, 0), -ECONNRESET);
	assert_null(f->h);
}

static void
test_open_bad_args(void **state)
{
	struct fake *f = *state;
	char longname[APP_NAME_MAX + 2], longpath[200];
	struct hvvss *h = (struct hvvss *)&h;

	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(hvvss_open(f->path, "x", 0, 0, NULL), -EINVAL);
	assert_int_equal(hvvss_open(f->path, NULL, 0, 0, &h), -EINVAL);
	assert_null(h);
	assert_int_equal(hvvss_open(f->path, "", 0, 0, &h), -EINVAL);
	assert_int_equal(hvvss_open(f->path, "two words", 0, 0, &h), -EINVAL);
	assert_int_equal(hvvss_open(f->path, "a\nb", 0, 0, &h), -EINVAL);
	assert_int_equal(hvvss_open(f->path, longname, 0, 0, &h), -EINVAL);
	assert_int_equal(hvvss_open(f->path, "x", -1, 0, &h), -EINVAL);
	assert_int_equal(hvvss_open(f->path, "x", 10, 0, &h), -EINVAL);
	assert_int_equal(hvvss_open("", "x", 0, 0, &h), -EINVAL);
	memset(longpath, 'p', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(hvvss_open(longpath, "x", 0, 0, &h), -ENAMETOOLONG);
	assert_int_equal(
	    hvvss_open("/nonexistent/app.sock", "x", 0, 0, &h), -ENOENT);
	assert_null(h);
}

/* A request right behind OK must wait in the socket, visible to poll. */
static void
test_open_request_behind_ok(void **state)
{
	struct fake *f = *state;
	struct pollfd pfd;

	assert_int_equal(open_with(f, "OK 7\nCHECK 9\n", "x", 0, 0), 0);
	hvvss_set_callbacks(f->h, &cbs, f);
	pfd.fd = hvvss_fd(f->h);
	pfd.events = POLLIN;
	assert_int_equal(poll(&pfd, 1, 0), 1);
	assert_int_equal(hvvss_app_id(f->h), 7);
	assert_int_equal(hvvss_dispatch(f->h), 0);
	assert_string_equal(f->log, "check 9;");
	assert_string_equal(daemon_hears(f), "READY 9\n");
}

static void
test_check_ready(void **state)
{
	struct fake *f = *state;

	open_ok(f);
	assert_int_equal(hvvss_dispatch(f->h), 0); /* nothing yet */
	assert_string_equal(f->log, "");
	daemon_says(f, "CHECK 7\n");
	assert_int_equal(hvvss_dispatch(f->h), 0);
	assert_string_equal(f->log, "check 7;");
	assert_string_equal(daemon_hears(f), "READY 7\n");
}

static void
test_check_veto(void **state)
{
	struct fake *f = *state;

	open_ok(f);
	f->check_rc = 1;
	f->reason = "nightly batch running";
	daemon_says(f, "CHECK 18446744073709551615\n");
	assert_int_equal(hvvss_dispatch(f->h), 0);
	assert_string_equal(daemon_hears(f),
	    "VETO 18446744073709551615 nightly batch running\n");
}

/* No reason given: the return value speaks. */
static void
test_veto_default_reason(void **state)
{
	struct fake *f = *state;

	open_ok(f);
	f->check_rc = -EBUSY;
	daemon_says(f, "CHECK 1\n");
	assert_int_equal(hvvss_dispatch(f->h), 0);
	assert_string_equal(
	    daemon_hears(f), "VETO 1 Device or resource busy\n");
	f->check_rc = 3;
	f->reason = " \n\t ";
	daemon_says(f, "CHECK 2\n");
	assert_int_equal(hvvss_dispatch(f->h), 0);
	assert_string_equal(daemon_hears(f), "VETO 2 vetoed (3)\n");
}

/* A reason that would break the grammar is made into one good line. */
static void
test_veto_reason_sanitized(void **state)
{
	struct fake *f = *state;
	char big[1000];
	const char *s;
	struct app_msg m;
	size_t len;

	open_ok(f);
	f->freeze_rc = -EIO;
	f->reason = "\tbad\nREADY 7\r\n  x\x7f y\xc3\xa9z ";
	daemon_says(f, "FREEZE 7 100\n");
	assert_int_equal(hvvss_dispatch(f->h), 0);
	assert_string_equal(daemon_hears(f), "VETO 7 bad READY 7 x y??z\n");

	/* too long for a line: cut to fit, and still parses */
	memset(big, 'r', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[200] = ' ';
	f->reason = big;
	daemon_says(f, "FREEZE 18446744073709551615 1\n");
	assert_int_equal(hvvss_dispatch(f->h), 0);
	s = daemon_hears(f);
	len = strlen(s);
	assert_int_equal(len, APP_LINE_MAX);
	assert_ptr_equal(strchr(s, '\n'), s + len - 1);
	assert_int_equal(app_parse(s, len - 1, &m), 0);
	assert_int_equal(m.type, AM_VETO);
	assert_true(m.txid == UINT64_MAX);
	assert_memory_equal(m.reason, big, 200);

	/* a space that would end up last is dropped, not sent */
	big[228] = ' ';
	daemon_says(f, "FREEZE 18446744073709551615 1\n");
	assert_int_equal(hvvss_dispatch(f->h), 0);
	s = daemon_hears(f);
	assert_int_equal(strlen(s), APP_LINE_MAX - 1);
	assert_int_equal(app_parse(s, strlen(s) - 1, &m), 0);
	assert_false(f->h == NULL);
	assert_string_equal(f->log,
	    "freeze 7 100;"
	    "freeze 18446744073709551615 1;freeze 18446744073709551615 1;");
}

static void
test_freeze_thaw(void **state)
{
	struct fake *f = *state;

	open_ok(f);
	daemon_says(f, "FREEZE 8 2500\n");
	assert_int_equal(hvvss_dispatch(f->h), 0);
	assert_string_equal(daemon_hears(f), "FROZEN 8\n");
	daemon_says(f, "THAW 8\n");
	assert_int_equal(hvvss_dispatch(f->h), 0);
	assert_string_equal(daemon_hears(f), "THAWED 8\n");
	assert_string_equal(f->log, "freeze 8 2500;thaw 8 0;");
}

static void
test_freeze_veto(void **state)
{
	struct fake *f = *state;

	open_ok(f);
	f->freeze_rc = -ETIMEDOUT;
	f->reason = "cannot flush in 10 ms";
	daemon_says(f, "FREEZE 8 10\n");
	assert_int_equal(hvvss_dispatch(f->h), 0);
	assert_string_equal(daemon_hears(f), "VETO 8 cannot flush in 10 ms\n");
	/* vetoed, so losing the daemon now thaws nothing */
	close(f->fd);
	f->fd = -1;
	assert_int_equal(hvvss_dispatch(f->h), -ECONNRESET);
	assert_string_equal(f->log, "freeze 8 10;");
}

static void
test_abort(void **state)
{
	struct fake *f = *state;

	open_ok(f);
	daemon_says(f, "FREEZE 3 500\n");
	assert_int_equal(hvvss_dispatch(f->h), 0);
	daemon_says(f, "ABORT 3\n");
	assert_int_equal(hvvss_dispatch(f->h), 0);
	assert_string_equal(daemon_hears(f), "FROZEN 3\nTHAWED 3\n");
	assert_string_equal(f->log, "freeze 3 500;thaw 3 1;");
}

static void
test_several_lines_one_read(void **state)
{
	struct fake *f = *state;

	open_ok(f);
	daemon_says(f, "CHECK 1\nFREEZE 1 100\nTHAW 1\nCHECK 2\n");
	assert_int_equal(hvvss_dispatch(f->h), 0);
	assert_string_equal(f->log, "check 1;freeze 1 100;thaw 1 0;check 2;");
	assert_string_equal(
	    daemon_hears(f), "READY 1\nFROZEN 1\nTHAWED 1\nREADY 2\n");
}

static void
test_line_split_across_reads(void **state)
{
	struct fake *f = *state;

	open_ok(f);
	daemon_says(f, "FRE");
	assert_int_equal(hvvss_dispatch(f->h), 0);
	daemon_says(f, "EZE 5 10");
	assert_int_equal(hvvss_dispatch(f->h), 0);
	assert_string_equal(f->log, "");
	assert_string_equal(daemon_hears(f), "");
	daemon_says(f, "0\nTHAW 5\nCH");
	assert_int_equal(hvvss_dispatch(f->h), 0);
	assert_string_equal(f->log, "freeze 5 100;thaw 5 0;");
	daemon_says(f, "ECK 6\n");
	assert_int_equal(hvvss_dispatch(f->h), 0);
	assert_string_equal(f->log, "freeze 5 100;thaw 5 0;check 6;");
	assert_string_equal(daemon_hears(f), "FROZEN 5\nTHAWED 5\nREADY 6\n");
}

/* A line longer than the protocol allows: an error, never an overflow. */
static void
test_overlong_line(void **state)
{
	struct fake *f = *state;
	char buf[APP_LINE_MAX + 64];

	open_ok(f);
	daemon_says(f, "CHECK 1\n");
	memset(buf, 'A', sizeof(buf));
	assert_int_equal(write(f->fd, buf, sizeof(buf)), sizeof(buf));
	assert_int_equal(hvvss_dispatch(f->h), -EPROTO);
	assert_string_equal(f->log, "check 1;");
	daemon_says(f, "\nCHECK 2\n");
	assert_int_equal(hvvss_dispatch(f->h), -EPROTO); /* stays dead */
	assert_string_equal(f->log, "check 1;");
	assert_string_equal(daemon_hears(f), "READY 1\n");
}

/* The longest line the protocol allows is read; one byte more is not. */
static void
test_line_max(void **state)
{
	struct fake *f = *state;
	char line[APP_LINE_MAX + 2];

	/* an ERR of exactly APP_LINE_MAX bytes with its newline */
	memset(line, 'r', sizeof(line));
	memcpy(line, "ERR ", 4);
	line[APP_LINE_MAX - 1] = '\n';
	line[APP_LINE_MAX] = '\0';
	f->close_after = true;
	assert_int_equal(open_with(f, line, "x", 0, 0), -EPERM);
	line[APP_LINE_MAX - 1] = 'r';
	line[APP_LINE_MAX] = '\n';
	line[APP_LINE_MAX + 1] = '\0';
	assert_int_equal(open_with(f, line, "x", 0, 0), -EPROTO);
	assert_null(f->h);

	/* after registration: "CHECK " and digits up to APP_LINE_MAX with
	 * the newline fit the buffer, so the parser, not the buffer, says
	 * no (the number is no u64) */
	f->close_after = false;
	open_ok(f);
	memset(line, '1', sizeof(line));
	memcpy(line, "CHECK ", 6);
	line[APP_LINE_MAX - 1] = '\n';
	assert_int_equal(write(f->fd, line, APP_LINE_MAX), APP_LINE_MAX);
	assert_int_equal(hvvss_dispatch(f->h), -EPROTO);
	assert_string_equal(f->log, "");
}

static void
test_one_megabyte_line(void **state)
{
	struct fake *f = *state;
	static char mb[1 << 20];
	size_t off = 0;
	ssize_t n;
	int rc = 0;

	open_ok(f);
	memset(mb, 'x', sizeof(mb));
	/* feed it as fast as the socket takes it, dispatching between */
	while (off < sizeof(mb) && rc == 0) {
		n = send(f->fd, mb + off, sizeof(mb) - off,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0)
			off += (size_t)n;
		rc = hvvss_dispatch(f->h);
	}
	assert_int_equal(rc, -EPROTO);
	assert_string_equal(f->log, "");
}

static void
test_daemon_closes(void **state)
{
	struct fake *f = *state;

	open_ok(f);
	close(f->fd);
	f->fd = -1;
	assert_int_equal(hvvss_dispatch(f->h), -ECONNRESET);
	assert_int_equal(hvvss_dispatch(f->h), -ECONNRESET);
	assert_string_equal(f->log, "");
}

/* Frozen and the daemon dies: nobody will say THAW, so the library does. */
static void
test_daemon_dies_while_frozen(void **state)
{
	struct fake *f = *state;

	open_ok(f);
	daemon_says(f, "FREEZE 4 100\n");
	assert_int_equal(hvvss_dispatch(f->h), 0);
	assert_string_equal(f->log, "freeze 4 100;");
	close(f->fd);
	f->fd = -1;
	assert_int_equal(hvvss_dispatch(f->h), -ECONNRESET);
	assert_string_equal(f->log, "freeze 4 100;thaw 4 1;");
	assert_int_equal(hvvss_dispatch(f->h), -ECONNRESET);
	assert_string_equal(f->log, "freeze 4 100;thaw 4 1;"); /* once */
}

/* The same for a daemon that breaks the protocol while we are frozen. */
static void
test_garbage_while_frozen(void **state)
{
	struct fake *f = *state;

	open_ok(f);
	daemon_says(f, "FREEZE 4 100\nTHAW  4\n");
	assert_int_equal(hvvss_dispatch(f->h), -EPROTO);
	assert_string_equal(f->log, "freeze 4 100;thaw 4 1;");
	assert_string_equal(daemon_hears(f), "FROZEN 4\n");
}

/* Lines a daemon never sends after OK, or sends malformed. */
static void
test_unexpected_lines(void **state)
{
	static const char *const lines[] = {"OK 5\n", "ERR go away\n",
	    "READY 3\n", "HELLO 1 x\n", "CHECK 01\n", "CHECK -1\n",
	    "FREEZE 1\n", "FREEZE 1 4294967296\n", "THAW 1 2\n", "CHECK 1 \n",
	    " CHECK 1\n", "CHECK 1\r\n", "\n", "CHECK 18446744073709551616\n"};
	struct fake *f = *state;
	size_t i;

	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		open_ok(f);
		daemon_says(f, lines[i]);
		assert_int_equal(hvvss_dispatch(f->h), -EPROTO);
		assert_string_equal(f->log, "");
		assert_string_equal(daemon_hears(f), "");
		hvvss_close(f->h);
		f->h = NULL;
		close(f->fd);
		f->fd = -1;
	}
}

/* Without callbacks the library agrees to everything. */
static void
test_no_callbacks(void **state)
{
	struct fake *f = *state;

	open_ok(f);
	hvvss_set_callbacks(f->h, NULL, NULL);
	daemon_says(f, "CHECK 1\nFREEZE 1 5\nTHAW 1\nFREEZE 2 5\nABORT 2\n");
	assert_int_equal(hvvss_dispatch(f->h), 0);
	assert_string_equal(daemon_hears(f),
	    "READY 1\nFROZEN 1\nTHAWED 1\nFROZEN 2\nTHAWED 2\n");
	assert_string_equal(f->log, "");
}

/*
 * hvvss_run serves until the daemon goes; the THAWED it cannot deliver
 * ends it with -ECONNRESET, not with SIGPIPE.
 */
static void
test_run_until_gone(void **state)
{
	struct fake *f = *state;

	open_ok(f);
	daemon_says(f, "CHECK 1\nFREEZE 1 5\n");
	assert_int_equal(shutdown(f->fd, SHUT_WR), 0);
	assert_int_equal(hvvss_run(f->h), -ECONNRESET);
	assert_string_equal(f->log, "check 1;freeze 1 5;thaw 1 1;");
	assert_string_equal(daemon_hears(f), "READY 1\nFROZEN 1\n");

	/* and an answer to a daemon that has closed: EPIPE, no signal */
	hvvss_close(f->h);
	f->h = NULL;
	close(f->fd);
	f->fd = -1;
	f->log[0] = '\0';
	open_ok(f);
	daemon_says(f, "CHECK 2\n");
	close(f->fd);
	f->fd = -1;
	assert_int_equal(hvvss_run(f->h), -ECONNRESET);
	assert_string_equal(f->log, "check 2;");
}

static void
on_usr1(int sig)
{
	(void)sig;
}

static void *
poke(void *arg)
{
	usleep(50 * 1000);
	pthread_kill(*(pthread_t *)arg, SIGUSR1);
	return NULL;
}

/* A signal ends hvvss_run with -EINTR; the handle goes on working. */
static void
test_run_interrupted(void **state)
{
	struct fake *f = *state;
	struct sigaction sa = {.sa_handler = on_usr1}, old;
	pthread_t self = pthread_self(), thr;

	open_ok(f);
	assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
	assert_int_equal(pthread_create(&thr, NULL, poke, &self), 0);
	assert_int_equal(hvvss_run(f->h), -EINTR);
	assert_int_equal(pthread_join(thr, NULL), 0);
	assert_int_equal(sigaction(SIGUSR1, &old, NULL), 0);
	daemon_says(f, "CHECK 3\n");
	assert_int_equal(hvvss_dispatch(f->h), 0);
	assert_string_equal(daemon_hears(f), "READY 3\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_open_hello, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_open_defaults, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_err, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_open_bad_reply, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_open_bad_args, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_open_request_behind_ok, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_check_ready, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_check_veto, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_veto_default_reason, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_veto_reason_sanitized, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_freeze_thaw, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_freeze_veto, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_abort, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_several_lines_one_read, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_line_split_across_reads, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_overlong_line, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_line_max, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_one_megabyte_line, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_daemon_closes, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_daemon_dies_while_frozen, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_garbage_while_frozen, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_unexpected_lines, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_callbacks, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_run_until_gone, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_run_interrupted, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
