/*
 * test_conf.c: unit tests for the configuration reader (daemon/conf.c).
 * A typo in hv_vss.conf must stop the daemon with the file, the line and
 * the key named, never be half-understood: so besides every key's good
 * values these tests feed every kind of bad one, from the file and from
 * -o, and check the whole message and that nothing was changed.  They
 * also check that conf_dump's output reads back to the same settings and
 * that the example etc/hv_vss.conf documents every key at its real
 * default (found through $HVVSS_TOP, set by tests/run).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "conf.h"

/* The longest line the file may have (without its newline). */
#define LINE_MAX_BYTES CONF_LINE_MAX
/* Every key goes in this section, which must come first. */
#define D "[daemon]\n"

struct fx {
	char path[PATH_MAX];
	struct conf c;
	char err[1024];
};

static int
setup(void **state)
{
	struct fx *fx;
	const char *tmp = getenv("TMPDIR");
	int fd;

	if ((fx = calloc(1, sizeof(*fx))) == NULL)
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/test_conf.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if ((fd = mkstemp(fx->path)) == -1) {
		free(fx);
		return -1;
	}
	close(fd);
	conf_defaults(&fx->c);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	conf_clear(&fx->c);
	unlink(fx->path);
	free(fx);
	return 0;
}

static void
write_file(const char *path, const char *text, size_t len)
{
	FILE *f;

	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Write text to the fixture file and load it on top of fx->c. */
static int
load_text(struct fx *fx, const char *text)
{
	write_file(fx->path, text, strlen(text));
	fx->err[0] = '\0';
	return conf_load(&fx->c, fx->path, true, fx->err, sizeof(fx->err));
}

static void
assert_loads(struct fx *fx, const char *text)
{
	if (load_text(fx, text) != 0)
		fail_msg("load failed: %s", fx->err);
}

static void
assert_conf_equal(const struct conf *a, const struct conf *b)
{
	size_t i;

	assert_string_equal(a->device, b->device);
	assert_string_equal(a->run_dir, b->run_dir);
	assert_string_equal(a->app_socket, b->app_socket);
	assert_int_equal(a->app_socket_mode, b->app_socket_mode);
	assert_string_equal(a->app_socket_group, b->app_socket_group);
	assert_string_equal(a->hooks_dir, b->hooks_dir);
	assert_int_equal(a->nmounts, b->nmounts);
	for (i = 0; i < a->nmounts; i++)
		assert_string_equal(a->mounts[i], b->mounts[i]);
	assert_int_equal(a->nexclude, b->nexclude);
	for (i = 0; i < a->nexclude; i++)
		assert_string_equal(a->exclude[i], b->exclude[i]);
	assert_int_equal(a->unfreezable, b->unfreezable);
	assert_int_equal(a->check_timeout_ms, b->check_timeout_ms);
	assert_int_equal(a->app_freeze_timeout_ms, b->app_freeze_timeout_ms);
	assert_int_equal(a->hook_timeout_ms, b->hook_timeout_ms);
	assert_int_equal(a->hooks_tier, b->hooks_tier);
	assert_int_equal(a->fs_freeze_timeout_ms, b->fs_freeze_timeout_ms);
	assert_int_equal(a->thaw_timeout_ms, b->thaw_timeout_ms);
	assert_int_equal(a->max_frozen_ms, b->max_frozen_ms);
	assert_int_equal(a->presync, b->presync);
	assert_int_equal(a->hot_backup_veto_ok, b->hot_backup_veto_ok);
	assert_int_equal(a->debug, b->debug);
}

static void
assert_is_default(const struct conf *c)
{
	struct conf d;

	conf_defaults(&d);
	assert_conf_equal(c, &d);
}

/* The file must fail at line with "FILE:line: msg" and change nothing. */
static void
assert_load_error(struct fx *fx, const char *text, int line, const char *msg)
{
	char want[sizeof(fx->err)];

	conf_clear(&fx->c);
	conf_defaults(&fx->c);
	assert_int_equal(load_text(fx, text), -1);
	snprintf(want, sizeof(want), "%s:%d: %s", fx->path, line, msg);
	assert_string_equal(fx->err, want);
	assert_is_default(&fx->c);
}

static void
assert_set(struct conf *c, const char *keyval)
{
	char err[1024] = "";

	if (conf_set(c, keyval, err, sizeof(err)) != 0)
		fail_msg("-o %s failed: %s", keyval, err);
}

/* -o keyval must fail with "-o msg" and change nothing. */
static void
assert_set_error(struct fx *fx, const char *keyval, const char *msg)
{
	char want[sizeof(fx->err)];

	conf_clear(&fx->c);
	conf_defaults(&fx->c);
	fx->err[0] = '\0';
	assert_int_equal(
	    conf_set(&fx->c, keyval, fx->err, sizeof(fx->err)), -1);
	snprintf(want, sizeof(want), "-o %s", msg);
	assert_string_equal(fx->err, want);
	assert_is_default(&fx->c);
}

static char *
repeat(char ch, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, ch, n);
	s[n] = '\0';
	return s;
}

static void
test_defaults(void **state)
{
	struct conf c;

	(void)state;
	memset(&c, 0xa5, sizeof(c));
	conf_defaults(&c);
	assert_string_equal(c.device, "/dev/vmbus/hv_vss");
	assert_string_equal(c.run_dir, "/run/hv_vss");
	assert_string_equal(c.app_socket, "/run/hv_vss/app.sock");
	assert_int_equal(c.app_socket_mode, 0600);
	assert_string_equal(c.app_socket_group, "");
	assert_string_equal(c.hooks_dir, "/etc/hv_vss/hooks.d");
	assert_int_equal(c.nmounts, 0);
	assert_int_equal(c.nexclude, 0);
	assert_int_equal(c.unfreezable, UNFREEZABLE_SKIP);
	assert_int_equal(c.check_timeout_ms, 10000);
	assert_int_equal(c.app_freeze_timeout_ms, 10000);
	assert_int_equal(c.hook_timeout_ms, 10000);
	assert_int_equal(c.fs_freeze_timeout_ms, 60000);
	assert_int_equal(c.thaw_timeout_ms, 20000);
	assert_int_equal(c.max_frozen_ms, 60000);
	assert_true(c.presync);
	assert_true(c.hot_backup_veto_ok);
	assert_int_equal(c.debug, 0);
	conf_clear(&c);
}

