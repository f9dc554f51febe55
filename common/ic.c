/*
 * ic.c: Hyper-V integration component (IC) framing for the VSS service
 * (see ic.h for the layout).  hv_vss_sim plays both ends with it: the
 * host builds negotiation and VSS requests, the emulated guest kernel
 * decodes them and answers in place, as the guest's driver does.
 *
 * Packets come from a peer we do not trust, so every function checks the
 * exact sizes before it reads or writes a byte, and every field is read
 * and written byte by byte as little-endian: no packed structs, no casts
 * of the buffer, no unaligned access.  Nothing here logs, exits or
 * allocates; errors come back as -errno.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hv_msg.h"
#include "ic.h"
#include "le.h"

/* Offsets in the packet, from the start of the in-band payload. */
#define OFF_PIPE_FLAGS 0
#define OFF_PIPE_SIZE 4
#define OFF_FW 8
#define OFF_TYPE 12
#define OFF_MSGVER 14
#define OFF_SIZE 18
#define OFF_STATUS 20
#define OFF_TXID 24
#define OFF_FLAGS 25
#define OFF_RESERVED 26

/* Negotiation payload: two u16 counts, u32 reserved, then versions. */
#define OFF_NEGO_FWCNT (IC_HDR_SIZE + 0)
#define OFF_NEGO_MSGCNT (IC_HDR_SIZE + 2)
#define OFF_NEGO_RESERVED (IC_HDR_SIZE + 4)
#define OFF_NEGO_VERS (IC_HDR_SIZE + 8)
#define IC_NEGO_MIN_SIZE OFF_NEGO_VERS
#define IC_VERSION_SIZE 4
#define IC_NEGO_REPLY_DSIZE 16 /* icmsgsize of a reply: 8 + two slots */

/* VSS payload: u8 op, 7 reserved, u32 flags. */
#define OFF_VSS_OP (IC_HDR_SIZE + 0)
#define OFF_VSS_FLAGS (IC_HDR_SIZE + 8)

static void
put_version(uint8_t *p, struct ic_version v)
{
	put_le16(p, v.major);
	put_le16(p + 2, v.minor);
}

static struct ic_version
get_version(const uint8_t *p)
{
	struct ic_version v;

	v.major = get_le16(p);
	v.minor = get_le16(p + 2);
	return v;
}

int
ic_version_cmp(struct ic_version a, struct ic_version b)
{
	if (a.major != b.major)
		return a.major < b.major ? -1 : 1;
	if (a.minor != b.minor)
		return a.minor < b.minor ? -1 : 1;
	return 0;
}

int
ic_hdr_decode(const uint8_t *pkt, size_t len, struct ic_hdr *h)
{
	uint16_t size;

	if (pkt == NULL || len < IC_HDR_SIZE)
		return -EINVAL;
	if (len > IC_MAX_PKT_SIZE)
		return -EMSGSIZE;
	size = get_le16(pkt + OFF_SIZE);
	if ((size_t)size > len - IC_HDR_SIZE)
		return -EBADMSG;
	if (h == NULL)
		return 0;
	h->pipe_flags = get_le32(pkt + OFF_PIPE_FLAGS);
	h->pipe_size = get_le32(pkt + OFF_PIPE_SIZE);
	h->fw = get_version(pkt + OFF_FW);
	h->type = get_le16(pkt + OFF_TYPE);
	h->msgver = get_version(pkt + OFF_MSGVER);
	h->size = size;
	h->status = get_le32(pkt + OFF_STATUS);
	h->txid = pkt[OFF_TXID];
	h->flags = pkt[OFF_FLAGS];
	return 0;
}

void
ic_hdr_encode(const struct ic_hdr *h, uint8_t *pkt)
{
	put_le32(pkt + OFF_PIPE_FLAGS, h->pipe_flags);
	put_le32(pkt + OFF_PIPE_SIZE, h->pipe_size);
	put_version(pkt + OFF_FW, h->fw);
	put_le16(pkt + OFF_TYPE, h->type);
	put_version(pkt + OFF_MSGVER, h->msgver);
	put_le16(pkt + OFF_SIZE, h->size);
	put_le32(pkt + OFF_STATUS, h->status);
	pkt[OFF_TXID] = h->txid;
	pkt[OFF_FLAGS] = h->flags;
	put_le16(pkt + OFF_RESERVED, 0);
}

/*
 * The header of a host request.  No guest reads the pipe header; we set
 * flags 0 and the size of what follows it, which is what it describes.
 */
