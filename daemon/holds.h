/*
 * holds.h: who holds the applications in a detached hold (hv_vss_ctl
 * hold), since when and until when, for status, history and the log.
 *
 * A detached hold is another backup agent's (qemu-ga's fsfreeze hook,
 * open-vm-tools' backup scripts, Azure's pre-script): the applications
 * and freeze hooks are held, no filesystem is frozen, and the hold
 * outlives the command that took it, bounded by its lease (txn.h).  The
 * holder is whoever connected, as os/peercred.h tells it, and the label
 * it gave.
 */
#ifndef HVVSS_HOLDS_H
#define HVVSS_HOLDS_H

#include <sys/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define HOLD_LABEL_MAX 64

struct holder {
	uint64_t txid; /* the HOLD's transaction; 0: none yet */
	uid_t uid;
	pid_t pid;
	char comm[32]; /* its command name when it asked (proc_comm()) */
	char label[HOLD_LABEL_MAX + 1];
	unsigned int lease_ms;
	bool held; /* the hold is in place: since and until are set */
	struct timespec since, until; /* wall clock */
};

/* A label hv_vss_ctl may pass: 1 to HOLD_LABEL_MAX of [A-Za-z0-9._:@/+-]. */
bool hold_label_ok(const char *);
/* A new hold asked for by uid/pid; label may be NULL. */
/*
 * How a holder's command name is read (proc_comm() by default; the
 * engine, which cannot open /proc, asks its parent).  NULL: the default.
 */
void holds_set_comm(int (*fn)(pid_t, char *, size_t));
void holder_ask(
    struct holder *, uid_t, pid_t, const char *label, unsigned int lease_ms);
/* Its transaction is txid. */
void holder_txid(struct holder *, uint64_t txid);
/* The hold is in place now; its lease runs from now. */
void holder_held(struct holder *);
/* "uid 0 pid 42 (qemu-ga), label qga" */
void holder_who(const struct holder *, char *, size_t);
/* The status line, "since ... until ..." included. */
void holder_text(const struct holder *, char *, size_t);
/* The status object: {"txid": .., "uid": .., ...}. */
void holder_json(const struct holder *, char *, size_t);

#endif /* HVVSS_HOLDS_H */
