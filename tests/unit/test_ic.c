/*
 * test_ic.c: unit tests for the Hyper-V IC framing codec (common/ic.c).
 * The host and the guest kernel find every field by its offset, so these
 * tests build packets and look at the raw bytes, then feed the decoders
 * every malformed shape we know of: too short, too long, the wrong type,
 * counts and sizes that lie about the packet.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <string.h>
#include <cmocka.h>

#include "hv_msg.h"
#include "ic.h"

#define BUF_SIZE (IC_MAX_PKT_SIZE + 1024)

static uint8_t pkt[BUF_SIZE];
static uint8_t copy[BUF_SIZE];

static const struct ic_version v1_0 = {1, 0};
static const struct ic_version v3_0 = {3, 0};
static const struct ic_version v4_0 = {4, 0};
static const struct ic_version v5_0 = {5, 0};
static const struct ic_version v6_0 = {6, 0};

static uint16_t
le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static void
set_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void
assert_version(struct ic_version v, uint16_t major, uint16_t minor)
{
	assert_int_equal(v.major, major);
	assert_int_equal(v.minor, minor);
}

/* The host's offer of the tests: fw 1.0 3.0 4.0, msg 4.0 5.0 6.0. */
static int
build_offer3(uint8_t txid)
{
	const struct ic_version fw[] = {v1_0, v3_0, v4_0};
	const struct ic_version msg[] = {v4_0, v5_0, v6_0};

	return ic_nego_build(pkt, sizeof(pkt), txid, fw, 3, msg, 3);
}

/* Answer the request in pkt as Linux's guest does: fw 3.0, msg 5.0. */
static int
guest_answer(size_t len, size_t cap, struct ic_version *fw_out,
    struct ic_version *msg_out)
{
	return ic_nego_answer(pkt, len, cap, &IC_FW_VERSION_GUEST, 1,
	    &IC_VSS_VERSION_GUEST, 1, fw_out, msg_out);
}

static int
setup(void **state)
{
	memset(pkt, 0xee, sizeof(pkt));
	memset(copy, 0xee, sizeof(copy));
	return 0;
}

/* --- constants and versions ------------------------------------------- */

static void
test_constants(void **state)
{
	assert_int_equal(IC_PIPE_HDR_SIZE, 8);
	assert_int_equal(IC_HDR_SIZE, 28);
	assert_int_equal(IC_VSS_MIN_SIZE, IC_HDR_SIZE + HV_MSG_SIZE);
	assert_int_equal(IC_MAX_PKT_SIZE, 8192);
	assert_int_equal(IC_FREEZE_PKT_SIZE, 6260);
	assert_int_equal(IC_NEGO_REPLY_MIN, 44);
	assert_int_equal(IC_FLAGS_REPLY, 5);
	assert_version(IC_FW_VERSION_GUEST, 3, 0);
	assert_version(IC_VSS_VERSION_GUEST, 5, 0);
}

static void
test_version_cmp(void **state)
{
	const struct ic_version a = {3, 0}, b = {3, 1}, c = {4, 0};
	const struct ic_version big = {0xffff, 0}, d = {2, 0xffff};

	assert_int_equal(ic_version_cmp(a, a), 0);
	assert_true(ic_version_cmp(a, b) < 0);
	assert_true(ic_version_cmp(b, a) > 0);
	assert_true(ic_version_cmp(b, c) < 0);
	assert_true(ic_version_cmp(c, b) > 0);
	assert_true(ic_version_cmp(d, a) < 0); /* major decides first */
	assert_true(ic_version_cmp(big, c) > 0); /* unsigned */
}

static void
test_version_choose(void **state)
{
	const struct ic_version host[] = {v1_0, v3_0, v4_0};
	const struct ic_version desc[] = {v4_0, v3_0, v1_0};
	const struct ic_version ours[] = {v3_0, v4_0};
	const struct ic_version v3_1 = {3, 1};
	const struct ic_version minors[] = {{3, 0}, {3, 2}, {3, 1}};
	const struct ic_version ours_m[] = {v3_1, v3_0};
	struct ic_version got = {0x77, 0x77};

	/* Highest common one, whatever the order of either list. */
	assert_int_equal(ic_version_choose(host, 3, ours, 2, &got), 0);
	assert_version(got, 4, 0);
	assert_int_equal(ic_version_choose(desc, 3, ours, 2, &got), 0);
	assert_version(got, 4, 0);
	assert_int_equal(ic_version_choose(ours, 2, host, 3, &got), 0);
	assert_version(got, 4, 0);

	/* Exact matches only: 3.2 is not 3.1. */
	assert_int_equal(ic_version_choose(minors, 3, ours_m, 2, &got), 0);
	assert_version(got, 3, 1);

	assert_int_equal(ic_version_choose(host, 3, &v3_0, 1, &got), 0);
	assert_version(got, 3, 0);

	/* None in common, or an empty list. */
	got = (struct ic_version){0x77, 0x77};
	assert_int_equal(ic_version_choose(host, 3, &v5_0, 1, &got), -ENOENT);
	assert_int_equal(ic_version_choose(host, 0, ours, 2, &got), -ENOENT);
	assert_int_equal(ic_version_choose(host, 3, ours, 0, &got), -ENOENT);
	assert_version(got, 0x77, 0x77); /* untouched */
}

/* --- the 28-byte header ----------------------------------------------- */

