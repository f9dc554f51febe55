/*
 * sandbox: run a command where the only filesystems it can see are its own.
 *
 * Why it exists: freezing a filesystem (FIFREEZE) is global.  A mount
 * namespace does not protect the host: if hv_vss_daemon, Debian's
 * hv_vss_daemon or a test script picks the wrong mount, the host's root
 * freezes and the machine hangs, this shell included.  So every system
 * test and the demo run inside this sandbox, where the mount table holds
 * nothing of the host: a private mount namespace whose root is a fresh
 * tmpfs, holding
 *
 *	/usr, /etc	read-only overlays of the host's (lowerdir=/usr:<empty>,
 *			no upperdir).  An overlay is an anonymous superblock:
 *			FIFREEZE on it fails with EOPNOTSUPP and passes
 *			nothing down, unlike a bind mount, which IS the host's
 *			superblock.
 *	/bin, /sbin, /lib, /lib32, /lib64, /libx32
 *			the host's merged-usr symlinks, copied (or an overlay
 *			where the host has a real directory)
 *	/proc		a fresh proc mount
 *	/dev		a tmpfs with null, zero, full, random, urandom, tty,
 *			fuse, btrfs-control, loop-control, the loop devices
 *			attached for -m, an empty /dev/vmbus and a /dev/shm
 *	/tmp, /run, /var/tmp, /root
 *			plain directories on the root tmpfs
 *	-r dirs		read-only overlays of host directories (the build tree)
 *	-k		the host's /sys/kernel/rcu_expedited, bound read-write
 *			at the same path: the one file of /sys (bench/run, for
 *			hv_vss_daemon's expedite_freeze on the real kernel)
 *	-m dirs		loop-mounted test filesystems (ext2/3/4, xfs, btrfs)
 *
 * and no /sys at all: Debian's hv_vss_daemon skips loop-backed devices by
 * looking in /sys, and the tests need it to freeze ours.  Every mount made
 * here has the source "sandbox", except the -m mounts (their /dev/loopN,
 * a node in our /dev), so a scan for "/dev/..." finds only test
 * filesystems.
 *
 * Usage:
 *	sandbox [-kv] [-t seconds] [-m image:dir[:fstype[:options]]]...
 *	    [-r hostdir[:dir]]... [-e name=value]... -- command [arg ...]
 *
 *	-v	say on stderr what is set up and torn down.
 *	-t	kill the command this many seconds after it starts (default
 *		600; 0: never).
 *	-m	attach the regular file image to a free loop device and mount
 *		it at dir inside (created if need be), in the order given.
 *		fstype: ext2, ext3, ext4, xfs and btrfs are recognised by
 *		their superblock; anything else must be named.  options: a
 *		comma list for mount(2)'s data; ro, rw, nosuid, nodev, noexec,
 *		noatime, relatime and sync become mount flags.  image is a
 *		host path, except when it lies under the dir of an earlier -m:
 *		then it is that path inside, on that earlier filesystem.
 *		Paths cannot contain ':'.
 *	-r	a read-only overlay of host directory hostdir at dir inside
 *		(default: the same path).  Mounts below hostdir on the host
 *		are not part of it (overlayfs does not cross mounts).
 *	-e	set name=value in the command's environment, which is
 *		otherwise only PATH=/usr/sbin:/usr/bin:/sbin:/bin, HOME=/root
 *		and TERM (if set); a later -e for the same name wins.
 *	The command starts in the caller's working directory if that path
 *	exists inside, else in /, with stdin, stdout and stderr inherited.
 *
 * Supervision.  The sandbox process itself stays in the namespace, runs
 * the command in its own session and keeps a directory fd of every -m
 * mount.  When the command exits, the timeout (-t) expires, or SIGTERM,
 * SIGINT or SIGHUP arrives, it first thaws every -m mount (and any other
 * block-device mount the command made), then kills the command's process
 * group and every orphan it adopted, then unmounts.  The order matters: a
 * write to a frozen filesystem sleeps uninterruptibly, and SIGKILL does
 * not end it; only a thaw does.  Unmounting a filesystem that is still
 * frozen succeeds but leaves its superblock frozen and its loop device
 * attached, so the thaw must also come before the unmount.  What the
 * command left mounted is unmounted first, and loop devices it attached
 * itself to images on the sandbox's filesystems are detached (they would
 * keep an -m filesystem busy).
 *
 * Loop devices are attached with LO_FLAGS_AUTOCLEAR: each detaches itself
 * when its filesystem is unmounted, or when the sandbox dies, because the
 * namespace dies with its last process.
 *
 * This is a fence against mistakes, not a security boundary: without a pid
 * namespace, root inside can still reach the host through /proc/1/root.
 *
 * Exit status:
 *	the command's own exit status, or 128+N if it died of signal N;
 *	124	the timeout expired (the command was killed);
 *	128+N	the sandbox got signal N (SIGTERM, SIGINT, SIGHUP);
 *	125	usage error, or the sandbox could not be set up (everything
 *		it had done is undone first);
 *	126	the command was found but could not be executed;
 *	127	the command was not found.
 *
 * Errors name the culprit: "sandbox: <what>: <path>: <strerror>".
 * Problems during teardown (a mount that had to be detached lazily, a
 * process that would not die) are warnings on stderr; they do not change
 * the exit status.
 */

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include <linux/fs.h>
#include <linux/loop.h>

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PRINTFLIKE(f, a) __attribute__((format(printf, f, a)))
#define DEAD __attribute__((noreturn))

#define EXIT_TIMEOUT 124
#define EXIT_SETUP 125
#define EXIT_NOEXEC 126
#define EXIT_NOTFOUND 127

#define SRCNAME "sandbox" /* source of every tmpfs and overlay */
#define OLDROOT "/.sandbox-oldroot" /* the host's root, during setup */
#define EMPTYDIR "/.sandbox-empty" /* second overlay layer, during setup */
#define USERSDIR "/.sandbox-users" /* /etc's top layer: hvvss added */
#define ENGINE_USER "hvvss" /* hv_vss_daemon's engine (privsep = yes) */
#define PATH_RULE "an absolute path other than /, with no empty, . or .. part"
#define SANDBOX_PATH "/usr/sbin:/usr/bin:/sbin:/bin"
#define DEFAULT_TIMEOUT 600
#define MAX_TIMEOUT 86400000u
#define REAP_TIMEOUT_MS 10000 /* give up on unkillable processes */
#define REAP_POLL_MS 50
#define MAX_THAWS 64 /* FITHAW until EINVAL, but bounded */
#define LOOP_TRIES 64 /* LOOP_CTL_GET_FREE races */
#define LOOP_MAJOR_FALLBACK 7

