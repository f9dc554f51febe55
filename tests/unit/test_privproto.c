/*
 * test_privproto.c: unit tests for daemon/privproto.c, the parent's
 * checks of what the unprivileged engine asks.
 *
 * Each rule is broken once and must be refused with its own code and
 * leave the state as it was; the one allowed order of a transaction
 * goes through; a lease can never end past max_frozen after the FREEZE,
 * however often it is re-armed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <stdio.h>
#include <cmocka.h>

#include "plan.h"
#include "priv.h"
#include "privproto.h"
#include "status.h"

#define MAXF 60000u

static struct priv_state
fresh(void)
{
	struct priv_state st;

	memset(&st, 0, sizeof(st));
	st.max_frozen_ms = MAXF;
	return st;
}

/* Check r against st at now; on success apply it as done. */
static int
ask(struct priv_state *st, uint16_t type, uint64_t txid, uint32_t arg,
    uint64_t now)
{
	struct priv_req r, out;
	struct priv_state before = *st;
	char why[PRIV_REASON_MAX];
	int rc;

	priv_req_make(&r, type, txid, arg);
	rc = priv_check(st, &r, sizeof(r), now, &out, why, sizeof(why));
	if (rc == 0) {
		assert_memory_equal(&r, &out, sizeof(r));
		assert_string_equal(why, "");
		priv_apply(st, &out, true, now);
	} else {
		/* a refusal says why and changes nothing */
		assert_true(why[0] != '\0');
		assert_memory_equal(&before, st, sizeof(before));
	}
	return rc;
}

static void
test_wellformed(void **state)
{
	struct priv_state st = fresh();
	struct priv_req r;
	uint8_t buf[sizeof(r) + 64];
	char why[PRIV_REASON_MAX];

	priv_req_make(&r, PRIV_CHECK, 1, 0);
	memcpy(buf, &r, sizeof(r));
	/* short, long (a path smuggled after a request), empty, NULL */
	assert_int_equal(
	    priv_check(&st, buf, sizeof(r) - 1, 0, NULL, why, sizeof(why)),
	    PRIV_R_LENGTH);
	memcpy(buf + sizeof(r), "/etc/shadow", 12);
	assert_int_equal(
	    priv_check(&st, buf, sizeof(r) + 12, 0, NULL, why, sizeof(why)),
	    PRIV_R_LENGTH);
	assert_non_null(strstr(why, "bytes"));
	assert_int_equal(
	    priv_check(&st, buf, 0, 0, NULL, why, sizeof(why)), PRIV_R_LENGTH);
	assert_int_equal(
	    priv_check(&st, NULL, sizeof(r), 0, NULL, why, sizeof(why)),
	    PRIV_R_LENGTH);

	r.version = 2;
	assert_int_equal(
	    priv_check(&st, &r, sizeof(r), 0, NULL, why, sizeof(why)),
	    PRIV_R_VERSION);
	r.version = PRIV_VERSION;
	r.type = 0;
	assert_int_equal(
	    priv_check(&st, &r, sizeof(r), 0, NULL, why, sizeof(why)),
	    PRIV_R_TYPE);
	r.type = PRIV_TYPE_MAX + 1;
	assert_int_equal(
	    priv_check(&st, &r, sizeof(r), 0, NULL, why, sizeof(why)),
	    PRIV_R_TYPE);
	r.type = 0xffff;
	assert_int_equal(
	    priv_check(&st, &r, sizeof(r), 0, NULL, why, sizeof(why)),
	    PRIV_R_TYPE);
	r.type = PRIV_CHECK;
	r.reserved = 1;
	assert_int_equal(
	    priv_check(&st, &r, sizeof(r), 0, NULL, why, sizeof(why)),
	    PRIV_R_RESERVED);
	r.reserved = 0;
	/* a null why is fine */
	assert_int_equal(priv_check(&st, &r, sizeof(r), 0, NULL, NULL, 0), 0);
}

