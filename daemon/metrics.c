/*
 * metrics.c: counters since start, written as a Prometheus textfile (see
 * metrics.h).  Written to a temporary file beside the target and renamed,
 * so the collector never reads half a file.  The caller writes only when
 * nothing of ours is frozen, but metrics_file may live on a filesystem
 * someone else froze: the write runs on a detached thread, never on the
 * loop, and a write asked for while one is still under way (or stuck)
 * waits its turn, the newest replacing any older one that waited.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics.h"

#define MAX_VETO_APPS 32
static const double buckets[] = {
    0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

static struct {
	uint64_t backups[2][2]; /* [local][ok] */
	struct {
		char name[65];
		uint64_t n;
	} vetoes[MAX_VETO_APPS];
	uint64_t vetoes_other;
	uint64_t lease_expiries;
	uint64_t guard_thaws;
	double last_frozen_s;
	uint64_t hist[NBUCKETS]; /* FREEZE latency, cumulative later */
	uint64_t hist_count;
	double hist_sum;
} m;

/* "app NAME (pid ...": the app to blame, if an app is. */
static void
count_veto(const char *culprit)
{
	char name[65];
	size_t i, n;

	if (culprit == NULL || strncmp(culprit, "app ", 4) != 0)
		return;
	for (n = 0; culprit[4 + n] != '\0' && culprit[4 + n] != ' ' &&
	     n < sizeof(name) - 1;
	     n++)
		name[n] = culprit[4 + n];
	name[n] = '\0';
	for (i = 0; i < MAX_VETO_APPS; i++) {
		if (m.vetoes[i].name[0] == '\0')
			snprintf(m.vetoes[i].name, sizeof(m.vetoes[i].name),
			    "%s", name);
		if (strcmp(m.vetoes[i].name, name) == 0) {
			m.vetoes[i].n++;
			return;
		}
	}
	m.vetoes_other++;
}

void
metrics_backup(bool backup, bool local, bool ok, const char *culprit,
    uint64_t freeze_us, uint64_t frozen_us, bool lease_expired)
{
	size_t i;
	double s = freeze_us / 1e6;

	if (!ok)
		count_veto(culprit);
	if (!backup)
		return;
	m.backups[local][ok]++;
	if (lease_expired)
		m.lease_expiries++;
	if (frozen_us > 0)
		m.last_frozen_s = frozen_us / 1e6;
	if (freeze_us > 0) {
		for (i = 0; i < NBUCKETS; i++)
			if (s <= buckets[i]) {
				m.hist[i]++;
				break;
			}
		m.hist_count++;
		m.hist_sum += s;
	}
}

void
metrics_guard_thaw(void)
{
	m.guard_thaws++;
}

/* The whole textfile, into f. */
static void
format(FILE *f)
{
	uint64_t cum = 0;
	size_t i;
	int r, l;

	fprintf(f,
	    "# HELP hvvss_backups_total Transactions that ended, by "
	    "requester and result.\n# TYPE hvvss_backups_total counter\n");
	for (l = 0; l < 2; l++)
		for (r = 0; r < 2; r++)
			fprintf(f,
			    "hvvss_backups_total{requester=\"%s\","
			    "result=\"%s\"} %llu\n",
			    l ? "local" : "host", r ? "ok" : "failed",
			    (unsigned long long)m.backups[l][r]);
	fprintf(f,
	    "# HELP hvvss_app_vetoes_total Failed transactions "
	    "blamed on an application.\n# TYPE hvvss_app_vetoes_total "
	    "counter\n");
	for (i = 0; i < MAX_VETO_APPS && m.vetoes[i].name[0]; i++)
		fprintf(f, "hvvss_app_vetoes_total{app=\"%s\"} %llu\n",
		    m.vetoes[i].name, (unsigned long long)m.vetoes[i].n);
	if (m.vetoes_other > 0)
		fprintf(f, "hvvss_app_vetoes_total{app=\"(other)\"} %llu\n",
		    (unsigned long long)m.vetoes_other);
	fprintf(f,
	    "# HELP hvvss_lease_expiries_total Frozen windows ended "
	    "by max_frozen.\n# TYPE hvvss_lease_expiries_total counter\n"
	    "hvvss_lease_expiries_total %llu\n",
	    (unsigned long long)m.lease_expiries);
	fprintf(f,
	    "# HELP hvvss_guard_thaws_total Thaws done by the thaw "
	    "guard.\n# TYPE hvvss_guard_thaws_total counter\n"
	    "hvvss_guard_thaws_total %llu\n",
	    (unsigned long long)m.guard_thaws);
	fprintf(f,
	    "# HELP hvvss_last_frozen_window_seconds How long the "
	    "last frozen window lasted.\n# TYPE "
	    "hvvss_last_frozen_window_seconds gauge\n"
	    "hvvss_last_frozen_window_seconds %.6f\n",
	    m.last_frozen_s);
	fprintf(f,
	    "# HELP hvvss_freeze_latency_seconds FREEZE request to "
	    "reply.\n# TYPE hvvss_freeze_latency_seconds histogram\n");
	for (i = 0; i < NBUCKETS; i++) {
		cum += m.hist[i];
		fprintf(f,
		    "hvvss_freeze_latency_seconds_bucket{le=\"%g\"} "
		    "%llu\n",
		    buckets[i], (unsigned long long)cum);
	}
	fprintf(f,
	    "hvvss_freeze_latency_seconds_bucket{le=\"+Inf\"} %llu\n"
	    "hvvss_freeze_latency_seconds_sum %.6f\n"
	    "hvvss_freeze_latency_seconds_count %llu\n",
	    (unsigned long long)m.hist_count, m.hist_sum,
	    (unsigned long long)m.hist_count);
}

