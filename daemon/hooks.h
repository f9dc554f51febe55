/*
 * hooks.h: the hooks directory (doc/DESIGN.md, "Hooks"): executables run
 * with "freeze" before the filesystems are frozen, and with "thaw" or
 * "abort" after, for applications that cannot speak the socket protocol.
 *
 * It runs on the daemon's libevent loop: hooks_run() starts a stage and
 * returns at once; the hooks run one at a time, each under its own
 * deadline, and done() is called from the loop when the stage is over,
 * never from inside a hooks_*() call.  Nothing here logs (a stage may run
 * while the log is held in memory): the result says what became of each
 * hook, and what the hooks printed is kept until hooks_output() hands it
 * out, after thaw, when the log can be written again.
 *
 * Which hooks (checked again at every stage, and again just before each
 * hook starts):
 *   - entries of the directory named [A-Za-z0-9_][A-Za-z0-9_.-]*, minus
 *     editor and package leftovers (*~, *.bak, *.orig, *.dpkg-*,
 *     *.rpmnew, *.rpmsave, *.sample, *.disabled): the others are ignored;
 *   - regular files with an execute bit; a regular file without one is
 *     reported as HOOK_SKIPPED (run-parts(8) ignores it too);
 *   - refused, reported and never run: a symbolic link, a file not owned
 *     by root or writable by group or others, and every hook of a
 *     directory that is not owned by root or is writable by group or
 *     others.  A refused hook on "freeze" vetoes the backup before any
 *     hook runs: the operator meant it to run, and a backup taken without
 *     it would be called consistent when it is not.
 *
 * Order: "freeze" in name order (strcmp, the C locale), stopping at the
 * first failure; "thaw" in reverse name order to the hooks whose "freeze"
 * exited 0 in that transaction; "abort" in reverse name order to every
 * hook that was started with "freeze" in that transaction (the one that
 * failed included: it may have done half its work).  A failure on "thaw"
 * or "abort" is reported but the other hooks still run.  After a "thaw"
 * or "abort" stage the transaction's hooks are forgotten, so that they
 * are never told twice.
 *
 * Each hook: argv = { path, "freeze" | "thaw" | "abort" }, its own
 * session and process group, stdin /dev/null, stdout and stderr into one
 * pipe, working directory /, default signal dispositions (the daemon
 * ignores SIGPIPE; a hook must not inherit that), no other descriptor,
 * and only this environment:
 *   PATH=/usr/sbin:/usr/bin:/sbin:/bin
 *   HVVSS_PHASE=freeze|thaw|abort
 *   HVVSS_TXID=<the transaction id, decimal>
 *   HVVSS_TIMEOUT_MS=<how long it has, like an application's FREEZE>
 * A hook that outlives its time has its whole process group killed
 * (SIGKILL).  A hook is done when its process has been reaped, whether or
 * not something it left behind still holds the pipe open: a hook may
 * start a helper that holds a lock until "thaw" (the pipe is closed under
 * that helper, so it should send its output elsewhere).
 *
 * Children are held and reaped through process handles (os/proc.h:
 * pidfds on Linux, process descriptors on FreeBSD): no SIGCHLD handler.  The daemon
 * must not reap children it did not start (no waitpid(-1)) and must not
 * ignore SIGCHLD.
 */
#ifndef HVVSS_HOOKS_H
#define HVVSS_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct hooks;

#define HOOKS_MAX 128 /* hooks in one directory */
#define HOOKS_NAME_MAX 255 /* bytes of a hook's file name */
#define HOOKS_WHY_MAX 128 /* one hook's reason */
#define HOOKS_REASON_MAX 320 /* a stage's reason */
#define HOOKS_OUTPUT_MAX 4096 /* output kept per hook and stage */
#define HOOKS_KILL_GRACE_MS 1000 /* wait for a SIGKILLed hook to die */
#define HOOKS_ENV_PATH "PATH=/usr/sbin:/usr/bin:/sbin:/bin"

enum hooks_phase {
	HOOKS_FREEZE,
	HOOKS_THAW,
	HOOKS_ABORT,
};

enum hooks_status {
	HOOK_OK, /* ran and exited 0 */
	HOOK_FAILED, /* exited non-zero, or was killed by a signal */
	HOOK_TIMEOUT, /* ran out of time; its process group was killed */
	HOOK_ERROR, /* could not be started, or gone since "freeze" */
	HOOK_REFUSED, /* unsafe type, owner or mode: never run */
	HOOK_SKIPPED, /* not executable, so not a hook */
};

