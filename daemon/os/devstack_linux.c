/*
 * devstack_linux.c: the disk images under a filesystem on Linux
 * (devstack.h), from sysfs: loop/backing_file, dm and md slaves/,
 * partitions, btrfs devices/; without sysfs, the loop device's own
 * LOOP_GET_STATUS64.  It reads files and asks loop devices, nothing
 * else, so that the unit tests walk fake sysfs trees.
 *
 * dm and md are walked down their slaves (dm over loop over file, md
 * over loops, partitions of a loop device), so an image is found however
 * deep the loop device sits.  Each walk is bounded in depth and in
 * directories, since a crafted tree can loop or fan out.
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/loop.h>
#include <linux/major.h>

#include "devstack.h"

#define WALK_DEPTH 8 /* sysfs levels: dm over md over loop ... */
#define WALK_DIRS 64 /* sysfs device directories read per target */
#define SYSFS_LINE (PATH_MAX + 64) /* a backing_file, a dev, a dm name */

/* One filesystem's walk down its device stack. */
struct walk {
	const char *sysfs; /* NULL: none */
	const struct devstack_src *src;
	devstack_fn fn;
	void *arg;
	int budget;
};

static int walk_dev(struct walk *, const char *, int);

/* snprintf into a path buffer; false if it did not fit. */
static bool mkpath(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool
mkpath(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n >= 0 && (size_t)n < size;
}

static bool
is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/*
 * Read a small sysfs attribute into buf, without its trailing newline.
 * O_NONBLOCK and the S_ISREG check keep a FIFO planted in a fixture (or a
 * hostile tree) from hanging us.  Returns the length or -1.
 */
static ssize_t
read_attr(const char *path, char *buf, size_t size)
{
	struct stat st;
	ssize_t n;
	size_t len = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -1;
	}
	while (len + 1 < size) {
		n = read(fd, buf + len, size - 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	while (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
	return (ssize_t)len;
}

/* A block device's sysfs directory from its kernel name (loop0, dm-1). */
static bool
name_dir(const struct walk *w, const char *name, char *dir, size_t size)
{
	if (name[0] == '\0' || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0 || strchr(name, '/') != NULL)
		return false;
	if (mkpath(dir, size, "%s/class/block/%s", w->sysfs, name) &&
	    is_dir(dir))
		return true;
	return mkpath(dir, size, "%s/block/%s", w->sysfs, name) && is_dir(dir);
}

/*
 * A backing file's path as the kernel wrote it, without " (deleted)" (an
 * unlinked file still lives, and writes, on the same filesystem); false
 * if it is not a path ("(unreachable)...": not in our mounts).
 */
static bool
clean_image(char *img)
{
	static const char deleted[] = " (deleted)";
	size_t len = strlen(img);

	if (len >= sizeof(deleted) &&
	    strcmp(img + len - (sizeof(deleted) - 1), deleted) == 0)
		img[len - (sizeof(deleted) - 1)] = '\0';
	return img[0] == '/';
}

/*
 * A loop device's backing file: handed to the caller, whose holder must
 * be frozen after this filesystem.  The kernel writes the path as this
 * process's root sees it, with " (deleted)" for an unlinked file (which
 * still lives, and writes, on the same filesystem).  A loop over a
 * block device (losetup /dev/sdb) is followed down instead: /dev/sdb is
 * not a file on the filesystem that holds /dev.
 */
static int
walk_backing(struct walk *w, char *img, int depth)
{
	char dir[PATH_MAX];

	if (!clean_image(img))
		return 0; /* "(unreachable)...": not in our mounts */
	if (w->sysfs != NULL && strncmp(img, "/dev/", 5) == 0 &&
	    name_dir(w, strrchr(img, '/') + 1, dir, sizeof(dir)))
		return walk_dev(w, dir, depth + 1);
	return w->fn(img, true, 0, w->arg);
}

/*
 * A member of a device (an entry of slaves/, or of a btrfs devices/):
 * its "dev" file leads to /sys/dev/block/M:m; failing that, its kernel
 * name to /sys/class/block/NAME or /sys/block/NAME; failing that, walk
 * the entry itself (on a real sysfs it is a link to the device).
 */
static int
walk_member(struct walk *w, const char *parent, const char *name, int depth)
{
	char sub[PATH_MAX], dir[PATH_MAX], num[64];
	unsigned int ma, mi;
	char c;

	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return 0;
	if (!mkpath(sub, sizeof(sub), "%s/%s", parent, name))
		return 0;
	if (mkpath(dir, sizeof(dir), "%s/dev", sub) &&
	    read_attr(dir, num, sizeof(num)) > 0 &&
	    sscanf(num, "%u:%u%c", &ma, &mi, &c) == 2 &&
	    mkpath(dir, sizeof(dir), "%s/dev/block/%u:%u", w->sysfs, ma, mi) &&
	    is_dir(dir))
		return walk_dev(w, dir, depth);
	if (name_dir(w, name, dir, sizeof(dir)))
		return walk_dev(w, dir, depth);
	return walk_dev(w, sub, depth);
}

/*
 * One block device's sysfs directory: a loop device has loop/backing_file;
 * a partition (loop0p1) is walked through its whole disk; dm and md list
 * what they are built on in slaves/.  Bounded in depth and in directories
 * per target, since a crafted tree can loop or fan out.
 */
static int
walk_dev(struct walk *w, const char *dir, int depth)
{
	char path[PATH_MAX], *img;
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if (depth > WALK_DEPTH || w->budget <= 0)
		return 0;
	w->budget--;

	if (mkpath(path, sizeof(path), "%s/loop/backing_file", dir)) {
		if ((img = malloc(SYSFS_LINE)) == NULL)
			return -1;
		if (read_attr(path, img, SYSFS_LINE) > 0)
			rc = walk_backing(w, img, depth);
		free(img);
		if (rc == -1)
			return -1;
	}
	if (mkpath(path, sizeof(path), "%s/partition", dir) &&
	    access(path, F_OK) == 0 &&
	    mkpath(path, sizeof(path), "%s/..", dir) &&
	    walk_dev(w, path, depth + 1) == -1)
		return -1;
	if (!mkpath(path, sizeof(path), "%s/slaves", dir) ||
	    (d = opendir(path)) == NULL)
		return 0;
	while (rc == 0 && (de = readdir(d)) != NULL)
		rc = walk_member(w, path, de->d_name, depth + 1);
	closedir(d);
	return rc;
}

/* The kernel name of a dm device from its /dev/mapper name, into out. */
static bool
dm_by_name(const struct walk *w, const char *want, char *out, size_t size)
{
	char path[PATH_MAX], name[256];
	struct dirent *de;
	bool found = false;
	DIR *d;

	if (!mkpath(path, sizeof(path), "%s/block", w->sysfs) ||
	    (d = opendir(path)) == NULL)
		return false;
	while (!found && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' ||
		    !mkpath(path, sizeof(path), "%s/block/%s/dm/name", w->sysfs,
		        de->d_name) ||
		    read_attr(path, name, sizeof(name)) < 0)
			continue;
		if (strcmp(name, want) == 0)
			found = mkpath(out, size, "%s", de->d_name);
	}
	closedir(d);
	return found;
}

/*
 * A btrfs with several devices names one of them in mountinfo; sysfs
 * lists them all under fs/btrfs/UUID/devices/.  Walk them all if name is
 * one of them.  Returns 1 if it was, 0 if not, -1 out of memory.
 */
static int
walk_btrfs(struct walk *w, const char *name)
{
	char path[PATH_MAX], devs[PATH_MAX];
	struct dirent *de, *me;
	DIR *d, *md;
	int rc = 0;

	if (!mkpath(path, sizeof(path), "%s/fs/btrfs", w->sysfs) ||
	    (d = opendir(path)) == NULL)
		return 0;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' ||
		    !mkpath(devs, sizeof(devs), "%s/fs/btrfs/%s/devices",
		        w->sysfs, de->d_name) ||
		    !mkpath(path, sizeof(path), "%s/%s", devs, name) ||
		    access(path, F_OK) != 0 || (md = opendir(devs)) == NULL)
			continue;
		rc = 1;
		while ((me = readdir(md)) != NULL)
			if (walk_member(w, devs, me->d_name, 1) == -1) {
				rc = -1;
				break;
			}
		closedir(md);
	}
	closedir(d);
	return rc;
}

