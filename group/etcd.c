/*
 * etcd.c: see etcd.h.
 *
 * One curl easy handle serves the plain requests, so that its connection
 * to the member stays open between them: a group round is a handful of
 * requests, and a new TCP connection each time would be most of its
 * cost.  The watch has a handle of its own on a multi handle, because its
 * answer never ends.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "etcd.h"
#include "util.h"

#define ETCD_BODY_MAX (4 << 20) /* an answer larger than this is refused */

struct buf {
	char *p;
	size_t len, cap;
};

struct etcd {
	struct etcd_conf c;
	int cur; /* the endpoint tried first */
	CURL *easy;
	struct curl_slist *hdrs;
	char *token; /* etcd auth */
	char err[512];
};

struct etcd_watch {
	struct etcd *e;
	char *prefix;
	int64_t next; /* the revision to resume from */
	int64_t id;
	etcd_event_fn fn;
	void *arg;
	CURLM *multi;
	CURL *easy;
	struct curl_slist *hdrs;
	char *body;
	struct buf in; /* what the stream sent and was not parsed yet */
	bool created;
	bool broken;
	int fail; /* the error that broke it */
	char ep[256];
};

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void seterr(struct etcd *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
seterr(struct etcd *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->err, sizeof(e->err), fmt, ap);
	va_end(ap);
}