static void
test_hdr_encode_offsets(void **state)
{
	const struct ic_hdr h = {
	    .pipe_flags = 0x04030201u,
	    .pipe_size = 0x08070605u,
	    .fw = {0x0a09, 0x0c0b},
	    .type = 0x0e0d,
	    .msgver = {0x100f, 0x1211},
	    .size = 0x1413,
	    .status = 0x18171615u,
	    .txid = 0x19,
	    .flags = 0x1a,
	};
	static const uint8_t want[IC_HDR_SIZE] = {
	    0x01, 0x02, 0x03, 0x04, /*  0 pipe flags */
	    0x05, 0x06, 0x07, 0x08, /*  4 pipe size */
	    0x09, 0x0a, 0x0b, 0x0c, /*  8 fw major, minor */
	    0x0d, 0x0e, /* 12 type */
	    0x0f, 0x10, 0x11, 0x12, /* 14 msg major, minor */
	    0x13, 0x14, /* 18 size */
	    0x15, 0x16, 0x17, 0x18, /* 20 status */
	    0x19, /* 24 txid */
	    0x1a, /* 25 flags */
	    0x00, 0x00 /* 26 reserved */
	};
	struct ic_hdr d;

	ic_hdr_encode(&h, pkt);
	assert_memory_equal(pkt, want, sizeof(want));
	assert_int_equal(pkt[IC_HDR_SIZE], 0xee); /* nothing past it */

	/* Round trip: the size field (0x1413) needs that many bytes. */
	assert_int_equal(ic_hdr_decode(pkt, IC_HDR_SIZE + 0x1413, &d), 0);
	assert_int_equal(d.pipe_flags, h.pipe_flags);
	assert_int_equal(d.pipe_size, h.pipe_size);
	assert_version(d.fw, 0x0a09, 0x0c0b);
	assert_int_equal(d.type, h.type);
	assert_version(d.msgver, 0x100f, 0x1211);
	assert_int_equal(d.size, h.size);
	assert_int_equal(d.status, h.status);
	assert_int_equal(d.txid, h.txid);
	assert_int_equal(d.flags, h.flags);
}

static void
test_hdr_decode_bad(void **state)
{
	static const size_t shorts[] = {0, 1, 8, 11, 12, 20, 27};
	struct ic_hdr h = {0}, d;
	size_t i;

	ic_hdr_encode(&h, pkt); /* size 0 */
	for (i = 0; i < sizeof(shorts) / sizeof(shorts[0]); i++)
		assert_int_equal(ic_hdr_decode(pkt, shorts[i], &d), -EINVAL);
	assert_int_equal(ic_hdr_decode(NULL, IC_HDR_SIZE, &d), -EINVAL);
	assert_int_equal(ic_hdr_decode(pkt, IC_HDR_SIZE, &d), 0);
	assert_int_equal(ic_hdr_decode(pkt, IC_MAX_PKT_SIZE, &d), 0);

	/* Longer than Linux's VSS receive buffer. */
	assert_int_equal(
	    ic_hdr_decode(pkt, IC_MAX_PKT_SIZE + 1, &d), -EMSGSIZE);
	assert_int_equal(ic_hdr_decode(pkt, BUF_SIZE, &d), -EMSGSIZE);

	/* A size field that claims more than the packet has. */
	h.size = 1;
	ic_hdr_encode(&h, pkt);
	assert_int_equal(ic_hdr_decode(pkt, IC_HDR_SIZE, &d), -EBADMSG);
	assert_int_equal(ic_hdr_decode(pkt, IC_HDR_SIZE + 1, &d), 0);
	h.size = 0xffff;
	ic_hdr_encode(&h, pkt);
	assert_int_equal(ic_hdr_decode(pkt, IC_MAX_PKT_SIZE, &d), -EBADMSG);
	h.size = IC_MAX_PKT_SIZE - IC_HDR_SIZE;
	ic_hdr_encode(&h, pkt);
	assert_int_equal(ic_hdr_decode(pkt, IC_MAX_PKT_SIZE - 1, &d), -EBADMSG);
	assert_int_equal(ic_hdr_decode(pkt, IC_MAX_PKT_SIZE, &d), 0);
}

static void
test_is_reply(void **state)
{
	struct ic_hdr h = {0};

	h.flags = IC_FLAG_TRANSACTION | IC_FLAG_REQUEST;
	assert_false(ic_is_reply(&h));
	h.flags = IC_FLAGS_REPLY;
	assert_true(ic_is_reply(&h));
	h.flags = IC_FLAG_RESPONSE;
	assert_true(ic_is_reply(&h));
	h.flags = 0;
	assert_false(ic_is_reply(&h));
	assert_false(ic_is_reply(NULL));
}

/* --- negotiation -------------------------------------------------------- */

static void
test_nego_build_offsets(void **state)
{
	static const uint8_t want[] = {
	    0, 0, 0, 0, 52, 0, 0, 0, /*  0 pipe: flags 0, size 60 - 8 */
	    1, 0, 0, 0, /*  8 fw 1.0, the first offered */
	    0, 0, /* 12 type 0 */
	    4, 0, 0, 0, /* 14 msg 4.0, the first offered */
	    32, 0, /* 18 size */
	    0, 0, 0, 0, /* 20 status */
	    0x42, 3, 0, 0, /* 24 txid, flags 3, reserved */
	    3, 0, 3, 0, 0, 0, 0, 0, /* 28 counts 3/3, reserved */
	    1, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, /* 36 fw 1.0 3.0 4.0 */
	    4, 0, 0, 0, 5, 0, 0, 0, 6, 0, 0, 0 /* 48 msg 4.0 5.0 6.0 */
	};

	assert_int_equal(build_offer3(0x42), 60);
	assert_memory_equal(pkt, want, sizeof(want));
	assert_int_equal(pkt[60], 0xee); /* nothing past it */
}

static void
test_nego_build_minor_order(void **state)
{
	const struct ic_version fw = {0x0102, 0x0304};
	const struct ic_version msg = {0x0506, 0x0708};

	/* Major in the first u16, minor in the second, little-endian. */
	assert_int_equal(ic_nego_build(pkt, sizeof(pkt), 0, &fw, 1, &msg, 1),
	    IC_NEGO_REPLY_MIN);
	assert_int_equal(le32(pkt + 36), 0x03040102u);
	assert_int_equal(le32(pkt + 40), 0x07080506u);
	assert_int_equal(pkt[36], 0x02);
	assert_int_equal(pkt[38], 0x04);
}

