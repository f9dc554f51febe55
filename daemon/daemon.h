/*
 * daemon.h: the daemon's running state and the shell around the
 * transaction machine: it carries out txn.c's actions (plan, freezer,
 * applications, host replies, timers) and feeds their results back.
 */
#ifndef HVVSS_DAEMON_H
#define HVVSS_DAEMON_H

#include <sys/types.h>

#include <stdbool.h>

#include "conf.h"

struct event_base;

/* Start serving with configuration c (copied); conf_path for SIGHUP. */
void daemon_start(struct event_base *, const struct conf *c,
    const char *conf_path, char *const *overrides, int noverrides);
/* Run until SIGTERM/SIGINT; returns the exit status. */
/*
 * The same as privsep mode's engine: the privileged work asked of the
 * parent at the other end of sock (engine.h); guard_pid for the status.
 */
void daemon_start_engine(struct event_base *, const struct conf *c,
    const char *conf_path, char *const *overrides, int noverrides, int sock,
    pid_t guard_pid);
int daemon_run(void);

#endif /* HVVSS_DAEMON_H */
