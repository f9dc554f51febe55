/*
 * txn.h: one backup transaction, as a pure state machine.
 *
 * Events go in (a host request, a stage finished, a deadline passed),
 * actions come out (reply to the host, start a stage, arm a deadline,
 * log); txn.c does no I/O, keeps no clock and calls nothing, so that the
 * tests can drive it through every interleaving.  The shell around it
 * (daemon/daemon.c) carries the actions out and feeds the results back.
 *
 * The stages, in FreeBSD's order, with the freeze hooks between the
 * application tiers below hooks_tier and those from it up (hooks_tier =
 * 10, the default: after every tier):
 *
 *   HOT_BACKUP: CHECK (plan + apps)                        -> reply
 *   FREEZE:     APPS_FREEZE 0..hooks_tier-1 -> HOOKS_FREEZE
 *               -> APPS_FREEZE hooks_tier..9 -> FS_FREEZE  -> reply
 *   THAW:       FS_THAW -> APPS_THAW 9..hooks_tier -> HOOKS_THAW
 *               -> APPS_THAW hooks_tier-1..0               -> reply
 *
 * and, for hv_vss_ctl only, a detached hold of the applications (and
 * freeze hooks) without the filesystems, for another backup agent whose
 * own freeze follows (qemu-ga, open-vm-tools, Azure's extension):
 *
 *   HOLD:       the application and hook stages of FREEZE -> reply, HELD
 *   RELEASE:    the application and hook stages of THAW   -> reply
 *
 * A hold is bounded by its lease like a freeze, and while it lasts the
 * host's requests are refused (the applications are another agent's).
 *
 * Every host request is answered exactly once, unless the kernel has
 * given up on it (a newer request arrived, or the device was lost), in
 * which case it is never answered: writing the stale answer would be
 * taken by Linux as the answer to whatever request is current.
 * Every path ends with nothing frozen, no application holding and no
 * hook owed its "thaw" or "abort", except FROZEN and HELD themselves,
 * which the lease bounds, and a thaw that failed: what it could not
 * thaw stays frozen under the guard's clock, and the machine tries
 * again every rethaw_ms while idle (TA_RETHAW_TIMER, TE_RETHAW_DUE,
 * TA_FS_THAW) until it succeeds; until then it refuses what would
 * freeze or hold again, and a THAW is told that filesystems are still
 * frozen.
 *
 * Every decision is the machine's, the shell only carries it out: which
 * stage comes next, each stage's budget (.ms: the shell never reads the
 * configuration for it), which tiers an application stage covers, when
 * the thaw guard is armed and with what (TA_LEASE), and the reason of
 * every refusal (TA_REPLY's text).
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
	TXN_HOOKS_FREEZING, /* FREEZE: the freeze hooks run */
	TXN_HOOKS_THAWING, /* THAW: the thaw hooks run */
	TXN_NSTATES
};

/*
 * What is asked: the host's requests (host.h's, whatever the kernel
 * calls them), and the local ones beyond FREEZE and THAW.  A host
 * request of a local op is taken as TXN_OP_OTHER.
 */
enum txn_op {
	TXN_OP_CHECK, /* may a backup start? (Linux: HOT_BACKUP) */
	TXN_OP_FREEZE,
	TXN_OP_THAW,
	TXN_OP_OTHER, /* none the machine serves: refused */
	TXN_OP_HOLD, /* local: hold the apps, not the filesystems */
	TXN_OP_RELEASE, /* local: end the hold */
	TXN_NOPS
};

/* What TA_STAGE says has ended. */
enum txn_stage {
	TXN_STAGE_CHECK, /* HOT_BACKUP's plan and apps, ok or not */
	TXN_STAGE_APPS, /* FREEZE's or HOLD's apps and hooks, ok or not */
	TXN_STAGE_FS, /* FREEZE's filesystems, ok or not */
	TXN_STAGE_FROZEN, /* the frozen (or held) window */
	TXN_STAGE_THAW, /* THAW's or RELEASE's apps and hooks */
	TXN_STAGE_LEASE, /* the lease ended the window, not a THAW */
	TXN_STAGE_END, /* nothing of the transaction runs any more */
};

/* The thaw guard, as a TA_LEASE sets it. */
enum txn_guard {
	TXN_GUARD_KEEP, /* as it is (its clock runs on) */
	TXN_GUARD_ARM, /* thaw on its own .guard_ms from now */
	TXN_GUARD_DISARM, /* nothing of ours is frozen */
};

