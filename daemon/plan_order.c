/*
 * plan_order.c: the freeze order of a plan's targets.  An edge says that
 * one target must be frozen before another: "hard" ones come from
 * plan_stack.c (a filesystem on a loop device before the one that holds
 * its image), "soft" ones from mount nesting (here).  One pass of Kahn's
 * algorithm gives each target its level, the length of the longest chain
 * of targets frozen before it.  Where it stalls, the targets left are on
 * a cycle: one with a soft edge loses that edge, a cycle of loop images
 * alone has no safe order and vetoes the backup.
 */
#include <sys/types.h>

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan_int.h"
#include "util.h"

/* Kahn's algorithm, and the walk back that finds a cycle where it stalls. */
struct kahn {
	size_t *indeg; /* edges into each target from targets not yet taken */
	size_t *q; /* targets taken, in order */
	size_t head, tail;
	size_t *pos; /* a target's place on the walk back, or NONE */
	size_t *walk; /* the walk back: walk[i + 1] -> walk[i] ... */
	size_t *via; /* ... through edge via[i] */
};

/* "from" before "to"; hard: image is the loop image that says so. */
int
plan_order_add_edge(
    struct pb *pb, size_t from, size_t to, bool hard, const char *image)
{
	struct edge *e;
	size_t k;

	for (k = pb->t[from].out; k != NONE; k = pb->e[k].next)
		if (pb->e[k].to == to && pb->e[k].hard == hard)
			return 0;
	if (pb->ne == pb->ecap) {
		size_t cap = pb->ecap ? pb->ecap * 2 : 32;

		e = reallocarray(pb->e, cap, sizeof(*e));
		if (e == NULL)
			return -1;
		pb->e = e;
		pb->ecap = cap;
	}
	e = &pb->e[pb->ne];
	memset(e, 0, sizeof(*e));
	if (image != NULL && (e->image = strdup(image)) == NULL)
		return -1;
	e->from = from;
	e->to = to;
	e->hard = hard;
	e->next = pb->t[from].out;
	e->next_in = pb->t[to].in;
	pb->t[from].out = pb->t[to].in = pb->ne++;
	return 0;
}

/*
 * Mount nesting: children before their parents, "/" last, as every
 * freezer since the first fsfreeze scripts has done.  Freezing a parent
 * first turns anything that touches it while the children are frozen
 * (the freezer opening the next mount point, a helper writing a temporary
 * file, a log line) into a writer that blocks; freezing leaves first
 * keeps "/" frozen for the shortest time.  These edges are "soft": one
 * that would contradict the loop edges (a filesystem mounted inside the
 * one whose image it holds) is dropped by order_levels(), because the
 * loop order is the one that deadlocks when broken.  Each target gets an
 * edge to every target mounted above it, not just the nearest, so that
 * dropping one still leaves "/" after everything it can be after.
 */
static int
nest_edges(struct pb *pb)
{
	struct key *tname;
	char buf[PATH_MAX];
	size_t i, a;
	int rc = -1;

	if ((tname = calloc(pb->nt ? pb->nt : 1, sizeof(*tname))) == NULL)
		return -1;
	for (i = 0; i < pb->nt; i++) {
		tname[i].s = pb->m[pb->t[i].m].target;
		tname[i].i = i;
	}
	qsort(tname, pb->nt, sizeof(*tname), plan_key_cmp);
	for (i = 0; i < pb->nt; i++) {
		if (strlen(tname[i].s) >= sizeof(buf))
			continue;
		strcpy(buf, tname[i].s);
		while (plan_path_up(buf))
			if ((a = plan_key_find(tname, pb->nt, buf)) != NONE &&
			    a != tname[i].i &&
			    plan_order_add_edge(
			        pb, tname[i].i, a, false, NULL) == -1)
				goto out;
	}
	rc = 0;
out:
	free(tname);
	return rc;
}

/*
 * Of two soft edges on one cycle, the one to drop: the edge from the
 * deeper mount (the later name), then to the higher one, so that the
 * nesting kept is the nearest.
 */
