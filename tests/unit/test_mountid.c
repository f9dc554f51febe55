/*
 * test_mountid.c: unit tests for daemon/os/mountid_linux.c, which tells the
 * freezer (and the record's recovery) which mount and superblock an open
 * directory reaches, so that nothing outside the plan is ever frozen or
 * thawed.  The mountinfo scan (the fallback on Linux 6.1) and the check
 * against the plan are pure and fed written files; the live test asks
 * both ways, statmount(2) and statx() plus the scan, about real
 * directories, and they must agree.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <unistd.h>
#include <cmocka.h>

#include "os/mountid.h"

static char fixture[64];

static void
write_fixture(const char *text)
{
	FILE *fp;
	int fd;

	snprintf(fixture, sizeof(fixture), "/tmp/test_mountid.XXXXXX");
	assert_true((fd = mkstemp(fixture)) >= 0);
	assert_non_null(fp = fdopen(fd, "w"));
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static int
teardown(void **state)
{
	if (fixture[0] != '\0')
		unlink(fixture);
	fixture[0] = '\0';
	return 0;
}

static const char table[] =
    "21 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
    "not a mountinfo line\n"
    "30 21 0:45 /@home /home rw shared:5 - btrfs /dev/sdb rw\n"
    "31 21 7:3 / /mnt/with\\040space rw - ext4 /dev/loop3 rw\n"
    "32 31 7:4 / /mnt/with\\040space/c rw master:2 shared:9 - xfs /dev/l4 rw\n"
    "4294967296 21 7:5 / /bad rw - ext4 /dev/loop5 rw\n";

/* ids found get mountinfo's device (btrfs: 0:N) and their mount point */
static void
scan_fills(void **state)
{
	struct mountid m[4];

	write_fixture(table);
	memset(m, 0, sizeof(m));
	m[0].id = 30;
	m[1].id = 32;
	m[2].id = 99; /* not in the table: detached */
	m[3].id = 21;
	m[3].err = EBADF; /* already failed: left alone */
	assert_int_equal(mountid_scan(fixture, m, 4), 0);
	assert_int_equal(m[0].err, 0);
	assert_int_equal(m[0].dev, makedev(0, 45));
	assert_string_equal(m[0].where, "/home");
	assert_int_equal(m[1].err, 0);
	assert_int_equal(m[1].dev, makedev(7, 4));
	assert_string_equal(m[1].where, "/mnt/with space/c");
	assert_int_equal(m[2].err, ENOENT);
	assert_int_equal(m[3].err, EBADF);
	assert_int_equal(m[3].dev, 0);
}

/* a line that does not parse is never taken for a mount */
static void
scan_rejects_bad_lines(void **state)
{
	struct mountid m[2];

	write_fixture("33 21 7:9\n"
	              "34 21 x:9 / /y rw - ext4 /dev/loop9 rw\n"
	              "35 21 7:9 /\n");
	memset(m, 0, sizeof(m));
	m[0].id = 33;
	m[1].id = 34;
	assert_int_equal(mountid_scan(fixture, m, 2), 0);
	assert_int_equal(m[0].err, ENOENT);
	assert_int_equal(m[1].err, ENOENT);
}

static void
scan_unreadable(void **state)
{
	struct mountid m = {.id = 1};

	assert_int_equal(
	    mountid_scan("/nonexistent/mountinfo", &m, 1), -ENOENT);
	/* nothing to look for: the file is not even opened */
	m.err = EIO;
	assert_int_equal(mountid_scan("/nonexistent/mountinfo", &m, 1), 0);
}

