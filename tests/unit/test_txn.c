/*
 * test_txn.c: the transaction state machine, driven by event sequences.
 *
 * Each test feeds events and checks the actions that come out, in order,
 * and the state left.  The helper "expect" names the action kinds
 * (ignoring TA_LOG, checked separately where the text matters).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "txn.h"

/* hooks after every tier (the default): apps, hooks, filesystems */
static const struct txn_limits limits = {.check_ms = 10000,
    .app_freeze_ms = 10000,
    .fs_freeze_ms = 60000,
    .thaw_ms = 20000,
    .max_frozen_ms = 60000,
    .hook_ms = 5000,
    .hooks_tier = TXN_TIERS,
    .hot_backup_ok = false};

#define R_OK 1
#define R_FAIL 0

static struct txn t;
/* the actions of the last feed(), and of the hook stages it completed */
static struct {
	struct txn_action a[3 * TXN_MAX_ACTIONS];
	size_t n;
} out;
/* feed() answers a hooks stage at once, ok (the tests of the hooks
 * stages themselves turn it off) */
static bool auto_hooks = true;

static int
setup(void **state)
{
	txn_init(&t, &limits);
	auto_hooks = true;
	return 0;
}

static void
step_into_out(const struct txn_event *ev)
{
	struct txn_actions one;
	size_t i;

	txn_step(&t, ev, &one);
	for (i = 0; i < one.n; i++)
		out.a[out.n++] = one.a[i];
}

/* Answer the hooks stages the machine started, ok, if auto_hooks. */
static void
complete_hooks(void)
{
	struct txn_event ev;
	size_t i, from = 0;
	bool more = auto_hooks;

	while (more) {
		more = false;
		for (i = from; i < out.n; i++) {
			if (out.a[i].kind != TA_HOOKS_FREEZE &&
			    out.a[i].kind != TA_HOOKS_THAW)
				continue;
			memset(&ev, 0, sizeof(ev));
			ev.kind = out.a[i].kind == TA_HOOKS_FREEZE
			    ? TE_HOOKS_FROZEN
			    : TE_HOOKS_THAWED;
			ev.id = t.id;
			ev.ok = true;
			from = out.n;
			step_into_out(&ev);
			more = true;
			break;
		}
	}
}

static void
feed(enum txn_event_kind kind, enum txn_op op, bool ok)
{
	struct txn_event ev = {.kind = kind,
	    .id = t.id,
	    .op = op,
	    .ok = ok,
	    .reason = ok ? NULL : "the culprit"};

	out.n = 0;
	step_into_out(&ev);
	complete_hooks();
}

/* The first action of a kind among the last feed()'s. */
static const struct txn_action *
first(enum txn_action_kind kind)
{
	size_t i;

	for (i = 0; i < out.n; i++)
		if (out.a[i].kind == kind)
			return &out.a[i];
	fail_msg("no action %d", kind);
	return NULL;
}

/* The non-log actions, as a string of letters, for compact checks. */
static const char *
kinds(void)
{
	static char s[3 * TXN_MAX_ACTIONS + 1];
	static const char letter[TA_NKINDS] = {
	    [TA_REPLY] = 'R',
	    [TA_CHECK] = 'C',
	    [TA_APPS_FREEZE] = 'F',
	    [TA_APPS_ABORT] = 'A',
	    [TA_APPS_THAW] = 'T',
	    [TA_FS_FREEZE] = 'f',
	    [TA_FS_CANCEL] = 'x',
	    [TA_FS_THAW] = 't',
	    [TA_DEADLINE] = 'd',
	    [TA_LEASE] = 'l',
	    [TA_HOOKS_FREEZE] = 'H',
	    [TA_HOOKS_ABORT] = 'B',
	    [TA_HOOKS_THAW] = 'h',
	    [TA_FORGET_GONE] = 'g',
	    [TA_RETHAW_TIMER] = 'r',
	    [TA_LOG] = 0, /* and TA_BEGIN, TA_STAGE, TA_PROGRESS */
	};
	size_t i, n = 0;

	for (i = 0; i < out.n; i++)
		if (letter[out.a[i].kind])
			s[n++] = letter[out.a[i].kind];
	s[n] = '\0';
	return s;
}

/* R_OK or R_FAIL, the one reply among the actions (-1: none). */
static int64_t
replied(void)
{
	size_t i;
	int64_t r = -1;

	for (i = 0; i < out.n; i++)
		if (out.a[i].kind == TA_REPLY) {
			assert_int_equal(r, -1); /* at most one */
			r = out.a[i].ok ? R_OK : R_FAIL;
		}
	return r;
}

static bool
logged(const char *needle)
{
	size_t i;

	for (i = 0; i < out.n; i++)
		if (out.a[i].kind == TA_LOG && strstr(out.a[i].text, needle))
			return true;
	return false;
}

static void feed_local(enum txn_op, unsigned int);

static void
to_frozen(void)
{
	feed(TE_HOST_REQUEST, TXN_OP_FREEZE, false);
	assert_string_equal(kinds(), "dF");
	assert_int_equal(t.state, TXN_APPS_FREEZING);
	feed(TE_APPS_FROZEN, 0, true);
	assert_string_equal(kinds(), "Hdlf");
	feed(TE_FS_FROZEN, 0, true);
	assert_string_equal(kinds(), "dlR");
	assert_int_equal(replied(), R_OK);
	assert_int_equal(t.state, TXN_FROZEN);
	assert_true(txn_may_be_frozen(&t));
}

static void
test_hot_backup(void **state)
{
	feed(TE_HOST_REQUEST, TXN_OP_CHECK, false);
	assert_string_equal(kinds(), "dC");
	assert_int_equal(first(TA_DEADLINE)->ms, limits.check_ms);
	feed(TE_CHECK_DONE, 0, true);
	assert_int_equal(replied(), R_OK);
	assert_int_equal(t.state, TXN_IDLE);

	feed(TE_HOST_REQUEST, TXN_OP_CHECK, false);
	feed(TE_CHECK_DONE, 0, false);
	assert_int_equal(replied(), R_FAIL);
	assert_true(logged("the culprit"));
}

static void
test_full_backup(void **state)
{
	to_frozen();
	feed(TE_HOST_REQUEST, TXN_OP_THAW, false);
	assert_string_equal(kinds(), "ldt");
	assert_int_equal(first(TA_LEASE)->ms, 0); /* lease disarmed */
	feed(TE_FS_THAWED, 0, true);
	assert_string_equal(kinds(), "ldhT");
	assert_int_equal(t.state, TXN_APPS_THAWING);
	feed(TE_APPS_THAWED, 0, true);
	assert_string_equal(kinds(), "dR");
	assert_int_equal(replied(), R_OK);
	assert_int_equal(t.state, TXN_IDLE);
	assert_false(txn_may_be_frozen(&t));
}

static void
test_thaw_idle(void **state)
{
	feed(TE_HOST_REQUEST, TXN_OP_THAW, false);
	assert_string_equal(kinds(), "R");
	assert_int_equal(replied(), R_OK);
	assert_true(logged("nothing frozen"));
	assert_int_equal(t.state, TXN_IDLE);
}

/* An engine or daemon before this one died frozen: the host's THAW for
 * its snapshot says E_FAIL, once; a FREEZE forgets it; not while busy. */