static bool
drop_first(const struct pb *pb, const struct edge *a, const struct edge *b)
{
	int d = strcmp(
	    pb->m[pb->t[a->from].m].target, pb->m[pb->t[b->from].m].target);

	if (d != 0)
		return d > 0;
	return strlen(pb->m[pb->t[a->to].m].target) <
	    strlen(pb->m[pb->t[b->to].m].target);
}

/*
 * The loop images that hold each other (crafted, or a setup gone wrong),
 * named in the veto in the order of the edges, from the smallest name.
 * cyc is the cycle as walked back: cyc[i] comes after cyc[i + 1].
 */
static void
cycle_veto(struct pb *pb, const size_t *cyc, size_t n)
{
	char *vr = pb->p->veto_reason;
	size_t vs = sizeof(pb->p->veto_reason), first = 0, i;

	for (i = 1; i < n; i++)
		if (strcmp(pb->m[pb->t[cyc[i]].m].target,
		        pb->m[pb->t[cyc[first]].m].target) < 0)
			first = i;
	pb->cycle = true;
	plan_add_veto(pb->p, "cycle of loop images (each lives on the next): ");
	for (i = 0; i < n; i++)
		appendf(vr, vs, "%s -> ",
		    pb->m[pb->t[cyc[(first + n - i) % n]].m].target);
	appendf(vr, vs, "%s", pb->m[pb->t[cyc[first]].m].target);
}

/*
 * Kahn's algorithm has stalled: every target left has an edge from
 * another target left, so walking back along them (through a soft edge
 * where there is one) comes round to a target already walked: a cycle.
 * Drop its soft edge, or veto if it has none.  Returns 1 on a veto.
 */
static int
break_cycle(struct pb *pb, struct kahn *k)
{
	size_t u, e, n = 0, i, j, drop = NONE;

	for (u = 0; k->indeg[u] == 0; u++)
		;
	while (k->pos[u] == NONE) {
		k->pos[u] = n;
		k->walk[n] = u;
		k->via[n] = NONE;
		for (e = pb->t[u].in; e != NONE; e = pb->e[e].next_in)
			if (!pb->e[e].dropped && k->indeg[pb->e[e].from] > 0 &&
			    (k->via[n] == NONE || !pb->e[e].hard))
				k->via[n] = e;
		u = pb->e[k->via[n++]].from;
	}
	/* the cycle: walk[j] -> walk[n - 1] -> ... -> walk[j + 1] -> walk[j] */
	j = k->pos[u];
	for (i = 0; i < n; i++)
		k->pos[k->walk[i]] = NONE;
	for (i = j; i < n; i++)
		if (!pb->e[k->via[i]].hard &&
		    (drop == NONE ||
		        drop_first(pb, &pb->e[k->via[i]], &pb->e[drop])))
			drop = k->via[i];
	if (drop == NONE) {
		cycle_veto(pb, k->walk + j, n - j);
		return 1;
	}
	pb->e[drop].dropped = true;
	if (--k->indeg[pb->e[drop].to] == 0)
		k->q[k->tail++] = pb->e[drop].to;
	return 0;
}

/*
 * Levels: a target's level is 1 + the highest level of the targets that
 * must be frozen before it, 0 if there are none (longest path, in Kahn's
 * topological order).  The edge that decided it becomes its order_reason:
 * among the predecessors one level below, a loop edge beats nesting, then
 * the smallest mount point, so that the reason is deterministic.
 */