static void
test_order(void **state)
{
	struct priv_state st = fresh();

	assert_int_equal(ask(&st, PRIV_DEVICE, 0, 0, 0), 0);
	/* nothing planned: nothing to freeze, thaw, hook or arm */
	assert_int_equal(ask(&st, PRIV_FREEZE, 1, 0, 0), PRIV_R_TXID);
	assert_int_equal(ask(&st, PRIV_THAW, 1, 0, 0), PRIV_R_TXID);
	assert_int_equal(ask(&st, PRIV_ARM, 1, 1000, 0), PRIV_R_TXID);
	assert_int_equal(ask(&st, PRIV_CHECK, 0, 0, 0), PRIV_R_TXID);

	/* the one order */
	assert_int_equal(ask(&st, PRIV_CHECK, 5, 0, 0), 0);
	assert_int_equal(st.tx, PRIV_TX_PLANNED);
	assert_int_equal(ask(&st, PRIV_THAW, 5, 0, 0), PRIV_R_ORDER);
	assert_int_equal(
	    ask(&st, PRIV_HOOKS, 5, PRIV_PHASE_THAW, 0), PRIV_R_ORDER);
	assert_int_equal(ask(&st, PRIV_HOOKS, 5, PRIV_PHASE_FREEZE, 0), 0);
	assert_int_equal(
	    ask(&st, PRIV_HOOKS, 5, PRIV_PHASE_FREEZE, 0), PRIV_R_ORDER);
	assert_int_equal(ask(&st, PRIV_FREEZE, 4, 0, 0), PRIV_R_TXID);
	assert_int_equal(ask(&st, PRIV_FREEZE, 6, 0, 0), PRIV_R_TXID);
	assert_int_equal(ask(&st, PRIV_FREEZE, 5, 0, 100), 0);
	assert_int_equal(st.tx, PRIV_TX_FROZEN);
	assert_int_equal(ask(&st, PRIV_FREEZE, 5, 0, 100), PRIV_R_ORDER);
	assert_int_equal(ask(&st, PRIV_CHECK, 6, 0, 100), PRIV_R_ORDER);
	assert_int_equal(
	    ask(&st, PRIV_HOOKS, 5, PRIV_PHASE_THAW, 100), PRIV_R_ORDER);
	assert_int_equal(ask(&st, PRIV_DISARM, 5, 0, 100), PRIV_R_ORDER);
	assert_int_equal(ask(&st, PRIV_ARM, 5, 1000, 200), 0);
	assert_int_equal(ask(&st, PRIV_THAW, 5, 0, 300), 0);
	assert_int_equal(st.tx, PRIV_TX_IDLE);
	assert_int_equal(ask(&st, PRIV_THAW, 5, 0, 300), PRIV_R_ORDER);
	assert_int_equal(ask(&st, PRIV_ARM, 5, 1000, 300), PRIV_R_ORDER);
	assert_int_equal(ask(&st, PRIV_HOOKS, 5, PRIV_PHASE_THAW, 300), 0);
	assert_int_equal(
	    ask(&st, PRIV_HOOKS, 5, PRIV_PHASE_ABORT, 300), PRIV_R_ORDER);
	assert_int_equal(ask(&st, PRIV_DISARM, 5, 0, 300), 0);

	/* transactions only go up */
	assert_int_equal(ask(&st, PRIV_CHECK, 5, 0, 400), PRIV_R_TXID);
	assert_int_equal(ask(&st, PRIV_CHECK, 3, 0, 400), PRIV_R_TXID);
	assert_int_equal(ask(&st, PRIV_CHECK, 7, 0, 400), 0);
	/* planned anew (the mount table changed): the same one, once
	 * planned, but not once idle (above) */
	assert_int_equal(ask(&st, PRIV_CHECK, 7, 0, 400), 0);
	/* a new CHECK drops a plan never frozen */
	assert_int_equal(ask(&st, PRIV_CHECK, 8, 0, 400), 0);
	assert_int_equal(ask(&st, PRIV_FREEZE, 7, 0, 400), PRIV_R_TXID);
}