static void
check_verdicts(void **state)
{
	struct mountid got = {0, 32, makedev(7, 4), "/mnt/outer/c"};
	char why[512];

	assert_true(mountid_check(
	    &got, 32, makedev(7, 4), "/mnt/outer/c", why, sizeof(why)));

	/* unmounted: the path reaches the parent */
	got.id = 31;
	got.dev = makedev(7, 3);
	snprintf(got.where, sizeof(got.where), "/mnt/outer");
	assert_false(mountid_check(
	    &got, 32, makedev(7, 4), "/mnt/outer/c", why, sizeof(why)));
	assert_string_equal(why,
	    "/mnt/outer/c is no longer the planned mount 32 of device 7:4: "
	    "the path reaches mount 31 of device 7:3 at /mnt/outer instead");

	/* unmounted and another filesystem mounted, reusing the id */
	got.id = 32;
	got.dev = makedev(7, 9);
	got.where[0] = '\0';
	assert_false(mountid_check(
	    &got, 32, makedev(7, 4), "/mnt/outer/c", why, sizeof(why)));
	assert_non_null(strstr(why, "reaches mount 32 of device 7:9 instead"));

	/* the same filesystem mounted again: a new mount, refused too */
	got.id = 40;
	got.dev = makedev(7, 4);
	assert_false(mountid_check(
	    &got, 32, makedev(7, 4), "/mnt/outer/c", why, sizeof(why)));

	got.err = ENOENT;
	assert_false(mountid_check(
	    &got, 32, makedev(7, 4), "/mnt/outer/c", why, sizeof(why)));
	assert_string_equal(why,
	    "/mnt/outer/c: its mount (planned: mount 32, device 7:4) was "
	    "detached while being opened");
	got.err = EACCES;
	assert_false(mountid_check(
	    &got, 32, makedev(7, 4), "/mnt/outer/c", why, sizeof(why)));
	assert_non_null(strstr(why, "cannot tell which mount /mnt/outer/c"));
}

/* statmount(2) and the fallback agree about real directories */
static void
live_agree(void **state)
{
	static const char *dirs[] = {"/", "/proc", "/dev", "/tmp"};
	struct mountid a[4], b[4], sm;
	struct stat st;
	int fds[4], i, rc;

	for (i = 0; i < 4; i++)
		assert_true(
		    (fds[i] = open(dirs[i], O_RDONLY | O_DIRECTORY)) >= 0);
	assert_int_equal(mountid_fds(fds, 4, a, "/proc/self/mountinfo"), 0);
	for (i = 0; i < 4; i++) {
		assert_int_equal(a[i].err, 0);
		assert_true(a[i].id > 0);
		/* proc and devtmpfs: mountinfo's device is st_dev */
		assert_int_equal(fstat(fds[i], &st), 0);
		if (i == 1 || i == 2)
			assert_int_equal(a[i].dev, st.st_dev);
	}

	/* the fallback by hand: statx's mount id, then the scan */
	memset(b, 0, sizeof(b));
	for (i = 0; i < 4; i++) {
		struct statx stx;

		assert_int_equal(
		    statx(fds[i], "", AT_EMPTY_PATH, STATX_MNT_ID, &stx), 0);
		b[i].id = (int)stx.stx_mnt_id;
	}
	assert_int_equal(mountid_scan("/proc/self/mountinfo", b, 4), 0);
	for (i = 0; i < 4; i++) {
		assert_int_equal(b[i].err, 0);
		assert_int_equal(b[i].id, a[i].id);
		assert_int_equal(b[i].dev, a[i].dev);
		assert_string_equal(b[i].where, a[i].where);
		rc = mountid_statmount(fds[i], &sm);
		if (rc == -ENOSYS)
			continue; /* Linux before 6.8: only the fallback */
		assert_int_equal(rc, 0);
		assert_int_equal(sm.id, b[i].id);
		assert_int_equal(sm.dev, b[i].dev);
		assert_string_equal(sm.where, b[i].where);
	}
	for (i = 0; i < 4; i++)
		close(fds[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(scan_fills, teardown),
	    cmocka_unit_test_teardown(scan_rejects_bad_lines, teardown),
	    cmocka_unit_test(scan_unreadable),
	    cmocka_unit_test(check_verdicts),
	    cmocka_unit_test(live_agree),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
