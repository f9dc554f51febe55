/*
 * report.c: what hv_vss_sim saw, and its JSON report.
 *
 * Every host request is recorded with its HRESULT and its latency (from
 * the packet entering the channel to its reply leaving it); the guest
 * kernel's notable moments (a timeout, a late reply, a second open, a
 * fake hibernation THAW) are events.  A backup's verdict is "ok" when
 * every HOT_BACKUP, FREEZE and THAW in it was answered S_OK, every reply
 * was well formed and the frozen-window command exited 0.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

struct req_rec {
	uint8_t op;
	uint8_t txid;
	size_t len;
	uint32_t hresult;
	uint32_t flags;
	uint64_t latency_us;
	bool answered;
};

struct backup_rec {
	unsigned int n;
	struct req_rec *reqs;
	size_t nreqs;
	bool has_exec;
	int exec_status;
	uint64_t exec_us;
	bool failed;
	char why[256];
};

struct event_rec {
	uint64_t t_us;
	unsigned int backup;
	char kind[32];
	char text[160];
};

struct report {
	uint64_t start_us;
	int nego_ok; /* 1 ok, 0 refused, -1 no/bad reply */
	struct ic_version fw, msgver;
	uint32_t nego_status;
	bool nego_done;
	struct backup_rec *backups;
	size_t nbackups;
	struct event_rec *events;
	size_t nevents;
	pid_t guest_pid;
	int setup_status; /* -1: no setup command */
	int guest_status; /* -1 still running */
};

static void *
grow(void *p, size_t n, size_t size)
{
	/* arrays grow one element at a time; they stay small */
	if ((p = realloc(p, (n + 1) * size)) == NULL)
		abort();
	memset((char *)p + n * size, 0, size);
	return p;
}

static struct backup_rec *
current(struct report *r)
{
	return r->nbackups > 0 ? &r->backups[r->nbackups - 1] : NULL;
}

struct report *
report_new(void)
{
	struct report *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->start_us = mono_us();
	r->guest_status = -1;
	r->setup_status = -1;
	r->nego_ok = -1;
	return r;
}

void
report_free(struct report *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nbackups; i++)
		free(r->backups[i].reqs);
	free(r->backups);
	free(r->events);
	free(r);
}

void
report_event(struct report *r, const char *kind, const char *fmt, ...)
{
	struct event_rec *e;
	va_list ap;

	r->events = grow(r->events, r->nevents, sizeof(*r->events));
	e = &r->events[r->nevents++];
	e->t_us = mono_us() - r->start_us;
	e->backup = r->nbackups;
	snprintf(e->kind, sizeof(e->kind), "%s", kind);
	va_start(ap, fmt);
	vsnprintf(e->text, sizeof(e->text), fmt, ap);
	va_end(ap);
	if (getenv("HVVSS_SIM_TRACE") != NULL)
		fprintf(stderr, "hv_vss_sim: %s: %s\n", e->kind, e->text);
}

void
report_negotiation(struct report *r, int ok, struct ic_version fw,
    struct ic_version msgver, uint32_t status)
{
	r->nego_done = true;
	r->nego_ok = ok;
	r->fw = fw;
	r->msgver = msgver;
	r->nego_status = status;
}

void
report_backup_begin(struct report *r, unsigned int n)
{
	r->backups = grow(r->backups, r->nbackups, sizeof(*r->backups));
	r->backups[r->nbackups++].n = n;
}

static void
fail(struct backup_rec *b, const char *fmt, ...)
{
	va_list ap;
	size_t used = strlen(b->why);

	b->failed = true;
	if (used + 3 >= sizeof(b->why))
		return;
	if (used > 0) {
		strcat(b->why, "; ");
		used += 2;
	}
	va_start(ap, fmt);
	vsnprintf(b->why + used, sizeof(b->why) - used, fmt, ap);
	va_end(ap);
}

