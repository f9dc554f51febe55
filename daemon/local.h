/*
 * local.h: hv_vss_ctl's requests that go through the machine (txn.h):
 * freeze and thaw, a held freeze tied to its connection (hold), and a
 * detached hold of the applications (hold-apps, release-apps), with
 * their answers on the control connection (ctl.h) and the holder of a
 * detached hold (holds.h).  One local request is outstanding at a time,
 * but for a release-apps, which the machine answers at once whatever is
 * owed (it calls off a hold still being taken).
 *
 * What is decided about a request is the machine's; here is who asked,
 * on which connection, and what that connection is still owed.
 */
#ifndef HVVSS_LOCAL_H
#define HVVSS_LOCAL_H

#include <stdbool.h>
#include <stddef.h>

#include "txn.h"

struct apps;
struct ctl_conn;

/* Feed one event to the machine and carry out its actions. */
typedef void (*local_feed_fn)(const struct txn_event *);

/* t: the machine, read only; feed: how requests reach it. */
void local_init(const struct txn *t, struct apps *, local_feed_fn feed);

/* ctl.h's handlers of the local requests. */
void local_freeze(struct ctl_conn *, unsigned int ms, bool hold, void *);
void local_thaw(struct ctl_conn *, void *);
void local_release(struct ctl_conn *, void *);
void local_gone(struct ctl_conn *, void *);
void
local_hold_apps(struct ctl_conn *, unsigned int ms, const char *label, void *);
void local_release_apps(struct ctl_conn *, void *);

/* The machine's actions for the local requester: TA_REPLY (local),
 * TA_PROGRESS, TA_BEGIN. */
void local_reply(const struct txn_action *);
void local_progress(const char *text);
void local_begin(const struct txn_action *);
/* After each batch of events: a request the machine no longer owes is
 * answered failed. */
void local_settle(void);
/* A detached hold being taken or in place, for status ("" if none). */
void local_hold_view(char *text, size_t, char *json, size_t);

#endif /* HVVSS_LOCAL_H */
