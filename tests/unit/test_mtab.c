/*
 * test_mtab.c: unit tests for daemon/os/mtab_linux.c, the mount table
 * on Linux (os/mtab.h): mountinfo fixtures read into records with every
 * field the plan takes, the whole file or nothing, and the live table.
 */
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "os/mountid.h"
#include "os/mtab.h"

static const char *
fx(const char *name)
{
	static char buf[PATH_MAX];
	const char *top = getenv("HVVSS_TOP");

	if (top == NULL || *top == '\0')
		top = ".";
	snprintf(buf, sizeof(buf), "%s/tests/unit/fixtures/%s", top, name);
	return buf;
}

static const struct mtab_entry *
entry(const struct mtab *t, const char *target)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->v[i].target, target) == 0)
			return &t->v[i];
	fail_msg("%s: not in the table", target);
	return NULL;
}

static void
test_fields(void **state)
{
	struct mtab t;
	const struct mtab_entry *e;
	char err[512] = "";

	assert_int_equal(
	    mtab_read_file(&t, fx("mountinfo-skips"), err, sizeof(err)), 0);
	assert_int_equal(t.n, 19);

	e = entry(&t, "/");
	assert_int_equal(e->id, 21);
	assert_int_equal(e->parent_id, 1);
	assert_true(e->dev == makedev(8, 1));
	assert_string_equal(e->source, "/dev/sda1");
	assert_string_equal(e->fstype, "ext4");
	assert_string_equal(e->root, "/");
	assert_false(e->ro);
	assert_true(e->local);
	/* what the freezer checks: the mount id and the superblock */
	assert_int_equal(e->fsid.val[0], 21);
	assert_true(mountid_decode_dev(e->fsid.val[1]) == makedev(8, 1));

	/*
	 * "ro" of the superblock only: a read-only mount of a read-write
	 * superblock is written through elsewhere, and must be frozen
	 */
	assert_true(entry(&t, "/ro-sb")->ro);
	assert_false(entry(&t, "/ro-mnt")->ro);
	assert_false(entry(&t, "/mnt/data")->ro);

	e = entry(&t, "/net/home");
	assert_false(e->local);
	assert_string_equal(e->source, "server:/export/home");
	assert_true(entry(&t, "/sys/fs/cgroup")->parent_id == 23);
	mtab_free(&t);
	assert_null(t.v);
	assert_int_equal(t.n, 0);
}

/* mountinfo's octal escapes undone */
static void
test_escapes(void **state)
{
	struct mtab t;
	char err[512] = "";

	assert_int_equal(
	    mtab_read_file(&t, fx("mountinfo-space"), err, sizeof(err)), 0);
	entry(&t, "/mnt/my disk");
	entry(&t, "/mnt/back\\slash");
	mtab_free(&t);
}

/* the whole file or nothing, and the culprit named */
static void
test_errors(void **state)
{
	struct mtab t;
	char err[512] = "", want[PATH_MAX + 64];
	const char *path;

	path = fx("mountinfo-badline");
	assert_int_equal(mtab_read_file(&t, path, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:3: not a mountinfo line", path);
	assert_string_equal(err, want);
	assert_null(t.v);
	assert_int_equal(t.n, 0);

	path = fx("mountinfo-fstab");
	assert_int_equal(mtab_read_file(&t, path, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s: not in mountinfo format", path);
	assert_string_equal(err, want);
	assert_int_equal(t.n, 0);

	path = fx("mountinfo-does-not-exist");
	assert_int_equal(mtab_read_file(&t, path, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	assert_string_equal(err, want);

	path = fx("mountinfo-empty");
	assert_int_equal(mtab_read_file(&t, path, err, sizeof(err)), 0);
	assert_int_equal(t.n, 0);
	mtab_free(&t);
}

/* our own table has "/"; NULL is our own table too */
static void
test_live(void **state)
{
	struct mtab t;
	char err[512] = "";
	size_t i;
	bool root = false;

	assert_int_equal(mtab_read(&t, err, sizeof(err)), 0);
	for (i = 0; i < t.n; i++)
		root |= strcmp(t.v[i].target, "/") == 0;
	assert_true(root);
	mtab_free(&t);
	assert_int_equal(mtab_read_file(&t, NULL, err, sizeof(err)), 0);
	assert_true(t.n > 0);
	mtab_free(&t);
}

/* the last mount on its path: the one the path reaches */
static bool
on_top(const struct mtab *t, size_t i)
{
	size_t j;

	for (j = i + 1; j < t->n; j++)
		if (strcmp(t->v[j].target, t->v[i].target) == 0)
			return false;
	return true;
}

/* where the record may live: every tmpfs of the table is in memory,
 * every ext4 is not */
static void
test_in_memory(void **state)
{
	char type[32];
	struct mtab t;
	char err[512];
	size_t i;
	int rc, yes = 0, no = 0;

	assert_int_equal(
	    mtab_in_memory("/nonexistent/hvvss", type, sizeof(type)), -ENOENT);
	assert_int_equal(mtab_read(&t, err, sizeof(err)), 0);
	for (i = 0; i < t.n; i++) {
		bool tmp = strcmp(t.v[i].fstype, "tmpfs") == 0;

		if ((!tmp && strcmp(t.v[i].fstype, "ext4") != 0) ||
		    !on_top(&t, i) ||
		    (rc = mtab_in_memory(t.v[i].target, type, sizeof(type))) <
		        0)
			continue; /* gone, or not ours to reach */
		if (tmp) {
			assert_int_equal(rc, 1);
			assert_string_equal(type, "tmpfs");
			yes++;
		} else {
			assert_int_equal(rc, 0);
			assert_string_equal(
			    type, "0xef53"); /* EXT4_SUPER_MAGIC */
			no++;
		}
	}
	mtab_free(&t);
	assert_true(yes > 0 || no > 0);
}

/* the watch descriptor: POLLPRI at the first poll, then not until a
 * change (none made here: the machine's table is not ours to change) */
static void
test_watch(void **state)
{
	struct pollfd pfd;
	int fd;

	assert_int_equal(mtab_watch_open("/nonexistent/mountinfo"), -ENOENT);
	assert_true((fd = mtab_watch_open(NULL)) >= 0);
	pfd.fd = fd;
	pfd.events = POLLPRI;
	assert_true(poll(&pfd, 1, 0) >= 0);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fields),
	    cmocka_unit_test(test_escapes),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_live),
	    cmocka_unit_test(test_in_memory),
	    cmocka_unit_test(test_watch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