/* Every key at once, keys before the section header count as [daemon]. */
static void
test_every_key_valid(void **state)
{
	struct fx *fx = *state;
	struct conf *c = &fx->c;

	assert_loads(fx,
	    "[daemon]\n"
	    "device = /tmp/sim/hv_vss\n"
	    "run_dir = /run/test\n"
	    "app_socket = /run/test/s\n"
	    "app_socket_mode = 0660\n"
	    "app_socket_group = postgres\n"
	    "hooks_dir = /opt/hooks\n"
	    "mounts = /mnt/a, /mnt/b\n"
	    "exclude = vfat /srv/scratch\n"
	    "unfreezable = veto\n"
	    "check_timeout = 1\n"
	    "app_freeze_timeout = 2.5\n"
	    "hook_timeout = 0.75\n"
	    "fs_freeze_timeout = 3\n"
	    "thaw_timeout = 0.25\n"
	    "max_frozen = 5\n"
	    "presync = no\n"
	    "debug = 2\n");
	assert_string_equal(c->device, "/tmp/sim/hv_vss");
	assert_string_equal(c->run_dir, "/run/test");
	assert_string_equal(c->app_socket, "/run/test/s");
	assert_int_equal(c->app_socket_mode, 0660);
	assert_string_equal(c->app_socket_group, "postgres");
	assert_string_equal(c->hooks_dir, "/opt/hooks");
	assert_int_equal(c->nmounts, 2);
	assert_string_equal(c->mounts[0], "/mnt/a");
	assert_string_equal(c->mounts[1], "/mnt/b");
	assert_int_equal(c->nexclude, 2);
	assert_string_equal(c->exclude[0], "vfat");
	assert_string_equal(c->exclude[1], "/srv/scratch");
	assert_int_equal(c->unfreezable, UNFREEZABLE_VETO);
	assert_int_equal(c->check_timeout_ms, 1000);
	assert_int_equal(c->app_freeze_timeout_ms, 2500);
	assert_int_equal(c->hook_timeout_ms, 750);
	assert_int_equal(c->fs_freeze_timeout_ms, 3000);
	assert_int_equal(c->thaw_timeout_ms, 250);
	assert_int_equal(c->max_frozen_ms, 5000);
	assert_false(c->presync);
	assert_int_equal(c->debug, 2);
}

static void
test_paths(void **state)
{
	struct fx *fx = *state;
	char *longest = repeat('a', CONF_PATH_MAX - 1);
	char *buf = malloc(2 * CONF_PATH_MAX);
	char msg[256];

	assert_non_null(buf);
	/* the longest path fits, from -o (a file line is shorter) */
	longest[0] = '/';
	snprintf(buf, 2 * CONF_PATH_MAX, "hooks_dir=%s", longest);
	assert_set(&fx->c, buf);
	assert_string_equal(fx->c.hooks_dir, longest);
	/* one byte more does not */
	snprintf(buf, 2 * CONF_PATH_MAX, "device=%sb", longest);
	snprintf(msg, sizeof(msg),
	    "device: path too long (at most %d bytes): \"/%s...\"",
	    CONF_PATH_MAX - 1, longest + CONF_PATH_MAX - 64);
	assert_set_error(fx, buf, msg);

	/* an app socket must fit in sockaddr_un: 107 bytes */
	longest[107] = '\0';
	snprintf(buf, 2 * CONF_PATH_MAX, "app_socket=%s", longest);
	assert_set(&fx->c, buf);
	assert_string_equal(fx->c.app_socket, longest);
	longest[107] = 'a';
	longest[108] = '\0';
	snprintf(buf, 2 * CONF_PATH_MAX, "app_socket=%s", longest);
	assert_set_error(fx, buf,
	    "app_socket: path too long (at most 107 bytes): "
	    "\"/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "a...\"");

	/* whatever -o holds, a path cannot smuggle a new line into a dump */
	assert_set_error(fx, "run_dir=/run/a\nb",
	    "run_dir: control character in path: \"/run/a\\x0ab\"");
	free(longest);
	free(buf);
}

static void
test_mode(void **state)
{
	struct fx *fx = *state;
	static const struct {
		const char *value;
		mode_t mode;
	} good[] = {
	    {"0660", 0660},
	    {"660", 0660},
	    {"0", 0},
	    {"0777", 0777},
	    {"00640", 0640},
	    {"7", 07},
	};
	size_t i;
	char buf[64];

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(buf, sizeof(buf), "app_socket_mode=%s", good[i].value);
		assert_set(&fx->c, buf);
		assert_int_equal(fx->c.app_socket_mode, good[i].mode);
	}
}

static void
test_group(void **state)
{
	struct fx *fx = *state;
	char *name = repeat('g', 63);
	char buf[128];

	assert_loads(fx, D "app_socket_group = hvvss\n");
	assert_string_equal(fx->c.app_socket_group, "hvvss");
	/* an empty value is "no group" */
	assert_loads(fx, D "app_socket_group =\n");
	assert_string_equal(fx->c.app_socket_group, "");
	snprintf(buf, sizeof(buf), "app_socket_group=%s", name);
	assert_set(&fx->c, buf);
	assert_string_equal(fx->c.app_socket_group, name);
	snprintf(buf, sizeof(buf), "app_socket_group=%sg", name);
	assert_set_error(fx, buf,
	    "app_socket_group: group name too long (at most 63 bytes)");
	free(name);
}

static void
test_lists(void **state)
{
	struct fx *fx = *state;
	struct conf *c = &fx->c;

	/* commas, blanks or both; trailing slashes go, "/" stays */
	assert_loads(fx,
	    D "mounts = /mnt/a,/mnt/b  /mnt/c/ ,, /, //, /mnt/a\n"
	      "exclude = vfat,/srv/x/ fuse.sshfs ext_4.1\n");
	assert_int_equal(c->nmounts, 6);
	assert_string_equal(c->mounts[0], "/mnt/a");
	assert_string_equal(c->mounts[1], "/mnt/b");
	assert_string_equal(c->mounts[2], "/mnt/c");
	assert_string_equal(c->mounts[3], "/");
	assert_string_equal(c->mounts[4], "/");
	assert_string_equal(c->mounts[5], "/mnt/a"); /* duplicates are fine */
	assert_int_equal(c->nexclude, 4);
	assert_string_equal(c->exclude[0], "vfat");
	assert_string_equal(c->exclude[1], "/srv/x");
	assert_string_equal(c->exclude[2], "fuse.sshfs");
	assert_string_equal(c->exclude[3], "ext_4.1");

	/* "auto" empties the allow-list: back to the automatic plan; an
	 * empty value empties the exclude list */
	assert_loads(fx, D "mounts = auto\nexclude = ,\n");
	assert_int_equal(c->nmounts, 0);
	assert_int_equal(c->nexclude, 0);
}

