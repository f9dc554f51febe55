/*
 * history.c: a ring of the last CTL_HISTORY_MAX transactions (see
 * history.h).  Memory only: it is written while filesystems are frozen.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "history.h"
#include "metrics.h"
#include "util.h"

static struct hist_entry ring[CTL_HISTORY_MAX];
static unsigned int next, count;

static const char *const stage_names[HS_NSTAGES] = {
    [HS_CHECK] = "check",
    [HS_APPS] = "apps_freeze",
    [HS_FS] = "fs_freeze",
    [HS_FROZEN] = "frozen",
    [HS_THAW] = "thaw",
};

const char *
history_stage_name(enum hist_stage s)
{
	return s < HS_NSTAGES ? stage_names[s] : "?";
}

/* Start an entry (the oldest of CTL_HISTORY_MAX goes). */
static struct hist_entry *
history_begin(uint64_t id, bool local, const char *kind)
{
	struct hist_entry *e = &ring[next];

	memset(e, 0, sizeof(*e));
	e->id = id;
	e->local = local;
	snprintf(e->kind, sizeof(e->kind), "%s", kind);
	clock_gettime(CLOCK_REALTIME, &e->start);
	e->start_us = mono_us();
	next = (next + 1) % CTL_HISTORY_MAX;
	if (count < CTL_HISTORY_MAX)
		count++;
	return e;
}

/* The entry of transaction id, or NULL if it is gone. */
static struct hist_entry *
history_find(uint64_t id)
{
	unsigned int i;

	for (i = 0; i < count; i++) {
		struct hist_entry *e =
		    &ring[(next + CTL_HISTORY_MAX - 1 - i) % CTL_HISTORY_MAX];

		if (e->id == id)
			return e;
	}
	return NULL;
}

/* Stage s of id ended now (its time is measured from the previous). */
static void
history_stage(uint64_t id, enum hist_stage s)
{
	struct hist_entry *e = history_find(id);
	uint64_t sum = 0;
	int k;

	if (e == NULL || e->done[s])
		return;
	for (k = 0; k < HS_NSTAGES; k++)
		sum += e->stage_us[k];
	e->stage_us[s] = mono_us() - e->start_us - sum;
	e->done[s] = true;
}

void
history_end(uint64_t id, bool ok, const char *culprit)
{
	struct hist_entry *e = history_find(id);

	if (e == NULL || e->ended)
		return;
	e->ended = true;
	e->ok = ok;
	if (culprit != NULL && e->culprit[0] == '\0')
		snprintf(e->culprit, sizeof(e->culprit), "%s", culprit);
}

void
history_gone(uint64_t id, const char *text)
{
	struct hist_entry *e = history_find(id);

	if (e != NULL)
		snprintf(e->gone, sizeof(e->gone), "%s", text);
}

const struct hist_entry *
history_get(unsigned int i)
{
	if (i >= count)
		return NULL;
	return &ring[(next + CTL_HISTORY_MAX - 1 - i) % CTL_HISTORY_MAX];
}

void
history_who(uint64_t id, const char *who)
{
	struct hist_entry *e = history_find(id);

	if (e != NULL)
		snprintf(e->who, sizeof(e->who), "%s", who);
}

/* A transaction ended: its metrics (a hold is no backup). */
static bool
count_backup(const struct hist_entry *e)
{
	if (strcmp(e->kind, "HOLD") == 0)
		return false;
	metrics_backup(strcmp(e->kind, "FREEZE") == 0, e->local, e->ok,
	    e->culprit,
	    e->done[HS_FS] ? e->stage_us[HS_APPS] + e->stage_us[HS_FS] : 0,
	    e->stage_us[HS_FROZEN], e->lease_expired);
	return true;
}

static bool
note_stage(struct hist_entry *e, enum txn_stage s)
{
	static const enum hist_stage hs[] = {[TXN_STAGE_CHECK] = HS_CHECK,
	    [TXN_STAGE_APPS] = HS_APPS,
	    [TXN_STAGE_FS] = HS_FS,
	    [TXN_STAGE_FROZEN] = HS_FROZEN,
	    [TXN_STAGE_THAW] = HS_THAW};

	switch (s) {
	case TXN_STAGE_LEASE:
		e->lease_expired = true;
		return false;
	case TXN_STAGE_END:
		if (!e->ended)
			history_end(e->id, !e->lease_expired,
			    !e->lease_expired ? NULL
			        : strcmp(e->kind, "HOLD") == 0
			        ? "the lease expired before RELEASE"
			        : "the lease expired before THAW");
		return count_backup(e);
	default:
		history_stage(e->id, hs[s]);
		return false;
	}
}

/* The answer to the transaction's own requester is its outcome. */
static void
note_reply(struct hist_entry *e, const struct txn_action *a)
{
	if (a->aside || e->ended || a->local != e->local)
		return;
	/* an S_OK with a reason: hot_backup_veto = ok said yes to what
	 * was refused */
	if (!a->ok || a->text[0])
		history_end(e->id, false, a->text[0] ? a->text : NULL);
	else if (a->op != TXN_OP_FREEZE && a->op != TXN_OP_HOLD)
		history_end(e->id, true, NULL); /* a FREEZE's: not yet */
}

bool
history_note(const struct txn_event *ev, const struct txn_actions *acts)
{
	struct hist_entry *e;
	const struct txn_action *a;
	bool counted = false,
	     lost = ev->kind == TE_LOCAL_LOST || ev->kind == TE_HOST_LOST;
	size_t i;

	for (i = 0; i < acts->n; i++) {
		a = &acts->a[i];
		if (a->kind == TA_BEGIN)
			history_begin(a->id, a->local, txn_op_name(a->op));
		if ((e = history_find(a->id)) == NULL)
			continue;
		/* the transaction's own requester went away: it failed,
		 * whatever the thaw that follows does (the machine does
		 * nothing on a loss of the other requester) */
		if (lost && ev->kind == TE_LOCAL_LOST && e->local)
			history_end(e->id, false, "hv_vss_ctl went away");
		if (lost && ev->kind == TE_HOST_LOST && !e->local)
			history_end(e->id, false,
			    ev->ok ? "the kernel gave up waiting for the answer"
			           : "the device was lost");
		lost = false;
		if (a->kind == TA_STAGE)
			counted |= note_stage(e, a->stage);
		else if (a->kind == TA_REPLY)
			note_reply(e, a);
	}
	return counted;
}
