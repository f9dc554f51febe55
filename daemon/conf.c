/*
 * conf.c: reads /etc/hv_vss/hv_vss.conf and -o key=value into struct conf.
 *
 * The daemon freezes filesystems on behalf of a host it does not control,
 * so a configuration that says something other than what its author meant
 * is dangerous: a misspelt "exclude" would freeze what was meant to be left
 * alone.  Hence everything unknown is an error (keys, sections, lines that
 * are not "key = value"), every value is checked the same way whether it
 * comes from the file or from -o, and every error names the file, the
 * line and the key.  Nothing here logs or exits; the caller prints err.
 *
 * inih splits the file into sections and "key = value" pairs; we feed it
 * through our own line reader (ini_parse_stream) because inih does not tell
 * the handler which line it is on.  The reader also rejects what inih would
 * silently mangle: lines longer than its buffer (inih would cut them in
 * two), NUL bytes, and sections we do not know even when they hold no key.
 * inih's multi-line values are used for lists: an indented line continues
 * the list above it, so that a long "mounts" fits in inih's line buffer.
 * Any other indented line after a key would also be taken as a
 * continuation by inih, so for a single-valued key it is an error.
 *
 * A file is applied all or nothing: conf_load works on a copy and keeps it
 * only if the whole file is good.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include <ini.h>

#include "conf.h"

#define CONF_SECTION "daemon"
#define CONF_SEPS ", \t\n\r\v\f" /* between list entries */
#define CONF_WHY_MAX 256 /* one "what is wrong" */
#define CONF_QUOTE_MAX 64 /* bytes of a bad value shown in a message */
#define CONF_DUMP_COLS 78 /* conf_dump wraps lists here */
#define CONF_LINE_MAX (INI_MAX_LINE - 2) /* bytes conf_read_line takes */

/* The longest app_socket that fits in sockaddr_un (with its NUL). */
#define CONF_SOCK_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

enum conf_kind {
	CK_PATH, /* an absolute path */
	CK_SOCKET, /* an absolute path short enough to bind */
	CK_MODE, /* octal permission bits */
	CK_GROUP, /* a group name, empty for none */
	CK_PATHS, /* a list of absolute paths */
	CK_EXCLUDE, /* a list of absolute paths and filesystem types */
	CK_POLICY, /* skip | veto */
	CK_SECONDS, /* seconds with up to 3 decimals, kept in ms */
	CK_BOOL, /* yes | no and friends */
	CK_DEBUG, /* 0 to 2 */
	CK_COUNT, /* a whole number from min to max */
	CK_OPTPATH, /* an absolute path, or empty for none */
};

struct conf_key {
	const char *name;
	enum conf_kind kind;
	size_t off; /* the field in struct conf */
	size_t size; /* its size (strings) */
	size_t noff; /* lists: the entry count */
	unsigned int min; /* CK_SECONDS: ms */
	unsigned int max;
};

#define CONF_FIELD(m) offsetof(struct conf, m), sizeof(((struct conf *)0)->m)