/*
 * An empty allow-list would mean "freeze everything": refused, from the
 * file and from -o, with how to ask for that.  The automatic plan is
 * "auto", alone.
 */
static void
test_empty_mounts(void **state)
{
	struct fx *fx = *state;
	struct conf *c = &fx->c;

	assert_load_error(fx, D "mounts =\n", 2,
	    "mounts: an empty allow-list (for the automatic plan, say "
	    "\"auto\")");
	assert_load_error(fx, D "mounts = , \ndebug = 1\n", 2,
	    "mounts: an empty allow-list (for the automatic plan, say "
	    "\"auto\")");
	assert_load_error(fx, D "debug = 1\nmounts =\n[daemon]\npresync = 1\n",
	    3,
	    "mounts: an empty allow-list (for the automatic plan, say "
	    "\"auto\")");
	/* continuation lines that hold nothing either */
	assert_load_error(fx, D "mounts =\n\n; c\n\t,\ndebug = 1\n", 2,
	    "mounts: an empty allow-list (for the automatic plan, say "
	    "\"auto\")");
	/* the first error wins */
	assert_load_error(fx, D "mounts =\nbogus = 1\n", 2,
	    "mounts: an empty allow-list (for the automatic plan, say "
	    "\"auto\")");
	assert_load_error(fx, D "oops\nmounts =\n", 2,
	    "syntax error: expected key = value: \"oops\"");
	assert_set_error(fx, "mounts=",
	    "mounts: an empty allow-list (for the automatic plan, say "
	    "\"auto\")");
	assert_set_error(fx, "mounts = , ",
	    "mounts: an empty allow-list (for the automatic plan, say "
	    "\"auto\")");

	/* a list may start on the line after its key, as conf_dump writes
	 * a long first entry */
	assert_loads(fx, D "mounts =\n\t/mnt/a\n");
	assert_int_equal(c->nmounts, 1);
	assert_string_equal(c->mounts[0], "/mnt/a");

	/* "auto", alone */
	assert_set(c, "mounts=/a");
	assert_set(c, "mounts= auto ");
	assert_int_equal(c->nmounts, 0);
	assert_set(c, "mounts=/a");
	assert_loads(fx, D "mounts = auto ; the default\n");
	assert_int_equal(c->nmounts, 0);
	assert_set_error(fx, "mounts=auto /a",
	    "mounts: \"auto\" (the automatic plan) goes alone: \"auto /a\"");
	assert_set_error(fx, "mounts=/a,auto",
	    "mounts: \"auto\" (the automatic plan) goes alone: \"/a,auto\"");
	assert_load_error(fx, D "mounts = auto\n\t/a\n", 3,
	    "mounts: \"auto\" (the automatic plan) goes alone, but an "
	    "indented line continues it");
	assert_load_error(fx, D "mounts = /a\n\tauto\n", 3,
	    "mounts: \"auto\" (the automatic plan) goes alone: \"auto\"");
	assert_set_error(
	    fx, "mounts=AUTO", "mounts: not an absolute path: \"AUTO\"");
	/* "auto" means nothing special elsewhere: a filesystem type */
	assert_set(c, "exclude=auto");
	assert_int_equal(c->nexclude, 1);
}

/* A list path with "." or ".." would never match a mount point. */
static void
test_dots(void **state)
{
	struct fx *fx = *state;
	struct conf *c = &fx->c;
	static const char *const bad[] = {
	    "/mnt/../etc", "/mnt/..", "/..", "/mnt/.", "/./mnt", "/mnt//./a/"};
	char buf[128], msg[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(buf, sizeof(buf), "mounts=/ok %s", bad[i]);
		snprintf(msg, sizeof(msg),
		    "mounts: \".\" or \"..\" in a path (mount points are "
		    "matched as the mount table spells them): \"%s\"",
		    bad[i]);
		assert_set_error(fx, buf, msg);
		snprintf(buf, sizeof(buf), "exclude=vfat %s", bad[i]);
		snprintf(msg, sizeof(msg),
		    "exclude: \".\" or \"..\" in a path (mount points are "
		    "matched as the mount table spells them): \"%s\"",
		    bad[i]);
		assert_set_error(fx, buf, msg);
	}
	assert_load_error(fx, D "mounts = /srv/db\n\t/srv/../www\n", 3,
	    "mounts: \".\" or \"..\" in a path (mount points are matched as "
	    "the mount table spells them): \"/srv/../www\"");
	/* names that merely start with dots are names */
	assert_set(c, "mounts=/mnt/.hidden /mnt/..x /mnt/... /a.b/c..");
	assert_int_equal(c->nmounts, 4);
	assert_string_equal(c->mounts[2], "/mnt/...");
}

/* In one file a key is set once, and only in [daemon]. */
static void
test_once_in_daemon(void **state)
{
	struct fx *fx = *state;
	struct conf *c = &fx->c;

	assert_load_error(fx, D "debug = 1\nmax_frozen = 5\ndebug = 2\n", 4,
	    "debug: set again (first at line 2)");
	assert_load_error(fx, D "mounts = /a\n\t/b\nmounts = /c\n", 4,
	    "mounts: set again (first at line 2)");
	assert_load_error(fx, D "presync = no\n[daemon]\npresync = no\n", 4,
	    "presync: set again (first at line 2)");
	assert_load_error(fx, "debug = 1\n[daemon]\n", 1,
	    "debug: before [daemon] (every key goes in that section)");
	assert_load_error(fx, "\xef\xbb\xbf; c\n\n  max_frozen = 5\n[daemon]\n",
	    3, "max_frozen: before [daemon] (every key goes in that section)");
	/* a second file, and -o, go on top of the first */
	assert_loads(fx, D "debug = 1\n");
	assert_loads(fx, D "debug = 2\n");
	assert_int_equal(c->debug, 2);
	assert_set(c, "debug=0");
	assert_set(c, "debug=1");
	assert_int_equal(c->debug, 1);
}