static void
test_nego_build_bad(void **state)
{
	struct ic_version many[IC_NEGO_MAX_VERSIONS + 1];
	struct ic_nego n;
	unsigned int i;
	int len;

	for (i = 0; i < IC_NEGO_MAX_VERSIONS + 1; i++)
		many[i] = (struct ic_version){(uint16_t)i, 0};

	assert_int_equal(
	    ic_nego_build(pkt, sizeof(pkt), 0, many, 0, many, 1), -EINVAL);
	assert_int_equal(
	    ic_nego_build(pkt, sizeof(pkt), 0, many, 1, many, 0), -EINVAL);
	assert_int_equal(
	    ic_nego_build(pkt, sizeof(pkt), 0, many, 101, many, 1), -EINVAL);
	assert_int_equal(
	    ic_nego_build(pkt, sizeof(pkt), 0, many, 1, many, 101), -EINVAL);
	assert_int_equal(ic_nego_build(pkt, 43, 0, many, 1, many, 1), -ENOSPC);
	assert_int_equal(pkt[0], 0xee); /* nothing written */
	assert_int_equal(ic_nego_build(pkt, 44, 0, many, 1, many, 1), 44);

	/* 100 of each is the most, and it decodes. */
	len = ic_nego_build(pkt, sizeof(pkt), 0, many, 100, many, 100);
	assert_int_equal(len, 36 + 200 * 4);
	assert_int_equal(ic_nego_decode(pkt, (size_t)len, &n), 0);
	assert_int_equal(n.fw_count, 100);
	assert_int_equal(n.msg_count, 100);
	assert_version(n.fw[99], 99, 0);
	assert_version(n.msg[99], 99, 0);
}

static void
test_nego_decode(void **state)
{
	struct ic_nego n;
	int len;

	len = build_offer3(7);
	memset(&n, 0xaa, sizeof(n));
	assert_int_equal(ic_nego_decode(pkt, (size_t)len, &n), 0);
	assert_int_equal(n.fw_count, 3);
	assert_int_equal(n.msg_count, 3);
	assert_version(n.fw[0], 1, 0);
	assert_version(n.fw[1], 3, 0);
	assert_version(n.fw[2], 4, 0);
	assert_version(n.msg[0], 4, 0);
	assert_version(n.msg[1], 5, 0);
	assert_version(n.msg[2], 6, 0);

	/* Trailing bytes past the versions are allowed. */
	assert_int_equal(ic_nego_decode(pkt, (size_t)len + 100, &n), 0);
}

static void
test_nego_decode_short_long(void **state)
{
	static const size_t shorts[] = {0, 1, 11, 27, 28, 35};
	struct ic_nego n;
	size_t i;

	build_offer3(0);
	for (i = 0; i < sizeof(shorts) / sizeof(shorts[0]); i++)
		assert_int_equal(ic_nego_decode(pkt, shorts[i], &n), -EINVAL);
	assert_int_equal(ic_nego_decode(NULL, 60, &n), -EINVAL);
	assert_int_equal(
	    ic_nego_decode(pkt, IC_MAX_PKT_SIZE + 1, &n), -EMSGSIZE);
	assert_int_equal(ic_nego_decode(pkt, BUF_SIZE, &n), -EMSGSIZE);
}

static void
test_nego_decode_wrong_type(void **state)
{
	struct ic_nego n;
	int len;

	/* A VSS packet is not a negotiation, even a long one. */
	len = ic_vss_build(pkt, sizeof(pkt), 60, 0, v3_0, v5_0, HV_OP_FREEZE);
	assert_int_equal(len, 60);
	assert_int_equal(ic_nego_decode(pkt, 60, &n), -EINVAL);

	/* Any other type too. */
	build_offer3(0);
	set_le16(pkt + 12, 1); /* heartbeat */
	assert_int_equal(ic_nego_decode(pkt, 60, &n), -EINVAL);
}

static void
test_nego_decode_bad_counts(void **state)
{
	struct ic_nego n;

	/* More than Linux's limit of 100 per list. */
	build_offer3(0);
	set_le16(pkt + 28, 101);
	assert_int_equal(ic_nego_decode(pkt, BUF_SIZE - 1024, &n), -ERANGE);
	build_offer3(0);
	set_le16(pkt + 30, 101);
	assert_int_equal(ic_nego_decode(pkt, BUF_SIZE - 1024, &n), -ERANGE);
	build_offer3(0);
	set_le16(pkt + 28, 0xffff);
	set_le16(pkt + 30, 0xffff);
	assert_int_equal(ic_nego_decode(pkt, 60, &n), -ERANGE);

	/* Counts that claim more versions than the 60 bytes hold. */
	build_offer3(0);
	set_le16(pkt + 28, 4);
	assert_int_equal(ic_nego_decode(pkt, 60, &n), -EBADMSG);
	build_offer3(0);
	set_le16(pkt + 30, 4);
	assert_int_equal(ic_nego_decode(pkt, 60, &n), -EBADMSG);
	build_offer3(0);
	set_le16(pkt + 28, 100);
	set_le16(pkt + 30, 100);
	assert_int_equal(ic_nego_decode(pkt, 60, &n), -EBADMSG);

	/* The same packet cut one byte short. */
	build_offer3(0);
	set_le16(pkt + 18, 31);
	assert_int_equal(ic_nego_decode(pkt, 59, &n), -EBADMSG);

	/* Counts 0/0 are well-formed (and match nothing). */
	build_offer3(0);
	set_le16(pkt + 28, 0);
	set_le16(pkt + 30, 0);
	assert_int_equal(ic_nego_decode(pkt, 60, &n), 0);
	assert_int_equal(n.fw_count, 0);
	assert_int_equal(n.msg_count, 0);
}

