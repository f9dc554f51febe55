/*
 * test_sigs.c: unit tests for daemon/sigs.c, the signals the daemon and
 * its guard ignore.  The list must hold every signal whose default
 * would end or stop the daemon and that it does not handle, and nothing
 * it handles, nothing that reports its own faults, and nothing whose
 * default is already to ignore (SIGCHLD above all: ignoring it would
 * make the kernel reap the hooks before hooks.c can).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <stdio.h>
#include <cmocka.h>

#include "os/sigtab.h"
#include "sigs.h"

static bool
listed(const int *sigs, size_t n, int sig)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (sigs[i] == sig)
			return true;
	return false;
}

static void
test_list(void **state)
{
	static const int in[] = {SIGUSR1, SIGUSR2, SIGPIPE, SIGALRM, SIGVTALRM,
	    SIGPROF, SIGIO, SIGPWR, SIGSTKFLT, SIGXCPU, SIGXFSZ, SIGTSTP,
	    SIGTTIN, SIGTTOU};
	static const int out[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGKILL,
	    SIGSTOP, SIGCHLD, SIGCONT, SIGURG, SIGWINCH, SIGSEGV, SIGBUS,
	    SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS};
	int sigs[SIGS_MAX];
	bool quiet[SIGS_MAX];
	size_t i, n;
	int s;

	n = sigs_stray(sigs, quiet, SIGS_MAX);
	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		if (!listed(sigs, n, in[i]))
			fail_msg("signal %d (%s) not listed", in[i],
			    strsignal(in[i]));
	for (i = 0; i < sizeof(out) / sizeof(out[0]); i++)
		if (listed(sigs, n, out[i]))
			fail_msg(
			    "signal %d (%s) listed", out[i], strsignal(out[i]));
	for (s = SIGRTMIN; s <= SIGRTMAX; s++)
		assert_true(listed(sigs, n, s));
	/* glibc's own, below SIGRTMIN, are not ours to touch */
	for (s = 32; s < SIGRTMIN; s++)
		assert_false(listed(sigs, n, s));
	/* only what our own writes raise goes unlogged */
	for (i = 0; i < n; i++)
		assert_int_equal(
		    quiet[i], sigs[i] == SIGPIPE || sigs[i] == SIGXFSZ);
	/* a short array is filled, not overrun */
	assert_int_equal(sigs_stray(sigs, NULL, 3), 3);
}

static void
test_ignore(void **state)
{
	struct sigaction sa;
	int sigs[SIGS_MAX];
	size_t i, n;

	sigs_ignore_stray();
	n = sigs_stray(sigs, NULL, SIGS_MAX);
	for (i = 0; i < n; i++) {
		assert_int_equal(sigaction(sigs[i], NULL, &sa), 0);
		assert_true(sa.sa_handler == SIG_IGN);
	}
	assert_int_equal(sigaction(SIGCHLD, NULL, &sa), 0);
	assert_true(sa.sa_handler == SIG_DFL);
	/* and it is so: the process lives */
	assert_int_equal(raise(SIGUSR1), 0);
	assert_int_equal(raise(SIGRTMAX), 0);
	assert_int_equal(raise(SIGTSTP), 0);
}

/*
 * names: every stray has its own name for the log (the POSIX ones and
 * the platform's own from os/sigtab.h alike), a real-time one is named
 * from SIGRTMIN, and one not listed is "signal N".
 */
static void
test_names(void **state)
{
	int sigs[SIGS_MAX];
	char buf[32], want[32];
	const char *name;
	size_t i, j, n;

	n = sigs_stray(sigs, NULL, SIGS_MAX);
	for (i = 0; i < n; i++) {
		name = sigs_name(sigs[i], buf, sizeof(buf));
		if (sigs[i] >= SIGRTMIN && sigs[i] <= SIGRTMAX) {
			snprintf(want, sizeof(want), "SIGRTMIN+%d",
			    sigs[i] - SIGRTMIN);
			assert_string_equal(name, want);
			continue;
		}
		assert_memory_equal(name, "SIG", 3);
		assert_null(strstr(name, "signal"));
		/* one name, one signal */
		for (j = 0; j < i; j++)
			if (!(sigs[j] >= SIGRTMIN && sigs[j] <= SIGRTMAX))
				assert_string_not_equal(
				    sigs_name(sigs[j], want, sizeof(want)),
				    name);
	}
	/* the platform's own are listed, under their own names */
	assert_true(sigtab_nos > 0);
	for (i = 0; i < sigtab_nos; i++) {
		assert_true(listed(sigs, n, sigtab_os[i].sig));
		assert_string_equal(
		    sigs_name(sigtab_os[i].sig, buf, sizeof(buf)),
		    sigtab_os[i].name);
	}
	assert_string_equal(sigs_name(SIGPWR, buf, sizeof(buf)), "SIGPWR");
	assert_string_equal(sigs_name(SIGPIPE, buf, sizeof(buf)), "SIGPIPE");
	assert_string_equal(sigs_name(SIGHUP, buf, sizeof(buf)), "SIGHUP");
	assert_string_equal(sigs_name(SIGSYS, buf, sizeof(buf)), "SIGSYS");
	assert_string_equal(sigs_name(0, buf, sizeof(buf)), "signal 0");
	/* every stray fits: SIGS_MAX is no limit in practice */
	assert_true(n < SIGS_MAX);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_list),
	    cmocka_unit_test(test_ignore),
	    cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
