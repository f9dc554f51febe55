/*
 * test_plan.c: unit tests for the freeze plan (daemon/plan.c).  The plan
 * decides what a backup freezes and in which order, and a wrong order
 * hangs the guest for good (a filesystem on a loop device frozen after
 * the one holding its image), so these tests check the whole plan: every
 * target in order with its level and the reason for its place, every
 * skip with its reason, and the veto.
 *
 * Inputs are fixture files under tests/unit/fixtures/: mountinfo-NAME in
 * the kernel's mountinfo format, and sys-NAME, small fake sysfs trees
 * holding only what plan.c reads (dev/block/M:m/loop/backing_file,
 * slaves/, block/NAME, fs/btrfs/UUID/devices/).  The fixtures are found
 * through $HVVSS_TOP, the top of the repository (tests/run sets it);
 * without it, the current directory is taken to be the top.  The scale
 * tests write their inputs to $TMPDIR (default /tmp) and remove them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <unistd.h>
#include <cmocka.h>

#include "conf.h"
#include "plan.h"

/* What one target must look like, in plan order. */
struct want {
	const char *mountpoint;
	int level;
	const char *reason;
};

#define NWANT(w) (sizeof(w) / sizeof((w)[0]))

/* Path of a fixture; a few rotating buffers, for two in one call. */
static const char *
fx(const char *name)
{
	static char bufs[4][PATH_MAX];
	static int next;
	const char *top = getenv("HVVSS_TOP");
	char *b = bufs[next++ % 4];

	if (top == NULL || *top == '\0')
		top = ".";
	snprintf(b, PATH_MAX, "%s/tests/unit/fixtures/%s", top, name);
	return b;
}

static const char *
tmpdir(void)
{
	const char *t = getenv("TMPDIR");

	return t != NULL && *t != '\0' ? t : "/tmp";
}

/* Add strdup'ed entries to a conf list (conf_clear() frees them). */
static void
set_list(char **list, size_t *n, const char *const *add)
{
	for (; *add != NULL; add++) {
		assert_true(*n < CONF_MAX_LIST);
		list[*n] = strdup(*add);
		assert_non_null(list[*n]);
		(*n)++;
	}
}

#define LIST(...) ((const char *const[]){__VA_ARGS__, NULL})

/* plan_build() on fixtures; sys may be NULL (no sysfs at all). */
static void
build(struct plan *p, const struct conf *c, const char *mi, const char *sys)
{
	char err[512] = "";
	int rc;

	rc = plan_build(p, c, fx(mi), sys != NULL ? fx(sys) : NULL, false, err,
	    sizeof(err));
	if (rc != 0)
		fail_msg("plan_build(%s, %s): %s", mi, sys ? sys : "-", err);
}

static void
expect_targets(const struct plan *p, const struct want *w, size_t n)
{
	size_t i;

	for (i = 0; i < p->ntargets && i < n; i++) {
		const struct plan_target *t = &p->targets[i];

		if (strcmp(t->mountpoint, w[i].mountpoint) != 0 ||
		    t->level != w[i].level ||
		    strcmp(t->order_reason, w[i].reason) != 0)
			fail_msg("target %zu: got %s level %d \"%s\", want %s "
			         "level %d \"%s\"",
			    i, t->mountpoint, t->level, t->order_reason,
			    w[i].mountpoint, w[i].level, w[i].reason);
	}
	assert_int_equal(p->ntargets, n);
}

static const struct plan_target *
target_of(const struct plan *p, const char *mp)
{
	size_t i;

	for (i = 0; i < p->ntargets; i++)
		if (strcmp(p->targets[i].mountpoint, mp) == 0)
			return &p->targets[i];
	fail_msg("no target %s", mp);
	return NULL;
}

static const struct plan_skip *
skip_of(const struct plan *p, const char *mp)
{
	size_t i;

	for (i = 0; i < p->nskips; i++)
		if (strcmp(p->skips[i].mountpoint, mp) == 0)
			return &p->skips[i];
	fail_msg("no skip %s", mp);
	return NULL;
}

static void
expect_skip(const struct plan *p, const char *mp, const char *fstype,
    const char *reason)
{
	const struct plan_skip *s = skip_of(p, mp);

	assert_string_equal(s->fstype, fstype);
	assert_string_equal(s->reason, reason);
}

static void
expect_no_skip(const struct plan *p, const char *mp)
{
	size_t i;

	for (i = 0; i < p->nskips; i++)
		if (strcmp(p->skips[i].mountpoint, mp) == 0)
			fail_msg("%s skipped: %s", mp, p->skips[i].reason);
}

static int
setup(void **state)
{
	struct conf *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return -1;
	conf_defaults(c);
	*state = c;
	return 0;
}

static int
teardown(void **state)
{
	struct conf *c = *state;

	conf_clear(c);
	free(c);
	return 0;
}