void
report_request(struct report *r, uint8_t op, uint8_t txid, size_t len,
    uint32_t hresult, uint32_t flags, uint64_t latency_us, bool answered)
{
	struct backup_rec *b = current(r);
	struct req_rec *q;

	if (b == NULL)
		return;
	b->reqs = grow(b->reqs, b->nreqs, sizeof(*b->reqs));
	q = &b->reqs[b->nreqs++];
	q->op = op;
	q->txid = txid;
	q->len = len;
	q->hresult = hresult;
	q->flags = flags;
	q->latency_us = latency_us;
	q->answered = answered;
	if (!answered)
		fail(b, "%s unanswered", hv_op_name(op));
	else if (hv_op_reaches_daemon(op) && hresult != HV_S_OK)
		fail(b, "%s answered 0x%08x", hv_op_name(op), hresult);
}

void
report_exec(struct report *r, const char *cmd, int status, uint64_t us)
{
	struct backup_rec *b = current(r);

	if (b == NULL)
		return;
	b->has_exec = true;
	b->exec_status = status;
	b->exec_us = us;
	if (status != 0)
		fail(b, "frozen-window command exited %d", status);
}

void
report_backup_end(struct report *r)
{
}

void
report_setup(struct report *r, int status)
{
	r->setup_status = status;
	if (status != 0)
		report_event(
		    r, "setup_failed", "the set-up command exited %d", status);
}

void
report_guest(struct report *r, pid_t pid, int status)
{
	r->guest_pid = pid;
	r->guest_status = status;
}

bool
report_ok(const struct report *r)
{
	size_t i;

	if (r->nego_ok != 1 || r->setup_status > 0)
		return false;
	for (i = 0; i < r->nbackups; i++)
		if (r->backups[i].failed)
			return false;
	return true;
}

static void
json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* nearest-rank percentile of a sorted array */
static uint64_t
pct(const uint64_t *v, size_t n, double p)
{
	size_t rank = (size_t)ceil(p / 100.0 * n);

	return v[rank == 0 ? 0 : rank - 1];
}

static void
write_stats(FILE *f, struct report *r)
{
	static const uint8_t ops[] = {
	    HV_OP_HOT_BACKUP, HV_OP_FREEZE, HV_OP_THAW};
	uint64_t *v;
	size_t i, j, k, n, cap = 0;
	bool first = true;

	for (i = 0; i < r->nbackups; i++)
		cap += r->backups[i].nreqs;
	if ((v = calloc(cap + 1, sizeof(*v))) == NULL)
		abort();
	fprintf(f, "{");
	for (k = 0; k < sizeof(ops); k++) {
		for (n = 0, i = 0; i < r->nbackups; i++)
			for (j = 0; j < r->backups[i].nreqs; j++) {
				const struct req_rec *q =
				    &r->backups[i].reqs[j];

				if (q->op == ops[k] && q->answered)
					v[n++] = q->latency_us;
			}
		if (n == 0)
			continue;
		qsort(v, n, sizeof(*v), cmp_u64);
		fprintf(f,
		    "%s\"%s\": {\"n\": %zu, \"median\": %llu, "
		    "\"p90\": %llu, \"p99\": %llu, \"max\": %llu}",
		    first ? "" : ", ", hv_op_name(ops[k]), n,
		    (unsigned long long)pct(v, n, 50),
		    (unsigned long long)pct(v, n, 90),
		    (unsigned long long)pct(v, n, 99),
		    (unsigned long long)v[n - 1]);
		first = false;
	}
	fprintf(f, "}");
	free(v);
}

