/*
 * status.c: formats status, plan and history (see status.h).  Text is
 * for a terminal; JSON, for scripts and monitoring, is built by hand with
 * every string escaped, since the values (mount points, app names, veto
 * reasons) come from the outside.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <event2/buffer.h>

#include "apps.h"
#include "history.h"
#include "hooks.h"
#include "log.h"
#include "os/devstack.h"
#include "plan.h"
#include "status.h"

/*
 * Length of the valid UTF-8 sequence at s (RFC 3629: no overlong forms,
 * no surrogates, nothing above U+10FFFF), or 0 if s does not start one.
 */
static size_t
utf8_len(const unsigned char *s)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/*
 * Valid UTF-8 passes through as it is, so that a mount point named in
 * UTF-8 reads the same in JSON as on the terminal.  Control characters,
 * DEL, '"' and '\' are escaped.  A JSON string holds characters, not
 * bytes: each byte that does not start a valid UTF-8 sequence becomes
 * U+FFFD ("\ufffd"), as hv_vss_ctl(8) documents.
 */
void
status_json_str(struct evbuffer *b, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n;

	evbuffer_add(b, "\"", 1);
	while (u != NULL && *u != '\0') {
		if (*u == '"' || *u == '\\') {
			evbuffer_add_printf(b, "\\%c", *u);
			u++;
		} else if (*u < 0x20 || *u == 0x7f) {
			evbuffer_add_printf(b, "\\u%04x", *u);
			u++;
		} else if (*u < 0x7f) {
			evbuffer_add(b, u, 1);
			u++;
		} else if ((n = utf8_len(u)) > 0) {
			evbuffer_add(b, u, n);
			u += n;
		} else {
			evbuffer_add(b, "\\ufffd", 6);
			u++;
		}
	}
	evbuffer_add(b, "\"", 1);
}

