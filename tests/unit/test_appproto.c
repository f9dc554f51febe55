/*
 * test_appproto.c: the application line protocol codec, every message
 * both ways, and the malformed lines the daemon must refuse.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "appproto.h"

static int
parse(const char *s, struct app_msg *m)
{
	return app_parse(s, strlen(s), m);
}

static void
test_hello(void **state)
{
	struct app_msg m;

	assert_int_equal(parse("HELLO 1 db", &m), 0);
	assert_int_equal(m.type, AM_HELLO);
	assert_int_equal(m.version, 1);
	assert_string_equal(m.name, "db");
	assert_int_equal(m.tier, APP_TIER_DEFAULT);
	assert_false(m.has_timeout);

	assert_int_equal(
	    parse("HELLO 1 maria-db_1.x tier=0 timeout=2500", &m), 0);
	assert_string_equal(m.name, "maria-db_1.x");
	assert_int_equal(m.tier, 0);
	assert_true(m.has_timeout);
	assert_int_equal(m.timeout_ms, 2500);
	assert_int_equal(parse("HELLO 1 a timeout=0 tier=9", &m), 0);
	assert_int_equal(m.tier, 9);

	assert_int_equal(parse("HELLO 2 db", &m), -EPROTONOSUPPORT);
	assert_int_equal(parse("HELLO 2 db whatever=1", &m), -EPROTONOSUPPORT);
	assert_int_equal(parse("HELLO 1 db tier=10", &m), -EINVAL);
	assert_int_equal(parse("HELLO 1 db tier=1 tier=2", &m), -EINVAL);
	assert_int_equal(parse("HELLO 1 db timeout=1 timeout=2", &m), -EINVAL);
	assert_int_equal(parse("HELLO 1 db timeout=4294967296", &m), -EINVAL);
	assert_int_equal(parse("HELLO 1 db color=red", &m), -EINVAL);
	assert_int_equal(parse("HELLO 1 d/b", &m), -EINVAL);
	assert_int_equal(parse("HELLO 1", &m), -EINVAL);
	assert_int_equal(parse("HELLO 01 db", &m), -EINVAL);
	assert_int_equal(
	    parse(
	        "HELLO 1 "
	        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	        &m),
	    -EINVAL); /* 65 characters */
	assert_int_equal(
	    parse(
	        "HELLO 1 "
	        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	        &m),
	    0); /* 64 */
}

static void
test_answers(void **state)
{
	struct app_msg m;

	assert_int_equal(parse("READY 7", &m), 0);
	assert_int_equal(m.type, AM_READY);
	assert_int_equal(m.txid, 7);
	assert_int_equal(parse("FROZEN 18446744073709551615", &m), 0);
	assert_true(m.txid == UINT64_MAX);
	assert_int_equal(parse("FROZEN 18446744073709551616", &m), -EINVAL);
	assert_int_equal(parse("THAWED 0", &m), 0);
	assert_int_equal(parse("VETO 3 backup window closed", &m), 0);
	assert_int_equal(m.type, AM_VETO);
	assert_int_equal(m.txid, 3);
	assert_string_equal(m.reason, "backup window closed");
	assert_int_equal(parse("VETO 3", &m), -EINVAL);
	assert_int_equal(parse("VETO 3 ", &m), -EINVAL);
	assert_int_equal(parse("VETO 3 tab\there", &m), -EINVAL);
}

static void
test_daemon_lines(void **state)
{
	struct app_msg m;

	assert_int_equal(parse("OK 42", &m), 0);
	assert_int_equal(m.app_id, 42);
	assert_int_equal(parse("ERR too many connections", &m), 0);
	assert_string_equal(m.reason, "too many connections");
	assert_int_equal(parse("CHECK 5", &m), 0);
	assert_int_equal(parse("FREEZE 5 10000", &m), 0);
	assert_int_equal(m.type, AM_FREEZE);
	assert_int_equal(m.ms, 10000);
	assert_int_equal(parse("FREEZE 5", &m), -EINVAL);
	assert_int_equal(parse("FREEZE 5 1 2", &m), -EINVAL);
	assert_int_equal(parse("THAW 5", &m), 0);
	assert_int_equal(parse("ABORT 5", &m), 0);
}

