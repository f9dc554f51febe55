/*
 * freeze.c: the freezer (see freeze.h).
 *
 * One worker thread per job; within a freeze job, one short-lived thread
 * per target of a level, since independent filesystems freeze in
 * parallel.  The worker only makes system calls and writes into its own
 * job; it never logs (the loop logs the result, through the log ring
 * while anything is frozen).
 *
 * Hazards:
 * - Order.  A filesystem on a loop device must freeze before the one
 *   holding its image: freezing the outer first leaves the inner's
 *   FIFREEZE asleep forever, trying to write its journal into a frozen
 *   file.  plan.c orders levels; here a level starts only once the
 *   previous one is entirely frozen.  Thaw is the exact reverse of the
 *   order in which freezes completed.
 * - EBUSY from FIFREEZE means the superblock is frozen already.  plan.c
 *   gives each superblock one target, so someone else froze it (an admin
 *   with fsfreeze, another tool).  It is frozen, so the snapshot is
 *   consistent; but the freeze is not ours, so we do not thaw it.
 * - EINVAL from FITHAW means it is not frozen (any more): someone thawed
 *   it under us (an admin, or the thaw guard).  That is the state we
 *   want; it is reported, not failed.
 * - The directory fd of each target is opened before anything freezes,
 *   and kept until thawed: thawing needs no path lookup on a frozen
 *   filesystem, and survives a mount point being covered meanwhile.
 */
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "freeze.h"

#define MAX_PARALLEL 32

struct target {
	char *path;
	int fd;
	int level;
	int err; /* errno of its FIFREEZE, 0 */
	bool frozen; /* frozen by us */
	bool foreign; /* frozen by someone else (EBUSY) */
	dev_t dev; /* the plan's, for the record */
	int slot; /* what prepare() returned, -1 before */
};

struct freezer {
	struct event_base *base;
	freeze_done_fn done;
	struct freezer_hooks hooks;
	bool prepared; /* prepare() ran: released() is owed */
	void *arg;
	int pipefd[2];
	struct event *ev;

	pthread_mutex_t mu;
	bool busy;
	bool cancel;
	bool undoing; /* a thaw job undoing a cancelled freeze */
	pthread_t worker;

	struct target *targets;
	size_t ntargets;
	size_t *order; /* indexes, in freeze completion order */
	size_t nfrozen;
	bool presync;
	struct freeze_result result;
};

static uint64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Nothing of ours is frozen: let the guard and the record go. */
static void
release(struct freezer *f)
{
	if (f->prepared && f->hooks.released != NULL)
		f->hooks.released(f->hooks.arg);
	f->prepared = false;
}

static void
drop_targets(struct freezer *f)
{
	size_t i;

	for (i = 0; i < f->ntargets; i++) {
		if (f->targets[i].fd >= 0)
			close(f->targets[i].fd);
		free(f->targets[i].path);
	}
	free(f->targets);
	free(f->order);
	f->targets = NULL;
	f->order = NULL;
	f->ntargets = f->nfrozen = 0;
}

static void
append(char *buf, size_t len, const char *word)
{
	size_t n = strlen(buf);

	snprintf(buf + n, len - n, "%s%s", n ? " " : "", word);
}

/* Thaw in exact reverse order; returns the first failure's errno. */
static int
thaw_all(struct freezer *f, char *reason, size_t len)
{
	int first = 0;
	size_t k;
	struct target *t;

	size_t left = 0;

	f->result.order[0] = '\0';
	f->result.nstale = 0;
	for (k = f->nfrozen; k-- > 0;) {
		t = &f->targets[f->order[k]];
		append(f->result.order, sizeof(f->result.order), t->path);
		if (ioctl(t->fd, FITHAW, 0) == -1) {
			if (errno == EINVAL) {
				/* thawed under us: by the guard, or an admin;
				 * the caller must not call the snapshot good */
				f->result.nstale++;
				t->frozen = false;
				continue;
			}
			if (first == 0) {
				first = errno;
				snprintf(reason, len, "FITHAW %s: %s", t->path,
				    strerror(errno));
			}
			continue; /* keep thawing the others */
		}
		t->frozen = false;
	}
	/*
	 * What failed to thaw stays ours, in freeze order: the guard and the
	 * record keep it, and the next thaw tries again.  Forgetting it
	 * would leave it frozen with nobody knowing.
	 */
	for (k = 0; k < f->nfrozen; k++)
		if (f->targets[f->order[k]].frozen)
			f->order[left++] = f->order[k];
	f->nfrozen = left;
	return first;
}

