/*
 * privproto.c: the parent's checks of the engine's requests, and the
 * transaction state they are checked against (privproto.h).
 *
 * Pure: no I/O, no clock of its own, no logging.  Every request is
 * refused unless it is exactly one well-formed request that the current
 * transaction's state allows; the refusal says which rule it broke.
 * What is not allowed here never reaches plan_build(), the freezer, the
 * hooks runner or the guard.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "privproto.h"

static const char *const type_names[] = {
    [PRIV_DEVICE] = "DEVICE",
    [PRIV_CHECK] = "CHECK",
    [PRIV_FREEZE] = "FREEZE",
    [PRIV_THAW] = "THAW",
    [PRIV_HOOKS] = "HOOKS",
    [PRIV_ARM] = "ARM",
    [PRIV_DISARM] = "DISARM",
    [PRIV_CANCEL] = "CANCEL",
    [PRIV_COMM] = "COMM",
    [PRIV_PLAN] = "PLAN",
    [PRIV_METRICS] = "METRICS",
    [PRIV_CONF] = "CONF",
};

static const char *const event_names[] = {
    [PRIV_EV_LEASE - PRIV_EV_FIRST] = "LEASE",
    [PRIV_EV_THAWED - PRIV_EV_FIRST] = "THAWED",
    [PRIV_EV_GUARD_DIED - PRIV_EV_FIRST] = "GUARD_DIED",
    [PRIV_EV_THAWED_BEHIND - PRIV_EV_FIRST] = "THAWED_BEHIND",
};

static const char *const refusal_names[] = {
    [PRIV_R_LENGTH] = "bad length",
    [PRIV_R_VERSION] = "bad version",
    [PRIV_R_TYPE] = "unknown type",
    [PRIV_R_RESERVED] = "reserved field not zero",
    [PRIV_R_ARG] = "argument out of range",
    [PRIV_R_TXID] = "not the current transaction",
    [PRIV_R_ORDER] = "out of order",
    [PRIV_R_LEASE] = "lease out of bounds",
    [PRIV_R_BUSY] = "busy",
    [PRIV_R_TEXT] = "not text",
};

const char *
priv_type_name(unsigned int t)
{
	if (t >= PRIV_EV_FIRST && t <= PRIV_EV_MAX)
		return event_names[t - PRIV_EV_FIRST];
	if (t == 0 || t > PRIV_TYPE_MAX)
		return "?";
	return type_names[t];
}

bool
priv_is_side(unsigned int t)
{
	return t == PRIV_CANCEL || t == PRIV_COMM || t == PRIV_PLAN ||
	    t == PRIV_METRICS || t == PRIV_CONF;
}

const char *
priv_refusal_name(int r)
{
	if (r <= 0 || r > PRIV_R_MAX)
		return "?";
	return refusal_names[r];
}

static int refuse(int code, char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
refuse(int code, char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why != NULL && whylen > 0) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* Only the current transaction may be acted on. */
static int
check_current(const struct priv_state *st, const struct priv_req *r, char *why,
    size_t whylen)
{
	if (r->txid == 0 || r->txid != st->txid)
		return refuse(PRIV_R_TXID, why, whylen,
		    "%s txn %llu: the current transaction is %llu",
		    priv_type_name(r->type), (unsigned long long)r->txid,
		    (unsigned long long)st->txid);
	return 0;
}

static int
check_noarg(const struct priv_req *r, char *why, size_t whylen)
{
	if (r->arg != 0)
		return refuse(PRIV_R_ARG, why, whylen,
		    "%s takes no argument (got %u)", priv_type_name(r->type),
		    r->arg);
	return 0;
}

/*
 * METRICS's text: a Prometheus textfile is lines of printable text
 * (UTF-8 label values allowed: bytes >= 0x80), each ending in \n.
 */