enum txn_event_kind {
	TE_HOST_REQUEST, /* .op: a request read from the device */
	TE_CHECK_DONE, /* .ok, .reason */
	TE_APPS_FROZEN, /* .ok, .reason (the culprit when not ok), .ms the
	                 * part took */
	TE_HOOKS_FROZEN, /* the freeze hooks ran: .ok, .reason */
	TE_FS_FROZEN, /* .ok, .reason; not ok: nothing stays frozen, unless
	               * .left_frozen */
	TE_FS_THAWED, /* .ok, .reason */
	TE_APPS_THAWED, /* apps answered, or their deadline passed */
	TE_HOOKS_THAWED, /* the thaw hooks ran: .ok, .reason */
	TE_DEADLINE, /* the current stage's deadline passed */
	TE_LEASE_EXPIRED, /* frozen for max_frozen */
	TE_HOST_LOST, /* the device failed (ok: only a reply was rejected,
	                * the kernel gave up on it): owed replies are void */
	TE_LOCAL_LOST, /* the local requester went away */
	TE_RETHAW_DUE, /* TA_RETHAW_TIMER's time came */
	TE_NKINDS
};

struct txn_event {
	enum txn_event_kind kind;
	uint64_t id; /* completions: the id of their action */
	enum txn_op op; /* TE_HOST_REQUEST */
	bool local; /* TE_HOST_REQUEST from hv_vss_ctl, not the host */
	unsigned int ms; /* a local FREEZE or HOLD: its lease;
	                  * TE_APPS_FROZEN: how long the part took */
	/* TE_HOST_REQUEST from the host: the time its kernel leaves us to
	 * answer (FreeBSD's one 15 s timer, less what went before: a
	 * legacy application's turn, the poll); 0: none */
	unsigned int budget_ms;
	bool ok;
	/* completions: why not ok; a local RELEASE: the registered apps
	 * gone since its hold began (apps_news_peek()) */
	const char *reason;
	unsigned int ngone; /* a local RELEASE: how many (0: none) */
	/* TE_FS_FROZEN not ok: undoing it failed too, and some stay frozen,
	 * the guard's (then as after a failed thaw: tried again) */
	bool left_frozen;
};

enum txn_action_kind {
	TA_REPLY, /* .ok (.text: why not) to the current request */
	TA_CHECK, /* build the plan, ask apps CHECK within .ms */
	TA_APPS_FREEZE, /* ask tiers .from...to to freeze, within .ms */
	TA_APPS_ABORT, /* tell frozen apps the freeze is off */
	TA_APPS_THAW, /* tell tiers .from...to to resume, within .ms */
	TA_HOOKS_FREEZE, /* run the hooks "freeze", each within .ms */
	TA_HOOKS_ABORT, /* stop them; "abort" to those that saw "freeze" */
	TA_HOOKS_THAW, /* "thaw" to those that froze, each within .ms */
	TA_FS_FREEZE, /* sync, then freeze the plan's filesystems (.local:
	               * for hv_vss_ctl, not the host) */
	TA_FS_CANCEL, /* undo the freeze in progress when it ends */
	TA_FS_THAW, /* thaw what we froze, in reverse order */
	TA_DEADLINE, /* arm the stage deadline (.ms), 0: disarm */
	TA_LEASE, /* arm the lease (.ms), 0: disarm; and the thaw guard:
	           * .guard, with .guard_ms */
	TA_LOG, /* .prio (syslog level), .text */
	TA_PROGRESS, /* .text: a stage done, for the local requester */
	TA_BEGIN, /* a new transaction .id, serving .op for .local */
	TA_STAGE, /* .stage of the transaction ended (history, metrics) */
	TA_FORGET_GONE, /* the apps gone named in a RELEASE are in its
	                 * verdict: forget them (apps_news()) */
	TA_RETHAW_TIMER, /* TE_RETHAW_DUE in .ms: a thaw failed, and what
	                  * it left frozen is thawed again then */
	TA_NKINDS
};

#define TXN_TEXT_MAX 240

struct txn_action {
	enum txn_action_kind kind;
	uint64_t id; /* the transaction; echo it in results */
	bool local; /* TA_REPLY, TA_BEGIN, TA_FS_FREEZE: hv_vss_ctl's, not
	             * the host's */
	bool ok; /* TA_REPLY */
	/* TA_REPLY: an answer at once to a request that started nothing:
	 * not the outcome of transaction .id */
	bool aside;
	enum txn_op op; /* TA_REPLY: what it answers; TA_BEGIN */
	enum txn_stage stage; /* TA_STAGE */
	unsigned int ms;
	int from, to; /* TA_APPS_FREEZE, TA_APPS_THAW: tiers, either way */
	enum txn_guard guard; /* TA_LEASE */
	unsigned int guard_ms;
	int prio;
	char text[TXN_TEXT_MAX];
};

#define TXN_MAX_ACTIONS 16

struct txn_actions {
	struct txn_action a[TXN_MAX_ACTIONS];
	size_t n;
};

