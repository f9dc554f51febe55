/*
 * hv_msg.c: codec for the 12-byte message of Linux's /dev/vmbus/hv_vss
 * (see hv_msg.h for the layout).  The daemon reads requests and writes
 * replies with it; hv_vss_sim plays the kernel's side with the same code,
 * so both ends agree on every byte.
 *
 * The kernel uses the machine's byte order, which is little-endian on
 * every Hyper-V guest; we spell it out byte by byte so that the codec
 * needs neither packed structs nor unaligned loads.  Nothing here logs,
 * exits or allocates: errors come back as -errno.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hv_msg.h"
#include "le.h"

#define HV_MSG_FLAGS_OFF 8 /* u32 flags after op and 7 reserved */

static const char *const hv_op_names[HV_OP_COUNT] = {
    [HV_OP_CREATE] = "CREATE",
    [HV_OP_DELETE] = "DELETE",
    [HV_OP_HOT_BACKUP] = "HOT_BACKUP",
    [HV_OP_GET_DM_INFO] = "GET_DM_INFO",
    [HV_OP_BU_COMPLETE] = "BU_COMPLETE",
    [HV_OP_FREEZE] = "FREEZE",
    [HV_OP_THAW] = "THAW",
    [HV_OP_AUTO_RECOVER] = "AUTO_RECOVER",
};

void
hv_msg_encode(uint8_t op, uint32_t flags, uint8_t out[HV_MSG_SIZE])
{
	memset(out, 0, HV_MSG_SIZE);
	out[0] = op;
	put_le32(out + HV_MSG_FLAGS_OFF, flags);
}

void
hv_msg_encode_reply(uint32_t hresult, uint32_t flags, uint8_t out[HV_MSG_SIZE])
{
	/* "int error" overlays bytes 0..3 of the union; 4..7 stay zero. */
	memset(out, 0, HV_MSG_SIZE);
	put_le32(out, hresult);
	put_le32(out + HV_MSG_FLAGS_OFF, flags);
}

int
hv_msg_decode(const void *buf, size_t len, struct hv_msg *m)
{
	const uint8_t *p = buf;

	if (buf == NULL || m == NULL || len != HV_MSG_SIZE)
		return -EINVAL;
	m->op = p[0];
	m->flags = get_le32(p + HV_MSG_FLAGS_OFF);
	return 0;
}

int
hv_msg_decode_reply(
    const void *buf, size_t len, uint32_t *hresult, uint32_t *flags)
{
	const uint8_t *p = buf;

	if (buf == NULL || len != HV_MSG_SIZE)
		return -EINVAL;
	if (hresult != NULL)
		*hresult = get_le32(p);
	if (flags != NULL)
		*flags = get_le32(p + HV_MSG_FLAGS_OFF);
	return 0;
}

int
hv_msg_decode_register_reply(const void *buf, size_t len, uint32_t *version)
{
	if (buf == NULL || len != HV_REGISTER_REPLY_SIZE)
		return -EINVAL;
	if (version != NULL)
		*version = get_le32(buf);
	return 0;
}

bool
hv_op_reaches_daemon(unsigned int op)
{
	return op == HV_OP_FREEZE || op == HV_OP_THAW || op == HV_OP_HOT_BACKUP;
}

const char *
hv_op_name(unsigned int op)
{
	if (op < HV_OP_COUNT)
		return hv_op_names[op];
	if (op == HV_OP_REGISTER)
		return "REGISTER";
	if (op == HV_OP_REGISTER1)
		return "REGISTER1";
	return "UNKNOWN";
}

/*
 * ASCII-only case folding: strcasecmp() follows the locale, and in a
 * Turkish one "i" and "I" are not each other's case, so "get_dm_info"
 * would not parse.
 */
static bool
ascii_caseeq(const char *a, const char *b)
{
	unsigned char ca, cb;

	do {
		ca = (unsigned char)*a++;
		cb = (unsigned char)*b++;
		if (ca >= 'a' && ca <= 'z')
			ca -= 'a' - 'A';
		if (cb >= 'a' && cb <= 'z')
			cb -= 'a' - 'A';
		if (ca != cb)
			return false;
	} while (ca != '\0');
	return true;
}

int
hv_op_parse(const char *s, uint8_t *op)
{
	static const uint8_t named[] = {
	    HV_OP_CREATE,
	    HV_OP_DELETE,
	    HV_OP_HOT_BACKUP,
	    HV_OP_GET_DM_INFO,
	    HV_OP_BU_COMPLETE,
	    HV_OP_FREEZE,
	    HV_OP_THAW,
	    HV_OP_AUTO_RECOVER,
	    HV_OP_REGISTER,
	    HV_OP_REGISTER1,
	};
	unsigned int v;
	size_t i;

	if (s == NULL || op == NULL || *s == '\0')
		return -EINVAL;

	if (*s >= '0' && *s <= '9') {
		/* Digits only: no sign, no spaces, no trailing junk. */
		v = 0;
		for (i = 0; s[i] != '\0'; i++) {
			if (s[i] < '0' || s[i] > '9')
				return -EINVAL;
			v = v * 10 + (unsigned int)(s[i] - '0');
			if (v > UINT8_MAX)
				return -EINVAL;
		}
		*op = (uint8_t)v;
		return 0;
	}

	for (i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		if (ascii_caseeq(s, hv_op_name(named[i]))) {
			*op = named[i];
			return 0;
		}
	}
	return -EINVAL;
}

const char *
hv_hresult_name(uint32_t hresult)
{
	switch (hresult) {
	case HV_S_OK:
		return "S_OK";
	case HV_E_FAIL:
		return "E_FAIL";
	default:
		return NULL;
	}
}
