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
#include <cmocka.h>

#include "privproto.h"

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
	/* a new CHECK drops a plan never frozen */
	assert_int_equal(ask(&st, PRIV_CHECK, 8, 0, 400), 0);
	assert_int_equal(ask(&st, PRIV_FREEZE, 7, 0, 400), PRIV_R_TXID);
}

static void
test_args(void **state)
{
	struct priv_state st = fresh();

	assert_int_equal(ask(&st, PRIV_DEVICE, 1, 0, 0), PRIV_R_TXID);
	assert_int_equal(ask(&st, PRIV_DEVICE, 0, 1, 0), PRIV_R_ARG);
	assert_int_equal(ask(&st, PRIV_CHECK, 1, 7, 0), PRIV_R_ARG);
	assert_int_equal(ask(&st, PRIV_CHECK, 1, 0, 0), 0);
	assert_int_equal(ask(&st, PRIV_HOOKS, 1, 3, 0), PRIV_R_ARG);
	assert_int_equal(ask(&st, PRIV_HOOKS, 1, 0xffffffffu, 0), PRIV_R_ARG);
	assert_int_equal(ask(&st, PRIV_FREEZE, 1, 1, 0), PRIV_R_ARG);
	assert_int_equal(ask(&st, PRIV_FREEZE, 1, 0, 0), 0);
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
	assert_int_equal(ask(&st, PRIV_FREEZE, 3, 0, 0), 0);
	priv_req_make(&r, PRIV_THAW, 3, 0);
	priv_apply(&st, &r, false, 0);
	assert_int_equal(ask(&st, PRIV_THAW, 3, 0, 0), 0);
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
