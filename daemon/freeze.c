/*
 * freeze.c: the freezer (see freeze.h).
 *
 * Threads that last: one coordinator, which runs each job (freeze or
 * thaw) off the loop, and one thread per target slot, which writes its
 * filesystem back and then freezes it when its level's turn comes, since
 * independent filesystems freeze in parallel.  They are made at the first
 * job that needs them and kept, asleep on a condition variable, until
 * freezer_free(): a thread that exits queues RCU callbacks (its task and
 * pid are freed after a grace period), and one that exited just before a
 * cold FIFREEZE made that freeze wait a whole grace period longer, about
 * 8 ms (bench/README.md).  The threads only make system calls and write
 * into their own job; they never log (the loop logs the result, through
 * the log ring while anything is frozen), and they block every signal,
 * which the loop thread handles.
 *
 * Hazards:
 * - Order.  A filesystem on a loop device must freeze before the one
 *   holding its image: freezing the outer first leaves the inner's
 *   FIFREEZE asleep forever, trying to write its journal into a frozen
 *   file.  plan.c orders levels; here a level starts only once the
 *   previous one is entirely frozen.  Thaw is the exact reverse of the
 *   order in which freezes completed.
 * - What is frozen is what was planned.  Each target's directory is
 *   opened by path before anything freezes, and the fd checked against
 *   the plan (fsfreeze_check(): on Linux its mount id and its
 *   superblock's device, on FreeBSD its fsid): a mount
 *   that went between the plan and the open (umount, umount -l, umount
 *   and mount again) leaves the path on the filesystem beneath, which
 *   must never be frozen.  A mismatch fails the job before any freeze.
 *   The fd pins its mount, so what it reaches cannot change after the
 *   check; the guard and the record get the checked device.
 * - The primitive is the platform's (os/fsfreeze.h: FIFREEZE and FITHAW
 *   on Linux); this file names it in messages by fsfreeze_op_freeze
 *   and fsfreeze_op_thaw.
 * - EBUSY from the freeze means the superblock is frozen already.  plan.c
 *   gives each superblock one target, so someone else froze it (an admin
 *   with fsfreeze, another tool or daemon).  It is frozen now, but they
 *   may thaw it inside our window and the host's snapshot of it would be
 *   torn while we said S_OK; nor can we tell when they do (a thaw and a
 *   freeze by them look the same to us).  So EBUSY fails the job like
 *   any other error: everything of ours is undone, theirs is left alone.
 * - EINVAL from the thaw means it is not frozen (any more): someone thawed
 *   it under us (an admin, or the thaw guard).  That is the state we
 *   want; it is reported, not failed.
 * - The directory fd of each target is opened before anything freezes,
 *   and kept until thawed: thawing needs no path lookup on a frozen
 *   filesystem, and survives a mount point being covered meanwhile.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "freeze.h"
#include "os/fsfreeze.h"
#include "util.h"

/*
 * Where closing a hold thaws (FreeBSD), the thaw guard holds the only
 * reference once frozen (freezer_hand_hold()): the target is thawed
 * through the resume hook, on the loop, before the thaw job runs.
 */
#define HOLD_GUARD (-2)

struct target {
	char *path;
	int fd; /* its directory (fsfreeze_open()) */
	int hold; /* what fsfreeze_thaw() takes, while frozen; else -1;
	           * HOLD_GUARD: the guard has the only reference */
	bool lost; /* resumed by the guard's death, not by our thaw */
	int level;
	int err; /* errno of its freeze, 0 */
	bool frozen; /* frozen by us */
	struct fsfreeze_id want; /* the plan's, checked against the fd */
	dev_t dev; /* the superblock the fd is on, once checked */
	int slot; /* what prepare() returned, -1 before */
};

/* A lasting thread for one target slot: the index-th target of each job. */
struct fs_worker {
	struct freezer *f;
	size_t index;
	pthread_t tid;
	unsigned int seen; /* the last freeze job it took */
	bool synced; /* this job: written back, waiting for its turn */
	bool done; /* this job: frozen or failed, or sent home */
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
	pthread_cond_t cv; /* to the workers: a job, a level's turn, stop */
	pthread_cond_t back; /* to the coordinator: synced, done; a job */
	int turn; /* the level now allowed to freeze */
	bool stop; /* the job is over: waiting workers go */
	bool busy; /* the loop's: a job is out */
	bool cancel;
	bool undoing; /* a thaw job undoing a cancelled freeze */
	bool quit; /* freezer_free(): every thread goes */
	void (*job)(struct freezer *); /* for the coordinator, or NULL */
	unsigned int jobno; /* freeze jobs begun: the workers' cue */
	bool coord_started;
	pthread_t coord;
	struct fs_worker **workers;
	size_t nworkers;