static void
test_thawed_behind(void **state)
{
	txn_thawed_behind(&t);
	feed(TE_HOST_REQUEST, TXN_OP_THAW, false);
	assert_int_equal(replied(), R_FAIL);
	assert_true(logged("the snapshot may be inconsistent"));
	feed(TE_HOST_REQUEST, TXN_OP_THAW, false);
	assert_int_equal(replied(), R_OK);

	setup(NULL);
	txn_thawed_behind(&t);
	to_frozen(); /* a new backup instead */
	feed(TE_HOST_REQUEST, TXN_OP_THAW, false);
	feed(TE_FS_THAWED, 0, true);
	feed(TE_APPS_THAWED, 0, true);
	assert_int_equal(replied(), R_OK);

	setup(NULL);
	to_frozen();
	txn_thawed_behind(&t); /* not idle: not ours to say */
	feed(TE_HOST_REQUEST, TXN_OP_THAW, false);
	feed(TE_FS_THAWED, 0, true);
	feed(TE_APPS_THAWED, 0, true);
	assert_int_equal(replied(), R_OK);
}

static void
test_freeze_while_frozen(void **state)
{
	to_frozen();
	feed(TE_HOST_REQUEST, TXN_OP_FREEZE, false);
	assert_string_equal(kinds(), "R");
	assert_int_equal(replied(), R_OK);
	assert_int_equal(t.state, TXN_FROZEN);
	feed(TE_HOST_REQUEST, TXN_OP_CHECK, false);
	assert_int_equal(replied(), R_FAIL);
	assert_int_equal(t.state, TXN_FROZEN);
}

static void
test_unknown_op(void **state)
{
	feed(TE_HOST_REQUEST, TXN_OP_OTHER, false);
	assert_int_equal(replied(), R_FAIL);
	assert_int_equal(t.state, TXN_IDLE);
}

static void
test_app_veto(void **state)
{
	feed(TE_HOST_REQUEST, TXN_OP_FREEZE, false);
	feed(TE_APPS_FROZEN, 0, false);
	assert_string_equal(kinds(), "dAR");
	assert_int_equal(replied(), R_FAIL);
	assert_true(logged("the culprit"));
	assert_int_equal(t.state, TXN_IDLE);
}

static void
test_fs_freeze_fails(void **state)
{
	feed(TE_HOST_REQUEST, TXN_OP_FREEZE, false);
	feed(TE_APPS_FROZEN, 0, true);
	feed(TE_FS_FROZEN, 0, false);
	assert_string_equal(kinds(), "dlABR");
	assert_int_equal(replied(), R_FAIL);
	assert_int_equal(t.state, TXN_IDLE);
}

static void
test_deadlines(void **state)
{
	/* apps too slow: abort them, E_FAIL, nothing frozen */
	feed(TE_HOST_REQUEST, TXN_OP_FREEZE, false);
	feed(TE_DEADLINE, 0, false);
	assert_string_equal(kinds(), "AR");
	assert_int_equal(replied(), R_FAIL);
	assert_int_equal(t.state, TXN_IDLE);
	/* their late answer is stale */
	feed(TE_APPS_FROZEN, 0, true);
	assert_int_equal(out.n, 0);

	/* FIFREEZE stuck: answer now, cancel, wait for it, then idle */
	feed(TE_HOST_REQUEST, TXN_OP_FREEZE, false);
	feed(TE_APPS_FROZEN, 0, true);
	feed(TE_DEADLINE, 0, false);
	assert_string_equal(kinds(), "xABR");
	assert_int_equal(replied(), R_FAIL);
	assert_int_equal(t.state, TXN_ABORTING);
	assert_true(txn_may_be_frozen(&t));
	feed(TE_HOST_REQUEST, TXN_OP_THAW, false); /* refused meanwhile */
	assert_int_equal(replied(), R_FAIL);
	assert_int_equal(t.state, TXN_ABORTING);
	feed(TE_FS_FROZEN, 0, false); /* undone */
	assert_int_equal(t.state, TXN_IDLE);
	assert_int_equal(replied(), -1);
}

static void
test_stale_events(void **state)
{
	feed(TE_HOST_REQUEST, TXN_OP_CHECK, false);
	feed(TE_CHECK_DONE, 0, true);
	/* an event of an older transaction id is ignored */
	feed(TE_HOST_REQUEST, TXN_OP_FREEZE, false);
	{
		struct txn_event ev = {
		    .kind = TE_APPS_FROZEN, .id = t.id - 1, .ok = true};

		out.n = 0;
		step_into_out(&ev);
		assert_int_equal(out.n, 0);
		assert_int_equal(t.state, TXN_APPS_FREEZING);
	}
	/* a deadline in IDLE does nothing */
	setup(NULL);
	feed(TE_DEADLINE, 0, false);
	feed(TE_LEASE_EXPIRED, 0, false);
	feed(TE_FS_THAWED, 0, true);
	assert_int_equal(out.n, 0);
	assert_int_equal(t.state, TXN_IDLE);
}

static void
test_superseded(void **state)
{
	/* the kernel gave up on our HOT_BACKUP: the new FREEZE is served,
	 * the old answer is never sent */
	feed(TE_HOST_REQUEST, TXN_OP_CHECK, false);
	feed(TE_HOST_REQUEST, TXN_OP_FREEZE, false);
	assert_int_equal(replied(), -1);
	assert_int_equal(t.state, TXN_APPS_FREEZING);
	assert_true(logged("superseded"));
	feed(TE_APPS_FROZEN, 0, true);
	feed(TE_FS_FROZEN, 0, true);
	assert_int_equal(replied(), R_OK);

	/* a request while filesystems are being frozen for an older one:
	 * that freeze is cancelled and the new request refused */
	setup(NULL);
	feed(TE_HOST_REQUEST, TXN_OP_FREEZE, false);
	feed(TE_APPS_FROZEN, 0, true);
	feed(TE_HOST_REQUEST, TXN_OP_THAW, false);
	assert_string_equal(kinds(), "dxABR");
	assert_int_equal(replied(), R_FAIL);
	assert_int_equal(t.state, TXN_ABORTING);
}

static void
test_lease(void **state)
{
	to_frozen();
	feed(TE_LEASE_EXPIRED, 0, false);
	assert_string_equal(kinds(), "ldt");
	assert_int_equal(replied(), -1);
	feed(TE_FS_THAWED, 0, true);
	feed(TE_APPS_THAWED, 0, true);
	assert_int_equal(replied(), -1);
	assert_int_equal(t.state, TXN_IDLE);
	/* the host's THAW, late: E_FAIL, once */
	feed(TE_HOST_REQUEST, TXN_OP_THAW, false);
	assert_int_equal(replied(), R_FAIL);
	feed(TE_HOST_REQUEST, TXN_OP_THAW, false);
	assert_int_equal(replied(), R_OK);

	/* THAW arriving while the lease's thaw runs: adopted, with a
	 * deadline of its own, E_FAIL */
	setup(NULL);
	to_frozen();
	feed(TE_LEASE_EXPIRED, 0, false);
	feed(TE_HOST_REQUEST, TXN_OP_THAW, false);
	assert_string_equal(kinds(), "d");
	assert_int_equal(first(TA_DEADLINE)->ms, limits.thaw_ms);
	feed(TE_FS_THAWED, 0, true);
	feed(TE_APPS_THAWED, 0, true);
	assert_int_equal(replied(), R_FAIL);
	assert_int_equal(t.state, TXN_IDLE);
	feed(TE_HOST_REQUEST, TXN_OP_THAW, false);
	assert_int_equal(replied(), R_OK);
}