/*
 * A target whose major:minor has no /sys/dev/block entry (btrfs, with its
 * anonymous 0:N) is found by the device name in its source.
 */
static int
walk_source(struct walk *w)
{
	const struct devstack_src *m = w->src;
	char name[256], dir[PATH_MAX];
	const char *s;
	int r;

	if (strncmp(m->source, "/dev/", 5) != 0)
		return 0;
	if (strncmp(m->source, "/dev/mapper/", 12) == 0) {
		if (!dm_by_name(w, m->source + 12, name, sizeof(name)))
			return 0;
	} else {
		s = strrchr(m->source, '/') + 1;
		if (!mkpath(name, sizeof(name), "%s", s))
			return 0;
	}
	if (name[0] == '\0' || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0)
		return 0;
	if (strcmp(m->fstype, "btrfs") == 0 && (r = walk_btrfs(w, name)) != 0)
		return r == -1 ? -1 : 0;
	if (!name_dir(w, name, dir, sizeof(dir)))
		return 0;
	return walk_dev(w, dir, 1);
}

/*
 * Without sysfs, ask the loop device itself: LOOP_GET_STATUS64 on the
 * source node gives the backing file's device and inode and the first 63
 * bytes of its path.  The caller looks for the filesystem holding it by
 * that device number first; failing that (btrfs reports a subvolume's
 * st_dev), by the path, unless the kernel cut it short (whole false).
 * The node must be the block device the mount table names, or it is
 * not asked.
 */
