/*
 * test_freeze_close.c: daemon/freeze.c where closing a hold thaws
 * (os/fsfreeze.h, fsfreeze_close_thaws: FreeBSD's /dev/ufssuspend), on
 * Linux: this file is the platform, a fake one, whose holds are the
 * write ends of pipes (the read end sees EOF once the last copy of a
 * hold is closed, as the kernel resumes once the last reference of a
 * /dev/ufssuspend open file goes).  What is checked: once frozen each
 * hold is the freezer's alone (freezer_frozen_hold()); handed to the
 * "guard" (a dup, as SCM_RIGHTS makes) the freezer's copy is closed
 * (freezer_hold_handed()), so the guard's is the last; the thaw asks the
 * guard to close them through the resume hook, newest first, and thaws
 * nothing itself; a guard that died (freezer_guard_lost()) makes the
 * next thaw report them as thawed by someone else (nstale); a guard
 * that cannot be told keeps them frozen, and the thaw says so.  Linux's
 * own platform never hands a hold over: t_guard*.sh.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/event.h>

#include "freeze.h"
#include "os/fsfreeze.h"
#include "plan.h"

/* ---- the fake platform ---------------------------------------------- */

const bool fsfreeze_close_thaws = true;
const char fsfreeze_op_freeze[] = "UFSSUSPEND";
const char fsfreeze_op_thaw[] = "UFSRESUME";

#define MAXH 8
static int readers[MAXH]; /* the read end of each hold, by freeze */
static int nfroze; /* fsfreeze_freeze() calls */
static int nthawed_here; /* fsfreeze_thaw() calls: the freezer's own */

enum fsfreeze_kind
fsfreeze_kind(const char *fstype)
{
	return FSFREEZE_SUSPEND;
}

int
fsfreeze_open(const char *path, int *fd)
{
	*fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return *fd == -1 ? -errno : 0;
}

int
fsfreeze_check(const int *fds, const char *const *paths,
    const struct fsfreeze_id *want, dev_t *devs, size_t n, char *err,
    size_t errlen)
{
	memset(devs, 0, n * sizeof(*devs));
	return 0;
}

int
fsfreeze_devs(const int *fds, size_t n, dev_t *devs, int *errs)
{
	memset(devs, 0, n * sizeof(*devs));
	memset(errs, 0, n * sizeof(*errs));
	return 0;
}

int
fsfreeze_sync(int fd)
{
	return 0;
}

/* the knob of grace periods: 0 normal, 1 expedited; or an error
 * reading it, or writing it back to 0 */
static int knob, knob_err, restore_err;
static int nfroze_expedited; /* fsfreeze_freeze() calls while expedited */

int
fsfreeze_expedited(void)
{
	return knob_err != 0 ? knob_err : knob;
}

int
fsfreeze_expedite(bool on)
{
	if (!on && restore_err != 0)
		return restore_err;
	knob = on;
	return 0;
}

int
fsfreeze_freeze(int fd, int *hold)
{
	int p[2];

	nfroze_expedited += knob;

	if (pipe2(p, O_CLOEXEC) == -1)
		return -errno;
	/* the workers run one level at a time: no lock needed */
	readers[nfroze++ % MAXH] = p[0];
	*hold = p[1];
	return 0;
}

int
fsfreeze_thaw(int *hold)
{
	nthawed_here++;
	close(*hold);
	*hold = -1;
	return 0;
}

int
fsfreeze_release(int hold, char *err, size_t errlen)
{
	return fsfreeze_thaw(&hold);
}

int
fsfreeze_hold(const char *path, const struct fsfreeze_id *want, int *hold,
    char *err, size_t errlen)
{
	return fsfreeze_freeze(-1, hold);
}

/* ---- the "guard" ----------------------------------------------------- */

static int guard_copy[MAXH]; /* by slot: its copy of the hold, or -1 */
static int resumed[MAXH]; /* the slots it was told to resume, in order */
static int nresumed;
static bool guard_deaf; /* the resume hook fails (-EAGAIN) */
static int nreleased;
static char expediting_said[8]; /* hooks.expediting(): '+' on, '-' off */
static int nprepared; /* hooks.prepared(true) calls */
static int prepared_err; /* what it answers */

static int
prepared(bool ok, void *arg)
{
	nprepared += ok;
	return ok ? prepared_err : 0;
}

static int
expediting(bool on, void *arg)
{
	size_t n = strlen(expediting_said);

	if (n + 1 < sizeof(expediting_said)) {
		expediting_said[n] = on ? '+' : '-';
		expediting_said[n + 1] = '\0';
	}
	return 0;
}

static int
prepare(int fd, const char *path, dev_t dev, void *arg)
{
	static int next;

	return next++ % MAXH;
}