/* "/", /home, an ESP, and the pseudo filesystems of any Debian. */
static void
test_plain_skip(void **state)
{
	const struct want w[] = {
	    {"/home", 0, ""},
	    {"/", 1, "after /home: mounted under it"},
	};
	struct conf *c = *state;
	struct plan p;
	const struct plan_target *t;

	build(&p, c, "mountinfo-plain", NULL);
	expect_targets(&p, w, NWANT(w));
	assert_false(p.veto);
	assert_string_equal(p.veto_reason, "");

	t = target_of(&p, "/");
	assert_string_equal(t->fstype, "ext4");
	assert_string_equal(t->source, "/dev/sda1");
	assert_true(t->dev == makedev(8, 1));
	assert_int_equal(t->nmounts, 1);
	t = target_of(&p, "/home");
	assert_true(t->dev == makedev(8, 2));

	/* every other mount, in mountinfo order, with its reason */
	assert_int_equal(p.nskips, 7);
	assert_string_equal(p.skips[0].mountpoint, "/proc");
	assert_string_equal(p.skips[6].mountpoint, "/boot/efi");
	expect_skip(&p, "/proc", "proc", "pseudo filesystem (proc)");
	expect_skip(&p, "/sys", "sysfs", "pseudo filesystem (sysfs)");
	expect_skip(
	    &p, "/sys/fs/cgroup", "cgroup2", "pseudo filesystem (cgroup2)");
	expect_skip(&p, "/dev", "devtmpfs", "devtmpfs: memory filesystem");
	expect_skip(&p, "/dev/pts", "devpts", "pseudo filesystem (devpts)");
	expect_skip(&p, "/run", "tmpfs", "tmpfs: memory filesystem");
	expect_skip(&p, "/boot/efi", "vfat",
	    "cannot freeze (vfat): skipped by unfreezable=skip");
	plan_free(&p);
	assert_null(p.targets);
	assert_int_equal(p.ntargets, 0);
	plan_free(&p); /* twice is harmless */
}

static void
test_plain_veto(void **state)
{
	const struct want w[] = {
	    {"/home", 0, ""},
	    {"/", 1, "after /home: mounted under it"},
	};
	struct conf *c = *state;
	struct plan p;

	c->unfreezable = UNFREEZABLE_VETO;
	build(&p, c, "mountinfo-plain", NULL);
	assert_true(p.veto);
	assert_string_equal(p.veto_reason,
	    "/boot/efi (vfat) cannot be frozen (unfreezable=veto)");
	/* the plan is still shown in full */
	expect_targets(&p, w, NWANT(w));
	expect_skip(&p, "/boot/efi", "vfat",
	    "cannot freeze (vfat): vetoes the backup (unfreezable=veto)");
	plan_free(&p);
}

/* Bind mounts share a superblock: one target, the others name it. */
static void
test_bind_mounts(void **state)
{
	const struct want w[] = {
	    {"/data", 0, ""},
	    {"/", 1, "after /data: mounted under it"},
	};
	struct conf *c = *state;
	struct plan p;

	build(&p, c, "mountinfo-bind", NULL);
	expect_targets(&p, w, NWANT(w));
	assert_int_equal(target_of(&p, "/")->nmounts, 4);
	assert_true(target_of(&p, "/")->dev == makedev(254, 0));
	assert_string_equal(target_of(&p, "/")->source, "/dev/mapper/vg-root");
	assert_int_equal(target_of(&p, "/data")->nmounts, 2);
	/* the mount the freezer must find at each path: the one named */
	assert_int_equal(target_of(&p, "/")->mount_id, 21);
	assert_int_equal(target_of(&p, "/data")->mount_id, 43);
	expect_skip(
	    &p, "/var/www", "ext4", "bind mount of / (same superblock 254:0)");
	expect_skip(&p, "/mnt/rootbind", "ext4",
	    "bind mount of / (same superblock 254:0)");
	expect_skip(&p, "/srv/shared", "xfs",
	    "bind mount of /data (same superblock 254:1)");
	/*
	 * a read-only bind of a read-write filesystem: read-only is the
	 * superblock's say (os/mtab.h), so it is one more bind of /
	 */
	expect_skip(
	    &p, "/home", "ext4", "bind mount of / (same superblock 254:0)");
	assert_int_equal(p.nskips, 5);
	assert_false(p.veto);
	plan_free(&p);
}

/*
 * What systemd's ProtectSystem=full and ProtectHome=read-only leave the
 * daemon: /usr, /boot, /etc and /home seen only through read-only binds
 * (the read-write mounts beneath are covered), while the rest of the
 * system writes to them.  Each superblock is frozen, through its
 * read-only mount; a superblock that is read-only itself is not.
 */