/* -t: the allow-list as the system is now. */
static void
test_check_mounts(void **state)
{
	struct fx *fx = *state;
	struct conf *c = &fx->c;
	char want[sizeof(fx->err) + 64];

	assert_int_equal(conf_check_mounts(c, fx->err, sizeof(fx->err)), 0);
	assert_set(c, "mounts=/ /tmp");
	assert_int_equal(conf_check_mounts(c, fx->err, sizeof(fx->err)), 0);
	assert_set(c, "mounts=/ /nonexistent/hvvss");
	assert_int_equal(conf_check_mounts(c, fx->err, sizeof(fx->err)), -1);
	assert_string_equal(fx->err,
	    "mounts: \"/nonexistent/hvvss\": No such file or directory");
	snprintf(want, sizeof(want), "mounts=/ %s", fx->path);
	assert_set(c, want);
	assert_int_equal(conf_check_mounts(c, fx->err, sizeof(fx->err)), -1);
	snprintf(
	    want, sizeof(want), "mounts: \"%s\": not a directory", fx->path);
	assert_string_equal(fx->err, want);
}

/* "key=" and count short paths, for -o. */
static void
make_list(char *buf, size_t len, const char *key, size_t count)
{
	size_t i, n;

	n = (size_t)snprintf(buf, len, "%s=", key);
	for (i = 0; i < count; i++)
		n += (size_t)snprintf(buf + n, len - n, "/m%zu ", i);
}

static void
test_list_limit(void **state)
{
	struct fx *fx = *state;
	char buf[CONF_MAX_LIST * 8 + 32];

	make_list(buf, sizeof(buf), "mounts", CONF_MAX_LIST);
	assert_set(&fx->c, buf);
	assert_int_equal(fx->c.nmounts, CONF_MAX_LIST);
	assert_string_equal(fx->c.mounts[CONF_MAX_LIST - 1], "/m63");
	make_list(buf, sizeof(buf), "exclude", CONF_MAX_LIST);
	assert_set(&fx->c, buf);
	assert_int_equal(fx->c.nexclude, CONF_MAX_LIST);

	make_list(buf, sizeof(buf), "mounts", CONF_MAX_LIST + 1);
	assert_set_error(fx, buf, "mounts: more than 64 entries");
	make_list(buf, sizeof(buf), "exclude", CONF_MAX_LIST + 1);
	assert_set_error(fx, buf, "exclude: more than 64 entries");
}

/* Setting a list again replaces it; an indented line continues it. */
static void
test_list_replace(void **state)
{
	struct fx *fx = *state;
	struct conf *c = &fx->c;
	char text[64 * 16], *p;
	size_t i;

	assert_loads(fx, D "mounts = /a /b\n");
	assert_loads(fx, D "mounts = /c\n");
	assert_int_equal(c->nmounts, 1);
	assert_string_equal(c->mounts[0], "/c");

	/* a second file on top replaces, and so does -o */
	assert_loads(fx, D "exclude = vfat\n");
	assert_int_equal(c->nmounts, 1);
	assert_set(c, "mounts=/d,/e");
	assert_int_equal(c->nmounts, 2);
	assert_string_equal(c->mounts[0], "/d");
	assert_string_equal(c->mounts[1], "/e");
	assert_set(c, "exclude=");
	assert_int_equal(c->nexclude, 0);

	/* continuation lines, with comments and blank lines among them */
	assert_loads(fx,
	    "[daemon]\n"
	    "mounts = /srv/db, /srv/www,\n"
	    "\t/var/lib/mail\n"
	    "; the next one is the last\n"
	    "\n"
	    "    /var/spool ; and a comment\n"
	    "debug = 1\n"
	    "exclude = /x\n"
	    "  /y\n");
	assert_int_equal(c->nmounts, 4);
	assert_int_equal(c->nexclude, 2);
	assert_string_equal(c->exclude[0], "/x");
	assert_string_equal(c->exclude[1], "/y");
	assert_int_equal(c->debug, 1);
	assert_loads(fx,
	    D "mounts = /srv/db, /srv/www,\n"
	      "\t/var/lib/mail\n"
	      "\n"
	      "    /var/spool ; and a comment\n");
	assert_int_equal(c->nmounts, 4);
	assert_string_equal(c->mounts[2], "/var/lib/mail");
	assert_string_equal(c->mounts[3], "/var/spool");

	/* the limit counts every line of the list */
	p = text + sprintf(text, D "mounts =\n");
	for (i = 0; i < CONF_MAX_LIST; i++)
		p += sprintf(p, "\t/m%zu\n", i);
	assert_loads(fx, text);
	assert_int_equal(c->nmounts, CONF_MAX_LIST);
	sprintf(p, "\t/m64\n");
	assert_load_error(
	    fx, text, CONF_MAX_LIST + 3, "mounts: more than 64 entries");

	/* only a list goes on over lines */
	assert_load_error(fx, "[daemon]\ndevice = /dev/x\n  /dev/y\n", 3,
	    "device: indented line, but only a list may go on over lines");
	/* indented keys are continuations, so they are caught too */
	assert_load_error(fx, D "  debug = 1\n  presync = no\n", 3,
	    "debug: indented line, but only a list may go on over lines");
	assert_load_error(fx, D "mounts = /a\n  exclude = vfat\n", 3,
	    "mounts: not an absolute path: \"exclude\"");
}

static void
test_policy(void **state)
{
	struct fx *fx = *state;

	assert_set(&fx->c, "unfreezable=veto");
	assert_int_equal(fx->c.unfreezable, UNFREEZABLE_VETO);
	assert_set(&fx->c, "unfreezable=skip");
	assert_int_equal(fx->c.unfreezable, UNFREEZABLE_SKIP);
	assert_set(&fx->c, "unfreezable=VETO");
	assert_int_equal(fx->c.unfreezable, UNFREEZABLE_VETO);
}