/*
 * Deadlines, in milliseconds.  The application stage of a FREEZE is the
 * apps' flush and the freeze hooks, one after the other: its deadline
 * gives each its own time (app_freeze_ms + hook_ms), so that a slow app
 * does not eat a hook's.
 */
struct txn_limits {
	unsigned int check_ms;
	unsigned int app_freeze_ms; /* the applications' own */
	unsigned int fs_freeze_ms;
	unsigned int thaw_ms;
	unsigned int max_frozen_ms;
	unsigned int hook_ms; /* each hook's */
	int hooks_tier; /* 0..TXN_TIERS: the hooks run before this tier */
	/* between tries of a thaw that failed; 0: TXN_RETHAW_MS */
	unsigned int rethaw_ms;
	/*
	 * hot_backup_veto = ok: a HOT_BACKUP is never answered E_FAIL (as
	 * Linux's own daemon never does); what would have refused it is
	 * logged, and the FREEZE that follows fails on it instead.  false
	 * (fail): E_FAIL, and the host falls back (hv_vss_daemon(8)).
	 */
	bool hot_backup_ok;
};

#define TXN_TIERS 10 /* application tiers, 0..9 (appproto.h) */
#define TXN_RETHAW_MS 2000

struct txn {
	enum txn_state state;
	/* the request's own: conf, clamped to its budget (txn_budget()) */
	struct txn_limits limits;
	struct txn_limits conf; /* as configured */
	uint64_t id; /* transaction number, for the logs */
	enum txn_op op; /* the request being served */
	bool local; /* its requester is hv_vss_ctl */
	unsigned int lease_ms; /* of this transaction's freeze */
	bool owe_reply; /* the current request awaits one */
	bool result; /* the reply (ok) once the stage ends */
	/* [local]: that requester's next THAW must say E_FAIL; one each,
	 * as the other's transaction may come in between */
	bool lease_expired[2];
	bool apps_frozen; /* apps hold: ABORT or THAW owed */
	bool hooks_frozen; /* hooks saw "freeze": "abort" or "thaw" owed */
	bool after_hooks; /* the application stage is the tiers after the
	                   * hooks (freeze), or before them (thaw) */
	unsigned int apps_left_ms; /* of app_freeze_ms, after the first part */
	bool hold; /* the local transaction is a HOLD (apps only) */
	bool hold_expired; /* its lease ended it: its RELEASE says E_FAIL */
	/* hot_backup_ok said S_OK to a HOT_BACKUP its check refused (why
	 * says why): the host's next FREEZE fails on it */
	bool vetoed;
	/* a thaw failed: filesystems of ours are still frozen (the guard
	 * keeps them, on its clock); tried again while idle */
	bool thaw_owed;
	bool rethaw_armed; /* TA_RETHAW_TIMER set for this id */
	bool rethawing; /* its TA_FS_THAW runs */
	bool rethaw_said; /* a retry failed, and the log said so */
	char why[TXN_TEXT_MAX]; /* reason of a failure */
};

void txn_init(struct txn *, const struct txn_limits *);
/*
 * Feed one event; the actions to carry out, in order, go to *out.  A
 * completion, deadline or lease event whose id is not the current
 * transaction's is stale and ignored.
 */
void txn_step(struct txn *, const struct txn_event *, struct txn_actions *out);
/*
 * A transaction this machine never saw froze filesystems that are thawed
 * now: the daemon, or the privilege split's engine, that ran it died in
 * its frozen window.  The host may have taken its snapshot after that
 * thaw, so its THAW, if it comes, is answered E_FAIL, as after a lease;
 * a FREEZE forgets it.  Only while idle (it is a start-up fact).
 */
void txn_thawed_behind(struct txn *);
/* New limits (SIGHUP, applied while idle). */
void txn_set_limits(struct txn *, const struct txn_limits *);
/*
 * lim clamped to budget_ms for op's stages, all of which must end within
 * it (0: lim as it is): CHECK's check; FREEZE's applications and hooks,
 * then filesystems, scaled together; THAW's two stages (and each hook)
 * half of it each.  Exported for the tests.
 */
void txn_budget(struct txn_limits *lim, enum txn_op op, unsigned int budget_ms);
/* Nothing in progress: a reload, a reconnect or a stop may go ahead. */
bool txn_idle(const struct txn *);
/* True while filesystems may be frozen (for the log and the guard). */
bool txn_may_be_frozen(const struct txn *);
const char *txn_state_name(enum txn_state);
/* "HOT_BACKUP", "FREEZE", "THAW", "UNKNOWN", "HOLD", "RELEASE" */
const char *txn_op_name(enum txn_op);

#endif /* HVVSS_TXN_H */