static void
test_nego_decode_bad_size(void **state)
{
	struct ic_nego n;

	build_offer3(0);
	set_le16(pkt + 18, 33); /* 28 + 33 > 60 */
	assert_int_equal(ic_nego_decode(pkt, 60, &n), -EBADMSG);
	set_le16(pkt + 18, 0xffff);
	assert_int_equal(ic_nego_decode(pkt, 60, &n), -EBADMSG);
}

static void
test_nego_answer_several(void **state)
{
	struct ic_version fw_out, msg_out;
	struct ic_nego n;
	struct ic_hdr h;
	int len;

	/* Host: fw 1.0 3.0 4.0, msg 4.0 5.0 6.0; guest 3.0/5.0. */
	len = build_offer3(0x33);
	memcpy(copy, pkt, sizeof(pkt));
	assert_int_equal(
	    guest_answer((size_t)len, sizeof(pkt), &fw_out, &msg_out), 60);
	assert_version(fw_out, 3, 0);
	assert_version(msg_out, 5, 0);

	/* Raw bytes of the reply. */
	assert_int_equal(le16(pkt + 18), 16); /* size */
	assert_int_equal(le32(pkt + 20), HV_S_OK); /* status */
	assert_int_equal(pkt[24], 0x33); /* txid kept */
	assert_int_equal(pkt[25], 5); /* flags */
	assert_int_equal(le16(pkt + 28), 1); /* fw count */
	assert_int_equal(le16(pkt + 30), 1); /* msg count */
	assert_int_equal(le32(pkt + 36), 0x00000003u); /* slot 0: 3.0 */
	assert_int_equal(le32(pkt + 40), 0x00000005u); /* slot 1: 5.0 */
	/* Untouched: pipe header, versions and type, the rest. */
	assert_memory_equal(pkt, copy, 18);
	assert_memory_equal(pkt + 26, copy + 26, 2);
	assert_memory_equal(pkt + 32, copy + 32, 4);
	assert_memory_equal(pkt + 44, copy + 44, 16);
	assert_int_equal(pkt[60], 0xee);

	/* And it decodes as a negotiation reply. */
	assert_int_equal(ic_hdr_decode(pkt, 60, &h), 0);
	assert_true(ic_is_reply(&h));
	assert_int_equal(h.type, IC_TYPE_NEGOTIATE);
	assert_int_equal(ic_nego_decode(pkt, 60, &n), 0);
	assert_int_equal(n.fw_count, 1);
	assert_int_equal(n.msg_count, 1);
	assert_version(n.fw[0], 3, 0);
	assert_version(n.msg[0], 5, 0);
}

static void
test_nego_answer_highest(void **state)
{
	const struct ic_version fw[] = {v1_0, v4_0, v3_0};
	const struct ic_version msg[] = {v6_0, v4_0};
	struct ic_version fw_out, msg_out;
	int len, rc;

	/* Guest knows several too: the highest common one of each. */
	len = build_offer3(1);
	rc = ic_nego_answer(
	    pkt, (size_t)len, sizeof(pkt), fw, 3, msg, 2, &fw_out, &msg_out);
	assert_int_equal(rc, 60);
	assert_version(fw_out, 4, 0);
	assert_version(msg_out, 6, 0);
	assert_int_equal(le32(pkt + 36), 0x00000004u);
	assert_int_equal(le32(pkt + 40), 0x00000006u);
	assert_int_equal(le32(pkt + 20), HV_S_OK);

	/* The outputs may be NULL. */
	len = build_offer3(1);
	rc = ic_nego_answer(
	    pkt, (size_t)len, sizeof(pkt), fw, 3, msg, 2, NULL, NULL);
	assert_int_equal(rc, 60);
	assert_int_equal(le16(pkt + 28), 1);
}

static void
test_nego_answer_exact_44(void **state)
{
	struct ic_version fw_out, msg_out;
	int len;

	/* The guest's own offer, 44 bytes: the reply is 44 too. */
	len = ic_nego_build(pkt, sizeof(pkt), 9, &IC_FW_VERSION_GUEST, 1,
	    &IC_VSS_VERSION_GUEST, 1);
	assert_int_equal(len, 44);
	assert_int_equal(guest_answer(44, 44, &fw_out, &msg_out), 44);
	assert_version(fw_out, 3, 0);
	assert_version(msg_out, 5, 0);
	assert_int_equal(pkt[25], 5);
	assert_int_equal(pkt[24], 9);
	assert_int_equal(le16(pkt + 18), 16);
	assert_int_equal(pkt[44], 0xee);
}

static void
test_nego_answer_no_match(void **state)
{
	struct ic_version fw_out = {7, 7}, msg_out = {7, 7};
	const struct ic_version hfw[] = {v1_0}, hmsg[] = {v4_0, v6_0};
	int len;

	len = ic_nego_build(pkt, sizeof(pkt), 0x21, hfw, 1, hmsg, 2);
	assert_int_equal(len, 48);
	assert_int_equal(
	    guest_answer((size_t)len, sizeof(pkt), &fw_out, &msg_out), 48);
	assert_version(fw_out, 0, 0);
	assert_version(msg_out, 0, 0);
	assert_int_equal(le16(pkt + 28), 0); /* counts 0/0 */
	assert_int_equal(le16(pkt + 30), 0);
	assert_int_equal(le32(pkt + 20), HV_E_FAIL);
	assert_int_equal(pkt[20], 0x05);
	assert_int_equal(pkt[23], 0x80);
	assert_int_equal(pkt[25], 5);
	assert_int_equal(pkt[24], 0x21);
	assert_int_equal(le16(pkt + 18), 16);
}