static void
write_backup(FILE *f, const struct backup_rec *b)
{
	const char *name;
	size_t j;

	fprintf(f, "    {\"n\": %u, \"verdict\": \"%s\", \"why\": ", b->n,
	    b->failed ? "failed" : "ok");
	json_str(f, b->why);
	fprintf(f, ",\n     \"requests\": [");
	for (j = 0; j < b->nreqs; j++) {
		const struct req_rec *q = &b->reqs[j];

		fprintf(f,
		    "%s\n      {\"op\": \"%s\", \"code\": %u, "
		    "\"txid\": %u, ",
		    j ? "," : "", hv_op_name(q->op), q->op, q->txid);
		if (q->answered) {
			name = hv_hresult_name(q->hresult);
			fprintf(f,
			    "\"answered\": true, \"length\": %zu, "
			    "\"hresult\": \"0x%08x\", \"result\": \"%s\", "
			    "\"flags\": %u, ",
			    q->len, q->hresult, name ? name : "other",
			    q->flags);
		} else
			fprintf(f, "\"answered\": false, ");
		fprintf(f, "\"latency_us\": %llu}",
		    (unsigned long long)q->latency_us);
	}
	fprintf(f, "]");
	if (b->has_exec)
		fprintf(f,
		    ",\n     \"exec\": {\"status\": %d, "
		    "\"duration_us\": %llu}",
		    b->exec_status, (unsigned long long)b->exec_us);
	fprintf(f, "}");
}

/* Write the report to path ("-" or NULL: stdout).  -errno on failure. */
int
report_write(struct report *r, const char *path)
{
	FILE *f = stdout;
	size_t i, ok = 0;

	if (path != NULL && strcmp(path, "-") != 0 &&
	    (f = fopen(path, "w")) == NULL)
		return -errno;
	fprintf(f, "{\n  \"program\": \"hv_vss_sim\",\n  \"negotiation\": ");
	if (r->nego_ok == 1)
		fprintf(f,
		    "{\"ok\": true, \"framework\": \"%u.%u\", "
		    "\"vss\": \"%u.%u\", \"status\": \"0x%08x\"}",
		    r->fw.major, r->fw.minor, r->msgver.major, r->msgver.minor,
		    r->nego_status);
	else
		fprintf(f,
		    "{\"ok\": false, \"answered\": %s, "
		    "\"status\": \"0x%08x\"}",
		    r->nego_ok == 0 ? "true" : "false", r->nego_status);
	fprintf(
	    f, ",\n  \"guest\": {\"pid\": %d, \"exit\": ", (int)r->guest_pid);
	if (r->guest_status < 0)
		fprintf(f, "null}");
	else
		fprintf(f, "%d}", r->guest_status);
	fprintf(f, ",\n  \"setup\": ");
	if (r->setup_status < 0)
		fprintf(f, "null");
	else
		fprintf(f, "{\"status\": %d}", r->setup_status);
	fprintf(f, ",\n  \"backups\": [\n");
	for (i = 0; i < r->nbackups; i++) {
		write_backup(f, &r->backups[i]);
		fprintf(f, "%s\n", i + 1 < r->nbackups ? "," : "");
		ok += !r->backups[i].failed;
	}
	fprintf(f, "  ],\n  \"events\": [");
	for (i = 0; i < r->nevents; i++) {
		fprintf(f,
		    "%s\n    {\"t_us\": %llu, \"backup\": %u, "
		    "\"kind\": ",
		    i ? "," : "", (unsigned long long)r->events[i].t_us,
		    r->events[i].backup);
		json_str(f, r->events[i].kind);
		fprintf(f, ", \"text\": ");
		json_str(f, r->events[i].text);
		fprintf(f, "}");
	}
	fprintf(f,
	    "],\n  \"summary\": {\"backups\": %zu, \"ok\": %zu, "
	    "\"failed\": %zu, \"latency_us\": ",
	    r->nbackups, ok, r->nbackups - ok);
	write_stats(f, r);
	fprintf(f, "},\n  \"verdict\": \"%s\"\n}\n",
	    report_ok(r) ? "ok" : "failed");
	if (f != stdout)
		return fclose(f) == 0 ? 0 : -errno;
	return fflush(f) == 0 ? 0 : -errno;
}
