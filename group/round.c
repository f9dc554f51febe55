/*
 * round.c: see round.h.  The keys, under P = <prefix>/<group>/:
 *
 *	P/open			"<round> <lease>": the round a FREEZE joins;
 *				on the round's lease, which nobody renews,
 *				so that a round everyone left expires
 *	P/r/<round>/m/<member>	the member has quiesced; on the member's own
 *				lease, renewed while its agent lives
 *	P/r/<round>/complete	every member had quiesced (round's lease)
 *	P/r/<round>/abandoned	"<member>: <why>": one gave up first
 *
 * A FREEZE creates P/open if there is none (one transaction, which also
 * records the member), or joins the round it names (a transaction that
 * holds only while P/open still names it, so nobody joins a round that
 * ended), reading the round's keys in the same transaction.  A watch on
 * P/r/, started just before, brings what happens after that read.
 * The member that sees every member present writes "complete", in a
 * transaction that requires every member key to still exist and no
 * "complete" yet; one that gives up writes "abandoned" only if there is
 * no "complete".  Both end the round by deleting P/open if it still names
 * it.  So a round either completes for all or for none, even when a
 * member gives up at the moment the last one arrives.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pthread.h>

#include "round.h"
#include "util.h"

/*
 * The leases are the keeper thread's: it renews them, grants them again
 * when they are gone and deletes the member key of a round once it is
 * over, with its own etcd client, so that etcd hanging (no quorum, a cut
 * link) never delays the agent's answer to the daemon.  The round's
 * thread only takes the ids, under mu, and grants one itself if there is
 * none yet.
 */
struct group {
	struct group_conf c;
	struct etcd *e; /* the round's client */
	struct etcd *ke; /* the keeper's */
	char p[256]; /* P */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t keeper;
	bool started, quit;
	int64_t session; /* the member's lease, 0: none */
	int64_t spare; /* a lease for the next round this opens */
	int64_t retired[8]; /* session leases to revoke */
	char round_key[512]; /* this member's key in the current round */
	char leave_key[512]; /* one for the keeper to delete */
};

/* What the watch has seen of the round being waited for. */
struct seen {
	struct group *g;
	char base[512]; /* P/r/<round>/ */
	uint64_t t0;
	long long stamp[GROUP_MAX_MEMBERS]; /* its clock when it came, ms */
	bool present[GROUP_MAX_MEMBERS];
	int order[GROUP_MAX_MEMBERS], norder;
	bool complete, abandoned;
	char abandoned_by[256];
	int64_t read; /* the revision of the read of the round's keys */
};

static unsigned int
left_ms(uint64_t end)
{
	uint64_t t = mono_ms();

	return t < end ? (unsigned int)(end - t) : 0;
}

static void *keeper(void *);

struct group *
group_new(const struct group_conf *c, struct etcd *e, struct etcd *ke)
{
	struct group *g;

	if ((g = calloc(1, sizeof(*g))) == NULL)
		return NULL;
	g->c = *c;
	g->e = e;
	g->ke = ke;
	snprintf(g->p, sizeof(g->p), "%s/%s/", c->prefix, c->group);
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	if (pthread_create(&g->keeper, NULL, keeper, g) != 0) {
		free(g);
		return NULL;
	}
	g->started = true;
	return g;
}

void
group_free(struct group *g)
{
	if (g == NULL)
		return;
	pthread_mutex_lock(&g->mu);
	g->quit = true;
	pthread_cond_signal(&g->cv);
	pthread_mutex_unlock(&g->mu);
	if (g->started)
		pthread_join(g->keeper, NULL);
	free(g);
}

void
group_leases(struct group *g, int64_t *session, int64_t *spare)
{
	pthread_mutex_lock(&g->mu);
	*session = g->session;
	*spare = g->spare;
	pthread_mutex_unlock(&g->mu);
}

unsigned int
group_tick_ms(const struct group *g)
{
	return (unsigned int)g->c.lease_ttl * 1000 / 3;
}

/* --- building transactions ----------------------------------------- */

