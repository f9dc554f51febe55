/*
 * plan_int.h: what the three files of the freeze plan share while a plan
 * is built: plan.c selects the mounts and groups them into targets (and
 * is plan_build()), plan_stack.c walks each target's device stack to the
 * loop images under it, plan_order.c orders the targets.  Nothing else
 * includes it.
 */
#ifndef HVVSS_PLAN_INT_H
#define HVVSS_PLAN_INT_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plan.h"

#define NONE SIZE_MAX

/* One mount, copied out of the table (os/mtab.h). */
struct ment {
	char *target; /* normalized (see plan_path_normalize()) */
	char *fstype;
	char *source;
	char *root; /* btrfs subvolume or bind root */
	dev_t dev; /* superblock, as mountinfo says */
	struct fsfreeze_id fsid; /* for the freezer's check */
	int id;
	int parent_id;
	size_t parent; /* index of the parent mount, or NONE */
	bool ro; /* superblock "ro" (os/mtab.h) */
	bool covered; /* another mount sits on the same path */
	bool visible; /* reachable by its path */
};

/* One superblock to freeze. */
struct tgt {
	size_t m; /* the mount we freeze through */
	size_t nmounts; /* candidate mounts of this superblock */
	int level;
	size_t out; /* first edge from here, or NONE */
	size_t in; /* first edge to here, or NONE */
	size_t best; /* the edge that set level, or NONE */
};

/* "from" must be frozen before "to". */
struct edge {
	size_t from;
	size_t to;
	size_t next; /* next edge with the same "from" */
	size_t next_in; /* next edge with the same "to" */
	bool hard; /* loop image (required), else nesting */
	bool dropped; /* soft, on a cycle: see plan_order.c */
	char *image; /* hard: the backing file, on "to" */
};

/* A skip before it is sorted into table order. */
struct srec {
	size_t m;
	bool dup; /* names the mount that is frozen instead */
	char reason[PLAN_REASON_MAX];
};

/* A name sorted for bsearch(): mount points, ids. */
struct key {
	const char *s;
	int id;
	size_t i;
};

/* The plan being built. */
struct pb {
	struct plan *p;
	const struct conf *c;
	const char *sysfs; /* NULL: no loop or dm information */
	bool probe_loops; /* ask image devices themselves (no sysfs) */

	struct ment *m;
	size_t nm;
	struct key *vis; /* visible mounts by target */
	size_t nvis;

	struct tgt *t; /* by dev (see group_targets()) */
	size_t nt;

	struct edge *e;
	size_t ne;
	size_t ecap;

	struct srec *s;
	size_t ns;
	size_t scap;

	char *allow[CONF_MAX_LIST];
	size_t nallow;
	char *xpath[CONF_MAX_LIST];
	size_t nxpath;
	const char *xtype[CONF_MAX_LIST];
	size_t nxtype;

	bool cycle; /* of loop images: no order, a veto */
};

/* plan.c */
void plan_path_normalize(char *);
bool plan_path_up(char *);
int plan_key_cmp(const void *, const void *);
size_t plan_key_find(const struct key *, size_t, const char *);
void plan_add_veto(struct plan *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
size_t plan_tgt_by_dev(const struct pb *, dev_t);

/* plan_stack.c */
int plan_stack_edges(struct pb *, char *, size_t);

/* plan_order.c */
int plan_order_add_edge(struct pb *, size_t, size_t, bool, const char *);
int plan_order(struct pb *);
int plan_order_emit(struct pb *);

#endif
