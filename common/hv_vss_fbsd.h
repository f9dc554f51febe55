/*
 * hv_vss_fbsd.h: the user/kernel ABI of FreeBSD's Hyper-V VSS driver
 * (hv_vss(4)): the two device files and the message their ioctls carry.
 * See doc/FREEBSD.md for where each value was checked.
 *
 * The command numbers are built with the platform's own _IOR and _IOW,
 * never written as numbers: FreeBSD puts IOC_OUT in bit 30 and IOC_IN in
 * bit 31, Linux the other way round, so the same macro call gives
 * 0x40407602 on FreeBSD and 0x80407602 on Linux.  The FreeBSD build of the
 * daemon gets FreeBSD's numbers, and hv_vss_sim(1), which serves the
 * devices on Linux through FUSE, gets the numbers a Linux caller's ioctl()
 * carries: each side agrees with its own kernel.
 */
#ifndef HVVSS_HV_VSS_FBSD_H
#define HVVSS_HV_VSS_FBSD_H

#include <sys/ioctl.h>

#include <stdint.h>

#define HV_FBSD_FS_DEV "hv_fsvss_dev" /* the filesystem daemon's */
#define HV_FBSD_APP_DEV "hv_appvss_dev" /* the one application's */

/* opt */
#define HV_VSS_NONE 0
#define HV_VSS_CHECK 1 /* the host's HOT_BACKUP */
#define HV_VSS_FREEZE 2
#define HV_VSS_THAW 3
#define HV_VSS_COUNT 4

/* status */
#define VSS_SUCCESS 0
#define VSS_FAIL 1

struct hv_vss_opt_msg {
	uint32_t opt; /* HV_VSS_* */
	uint32_t status; /* VSS_SUCCESS or VSS_FAIL */
	uint64_t msgid; /* names the request; echoed in the ack */
	uint8_t reserved[48]; /* zero */
};

_Static_assert(
    sizeof(struct hv_vss_opt_msg) == 64, "hv_vss_opt_msg is 64 bytes");

/* take the next request; status VSS_FAIL when none is queued */
#define IOCHVVSSREAD _IOR('v', 2, struct hv_vss_opt_msg)
/* acknowledge one: opt and msgid echoed, status the verdict */
#define IOCHVVSSWRITE _IOW('v', 3, struct hv_vss_opt_msg)

#endif /* HVVSS_HV_VSS_FBSD_H */