struct level_job {
	struct freezer *f;
	struct target *t;
	size_t index;
	bool sync_only;
};

static void *
level_worker(void *arg)
{
	struct level_job *j = arg;
	struct freezer *f = j->f;

	if (j->sync_only) {
		(void)syncfs(j->t->fd);
		return NULL;
	}
	if (ioctl(j->t->fd, FIFREEZE, 0) == 0) {
		pthread_mutex_lock(&f->mu);
		j->t->frozen = true;
		f->order[f->nfrozen++] = j->index;
		pthread_mutex_unlock(&f->mu);
	} else if (errno == EBUSY)
		j->t->foreign = true; /* see the top of this file */
	else
		j->t->err = errno;
	return NULL;
}

/* Run sync or freeze on every target of one level, in parallel. */
static void
run_level(struct freezer *f, int level, bool sync_only)
{
	struct level_job jobs[MAX_PARALLEL];
	pthread_t tids[MAX_PARALLEL];
	bool started[MAX_PARALLEL];
	size_t i, n = 0, k;

	for (i = 0; i <= f->ntargets; i++) {
		if (i < f->ntargets && f->targets[i].level == level) {
			jobs[n] =
			    (struct level_job){f, &f->targets[i], i, sync_only};
			n++;
		}
		if (n == MAX_PARALLEL || (i == f->ntargets && n > 0)) {
			for (k = 0; k < n; k++)
				started[k] = pthread_create(&tids[k], NULL,
				                 level_worker, &jobs[k]) == 0;
			for (k = 0; k < n; k++) {
				if (started[k])
					pthread_join(tids[k], NULL);
				else
					level_worker(&jobs[k]);
			}
			n = 0;
		}
	}
}

static void
finish(struct freezer *f)
{
	char c = 0;

	/* wakes the loop; a pipe write of one byte cannot block here */
	while (write(f->pipefd[1], &c, 1) == -1 && errno == EINTR)
		;
}

static void *
freeze_worker(void *arg)
{
	struct freezer *f = arg;
	struct freeze_result *r = &f->result;
	int level, maxlevel = 0;
	uint64_t t0;
	size_t i;
	char why[FREEZE_REASON_MAX];

	for (i = 0; i < f->ntargets; i++)
		if (f->targets[i].level > maxlevel)
			maxlevel = f->targets[i].level;

	/* 1. write back outside the frozen window, inner levels first */
	t0 = mono_us();
	if (f->presync)
		for (level = 0; level <= maxlevel; level++)
			run_level(f, level, true);
	r->sync_us = mono_us() - t0;

	/* 2. freeze level by level; stop at the first failure */
	t0 = mono_us();
	r->ok = true;
	for (level = 0; level <= maxlevel && r->ok; level++) {
		run_level(f, level, false);
		for (i = 0; i < f->ntargets; i++)
			if (f->targets[i].level == level &&
			    f->targets[i].err != 0) {
				r->ok = false;
				snprintf(r->reason, sizeof(r->reason),
				    "FIFREEZE %s: %s", f->targets[i].path,
				    strerror(f->targets[i].err));
				break;
			}
		pthread_mutex_lock(&f->mu);
		if (f->cancel && r->ok) {
			r->ok = false;
			r->cancelled = true;
			snprintf(r->reason, sizeof(r->reason),
			    "cancelled: the freeze overran its deadline");
		}
		pthread_mutex_unlock(&f->mu);
	}
	r->freeze_us = mono_us() - t0;
	for (i = 0; i < f->nfrozen; i++)
		append(
		    r->order, sizeof(r->order), f->targets[f->order[i]].path);
	for (i = 0; i < f->ntargets; i++)
		if (f->targets[i].foreign) {
			size_t n = strlen(r->foreign);

			r->nforeign++;
			snprintf(r->foreign + n, sizeof(r->foreign) - n, "%s%s",
			    n ? " " : "", f->targets[i].path);
		}

	/* 3. on failure, undo everything before reporting (r->order then
	 * says what was thawed) */
	if (!r->ok && thaw_all(f, why, sizeof(why)) != 0) {
		size_t n = strlen(r->reason);

		snprintf(r->reason + n, sizeof(r->reason) - n,
		    "; undo failed: %s", why);
	}
	r->nfrozen = f->nfrozen;
	finish(f);
	return NULL;
}