static void
test_nego_answer_half_match(void **state)
{
	const struct ic_version hfw[] = {v3_0}, hmsg[] = {v4_0};
	struct ic_version fw_out = {7, 7}, msg_out = {7, 7};
	int len;

	/* The framework matches, the message version does not: a failure. */
	len = ic_nego_build(pkt, sizeof(pkt), 0, hfw, 1, hmsg, 1);
	assert_int_equal(
	    guest_answer((size_t)len, sizeof(pkt), &fw_out, &msg_out), 44);
	assert_version(fw_out, 0, 0);
	assert_version(msg_out, 0, 0);
	assert_int_equal(le16(pkt + 28), 0);
	assert_int_equal(le16(pkt + 30), 0);
	assert_int_equal(le32(pkt + 20), HV_E_FAIL);
}

static void
test_nego_answer_grows(void **state)
{
	const struct ic_hdr h = {
	    .type = IC_TYPE_NEGOTIATE,
	    .size = 12,
	    .txid = 4,
	    .flags = IC_FLAG_TRANSACTION | IC_FLAG_REQUEST,
	};
	struct ic_version fw_out, msg_out;
	int i;

	/* A 40-byte request, counts 1/0: the reply grows to 44. */
	ic_hdr_encode(&h, pkt);
	memset(pkt + 28, 0, 8);
	set_le16(pkt + 28, 1);
	set_le16(pkt + 36, 3);
	set_le16(pkt + 38, 0);
	assert_int_equal(
	    guest_answer(40, 64, &fw_out, &msg_out), IC_NEGO_REPLY_MIN);
	assert_version(fw_out, 0, 0);
	assert_version(msg_out, 0, 0);
	for (i = 36; i < 44; i++) /* no stale bytes */
		assert_int_equal(pkt[i], 0);
	assert_int_equal(pkt[44], 0xee);
	assert_int_equal(le32(pkt + 20), HV_E_FAIL);

	/* A 36-byte request with counts 0/0. */
	setup(NULL);
	ic_hdr_encode(&h, pkt);
	set_le16(pkt + 18, 8);
	memset(pkt + 28, 0, 8);
	assert_int_equal(
	    guest_answer(36, 44, &fw_out, &msg_out), IC_NEGO_REPLY_MIN);
	for (i = 36; i < 44; i++)
		assert_int_equal(pkt[i], 0);
	assert_int_equal(le16(pkt + 18), 16);
	assert_int_equal(pkt[25], 5);

	/* Without the room to grow. */
	setup(NULL);
	ic_hdr_encode(&h, pkt);
	memset(pkt + 28, 0, 12);
	set_le16(pkt + 28, 1);
	memcpy(copy, pkt, 64);
	assert_int_equal(guest_answer(40, 43, &fw_out, &msg_out), -ENOSPC);
	assert_memory_equal(pkt, copy, 64); /* untouched */
}

static void
test_nego_answer_bad(void **state)
{
	struct ic_version fw_out = {7, 7}, msg_out = {7, 7};
	int len;

	/* A VSS packet is not answered as a negotiation. */
	len =
	    ic_vss_build(pkt, sizeof(pkt), 60, 0, v3_0, v5_0, HV_OP_HOT_BACKUP);
	memcpy(copy, pkt, sizeof(pkt));
	assert_int_equal(
	    guest_answer((size_t)len, sizeof(pkt), &fw_out, &msg_out), -EINVAL);
	assert_memory_equal(pkt, copy, sizeof(pkt));
	assert_version(fw_out, 0, 0);
	assert_version(msg_out, 0, 0);

	/* Short, long, lying counts, cap under len. */
	len = build_offer3(0);
	memcpy(copy, pkt, sizeof(pkt));
	assert_int_equal(guest_answer(27, sizeof(pkt), NULL, NULL), -EINVAL);
	assert_int_equal(guest_answer(35, sizeof(pkt), NULL, NULL), -EINVAL);
	assert_int_equal(
	    guest_answer(IC_MAX_PKT_SIZE + 1, sizeof(pkt), NULL, NULL),
	    -EMSGSIZE);
	assert_int_equal(
	    guest_answer((size_t)len, (size_t)len - 1, NULL, NULL), -EINVAL);
	assert_memory_equal(pkt, copy, sizeof(pkt));
	set_le16(pkt + 28, 101);
	assert_int_equal(
	    guest_answer((size_t)len, sizeof(pkt), NULL, NULL), -ERANGE);
	set_le16(pkt + 28, 5);
	assert_int_equal(
	    guest_answer((size_t)len, sizeof(pkt), NULL, NULL), -EBADMSG);
}

/* --- VSS messages -------------------------------------------------------- */

static void
test_vss_build_offsets(void **state)
{
	const struct ic_version fw = {0x0102, 0x0304};
	const struct ic_version mv = {0x0506, 0x0708};
	static const uint8_t want[IC_VSS_MIN_SIZE] = {
	    0, 0, 0, 0, 0x6c, 0x18, 0, 0, /* pipe: 0, 6260 - 8 */
	    0x02, 0x01, 0x04, 0x03, /*  8 fw */
	    5, 0, /* 12 type VSS */
	    0x06, 0x05, 0x08, 0x07, /* 14 msg version */
	    0x58, 0x18, /* 18 size 6232 */
	    0, 0, 0, 0, /* 20 status */
	    0xab, /* 24 txid */
	    3, /* 25 TRANSACTION|REQUEST */
	    0, 0, /* 26 reserved */
	    HV_OP_FREEZE, 0, 0, 0, 0, 0, 0, 0, /* 28 op, reserved */
	    0, 0, 0, 0 /* 36 flags */
	};

	assert_int_equal(ic_vss_build(pkt, sizeof(pkt), IC_FREEZE_PKT_SIZE,
	                     0xab, fw, mv, HV_OP_FREEZE),
	    IC_FREEZE_PKT_SIZE);
	assert_memory_equal(pkt, want, sizeof(want));
	assert_int_equal(le16(pkt + 18), IC_FREEZE_PKT_SIZE - 28);
	assert_int_equal(pkt[IC_FREEZE_PKT_SIZE], 0xee);

	/* Every byte up to len is written: what was there does not show. */
	memset(copy, 0x11, sizeof(copy));
	assert_int_equal(ic_vss_build(copy, sizeof(copy), IC_FREEZE_PKT_SIZE,
	                     0xab, fw, mv, HV_OP_FREEZE),
	    IC_FREEZE_PKT_SIZE);
	assert_memory_equal(pkt, copy, IC_FREEZE_PKT_SIZE);
	assert_int_equal(copy[IC_FREEZE_PKT_SIZE], 0x11);
}