static void
test_ro_binds_of_rw_superblocks(void **state)
{
	const struct want w[] = {
	    {"/boot", 0, ""},
	    {"/home", 0, ""},
	    {"/usr", 0, ""},
	    {"/", 1, "after /boot: mounted under it"},
	};
	struct conf *c = *state;
	struct plan p;

	build(&p, c, "mountinfo-protect", NULL);
	expect_targets(&p, w, NWANT(w));
	/* through the read-only mount on top, the one reachable by path */
	assert_int_equal(target_of(&p, "/usr")->mount_id, 61);
	assert_int_equal(target_of(&p, "/boot")->mount_id, 62);
	assert_int_equal(target_of(&p, "/home")->mount_id, 63);
	assert_int_equal(target_of(&p, "/")->mount_id, 21);
	expect_skip(
	    &p, "/etc", "ext4", "bind mount of / (same superblock 254:0)");
	expect_skip(&p, "/srv/ro", "ext4", "read-only");
	assert_false(p.veto);
	plan_free(&p);
}

/* Excluding one mount of a superblock cannot unfreeze the others. */
static void
test_exclude_bind(void **state)
{
	struct conf *c = *state;
	struct plan p;

	set_list(c->exclude, &c->nexclude, LIST("/var/www"));
	build(&p, c, "mountinfo-bind", NULL);
	expect_skip(&p, "/var/www", "ext4",
	    "excluded by path (/var/www); its filesystem is frozen at /");
	/* /, /mnt/rootbind and the read-only bind at /home */
	assert_int_equal(target_of(&p, "/")->nmounts, 3);
	plan_free(&p);
}

/* Subvolumes of one btrfs (0:N in mountinfo): one target. */
static void
test_btrfs_subvolumes(void **state)
{
	const struct want w[] = {
	    {"/", 0, ""},
	};
	struct conf *c = *state;
	struct plan p;
	const struct plan_target *t;

	build(&p, c, "mountinfo-btrfs", NULL);
	expect_targets(&p, w, NWANT(w));
	t = &p.targets[0];
	assert_string_equal(t->fstype, "btrfs");
	assert_string_equal(t->source, "/dev/sda2");
	assert_true(t->dev == makedev(0, 26));
	assert_int_equal(t->nmounts, 3);
	expect_skip(&p, "/home", "btrfs",
	    "btrfs subvolume /@home: same filesystem as / (0:26)");
	expect_skip(&p, "/.snapshots", "btrfs",
	    "btrfs subvolume /@snapshots: same filesystem as / (0:26)");
	assert_int_equal(p.nskips, 4);
	plan_free(&p);
}

/*
 * /mnt/inner lives on an image in /mnt/outer, which lives on an image in
 * /: inner, then outer, then /.  Each on its own level, since a level is
 * frozen in parallel.
 */
static void
test_nested_loops(void **state)
{
	const struct want w[] = {
	    {"/mnt/inner", 0, ""},
	    {"/mnt/outer", 1,
	        "after /mnt/inner: its image /mnt/outer/inner.img lives here"},
	    {"/", 2,
	        "after /mnt/outer: its image /var/lib/images/outer.img lives "
	        "here"},
	};
	struct conf *c = *state;
	struct plan p;

	build(&p, c, "mountinfo-nested", "sys-nested");
	expect_targets(&p, w, NWANT(w));
	assert_string_equal(target_of(&p, "/mnt/inner")->source, "/dev/loop1");
	assert_false(p.veto);
	plan_free(&p);
}

/* No sysfs (the test sandbox): every device is plain. */
static void
test_no_sysfs(void **state)
{
	const struct want w[] = {
	    {"/mnt/inner", 0, ""},
	    {"/mnt/outer", 0, ""},
	    {"/", 1, "after /mnt/inner: mounted under it"},
	};
	struct conf *c = *state;
	struct plan p;

	build(&p, c, "mountinfo-nested", "sys-does-not-exist");
	expect_targets(&p, w, NWANT(w));
	plan_free(&p);
	build(&p, c, "mountinfo-nested", NULL);
	expect_targets(&p, w, NWANT(w));
	plan_free(&p);
}

/*
 * Loop order wins over names (/z before /a) and over nesting: /a/b is
 * mounted inside /a but holds /a's image, so it is frozen after /a.
 */
static void
test_loop_beats_nesting(void **state)
{
	const struct want w[] = {
	    {"/z", 0, ""},
	    {"/a", 1, "after /z: its image /a/z.img lives here"},
	    {"/a/b", 2, "after /a: its image /a/b/x.img lives here"},
	    {"/", 3, "after /a/b: mounted under it"},
	};
	struct conf *c = *state;
	struct plan p;

	build(&p, c, "mountinfo-loopnest", "sys-loopnest");
	expect_targets(&p, w, NWANT(w));
	assert_false(p.veto);
	plan_free(&p);
}

/*
 * Under a dropped nesting edge the rest of the tree keeps its order:
 * /a/b/c is inside /a (through /a/b) and is frozen before it, although
 * /a/b itself must come after /a.
 */