static void *
thaw_worker(void *arg)
{
	struct freezer *f = arg;
	struct freeze_result *r = &f->result;
	uint64_t t0 = mono_us();

	r->ok = thaw_all(f, r->reason, sizeof(r->reason)) == 0;
	r->freeze_us = mono_us() - t0;
	r->nfrozen = f->nfrozen;
	finish(f);
	return NULL;
}

static int start(struct freezer *, void *(*)(void *), uint64_t, bool);

/* On the loop: the worker finished. */
static void
done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct freezer *f = arg;
	struct freeze_result r;
	char buf[16];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	pthread_join(f->worker, NULL);
	r = f->result;
	f->busy = false;
	if (!r.thaw && r.ok && f->cancel) {
		/* cancelled after the worker's last look: undo now, and
		 * report the freeze once that is done */
		f->undoing = true;
		if (start(f, thaw_worker, r.id, true) == 0)
			return;
		freezer_thaw_now(f);
		f->undoing = false;
	}
	if (f->undoing) {
		f->undoing = false;
		r.thaw = false;
		r.ok = false;
		r.cancelled = true;
		snprintf(r.reason, sizeof(r.reason),
		    "cancelled: the freeze overran its deadline");
	}
	if (!r.thaw && f->hooks.foreign != NULL) {
		size_t i;

		for (i = 0; i < f->ntargets; i++)
			if (f->targets[i].foreign)
				f->hooks.foreign(f->targets[i].slot,
				    f->targets[i].dev, f->hooks.arg);
	}
	if (f->nfrozen == 0) {
		release(f);
		drop_targets(f);
	}
	f->done(&r, f->arg);
}

static int
start(struct freezer *f, void *(*fn)(void *), uint64_t id, bool thaw)
{
	int rc;

	memset(&f->result, 0, sizeof(f->result));
	f->result.id = id;
	f->result.thaw = thaw;
	f->cancel = false;
	f->busy = true;
	if ((rc = pthread_create(&f->worker, NULL, fn, f)) != 0) {
		f->busy = false;
		return -rc;
	}
	return 0;
}

int
freezer_freeze(
    struct freezer *f, const struct plan *p, bool presync, uint64_t id)
{
	size_t i;
	int err;

