/*
 * ctl.h: the control socket (common/ctlproto.h is the protocol, 2): who
 * may ask what, one request per connection, and the replies, framed
 * here.  What a command does is the daemon's, through the handlers
 * below (status, plan and history: daemon.c; the requests that go
 * through the machine: local.c), which write plain text: ctl.c marks
 * each line.
 */
#ifndef HVVSS_CTL_H
#define HVVSS_CTL_H

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"

struct event_base;
struct evbuffer;
struct ctl;
struct ctl_conn;

struct ctl_handlers {
	/* read-only: fill out (any lines), return 0, or -1 with the reason
	 * as the first line of out */
	int (*status)(bool json, struct evbuffer *out, void *arg);
	int (*plan)(bool json, struct evbuffer *out, void *arg);
	int (*history)(
	    unsigned int n, bool json, struct evbuffer *out, void *arg);
	/* local requests: answer later with ctl_done() (hold: ctl_frozen()
	 * first); the connection may go away meanwhile: gone() */
	void (*freeze)(
	    struct ctl_conn *, unsigned int ms, bool hold, void *arg);
	void (*thaw)(struct ctl_conn *, void *arg);
	void (*release)(struct ctl_conn *, void *arg);
	void (*gone)(struct ctl_conn *, void *arg);
	/* a detached hold (label may be NULL), and its release */
	void (*hold_apps)(
	    struct ctl_conn *, unsigned int ms, const char *label, void *arg);
	void (*release_apps)(struct ctl_conn *, void *arg);
};

struct ctl *ctl_new(struct event_base *, const struct conf *,
    const struct ctl_handlers *, void *);
void ctl_free(struct ctl *);
/* A progress line, "# <text>" (one line: a newline becomes a space). */
void ctl_progress(struct ctl_conn *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
/* A held freeze is in place: "FROZEN <txid>". */
void ctl_frozen(struct ctl_conn *, uint64_t);
/* Payload, "| " before each of its lines. */
void ctl_line(struct ctl_conn *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
/* Who asked (the socket's peer credentials, os/peercred.h). */
void ctl_peer(const struct ctl_conn *, uid_t *, pid_t *);
/* The final line, "OK" or "ERR <reason>" (one line), then close. */
void ctl_done(struct ctl_conn *, bool ok, const char *reason);

#endif /* HVVSS_CTL_H */
