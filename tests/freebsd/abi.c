/*
 * abi: built by "make freebsd" only, with FreeBSD's own headers.  Its
 * assertions check that common/hv_vss_fbsd.h, through FreeBSD's _IOR and
 * _IOW, gives the numbers FreeBSD's hv_vss(4) driver answers to (IOC_OUT
 * 0x40000000 for READ, IOC_IN 0x80000000 for WRITE: the reverse of
 * Linux's bits), and the message's layout; linked, it is a FreeBSD
 * program that prints them, so that file(1) shows what the build makes.
 */
#include <stddef.h>
#include <stdio.h>

#include "hv_vss_fbsd.h"

#ifndef __FreeBSD__
#error "tests/freebsd/abi.c is built for FreeBSD only (make freebsd)"
#endif

_Static_assert(IOCHVVSSREAD == 0x40407602, "FreeBSD's IOCHVVSSREAD");
_Static_assert(IOCHVVSSWRITE == 0x80407603, "FreeBSD's IOCHVVSSWRITE");
_Static_assert(offsetof(struct hv_vss_opt_msg, status) == 4, "status");
_Static_assert(offsetof(struct hv_vss_opt_msg, msgid) == 8, "msgid");
_Static_assert(offsetof(struct hv_vss_opt_msg, reserved) == 16, "reserved");

int
main(void)
{
	printf("IOCHVVSSREAD 0x%08lx\n", (unsigned long)IOCHVVSSREAD);
	printf("IOCHVVSSWRITE 0x%08lx\n", (unsigned long)IOCHVVSSWRITE);
	printf("size %zu\n", sizeof(struct hv_vss_opt_msg));
	return 0;
}