static void
released(void *arg)
{
	nreleased++;
}

static int
resume(int slot, void *arg)
{
	if (guard_deaf)
		return -EAGAIN;
	resumed[nresumed++] = slot;
	if (guard_copy[slot] != -1)
		close(guard_copy[slot]);
	guard_copy[slot] = -1;
	return 0;
}

/* ---- the loop -------------------------------------------------------- */

static struct event_base *base;
static struct freezer *fz;
static struct freeze_result last;
static bool done;

static void
done_cb(const struct freeze_result *r, void *arg)
{
	last = *r;
	done = true;
}

static void
wait_done(void)
{
	int i;

	for (i = 0; i < 500 && !done; i++)
		event_base_loop(base, EVLOOP_ONCE);
	assert_true(done);
	done = false;
}

/* Has the last copy of the hold whose read end is r gone (resumed)? */
static bool
resumed_fs(int r)
{
	struct pollfd pfd = {r, POLLIN, 0};
	char c;

	return poll(&pfd, 1, 0) == 1 && read(r, &c, 1) == 0;
}

static struct plan_target targets[2];
static struct plan plan = {targets, 2, NULL, 0, false, ""};

static int
setup(void **state)
{
	static const struct freezer_hooks h = {
	    prepare, released, NULL, resume, expediting, prepared};
	int i;

	for (i = 0; i < MAXH; i++)
		guard_copy[i] = -1;
	nresumed = nthawed_here = nreleased = nfroze = 0;
	guard_deaf = false;
	knob = knob_err = restore_err = 0;
	nprepared = prepared_err = 0;
	nfroze_expedited = 0;
	expediting_said[0] = '\0';
	targets[0].mountpoint = "/img";
	targets[0].level = 0;
	targets[1].mountpoint = "/img/inner";
	targets[1].level = 1;
	assert_non_null(base = event_base_new());
	assert_non_null(fz = freezer_new(base, done_cb, NULL));
	freezer_set_hooks(fz, &h);
	return 0;
}

static int
teardown(void **state)
{
	int i;

	freezer_free(fz);
	event_base_free(base);
	for (i = 0; i < nfroze && i < MAXH; i++)
		close(readers[i]);
	for (i = 0; i < MAXH; i++)
		if (guard_copy[i] != -1)
			close(guard_copy[i]);
	return 0;
}

/* Freeze both and hand every hold to the guard; the slots by freeze. */
static void
freeze_and_hand(int *slots)
{
	size_t i;
	int hold, copy;

	assert_int_equal(freezer_freeze(fz, &plan, false, 1), 0);
	wait_done();
	assert_true(last.ok);
	assert_int_equal(freezer_nfrozen(fz), 2);
	for (i = 0; i < 2; i++) {
		hold = freezer_frozen_hold(fz, i);
		assert_true(hold >= 0);
		slots[i] = freezer_frozen_slot(fz, i);
		assert_true((copy = dup(hold)) >= 0);
		guard_copy[slots[i]] = copy;
		freezer_hold_handed(fz, i);
		/* ours is closed: the guard's is the last */
		assert_int_equal(fcntl(hold, F_GETFD), -1);
		assert_int_equal(errno, EBADF);
		assert_int_equal(freezer_frozen_hold(fz, i), -1);
	}
	assert_false(resumed_fs(readers[nfroze - 2]));
	assert_false(resumed_fs(readers[nfroze - 1]));
}

static void
thaw_through_guard(void **state)
{
	int slots[2];

	freeze_and_hand(slots);
	assert_int_equal(freezer_thaw(fz, 2), 0);
	wait_done();
	assert_true(last.ok);
	assert_int_equal(last.nstale, 0);
	assert_int_equal(freezer_nfrozen(fz), 0);
	/* newest first, by the guard's close; nothing thawed by us */
	assert_int_equal(nresumed, 2);
	assert_int_equal(resumed[0], slots[1]);
	assert_int_equal(resumed[1], slots[0]);
	assert_int_equal(nthawed_here, 0);
	assert_true(resumed_fs(readers[0]));
	assert_true(resumed_fs(readers[1]));
	assert_int_equal(nreleased, 1);
}

static void
guard_died(void **state)
{
	int slots[2];

	freeze_and_hand(slots);
	/* its death closed its copies: resumed under us */
	close(guard_copy[slots[0]]);
	close(guard_copy[slots[1]]);
	guard_copy[slots[0]] = guard_copy[slots[1]] = -1;
	assert_int_equal(freezer_guard_lost(fz), 2);
	assert_int_equal(freezer_guard_lost(fz), 0);
	assert_int_equal(freezer_thaw(fz, 2), 0);
	wait_done();
	assert_true(last.ok);
	assert_int_equal(last.nstale, 2); /* the THAW must not say ok */
	assert_int_equal(nresumed, 0);
	assert_int_equal(nthawed_here, 0);
	assert_int_equal(freezer_nfrozen(fz), 0);
}