static void
test_seconds(void **state)
{
	struct fx *fx = *state;
	static const char *const keys[] = {
	    "check_timeout",
	    "app_freeze_timeout",
	    "fs_freeze_timeout",
	    "thaw_timeout",
	    "max_frozen",
	    "hook_timeout",
	};
	static const struct {
		const char *value;
		unsigned int ms;
		bool lease_ok; /* within max_frozen's 1..3600 */
	} good[] = {
	    {"5", 5000, true},
	    {"0.5", 500, false},
	    {"0.001", 1, false},
	    {"1.250", 1250, true},
	    {"2.5000", 2500, true},
	    {"3600", 3600000, true},
	    {"3600.001", 3600001, false},
	    {"86400", 86400000, false},
	    {"1", 1000, true},
	    {"007", 7000, true},
	};
	unsigned int *field[] = {
	    &fx->c.check_timeout_ms,
	    &fx->c.app_freeze_timeout_ms,
	    &fx->c.fs_freeze_timeout_ms,
	    &fx->c.thaw_timeout_ms,
	    &fx->c.max_frozen_ms,
	    &fx->c.hook_timeout_ms,
	};
	char buf[64], msg[128];
	size_t k, i;

	for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
			snprintf(
			    buf, sizeof(buf), "%s=%s", keys[k], good[i].value);
			if (k == 4 && !good[i].lease_ok) {
				snprintf(msg, sizeof(msg),
				    "max_frozen: out of range (1 to 3600 "
				    "seconds): \"%s\"",
				    good[i].value);
				assert_set_error(fx, buf, msg);
				continue;
			}
			assert_set(&fx->c, buf);
			assert_int_equal(*field[k], good[i].ms);
		}
	}
}

static void
test_bool(void **state)
{
	struct fx *fx = *state;
	static const struct {
		const char *value;
		bool b;
	} good[] = {
	    {"yes", true},
	    {"no", false},
	    {"true", true},
	    {"false", false},
	    {"on", true},
	    {"off", false},
	    {"1", true},
	    {"0", false},
	    {"Yes", true},
	    {"OFF", false},
	};
	size_t i;
	char buf[64];

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		fx->c.presync = !good[i].b;
		snprintf(buf, sizeof(buf), "presync=%s", good[i].value);
		assert_set(&fx->c, buf);
		assert_int_equal(fx->c.presync, good[i].b);
	}
}

static void
test_debug(void **state)
{
	struct fx *fx = *state;

	assert_set(&fx->c, "debug=2");
	assert_int_equal(fx->c.debug, 2);
	assert_set(&fx->c, "debug=1");
	assert_int_equal(fx->c.debug, 1);
	assert_set(&fx->c, "debug=0");
	assert_int_equal(fx->c.debug, 0);
}

/*
 * Every bad value of every key: from the file (at line 3, with the
 * file's name) and from -o, the same message but for where it came from.
 */
static const struct {
	const char *keyval;
	const char *msg;
} bad_values[] = {
    {"device = dev/vmbus/hv_vss",
        "device: not an absolute path: \"dev/vmbus/hv_vss\""},
    {"device =", "device: not an absolute path: \"\""},
    {"run_dir = run/hv_vss", "run_dir: not an absolute path: \"run/hv_vss\""},
    {"app_socket = app.sock", "app_socket: not an absolute path: \"app.sock\""},
    {"hooks_dir = ~/hooks", "hooks_dir: not an absolute path: \"~/hooks\""},
    {"device = /dev/\001x",
        "device: control character in path: \"/dev/\\x01x\""},
    {"app_socket_group = wh\033eel",
        "app_socket_group: control character in group name: "
        "\"wh\\x1beel\""},
    {"hooks_dir = \"/etc/hooks\"",
        "hooks_dir: not an absolute path: \"\\x22/etc/hooks\\x22\""},
    {"app_socket_mode = 0888",
        "app_socket_mode: not an octal mode from 0 to 0777: \"0888\""},
    {"app_socket_mode = 1777",
        "app_socket_mode: not an octal mode from 0 to 0777: \"1777\""},
    {"app_socket_mode = 01000",
        "app_socket_mode: not an octal mode from 0 to 0777: \"01000\""},
    {"app_socket_mode = 0x1ff",
        "app_socket_mode: not an octal mode from 0 to 0777: \"0x1ff\""},
    {"app_socket_mode = -1",
        "app_socket_mode: not an octal mode from 0 to 0777: \"-1\""},
    {"app_socket_mode = rw",
        "app_socket_mode: not an octal mode from 0 to 0777: \"rw\""},
    {"app_socket_mode =",
        "app_socket_mode: not an octal mode from 0 to 0777: \"\""},
    {"mounts = /mnt/a mnt/b", "mounts: not an absolute path: \"mnt/b\""},
    {"mounts = vfat", "mounts: not an absolute path: \"vfat\""},
    {"exclude = ext4 VFAT",
        "exclude: neither an absolute path nor a filesystem type "
        "[a-z0-9_.]: \"VFAT\""},
    {"exclude = ext-4",
        "exclude: neither an absolute path nor a filesystem type "
        "[a-z0-9_.]: \"ext-4\""},
    {"exclude = ./x",
        "exclude: neither an absolute path nor a filesystem type "
        "[a-z0-9_.]: \"./x\""},
    {"unfreezable = maybe", "unfreezable: not skip or veto: \"maybe\""},
    {"unfreezable =", "unfreezable: not skip or veto: \"\""},
    {"check_timeout = abc", "check_timeout: not a number of seconds: \"abc\""},
    {"check_timeout = -1",
        "check_timeout: out of range (0.001 to 86400 seconds): \"-1\""},
    {"check_timeout = 0",
        "check_timeout: out of range (0.001 to 86400 seconds): \"0\""},
    {"app_freeze_timeout = 86400.001",
        "app_freeze_timeout: out of range (0.001 to 86400 seconds): "
        "\"86400.001\""},
    {"app_freeze_timeout = 99999999999999999999999",
        "app_freeze_timeout: out of range (0.001 to 86400 seconds): "
        "\"99999999999999999999999\""},
    {"hook_timeout = 0",
        "hook_timeout: out of range (0.001 to 86400 seconds): \"0\""},
    {"hook_timeout = 10s", "hook_timeout: not a number of seconds: \"10s\""},
    {"fs_freeze_timeout = 0.0005",
        "fs_freeze_timeout: finer than a millisecond: \"0.0005\""},
    {"fs_freeze_timeout = 1.",
        "fs_freeze_timeout: not a number of seconds: "
        "\"1.\""},
    {"fs_freeze_timeout = .5",
        "fs_freeze_timeout: not a number of seconds: "
        "\".5\""},
    {"thaw_timeout = 1e3", "thaw_timeout: not a number of seconds: \"1e3\""},
    {"thaw_timeout = 20s", "thaw_timeout: not a number of seconds: \"20s\""},
    {"thaw_timeout = +5", "thaw_timeout: not a number of seconds: \"+5\""},
    {"thaw_timeout = 0x10", "thaw_timeout: not a number of seconds: \"0x10\""},
    {"thaw_timeout =", "thaw_timeout: not a number of seconds: \"\""},
    {"max_frozen = abc", "max_frozen: not a number of seconds: \"abc\""},
    {"max_frozen = 0.5",
        "max_frozen: out of range (1 to 3600 seconds): \"0.5\""},
    {"max_frozen = 3601",
        "max_frozen: out of range (1 to 3600 seconds): \"3601\""},
    {"max_frozen = -60",
        "max_frozen: out of range (1 to 3600 seconds): \"-60\""},
    {"presync = maybe",
        "presync: not yes, no, true, false, on, off, 1 or 0: \"maybe\""},
    {"presync = 2",
        "presync: not yes, no, true, false, on, off, 1 or 0: \"2\""},
    {"presync =", "presync: not yes, no, true, false, on, off, 1 or 0: \"\""},
    {"debug = 3", "debug: not 0, 1 or 2: \"3\""},
    {"debug = -1", "debug: not 0, 1 or 2: \"-1\""},
    {"debug = 1.5", "debug: not 0, 1 or 2: \"1.5\""},
    {"debug = 01", "debug: not 0, 1 or 2: \"01\""},
    {"debug = yes", "debug: not 0, 1 or 2: \"yes\""},
    {"debug =", "debug: not 0, 1 or 2: \"\""},
};

