/*
 * privproto.h: what the unprivileged engine may ask of the privileged
 * parent (issue 15), and what the parent answers.
 *
 * The engine parses everything that comes from applications, hv_vss_ctl
 * and the host; the parent holds the device, freezes, thaws, starts
 * hooks and keeps the thaw guard.  A compromised engine must at worst
 * fail or delay a backup, so the parent trusts none of this:
 *  - the engine names a transaction, never a path: the parent plans the
 *    freeze itself, from its own mount table and its own allow-list, and
 *    runs the hooks of its own hooks directory;
 *  - every message is one datagram of a SOCK_SEQPACKET socketpair, of
 *    exactly sizeof(struct priv_req) bytes (a longer one is seen whole
 *    with MSG_TRUNC and refused), every field range-checked, reserved
 *    fields zero;
 *  - requests follow one transaction's order (CHECK, HOOKS freeze,
 *    FREEZE, ARM, THAW, HOOKS thaw); one out of order, or for a
 *    transaction that is not the current one, is refused with a reason
 *    and changes nothing;
 *  - a lease is bounded by the parent's max_frozen counted from the
 *    FREEZE: re-arming cannot stretch the frozen window, and disarming
 *    while frozen is refused (the guard's lease stands).
 *
 * Stages and side requests.  The transaction's requests (DEVICE, CHECK,
 * FREEZE, THAW, HOOKS, ARM, DISARM) are stages: one at a time, and one
 * sent while another runs is refused "busy" (never queued, never run
 * alongside).  The side requests (CANCEL, COMM, PLAN, METRICS) change no
 * transaction state and are answered at once, also while a stage runs:
 * that is how a CANCEL reaches a running FREEZE or HOOKS stage.  So the
 * engine matches a reply to its request by type and txid, not by order.
 *
 * Events.  The parent also sends, unasked, what the engine must know
 * (the guard's lease passed, the guard thawed a filesystem, the guard
 * died, a dead predecessor's frozen window was thawed behind the host's
 * back): a message shaped as a reply, its type PRIV_EV_FIRST or above.
 *
 * Sizes.  A request is sizeof(struct priv_req) bytes, but METRICS, which
 * is followed by its text (arg bytes, at most PRIV_METRICS_MAX).  A reply
 * or event is sizeof(struct priv_rep) bytes, but the reply to PLAN, which
 * is followed by the plan as text (value bytes, at most PRIV_PLAN_MAX).
 *
 * Version 1.  Host byte order (the two ends are one program).
 */
#ifndef HVVSS_PRIVPROTO_H
#define HVVSS_PRIVPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PRIV_VERSION 1
#define PRIV_REASON_MAX 160 /* a reply's reason, NUL included */
#define PRIV_PLAN_MAX 16384 /* PLAN's text, after the reply */
#define PRIV_METRICS_MAX 32768 /* METRICS's text, after the request */
#define PRIV_PID_MAX 4194304 /* COMM's pid: Linux's PID_MAX_LIMIT */

enum priv_type {
	PRIV_DEVICE = 1, /* the host device, reply carries its fd
	                    (SCM_RIGHTS); txid 0; arg 0: the copy the
	                    parent keeps (opened if none), 1: closed and
	                    opened anew (the engine lost the channel) */
	PRIV_CHECK, /* plan transaction txid (a new one, above every
	               earlier one); value: targets planned */
	PRIV_FREEZE, /* freeze txid's plan (arg: 0 the host's, 1 hv_vss_ctl's);
	                value: filesystems frozen; the guard is armed with
	                max_frozen */
	PRIV_THAW, /* thaw what txid froze; value: filesystems thawed */
	PRIV_HOOKS, /* run the hooks, arg: enum priv_phase; value: ran */
	PRIV_ARM, /* re-arm the guard: arg: lease in ms, > 0, and the
	             window it ends within max_frozen of the FREEZE */
	PRIV_DISARM, /* the engine is done with the guard for txid: refused
	                while frozen */
	/* side requests: answered at once, even while a stage runs */
	PRIV_CANCEL, /* stop txid's running FREEZE or HOOKS stage: the
	                stage's own reply follows, failed (-ECANCELED), with
	                nothing left frozen; arg 0 */
	PRIV_COMM, /* the command name of process arg (a pid, > 0): reply's
	              reason; txid 0 */
	PRIV_PLAN, /* the plan the parent would make now, as text after the
	              reply (see privproto.c, plan_text); txid 0, arg 0 */
	PRIV_METRICS, /* write the text that follows (arg bytes) to the
	                 parent's metrics_file; txid 0 */
	PRIV_CONF, /* the configuration file, opened read-only, its fd
	              in the reply (SCM_RIGHTS), for SIGHUP's reload;
	              txid 0, arg 0 */
	PRIV_TYPE_MAX = PRIV_CONF
};

/* Unasked messages from the parent (shaped as struct priv_rep). */
enum priv_event {
	PRIV_EV_FIRST = 64,
	PRIV_EV_LEASE = PRIV_EV_FIRST, /* the guard's lease passed: it thawed
	                                  what txid froze; value: thawed */
	PRIV_EV_THAWED, /* the guard thawed one: reason its mount point,
	                   status 0 or -errno */
	PRIV_EV_GUARD_DIED, /* the guard is gone (value: its wait status);
	                       ARM fails until another runs */
	PRIV_EV_THAWED_BEHIND, /* sent first, to a new engine: its
	                          predecessor (or the daemon before this
	                          one) died in a frozen window, now thawed
	                          (value: filesystems); the host's THAW for
	                          it must say E_FAIL */
	PRIV_EV_MAX = PRIV_EV_THAWED_BEHIND
};