static void
test_args(void **state)
{
	struct priv_state st = fresh();

	assert_int_equal(ask(&st, PRIV_DEVICE, 1, 0, 0), PRIV_R_TXID);
	assert_int_equal(ask(&st, PRIV_DEVICE, 0, 2, 0), PRIV_R_ARG);
	assert_int_equal(ask(&st, PRIV_DEVICE, 0, 1, 0), 0);
	assert_int_equal(ask(&st, PRIV_CHECK, 1, 7, 0), PRIV_R_ARG);
	assert_int_equal(ask(&st, PRIV_CHECK, 1, 0, 0), 0);
	assert_int_equal(ask(&st, PRIV_HOOKS, 1, 3, 0), PRIV_R_ARG);
	assert_int_equal(ask(&st, PRIV_HOOKS, 1, 0xffffffffu, 0), PRIV_R_ARG);
	assert_int_equal(ask(&st, PRIV_FREEZE, 1, 2, 0), PRIV_R_ARG);
	assert_int_equal(ask(&st, PRIV_FREEZE, 1, 1, 0), 0);
	assert_int_equal(ask(&st, PRIV_THAW, 1, 2, 0), PRIV_R_ARG);
	assert_int_equal(ask(&st, PRIV_DISARM, 1, 2, 0), PRIV_R_ARG);
}

static void
test_lease(void **state)
{
	struct priv_state st = fresh();
	uint64_t t0 = 1000000;

	assert_int_equal(ask(&st, PRIV_CHECK, 1, 0, t0), 0);
	assert_int_equal(ask(&st, PRIV_FREEZE, 1, 0, t0), 0);
	assert_int_equal(ask(&st, PRIV_ARM, 1, 0, t0), PRIV_R_LEASE);
	assert_int_equal(ask(&st, PRIV_ARM, 1, MAXF + 1, t0), PRIV_R_LEASE);
	assert_int_equal(ask(&st, PRIV_ARM, 1, 0xffffffffu, t0), PRIV_R_LEASE);
	assert_int_equal(ask(&st, PRIV_ARM, 1, MAXF, t0), 0);
	/* re-arming cannot stretch the window: 59 s in, 1 s is left */
	assert_int_equal(ask(&st, PRIV_ARM, 1, 1001, t0 + 59000), PRIV_R_LEASE);
	assert_int_equal(ask(&st, PRIV_ARM, 1, 1000, t0 + 59000), 0);
	assert_int_equal(ask(&st, PRIV_ARM, 1, 1, t0 + MAXF), PRIV_R_LEASE);
	assert_int_equal(
	    ask(&st, PRIV_ARM, 1, 1, t0 + 10 * MAXF), PRIV_R_LEASE);
	/* a clock that went back counts as no time passed */
	assert_int_equal(ask(&st, PRIV_ARM, 1, MAXF, t0 - 5), 0);
}

