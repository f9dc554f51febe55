/*
 * guard.h: the thaw guard, a small program of its own (hv_vss_guard,
 * guard/hv_vss_guard.c) that the daemon starts and that thaws what the
 * daemon froze if the daemon dies or gets stuck.
 *
 * The daemon hands the guard a directory fd of every filesystem before it
 * freezes it (SCM_RIGHTS over a SOCK_SEQPACKET socketpair), arms it with
 * the lease when the frozen window starts, and tells it when everything is
 * thawed.  The guard thaws everything it holds, newest first:
 *  - when the socket reaches EOF (the daemon died, however: kill -9, a
 *    crash, an exit), and then exits;
 *  - when an armed lease plus a grace period passes without "thawed" (the
 *    daemon is stuck, e.g. blocked on a log write); it then reports what
 *    it did over the socket and goes on serving.
 * It is started by fork and exec of the program found once by
 * guard_image(), with its socket as its only fd and an empty
 * environment; it then locks its memory, asks the OOM killer to spare it,
 * ignores the terminating signals that stop a service (SIGTERM goes to
 * the whole cgroup: the guard must outlive the daemon long enough to see
 * the EOF), and does no file I/O and no allocation at all.
 *
 * All of it is for the event loop's thread.  guard_spawn() returns at
 * once: the guard is ready when guard_read() says GUARD_EV_READY, and
 * until then guard_hold() refuses (-EAGAIN), so that nothing is frozen
 * that no guard holds.  guard_start() and guard_restart() wait for the
 * hello (a few seconds at most): for start-up and for tests, not for the
 * loop.  guard_free() waits about 2 s at most for the guard to exit, and
 * a send waits up to 1 s if the guard has fallen behind (its socket
 * holds about 160 messages).
 */
#ifndef HVVSS_GUARD_H
#define HVVSS_GUARD_H

#include <sys/types.h>
#include <stdbool.h>
#include <stddef.h>

#define GUARD_MAX_FDS 256 /* filesystems held at once (fixed array) */
#define GUARD_PATH_MAX 256 /* mount point kept for reports, truncated */
#define GUARD_GRACE_MS 5000 /* default grace after the lease */
#define GUARD_NOTE_MAX 160

struct guard;

enum guard_event_type {
	/* a guard from guard_spawn() said hello: it serves now (see
	 * guard_note()); hand it what is frozen */
	GUARD_EV_READY,
	/* the lease passed: the guard thawed (or tried) one filesystem */
	GUARD_EV_THAWED,
	/* the lease passed: summary, after the GUARD_EV_THAWED events; the
	 * guard holds nothing any more (as after guard_thawed()) */
	GUARD_EV_LEASE,
	/* the guard rejected a message from us: a bug; it thaws what it
	 * holds and exits (GUARD_EV_DIED follows) */
	GUARD_EV_ERROR,
	/* the guard is gone (or never said hello, or a wrong one): remove
	 * guard_fd() from the loop, guard_spawn() another, and on its
	 * GUARD_EV_READY hold again whatever is still frozen */
	GUARD_EV_DIED,
};

struct guard_event {
	enum guard_event_type type;
	int slot; /* THAWED: guard_hold()'s return value */
	int err; /* THAWED: 0 thawed, EINVAL was not frozen, else
	          * FITHAW's errno; ERROR: what was wrong */
	unsigned int nthawed; /* LEASE: thawed by the guard */
	unsigned int nnotfrozen; /* LEASE: found thawed already */
	unsigned int nfailed; /* LEASE: FITHAW failed */
	bool truncated; /* LEASE: some THAWED events were not sent */
	int status; /* DIED: wait status, -1 if unknown */
	char path[GUARD_PATH_MAX]; /* THAWED: the mount point */
};

/*
 * Find the guard's program and keep it open (proc_image_open()) for every
 * start to come: path, or NULL for hv_vss_guard in the directory of the
 * running program (proc_self_dir()).  Call it first thing, before a package
 * upgrade can replace the files: a held file is the one that was there,
 * whatever replaces it later.  -1 and a message in err on failure.
 */