/* In the order conf_dump writes them and etc/hv_vss.conf documents them. */
static const struct conf_key conf_keys[] = {
    {"device", CK_PATH, CONF_FIELD(device), 0, 0, 0},
    {"run_dir", CK_PATH, CONF_FIELD(run_dir), 0, 0, 0},
    {"app_socket", CK_SOCKET, CONF_FIELD(app_socket), 0, 0, 0},
    {"app_socket_mode", CK_MODE, CONF_FIELD(app_socket_mode), 0, 0, 0},
    {"app_socket_group", CK_GROUP, CONF_FIELD(app_socket_group), 0, 0, 0},
    {"hooks_dir", CK_PATH, CONF_FIELD(hooks_dir), 0, 0, 0},
    {"app_max_clients", CK_COUNT, CONF_FIELD(app_max_clients), 0, 1, 65536},
    {"ctl_socket", CK_SOCKET, CONF_FIELD(ctl_socket), 0, 0, 0},
    {"ctl_group", CK_GROUP, CONF_FIELD(ctl_group), 0, 0, 0},
    {"metrics_file", CK_OPTPATH, CONF_FIELD(metrics_file), 0, 0, 0},
    {"mounts", CK_PATHS, CONF_FIELD(mounts), offsetof(struct conf, nmounts), 0,
        0},
    {"exclude", CK_EXCLUDE, CONF_FIELD(exclude),
        offsetof(struct conf, nexclude), 0, 0},
    {"unfreezable", CK_POLICY, CONF_FIELD(unfreezable), 0, 0, 0},
    {"check_timeout", CK_SECONDS, CONF_FIELD(check_timeout_ms), 0, 1, 86400000},
    {"app_freeze_timeout", CK_SECONDS, CONF_FIELD(app_freeze_timeout_ms), 0, 1,
        86400000},
    {"hook_timeout", CK_SECONDS, CONF_FIELD(hook_timeout_ms), 0, 1, 86400000},
    {"hooks_tier", CK_COUNT, CONF_FIELD(hooks_tier), 0, 0, 10},
    {"fs_freeze_timeout", CK_SECONDS, CONF_FIELD(fs_freeze_timeout_ms), 0, 1,
        86400000},
    {"thaw_timeout", CK_SECONDS, CONF_FIELD(thaw_timeout_ms), 0, 1, 86400000},
    {"max_frozen", CK_SECONDS, CONF_FIELD(max_frozen_ms), 0, 1000, 3600000},
    {"presync", CK_BOOL, CONF_FIELD(presync), 0, 0, 0},
    {"debug", CK_DEBUG, CONF_FIELD(debug), 0, 0, 2},
};

#define CONF_NKEYS (sizeof(conf_keys) / sizeof(conf_keys[0]))

static const struct {
	const char *word;
	bool value;
} conf_bools[] = {
    {"yes", true},
    {"no", false},
    {"true", true},
    {"false", false},
    {"on", true},
    {"off", false},
    {"1", true},
    {"0", false},
};

/* One parse of one file: the reader's and the handler's shared state. */
struct conf_parse {
	FILE *fp;
	const char *path;
	struct conf *c;
	int lineno; /* of the line inih is working on */
	bool indented; /* it starts with a blank */
	bool have_key; /* inih would continue the last key */
	int err_line; /* of the first error we found, or 0 */
	int read_errno;
	char *err;
	size_t errlen;
};

