/*
 * privsep.h: the privileged parent's supervision of its engine (issue
 * 15): start it confined, serve it (priv.h), and when it dies, whatever
 * killed it, thaw what it had frozen and start another.
 *
 * The parent forks the engine with one end of a SOCK_SEQPACKET
 * socketpair and the descriptors it is to keep (the application and
 * control sockets the parent bound); the child closes every other
 * descriptor, calls before() (e.g. to open its log while /dev/log can
 * still be reached), confines itself (sandbox_engine_as(): its own user,
 * chroot to an empty directory where the parent may chroot, no
 * capabilities, no new privileges, its seccomp list) and runs engine().  The parent serves the other end
 * with priv_new().
 *
 * The engine's death is its end of the socket closing (exit, a signal,
 * SIGSYS from its filter, or a compromised engine closing it while it
 * lives on: it is killed then).  priv.c thaws (or undoes a freeze still
 * running, or runs the abort hooks after freeze hooks) and only then is
 * the engine reaped, its end logged with the signal named, and another
 * started after a backoff: 100 ms, doubled at each death up to 30 s,
 * back to 100 ms once an engine has lived a minute.
 */
#ifndef HVVSS_PRIVSEP_H
#define HVVSS_PRIVSEP_H

#include <sys/types.h>
#include <stdbool.h>
#include <stddef.h>

struct conf;
struct event_base;
struct guard;
struct guard_event;
struct privsep;
struct record;

#define PRIVSEP_BACKOFF_MIN_MS 100
#define PRIVSEP_BACKOFF_MAX_MS 30000
#define PRIVSEP_STABLE_MS 60000 /* lived this long: backoff back to min */
#define PRIVSEP_KEEP_MAX 8

struct privsep_conf {
	const char *user; /* the engine's user (SANDBOX_USER) */
	const char *root; /* its empty root directory, NULL for none */
	/* filesystems the daemon before us left frozen, thawed by recovery
	 * or its guard (record_thawed_behind()): the first engine is told */
	unsigned int thawed_behind;
	int keep[PRIVSEP_KEEP_MAX]; /* descriptors the engine keeps */
	size_t nkeep;
	/* in the child, before confinement (sock: its end); -1 ends it
	 * (exit 1) */
	int (*before)(int sock, void *arg);
	/* the engine, confined: sock is its end; returns its exit status */
	int (*engine)(int sock, void *arg);
	void *arg;
};

/*
 * Look the user up, start the first engine, serve it on base with c and
 * guard (both kept, not copied; guard may be NULL).  NULL and err.
 */
struct privsep *privsep_start(struct event_base *base, const struct conf *c,
    struct guard *guard, const struct privsep_conf *pc, char *err,
    size_t errlen);

/* Stop: thaw, kill and reap the engine, free. */
void privsep_free(struct privsep *);

/*
 * Stop: the engine gets sig (SIGTERM: it finishes or fails what runs, thaws
 * through us, exits), and once it is gone and reaped, done() is called
 * instead of another engine started.  done() at once if none runs.
 */
void privsep_stop(struct privsep *, int sig, void (*done)(void *), void *arg);

/* Send the running engine a signal (SIGHUP); -errno, -ESRCH if none. */
int privsep_signal(const struct privsep *, int sig);

/* No engine's stage runs and nothing is frozen (priv_idle()). */
bool privsep_idle(const struct privsep *);
/* The parent's configuration was swapped (priv_conf_changed()). */
void privsep_conf_changed(struct privsep *);

/* The ownership record each frozen filesystem is named in (priv.h). */
void privsep_set_record(struct privsep *, struct record *);

/* Forward one of the guard's events to the engine (priv_guard()). */
void privsep_guard(struct privsep *, const struct guard_event *);

/* The engine running now (-1 between one and the next), and how many
 * were started after the first. */
pid_t privsep_engine_pid(const struct privsep *);
unsigned int privsep_restarts(const struct privsep *);

/*
 * "exited 0", "killed by SIGSYS (a forbidden system call)", ... for a
 * wait status, into buf.
 */
const char *privsep_status(int status, char *buf, size_t len);

#endif /* HVVSS_PRIVSEP_H */
