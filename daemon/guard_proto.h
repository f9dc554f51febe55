/*
 * guard_proto.h: the messages between the daemon (daemon/guard.c) and
 * its thaw guard (guard/hv_vss_guard.c), one fixed-size message per
 * SOCK_SEQPACKET packet, both ways, checked for its exact size.
 *
 * The two programs are built and installed together, and the daemon
 * opens the guard's program once at start (guard_image()), so they
 * normally match; the hello still carries GUARD_PROTO_VERSION and the
 * message size, and the daemon refuses a guard that differs (a package
 * upgrade caught between the two files).
 */
#ifndef HVVSS_GUARD_PROTO_H
#define HVVSS_GUARD_PROTO_H

#include <stdint.h>

#include "guard.h"

/* Bumped with any change to struct gmsg or to what a type means (2:
 * HELLO_FILTERED, the hello's slot; 3: GM_SUSPENDED, GM_RESUME). */
#define GUARD_PROTO_VERSION 3

/* The guard's socket, the one fd it is started with. */
#define GUARD_SOCK_FD 3

enum gmsg_type {
	/* daemon -> guard */
	GM_HOLD = 1, /* slot, path; one fd in SCM_RIGHTS */
	GM_DROP, /* slot */
	GM_ARM, /* arg[0]: lease ms, 0 disarms */
	GM_THAWED, /* (nothing) */
	/*
	 * Where closing a hold thaws (os/fsfreeze.h: FreeBSD's
	 * /dev/ufssuspend): slot, path; one fd in SCM_RIGHTS, the hold of
	 * the slot's filesystem, once frozen.  It replaces the slot's
	 * directory, and the daemon closes its own copy: the guard's is the
	 * last reference, so the guard's death, or its close, resumes.
	 */
	GM_SUSPENDED,
	GM_RESUME, /* slot: close its hold now (the daemon's thaw) */
	/* guard -> daemon */
	GM_HELLO = 100, /* arg[0]: HELLO_* flags, arg[1]: version, arg[2]:
	                 * sizeof(struct gmsg); err: mlockall's errno;
	                 * slot: the sandbox's errno; path: the sandbox's
	                 * name (guard/sandbox.h: "seccomp filter") */
	GM_THAWED_ONE, /* slot, err, path */
	GM_LEASE, /* arg[]: thawed, not frozen, failed; err: truncated */
	GM_ERROR, /* err */
};

#define HELLO_LOCKED 0x1 /* mlockall worked */
#define HELLO_NOLOCK_SAN 0x2 /* mlockall skipped: sanitizer build */
#define HELLO_OOM 0x4 /* oom_score_adj -1000 set */
#define HELLO_FILTERED 0x8 /* in its sandbox (guard/sandbox.h) */

struct gmsg {
	uint32_t type;
	int32_t slot;
	uint32_t arg[3];
	int32_t err;
	char path[GUARD_PATH_MAX]; /* NUL-terminated */
};

#endif /* HVVSS_GUARD_PROTO_H */
