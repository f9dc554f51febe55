/*
 * test_record.c: unit tests for the ownership record (daemon/record.c).
 * The record tells a restarted daemon what to FITHAW, so a line it
 * misreads could thaw somebody else's freeze: these tests check that the
 * line format reads back exactly (mount points with spaces, tabs,
 * newlines, backslashes), that every kind of garbage line is refused,
 * that the file is replaced atomically (a reader holding the old file
 * still sees it whole), that entries of other daemons survive our
 * record_clear(), that run_dir must be a tmpfs, and that recovery leaves
 * alone what it must: a vanished mount point, another filesystem at the
 * mount point, an owner that still runs, a bad line, a file that is not
 * ours.  FITHAW itself needs real frozen filesystems: that part is
 * tests/system/t_guard.sh.  Nothing here needs root; the tmpfs
 * directories are made in /dev/shm.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>
#include <linux/magic.h>
#include <cmocka.h>

#include "record.h"

struct fx {
	char dir[PATH_MAX]; /* a fresh directory on tmpfs */
	char file[PATH_MAX]; /* dir/frozen */
	char err[512];
};

static void
rm_dir(const char *dir)
{
	char path[PATH_MAX * 2];
	struct dirent *de;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static int
setup(void **state)
{
	struct fx *fx;

	if ((fx = calloc(1, sizeof(*fx))) == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/dev/shm/test_record.XXXXXX");
	if (mkdtemp(fx->dir) == NULL) {
		free(fx);
		return -1;
	}
	snprintf(fx->file, sizeof(fx->file), "%s/%s", fx->dir, RECORD_FILE);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	rm_dir(fx->dir);
	free(fx);
	return 0;
}

static void
write_file(const char *path, const char *text)
{
	FILE *f;

	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* The whole of a small file, in a static buffer ("" if missing). */
static const char *
slurp(const char *path)
{
	static char buf[65536];
	FILE *f;
	size_t n;

	buf[0] = '\0';
	if ((f = fopen(path, "r")) == NULL)
		return buf;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Names in dir other than . and .., as one string "a b ". */
static const char *
listing(const char *dir)
{
	static char buf[4096];
	struct dirent *de;
	DIR *d;
	size_t n = 0;

	buf[0] = '\0';
	assert_non_null(d = opendir(dir));
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		n += snprintf(buf + n, sizeof(buf) - n, "%s ", de->d_name);
	}
	closedir(d);
	return buf;
}

/* Our own start time, as record.c reads it, from /proc/self/stat. */
static uint64_t
own_pstart(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long v = 0;
	int i;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	assert_non_null(f = fopen(path, "r"));
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_non_null(p = strrchr(buf, ')'));
	p += 2; /* field 3 */
	for (i = 3; i < 22; i++) {
		assert_non_null(p = strchr(p, ' '));
		p++;
	}
	assert_int_equal(sscanf(p, "%llu", &v), 1);
	return v;
}

static void
entry(
    struct record_entry *e, unsigned int maj, unsigned int min, const char *mp)
{
	memset(e, 0, sizeof(*e));
	e->dev = makedev(maj, min);
	e->txid = 18446744073709551615ULL;
	e->time = 1700000000;
	e->pid = 4194304;
	e->pstart = 123456789;
	snprintf(e->mountpoint, sizeof(e->mountpoint), "%s", mp);
}

/* --- the line format --------------------------------------------------- */

static void
round_trip(void **state)
{
	static const char *mps[] = {
	    "/",
	    "/mnt/a",
	    "/mnt/with space",
	    "/mnt/tab\there",
	    "/mnt/new\nline",
	    "/mnt/back\\slash",
	    "/mnt/\\040 literally",
	    "/mnt/caf\xc3\xa9",
	    "/mnt/del\x7f",
	};
	struct record_entry e, back;
	char line[RECORD_LINE_MAX + 1];
	size_t i;
	int n;

	for (i = 0; i < sizeof(mps) / sizeof(mps[0]); i++) {
		entry(&e, 4095, 1048575, mps[i]);
		n = record_format(&e, line, sizeof(line));
		assert_true(n > 0);
		assert_int_equal((size_t)n, strlen(line));
		assert_null(strchr(line, '\n'));
		assert_null(strchr(line, '\t'));
		/* exactly five spaces: between the six fields */
		assert_int_equal(record_parse(line, &back), 0);
		assert_int_equal(back.dev, e.dev);
		assert_int_equal(back.txid, e.txid);
		assert_int_equal(back.time, e.time);
		assert_int_equal(back.pid, e.pid);
		assert_int_equal(back.pstart, e.pstart);
		assert_string_equal(back.mountpoint, e.mountpoint);
	}
	entry(&e, 7, 3, "/mnt/with space");
	e.txid = 42;
	assert_true(record_format(&e, line, sizeof(line)) > 0);
	assert_string_equal(
	    line, "7:3 42 1700000000 4194304 123456789 /mnt/with\\040space");
	entry(&e, 8, 1, "/a\\b\tc\nd");
	assert_true(record_format(&e, line, sizeof(line)) > 0);
	assert_string_equal(line,
	    "8:1 18446744073709551615 1700000000 "
	    "4194304 123456789 /a\\134b\\011c\\012d");

	/* too small a buffer: refused, never cut */
	for (i = 0; i < sizeof(mps) / sizeof(mps[0]); i++) {
		entry(&e, 7, 3, mps[i]);
		n = record_format(&e, line, sizeof(line));
		assert_true(n > 0);
		assert_int_equal(record_format(&e, line, (size_t)n + 1), n);
		assert_int_equal(
		    record_format(&e, line, (size_t)n), -ENAMETOOLONG);
		assert_int_equal(record_format(&e, line, 20), -ENAMETOOLONG);
	}
}

static void
garbage_lines(void **state)
{
	static const char *bad[] = {
	    "",
	    " ",
	    "7:3",
	    "7:3 1 2 3 4",
	    "7:3 1 2 3 4 ",
	    "7:3 1 2 3 /mnt/a",
	    "7:3 1 2 3 4 5 /mnt/a",
	    "7 1 2 3 4 /mnt/a",
	    "7:3:1 1 2 3 4 /mnt/a",
	    "x:3 1 2 3 4 /mnt/a",
	    "7:y 1 2 3 4 /mnt/a",
	    "07:3 1 2 3 4 /mnt/a", /* leading zero */
	    "7:03 1 2 3 4 /mnt/a",
	    "+7:3 1 2 3 4 /mnt/a",
	    "-7:3 1 2 3 4 /mnt/a",
	    "4096:3 1 2 3 4 /mnt/a", /* major > 12 bits */
	    "7:1048576 1 2 3 4 /mnt/a", /* minor > 20 bits */
	    "7:3 18446744073709551616 2 3 4 /mnt/a", /* u64 overflow */
	    "7:3 99999999999999999999999 2 3 4 /mnt/a",
	    "7:3 1 -2 3 4 /mnt/a",
	    "7:3 1 2 0 4 /mnt/a", /* pid 0 */
	    "7:3 1 2 4194305 4 /mnt/a", /* pid > PID_MAX_LIMIT */
	    "7:3 1 2 3 4x /mnt/a",
	    "7:3  1 2 3 4 /mnt/a", /* two spaces */
	    "7:3 1 2 3 4  /mnt/a",
	    "7:3\t1 2 3 4 /mnt/a",
	    "7:3 1 2 3 4 mnt/a", /* relative */
	    "7:3 1 2 3 4 /mnt/a b", /* unescaped space */
	    "7:3 1 2 3 4 /mnt/a\tb", /* unescaped tab */
	    "7:3 1 2 3 4 /mnt/a\\", /* escape cut short */
	    "7:3 1 2 3 4 /mnt/a\\04",
	    "7:3 1 2 3 4 /mnt/a\\080", /* not octal */
	    "7:3 1 2 3 4 /mnt/a\\400",
	    "7:3 1 2 3 4 /mnt/a\\000", /* NUL */
	    "7:3 1 2 3 4 /mnt/a\\141", /* needless escape of 'a' */
	    "7:3 1 2 3 4 /mnt/a\\x20",
	    "7:3 1 2 3 4 /mnt//a", /* not canonical */
	    "7:3 1 2 3 4 /mnt/a/",
	    "7:3 1 2 3 4 /mnt/./a",
	    "7:3 1 2 3 4 /mnt/../a",
	    "7:3 1 2 3 4 /..",
	    "7:3 1 2 3 4 //",
	    "7:3 1 2 3 4 /mnt/a\n",
	    "hvvss-frozen 1",
	};
	struct record_entry e;
	char line[PATH_MAX + 64];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&e, 0x5a, sizeof(e));
		if (record_parse(bad[i], &e) != -EINVAL)
			fail_msg("accepted garbage line \"%s\"", bad[i]);
		/* and e untouched */
		assert_int_equal(((unsigned char *)&e)[0], 0x5a);
	}
	/* a mount point one byte too long for PATH_MAX */
	memset(line, 0, sizeof(line));
	strcpy(line, "7:3 1 2 3 4 /");
	memset(line + strlen(line), 'x', PATH_MAX - 1);
	assert_int_equal(record_parse(line, &e), -EINVAL);
	line[strlen(line) - 1] = '\0'; /* 4095 bytes: fits */
	assert_int_equal(record_parse(line, &e), 0);
	assert_int_equal(strlen(e.mountpoint), PATH_MAX - 1);
	/* the smallest good line */
	assert_int_equal(record_parse("0:0 0 0 1 0 /", &e), 0);
	assert_string_equal(e.mountpoint, "/");
}

/* --- run_dir ----------------------------------------------------------- */

/* A new directory on a filesystem that is not tmpfs or ramfs, or NULL. */
static const char *
disk_dir(void)
{
	static char dir[PATH_MAX];
	const char *bases[] = {
	    getenv("TMPDIR"), "/var/tmp", "/tmp", getenv("HVVSS_TOP")};
	struct statfs sf;
	size_t i;

	for (i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
		if (bases[i] == NULL || statfs(bases[i], &sf) == -1 ||
		    sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC)
			continue;
		snprintf(dir, sizeof(dir), "%s/test_record.XXXXXX", bases[i]);
		if (mkdtemp(dir) != NULL)
			return dir;
	}
	return NULL;
}

static void
tmpfs_only(void **state)
{
	struct fx *fx = *state;
	struct record *r;
	const char *d;
	char sub[PATH_MAX + 8];

	assert_int_equal(
	    record_check_dir(fx->dir, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(
	    record_check_dir("/dev/shm", fx->err, sizeof(fx->err)), 0);
	if ((d = disk_dir()) == NULL) {
		skip();
		return;
	}
	fx->err[0] = '\0';
	assert_int_equal(record_check_dir(d, fx->err, sizeof(fx->err)), -1);
	assert_non_null(strstr(fx->err, "not a tmpfs or ramfs"));
	assert_non_null(strstr(fx->err, d));
	/* record_open refuses it too, and writes nothing there */
	assert_null(r = record_open(d, fx->err, sizeof(fx->err)));
	assert_non_null(strstr(fx->err, "not a tmpfs or ramfs"));
	assert_string_equal(listing(d), "");
	/* as does recovery, even with a record in it */
	snprintf(sub, sizeof(sub), "%s/%s", d, RECORD_FILE);
	write_file(sub, RECORD_MAGIC "\n7:3 1 2 3 4 /mnt/a\n");
	{
		struct record_report *reps;
		size_t n;

		assert_int_equal(
		    record_recover(d, &reps, &n, fx->err, sizeof(fx->err)), -1);
		assert_null(reps);
		assert_int_equal(n, 0);
		assert_non_null(strstr(fx->err, "not a tmpfs or ramfs"));
	}
	unlink(sub);
	rmdir(d);
	/* a missing path is an error naming it */
	assert_int_equal(
	    record_check_dir("/nonexistent/hv_vss", fx->err, sizeof(fx->err)),
	    -1);
	assert_non_null(strstr(fx->err, "/nonexistent/hv_vss"));
}

static void
dir_must_be_private(void **state)
{
	struct fx *fx = *state;
	struct record *r;
	char sub[PATH_MAX + 8];

	/* record_open makes a missing run_dir */
	snprintf(sub, sizeof(sub), "%s/run", fx->dir);
	assert_non_null(r = record_open(sub, fx->err, sizeof(fx->err)));
	record_close(r);
	/* but refuses one that others may write */
	assert_int_equal(chmod(sub, 0777), 0);
	assert_null(record_open(sub, fx->err, sizeof(fx->err)));
	assert_non_null(strstr(fx->err, "writable by nobody else"));
	rmdir(sub);
}

/*
 * What was thawed behind the host's back outlives the daemon that learnt
 * it, until its owner says a host FREEZE since has frozen; a file that
 * does not say it is dropped, and said so.
 */
static void
behind_kept(void **state)
{
	struct fx *fx = *state;
	char path[PATH_MAX + 32];
	const char *note;
	struct record *r;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", fx->dir, RECORD_BEHIND_FILE);
	assert_non_null(r = record_open(fx->dir, fx->err, sizeof(fx->err)));
	assert_int_equal(record_behind(r, &note), 0);
	assert_null(note);
	/* nothing recovered, nothing kept: none */
	assert_int_equal(
	    record_start_behind(r, 0, fx->err, sizeof(fx->err)), 0);
	assert_string_equal(fx->err, "");
	assert_int_equal(access(path, F_OK), -1);
	/* recovered: kept, and read by the next daemon */
	assert_int_equal(
	    record_start_behind(r, 2, fx->err, sizeof(fx->err)), 2);
	record_close(r);
	assert_non_null(r = record_open(fx->dir, fx->err, sizeof(fx->err)));
	assert_int_equal(
	    record_start_behind(r, 0, fx->err, sizeof(fx->err)), 2);
	/* a thaw leaves it: the owner ends it once a host FREEZE froze */
	assert_int_equal(record_add(r, makedev(7, 1), "/mnt/a", 9), 0);
	assert_int_equal(record_clear(r), 0);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(record_set_behind(r, 0), 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(record_behind(r, &note), 0);
	assert_int_equal(record_set_behind(r, 0), 0); /* none: still 0 */
	record_close(r);
	/* garbage: dropped, with a note naming the file */
	assert_non_null(f = fopen(path, "w"));
	fputs(RECORD_BEHIND_MAGIC "\nmany\n", f);
	fclose(f);
	assert_int_equal(chmod(path, 0644), 0);
	assert_non_null(r = record_open(fx->dir, fx->err, sizeof(fx->err)));
	assert_int_equal(
	    record_start_behind(r, 0, fx->err, sizeof(fx->err)), 0);
	assert_non_null(strstr(fx->err, RECORD_BEHIND_FILE));
	assert_non_null(strstr(fx->err, "dropped"));
	assert_int_equal(access(path, F_OK), -1);
	record_close(r);
	/* writable by others: not trusted */
	assert_non_null(f = fopen(path, "w"));
	fputs(RECORD_BEHIND_MAGIC "\n1\n", f);
	fclose(f);
	assert_int_equal(chmod(path, 0666), 0);
	assert_non_null(r = record_open(fx->dir, fx->err, sizeof(fx->err)));
	assert_int_equal(
	    record_start_behind(r, 0, fx->err, sizeof(fx->err)), 0);
	assert_non_null(strstr(fx->err, "not trusted"));
	record_close(r);
}

/* A freeze's filesystems staged, then written at once, or dropped. */
static void
batch(void **state)
{
	struct fx *fx = *state;
	struct record *r;
	struct stat st;

	assert_non_null(r = record_open(fx->dir, fx->err, sizeof(fx->err)));
	assert_int_equal(record_begin(r), 0);
	assert_int_equal(record_add(r, makedev(7, 1), "/mnt/a", 5), 0);
	assert_int_equal(record_add(r, makedev(7, 2), "/mnt/b", 5), 0);
	assert_int_equal(record_begin(r), 0); /* once is enough */
	assert_int_equal(record_add(r, makedev(7, 3), "/mnt/c", 5), 0);
	/* staged: nothing written yet */
	assert_int_equal(stat(fx->file, &st), -1);
	assert_int_equal(record_count(r), 3);
	assert_int_equal(record_commit(r), 0);
	assert_int_equal(stat(fx->file, &st), 0);
	record_close(r);
	/* a new daemon reads all three back */
	assert_non_null(r = record_open(fx->dir, fx->err, sizeof(fx->err)));
	assert_int_equal(record_count(r), 3);
	assert_string_equal(record_get(r, 2)->mountpoint, "/mnt/c");
	/* dropped: as before, on disk and in memory */
	assert_int_equal(record_begin(r), 0);
	assert_int_equal(record_add(r, makedev(7, 4), "/mnt/d", 6), 0);
	assert_int_equal(record_add(r, makedev(7, 1), "/mnt/a2", 6), 0);
	record_rollback(r);
	assert_int_equal(record_count(r), 3);
	assert_string_equal(record_get(r, 0)->mountpoint, "/mnt/a");
	record_close(r);
	assert_non_null(r = record_open(fx->dir, fx->err, sizeof(fx->err)));
	assert_int_equal(record_count(r), 3);
	/* outside a batch, a commit or rollback does nothing */
	assert_int_equal(record_commit(r), 0);
	record_rollback(r);
	assert_int_equal(record_count(r), 3);
	assert_int_equal(record_clear(r), 0);
	record_close(r);
}

/* --- the file ---------------------------------------------------------- */

static void
add_remove_clear(void **state)
{
	struct fx *fx = *state;
	struct record *r;
	struct record_entry e;
	const char *text, *p;
	char line[RECORD_LINE_MAX + 1];
	struct stat st1, st2;
	int oldfd;
	time_t t0 = time(NULL);

	assert_non_null(r = record_open(fx->dir, fx->err, sizeof(fx->err)));
	assert_int_equal(record_count(r), 0);
	assert_int_equal(access(fx->file, F_OK), -1); /* nothing yet */

	assert_int_equal(record_add(r, makedev(7, 1), "/mnt/inner", 9), 0);
	assert_int_equal(record_add(r, makedev(7, 0), "/mnt/out er", 9), 0);
	assert_int_equal(record_add(r, makedev(0, 44), "/mnt/btrfs", 9), 0);
	assert_int_equal(record_count(r), 3);
	text = slurp(fx->file);
	/* the magic line, then one line per filesystem, in order */
	assert_int_equal(strncmp(text, RECORD_MAGIC "\n7:1 9 ",
	                     strlen(RECORD_MAGIC "\n7:1 9 ")),
	    0);
	assert_non_null(p = strstr(text, "\n7:0 9 "));
	assert_non_null(strstr(p, " /mnt/out\\040er\n0:44 9 "));
	assert_non_null(strstr(text, " /mnt/btrfs\n"));
	assert_int_equal(text[strlen(text) - 1], '\n');
	/* each line reads back to what was recorded, with our pid */
	p = strchr(text, '\n') + 1;
	memcpy(line, p, strcspn(p, "\n"));
	line[strcspn(p, "\n")] = '\0';
	assert_int_equal(record_parse(line, &e), 0);
	assert_int_equal(e.dev, makedev(7, 1));
	assert_int_equal(e.txid, 9);
	assert_int_equal(e.pid, getpid());
	assert_int_equal(e.pstart, own_pstart(getpid()));
	assert_true(e.time >= (uint64_t)t0 && e.time <= (uint64_t)t0 + 5);
	assert_string_equal(record_get(r, 1)->mountpoint, "/mnt/out er");
	assert_null(record_get(r, 3));
	/* mode: readable by all (hv_vss_ctl), writable by us */
	assert_int_equal(stat(fx->file, &st1), 0);
	assert_int_equal(st1.st_mode & 0777, 0644);

	/*
	 * Atomic replace: a new file renamed over the old.  A reader that
	 * opened the old one keeps reading it whole, the name gives the
	 * new one, and no temporary file is left.
	 */
	assert_true((oldfd = open(fx->file, O_RDONLY)) >= 0);
	assert_int_equal(record_remove(r, makedev(7, 0)), 0);
	assert_int_equal(stat(fx->file, &st2), 0);
	assert_true(st1.st_ino != st2.st_ino);
	{
		char old[4096];
		ssize_t n = read(oldfd, old, sizeof(old) - 1);

		assert_true(n > 0);
		old[n] = '\0';
		assert_non_null(strstr(old, "/mnt/out\\040er\n"));
		close(oldfd);
	}
	text = slurp(fx->file);
	assert_null(strstr(text, "out\\040er"));
	assert_non_null(strstr(text, "/mnt/inner\n"));
	assert_non_null(strstr(text, "/mnt/btrfs\n"));
	assert_string_equal(listing(fx->dir), RECORD_FILE " ");
	assert_int_equal(record_count(r), 2);

	/* the same superblock again: replaced, not doubled */
	assert_int_equal(record_add(r, makedev(7, 1), "/mnt/inner2", 10), 0);
	assert_int_equal(record_count(r), 2);
	text = slurp(fx->file);
	assert_null(strstr(text, "/mnt/inner\n"));
	assert_non_null(strstr(text, "7:1 10 "));

	/* removing what is not there changes nothing */
	assert_int_equal(record_remove(r, makedev(9, 9)), 0);
	assert_int_equal(record_count(r), 2);

	/* what could not be read back is refused, and nothing changes */
	assert_int_equal(record_add(r, makedev(7, 5), "relative", 1), -EINVAL);
	assert_int_equal(record_add(r, makedev(7, 5), "/a/../b", 1), -EINVAL);
	assert_int_equal(record_add(r, makedev(5000, 5), "/mnt/x", 1), -EINVAL);
	assert_int_equal(record_count(r), 2);

	/* clear: nothing of ours left, the file gone */
	assert_int_equal(record_clear(r), 0);
	assert_int_equal(record_count(r), 0);
	assert_int_equal(access(fx->file, F_OK), -1);
	assert_string_equal(listing(fx->dir), "");
	record_close(r);
}

static void
limits(void **state)
{
	struct fx *fx = *state;
	struct record *r;
	char mp[64];
	unsigned int i;

	assert_non_null(r = record_open(fx->dir, fx->err, sizeof(fx->err)));
	for (i = 0; i < RECORD_MAX; i++) {
		snprintf(mp, sizeof(mp), "/mnt/%u", i);
		assert_int_equal(record_add(r, makedev(7, i), mp, 1), 0);
	}
	assert_int_equal(
	    record_add(r, makedev(8, 0), "/mnt/one-more", 1), -ENOSPC);
	assert_int_equal(record_count(r), RECORD_MAX);
	record_close(r);
	/* what was written reads back whole */
	assert_non_null(r = record_open(fx->dir, fx->err, sizeof(fx->err)));
	assert_int_equal(record_count(r), RECORD_MAX);
	assert_string_equal(record_get(r, 255)->mountpoint, "/mnt/255");
	assert_int_equal(record_clear(r), 0);
	record_close(r);
}

static void
others_survive(void **state)
{
	struct fx *fx = *state;
	struct record *r;
	const char *text;

	/* a record left by another daemon (which recovery kept) */
	write_file(fx->file,
	    RECORD_MAGIC "\n"
	                 "7:9 3 1700000000 77 55 /mnt/theirs\n"
	                 "this is not a record line\n");
	assert_int_equal(chmod(fx->file, 0644), 0);
	assert_non_null(r = record_open(fx->dir, fx->err, sizeof(fx->err)));
	assert_int_equal(record_count(r), 1);
	assert_int_equal(record_add(r, makedev(7, 1), "/mnt/ours", 4), 0);
	text = slurp(fx->file);
	assert_non_null(strstr(text, "7:9 3 1700000000 77 55 /mnt/theirs\n"));
	assert_null(strstr(text, "not a record"));
	assert_int_equal(record_clear(r), 0);
	assert_string_equal(slurp(fx->file),
	    RECORD_MAGIC "\n7:9 3 1700000000 77 55 /mnt/theirs\n");
	/* removing theirs by name works (after a thaw of ours, say) */
	assert_int_equal(record_remove(r, makedev(7, 9)), 0);
	assert_int_equal(access(fx->file, F_OK), -1);
	record_close(r);

	/* a file without the magic line is not taken as a record */
	write_file(fx->file, "7:9 3 1700000000 77 55 /mnt/theirs\n");
	assert_null(record_open(fx->dir, fx->err, sizeof(fx->err)));
	assert_non_null(strstr(fx->err, "not a record"));
}

/* --- recovery (the paths that must not thaw) --------------------------- */

/*
 * A live owner: a child that opened the record in dir, and so holds its
 * owner lock, until it is killed.
 */
static pid_t
live_owner(const char *dir)
{
	struct record *r;
	char c = 0;
	int p[2];
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	assert_true((pid = fork()) >= 0);
	if (pid == 0) {
		/* a failed assertion must not leave it behind */
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(p[0]);
		if ((r = record_open(dir, NULL, 0)) == NULL)
			_exit(1);
		(void)write(p[1], &c, 1);
		for (;;)
			pause();
	}
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	return pid;
}

static void
kill_owner(pid_t pid)
{
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
}

static const struct record_report *
find(const struct record_report *reps, size_t n, unsigned int line)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (reps[i].line == line)
			return &reps[i];
	fail_msg("no report for line %u", line);
	return NULL;
}

static void
recover_leaves_alone(void **state)
{
	struct fx *fx = *state;
	struct record_report *reps;
	const struct record_report *rep;
	char text[8192], desc[PATH_MAX + 512];
	dev_t here, wrong;
	pid_t owner = live_owner(fx->dir);
	size_t n;
	int fd;

	/* the tmpfs directory itself, under its real and a wrong device */
	assert_true((fd = open(fx->dir, O_RDONLY | O_DIRECTORY)) >= 0);
	assert_int_equal(record_devno(fd, &here), 0);
	close(fd);
	{
		struct stat st;

		/* tmpfs: mountinfo's device is st_dev */
		assert_int_equal(stat(fx->dir, &st), 0);
		assert_int_equal(here, st.st_dev);
	}
	wrong = makedev(major(here), minor(here) + 1);
	snprintf(text, sizeof(text),
	    RECORD_MAGIC
	    "\n"
	    /* 2: the mount point is gone */
	    "7:3 1 1700000000 1 18446744073709551615 /nonexistent/hvvss-test\n"
	    /* 3: another filesystem is mounted there now */
	    "%u:%u 2 1700000000 1 18446744073709551615 %s\n"
	    /* 4: garbage */
	    "7:3 1 1700000000 1 18446744073709551615 /mnt/a b\n"
	    /* 5: its daemon still runs (a child that holds the lock) */
	    "%u:%u 3 1700000000 %d %llu %s\n"
	    /* 6: a pid that exists, with another start time: dead owner,
	     * but the mount point holds another filesystem */
	    "%u:%u 4 1700000000 %d %llu %s\n",
	    major(wrong), minor(wrong), fx->dir, major(here), minor(here),
	    (int)owner, (unsigned long long)own_pstart(owner), fx->dir,
	    major(wrong), minor(wrong), (int)owner,
	    (unsigned long long)own_pstart(owner) + 1, fx->dir);
	write_file(fx->file, text);
	assert_int_equal(chmod(fx->file, 0644), 0);

	assert_int_equal(
	    record_recover(fx->dir, &reps, &n, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(n, 5);
	/* the bad line first (parsed), then newest first */
	assert_int_equal(reps[0].outcome, RECORD_BAD_LINE);
	assert_int_equal(reps[0].line, 4);
	assert_int_equal(reps[1].line, 6);
	assert_int_equal(reps[2].line, 5);
	assert_int_equal(reps[3].line, 3);
	assert_int_equal(reps[4].line, 2);

	rep = find(reps, n, 2);
	assert_int_equal(rep->outcome, RECORD_GONE);
	assert_int_equal(rep->err, ENOENT);
	rep = find(reps, n, 3);
	assert_int_equal(rep->outcome, RECORD_OTHER_FS);
	assert_int_equal(rep->found, here);
	assert_int_equal(rep->e.dev, wrong);
	record_describe(rep, desc, sizeof(desc));
	assert_non_null(strstr(desc, "is mounted there now; left alone"));
	assert_non_null(strstr(desc, fx->dir));
	assert_non_null(strstr(desc, "transaction 2 at 2023-11-14T22:13:20Z"));
	rep = find(reps, n, 5);
	assert_int_equal(rep->outcome, RECORD_OWNER_ALIVE);
	rep = find(reps, n, 6);
	assert_int_equal(rep->outcome, RECORD_OTHER_FS);
	record_describe(find(reps, n, 4), desc, sizeof(desc));
	assert_string_equal(desc, "record line 4: not a record line; ignored");
	assert_string_equal(
	    record_outcome_name(RECORD_OWNER_ALIVE), "owner alive");
	/* none of these was a dead daemon's frozen window */
	assert_int_equal(record_thawed_behind(reps, n), 0);
	free(reps);

	/* only the live owner's entry is kept */
	snprintf(text, sizeof(text),
	    RECORD_MAGIC "\n%u:%u 3 1700000000 %d %llu %s\n", major(here),
	    minor(here), (int)owner, (unsigned long long)own_pstart(owner),
	    fx->dir);
	assert_string_equal(slurp(fx->file), text);
	assert_string_equal(listing(fx->dir), RECORD_FILE " ");
	kill_owner(owner);

	/* no record at all: nothing to do */
	unlink(fx->file);
	assert_int_equal(
	    record_recover(fx->dir, &reps, &n, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(n, 0);
	free(reps);
	/* nor without run_dir */
	assert_int_equal(record_recover("/nonexistent/hv_vss", &reps, &n,
	                     fx->err, sizeof(fx->err)),
	    0);
	assert_int_equal(n, 0);
}

/*
 * Whether an owner lives is whether it holds its lock: a daemon killed
 * with SIGKILL is dead at once, and a running process that never opened
 * the record (here our parent, with its true pid and start time, as if
 * a dead daemon's pid had been reused by a process started in the same
 * clock tick) owns nothing.
 */
static void
owner_is_the_lock(void **state)
{
	struct fx *fx = *state;
	struct record_report *reps;
	char text[4096];
	pid_t owner = live_owner(fx->dir);
	size_t n;

	snprintf(text, sizeof(text),
	    RECORD_MAGIC "\n7:3 1 1700000000 %d %llu /nonexistent/a\n"
	                 "7:3 2 1700000000 %d %llu /nonexistent/b\n",
	    (int)owner, (unsigned long long)own_pstart(owner), (int)getppid(),
	    (unsigned long long)own_pstart(getppid()));
	write_file(fx->file, text);
	assert_int_equal(chmod(fx->file, 0644), 0);
	assert_int_equal(
	    record_recover(fx->dir, &reps, &n, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(n, 2);
	assert_int_equal(find(reps, n, 2)->outcome, RECORD_OWNER_ALIVE);
	assert_int_equal(find(reps, n, 3)->outcome, RECORD_GONE);
	free(reps);

	kill_owner(owner);
	assert_int_equal(
	    record_recover(fx->dir, &reps, &n, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(reps[0].outcome, RECORD_GONE);
	free(reps);
	assert_int_equal(access(fx->file, F_OK), -1);
}

static void
recover_distrusts(void **state)
{
	struct fx *fx = *state;
	struct record_report *reps;
	const char *text = RECORD_MAGIC
	    "\n7:3 1 1700000000 1 18446744073709551615 /nonexistent\n";
	size_t n;

	/* no magic line: nothing touched, the file left as it is */
	write_file(
	    fx->file, "7:3 1 1700000000 1 18446744073709551615 /nonexistent\n");
	assert_int_equal(chmod(fx->file, 0644), 0);
	assert_int_equal(
	    record_recover(fx->dir, &reps, &n, fx->err, sizeof(fx->err)), -1);
	assert_null(reps);
	assert_non_null(strstr(fx->err, "not a record; not trusted"));
	assert_string_equal(slurp(fx->file),
	    "7:3 1 1700000000 1 18446744073709551615 /nonexistent\n");
	/* an empty file: no magic either */
	write_file(fx->file, "");
	assert_int_equal(
	    record_recover(fx->dir, &reps, &n, fx->err, sizeof(fx->err)), -1);

	/* writable by others: not trusted */
	write_file(fx->file, text);
	assert_int_equal(chmod(fx->file, 0666), 0);
	assert_int_equal(
	    record_recover(fx->dir, &reps, &n, fx->err, sizeof(fx->err)), -1);
	assert_non_null(strstr(fx->err, "not trusted"));
	assert_string_equal(slurp(fx->file), text);

	/* a symlink: not followed */
	unlink(fx->file);
	assert_int_equal(symlink("/etc/hostname", fx->file), 0);
	assert_int_equal(
	    record_recover(fx->dir, &reps, &n, fx->err, sizeof(fx->err)), -1);
	unlink(fx->file);

	/* a run_dir others may write: not trusted */
	write_file(fx->file, text);
	assert_int_equal(chmod(fx->file, 0644), 0);
	assert_int_equal(chmod(fx->dir, 0777), 0);
	assert_int_equal(
	    record_recover(fx->dir, &reps, &n, fx->err, sizeof(fx->err)), -1);
	assert_non_null(strstr(fx->err, "writable by nobody else"));
	assert_int_equal(chmod(fx->dir, 0700), 0);

	/* an unterminated last line is not acted on */
	write_file(fx->file,
	    RECORD_MAGIC
	    "\n7:3 1 1700000000 1 18446744073709551615 /nonexistent");
	assert_int_equal(chmod(fx->file, 0644), 0);
	assert_int_equal(
	    record_recover(fx->dir, &reps, &n, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(reps[0].outcome, RECORD_BAD_LINE);
	free(reps);
	/* and the record is gone: nothing in it was worth keeping */
	assert_int_equal(access(fx->file, F_OK), -1);
}

/* What a dead daemon had frozen and is thawed now: by recovery
 * (THAWED) or already by its guard (NOT_FROZEN); nothing else. */
static void
thawed_behind(void **state)
{
	struct record_report r[7];
	int o;

	memset(r, 0, sizeof(r));
	for (o = RECORD_THAWED; o <= RECORD_BAD_LINE; o++)
		r[o - RECORD_THAWED].outcome = (enum record_outcome)o;
	assert_int_equal(record_thawed_behind(r, 7), 2);
	assert_int_equal(record_thawed_behind(r, 1), 1);
	assert_int_equal(record_thawed_behind(r + 2, 5), 0);
	assert_int_equal(record_thawed_behind(NULL, 0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(round_trip),
	    cmocka_unit_test(garbage_lines),
	    cmocka_unit_test(thawed_behind),
	    cmocka_unit_test_setup_teardown(tmpfs_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        dir_must_be_private, setup, teardown),
	    cmocka_unit_test_setup_teardown(add_remove_clear, setup, teardown),
	    cmocka_unit_test_setup_teardown(limits, setup, teardown),
	    cmocka_unit_test_setup_teardown(others_survive, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        recover_leaves_alone, setup, teardown),
	    cmocka_unit_test_setup_teardown(owner_is_the_lock, setup, teardown),
	    cmocka_unit_test_setup_teardown(behind_kept, setup, teardown),
	    cmocka_unit_test_setup_teardown(batch, setup, teardown),
	    cmocka_unit_test_setup_teardown(recover_distrusts, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
