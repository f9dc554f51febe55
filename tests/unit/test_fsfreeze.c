/*
 * test_fsfreeze.c: unit tests for daemon/os/fsfreeze_linux.c, the
 * freezer's primitive on Linux (os/fsfreeze.h).  Nothing here freezes a
 * filesystem (freezing is global, and this machine's filesystems are
 * not ours to freeze): the check against the plan runs on real
 * directories, the freeze and the thaw on a pipe, whose filesystem
 * cannot be frozen, so that what the kernel answers is passed up as it
 * is.  t_freeze*.sh freeze real loop filesystems in the sandbox.
 */
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "os/fsfreeze.h"
#include "os/mountid.h"
#include "os/mtab.h"

static void
test_kind(void **state)
{
	assert_int_equal(fsfreeze_kind("ext4"), FSFREEZE_SUSPEND);
	assert_int_equal(fsfreeze_kind("xfs"), FSFREEZE_SUSPEND);
	assert_int_equal(fsfreeze_kind("btrfs"), FSFREEZE_SUSPEND);
	assert_int_equal(fsfreeze_kind("vfat"), FSFREEZE_NONE);
	assert_int_equal(fsfreeze_kind("zfs"), FSFREEZE_NONE);
	assert_int_equal(fsfreeze_kind("proc"), FSFREEZE_PSEUDO);
	assert_int_equal(fsfreeze_kind("tmpfs"), FSFREEZE_PSEUDO);
	assert_false(fsfreeze_close_thaws);
	assert_string_equal(fsfreeze_op_freeze, "FIFREEZE");
	assert_string_equal(fsfreeze_op_thaw, "FITHAW");
}

/* The table's entry for path, as the plan would record it. */
static struct fsfreeze_id
planned(const char *path, dev_t *dev)
{
	struct mtab t;
	struct fsfreeze_id id = {{0, 0}};
	char err[256];
	size_t i;
	bool found = false;

	assert_int_equal(mtab_read(&t, err, sizeof(err)), 0);
	/* the last mount on the path is the one it reaches */
	for (i = 0; i < t.n; i++)
		if (strcmp(t.v[i].target, path) == 0) {
			id = t.v[i].fsid;
			*dev = t.v[i].dev;
			found = true;
		}
	mtab_free(&t);
	assert_true(found);
	return id;
}

/* "/" is what the plan says it is; a wrong mount id or device is not */
static void
test_check(void **state)
{
	const char *path = "/";
	struct fsfreeze_id want, bad;
	dev_t dev, got = 0;
	char err[512] = "";
	int fd;

	want = planned(path, &dev);
	assert_int_equal(want.val[0] > 0, 1);
	assert_true(mountid_decode_dev(want.val[1]) == dev);
	assert_int_equal(fsfreeze_open(path, &fd), 0);
	assert_int_equal(
	    fsfreeze_check(&fd, &path, &want, &got, 1, err, sizeof(err)), 0);
	assert_true(got == dev);

	bad = want;
	bad.val[0] = want.val[0] + 100000;
	assert_int_equal(
	    fsfreeze_check(&fd, &path, &bad, &got, 1, err, sizeof(err)),
	    -ESTALE);
	assert_non_null(strstr(err, "/ is no longer the planned mount"));

	bad = want;
	bad.val[1] = mountid_encode_dev(makedev(4095, 1048575));
	assert_int_equal(
	    fsfreeze_check(&fd, &path, &bad, &got, 1, err, sizeof(err)),
	    -ESTALE);
	assert_non_null(strstr(err, "of device 4095:1048575"));

	assert_int_equal(fsfreeze_devs(&fd, 1, &got, &(int){-1}), 0);
	assert_true(got == dev);
	close(fd);
}

static void
test_open_missing(void **state)
{
	int fd = 7;

	assert_int_equal(fsfreeze_open("/nonexistent/hvvss", &fd), -ENOENT);
	assert_int_equal(fd, -1);
	/* a file, not a mount point's directory */
	assert_int_equal(fsfreeze_open("/dev/null", &fd), -ENOTDIR);
}

