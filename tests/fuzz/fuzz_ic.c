/*
 * fuzz_ic.c: libFuzzer target for the Hyper-V IC framing (common/ic.c).
 *
 * The packets come from the other end of VMBus: the emulated kernel
 * decodes what the host sends and answers in place, so a packet that
 * makes an answer write past its buffer is a heap overflow in the
 * simulator.  Every decoder gets the input as it is; the answers work on
 * a copy in a buffer of exactly the size they are told (ASan catches one
 * byte past it) and must leave a packet that decodes as their reply.
 * The first bytes also drive the builders, whose packets must decode to
 * what they were built from.  A broken property aborts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hv_msg.h"
#include "ic.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define OFF_STATUS 20
#define OFF_FLAGS 25

static void
check(int cond)
{
	if (!cond)
		abort();
}

static uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static void
fuzz_decode(const uint8_t *data, size_t size)
{
	struct ic_hdr h, h2;
	struct ic_vss v;
	static struct ic_nego n;
	struct ic_version c;
	uint8_t hdr[IC_HDR_SIZE];

	if (ic_hdr_decode(data, size, &h) == 0) {
		check(size >= IC_HDR_SIZE && size <= IC_MAX_PKT_SIZE);
		check((size_t)h.size <= size - IC_HDR_SIZE);
		/* encode gives the same header back (reserved bytes 0) */
		ic_hdr_encode(&h, hdr);
		check(memcmp(hdr, data, 26) == 0);
		check(ic_hdr_decode(hdr, sizeof(hdr), &h2) == 0 || h.size > 0);
		(void)ic_is_reply(&h);
	}
	(void)ic_hdr_decode(data, size, NULL);

	if (ic_nego_decode(data, size, &n) == 0) {
		check(n.fw_count <= IC_NEGO_MAX_VERSIONS);
		check(n.msg_count <= IC_NEGO_MAX_VERSIONS);
		check(
		    IC_HDR_SIZE + 8 + 4 * ((size_t)n.fw_count + n.msg_count) <=
		    size);
		if (ic_version_choose(
		        n.fw, n.fw_count, n.msg, n.msg_count, &c) == 0)
			check(n.fw_count > 0 && n.msg_count > 0);
	}

	if (ic_vss_decode(data, size, &h, &v) == 0) {
		check(size >= IC_VSS_MIN_SIZE && h.type == IC_TYPE_VSS);
		check(v.op == data[IC_HDR_SIZE]);
	}
	(void)ic_vss_decode(data, size, NULL, NULL);
}

/* Answer a copy of the packet in a buffer of exactly cap bytes. */
static void
fuzz_nego_answer(const uint8_t *data, size_t size, size_t cap)
{
	static const struct ic_version fw[] = {{3, 0}, {1, 0}};
	static const struct ic_version msg[] = {{5, 0}, {4, 0}, {3, 0}};
	static struct ic_nego n;
	struct ic_version cfw, cmsg;
	struct ic_hdr h;
	uint8_t *buf;
	int rc;

	if (cap == 0 || (buf = malloc(cap)) == NULL)
		return;
	memset(buf, 0xee, cap);
	memcpy(buf, data, size < cap ? size : cap);
	rc = ic_nego_answer(
	    buf, size < cap ? size : cap, cap, fw, 2, msg, 3, &cfw, &cmsg);
	if (rc >= 0) {
		check((size_t)rc <= cap && rc >= IC_NEGO_REPLY_MIN);
		check(ic_nego_decode(buf, (size_t)rc, &n) == 0);
		check(ic_hdr_decode(buf, (size_t)rc, &h) == 0);
		check(h.flags == IC_FLAGS_REPLY && ic_is_reply(&h));
		check(n.fw_count == n.msg_count && n.fw_count <= 1);
		check((n.fw_count == 1) == (h.status == HV_S_OK));
		check(n.fw_count == 0 ||
		    (n.fw[0].major == cfw.major && n.fw[0].minor == cfw.minor &&
		        n.msg[0].major == cmsg.major &&
		        n.msg[0].minor == cmsg.minor));
	}
	free(buf);
}