static void conf_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
conf_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * s in double quotes for a message, control and non-ASCII bytes as \xNN
 * (a value must not be able to write to the operator's terminal), cut
 * after CONF_QUOTE_MAX bytes of s.
 */
static const char *
conf_quote(const char *s, char *buf, size_t len)
{
	size_t i, n = 0;
	unsigned char ch;

	if (len < 16)
		return "";
	buf[n++] = '"';
	for (i = 0; s[i] != '\0' && n + 8 < len; i++) {
		if (i == CONF_QUOTE_MAX) {
			memcpy(buf + n, "...", 3);
			n += 3;
			break;
		}
		ch = (unsigned char)s[i];
		if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\')
			n += (size_t)snprintf(buf + n, len - n, "\\x%02x", ch);
		else
			buf[n++] = (char)ch;
	}
	buf[n++] = '"';
	buf[n] = '\0';
	return buf;
}

/* Fill why with "msg: "value"". */
static int
conf_bad(char *why, size_t whylen, const char *msg, const char *value)
{
	char q[CONF_QUOTE_MAX * 4 + 16];

	conf_err(why, whylen, "%s: %s", msg, conf_quote(value, q, sizeof(q)));
	return -1;
}

/* A key or section name as a message shows it: quoted if it is odd. */
static const char *
conf_name(const char *name, char *buf, size_t len)
{
	const char *s;

	for (s = name; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' &&
		    *s != '-')
			break;
	if (s == name || *s != '\0' || s - name > CONF_QUOTE_MAX)
		return conf_quote(name, buf, len);
	return name;
}

static bool
conf_has_ctrl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static const struct conf_key *
conf_key_find(const char *name)
{
	size_t i;

	for (i = 0; i < CONF_NKEYS; i++)
		if (strcmp(conf_keys[i].name, name) == 0)
			return &conf_keys[i];
	return NULL;
}

static bool
conf_is_list(const struct conf_key *k)
{
	return k->kind == CK_PATHS || k->kind == CK_EXCLUDE;
}

/*
 * An absolute path (len bytes at v) of at most max bytes, without control
 * characters; shown is how a message quotes it.
 */
static int
conf_check_path(const char *v, size_t len, size_t max, const char *shown,
    char *why, size_t whylen)
{
	char q[CONF_QUOTE_MAX * 4 + 16];
	size_t i;

	if (len == 0 || v[0] != '/')
		return conf_bad(why, whylen, "not an absolute path", shown);
	if (len > max) {
		conf_err(why, whylen, "path too long (at most %zu bytes): %s",
		    max, conf_quote(shown, q, sizeof(q)));
		return -1;
	}
	for (i = 0; i < len; i++) {
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return conf_bad(
			    why, whylen, "control character in path", shown);
		/* in the file, a blank then ';' or '#' starts a comment: a
		 * path with one could not be written back as it was */
		if ((v[i] == ';' || v[i] == '#') && i > 0 && v[i - 1] == ' ')
			return conf_bad(why, whylen,
			    "a blank before ';' or '#' in a path", shown);
	}
	return 0;
}

/* ms as seconds, the way the file spells them: "60", "0.5", "1.001". */
static const char *
conf_fmt_seconds(unsigned int ms, char *buf, size_t len)
{
	size_t n;

	if (ms % 1000 == 0) {
		snprintf(buf, len, "%u", ms / 1000);
		return buf;
	}
	snprintf(buf, len, "%u.%03u", ms / 1000, ms % 1000);
	for (n = strlen(buf); buf[n - 1] == '0'; n--)
		buf[n - 1] = '\0';
	return buf;
}

/*
 * Seconds, as "10" or "0.5" (at most millisecond precision), into ms in
 * [min, max].  Parsed by hand: strtod would accept "1e3", " 5", "inf"
 * and "0x10", and its rounding is not ours to explain.
 */
static int
conf_parse_seconds(const char *v, unsigned int min, unsigned int max,
    unsigned int *ms, char *why, size_t whylen)
{
	const char *p = v;
	unsigned long long whole = 0, frac = 0, total;
	int nfrac = 0;
	bool neg = false;
	char q[CONF_QUOTE_MAX * 4 + 16], lo[16], hi[16];

	if (*p == '-') {
		neg = true;
		p++;
	}
	if (!isdigit((unsigned char)*p))
		return conf_bad(why, whylen, "not a number of seconds", v);
	for (; isdigit((unsigned char)*p); p++)
		if (whole <= 1000000000ULL) /* far beyond any max; no wrap */
			whole = whole * 10 + (unsigned)(*p - '0');
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return conf_bad(
			    why, whylen, "not a number of seconds", v);
		for (; isdigit((unsigned char)*p); p++, nfrac++) {
			if (nfrac < 3)
				frac = frac * 10 + (unsigned)(*p - '0');
			else if (*p != '0')
				return conf_bad(
				    why, whylen, "finer than a millisecond", v);
		}
		for (; nfrac < 3; nfrac++)
			frac *= 10;
	}
	if (*p != '\0')
		return conf_bad(why, whylen, "not a number of seconds", v);
	total = whole * 1000 + frac;
	if (neg || total < min || total > max) {
		conf_err(why, whylen, "out of range (%s to %s seconds): %s",
		    conf_fmt_seconds(min, lo, sizeof(lo)),
		    conf_fmt_seconds(max, hi, sizeof(hi)),
		    conf_quote(v, q, sizeof(q)));
		return -1;
	}
	*ms = (unsigned int)total;
	return 0;
}

/* Permission bits in octal, 0 to 0777 (no set-id or sticky bits). */
static int
conf_parse_mode(const char *v, mode_t *mode, char *why, size_t whylen)
{
	const char *p = v;
	mode_t m = 0;

	while (*p == '0' && p[1] != '\0')
		p++;
	if (*p == '\0' || strlen(p) > 3)
		return conf_bad(
		    why, whylen, "not an octal mode from 0 to 0777", v);
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '7')
			return conf_bad(
			    why, whylen, "not an octal mode from 0 to 0777", v);
		m = (mode_t)(m * 8 + (mode_t)(*p - '0'));
	}
	*mode = m;
	return 0;
}

