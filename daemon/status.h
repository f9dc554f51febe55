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
/* The same for a plan made elsewhere (the parent's, in privsep mode),
 * with the hooks it would run: names in hooks_dir, NULL-terminated. */
struct plan;
void plan_render(const struct plan *, const struct conf *, const struct apps *,
    char *const *hooks, bool json, struct evbuffer *);
/*
 * The entries of dir named as hooks (hooks_name_ok(): no editor or
 * package leftovers), in name order, NULL-terminated; none if it cannot
 * be read.  NULL only if out
 * of memory.  Free with plan_hooks_free().
 */
char **plan_hooks(const char *dir);
/* The plan's targets and skips, one debug line each. */
void plan_log(const struct plan *);
void plan_hooks_free(char **);
int history_write(unsigned int n, bool json, struct evbuffer *);
/* s as a JSON string: UTF-8 kept, invalid bytes as U+FFFD (status.c) */
void status_json_str(struct evbuffer *, const char *s);

#endif /* HVVSS_STATUS_H */
