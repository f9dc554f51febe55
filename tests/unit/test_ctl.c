/*
 * test_ctl.c: the daemon's end of control protocol 2 (daemon/ctl.c), on
 * a real socket, byte for byte: the greeting, every payload line marked
 * whatever it holds ("OK", "ERR ...", "| ...", no last newline), progress
 * and reasons kept on one line, a failed read-only handler's reason, and
 * a protocol 1 client, a newer one and a malformed hello told apart.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <grp.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "conf.h"
#include "ctl.h"
#include "log.h"

static struct event_base *base;
static struct ctl *ctl;
static struct conf conf;
static char dir[] = "/tmp/test_ctl.XXXXXX";

/* Payload that looks like every other kind of line, and ends unended. */
static int
h_status(bool json, struct evbuffer *out, void *arg)
{
	evbuffer_add_printf(out,
	    "OK\nERR x\n| y\n# z\nFROZEN 1\n"
	    "HVVSS-CTL 2\n\nlast, unended");
	return 0;
}

static int
h_plan(bool json, struct evbuffer *out, void *arg)
{
	evbuffer_add_printf(out, "cannot plan: no mountinfo\nmore\n");
	return -1;
}

static int
h_history(unsigned int n, bool json, struct evbuffer *out, void *arg)
{
	return 0; /* no payload at all */
}

/* A local request answered at once: progress, payload, a reason, each
 * with a newline of its own inside. */
static void
h_freeze(struct ctl_conn *c, unsigned int ms, bool hold, void *arg)
{
	ctl_progress(c, "one\ntwo");
	ctl_line(c, "OK\nERR y");
	ctl_done(c, false, "why\nOK");
}

static void
h_conn(struct ctl_conn *c, void *arg)
{
	ctl_done(c, true, NULL);
}

static void
h_hold_apps(struct ctl_conn *c, unsigned int ms, const char *l, void *arg)
{
	ctl_done(c, true, NULL);
}

static const struct ctl_handlers handlers = {
    .status = h_status,
    .plan = h_plan,
    .history = h_history,
    .freeze = h_freeze,
    .thaw = h_conn,
    .release = h_conn,
    .gone = h_conn,
    .hold_apps = h_hold_apps,
    .release_apps = h_conn,
};

/* Send req, run the daemon's loop, return all it sent before closing. */
static char *
exchange(const char *req)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	static char got[8192];
	struct pollfd pfd;
	size_t len = 0;
	ssize_t n;
	int fd, i;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", conf.ctl_socket);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd != -1);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	for (i = 0; i < 400; i++) { /* 2 s at most */
		event_base_loop(base, EVLOOP_NONBLOCK);
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 5) <= 0)
			continue;
		n = read(fd, got + len, sizeof(got) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	got[len] = '\0';
	return got;
}

static int
setup(void **state)
{
	struct group *gr = getgrgid(getgid());

	log_init(true, 0);
	assert_non_null(mkdtemp(dir));
	conf_defaults(&conf);
	snprintf(conf.run_dir, sizeof(conf.run_dir), "%s", dir);
	snprintf(conf.ctl_socket, sizeof(conf.ctl_socket), "%s/ctl.sock", dir);
	/* our own group may read, so that this runs as anyone */
	if (gr != NULL)
		snprintf(
		    conf.ctl_group, sizeof(conf.ctl_group), "%s", gr->gr_name);
	base = event_base_new();
	ctl = ctl_new(base, &conf, &handlers, NULL);
	return base != NULL && ctl != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	ctl_free(ctl);
	event_base_free(base);
	rmdir(dir);
	return 0;
}

static void
test_payload_marked(void **state)
{
	assert_string_equal(exchange("HVVSS-CTL 2\nstatus\n"),
	    "HVVSS-CTL 2\n"
	    "| OK\n| ERR x\n| | y\n| # z\n| FROZEN 1\n| HVVSS-CTL 2\n| \n"
	    "| last, unended\n"
	    "OK\n");
	assert_string_equal(
	    exchange("HVVSS-CTL 2\nhistory 3\n"), "HVVSS-CTL 2\nOK\n");
}

static void
test_failed_query(void **state)
{
	assert_string_equal(exchange("HVVSS-CTL 2\nplan\n"),
	    "HVVSS-CTL 2\nERR cannot plan: no mountinfo\n");
}

static void
test_one_line_each(void **state)
{
	if (getuid() != 0)
		skip(); /* freeze is root's */
	assert_string_equal(exchange("HVVSS-CTL 2\nfreeze 1000\n"),
	    "HVVSS-CTL 2\n# one two\n| OK\n| ERR y\nERR why OK\n");
}

static void
test_versions(void **state)
{
	assert_string_equal(exchange("status\n"),
	    "ERR hv_vss_daemon speaks control protocol 2, this client protocol 1: use the hv_vss_ctl of the daemon's version\n");
	assert_string_equal(exchange("HVVSS-CTL 3\nstatus\n"),
	    "HVVSS-CTL 2\nERR hv_vss_daemon speaks control protocol 2, this client protocol 3\n");
	assert_string_equal(exchange("HVVSS-CTL 2x\nstatus\n"),
	    "HVVSS-CTL 2\nERR hv_vss_daemon speaks control protocol 2, this client protocol 2x\n");
	assert_string_equal(exchange("HVVSS-CTL\nstatus\n"),
	    "ERR hv_vss_daemon speaks control protocol 2, this client protocol 1: use the hv_vss_ctl of the daemon's version\n");
	assert_string_equal(exchange("HVVSS-CTL 2\nfrobnicate\n"),
	    "HVVSS-CTL 2\nERR unknown command\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_payload_marked),
	    cmocka_unit_test(test_failed_query),
	    cmocka_unit_test(test_one_line_each),
	    cmocka_unit_test(test_versions),
	};

	return cmocka_run_group_tests_name("ctl", tests, setup, teardown);
}