static void
test_failures(void **state)
{
	struct priv_state st = fresh();
	struct priv_req r;

	assert_int_equal(ask(&st, PRIV_CHECK, 1, 0, 0), 0);
	/* busy: nothing else until the reply */
	st.busy = true;
	assert_int_equal(ask(&st, PRIV_FREEZE, 1, 0, 0), PRIV_R_BUSY);
	st.busy = false;
	/* a failed FREEZE leaves nothing frozen: THAW is refused */
	priv_req_make(&r, PRIV_FREEZE, 1, 0);
	priv_apply(&st, &r, false, 0);
	assert_int_equal(st.tx, PRIV_TX_IDLE);
	assert_int_equal(ask(&st, PRIV_THAW, 1, 0, 0), PRIV_R_ORDER);
	/* a failed CHECK plans nothing */
	priv_req_make(&r, PRIV_CHECK, 2, 0);
	priv_apply(&st, &r, false, 0);
	assert_int_equal(ask(&st, PRIV_FREEZE, 2, 0, 0), PRIV_R_ORDER);
	/* a failed THAW may be tried again */
	assert_int_equal(ask(&st, PRIV_CHECK, 3, 0, 0), 0);
	assert_int_equal(ask(&st, PRIV_HOOKS, 3, PRIV_PHASE_FREEZE, 0), 0);
	assert_int_equal(ask(&st, PRIV_FREEZE, 3, 0, 0), 0);
	/* thaw hooks wait for the filesystems' THAW ... */
	assert_int_equal(
	    ask(&st, PRIV_HOOKS, 3, PRIV_PHASE_THAW, 0), PRIV_R_ORDER);
	priv_req_make(&r, PRIV_THAW, 3, 0);
	priv_apply(&st, &r, false, 0);
	/* ... and run after it, even when it failed (the machine goes on
	 * with the applications' and hooks' thaw as without privsep) */
	assert_int_equal(ask(&st, PRIV_HOOKS, 3, PRIV_PHASE_THAW, 0), 0);
	assert_int_equal(ask(&st, PRIV_THAW, 3, 0, 0), 0);
	assert_false(st.thaw_failed);
	/* failed freeze hooks ran some: abort may follow */
	assert_int_equal(ask(&st, PRIV_CHECK, 4, 0, 0), 0);
	priv_req_make(&r, PRIV_HOOKS, 4, PRIV_PHASE_FREEZE);
	priv_apply(&st, &r, false, 0);
	assert_int_equal(ask(&st, PRIV_HOOKS, 4, PRIV_PHASE_ABORT, 0), 0);
}

static void
test_reply(void **state)
{
	struct priv_req r;
	struct priv_rep p;

	priv_req_make(&r, PRIV_FREEZE, 9, 0);
	priv_rep_make(&p, PRIV_FREEZE, 9, 0, 2, NULL);
	assert_int_equal(priv_rep_check(&r, &p, sizeof(p)), 0);
	assert_int_equal(priv_rep_check(&r, &p, sizeof(p) - 1), -EPROTO);
	priv_rep_make(&p, PRIV_THAW, 9, 0, 2, NULL);
	assert_int_equal(priv_rep_check(&r, &p, sizeof(p)), -EPROTO);
	priv_rep_make(&p, PRIV_FREEZE, 8, 0, 2, NULL);
	assert_int_equal(priv_rep_check(&r, &p, sizeof(p)), -EPROTO);
	priv_rep_make(&p, PRIV_FREEZE, 9, PRIV_R_MAX + 1, 0, "x");
	assert_int_equal(priv_rep_check(&r, &p, sizeof(p)), -EPROTO);
	priv_rep_make(&p, PRIV_FREEZE, 9, PRIV_R_ORDER, 0, "no");
	assert_int_equal(priv_rep_check(&r, &p, sizeof(p)), 0);
	memset(p.reason, 'x', sizeof(p.reason));
	assert_int_equal(priv_rep_check(&r, &p, sizeof(p)), -EPROTO);
	assert_string_equal(priv_type_name(PRIV_ARM), "ARM");
	assert_string_equal(priv_type_name(0), "?");
	assert_string_equal(priv_type_name(99), "?");
	assert_string_equal(
	    priv_refusal_name(PRIV_R_TXID), "not the current transaction");
	assert_string_equal(priv_refusal_name(0), "?");
}

/* A stage running: mark it as priv.c does. */
static void
run(struct priv_state *st, uint16_t type)
{
	st->busy = true;
	st->running = type;
}