static void
test_loop_beats_nesting_deep(void **state)
{
	const struct want w[] = {
	    {"/a/b/c/d", 0, ""},
	    {"/a/b/c", 1, "after /a/b/c/d: mounted under it"},
	    {"/a", 2, "after /a/b/c: mounted under it"},
	    {"/a/b", 3, "after /a: its image /a/b/x.img lives here"},
	    {"/", 4, "after /a/b: mounted under it"},
	};
	struct conf *c = *state;
	struct plan p;

	build(&p, c, "mountinfo-loopnest-deep", "sys-loopnest");
	expect_targets(&p, w, NWANT(w));
	plan_free(&p);
}

/* losetup /dev/sdc: the image is a disk, not a file on "/". */
static void
test_loop_over_disk(void **state)
{
	const struct want w[] = {
	    {"/lo", 0, ""},
	    {"/", 1, "after /lo: mounted under it"},
	};
	struct conf *c = *state;
	struct plan p;

	build(&p, c, "mountinfo-blkloop", "sys-loopnest");
	expect_targets(&p, w, NWANT(w));
	plan_free(&p);
}

/* dm-0 (253:0) over loop0, whose image is on /data. */
static void
test_dm_over_loop(void **state)
{
	const struct want w[] = {
	    {"/vol", 0, ""},
	    {"/data", 1, "after /vol: its image /data/vol.img lives here"},
	    {"/", 2, "after /data: mounted under it"},
	};
	struct conf *c = *state;
	struct plan p;

	build(&p, c, "mountinfo-dm", "sys-dm");
	expect_targets(&p, w, NWANT(w));
	plan_free(&p);
}

/*
 * Every way down a device stack: md over two loops (one found through
 * block/NAME, one through class/block/NAME, its image deleted), a
 * partition of a loop device, a two-device btrfs named by one device, a
 * btrfs on /dev/mapper/NAME, and a dm over a plain disk.  Each image is on
 * its own holder, so each edge shows in a reason.
 */
static void
test_device_stacks(void **state)
{
	const struct want w[] = {
	    {"/bt", 0, ""},
	    {"/btm", 0, ""},
	    {"/mapped", 0, ""},
	    {"/part", 0, ""},
	    {"/raid", 0, ""},
	    {"/h1", 1, "after /raid: its image /h1/md-a.img lives here"},
	    {"/h2", 1, "after /part: its image /h2/disk.img lives here"},
	    {"/h3", 1, "after /bt: its image /h3/bt1.img lives here"},
	    {"/h4", 1, "after /bt: its image /h4/bt2.img lives here"},
	    {"/h5", 1, "after /btm: its image /h5/crypt.img lives here"},
	    {"/h6", 1, "after /raid: its image /h6/md-b.img lives here"},
	    {"/", 2, "after /h1: mounted under it"},
	};
	struct conf *c = *state;
	struct plan p;

	build(&p, c, "mountinfo-stack", "sys-stack");
	expect_targets(&p, w, NWANT(w));
	assert_int_equal(p.nskips, 0);
	assert_false(p.veto);
	plan_free(&p);
}

static void
test_skip_reasons(void **state)
{
	const struct want w[] = {
	    {"/mnt/data", 0, ""},
	    {"/ro-mnt", 0, ""},
	    {"/", 1, "after /mnt/data: mounted under it"},
	};
	struct conf *c = *state;
	struct plan p;

	build(&p, c, "mountinfo-skips", NULL);
	expect_targets(&p, w, NWANT(w));
	expect_skip(&p, "/proc", "proc", "pseudo filesystem (proc)");
	expect_skip(&p, "/sys", "sysfs", "pseudo filesystem (sysfs)");
	expect_skip(
	    &p, "/sys/fs/cgroup", "cgroup2", "pseudo filesystem (cgroup2)");
	expect_skip(&p, "/dev", "devtmpfs", "devtmpfs: memory filesystem");
	expect_skip(&p, "/tmp", "tmpfs", "tmpfs: memory filesystem");
	expect_skip(&p, "/var/lib/docker/overlay2/abc/merged", "overlay",
	    "overlay: has no block device of its own");
	expect_skip(&p, "/net/home", "nfs4", "network filesystem (nfs4)");
	expect_skip(&p, "/home/u/remote", "fuse.sshfs", "FUSE filesystem");
	expect_skip(&p, "/media/win", "fuseblk",
	    "cannot freeze (fuseblk): skipped by unfreezable=skip");
	expect_skip(&p, "/ro-sb", "ext4", "read-only"); /* superblock */
	/* /ro-mnt: a read-only mount of a read-write superblock, frozen */
	expect_skip(&p, "/snap/core/1", "squashfs", "read-only");
	expect_skip(
	    &p, "/tank", "zfs", "type zfs: not known to support freezing");
	expect_skip(&p, "/bt", "btrfs",
	    "btrfs without a block device (0:61, source none)");
	expect_skip(
	    &p, "/x", "xfs", "xfs without a block device (0:62, source none)");
	expect_skip(&p, "/mnt/usb", "exfat",
	    "cannot freeze (exfat): skipped by unfreezable=skip");
	expect_skip(&p, "/proc/sys/fs/binfmt_misc", "binfmt_misc",
	    "pseudo filesystem (binfmt_misc)");
	assert_int_equal(p.nskips, 16);
	assert_false(p.veto);
	plan_free(&p);

	/* only the read-write disks that cannot freeze veto: exfat, and
	 * ntfs-3g's fuseblk; sshfs and the pseudo filesystems do not */
	c->unfreezable = UNFREEZABLE_VETO;
	build(&p, c, "mountinfo-skips", NULL);
	assert_true(p.veto);
	assert_string_equal(p.veto_reason,
	    "/media/win (fuseblk) cannot be frozen (unfreezable=veto); "
	    "/mnt/usb (exfat) cannot be frozen (unfreezable=veto)");
	plan_free(&p);
}

