/*
 * sigtab_linux.c: Linux's own terminating signals (sigtab.h).
 *
 * SIGPWR (power failure, sent by a UPS daemon through init) and
 * SIGSTKFLT (a coprocessor stack fault the kernel never raises) both
 * terminate by default; nothing of ours is meant to end on either.
 */
#include <signal.h>

#include "sigtab.h"

const struct sigtab sigtab_os[] = {
    {SIGPWR, "SIGPWR"}, {SIGSTKFLT, "SIGSTKFLT"}};
const size_t sigtab_nos = sizeof(sigtab_os) / sizeof(sigtab_os[0]);
