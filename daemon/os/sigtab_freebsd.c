/*
 * sigtab_freebsd.c: FreeBSD's own terminating signals (sigtab.h).
 *
 * SIGEMT (an emulator trap) dumps core by default; on amd64 and arm64
 * the kernel never raises it for a fault of the process, so it can only
 * come from kill(2), like Linux's SIGSTKFLT.  SIGINFO, SIGTHR and
 * SIGLIBRT are ignored by default (sys/kern/kern_sig.c, sigproptbl) and
 * libthr and librt use the last two: not ours to touch.
 */
#include <signal.h>

#include "sigtab.h"

const struct sigtab sigtab_os[] = {{SIGEMT, "SIGEMT"}};
const size_t sigtab_nos = sizeof(sigtab_os) / sizeof(sigtab_os[0]);