static int
probe_loop(struct walk *w)
{
	const struct devstack_src *m = w->src;
	struct loop_info64 li;
	struct stat st;
	char img[LO_NAME_SIZE + 1];
	bool whole;
	int fd;

	if (major(m->dev) != LOOP_MAJOR || strncmp(m->source, "/dev/", 5) != 0)
		return 0;
	if ((fd = open(m->source, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		return 0;
	if (fstat(fd, &st) == -1 || !S_ISBLK(st.st_mode) ||
	    st.st_rdev != m->dev || ioctl(fd, LOOP_GET_STATUS64, &li) == -1) {
		close(fd);
		return 0;
	}
	close(fd);
	memcpy(img, li.lo_file_name, LO_NAME_SIZE);
	img[LO_NAME_SIZE] = '\0';
	whole = strlen(img) < LO_NAME_SIZE - 1;
	if (!clean_image(img))
		whole = false;
	return w->fn(img, whole, (dev_t)li.lo_device, w->arg);
}

const char *const devstack_system_root = "/sys";

int
devstack_walk(const struct devstack_opts *o, const struct devstack_src *src,
    devstack_fn fn, void *arg, char *err, size_t errlen)
{
	struct walk w = {.src = src, .fn = fn, .arg = arg, .budget = WALK_DIRS};
	char dir[PATH_MAX];

	(void)err;
	(void)errlen;
	/* no sysfs at all (a test sandbox): every device is plain */
	w.sysfs = o->root != NULL && is_dir(o->root) ? o->root : NULL;
	if (w.sysfs == NULL)
		return o->probe ? probe_loop(&w) : 0;
	if (mkpath(dir, sizeof(dir), "%s/dev/block/%u:%u", w.sysfs,
	        major(src->dev), minor(src->dev)) &&
	    is_dir(dir))
		return walk_dev(&w, dir, 0);
	return walk_source(&w);
}

/* The first image, for a caller that wants one (tests/freebsd/osprobe.c
 * on FreeBSD): what the walk hands first. */
struct first {
	char *img;
	size_t len;
	int found;
};

static int
take_first(const char *img, bool whole, dev_t holder, void *arg)
{
	struct first *f = arg;

	(void)holder;
	if (f->found || !whole)
		return 0;
	if (strlen(img) >= f->len)
		return -1;
	strcpy(f->img, img);
	f->found = 1;
	return 0;
}

int
devstack_image(
    const char *source, char *img, size_t imglen, char *err, size_t errlen)
{
	static const struct devstack_opts sys = {.root = "/sys", .probe = true};
	struct devstack_src src = {.source = source, .fstype = ""};
	struct first f = {.img = img, .len = imglen};
	struct stat st;

	if (stat(source, &st) == -1 || !S_ISBLK(st.st_mode))
		return 0;
	src.dev = st.st_rdev;
	if (devstack_walk(&sys, &src, take_first, &f, err, errlen) == -1) {
		snprintf(err, errlen, "%s: image path longer than %zu", source,
		    imglen);
		return -ENAMETOOLONG;
	}
	return f.found;
}