int guard_image(const char *path, char *err, size_t errlen);

/*
 * A guard with no process yet; grace_ms is added to every lease (0:
 * GUARD_GRACE_MS).  NULL and err on failure.
 */
struct guard *guard_new(unsigned int grace_ms, char *err, size_t errlen);

/*
 * Start the guard's program (guard_image(NULL) if it was not called)
 * and return at once: GUARD_EV_READY or GUARD_EV_DIED follows on the new
 * guard_fd().  A previous guard must be dead (GUARD_EV_DIED) or never
 * started.  -1 and err on failure (then nothing runs).
 */
int guard_spawn(struct guard *g, char *err, size_t errlen);

/* A guard that is slow to say hello: SIGKILL it (GUARD_EV_DIED follows). */
void guard_kill(struct guard *g);

/*
 * guard_new() and guard_spawn(), then wait (at most a few seconds) for
 * its hello.  NULL and a message in err on failure.
 */
struct guard *guard_start(unsigned int grace_ms, char *err, size_t errlen);

/*
 * Close the socket (the guard thaws what it holds and exits), reap it,
 * and free g.  Waits at most about 2 s, then SIGKILLs it.
 */
void guard_free(struct guard *g);

/* Stop the guard (as guard_free) and start a new one, waiting for its
 * hello (as guard_start).  -1 and err. */
int guard_restart(struct guard *g, char *err, size_t errlen);

/* The daemon's end of the socket: readable when guard_read() has news. */
int guard_fd(const struct guard *g);
pid_t guard_pid(const struct guard *g);
/* Not seen dead, and not reaped (a starting guard is alive). */
bool guard_alive(struct guard *g);
/* Alive and has said hello: guard_hold() is served. */
bool guard_ready(const struct guard *g);
/* One line for the log: its pid, whether its memory is locked and why
 * not, whether the OOM killer spares it. */
const char *guard_note(const struct guard *g);

/*
 * Hand the guard a directory fd of mountpoint, BEFORE freezing it.  The
 * guard keeps its own copy of the fd (ours stays ours).  Returns a slot
 * number for guard_drop(), or -errno: -ENOSPC (GUARD_MAX_FDS held),
 * -EPIPE (the guard is dead), -EAGAIN (it is starting, not ready yet, or
 * it has read nothing for 1 s).  A failure means "do not freeze it".
 */
int guard_hold(struct guard *g, int dirfd, const char *mountpoint);

/*
 * Forget one held filesystem without thawing it: its FIFREEZE said EBUSY
 * (someone else froze it; the guard must not thaw their freeze).
 */
int guard_drop(struct guard *g, int slot);

/*
 * The frozen window starts (again) now: if guard_thawed() does not come
 * within lease_ms + grace, thaw all.  Each call restarts the clock; 0
 * disarms.
 */
int guard_arm(struct guard *g, unsigned int lease_ms);

/*
 * Where closing a hold thaws (os/fsfreeze.h, fsfreeze_close_thaws:
 * FreeBSD): hand the guard the hold of slot's filesystem, once frozen.
 * The caller then closes its own copy, so that the guard's is the last
 * reference: from then on the guard's close resumes it (guard_resume(),
 * the lease, or the guard's death), and nothing else can.  0 or -errno,
 * as guard_hold(); on failure the caller keeps its copy.
 */
int guard_suspended(struct guard *g, int slot, int hold, const char *path);

/* Resume slot's filesystem: the guard closes the hold it was handed. */
int guard_resume(struct guard *g, int slot);

/* Everything held was thawed by us: the guard closes its fds, disarms. */
int guard_thawed(struct guard *g);

/*
 * Read one message: 1 and *ev filled, 0 if none is waiting (or the guard
 * is known dead), -EPROTO for a malformed one (a bug).
 */
int guard_read(struct guard *g, struct guard_event *ev);

#endif /* HVVSS_GUARD_H */