static void
test_bad_values(void **state)
{
	struct fx *fx = *state;
	char text[256];
	size_t i;

	for (i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++) {
		snprintf(text, sizeof(text), "# line 1\n[daemon]\n%s\n",
		    bad_values[i].keyval);
		assert_load_error(fx, text, 3, bad_values[i].msg);
		assert_set_error(fx, bad_values[i].keyval, bad_values[i].msg);
	}
}

/* A bad key or file leaves the settings as they were: all or nothing. */
static void
test_load_is_atomic(void **state)
{
	struct fx *fx = *state;

	assert_set(&fx->c, "mounts=/keep/me");
	assert_set(&fx->c, "debug=1");
	assert_int_equal(load_text(fx,
	                     D "debug = 2\n"
	                       "mounts = /lost\n"
	                       "exclude = vfat\n"
	                       "max_frozen = forever\n"),
	    -1);
	assert_int_equal(fx->c.debug, 1);
	assert_int_equal(fx->c.nmounts, 1);
	assert_string_equal(fx->c.mounts[0], "/keep/me");
	assert_int_equal(fx->c.nexclude, 0);

	/* and a bad -o list leaves the list alone */
	assert_int_equal(
	    conf_set(&fx->c, "mounts=/a,b", fx->err, sizeof(fx->err)), -1);
	assert_int_equal(fx->c.nmounts, 1);
	assert_string_equal(fx->c.mounts[0], "/keep/me");
}

static void
test_unknown_key(void **state)
{
	struct fx *fx = *state;

	assert_load_error(
	    fx, "[daemon]\n\nmaxfrozen = 5\n", 3, "maxfrozen: unknown key");
	assert_load_error(fx, "Device = /dev/x\n", 1, "Device: unknown key");
	assert_load_error(fx, "[daemon]\n= 5\n", 2, "\"\": unknown key");
	/* a name that could write to the terminal is shown escaped */
	assert_load_error(
	    fx, "de\033[2Jbug = 1\n", 1, "\"de\\x1b[2Jbug\": unknown key");
	/* the "key: value" form (inih's) is a key too, and so is checked */
	assert_load_error(fx, D "debug: 7\n", 2, "debug: not 0, 1 or 2: \"7\"");
	assert_set_error(fx, "maxfrozen=5", "maxfrozen: unknown key");
	assert_set_error(fx, "max frozen = 5", "\"max frozen\": unknown key");
	assert_set_error(fx,
	    "a_very_long_key_that_is_no_key_at_all_and_goes_on_and_on_and_on="
	    "1",
	    "a_very_long_key_that_is_no_key_at_all_and_goes_on_and_on_and_on: "
	    "unknown key");
	assert_set_error(fx,
	    "a_very_long_key_that_is_no_key_at_all_and_goes_on_and_on_and_on_"
	    "and_on=1",
	    "\"a_very_long_key_that_is_no_key_at_all_and_goes_on_and_on_and_"
	    "on_...\": unknown key");
}

static void
test_unknown_section(void **state)
{
	struct fx *fx = *state;

	assert_load_error(fx, D "debug = 1\n[deamon]\nmax_frozen = 5\n", 3,
	    "[deamon]: unknown section (the only one is [daemon])");
	/* even when it holds nothing */
	assert_load_error(fx, "[daemon]\ndebug = 1\n\n[extra]\n", 4,
	    "[extra]: unknown section (the only one is [daemon])");
	assert_load_error(fx, "[ daemon ]\n", 1,
	    "[\" daemon \"]: unknown section (the only one is [daemon])");
	assert_load_error(fx, "[Daemon]\n", 1,
	    "[Daemon]: unknown section (the only one is [daemon])");
	/* [daemon] may come back (but not a key: test_once_in_daemon) */
	assert_loads(
	    fx, "[daemon]\ndebug = 1\n[daemon] ; again\npresync = 0\n");
	assert_int_equal(fx->c.debug, 1);
	assert_false(fx->c.presync);
}

static void
test_syntax_errors(void **state)
{
	struct fx *fx = *state;

	assert_load_error(fx,
	    "# comment\n[daemon]\ndebug = 1\nmax_frozen 5\ndebug = 2\n", 4,
	    "syntax error: expected key = value: \"max_frozen 5\"");
	assert_load_error(fx, "\n\n[daemon\ndebug = 1\n", 3,
	    "syntax error: expected [section]: \"[daemon\"");
	/* the first error wins, whichever kind it is */
	assert_load_error(fx, D "debug = 1\noops\ndebug = 9\n", 3,
	    "syntax error: expected key = value: \"oops\"");
	assert_load_error(
	    fx, D "debug = 9\noops\n", 2, "debug: not 0, 1 or 2: \"9\"");
	/* the last line needs no newline */
	assert_load_error(fx, D "debug = 1\n\n\noops", 5,
	    "syntax error: expected key = value: \"oops\"");
	assert_set_error(fx, "debug", "\"debug\": expected key=value");
	assert_set_error(fx, "=1", "\"=1\": expected key=value");
	assert_set_error(fx, "", "\"\": expected key=value");
}