static void
request_hdr(struct ic_hdr *h, size_t len, uint16_t type, uint8_t txid,
    struct ic_version fw, struct ic_version msgver)
{
	memset(h, 0, sizeof(*h));
	h->pipe_flags = 0;
	h->pipe_size = (uint32_t)(len - IC_PIPE_HDR_SIZE);
	h->fw = fw;
	h->type = type;
	h->msgver = msgver;
	h->size = (uint16_t)(len - IC_HDR_SIZE);
	h->status = HV_S_OK;
	h->txid = txid;
	h->flags = IC_FLAG_TRANSACTION | IC_FLAG_REQUEST;
}

int
ic_nego_build(uint8_t *pkt, size_t cap, uint8_t txid,
    const struct ic_version *fw, unsigned int nfw, const struct ic_version *msg,
    unsigned int nmsg)
{
	struct ic_hdr h;
	size_t len;
	uint8_t *p;
	unsigned int i;

	if (pkt == NULL || fw == NULL || msg == NULL || nfw == 0 || nmsg == 0 ||
	    nfw > IC_NEGO_MAX_VERSIONS || nmsg > IC_NEGO_MAX_VERSIONS)
		return -EINVAL;
	len = IC_NEGO_MIN_SIZE + (size_t)(nfw + nmsg) * IC_VERSION_SIZE;
	if (cap < len)
		return -ENOSPC;

	/* The header carries the first version of each list. */
	request_hdr(&h, len, IC_TYPE_NEGOTIATE, txid, fw[0], msg[0]);
	ic_hdr_encode(&h, pkt);
	put_le16(pkt + OFF_NEGO_FWCNT, (uint16_t)nfw);
	put_le16(pkt + OFF_NEGO_MSGCNT, (uint16_t)nmsg);
	put_le32(pkt + OFF_NEGO_RESERVED, 0);
	p = pkt + OFF_NEGO_VERS;
	for (i = 0; i < nfw; i++, p += IC_VERSION_SIZE)
		put_version(p, fw[i]);
	for (i = 0; i < nmsg; i++, p += IC_VERSION_SIZE)
		put_version(p, msg[i]);
	return (int)len;
}

int
ic_nego_decode(const uint8_t *pkt, size_t len, struct ic_nego *n)
{
	struct ic_hdr h;
	unsigned int fwc, msgc, i;
	const uint8_t *p;
	int error;

	if (pkt == NULL || n == NULL || len < IC_NEGO_MIN_SIZE)
		return -EINVAL;
	if ((error = ic_hdr_decode(pkt, len, &h)) < 0)
		return error;
	if (h.type != IC_TYPE_NEGOTIATE)
		return -EINVAL;
	fwc = get_le16(pkt + OFF_NEGO_FWCNT);
	msgc = get_le16(pkt + OFF_NEGO_MSGCNT);
	if (fwc > IC_NEGO_MAX_VERSIONS || msgc > IC_NEGO_MAX_VERSIONS)
		return -ERANGE;
	/* Both counts are at most 100, so this cannot overflow. */
	if ((size_t)(fwc + msgc) * IC_VERSION_SIZE > len - IC_NEGO_MIN_SIZE)
		return -EBADMSG;

	n->fw_count = (uint16_t)fwc;
	n->msg_count = (uint16_t)msgc;
	p = pkt + OFF_NEGO_VERS;
	for (i = 0; i < fwc; i++, p += IC_VERSION_SIZE)
		n->fw[i] = get_version(p);
	for (i = 0; i < msgc; i++, p += IC_VERSION_SIZE)
		n->msg[i] = get_version(p);
	return 0;
}

int
ic_version_choose(const struct ic_version *offered, unsigned int noff,
    const struct ic_version *ours, unsigned int nours,
    struct ic_version *chosen)
{
	struct ic_version best = {0, 0};
	unsigned int i, j;
	bool found = false;

	for (i = 0; i < noff; i++) {
		for (j = 0; j < nours; j++) {
			if (ic_version_cmp(offered[i], ours[j]) != 0)
				continue;
			if (!found || ic_version_cmp(offered[i], best) > 0)
				best = offered[i];
			found = true;
			break;
		}
	}
	if (!found)
		return -ENOENT;
	if (chosen != NULL)
		*chosen = best;
	return 0;
}