struct job {
	char path[4096];
	char *text;
	size_t len;
};

/*
 * One writer at a time.  A write asked for while one is under way (slow,
 * or stuck on a frozen target) waits in `next`, replacing any older one
 * that waited: the counters only grow, so the newest text is the one to
 * keep, and the writer takes it when it is done.
 */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static bool writing;
static struct job *next;

static void
job_free(struct job *j)
{
	if (j != NULL) {
		free(j->text);
		free(j);
	}
}

/* One job: a temporary file beside the target, renamed over it. */
static void
write_one(struct job *j)
{
	char tmp[sizeof(j->path) + 8];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", j->path);
	(void)unlink(tmp); /* a leftover of a crash */
	fd = open(
	    tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd != -1) {
		if (write(fd, j->text, j->len) != (ssize_t)j->len ||
		    close(fd) != 0 || rename(tmp, j->path) != 0)
			(void)unlink(tmp);
	}
}

/* The writer thread: the file may sit on a filesystem someone froze. */
static void *
write_job(void *arg)
{
	struct job *j = arg;

	for (;;) {
		write_one(j);
		job_free(j);
		pthread_mutex_lock(&lock);
		if ((j = next) == NULL)
			writing = false;
		next = NULL;
		pthread_mutex_unlock(&lock);
		if (j == NULL)
			return NULL;
	}
}

char *
metrics_text(size_t *len)
{
	char *text = NULL;
	FILE *f;

	*len = 0;
	if ((f = open_memstream(&text, len)) == NULL)
		return NULL;
	format(f);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* Hand j to the writer, or to the one under way. */
static int
queue_job(struct job *j)
{
	pthread_attr_t attr;
	pthread_t tid;
	struct job *old;
	int rc;

	pthread_mutex_lock(&lock);
	if (writing) {
		/* the writer under way takes it when it is done */
		old = next;
		next = j;
		pthread_mutex_unlock(&lock);
		job_free(old);
		return 0;
	}
	writing = true;
	pthread_mutex_unlock(&lock);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&tid, &attr, write_job, j);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		job_free(j);
		pthread_mutex_lock(&lock);
		writing = false;
		pthread_mutex_unlock(&lock);
		return -rc;
	}
	return 0;
}

/* A job for path, its text to be filled in; NULL and *rc if none. */
static struct job *
new_job(const char *path, int *rc)
{
	struct job *j;

	if ((j = calloc(1, sizeof(*j))) == NULL) {
		*rc = -ENOMEM;
		return NULL;
	}
	if (snprintf(j->path, sizeof(j->path), "%s", path) >=
	    (int)sizeof(j->path)) {
		free(j);
		*rc = -ENAMETOOLONG;
		return NULL;
	}
	return j;
}

int
metrics_write(const char *path)
{
	struct job *j;
	int rc;

	if ((j = new_job(path, &rc)) == NULL)
		return rc;
	if ((j->text = metrics_text(&j->len)) == NULL) {
		job_free(j);
		return -ENOMEM;
	}
	return queue_job(j);
}

int
metrics_write_text(const char *path, const char *text, size_t len)
{
	struct job *j;
	int rc;

	if ((j = new_job(path, &rc)) == NULL)
		return rc;
	if ((j->text = malloc(len > 0 ? len : 1)) == NULL) {
		job_free(j);
		return -ENOMEM;
	}
	memcpy(j->text, text, len);
	j->len = len;
	return queue_job(j);
}