static int
check_text(const unsigned char *t, size_t n, char *why, size_t whylen)
{
	size_t i;

	if (n == 0 || t[n - 1] != '\n')
		return refuse(PRIV_R_TEXT, why, whylen,
		    "METRICS: %zu bytes not ending in a newline", n);
	for (i = 0; i < n; i++)
		if ((t[i] < 0x20 && t[i] != '\n') || t[i] == 0x7f)
			return refuse(PRIV_R_TEXT, why, whylen,
			    "METRICS: byte %#x at %zu", t[i], i);
	return 0;
}

int
priv_check(const struct priv_state *st, const void *buf, size_t len,
    uint64_t now_ms, struct priv_req *req, char *why, size_t whylen)
{
	struct priv_req r;
	uint64_t left;
	size_t want;
	int rc;

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if (buf == NULL || len < sizeof(r))
		return refuse(PRIV_R_LENGTH, why, whylen,
		    "%zu bytes: a request is %zu", len, sizeof(r));
	memcpy(&r, buf, sizeof(r));
	if (r.version != PRIV_VERSION)
		return refuse(PRIV_R_VERSION, why, whylen,
		    "version %u: this parent speaks %u", r.version,
		    PRIV_VERSION);
	if (r.type == 0 || r.type > PRIV_TYPE_MAX)
		return refuse(PRIV_R_TYPE, why, whylen, "type %u", r.type);
	if (r.reserved != 0)
		return refuse(PRIV_R_RESERVED, why, whylen,
		    "%s: reserved field is %#llx", priv_type_name(r.type),
		    (unsigned long long)r.reserved);
	if (r.type == PRIV_METRICS) {
		if (r.arg == 0 || r.arg > PRIV_METRICS_MAX)
			return refuse(PRIV_R_ARG, why, whylen,
			    "METRICS: %u bytes of text, at most %u", r.arg,
			    PRIV_METRICS_MAX);
		want = sizeof(r) + r.arg;
	} else
		want = sizeof(r);
	if (len != want)
		return refuse(PRIV_R_LENGTH, why, whylen,
		    "%zu bytes: a request is %zu", len, want);
	if (st->busy && !priv_is_side(r.type))
		return refuse(PRIV_R_BUSY, why, whylen,
		    "%s while %s txn %llu is being done",
		    priv_type_name(r.type), priv_type_name(st->running),
		    (unsigned long long)st->txid);

	switch (r.type) {
	case PRIV_DEVICE:
		if (r.arg > 1)
			return refuse(PRIV_R_ARG, why, whylen,
			    "DEVICE: arg %u (0: the kept one, 1: a new one)",
			    r.arg);
		if (r.txid != 0)
			return refuse(PRIV_R_TXID, why, whylen,
			    "DEVICE names no transaction (got %llu)",
			    (unsigned long long)r.txid);
		break;
	case PRIV_CHECK:
		if ((rc = check_noarg(&r, why, whylen)) != 0)
			return rc;
		/* the current one again, while only planned: planned anew
		 * (the mount table changed since), its hooks' state kept */
		if (r.txid == 0 ||
		    (r.txid <= st->txid &&
		        !(r.txid == st->txid && st->tx == PRIV_TX_PLANNED)))
			return refuse(PRIV_R_TXID, why, whylen,
			    "CHECK txn %llu: not above the current %llu",
			    (unsigned long long)r.txid,
			    (unsigned long long)st->txid);
		if (st->tx == PRIV_TX_FROZEN)
			return refuse(PRIV_R_ORDER, why, whylen,
			    "CHECK txn %llu: txn %llu is frozen, THAW it first",
			    (unsigned long long)r.txid,
			    (unsigned long long)st->txid);
		break;
	case PRIV_FREEZE:
		if (r.arg > 1)
			return refuse(PRIV_R_ARG, why, whylen,
			    "FREEZE: arg %u (0: the host's, 1: a local one)",
			    r.arg);
		if ((rc = check_current(st, &r, why, whylen)) != 0)
			return rc;
		if (st->tx != PRIV_TX_PLANNED)
			return refuse(PRIV_R_ORDER, why, whylen,
			    "FREEZE txn %llu: %s", (unsigned long long)r.txid,
			    st->tx == PRIV_TX_FROZEN ? "frozen already"
			                             : "no plan (CHECK first)");
		break;
	case PRIV_THAW:
		if ((rc = check_noarg(&r, why, whylen)) != 0 ||
		    (rc = check_current(st, &r, why, whylen)) != 0)
			return rc;
		if (st->tx != PRIV_TX_FROZEN)
			return refuse(PRIV_R_ORDER, why, whylen,
			    "THAW txn %llu: nothing of it is frozen",
			    (unsigned long long)r.txid);
		break;
	case PRIV_HOOKS:
		if (r.arg > PRIV_PHASE_ABORT)
			return refuse(
			    PRIV_R_ARG, why, whylen, "HOOKS: phase %u", r.arg);
		if ((rc = check_current(st, &r, why, whylen)) != 0)
			return rc;
		if (r.arg == PRIV_PHASE_FREEZE &&
		    (st->tx != PRIV_TX_PLANNED || st->hooks_frozen))
			return refuse(PRIV_R_ORDER, why, whylen,
			    "HOOKS freeze txn %llu: %s",
			    (unsigned long long)r.txid,
			    st->hooks_frozen ? "ran already"
			                     : "only between CHECK and FREEZE");
		if (r.arg != PRIV_PHASE_FREEZE && st->tx == PRIV_TX_FROZEN &&
		    !st->thaw_failed)
			return refuse(PRIV_R_ORDER, why, whylen,
			    "HOOKS %s txn %llu: still frozen, THAW first",
			    r.arg == PRIV_PHASE_THAW ? "thaw" : "abort",
			    (unsigned long long)r.txid);
		if (r.arg != PRIV_PHASE_FREEZE && !st->hooks_frozen)
			return refuse(PRIV_R_ORDER, why, whylen,
			    "HOOKS %s txn %llu: its freeze hooks did not run",
			    r.arg == PRIV_PHASE_THAW ? "thaw" : "abort",
			    (unsigned long long)r.txid);
		break;
	case PRIV_ARM:
		if ((rc = check_current(st, &r, why, whylen)) != 0)
			return rc;
		if (st->tx != PRIV_TX_FROZEN)
			return refuse(PRIV_R_ORDER, why, whylen,
			    "ARM txn %llu: not frozen",
			    (unsigned long long)r.txid);
		/* the window ends within max_frozen of the FREEZE */
		left =
		    now_ms >= st->frozen_at_ms ? now_ms - st->frozen_at_ms : 0;
		left = left >= st->max_frozen_ms ? 0 : st->max_frozen_ms - left;
		if (r.arg == 0 || r.arg > left)
			return refuse(PRIV_R_LEASE, why, whylen,
			    "ARM txn %llu: lease %u ms, %llu ms left of max_frozen %u ms",
			    (unsigned long long)r.txid, r.arg,
			    (unsigned long long)left, st->max_frozen_ms);
		break;
	case PRIV_DISARM:
		if ((rc = check_noarg(&r, why, whylen)) != 0 ||
		    (rc = check_current(st, &r, why, whylen)) != 0)
			return rc;
		if (st->tx == PRIV_TX_FROZEN)
			return refuse(PRIV_R_ORDER, why, whylen,
			    "DISARM txn %llu: frozen, the lease stands",
			    (unsigned long long)r.txid);
		break;
	case PRIV_CANCEL:
		if ((rc = check_noarg(&r, why, whylen)) != 0 ||
		    (rc = check_current(st, &r, why, whylen)) != 0)
			return rc;
		if (!st->busy ||
		    (st->running != PRIV_FREEZE && st->running != PRIV_HOOKS))
			return refuse(PRIV_R_ORDER, why, whylen,
			    "CANCEL txn %llu: no FREEZE or HOOKS of it runs",
			    (unsigned long long)r.txid);
		break;
	case PRIV_COMM:
		if (r.arg == 0 || r.arg > PRIV_PID_MAX)
			return refuse(
			    PRIV_R_ARG, why, whylen, "COMM: pid %u", r.arg);
		/* FALLTHROUGH */
	case PRIV_PLAN:
	case PRIV_METRICS:
	case PRIV_CONF:
		if ((r.type == PRIV_PLAN || r.type == PRIV_CONF) &&
		    (rc = check_noarg(&r, why, whylen)) != 0)
			return rc;
		if (r.txid != 0)
			return refuse(PRIV_R_TXID, why, whylen,
			    "%s names no transaction (got %llu)",
			    priv_type_name(r.type), (unsigned long long)r.txid);
		if (r.type == PRIV_METRICS &&
		    (rc = check_text((const unsigned char *)buf + sizeof(r),
		         r.arg, why, whylen)) != 0)
			return rc;
		break;
	}
	if (req != NULL)
		*req = r;
	return 0;
}

