/*
 * test_status.c: the JSON string escaper of hv_vss_ctl's --json output.
 * Mount points, app names and veto reasons come from outside: UTF-8 must
 * pass through unchanged, anything a JSON parser would choke on must not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "status.h"

/* s escaped, as a NUL-terminated string; the caller frees it */
static char *
esc(const char *s)
{
	struct evbuffer *b = evbuffer_new();
	size_t n;
	char *out;

	assert_non_null(b);
	status_json_str(b, s);
	n = evbuffer_get_length(b);
	out = malloc(n + 1);
	assert_non_null(out);
	evbuffer_remove(b, out, n);
	out[n] = '\0';
	evbuffer_free(b);
	return out;
}

static void
expect(const char *in, const char *want)
{
	char *got = esc(in);

	assert_string_equal(got, want);
	free(got);
}

static void
test_ascii(void **state)
{
	expect("", "\"\"");
	expect("/mnt/data", "\"/mnt/data\"");
	expect("a\"b\\c", "\"a\\\"b\\\\c\"");
	expect("tab\there\nnl", "\"tab\\u0009here\\u000anl\"");
	expect("\x01\x1f\x7f~", "\"\\u0001\\u001f\\u007f~\"");
}

static void
test_utf8_kept(void **state)
{
	/* "/mnt/données"; then 2, 3 and 4 bytes long, at their edges */
	expect("/mnt/donn\303\251es", "\"/mnt/donn\303\251es\"");
	expect("\xc2\x80\xdf\xbf", "\"\xc2\x80\xdf\xbf\"");
	expect("\xe0\xa0\x80\xed\x9f\xbf\xef\xbf\xbd",
	    "\"\xe0\xa0\x80\xed\x9f\xbf\xef\xbf\xbd\"");
	expect("\xf0\x90\x80\x80\xf4\x8f\xbf\xbf",
	    "\"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"");
	expect("/srv/\xe6\x97\xa5\xe6\x9c\xac",
	    "\"/srv/\xe6\x97\xa5\xe6\x9c\xac\"");
}

static void
test_invalid_bytes(void **state)
{
	/* "données" in Latin-1: é is one byte, 0xe9 */
	expect("donn\351es", "\"donn\\ufffdes\"");
	/* a lone continuation byte, and bytes never in UTF-8 */
	expect("\x80", "\"\\ufffd\"");
	expect("\xc0\xaf", "\"\\ufffd\\ufffd\"");
	expect("\xf5\x80\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
	/* overlong, surrogate, above U+10FFFF */
	expect("\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\"");
	expect("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");
	expect("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
	/* cut short, at the end and before ASCII: nothing read past NUL */
	expect("a\xc3", "\"a\\ufffd\"");
	expect("\xe2\x82", "\"\\ufffd\\ufffd\"");
	expect("\xe2\x82x", "\"\\ufffd\\ufffdx\"");
	expect("\xf0\x9f\x98", "\"\\ufffd\\ufffd\\ufffd\"");
}

static void
test_null(void **state)
{
	struct evbuffer *b = evbuffer_new();

	assert_non_null(b);
	status_json_str(b, NULL);
	assert_int_equal(evbuffer_get_length(b), 2);
	evbuffer_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ascii),
	    cmocka_unit_test(test_utf8_kept),
	    cmocka_unit_test(test_invalid_bytes),
	    cmocka_unit_test(test_null),
	};

	return cmocka_run_group_tests_name("status", tests, NULL, NULL);
}
