/*
 * conf.c: reads /etc/hv_vss/hv_vss.conf and -o key=value into struct conf.
 *
 * The daemon freezes filesystems on behalf of a host it does not control,
 * so a configuration that says something other than what its author meant
 * is dangerous: a misspelt "exclude" would freeze what was meant to be left
 * alone.  Hence everything unknown is an error (keys, sections, lines that
 * are not "key = value"), every value is checked the same way whether it
 * comes from the file or from -o, and every error names the file, the
 * line and the key.  So is what is known but could be read otherwise
 * than its author meant: a key set twice in a file (which one was
 * meant?), a key before [daemon], an empty "mounts" (an allow-list that
 * allows nothing would mean "freeze everything": the automatic plan is
 * asked for by name, "mounts = auto"), and a list path with "." or ".."
 * (mount points are matched as the mount table spells them, so it would
 * never match).  Nothing here logs or exits; the caller prints err.
 *
 * The grammar is INI as inih reads it (this file used inih, and the
 * files written for it mean the same): "[section]", "key = value" (or
 * "key: value"), ';' or '#' starting a comment line, " ;" an inline one.
 * An indented line after a key continues it, which lists use, so that a
 * long "mounts" stays within CONF_LINE_MAX; for a single-valued key that
 * is an error.  The parser is ours because every message must name the
 * line (inih does not tell its handler which line it is on), and a line
 * too long, a NUL byte or an unknown section must be refused rather than
 * cut, read past or skipped.
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
#include <sys/stat.h>
#include <sys/un.h>

#include "conf.h"
#include "host.h"
#include "util.h"

#define CONF_SECTION "daemon"
#define CONF_SEPS ", \t\n\r\v\f" /* between list entries */
#define CONF_WHY_MAX 256 /* one "what is wrong" */
#define CONF_QUOTE_MAX 64 /* bytes of a bad value shown in a message */
#define CONF_DUMP_COLS 78 /* conf_dump wraps lists here */
#define CONF_AUTO "auto" /* mounts: the automatic plan */
#define CONF_EMPTY_WHY \
	"an empty allow-list (for the automatic plan, say \"" CONF_AUTO "\")"

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
	CK_VETO, /* fail | ok, kept as a bool: ok */
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
    {"app_device", CK_OPTPATH, CONF_FIELD(app_device), 0, 0, 0},
    {"run_dir", CK_PATH, CONF_FIELD(run_dir), 0, 0, 0},
    {"app_socket", CK_SOCKET, CONF_FIELD(app_socket), 0, 0, 0},
    {"app_socket_mode", CK_MODE, CONF_FIELD(app_socket_mode), 0, 0, 0},
    {"app_socket_group", CK_GROUP, CONF_FIELD(app_socket_group), 0, 0, 0},
    {"hooks_dir", CK_PATH, CONF_FIELD(hooks_dir), 0, 0, 0},
    {"app_max_clients", CK_COUNT, CONF_FIELD(app_max_clients), 0, 1, 65536},
    {"app_max_per_uid", CK_COUNT, CONF_FIELD(app_max_per_uid), 0, 1, 65536},
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
    {"expedite_freeze", CK_BOOL, CONF_FIELD(expedite_freeze), 0, 0, 0},
    {"hot_backup_veto", CK_VETO, CONF_FIELD(hot_backup_veto_ok), 0, 0, 0},
    {"privsep", CK_BOOL, CONF_FIELD(privsep), 0, 0, 0},
    {"privsep_user", CK_GROUP, CONF_FIELD(privsep_user), 0, 0, 0},
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