static void
fuzz_vss_answer(const uint8_t *data, size_t size, uint32_t hresult)
{
	struct ic_hdr h;
	struct ic_vss v;
	uint8_t *buf;

	if (size == 0 || (buf = malloc(size)) == NULL)
		return;
	memcpy(buf, data, size);
	if (ic_vss_answer(buf, size, hresult) == 0) {
		check(ic_vss_decode(buf, size, &h, &v) == 0);
		check(h.status == hresult && h.flags == IC_FLAGS_REPLY);
		check(v.op == data[IC_HDR_SIZE]);
		if (v.op == HV_OP_HOT_BACKUP)
			check(v.flags == HV_HBU_NO_AUTO_RECOVERY);
		/* nothing but status, flags and the body's flags changes */
		check(memcmp(buf, data, OFF_STATUS) == 0);
		check(memcmp(buf + OFF_STATUS + 4, data + OFF_STATUS + 4,
		          OFF_FLAGS - OFF_STATUS - 4) == 0);
		check(memcmp(buf + OFF_FLAGS + 1, data + OFF_FLAGS + 1,
		          IC_HDR_SIZE + 8 - OFF_FLAGS - 1) == 0);
		check(memcmp(buf + IC_VSS_MIN_SIZE, data + IC_VSS_MIN_SIZE,
		          size - IC_VSS_MIN_SIZE) == 0);
	} else
		check(memcmp(buf, data, size) == 0);
	free(buf);
}

/* The builders, driven by the first bytes; their output must decode. */
static void
fuzz_build(const uint8_t *data, size_t size)
{
	static struct ic_version fw[IC_NEGO_MAX_VERSIONS + 1];
	static struct ic_version msg[IC_NEGO_MAX_VERSIONS + 1];
	static struct ic_nego n;
	struct ic_hdr h;
	struct ic_vss v;
	unsigned int nfw, nmsg, i;
	size_t cap, len;
	uint8_t *buf;
	int rc;

	if (size < 8)
		return;
	nfw = data[0] % (IC_NEGO_MAX_VERSIONS + 2);
	nmsg = data[1] % (IC_NEGO_MAX_VERSIONS + 2);
	cap = (size_t)(data[2] | data[3] << 8) % (IC_MAX_PKT_SIZE + 64);
	len = (size_t)(data[4] | data[5] << 8) % (IC_MAX_PKT_SIZE + 64);
	for (i = 0; i <= IC_NEGO_MAX_VERSIONS; i++) {
		fw[i] = (struct ic_version){(uint16_t)i, data[6]};
		msg[i] = (struct ic_version){(uint16_t)(i ^ data[7]), 0};
	}
	if (cap == 0 || (buf = malloc(cap)) == NULL)
		return;

	rc = ic_nego_build(buf, cap, data[6], fw, nfw, msg, nmsg);
	if (rc >= 0) {
		check((size_t)rc <= cap && nfw > 0 && nmsg > 0);
		check(ic_nego_decode(buf, (size_t)rc, &n) == 0);
		check(n.fw_count == nfw && n.msg_count == nmsg);
		for (i = 0; i < nfw; i++)
			check(ic_version_cmp(n.fw[i], fw[i]) == 0);
		for (i = 0; i < nmsg; i++)
			check(ic_version_cmp(n.msg[i], msg[i]) == 0);
	} else
		check(nfw == 0 || nmsg == 0 || nfw > IC_NEGO_MAX_VERSIONS ||
		    nmsg > IC_NEGO_MAX_VERSIONS || rc == -ENOSPC);

	rc = ic_vss_build(buf, cap, len, data[6], fw[1], msg[1], data[7]);
	if (rc >= 0) {
		check((size_t)rc == len && len <= cap);
		check(ic_vss_decode(buf, len, &h, &v) == 0);
		check(v.op == data[7] && h.txid == data[6] && !ic_is_reply(&h));
		check(h.size == len - IC_HDR_SIZE);
	}
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t hresult = size >= 4 ? le32(data + size - 4) : HV_E_FAIL;

	fuzz_decode(data, size);
	fuzz_nego_answer(data, size, size); /* exactly the packet */
	fuzz_nego_answer(
	    data, size, size > IC_NEGO_REPLY_MIN ? size : IC_NEGO_REPLY_MIN);
	fuzz_vss_answer(data, size, hresult);
	fuzz_build(data, size);
	return 0;
}
