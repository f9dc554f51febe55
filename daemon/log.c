/*
 * log.c: see log.h for why lines are held in memory while frozen.
 *
 * The ring is a static array: holding a line never allocates, never
 * blocks and never fails; when the ring is full the oldest lines are
 * kept and later ones counted as dropped, so that the start of a
 * failure (usually the interesting part) survives.
 *
 * Writing a line must never block either, frozen or not: a syslogd or
 * journald that is stuck (on a frozen /var, say) or a stderr pipe that
 * nobody reads would otherwise hang the daemon with the host waiting.
 * So syslog(3) is not used: lines go to syslogd's socket through our own
 * non-blocking datagram socket, and to stderr only when poll() says a
 * line fits; a line that cannot go now is dropped and counted, and the
 * count is logged when lines flow again.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

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
static int syslog_fd = -1;
static bool no_reconnect; /* log_init_engine(): its filter has no connect */
static unsigned int lost; /* lines the target could not take */

/* (Re)connect to syslogd's socket (_PATH_LOG: /dev/log on Linux,
 * /var/run/log on FreeBSD), non-blocking; false if there is none. */
static bool
syslog_connect(void)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	if (syslog_fd != -1)
		return true;
	if (no_reconnect)
		return false;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", _PATH_LOG);
	syslog_fd =
	    socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (syslog_fd == -1)
		return false;
	if (connect(syslog_fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(syslog_fd);
		syslog_fd = -1;
		return false;
	}
	return true;
}

/* One RFC 3164 line to syslogd; false if it could not go now. */
static bool
send_syslog(int prio, const char *text)
{
	char msg[LOG_LINE_MAX + 128];
	int n;

	if (!syslog_connect())
		return false;
	n = snprintf(msg, sizeof(msg), "<%d>hv_vss_daemon[%d]: %s",
	    LOG_DAEMON | prio, (int)getpid(), text);
	if (n < 0)
		return false;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	if (send(syslog_fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) == n)
		return true;
	if (errno != EAGAIN && errno != EWOULDBLOCK) {
		close(syslog_fd); /* syslogd restarted: reconnect next */
		syslog_fd = -1;
	}
	return false;
}

/* One line to stderr, only if it fits now. */
static bool
send_stderr(const char *line, size_t len)
{
	struct pollfd pfd = {.fd = STDERR_FILENO, .events = POLLOUT};
	ssize_t n;

	if (poll(&pfd, 1, 0) != 1 || !(pfd.revents & POLLOUT))
		return false;
	n = write(STDERR_FILENO, line, len);
	return n == (ssize_t)len;
}

void
log_init(bool foreground, int debug)
{
	to_stderr = foreground;
	verbosity = debug;
	if (!foreground)
		(void)syslog_connect();
}

void
log_init_engine(bool foreground, int debug)
{
	/* the descriptor the parent had was closed in the child: its
	 * number may belong to something else by now */
	syslog_fd = -1;
	log_init(foreground, debug);
	no_reconnect = true;
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

	char line[LOG_LINE_MAX + 96];
	int n;
	bool sent;

	localtime_r(&when->tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
	if (to_stderr)
		n = snprintf(line, sizeof(line), "%s.%03ld %s\n", stamp,
		    when->tv_nsec / 1000000, text);
	else if (late)
		n = snprintf(line, sizeof(line),
		    "%s (held while frozen, logged at %s.%03ld)", text, stamp,
		    when->tv_nsec / 1000000);
	else
		n = snprintf(line, sizeof(line), "%s", text);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	sent =
	    to_stderr ? send_stderr(line, (size_t)n) : send_syslog(prio, line);
	if (!sent) {
		lost++;
		return;
	}
	if (lost > 0) {
		n = snprintf(line, sizeof(line),
		    "%s%s%u log line%s lost: the log target was not taking them%s",
		    to_stderr ? stamp : "", to_stderr ? " " : "", lost,
		    lost == 1 ? "" : "s", to_stderr ? "\n" : "");
		lost = 0;
		if (to_stderr)
			(void)send_stderr(line, strlen(line));
		else
			(void)send_syslog(LOG_WARNING, line);
	}
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

static void __attribute__((format(printf, 3, 0)))
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
static void __attribute__((noreturn, format(printf, 2, 0)))
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