/* One -m image:dir[:fstype[:options]]. */
struct image {
	char *path; /* host path, or a path inside (inside != 0) */
	char *dir; /* mount point inside */
	char *fstype; /* NULL: detect from the superblock */
	char *data; /* mount(2) data, "ro" and friends removed */
	unsigned long flags; /* MS_RDONLY and friends */
	int inside; /* path lies under the dir of an earlier -m */
	int fd; /* the image, open until mounted */
	int loopfd; /* the loop device, open until mounted */
	char loopdev[32]; /* "/dev/loopN" */
	int mounted;
	int dirfd; /* O_RDONLY fd of the mount, for FITHAW */
	uint64_t mntid; /* its mount id, to find it in mountinfo */
	dev_t rootdev; /* st_dev of its root (btrfs: the subvolume) */
};

/* One -r hostdir[:dir]. */
struct overlay {
	char *host; /* real path on the host */
	char *dir; /* where inside */
};

/* One line of /proc/self/mountinfo, the fields we use. */
struct minfo {
	uint64_t id;
	unsigned int major, minor;
	char *mp; /* unescaped mount point */
	char *fstype;
	char *source;
};

static int verbose;
static int bind_knob; /* -k */
#define RCU_KNOB "/sys/kernel/rcu_expedited"
static unsigned int timeout_s = DEFAULT_TIMEOUT;
static struct image *images;
static size_t nimages;
static struct overlay *overlays;
static size_t noverlays;
static char **envs; /* the command's environment, built in main */
static size_t nenvs;

/* What setup has done, so that a failure can undo it. */
static char tmpdir[] = "/tmp/sandbox.XXXXXX";
static int tmpdir_made; /* mkdtemp succeeded, not yet removed */
static int root_mounted; /* tmpfs on tmpdir */
static int pivoted; /* tmpdir is now "/", the host's "/" OLDROOT */

/* Supervision. */
static char *start_dir; /* the caller's cwd, for the command */
static pid_t cmd_pid = -1;
static int proc_fd = -1; /* /proc, to find adopted orphans */
static int mountinfo_fd = -1; /* /proc/self/mountinfo of the sandbox */
static uint64_t *baseline; /* mount ids when the command started */
static size_t nbaseline;

static void usage(void) DEAD;
static void say(const char *, ...) PRINTFLIKE(1, 2);
static void info(const char *, ...) PRINTFLIKE(1, 2);
static void warnp(const char *, const char *, int);
static void die(const char *, const char *, int) DEAD;
static void diex(const char *, ...) PRINTFLIKE(1, 2) DEAD;
static void undo_setup(void);
static void *xcalloc(size_t, size_t);
static char *xstrdup(const char *);
static char *xasprintf(const char *, ...) PRINTFLIKE(1, 2);
static int bad_path(const char *);
static void trim_slashes(char *);
static void parse_image(const char *);
static void parse_overlay(const char *);
static void parse_env(const char *);
static void add_env(const char *);
static uint32_t le32(const unsigned char *);
static const char *detect_fstype(int, const char *);
static void open_host_images(void);
static void mkdir_p(const char *, mode_t);
static void do_mount(const char *, const char *, unsigned long, const char *);
static void mount_overlay(const char *, const char *, const char *);
static void make_node(const char *, mode_t, unsigned int, unsigned int);
static void make_symlink(const char *, const char *);
static void build_root(const char *);
static void enter_root(void);
static dev_t loop_devno(int);
static void loop_attach(struct image *);
static void mount_image(struct image *);
static void leave_host(void);
static uint64_t mount_id(int);
static char *read_all(int);
static void unescape(char *);
static struct minfo *read_mountinfo(size_t *);
static int in_baseline(uint64_t);
static void thaw_fd(int, const char *);
static void thaw_all(void);
static void kill_all(void);
static int reap_all(void);
static void detach_loops(const dev_t *, size_t);
static void unmount_path(const char *);
static void unmount_all(void);
static void run_command(char **, const char *);
static int exit_code(const siginfo_t *);
static int supervise(void);

static void
usage(void)
{
	fprintf(stderr,
	    "usage: sandbox [-kv] [-t seconds] "
	    "[-m image:dir[:fstype[:options]]]... [-r hostdir[:dir]]... "
	    "[-e name=value]... -- command [arg ...]\n");
	exit(EXIT_SETUP);
}