	struct target *targets;
	size_t ntargets;
	size_t *order; /* indexes, in freeze completion order */
	size_t nfrozen;
	bool presync;
	bool expedite; /* freezer_set_expedite() */
	bool knob_ours; /* grace periods expedited by us, until put back */
	int expedited; /* this freeze job's: freeze_result.expedited */
	int restore_err; /* putting them back failed: freeze_result's */
	struct freeze_result result;
};

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
		struct target *t = &f->targets[i];

		if (t->hold >= 0 && t->hold != t->fd)
			close(t->hold);
		if (t->fd >= 0)
			close(t->fd);
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
	int first = 0, rc;
	size_t k;
	struct target *t;

	size_t left = 0;

	f->result.order[0] = '\0';
	f->result.nstale = 0;
	for (k = f->nfrozen; k-- > 0;) {
		t = &f->targets[f->order[k]];
		append(f->result.order, sizeof(f->result.order), t->path);
		if (t->hold == HOLD_GUARD) {
			/* the guard holds it and was not told to resume
			 * (resume_guarded()): it stays frozen, ours */
			if (first == 0) {
				first = EAGAIN;
				snprintf(reason, len,
				    "%s %s: the thaw guard holds it and could not be told to resume it",
				    fsfreeze_op_thaw, t->path);
			}
			continue;
		}
		if (t->hold == -1) {
			/* resumed by the guard's close: on our word, or by
			 * its death (then the snapshot is not to be trusted) */
			if (t->lost)
				f->result.nstale++;
			t->lost = false;
			t->frozen = false;
			continue;
		}
		if ((rc = fsfreeze_thaw(&t->hold)) != 0) {
			if (rc == -EINVAL) {
				/* thawed under us: by the guard, or an admin;
				 * the caller must not call the snapshot good */
				f->result.nstale++;
				t->frozen = false;
				continue;
			}
			if (first == 0) {
				first = -rc;
				snprintf(reason, len, "%s %s: %s",
				    fsfreeze_op_thaw, t->path, strerror(-rc));
			}
			continue; /* keep thawing the others */
		}
		t->frozen = false;
		if (t->hold != t->fd && t->hold >= 0)
			close(t->hold);
		t->hold = -1;
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

/*
 * A target's worker, for every freeze job: it writes its filesystem back
 * (syncfs), waits for its level's turn, then freezes it.  The same thread
 * does both steps, job after job: a fresh thread for each step made a
 * cold FIFREEZE wait one RCU grace period longer (bench/README.md).
 */
static void *
fs_thread(void *arg)
{
	struct fs_worker *w = arg;
	struct freezer *f = w->f;
	struct target *t;
	int err, hold;

	pthread_mutex_lock(&f->mu);
	for (;;) {
		while (!f->quit &&
		    (w->seen == f->jobno || w->index >= f->ntargets))
			pthread_cond_wait(&f->cv, &f->mu);
		if (f->quit)
			break;
		w->seen = f->jobno;
		t = &f->targets[w->index];
		pthread_mutex_unlock(&f->mu);

		if (f->presync)
			(void)fsfreeze_sync(t->fd);
		pthread_mutex_lock(&f->mu);
		w->synced = true;
		pthread_cond_signal(&f->back);
		while (f->turn < t->level && !f->stop)
			pthread_cond_wait(&f->cv, &f->mu);
		if (f->stop) {
			w->done = true;
			pthread_cond_signal(&f->back);
			continue;
		}
		pthread_mutex_unlock(&f->mu);

		/* EBUSY too fails: see the top of this file */
		err = -fsfreeze_freeze(t->fd, &hold);

		pthread_mutex_lock(&f->mu);
		t->hold = hold;
		t->frozen = err == 0;
		t->err = err;
		if (err == 0)
			f->order[f->nfrozen++] = w->index;
		w->done = true;
		pthread_cond_signal(&f->back);
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

/*
 * Wait (holding f->mu) until every worker of this job has written back
 * (level < 0), or is done with the given level (INT_MAX: with all).
 */
static void
wait_workers(struct freezer *f, int level)
{
	struct fs_worker *w;
	size_t i;

	for (i = 0; i < f->ntargets; i++) {
		w = f->workers[i];
		if (level < 0 ? w->synced
		              : w->done ||
		            (level != INT_MAX && f->targets[i].level != level))
			continue;
		pthread_cond_wait(&f->back, &f->mu);
		i = (size_t)-1; /* look at all of them again */
	}
}

static void
finish(struct freezer *f)
{
	char c = 0;

	/* wakes the loop; a pipe write of one byte cannot block here */
	(void)write_all(f->pipefd[1], &c, 1);
}

static void
freeze_job(struct freezer *f)
{
	struct freeze_result *r = &f->result;
	int level, maxlevel = 0;
	uint64_t t0;
	size_t i;
	char why[FREEZE_REASON_MAX];

	for (i = 0; i < f->ntargets; i++)
		if (f->targets[i].level > maxlevel)
			maxlevel = f->targets[i].level;
	r->ok = true;

	/* 1. write back outside the frozen window, all at once */
	t0 = mono_us();
	pthread_mutex_lock(&f->mu);
	for (i = 0; i < f->ntargets; i++)
		f->workers[i]->synced = f->workers[i]->done = false;
	f->turn = -1;
	f->stop = false;
	f->jobno++;
	pthread_cond_broadcast(&f->cv);
	wait_workers(f, -1);
	r->sync_us = mono_us() - t0;

	/* 2. freeze level by level; stop at the first failure */
	t0 = mono_us();
	for (level = 0; level <= maxlevel && r->ok; level++) {
		f->turn = level;
		pthread_cond_broadcast(&f->cv);
		wait_workers(f, level);
		for (i = 0; i < f->ntargets; i++) {
			struct target *t = &f->targets[i];

			if (t->level != level || t->err == 0)
				continue;
			r->ok = false;
			if (t->err == EBUSY)
				snprintf(r->reason, sizeof(r->reason),
				    "%s %s: frozen already by another freezer (fsfreeze, another tool or daemon), which could thaw it inside our window",
				    fsfreeze_op_freeze, t->path);
			else
				snprintf(r->reason, sizeof(r->reason),
				    "%s %s: %s", fsfreeze_op_freeze, t->path,
				    strerror(t->err));
			break;
		}
		if (f->cancel && r->ok) {
			r->ok = false;
			r->cancelled = true;
			snprintf(r->reason, sizeof(r->reason),
			    "cancelled: the freeze overran its deadline");
		}
	}
	/* the workers of levels never reached go home; once all are back
	 * asleep, none looks at this job's targets again */
	f->stop = true;
	pthread_cond_broadcast(&f->cv);
	wait_workers(f, INT_MAX);
	pthread_mutex_unlock(&f->mu);
	r->freeze_us = mono_us() - t0;

	for (i = 0; i < f->nfrozen; i++)
		append(
		    r->order, sizeof(r->order), f->targets[f->order[i]].path);

	/* 3. on failure, undo everything before reporting (r->order then
	 * says what was thawed) */
	if (!r->ok && thaw_all(f, why, sizeof(why)) != 0) {
		size_t n = strlen(r->reason);

		snprintf(r->reason + n, sizeof(r->reason) - n,
		    "; undo failed: %s", why);
	}
	r->nfrozen = f->nfrozen;
}

static void
thaw_job(struct freezer *f)
{
	struct freeze_result *r = &f->result;
	uint64_t t0 = mono_us();

	r->ok = thaw_all(f, r->reason, sizeof(r->reason)) == 0;
	r->freeze_us = mono_us() - t0;
	r->nfrozen = f->nfrozen;
}

/* The lasting thread that runs each job, off the loop. */
static void *
coordinator(void *arg)
{
	struct freezer *f = arg;
	void (*job)(struct freezer *);

	pthread_mutex_lock(&f->mu);
	for (;;) {
		while (f->job == NULL && !f->quit)
			pthread_cond_wait(&f->back, &f->mu);
		if (f->quit)
			break;
		job = f->job;
		f->job = NULL;
		pthread_mutex_unlock(&f->mu);
		job(f);
		/* the loop takes f->mu before it reads the result */
		pthread_mutex_lock(&f->mu);
		pthread_mutex_unlock(&f->mu);
		finish(f);
		pthread_mutex_lock(&f->mu);
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

/*
 * Make the coordinator and n workers, if not made yet.  Their stacks are
 * small (they make system calls and format a reason), and they block
 * every signal: the loop thread handles signals.
 */
#define THREAD_STACK (128 * 1024)

static int
spawn(struct freezer *f, size_t n)
{
	pthread_attr_t attr;
	sigset_t all, old;
	struct fs_worker **nw, *w;
	int rc = 0;

	if (f->coord_started && f->nworkers >= n)
		return 0;
	if ((rc = pthread_attr_init(&attr)) != 0)
		return rc;
	(void)pthread_attr_setstacksize(&attr, THREAD_STACK);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (!f->coord_started) {
		if ((rc = pthread_create(&f->coord, &attr, coordinator, f)) ==
		    0)
			f->coord_started = true;
	}
	if (rc == 0 && n > f->nworkers) {
		if ((nw = reallocarray(f->workers, n, sizeof(*nw))) == NULL)
			rc = ENOMEM;
		else
			f->workers = nw;
	}
	while (rc == 0 && f->nworkers < n) {
		if ((w = calloc(1, sizeof(*w))) == NULL) {
			rc = ENOMEM;
			break;
		}
		w->f = f;
		w->index = f->nworkers;
		w->seen = f->jobno;
		if ((rc = pthread_create(&w->tid, &attr, fs_thread, w)) != 0) {
			free(w);
			break;
		}
		f->workers[f->nworkers++] = w;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return rc;
}

static int start(struct freezer *, void (*)(struct freezer *), uint64_t, bool);

/* Grace periods normal again, if we expedited them (on the loop). */
static void
expedite_end(struct freezer *f)
{
	int rc;

	if (!f->knob_ours)
		return;
	if ((rc = fsfreeze_expedite(false)) != 0) {
		f->restore_err = rc; /* the owner's note stays */
		return;
	}
	f->knob_ours = false;
	f->restore_err = 0;
	if (f->hooks.expediting != NULL)
		(void)f->hooks.expediting(false, f->hooks.arg);
}

/*
 * Before a freeze job (on the loop): grace periods expedited, if asked
 * and they are normal; noted by the owner first, so that a daemon killed
 * from then on leaves the note for the next to put them back.
 */
static void
expedite_begin(struct freezer *f)
{
	int rc;

	f->expedited = 0;
	expedite_end(f); /* a restore that failed: again */
	if (f->knob_ours) {
		f->expedited = f->restore_err;
		return;
	}
	if (!f->expedite || (rc = fsfreeze_expedited()) == 1)
		return;
	if (rc == 0 && f->hooks.expediting != NULL)
		rc = f->hooks.expediting(true, f->hooks.arg);
	if (rc == 0 && (rc = fsfreeze_expedite(true)) != 0 &&
	    f->hooks.expediting != NULL)
		(void)f->hooks.expediting(false, f->hooks.arg);
	f->expedited = rc == 0 ? 1 : rc;
	f->knob_ours = rc == 0;
}

/* On the loop: the coordinator finished a job. */
static void
done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct freezer *f = arg;
	struct freeze_result r;
	char buf[16];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	/* what the coordinator wrote before it let go of f->mu */
	pthread_mutex_lock(&f->mu);
	r = f->result;
	pthread_mutex_unlock(&f->mu);
	f->busy = false;
	if (!r.thaw) {
		expedite_end(f);
		r.expedited = f->expedited;
		r.restore_err = f->restore_err;
	}
	if (!r.thaw && r.ok && f->cancel) {
		/* cancelled after the worker's last look: undo now, and
		 * report the freeze once that is done */
		f->undoing = true;
		if (start(f, thaw_job, r.id, true) == 0)
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
	if (f->nfrozen == 0) {
		release(f);
		drop_targets(f);
	}
	f->done(&r, f->arg);
}

/* Hand a job to the coordinator (made, with the workers, if need be). */
static int
start(struct freezer *f, void (*job)(struct freezer *), uint64_t id, bool thaw)
{
	int rc;

	if ((rc = spawn(f, thaw ? 0 : f->ntargets)) != 0) {
		snprintf(f->result.reason, sizeof(f->result.reason),
		    "cannot start the freezer's threads: %s", strerror(rc));
		return -rc;
	}
	pthread_mutex_lock(&f->mu);
	memset(&f->result, 0, sizeof(f->result));
	f->result.id = id;
	f->result.thaw = thaw;
	f->cancel = false;
	f->job = job;
	pthread_cond_signal(&f->back);
	pthread_mutex_unlock(&f->mu);
	f->busy = true;
	return 0;
}

/* Refuse the freeze before anything froze: undo prepare(), forget. */
static int
refuse(struct freezer *f, int err)
{
	release(f);
	drop_targets(f);
	return -err;
}

/*
 * Open every target and check that each fd is on the planned mount and
 * superblock (see the top of this file).  Only then are they handed to
 * prepare(): the guard and the record never hold anything unchecked.
 */
static int
open_targets(struct freezer *f)
{
	struct fsfreeze_id *want;
	const char **paths;
	dev_t *devs;
	int *fds, rc;
	size_t i, n = f->ntargets;

	for (i = 0; i < n; i++) {
		struct target *t = &f->targets[i];

		if ((rc = fsfreeze_open(t->path, &t->fd)) != 0) {
			snprintf(f->result.reason, sizeof(f->result.reason),
			    "open %s: %s", t->path, strerror(-rc));
			return rc;
		}
	}
	want = calloc(n + 1, sizeof(*want));
	paths = calloc(n + 1, sizeof(*paths));
	devs = calloc(n + 1, sizeof(*devs));
	fds = calloc(n + 1, sizeof(*fds));
	if (want == NULL || paths == NULL || devs == NULL || fds == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		fds[i] = f->targets[i].fd;
		paths[i] = f->targets[i].path;
		want[i] = f->targets[i].want;
	}
	rc = fsfreeze_check(fds, paths, want, devs, n, f->result.reason,
	    sizeof(f->result.reason));
	for (i = 0; i < n && rc == 0; i++)
		f->targets[i].dev = devs[i]; /* the planned one, checked */
out:
	free(want);
	free(paths);
	free(devs);
	free(fds);
	return rc;
}

int
freezer_freeze(
    struct freezer *f, const struct plan *p, bool presync, uint64_t id)
{
	size_t i;
	int err;

	f->result.reason[0] = '\0';
	expedite_end(f); /* a restore that failed: again, refused or not */
	if (f->busy || f->nfrozen > 0) {
		snprintf(f->result.reason, sizeof(f->result.reason),
		    f->busy
		        ? "the freezer is busy"
		        : "still frozen from the last transaction: %zu filesystem%s failed to thaw",
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
		t->hold = -1;
		t->slot = -1;
		t->level = p->targets[i].level;
		t->want = p->targets[i].fsid;
		f->ntargets = i + 1;
		if ((t->path = strdup(p->targets[i].mountpoint)) == NULL)
			return refuse(f, ENOMEM);
	}
	if ((err = open_targets(f)) < 0)
		return refuse(f, -err);
	for (i = 0; i < f->ntargets && f->hooks.prepare != NULL; i++) {
		struct target *t = &f->targets[i];

		f->prepared = true;
		if ((t->slot = f->hooks.prepare(
		         t->fd, t->path, t->dev, f->hooks.arg)) < 0) {
			err = -t->slot;
			snprintf(f->result.reason, sizeof(f->result.reason),
			    "cannot hand %s to the thaw guard: %s", t->path,
			    strerror(err));
			if (f->hooks.prepared != NULL)
				(void)f->hooks.prepared(false, f->hooks.arg);
			return refuse(f, err);
		}
	}
	if (f->prepared && f->hooks.prepared != NULL &&
	    (err = f->hooks.prepared(true, f->hooks.arg)) < 0) {
		snprintf(f->result.reason, sizeof(f->result.reason),
		    "cannot record what is about to be frozen: %s",
		    strerror(-err));
		return refuse(f, -err);
	}
	f->presync = presync;
	expedite_begin(f);
	if ((err = start(f, freeze_job, id, false)) < 0) {
		expedite_end(f);
		return refuse(f, -err);
	}
	return 0;
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
	/* a FIFREEZE stuck past its deadline keeps nobody else expedited */
	expedite_end(f);
}

/*
 * Tell the guard to close each hold it alone has, newest first (on the
 * loop: the guard is the loop's).  What it could not be told stays
 * HOLD_GUARD, and thaw_all() reports it.
 */
static void
resume_guarded(struct freezer *f)
{
	struct target *t;
	size_t k;

	for (k = f->nfrozen; k-- > 0;) {
		t = &f->targets[f->order[k]];
		if (t->hold != HOLD_GUARD || f->hooks.resume == NULL)
			continue;
		if (f->hooks.resume(t->slot, f->hooks.arg) == 0)
			t->hold = -1;
	}
}

int
freezer_thaw(struct freezer *f, uint64_t id)
{
	if (f->busy)
		return -EBUSY;
	resume_guarded(f);
	return start(f, thaw_job, id, true);
}

void
freezer_thaw_now(struct freezer *f)
{
	char why[FREEZE_REASON_MAX];

	/* a running worker owns the targets; only thaw when idle */
	if (f->busy)
		return;
	resume_guarded(f);
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

void
freezer_set_expedite(struct freezer *f, bool on)
{
	f->expedite = on;
}

const char *
freezer_expedite_note(const struct freeze_result *r)
{
	static char note[192]; /* the loop's, one line at a time */

	if (r->restore_err != 0)
		snprintf(note, sizeof(note),
		    ", grace periods expedited, and NOT put back to normal: %s (tried again before the next freeze)",
		    strerror(-r->restore_err));
	else if (r->expedited == 1)
		return ", grace periods expedited";
	else if (r->expedited == 0)
		return "";
	else
		snprintf(note, sizeof(note),
		    ", grace periods not expedited: %s",
		    strerror(-r->expedited));
	return note;
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

int
freezer_frozen_slot(const struct freezer *f, size_t i)
{
	return i < f->nfrozen ? f->targets[f->order[i]].slot : -1;
}

int
freezer_frozen_hold(const struct freezer *f, size_t i)
{
	const struct target *t;

	if (!fsfreeze_close_thaws || f->busy || i >= f->nfrozen)
		return -1;
	t = &f->targets[f->order[i]];
	return t->hold >= 0 && t->hold != t->fd ? t->hold : -1;
}

void
freezer_hold_handed(struct freezer *f, size_t i)
{
	struct target *t;

	if (freezer_frozen_hold(f, i) < 0)
		return;
	t = &f->targets[f->order[i]];
	close(t->hold);
	t->hold = HOLD_GUARD;
}

size_t
freezer_guard_lost(struct freezer *f)
{
	struct target *t;
	size_t i, n = 0;

	/*
	 * A job owns the targets (a freeze hands nothing over before it
	 * ends; a thaw told the guard already, or says it could not, and
	 * its retry finds them resumed).
	 */
	if (f->busy)
		return 0;
	for (i = 0; i < f->nfrozen; i++) {
		t = &f->targets[f->order[i]];
		if (t->hold != HOLD_GUARD)
			continue;
		t->hold = -1;
		t->lost = true;
		n++;
	}
	return n;
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
	pthread_cond_init(&f->cv, NULL);
	pthread_cond_init(&f->back, NULL);
	/* the threads are made by the first job that needs them */
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
	size_t i;

	if (f == NULL)
		return;
	expedite_end(f);
	if (f->ev != NULL)
		event_free(f->ev);
	f->ev = NULL;
	/*
	 * A job still out may never come back (a FIFREEZE asleep forever on
	 * a wrongly ordered stack): its threads keep what they use, and the
	 * process is about to end.
	 */
	if (f->busy)
		return;
	pthread_mutex_lock(&f->mu);
	f->quit = true;
	pthread_cond_broadcast(&f->cv);
	pthread_cond_broadcast(&f->back);
	pthread_mutex_unlock(&f->mu);
	if (f->coord_started)
		pthread_join(f->coord, NULL);
	for (i = 0; i < f->nworkers; i++) {
		pthread_join(f->workers[i]->tid, NULL);
		free(f->workers[i]);
	}
	free(f->workers);
	close(f->pipefd[0]);
	close(f->pipefd[1]);
	drop_targets(f);
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->cv);
	pthread_cond_destroy(&f->back);
	free(f);
}