static void
guard_deaf_keeps_frozen(void **state)
{
	int slots[2];

	freeze_and_hand(slots);
	guard_deaf = true;
	assert_int_equal(freezer_thaw(fz, 2), 0);
	wait_done();
	assert_false(last.ok);
	assert_non_null(strstr(last.reason, "the thaw guard holds it"));
	/* still ours, still frozen: the next thaw tries again */
	assert_int_equal(freezer_nfrozen(fz), 2);
	assert_false(resumed_fs(readers[0]));
	guard_deaf = false;
	assert_int_equal(freezer_thaw(fz, 3), 0);
	wait_done();
	assert_true(last.ok);
	assert_int_equal(freezer_nfrozen(fz), 0);
	assert_true(resumed_fs(readers[0]));
	assert_true(resumed_fs(readers[1]));
}

static void
not_handed_thaws_here(void **state)
{
	/* a guard that was not up: the holds stay ours, thawed by us */
	assert_int_equal(freezer_freeze(fz, &plan, false, 1), 0);
	wait_done();
	assert_true(last.ok);
	assert_int_equal(freezer_guard_lost(fz), 0);
	freezer_thaw_now(fz);
	assert_int_equal(nthawed_here, 2);
	assert_int_equal(nresumed, 0);
	assert_int_equal(freezer_nfrozen(fz), 0);
}

/* One freeze with expedite_freeze as asked, thawed; the knob after. */
static void
expedite_one(bool ask)
{
	nfroze_expedited = 0;
	expediting_said[0] = '\0';
	freezer_set_expedite(fz, ask);
	assert_int_equal(freezer_freeze(fz, &plan, false, 1), 0);
	wait_done();
	assert_true(last.ok);
	freezer_thaw_now(fz);
}

/*
 * expedite_freeze: every FIFREEZE runs with grace periods expedited, and
 * they are normal again before the freeze reports; the owner notes it
 * around that (for a daemon killed in between).  Someone else's 1: never
 * written, nothing noted.  No knob: frozen anyway, saying why.  A
 * restore that fails: said, the note kept, tried again next time.
 */
static void
expedite(void **state)
{
	expedite_one(true);
	assert_int_equal(last.expedited, 1);
	assert_int_equal(nfroze_expedited, 2);
	assert_int_equal(knob, 0);
	assert_string_equal(expediting_said, "+-");

	knob = 1;
	expedite_one(true);
	assert_int_equal(last.expedited, 0);
	assert_int_equal(knob, 1);
	assert_string_equal(expediting_said, "");
	knob = 0;

	knob_err = -ENOENT;
	expedite_one(true);
	assert_int_equal(last.expedited, -ENOENT);
	assert_int_equal(nfroze_expedited, 0);
	assert_string_equal(expediting_said, "");
	knob_err = 0;

	restore_err = -EROFS;
	expedite_one(true);
	assert_int_equal(last.expedited, 1);
	assert_int_equal(last.restore_err, -EROFS);
	assert_int_equal(knob, 1);
	assert_string_equal(expediting_said, "+");
	/* tried again before the next: put back, then expedited anew */
	restore_err = 0;
	expedite_one(true);
	assert_int_equal(last.expedited, 1);
	assert_int_equal(last.restore_err, 0);
	assert_int_equal(knob, 0);
	assert_string_equal(expediting_said, "-+-");

	/* not asked: not touched, nothing said */
	expedite_one(false);
	assert_int_equal(last.expedited, 0);
	assert_int_equal(nfroze_expedited, 0);
	assert_string_equal(expediting_said, "");
}

/* Every target prepared, then committed once; a commit that fails
 * refuses the freeze before anything is frozen. */
static void
prepared_once(void **state)
{
	int froze;

	assert_int_equal(freezer_freeze(fz, &plan, false, 1), 0);
	wait_done();
	assert_true(last.ok);
	assert_int_equal(nprepared, 1);
	freezer_thaw_now(fz);
	prepared_err = -EIO;
	froze = nfroze;
	assert_int_equal(freezer_freeze(fz, &plan, false, 2), -EIO);
	assert_int_equal(nfroze, froze);
	assert_non_null(strstr(freezer_last_reason(fz), "cannot record"));
	assert_int_equal(freezer_nfrozen(fz), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        thaw_through_guard, setup, teardown),
	    cmocka_unit_test_setup_teardown(guard_died, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        guard_deaf_keeps_frozen, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        not_handed_thaws_here, setup, teardown),
	    cmocka_unit_test_setup_teardown(expedite, setup, teardown),
	    cmocka_unit_test_setup_teardown(prepared_once, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