static void
test_host_lost(void **state)
{
	/* lost while frozen: thaw, answer nothing */
	to_frozen();
	feed(TE_HOST_LOST, 0, false);
	assert_string_equal(kinds(), "ldt");
	feed(TE_FS_THAWED, 0, true);
	feed(TE_APPS_THAWED, 0, true);
	assert_int_equal(replied(), -1);
	assert_int_equal(t.state, TXN_IDLE);

	/* lost during THAW (e.g. hibernation's fake THAW): finish it, do
	 * not answer */
	to_frozen();
	feed(TE_HOST_REQUEST, TXN_OP_THAW, false);
	feed(TE_HOST_LOST, 0, false);
	feed(TE_FS_THAWED, 0, true);
	feed(TE_APPS_THAWED, 0, true);
	assert_int_equal(replied(), -1);
	assert_int_equal(t.state, TXN_IDLE);

	/* lost while freezing filesystems: cancel */
	feed(TE_HOST_REQUEST, TXN_OP_FREEZE, false);
	feed(TE_APPS_FROZEN, 0, true);
	feed(TE_HOST_LOST, 0, false);
	assert_string_equal(kinds(), "dxAB");
	assert_int_equal(t.state, TXN_ABORTING);
	feed(TE_FS_FROZEN, 0, false);
	assert_int_equal(t.state, TXN_IDLE);
}

static void
test_thaw_fails(void **state)
{
	static const enum txn_op refused[] = {
	    TXN_OP_CHECK, TXN_OP_FREEZE, TXN_OP_THAW};
	size_t i;

	to_frozen();
	feed(TE_HOST_REQUEST, TXN_OP_THAW, false);
	feed(TE_FS_THAWED, 0, false);
	assert_true(txn_may_be_frozen(&t));
	feed(TE_APPS_THAWED, 0, true);
	assert_int_equal(replied(), R_FAIL);
	/* what it left frozen is tried again, rethaw_ms on */
	assert_string_equal(kinds(), "dRr");
	assert_int_equal(first(TA_RETHAW_TIMER)->ms, TXN_RETHAW_MS);
	assert_int_equal(t.state, TXN_IDLE);
	assert_true(txn_may_be_frozen(&t));
	/* meanwhile, nothing freezes again and no THAW is told S_OK */
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		feed(TE_HOST_REQUEST, refused[i], false);
		assert_int_equal(replied(), R_FAIL);
		assert_true(logged("a thaw failed on are still frozen"));
	}
	feed_local(TXN_OP_HOLD, 30000);
	assert_int_equal(replied(), R_FAIL);
	feed(TE_RETHAW_DUE, 0, false);
	assert_string_equal(kinds(), "t");
	feed(TE_FS_THAWED, 0, false); /* again: the timer again */
	assert_string_equal(kinds(), "r");
	assert_true(logged("tried again failed too"));
	assert_true(txn_may_be_frozen(&t));
	feed(TE_RETHAW_DUE, 0, false);
	feed(TE_FS_THAWED, 0, false); /* said once */
	assert_false(logged("tried again failed too"));
	feed(TE_RETHAW_DUE, 0, false);
	feed(TE_FS_THAWED, 0, true);
	assert_string_equal(kinds(), "l");
	assert_int_equal(first(TA_LEASE)->guard, TXN_GUARD_DISARM);
	assert_true(logged("tried again and succeeded"));
	assert_false(txn_may_be_frozen(&t));
	feed(TE_RETHAW_DUE, 0, false); /* one too many: nothing */
	assert_int_equal(out.n, 0);
	/* apps late to confirm THAW: reported, not fatal */
	to_frozen();
	feed(TE_HOST_REQUEST, TXN_OP_THAW, false);
	feed(TE_FS_THAWED, 0, true);
	feed(TE_DEADLINE, 0, false);
	assert_int_equal(replied(), R_OK);
	assert_true(logged("did not all confirm THAW"));
	assert_int_equal(t.state, TXN_IDLE);
}

/*
 * A freeze that failed and could not all be undone (a FITHAW of the undo
 * failed): E_FAIL, the guard kept armed, and what is left tried again
 * as after a failed thaw.
 */
static void
test_undo_fails(void **state)
{
	struct txn_event ev = {.kind = TE_FS_FROZEN,
	    .ok = false,
	    .reason = "FIFREEZE /b: EIO; undo failed: FITHAW /a: EIO",
	    .left_frozen = true};
	size_t i;

	feed(TE_HOST_REQUEST, TXN_OP_FREEZE, false);
	feed(TE_APPS_FROZEN, 0, true);
	ev.id = t.id;
	out.n = 0;
	step_into_out(&ev);
	assert_int_equal(replied(), R_FAIL);
	assert_true(logged("could not all be undone"));
	for (i = 0; i < out.n; i++)
		assert_false(out.a[i].kind == TA_LEASE &&
		    out.a[i].guard == TXN_GUARD_DISARM);
	assert_non_null(first(TA_RETHAW_TIMER));
	assert_true(txn_may_be_frozen(&t));
	feed(TE_RETHAW_DUE, 0, false);
	assert_string_equal(kinds(), "t");
	feed(TE_FS_THAWED, 0, true);
	assert_int_equal(first(TA_LEASE)->guard, TXN_GUARD_DISARM);
	assert_false(txn_may_be_frozen(&t));
}

/*
 * Found by test_txn_model.c: a request that supersedes an owed THAW
 * disarmed the thaw's deadline, so that apps which never confirmed THAW
 * kept the machine in "thawing apps" for good (every later request
 * refused as busy).  The thaw goes on, and so does its deadline.
 */
static void
test_thaw_superseded_keeps_deadline(void **state)
{
	to_frozen();
	feed(TE_HOST_REQUEST, TXN_OP_THAW, false);
	feed(TE_FS_THAWED, 0, true);
	assert_int_equal(t.state, TXN_APPS_THAWING);
	feed(TE_HOST_REQUEST, TXN_OP_CHECK, false);
	assert_string_equal(kinds(), "R"); /* no 'd': still armed */
	assert_int_equal(replied(), R_FAIL);
	assert_true(logged("superseded"));
	assert_int_equal(t.state, TXN_APPS_THAWING);
	feed(TE_DEADLINE, 0, false); /* the apps never answer */
	assert_int_equal(replied(), -1); /* the THAW was given up on */
	assert_int_equal(t.state, TXN_IDLE);

	/* the same while the filesystems thaw */
	to_frozen();
	feed(TE_HOST_REQUEST, TXN_OP_THAW, false);
	feed(TE_HOST_REQUEST, TXN_OP_CHECK, false);
	assert_string_equal(kinds(), "R");
	assert_int_equal(t.state, TXN_FS_THAWING);
	feed(TE_FS_THAWED, 0, true);
	feed(TE_APPS_THAWED, 0, true);
	assert_int_equal(replied(), -1);
	assert_int_equal(t.state, TXN_IDLE);
}

/*
 * Found by test_txn_model.c: after the thaw's deadline had passed, a
 * THAW (the host trying again) was adopted into the running thaw with
 * no deadline: had FITHAW hung, it would never have been answered.
 */
static void
test_thaw_adopted_gets_deadline(void **state)
{
	to_frozen();
	feed(TE_HOST_REQUEST, TXN_OP_THAW, false);
	feed(TE_DEADLINE, 0, false);
	assert_int_equal(replied(), R_FAIL); /* "still trying" */
	assert_int_equal(t.state, TXN_FS_THAWING);
	feed(TE_HOST_REQUEST, TXN_OP_THAW, false);
	assert_string_equal(kinds(), "d");
	assert_int_equal(first(TA_DEADLINE)->ms, limits.thaw_ms);
	feed(TE_DEADLINE, 0, false); /* FITHAW still stuck */
	assert_int_equal(replied(), R_FAIL);
	assert_int_equal(t.state, TXN_FS_THAWING);
	feed(TE_FS_THAWED, 0, true);
	feed(TE_APPS_THAWED, 0, true);
	assert_int_equal(replied(), -1); /* answered once, already */
	assert_int_equal(t.state, TXN_IDLE);
}

/* A request from hv_vss_ctl (ms: a FREEZE's lease, 0 for max_frozen). */
static void
feed_local(enum txn_op op, unsigned int ms)
{
	struct txn_event ev = {
	    .kind = TE_HOST_REQUEST, .op = op, .local = true, .ms = ms};

	out.n = 0;
	step_into_out(&ev);
	complete_hooks();
}