static void
clock_str(const struct timespec *ts, char *buf, size_t len)
{
	struct tm tm;

	localtime_r(&ts->tv_sec, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
}

struct app_rows {
	struct evbuffer *b;
	bool json;
	bool first;
	int tier; /* -1: all */
};

static void
app_row(const struct apps_info *a, void *arg)
{
	struct app_rows *r = arg;

	if (r->tier >= 0 && (int)a->tier != r->tier)
		return;
	if (!r->json) {
		evbuffer_add_printf(r->b, "  %-4u %-24s %7d %6u %6llu\n",
		    a->tier, a->name, (int)a->pid, (unsigned)a->uid,
		    (unsigned long long)a->id);
		return;
	}
	evbuffer_add_printf(r->b,
	    "%s{\"id\": %llu, \"name\": ", r->first ? "" : ", ",
	    (unsigned long long)a->id);
	status_json_str(r->b, a->name);
	evbuffer_add_printf(r->b,
	    ", \"tier\": %u, \"pid\": %d, \"uid\": %u, "
	    "\"needs_ms\": %u}",
	    a->tier, (int)a->pid, (unsigned)a->uid, a->need_ms);
	r->first = false;
}

/* A registered app gone (closed or dropped): status must show it. */
static void
gone_row(const struct apps_gone *g, void *arg)
{
	struct app_rows *r = arg;
	char when[32];

	clock_str(&g->when, when, sizeof(when));
	if (!r->json) {
		evbuffer_add_printf(r->b, "  %-19s %-24s %7d %6u %6llu  %s\n",
		    when, g->name, (int)g->pid, (unsigned)g->uid,
		    (unsigned long long)g->id, g->why);
		return;
	}
	evbuffer_add_printf(r->b,
	    "%s{\"id\": %llu, \"name\": ", r->first ? "" : ", ",
	    (unsigned long long)g->id);
	status_json_str(r->b, g->name);
	evbuffer_add_printf(r->b,
	    ", \"pid\": %d, \"uid\": %u, \"txid\": %llu, \"when\": ",
	    (int)g->pid, (unsigned)g->uid, (unsigned long long)g->txid);
	status_json_str(r->b, when);
	evbuffer_add_printf(r->b, ", \"why\": ");
	status_json_str(r->b, g->why);
	evbuffer_add_printf(r->b, "}");
	r->first = false;
}

static void
count_gone(const struct apps_gone *g, void *arg)
{
	(*(unsigned int *)arg)++;
}

int
status_write(const struct daemon_view *v, bool json, struct evbuffer *b)
{
	unsigned int ngone = 0;
	struct app_rows rows = {b, json, true, -1};
	char since[32] = "";

	if (v->frozen)
		clock_str(&v->frozen_since, since, sizeof(since));
	if (json) {
		evbuffer_add_printf(
		    b, "{\"version\": \"%s\", \"state\": ", HVVSS_VERSION);
		status_json_str(b, v->state);
		evbuffer_add_printf(b,
		    ", \"txid\": %llu, \"requester\": "
		    "\"%s\", \"frozen\": %s, \"frozen_since\": ",
		    (unsigned long long)v->txid, v->local ? "local" : "host",
		    v->frozen ? "true" : "false");
		if (v->frozen)
			status_json_str(b, since);
		else
			evbuffer_add_printf(b, "null");
		evbuffer_add_printf(b, ", \"lease_left_ms\": ");
		if (v->lease_left_ms >= 0)
			evbuffer_add_printf(b, "%lld", v->lease_left_ms);
		else
			evbuffer_add_printf(b, "null");
		evbuffer_add_printf(b, ", \"hold\": %s",
		    v->hold_json[0] ? v->hold_json : "null");
		evbuffer_add_printf(b, ", \"frozen_filesystems\": ");
		status_json_str(b, v->frozen_paths);
		evbuffer_add_printf(b, ", \"device\": {\"path\": ");
		status_json_str(b, v->device);
		evbuffer_add_printf(b,
		    ", \"connected\": %s}, \"guard\": "
		    "{\"alive\": %s, \"pid\": %d}, \"apps\": [",
		    v->connected ? "true" : "false",
		    v->guard_alive ? "true" : "false", (int)v->guard_pid);
		apps_foreach(v->apps, app_row, &rows);
		evbuffer_add_printf(b, "], \"apps_gone\": [");
		rows.first = true;
		apps_foreach_gone(v->apps, gone_row, &rows);
		evbuffer_add_printf(b, "]}\n");
		return 0;
	}
	evbuffer_add_printf(b, "hv_vss_daemon %s\n", HVVSS_VERSION);
	evbuffer_add_printf(b, "state:   %s", v->state);
	if (v->txid > 0)
		evbuffer_add_printf(b, " (last transaction %llu, %s)",
		    (unsigned long long)v->txid, v->local ? "local" : "host");
	evbuffer_add_printf(b, "\n");
	if (v->frozen) {
		evbuffer_add_printf(
		    b, "frozen:  since %s: %s\n", since, v->frozen_paths);
		if (v->lease_left_ms >= 0)
			evbuffer_add_printf(b, "lease:   %lld.%01lld s left\n",
			    v->lease_left_ms / 1000,
			    (v->lease_left_ms % 1000) / 100);
	}
	if (v->hold_text[0])
		evbuffer_add_printf(b, "hold:    %s\n", v->hold_text);
	evbuffer_add_printf(b, "device:  %s, %s\n", v->device,
	    v->connected ? "connected" : "not connected");
	if (v->guard_pid > 0)
		evbuffer_add_printf(b, "guard:   %s (pid %d)\n",
		    v->guard_alive ? "alive" : "dead", (int)v->guard_pid);
	else
		evbuffer_add_printf(b, "guard:   not running\n");
	evbuffer_add_printf(
	    b, "apps:    %zu registered\n", apps_count(v->apps));
	if (apps_count(v->apps) > 0) {
		evbuffer_add_printf(b, "  %-4s %-24s %7s %6s %6s\n", "tier",
		    "name", "pid", "uid", "id");
		apps_foreach(v->apps, app_row, &rows);
	}
	apps_foreach_gone(v->apps, count_gone, &ngone);
	if (ngone > 0) {
		evbuffer_add_printf(b, "gone:    %u app%s (latest first)\n",
		    ngone, ngone == 1 ? "" : "s");
		evbuffer_add_printf(b, "  %-19s %-24s %7s %6s %6s  %s\n",
		    "when", "name", "pid", "uid", "id", "why");
		apps_foreach_gone(v->apps, gone_row, &rows);
	}
	return 0;
}

void
plan_log(const struct plan *p)
{
	size_t i;

	for (i = 0; i < p->ntargets; i++)
		log_debug("plan: freeze %s (%s, level %d)%s%s",
		    p->targets[i].mountpoint, p->targets[i].fstype,
		    p->targets[i].level,
		    p->targets[i].order_reason[0] ? ": " : "",
		    p->targets[i].order_reason);
	for (i = 0; i < p->nskips; i++)
		log_debug("plan: skip %s (%s): %s", p->skips[i].mountpoint,
		    p->skips[i].fstype, p->skips[i].reason);
}

int
plan_hooks_read(const char *dir, struct plan_hooks *ph)
{
	memset(ph, 0, sizeof(*ph));
	return hooks_preview(dir, &ph->names, ph->why, sizeof(ph->why));
}

void
plan_hooks_clear(struct plan_hooks *ph)
{
	size_t i;

	for (i = 0; ph->names != NULL && ph->names[i] != NULL; i++)
		free(ph->names[i]);
	free(ph->names);
	memset(ph, 0, sizeof(*ph));
}

/*
 * The hooks, in their order, as a list or as JSON (the "hooks" array,
 * then "hooks_more" and "freeze_fails"); and what would fail every
 * FREEZE on them.
 */
static void
list_hooks(
    const char *dir, const struct plan_hooks *ph, struct evbuffer *b, bool json)
{
	char *const none[] = {NULL};
	char *const *hooks = ph->names != NULL ? ph->names : none;
	size_t i;

	if (json)
		evbuffer_add_printf(b, "[");
	for (i = 0; hooks[i] != NULL; i++) {
		if (json) {
			evbuffer_add_printf(b, "%s", i ? ", " : "");
			status_json_str(b, hooks[i]);
		} else
			evbuffer_add_printf(b, "  %s/%s\n", dir, hooks[i]);
	}
	if (json) {
		evbuffer_add_printf(
		    b, "], \"hooks_more\": %zu, \"freeze_fails\": ", ph->more);
		if (ph->why[0] != '\0')
			status_json_str(b, ph->why);
		else
			evbuffer_add_printf(b, "null");
		return;
	}
	if (ph->more > 0)
		evbuffer_add_printf(b, "  ... and %zu more\n", ph->more);
	else if (i == 0 && ph->why[0] == '\0')
		evbuffer_add_printf(b, "  (none in %s)\n", dir);
	if (ph->why[0] != '\0')
		evbuffer_add_printf(b, "  every FREEZE fails: %s\n", ph->why);
}

int
plan_write(const struct conf *c, const struct apps *apps, bool json,
    struct evbuffer *b)
{
	struct plan p;
	struct plan_hooks ph;
	char err[256];

	if (plan_build(&p, c, NULL, devstack_system_root, true, err,
	        sizeof(err)) != 0) {
		evbuffer_add_printf(b, "cannot plan: %s\n", err);
		return -1;
	}
	if (plan_hooks_read(c->hooks_dir, &ph) != 0) {
		plan_hooks_clear(&ph);
		plan_free(&p);
		evbuffer_add_printf(b, "cannot plan: out of memory\n");
		return -1;
	}
	plan_render(&p, c, apps, &ph, json, b);
	plan_hooks_clear(&ph);
	plan_free(&p);
	return 0;
}

void
plan_render(const struct plan *pl, const struct conf *c,
    const struct apps *apps, const struct plan_hooks *hooks, bool json,
    struct evbuffer *b)
{
	struct app_rows rows = {b, json, true, -1};
	const struct plan p = *pl;
	size_t i;

	if (json) {
		evbuffer_add_printf(b, "{\"filesystems\": [");
		for (i = 0; i < p.ntargets; i++) {
			const struct plan_target *t = &p.targets[i];

			evbuffer_add_printf(
			    b, "%s{\"mountpoint\": ", i ? ", " : "");
			status_json_str(b, t->mountpoint);
			evbuffer_add_printf(b, ", \"fstype\": ");
			status_json_str(b, t->fstype);
			evbuffer_add_printf(b, ", \"source\": ");
			status_json_str(b, t->source);
			evbuffer_add_printf(
			    b, ", \"level\": %d, \"after\": ", t->level);
			status_json_str(b, t->order_reason);
			evbuffer_add_printf(b, "}");
		}
		evbuffer_add_printf(b, "], \"skipped\": [");
		for (i = 0; i < p.nskips; i++) {
			evbuffer_add_printf(
			    b, "%s{\"mountpoint\": ", i ? ", " : "");
			status_json_str(b, p.skips[i].mountpoint);
			evbuffer_add_printf(b, ", \"fstype\": ");
			status_json_str(b, p.skips[i].fstype);
			evbuffer_add_printf(b, ", \"reason\": ");
			status_json_str(b, p.skips[i].reason);
			evbuffer_add_printf(b, "}");
		}
		evbuffer_add_printf(b, "], \"apps\": [");
		apps_foreach(apps, app_row, &rows);
		evbuffer_add_printf(b, "], \"hooks\": ");
		list_hooks(c->hooks_dir, hooks, b, true);
		/* hot_backup_veto = ok: S_OK, and the FREEZE fails on it */
		evbuffer_add_printf(b,
		    ", \"hot_backup\": {\"answer\": \"%s\", "
		    "\"vetoed\": %s, \"why\": ",
		    p.veto && !c->hot_backup_veto_ok ? "E_FAIL" : "S_OK",
		    p.veto ? "true" : "false");
		status_json_str(b,
		    p.veto ? p.veto_reason
		        : p.ntargets == 0
		        ? "nothing to freeze: crash-consistent only"
		        : "the plan is acceptable; applications are asked at HOT_BACKUP");
		evbuffer_add_printf(b, "}}\n");
		return;
	}
	evbuffer_add_printf(b,
	    "freeze, in this order (a level at a time, in parallel within a level):\n");
	for (i = 0; i < p.ntargets; i++) {
		const struct plan_target *t = &p.targets[i];

		evbuffer_add_printf(b, "  %d  %-24s %-6s %s%s%s\n", t->level,
		    t->mountpoint, t->fstype, t->source,
		    t->order_reason[0] ? "  " : "", t->order_reason);
	}
	if (p.ntargets == 0)
		evbuffer_add_printf(b, "  (nothing)\n");
	evbuffer_add_printf(b, "thaw: the exact reverse.\nskipped:\n");
	for (i = 0; i < p.nskips; i++)
		evbuffer_add_printf(b, "  %-24s %-10s %s\n",
		    p.skips[i].mountpoint, p.skips[i].fstype,
		    p.skips[i].reason);
	evbuffer_add_printf(b,
	    "applications, by tier (FREEZE from tier 0, THAW from tier 9):\n");
	if (apps_count(apps) == 0)
		evbuffer_add_printf(b, "  (none registered)\n");
	for (rows.tier = 0; rows.tier <= 9; rows.tier++)
		apps_foreach(apps, app_row, &rows);
	evbuffer_add_printf(b, "hooks:\n");
	list_hooks(c->hooks_dir, hooks, b, false);
	if (p.veto && c->hot_backup_veto_ok)
		evbuffer_add_printf(b,
		    "HOT_BACKUP now: S_OK (hot_backup_veto = ok), then "
		    "FREEZE E_FAIL: %s\n",
		    p.veto_reason);
	else if (p.veto)
		evbuffer_add_printf(
		    b, "HOT_BACKUP now: E_FAIL: %s\n", p.veto_reason);
	else
		evbuffer_add_printf(b, "HOT_BACKUP now: S_OK%s\n",
		    p.ntargets == 0
		        ? " (but nothing to freeze: crash-consistent only)"
		        : ", if every application answers READY");
}

static void
us_text(char *buf, size_t len, const struct hist_entry *e, enum hist_stage s)
{
	if (!e->done[s])
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.1f", e->stage_us[s] / 1000.0);
}

int
history_write(unsigned int n, bool json, struct evbuffer *b)
{
	const struct hist_entry *e;
	char when[32], st[HS_NSTAGES][24];
	unsigned int i;
	int s;

	if (json)
		evbuffer_add_printf(b, "[");
	else
		evbuffer_add_printf(b,
		    "%-5s %-19s %-5s %-10s %8s %8s %8s %8s "
		    "%8s  %s\n",
		    "txn", "start", "by", "kind", "check", "apps", "fs",
		    "frozen", "thaw", "verdict");
	for (i = 0; i < n && (e = history_get(i)) != NULL; i++) {
		clock_str(&e->start, when, sizeof(when));
		for (s = 0; s < HS_NSTAGES; s++)
			us_text(st[s], sizeof(st[s]), e, (enum hist_stage)s);
		if (!json) {
			evbuffer_add_printf(b,
			    "%-5llu %-19s %-5s %-10s %8s %8s "
			    "%8s %8s %8s  %s%s%s%s%s%s%s\n",
			    (unsigned long long)e->id, when,
			    e->local ? "local" : "host", e->kind, st[HS_CHECK],
			    st[HS_APPS], st[HS_FS], st[HS_FROZEN], st[HS_THAW],
			    !e->ended   ? "running"
			        : e->ok ? "ok"
			                : "failed",
			    e->lease_expired ? " (lease expired)" : "",
			    e->culprit[0] ? ": " : "", e->culprit,
			    e->gone[0] ? " [without apps gone before it: " : "",
			    e->gone, e->gone[0] ? "]" : "");
			if (e->who[0])
				evbuffer_add_printf(b, "      by %s\n", e->who);
			continue;
		}
		evbuffer_add_printf(b,
		    "%s{\"txid\": %llu, \"start\": \"%s\", "
		    "\"requester\": \"%s\", \"kind\": \"%s\", \"stages_ms\": {",
		    i ? ", " : "", (unsigned long long)e->id, when,
		    e->local ? "local" : "host", e->kind);
		for (s = 0; s < HS_NSTAGES; s++)
			evbuffer_add_printf(b, "%s\"%s\": %s", s ? ", " : "",
			    history_stage_name((enum hist_stage)s),
			    e->done[s] ? st[s] : "null");
		evbuffer_add_printf(b,
		    "}, \"verdict\": \"%s\", "
		    "\"lease_expired\": %s, \"culprit\": ",
		    !e->ended   ? "running"
		        : e->ok ? "ok"
		                : "failed",
		    e->lease_expired ? "true" : "false");
		status_json_str(b, e->culprit);
		evbuffer_add_printf(b, ", \"apps_gone\": ");
		status_json_str(b, e->gone);
		evbuffer_add_printf(b, ", \"holder\": ");
		if (e->who[0])
			status_json_str(b, e->who);
		else
			evbuffer_add_printf(b, "null");
		evbuffer_add_printf(b, "}");
	}
	if (json)
		evbuffer_add_printf(b, "]\n");
	return 0;
}
