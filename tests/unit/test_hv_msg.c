/*
 * test_hv_msg.c: unit tests for the /dev/vmbus/hv_vss message codec
 * (common/hv_msg.c).  They pin every byte of the 12-byte message, since
 * the kernel reads it by offset, and every way a read or write of the
 * wrong length must be refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "hv_msg.h"

/* Every op with a name, and the name it must have. */
static const struct {
	unsigned int op;
	const char *name;
} ops[] = {{HV_OP_CREATE, "CREATE"}, {HV_OP_DELETE, "DELETE"},
    {HV_OP_HOT_BACKUP, "HOT_BACKUP"}, {HV_OP_GET_DM_INFO, "GET_DM_INFO"},
    {HV_OP_BU_COMPLETE, "BU_COMPLETE"}, {HV_OP_FREEZE, "FREEZE"},
    {HV_OP_THAW, "THAW"}, {HV_OP_AUTO_RECOVER, "AUTO_RECOVER"},
    {HV_OP_REGISTER, "REGISTER"}, {HV_OP_REGISTER1, "REGISTER1"}};
#define NOPS (sizeof(ops) / sizeof(ops[0]))

static void
test_op_values(void **state)
{
	/* The wire values of <linux/hyperv.h>'s enum hv_vss_op. */
	assert_int_equal(HV_OP_CREATE, 0);
	assert_int_equal(HV_OP_DELETE, 1);
	assert_int_equal(HV_OP_HOT_BACKUP, 2);
	assert_int_equal(HV_OP_GET_DM_INFO, 3);
	assert_int_equal(HV_OP_BU_COMPLETE, 4);
	assert_int_equal(HV_OP_FREEZE, 5);
	assert_int_equal(HV_OP_THAW, 6);
	assert_int_equal(HV_OP_AUTO_RECOVER, 7);
	assert_int_equal(HV_OP_COUNT, 8);
	assert_int_equal(HV_OP_REGISTER, 128);
	assert_int_equal(HV_OP_REGISTER1, 129);
	assert_int_equal(HV_MSG_SIZE, 12);
	assert_int_equal(HV_REGISTER_REPLY_SIZE, 4);
}

static void
test_encode_offsets(void **state)
{
	uint8_t b[HV_MSG_SIZE];
	static const uint8_t want[HV_MSG_SIZE] = {
	    HV_OP_FREEZE, 0, 0, 0, 0, 0, 0, 0, 0x44, 0x33, 0x22, 0x11};

	memset(b, 0xff, sizeof(b));
	hv_msg_encode(HV_OP_FREEZE, 0x11223344u, b);
	assert_memory_equal(b, want, sizeof(want));
	assert_int_equal(b[0], 5); /* operation */
	assert_int_equal(b[1], 0); /* reserved 1..7 */
	assert_int_equal(b[7], 0);
	assert_int_equal(b[8], 0x44); /* flags, little-endian */
	assert_int_equal(b[11], 0x11);
}

static void
test_encode_register1(void **state)
{
	uint8_t b[HV_MSG_SIZE];
	static const uint8_t want[HV_MSG_SIZE] = {0x81};

	memset(b, 0xff, sizeof(b));
	hv_msg_encode(HV_OP_REGISTER1, 0, b);
	assert_memory_equal(b, want, sizeof(want));

	memset(b, 0xff, sizeof(b));
	hv_msg_encode(HV_OP_REGISTER, 0, b);
	assert_int_equal(b[0], 0x80);
	for (size_t i = 1; i < sizeof(b); i++)
		assert_int_equal(b[i], 0);
}

static void
test_encode_reply_offsets(void **state)
{
	uint8_t b[HV_MSG_SIZE];
	static const uint8_t fail[HV_MSG_SIZE] = {
	    0x05, 0x40, 0x00, 0x80, 0, 0, 0, 0, 0x05, 0, 0, 0};
	static const uint8_t ok[HV_MSG_SIZE] = {
	    0, 0, 0, 0, 0, 0, 0, 0, 0xef, 0xbe, 0xad, 0xde};

	/* HRESULT over bytes 0..3 (the "int error" union), 4..7 zero. */
	memset(b, 0xff, sizeof(b));
	hv_msg_encode_reply(HV_E_FAIL, HV_HBU_NO_AUTO_RECOVERY, b);
	assert_memory_equal(b, fail, sizeof(fail));

	memset(b, 0xff, sizeof(b));
	hv_msg_encode_reply(HV_S_OK, 0xdeadbeefu, b);
	assert_memory_equal(b, ok, sizeof(ok));
}

static void
test_decode_every_op(void **state)
{
	uint8_t b[HV_MSG_SIZE];
	struct hv_msg m;
	unsigned int op;

	/* Any op value comes back as is: the caller decides. */
	for (op = 0; op <= UINT8_MAX; op++) {
		hv_msg_encode((uint8_t)op, 0x01020304u ^ op, b);
		memset(&m, 0xaa, sizeof(m));
		assert_int_equal(hv_msg_decode(b, sizeof(b), &m), 0);
		assert_int_equal(m.op, op);
		assert_int_equal(m.flags, 0x01020304u ^ op);
	}
}