/* True if the one reply among the actions goes to hv_vss_ctl. */
static bool
replied_local(void)
{
	size_t i;

	for (i = 0; i < out.n; i++)
		if (out.a[i].kind == TA_REPLY)
			return out.a[i].local;
	fail_msg("no reply");
	return false;
}

/*
 * Found by test_txn_model.c: one lease_expired flag served both
 * requesters, so that a local snapshot taken after the host's lease had
 * expired cleared it, and the host's late THAW was answered S_OK for a
 * snapshot that may be inconsistent; the same the other way round.
 */
static void
test_lease_per_requester(void **state)
{
	/* the host's lease expires; a local snapshot comes and goes */
	to_frozen();
	feed(TE_LEASE_EXPIRED, 0, false);
	feed(TE_FS_THAWED, 0, true);
	feed(TE_APPS_THAWED, 0, true);
	assert_int_equal(t.state, TXN_IDLE);
	feed_local(TXN_OP_FREEZE, 5000);
	assert_int_equal(t.state, TXN_APPS_FREEZING);
	feed(TE_APPS_FROZEN, 0, true);
	feed(TE_FS_FROZEN, 0, true);
	assert_string_equal(kinds(), "dlR");
	assert_int_equal(first(TA_LEASE)->ms, 5000); /* its own lease */
	assert_int_equal(replied(), R_OK);
	assert_true(replied_local());
	feed_local(TXN_OP_THAW, 0);
	feed(TE_FS_THAWED, 0, true);
	feed(TE_APPS_THAWED, 0, true);
	assert_int_equal(replied(), R_OK);
	assert_true(replied_local());
	/* the host's THAW, late: still E_FAIL */
	feed(TE_HOST_REQUEST, TXN_OP_THAW, false);
	assert_int_equal(replied(), R_FAIL);
	assert_false(replied_local());
	assert_true(logged("lease"));

	/* the local lease expires; a host backup comes and goes */
	setup(NULL);
	feed_local(TXN_OP_FREEZE, 5000);
	feed(TE_APPS_FROZEN, 0, true);
	feed(TE_FS_FROZEN, 0, true);
	assert_int_equal(replied(), R_OK);
	feed(TE_LEASE_EXPIRED, 0, false);
	feed(TE_FS_THAWED, 0, true);
	feed(TE_APPS_THAWED, 0, true);
	assert_int_equal(t.state, TXN_IDLE);
	to_frozen();
	feed(TE_HOST_REQUEST, TXN_OP_THAW, false);
	feed(TE_FS_THAWED, 0, true);
	feed(TE_APPS_THAWED, 0, true);
	assert_int_equal(replied(), R_OK);
	/* hv_vss_ctl's release, late: E_FAIL */
	feed_local(TXN_OP_THAW, 0);
	assert_int_equal(replied(), R_FAIL);
	assert_true(replied_local());
}

static void
test_local_snapshot(void **state)
{
	size_t i;

	/* a local FREEZE runs the same stages, with its own lease */
	feed_local(TXN_OP_FREEZE, 5000);
	assert_string_equal(kinds(), "dF");
	feed(TE_APPS_FROZEN, 0, true);
	feed(TE_FS_FROZEN, 0, true);
	assert_int_equal(replied(), R_OK);
	assert_true(replied_local());
	for (i = 0; i < out.n; i++)
		if (out.a[i].kind == TA_LEASE)
			assert_int_equal(out.a[i].ms, 5000);
	assert_int_equal(t.state, TXN_FROZEN);

	/* host requests never interleave: refused, the snapshot stays */
	feed(TE_HOST_REQUEST, TXN_OP_CHECK, false);
	assert_int_equal(replied(), R_FAIL);
	assert_false(replied_local());
	assert_true(logged("a local transaction is in progress"));
	feed(TE_HOST_REQUEST, TXN_OP_THAW, false);
	assert_int_equal(replied(), R_FAIL);
	assert_int_equal(t.state, TXN_FROZEN);
	/* nor does the host losing its device end a local snapshot */
	feed(TE_HOST_LOST, 0, false);
	assert_int_equal(out.n, 0);
	assert_int_equal(t.state, TXN_FROZEN);

	/* a second local FREEZE is refused; the local THAW ends it */
	feed_local(TXN_OP_FREEZE, 5000);
	assert_int_equal(replied(), R_FAIL);
	feed_local(TXN_OP_THAW, 0);
	assert_string_equal(kinds(), "ldt");
	feed(TE_FS_THAWED, 0, true);
	feed(TE_APPS_THAWED, 0, true);
	assert_int_equal(replied(), R_OK);
	assert_true(replied_local());
	assert_int_equal(t.state, TXN_IDLE);
}

static void
test_local_refused_during_host(void **state)
{
	to_frozen();
	feed_local(TXN_OP_THAW, 0);
	assert_int_equal(replied(), R_FAIL);
	assert_true(replied_local());
	assert_true(logged("a host transaction is in progress"));
	assert_int_equal(t.state, TXN_FROZEN);
	feed_local(TXN_OP_CHECK, 0);
	assert_int_equal(replied(), R_FAIL);
	/* the host's own THAW is untouched */
	feed(TE_HOST_REQUEST, TXN_OP_THAW, false);
	assert_string_equal(kinds(), "ldt");
}

static void
test_local_lost(void **state)
{
	/* hv_vss_ctl dies while its snapshot is frozen: thaw, answer none */
	feed_local(TXN_OP_FREEZE, 5000);
	feed(TE_APPS_FROZEN, 0, true);
	feed(TE_FS_FROZEN, 0, true);
	feed(TE_LOCAL_LOST, 0, false);
	assert_string_equal(kinds(), "ldt");
	feed(TE_FS_THAWED, 0, true);
	feed(TE_APPS_THAWED, 0, true);
	assert_int_equal(replied(), -1);
	assert_int_equal(t.state, TXN_IDLE);
	/* ... or while it is being frozen: cancel and undo */
	feed_local(TXN_OP_FREEZE, 5000);
	feed(TE_APPS_FROZEN, 0, true);
	feed(TE_LOCAL_LOST, 0, false);
	assert_string_equal(kinds(), "dxAB");
	assert_int_equal(t.state, TXN_ABORTING);
	/* a local loss does nothing to a host transaction */
	setup(NULL);
	to_frozen();
	feed(TE_LOCAL_LOST, 0, false);
	assert_int_equal(out.n, 0);
	assert_int_equal(t.state, TXN_FROZEN);
}

/* The text a refusal carries, for hv_vss_ctl and the history. */
static const char *
reply_text(void)
{
	size_t i;

	for (i = 0; i < out.n; i++)
		if (out.a[i].kind == TA_REPLY)
			return out.a[i].text;
	return NULL;
}

static void
test_reply_reasons(void **state)
{
	/* a stage that fails: its culprit */
	feed(TE_HOST_REQUEST, TXN_OP_FREEZE, false);
	feed(TE_APPS_FROZEN, 0, false);
	assert_int_equal(replied(), R_FAIL);
	assert_string_equal(reply_text(), "the culprit");
	/* a refusal that starts nothing: what was logged with it */
	to_frozen();
	assert_string_equal(reply_text(), "");
	feed_local(TXN_OP_THAW, 0);
	assert_int_equal(replied(), R_FAIL);
	assert_non_null(strstr(reply_text(),
	    "a host transaction is in "
	    "progress"));
	/* a new transaction does not inherit the last one's reason */
	feed(TE_HOST_REQUEST, TXN_OP_THAW, false);
	feed(TE_FS_THAWED, 0, true);
	feed(TE_APPS_THAWED, 0, true);
	assert_int_equal(replied(), R_OK);
	feed(TE_HOST_REQUEST, TXN_OP_CHECK, false);
	feed(TE_DEADLINE, 0, false);
	assert_non_null(strstr(reply_text(), "no answer within"));
}