/* Check one list entry, the len bytes at v, for key k. */
static int
conf_check_entry(const struct conf_key *k, const char *v, size_t len, char *why,
    size_t whylen)
{
	char shown[CONF_QUOTE_MAX + 2];
	size_t i;

	/* v goes on with the next entries: quote a copy of this one */
	snprintf(shown, sizeof(shown), "%.*s",
	    (int)(len < sizeof(shown) - 1 ? len : sizeof(shown) - 1), v);
	if (k->kind == CK_PATHS || v[0] == '/')
		return conf_check_path(
		    v, len, CONF_PATH_MAX - 1, shown, why, whylen);
	for (i = 0; i < len; i++)
		if (!islower((unsigned char)v[i]) &&
		    !isdigit((unsigned char)v[i]) && v[i] != '_' && v[i] != '.')
			return conf_bad(why, whylen,
			    "neither an absolute path nor a filesystem type "
			    "[a-z0-9_.]",
			    shown);
	if (len > CONF_PATH_MAX - 1)
		return conf_bad(why, whylen, "filesystem type too long", shown);
	return 0;
}

/*
 * Set list k from v: replace it, or with append add to it (an indented
 * continuation line).  Everything is checked and counted before anything
 * is allocated, and the list is changed only if all of v is good.
 */
static int
conf_set_list(struct conf *c, const struct conf_key *k, const char *v,
    bool append, char *why, size_t whylen)
{
	char **list = (char **)(void *)((char *)c + k->off);
	size_t *np = (size_t *)(void *)((char *)c + k->noff);
	char *add[CONF_MAX_LIST];
	size_t nadd = 0, have = append ? *np : 0, len, i;
	const char *p;

	for (p = v; *(p += strspn(p, CONF_SEPS)) != '\0'; p += len) {
		len = strcspn(p, CONF_SEPS);
		if (conf_check_entry(k, p, len, why, whylen) == -1)
			return -1;
		if (have + ++nadd > CONF_MAX_LIST) {
			conf_err(
			    why, whylen, "more than %d entries", CONF_MAX_LIST);
			return -1;
		}
	}

	nadd = 0;
	for (p = v; *(p += strspn(p, CONF_SEPS)) != '\0'; p += len) {
		len = strcspn(p, CONF_SEPS);
		if ((add[nadd] = strndup(p, len)) == NULL) {
			while (nadd > 0)
				free(add[--nadd]);
			conf_err(why, whylen, "%s", strerror(ENOMEM));
			return -1;
		}
		/* "/mnt/a/" is "/mnt/a", as mountinfo spells it */
		for (i = len; i > 1 && add[nadd][i - 1] == '/'; i--)
			add[nadd][i - 1] = '\0';
		nadd++;
	}

	if (!append) {
		for (i = 0; i < *np; i++)
			free(list[i]);
		*np = 0;
	}
	for (i = 0; i < nadd; i++)
		list[(*np)++] = add[i];
	return 0;
}

