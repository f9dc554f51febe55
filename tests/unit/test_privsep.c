/*
 * test_privsep.c: unit tests for daemon/privsep.c, the parent's
 * supervision of its engine, where it needs no root and no fork: how an
 * engine's end is told in the log, and the refusals of privsep_start()
 * before anything is started.  The engine's start, death and restart
 * are tests/system/t_privsep.sh's.
 */
#include <sys/wait.h>

#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include <event2/event.h>

#include "conf.h"
#include "privsep.h"

static int
engine(int sock, void *arg)
{
	return 0;
}

static void
test_status(void **state)
{
	char buf[128];

	assert_string_equal(
	    privsep_status(3 << 8, buf, sizeof(buf)), "exited 3");
	assert_string_equal(privsep_status(SIGSYS, buf, sizeof(buf)),
	    "killed by SIGSYS (Bad system call): a system call outside its "
	    "seccomp list");
	assert_string_equal(privsep_status(SIGKILL, buf, sizeof(buf)),
	    "killed by SIGKILL (Killed)");
	assert_non_null(strstr(privsep_status(SIGTRAP, buf, sizeof(buf)),
	    "SIGTRAP (Trace/breakpoint trap): a call outside capability mode"));
	/* a stop is no end, but named rather than mistaken for one */
	assert_string_equal(
	    privsep_status(0x137f, buf, sizeof(buf)), "wait status 0x137f");
	/* truncated, still a string */
	assert_string_equal(privsep_status(SIGKILL, buf, 10), "killed by");
}

static void
test_refused(void **state)
{
	struct event_base *base = event_base_new();
	struct privsep_conf pc;
	struct conf c;
	char err[256];

	conf_defaults(&c);
	memset(&pc, 0, sizeof(pc));
	pc.user = "hvvss-no-such-user";
	pc.root = "/nonexistent";
	pc.engine = engine;
	assert_null(privsep_start(base, &c, NULL, &pc, err, sizeof(err)));
	assert_non_null(strstr(err, "hvvss-no-such-user: no such user"));
	pc.user = "root";
	assert_null(privsep_start(base, &c, NULL, &pc, err, sizeof(err)));
	assert_non_null(strstr(err, "not root's"));
	pc.engine = NULL;
	assert_null(privsep_start(base, &c, NULL, &pc, err, sizeof(err)));
	pc.engine = engine;
	pc.nkeep = PRIVSEP_KEEP_MAX + 1;
	assert_null(privsep_start(base, &c, NULL, &pc, err, sizeof(err)));
	conf_clear(&c);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_status),
	    cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