/* A line too long is refused, not cut in two (as inih did). */
static void
test_long_lines(void **state)
{
	struct fx *fx = *state;
	char line[LINE_MAX_BYTES + 64], msg[128];
	size_t n;

	n = (size_t)snprintf(line, sizeof(line), D "debug = 1\nmounts = /");
	memset(line + n, 'a', LINE_MAX_BYTES - 10);
	strcpy(line + n + LINE_MAX_BYTES - 10, "\n");
	assert_loads(fx, line);
	assert_int_equal(fx->c.nmounts, 1);
	assert_int_equal(strlen(fx->c.mounts[0]), LINE_MAX_BYTES - 9);

	strcpy(line + n + LINE_MAX_BYTES - 10, "b\npresync = no\n");
	snprintf(msg, sizeof(msg),
	    "line too long (at most %d bytes; an indented line continues a "
	    "list)",
	    LINE_MAX_BYTES);
	assert_load_error(fx, line, 3, msg);
}

static void
test_nul_byte(void **state)
{
	struct fx *fx = *state;
	static const char text[] = D "debug = 1\npresync = 0\0 ; hidden\n";
	char want[sizeof(fx->err)];

	write_file(fx->path, text, sizeof(text) - 1);
	assert_int_equal(
	    conf_load(&fx->c, fx->path, true, fx->err, sizeof(fx->err)), -1);
	snprintf(want, sizeof(want), "%s:3: NUL byte in line", fx->path);
	assert_string_equal(fx->err, want);
	assert_is_default(&fx->c);
}

static void
test_comments_and_blanks(void **state)
{
	struct fx *fx = *state;

	assert_loads(fx,
	    "\xef\xbb\xbf; a byte order mark, then a comment\n"
	    "# another kind of comment\n"
	    "\n"
	    "   \t\n"
	    "  ; an indented comment\n"
	    "[daemon] ; the section\n"
	    "debug = 2 ; an inline comment\n"
	    "# debug = 0\n"
	    "; debug = 0\n"
	    "mounts = /a;b ; only \" ;\" starts a comment\n"
	    "presync=off\r\n"
	    "max_frozen   =   7  \n");
	assert_int_equal(fx->c.debug, 2);
	assert_int_equal(fx->c.nmounts, 1);
	assert_string_equal(fx->c.mounts[0], "/a;b");
	assert_false(fx->c.presync);
	assert_int_equal(fx->c.max_frozen_ms, 7000);

	/* an empty file and a file of comments change nothing */
	conf_clear(&fx->c);
	conf_defaults(&fx->c);
	assert_loads(fx, "");
	assert_loads(fx, "# nothing\n;here\n");
	assert_is_default(&fx->c);
}

/* -o goes on top of the file, with blanks allowed around "=". */
static void
test_overrides(void **state)
{
	struct fx *fx = *state;

	assert_loads(fx, D "max_frozen = 30\nmounts = /a\ndebug = 1\n");
	assert_set(&fx->c, "max_frozen=0300");
	assert_set(&fx->c, "  debug = 2  ");
	assert_set(&fx->c, "mounts = /b /c ");
	assert_int_equal(fx->c.max_frozen_ms, 300000);
	assert_int_equal(fx->c.debug, 2);
	assert_int_equal(fx->c.nmounts, 2);
	assert_string_equal(fx->c.mounts[0], "/b");
	assert_string_equal(fx->c.mounts[1], "/c");
	/* a value may hold "=" */
	assert_set(&fx->c, "device=/dev/a=b");
	assert_string_equal(fx->c.device, "/dev/a=b");
	assert_set_error(
	    fx, "max_frozen=x", "max_frozen: not a number of seconds: \"x\"");
}

static void
test_missing_file(void **state)
{
	struct fx *fx = *state;
	char want[sizeof(fx->err)];

	unlink(fx->path);
	assert_int_equal(
	    conf_load(&fx->c, fx->path, false, fx->err, sizeof(fx->err)), 0);
	assert_is_default(&fx->c);

	fx->err[0] = '\0';
	assert_int_equal(
	    conf_load(&fx->c, fx->path, true, fx->err, sizeof(fx->err)), -1);
	snprintf(want, sizeof(want), "%s: No such file or directory", fx->path);
	assert_string_equal(fx->err, want);
	assert_is_default(&fx->c);

	/* something there that cannot be read is an error either way */
	fx->err[0] = '\0';
	assert_int_equal(
	    conf_load(&fx->c, "/", false, fx->err, sizeof(fx->err)), -1);
	assert_string_equal(fx->err, "/: Is a directory");
	assert_is_default(&fx->c);
}

/* Dump c to the fixture file, load it over defaults, compare. */
static void
assert_round_trip(struct fx *fx, const struct conf *c, char *out, size_t outlen)
{
	struct conf back;
	FILE *f;
	size_t n;

	assert_non_null(f = fopen(fx->path, "w"));
	conf_dump(c, f);
	assert_int_equal(fclose(f), 0);

	conf_defaults(&back);
	if (conf_load(&back, fx->path, true, fx->err, sizeof(fx->err)) != 0)
		fail_msg("dump does not load: %s", fx->err);
	assert_conf_equal(&back, c);
	conf_clear(&back);

	assert_non_null(f = fopen(fx->path, "r"));
	n = fread(out, 1, outlen - 1, f);
	out[n] = '\0';
	fclose(f);
}

static void
test_dump_defaults(void **state)
{
	struct fx *fx = *state;
	char out[4096];

	assert_round_trip(fx, &fx->c, out, sizeof(out));
	assert_string_equal(out,
	    "[daemon]\n"
	    "device = /dev/vmbus/hv_vss\n"
	    "app_device =\n"
	    "run_dir = /run/hv_vss\n"
	    "app_socket = /run/hv_vss/app.sock\n"
	    "app_socket_mode = 0600\n"
	    "app_socket_group =\n"
	    "hooks_dir = /etc/hv_vss/hooks.d\n"
	    "app_max_clients = 1024\n"
	    "app_max_per_uid = 64\n"
	    "ctl_socket = /run/hv_vss/ctl.sock\n"
	    "ctl_group =\n"
	    "metrics_file =\n"
	    "mounts = auto\n"
	    "exclude =\n"
	    "unfreezable = skip\n"
	    "check_timeout = 10\n"
	    "app_freeze_timeout = 10\n"
	    "hook_timeout = 10\n"
	    "hooks_tier = 10\n"
	    "fs_freeze_timeout = 60\n"
	    "thaw_timeout = 20\n"
	    "max_frozen = 60\n"
	    "presync = yes\n"
	    "expedite_freeze = yes\n"
	    "hot_backup_veto = ok\n"
	    "privsep = yes\n"
	    "privsep_user = hvvss\n"
	    "debug = 0\n");
}

