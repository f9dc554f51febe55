/*
 * status.h: what hv_vss_ctl shows: status, plan and history, as text for
 * people and as JSON for programs.
 */
#ifndef HVVSS_STATUS_H
#define HVVSS_STATUS_H

#include <sys/types.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "conf.h"
#include "hooks.h"

struct evbuffer;
struct apps;

#define HVVSS_VERSION "0.1.0"

/* The daemon's state, as daemon.c sees it now. */
struct daemon_view {
	const char *state; /* idle, checking, freezing, ... */
	uint64_t txid;
	bool local; /* the transaction is hv_vss_ctl's */
	bool frozen;
	struct timespec frozen_since; /* wall clock */
	long long lease_left_ms; /* -1: no lease running */
	const char *device;
	bool connected;
	bool guard_alive;
	pid_t guard_pid;
	const struct apps *apps;
	const char *frozen_paths; /* in freeze order, space-separated */
	char hold_text[512]; /* a detached hold (holds.h); "": none */
	char hold_json[512]; /* the same as a JSON object */
};

int status_write(const struct daemon_view *, bool json, struct evbuffer *);
/*
 * The dry run: the plan from the mount table now, the apps by tier, the
 * hooks, and what a HOT_BACKUP would be answered.  Freezes nothing.
 */
int plan_write(
    const struct conf *, const struct apps *, bool json, struct evbuffer *);
/*
 * The hooks a FREEZE would run, as the plan shows them: names in their
 * order, NULL-terminated (never NULL once read); more: how many did
 * not fit in the privilege split's PLAN text; why: what would fail
 * every FREEZE on them, "" if nothing (hooks_preview()).
 */
struct plan_hooks {
	char **names;
	size_t more;
	char why[HOOKS_REASON_MAX];
};
/* hooks_preview() of dir.  0, or -ENOMEM. */
int plan_hooks_read(const char *dir, struct plan_hooks *);
void plan_hooks_clear(struct plan_hooks *);
/* The same for a plan made elsewhere (the parent's, in privsep mode),
 * with the hooks it would run. */
struct plan;
void plan_render(const struct plan *, const struct conf *, const struct apps *,
    const struct plan_hooks *, bool json, struct evbuffer *);
/* The plan's targets and skips, one debug line each. */
void plan_log(const struct plan *);
int history_write(unsigned int n, bool json, struct evbuffer *);
/* s as a JSON string: UTF-8 kept, invalid bytes as U+FFFD (status.c) */
void status_json_str(struct evbuffer *, const char *s);

#endif /* HVVSS_STATUS_H */
