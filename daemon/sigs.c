/*
 * sigs.c: the signals that would end hv_vss_daemon or its guard by
 * default and that neither handles (see sigs.h).  POSIX's are listed
 * here, the platform's own in os/sigtab_*.c.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "os/sigtab.h"
#include "sigs.h"

/* Default: terminate (or dump core, or stop), and nobody's business;
 * with their names for the log (sigabbrev_np() is glibc's alone). */
static const struct sigtab fixed[] = {{SIGUSR1, "SIGUSR1"},
    {SIGUSR2, "SIGUSR2"}, {SIGALRM, "SIGALRM"}, {SIGVTALRM, "SIGVTALRM"},
    {SIGPROF, "SIGPROF"}, {SIGIO, "SIGIO"}, {SIGXCPU, "SIGXCPU"},
    {SIGTSTP, "SIGTSTP"}, {SIGTTIN, "SIGTTIN"}, {SIGTTOU, "SIGTTOU"}};

/* Raised by our own writes; EPIPE or EFBIG then tells the writer. */
static const struct sigtab raised[] = {
    {SIGPIPE, "SIGPIPE"}, {SIGXFSZ, "SIGXFSZ"}};

/* The rest of POSIX's, only named (a child's death, in the log). */
static const struct sigtab other[] = {{SIGHUP, "SIGHUP"}, {SIGINT, "SIGINT"},
    {SIGQUIT, "SIGQUIT"}, {SIGILL, "SIGILL"}, {SIGTRAP, "SIGTRAP"},
    {SIGABRT, "SIGABRT"}, {SIGBUS, "SIGBUS"}, {SIGFPE, "SIGFPE"},
    {SIGKILL, "SIGKILL"}, {SIGSEGV, "SIGSEGV"}, {SIGTERM, "SIGTERM"},
    {SIGSYS, "SIGSYS"}, {SIGCHLD, "SIGCHLD"}, {SIGCONT, "SIGCONT"},
    {SIGSTOP, "SIGSTOP"}, {SIGURG, "SIGURG"}, {SIGWINCH, "SIGWINCH"}};

#define NFIXED (sizeof(fixed) / sizeof(fixed[0]))
#define NOTHER (sizeof(other) / sizeof(other[0]))
#define NRAISED (sizeof(raised) / sizeof(raised[0]))

const char *
sigs_name(int sig, char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < NFIXED; i++)
		if (fixed[i].sig == sig)
			return fixed[i].name;
	for (i = 0; i < sigtab_nos; i++)
		if (sigtab_os[i].sig == sig)
			return sigtab_os[i].name;
	for (i = 0; i < NRAISED; i++)
		if (raised[i].sig == sig)
			return raised[i].name;
	for (i = 0; i < NOTHER; i++)
		if (other[i].sig == sig)
			return other[i].name;
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

	for (i = 0; i < NFIXED && n < max; i++) {
		if (quiet != NULL)
			quiet[n] = false;
		sigs[n++] = fixed[i].sig;
	}
	for (i = 0; i < sigtab_nos && n < max; i++) {
		if (quiet != NULL)
			quiet[n] = false;
		sigs[n++] = sigtab_os[i].sig;
	}
	for (i = 0; i < NRAISED && n < max; i++) {
		if (quiet != NULL)
			quiet[n] = true;
		sigs[n++] = raised[i].sig;
	}
	/* glibc keeps the first real-time signals for itself: SIGRTMIN is
	 * past them (FreeBSD's libthr and librt use SIGTHR and SIGLIBRT,
	 * below SIGRTMIN too) */
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
