/*
 * hvvss.h: libhvvss, the client library with which an application takes
 * part in the backups that hv_vss_daemon(8) runs for a Hyper-V host.
 *
 * The application registers with the daemon over its socket, then answers
 * what the daemon asks, through three callbacks: can a backup run now
 * (check), flush and hold your writes (freeze, with a budget in ms), and
 * resume (thaw, also after an aborted freeze).  The library owns the
 * socket and the line protocol (doc/DESIGN.md in the sources,
 * "Application socket (protocol 1)"); the application owns its loop: it
 * polls hvvss_fd() for input and calls hvvss_dispatch(), or hands its
 * thread to hvvss_run().
 *
 * Every function returns 0 or a negative errno; the library never logs,
 * never exits and never raises a signal.  A handle is used by one thread
 * at a time.  See libhvvss(3).
 */
#ifndef HVVSS_H
#define HVVSS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Where hv_vss_daemon listens unless configured otherwise. */
#define HVVSS_SOCKET_DEFAULT "/run/hv_vss/app.sock"

/* Tiers: 0 freezes first and thaws last; the protocol's default is 5. */
#define HVVSS_TIER_DEFAULT 5
#define HVVSS_TIER_MAX 9

/* How long hvvss_open waits for the daemon to accept the registration. */
#define HVVSS_OPEN_TIMEOUT_MS 5000

struct hvvss;

/*
 * What the application does when the daemon asks.  Any of them may be
 * NULL: a missing check or freeze agrees, a missing thaw does nothing.
 * A callback must not call hvvss_dispatch, hvvss_run or hvvss_close.
 */
struct hvvss_callbacks {
	/*
	 * The host asks whether a backup could run now.  Return 0 to agree
	 * (READY), anything else to refuse (VETO): then write why into
	 * reason (len bytes, NUL-terminated; if left empty the library
	 * says something from the return value).
	 */
	int (*check)(uint64_t txid, char *reason, size_t len, void *arg);

	/*
	 * Flush what must be on disk and hold further writes until thaw;
	 * return within budget_ms.  0: FROZEN, anything else: VETO with a
	 * reason, as for check.
	 */
	int (*freeze)(uint64_t txid, unsigned int budget_ms, char *reason,
	    size_t len, void *arg);

	/*
	 * Resume writing.  aborted: the freeze was called off (ABORT), or
	 * the connection to the daemon was lost while frozen.  May come
	 * for a freeze the application vetoed or has not answered yet; it
	 * must then be harmless.  The library answers THAWED when it
	 * returns.
	 */
	void (*thaw)(uint64_t txid, bool aborted, void *arg);
};

/*
 * Connect to the daemon at path (NULL: HVVSS_SOCKET_DEFAULT) and register
 * as name ([A-Za-z0-9._-]{1,64}) in tier 0..HVVSS_TIER_MAX (0 freezes first
 * and thaws last; front-ends before back-ends), telling it that a
 * freeze takes the application timeout_ms (0: not said).  On success *out
 * is the new handle.  -EINVAL (bad argument), -ENAMETOOLONG, connect(2)'s
 * errors (-ENOENT, -ECONNREFUSED: no daemon; -EACCES), -EPERM (the daemon
 * refused: ERR), -ETIMEDOUT, -ECONNRESET, -EPROTO, -ENOMEM.
 */
int hvvss_open(const char *path, const char *name, int tier,
    unsigned int timeout_ms, struct hvvss **out);

/* The callbacks and the argument passed to each; cb is copied. */
void hvvss_set_callbacks(
    struct hvvss *h, const struct hvvss_callbacks *cb, void *arg);

/* The non-blocking socket to poll for input (POLLIN) in your own loop. */
int hvvss_fd(const struct hvvss *h);

/*
 * Read what has arrived without blocking, call the callbacks for every
 * complete request and send their answers.  0, or -ECONNRESET (the daemon
 * went away: close and open again), -EPROTO (it sent something outside
 * the protocol), -ETIMEDOUT (it did not take an answer for seconds), or
 * another -errno.  After an error the handle is dead: every call returns
 * the same error, and a pending freeze has been thawed (aborted).
 */
int hvvss_dispatch(struct hvvss *h);

/* Wait for and dispatch requests until an error, which is returned
 * (-EINTR if a signal interrupted the wait; the handle then lives on). */
int hvvss_run(struct hvvss *h);

/* The id the daemon gave this registration (its logs name it). */
uint64_t hvvss_app_id(const struct hvvss *h);

/* Close the connection and free h (NULL is fine).  No callback runs. */
void hvvss_close(struct hvvss *h);

#ifdef __cplusplus
}
#endif

#endif /* HVVSS_H */