/* PRIV_HOOKS's arg: hooks.h's phases, fixed here for the wire. */
enum priv_phase {
	PRIV_PHASE_FREEZE = 0,
	PRIV_PHASE_THAW = 1,
	PRIV_PHASE_ABORT = 2,
};

/* Why a request was refused (a reply's status > 0). */
enum priv_refusal {
	PRIV_R_LENGTH = 1, /* not exactly one request's size */
	PRIV_R_VERSION, /* not PRIV_VERSION */
	PRIV_R_TYPE, /* unknown type */
	PRIV_R_RESERVED, /* a reserved field is not zero */
	PRIV_R_ARG, /* arg out of range for the type */
	PRIV_R_TXID, /* txid 0, or not the current transaction, or a
	                CHECK not above the current one */
	PRIV_R_ORDER, /* not allowed in the transaction's state */
	PRIV_R_LEASE, /* lease 0 or past max_frozen since the FREEZE */
	PRIV_R_BUSY, /* a stage while another runs */
	PRIV_R_TEXT, /* METRICS's text: not printable text ending in \n */
	PRIV_R_MAX = PRIV_R_TEXT
};

/* A request: exactly this many bytes. */
struct priv_req {
	uint16_t version; /* PRIV_VERSION */
	uint16_t type; /* enum priv_type */
	uint32_t arg; /* HOOKS: enum priv_phase; ARM: lease ms; COMM: pid;
	                 METRICS: its text's length; else 0 */
	uint64_t txid; /* the transaction; DEVICE: 0 */
	uint64_t reserved; /* 0 */
};

/* A reply: exactly this many bytes; fd for DEVICE as ancillary data. */
struct priv_rep {
	uint16_t version; /* PRIV_VERSION */
	uint16_t type; /* the request's type (0 if it had none or an
	                  unknown one); an event's */
	int32_t status; /* 0 done; > 0 refused (enum priv_refusal);
	                   < 0 tried and failed (-errno) */
	uint64_t txid; /* the request's */
	uint32_t value; /* see enum priv_type */
	uint32_t reserved; /* 0 */
	char reason[PRIV_REASON_MAX]; /* why, NUL-terminated; "" if done */
};

/* The parent's view of the current transaction. */
enum priv_txstate {
	PRIV_TX_IDLE, /* nothing planned (or thawed) */
	PRIV_TX_PLANNED, /* CHECK done: a plan is held */
	PRIV_TX_FROZEN, /* FREEZE done: filesystems frozen */
};

struct priv_state {
	uint64_t txid; /* the current transaction (0: none yet) */
	enum priv_txstate tx;
	bool hooks_frozen; /* its freeze hooks ran: thaw/abort may run */
	/* its THAW failed: still frozen (the guard holds, and THAW may be
	 * tried again), but the applications and the hooks go on with
	 * their thaw, as without the privilege split */
	bool thaw_failed;
	bool busy; /* a stage is being done */
	uint16_t running; /* its type, while busy */
	uint64_t frozen_at_ms; /* monotonic, when FREEZE was done */
	unsigned int max_frozen_ms; /* the parent's max_frozen: the cap */
};

/*
 * Check one received datagram of len bytes (len may exceed the buffer:
 * MSG_TRUNC's answer; buf holds min(len, what was read) of them, at least
 * sizeof(struct priv_req) or len) against the parent's state at now_ms.
 * 0 and *req filled if it may be done; else a refusal code, with the
 * reason in why.  METRICS's text is checked too (buf must hold it all).
 * Changes nothing: priv_apply() does, once the request is done.
 */
int priv_check(const struct priv_state *, const void *buf, size_t len,
    uint64_t now_ms, struct priv_req *req, char *why, size_t whylen);

/* A side request: answered at once, whatever runs. */
bool priv_is_side(unsigned int type);

/*
 * The request was done (ok) or tried and failed: move the state on.  A
 * failed FREEZE leaves nothing frozen (the freezer thaws what it froze).
 * Side requests move nothing.
 */
void priv_apply(
    struct priv_state *, const struct priv_req *, bool ok, uint64_t now_ms);

/* Fill a request / a reply (reason may be NULL). */
void
priv_req_make(struct priv_req *, enum priv_type, uint64_t txid, uint32_t arg);
void priv_rep_make(struct priv_rep *, uint16_t type, uint64_t txid,
    int32_t status, uint32_t value, const char *reason);

/*
 * The engine's side: check a reply of len bytes to req.  0 if it is
 * one (its status may still be a refusal), -EPROTO if not.  PLAN's text
 * (value bytes after the reply) must be there, with no NUL in it.
 */
int priv_rep_check(const struct priv_req *req, const void *buf, size_t len);

/*
 * The engine's side: a message of len bytes from the parent is an event
 * (its type, PRIV_EV_*), a reply (0: priv_rep_check() it), or neither
 * (-EPROTO).
 */
int priv_msg_kind(const void *buf, size_t len);

/* "CHECK", "FREEZE" ..., "LEASE" ...; "?" for an unknown type. */
const char *priv_type_name(unsigned int);
/* "bad length", "not the current transaction" ... */
const char *priv_refusal_name(int);

#endif /* HVVSS_PRIVPROTO_H */