static json_object *
cmp(const char *key, const char *target, const char *result,
    json_object *operand)
{
	json_object *o = json_object_new_object();
	char field[32];

	json_object_object_add(o, "key", etcd_str(key));
	json_object_object_add(o, "target", json_object_new_string(target));
	json_object_object_add(o, "result", json_object_new_string(result));
	snprintf(field, sizeof(field), "%s",
	    strcmp(target, "CREATE") == 0        ? "create_revision"
	        : strcmp(target, "VERSION") == 0 ? "version"
	                                         : "value");
	json_object_object_add(o, field, operand);
	return o;
}

static json_object *
op_put(const char *key, const char *value, int64_t lease)
{
	json_object *o = json_object_new_object(), *r;

	r = json_object_new_object();
	json_object_object_add(r, "key", etcd_str(key));
	json_object_object_add(r, "value", etcd_str(value));
	if (lease != 0)
		json_object_object_add(r, "lease", etcd_i64(lease));
	json_object_object_add(o, "request_put", r);
	return o;
}

static json_object *
op_delete(const char *key)
{
	json_object *o = json_object_new_object(), *r;

	r = json_object_new_object();
	json_object_object_add(r, "key", etcd_str(key));
	json_object_object_add(o, "request_delete_range", r);
	return o;
}

static json_object *
op_range(const char *key)
{
	json_object *o = json_object_new_object(), *r;

	r = json_object_new_object();
	json_object_object_add(r, "key", etcd_str(key));
	json_object_object_add(o, "request_range", r);
	return o;
}

static json_object *
txn_new(json_object **compare, json_object **success, json_object **failure)
{
	json_object *t = json_object_new_object();

	*compare = json_object_new_array();
	*success = json_object_new_array();
	*failure = json_object_new_array();
	json_object_object_add(t, "compare", *compare);
	json_object_object_add(t, "success", *success);
	json_object_object_add(t, "failure", *failure);
	return t;
}

/* Delete P/open if it still holds openval: a nested transaction. */
static json_object *
op_close(struct group *g, const char *openval)
{
	json_object *o = json_object_new_object(), *t, *c, *s, *f;
	char key[300];

	snprintf(key, sizeof(key), "%sopen", g->p);
	t = txn_new(&c, &s, &f);
	json_object_array_add(c, cmp(key, "VALUE", "EQUAL", etcd_str(openval)));
	json_object_array_add(s, op_delete(key));
	json_object_object_add(o, "request_txn", t);
	return o;
}

static bool
succeeded(json_object *ans)
{
	json_object *f;

	return json_object_object_get_ex(ans, "succeeded", &f) &&
	    json_object_get_boolean(f);
}

/* --- leases ---------------------------------------------------------- */

/*
 * Take the lease in *slot (session or spare), granting one with e if
 * there is none; 0 and *id, or a negative errno.
 */
static int
take_lease(struct group *g, struct etcd *e, int64_t *slot, int ttl,
    unsigned int ms, int64_t *id)
{
	int64_t got;
	int rc;

	pthread_mutex_lock(&g->mu);
	*id = *slot;
	pthread_mutex_unlock(&g->mu);
	if (*id != 0)
		return 0;
	if ((rc = etcd_lease_grant(e, ttl, &got, ms)) < 0)
		return rc;
	pthread_mutex_lock(&g->mu);
	if (*slot == 0)
		*slot = got;
	*id = *slot; /* the other thread's, if it was first */
	pthread_mutex_unlock(&g->mu);
	if (*id != got)
		etcd_lease_revoke(e, got, ms);
	return 0;
}

/* Renew the lease in *slot; forget it if it is gone. */
static void
renew(struct group *g, int64_t *slot, unsigned int ms)
{
	int64_t id;
	int ttl, rc;

	pthread_mutex_lock(&g->mu);
	id = *slot;
	pthread_mutex_unlock(&g->mu);
	if (id == 0)
		return;
	rc = etcd_lease_keepalive(g->ke, id, &ttl, ms);
	if (rc == 0 && ttl <= 0) {
		pthread_mutex_lock(&g->mu);
		if (*slot == id)
			*slot = 0;
		pthread_mutex_unlock(&g->mu);
	}
}