static void
test_malformed(void **state)
{
	static const char *bad[] = {"", " ", "READY", "READY ", "READY  1",
	    " READY 1", "READY 1 ", "READY 1 2", "READY -1", "READY +1",
	    "READY 01", "READY 1x", "READY 0x10", "ready 1", "REDY 1",
	    "READY\t1", "READY 1\r", "THAWED 99999999999999999999", "HELLO",
	    "OK", "ERR", "ERR ", "CHECK 1\n"};
	struct app_msg m;
	char big[APP_LINE_MAX + 8];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse(bad[i], &m) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
	/* 255 bytes is the longest line (256 with its newline) */
	memset(big, 'x', sizeof(big));
	memcpy(big, "VETO 1 ", 7);
	assert_int_equal(app_parse(big, APP_LINE_MAX - 1, &m), 0);
	assert_int_equal(strlen(m.reason), APP_LINE_MAX - 1 - 7);
	assert_int_equal(app_parse(big, APP_LINE_MAX, &m), -EMSGSIZE);
	assert_int_equal(app_parse(big, 1 << 20, &m), -EMSGSIZE);
}

static void
test_format_round_trip(void **state)
{
	struct app_msg in, out;
	char buf[APP_LINE_MAX + 1];
	int t, n;

	for (t = 0; t < AM_NTYPES; t++) {
		memset(&in, 0, sizeof(in));
		in.type = (enum app_msg_type)t;
		in.txid = 12345678901234ULL;
		in.app_id = 99;
		in.ms = 4000;
		in.version = 1;
		in.tier = 3;
		in.has_timeout = (t % 2) == 0;
		in.timeout_ms = in.has_timeout ? 750 : 0;
		strcpy(in.name, "app.one");
		strcpy(in.reason, "disk busy: 3 jobs");
		n = app_format(&in, buf, sizeof(buf));
		assert_true(n > 0);
		assert_int_equal(buf[n - 1], '\n');
		assert_int_equal(app_parse(buf, (size_t)n - 1, &out), 0);
		assert_int_equal(out.type, in.type);
		assert_string_equal(
		    app_msg_name(out.type), app_msg_name(in.type));
		switch (in.type) {
		case AM_HELLO:
			assert_string_equal(out.name, in.name);
			assert_int_equal(out.tier, 3);
			assert_int_equal(out.has_timeout, in.has_timeout);
			assert_int_equal(out.timeout_ms, in.timeout_ms);
			break;
		case AM_OK:
			assert_int_equal(out.app_id, 99);
			break;
		case AM_ERR:
			assert_string_equal(out.reason, in.reason);
			break;
		case AM_VETO:
			assert_string_equal(out.reason, in.reason);
			/* FALLTHROUGH */
		default:
			assert_true(out.txid == in.txid);
		}
		if (in.type == AM_FREEZE)
			assert_int_equal(out.ms, 4000);
	}
	/* what breaks the grammar is refused, not sent */
	memset(&in, 0, sizeof(in));
	in.type = AM_VETO;
	strcpy(in.reason, "two\nlines");
	assert_int_equal(app_format(&in, buf, sizeof(buf)), -EINVAL);
	in.reason[0] = '\0';
	assert_int_equal(app_format(&in, buf, sizeof(buf)), -EINVAL);
	in.type = AM_HELLO;
	strcpy(in.name, "bad name");
	assert_int_equal(app_format(&in, buf, sizeof(buf)), -EINVAL);
	in.type = AM_CHECK;
	assert_int_equal(app_format(&in, buf, 4), -ENOSPC);
	assert_int_equal(app_format(&in, buf, 9), 8); /* "CHECK 0\n" */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hello),
	    cmocka_unit_test(test_answers),
	    cmocka_unit_test(test_daemon_lines),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_format_round_trip),
	};

	return cmocka_run_group_tests_name("appproto", tests, NULL, NULL);
}