/* mountinfo escapes: \040 a space, \134 a backslash. */
static void
test_space_in_path(void **state)
{
	const struct want w[] = {
	    {"/mnt/back\\slash", 0, ""},
	    {"/mnt/inner two", 0, ""},
	    {"/mnt/my disk", 1,
	        "after /mnt/inner two: its image /mnt/my disk/img file.img "
	        "lives here"},
	    {"/", 2, "after /mnt/my disk: mounted under it"},
	};
	struct conf *c = *state;
	struct plan p;

	build(&p, c, "mountinfo-space", "sys-space");
	expect_targets(&p, w, NWANT(w));
	plan_free(&p);

	/* the allow-list matches the decoded path */
	set_list(c->mounts, &c->nmounts, LIST("/mnt/my disk"));
	build(&p, c, "mountinfo-space", "sys-space");
	assert_int_equal(p.ntargets, 1);
	assert_string_equal(p.targets[0].mountpoint, "/mnt/my disk");
	assert_false(p.veto);
	plan_free(&p);
}

/* Nesting three deep, and independent targets sharing level 0. */
static void
test_nesting_levels(void **state)
{
	const struct want w[] = {
	    {"/home", 0, ""},
	    {"/srv/data", 0, ""},
	    {"/srvx", 0, ""},
	    {"/srv", 1, "after /srv/data: mounted under it"},
	    {"/", 2, "after /srv: mounted under it"},
	};
	struct conf *c = *state;
	struct plan p;

	build(&p, c, "mountinfo-srv", NULL);
	expect_targets(&p, w, NWANT(w));
	plan_free(&p);
}

static void
test_allow_list(void **state)
{
	const struct want w[] = {
	    {"/srv/data", 0, ""},
	    {"/srv", 1, "after /srv/data: mounted under it"},
	};
	struct conf *c = *state;
	struct plan p;

	/* matched after normalization; an unlisted vfat does not veto */
	set_list(c->mounts, &c->nmounts, LIST("/srv/", "//srv//data/."));
	c->unfreezable = UNFREEZABLE_VETO;
	build(&p, c, "mountinfo-srv", NULL);
	expect_targets(&p, w, NWANT(w));
	assert_false(p.veto);
	expect_skip(&p, "/", "ext4", "not in mounts allow-list");
	expect_skip(&p, "/proc", "proc", "not in mounts allow-list");
	expect_skip(&p, "/srvx", "ext4", "not in mounts allow-list");
	expect_skip(&p, "/home", "xfs", "not in mounts allow-list");
	expect_skip(&p, "/boot/efi", "vfat", "not in mounts allow-list");
	assert_int_equal(p.nskips, 5);
	plan_free(&p);
}

static void
test_allow_list_missing(void **state)
{
	const struct want w[] = {
	    {"/srv", 0, ""},
	};
	struct conf *c = *state;
	struct plan p;

	set_list(c->mounts, &c->nmounts, LIST("/srv", "/nope", "/srv/nope"));
	build(&p, c, "mountinfo-srv", NULL);
	assert_true(p.veto);
	assert_string_equal(p.veto_reason,
	    "allow-listed /nope is not mounted; "
	    "allow-listed /srv/nope is not mounted");
	expect_targets(&p, w, NWANT(w));
	expect_skip(&p, "/srv/data", "xfs", "not in mounts allow-list");
	plan_free(&p);
}