static void
test_dump_round_trip(void **state)
{
	struct fx *fx = *state;
	char buf[CONF_MAX_LIST * 64], out[16384], *again;
	struct conf copy;
	size_t i, n;

	assert_set(&fx->c, "device=/tmp/sim dev/hv_vss");
	assert_set(&fx->c, "run_dir=/run/t");
	assert_set(&fx->c, "app_socket=/run/t/a.sock");
	assert_set(&fx->c, "app_socket_mode=0");
	assert_set(&fx->c, "app_socket_group=backup-ops");
	assert_set(&fx->c, "hooks_dir=/usr/local/etc/hooks");
	/* full lists of long names: conf_dump must wrap them */
	n = (size_t)snprintf(buf, sizeof(buf), "mounts=");
	for (i = 0; i < CONF_MAX_LIST; i++)
		n += (size_t)snprintf(
		    buf + n, sizeof(buf) - n, "/srv/volumes/number-%03zu,", i);
	assert_set(&fx->c, buf);
	n = (size_t)snprintf(buf, sizeof(buf), "exclude=");
	for (i = 0; i < CONF_MAX_LIST; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
		    i % 2 ? "/scratch/%03zu " : "fs_type_%03zu ", i);
	assert_set(&fx->c, buf);
	assert_set(&fx->c, "unfreezable=veto");
	assert_set(&fx->c, "check_timeout=0.001");
	assert_set(&fx->c, "app_freeze_timeout=1.5");
	assert_set(&fx->c, "hook_timeout=0.125");
	assert_set(&fx->c, "hooks_tier=9");
	assert_set(&fx->c, "fs_freeze_timeout=86400");
	assert_set(&fx->c, "thaw_timeout=2.05");
	assert_set(&fx->c, "max_frozen=3599.999");
	assert_set(&fx->c, "presync=no");
	assert_set(&fx->c, "debug=2");

	assert_round_trip(fx, &fx->c, out, sizeof(out));
	for (i = 0; out[i] != '\0'; i += n + 1) {
		n = strcspn(out + i, "\n");
		assert_true(n <= 80);
	}
	assert_non_null(strstr(out, "thaw_timeout = 2.05\n"));
	assert_non_null(strstr(out, "max_frozen = 3599.999\n"));
	assert_non_null(strstr(out, "app_socket_mode = 0000\n"));

	/* and the dump of what was read back is the same text */
	assert_non_null(again = strdup(out));
	conf_defaults(&copy);
	assert_int_equal(
	    conf_load(&copy, fx->path, true, fx->err, sizeof(fx->err)), 0);
	assert_round_trip(fx, &copy, out, sizeof(out));
	assert_string_equal(out, again);
	conf_clear(&copy);
	free(again);
}

/*
 * etc/hv_vss.conf loads as it is, documents every key exactly once, and
 * shows each at its real default: with every "#key = value" line
 * uncommented it still loads to the defaults.
 */
static void
test_example_conf(void **state)
{
	struct fx *fx = *state;
	const char *top = getenv("HVVSS_TOP");
	char path[PATH_MAX], line[512], out[4096], key[64], *p;
	FILE *in, *uncommented, *dump;
	size_t nkeys = 0, ndumped, found, n;

	if (top == NULL || *top == '\0')
		skip();
	snprintf(path, sizeof(path), "%s/etc/hv_vss.conf", top);
	if (conf_load(&fx->c, path, true, fx->err, sizeof(fx->err)) != 0)
		fail_msg("%s", fx->err);
	assert_is_default(&fx->c);

	assert_non_null(in = fopen(path, "r"));
	assert_non_null(uncommented = fopen(fx->path, "w"));
	while (fgets(line, sizeof(line), in) != NULL) {
		n = strspn(line + 1, "abcdefghijklmnopqrstuvwxyz_");
		if (line[0] == '#' && n > 0 &&
		    strncmp(line + 1 + n, " =", 2) == 0) {
			fputs(line + 1, uncommented);
			nkeys++;
		} else
			fputs(line, uncommented);
	}
	fclose(in);
	assert_int_equal(fclose(uncommented), 0);
	if (conf_load(&fx->c, fx->path, true, fx->err, sizeof(fx->err)) != 0)
		fail_msg("uncommented example: %s", fx->err);
	assert_is_default(&fx->c);

	/* the keys conf_dump knows, each uncommented once in the example */
	assert_non_null(dump = fopen(fx->path, "w"));
	conf_dump(&fx->c, dump);
	assert_int_equal(fclose(dump), 0);
	assert_non_null(dump = fopen(fx->path, "r"));
	n = fread(out, 1, sizeof(out) - 1, dump);
	out[n] = '\0';
	fclose(dump);
	ndumped = 0;
	for (p = strchr(out, '\n') + 1; *p != '\0'; p = strchr(p, '\n') + 1) {
		n = strcspn(p, " ");
		snprintf(key, sizeof(key), "#%.*s =", (int)n, p);
		assert_non_null(in = fopen(path, "r"));
		found = 0;
		while (fgets(line, sizeof(line), in) != NULL)
			if (strncmp(line, key, strlen(key)) == 0)
				found++;
		fclose(in);
		if (found != 1)
			fail_msg("%s appears %zu times", key, found);
		ndumped++;
	}
	assert_int_equal(nkeys, ndumped);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test_setup_teardown(
	        test_every_key_valid, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_paths, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mode, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_group, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lists, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_empty_mounts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dots, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_once_in_daemon, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_check_mounts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_list_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_list_replace, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_policy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_seconds, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bool, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_debug, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_values, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_load_is_atomic, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_unknown_section, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_syntax_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_long_lines, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nul_byte, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_comments_and_blanks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_overrides, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_dump_defaults, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_dump_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_example_conf, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