/* Check v for key k and store it in c; on error c is unchanged. */
static int
conf_apply(struct conf *c, const struct conf_key *k, const char *v, bool append,
    char *why, size_t whylen)
{
	void *field = (char *)c + k->off;
	unsigned int ms = 0;
	mode_t mode = 0;
	size_t i, len = strlen(v);

	switch (k->kind) {
	case CK_OPTPATH:
		if (len == 0) {
			*(char *)field = '\0';
			return 0;
		}
		/* FALLTHROUGH */
	case CK_PATH:
	case CK_SOCKET:
		if (conf_check_path(v, len,
		        k->kind == CK_SOCKET ? CONF_SOCK_MAX : k->size - 1, v,
		        why, whylen) == -1)
			return -1;
		memcpy(field, v, len + 1);
		return 0;
	case CK_MODE:
		if (conf_parse_mode(v, &mode, why, whylen) == -1)
			return -1;
		*(mode_t *)field = mode;
		return 0;
	case CK_GROUP:
		if (len > k->size - 1) {
			conf_err(why, whylen,
			    "group name too long (at most %zu bytes)",
			    k->size - 1);
			return -1;
		}
		if (conf_has_ctrl(v))
			return conf_bad(
			    why, whylen, "control character in group name", v);
		/* what a group can be called (POSIX's portable characters,
		 * and samba's trailing $); anything else could not be
		 * written back to the file as it was read */
		for (size_t g = 0; g < len; g++)
			if (!isalnum((unsigned char)v[g]) && v[g] != '.' &&
			    v[g] != '_' && v[g] != '-' &&
			    !(v[g] == '$' && g == len - 1))
				return conf_bad(why, whylen,
				    "not a group name ([A-Za-z0-9._-])", v);
		memcpy(field, v, len + 1);
		return 0;
	case CK_PATHS:
	case CK_EXCLUDE:
		return conf_set_list(c, k, v, append, why, whylen);
	case CK_POLICY:
		if (strcasecmp(v, "skip") == 0)
			*(enum unfreezable_policy *)field = UNFREEZABLE_SKIP;
		else if (strcasecmp(v, "veto") == 0)
			*(enum unfreezable_policy *)field = UNFREEZABLE_VETO;
		else
			return conf_bad(why, whylen, "not skip or veto", v);
		return 0;
	case CK_SECONDS:
		if (conf_parse_seconds(v, k->min, k->max, &ms, why, whylen) ==
		    -1)
			return -1;
		*(unsigned int *)field = ms;
		return 0;
	case CK_BOOL:
		for (i = 0; i < sizeof(conf_bools) / sizeof(conf_bools[0]);
		     i++) {
			if (strcasecmp(v, conf_bools[i].word) == 0) {
				*(bool *)field = conf_bools[i].value;
				return 0;
			}
		}
		return conf_bad(why, whylen,
		    "not yes, no, true, false, on, off, 1 or 0", v);
	case CK_DEBUG:
		if (v[0] < '0' || v[0] > '0' + (int)k->max || v[1] != '\0')
			return conf_bad(why, whylen, "not 0, 1 or 2", v);
		*(int *)field = v[0] - '0';
		return 0;
	case CK_COUNT: {
		unsigned long n = 0;
		size_t j;

		for (j = 0; v[j] >= '0' && v[j] <= '9' && j < 6; j++)
			n = n * 10 + (unsigned long)(v[j] - '0');
		if (j == 0 || v[j] != '\0' || n < k->min || n > k->max)
			return conf_bad(
			    why, whylen, "not a whole number in range", v);
		*(unsigned int *)field = (unsigned int)n;
		return 0;
	}
	}
	return conf_bad(why, whylen, "internal error: unknown kind", v);
}

void
conf_defaults(struct conf *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->device, "/dev/vmbus/hv_vss");
	strcpy(c->run_dir, "/run/hv_vss");
	strcpy(c->app_socket, "/run/hv_vss/app.sock");
	c->app_socket_mode = 0600;
	c->app_socket_group[0] = '\0';
	strcpy(c->hooks_dir, "/etc/hv_vss/hooks.d");
	c->app_max_clients = 1024;
	strcpy(c->ctl_socket, "/run/hv_vss/ctl.sock");
	c->nmounts = 0;
	c->nexclude = 0;
	c->unfreezable = UNFREEZABLE_SKIP;
	c->check_timeout_ms = 10 * 1000;
	c->app_freeze_timeout_ms = 10 * 1000;
	c->hook_timeout_ms = 10 * 1000;
	c->hooks_tier = 10; /* after every tier */
	c->fs_freeze_timeout_ms = 60 * 1000;
	c->thaw_timeout_ms = 20 * 1000;
	c->max_frozen_ms = 60 * 1000;
	c->presync = true;
	c->debug = 0;
}

void
conf_clear(struct conf *c)
{
	size_t i;

	for (i = 0; i < c->nmounts; i++)
		free(c->mounts[i]);
	for (i = 0; i < c->nexclude; i++)
		free(c->exclude[i]);
	memset(c->mounts, 0, sizeof(c->mounts));
	memset(c->exclude, 0, sizeof(c->exclude));
	c->nmounts = 0;
	c->nexclude = 0;
}

/* dst = src with lists of their own; -1 if out of memory (dst cleared). */
static int
conf_copy(struct conf *dst, const struct conf *src)
{
	size_t i;

	memcpy(dst, src, sizeof(*dst));
	dst->nmounts = dst->nexclude = 0;
	for (i = 0; i < src->nmounts; i++) {
		if ((dst->mounts[i] = strdup(src->mounts[i])) == NULL)
			goto fail;
		dst->nmounts++;
	}
	for (i = 0; i < src->nexclude; i++) {
		if ((dst->exclude[i] = strdup(src->exclude[i])) == NULL)
			goto fail;
		dst->nexclude++;
	}
	return 0;
fail:
	conf_clear(dst);
	return -1;
}

