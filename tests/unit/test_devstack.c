/*
 * test_devstack.c: unit tests for the device-stack seam (os/devstack.h).
 *
 * devstack_linux.c walks fake sysfs trees (tests/unit/fixtures/sys-*,
 * and trees made here): every image under a filesystem must reach the
 * caller, or the plan freezes an image's host first and hangs.
 *
 * devstack_md.c, the naming
 * rule the FreeBSD device-stack walk (daemon/os/devstack_freebsd.c)
 * uses to find the md(4) unit, and so the image, under a filesystem's
 * source.  A name taken for an md layer that is not one would order a
 * filesystem after an unrelated image; one missed would freeze an
 * image's host first and hang.
 */
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>

#include <limits.h>
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

#include "os/devstack.h"

static void
test_md_names(void **state)
{
	static const struct {
		const char *name;
		int unit;
	} cases[] = {
	    {"/dev/md0", 0},
	    {"md0", 0},
	    {"/dev/md12", 12},
	    {"/dev/md3p1", 3},
	    {"/dev/md3p12", 3},
	    {"/dev/md3s1", 3},
	    {"/dev/md3s1a", 3},
	    {"/dev/md3a", 3},
	    {"/dev/md3.eli", 3},
	    {"/dev/md3p2.eli", 3},
	    {"/dev/md3s1d.eli", 3},
	    {"/dev/md3.nop", 3},
	    {"/dev/md3.nop.eli", 3},
	    /* not md, or not a layer we know */
	    {"/dev/ada0p2", -1},
	    {"/dev/mirror/gm0", -1},
	    {"/dev/gpt/rootfs", -1},
	    {"/dev/md", -1},
	    {"/dev/mdctl", -1},
	    {"/dev/md01", -1},
	    {"/dev/md3x", -1},
	    {"/dev/md3p", -1},
	    {"/dev/md3i", -1},
	    {"/dev/md3.journal", -1},
	    {"/dev/md99999999", -1},
	    {"zroot/usr", -1},
	    {"tmpfs", -1},
	    {"/dev/xmd0", -1},
	    {"", -1},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (devstack_md_unit(cases[i].name) != cases[i].unit)
			fail_msg("%s: unit %d, want %d", cases[i].name,
			    devstack_md_unit(cases[i].name), cases[i].unit);
}

/* What a walk handed over. */
struct got {
	char img[8][PATH_MAX];
	bool whole[8];
	size_t n;
	int stop_at; /* return -1 at this call (1-based), 0: never */
};

static int
collect(const char *img, bool whole, dev_t holder, void *arg)
{
	struct got *g = arg;

	assert_int_equal(holder, 0); /* sysfs does not say */
	if (g->n < 8) {
		snprintf(g->img[g->n], PATH_MAX, "%s", img);
		g->whole[g->n] = whole;
	}
	g->n++;
	return g->stop_at != 0 && (int)g->n == g->stop_at ? -1 : 0;
}

static const char *
fx(const char *name)
{
	static char bufs[2][PATH_MAX];
	static int next;
	const char *top = getenv("HVVSS_TOP");
	char *b = bufs[next++ % 2];

	if (top == NULL || *top == '\0')
		top = ".";
	snprintf(b, PATH_MAX, "%s/tests/unit/fixtures/%s", top, name);
	return b;
}

static int
walk(const char *sys, const char *source, const char *fstype, dev_t dev,
    struct got *g)
{
	const struct devstack_opts o = {.root = sys, .probe = false};
	const struct devstack_src src = {
	    .source = source, .fstype = fstype, .dev = dev};
	char err[256];

	return devstack_walk(&o, &src, collect, g, err, sizeof(err));
}

/* a loop device, found by its major:minor */
static void
test_walk_loop(void **state)
{
	struct got g = {0};

	assert_int_equal(
	    walk(fx("sys-loopnest"), "/dev/loop3", "ext4", makedev(7, 3), &g),
	    0);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.img[0], "/a/z.img");
	assert_true(g.whole[0]);

	/* a disk: nothing under it */
	memset(&g, 0, sizeof(g));
	assert_int_equal(
	    walk(fx("sys-loopnest"), "/dev/sda1", "ext4", makedev(8, 1), &g),
	    0);
	assert_int_equal(g.n, 0);
}

/* dm over a loop device, through slaves/ and the member's dev */
static void
test_walk_dm(void **state)
{
	struct got g = {0};

	assert_int_equal(walk(fx("sys-dm"), "/dev/mapper/vg-vol", "xfs",
	                     makedev(253, 0), &g),
	    0);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.img[0], "/data/vol.img");
}

