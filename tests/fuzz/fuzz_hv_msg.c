/*
 * fuzz_hv_msg.c: libFuzzer target for the kernel message codec
 * (common/hv_msg.c).
 *
 * What the device hands the daemon is 12 bytes from a kernel that speaks
 * for an untrusted host, and the simulator decodes the daemon's replies
 * and op names typed by a user.  The input goes to every decoder as it
 * is (libFuzzer's buffer is exactly the input's size, so ASan sees any
 * read past it), and what decodes must encode back to the same bytes;
 * the input as a string goes to hv_op_parse(), whose result must parse
 * again from its own name and number.  A broken property aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(int cond)
{
	if (!cond)
		abort();
}

static void
fuzz_decoders(const uint8_t *data, size_t size)
{
	uint8_t out[HV_MSG_SIZE];
	struct hv_msg m, m2;
	uint32_t hr, flags, ver;
	const char *name;

	if (hv_msg_decode(data, size, &m) == 0) {
		check(size == HV_MSG_SIZE);
		check(m.op == data[0]);
		hv_msg_encode(m.op, m.flags, out);
		check(out[0] == data[0]);
		check(memcmp(out + 8, data + 8, 4) == 0);
		check(hv_msg_decode(out, sizeof(out), &m2) == 0);
		check(m2.op == m.op && m2.flags == m.flags);
		/* every op has a name, served or not */
		name = hv_op_name(m.op);
		check(name != NULL && *name != '\0');
		(void)hv_op_reaches_daemon(m.op);
	} else
		check(size != HV_MSG_SIZE);

	if (hv_msg_decode_reply(data, size, &hr, &flags) == 0) {
		check(size == HV_MSG_SIZE);
		hv_msg_encode_reply(hr, flags, out);
		check(memcmp(out, data, 4) == 0);
		check(memcmp(out + 8, data + 8, 4) == 0);
		check(out[4] == 0 && out[5] == 0 && out[6] == 0 && out[7] == 0);
		name = hv_hresult_name(hr);
		check(name == NULL || hr == HV_S_OK || hr == HV_E_FAIL);
	} else
		check(size != HV_MSG_SIZE);
	/* the out-parameters are optional */
	(void)hv_msg_decode_reply(data, size, NULL, NULL);

	if (hv_msg_decode_register_reply(data, size, &ver) == 0)
		check(size == HV_REGISTER_REPLY_SIZE &&
		    (ver & 0xff) == data[0] && ver >> 24 == data[3]);
	else
		check(size != HV_REGISTER_REPLY_SIZE);
	(void)hv_msg_decode_register_reply(data, size, NULL);
}

static void
fuzz_op_parse(const uint8_t *data, size_t size)
{
	char *s, num[8];
	const char *name;
	uint8_t op, op2;

	/* a C string: up to the first NUL, as a caller would pass it */
	if ((s = malloc(size + 1)) == NULL)
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	if (hv_op_parse(s, &op) == 0) {
		check(*s != '\0');
		snprintf(num, sizeof(num), "%u", op);
		check(hv_op_parse(num, &op2) == 0 && op2 == op);
		name = hv_op_name(op);
		if (strcmp(name, "UNKNOWN") != 0)
			check(hv_op_parse(name, &op2) == 0 && op2 == op);
		if (*s >= '0' && *s <= '9')
			check((unsigned long)op == strtoul(s, NULL, 10));
		else
			check(strcmp(name, "UNKNOWN") != 0);
	}
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_decoders(data, size);
	fuzz_op_parse(data, size);
	return 0;
}
