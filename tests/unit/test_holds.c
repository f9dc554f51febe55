/*
 * test_holds.c: the holder of a detached hold (daemon/holds.c): which
 * labels pass, and that what the asker chose (its label, its command
 * name) cannot break the status line or the JSON it goes into.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "holds.h"

static void
test_labels(void **state)
{
	static const char *const good[] = {"qemu-ga", "open-vm-tools",
	    "azure-vmbackup", "a", "nightly/db@host:1+2_x.y",
	    "0123456789012345678901234567890123456789012345678901234567890123"};
	static const char *const bad[] = {"", "two words", "tab\there",
	    "new\nline", "quote\"", "back\\slash", "semi;colon", "dollar$",
	    "01234567890123456789012345678901234567890123456789012345678901234",
	    "\xc3\xa9t\xc3\xa9"};
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(hold_label_ok(good[i]));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(hold_label_ok(bad[i]));
}

/* The asker's command name is its own to choose: quotes, backslashes and
 * control characters never reach the JSON or the line. */
static void
test_hostile_comm(void **state)
{
	struct holder h;
	char json[512], text[512];

	holder_ask(&h, 0, getpid(), "qga", 5000);
	snprintf(h.comm, sizeof(h.comm), "a\"b\\c\nd\x01");
	holder_txid(&h, 42);
	holder_json(&h, json, sizeof(json));
	assert_non_null(strstr(json, "\"comm\": \"a?b?c?d?\""));
	assert_non_null(strstr(json, "\"since\": null, \"until\": null"));
	assert_non_null(strstr(json, "\"held\": false"));
	holder_held(&h);
	holder_json(&h, json, sizeof(json));
	assert_non_null(strstr(json, "\"held\": true"));
	assert_null(strstr(json, "null"));
	holder_text(&h, text, sizeof(text));
	assert_null(strchr(text, '\n'));
	assert_non_null(strstr(text, "txn 42, by uid 0 pid "));
	assert_non_null(strstr(text, "(a?b?c?d?), label qga, lease 5.000 s"));
	/* until is since plus the lease */
	assert_int_equal(h.until.tv_sec - h.since.tv_sec, 5);
}

/* Who asked, as /proc says: this very test. */
static void
test_comm_from_proc(void **state)
{
	struct holder h;
	char who[256];

	holder_ask(&h, 1000, getpid(), NULL, 60000);
	holder_who(&h, who, sizeof(who));
	assert_non_null(strstr(who, "uid 1000 pid "));
	assert_non_null(strstr(who, "(test_holds)"));
	assert_null(strstr(who, "label"));
	/* a pid that is gone */
	holder_ask(&h, 0, 0x7ffffff0, "x", 1);
	assert_string_equal(h.comm, "?");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_labels),
	    cmocka_unit_test(test_hostile_comm),
	    cmocka_unit_test(test_comm_from_proc),
	};

	return cmocka_run_group_tests_name("holds", tests, NULL, NULL);
}