/* md over two loops (one image unlinked), a partition of a loop, a
 * btrfs over two loops (no /sys/dev/block entry for its 0:N), dm by
 * its /dev/mapper name */
static void
test_walk_stack(void **state)
{
	struct got g = {0};

	assert_int_equal(
	    walk(fx("sys-stack"), "/dev/md127", "ext4", makedev(9, 127), &g),
	    0);
	assert_int_equal(g.n, 2);
	/* readdir order: either first */
	if (strcmp(g.img[0], "/h1/md-a.img") != 0) {
		assert_string_equal(g.img[1], "/h1/md-a.img");
		assert_string_equal(g.img[0], "/h6/md-b.img");
	} else
		assert_string_equal(g.img[1], "/h6/md-b.img");

	memset(&g, 0, sizeof(g));
	assert_int_equal(
	    walk(fx("sys-stack"), "/dev/loop5p1", "ext4", makedev(259, 0), &g),
	    0);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.img[0], "/h2/disk.img");

	memset(&g, 0, sizeof(g));
	assert_int_equal(
	    walk(fx("sys-stack"), "/dev/loop6", "btrfs", makedev(0, 50), &g),
	    0);
	assert_int_equal(g.n, 2);

	memset(&g, 0, sizeof(g));
	assert_int_equal(walk(fx("sys-stack"), "/dev/mapper/cryptbt", "btrfs",
	                     makedev(0, 51), &g),
	    0);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.img[0], "/h5/crypt.img");

	/* the caller stops the walk: -1 comes back, no more calls */
	memset(&g, 0, sizeof(g));
	g.stop_at = 1;
	assert_int_equal(
	    walk(fx("sys-stack"), "/dev/md127", "ext4", makedev(9, 127), &g),
	    -1);
	assert_int_equal(g.n, 1);
}

/* no tree (a sandbox), a missing one, and no probing: nothing */
static void
test_walk_no_sysfs(void **state)
{
	struct got g = {0};

	assert_int_equal(
	    walk(NULL, "/dev/loop3", "ext4", makedev(7, 3), &g), 0);
	assert_int_equal(walk(fx("sys-does-not-exist"), "/dev/loop3", "ext4",
	                     makedev(7, 3), &g),
	    0);
	assert_int_equal(g.n, 0);
}

static void
put(const char *root, const char *rel, const char *text)
{
	char path[PATH_MAX], cmd[PATH_MAX * 2];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
	assert_int_equal(system(cmd), 0);
	assert_non_null(fp = fopen(path, "w"));
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

/*
 * What the kernel writes that is not a plain path: " (deleted)" goes,
 * "(unreachable)" (outside our root) is not an image of ours; a slaves/
 * link back to the device itself does not walk for ever; a FIFO for a
 * backing_file does not hang the walk.
 */
static void
test_walk_hostile(void **state)
{
	char root[] = "/tmp/test_devstack.XXXXXX", path[PATH_MAX];
	char cmd[PATH_MAX * 2];
	struct got g = {0};

	assert_non_null(mkdtemp(root));
	put(root, "dev/block/7:1/loop/backing_file", "/x/y.img (deleted)\n");
	put(root, "dev/block/7:2/loop/backing_file", "(unreachable)/z.img\n");
	put(root, "dev/block/253:9/dm/name", "self\n");
	snprintf(path, sizeof(path), "%s/dev/block/253:9/slaves", root);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/dev/block/253:9/slaves/me", root);
	assert_int_equal(symlink("..", path), 0);
	snprintf(path, sizeof(path), "%s/dev/block/7:4/loop", root);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", path);
	assert_int_equal(system(cmd), 0);
	snprintf(
	    path, sizeof(path), "%s/dev/block/7:4/loop/backing_file", root);
	assert_int_equal(mkfifo(path, 0644), 0);

	assert_int_equal(
	    walk(root, "/dev/loop1", "ext4", makedev(7, 1), &g), 0);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.img[0], "/x/y.img");

	memset(&g, 0, sizeof(g));
	assert_int_equal(
	    walk(root, "/dev/loop2", "ext4", makedev(7, 2), &g), 0);
	assert_int_equal(g.n, 0);

	assert_int_equal(
	    walk(root, "/dev/mapper/self", "ext4", makedev(253, 9), &g), 0);
	assert_int_equal(g.n, 0);

	assert_int_equal(
	    walk(root, "/dev/loop4", "ext4", makedev(7, 4), &g), 0);
	assert_int_equal(g.n, 0);

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_md_names),
	    cmocka_unit_test(test_walk_loop),
	    cmocka_unit_test(test_walk_dm),
	    cmocka_unit_test(test_walk_stack),
	    cmocka_unit_test(test_walk_no_sysfs),
	    cmocka_unit_test(test_walk_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
