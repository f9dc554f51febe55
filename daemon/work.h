/*
 * work.h: the privileged work a transaction's actions ask for (plan,
 * hooks, freeze, thaw, the guard's lease, the metrics file), behind one
 * seam: done in this process (work_local.c) or asked of the privileged
 * parent (work_priv.c, privsep mode).  daemon.c picks one at start and
 * carries out txn.c's actions through it; what ends later comes back
 * through work_cb's feed(), as any other event for the machine.
 */
#ifndef HVVSS_WORK_H
#define HVVSS_WORK_H

#include <sys/types.h>

#include <stdbool.h>
#include <stdint.h>

#include "hooks.h"
#include "txn.h"

struct apps;
struct conf;
struct daemon_view;
struct event_base;
struct evbuffer;
struct hostchan;

struct work_cb {
	/* queue a stage's result for the machine (not yet stepped) */
	struct txn_event *(*feed)(
	    enum txn_event_kind, uint64_t id, bool ok, const char *reason);
	/* step the machine on what was queued (nothing when stepping) */
	void (*pump)(void);
	/* nothing can be frozen or thawed any more: stop */
	void (*gone)(void);
	/* who ran the transaction before (a daemon, an engine) died with n
	 * filesystems frozen, thawed since behind the host's back */
	void (*thawed_behind)(size_t n, const char *who);
};

struct work_ops {
	/* the plan, then apps_check(): TE_CHECK_DONE */
	void (*check)(uint64_t id, unsigned int ms);
	/* HOOKS_FREEZE or HOOKS_THAW: TE_HOOKS_FROZEN, TE_HOOKS_THAWED */
	void (*hooks)(enum hooks_phase, uint64_t id, unsigned int ms);
	/* "abort" to the hooks that saw "freeze"; nobody waits for it */
	void (*hooks_abort)(uint64_t id, unsigned int ms);
	/* TE_FS_FROZEN; host: the host's FREEZE (once it froze, no THAW is
	 * owed for a snapshot thawed behind: record_set_behind()) */
	void (*freeze)(uint64_t id, bool host);
	void (*cancel)(uint64_t id); /* the freeze in flight, undone */
	/* TE_FS_THAWED; also the retry of a thaw that failed, while idle */
	void (*thaw)(uint64_t id);
	/* TA_LEASE: the guard's part of it */
	void (*lease)(uint64_t id, enum txn_guard, unsigned int guard_ms);
	bool (*busy)(void); /* a freeze or thaw in progress */
	size_t (*nfrozen)(void);
	/* frozen_since, the guard and the frozen paths for the status */
	void (*view)(struct daemon_view *, char *paths, size_t len);
	int (*plan)(bool json, struct evbuffer *); /* hv_vss_ctl plan */
	int (*load_conf)(struct conf *, const char *path, char *err, size_t);
	void (*reconf)(void); /* the configuration was reloaded */
	void (*settle)(void); /* nothing frozen: the hooks' output */
	void (*metrics)(const char *path); /* the metrics file written */
	void (*emergency_thaw)(void); /* fatal(): thaw before exiting */
	/* stopping: true if the process ends now (nothing is freed) */
	bool (*end)(void);
	void (*free)(void); /* after end() said false, the rest freed */
};

/* conf and apps are daemon.c's and outlive the work; host: its device
 * is opened by the parent in privsep mode. */
const struct work_ops *work_local(struct event_base *, const struct conf *,
    struct apps *, const struct work_cb *);
void work_priv_open(struct event_base *, int sock, pid_t guard_pid);
const struct work_ops *work_priv(struct event_base *, const struct conf *,
    struct apps *, struct hostchan *, const struct work_cb *);

#endif /* HVVSS_WORK_H */