/* A detached hold: apps (and hooks) only, no filesystem, then RELEASE. */
static void
test_hold(void **state)
{
	feed_local(TXN_OP_HOLD, 30000);
	assert_string_equal(kinds(), "dF");
	assert_int_equal(t.state, TXN_APPS_FREEZING);
	feed(TE_APPS_FROZEN, 0, true);
	/* no FS_FREEZE: the deadline off, the hold's lease, S_OK */
	assert_string_equal(kinds(), "HdlR");
	assert_int_equal(first(TA_LEASE)->ms, 30000);
	assert_int_equal(replied(), R_OK);
	assert_true(replied_local());
	assert_int_equal(t.state, TXN_HELD);
	assert_false(txn_may_be_frozen(&t));

	/* the host's requests are refused, named */
	feed(TE_HOST_REQUEST, TXN_OP_FREEZE, false);
	assert_string_equal(kinds(), "R");
	assert_int_equal(replied(), R_FAIL);
	assert_false(replied_local());
	assert_non_null(strstr(reply_text(), "held for another backup agent"));
	/* and so are hv_vss_ctl freeze and thaw */
	feed_local(TXN_OP_FREEZE, 0);
	assert_int_equal(replied(), R_FAIL);
	feed_local(TXN_OP_THAW, 0);
	assert_int_equal(replied(), R_FAIL);
	assert_int_equal(t.state, TXN_HELD);

	feed_local(TXN_OP_RELEASE, 0);
	assert_string_equal(kinds(), "ldhT");
	assert_int_equal(first(TA_LEASE)->ms, 0); /* lease disarmed */
	assert_int_equal(t.state, TXN_APPS_THAWING);
	feed(TE_APPS_THAWED, 0, true);
	assert_string_equal(kinds(), "dR");
	assert_int_equal(replied(), R_OK);
	assert_true(replied_local());
	assert_int_equal(t.state, TXN_IDLE);

	/* a second RELEASE has nothing to do */
	feed_local(TXN_OP_RELEASE, 0);
	assert_int_equal(replied(), R_OK);
	/* the host may back up again */
	feed(TE_HOST_REQUEST, TXN_OP_FREEZE, false);
	assert_string_equal(kinds(), "dF");
}

/* Apps gone while held: the RELEASE says E_FAIL, naming them, and has
 * their departures forgotten; none gone, or no hold: S_OK, kept. */
static void
test_hold_apps_gone(void **state)
{
	struct txn_event rel = {.kind = TE_HOST_REQUEST,
	    .op = TXN_OP_RELEASE,
	    .local = true,
	    .ngone = 2,
	    .reason = "app db (pid 41, uid 26): closed; app web (pid 42, "
	              "uid 33): dropped"};

	feed_local(TXN_OP_HOLD, 30000);
	feed(TE_APPS_FROZEN, 0, true);
	assert_int_equal(t.state, TXN_HELD);
	out.n = 0;
	step_into_out(&rel);
	complete_hooks();
	assert_string_equal(kinds(), "gldhT");
	assert_true(logged("2 registered apps gone while held, not part of "
	                   "the backup taken meanwhile: app db (pid 41"));
	feed(TE_APPS_THAWED, 0, true);
	assert_int_equal(replied(), R_FAIL);
	assert_true(replied_local());
	assert_non_null(
	    strstr(reply_text(), "2 registered apps gone while held"));
	assert_int_equal(t.state, TXN_IDLE);

	/* nothing held: nothing to judge, nothing forgotten */
	out.n = 0;
	step_into_out(&rel);
	assert_string_equal(kinds(), "R");
	assert_int_equal(replied(), R_OK);

	/* held, none gone: S_OK */
	rel.ngone = 0;
	rel.reason = "";
	feed_local(TXN_OP_HOLD, 30000);
	feed(TE_APPS_FROZEN, 0, true);
	out.n = 0;
	step_into_out(&rel);
	complete_hooks();
	assert_string_equal(kinds(), "ldhT");
	feed(TE_APPS_THAWED, 0, true);
	assert_int_equal(replied(), R_OK);
}

/* The hold's lease releases the apps; the late RELEASE says E_FAIL. */
static void
test_hold_lease(void **state)
{
	feed_local(TXN_OP_HOLD, 5000);
	feed(TE_APPS_FROZEN, 0, true);
	feed(TE_LEASE_EXPIRED, 0, false);
	assert_string_equal(kinds(), "ldhT");
	assert_true(logged("without a RELEASE"));
	assert_int_equal(replied(), -1);
	feed(TE_APPS_THAWED, 0, true);
	assert_int_equal(replied(), -1);
	assert_int_equal(t.state, TXN_IDLE);
	feed_local(TXN_OP_RELEASE, 0);
	assert_int_equal(replied(), R_FAIL);
	assert_non_null(strstr(reply_text(), "lease expired"));
	/* once */
	feed_local(TXN_OP_RELEASE, 0);
	assert_int_equal(replied(), R_OK);

	/* a RELEASE during the lease's release waits for its end */
	feed_local(TXN_OP_HOLD, 5000);
	feed(TE_APPS_FROZEN, 0, true);
	feed(TE_LEASE_EXPIRED, 0, false);
	feed_local(TXN_OP_RELEASE, 0);
	assert_int_equal(replied(), -1);
	feed(TE_APPS_THAWED, 0, true);
	assert_int_equal(replied(), R_FAIL);
	feed_local(TXN_OP_RELEASE, 0);
	assert_int_equal(replied(), R_OK);
}

/* A hold whose apps refuse, or whose client goes before the answer. */
static void
test_hold_refused(void **state)
{
	feed_local(TXN_OP_HOLD, 0);
	feed(TE_APPS_FROZEN, 0, false);
	assert_string_equal(kinds(), "dAR");
	assert_int_equal(replied(), R_FAIL);
	assert_true(logged("HOLD failed: the culprit"));
	assert_int_equal(t.state, TXN_IDLE);

	feed_local(TXN_OP_HOLD, 0);
	feed(TE_LOCAL_LOST, 0, false);
	assert_string_equal(kinds(), "dA");
	assert_int_equal(t.state, TXN_IDLE);

	/* the daemon stopping while held releases them */
	feed_local(TXN_OP_HOLD, 0);
	feed(TE_APPS_FROZEN, 0, true);
	assert_int_equal(first(TA_LEASE)->ms, limits.max_frozen_ms);
	feed(TE_LOCAL_LOST, 0, false);
	assert_string_equal(kinds(), "ldhT");

	/* the host cannot ask for a HOLD: an unknown op */
	setup(NULL);
	feed(TE_HOST_REQUEST, TXN_OP_HOLD, false);
	assert_int_equal(replied(), R_FAIL);
	assert_int_equal(t.state, TXN_IDLE);
	/* nor hold while a local freeze is on */
	feed_local(TXN_OP_FREEZE, 0);
	feed(TE_APPS_FROZEN, 0, true);
	feed(TE_FS_FROZEN, 0, true);
	feed_local(TXN_OP_HOLD, 0);
	assert_int_equal(replied(), R_FAIL);
	assert_int_equal(t.state, TXN_FROZEN);
}

/*
 * hot_backup_veto = ok: a HOT_BACKUP that would be refused is answered
 * S_OK with the reason kept (the history's culprit) and logged; the
 * FREEZE is asked as usual, and fails on the same cause.
 */
