/*
 * history.c: a ring of the last CTL_HISTORY_MAX transactions (see
 * history.h).  Memory only: it is written while filesystems are frozen.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "history.h"
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

struct hist_entry *
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

struct hist_entry *
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

void
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
history_lease(uint64_t id)
{
	struct hist_entry *e = history_find(id);

	if (e != NULL)
		e->lease_expired = true;
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