void
priv_apply(
    struct priv_state *st, const struct priv_req *r, bool ok, uint64_t now_ms)
{
	switch (r->type) {
	case PRIV_CHECK:
		if (r->txid != st->txid)
			st->hooks_frozen = false;
		st->txid = r->txid;
		st->tx = ok ? PRIV_TX_PLANNED : PRIV_TX_IDLE;
		break;
	case PRIV_FREEZE:
		/* a failed freeze was undone by the freezer */
		st->tx = ok ? PRIV_TX_FROZEN : PRIV_TX_IDLE;
		st->thaw_failed = false;
		if (ok)
			st->frozen_at_ms = now_ms;
		break;
	case PRIV_THAW:
		/* a failed thaw may be tried again (the guard holds) */
		if (ok)
			st->tx = PRIV_TX_IDLE;
		st->thaw_failed = !ok;
		break;
	case PRIV_HOOKS:
		/* a failed freeze stage ran some: abort must follow */
		st->hooks_frozen = r->arg == PRIV_PHASE_FREEZE;
		break;
	default:
		break;
	}
}

void
priv_req_make(
    struct priv_req *r, enum priv_type type, uint64_t txid, uint32_t arg)
{
	memset(r, 0, sizeof(*r));
	r->version = PRIV_VERSION;
	r->type = (uint16_t)type;
	r->txid = txid;
	r->arg = arg;
}

