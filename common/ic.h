/*
 * ic.h: Hyper-V integration component (IC) framing, as the host and the
 * guest kernel exchange it over VMBus for the VSS service.  The guest side
 * of this lives in the kernel (Linux drivers/hv/hv_snapshot.c); hvvss uses
 * it in hv_vss_sim, so that what reaches the daemon came through the same
 * shape of path as on a real host.
 *
 * All fields little-endian, packed; offsets from the start of the in-band
 * payload:
 *
 *   off size field
 *     0    4 pipe flags
 *     4    4 pipe message size
 *     8    4 framework version (u16 major, u16 minor)
 *    12    2 message type: IC_TYPE_NEGOTIATE 0, IC_TYPE_VSS 5
 *    14    4 message (service) version (u16 major, u16 minor)
 *    18    2 size of the payload after the 28-byte header
 *    20    4 status: the HRESULT the guest puts in its reply
 *    24    1 transaction id
 *    25    1 flags: TRANSACTION 1 | REQUEST 2 | RESPONSE 4; a reply has 5
 *    26    2 reserved
 *    28      payload
 *
 * Negotiation payload (type 0), at 28: u16 framework version count, u16
 * message version count, u32 reserved, then the versions (framework ones
 * first), 4 bytes each.  The reply has both counts 1 (slot 0 framework,
 * slot 1 message), or both 0 when no common version exists, with an
 * HRESULT in status.
 *
 * VSS payload (type 5), at 28: u8 operation, 7 reserved, u32 flags (the
 * HOT_BACKUP reply's HV_HBU_NO_AUTO_RECOVERY), then data Linux ignores: a
 * FREEZE can be IC_FREEZE_PKT_SIZE bytes long.
 *
 * A reply has the length of its request (a negotiation reply at least
 * IC_NEGO_REPLY_MIN), is edited in place, and carries the same ids.
 *
 * No logging, no exit: functions return a length, 0 or -errno.
 */
#ifndef HVVSS_IC_H
#define HVVSS_IC_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define IC_PIPE_HDR_SIZE 8
#define IC_HDR_SIZE 28 /* pipe header + IC header */
#define IC_VSS_MIN_SIZE 40 /* IC_HDR_SIZE + 12-byte VSS message */
#define IC_MAX_PKT_SIZE 8192 /* Linux VSS_MAX_PKT_SIZE */
#define IC_FREEZE_PKT_SIZE 6260 /* a FREEZE with its LUN data */
#define IC_NEGO_MAX_VERSIONS 100 /* per list, as Linux enforces */
#define IC_NEGO_REPLY_MIN 44 /* 28 + 8 + two version slots */

#define IC_TYPE_NEGOTIATE 0
#define IC_TYPE_VSS 5

#define IC_FLAG_TRANSACTION 0x01
#define IC_FLAG_REQUEST 0x02
#define IC_FLAG_RESPONSE 0x04
#define IC_FLAGS_REPLY (IC_FLAG_TRANSACTION | IC_FLAG_RESPONSE)

struct ic_version {
	uint16_t major;
	uint16_t minor;
};

/* Versions Linux's guest offers for VSS: framework 3.0, message 5.0. */
#define IC_FW_VERSION_GUEST ((struct ic_version){3, 0})
#define IC_VSS_VERSION_GUEST ((struct ic_version){5, 0})

/* The decoded 28-byte header. */
struct ic_hdr {
	uint32_t pipe_flags;
	uint32_t pipe_size;
	struct ic_version fw; /* framework version */
	uint16_t type; /* IC_TYPE_* */
	struct ic_version msgver; /* service version */
	uint16_t size; /* payload bytes after the header */
	uint32_t status; /* HRESULT */
	uint8_t txid;
	uint8_t flags; /* IC_FLAG_* */
};

/* A decoded negotiation message. */
struct ic_nego {
	uint16_t fw_count;
	uint16_t msg_count;
	struct ic_version fw[IC_NEGO_MAX_VERSIONS];
	struct ic_version msg[IC_NEGO_MAX_VERSIONS];
};

/* A decoded VSS message. */
struct ic_vss {
	uint8_t op; /* HV_OP_* of hv_msg.h */
	uint32_t flags;
};