static void
test_hot_backup_veto_ok(void **state)
{
	struct txn_limits l = limits;

	l.hot_backup_ok = true;
	txn_init(&t, &l);
	feed(TE_HOST_REQUEST, TXN_OP_CHECK, false);
	feed(TE_CHECK_DONE, 0, false);
	assert_int_equal(replied(), R_OK);
	assert_string_equal(reply_text(), "the culprit");
	assert_true(logged("hot_backup_veto = ok"));
	assert_true(logged("HOT_BACKUP answered S_OK"));
	/* the FREEZE fails on it at once, asking nobody */
	feed(TE_HOST_REQUEST, TXN_OP_FREEZE, false);
	assert_string_equal(kinds(), "R");
	assert_int_equal(replied(), R_FAIL);
	assert_string_equal(reply_text(), "the culprit");
	assert_int_equal(t.state, TXN_IDLE);
	/* once: the next backup is asked afresh */
	feed(TE_HOST_REQUEST, TXN_OP_FREEZE, false);
	assert_string_equal(kinds(), "dF");
	feed(TE_APPS_FROZEN, 0, false);
	assert_int_equal(replied(), R_FAIL);
	/* a new HOT_BACKUP forgets the last one's refusal */
	feed(TE_HOST_REQUEST, TXN_OP_CHECK, false);
	feed(TE_CHECK_DONE, 0, false);
	assert_int_equal(replied(), R_OK);
	feed(TE_HOST_REQUEST, TXN_OP_CHECK, false);
	feed(TE_CHECK_DONE, 0, true);
	assert_int_equal(replied(), R_OK);
	feed(TE_HOST_REQUEST, TXN_OP_FREEZE, false);
	assert_string_equal(kinds(), "dF");
	setup(NULL);
	txn_init(&t, &l);

	/* its deadline too */
	feed(TE_HOST_REQUEST, TXN_OP_CHECK, false);
	feed(TE_DEADLINE, 0, false);
	assert_int_equal(replied(), R_OK);
	assert_non_null(strstr(reply_text(), "no answer within"));

	/* and a refusal for a hold: the FREEZE is refused after it */
	feed_local(TXN_OP_HOLD, 0);
	feed(TE_APPS_FROZEN, 0, true);
	feed(TE_HOST_REQUEST, TXN_OP_CHECK, false);
	assert_int_equal(replied(), R_OK);
	assert_non_null(strstr(reply_text(), "held for another backup agent"));
	feed(TE_HOST_REQUEST, TXN_OP_FREEZE, false);
	assert_int_equal(replied(), R_FAIL);
	/* the local requests are not the host's: E_FAIL stays */
	feed_local(TXN_OP_CHECK, 0);
	assert_int_equal(replied(), R_FAIL);

	/* fail (the limits of every other test): E_FAIL */
	setup(NULL);
	feed(TE_HOST_REQUEST, TXN_OP_CHECK, false);
	feed(TE_CHECK_DONE, 0, false);
	assert_int_equal(replied(), R_FAIL);
	assert_false(logged("hot_backup_veto"));
}

/* The action of a kind after the i-th action (for a second one). */
static const struct txn_action *
next_of(enum txn_action_kind kind, const struct txn_action *after)
{
	size_t i;

	for (i = after != NULL ? (size_t)(after - out.a) + 1 : 0; i < out.n;
	     i++)
		if (out.a[i].kind == kind)
			return &out.a[i];
	fail_msg("no action %d after", kind);
	return NULL;
}

static void
tiers(const struct txn_action *a, int from, int to, unsigned int ms)
{
	assert_int_equal(a->from, from);
	assert_int_equal(a->to, to);
	assert_int_equal(a->ms, ms);
}

/*
 * hooks_tier = 5: the machine orders the stages and gives each its
 * budget: tiers 0..4, the hooks, tiers 5..9 with what is left of the
 * apps' time; on thaw the mirror, the apps' time halved between parts.
 */
static void
test_hooks_tier_stages(void **state)
{
	struct txn_limits l = limits;
	struct txn_event ev = {.kind = TE_APPS_FROZEN, .ok = true};

	l.hooks_tier = 5;
	txn_init(&t, &l);
	auto_hooks = false;
	feed(TE_HOST_REQUEST, TXN_OP_FREEZE, false);
	assert_string_equal(kinds(), "dF");
	/* one deadline for apps and hooks, each its own time within */
	assert_int_equal(first(TA_DEADLINE)->ms, 10000 + 5000);
	tiers(first(TA_APPS_FREEZE), 0, 4, 10000 - 200);
	/* the first part took 3 s */
	ev.id = t.id;
	ev.ms = 3000;
	out.n = 0;
	step_into_out(&ev);
	assert_string_equal(kinds(), "H");
	assert_int_equal(first(TA_HOOKS_FREEZE)->ms, 5000);
	assert_int_equal(t.state, TXN_HOOKS_FREEZING);
	assert_true(t.hooks_frozen);
	feed(TE_HOOKS_FROZEN, 0, true);
	assert_string_equal(kinds(), "F");
	tiers(first(TA_APPS_FREEZE), 5, 9, 10000 - 200 - 3000);
	assert_int_equal(t.state, TXN_APPS_FREEZING);
	feed(TE_APPS_FROZEN, 0, true);
	assert_string_equal(kinds(), "dlf");
	feed(TE_FS_FROZEN, 0, true);
	assert_int_equal(replied(), R_OK);

	feed(TE_HOST_REQUEST, TXN_OP_THAW, false);
	feed(TE_FS_THAWED, 0, true);
	assert_string_equal(kinds(), "ldT");
	tiers(first(TA_APPS_THAW), 9, 5, (20000 - 200) / 2);
	feed(TE_APPS_THAWED, 0, true);
	assert_string_equal(kinds(), "h");
	assert_int_equal(first(TA_HOOKS_THAW)->ms, 5000);
	assert_int_equal(t.state, TXN_HOOKS_THAWING);
	assert_false(t.hooks_frozen);
	feed(TE_HOOKS_THAWED, 0, false); /* reported, the thaw goes on */
	assert_true(logged("hooks thaw: the culprit"));
	assert_string_equal(kinds(), "T");
	tiers(first(TA_APPS_THAW), 4, 0, (20000 - 200) / 2);
	feed(TE_APPS_THAWED, 0, true);
	assert_string_equal(kinds(), "dR");
	assert_int_equal(replied(), R_OK);
}

/* hooks_tier = 10 (the default): the hooks after all the apps, and
 * thawed before them all; tiers 10..9 is no part at all */
static void
test_hooks_last(void **state)
{
	auto_hooks = false;
	feed(TE_HOST_REQUEST, TXN_OP_FREEZE, false);
	tiers(first(TA_APPS_FREEZE), 0, 9, 10000 - 200);
	feed(TE_APPS_FROZEN, 0, true);
	assert_string_equal(kinds(), "H");
	feed(TE_HOOKS_FROZEN, 0, true);
	assert_string_equal(kinds(), "dlf");
	feed(TE_FS_FROZEN, 0, true);
	feed(TE_HOST_REQUEST, TXN_OP_THAW, false);
	feed(TE_FS_THAWED, 0, true);
	assert_string_equal(kinds(), "ldh");
	feed(TE_HOOKS_THAWED, 0, true);
	tiers(first(TA_APPS_THAW), 9, 0, 20000 - 200);
}

/* A hook vetoes: the apps get ABORT, the hooks that saw "freeze"
 * "abort", and the host the hook's reason. */
static void
test_hooks_veto(void **state)
{
	auto_hooks = false;
	feed(TE_HOST_REQUEST, TXN_OP_FREEZE, false);
	feed(TE_APPS_FROZEN, 0, true);
	feed(TE_HOOKS_FROZEN, 0, false);
	assert_string_equal(kinds(), "dABR");
	assert_int_equal(replied(), R_FAIL);
	assert_string_equal(reply_text(), "the culprit");
	assert_false(t.hooks_frozen);
	assert_int_equal(t.state, TXN_IDLE);
	/* an app that vetoes before the hooks: no "abort" for them */
	feed(TE_HOST_REQUEST, TXN_OP_FREEZE, false);
	feed(TE_APPS_FROZEN, 0, false);
	assert_string_equal(kinds(), "dAR");
}

