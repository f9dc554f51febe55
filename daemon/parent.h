/*
 * parent.h: hv_vss_daemon's privileged parent in privsep mode (issue 15;
 * doc/PRIVSEP.md): the record, the thaw guard, and the engine it starts
 * confined, serves (priv.h) and restarts (privsep.h).
 */
#ifndef HVVSS_PARENT_H
#define HVVSS_PARENT_H

#include <stdbool.h>

struct conf;
struct event_base;

/*
 * Run until SIGTERM, SIGINT or SIGQUIT, then stop the engine, thaw and
 * return the exit status.  c is kept (not copied), and replaced by
 * SIGHUP's reload (conf_path and the -o overrides) once idle.  Fatal if the engine
 * cannot be started (its user, privsep_user, unknown: no fallback).
 */
int parent_run(struct event_base *, struct conf *c, const char *conf_path,
    char *const *overrides, int noverrides, bool foreground);

#endif /* HVVSS_PARENT_H */