/*
 * A FREEZE that failed on etcd's account may have written this member's
 * key anyway: a transaction that timed out here can still be committed
 * once etcd is back, and would count the member as quiesced in a round
 * it no longer waits in.  So its session lease is retired: revoked as
 * soon as etcd answers (which deletes any key on it, and makes such a
 * late transaction fail), and a new one taken for the next FREEZE.
 */
static void
retire_session(struct group *g)
{
	int i;

	pthread_mutex_lock(&g->mu);
	for (i = 0; i < 8 && g->session != 0; i++)
		if (g->retired[i] == 0) {
			g->retired[i] = g->session;
			g->session = 0;
		}
	pthread_cond_signal(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

static void
revoke_retired(struct group *g)
{
	int64_t id;
	int i, rc;

	for (i = 0; i < 8; i++) {
		pthread_mutex_lock(&g->mu);
		id = g->retired[i];
		pthread_mutex_unlock(&g->mu);
		if (id == 0)
			continue;
		rc = etcd_lease_revoke(g->ke, id, 1000);
		if (rc == 0 || rc == -EIO) { /* -EIO: gone already */
			pthread_mutex_lock(&g->mu);
			g->retired[i] = 0;
			pthread_mutex_unlock(&g->mu);
		}
	}
}

static void *
keeper(void *arg)
{
	struct group *g = arg;
	char key[512];
	struct timespec ts;
	int64_t id;
	unsigned int ms = group_tick_ms(g);

	for (;;) {
		revoke_retired(g);
		renew(g, &g->session, 1000);
		renew(g, &g->spare, 1000);
		take_lease(g, g->ke, &g->session, g->c.lease_ttl, 1000, &id);
		take_lease(g, g->ke, &g->spare, g->c.round_ttl, 1000, &id);
		pthread_mutex_lock(&g->mu);
		snprintf(key, sizeof(key), "%s", g->leave_key);
		pthread_mutex_unlock(&g->mu);
		if (key[0] != '\0') {
			json_object *t, *c, *s, *f, *ans;

			t = txn_new(&c, &s, &f);
			json_object_array_add(s, op_delete(key));
			if (etcd_call(g->ke, "/v3/kv/txn", t, 1000, &ans) ==
			    0) {
				json_object_put(ans);
				pthread_mutex_lock(&g->mu);
				if (strcmp(g->leave_key, key) == 0)
					g->leave_key[0] = '\0';
				pthread_mutex_unlock(&g->mu);
			}
		}
		pthread_mutex_lock(&g->mu);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += ms / 1000;
		ts.tv_nsec += (long)(ms % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		while (!g->quit && g->leave_key[0] == '\0' &&
		    pthread_cond_timedwait(&g->cv, &g->mu, &ts) == 0)
			;
		if (g->quit) {
			pthread_mutex_unlock(&g->mu);
			return NULL;
		}
		pthread_mutex_unlock(&g->mu);
	}
}

/* --- the round ------------------------------------------------------- */

static int
member_index(const struct group *g, const char *name)
{
	int i;

	for (i = 0; i < g->c.nmembers; i++)
		if (strcmp(g->c.members[i], name) == 0)
			return i;
	return -1;
}

static void
on_event(const struct etcd_event *ev, void *arg)
{
	struct seen *s = arg;
	size_t n = strlen(s->base);
	const char *rest;
	int i;

	/* another round's, or one the join's read has already */
	if (n == 0 || strncmp(ev->key, s->base, n) != 0 ||
	    (s->read > 0 && ev->mod_revision <= s->read))
		return;
	rest = ev->key + n;
	if (strncmp(rest, "m/", 2) == 0) {
		if ((i = member_index(s->g, rest + 2)) < 0)
			return; /* not a member of ours: ignored */
		if (ev->type == 0 && !s->present[i]) {
			s->present[i] = true;
			s->stamp[i] = strtoll(ev->value, NULL, 10);
			if (s->norder < GROUP_MAX_MEMBERS)
				s->order[s->norder++] = i;
		} else if (ev->type == 1)
			s->present[i] = false;
	} else if (strcmp(rest, "complete") == 0 && ev->type == 0)
		s->complete = true;
	else if (strcmp(rest, "abandoned") == 0 && ev->type == 0) {
		s->abandoned = true;
		snprintf(
		    s->abandoned_by, sizeof(s->abandoned_by), "%s", ev->value);
	}
}

static bool
all_present(const struct seen *s)
{
	int i;

	for (i = 0; i < s->g->c.nmembers; i++)
		if (!s->present[i])
			return false;
	return true;
}

static int64_t
own_lease(struct group *g)
{
	int64_t session, spare;

	group_leases(g, &session, &spare);
	return session;
}

/* A key on a lease that no longer exists fails the whole transaction. */
static bool
lease_gone(struct group *g, int rc)
{
	return rc == -EIO && strstr(etcd_error(g->e), "lease not found");
}

/* Drop the lease in *slot if it is still id: it is gone. */
static void
forget(struct group *g, int64_t *slot, int64_t id)
{
	pthread_mutex_lock(&g->mu);
	if (*slot == id)
		*slot = 0;
	pthread_mutex_unlock(&g->mu);
}

static json_object *
op_range_prefix(const char *prefix)
{
	json_object *o = json_object_new_object(), *r;

	r = json_object_new_object();
	json_object_object_add(r, "key", etcd_str(prefix));
	json_object_object_add(r, "range_end", etcd_prefix_end(prefix));
	json_object_object_add(o, "request_range", r);
	return o;
}

/* The round's keys from the join's read (its second response). */
static void
read_keys(struct seen *sn, json_object *ans)
{
	json_object *resp, *rr, *kvs, *kv, *h;
	struct etcd_event ev;
	char *key, *val;
	size_t i, n = 0;

	if (json_object_object_get_ex(ans, "responses", &resp) &&
	    (rr = json_object_array_get_idx(resp, 1)) != NULL &&
	    json_object_object_get_ex(rr, "response_range", &rr) &&
	    json_object_object_get_ex(rr, "kvs", &kvs))
		n = json_object_array_length(kvs);
	for (i = 0; i < n; i++) {
		kv = json_object_array_get_idx(kvs, i);
		key = etcd_unb64(kv, "key", NULL);
		val = etcd_unb64(kv, "value", NULL);
		ev.type = 0;
		ev.key = key ? key : "";
		ev.value = val ? val : "";
		ev.mod_revision = etcd_get_i64(kv, "mod_revision");
		on_event(&ev, sn);
		free(key);
		free(val);
	}
	json_object_object_get_ex(ans, "header", &h);
	sn->read = etcd_get_i64(h, "revision");
}

/*
 * Open a round or join the open one.  0 and the round's id and its P/open
 * value, with sn holding the round's keys as of the joining transaction
 * (sn->read: its revision); or a negative errno.  The watch (on every
 * round of the group, from before this) delivers what comes after.
 */
static int
join(struct group *g, struct seen *sn, char *id, size_t idlen, char *openval,
    size_t vlen, bool *opened, uint64_t end)
{
	json_object *t, *c, *s, *f, *ans, *resp, *rr, *kvs, *kv;
	char key[300], mkey[600], stamp[32];
	struct timespec ts;
	char *v;
	int64_t session, spare;
	int rc, attempt;

	snprintf(key, sizeof(key), "%sopen", g->p);
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(stamp, sizeof(stamp), "%lld",
	    (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	for (attempt = 0; attempt < 5; attempt++) {
		if ((rc = take_lease(g, g->e, &g->session, g->c.lease_ttl,
		         left_ms(end), &session)) < 0 ||
		    (rc = take_lease(g, g->e, &g->spare, g->c.round_ttl,
		         left_ms(end), &spare)) < 0)
			return rc;
		/* a new round: "<unix ms>-<member>", readable in logs */
		snprintf(id, idlen, "%s-%s", stamp, g->c.self);
		snprintf(
		    openval, vlen, "%s %llx", id, (unsigned long long)spare);
		snprintf(
		    mkey, sizeof(mkey), "%sr/%s/m/%s", g->p, id, g->c.self);
		t = txn_new(&c, &s, &f);
		json_object_array_add(
		    c, cmp(key, "CREATE", "EQUAL", etcd_i64(0)));
		json_object_array_add(s, op_put(key, openval, spare));
		json_object_array_add(s, op_put(mkey, stamp, session));
		json_object_array_add(f, op_range(key));
		rc = etcd_call(g->e, "/v3/kv/txn", t, left_ms(end), &ans);
		if (lease_gone(g, rc)) {
			/* expired while etcd was out of reach: new ones */
			forget(g, &g->session, session);
			forget(g, &g->spare, spare);
			continue;
		}
		if (rc < 0)
			return rc;
		if (succeeded(ans)) {
			json_object *h;
			struct etcd_event ev = {0, mkey, stamp, 0};

			/* a new round: we are all there is of it */
			snprintf(
			    sn->base, sizeof(sn->base), "%sr/%s/", g->p, id);
			on_event(&ev, sn);
			json_object_object_get_ex(ans, "header", &h);
			sn->read = etcd_get_i64(h, "revision");
			*opened = true;
			/* the round's now: nobody renews it */
			pthread_mutex_lock(&g->mu);
			if (g->spare == spare)
				g->spare = 0;
			pthread_mutex_unlock(&g->mu);
			json_object_put(ans);
			return 0;
		}
		/* somebody's round is open: its id, value and revision */
		v = NULL;
		if (json_object_object_get_ex(ans, "responses", &resp) &&
		    (rr = json_object_array_get_idx(resp, 0)) != NULL &&
		    json_object_object_get_ex(rr, "response_range", &rr) &&
		    json_object_object_get_ex(rr, "kvs", &kvs) &&
		    (kv = json_object_array_get_idx(kvs, 0)) != NULL) {
			v = etcd_unb64(kv, "value", NULL);
		}
		json_object_put(ans);
		if (v == NULL)
			continue; /* it ended between the two: again */
		snprintf(openval, vlen, "%s", v);
		free(v);
		snprintf(
		    id, idlen, "%.*s", (int)strcspn(openval, " "), openval);
		snprintf(
		    mkey, sizeof(mkey), "%sr/%s/m/%s", g->p, id, g->c.self);
		snprintf(sn->base, sizeof(sn->base), "%sr/%s/", g->p, id);
		t = txn_new(&c, &s, &f);
		json_object_array_add(
		    c, cmp(key, "VALUE", "EQUAL", etcd_str(openval)));
		json_object_array_add(s, op_put(mkey, stamp, session));
		json_object_array_add(s, op_range_prefix(sn->base));
		rc = etcd_call(g->e, "/v3/kv/txn", t, left_ms(end), &ans);
		if (lease_gone(g, rc)) {
			forget(g, &g->session, session);
			continue;
		}
		if (rc < 0)
			return rc;
		rc = succeeded(ans);
		if (rc)
			read_keys(sn, ans);
		json_object_put(ans);
		if (rc) {
			*opened = false;
			return 0;
		}
		sn->base[0] = '\0';
	}
	return -EAGAIN;
}

/* Every member is in: write "complete" unless someone left meanwhile. */
static int
try_complete(struct group *g, struct seen *s, const char *openval,
    int64_t lease, uint64_t end)
{
	json_object *t, *c, *sc, *f, *ans;
	char key[700];
	int i, rc;

	t = txn_new(&c, &sc, &f);
	for (i = 0; i < g->c.nmembers; i++) {
		snprintf(key, sizeof(key), "%sm/%s", s->base, g->c.members[i]);
		json_object_array_add(
		    c, cmp(key, "VERSION", "GREATER", etcd_i64(0)));
	}
	snprintf(key, sizeof(key), "%scomplete", s->base);
	json_object_array_add(c, cmp(key, "CREATE", "EQUAL", etcd_i64(0)));
	json_object_array_add(sc, op_put(key, g->c.self, lease));
	json_object_array_add(sc, op_close(g, openval));
	rc = etcd_call(g->e, "/v3/kv/txn", t, left_ms(end), &ans);
	if (lease_gone(g, rc) && lease != own_lease(g))
		return try_complete(g, s, openval, own_lease(g), end);
	if (rc < 0)
		return rc;
	rc = succeeded(ans);
	json_object_put(ans);
	return rc;
}

/* Give up: "abandoned" unless it completed; 1 if it had completed. */
static int
abandon(struct group *g, struct seen *s, const char *openval, int64_t lease,
    const char *why, unsigned int ms)
{
	json_object *t, *c, *sc, *f, *ans;
	char key[700], val[700];
	int rc;

	t = txn_new(&c, &sc, &f);
	snprintf(key, sizeof(key), "%scomplete", s->base);
	json_object_array_add(c, cmp(key, "CREATE", "EQUAL", etcd_i64(0)));
	snprintf(key, sizeof(key), "%sabandoned", s->base);
	snprintf(val, sizeof(val), "%s: %s", g->c.self, why);
	json_object_array_add(sc, op_put(key, val, lease));
	snprintf(key, sizeof(key), "%sm/%s", s->base, g->c.self);
	json_object_array_add(sc, op_delete(key));
	json_object_array_add(sc, op_close(g, openval));
	rc = etcd_call(g->e, "/v3/kv/txn", t, ms, &ans);
	if (lease_gone(g, rc) && lease != own_lease(g))
		return abandon(g, s, openval, own_lease(g), why, ms);
	if (rc < 0)
		return rc;
	rc = !succeeded(ans);
	json_object_put(ans);
	return rc;
}

/*
 * Who came when: each member's key holds its own clock's time of
 * arrival, and the first is +0ms (the members' clocks are compared: on
 * VMs kept by NTP, within milliseconds).
 */
static void
describe(const struct group *g, const struct seen *s, struct round_result *r)
{
	long long first = 0;
	size_t n = 0;
	int i, k;

	int order[GROUP_MAX_MEMBERS], j;

	r->present[0] = r->missing[0] = '\0';
	r->npresent = 0;
	/* in order of arrival */
	for (k = 0; k < s->norder; k++) {
		i = s->order[k];
		for (j = k; j > 0 && s->stamp[order[j - 1]] > s->stamp[i]; j--)
			order[j] = order[j - 1];
		order[j] = i;
		if (s->present[i] && (first == 0 || s->stamp[i] < first))
			first = s->stamp[i];
	}
	for (k = 0; k < s->norder; k++) {
		i = order[k];
		if (!s->present[i])
			continue;
		r->npresent++;
		n += (size_t)snprintf(r->present + n,
		    n < sizeof(r->present) ? sizeof(r->present) - n : 0,
		    "%s%s+%lldms", n ? " " : "", g->c.members[i],
		    s->stamp[i] - first);
		if (n >= sizeof(r->present))
			n = sizeof(r->present) - 1;
	}
	n = 0;
	for (i = 0; i < g->c.nmembers; i++) {
		if (s->present[i])
			continue;
		n += (size_t)snprintf(r->missing + n,
		    n < sizeof(r->missing) ? sizeof(r->missing) - n : 0, "%s%s",
		    n ? " " : "", g->c.members[i]);
		if (n >= sizeof(r->missing))
			n = sizeof(r->missing) - 1;
	}
}

int
group_freeze(struct group *g, unsigned int ms, struct round_result *r)
{
	struct seen *s;
	struct etcd_watch *w = NULL;
	char openval[GROUP_NAME_MAX + 64], prefix[512];
	uint64_t end, t0 = mono_ms();
	int64_t lease;
	char etcd_why[300] = "";
	bool tried = false;
	unsigned int reserve;
	int rc;

	/* keep a fifth (at most a second) to record giving up, so that a
	 * VETO still comes within ms */
	reserve = ms / 5 < 1000 ? ms / 5 : 1000;
	end = t0 + ms - reserve;
	memset(r, 0, sizeof(*r));
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(r->why, sizeof(r->why), "out of memory");
		return -1;
	}
	s->g = g;
	s->t0 = t0;
	pthread_mutex_lock(&g->mu);
	g->round_key[0] = '\0';
	pthread_mutex_unlock(&g->mu);
	/*
	 * The watch first, on every round of the group and from now: one
	 * that starts at a past revision is caught up by etcd in a loop
	 * every 100 ms, one from now gets each event at once.  What came
	 * before, the join reads in its own transaction.
	 */
	snprintf(prefix, sizeof(prefix), "%sr/", g->p);
	rc = etcd_watch_start(g->e, prefix, 0, on_event, s, left_ms(end), &w);
	if (rc == 0)
		rc = join(g, s, r->id, sizeof(r->id), openval, sizeof(openval),
		    &r->opened, end + reserve);
	if (rc < 0) {
		snprintf(r->why, sizeof(r->why), "etcd: %s",
		    rc == -EAGAIN ? "rounds kept ending" : etcd_error(g->e));
		r->id[0] = '\0';
		r->waited_ms = (unsigned int)(mono_ms() - t0);
		etcd_watch_free(w);
		free(s);
		retire_session(g);
		return -1;
	}
	r->joined_ms = (unsigned int)(mono_ms() - t0);
	lease = strtoll(
	    strchr(openval, ' ') ? strchr(openval, ' ') + 1 : "0", NULL, 16);
	pthread_mutex_lock(&g->mu);
	snprintf(
	    g->round_key, sizeof(g->round_key), "%sm/%s", s->base, g->c.self);
	pthread_mutex_unlock(&g->mu);
	r->watching_ms = (unsigned int)(mono_ms() - t0);
	while (!s->complete && !s->abandoned) {
		if (all_present(s) && !tried) {
			tried = true;
			r->all_ms = (unsigned int)(mono_ms() - t0);
			rc = try_complete(g, s, openval, lease, end);
			if (rc == 1) {
				s->complete = true;
				break;
			}
			/* 0: someone left or completed it first, and the
			 * watch tells which; < 0: try again */
			if (rc < 0)
				tried = false;
		}
		if (left_ms(end) == 0)
			goto giveup;
		if ((rc = etcd_watch_wait(
		         w, left_ms(end) < 200 ? left_ms(end) : 200)) < 0) {
			snprintf(etcd_why, sizeof(etcd_why), "; etcd: %s",
			    etcd_error(g->e));
			goto giveup;
		}
		if (!all_present(s))
			tried = false;
	}
	describe(g, s, r);
	if (s->abandoned)
		snprintf(
		    r->why, sizeof(r->why), "abandoned by %s", s->abandoned_by);
	r->complete = s->complete;
	goto out;

giveup:
	describe(g, s, r);
	snprintf(r->why, sizeof(r->why), "missing %s%s", r->missing, etcd_why);
	/* the rest of the time for the verdict, which etcd must record */
	rc = abandon(g, s, openval, lease, r->why,
	    left_ms(end + reserve) ? left_ms(end + reserve) : 1);
	if (rc == 1) {
		r->complete = true;
		r->why[0] = '\0';
	} else if (rc < 0 && etcd_why[0] == '\0') {
		size_t n = strlen(r->why);

		snprintf(r->why + n, sizeof(r->why) - n, "; etcd: %s",
		    etcd_error(g->e));
	}
	if (rc < 0)
		retire_session(g); /* our key may still be there */
out:
	etcd_watch_free(w);
	r->waited_ms = (unsigned int)(mono_ms() - t0);
	free(s);
	return r->complete ? 0 : -1;
}

void
group_leave(struct group *g)
{
	pthread_mutex_lock(&g->mu);
	if (g->round_key[0] != '\0') {
		memcpy(g->leave_key, g->round_key, sizeof(g->leave_key));
		g->round_key[0] = '\0';
		pthread_cond_signal(&g->cv);
	}
	pthread_mutex_unlock(&g->mu);
}
