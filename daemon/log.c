/*
 * log.c: see log.h for why lines are held in memory while frozen.
 *
 * The ring is a static array: holding a line never allocates, never
 * blocks and never fails; when the ring is full the oldest lines are
 * kept and later ones counted as dropped, so that the start of a
 * failure (usually the interesting part) survives.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

struct held_line {
	struct timespec when;
	int prio;
	char text[LOG_LINE_MAX];
};

static struct held_line ring[LOG_RING_LINES];
static unsigned int held, dropped;
static bool holding;
static bool to_stderr = true;
static int verbosity;
static void (*fatal_hook)(void);

void
log_init(bool foreground, int debug)
{
	to_stderr = foreground;
	verbosity = debug;
	if (!foreground)
		openlog("hv_vss_daemon", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_setdebug(int debug)
{
	verbosity = debug;
}

int
log_getdebug(void)
{
	return verbosity;
}

void
log_set_fatal_hook(void (*hook)(void))
{
	fatal_hook = hook;
}

static void
emit(const struct timespec *when, int prio, const char *text, bool late)
{
	struct tm tm;
	char stamp[32];

	localtime_r(&when->tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
	if (to_stderr)
		fprintf(stderr, "%s.%03ld %s\n", stamp, when->tv_nsec / 1000000,
		    text);
	else if (late)
		syslog(prio, "%s (held while frozen, logged at %s.%03ld)", text,
		    stamp, when->tv_nsec / 1000000);
	else
		syslog(prio, "%s", text);
}

/* One line, out now or into the ring. */
static void
logline(int prio, const char *text)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	if (!holding) {
		emit(&now, prio, text, false);
		return;
	}
	if (held == LOG_RING_LINES) {
		dropped++;
		return;
	}
	ring[held].when = now;
	ring[held].prio = prio;
	snprintf(ring[held].text, sizeof(ring[held].text), "%s", text);
	held++;
}

static void
vlog(int prio, int saved_errno, const char *fmt, va_list ap)
{
	char text[LOG_LINE_MAX];
	size_t n;

	vsnprintf(text, sizeof(text), fmt, ap);
	if (saved_errno != 0) {
		n = strlen(text);
		snprintf(
		    text + n, sizeof(text) - n, ": %s", strerror(saved_errno));
	}
	logline(prio, text);
}

void
log_hold(void)
{
	holding = true;
}

bool
log_held(void)
{
	return holding;
}

void
log_release(void)
{
	struct timespec now;
	unsigned int i;
	char text[LOG_LINE_MAX];

	holding = false;
	for (i = 0; i < held; i++)
		emit(&ring[i].when, ring[i].prio, ring[i].text, true);
	if (dropped > 0) {
		clock_gettime(CLOCK_REALTIME, &now);
		snprintf(text, sizeof(text),
		    "%u log lines dropped while frozen (ring of %u full)",
		    dropped, (unsigned int)LOG_RING_LINES);
		emit(&now, LOG_WARNING, text, false);
	}
	held = dropped = 0;
}

/* log_warn: a warning with strerror(errno) appended */
void
log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, 0, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, 0, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (verbosity < 1)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, 0, fmt, ap);
	va_end(ap);
}

/*
 * fatal: our own bug or an unusable system.  The hook (thaw whatever we
 * froze) runs first, then the held lines are released, since the process
 * is ending either way.
 */
static void __attribute__((noreturn))
vfatal(int saved_errno, const char *fmt, va_list ap)
{
	if (fatal_hook != NULL)
		fatal_hook();
	vlog(LOG_CRIT, saved_errno, fmt, ap);
	log_release();
	exit(1);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfatal(errno, fmt, ap);
	va_end(ap);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfatal(0, fmt, ap);
	va_end(ap);
}
