/*
 * hv_msg.h: the message of Linux's /dev/vmbus/hv_vss (struct hv_vss_msg
 * in <linux/hyperv.h>), as the kernel and the daemon exchange it.
 *
 * Protocol version: REGISTER1 (the kernel answers it with the u32 129).
 *
 * Layout, packed, 12 bytes, in the machine's byte order (little-endian on
 * every Hyper-V guest; encoded explicitly as little-endian here):
 *
 *   off size field
 *     0    1 operation        kernel -> daemon: FREEZE, THAW or HOT_BACKUP;
 *                             daemon -> kernel: REGISTER1 on open
 *     1    7 reserved         zero
 *     8    4 flags            unused by the kernel on requests
 *
 * Bytes 0..7 are a union with "int error": the daemon replies by writing
 * the HRESULT over them, which overwrites the operation byte.  A reply is
 * therefore not self-describing: the reader must remember which request it
 * answers.
 *
 * Limits: every write to the device must be exactly HV_MSG_SIZE bytes; the
 * handshake answer is exactly HV_REGISTER_REPLY_SIZE bytes.
 *
 * No logging, no exit: functions return 0 or -errno.
 */
#ifndef HVVSS_HV_MSG_H
#define HVVSS_HV_MSG_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define HV_MSG_SIZE 12 /* sizeof(struct hv_vss_msg) */
#define HV_REGISTER_REPLY_SIZE 4 /* the kernel's u32 answer to REGISTER1 */

/* enum hv_vss_op */
#define HV_OP_CREATE 0
#define HV_OP_DELETE 1
#define HV_OP_HOT_BACKUP 2 /* "can you back up now?" */
#define HV_OP_GET_DM_INFO 3
#define HV_OP_BU_COMPLETE 4
#define HV_OP_FREEZE 5
#define HV_OP_THAW 6
#define HV_OP_AUTO_RECOVER 7
#define HV_OP_COUNT 8 /* first value that is not an op */
#define HV_OP_REGISTER 128 /* legacy, daemon -> kernel, no answer */
#define HV_OP_REGISTER1 129 /* daemon -> kernel, answered with 129 */

/* HRESULTs carried in the reply (and in the IC header's status) */
#define HV_S_OK 0x00000000u
#define HV_E_FAIL 0x80004005u

/* HOT_BACKUP reply body flags: VSS_HBU_NO_AUTO_RECOVERY */
#define HV_HBU_NO_AUTO_RECOVERY 0x00000005u

/* A decoded kernel -> daemon request. */
struct hv_msg {
	uint8_t op; /* HV_OP_* */
	uint32_t flags; /* bytes 8..11 */
};

/* Encode a request (kernel -> daemon) or a REGISTER/REGISTER1 message. */
void hv_msg_encode(uint8_t op, uint32_t flags, uint8_t out[HV_MSG_SIZE]);

/* Encode a daemon reply: the HRESULT in bytes 0..3, zeros, then flags. */
void
hv_msg_encode_reply(uint32_t hresult, uint32_t flags, uint8_t out[HV_MSG_SIZE]);

/*
 * Decode a request read from the device.  -EINVAL unless len is exactly
 * HV_MSG_SIZE.  Any op value is returned; the caller decides what it
 * serves (see hv_op_reaches_daemon()).
 */
int hv_msg_decode(const void *buf, size_t len, struct hv_msg *m);

/* Decode a daemon reply (what the kernel does): -EINVAL unless 12 bytes. */
int hv_msg_decode_reply(
    const void *buf, size_t len, uint32_t *hresult, uint32_t *flags);

/* Decode the kernel's answer to REGISTER1: -EINVAL unless 4 bytes. */
int
hv_msg_decode_register_reply(const void *buf, size_t len, uint32_t *version);

/* True for the ops Linux forwards to the daemon: FREEZE, THAW, HOT_BACKUP. */
bool hv_op_reaches_daemon(unsigned int op);

/* "FREEZE", "HOT_BACKUP", ...; "UNKNOWN" for any other value. */
const char *hv_op_name(unsigned int op);

/* Parse an op name (case-insensitive, as hv_op_name() prints it, or a
 * decimal number 0..255).  -EINVAL if it is neither. */
int hv_op_parse(const char *s, uint8_t *op);

/* "S_OK", "E_FAIL", or NULL for an HRESULT without a name here. */
const char *hv_hresult_name(uint32_t hresult);

#endif /* HVVSS_HV_MSG_H */