/*
 * inih's line reader: one physical line per call, so that our count is
 * inih's.  The line is checked here for what inih would get wrong.
 */
static char *
conf_read_line(char *buf, int size, void *arg)
{
	struct conf_parse *p = arg;
	const char *s, *end;
	char name[CONF_QUOTE_MAX + 2], q[CONF_QUOTE_MAX * 4 + 16];
	size_t len = 0;
	int ch;

	if (p->err_line != 0 || size < 3)
		return NULL;
	while ((ch = getc(p->fp)) != EOF) {
		if (ch == '\n')
			break;
		if (ch == '\0') {
			p->err_line = ++p->lineno;
			conf_err(p->err, p->errlen, "%s:%d: NUL byte in line",
			    p->path, p->lineno);
			return NULL;
		}
		if (len == (size_t)size - 2) {
			p->err_line = ++p->lineno;
			conf_err(p->err, p->errlen,
			    "%s:%d: line too long (at most %d bytes; an "
			    "indented line continues a list)",
			    p->path, p->lineno, size - 2);
			return NULL;
		}
		buf[len++] = (char)ch;
	}
	if (ch == EOF) {
		if (ferror(p->fp)) {
			p->read_errno = errno != 0 ? errno : EIO;
			return NULL;
		}
		if (len == 0)
			return NULL;
	}
	buf[len] = '\0';
	p->lineno++;

	/*
	 * Like inih: an indented line after a key continues it.  Otherwise
	 * a "[section]" starts a section, and we check the name here so
	 * that an unknown section is an error even when it holds no key.
	 */
	s = buf;
	if (p->lineno == 1 && strncmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3; /* UTF-8 byte order mark */
	p->indented = isspace((unsigned char)*s);
	if (p->indented && p->have_key)
		return buf;
	s += strspn(s, " \t\r\v\f");
	if (*s == '[' && (end = strchr(s, ']')) != NULL) {
		p->have_key = false;
		if ((size_t)(end - s - 1) != strlen(CONF_SECTION) ||
		    strncmp(s + 1, CONF_SECTION, strlen(CONF_SECTION)) != 0) {
			snprintf(name, sizeof(name), "%.*s",
			    (int)(end - s - 1 < CONF_QUOTE_MAX + 1
			            ? end - s - 1
			            : CONF_QUOTE_MAX + 1),
			    s + 1);
			p->err_line = p->lineno;
			conf_err(p->err, p->errlen,
			    "%s:%d: [%s]: unknown section (the only one is "
			    "[" CONF_SECTION "])",
			    p->path, p->lineno, conf_name(name, q, sizeof(q)));
			return NULL;
		}
	}
	return buf;
}

static int
conf_ini_handler(
    void *arg, const char *section, const char *name, const char *value)
{
	struct conf_parse *p = arg;
	const struct conf_key *k;
	bool cont = p->indented && p->have_key;
	char why[CONF_WHY_MAX], q[CONF_QUOTE_MAX * 4 + 16], *dup = NULL;
	const char *s;
	int rc;

	if (p->err_line != 0)
		return 0;
	/* the reader has checked sections; this is a second line of defence */
	if (*section != '\0' && strcmp(section, CONF_SECTION) != 0) {
		conf_err(p->err, p->errlen, "%s:%d: [%s]: unknown section",
		    p->path, p->lineno, conf_name(section, q, sizeof(q)));
		goto fail;
	}
	if ((k = conf_key_find(name)) == NULL) {
		conf_err(p->err, p->errlen, "%s:%d: %s: unknown key", p->path,
		    p->lineno, conf_name(name, q, sizeof(q)));
		goto fail;
	}
	if (cont && !conf_is_list(k)) {
		conf_err(p->err, p->errlen,
		    "%s:%d: %s: indented line, but only a list may go on "
		    "over lines",
		    p->path, p->lineno, name);
		goto fail;
	}
	if (cont) {
		/*
		 * inih up to r55 leaves an inline comment on a continuation
		 * line; cut it as inih does on other lines (later inih has
		 * done so already, and then this finds nothing).
		 */
		for (s = value; *s != '\0'; s++)
			if (*s == ';' && s > value &&
			    isspace((unsigned char)s[-1]))
				break;
		while (s > value && isspace((unsigned char)s[-1]))
			s--;
		if ((dup = strndup(value, (size_t)(s - value))) == NULL) {
			conf_err(p->err, p->errlen, "%s:%d: %s: %s", p->path,
			    p->lineno, name, strerror(ENOMEM));
			goto fail;
		}
		value = dup;
	}
	rc = conf_apply(p->c, k, value, cont, why, sizeof(why));
	free(dup);
	if (rc == -1) {
		conf_err(p->err, p->errlen, "%s:%d: %s: %s", p->path, p->lineno,
		    name, why);
		goto fail;
	}
	p->have_key = true;
	return 1;
fail:
	p->err_line = p->lineno;
	return 0;
}

/*
 * inih found a line that is neither a comment, a section nor a key: read
 * it again to show it.
 */
static void
conf_syntax_error(struct conf_parse *p, int line)
{
	char text[CONF_QUOTE_MAX + 8], q[CONF_QUOTE_MAX * 4 + 16];
	size_t len = 0;
	int ch, n = 1;

	if (fseek(p->fp, 0, SEEK_SET) == -1) {
		conf_err(p->err, p->errlen,
		    "%s:%d: syntax error: expected key = value", p->path, line);
		return;
	}
	while (n < line && (ch = getc(p->fp)) != EOF)
		if (ch == '\n')
			n++;
	while ((ch = getc(p->fp)) != EOF && ch != '\n')
		if (len < sizeof(text) - 1)
			text[len++] = (char)ch;
	text[len] = '\0';
	len = strspn(text, " \t");
	conf_err(p->err, p->errlen, "%s:%d: syntax error: %s: %s", p->path,
	    line,
	    text[len] == '[' ? "expected [section]" : "expected key = value",
	    conf_quote(text, q, sizeof(q)));
}

int
conf_load(
    struct conf *c, const char *path, bool required, char *err, size_t errlen)
{
	struct conf_parse p;
	struct conf *tmp;
	FILE *fp;
	int rc;

	if ((fp = fopen(path, "re")) == NULL) {
		if (errno == ENOENT && !required)
			return 0;
		conf_err(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if ((tmp = malloc(sizeof(*tmp))) == NULL || conf_copy(tmp, c) == -1) {
		free(tmp);
		fclose(fp);
		conf_err(err, errlen, "%s: %s", path, strerror(ENOMEM));
		return -1;
	}

	memset(&p, 0, sizeof(p));
	p.fp = fp;
	p.path = path;
	p.c = tmp;
	p.err = err;
	p.errlen = errlen;
	rc = ini_parse_stream(conf_read_line, &p, conf_ini_handler, &p);

	/*
	 * inih goes on after a syntax error and returns the first bad line;
	 * we stop at our first error.  Report whichever came first.
	 */
	if (rc > 0 && (p.err_line == 0 || rc < p.err_line)) {
		conf_syntax_error(&p, rc);
		rc = -1;
	} else if (p.err_line != 0) {
		rc = -1;
	} else if (p.read_errno != 0) {
		conf_err(err, errlen, "%s: %s", path, strerror(p.read_errno));
		rc = -1;
	} else if (rc != 0) {
		conf_err(err, errlen, "%s: %s", path, strerror(ENOMEM));
		rc = -1;
	}
	fclose(fp);

	if (rc == 0) {
		conf_clear(c);
		memcpy(c, tmp, sizeof(*c));
	} else
		conf_clear(tmp);
	free(tmp);
	return rc;
}

int
conf_set(struct conf *c, const char *keyval, char *err, size_t errlen)
{
	const struct conf_key *k;
	const char *eq, *v;
	char key[CONF_QUOTE_MAX + 2], why[CONF_WHY_MAX];
	char q[CONF_QUOTE_MAX * 4 + 16];
	char *value;
	size_t klen;
	int rc;

	/* "key=value", with blanks around either as in the file */
	while (isspace((unsigned char)*keyval))
		keyval++;
	if ((eq = strchr(keyval, '=')) == NULL || eq == keyval) {
		conf_err(err, errlen, "-o %s: expected key=value",
		    conf_quote(keyval, q, sizeof(q)));
		return -1;
	}
	for (klen = (size_t)(eq - keyval);
	     klen > 0 && isspace((unsigned char)keyval[klen - 1]); klen--)
		;
	snprintf(key, sizeof(key), "%.*s",
	    (int)(klen < sizeof(key) ? klen : sizeof(key)), keyval);
	if (klen >= sizeof(key) || (k = conf_key_find(key)) == NULL) {
		conf_err(err, errlen, "-o %s: unknown key",
		    conf_name(key, q, sizeof(q)));
		return -1;
	}

	for (v = eq + 1; isspace((unsigned char)*v); v++)
		;
	if ((value = strdup(v)) == NULL) {
		conf_err(err, errlen, "-o %s: %s", key, strerror(ENOMEM));
		return -1;
	}
	for (klen = strlen(value);
	     klen > 0 && isspace((unsigned char)value[klen - 1]); klen--)
		value[klen - 1] = '\0';
	rc = conf_apply(c, k, value, false, why, sizeof(why));
	free(value);
	if (rc == -1)
		conf_err(err, errlen, "-o %s: %s", key, why);
	return rc;
}

/*
 * A list on one line, or on indented continuation lines where it would
 * pass CONF_DUMP_COLS (and so stay within inih's line buffer).  An entry
 * as long as a line may be (a continuation line holds 197 bytes of it)
 * goes on a line of its own, even the first, and the comma that would
 * end that line is left out: a blank separates entries as well.
 */
static void
conf_dump_list(FILE *f, const char *name, char *const *list, size_t n)
{
	size_t i, col, len, bytes;

	fprintf(f, "%s =", name);
	col = bytes = strlen(name) + 2;
	for (i = 0; i < n; i++) {
		len = strlen(list[i]);
		if (col + (i > 0 ? 2 : 1) + len > CONF_DUMP_COLS) {
			fputs(i > 0 && bytes < CONF_LINE_MAX ? ",\n\t" : "\n\t",
			    f);
			col = 8;
			bytes = 1;
		} else {
			fputs(i > 0 ? ", " : " ", f);
			col += i > 0 ? 2 : 1;
			bytes += i > 0 ? 2 : 1;
		}
		fputs(list[i], f);
		col += len;
		bytes += len;
	}
	fputc('\n', f);
}

void
conf_dump(const struct conf *c, FILE *f)
{
	const struct conf_key *k;
	const void *field;
	char sec[16];
	size_t i;

	fputs("[" CONF_SECTION "]\n", f);
	for (i = 0; i < CONF_NKEYS; i++) {
		k = &conf_keys[i];
		field = (const char *)c + k->off;
		switch (k->kind) {
		case CK_PATH:
		case CK_OPTPATH:
		case CK_SOCKET:
		case CK_GROUP:
			if (*(const char *)field == '\0')
				fprintf(f, "%s =\n", k->name);
			else if (strlen(k->name) + 3 +
			        strlen((const char *)field) >
			    CONF_LINE_MAX)
				/* no blanks: the line held it that way */
				fprintf(
				    f, "%s=%s\n", k->name, (const char *)field);
			else
				fprintf(f, "%s = %s\n", k->name,
				    (const char *)field);
			break;
		case CK_MODE:
			fprintf(f, "%s = %04o\n", k->name,
			    (unsigned int)*(const mode_t *)field);
			break;
		case CK_PATHS:
		case CK_EXCLUDE:
			conf_dump_list(f, k->name, (char *const *)field,
			    *(const size_t *)(const void *)((const char *)c +
			        k->noff));
			break;
		case CK_POLICY:
			fprintf(f, "%s = %s\n", k->name,
			    *(const enum unfreezable_policy *)field ==
			            UNFREEZABLE_VETO
			        ? "veto"
			        : "skip");
			break;
		case CK_SECONDS:
			fprintf(f, "%s = %s\n", k->name,
			    conf_fmt_seconds(*(const unsigned int *)field, sec,
			        sizeof(sec)));
			break;
		case CK_BOOL:
			fprintf(f, "%s = %s\n", k->name,
			    *(const bool *)field ? "yes" : "no");
			break;
		case CK_DEBUG:
			fprintf(f, "%s = %d\n", k->name, *(const int *)field);
			break;
		case CK_COUNT:
			fprintf(f, "%s = %u\n", k->name,
			    *(const unsigned int *)field);
			break;
		}
	}
}
