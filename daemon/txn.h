/*
 * txn.h: one backup transaction, as a pure state machine.
 *
 * Events go in (a host request, a stage finished, a deadline passed),
 * actions come out (reply to the host, start a stage, arm a deadline,
 * log); txn.c does no I/O, keeps no clock and calls nothing, so that the
 * tests can drive it through every interleaving.  The shell around it
 * (daemon/daemon.c) carries the actions out and feeds the results back.
 *
 * The stages, in FreeBSD's order:
 *
 *   HOT_BACKUP: CHECK (plan + apps)                        -> reply
 *   FREEZE:     APPS_FREEZE -> FS_FREEZE                   -> reply
 *   THAW:       FS_THAW -> APPS_THAW                       -> reply
 *
 * and, for hv_vss_ctl only, a detached hold of the applications (and
 * freeze hooks) without the filesystems, for another backup agent whose
 * own freeze follows (qemu-ga, open-vm-tools, Azure's extension):
 *
 *   HOLD:       APPS_FREEZE                                -> reply, HELD
 *   RELEASE:    APPS_THAW                                  -> reply
 *
 * A hold is bounded by its lease like a freeze, and while it lasts the
 * host's requests are refused (the applications are another agent's).
 *
 * Every host request is answered exactly once, unless the kernel has
 * given up on it (a newer request arrived, or the device was lost), in
 * which case it is never answered: writing the stale answer would be
 * taken by Linux as the answer to whatever request is current.
 * Every path ends with nothing frozen, except FROZEN itself, which the
 * lease bounds.
 */
#ifndef HVVSS_TXN_H
#define HVVSS_TXN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum txn_state {
	TXN_IDLE,
	TXN_CHECKING, /* HOT_BACKUP: plan and apps asked */
	TXN_APPS_FREEZING, /* FREEZE: apps asked to flush and hold */
	TXN_FS_FREEZING, /* FREEZE: filesystems being frozen */
	TXN_FROZEN, /* FREEZE answered S_OK; lease running */
	TXN_FS_THAWING, /* filesystems being thawed */
	TXN_APPS_THAWING, /* apps told to resume */
	TXN_ABORTING, /* undoing a freeze that will not be kept */
	TXN_HELD, /* HOLD answered S_OK: apps hold, no fs; lease running */
	TXN_NSTATES
};

/*
 * The local requests beyond the host's FREEZE and THAW: never read from
 * the device (its ops are below HV_OP_COUNT); a host request with one of
 * these values is an unknown op.
 */
#define TXN_OP_HOLD 0xf0 /* hold the apps, not the filesystems */
#define TXN_OP_RELEASE 0xf1 /* end the hold */

enum txn_event_kind {
	TE_HOST_REQUEST, /* .op: a request read from the device */
	TE_CHECK_DONE, /* .ok, .reason */
	TE_APPS_FROZEN, /* .ok, .reason (the culprit when not ok) */
	TE_FS_FROZEN, /* .ok, .reason; not ok: nothing stays frozen */
	TE_FS_THAWED, /* .ok, .reason */
	TE_APPS_THAWED, /* apps answered, or their deadline passed */
	TE_DEADLINE, /* the current stage's deadline passed */
	TE_LEASE_EXPIRED, /* frozen for max_frozen */
	TE_HOST_LOST, /* the device failed (ok: only a reply was rejected,
	                * the kernel gave up on it): owed replies are void */
	TE_LOCAL_LOST, /* the local requester went away */
	TE_NKINDS
};

struct txn_event {
	enum txn_event_kind kind;
	uint64_t id; /* completions: the id of their action */
	uint8_t op; /* TE_HOST_REQUEST: HV_OP_*, or TXN_OP_* if local */
	bool local; /* TE_HOST_REQUEST from hv_vss_ctl, not the host */
	unsigned int ms; /* a local FREEZE or HOLD: its lease */
	bool ok;
	const char *reason;
};

enum txn_action_kind {
	TA_REPLY, /* .hresult to the current host request */
	TA_CHECK, /* build the plan, ask apps CHECK */
	TA_APPS_FREEZE, /* ask apps to freeze, within .ms */
	TA_APPS_ABORT, /* tell frozen apps the freeze is off */
	TA_APPS_THAW, /* tell apps to resume, collect within .ms */
	TA_FS_FREEZE, /* sync, then freeze the plan's filesystems */
	TA_FS_CANCEL, /* undo the freeze in progress when it ends */
	TA_FS_THAW, /* thaw what we froze, in reverse order */
	TA_DEADLINE, /* arm the stage deadline (.ms), 0: disarm */
	TA_LEASE, /* arm the lease (.ms), 0: disarm */
	TA_LOG, /* .prio (syslog level), .text */
	TA_NKINDS
};

#define TXN_TEXT_MAX 240

struct txn_action {
	enum txn_action_kind kind;
	uint64_t id; /* the transaction; echo it in results */
	bool local; /* TA_REPLY: to hv_vss_ctl, not the host */
	uint32_t hresult;
	unsigned int ms;
	int prio;
	char text[TXN_TEXT_MAX];
};

#define TXN_MAX_ACTIONS 12

struct txn_actions {
	struct txn_action a[TXN_MAX_ACTIONS];
	size_t n;
};

/* Deadlines, in milliseconds. */
struct txn_limits {
	unsigned int check_ms;
	unsigned int app_freeze_ms;
	unsigned int fs_freeze_ms;
	unsigned int thaw_ms;
	unsigned int max_frozen_ms;
	/*
	 * hot_backup_veto = ok: a HOT_BACKUP is never answered E_FAIL (as
	 * Linux's own daemon never does); what would have refused it is
	 * logged, and the FREEZE that follows fails on it instead.  false
	 * (fail): E_FAIL, and the host falls back (hv_vss_daemon(8)).
	 */
	bool hot_backup_ok;
};

struct txn {
	enum txn_state state;
	struct txn_limits limits;
	uint64_t id; /* transaction number, for the logs */
	uint8_t op; /* the request being served */
	bool local; /* its requester is hv_vss_ctl */
	unsigned int lease_ms; /* of this transaction's freeze */
	bool owe_reply; /* the current request awaits one */
	uint32_t result; /* the reply once the stage ends */
	/* [local]: that requester's next THAW must say E_FAIL; one each,
	 * as the other's transaction may come in between */
	bool lease_expired[2];
	bool apps_frozen; /* apps hold: ABORT or THAW owed */
	bool hold; /* the local transaction is a HOLD (apps only) */
	bool hold_expired; /* its lease ended it: its RELEASE says E_FAIL */
	/* hot_backup_ok said S_OK to a HOT_BACKUP its check refused (why
	 * says why): the host's next FREEZE fails on it */
	bool vetoed;
	char why[TXN_TEXT_MAX]; /* reason of a failure */
};

void txn_init(struct txn *, const struct txn_limits *);
/*
 * Feed one event; the actions to carry out, in order, go to *out.  A
 * completion, deadline or lease event whose id is not the current
 * transaction's is stale and ignored.
 */
void txn_step(struct txn *, const struct txn_event *, struct txn_actions *out);
/* True while filesystems may be frozen (for the log and the guard). */
bool txn_may_be_frozen(const struct txn *);
const char *txn_state_name(enum txn_state);
/* HV_OP_* and TXN_OP_* by name. */
const char *txn_op_name(unsigned int);

#endif /* HVVSS_TXN_H */