static void
test_exclude(void **state)
{
	const struct want w[] = {
	    {"/srvx", 0, ""},
	    {"/", 1, "after /srvx: mounted under it"},
	};
	struct conf *c = *state;
	struct plan p;

	/* /srv takes /srv/data along, not /srvx; "xfs" is a type */
	set_list(c->exclude, &c->nexclude, LIST("/srv", "xfs", "vfat"));
	c->unfreezable = UNFREEZABLE_VETO;
	build(&p, c, "mountinfo-srv", NULL);
	expect_targets(&p, w, NWANT(w));
	expect_skip(&p, "/srv", "ext4", "excluded by path (/srv)");
	expect_skip(&p, "/srv/data", "xfs", "excluded by path (/srv)");
	expect_skip(&p, "/home", "xfs", "excluded by type (xfs)");
	/* excluded, so it cannot veto */
	expect_skip(&p, "/boot/efi", "vfat", "excluded by type (vfat)");
	expect_no_skip(&p, "/srvx");
	assert_false(p.veto);
	plan_free(&p);
}

static void
test_exclude_root(void **state)
{
	struct conf *c = *state;
	struct plan p;

	/* "/" is a path prefix of everything */
	set_list(c->exclude, &c->nexclude, LIST("/"));
	build(&p, c, "mountinfo-srv", NULL);
	assert_int_equal(p.ntargets, 0);
	assert_null(p.targets);
	expect_skip(&p, "/", "ext4", "excluded by path (/)");
	expect_skip(&p, "/srv/data", "xfs", "excluded by path (/)");
	assert_int_equal(p.nskips, 7);
	plan_free(&p);
}

/* Two loop images on each other: no order exists; veto, no targets. */
static void
test_cycle(void **state)
{
	struct conf *c = *state;
	struct plan p;

	build(&p, c, "mountinfo-cycle", "sys-cycle");
	assert_true(p.veto);
	assert_string_equal(p.veto_reason,
	    "cycle of loop images (each lives on the next): "
	    "/mnt/a -> /mnt/b -> /mnt/a");
	assert_int_equal(p.ntargets, 0);
	assert_null(p.targets);
	plan_free(&p);

	build(&p, c, "mountinfo-selfcycle", "sys-cycle");
	assert_true(p.veto);
	assert_string_equal(p.veto_reason,
	    "cycle of loop images (each lives on the next): "
	    "/mnt/self -> /mnt/self");
	assert_int_equal(p.ntargets, 0);
	plan_free(&p);
}

/*
 * FIFREEZE goes through the path, which leads to the top mount: a covered
 * mount (and what is under it) cannot be reached, whether covered from
 * above (/mnt) or from beneath (/opt, a mount tucked under the top one).
 * Two mounts on one path that do not name each other (only a crafted
 * table has them): the later one is taken to be on top (/srv).
 */
static void
test_hidden_mounts(void **state)
{
	const struct want w[] = {
	    {"/mnt", 0, ""},
	    {"/opt", 0, ""},
	    {"/srv", 0, ""},
	    {"/", 1, "after /mnt: mounted under it"},
	};
	struct conf *c = *state;
	struct plan p;

	build(&p, c, "mountinfo-hidden", NULL);
	expect_targets(&p, w, NWANT(w));
	assert_string_equal(target_of(&p, "/mnt")->fstype, "xfs");
	assert_true(target_of(&p, "/mnt")->dev == makedev(8, 4));
	assert_true(target_of(&p, "/opt")->dev == makedev(8, 5));
	expect_skip(&p, "/mnt", "ext4", "hidden: another mount covers /mnt");
	expect_skip(
	    &p, "/mnt/sub", "ext4", "hidden: a mount above it is covered");
	expect_skip(&p, "/opt", "ext4", "hidden: another mount covers /opt");
	expect_skip(&p, "/srv", "ext4", "hidden: another mount covers /srv");
	assert_string_equal(target_of(&p, "/srv")->fstype, "xfs");
	assert_int_equal(p.nskips, 4);
	plan_free(&p);

	set_list(c->mounts, &c->nmounts, LIST("/mnt/sub"));
	build(&p, c, "mountinfo-hidden", NULL);
	assert_true(p.veto);
	assert_string_equal(
	    p.veto_reason, "allow-listed /mnt/sub is not mounted");
	assert_int_equal(p.ntargets, 0);
	plan_free(&p);
}

