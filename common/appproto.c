/*
 * appproto.c: the application line protocol's codec (see appproto.h).
 *
 * Strict on purpose: one grammar, one spelling of each number, exactly
 * one space between tokens.  A line from an application either means
 * exactly one thing or is refused, so that nothing depends on how
 * leniently a parser guesses.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "appproto.h"

static const char *const names[AM_NTYPES] = {
    [AM_HELLO] = "HELLO",
    [AM_READY] = "READY",
    [AM_FROZEN] = "FROZEN",
    [AM_THAWED] = "THAWED",
    [AM_VETO] = "VETO",
    [AM_OK] = "OK",
    [AM_ERR] = "ERR",
    [AM_CHECK] = "CHECK",
    [AM_FREEZE] = "FREEZE",
    [AM_THAW] = "THAW",
    [AM_ABORT] = "ABORT",
};

const char *
app_msg_name(enum app_msg_type t)
{
	return (unsigned int)t < AM_NTYPES ? names[t] : "?";
}

static bool
name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

bool
app_name_valid(const char *s)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++)
		if (n == APP_NAME_MAX || !name_char(s[n]))
			return false;
	return n > 0;
}

static bool
printable(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return n > 0;
}

/* A token: [*p, *p + return) up to the next space or the end. */
static size_t
token(const char *p, const char *end)
{
	const char *q = p;

	while (q < end && *q != ' ')
		q++;
	return (size_t)(q - p);
}

/* Decimal, no sign, no leading zero; false on overflow of max. */
static bool
number(const char *p, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > 20 || (n > 1 && p[0] == '0'))
		return false;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		if (v > (max - (uint64_t)(p[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	*out = v;
	return true;
}

/* Step past one token and the single space after it, if any. */
static bool
next(const char **p, const char *end, size_t n)
{
	*p += n;
	if (*p == end)
		return true;
	if (**p != ' ' || *p + 1 == end)
		return false; /* double space or trailing space */
	(*p)++;
	return true;
}

static int
parse_hello(const char *p, const char *end, struct app_msg *m)
{
	uint64_t v;
	size_t n;
	bool seen_tier = false;

	n = token(p, end);
	if (!number(p, n, UINT32_MAX, &v) || !next(&p, end, n))
		return -EINVAL;
	m->version = (unsigned int)v;
	/* another version's HELLO may say anything after its number */
	if (m->version != APP_PROTO_VERSION)
		return -EPROTONOSUPPORT;
	n = token(p, end);
	if (n == 0 || n > APP_NAME_MAX)
		return -EINVAL;
	memcpy(m->name, p, n);
	m->name[n] = '\0';
	/* all n bytes: a NUL in the token would end the check early */
	if (strlen(m->name) != n || !app_name_valid(m->name) ||
	    !next(&p, end, n))
		return -EINVAL;
	m->tier = APP_TIER_DEFAULT;
	while (p < end) {
		n = token(p, end);
		if (n > 5 && strncmp(p, "tier=", 5) == 0 && !seen_tier) {
			if (!number(p + 5, n - 5, APP_TIER_MAX, &v))
				return -EINVAL;
			m->tier = (unsigned int)v;
			seen_tier = true;
		} else if (n > 8 && strncmp(p, "timeout=", 8) == 0 &&
		    !m->has_timeout) {
			if (!number(p + 8, n - 8, UINT32_MAX, &v))
				return -EINVAL;
			m->timeout_ms = (uint32_t)v;
			m->has_timeout = true;
		} else
			return -EINVAL;
		if (!next(&p, end, n))
			return -EINVAL;
	}
	return 0;
}

int
app_parse(const char *line, size_t len, struct app_msg *m)
{
	const char *p = line, *end = line + len;
	uint64_t v;
	size_t n;
	int t;

	if (len + 1 > APP_LINE_MAX)
		return -EMSGSIZE;
	memset(m, 0, sizeof(*m));
	n = token(p, end);
	for (t = 0; t < AM_NTYPES; t++)
		if (strlen(names[t]) == n && memcmp(p, names[t], n) == 0)
			break;
	if (t == AM_NTYPES || !next(&p, end, n) || p == end)
		return -EINVAL;
	m->type = (enum app_msg_type)t;

	if (m->type == AM_HELLO)
		return parse_hello(p, end, m);
	if (m->type == AM_ERR) {
		if (!printable(p, (size_t)(end - p)))
			return -EINVAL;
		memcpy(m->reason, p, (size_t)(end - p));
		return 0;
	}
	/* every other message starts with a number */
	n = token(p, end);
	if (!number(p, n, UINT64_MAX, &v) || !next(&p, end, n))
		return -EINVAL;
	if (m->type == AM_OK)
		m->app_id = v;
	else
		m->txid = v;
	switch (m->type) {
	case AM_VETO:
		if (p == end || !printable(p, (size_t)(end - p)))
			return -EINVAL;
		memcpy(m->reason, p, (size_t)(end - p));
		return 0;
	case AM_FREEZE:
		n = token(p, end);
		if (!number(p, n, UINT32_MAX, &v) || p + n != end)
			return -EINVAL;
		m->ms = (uint32_t)v;
		return 0;
	default:
		return p == end ? 0 : -EINVAL;
	}
}

int
app_format(const struct app_msg *m, char *buf, size_t cap)
{
	int n;

	switch (m->type) {
	case AM_HELLO:
		if (!app_name_valid(m->name) || m->tier > APP_TIER_MAX)
			return -EINVAL;
		if (m->has_timeout)
			n = snprintf(buf, cap,
			    "HELLO %u %s tier=%u timeout=%u\n", m->version,
			    m->name, m->tier, m->timeout_ms);
		else
			n = snprintf(buf, cap, "HELLO %u %s tier=%u\n",
			    m->version, m->name, m->tier);
		break;
	case AM_VETO:
	case AM_ERR:
		if (!printable(
		        m->reason, strnlen(m->reason, sizeof(m->reason))))
			return -EINVAL;
		if (m->type == AM_ERR)
			n = snprintf(buf, cap, "ERR %s\n", m->reason);
		else
			n = snprintf(buf, cap, "VETO %llu %s\n",
			    (unsigned long long)m->txid, m->reason);
		break;
	case AM_OK:
		n = snprintf(
		    buf, cap, "OK %llu\n", (unsigned long long)m->app_id);
		break;
	case AM_FREEZE:
		n = snprintf(buf, cap, "FREEZE %llu %u\n",
		    (unsigned long long)m->txid, m->ms);
		break;
	case AM_READY:
	case AM_FROZEN:
	case AM_THAWED:
	case AM_CHECK:
	case AM_THAW:
	case AM_ABORT:
		n = snprintf(buf, cap, "%s %llu\n", names[m->type],
		    (unsigned long long)m->txid);
		break;
	default:
		return -EINVAL;
	}
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= cap)
		return -ENOSPC;
	if (n > APP_LINE_MAX)
		return -EINVAL; /* a reason too long for one line */
	return n;
}
