/*
 * etcd.h: the little of etcd's v3 API that hv_vss_group needs, spoken
 * through etcd's JSON gateway (grpc-gateway: POST /v3/..., keys and values
 * in base64, 64-bit numbers as strings) with libcurl and json-c.
 *
 * Requests are blocking but bounded: each takes a deadline in ms, and a
 * member that does not answer in time (dead, cut off, or without quorum,
 * where etcd holds a write until it gives up) is left for the next
 * endpoint while time remains.  The watch is the one streaming request:
 * it runs on a curl multi handle so that its caller can wait on it with a
 * timeout, and it is resumed on another endpoint from the revision after
 * the last one it delivered when its stream breaks.
 *
 * Functions return 0 or a negative errno; etcd_error() says what failed,
 * naming the endpoint.  Nothing here logs.
 */
#ifndef ETCD_H
#define ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define ETCD_MAX_ENDPOINTS 16

struct etcd_conf {
	const char *endpoints[ETCD_MAX_ENDPOINTS]; /* http(s)://host:port */
	int nendpoints;
	const char *cacert; /* TLS: CA bundle (NULL: the system's) */
	const char *cert; /* TLS client certificate (PEM) */
	const char *key; /* and its key */
	const char *user; /* etcd auth (NULL: none) */
	const char *password;
	unsigned int connect_ms; /* per attempt (default 1000) */
	unsigned int attempt_ms; /* per request and member (default 1500) */
};

struct etcd;

struct etcd *etcd_new(const struct etcd_conf *);
void etcd_free(struct etcd *);
/* What the last failed call did wrong, one line. */
const char *etcd_error(const struct etcd *);
/* The endpoint the next request goes to first. */
const char *etcd_endpoint(const struct etcd *);

/*
 * POST body (consumed) to path (e.g. "/v3/kv/txn") within ms; *out is
 * the parsed answer (the caller puts it).  -ETIMEDOUT, -ECONNREFUSED,
 * -EPROTO (not JSON), -EIO (etcd said no: etcd_error() has its message).
 */
int etcd_call(struct etcd *, const char *path, json_object *body,
    unsigned int ms, json_object **out);

int etcd_lease_grant(struct etcd *, int ttl, int64_t *id, unsigned int ms);
/* Renew: *ttl is what is left (0: the lease is gone). */
int etcd_lease_keepalive(struct etcd *, int64_t id, int *ttl, unsigned int ms);
int etcd_lease_revoke(struct etcd *, int64_t id, unsigned int ms);

/* Building requests: a key or value as base64, a 64-bit as a string. */
json_object *etcd_b64(const char *s, size_t len);
json_object *etcd_str(const char *s);
json_object *etcd_i64(int64_t);
/* Reading answers: decode a base64 field (NULL if absent); a 64-bit. */
char *etcd_unb64(json_object *o, const char *field, size_t *len);
int64_t etcd_get_i64(json_object *o, const char *field);
/* The end of the range of keys that start with prefix, as base64. */
json_object *etcd_prefix_end(const char *prefix);

/* A watch event: type 0 PUT, 1 DELETE. */
struct etcd_event {
	int type;
	const char *key;
	const char *value;
	int64_t mod_revision;
};
typedef void (*etcd_event_fn)(const struct etcd_event *, void *);

struct etcd_watch;

/* Watch every key starting with prefix, from revision start (0: now). */
int etcd_watch_start(struct etcd *, const char *prefix, int64_t start,
    etcd_event_fn, void *arg, unsigned int ms, struct etcd_watch **out);
/*
 * Wait up to ms for events and deliver them; 0 when ms passed or events
 * came, a negative errno when the stream broke and could not be resumed
 * on any endpoint (-ESTALE: etcd compacted the revisions asked for).
 */
int etcd_watch_wait(struct etcd_watch *, unsigned int ms);
void etcd_watch_free(struct etcd_watch *);

#endif /* ETCD_H */