static void
test_errors(void **state)
{
	struct conf *c = *state;
	struct plan p;
	char err[512], want[PATH_MAX + 64];
	const char *path;

	path = fx("mountinfo-does-not-exist");
	memset(&p, 0xa5, sizeof(p));
	assert_int_equal(
	    plan_build(&p, c, path, NULL, false, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	assert_string_equal(err, want);
	assert_null(p.targets);
	assert_null(p.skips);
	assert_false(p.veto);

	/* a line libmount cannot parse fails the plan, not just the line */
	path = fx("mountinfo-badline");
	assert_int_equal(
	    plan_build(&p, c, path, NULL, false, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:3: not a mountinfo line", path);
	assert_string_equal(err, want);
	assert_int_equal(p.ntargets, 0);

	/* fstab syntax parses too, but is not a mount table */
	path = fx("mountinfo-fstab");
	assert_int_equal(
	    plan_build(&p, c, path, NULL, false, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: not in mountinfo format", path);
	assert_string_equal(err, want);

	/* no room for a message is fine */
	assert_int_equal(plan_build(&p, c, path, NULL, false, NULL, 0), -1);
}

/* No file: the system's own table (mtab_read()), which has "/". */
static void
test_own_table(void **state)
{
	struct conf *c = *state;
	struct plan p;
	char err[512];
	size_t i;
	bool root = false;

	assert_int_equal(
	    plan_build(&p, c, NULL, NULL, false, err, sizeof(err)), 0);
	for (i = 0; i < p.ntargets; i++)
		root |= strcmp(p.targets[i].mountpoint, "/") == 0;
	for (i = 0; i < p.nskips; i++)
		root |= strcmp(p.skips[i].mountpoint, "/") == 0;
	assert_true(root);
	plan_free(&p);
}

static void
test_empty(void **state)
{
	struct conf *c = *state;
	struct plan p;

	build(&p, c, "mountinfo-empty", NULL);
	assert_int_equal(p.ntargets, 0);
	assert_int_equal(p.nskips, 0);
	assert_false(p.veto);
	plan_free(&p);

	set_list(c->mounts, &c->nmounts, LIST("/"));
	build(&p, c, "mountinfo-empty", NULL);
	assert_true(p.veto);
	assert_string_equal(p.veto_reason, "allow-listed / is not mounted");
	plan_free(&p);
}

/*
 * Thousands of mounts, bind mounts of half of them, tmpfs, and one
 * mount point of 4000 characters written with \040 escapes (a 10 kB
 * line).
 */
static void
test_scale(void **state)
{
	enum { NM = 3000, NB = 1500, NT = 1000, NSP = 2000 };
	struct conf *c = *state;
	char path[PATH_MAX], err[512], *longmp;
	struct plan p;
	FILE *f;
	size_t i;
	int fd;

	snprintf(path, sizeof(path), "%s/test_plan.XXXXXX", tmpdir());
	assert_true((fd = mkstemp(path)) != -1);
	assert_non_null(f = fdopen(fd, "w"));
	fprintf(f, "1 1 8:0 / / rw,relatime - ext4 /dev/sda rw\n");
	for (i = 0; i < NM; i++)
		fprintf(f, "%zu 1 65:%zu / /m/%04zu rw - ext4 /dev/x%zu rw\n",
		    100 + i, i, i, i);
	for (i = 0; i < NB; i++)
		fprintf(f,
		    "%zu 1 65:%zu /sub /bind/%04zu rw - ext4 /dev/x%zu rw\n",
		    10000 + i, i * 2, i, i * 2);
	for (i = 0; i < NT; i++)
		fprintf(f, "%zu 1 0:%zu / /t/%04zu rw - tmpfs tmpfs rw\n",
		    20000 + i, 100 + i, i);
	fprintf(f, "30000 1 66:0 / /long/");
	for (i = 0; i < NSP; i++)
		fprintf(f, "a\\040");
	fprintf(f, " rw - ext4 /dev/y rw\n");
	assert_int_equal(fclose(f), 0);

	assert_int_equal(
	    plan_build(&p, c, path, NULL, false, err, sizeof(err)), 0);
	unlink(path);
	assert_int_equal(p.ntargets, NM + 2);
	assert_int_equal(p.nskips, NB + NT);
	for (i = 0; i + 1 < p.ntargets; i++)
		assert_int_equal(p.targets[i].level, 0);
	assert_string_equal(p.targets[NM + 1].mountpoint, "/");
	assert_int_equal(p.targets[NM + 1].level, 1);
	assert_string_equal(target_of(&p, "/m/0002")->mountpoint, "/m/0002");
	assert_int_equal(target_of(&p, "/m/0002")->nmounts, 2);
	assert_int_equal(target_of(&p, "/m/0003")->nmounts, 1);
	expect_skip(&p, "/bind/0001", "ext4",
	    "bind mount of /m/0002 (same superblock 65:2)");

	/* decoded: "/long/" then "a " NSP times */
	assert_non_null(longmp = malloc(6 + 2 * NSP + 1));
	strcpy(longmp, "/long/");
	for (i = 0; i < NSP; i++)
		strcat(longmp + 6 + 2 * i, "a ");
	assert_string_equal(p.targets[0].mountpoint, longmp);
	free(longmp);
	plan_free(&p);
}

static void
mkdirs(const char *path)
{
	char buf[PATH_MAX], *s;

	snprintf(buf, sizeof(buf), "%s", path);
	for (s = buf + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(buf, 0755) == -1 && errno != EEXIST)
			fail_msg("mkdir %s: %s", buf, strerror(errno));
		*s = '/';
	}
	if (mkdir(buf, 0755) == -1 && errno != EEXIST)
		fail_msg("mkdir %s: %s", buf, strerror(errno));
}

static void
put_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static int
rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path);
}

/*
 * Hundreds of loop devices, and a chain of 50 images each on the next:
 * 50 levels, "/" after the last.
 */
static void
test_scale_loops(void **state)
{
	enum { NL = 400, NC = 50 };
	struct conf *c = *state;
	char top[PATH_MAX], mi[PATH_MAX + 16], dir[PATH_MAX], file[PATH_MAX];
	char img[64], err[512];
	struct plan p;
	FILE *f;
	size_t i;

	snprintf(top, sizeof(top), "%s/test_plan.XXXXXX", tmpdir());
	assert_non_null(mkdtemp(top));
	snprintf(mi, sizeof(mi), "%s/mountinfo", top);
	assert_non_null(f = fopen(mi, "w"));
	fprintf(f, "1 1 8:0 / / rw - ext4 /dev/sda rw\n");
	for (i = 0; i < NL; i++) {
		/* /l/N on loop N, its image on /h/N */
		fprintf(f, "%zu 1 65:%zu / /h/%03zu rw - ext4 /dev/h%zu rw\n",
		    100 + i, i, i, i);
		fprintf(f,
		    "%zu 1 7:%zu / /l/%03zu rw - ext4 /dev/loop%zu "
		    "rw\n",
		    1000 + i, i, i, i);
		snprintf(
		    dir, sizeof(dir), "%s/sys/dev/block/7:%zu/loop", top, i);
		mkdirs(dir);
		snprintf(file, sizeof(file), "%s/backing_file", dir);
		snprintf(img, sizeof(img), "/h/%03zu/l.img\n", i);
		put_file(file, img);
	}
	for (i = 0; i < NC; i++) {
		/* /c/N on loop 1000+N, its image on /c/N+1 (the last: /) */
		fprintf(f,
		    "%zu 1 7:%zu / /c/%02zu rw - ext4 /dev/loop%zu "
		    "rw\n",
		    5000 + i, 1000 + i, i, 1000 + i);
		snprintf(dir, sizeof(dir), "%s/sys/dev/block/7:%zu/loop", top,
		    1000 + i);
		mkdirs(dir);
		snprintf(file, sizeof(file), "%s/backing_file", dir);
		if (i + 1 < NC)
			snprintf(img, sizeof(img), "/c/%02zu/c.img\n", i + 1);
		else
			snprintf(img, sizeof(img), "/var/c.img\n");
		put_file(file, img);
	}
	assert_int_equal(fclose(f), 0);
	snprintf(dir, sizeof(dir), "%s/sys", top);

	assert_int_equal(
	    plan_build(&p, c, mi, dir, false, err, sizeof(err)), 0);
	assert_int_equal(nftw(top, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
	assert_int_equal(p.ntargets, 2 * NL + NC + 1);
	assert_false(p.veto);
	for (i = 0; i < NC; i++) {
		char mp[16], why[64];
		const struct plan_target *t;

		snprintf(mp, sizeof(mp), "/c/%02zu", i);
		t = target_of(&p, mp);
		assert_int_equal(t->level, (int)i);
		if (i > 0) {
			snprintf(why, sizeof(why),
			    "after /c/%02zu: its image /c/%02zu/c.img lives "
			    "here",
			    i - 1, i);
			assert_string_equal(t->order_reason, why);
		}
	}
	assert_int_equal(target_of(&p, "/l/007")->level, 0);
	assert_int_equal(target_of(&p, "/h/007")->level, 1);
	assert_string_equal(target_of(&p, "/h/007")->order_reason,
	    "after /l/007: its image /h/007/l.img lives here");
	assert_string_equal(p.targets[p.ntargets - 1].mountpoint, "/");
	assert_int_equal(p.targets[p.ntargets - 1].level, NC);
	assert_string_equal(p.targets[p.ntargets - 1].order_reason,
	    "after /c/49: its image /var/c.img lives here");
	plan_free(&p);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_plain_skip),
	    T(test_plain_veto),
	    T(test_bind_mounts),
	    T(test_exclude_bind),
	    T(test_btrfs_subvolumes),
	    T(test_nested_loops),
	    T(test_no_sysfs),
	    T(test_loop_beats_nesting),
	    T(test_loop_beats_nesting_deep),
	    T(test_loop_over_disk),
	    T(test_dm_over_loop),
	    T(test_device_stacks),
	    T(test_ro_binds_of_rw_superblocks),
	    T(test_skip_reasons),
	    T(test_space_in_path),
	    T(test_nesting_levels),
	    T(test_allow_list),
	    T(test_allow_list_missing),
	    T(test_exclude),
	    T(test_exclude_root),
	    T(test_cycle),
	    T(test_hidden_mounts),
	    T(test_errors),
	    T(test_own_table),
	    T(test_empty),
	    T(test_scale),
	    T(test_scale_loops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