static size_t
buf_add(void *data, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;
	size_t len = size * n;
	char *p;

	if (b->len + len + 1 > ETCD_BODY_MAX)
		return 0; /* curl fails the transfer */
	if (b->len + len + 1 > b->cap) {
		size_t cap = (b->len + len + 1) * 2;

		if ((p = realloc(b->p, cap)) == NULL)
			return 0;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
	return len;
}

json_object *
etcd_b64(const char *s, size_t len)
{
	char *out, *o;
	size_t i;
	json_object *j;

	if ((out = o = malloc(4 * (len / 3 + 1) + 1)) == NULL)
		return NULL;
	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint8_t)s[i] << 16 | (uint8_t)s[i + 1] << 8 |
		    (uint8_t)s[i + 2];
		*o++ = b64chars[v >> 18];
		*o++ = b64chars[(v >> 12) & 63];
		*o++ = b64chars[(v >> 6) & 63];
		*o++ = b64chars[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint8_t)s[i] << 16;

		if (i + 1 < len)
			v |= (uint8_t)s[i + 1] << 8;
		*o++ = b64chars[v >> 18];
		*o++ = b64chars[(v >> 12) & 63];
		*o++ = i + 1 < len ? b64chars[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	*o = '\0';
	j = json_object_new_string(out);
	free(out);
	return j;
}

json_object *
etcd_str(const char *s)
{
	return etcd_b64(s, strlen(s));
}

json_object *
etcd_i64(int64_t v)
{
	char s[32];

	snprintf(s, sizeof(s), "%lld", (long long)v);
	return json_object_new_string(s);
}

json_object *
etcd_prefix_end(const char *prefix)
{
	size_t len = strlen(prefix);
	char end[512];

	/* the key after every key starting with prefix: last byte + 1 */
	if (len == 0 || len >= sizeof(end))
		return NULL;
	memcpy(end, prefix, len);
	end[len - 1]++;
	return etcd_b64(end, len);
}

static int
b64val(int c)
{
	const char *p;

	if (c == '\0' || (p = strchr(b64chars, c)) == NULL)
		return -1;
	return (int)(p - b64chars);
}

char *
etcd_unb64(json_object *o, const char *field, size_t *lenp)
{
	json_object *f;
	const char *s;
	char *out;
	size_t n = 0, i;
	uint32_t acc = 0;
	int bits = 0, v;

	if (!json_object_object_get_ex(o, field, &f))
		return NULL;
	s = json_object_get_string(f);
	if ((out = malloc(strlen(s) + 1)) == NULL)
		return NULL;
	for (i = 0; s[i] != '\0' && s[i] != '='; i++) {
		if ((v = b64val(s[i])) < 0) {
			free(out);
			return NULL;
		}
		acc = acc << 6 | (uint32_t)v;
		if ((bits += 6) >= 8) {
			bits -= 8;
			out[n++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[n] = '\0';
	if (lenp != NULL)
		*lenp = n;
	return out;
}

int64_t
etcd_get_i64(json_object *o, const char *field)
{
	json_object *f;

	if (o == NULL || !json_object_object_get_ex(o, field, &f))
		return 0;
	return json_object_get_int64(f); /* parses the gateway's strings */
}

static void
set_tls(const struct etcd *e, CURL *c)
{
	if (e->c.cacert != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, e->c.cacert);
	if (e->c.cert != NULL)
		curl_easy_setopt(c, CURLOPT_SSLCERT, e->c.cert);
	if (e->c.key != NULL)
		curl_easy_setopt(c, CURLOPT_SSLKEY, e->c.key);
}

struct etcd *
etcd_new(const struct etcd_conf *c)
{
	static bool inited;
	struct etcd *e;

	if (c->nendpoints < 1 || c->nendpoints > ETCD_MAX_ENDPOINTS)
		return NULL;
	if (!inited) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
			return NULL;
		inited = true;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	e->c = *c;
	if (e->c.connect_ms == 0)
		e->c.connect_ms = 1000;
	if (e->c.attempt_ms == 0)
		e->c.attempt_ms = 1500;
	if ((e->easy = curl_easy_init()) == NULL) {
		free(e);
		return NULL;
	}
	e->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_setopt(e->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e->easy, CURLOPT_TCP_NODELAY, 1L);
	set_tls(e, e->easy);
	return e;
}

void
etcd_free(struct etcd *e)
{
	if (e == NULL)
		return;
	curl_easy_cleanup(e->easy);
	curl_slist_free_all(e->hdrs);
	free(e->token);
	free(e);
}

const char *
etcd_error(const struct etcd *e)
{
	return e->err;
}

const char *
etcd_endpoint(const struct etcd *e)
{
	return e->c.endpoints[e->cur];
}

/* The headers of a request: JSON, and the auth token if we have one. */
static struct curl_slist *
headers(const struct etcd *e)
{
	struct curl_slist *h;
	char line[600];

	h = curl_slist_append(NULL, "Content-Type: application/json");
	if (e->token != NULL) {
		snprintf(line, sizeof(line), "Authorization: %s", e->token);
		h = curl_slist_append(h, line);
	}
	return h;
}

/* One POST to one endpoint.  1: try another endpoint, 0 or -errno: done. */
static int
post_one(struct etcd *e, const char *ep, const char *path, const char *body,
    unsigned int ms, json_object **out, long *status)
{
	char url[600];
	struct buf b = {0};
	struct curl_slist *h;
	CURLcode cc;
	json_object *j, *msg;

	snprintf(url, sizeof(url), "%s%s", ep, path);
	h = headers(e);
	curl_easy_setopt(e->easy, CURLOPT_URL, url);
	curl_easy_setopt(e->easy, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e->easy, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e->easy, CURLOPT_WRITEFUNCTION, buf_add);
	curl_easy_setopt(e->easy, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(e->easy, CURLOPT_TIMEOUT_MS, (long)(ms ? ms : 1));
	curl_easy_setopt(e->easy, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)(ms < e->c.connect_ms ? (ms ? ms : 1) : e->c.connect_ms));
	cc = curl_easy_perform(e->easy);
	curl_slist_free_all(h);
	if (cc != CURLE_OK) {
		seterr(e, "%s: %s", ep, curl_easy_strerror(cc));
		free(b.p);
		return 1;
	}
	curl_easy_getinfo(e->easy, CURLINFO_RESPONSE_CODE, status);
	j = b.p != NULL ? json_tokener_parse(b.p) : NULL;
	if (j == NULL) {
		seterr(e, "%s%s: HTTP %ld, not JSON", ep, path, *status);
		free(b.p);
		return *status >= 500 ? 1 : -EPROTO;
	}
	free(b.p);
	if (*status != 200) {
		if (!json_object_object_get_ex(j, "message", &msg) &&
		    !json_object_object_get_ex(j, "error", &msg))
			msg = NULL;
		seterr(e, "%s%s: HTTP %ld: %s", ep, path, *status,
		    msg ? json_object_get_string(msg) : "?");
		json_object_put(j);
		/* unavailable, no leader, timed out: another member may do */
		return *status >= 500 ? 1 : -EIO;
	}
	*out = j;
	return 0;
}

static int authenticate(struct etcd *, unsigned int);

int
etcd_call(struct etcd *e, const char *path, json_object *body, unsigned int ms,
    json_object **out)
{
	uint64_t end = mono_ms() + ms, t;
	const char *s;
	long status = 0;
	int i, rc = -ETIMEDOUT, tries = 0, reauth = 0;

	*out = NULL;
	if (e->c.user != NULL && e->token == NULL &&
	    (rc = authenticate(e, ms)) < 0) {
		json_object_put(body);
		return rc;
	}
	s = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
	for (i = 0; (t = mono_ms()) < end || tries == 0; i++) {
		/*
		 * No more than attempt_ms on one member: one that lost its
		 * leader holds a request until its own timeout (7 s), while
		 * the others may have elected a new one within a second.
		 * Every request we make can be repeated: the transactions
		 * are conditional, a lease grant at worst grants one more.
		 */
		unsigned int left = (unsigned int)(end > t ? end - t : 1);

		rc = post_one(e, e->c.endpoints[e->cur], path, s,
		    left < e->c.attempt_ms ? left : e->c.attempt_ms, out,
		    &status);
		tries++;
		if (rc == -EIO && status == 401 && e->c.user != NULL &&
		    reauth++ == 0) {
			/* the token expired: once more with a new one */
			free(e->token);
			e->token = NULL;
			if ((rc = authenticate(
			         e, (unsigned int)(end > t ? end - t : 1))) < 0)
				break;
			curl_slist_free_all(e->hdrs);
			e->hdrs = headers(e);
			continue;
		}
		if (rc <= 0)
			break;
		rc = -ETIMEDOUT;
		e->cur = (e->cur + 1) % e->c.nendpoints;
		if (i + 1 >= 8 * e->c.nendpoints)
			break;
	}
	json_object_put(body);
	return rc;
}

/* etcd auth: exchange the user's password for a token. */
static int
authenticate(struct etcd *e, unsigned int ms)
{
	json_object *req, *ans = NULL, *tok;
	char *user = (char *)e->c.user;
	int rc;

	e->c.user = NULL; /* this request goes without a token */
	req = json_object_new_object();
	json_object_object_add(req, "name", json_object_new_string(user));
	json_object_object_add(req, "password",
	    json_object_new_string(e->c.password ? e->c.password : ""));
	rc = etcd_call(e, "/v3/auth/authenticate", req, ms, &ans);
	e->c.user = user;
	if (rc < 0)
		return rc;
	if (!json_object_object_get_ex(ans, "token", &tok)) {
		seterr(e, "%s: authenticate: no token", etcd_endpoint(e));
		json_object_put(ans);
		return -EACCES;
	}
	e->token = strdup(json_object_get_string(tok));
	json_object_put(ans);
	return e->token ? 0 : -ENOMEM;
}

int
etcd_lease_grant(struct etcd *e, int ttl, int64_t *id, unsigned int ms)
{
	json_object *req = json_object_new_object(), *ans;
	int rc;

	json_object_object_add(req, "TTL", etcd_i64(ttl));
	if ((rc = etcd_call(e, "/v3/lease/grant", req, ms, &ans)) < 0)
		return rc;
	*id = etcd_get_i64(ans, "ID");
	json_object_put(ans);
	if (*id == 0) {
		seterr(e, "%s: lease grant: no ID", etcd_endpoint(e));
		return -EPROTO;
	}
	return 0;
}

int
etcd_lease_keepalive(struct etcd *e, int64_t id, int *ttl, unsigned int ms)
{
	json_object *req = json_object_new_object(), *ans, *res;
	int rc;

	json_object_object_add(req, "ID", etcd_i64(id));
	if ((rc = etcd_call(e, "/v3/lease/keepalive", req, ms, &ans)) < 0)
		return rc;
	/* a stream of one: {"result": {"ID", "TTL"}}; no TTL: gone */
	if (!json_object_object_get_ex(ans, "result", &res))
		res = ans;
	*ttl = (int)etcd_get_i64(res, "TTL");
	json_object_put(ans);
	return 0;
}

int
etcd_lease_revoke(struct etcd *e, int64_t id, unsigned int ms)
{
	json_object *req = json_object_new_object(), *ans;
	int rc;

	json_object_object_add(req, "ID", etcd_i64(id));
	if ((rc = etcd_call(e, "/v3/lease/revoke", req, ms, &ans)) < 0)
		return rc;
	json_object_put(ans);
	return 0;
}

/* --- watch ----------------------------------------------------------- */

static size_t
watch_in(void *data, size_t size, size_t n, void *arg)
{
	return buf_add(data, size, n, &((struct etcd_watch *)arg)->in);
}

static void
watch_close(struct etcd_watch *w)
{
	if (w->easy != NULL) {
		curl_multi_remove_handle(w->multi, w->easy);
		curl_easy_cleanup(w->easy);
		w->easy = NULL;
	}
	curl_slist_free_all(w->hdrs);
	w->hdrs = NULL;
	free(w->body);
	w->body = NULL;
	w->in.len = 0;
	w->created = false;
}

/* Open the stream on the current endpoint, from w->next. */
static int
watch_open(struct etcd_watch *w)
{
	json_object *req, *cr;
	char url[600];

	watch_close(w);
	req = json_object_new_object();
	cr = json_object_new_object();
	json_object_object_add(cr, "key", etcd_str(w->prefix));
	json_object_object_add(cr, "range_end", etcd_prefix_end(w->prefix));
	if (w->next > 0)
		json_object_object_add(cr, "start_revision", etcd_i64(w->next));
	json_object_object_add(req, "create_request", cr);
	w->body =
	    strdup(json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN));
	json_object_put(req);
	if (w->body == NULL || (w->easy = curl_easy_init()) == NULL)
		return -ENOMEM;
	snprintf(w->ep, sizeof(w->ep), "%s", etcd_endpoint(w->e));
	snprintf(url, sizeof(url), "%s/v3/watch", w->ep);
	w->hdrs = headers(w->e);
	curl_easy_setopt(w->easy, CURLOPT_URL, url);
	curl_easy_setopt(w->easy, CURLOPT_HTTPHEADER, w->hdrs);
	curl_easy_setopt(w->easy, CURLOPT_POSTFIELDS, w->body);
	curl_easy_setopt(w->easy, CURLOPT_WRITEFUNCTION, watch_in);
	curl_easy_setopt(w->easy, CURLOPT_WRITEDATA, w);
	curl_easy_setopt(w->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(w->easy, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(
	    w->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)w->e->c.connect_ms);
	/* a cut link must not leave the stream open forever */
	curl_easy_setopt(w->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(w->easy, CURLOPT_TCP_KEEPIDLE, 1L);
	curl_easy_setopt(w->easy, CURLOPT_TCP_KEEPINTVL, 1L);
	set_tls(w->e, w->easy);
	curl_multi_add_handle(w->multi, w->easy);
	return 0;
}

/* Deliver one message of the stream: {"result": {...}}. */
static int
watch_message(struct etcd_watch *w, json_object *m)
{
	json_object *res, *evs, *ev, *kv, *f;
	struct etcd_event e;
	char *key, *val;
	size_t i, n;
	int64_t rev;

	if (!json_object_object_get_ex(m, "result", &res)) {
		seterr(w->e, "%s/v3/watch: %s", w->ep,
		    json_object_to_json_string(m));
		return -EIO;
	}
	if (json_object_object_get_ex(res, "created", &f) &&
	    json_object_get_boolean(f)) {
		w->created = true;
		w->id = etcd_get_i64(res, "watch_id");
	}
	if (etcd_get_i64(res, "compact_revision") > 0) {
		seterr(w->e, "%s/v3/watch: revision %lld compacted", w->ep,
		    (long long)w->next);
		return -ESTALE;
	}
	if (json_object_object_get_ex(res, "canceled", &f) &&
	    json_object_get_boolean(f)) {
		seterr(w->e, "%s/v3/watch: canceled", w->ep);
		return -EIO;
	}
	if (!json_object_object_get_ex(res, "events", &evs))
		return 0;
	n = json_object_array_length(evs);
	for (i = 0; i < n; i++) {
		ev = json_object_array_get_idx(evs, i);
		if (!json_object_object_get_ex(ev, "kv", &kv))
			continue;
		key = etcd_unb64(kv, "key", NULL);
		val = etcd_unb64(kv, "value", NULL);
		rev = etcd_get_i64(kv, "mod_revision");
		e.type = json_object_object_get_ex(ev, "type", &f) &&
		    strcmp(json_object_get_string(f), "DELETE") == 0;
		e.key = key ? key : "";
		e.value = val ? val : "";
		e.mod_revision = rev;
		w->fn(&e, w->arg);
		free(key);
		free(val);
		if (rev >= w->next)
			w->next = rev + 1;
	}
	return 0;
}

/* Parse every complete JSON message in w->in. */
static int
watch_parse(struct etcd_watch *w)
{
	struct json_tokener *tok;
	json_object *m;
	size_t off = 0, used;
	int rc = 0;

	tok = json_tokener_new();
	while (off < w->in.len && rc == 0) {
		while (
		    off < w->in.len && strchr(" \t\r\n", w->in.p[off]) != NULL)
			off++;
		if (off == w->in.len)
			break;
		json_tokener_reset(tok);
		m = json_tokener_parse_ex(
		    tok, w->in.p + off, (int)(w->in.len - off));
		if (m == NULL) {
			if (json_tokener_get_error(tok) ==
			    json_tokener_continue)
				break; /* the rest has not arrived */
			seterr(w->e, "%s/v3/watch: not JSON", w->ep);
			rc = -EPROTO;
			break;
		}
		used = json_tokener_get_parse_end(tok);
		off += used;
		rc = watch_message(w, m);
		json_object_put(m);
	}
	json_tokener_free(tok);
	memmove(w->in.p, w->in.p + off, w->in.len - off);
	w->in.len -= off;
	return rc;
}

int
etcd_watch_start(struct etcd *e, const char *prefix, int64_t start,
    etcd_event_fn fn, void *arg, unsigned int ms, struct etcd_watch **out)
{
	struct etcd_watch *w;
	uint64_t end = mono_ms() + ms;
	int rc;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -ENOMEM;
	w->e = e;
	w->prefix = strdup(prefix);
	w->next = start;
	w->fn = fn;
	w->arg = arg;
	w->multi = curl_multi_init();
	if (w->prefix == NULL || w->multi == NULL) {
		etcd_watch_free(w);
		return -ENOMEM;
	}
	if ((rc = watch_open(w)) < 0) {
		etcd_watch_free(w);
		return rc;
	}
	/* wait for "created", delivering what comes with it */
	while (!w->created) {
		uint64_t t = mono_ms();

		if (t >= end) {
			seterr(e, "%s/v3/watch: not created within %u ms",
			    w->ep, ms);
			etcd_watch_free(w);
			return -ETIMEDOUT;
		}
		if ((rc = etcd_watch_wait(w, (unsigned int)(end - t))) < 0) {
			etcd_watch_free(w);
			return rc;
		}
	}
	*out = w;
	return 0;
}

int
etcd_watch_wait(struct etcd_watch *w, unsigned int ms)
{
	struct CURLMsg *msg;
	int running, left, rc, nfd;

	curl_multi_poll(w->multi, NULL, 0, (int)ms, &nfd);
	curl_multi_perform(w->multi, &running);
	if ((rc = watch_parse(w)) < 0)
		return rc;
	while ((msg = curl_multi_info_read(w->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		/* the stream ended: resume on the next member, after a
		 * pause if this one never took it (nobody listens there) */
		seterr(w->e, "%s/v3/watch: stream ended: %s", w->ep,
		    curl_easy_strerror(msg->data.result));
		if (!w->created)
			poll(NULL, 0, (int)(ms < 100 ? ms : 100));
		w->e->cur = (w->e->cur + 1) % w->e->c.nendpoints;
		if ((rc = watch_open(w)) < 0)
			return rc;
		return 0;
	}
	return 0;
}

void
etcd_watch_free(struct etcd_watch *w)
{
	if (w == NULL)
		return;
	watch_close(w);
	if (w->multi != NULL)
		curl_multi_cleanup(w->multi);
	free(w->in.p);
	free(w->prefix);
	free(w);
}