	f->result.reason[0] = '\0';
	if (f->busy || f->nfrozen > 0) {
		snprintf(f->result.reason, sizeof(f->result.reason),
		    f->busy
		        ? "the freezer is busy"
		        : "still frozen from the "
		          "last transaction: %zu filesystem%s failed to thaw",
		    f->nfrozen, f->nfrozen == 1 ? "" : "s");
		return -EBUSY;
	}
	drop_targets(f);
	if ((f->targets = calloc(p->ntargets + 1, sizeof(*f->targets))) ==
	        NULL ||
	    (f->order = calloc(p->ntargets + 1, sizeof(size_t))) == NULL) {
		drop_targets(f);
		return -ENOMEM;
	}
	for (i = 0; i < p->ntargets; i++) {
		struct target *t = &f->targets[i];

		t->fd = -1;
		t->level = p->targets[i].level;
		if ((t->path = strdup(p->targets[i].mountpoint)) == NULL) {
			f->ntargets = i + 1;
			drop_targets(f);
			return -ENOMEM;
		}
		f->ntargets = i + 1;
		t->dev = p->targets[i].dev;
		t->slot = -1;
		t->fd = open(t->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (t->fd == -1) {
			err = errno;
			snprintf(f->result.reason, sizeof(f->result.reason),
			    "open %s: %s", t->path, strerror(err));
			release(f);
			drop_targets(f);
			return -err;
		}
		if (f->hooks.prepare == NULL)
			continue;
		f->prepared = true;
		if ((t->slot = f->hooks.prepare(
		         t->fd, t->path, t->dev, f->hooks.arg)) < 0) {
			err = -t->slot;
			snprintf(f->result.reason, sizeof(f->result.reason),
			    "cannot hand %s to the thaw guard: %s", t->path,
			    strerror(err));
			release(f);
			drop_targets(f);
			return -err;
		}
	}
	f->presync = presync;
	return start(f, freeze_worker, id, false);
}

const char *
freezer_last_reason(const struct freezer *f)
{
	return f->result.reason;
}

void
freezer_cancel(struct freezer *f)
{
	pthread_mutex_lock(&f->mu);
	f->cancel = true;
	pthread_mutex_unlock(&f->mu);
}

int
freezer_thaw(struct freezer *f, uint64_t id)
{
	if (f->busy)
		return -EBUSY;
	return start(f, thaw_worker, id, true);
}

void
freezer_thaw_now(struct freezer *f)
{
	char why[FREEZE_REASON_MAX];

	/* a running worker owns the targets; only thaw when idle */
	if (f->busy)
		return;
	if (thaw_all(f, why, sizeof(why)) == 0)
		release(f);
}

bool
freezer_busy(const struct freezer *f)
{
	return f->busy;
}

size_t
freezer_nfrozen(const struct freezer *f)
{
	return f->nfrozen;
}

void
freezer_set_hooks(struct freezer *f, const struct freezer_hooks *h)
{
	f->hooks = *h;
}

int
freezer_frozen_fd(const struct freezer *f, size_t i)
{
	return i < f->nfrozen ? f->targets[f->order[i]].fd : -1;
}

void
freezer_set_slot(struct freezer *f, size_t i, int slot)
{
	if (i < f->nfrozen)
		f->targets[f->order[i]].slot = slot;
}

const char *
freezer_frozen_path(const struct freezer *f, size_t i)
{
	return i < f->nfrozen ? f->targets[f->order[i]].path : NULL;
}

struct freezer *
freezer_new(struct event_base *base, freeze_done_fn done, void *arg)
{
	struct freezer *f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	f->base = base;
	f->done = done;
	f->arg = arg;
	pthread_mutex_init(&f->mu, NULL);
	if (pipe2(f->pipefd, O_CLOEXEC | O_NONBLOCK) == -1) {
		free(f);
		return NULL;
	}
	f->ev = event_new(base, f->pipefd[0], EV_READ | EV_PERSIST, done_cb, f);
	if (f->ev == NULL || event_add(f->ev, NULL) != 0) {
		freezer_free(f);
		return NULL;
	}
	return f;
}

void
freezer_free(struct freezer *f)
{
	if (f == NULL)
		return;
	if (f->ev != NULL)
		event_free(f->ev);
	close(f->pipefd[0]);
	close(f->pipefd[1]);
	drop_targets(f);
	pthread_mutex_destroy(&f->mu);
	free(f);
}