static void
test_decode_raw(void **state)
{
	static const uint8_t b[HV_MSG_SIZE] = {
	    HV_OP_HOT_BACKUP, 1, 2, 3, 4, 5, 6, 7, 0x78, 0x56, 0x34, 0x12};
	struct hv_msg m;

	/* Reserved bytes are ignored; flags are read little-endian. */
	assert_int_equal(hv_msg_decode(b, sizeof(b), &m), 0);
	assert_int_equal(m.op, HV_OP_HOT_BACKUP);
	assert_int_equal(m.flags, 0x12345678u);
}

static void
test_decode_bad_length(void **state)
{
	static const size_t bad[] = {0, 1, 4, 8, 11, 13, 16, 64, 4096};
	uint8_t b[4096];
	struct hv_msg m = {.op = 0x77, .flags = 0x77};
	size_t i;

	memset(b, 0, sizeof(b));
	b[0] = HV_OP_FREEZE;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(hv_msg_decode(b, bad[i], &m), -EINVAL);
		assert_int_equal(m.op, 0x77); /* untouched */
		assert_int_equal(m.flags, 0x77);
	}
	assert_int_equal(hv_msg_decode(NULL, HV_MSG_SIZE, &m), -EINVAL);
	assert_int_equal(hv_msg_decode(b, HV_MSG_SIZE, NULL), -EINVAL);
}

static void
test_decode_reply(void **state)
{
	uint8_t b[HV_MSG_SIZE];
	uint32_t hr, fl;

	hv_msg_encode_reply(HV_E_FAIL, 0xcafef00du, b);
	assert_int_equal(hv_msg_decode_reply(b, sizeof(b), &hr, &fl), 0);
	assert_int_equal(hr, HV_E_FAIL);
	assert_int_equal(fl, 0xcafef00du);

	hv_msg_encode_reply(HV_S_OK, HV_HBU_NO_AUTO_RECOVERY, b);
	assert_int_equal(hv_msg_decode_reply(b, sizeof(b), &hr, &fl), 0);
	assert_int_equal(hr, HV_S_OK);
	assert_int_equal(fl, HV_HBU_NO_AUTO_RECOVERY);

	/* A reply overwrites the op: a FREEZE request's op is no HRESULT. */
	hv_msg_encode(HV_OP_FREEZE, 0, b);
	assert_int_equal(hv_msg_decode_reply(b, sizeof(b), &hr, NULL), 0);
	assert_int_equal(hr, 5);
}

static void
test_decode_reply_bad_length(void **state)
{
	static const size_t bad[] = {0, 1, 4, 11, 13, 24};
	uint8_t b[32] = {0};
	uint32_t hr = 0x77, fl = 0x77;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(
		    hv_msg_decode_reply(b, bad[i], &hr, &fl), -EINVAL);
		assert_int_equal(hr, 0x77);
		assert_int_equal(fl, 0x77);
	}
	assert_int_equal(
	    hv_msg_decode_reply(NULL, HV_MSG_SIZE, &hr, &fl), -EINVAL);
}

static void
test_register_reply(void **state)
{
	static const uint8_t b[HV_REGISTER_REPLY_SIZE] = {0x81, 0, 0, 0};
	static const uint8_t big[HV_REGISTER_REPLY_SIZE] = {4, 3, 2, 1};
	uint32_t v = 0;

	assert_int_equal(hv_msg_decode_register_reply(b, sizeof(b), &v), 0);
	assert_int_equal(v, HV_OP_REGISTER1);
	assert_int_equal(hv_msg_decode_register_reply(big, sizeof(big), &v), 0);
	assert_int_equal(v, 0x01020304u);
}

static void
test_register_reply_bad_length(void **state)
{
	static const size_t bad[] = {0, 1, 3, 5, 8, 11, 12, 13};
	uint8_t b[16] = {0x81};
	uint32_t v = 0x77;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(
		    hv_msg_decode_register_reply(b, bad[i], &v), -EINVAL);
		assert_int_equal(v, 0x77);
	}
	assert_int_equal(hv_msg_decode_register_reply(NULL, 4, &v), -EINVAL);
}

static void
test_reaches_daemon(void **state)
{
	unsigned int op;

	for (op = 0; op < 1024; op++) {
		bool want = op == HV_OP_FREEZE || op == HV_OP_THAW ||
		    op == HV_OP_HOT_BACKUP;

		assert_int_equal(hv_op_reaches_daemon(op), want);
	}
}

static void
test_op_name(void **state)
{
	static const unsigned int unknown[] = {
	    HV_OP_COUNT, 9, 42, 127, 130, 200, 255, 256, 385, 0xffffffffu};
	size_t i;

	for (i = 0; i < NOPS; i++)
		assert_string_equal(hv_op_name(ops[i].op), ops[i].name);
	for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
		assert_string_equal(hv_op_name(unknown[i]), "UNKNOWN");
}