/* What became of one hook in one stage. */
struct hooks_entry {
	char name[HOOKS_NAME_MAX + 1]; /* its file name */
	enum hooks_status status;
	int exit_code; /* its exit status if it exited, else -1 */
	int signal; /* the signal that killed it, else 0 */
	uint64_t duration_us; /* started to reaped; 0 if never started */
	size_t output_bytes; /* it printed, kept or not */
	char why[HOOKS_WHY_MAX]; /* "exit 3", "timed out after 500 ms",
	                            "killed by signal 9", "refused: writable
	                            by group", ...; "" if HOOK_OK */
};

/*
 * A stage's end.  ok: every hook that was to run ran and exited 0 (and
 * none was refused); on "freeze" !ok is a veto.  reason names the first
 * culprit ("hook 20-db: exit 3", "hooks directory /etc/x: refused:
 * writable by others"), "" if ok.  entries: in the order the stage went,
 * every hook it ran, refused or skipped (on a "freeze" veto, the hooks
 * that would have run after the culprit are not listed; a directory that
 * is refused or holds more than HOOKS_MAX hooks lists none).  Valid only
 * during the callback; done may call hooks_run() or hooks_free().
 */
struct hooks_result {
	uint64_t txid;
	enum hooks_phase phase;
	bool ok;
	char reason[HOOKS_REASON_MAX];
	size_t nran; /* hooks started */
	size_t nentries;
	const struct hooks_entry *entries;
	uint64_t duration_us; /* the whole stage */
};

typedef void (*hooks_done_fn)(const struct hooks_result *, void *);
typedef void (*hooks_emit_fn)(
    const char *hook, enum hooks_phase, const char *line, void *);

/* A hooks runner on base; NULL (errno set) on failure. */
struct hooks *hooks_new(struct event_base *, hooks_done_fn, void *);

/*
 * Kill what still runs (its whole process group), reap it if it dies
 * within HOOKS_KILL_GRACE_MS, and free everything.  May be called from
 * the done callback.
 */
void hooks_free(struct hooks *);

/*
 * Start a stage: the hooks of dir (a missing dir has none) with phase,
 * each given timeout_ms.  0, -EBUSY if a stage is running (or its done
 * is still to come), -EINVAL on bad arguments, -ENOMEM.  Everything
 * else, the directory's own problems included, comes through done.
 */
int hooks_run(struct hooks *, const char *dir, enum hooks_phase,
    unsigned int timeout_ms, uint64_t txid);

/*
 * Stop the running stage now (the caller's own deadline passed): the
 * running hook's process group is killed (it is reaped when it dies),
 * the hooks after it are not run, and done is not called.  A hook killed
 * during "freeze" counts as having seen it, for "abort".  Nothing if no
 * stage is running.
 */
void hooks_cancel(struct hooks *);

bool hooks_busy(const struct hooks *);

/* Hooks of transaction txid that "thaw" (or "abort") would be run on. */
size_t hooks_pending(const struct hooks *, uint64_t txid, enum hooks_phase);

/*
 * Hand out what the finished hooks printed, oldest first, one line per
 * call (control characters shown as '?', empty lines left out; a hook
 * that printed more than HOOKS_OUTPUT_MAX bytes gets a last line saying
 * how many were not kept), then forget it.  For the log, after thaw.
 */
void hooks_output(struct hooks *, hooks_emit_fn, void *);

/*
 * What a FREEZE's hooks stage would make of dir now, running nothing
 * (hv_vss_ctl plan): the hooks it would run, in their order, into *names
 * (NULL-terminated; free each and it); and into why, what would fail
 * every FREEZE on them ("hooks directory ...: more than 128 hooks",
 * "hook 20-db: refused: writable by others"), "" if nothing.  The same
 * checks as the stage's, so that the plan promises nothing the FREEZE
 * refuses.  0, or -ENOMEM.
 */
int hooks_preview(const char *dir, char ***names, char *why, size_t whylen);

/* "freeze", "thaw", "abort". */
const char *hooks_phase_name(enum hooks_phase);

#endif /* HVVSS_HOOKS_H */