/* Side requests go through while a stage runs; other stages do not. */
static void
test_side(void **state)
{
	struct priv_state st = fresh();

	assert_int_equal(ask(&st, PRIV_CHECK, 1, 0, 0), 0);
	/* CANCEL: only of a running FREEZE or HOOKS, of the current txid */
	assert_int_equal(ask(&st, PRIV_CANCEL, 1, 0, 0), PRIV_R_ORDER);
	run(&st, PRIV_FREEZE);
	assert_int_equal(ask(&st, PRIV_THAW, 1, 0, 0), PRIV_R_BUSY);
	assert_int_equal(ask(&st, PRIV_CHECK, 2, 0, 0), PRIV_R_BUSY);
	assert_int_equal(ask(&st, PRIV_HOOKS, 1, 0, 0), PRIV_R_BUSY);
	assert_int_equal(ask(&st, PRIV_DEVICE, 0, 0, 0), PRIV_R_BUSY);
	assert_int_equal(ask(&st, PRIV_CANCEL, 2, 0, 0), PRIV_R_TXID);
	assert_int_equal(ask(&st, PRIV_CANCEL, 0, 0, 0), PRIV_R_TXID);
	assert_int_equal(ask(&st, PRIV_CANCEL, 1, 3, 0), PRIV_R_ARG);
	assert_int_equal(ask(&st, PRIV_CANCEL, 1, 0, 0), 0);
	/* a side request moves no state: still planned, still busy */
	assert_int_equal(st.tx, PRIV_TX_PLANNED);
	assert_true(st.busy);
	assert_int_equal(ask(&st, PRIV_COMM, 0, 1, 0), 0);
	assert_int_equal(ask(&st, PRIV_PLAN, 0, 0, 0), 0);
	run(&st, PRIV_HOOKS);
	assert_int_equal(ask(&st, PRIV_CANCEL, 1, 0, 0), 0);
	run(&st, PRIV_THAW);
	assert_int_equal(ask(&st, PRIV_CANCEL, 1, 0, 0), PRIV_R_ORDER);
	run(&st, PRIV_CHECK);
	assert_int_equal(ask(&st, PRIV_CANCEL, 1, 0, 0), PRIV_R_ORDER);
	/* COMM and PLAN: their arguments */
	assert_int_equal(ask(&st, PRIV_COMM, 0, 0, 0), PRIV_R_ARG);
	assert_int_equal(
	    ask(&st, PRIV_COMM, 0, PRIV_PID_MAX + 1, 0), PRIV_R_ARG);
	assert_int_equal(ask(&st, PRIV_COMM, 0, PRIV_PID_MAX, 0), 0);
	assert_int_equal(ask(&st, PRIV_COMM, 1, 5, 0), PRIV_R_TXID);
	assert_int_equal(ask(&st, PRIV_PLAN, 0, 1, 0), PRIV_R_ARG);
	assert_int_equal(ask(&st, PRIV_PLAN, 1, 0, 0), PRIV_R_TXID);
	assert_true(priv_is_side(PRIV_METRICS) && !priv_is_side(PRIV_THAW));
}

/* Check METRICS: header, then text of n bytes from t. */
static int
metrics(const struct priv_state *st, uint32_t arg, const char *t, size_t n)
{
	unsigned char buf[sizeof(struct priv_req) + 64];
	struct priv_req r;
	char why[PRIV_REASON_MAX];
	int rc;

	priv_req_make(&r, PRIV_METRICS, 0, arg);
	memcpy(buf, &r, sizeof(r));
	memcpy(buf + sizeof(r), t, n);
	rc = priv_check(st, buf, sizeof(r) + n, 0, &r, why, sizeof(why));
	assert_true(rc == 0 ? why[0] == '\0' : why[0] != '\0');
	return rc;
}