static void
test_op_parse_names(void **state)
{
	char lower[32], mixed[32];
	uint8_t op;
	size_t i, j;

	for (i = 0; i < NOPS; i++) {
		op = 0xee;
		assert_int_equal(hv_op_parse(ops[i].name, &op), 0);
		assert_int_equal(op, ops[i].op);

		for (j = 0; ops[i].name[j] != '\0'; j++) {
			char c = ops[i].name[j];

			lower[j] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
			mixed[j] = (j % 2 == 0) ? lower[j] : c;
		}
		lower[j] = mixed[j] = '\0';
		op = 0xee;
		assert_int_equal(hv_op_parse(lower, &op), 0);
		assert_int_equal(op, ops[i].op);
		op = 0xee;
		assert_int_equal(hv_op_parse(mixed, &op), 0);
		assert_int_equal(op, ops[i].op);
	}

	assert_int_equal(hv_op_parse("freeze", &op), 0);
	assert_int_equal(op, HV_OP_FREEZE);
	assert_int_equal(hv_op_parse("hot_backup", &op), 0);
	assert_int_equal(op, HV_OP_HOT_BACKUP);
	assert_int_equal(hv_op_parse("get_dm_info", &op), 0);
	assert_int_equal(op, HV_OP_GET_DM_INFO);
	assert_int_equal(hv_op_parse("Thaw", &op), 0);
	assert_int_equal(op, HV_OP_THAW);
	assert_int_equal(hv_op_parse("register1", &op), 0);
	assert_int_equal(op, HV_OP_REGISTER1);
}

static void
test_op_parse_numbers(void **state)
{
	static const struct {
		const char *s;
		uint8_t op;
	} good[] = {{"0", 0}, {"1", 1}, {"2", 2}, {"3", 3}, {"4", 4}, {"5", 5},
	    {"6", 6}, {"7", 7}, {"8", 8}, {"128", 128}, {"129", 129},
	    {"255", 255}, {"007", 7}, {"00", 0}, {"0000000000000000000005", 5}};
	uint8_t op;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		op = 0xee;
		assert_int_equal(hv_op_parse(good[i].s, &op), 0);
		assert_int_equal(op, good[i].op);
	}
	/* Every value round-trips through its decimal form. */
	for (i = 0; i <= UINT8_MAX; i++) {
		char s[8];

		snprintf(s, sizeof(s), "%zu", i);
		assert_int_equal(hv_op_parse(s, &op), 0);
		assert_int_equal(op, i);
	}
}

static void
test_op_parse_bad(void **state)
{
	static const char *const bad[] = {"", " ", "256", "1000", "4294967301",
	    "99999999999999999999", "-1", "+1", " 5", "5 ", "5x", "0x5", "5.0",
	    "FREEZ", "FREEZEX", "FREEZE ", " FREEZE", "hot-backup", "hotbackup",
	    "UNKNOWN", "unknown", "COUNT", "REGISTER2", "freeze\n"};
	uint8_t op;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		op = 0xee;
		assert_int_equal(hv_op_parse(bad[i], &op), -EINVAL);
		assert_int_equal(op, 0xee); /* untouched */
	}
	assert_int_equal(hv_op_parse(NULL, &op), -EINVAL);
	assert_int_equal(hv_op_parse("FREEZE", NULL), -EINVAL);
}

static void
test_hresult_name(void **state)
{
	static const uint32_t unnamed[] = {1, 0x80004004u, 0x80004006u,
	    0x80070103u, 0x80070032u, 0x7fffffffu, 0xffffffffu};
	size_t i;

	assert_int_equal(HV_S_OK, 0);
	assert_int_equal(HV_E_FAIL, 0x80004005u);
	assert_string_equal(hv_hresult_name(HV_S_OK), "S_OK");
	assert_string_equal(hv_hresult_name(HV_E_FAIL), "E_FAIL");
	for (i = 0; i < sizeof(unnamed) / sizeof(unnamed[0]); i++)
		assert_null(hv_hresult_name(unnamed[i]));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_op_values),
	    cmocka_unit_test(test_encode_offsets),
	    cmocka_unit_test(test_encode_register1),
	    cmocka_unit_test(test_encode_reply_offsets),
	    cmocka_unit_test(test_decode_every_op),
	    cmocka_unit_test(test_decode_raw),
	    cmocka_unit_test(test_decode_bad_length),
	    cmocka_unit_test(test_decode_reply),
	    cmocka_unit_test(test_decode_reply_bad_length),
	    cmocka_unit_test(test_register_reply),
	    cmocka_unit_test(test_register_reply_bad_length),
	    cmocka_unit_test(test_reaches_daemon),
	    cmocka_unit_test(test_op_name),
	    cmocka_unit_test(test_op_parse_names),
	    cmocka_unit_test(test_op_parse_numbers),
	    cmocka_unit_test(test_op_parse_bad),
	    cmocka_unit_test(test_hresult_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