/*
 * The kernel's answers come up as they are: pipefs cannot freeze
 * (EOPNOTSUPP, or EPERM without CAP_SYS_ADMIN) and is not frozen
 * (EINVAL, or EPERM); nothing is held after a failed freeze.
 */
static void
test_pipe(void **state)
{
	int p[2], hold = 5, rc;

	assert_int_equal(pipe(p), 0);
	rc = fsfreeze_freeze(p[0], &hold);
	assert_true(rc == -EOPNOTSUPP || rc == -EPERM);
	assert_int_equal(hold, -1);
	hold = p[0];
	rc = fsfreeze_thaw(&hold);
	assert_true(rc == -EINVAL || rc == -EPERM);
	assert_int_equal(hold, p[0]); /* Linux: the thaw closes nothing */
	close(p[0]);
	close(p[1]);
}

/* the one-shot hold: what it checks before it would freeze */
static void
test_hold_refuses(void **state)
{
	char err[512] = "";
	int hold = 5;

	assert_int_equal(
	    fsfreeze_hold("/nonexistent/hvvss", NULL, &hold, err, sizeof(err)),
	    -ENOENT);
	assert_int_equal(hold, -1);
	assert_string_equal(
	    err, "open /nonexistent/hvvss: No such file or directory");
	/* (a wrong want on a real mount is test_check's: a hold that got
	 * past a broken check here would freeze this machine's "/") */
}

/* the device number survives the kernel's 32-bit encoding */
static void
test_encode(void **state)
{
	static const unsigned int cases[][2] = {{0, 0}, {8, 1}, {7, 255},
	    {7, 256}, {259, 65536}, {0, 45}, {4095, 1048575}};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		dev_t d = makedev(cases[i][0], cases[i][1]);

		assert_true(mountid_decode_dev(mountid_encode_dev(d)) == d);
	}
	/* the kernel's own layout (new_encode_dev()) */
	assert_int_equal(mountid_encode_dev(makedev(8, 1)), 0x801);
	assert_int_equal(mountid_encode_dev(makedev(7, 256)), 0x100700);
}

/* The knob of fsfreeze_expedite(), on a file of ours. */
static void
test_expedite(void **state)
{
	char path[] = "/tmp/test_fsfreeze.XXXXXX", buf[8];
	int fd;

	assert_true((fd = mkstemp(path)) >= 0);
	assert_int_equal(write(fd, "0\n", 2), 2);
	assert_int_equal(fsfreeze_expedited_at(path), 0);
	assert_int_equal(fsfreeze_expedite_at(path, true), 0);
	assert_int_equal(pread(fd, buf, sizeof(buf), 0), 2);
	assert_memory_equal(buf, "1\n", 2);
	assert_int_equal(fsfreeze_expedited_at(path), 1);
	assert_int_equal(fsfreeze_expedite_at(path, false), 0);
	assert_int_equal(pread(fd, buf, sizeof(buf), 0), 2);
	assert_memory_equal(buf, "0\n", 2);
	/* any other number is expedited too, as the kernel takes it */
	assert_int_equal(pwrite(fd, "7\n", 2, 0), 2);
	assert_int_equal(fsfreeze_expedited_at(path), 1);
	/* not a number: not to be trusted either way */
	assert_int_equal(pwrite(fd, "x\n", 2, 0), 2);
	assert_int_equal(fsfreeze_expedited_at(path), -EINVAL);
	close(fd);
	unlink(path);
	/* no knob */
	assert_int_equal(fsfreeze_expedited_at(path), -ENOENT);
	assert_int_equal(fsfreeze_expedite_at(path, true), -ENOENT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kind),
	    cmocka_unit_test(test_expedite),
	    cmocka_unit_test(test_check),
	    cmocka_unit_test(test_open_missing),
	    cmocka_unit_test(test_pipe),
	    cmocka_unit_test(test_hold_refuses),
	    cmocka_unit_test(test_encode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