static void
test_metrics(void **state)
{
	struct priv_state st = fresh();
	struct priv_req r;
	char why[PRIV_REASON_MAX];

	assert_int_equal(metrics(&st, 5, "a 1\n\n", 5), 0);
	/* UTF-8 in a label value */
	assert_int_equal(metrics(&st, 12, "x{a=\"\xc3\xa9\"} 1\n", 12), 0);
	assert_int_equal(metrics(&st, 5, "a\0001\n\n", 5), PRIV_R_TEXT);
	assert_int_equal(metrics(&st, 4, "a\t1\n", 4), PRIV_R_TEXT);
	assert_int_equal(metrics(&st, 4, "a 1\x7f", 4), PRIV_R_TEXT);
	assert_int_equal(metrics(&st, 3, "a 1", 3), PRIV_R_TEXT);
	/* the length says what follows, exactly */
	assert_int_equal(metrics(&st, 4, "a 1\n", 3), PRIV_R_LENGTH);
	assert_int_equal(metrics(&st, 3, "a 1\n", 4), PRIV_R_LENGTH);
	assert_int_equal(metrics(&st, 0, "", 0), PRIV_R_ARG);
	assert_int_equal(
	    metrics(&st, PRIV_METRICS_MAX + 1, "a\n", 2), PRIV_R_ARG);
	/* busy does not stop it: a side request */
	run(&st, PRIV_FREEZE);
	assert_int_equal(metrics(&st, 4, "a 1\n", 4), 0);
	/* every other type is still exactly one request long */
	priv_req_make(&r, PRIV_PLAN, 0, 0);
	assert_int_equal(
	    priv_check(&st, &r, sizeof(r) - 1, 0, NULL, why, sizeof(why)),
	    PRIV_R_LENGTH);
}

static void
test_events(void **state)
{
	struct priv_req r;
	unsigned char buf[sizeof(struct priv_rep) + 16];
	struct priv_rep p;

	priv_rep_make(&p, PRIV_EV_LEASE, 3, 0, 2, "2 thawed");
	assert_int_equal(priv_msg_kind(&p, sizeof(p)), PRIV_EV_LEASE);
	assert_int_equal(priv_msg_kind(&p, sizeof(p) + 1), -EPROTO);
	/* an event is no reply, to any request */
	priv_req_make(&r, PRIV_FREEZE, 3, 0);
	assert_int_equal(priv_rep_check(NULL, &p, sizeof(p)), -EPROTO);
	priv_rep_make(&p, PRIV_EV_MAX + 1, 3, 0, 0, NULL);
	assert_int_equal(priv_msg_kind(&p, sizeof(p)), -EPROTO);
	priv_rep_make(&p, PRIV_FREEZE, 3, 0, 2, NULL);
	assert_int_equal(priv_msg_kind(&p, sizeof(p)), 0);
	assert_int_equal(priv_rep_check(&r, &p, sizeof(p)), 0);
	assert_string_equal(priv_type_name(PRIV_CANCEL), "CANCEL");
	/* PLAN's text: value bytes after the reply, no NUL in it */
	priv_req_make(&r, PRIV_PLAN, 0, 0);
	priv_rep_make(&p, PRIV_PLAN, 0, 0, 4, NULL);
	memcpy(buf, &p, sizeof(p));
	memcpy(buf + sizeof(p), "a\tb\n", 4);
	assert_int_equal(priv_rep_check(&r, buf, sizeof(p) + 4), 0);
	assert_int_equal(priv_rep_check(&r, buf, sizeof(p) + 3), -EPROTO);
	assert_int_equal(priv_rep_check(&r, buf, sizeof(p)), -EPROTO);
	buf[sizeof(p) + 1] = '\0';
	assert_int_equal(priv_rep_check(&r, buf, sizeof(p) + 4), -EPROTO);
	priv_rep_make(&p, PRIV_PLAN, 0, 0, PRIV_PLAN_MAX + 1, NULL);
	assert_int_equal(priv_rep_check(&r, &p, sizeof(p)), -EPROTO);
	/* a refused PLAN has no text */
	priv_rep_make(&p, PRIV_PLAN, 0, PRIV_R_ARG, 0, "arg");
	assert_int_equal(priv_rep_check(&r, &p, sizeof(p)), 0);
}