static void
test_vss_build_every_op(void **state)
{
	static const unsigned int opv[] = {
	    0, 1, 2, 3, 4, 5, 6, 7, HV_OP_REGISTER, HV_OP_REGISTER1, 200};
	struct ic_hdr h;
	struct ic_vss v;
	size_t i;

	for (i = 0; i < sizeof(opv) / sizeof(opv[0]); i++) {
		setup(NULL);
		assert_int_equal(ic_vss_build(pkt, sizeof(pkt), 40, (uint8_t)i,
		                     v3_0, v5_0, (uint8_t)opv[i]),
		    40);
		assert_int_equal(pkt[28], opv[i]);
		assert_int_equal(pkt[40], 0xee);
		memset(&v, 0xaa, sizeof(v));
		assert_int_equal(ic_vss_decode(pkt, 40, &h, &v), 0);
		assert_int_equal(v.op, opv[i]);
		assert_int_equal(v.flags, 0);
		assert_int_equal(h.type, IC_TYPE_VSS);
		assert_int_equal(h.txid, i);
		assert_int_equal(h.size, 12);
		assert_int_equal(h.flags, 3);
		assert_false(ic_is_reply(&h));
		assert_version(h.fw, 3, 0);
		assert_version(h.msgver, 5, 0);
	}
}

static void
test_vss_build_bad(void **state)
{
	assert_int_equal(
	    ic_vss_build(pkt, sizeof(pkt), 39, 0, v3_0, v5_0, HV_OP_FREEZE),
	    -EINVAL);
	assert_int_equal(
	    ic_vss_build(pkt, sizeof(pkt), 0, 0, v3_0, v5_0, HV_OP_FREEZE),
	    -EINVAL);
	assert_int_equal(ic_vss_build(pkt, sizeof(pkt), IC_MAX_PKT_SIZE + 1, 0,
	                     v3_0, v5_0, HV_OP_FREEZE),
	    -EINVAL);
	assert_int_equal(
	    ic_vss_build(pkt, 6259, 6260, 0, v3_0, v5_0, HV_OP_FREEZE),
	    -ENOSPC);
	assert_int_equal(pkt[0], 0xee); /* nothing written */
	assert_int_equal(ic_vss_build(pkt, IC_MAX_PKT_SIZE, IC_MAX_PKT_SIZE, 0,
	                     v3_0, v5_0, HV_OP_FREEZE),
	    IC_MAX_PKT_SIZE);
	assert_int_equal(pkt[IC_MAX_PKT_SIZE], 0xee);
}

static void
test_vss_decode_raw(void **state)
{
	struct ic_hdr h;
	struct ic_vss v;

	ic_vss_build(pkt, sizeof(pkt), 40, 0, v3_0, v5_0, HV_OP_THAW);
	pkt[29] = 0x99; /* reserved: ignored */
	pkt[36] = 0x78;
	pkt[37] = 0x56;
	pkt[38] = 0x34;
	pkt[39] = 0x12;
	assert_int_equal(ic_vss_decode(pkt, 40, &h, &v), 0);
	assert_int_equal(v.op, HV_OP_THAW);
	assert_int_equal(v.flags, 0x12345678u);

	/* h and v may be NULL. */
	assert_int_equal(ic_vss_decode(pkt, 40, NULL, &v), 0);
	assert_int_equal(ic_vss_decode(pkt, 40, &h, NULL), 0);
	assert_int_equal(ic_vss_decode(pkt, 40, NULL, NULL), 0);
}

static void
test_vss_decode_short_long(void **state)
{
	static const size_t shorts[] = {0, 1, 11, 12, 27, 28, 36, 39};
	struct ic_hdr h;
	struct ic_vss v = {0x77, 0x77};
	size_t i;

	ic_vss_build(
	    pkt, sizeof(pkt), IC_MAX_PKT_SIZE, 0, v3_0, v5_0, HV_OP_FREEZE);
	/* The size field says 8164; keep it honest for the short ones. */
	set_le16(pkt + 18, 0);
	for (i = 0; i < sizeof(shorts) / sizeof(shorts[0]); i++)
		assert_int_equal(
		    ic_vss_decode(pkt, shorts[i], &h, &v), -EINVAL);
	assert_int_equal(ic_vss_decode(NULL, 40, &h, &v), -EINVAL);
	assert_int_equal(
	    ic_vss_decode(pkt, IC_MAX_PKT_SIZE + 1, &h, &v), -EMSGSIZE);
	assert_int_equal(ic_vss_decode(pkt, 9000, &h, &v), -EMSGSIZE);
	assert_int_equal(ic_vss_decode(pkt, BUF_SIZE, &h, &v), -EMSGSIZE);
	assert_int_equal(v.op, 0x77); /* untouched */
	assert_int_equal(v.flags, 0x77);
	assert_int_equal(ic_vss_decode(pkt, IC_MAX_PKT_SIZE, &h, &v), 0);
}

static void
test_vss_decode_wrong_type(void **state)
{
	struct ic_vss v;
	int len;

	/* A negotiation packet, long enough to hold a VSS message. */
	len = build_offer3(0);
	assert_int_equal(ic_vss_decode(pkt, (size_t)len, NULL, &v), -EINVAL);

	/* Other types. */
	ic_vss_build(pkt, sizeof(pkt), 40, 0, v3_0, v5_0, HV_OP_FREEZE);
	set_le16(pkt + 12, 0);
	assert_int_equal(ic_vss_decode(pkt, 40, NULL, &v), -EINVAL);
	set_le16(pkt + 12, 0x0105); /* high byte counts too */
	assert_int_equal(ic_vss_decode(pkt, 40, NULL, &v), -EINVAL);
	set_le16(pkt + 12, 7);
	assert_int_equal(ic_vss_decode(pkt, 40, NULL, &v), -EINVAL);
}

