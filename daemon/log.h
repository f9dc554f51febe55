/*
 * log.h: hv_vss_daemon's logging: syslog when daemonised, stderr with -n.
 *
 * While anything may be frozen the daemon must not write to any file: a
 * log line can reach a frozen filesystem through syslogd or journald (or
 * through stderr redirected to a file) and block the daemon in
 * uninterruptible sleep, with the filesystem never thawed (this is how
 * Linux's own hv_vss_daemon deadlocked: microsoft/backupessentials#1).
 * So between log_hold() and log_release() lines go to a fixed ring in
 * memory, allocated at start, and are written out after thaw with the
 * time they were logged.
 */
#ifndef HVVSS_LOG_H
#define HVVSS_LOG_H

#include <stdarg.h>
#include <stdbool.h>

#define LOG_RING_LINES 1024 /* lines kept while held */
#define LOG_LINE_MAX 480 /* bytes per line, truncated beyond */

void log_init(bool foreground, int debug);
/*
 * The same in privsep's engine, in the child before its confinement:
 * its own connection to syslogd (the parent's was closed), and no other
 * afterwards (its seccomp list has no connect: a syslogd restart loses
 * its lines until the engine restarts).
 */
void log_init_engine(bool foreground, int debug);
void log_setdebug(int debug);
int log_getdebug(void);

/* Hold lines in memory from now on (call before the first freeze). */
void log_hold(void);
/* Write out what was held and log directly again (after thaw). */
void log_release(void);
bool log_held(void);

/* Called by fatal() before it logs, e.g. to thaw. */
void log_set_fatal_hook(void (*)(void));

void log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif /* HVVSS_LOG_H */
