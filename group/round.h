/*
 * round.h: the barrier of a consistency group, in etcd.
 *
 * A round is the set of FREEZEs, one per member, that overlapped in time;
 * it completes when every member has recorded that it has quiesced, and
 * ends abandoned when one gives up first.  Exactly one of the two is
 * written in etcd, by a transaction, so that members never disagree on
 * how a round ended.  README.md ("Consistency groups") and
 * hv_vss_group(8) describe the keys.
 */
#ifndef ROUND_H
#define ROUND_H

#include <stdbool.h>
#include <stdint.h>

#include "etcd.h"

#define GROUP_MAX_MEMBERS 64
#define GROUP_NAME_MAX 64

struct group_conf {
	const char *prefix; /* of every key, e.g. "/hvvss" */
	const char *group;
	const char *self;
	const char *members[GROUP_MAX_MEMBERS];
	int nmembers;
	int lease_ttl; /* seconds: a dead member's key lasts this long */
	int round_ttl; /* seconds: a round everyone left lasts this long */
};

/* How a round went, for the VETO reason, the log and the status file. */
struct round_result {
	char id[GROUP_NAME_MAX + 32]; /* the round ("" if none was joined) */
	bool complete;
	bool opened; /* this member opened the round */
	unsigned int waited_ms; /* from FREEZE to the outcome */
	/* when, in ms from the FREEZE: joined, watching, all seen */
	unsigned int joined_ms, watching_ms, all_ms;
	int npresent;
	char present[512]; /* "vm1+0ms vm2+1834ms ..." in order of arrival */
	char missing[512]; /* members that had not quiesced */
	char why[512]; /* why it was not complete */
};

struct group;

/* e for the rounds, ke for the keeper thread's leases: two clients. */
struct group *
group_new(const struct group_conf *, struct etcd *e, struct etcd *ke);
void group_free(struct group *);

/*
 * Record this member as quiesced in the current round (opening one if
 * none is open) and wait up to ms for the round to complete.  0: it did;
 * -1: it did not (abandoned by this member or another, or etcd could not
 * be reached): r says why and who was missing.
 */
int group_freeze(struct group *, unsigned int ms, struct round_result *r);

/* After the thaw: take this member out of the round it was in (the
 * keeper thread does it, without blocking). */
void group_leave(struct group *);

/* The member's leases (0: none), for the status file. */
void group_leases(struct group *, int64_t *session, int64_t *spare);

/* How often the keeper renews the leases, in ms. */
unsigned int group_tick_ms(const struct group *);

#endif /* ROUND_H */
