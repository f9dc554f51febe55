/*
 * engine.h: the unprivileged engine's end of the parent's socket (issue
 * 15, privproto.h): requests out, replies and events in.
 *
 * The engine (daemon.c, in privsep mode) asks; the parent does.  Most
 * requests are asynchronous: engine_send() queues them and each reply
 * comes back through the reply callback, matched by its type and txid.
 * The transaction's stages are sent one at a time (the parent refuses a
 * second one while one runs), in the order they were asked for; side
 * requests (CANCEL, COMM, PLAN, METRICS) go at once.  A few requests are
 * answered while the caller waits (engine_call(): DEVICE at connect,
 * COMM when a hold is asked for, PLAN for hv_vss_ctl plan): the parent
 * answers those at once, and whatever else arrives meanwhile is kept
 * and handed on from the loop afterwards, never from inside the call.
 */
#ifndef HVVSS_ENGINE_H
#define HVVSS_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "privproto.h"

struct event_base;

struct engine_cb {
	/* the reply to a request sent with engine_send(); req: the stage
	 * it answers (NULL for a side request's) */
	void (*reply)(
	    const struct priv_rep *, const struct priv_req *req, void *arg);
	/* an event (rep->type >= PRIV_EV_FIRST) */
	void (*event)(const struct priv_rep *, void *arg);
	/* the parent's end closed: the parent is gone, stop */
	void (*gone)(void *arg);
	void *arg;
};

/* Serve sock (ours now) on base.  -1 and err. */
int engine_open(struct event_base *, int sock, const struct engine_cb *,
    char *err, size_t errlen);
void engine_close(void);
bool engine_on(void);

/*
 * Ask: a stage waits for the ones before it, a side request goes now;
 * text/len: METRICS's text.  -errno if it cannot be queued or sent.
 */
int engine_send(
    enum priv_type, uint64_t txid, uint32_t arg, const void *text, size_t len);

/* Is a stage of this type (and txid, 0: any) queued or running? */
bool engine_pending(enum priv_type, uint64_t txid);

/* Drop the queued (not yet sent) stages of type for txid: how many. */
size_t engine_unqueue(enum priv_type, uint64_t txid);

/*
 * Ask and wait (at most timeout_ms) for the reply: *rep filled, *fd the
 * descriptor it carried (or -1), PLAN's text into text (NUL-terminated,
 * at most textmax - 1 bytes).  0, or -errno (-ETIMEDOUT, -EPIPE).  Only
 * for requests the parent answers at once, and only while no stage of
 * the same type runs.
 */
int
engine_call(enum priv_type, uint64_t txid, uint32_t arg, struct priv_rep *rep,
    int *fd, char *text, size_t textmax, unsigned int timeout_ms);

#endif /* HVVSS_ENGINE_H */
