/*
 * sigs.c: the signals that would end hv_vss_daemon or its guard by
 * default and that neither handles (see sigs.h).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "sigs.h"

/* Default: terminate (or dump core, or stop), and nobody's business. */
static const int fixed[] = {SIGUSR1, SIGUSR2, SIGALRM, SIGVTALRM, SIGPROF,
    SIGIO, SIGPWR, SIGSTKFLT, SIGXCPU, SIGTSTP, SIGTTIN, SIGTTOU};

/* Raised by our own writes; EPIPE or EFBIG then tells the writer. */
static const int raised[] = {SIGPIPE, SIGXFSZ};

/* Their names, for the log (sigabbrev_np() is glibc's alone). */
static const struct {
	int sig;
	const char *name;
} names[] = {{SIGUSR1, "SIGUSR1"}, {SIGUSR2, "SIGUSR2"}, {SIGALRM, "SIGALRM"},
    {SIGVTALRM, "SIGVTALRM"}, {SIGPROF, "SIGPROF"}, {SIGIO, "SIGIO"},
    {SIGPWR, "SIGPWR"}, {SIGSTKFLT, "SIGSTKFLT"}, {SIGXCPU, "SIGXCPU"},
    {SIGTSTP, "SIGTSTP"}, {SIGTTIN, "SIGTTIN"}, {SIGTTOU, "SIGTTOU"},
    {SIGPIPE, "SIGPIPE"}, {SIGXFSZ, "SIGXFSZ"}};

const char *
sigs_name(int sig, char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].sig == sig)
			return names[i].name;
	if (sig >= SIGRTMIN && sig <= SIGRTMAX)
		snprintf(buf, len, "SIGRTMIN+%d", sig - SIGRTMIN);
	else
		snprintf(buf, len, "signal %d", sig);
	return buf;
}

size_t
sigs_stray(int *sigs, bool *quiet, size_t max)
{
	size_t i, n = 0;
	int s;

	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]) && n < max; i++) {
		if (quiet != NULL)
			quiet[n] = false;
		sigs[n++] = fixed[i];
	}
	for (i = 0; i < sizeof(raised) / sizeof(raised[0]) && n < max; i++) {
		if (quiet != NULL)
			quiet[n] = true;
		sigs[n++] = raised[i];
	}
	/* glibc keeps the first real-time signals for itself: SIGRTMIN is
	 * past them */
	for (s = SIGRTMIN; s <= SIGRTMAX && n < max; s++) {
		if (quiet != NULL)
			quiet[n] = false;
		sigs[n++] = s;
	}
	return n;
}

void
sigs_ignore_stray(void)
{
	struct sigaction sa;
	int sigs[SIGS_MAX];
	size_t i, n;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	n = sigs_stray(sigs, NULL, SIGS_MAX);
	for (i = 0; i < n; i++)
		(void)sigaction(sigs[i], &sa, NULL);
}