/* The stage deadline while the hooks run: they are stopped and told
 * "abort"; their late end is stale.  A superseded freeze the same. */
static void
test_hooks_deadline(void **state)
{
	auto_hooks = false;
	feed(TE_HOST_REQUEST, TXN_OP_FREEZE, false);
	feed(TE_APPS_FROZEN, 0, true);
	feed(TE_DEADLINE, 0, false);
	assert_string_equal(kinds(), "ABR");
	assert_true(logged("within 15000 ms"));
	feed(TE_HOOKS_FROZEN, 0, true);
	assert_int_equal(out.n, 0);

	feed(TE_HOST_REQUEST, TXN_OP_FREEZE, false);
	feed(TE_APPS_FROZEN, 0, true);
	feed(TE_HOST_REQUEST, TXN_OP_CHECK, false);
	assert_string_equal(kinds(), "dABdC");
	assert_int_equal(t.state, TXN_CHECKING);
}

/*
 * Found by test_txn_model.c (hooks_tier = 10): the thaw's deadline
 * while the thaw hooks ran left every application frozen, waiting for
 * hooks that outlasted the transaction (the old daemon.c logged "its
 * applications were not told THAW").  Now they are told at once.
 */
static void
test_thaw_hooks_outlast(void **state)
{
	to_frozen();
	auto_hooks = false;
	feed(TE_HOST_REQUEST, TXN_OP_THAW, false);
	feed(TE_FS_THAWED, 0, true);
	assert_int_equal(t.state, TXN_HOOKS_THAWING);
	feed(TE_DEADLINE, 0, false);
	tiers(first(TA_APPS_THAW), 9, 0, 20000 - 200);
	assert_int_equal(replied(), R_OK);
	assert_int_equal(t.state, TXN_IDLE);
}

/* With hooks_tier, a thaw deadline in the upper tiers still sends the
 * hooks their "thaw": none is left owed. */
static void
test_thaw_deadline_thaws_hooks(void **state)
{
	struct txn_limits l = limits;

	l.hooks_tier = 5;
	txn_init(&t, &l);
	feed(TE_HOST_REQUEST, TXN_OP_FREEZE, false);
	feed(TE_APPS_FROZEN, 0, true); /* and the hooks, by feed() */
	feed(TE_APPS_FROZEN, 0, true);
	feed(TE_FS_FROZEN, 0, true);
	assert_int_equal(t.state, TXN_FROZEN);
	auto_hooks = false;
	feed(TE_HOST_REQUEST, TXN_OP_THAW, false);
	feed(TE_FS_THAWED, 0, true);
	assert_int_equal(t.state, TXN_APPS_THAWING);
	assert_true(t.hooks_frozen);
	feed(TE_DEADLINE, 0, false);
	assert_string_equal(kinds(), "hR");
	assert_false(t.hooks_frozen);
}

/*
 * TA_LEASE arms the guard: before the filesystems freeze (their
 * deadline and the lease), again when frozen (the lease); it is kept
 * through the thaw, disarmed once all is thawed, and kept if the thaw
 * failed (the guard holds what is left).
 */
static void
test_guard_arming(void **state)
{
	const struct txn_action *a;

	feed(TE_HOST_REQUEST, TXN_OP_FREEZE, false);
	feed(TE_APPS_FROZEN, 0, true);
	a = first(TA_LEASE);
	assert_int_equal(a->guard, TXN_GUARD_ARM);
	assert_int_equal(a->guard_ms, 60000 + 60000);
	assert_int_equal(a->ms, 0);
	assert_true(a < first(TA_FS_FREEZE)); /* armed before it freezes */
	feed(TE_FS_FROZEN, 0, true);
	a = first(TA_LEASE);
	assert_int_equal(a->guard, TXN_GUARD_ARM);
	assert_int_equal(a->guard_ms, 60000);
	assert_int_equal(a->ms, 60000);
	feed(TE_HOST_REQUEST, TXN_OP_THAW, false);
	assert_int_equal(first(TA_LEASE)->guard, TXN_GUARD_KEEP);
	feed(TE_FS_THAWED, 0, true);
	assert_int_equal(first(TA_LEASE)->guard, TXN_GUARD_DISARM);
	feed(TE_APPS_THAWED, 0, true);

	/* a failed freeze leaves nothing frozen: disarmed */
	feed(TE_HOST_REQUEST, TXN_OP_FREEZE, false);
	feed(TE_APPS_FROZEN, 0, true);
	feed(TE_FS_FROZEN, 0, false);
	assert_int_equal(first(TA_LEASE)->guard, TXN_GUARD_DISARM);

	/* a failed thaw: the guard keeps its clock */
	to_frozen();
	feed(TE_HOST_REQUEST, TXN_OP_THAW, false);
	feed(TE_FS_THAWED, 0, false);
	for (a = NULL; (a = next_of(TA_DEADLINE, a))->ms == 0;)
		;
	assert_int_equal(a->ms, limits.thaw_ms);
	{
		size_t i;

		for (i = 0; i < out.n; i++)
			assert_false(out.a[i].kind == TA_LEASE &&
			    out.a[i].guard != TXN_GUARD_KEEP);
	}
	/* a hold freezes nothing: its lease, not the guard */
	setup(NULL);
	feed_local(TXN_OP_HOLD, 30000);
	feed(TE_APPS_FROZEN, 0, true);
	assert_int_equal(first(TA_LEASE)->guard, TXN_GUARD_KEEP);
	assert_int_equal(first(TA_LEASE)->ms, 30000);
}

/* A refusal's reason is data of its own, whatever was logged before. */
static void
test_refusal_reason(void **state)
{
	to_frozen();
	feed_local(TXN_OP_FREEZE, 0);
	assert_int_equal(replied(), R_FAIL);
	assert_string_equal(reply_text(),
	    "local FREEZE refused: a host transaction is in progress (frozen)");
	assert_true(first(TA_REPLY)->aside);
	assert_int_equal(first(TA_REPLY)->op, TXN_OP_FREEZE);
	feed(TE_HOST_REQUEST, TXN_OP_OTHER, false);
	assert_string_equal(
	    reply_text(), "UNKNOWN refused: frozen, a backup is in progress");
	/* an S_OK at once carries no reason */
	feed(TE_HOST_REQUEST, TXN_OP_FREEZE, false);
	assert_int_equal(replied(), R_OK);
	assert_string_equal(reply_text(), "");
}

/* Each stage done is told to a local requester, never to the host; and
 * the history's stages come as TA_STAGE. */
static void
test_progress_and_stages(void **state)
{
	size_t i, nprogress = 0;

	feed_local(TXN_OP_FREEZE, 0);
	assert_int_equal(first(TA_BEGIN)->op, TXN_OP_FREEZE);
	assert_true(first(TA_BEGIN)->local);
	feed(TE_APPS_FROZEN, 0, true);
	assert_string_equal(first(TA_PROGRESS)->text, "applications frozen");
	assert_int_equal(first(TA_STAGE)->stage, TXN_STAGE_APPS);
	feed(TE_FS_FROZEN, 0, true);
	assert_string_equal(first(TA_PROGRESS)->text, "filesystems frozen");
	assert_true(first(TA_PROGRESS) < first(TA_REPLY));
	feed_local(TXN_OP_THAW, 0);
	feed(TE_FS_THAWED, 0, true);
	feed(TE_APPS_THAWED, 0, true);
	assert_int_equal(first(TA_STAGE)->stage, TXN_STAGE_THAW);
	assert_int_equal(
	    next_of(TA_STAGE, first(TA_STAGE))->stage, TXN_STAGE_END);

	feed(TE_HOST_REQUEST, TXN_OP_FREEZE, false);
	feed(TE_APPS_FROZEN, 0, true);
	feed(TE_FS_FROZEN, 0, true);
	for (i = 0; i < out.n; i++)
		nprogress += out.a[i].kind == TA_PROGRESS;
	assert_int_equal(nprogress, 0);
}