static void
test_vss_decode_bad_size(void **state)
{
	struct ic_vss v;

	ic_vss_build(
	    pkt, sizeof(pkt), IC_FREEZE_PKT_SIZE, 0, v3_0, v5_0, HV_OP_FREEZE);
	set_le16(pkt + 18, IC_FREEZE_PKT_SIZE - 28 + 1);
	assert_int_equal(
	    ic_vss_decode(pkt, IC_FREEZE_PKT_SIZE, NULL, &v), -EBADMSG);
	set_le16(pkt + 18, 0xffff);
	assert_int_equal(
	    ic_vss_decode(pkt, IC_FREEZE_PKT_SIZE, NULL, &v), -EBADMSG);
	/* The full packet read as only its first 40 bytes. */
	ic_vss_build(
	    pkt, sizeof(pkt), IC_FREEZE_PKT_SIZE, 0, v3_0, v5_0, HV_OP_FREEZE);
	assert_int_equal(ic_vss_decode(pkt, 40, NULL, &v), -EBADMSG);
}

/* Answer a request for op; check that only status and flags changed. */
static void
answer_and_check(
    uint8_t op, size_t len, uint32_t hresult, const uint8_t *want_body)
{
	struct ic_hdr h;
	struct ic_vss v;
	size_t i;

	setup(NULL);
	assert_int_equal(
	    ic_vss_build(pkt, sizeof(pkt), len, 0x5c, v3_0, v5_0, op),
	    (int)len);
	/* Stale body flags, to see whether the answer sets them. */
	pkt[36] = 0xef;
	pkt[37] = 0xbe;
	pkt[38] = 0xad;
	pkt[39] = 0xde;
	memcpy(copy, pkt, sizeof(pkt));

	assert_int_equal(ic_vss_answer(pkt, len, hresult), 0);

	for (i = 0; i < sizeof(pkt); i++) {
		if (i >= 20 && i < 24)
			assert_int_equal(
			    pkt[i], (hresult >> (8 * (i - 20))) & 0xff);
		else if (i == 25)
			assert_int_equal(pkt[i], IC_FLAGS_REPLY);
		else if (i >= 36 && i < 40)
			assert_int_equal(pkt[i], want_body[i - 36]);
		else if (pkt[i] != copy[i])
			fail_msg(
			    "op %u: byte %zu changed", (unsigned int)op, i);
	}

	assert_int_equal(ic_vss_decode(pkt, len, &h, &v), 0);
	assert_true(ic_is_reply(&h));
	assert_int_equal(h.flags, 5);
	assert_int_equal(h.txid, 0x5c);
	assert_int_equal(h.status, hresult);
	assert_int_equal(h.size, len - 28);
	assert_int_equal(v.op, op); /* op kept */
}

static void
test_vss_answer_every_op(void **state)
{
	static const uint8_t hbu[4] = {0x05, 0, 0, 0};
	static const uint8_t zero[4] = {0, 0, 0, 0};
	static const uint8_t stale[4] = {0xef, 0xbe, 0xad, 0xde};
	static const unsigned int untouched[] = {HV_OP_CREATE, HV_OP_DELETE,
	    HV_OP_BU_COMPLETE, HV_OP_FREEZE, HV_OP_THAW, HV_OP_AUTO_RECOVER,
	    HV_OP_COUNT, HV_OP_REGISTER, HV_OP_REGISTER1, 0xff};
	size_t i;

	answer_and_check(HV_OP_HOT_BACKUP, 40, HV_S_OK, hbu);
	answer_and_check(HV_OP_HOT_BACKUP, 40, HV_E_FAIL, hbu);
	answer_and_check(HV_OP_HOT_BACKUP, 300, HV_S_OK, hbu);
	answer_and_check(HV_OP_GET_DM_INFO, 40, HV_S_OK, zero);
	answer_and_check(HV_OP_GET_DM_INFO, 100, HV_E_FAIL, zero);
	for (i = 0; i < sizeof(untouched) / sizeof(untouched[0]); i++) {
		answer_and_check((uint8_t)untouched[i], 40, HV_S_OK, stale);
		answer_and_check((uint8_t)untouched[i], 40, HV_E_FAIL, stale);
	}
}

static void
test_vss_hot_backup_reply(void **state)
{
	struct ic_vss v;

	ic_vss_build(pkt, sizeof(pkt), 40, 1, v3_0, v5_0, HV_OP_HOT_BACKUP);
	assert_int_equal(ic_vss_answer(pkt, 40, HV_S_OK), 0);
	assert_int_equal(ic_vss_decode(pkt, 40, NULL, &v), 0);
	assert_int_equal(v.flags, HV_HBU_NO_AUTO_RECOVERY);
	assert_int_equal(v.flags, 0x5);
	assert_int_equal(le32(pkt + 36), 0x5);
}

static void
test_vss_get_dm_info_reply(void **state)
{
	struct ic_vss v;

	ic_vss_build(pkt, sizeof(pkt), 40, 1, v3_0, v5_0, HV_OP_GET_DM_INFO);
	pkt[36] = 0x11;
	pkt[39] = 0x22;
	assert_int_equal(ic_vss_answer(pkt, 40, HV_S_OK), 0);
	assert_int_equal(ic_vss_decode(pkt, 40, NULL, &v), 0);
	assert_int_equal(v.flags, 0);
	assert_int_equal(le32(pkt + 36), 0);
}