/* One parse of one file. */
struct conf_parse {
	FILE *fp;
	const char *path;
	struct conf *c;
	int lineno; /* of the line being read */
	bool in_section; /* [daemon] has been seen */
	const struct conf_key *key; /* an indented line continues it */
	int seen[CONF_NKEYS]; /* the line that set each key, or 0 */
	int empty_line; /* of a "mounts =" not continued (yet) */
	bool is_auto; /* the last key was "mounts = auto" */
	char *err;
	size_t errlen;
};

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

	errfmt(why, whylen, 0, "%s: %s", msg, conf_quote(value, q, sizeof(q)));
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
		errfmt(why, whylen, 0, "path too long (at most %zu bytes): %s",
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
		errfmt(why, whylen, 0, "out of range (%s to %s seconds): %s",
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

/* Does the path (len bytes at v) have a "." or ".." component? */
static bool
conf_has_dots(const char *v, size_t len)
{
	size_t i, n;

	for (i = 0; i < len; i += n + 1) {
		while (i < len && v[i] == '/')
			i++;
		for (n = 0; i + n < len && v[i + n] != '/'; n++)
			;
		if ((n == 1 && v[i] == '.') ||
		    (n == 2 && v[i] == '.' && v[i + 1] == '.'))
			return true;
	}
	return false;
}

/* True if list value v holds no entry at all. */
static bool
conf_list_empty(const char *v)
{
	return v[strspn(v, CONF_SEPS)] == '\0';
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
	if (k->kind == CK_PATHS || v[0] == '/') {
		if (conf_check_path(
		        v, len, CONF_PATH_MAX - 1, shown, why, whylen) == -1)
			return -1;
		if (conf_has_dots(v, len))
			return conf_bad(why, whylen,
			    "\".\" or \"..\" in a path (mount points are matched as the mount table spells them)",
			    shown);
		return 0;
	}
	for (i = 0; i < len; i++)
		if (!islower((unsigned char)v[i]) &&
		    !isdigit((unsigned char)v[i]) && v[i] != '_' && v[i] != '.')
			return conf_bad(why, whylen,
			    "neither an absolute path nor a filesystem type [a-z0-9_.]",
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
		if (k->kind == CK_PATHS && len == strlen(CONF_AUTO) &&
		    strncmp(p, CONF_AUTO, len) == 0) {
			/* the automatic plan: alone, and not continued */
			if (append || nadd > 0 || !conf_list_empty(p + len))
				return conf_bad(why, whylen,
				    "\"" CONF_AUTO
				    "\" (the automatic plan) goes alone",
				    v);
			for (i = 0; i < *np; i++)
				free(list[i]);
			*np = 0;
			return 0;
		}
		if (conf_check_entry(k, p, len, why, whylen) == -1)
			return -1;
		if (have + ++nadd > CONF_MAX_LIST) {
			errfmt(why, whylen, 0, "more than %d entries",
			    CONF_MAX_LIST);
			return -1;
		}
	}

	nadd = 0;
	for (p = v; *(p += strspn(p, CONF_SEPS)) != '\0'; p += len) {
		len = strcspn(p, CONF_SEPS);
		if ((add[nadd] = strndup(p, len)) == NULL) {
			while (nadd > 0)
				free(add[--nadd]);
			errfmt(why, whylen, 0, "%s", strerror(ENOMEM));
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
			errfmt(why, whylen, 0,
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
	case CK_VETO:
		if (strcasecmp(v, "fail") == 0)
			*(bool *)field = false;
		else if (strcasecmp(v, "ok") == 0)
			*(bool *)field = true;
		else
			return conf_bad(why, whylen, "not fail or ok", v);
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
	c->app_max_per_uid = 64;
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
	c->hot_backup_veto_ok = true; /* hv_vss_daemon(8) says why */
	c->presync = true;
	c->expedite_freeze = true;
	c->privsep = true;
	strcpy(c->privsep_user, "hvvss");
	c->debug = 0;
	/* the device, and deadlines that fit the kernel's own timers */
	host_conf_defaults(c);
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
 * A new key or section, or the end of the file, ends the list before it:
 * a "mounts =" that nothing continued is an error, at its own line.
 */
static int
conf_end_list(struct conf_parse *p)
{
	int line = p->empty_line;

	p->is_auto = false;
	p->empty_line = 0;
	if (line == 0)
		return 0;
	errfmt(p->err, p->errlen, 0, "%s:%d: mounts: " CONF_EMPTY_WHY, p->path,
	    line);
	return -1;
}

/*
 * The next line into buf (CONF_LINE_MAX + 1 bytes), without its newline:
 * 1, or 0 at the end of the file, or -1 with err set.  A line too long is
 * refused, not cut in two; a NUL byte, not read past.
 */
static int
conf_getline(struct conf_parse *p, char *buf)
{
	size_t len = 0;
	int ch;

	while ((ch = getc(p->fp)) != EOF && ch != '\n') {
		if (ch == '\0' || len == CONF_LINE_MAX) {
			errfmt(p->err, p->errlen, 0,
			    ch == '\0'
			        ? "%s:%d: NUL byte in line"
			        : "%s:%d: line too long (at most %d bytes; an indented line continues a list)",
			    p->path, p->lineno + 1, CONF_LINE_MAX);
			return -1;
		}
		buf[len++] = (char)ch;
	}
	if (ch == EOF && ferror(p->fp)) {
		errfmt(
		    p->err, p->errlen, errno != 0 ? errno : EIO, "%s", p->path);
		return -1;
	}
	if (ch == EOF && len == 0)
		return 0;
	buf[len] = '\0';
	p->lineno++;
	return 1;
}

/* s without its trailing blanks, in place. */
static char *
conf_rstrip(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* The first of chars in s, or an inline comment (" ;"), or s's end. */
static char *
conf_find(char *s, const char *chars)
{
	bool blank = false;

	for (; *s != '\0' && (chars == NULL || strchr(chars, *s) == NULL) &&
	     !(blank && *s == ';');
	     s++)
		blank = isspace((unsigned char)*s);
	return s;
}

/* A key's line, or with cont a line continuing it: value into p->c. */
static int
conf_key(struct conf_parse *p, const char *name, const char *value, bool cont)
{
	const struct conf_key *k = cont ? p->key : conf_key_find(name);
	char why[CONF_WHY_MAX], q[CONF_QUOTE_MAX * 4 + 16];

	if (!cont && conf_end_list(p) == -1)
		return -1;
	if (k == NULL) {
		errfmt(p->err, p->errlen, 0, "%s:%d: %s: unknown key", p->path,
		    p->lineno, conf_name(name, q, sizeof(q)));
		return -1;
	}
	if (!cont && !p->in_section) {
		errfmt(p->err, p->errlen, 0,
		    "%s:%d: %s: before [" CONF_SECTION
		    "] (every key goes in that section)",
		    p->path, p->lineno, name);
		return -1;
	}
	if (!cont && p->seen[k - conf_keys] != 0) {
		errfmt(p->err, p->errlen, 0,
		    "%s:%d: %s: set again (first at line %d)", p->path,
		    p->lineno, name, p->seen[k - conf_keys]);
		return -1;
	}
	if (cont && p->is_auto) {
		errfmt(p->err, p->errlen, 0,
		    "%s:%d: %s: \"" CONF_AUTO
		    "\" (the automatic plan) goes alone, but an indented line continues it",
		    p->path, p->lineno, name);
		return -1;
	}
	if (cont && !conf_is_list(k)) {
		errfmt(p->err, p->errlen, 0,
		    "%s:%d: %s: indented line, but only a list may go on over lines",
		    p->path, p->lineno, name);
		return -1;
	}
	if (conf_apply(p->c, k, value, cont, why, sizeof(why)) == -1) {
		errfmt(p->err, p->errlen, 0, "%s:%d: %s: %s", p->path,
		    p->lineno, name, why);
		return -1;
	}
	if (!cont)
		p->seen[k - conf_keys] = p->lineno;
	if (k->kind == CK_PATHS && !cont) {
		/* an empty first line is fine if indented lines follow */
		p->empty_line = conf_list_empty(value) ? p->lineno : 0;
		p->is_auto = !conf_list_empty(value) && p->c->nmounts == 0;
	} else if (k->kind == CK_PATHS && p->c->nmounts > 0)
		p->empty_line = 0;
	p->key = k;
	return 0;
}

/* One line of the file: a comment, a [section], a key, a continuation. */
static int
conf_line(struct conf_parse *p, char *line)
{
	char raw[CONF_QUOTE_MAX + 8], name[CONF_QUOTE_MAX + 2];
	char q[CONF_QUOTE_MAX * 4 + 16];
	char *s = line, *end, *value;
	bool indented;

	snprintf(raw, sizeof(raw), "%s", line); /* for a syntax error */
	if (p->lineno == 1 && strncmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3; /* UTF-8 byte order mark */
	indented = isspace((unsigned char)*s);
	s = conf_rstrip(s);
	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0' || *s == ';' || *s == '#')
		return 0;
	if (indented && p->key != NULL) {
		*conf_find(s, NULL) = '\0';
		return conf_key(p, p->key->name, conf_rstrip(s), true);
	}
	if (*s == '[' && (end = strchr(s, ']')) != NULL) {
		p->key = NULL;
		if (conf_end_list(p) == -1)
			return -1;
		if ((size_t)(end - s - 1) != strlen(CONF_SECTION) ||
		    strncmp(s + 1, CONF_SECTION, strlen(CONF_SECTION)) != 0) {
			snprintf(name, sizeof(name), "%.*s",
			    (int)(end - s - 1 < CONF_QUOTE_MAX + 1
			            ? end - s - 1
			            : CONF_QUOTE_MAX + 1),
			    s + 1);
			errfmt(p->err, p->errlen, 0,
			    "%s:%d: [%s]: unknown section (the only one is [%s])",
			    p->path, p->lineno, conf_name(name, q, sizeof(q)),
			    CONF_SECTION);
			return -1;
		}
		p->in_section = true;
		return 0;
	}
	end = conf_find(s, "=:");
	if (*s == '[' || (*end != '=' && *end != ':')) {
		if (conf_end_list(p) == -1)
			return -1; /* the earlier line's error first */
		errfmt(p->err, p->errlen, 0, "%s:%d: syntax error: %s: %s",
		    p->path, p->lineno,
		    *s == '[' ? "expected [section]" : "expected key = value",
		    conf_quote(raw, q, sizeof(q)));
		return -1;
	}
	*end = '\0';
	value = end + 1;
	*conf_find(value, NULL) = '\0';
	while (isspace((unsigned char)*value))
		value++;
	return conf_key(p, conf_rstrip(s), conf_rstrip(value), false);
}

int
conf_load(
    struct conf *c, const char *path, bool required, char *err, size_t errlen)
{
	FILE *fp;

	if ((fp = fopen(path, "re")) == NULL) {
		if (errno == ENOENT && !required)
			return 0;
		errfmt(err, errlen, errno, "%s", path);
		return -1;
	}
	return conf_load_fp(c, fp, path, err, errlen);
}

int
conf_load_fp(
    struct conf *c, FILE *fp, const char *path, char *err, size_t errlen)
{
	char line[CONF_LINE_MAX + 1];
	struct conf_parse p;
	struct conf *tmp;
	int rc;

	if ((tmp = malloc(sizeof(*tmp))) == NULL || conf_copy(tmp, c) == -1) {
		free(tmp);
		fclose(fp);
		errfmt(err, errlen, ENOMEM, "%s", path);
		return -1;
	}

	memset(&p, 0, sizeof(p));
	p.fp = fp;
	p.path = path;
	p.c = tmp;
	p.err = err;
	p.errlen = errlen;
	while ((rc = conf_getline(&p, line)) == 1)
		if ((rc = conf_line(&p, line)) == -1)
			break;
	if (rc == 0)
		rc = conf_end_list(&p);
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
		errfmt(err, errlen, 0, "-o %s: expected key=value",
		    conf_quote(keyval, q, sizeof(q)));
		return -1;
	}
	for (klen = (size_t)(eq - keyval);
	     klen > 0 && isspace((unsigned char)keyval[klen - 1]); klen--)
		;
	snprintf(key, sizeof(key), "%.*s",
	    (int)(klen < sizeof(key) ? klen : sizeof(key)), keyval);
	if (klen >= sizeof(key) || (k = conf_key_find(key)) == NULL) {
		errfmt(err, errlen, 0, "-o %s: unknown key",
		    conf_name(key, q, sizeof(q)));
		return -1;
	}

	for (v = eq + 1; isspace((unsigned char)*v); v++)
		;
	if ((value = strdup(v)) == NULL) {
		errfmt(err, errlen, ENOMEM, "-o %s", key);
		return -1;
	}
	for (klen = strlen(value);
	     klen > 0 && isspace((unsigned char)value[klen - 1]); klen--)
		value[klen - 1] = '\0';
	if (k->kind == CK_PATHS && conf_list_empty(value)) {
		free(value);
		errfmt(err, errlen, 0, "-o %s: " CONF_EMPTY_WHY, key);
		return -1;
	}
	rc = conf_apply(c, k, value, false, why, sizeof(why));
	free(value);
	if (rc == -1)
		errfmt(err, errlen, 0, "-o %s: %s", key, why);
	return rc;
}

/*
 * A list on one line, or on indented continuation lines where it would
 * pass CONF_DUMP_COLS (and so stay within CONF_LINE_MAX).  An entry
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
			if (k->kind == CK_PATHS && c->nmounts == 0) {
				fprintf(f, "%s = " CONF_AUTO "\n", k->name);
				break;
			}
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
		case CK_VETO:
			fprintf(f, "%s = %s\n", k->name,
			    *(const bool *)field ? "ok" : "fail");
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

int
conf_check_mounts(const struct conf *c, char *err, size_t errlen)
{
	char q[CONF_QUOTE_MAX * 4 + 16];
	struct stat st;
	size_t i;

	for (i = 0; i < c->nmounts; i++) {
		if (stat(c->mounts[i], &st) == -1) {
			errfmt(err, errlen, errno, "mounts: %s",
			    conf_quote(c->mounts[i], q, sizeof(q)));
			return -1;
		}
		if (!S_ISDIR(st.st_mode)) {
			errfmt(err, errlen, 0, "mounts: %s: not a directory",
			    conf_quote(c->mounts[i], q, sizeof(q)));
			return -1;
		}
	}
	return 0;
}