/* "sandbox: <message>" on stderr. */
static void
say(const char *fmt, ...)
{
	va_list ap;

	fputs("sandbox: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* say(), with -v only. */
static void
info(const char *fmt, ...)
{
	va_list ap;

	if (!verbose)
		return;
	fputs("sandbox: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* "sandbox: <what>: <path>: <strerror>"; path may be NULL. */
static void
warnp(const char *what, const char *path, int err)
{
	if (path != NULL)
		say("%s: %s: %s", what, path, strerror(err));
	else
		say("%s: %s", what, strerror(err));
}

/* A setup error: report, undo what setup did, exit 125. */
static void
die(const char *what, const char *path, int err)
{
	warnp(what, path, err);
	undo_setup();
	exit(EXIT_SETUP);
}

static void
diex(const char *fmt, ...)
{
	va_list ap;

	fputs("sandbox: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	undo_setup();
	exit(EXIT_SETUP);
}

/*
 * Undo a half-done setup.  The mounts all live in our private namespace
 * and die with it; what outlives us is a loop device we configured but
 * have not mounted yet (detached explicitly), a mounted one (unmounted, so
 * that autoclear detaches it now rather than at namespace teardown) and
 * the directory under /tmp.
 */
static void
undo_setup(void)
{
	char *p;
	size_t i;

	for (i = nimages; i-- > 0;) {
		struct image *im = &images[i];

		if (im->dirfd != -1) {
			close(im->dirfd);
			im->dirfd = -1;
		}
		if (im->mounted) {
			if (umount2(im->dir, 0) == -1 &&
			    umount2(im->dir, MNT_DETACH) == -1)
				warnp("undo: unmount", im->dir, errno);
			im->mounted = 0;
		}
		if (im->loopfd != -1) {
			if (ioctl(im->loopfd, LOOP_CLR_FD, 0) == -1 &&
			    errno != ENXIO)
				warnp("undo: detach", im->loopdev, errno);
			close(im->loopfd);
			im->loopfd = -1;
		}
		if (im->fd != -1) {
			close(im->fd);
			im->fd = -1;
		}
	}
	if (!tmpdir_made)
		return;
	if (pivoted) {
		/* Our tmpfs is "/" now; its old mount point is a plain dir. */
		p = xasprintf("%s%s", OLDROOT, tmpdir);
		if (rmdir(p) == -1)
			warnp("undo: rmdir", tmpdir, errno);
		free(p);
	} else {
		if (root_mounted && umount2(tmpdir, MNT_DETACH) == -1)
			warnp("undo: unmount", tmpdir, errno);
		if (rmdir(tmpdir) == -1)
			warnp("undo: rmdir", tmpdir, errno);
	}
	tmpdir_made = 0;
}

static void *
xcalloc(size_t n, size_t size)
{
	void *p;

	if ((p = calloc(n, size)) == NULL) {
		warnp("calloc", NULL, errno);
		exit(EXIT_SETUP);
	}
	return p;
}

static char *
xstrdup(const char *s)
{
	char *p;

	if ((p = strdup(s)) == NULL) {
		warnp("strdup", NULL, errno);
		exit(EXIT_SETUP);
	}
	return p;
}

static char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n == -1) {
		warnp("vasprintf", NULL, errno);
		exit(EXIT_SETUP);
	}
	return p;
}

/*
 * A path inside the sandbox must be absolute, must not be "/" and must
 * have no "." or ".." or empty component, so that "lies under an earlier
 * -m dir" can be decided by comparing strings.  Trailing slashes are
 * removed first (trim_slashes).
 */
static int
bad_path(const char *p)
{
	const char *c;
	size_t n;

	if (p[0] != '/' || p[1] == '\0')
		return 1;
	for (c = p + 1; *c != '\0'; c += n + (c[n] == '/')) {
		n = strcspn(c, "/");
		if (n == 0 || (n == 1 && c[0] == '.') ||
		    (n == 2 && c[0] == '.' && c[1] == '.'))
			return 1;
	}
	return 0;
}

/* Remove trailing slashes, but leave "/" alone. */
static void
trim_slashes(char *p)
{
	size_t n = strlen(p);

	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
}

/* Flags that -m options turn into mount(2) flags instead of data. */
static const struct {
	const char *name;
	unsigned long set, clear;
} mflags[] = {
    {"ro", MS_RDONLY, 0},
    {"rw", 0, MS_RDONLY},
    {"nosuid", MS_NOSUID, 0},
    {"nodev", MS_NODEV, 0},
    {"noexec", MS_NOEXEC, 0},
    {"noatime", MS_NOATIME, 0},
    {"relatime", MS_RELATIME, 0},
    {"sync", MS_SYNCHRONOUS, 0},
};

/* -m image:dir[:fstype[:options]]; the options may contain colons. */
static void
parse_image(const char *arg)
{
	struct image *im;
	char *s, *f[4] = {NULL, NULL, NULL, NULL}, *tok, *save;
	size_t i, k, len;

	s = xstrdup(arg);
	f[0] = s;
	for (i = 1; i < 4; i++) {
		if ((f[i] = strchr(f[i - 1], ':')) == NULL)
			break;
		*f[i]++ = '\0';
	}
	if (f[0][0] == '\0' || f[1] == NULL) {
		say("-m %s: expected image:dir[:fstype[:options]]", arg);
		usage();
	}
	trim_slashes(f[1]);
	if (bad_path(f[1])) {
		say("-m %s: %s: the mount point must be %s", arg, f[1],
		    PATH_RULE);
		usage();
	}
	images = reallocarray(images, nimages + 1, sizeof(*images));
	if (images == NULL) {
		warnp("reallocarray", NULL, errno);
		exit(EXIT_SETUP);
	}
	im = &images[nimages];
	memset(im, 0, sizeof(*im));
	im->fd = im->loopfd = im->dirfd = -1;
	im->path = f[0];
	im->dir = f[1];
	im->fstype = (f[2] != NULL && f[2][0] != '\0') ? f[2] : NULL;
	im->data = xcalloc(1, f[3] != NULL ? strlen(f[3]) + 1 : 1);
	save = NULL;
	for (tok = f[3] != NULL ? strtok_r(f[3], ",", &save) : NULL;
	     tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		for (k = 0; k < sizeof(mflags) / sizeof(mflags[0]); k++)
			if (strcmp(tok, mflags[k].name) == 0)
				break;
		if (k < sizeof(mflags) / sizeof(mflags[0])) {
			im->flags |= mflags[k].set;
			im->flags &= ~mflags[k].clear;
			continue;
		}
		if (im->data[0] != '\0')
			strcat(im->data, ",");
		strcat(im->data, tok);
	}
	/* Under the dir of an earlier -m: resolved inside that mount. */
	for (i = 0; i < nimages; i++) {
		len = strlen(images[i].dir);
		if (strncmp(im->path, images[i].dir, len) == 0 &&
		    im->path[len] == '/')
			im->inside = 1;
	}
	if (im->inside && bad_path(im->path)) {
		say("-m %s: %s: an image path inside must be %s", arg, im->path,
		    PATH_RULE);
		usage();
	}
	nimages++;
}

/* -r hostdir[:dir] */
static void
parse_overlay(const char *arg)
{
	struct overlay *o;
	char *s, *dir;
	struct stat st;

	s = xstrdup(arg);
	if ((dir = strchr(s, ':')) != NULL)
		*dir++ = '\0';
	if (s[0] == '\0' || (dir != NULL && dir[0] == '\0')) {
		say("-r %s: expected hostdir[:dir]", arg);
		usage();
	}
	trim_slashes(s);
	if (dir != NULL)
		trim_slashes(dir);
	overlays = reallocarray(overlays, noverlays + 1, sizeof(*overlays));
	if (overlays == NULL) {
		warnp("reallocarray", NULL, errno);
		exit(EXIT_SETUP);
	}
	o = &overlays[noverlays++];
	if ((o->host = realpath(s, NULL)) == NULL)
		die("-r", s, errno);
	if (stat(o->host, &st) == -1)
		die("-r", o->host, errno);
	if (!S_ISDIR(st.st_mode))
		die("-r", o->host, ENOTDIR);
	/* overlayfs splits lowerdir at ':' and its options at ','. */
	if (strpbrk(o->host, ":,\\") != NULL)
		diex("-r: %s: overlayfs cannot take a path with ':', ',' or "
		     "'\\'",
		    o->host);
	o->dir = dir != NULL ? dir : (s[0] == '/' ? s : o->host);
	if (bad_path(o->dir))
		diex("-r: %s: the directory inside must be %s", o->dir,
		    PATH_RULE);
}

/* -e name=value */
static void
parse_env(const char *arg)
{
	const char *eq;

	eq = strchr(arg, '=');
	if (eq == NULL || eq == arg) {
		say("-e %s: expected name=value", arg);
		usage();
	}
	add_env(arg);
}

/* Add name=value to the command's environment; a later one wins. */
static void
add_env(const char *entry)
{
	size_t i, n;

	n = strcspn(entry, "=") + 1;
	for (i = 0; i < nenvs; i++) {
		if (strncmp(envs[i], entry, n) == 0) {
			envs[i] = (char *)entry;
			return;
		}
	}
	envs = reallocarray(envs, nenvs + 2, sizeof(*envs));
	if (envs == NULL) {
		warnp("reallocarray", NULL, errno);
		exit(EXIT_SETUP);
	}
	envs[nenvs++] = (char *)entry;
	envs[nenvs] = NULL;
}

static uint32_t
le32(const unsigned char *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

/*
 * The filesystem type from the superblock magic, as blkid tells ext2, ext3
 * and ext4 apart (the ext3 driver is ext4's, but /proc/mounts shows the
 * name we mount with).  NULL if unknown.
 */
static const char *
detect_fstype(int fd, const char *path)
{
	/* ext3's features; anything beyond is ext4. */
	const uint32_t ext3_incompat = 0x0002 | 0x0004 | 0x0010;
	const uint32_t ext3_ro_compat = 0x0001 | 0x0002 | 0x0004;
	static unsigned char buf[0x10048];
	const unsigned char *e = buf + 1024;
	ssize_t n;

	n = pread(fd, buf, sizeof(buf), 0);
	if (n == -1)
		die("read superblock", path, errno);
	if (n >= 4 && memcmp(buf, "XFSB", 4) == 0)
		return "xfs";
	if (n >= 0x10048 && memcmp(buf + 0x10040, "_BHRfS_M", 8) == 0)
		return "btrfs";
	if (n >= 1024 + 0x68 && e[0x38] == 0x53 && e[0x39] == 0xef) {
		if ((le32(e + 0x60) & ~ext3_incompat) != 0 ||
		    (le32(e + 0x64) & ~ext3_ro_compat) != 0)
			return "ext4";
		if (le32(e + 0x5c) & 0x0004) /* has_journal */
			return "ext3";
		return "ext2";
	}
	return NULL;
}

/* Open an image (a regular file) and learn its filesystem type. */
static void
open_image(struct image *im)
{
	struct stat st;
	const char *t;

	im->fd = open(
	    im->path, (im->flags & MS_RDONLY ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (im->fd == -1)
		die("open image", im->path, errno);
	if (fstat(im->fd, &st) == -1)
		die("stat image", im->path, errno);
	if (!S_ISREG(st.st_mode))
		diex("image: %s: not a regular file", im->path);
	if (im->fstype == NULL) {
		if ((t = detect_fstype(im->fd, im->path)) == NULL)
			diex("image: %s: unknown filesystem type; give it as "
			     "image:dir:fstype",
			    im->path);
		im->fstype = (char *)t;
	}
}

/*
 * Open the images that are host paths now, before the namespace exists:
 * they must be regular files (a block device here would be a host disk).
 */
static void
open_host_images(void)
{
	size_t i;

	for (i = 0; i < nimages; i++)
		if (!images[i].inside)
			open_image(&images[i]);
}

/* mkdir -p; every component must be a directory (no symlinks followed). */
static void
mkdir_p(const char *path, mode_t mode)
{
	char *p, *c;
	struct stat st;

	p = xstrdup(path);
	for (c = p + 1;; c++) {
		if (*c != '/' && *c != '\0')
			continue;
		if (c[-1] != '/') {
			char save = *c;

			*c = '\0';
			if (mkdir(p, mode) == -1) {
				if (errno != EEXIST)
					die("mkdir", p, errno);
				if (lstat(p, &st) == -1)
					die("stat", p, errno);
				if (!S_ISDIR(st.st_mode))
					die("mkdir", p, ENOTDIR);
			}
			*c = save;
		}
		if (*c == '\0')
			break;
	}
	free(p);
}

static void
do_mount(const char *dst, const char *fs, unsigned long flags, const char *data)
{
	char *what;

	if (mount(SRCNAME, dst, fs, flags, data) == -1) {
		what = xasprintf("mount %s", fs);
		die(what, dst, errno);
	}
}

/* Copy host file from to to, then append line. */
static void
copy_append(const char *from, const char *to, const char *line)
{
	char buf[8192];
	FILE *in, *out;
	size_t n;

	if ((in = fopen(from, "r")) == NULL)
		die("open", from, errno);
	if ((out = fopen(to, "w")) == NULL)
		die("create", to, errno);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			die("write", to, errno);
	fputs(line, out);
	if (fclose(out) != 0)
		die("write", to, errno);
	fclose(in);
}

/*
 * hv_vss_daemon's engine runs as ENGINE_USER, which the package makes;
 * a machine that runs the tests without it gets it in the sandbox's
 * /etc only (a layer of its own over the host's), with an id no one
 * else has.  NULL if the host has it already.
 */
static char *
users_layer(const char *root)
{
	char *dir, *p, *line;
	unsigned int id;

	if (getpwnam(ENGINE_USER) != NULL)
		return NULL;
	for (id = 999; id > 100; id--)
		if (getpwuid(id) == NULL && getgrgid(id) == NULL)
			break;
	dir = xasprintf("%s%s", root, USERSDIR);
	if (mkdir(dir, 0755) == -1)
		die("mkdir", dir, errno);
	p = xasprintf("%s/passwd", dir);
	line =
	    xasprintf("%s:x:%u:%u:hvvss engine (sandbox):/:/usr/sbin/nologin\n",
	        ENGINE_USER, id, id);
	copy_append("/etc/passwd", p, line);
	free(p);
	free(line);
	p = xasprintf("%s/group", dir);
	line = xasprintf("%s:x:%u:\n", ENGINE_USER, id);
	copy_append("/etc/group", p, line);
	free(p);
	free(line);
	return dir;
}

/* A read-only overlay of host directory lower at dst (a path under root). */
static void
mount_overlay(const char *root, const char *lower, const char *dst)
{
	char *data;

	data = xasprintf("lowerdir=%s:%s%s", lower, root, EMPTYDIR);
	do_mount(dst, "overlay", MS_RDONLY, data);
	free(data);
}

static void
make_node(const char *path, mode_t mode, unsigned int maj, unsigned int min)
{
	if (mknod(path, mode, makedev(maj, min)) == -1)
		die("mknod", path, errno);
	/* mknod applies the umask. */
	if (chmod(path, mode & 07777) == -1)
		die("chmod", path, errno);
}

static void
make_symlink(const char *target, const char *path)
{
	if (symlink(target, path) == -1)
		die("symlink", path, errno);
}

/* The host's top-level directories that merged-usr turns into symlinks. */
static const char *const usrlinks[] = {
    "bin", "sbin", "lib", "lib32", "lib64", "libx32"};

/*
 * Fill the fresh tmpfs at root with everything but the -m mounts.
 * Everything is created with explicit modes: umask is cleared in main().
 */
static void
build_root(const char *root)
{
	static const struct {
		const char *name;
		mode_t mode;
		unsigned int maj, min;
	} nodes[] = {
	    {"null", S_IFCHR | 0666, 1, 3},
	    {"zero", S_IFCHR | 0666, 1, 5},
	    {"full", S_IFCHR | 0666, 1, 7},
	    {"random", S_IFCHR | 0666, 1, 8},
	    {"urandom", S_IFCHR | 0666, 1, 9},
	    {"tty", S_IFCHR | 0666, 5, 0},
	    {"fuse", S_IFCHR | 0666, 10, 229},
	    {"btrfs-control", S_IFCHR | 0600, 10, 234},
	    {"loop-control", S_IFCHR | 0600, 10, 237},
	};
	static const struct {
		const char *name;
		mode_t mode;
	} dirs[] = {
	    {"usr", 0755},
	    {"etc", 0755},
	    {"proc", 0555},
	    {"dev", 0755},
	    {"tmp", 01777},
	    {"run", 0755},
	    {"var", 0755},
	    {"var/tmp", 01777},
	    {"root", 0700},
	    {OLDROOT + 1, 0700},
	    {EMPTYDIR + 1, 0555},
	};
	struct stat st;
	char *p, *q, target[PATH_MAX];
	ssize_t n;
	size_t i;
	int fd;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		p = xasprintf("%s/%s", root, dirs[i].name);
		if (mkdir(p, dirs[i].mode) == -1)
			die("mkdir", p, errno);
		free(p);
	}

	/*
	 * The empty second layer lives on its own read-only tmpfs, so that
	 * nothing can ever appear in it; the overlays keep private clones of
	 * it, so it is unmounted again once they exist.
	 */
	p = xasprintf("%s%s", root, EMPTYDIR);
	do_mount(
	    p, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "mode=0555,size=4k");
	free(p);

	p = xasprintf("%s/usr", root);
	mount_overlay(root, "/usr", p);
	info("/usr: read-only overlay of the host's");
	free(p);
	p = xasprintf("%s/etc", root);
	if ((q = users_layer(root)) != NULL) {
		char *lower = xasprintf("%s:/etc", q);

		mount_overlay(root, lower, p);
		info("/etc: read-only overlay of the host's, with user %s",
		    ENGINE_USER);
		free(lower);
		free(q);
	} else {
		mount_overlay(root, "/etc", p);
		info("/etc: read-only overlay of the host's");
	}
	free(p);

	for (i = 0; i < sizeof(usrlinks) / sizeof(usrlinks[0]); i++) {
		q = xasprintf("/%s", usrlinks[i]);
		p = xasprintf("%s/%s", root, usrlinks[i]);
		if (lstat(q, &st) == -1) {
			if (errno != ENOENT)
				die("stat", q, errno);
		} else if (S_ISLNK(st.st_mode)) {
			n = readlink(q, target, sizeof(target) - 1);
			if (n == -1)
				die("readlink", q, errno);
			target[n] = '\0';
			make_symlink(target, p);
			info("%s -> %s", q, target);
		} else if (S_ISDIR(st.st_mode)) {
			if (mkdir(p, 0755) == -1)
				die("mkdir", p, errno);
			mount_overlay(root, q, p);
			info("%s: read-only overlay of the host's", q);
		}
		free(p);
		free(q);
	}

	for (i = 0; i < noverlays; i++) {
		p = xasprintf("%s%s", root, overlays[i].dir);
		mkdir_p(p, 0755);
		mount_overlay(root, overlays[i].host, p);
		info("%s: read-only overlay of host %s", overlays[i].dir,
		    overlays[i].host);
		free(p);
	}

	p = xasprintf("%s%s", root, EMPTYDIR);
	if (umount2(p, 0) == -1)
		die("unmount", p, errno);
	if (rmdir(p) == -1)
		die("rmdir", p, errno);
	free(p);

	p = xasprintf("%s/proc", root);
	do_mount(p, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	info("/proc: fresh proc");
	free(p);

	if (bind_knob) {
		/* a sysfs file: never a freeze target, nor a /dev source */
		p = xasprintf("%s" RCU_KNOB, root);
		q = xasprintf("%s/sys/kernel", root);
		mkdir_p(q, 0755);
		if ((fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) == -1)
			die("create", p, errno);
		close(fd);
		if (mount(RCU_KNOB, p, NULL, MS_BIND, NULL) == -1)
			die("bind", RCU_KNOB, errno);
		info("%s: the host's, read-write", RCU_KNOB);
		free(q);
		free(p);
	}

	p = xasprintf("%s/dev", root);
	do_mount(p, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755");
	free(p);
	for (i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		p = xasprintf("%s/dev/%s", root, nodes[i].name);
		make_node(p, nodes[i].mode, nodes[i].maj, nodes[i].min);
		free(p);
	}
	p = xasprintf("%s/dev/fd", root);
	make_symlink("/proc/self/fd", p);
	free(p);
	p = xasprintf("%s/dev/stdin", root);
	make_symlink("/proc/self/fd/0", p);
	free(p);
	p = xasprintf("%s/dev/stdout", root);
	make_symlink("/proc/self/fd/1", p);
	free(p);
	p = xasprintf("%s/dev/stderr", root);
	make_symlink("/proc/self/fd/2", p);
	free(p);
	p = xasprintf("%s/dev/vmbus", root);
	if (mkdir(p, 0755) == -1)
		die("mkdir", p, errno);
	free(p);
	p = xasprintf("%s/dev/shm", root);
	if (mkdir(p, 01777) == -1)
		die("mkdir", p, errno);
	do_mount(p, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
	free(p);
	info("/dev: tmpfs with null zero full random urandom tty fuse "
	     "btrfs-control loop-control, vmbus/, shm/");
}

/*
 * pivot_root into the new root.  The host's root stays reachable at
 * OLDROOT until the -m images are mounted (leave_host() detaches it); the
 * old mount point of our tmpfs is a plain directory on the host again and
 * is removed at once, so nothing is left in /tmp whatever happens later.
 */
static void
enter_root(void)
{
	char *p;

	if (chdir(tmpdir) == -1)
		die("chdir", tmpdir, errno);
	if (syscall(SYS_pivot_root, ".", OLDROOT + 1) == -1)
		die("pivot_root", tmpdir, errno);
	pivoted = 1;
	if (chdir("/") == -1)
		die("chdir", "/", errno);
	p = xasprintf("%s%s", OLDROOT, tmpdir);
	if (rmdir(p) == -1)
		die("rmdir", p, errno);
	tmpdir_made = 0;
	free(p);
	info("pivoted into the new root; removed %s", tmpdir);
}

/*
 * The device number of loopN, from the host's sysfs (still reachable
 * under OLDROOT).  Without sysfs, guess major 7, minor N; loop_attach()
 * checks the guess with LOOP_GET_STATUS64.
 */
static dev_t
loop_devno(int n)
{
	char path[64], buf[32];
	unsigned int maj, min;
	ssize_t len;
	int fd;

	snprintf(path, sizeof(path), "%s/sys/block/loop%d/dev", OLDROOT, n);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1) {
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len > 0) {
			buf[len] = '\0';
			if (sscanf(buf, "%u:%u", &maj, &min) == 2)
				return makedev(maj, min);
		}
	}
	return makedev(LOOP_MAJOR_FALLBACK, n);
}

/*
 * Attach im->fd to a free loop device, with LO_FLAGS_AUTOCLEAR, and make
 * its node in the sandbox's /dev.  Autoclear fires at the last close of
 * the device, so im->loopfd stays open until the filesystem is mounted.
 * Another process may take the same free device between GET_FREE and
 * CONFIGURE (EBUSY): then ask again.
 */
static void
loop_attach(struct image *im)
{
	struct loop_config cfg;
	struct loop_info64 li;
	char *name;
	int ctl, fd, n, tries;

	if ((ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC)) == -1)
		die("open", "/dev/loop-control", errno);
	for (tries = 0; tries < LOOP_TRIES; tries++) {
		if ((n = ioctl(ctl, LOOP_CTL_GET_FREE)) == -1)
			die("LOOP_CTL_GET_FREE", "/dev/loop-control", errno);
		snprintf(im->loopdev, sizeof(im->loopdev), "/dev/loop%d", n);
		if (unlink(im->loopdev) == -1 && errno != ENOENT)
			die("unlink", im->loopdev, errno);
		if (mknod(im->loopdev, S_IFBLK | 0600, loop_devno(n)) == -1)
			die("mknod", im->loopdev, errno);
		if ((fd = open(im->loopdev, O_RDWR | O_CLOEXEC)) == -1)
			die("open", im->loopdev, errno);
		memset(&cfg, 0, sizeof(cfg));
		cfg.fd = im->fd;
		cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
		if (im->flags & MS_RDONLY)
			cfg.info.lo_flags |= LO_FLAGS_READ_ONLY;
		name = (char *)cfg.info.lo_file_name;
		strncpy(name, im->path, LO_NAME_SIZE - 1);
		if (ioctl(fd, LOOP_CONFIGURE, &cfg) == 0)
			break;
		if (errno == EINVAL || errno == ENOTTY) {
			/* Before Linux 5.8: two steps. */
			if (ioctl(fd, LOOP_SET_FD, im->fd) == 0) {
				if (ioctl(fd, LOOP_SET_STATUS64, &cfg.info) ==
				    0)
					break;
				im->loopfd = fd;
				die("LOOP_SET_STATUS64", im->loopdev, errno);
			}
		}
		if (errno != EBUSY)
			die("attach loop device", im->loopdev, errno);
		close(fd);
	}
	close(ctl);
	if (tries == LOOP_TRIES)
		die("attach loop device: no free device", im->path, EBUSY);
	im->loopfd = fd;
	if (ioctl(fd, LOOP_GET_STATUS64, &li) == -1)
		die("LOOP_GET_STATUS64", im->loopdev, errno);
	if (li.lo_number != (uint32_t)n)
		diex("%s: the node opens loop%u, not loop%d (guessed the "
		     "device number wrong?)",
		    im->loopdev, li.lo_number, n);
}

/* Attach and mount one -m image; keep a directory fd for FITHAW. */
static void
mount_image(struct image *im)
{
	struct stat st;
	char *what;

	if (im->inside)
		open_image(im);
	loop_attach(im);
	mkdir_p(im->dir, 0755);
	if (mount(im->loopdev, im->dir, im->fstype, im->flags,
	        im->data[0] != '\0' ? im->data : NULL) == -1) {
		what = xasprintf("mount %s %s on %s%s%s", im->fstype, im->path,
		    im->loopdev, im->data[0] != '\0' ? " with " : "", im->data);
		die(what, im->dir, errno);
	}
	im->mounted = 1;
	im->dirfd = open(im->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (im->dirfd == -1)
		die("open", im->dir, errno);
	im->mntid = mount_id(im->dirfd);
	if (fstat(im->dirfd, &st) == -1)
		die("stat", im->dir, errno);
	im->rootdev = st.st_dev;
	/* The mount holds the device now; autoclear follows the mount. */
	close(im->loopfd);
	im->loopfd = -1;
	close(im->fd);
	im->fd = -1;
	info("%s: %s on %s (%s%s%s%s)", im->dir, im->fstype, im->loopdev,
	    im->path, im->flags & MS_RDONLY ? ", ro" : "",
	    im->data[0] != '\0' ? ", " : "", im->data);
}

/* Detach the host's root: from here on, the mount table is ours alone. */
static void
leave_host(void)
{
	if (umount2(OLDROOT, MNT_DETACH) == -1)
		die("unmount", OLDROOT, errno);
	if (rmdir(OLDROOT) == -1)
		die("rmdir", OLDROOT, errno);
	pivoted = 0;
	info("detached the host's root");
}

/* The mount id of the mount fd is on, or 0. */
static uint64_t
mount_id(int fd)
{
	struct statx stx;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &stx) == -1 ||
	    !(stx.stx_mask & STATX_MNT_ID))
		return 0;
	return stx.stx_mnt_id;
}

/* The whole of a (proc) file from offset 0, NUL-terminated, or NULL. */
static char *
read_all(int fd)
{
	char *buf, *nbuf;
	size_t len = 0, size = 8192;
	ssize_t n;

	if ((buf = malloc(size)) == NULL)
		return NULL;
	for (;;) {
		if (len + 1 >= size) {
			if ((nbuf = realloc(buf, size * 2)) == NULL) {
				free(buf);
				return NULL;
			}
			buf = nbuf;
			size *= 2;
		}
		n = pread(fd, buf + len, size - len - 1, (off_t)len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			free(buf);
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return buf;
}

/* Undo mountinfo's octal escapes (\040 and friends) in place. */
static void
unescape(char *s)
{
	char *d = s;

	while (*s != '\0') {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
			    (s[3] - '0'));
			s += 4;
		} else
			*d++ = *s++;
	}
	*d = '\0';
}

/*
 * The sandbox's mount table, in order, or NULL (with *n = 0) if /proc is
 * gone.  The strings point into mountinfo_buf, which the next call
 * replaces: use one result at a time, and free() only the array.
 */
static char *mountinfo_buf;

static struct minfo *
read_mountinfo(size_t *n)
{
	struct minfo *m;
	char *line, *next, *f[10], *save;
	size_t cap = 0, i;

	*n = 0;
	free(mountinfo_buf);
	if (mountinfo_fd == -1 ||
	    (mountinfo_buf = read_all(mountinfo_fd)) == NULL)
		return NULL;
	for (line = mountinfo_buf; *line != '\0'; line++)
		if (*line == '\n')
			cap++;
	if ((m = calloc(cap + 1, sizeof(*m))) == NULL)
		return NULL;
	for (line = mountinfo_buf; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		/* id parent maj:min root mp opts [opt...] - type src sopts */
		for (i = 0; i < 5; i++)
			f[i] = strtok_r(i == 0 ? line : NULL, " ", &save);
		if (f[4] == NULL)
			continue;
		while ((f[5] = strtok_r(NULL, " ", &save)) != NULL &&
		    strcmp(f[5], "-") != 0)
			;
		f[6] = strtok_r(NULL, " ", &save); /* type */
		f[7] = strtok_r(NULL, " ", &save); /* source */
		if (f[7] == NULL || *n >= cap)
			continue;
		m[*n].id = strtoull(f[0], NULL, 10);
		if (sscanf(f[2], "%u:%u", &m[*n].major, &m[*n].minor) != 2)
			continue;
		unescape(f[4]);
		unescape(f[7]);
		m[*n].mp = f[4];
		m[*n].fstype = f[6];
		m[*n].source = f[7];
		(*n)++;
	}
	return m;
}

static int
in_baseline(uint64_t id)
{
	size_t i;

	for (i = 0; i < nbaseline; i++)
		if (baseline[i] == id)
			return 1;
	return 0;
}

/*
 * FITHAW until the kernel says "not frozen" (EINVAL).  One userspace
 * freeze is thawed by one FITHAW; looping also undoes older kernels'
 * nested freezes.
 */
static void
thaw_fd(int fd, const char *what)
{
	int i;

	for (i = 0; i < MAX_THAWS; i++) {
		if (ioctl(fd, FITHAW, 0) == -1) {
			if (errno != EINVAL && errno != EOPNOTSUPP)
				warnp("thaw", what, errno);
			return;
		}
		say("%s was left frozen; thawed it", what);
	}
	say("%s: still frozen after %d thaws", what, MAX_THAWS);
}

/*
 * Thaw the -m mounts in the order they were mounted: thawing an inner
 * filesystem writes its superblock through the loop device into the
 * image on the outer one, which blocks while the outer one is frozen; so
 * the outer one is thawed first.  Then any other block-device mount the
 * command made itself, in mount order for the same reason; the fd is
 * checked to be on that very mount (statx mount id) in case its mount
 * point is covered.
 */
static void
thaw_all(void)
{
	struct minfo *m;
	size_t i, j, n;
	int fd;

	for (i = 0; i < nimages; i++)
		if (images[i].dirfd != -1)
			thaw_fd(images[i].dirfd, images[i].dir);

	if ((m = read_mountinfo(&n)) == NULL)
		return;
	for (i = 0; i < n; i++) {
		/*
		 * Block devices only (btrfs shows an anonymous device): a
		 * path walk into a FUSE mount whose server hangs would hang
		 * us before we get to kill it.
		 */
		if (m[i].major == 0 && strcmp(m[i].fstype, "btrfs") != 0)
			continue;
		if (strncmp(m[i].fstype, "fuse", 4) == 0)
			continue;
		for (j = 0; j < nimages; j++)
			if (images[j].dirfd != -1 && images[j].mntid == m[i].id)
				break;
		if (j < nimages)
			continue;
		fd = open(m[i].mp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd == -1)
			continue;
		if (mount_id(fd) == m[i].id)
			thaw_fd(fd, m[i].mp);
		close(fd);
	}
	free(m);
}

/*
 * SIGKILL the command's process group, and every process we adopted as
 * subreaper (descendants that left the group with setsid(), orphaned).
 */
static void
kill_all(void)
{
	char path[64], buf[512], *p;
	struct dirent *de;
	pid_t self, pid, ppid;
	ssize_t len;
	DIR *d;
	int fd, dfd;
	char state;

	if (cmd_pid > 0)
		kill(-cmd_pid, SIGKILL);
	if (proc_fd == -1 || (dfd = dup(proc_fd)) == -1)
		return;
	if ((d = fdopendir(dfd)) == NULL) {
		close(dfd);
		return;
	}
	rewinddir(d);
	self = getpid();
	while ((de = readdir(d)) != NULL) {
		pid = (pid_t)strtol(de->d_name, &p, 10);
		if (*p != '\0' || pid <= 0)
			continue;
		snprintf(path, sizeof(path), "%d/stat", (int)pid);
		if ((fd = openat(proc_fd, path, O_RDONLY | O_CLOEXEC)) == -1)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		/* "pid (comm) state ppid ...": comm may hold anything. */
		if ((p = strrchr(buf, ')')) == NULL ||
		    sscanf(p + 1, " %c %d", &state, &ppid) != 2)
			continue;
		if (ppid == self)
			kill(pid, SIGKILL);
	}
	closedir(d);
}

/* Reap every exited child; 1 if no child is left. */
static int
reap_all(void)
{
	pid_t pid;

	for (;;) {
		pid = waitpid(-1, NULL, WNOHANG);
		if (pid > 0)
			continue;
		return pid == -1 && errno == ECHILD;
	}
}

/*
 * Detach the loop devices the command attached itself (losetup without
 * autoclear) whose backing file lives on one of the sandbox's own
 * filesystems (devs): such a device pins its -m filesystem, which could
 * then not be unmounted and would outlive us, loop device and all.  The
 * command needed a node to attach it, and there is no devtmpfs here, so
 * the node is in our /dev (nodes made elsewhere are missed).  A loop
 * device backed by anything else belongs to someone else: left alone.
 * LOOP_CLR_FD on a device still in use only sets autoclear.
 */
static void
detach_loops(const dev_t *devs, size_t ndevs)
{
	struct loop_info64 li;
	struct dirent *de;
	struct stat st;
	char path[PATH_MAX];
	size_t i;
	DIR *d;
	int fd;

	if ((d = opendir("/dev")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		snprintf(path, sizeof(path), "/dev/%s", de->d_name);
		for (i = 0; i < nimages; i++)
			if (strcmp(path, images[i].loopdev) == 0)
				break;
		if (i < nimages || lstat(path, &st) == -1 ||
		    !S_ISBLK(st.st_mode))
			continue;
		if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
			continue;
		if (ioctl(fd, LOOP_GET_STATUS64, &li) == 0) {
			for (i = 0; i < ndevs; i++)
				if (li.lo_device == (uint64_t)devs[i])
					break;
			if (i < ndevs) {
				if (ioctl(fd, LOOP_CLR_FD, 0) == -1)
					warnp("detach", path, errno);
				else
					say("%s was left attached (to %s); "
					    "detached it",
					    path, (char *)li.lo_file_name);
			}
		}
		close(fd);
	}
	closedir(d);
}

/* umount2, falling back to a lazy detach with a warning. */
static void
unmount_path(const char *path)
{
	if (umount2(path, 0) == 0) {
		info("unmounted %s", path);
		return;
	}
	say("unmount: %s: %s; detaching it lazily", path, strerror(errno));
	if (umount2(path, MNT_DETACH) == -1)
		warnp("unmount (lazy)", path, errno);
}

/*
 * Unmount, newest first, whatever the command left mounted (a loop mount
 * whose image lies on an -m filesystem keeps that one busy), detach the
 * loop devices it left, then unmount the -m mounts in reverse order, so
 * that autoclear detaches their loop devices before we exit.
 */
static void
unmount_all(void)
{
	struct minfo *m;
	size_t i, j, n, ndevs = 0;
	dev_t *devs;
	int fd;

	m = read_mountinfo(&n);
	if ((devs = calloc(n + nimages + 1, sizeof(*devs))) != NULL) {
		for (i = 0; i < n; i++)
			devs[ndevs++] = makedev(m[i].major, m[i].minor);
		for (i = 0; i < nimages; i++)
			if (images[i].mounted)
				devs[ndevs++] = images[i].rootdev;
	}
	for (i = n; i-- > 0;)
		if (!in_baseline(m[i].id))
			unmount_path(m[i].mp);
	free(m);
	if (devs != NULL)
		detach_loops(devs, ndevs);
	free(devs);

	m = read_mountinfo(&n);
	for (i = nimages; i-- > 0;) {
		struct image *im = &images[i];

		if (!im->mounted)
			continue;
		im->mounted = 0;
		for (j = 0; m != NULL && j < n; j++)
			if (m[j].id == im->mntid)
				break;
		if (m != NULL && j == n) {
			info("%s: already unmounted", im->dir);
			continue;
		}
		fd = open(im->dir, O_PATH | O_CLOEXEC | O_NOFOLLOW);
		if (fd != -1 && mount_id(fd) != im->mntid) {
			say("unmount: %s: covered by another mount; left to "
			    "the namespace's end",
			    im->dir);
			close(fd);
			continue;
		}
		if (fd != -1)
			close(fd);
		unmount_path(im->dir);
	}
	free(m);
}

/* In the child: become the command. */
static void
run_command(char **argv, const char *cwd)
{
	extern char **environ;
	sigset_t none;

	if (setsid() == -1) {
		warnp("setsid", NULL, errno);
		_exit(EXIT_NOEXEC);
	}
	/* If the sandbox is SIGKILLed, do not run on unsupervised. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGTTOU, SIG_DFL);
	umask(022);
	if (cwd == NULL || chdir(cwd) == -1) {
		if (chdir("/") == -1) {
			warnp("chdir", "/", errno);
			_exit(EXIT_NOEXEC);
		}
	}
	environ = envs;
	execvp(argv[0], argv);
	warnp("exec", argv[0], errno);
	_exit(errno == ENOENT ? EXIT_NOTFOUND : EXIT_NOEXEC);
}

static int
exit_code(const siginfo_t *si)
{
	if (si->si_code == CLD_EXITED)
		return si->si_status;
	return 128 + si->si_status;
}

/*
 * Wait for the command to exit, the timeout, or a signal; then tear down:
 * thaw, kill, reap, unmount.  Returns the exit status.
 */
static int
supervise(void)
{
	struct timespec now, deadline, ts, *tsp;
	sigset_t set;
	siginfo_t si;
	size_t i;
	long ms;
	int sig, status = -1, done;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_s;

	for (done = 0; !done;) {
		tsp = NULL;
		if (timeout_s > 0) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			ms = (deadline.tv_sec - now.tv_sec) * 1000 +
			    (deadline.tv_nsec - now.tv_nsec) / 1000000;
			if (ms < 0)
				ms = 0;
			ts.tv_sec = ms / 1000;
			ts.tv_nsec = (ms % 1000) * 1000000;
			tsp = &ts;
		}
		sig = sigtimedwait(&set, NULL, tsp);
		if (sig == -1 && errno == EINTR)
			continue;
		if (sig == -1 && errno == EAGAIN) {
			say("timed out after %u s; killing the command",
			    timeout_s);
			status = EXIT_TIMEOUT;
			break;
		}
		if (sig == -1) {
			warnp("sigtimedwait", NULL, errno);
			status = EXIT_SETUP;
			break;
		}
		if (sig != SIGCHLD) {
			say("got SIG%s; killing the command",
			    sigabbrev_np(sig));
			status = 128 + sig;
			break;
		}
		/*
		 * Look at the command without reaping it: its zombie keeps
		 * its pid, so kill(-pgid) cannot hit a stranger.  Reap the
		 * adopted orphans as they go.
		 */
		for (;;) {
			memset(&si, 0, sizeof(si));
			if (waitid(P_ALL, 0, &si,
			        WEXITED | WNOHANG | WNOWAIT) == -1 ||
			    si.si_pid == 0)
				break;
			if (si.si_pid == cmd_pid) {
				status = exit_code(&si);
				info("command exited with status %d", status);
				done = 1;
				break;
			}
			waitpid(si.si_pid, NULL, WNOHANG);
		}
	}

	/* Thaw first: a write blocked on a frozen fs ignores SIGKILL. */
	thaw_all();
	kill_all();
	for (ms = 0; !reap_all(); ms += REAP_POLL_MS) {
		if (ms >= REAP_TIMEOUT_MS) {
			say("some processes would not die after %d ms (blocked "
			    "on a frozen filesystem?); leaving them",
			    REAP_TIMEOUT_MS);
			break;
		}
		ts.tv_sec = 0;
		ts.tv_nsec = REAP_POLL_MS * 1000000L;
		nanosleep(&ts, NULL);
		thaw_all();
		kill_all();
	}
	for (i = 0; i < nimages; i++) {
		if (images[i].dirfd != -1) {
			close(images[i].dirfd);
			images[i].dirfd = -1;
		}
	}
	unmount_all();
	return status;
}

int
main(int argc, char *argv[])
{
	static char path_env[] = "PATH=" SANDBOX_PATH;
	static char home_env[] = "HOME=/root";
	struct minfo *m;
	sigset_t set;
	char *end, *term;
	unsigned long t;
	size_t i, n;
	int ch;

	/* Block the signals we supervise from the start: setup runs whole. */
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	/*
	 * A closed stderr or a terminal with tostop must not kill or stop
	 * us between a freeze and its thaw.  The command gets the defaults.
	 */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTTOU, SIG_IGN);

	add_env(path_env);
	add_env(home_env);
	if ((term = getenv("TERM")) != NULL)
		add_env(xasprintf("TERM=%s", term));

	opterr = 0;
	while ((ch = getopt(argc, argv, "+:kvt:m:r:e:")) != -1) {
		switch (ch) {
		case 'k':
			bind_knob = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 't':
			errno = 0;
			t = strtoul(optarg, &end, 10);
			if (optarg[0] < '0' || optarg[0] > '9' ||
			    *end != '\0' || errno != 0 || t > MAX_TIMEOUT) {
				say("-t %s: expected seconds, 0 to %u", optarg,
				    MAX_TIMEOUT);
				usage();
			}
			timeout_s = (unsigned int)t;
			break;
		case 'm':
			parse_image(optarg);
			break;
		case 'r':
			parse_overlay(optarg);
			break;
		case 'e':
			parse_env(optarg);
			break;
		case ':':
			say("-%c: needs an argument", optopt);
			usage();
		default:
			say("-%c: unknown option", optopt);
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		usage();

	umask(0);
	start_dir = getcwd(NULL, 0);
	open_host_images();

	if (unshare(CLONE_NEWNS) == -1)
		die("unshare", "mount namespace", errno);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1)
		die("make private", "/", errno);
	if (mkdtemp(tmpdir) == NULL)
		die("mkdtemp", tmpdir, errno);
	tmpdir_made = 1;
	do_mount(tmpdir, "tmpfs", 0, "mode=0755");
	root_mounted = 1;
	info("root: tmpfs on %s", tmpdir);
	build_root(tmpdir);
	enter_root();
	for (i = 0; i < nimages; i++)
		mount_image(&images[i]);
	leave_host();

	if ((proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		die("open", "/proc", errno);
	mountinfo_fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	if (mountinfo_fd == -1)
		die("open", "/proc/self/mountinfo", errno);
	if ((m = read_mountinfo(&n)) == NULL)
		die("read", "/proc/self/mountinfo", errno);
	if ((baseline = calloc(n + 1, sizeof(*baseline))) == NULL)
		die("calloc", NULL, errno);
	for (i = 0; i < n; i++)
		baseline[nbaseline++] = m[i].id;
	free(m);

	/* Orphans of the command become ours, to be killed at the end. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		die("prctl", "PR_SET_CHILD_SUBREAPER", errno);
	if (verbose) {
		fputs("sandbox: running:", stderr);
		for (i = 0; i < (size_t)argc; i++)
			fprintf(stderr, " %s", argv[i]);
		fprintf(stderr, " (timeout %u s)\n", timeout_s);
	}
	fflush(stderr);
	switch (cmd_pid = fork()) {
	case -1:
		die("fork", NULL, errno);
	case 0:
		run_command(argv, start_dir);
	}
	return supervise();
}