int
ic_nego_answer(uint8_t *pkt, size_t len, size_t cap,
    const struct ic_version *fw, unsigned int nfw, const struct ic_version *msg,
    unsigned int nmsg, struct ic_version *fw_out, struct ic_version *msg_out)
{
	struct ic_nego n;
	struct ic_version cfw = {0, 0}, cmsg = {0, 0};
	uint32_t status;
	uint16_t count;
	int error;

	if (fw_out != NULL)
		*fw_out = cfw;
	if (msg_out != NULL)
		*msg_out = cmsg;
	if ((error = ic_nego_decode(pkt, len, &n)) < 0)
		return error;
	if (cap < len) /* the caller's buffer cannot hold its packet */
		return -EINVAL;
	if (cap < IC_NEGO_REPLY_MIN)
		return -ENOSPC;

	/*
	 * Framework and message versions are chosen separately, but the
	 * answer succeeds only if both have a match: a half-negotiated
	 * channel is of no use to the host.
	 */
	if (ic_version_choose(n.fw, n.fw_count, fw, nfw, &cfw) == 0 &&
	    ic_version_choose(n.msg, n.msg_count, msg, nmsg, &cmsg) == 0) {
		count = 1;
		status = HV_S_OK;
	} else {
		cfw = (struct ic_version){0, 0};
		cmsg = (struct ic_version){0, 0};
		count = 0;
		status = HV_E_FAIL;
	}

	/*
	 * Both slots are written even on failure: a request shorter than
	 * the reply grows into bytes of pkt that hold nothing yet.
	 */
	put_le16(pkt + OFF_NEGO_FWCNT, count);
	put_le16(pkt + OFF_NEGO_MSGCNT, count);
	put_version(pkt + OFF_NEGO_VERS, cfw);
	put_version(pkt + OFF_NEGO_VERS + IC_VERSION_SIZE, cmsg);
	put_le16(pkt + OFF_SIZE, IC_NEGO_REPLY_DSIZE);
	put_le32(pkt + OFF_STATUS, status);
	pkt[OFF_FLAGS] = IC_FLAGS_REPLY;

	if (fw_out != NULL)
		*fw_out = cfw;
	if (msg_out != NULL)
		*msg_out = cmsg;
	return (int)(len > IC_NEGO_REPLY_MIN ? len : IC_NEGO_REPLY_MIN);
}

int
ic_vss_build(uint8_t *pkt, size_t cap, size_t len, uint8_t txid,
    struct ic_version fw, struct ic_version msgver, uint8_t op)
{
	struct ic_hdr h;
	size_t i;

	if (pkt == NULL || len < IC_VSS_MIN_SIZE || len > IC_MAX_PKT_SIZE)
		return -EINVAL;
	if (cap < len)
		return -ENOSPC;

	request_hdr(&h, len, IC_TYPE_VSS, txid, fw, msgver);
	ic_hdr_encode(&h, pkt);
	memset(pkt + IC_HDR_SIZE, 0, IC_VSS_MIN_SIZE - IC_HDR_SIZE);
	pkt[OFF_VSS_OP] = op;
	/*
	 * Stand-in for the LUN data of a real FREEZE, which Linux ignores:
	 * a pattern that depends on the offset, so that a reply which
	 * shifts or clobbers it can be told from one that leaves it alone.
	 */
	for (i = IC_VSS_MIN_SIZE; i < len; i++)
		pkt[i] = (uint8_t)(i ^ 0x5a);
	return (int)len;
}

int
ic_vss_decode(
    const uint8_t *pkt, size_t len, struct ic_hdr *h, struct ic_vss *v)
{
	struct ic_hdr hdr;
	int error;

	if (pkt == NULL || len < IC_VSS_MIN_SIZE)
		return -EINVAL;
	if ((error = ic_hdr_decode(pkt, len, &hdr)) < 0)
		return error;
	if (hdr.type != IC_TYPE_VSS)
		return -EINVAL;
	if (h != NULL)
		*h = hdr;
	if (v != NULL) {
		v->op = pkt[OFF_VSS_OP];
		v->flags = get_le32(pkt + OFF_VSS_FLAGS);
	}
	return 0;
}

int
ic_vss_answer(uint8_t *pkt, size_t len, uint32_t hresult)
{
	int error;

	if ((error = ic_vss_decode(pkt, len, NULL, NULL)) < 0)
		return error;

	/*
	 * Decide from the request's op byte, here where it is still intact:
	 * the daemon's 12-byte reply writes its HRESULT over its own copy
	 * of the op, so that copy cannot tell a HOT_BACKUP any more.
	 */
	switch (pkt[OFF_VSS_OP]) {
	case HV_OP_HOT_BACKUP:
		put_le32(pkt + OFF_VSS_FLAGS, HV_HBU_NO_AUTO_RECOVERY);
		break;
	case HV_OP_GET_DM_INFO:
		put_le32(pkt + OFF_VSS_FLAGS, 0);
		break;
	default:
		break;
	}
	put_le32(pkt + OFF_STATUS, hresult);
	pkt[OFF_FLAGS] = IC_FLAGS_REPLY;
	return 0;
}

bool
ic_is_reply(const struct ic_hdr *h)
{
	return h != NULL && (h->flags & IC_FLAG_RESPONSE) != 0;
}