/* Compare two versions: <0, 0, >0. */
int ic_version_cmp(struct ic_version a, struct ic_version b);

/*
 * Decode the header of a packet of len bytes.  -EINVAL if shorter than
 * IC_HDR_SIZE, -EMSGSIZE if longer than IC_MAX_PKT_SIZE, -EBADMSG if the
 * header's size field claims more bytes than the packet has.
 */
int ic_hdr_decode(const uint8_t *pkt, size_t len, struct ic_hdr *h);

/* Encode h into the first IC_HDR_SIZE bytes of pkt. */
void ic_hdr_encode(const struct ic_hdr *h, uint8_t *pkt);

/*
 * Host side: build a negotiation request offering the given versions into
 * pkt (cap bytes).  Returns its length, or -EINVAL (a count of 0 or over
 * IC_NEGO_MAX_VERSIONS), -ENOSPC (cap too small).
 */
int ic_nego_build(uint8_t *pkt, size_t cap, uint8_t txid,
    const struct ic_version *fw, unsigned int nfw, const struct ic_version *msg,
    unsigned int nmsg);

/*
 * Decode a negotiation message (request or reply).  -EINVAL if short or
 * not type 0, -EMSGSIZE if too long, -ERANGE if a count exceeds
 * IC_NEGO_MAX_VERSIONS, -EBADMSG if the counts claim more versions than
 * the packet holds.
 */
int ic_nego_decode(const uint8_t *pkt, size_t len, struct ic_nego *n);

/*
 * Choose the highest version present in both lists.  Returns 0 and sets
 * *chosen, or -ENOENT when there is none.
 */
int ic_version_choose(const struct ic_version *offered, unsigned int noff,
    const struct ic_version *ours, unsigned int nours,
    struct ic_version *chosen);

/*
 * Guest side: answer the negotiation request in pkt (len bytes, cap bytes
 * of room) in place, with our framework and message versions.  On a common
 * version: counts 1/1, the choices in slots 0/1, status S_OK.  Without
 * one: counts 0/0 and status HV_E_FAIL.  Sets size 16 and the reply
 * flags.  Returns the reply length (max(len, IC_NEGO_REPLY_MIN)) or the
 * decode error; -ENOSPC if cap < IC_NEGO_REPLY_MIN.  *fw_out and *msg_out
 * (may be NULL) receive the choices, {0, 0} on failure.
 */
int ic_nego_answer(uint8_t *pkt, size_t len, size_t cap,
    const struct ic_version *fw, unsigned int nfw, const struct ic_version *msg,
    unsigned int nmsg, struct ic_version *fw_out, struct ic_version *msg_out);

/*
 * Host side: build a VSS request of total length len (IC_VSS_MIN_SIZE ..
 * IC_MAX_PKT_SIZE; the bytes past the VSS message are filler standing for
 * the LUN data Linux ignores).  Returns len, -EINVAL or -ENOSPC.
 */
int ic_vss_build(uint8_t *pkt, size_t cap, size_t len, uint8_t txid,
    struct ic_version fw, struct ic_version msgver, uint8_t op);

/*
 * Decode a VSS message (request or reply): -EINVAL if short (under
 * IC_VSS_MIN_SIZE) or not type IC_TYPE_VSS, plus the ic_hdr_decode()
 * errors.  h may be NULL.
 */
int ic_vss_decode(
    const uint8_t *pkt, size_t len, struct ic_hdr *h, struct ic_vss *v);

/*
 * Guest side: turn the VSS request in pkt into its reply, in place: status
 * = hresult, reply flags, and the body flags (HV_HBU_NO_AUTO_RECOVERY for a
 * HOT_BACKUP request, 0 for GET_DM_INFO, untouched otherwise), decided
 * from the request's op.  -EINVAL if pkt is not a VSS message.
 */
int ic_vss_answer(uint8_t *pkt, size_t len, uint32_t hresult);

/* True if the header's flags mark a reply (RESPONSE set). */
bool ic_is_reply(const struct ic_hdr *h);

#endif /* HVVSS_IC_H */
