/*
 * history.h: the last transactions, for hv_vss_ctl history and the
 * metrics: who asked, how long each stage took, how it ended, and who or
 * what was to blame.
 */
#ifndef HVVSS_HISTORY_H
#define HVVSS_HISTORY_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "ctlproto.h"
#include "txn.h"

enum hist_stage {
	HS_CHECK, /* HOT_BACKUP: plan and apps asked */
	HS_APPS, /* FREEZE: apps (and hooks) flushed */
	HS_FS, /* FREEZE: filesystems frozen */
	HS_FROZEN, /* the frozen window, to THAW (or the lease) */
	HS_THAW, /* THAW: filesystems and apps resumed */
	HS_NSTAGES
};

struct hist_entry {
	uint64_t id;
	bool local; /* hv_vss_ctl, not the host */
	char kind[16]; /* "HOT_BACKUP" or "FREEZE" */
	struct timespec start; /* wall clock */
	uint64_t start_us; /* monotonic */
	uint64_t stage_us[HS_NSTAGES];
	bool done[HS_NSTAGES];
	bool ended;
	bool ok;
	bool lease_expired;
	char culprit[320];
	char gone[320]; /* registered apps gone before it began */
	char who[256]; /* a detached hold's holder (holds.h) */
};

/* The transaction ended; culprit may be NULL (the first one stays). */
void history_end(uint64_t id, bool ok, const char *culprit);
/* Registered apps gone since the transaction before id (apps_news()). */
void history_gone(uint64_t id, const char *text);
/* Who asked for transaction id (a detached hold's holder). */
void history_who(uint64_t id, const char *who);
/*
 * Keep the history from what went through the machine: one event and
 * the actions it gave (TA_BEGIN starts an entry, TA_STAGE times a stage,
 * the first TA_REPLY of a transaction that is no refusal aside gives its
 * outcome, TXN_STAGE_END closes it).  A backup that ends is counted in
 * the metrics (metrics.h): true when one was.
 */
bool history_note(const struct txn_event *, const struct txn_actions *);
/* The i-th most recent (0: newest), or NULL. */
const struct hist_entry *history_get(unsigned int i);
const char *history_stage_name(enum hist_stage);

#endif /* HVVSS_HISTORY_H */
