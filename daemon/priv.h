/*
 * priv.h: the privileged parent's request handler (issue 15).
 *
 * The parent keeps what needs root: the host device, the plan and the
 * freeze, the hooks, the thaw guard.  It serves one socket, the
 * unprivileged engine's end of a SOCK_SEQPACKET socketpair, one
 * request at a time (privproto.h), and does each with the role modules
 * the daemon uses (plan.h, freeze.h, hooks.h, guard.h), from its own
 * configuration: the engine names a transaction, the parent decides
 * what it means.  Whatever the engine sends that privproto.c refuses is
 * answered with the refusal and logged, and nothing is done.
 *
 * When the engine's end closes (it exited, or died, by SIGSYS or
 * otherwise) the parent thaws whatever it froze, at once, and says so
 * through gone(); what to do then (start another engine) is the
 * caller's.  The guard, if there is one, thaws on its own past the
 * lease in any case.
 */
#ifndef HVVSS_PRIV_H
#define HVVSS_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conf;
struct event_base;
struct guard;
struct guard_event;
struct plan;
struct priv;
struct record;

/*
 * The engine's end closed, and nothing is frozen any more (or what is
 * left could not be thawed, and the guard holds it); a job running then
 * (a FIFREEZE) was waited for first.  priv may be freed now.
 */
typedef void (*priv_gone_fn)(struct priv *, void *);

/*
 * Serve sock (the parent's end; it is priv's now) on base with c (kept,
 * not copied: it must outlive priv).  guard may be NULL (ARM is then
 * refused as failed); priv does not own it.  NULL and err on failure.
 */
struct priv *
priv_new(struct event_base *base, const struct conf *c, struct guard *guard,
    int sock, priv_gone_fn gone, void *arg, char *err, size_t errlen);

/* Thaw what is frozen, stop what runs, close the socket, free. */
void priv_free(struct priv *);

/* Tell the engine what the guard did (the caller reads the guard). */
void priv_guard(struct priv *, const struct guard_event *);

/*
 * Its engine gone: whether it went in its frozen window (FROZEN, or
 * thawing; not while freezing, a FREEZE the kernel fails itself), and
 * so left the host's THAW owed an E_FAIL; *n: what was frozen then.
 */
bool priv_thawed_behind(const struct priv *, unsigned int *n);
/* Tell a new engine so (PRIV_EV_THAWED_BEHIND), before anything else. */
void priv_tell_thawed_behind(struct priv *, unsigned int n);

/*
 * The plan as PLAN sends it: one line per item, tab-separated fields,
 * control bytes in a field shown as '?':
 *   veto <TAB> reason
 *   target <TAB> mountpoint <TAB> fstype <TAB> source <TAB> level <TAB>
 *       why there
 *   skip <TAB> mountpoint <TAB> fstype <TAB> reason
 *   more <TAB> n             (n items did not fit in max)
 * Whole lines only, at most max bytes, no NUL; returns its length.
 */
size_t priv_plan_text(const struct plan *, char *out, size_t max);
/* The hooks the parent would run (status.h, plan_hooks_read()):
 *   hooks_fail <TAB> why     (what fails every FREEZE on them, if any)
 *   hook <TAB> name          (one each, in their order)
 *   hooks_more <TAB> n       (n names did not fit in max)
 * Whole lines only, at most max bytes; its length. */
struct plan_hooks;
size_t priv_hooks_text(const struct plan_hooks *, char *out, size_t max);

/*
 * The ownership record (record.h) each filesystem is named in before it
 * is frozen, and cleared from once thawed; NULL: none.
 */
void priv_set_record(struct priv *, struct record *);

/*
 * Close the host device the parent keeps for its engines and open it
 * anew (DEVICE hands the engine a copy): when an engine is gone, so
 * that the kernel fails what it had in flight.  -errno if it cannot be
 * opened now (the next DEVICE tries again).
 */
int priv_device_renew(const struct conf *);
/* The same if it is open; 0 if not. */
int priv_device_reopen(const struct conf *);

/* No stage runs, nothing is frozen, no hook owes its thaw: the
 * configuration may change. */
bool priv_idle(const struct priv *);
/* It did (SIGHUP): a plan made by the old one is dropped, and the next
 * FREEZE plans anew (CHECK and FREEZE may straddle the reload). */
void priv_conf_changed(struct priv *);

/* The configuration file CONF opens (hv_vss_daemon -c's); NULL: none. */
void priv_set_conf_path(const char *);

/* Requests done and refused so far (for tests and the log). */
uint64_t priv_ndone(const struct priv *);
uint64_t priv_nrefused(const struct priv *);

#endif /* HVVSS_PRIV_H */