void
priv_rep_make(struct priv_rep *p, uint16_t type, uint64_t txid, int32_t status,
    uint32_t value, const char *reason)
{
	memset(p, 0, sizeof(*p));
	p->version = PRIV_VERSION;
	p->type = type;
	p->txid = txid;
	p->status = status;
	p->value = value;
	if (reason != NULL)
		snprintf(p->reason, sizeof(p->reason), "%s", reason);
}

/* A reply or an event, its text after it (PLAN) not looked at. */
static int
rep_head(const void *buf, size_t len, struct priv_rep *p)
{
	if (buf == NULL || len < sizeof(*p))
		return -EPROTO;
	memcpy(p, buf, sizeof(*p));
	if (p->version != PRIV_VERSION || p->reserved != 0 ||
	    memchr(p->reason, '\0', sizeof(p->reason)) == NULL ||
	    p->status > PRIV_R_MAX || p->status < -4095)
		return -EPROTO;
	return 0;
}

int
priv_rep_check(const struct priv_req *req, const void *buf, size_t len)
{
	struct priv_rep p;
	size_t text = 0;

	if (rep_head(buf, len, &p) != 0 || p.type >= PRIV_EV_FIRST)
		return -EPROTO;
	if (p.type == PRIV_PLAN && p.status == 0) {
		if (p.value > PRIV_PLAN_MAX)
			return -EPROTO;
		text = p.value;
	}
	if (len != sizeof(p) + text ||
	    memchr((const char *)buf + sizeof(p), '\0', text) != NULL)
		return -EPROTO;
	if (req != NULL && (p.type != req->type || p.txid != req->txid))
		return -EPROTO;
	return 0;
}

int
priv_msg_kind(const void *buf, size_t len)
{
	struct priv_rep p;

	if (rep_head(buf, len, &p) != 0)
		return -EPROTO;
	if (p.type >= PRIV_EV_FIRST)
		return p.type <= PRIV_EV_MAX && len == sizeof(p) ? p.type
		                                                 : -EPROTO;
	return 0;
}