static void
test_plan_text(void **state)
{
	struct plan_target t[40];
	struct plan_skip sk[1];
	struct plan pl;
	char out[600], mp[40][32];
	size_t n, i, nl, nmore = 0;
	const char *more;

	memset(&pl, 0, sizeof(pl));
	memset(t, 0, sizeof(t));
	for (i = 0; i < 40; i++) {
		snprintf(mp[i], sizeof(mp[i]), "/mnt/%zu", i);
		t[i].mountpoint = mp[i];
		t[i].fstype = "ext4";
		t[i].source = "/dev/loop0";
		t[i].level = (int)i;
	}
	t[0].mountpoint = "/mnt/a\tb\nc"; /* a field cannot break a line */
	snprintf(t[0].order_reason, sizeof(t[0].order_reason), "child of /");
	sk[0].mountpoint = "/proc";
	sk[0].fstype = "proc";
	snprintf(sk[0].reason, sizeof(sk[0].reason), "pseudo");
	pl.targets = t;
	pl.ntargets = 2;
	pl.skips = sk;
	pl.nskips = 1;
	n = priv_plan_text(&pl, out, sizeof(out));
	assert_int_equal(n,
	    strlen("target\t/mnt/a?b?c\text4\t/dev/loop0\t0\t"
	           "child of /\n"
	           "target\t/mnt/1\text4\t/dev/loop0\t1\t\n"
	           "skip\t/proc\tproc\tpseudo\n"));
	assert_memory_equal(out,
	    "target\t/mnt/a?b?c\text4\t/dev/loop0\t0\tchild of /\n"
	    "target\t/mnt/1\text4\t/dev/loop0\t1\t\n"
	    "skip\t/proc\tproc\tpseudo\n",
	    n);
	/* too many for the room: whole lines, then how many were left */
	pl.ntargets = 40;
	pl.veto = true;
	snprintf(pl.veto_reason, sizeof(pl.veto_reason), "vfat at /boot");
	n = priv_plan_text(&pl, out, sizeof(out));
	assert_true(n > 0 && n <= sizeof(out) && out[n - 1] == '\n');
	assert_null(memchr(out, '\0', n));
	assert_memory_equal(out, "veto\tvfat at /boot\n", 19);
	for (i = nl = 0; i < n; i++)
		nl += out[i] == '\n';
	out[n - 1] = '\0';
	more = strrchr(out, '\n');
	assert_non_null(more);
	assert_int_equal(sscanf(more + 1, "more\t%zu", &nmore), 1);
	/* every item is either a line or counted as left out */
	assert_int_equal(nl - 2 + nmore, 41);
	/* no room at all: nothing */
	assert_int_equal(priv_plan_text(&pl, out, 16), 0);
}

/* The hooks' lines: whole ones only, a name cannot break a line. */
static void
test_hooks_text(void **state)
{
	char *hooks[] = {"10-db", "20-a\tb\nc", "30-web", NULL};
	char *none[] = {NULL};
	struct plan_hooks ph = {.names = hooks}, empty = {.names = none};
	char out[256];

	assert_int_equal(priv_hooks_text(&ph, out, sizeof(out)), 37);
	assert_memory_equal(
	    out, "hook\t10-db\nhook\t20-a?b?c\nhook\t30-web\n", 37);
	/* what does not fit is counted, on a line of its own */
	assert_int_equal(priv_hooks_text(&ph, out, 60), 24);
	assert_memory_equal(out, "hook\t10-db\nhooks_more\t2\n", 24);
	assert_int_equal(priv_hooks_text(&ph, out, 40), 0);
	assert_int_equal(priv_hooks_text(&empty, out, sizeof(out)), 0);
	/* what fails every FREEZE comes first */
	snprintf(
	    ph.why, sizeof(ph.why), "hooks directory /h: more than 128 hooks");
	assert_int_equal(priv_hooks_text(&ph, out, sizeof(out)), 88);
	assert_memory_equal(out,
	    "hooks_fail\thooks directory /h: more than 128 hooks\nhook\t10-db\n",
	    62);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wellformed),
	    cmocka_unit_test(test_order),
	    cmocka_unit_test(test_args),
	    cmocka_unit_test(test_lease),
	    cmocka_unit_test(test_failures),
	    cmocka_unit_test(test_reply),
	    cmocka_unit_test(test_side),
	    cmocka_unit_test(test_metrics),
	    cmocka_unit_test(test_events),
	    cmocka_unit_test(test_plan_text),
	    cmocka_unit_test(test_hooks_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