static void
test_vss_freeze_round_trip(void **state)
{
	struct ic_hdr h, rh;
	struct ic_vss v, rv;
	int len;

	/* The host builds a full-size FREEZE, the guest decodes it... */
	len = ic_vss_build(pkt, sizeof(pkt), IC_FREEZE_PKT_SIZE, 0x7d,
	    IC_FW_VERSION_GUEST, IC_VSS_VERSION_GUEST, HV_OP_FREEZE);
	assert_int_equal(len, 6260);
	assert_int_equal(ic_vss_decode(pkt, (size_t)len, &h, &v), 0);
	assert_int_equal(v.op, HV_OP_FREEZE);
	assert_int_equal(h.txid, 0x7d);
	assert_int_equal(h.size, 6232);
	assert_false(ic_is_reply(&h));
	memcpy(copy, pkt, sizeof(pkt));

	/* ...answers in place, and the host decodes the reply. */
	assert_int_equal(ic_vss_answer(pkt, (size_t)len, HV_E_FAIL), 0);
	assert_int_equal(ic_vss_decode(pkt, (size_t)len, &rh, &rv), 0);
	assert_int_equal(rh.size, h.size); /* same length */
	assert_int_equal(rh.pipe_size, h.pipe_size);
	assert_int_equal(rh.txid, 0x7d); /* same txid */
	assert_int_equal(rh.flags, 5);
	assert_int_equal(rh.status, HV_E_FAIL);
	assert_true(ic_is_reply(&rh));
	assert_int_equal(rv.op, HV_OP_FREEZE);
	assert_int_equal(rv.flags, v.flags);
	/* The LUN data stand-in is left alone, byte for byte. */
	assert_memory_equal(pkt + 40, copy + 40, (size_t)len - 40);
	assert_memory_equal(pkt, copy, 20);
	assert_int_equal(pkt[len], 0xee);

	/* Answering again with S_OK flips only the status. */
	assert_int_equal(ic_vss_answer(pkt, (size_t)len, HV_S_OK), 0);
	assert_int_equal(ic_vss_decode(pkt, (size_t)len, &rh, NULL), 0);
	assert_int_equal(rh.status, HV_S_OK);
	assert_int_equal(le32(pkt + 20), 0);
}

static void
test_vss_answer_bad(void **state)
{
	int len;

	/* A negotiation packet is not a VSS message: nothing is written. */
	len = build_offer3(0);
	memcpy(copy, pkt, sizeof(pkt));
	assert_int_equal(ic_vss_answer(pkt, (size_t)len, HV_S_OK), -EINVAL);
	assert_memory_equal(pkt, copy, sizeof(pkt));

	ic_vss_build(pkt, sizeof(pkt), 40, 0, v3_0, v5_0, HV_OP_HOT_BACKUP);
	memcpy(copy, pkt, sizeof(pkt));
	assert_int_equal(ic_vss_answer(pkt, 0, HV_S_OK), -EINVAL);
	assert_int_equal(ic_vss_answer(pkt, 27, HV_S_OK), -EINVAL);
	assert_int_equal(ic_vss_answer(pkt, 39, HV_S_OK), -EINVAL);
	assert_int_equal(ic_vss_answer(NULL, 40, HV_S_OK), -EINVAL);
	assert_int_equal(
	    ic_vss_answer(pkt, IC_MAX_PKT_SIZE + 1, HV_S_OK), -EMSGSIZE);
	set_le16(pkt + 18, 13);
	copy[18] = 13;
	assert_int_equal(ic_vss_answer(pkt, 40, HV_S_OK), -EBADMSG);
	assert_memory_equal(pkt, copy, sizeof(pkt));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_constants, setup),
	    cmocka_unit_test_setup(test_version_cmp, setup),
	    cmocka_unit_test_setup(test_version_choose, setup),
	    cmocka_unit_test_setup(test_hdr_encode_offsets, setup),
	    cmocka_unit_test_setup(test_hdr_decode_bad, setup),
	    cmocka_unit_test_setup(test_is_reply, setup),
	    cmocka_unit_test_setup(test_nego_build_offsets, setup),
	    cmocka_unit_test_setup(test_nego_build_minor_order, setup),
	    cmocka_unit_test_setup(test_nego_build_bad, setup),
	    cmocka_unit_test_setup(test_nego_decode, setup),
	    cmocka_unit_test_setup(test_nego_decode_short_long, setup),
	    cmocka_unit_test_setup(test_nego_decode_wrong_type, setup),
	    cmocka_unit_test_setup(test_nego_decode_bad_counts, setup),
	    cmocka_unit_test_setup(test_nego_decode_bad_size, setup),
	    cmocka_unit_test_setup(test_nego_answer_several, setup),
	    cmocka_unit_test_setup(test_nego_answer_highest, setup),
	    cmocka_unit_test_setup(test_nego_answer_exact_44, setup),
	    cmocka_unit_test_setup(test_nego_answer_no_match, setup),
	    cmocka_unit_test_setup(test_nego_answer_half_match, setup),
	    cmocka_unit_test_setup(test_nego_answer_grows, setup),
	    cmocka_unit_test_setup(test_nego_answer_bad, setup),
	    cmocka_unit_test_setup(test_vss_build_offsets, setup),
	    cmocka_unit_test_setup(test_vss_build_every_op, setup),
	    cmocka_unit_test_setup(test_vss_build_bad, setup),
	    cmocka_unit_test_setup(test_vss_decode_raw, setup),
	    cmocka_unit_test_setup(test_vss_decode_short_long, setup),
	    cmocka_unit_test_setup(test_vss_decode_wrong_type, setup),
	    cmocka_unit_test_setup(test_vss_decode_bad_size, setup),
	    cmocka_unit_test_setup(test_vss_answer_every_op, setup),
	    cmocka_unit_test_setup(test_vss_hot_backup_reply, setup),
	    cmocka_unit_test_setup(test_vss_get_dm_info_reply, setup),
	    cmocka_unit_test_setup(test_vss_freeze_round_trip, setup),
	    cmocka_unit_test_setup(test_vss_answer_bad, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
