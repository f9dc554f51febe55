/*
 * apps.h: the application socket (doc/DESIGN.md, "Application socket
 * (protocol 1)"): who is registered, and the application stages of a
 * transaction: CHECK, FREEZE by tier, ABORT, THAW by tier.
 */
#ifndef HVVSS_APPS_H
#define HVVSS_APPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <time.h>

#include "appproto.h"
#include "conf.h"

struct event_base;
struct apps;

enum apps_stage {
	APPS_CHECK,
	APPS_FREEZE,
	APPS_THAW,
};

#define APPS_REASON_MAX 320

/*
 * A stage's end: ok, or the culprit ("app db (pid 41, uid 0): VETO disk
 * busy", "app db (pid 41, uid 0): no answer to FREEZE within 2500 ms").
 * A THAW stage is always ok; missing THAWED answers are in the reason.
 */
typedef void (*apps_done_fn)(
    enum apps_stage, uint64_t txid, bool ok, const char *reason, void *arg);

/* One registered application, for status and tests. */
struct apps_info {
	uint64_t id;
	const char *name;
	unsigned int tier;
	pid_t pid;
	uid_t uid;
	uint32_t need_ms; /* its HELLO timeout=, 0 if none */
};

/* A registered app that went away (closed, or dropped), for status. */
struct apps_gone {
	uint64_t id;
	char name[APP_NAME_MAX + 1];
	pid_t pid;
	uid_t uid;
	uint64_t txid; /* the last transaction begun when it went */
	struct timespec when; /* wall clock */
	char why[96];
};

/* Create the socket from c (run_dir, app_socket, mode, group, cap). */
struct apps *
apps_new(struct event_base *, const struct conf *c, apps_done_fn, void *arg);
void apps_free(struct apps *);

/* Ask every registered app CHECK; done(APPS_CHECK) within ms. */
void apps_check(struct apps *, uint64_t txid, unsigned int ms);
/* FREEZE tier 0..9, each tier its share of ms; done(APPS_FREEZE). */
void apps_freeze(struct apps *, uint64_t txid, unsigned int ms);
/* ABORT to every app asked to FREEZE in txid (no answer awaited). */
void apps_abort(struct apps *, uint64_t txid);
/* THAW tier 9..0; done(APPS_THAW) when all said THAWED or ms passed. */
void apps_thaw(struct apps *, uint64_t txid, unsigned int ms);
/*
 * The same for tiers from..to only (FREEZE ascending, THAW descending;
 * an empty range is done at once), so that the freeze hooks can run
 * between two tiers (hooks_tier).  A tier's budget is still its share of
 * what is left for every later tier, of this part or the next.
 */
void apps_freeze_tiers(
    struct apps *, uint64_t txid, unsigned int ms, int from, int to);
void apps_thaw_tiers(
    struct apps *, uint64_t txid, unsigned int ms, int from, int to);

size_t apps_count(const struct apps *);
/* Call fn for each registered app, in registration order. */
void apps_foreach(
    const struct apps *, void (*fn)(const struct apps_info *, void *), void *);

/* Call fn for each of the last registered apps gone, newest first. */
void apps_foreach_gone(
    const struct apps *, void (*fn)(const struct apps_gone *, void *), void *);
/*
 * The registered apps gone since the last call, named with why ("app db
 * (pid 41, uid 26): closed; ... and 3 more") into buf; returns how many
 * (0: none, buf empty).  A transaction's start calls it: that backup is
 * the first without them.
 */
size_t apps_news(struct apps *, char *buf, size_t len);
/* The same without forgetting them; and forgetting them alone. */
size_t apps_news_peek(const struct apps *, char *buf, size_t len);
void apps_news_clear(struct apps *);

#endif /* HVVSS_APPS_H */