/* A host request with a budget (host.h's budget_ms). */
static void
feed_budget(enum txn_op op, unsigned int budget_ms)
{
	struct txn_event ev = {
	    .kind = TE_HOST_REQUEST, .op = op, .budget_ms = budget_ms};

	out.n = 0;
	step_into_out(&ev);
	complete_hooks();
}

/* The last TA_DEADLINE armed by the last feed(), 0 if none. */
static unsigned int
deadline_ms(void)
{
	unsigned int ms = 0;
	size_t i;

	for (i = 0; i < out.n; i++)
		if (out.a[i].kind == TA_DEADLINE)
			ms = out.a[i].ms;
	return ms;
}

/* The deadlines of a and b are the same (not memcmp: padding). */
static void
assert_same_limits(const struct txn_limits *a, const struct txn_limits *b)
{
	assert_int_equal(a->check_ms, b->check_ms);
	assert_int_equal(a->app_freeze_ms, b->app_freeze_ms);
	assert_int_equal(a->fs_freeze_ms, b->fs_freeze_ms);
	assert_int_equal(a->thaw_ms, b->thaw_ms);
	assert_int_equal(a->max_frozen_ms, b->max_frozen_ms);
	assert_int_equal(a->hook_ms, b->hook_ms);
}

/*
 * The kernel's timer left budget_ms for a request (FreeBSD): the stages
 * of that request end within it, whatever the configuration says; one
 * after it, or a local one, gets the configured limits back; 0 is none.
 */
static void
test_budget(void **state)
{
	struct txn_limits l = limits;
	unsigned int apps, fs;

	/* txn_budget() itself */
	txn_budget(&l, TXN_OP_CHECK, 4000);
	assert_int_equal(l.check_ms, 4000);
	l = limits;
	txn_budget(&l, TXN_OP_FREEZE, 7500); /* 10 + 5 + 60 s: a tenth */
	assert_int_equal(l.app_freeze_ms, 1000);
	assert_int_equal(l.hook_ms, 500);
	assert_int_equal(l.fs_freeze_ms, 6000);
	l = limits;
	txn_budget(&l, TXN_OP_THAW, 9000);
	assert_int_equal(l.thaw_ms, 4500);
	assert_int_equal(l.hook_ms, 4500);
	l = limits;
	txn_budget(&l, TXN_OP_FREEZE, 0);
	assert_same_limits(&l, &limits);
	txn_budget(&l, TXN_OP_FREEZE, 1000000); /* fits: unchanged */
	assert_same_limits(&l, &limits);
	txn_budget(&l, TXN_OP_FREEZE, 1); /* never a 0, which disarms */
	assert_true(
	    l.app_freeze_ms >= 1 && l.hook_ms >= 1 && l.fs_freeze_ms >= 1);

	/* HOT_BACKUP: its check within the budget */
	feed_budget(TXN_OP_CHECK, 3000);
	assert_int_equal(deadline_ms(), 3000);
	assert_true(first(TA_CHECK)->ms <= 3000);
	feed(TE_CHECK_DONE, 0, true);
	/* FREEZE: the apps' and hooks' stage, then the filesystems' */
	feed_budget(TXN_OP_FREEZE, 7500);
	apps = deadline_ms();
	assert_int_equal(apps, 1000 + 500);
	assert_true(first(TA_APPS_FREEZE)->ms <= 1000);
	feed(TE_APPS_FROZEN, 0, true);
	fs = deadline_ms();
	assert_int_equal(fs, 6000);
	assert_true(apps + fs <= 7500);
	/* the filesystems overrun their share: E_FAIL at once */
	feed(TE_DEADLINE, 0, false);
	assert_false(first(TA_REPLY)->ok);
	assert_non_null(strstr(first(TA_REPLY)->text, "6000 ms"));
	feed(TE_FS_FROZEN, 0, false);
	/* THAW with nothing frozen; then a FREEZE without a budget gets the
	 * configured limits back */
	feed_budget(TXN_OP_THAW, 2000);
	feed(TE_HOST_REQUEST, TXN_OP_FREEZE, false);
	assert_int_equal(deadline_ms(), limits.app_freeze_ms + limits.hook_ms);
	feed(TE_APPS_FROZEN, 0, true);
	assert_int_equal(deadline_ms(), limits.fs_freeze_ms);
	feed(TE_FS_FROZEN, 0, true);
	/* THAW with a budget: each stage half of it */
	feed_budget(TXN_OP_THAW, 3000);
	assert_int_equal(deadline_ms(), 1500);
	feed(TE_FS_THAWED, 0, true);
	assert_true(deadline_ms() <= 1500);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_budget, setup),
	    cmocka_unit_test_setup(test_hot_backup, setup),
	    cmocka_unit_test_setup(test_full_backup, setup),
	    cmocka_unit_test_setup(test_thaw_idle, setup),
	    cmocka_unit_test_setup(test_thawed_behind, setup),
	    cmocka_unit_test_setup(test_hold_apps_gone, setup),
	    cmocka_unit_test_setup(test_freeze_while_frozen, setup),
	    cmocka_unit_test_setup(test_unknown_op, setup),
	    cmocka_unit_test_setup(test_app_veto, setup),
	    cmocka_unit_test_setup(test_fs_freeze_fails, setup),
	    cmocka_unit_test_setup(test_deadlines, setup),
	    cmocka_unit_test_setup(test_stale_events, setup),
	    cmocka_unit_test_setup(test_superseded, setup),
	    cmocka_unit_test_setup(test_lease, setup),
	    cmocka_unit_test_setup(test_host_lost, setup),
	    cmocka_unit_test_setup(test_thaw_fails, setup),
	    cmocka_unit_test_setup(test_undo_fails, setup),
	    cmocka_unit_test_setup(test_local_snapshot, setup),
	    cmocka_unit_test_setup(test_local_refused_during_host, setup),
	    cmocka_unit_test_setup(test_local_lost, setup),
	    cmocka_unit_test_setup(test_reply_reasons, setup),
	    cmocka_unit_test_setup(test_thaw_superseded_keeps_deadline, setup),
	    cmocka_unit_test_setup(test_thaw_adopted_gets_deadline, setup),
	    cmocka_unit_test_setup(test_lease_per_requester, setup),
	    cmocka_unit_test_setup(test_hold, setup),
	    cmocka_unit_test_setup(test_hold_lease, setup),
	    cmocka_unit_test_setup(test_hold_refused, setup),
	    cmocka_unit_test_setup(test_hot_backup_veto_ok, setup),
	    cmocka_unit_test_setup(test_hooks_tier_stages, setup),
	    cmocka_unit_test_setup(test_hooks_last, setup),
	    cmocka_unit_test_setup(test_hooks_veto, setup),
	    cmocka_unit_test_setup(test_hooks_deadline, setup),
	    cmocka_unit_test_setup(test_thaw_hooks_outlast, setup),
	    cmocka_unit_test_setup(test_thaw_deadline_thaws_hooks, setup),
	    cmocka_unit_test_setup(test_guard_arming, setup),
	    cmocka_unit_test_setup(test_refusal_reason, setup),
	    cmocka_unit_test_setup(test_progress_and_stages, setup),
	};

	return cmocka_run_group_tests_name("txn", tests, NULL, NULL);
}