static int
order_levels(struct pb *pb)
{
	struct kahn k = {0};
	size_t n = pb->nt ? pb->nt : 1, i, e;
	int rc = -1;

	k.indeg = calloc(n, sizeof(*k.indeg));
	k.q = calloc(n, sizeof(*k.q));
	k.pos = calloc(n, sizeof(*k.pos));
	k.walk = calloc(n, sizeof(*k.walk));
	k.via = calloc(n, sizeof(*k.via));
	if (k.indeg == NULL || k.q == NULL || k.pos == NULL || k.walk == NULL ||
	    k.via == NULL)
		goto out;
	for (e = 0; e < pb->ne; e++)
		k.indeg[pb->e[e].to]++;
	for (i = 0; i < pb->nt; i++) {
		k.pos[i] = NONE;
		if (k.indeg[i] == 0)
			k.q[k.tail++] = i;
	}
	while (k.tail < pb->nt || k.head < k.tail) {
		if (k.head == k.tail && break_cycle(pb, &k) == 1)
			break;
		while (k.head < k.tail) {
			size_t u = k.q[k.head++];

			for (e = pb->t[u].out; e != NONE; e = pb->e[e].next) {
				size_t v = pb->e[e].to;

				if (pb->e[e].dropped)
					continue;
				if (pb->t[u].level + 1 > pb->t[v].level)
					pb->t[v].level = pb->t[u].level + 1;
				if (--k.indeg[v] == 0)
					k.q[k.tail++] = v;
			}
		}
	}
	for (e = 0; e < pb->ne && !pb->cycle; e++) {
		const struct edge *c = &pb->e[e], *b;
		struct tgt *v = &pb->t[c->to];

		if (c->dropped || pb->t[c->from].level + 1 != v->level)
			continue;
		if (v->best != NONE) {
			b = &pb->e[v->best];
			if (b->hard && !c->hard)
				continue;
			if (b->hard == c->hard &&
			    strcmp(pb->m[pb->t[b->from].m].target,
			        pb->m[pb->t[c->from].m].target) <= 0)
				continue;
		}
		v->best = e;
	}
	rc = 0;
out:
	free(k.indeg);
	free(k.q);
	free(k.pos);
	free(k.walk);
	free(k.via);
	return rc;
}

/* Nesting edges, then the levels: the freeze order. */
int
plan_order(struct pb *pb)
{
	if (nest_edges(pb) == -1)
		return -1;
	return order_levels(pb);
}

struct order {
	int level;
	const char *name;
	size_t t;
};

static int
order_cmp(const void *a, const void *b)
{
	const struct order *x = a, *y = b;

	if (x->level != y->level)
		return x->level < y->level ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* The targets into the plan, level by level, each by name. */
int
plan_order_emit(struct pb *pb)
{
	struct plan *p = pb->p;
	struct order *o;
	size_t i;

	if (pb->cycle || pb->nt == 0)
		return 0;
	if ((o = calloc(pb->nt, sizeof(*o))) == NULL)
		return -1;
	if ((p->targets = calloc(pb->nt, sizeof(*p->targets))) == NULL) {
		free(o);
		return -1;
	}
	for (i = 0; i < pb->nt; i++) {
		o[i].level = pb->t[i].level;
		o[i].name = pb->m[pb->t[i].m].target;
		o[i].t = i;
	}
	qsort(o, pb->nt, sizeof(*o), order_cmp);
	for (i = 0; i < pb->nt; i++) {
		const struct tgt *t = &pb->t[o[i].t];
		const struct ment *m = &pb->m[t->m];
		struct plan_target *pt = &p->targets[p->ntargets++];

		pt->mountpoint = strdup(m->target);
		pt->fstype = strdup(m->fstype);
		pt->source = strdup(m->source);
		if (pt->mountpoint == NULL || pt->fstype == NULL ||
		    pt->source == NULL) {
			free(o);
			return -1;
		}
		pt->dev = m->dev;
		pt->mount_id = m->id;
		pt->fsid = m->fsid;
		pt->level = t->level;
		pt->nmounts = t->nmounts;
		if (t->best != NONE) {
			const struct edge *e = &pb->e[t->best];
			const char *from = pb->m[pb->t[e->from].m].target;

			if (e->hard)
				snprintf(pt->order_reason,
				    sizeof(pt->order_reason),
				    "after %s: its image %s lives here", from,
				    e->image);
			else
				snprintf(pt->order_reason,
				    sizeof(pt->order_reason),
				    "after %s: mounted under it", from);
		}
	}
	free(o);
	return 0;
}
