/*
 * record.c: the ownership record (see record.h for the file format).
 *
 * Why a record on top of the thaw guard: the guard thaws when the daemon
 * dies, but the guard can die too (kill -9 of both, the OOM killer, a
 * bug).  The record is how a restarted daemon learns what it had frozen,
 * so that it can thaw its own freezes -- and only its own: a filesystem
 * an administrator froze with fsfreeze is none of our business.
 *
 * Decisions and hazards:
 * - run_dir must be a tmpfs or ramfs; anything else is refused, not
 *   warned about.  The record is written while filesystems may be
 *   frozen (removals after a thaw, a failed thaw's leftovers, another
 *   freeze's entries); if run_dir were on one of them the write would
 *   block, and the daemon with it, holding everything frozen.  "It is not one of the planned
 *   filesystems" is not enough either: the plan changes with the mount
 *   table and the config.  And a record on disk would survive a reboot
 *   and name freezes that no longer exist.  tmpfs cannot be frozen and
 *   dies with the boot; systemd makes /run one everywhere.
 * - Once per freeze: every filesystem of it is staged and written at
 *   once (record_begin(), record_commit()), before anything is frozen.
 * - Atomic: a new file beside the old one, fsync'd (harmless on tmpfs),
 *   renamed over it.  A crash leaves the old record or the new one, and
 *   a temporary file no reader looks at.  Except when there is no record
 *   (nothing of ours is frozen, as before a backup): then it is written
 *   in place, since the rename would cost the freeze that follows a
 *   grace period (write_record()).  A crash in that write leaves a torn
 *   record that names nothing frozen; recovery reports its bad line and
 *   never acts on it.
 * - Trust: the record tells the daemon to FITHAW things, so it is read
 *   only if it and its directory belong to us and nobody else can write
 *   them; every line is parsed strictly (a bad line is reported and never
 *   acted on); and every entry is checked against the live mount table:
 *   the superblock now at the mount point must be the recorded one.
 * - Owner: each entry names the daemon (pid and start time) that froze
 *   it; while that process lives, its freezes are its own business.  A
 *   daemon says it lives by a read lock on one byte of run_dir, at an
 *   offset made of its pid and start time (an open file description
 *   lock: it is the process's own, and goes with its last fd when the
 *   process dies, however it dies).  Whether an owner lives is whether
 *   its byte is locked: no /proc/PID to read and compare, and a pid
 *   reused since holds no lock on our byte.
 * - What cannot be known cheaply: whether a filesystem that the record
 *   names, and the guard thawed, was frozen again since by somebody else;
 *   recovery would thaw that freeze.  And whether a filesystem not in the
 *   record is frozen (short of trying to freeze it): those are never
 *   looked at.
 * - Recovery opens each recorded mount point: a path walk, which reads
 *   but never writes, so a frozen filesystem does not block it (a hung
 *   FUSE server on the way would).  What the fd is on is asked only once
 *   every fd is open (os/mountid_linux.c): the mount table is read after the
 *   mounts are pinned, so a mount id reused since cannot be mistaken for
 *   the mount at the path, and nothing but the recorded superblock is
 *   ever thawed.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "os/devno.h"
#include "os/fsfreeze.h"
#include "os/mtab.h"
#include "os/owner.h"
#include "record.h"
#include "util.h"

#define MAJOR_MAX 4095u /* the kernel's dev_t: 12 bits */
#define MINOR_MAX 1048575u /* 20 bits */
#define PID_MAX 4194304u /* PID_MAX_LIMIT */
#define FILE_MAX (2 * RECORD_MAX * (RECORD_LINE_MAX + 1)) /* to read */

struct record {
	char dir[PATH_MAX];
	char path[PATH_MAX];
	pid_t pid; /* us */
	uint64_t pstart;
	int lockfd; /* run_dir, holding our owner lock */
	char behind_path[PATH_MAX];
	unsigned int behind; /* run_dir/thawed-behind's count; 0: none */
	char behind_note[PATH_MAX + 128]; /* why it was dropped */
	char expedited_path[PATH_MAX];
	bool expedited_left; /* found by record_open() */
	struct record_entry *e;
	size_t n, cap;
	char *line; /* RECORD_LINE_MAX + 1 */
	/* record_begin(): record_add() only stages, and the entries as
	 * they were are kept for record_rollback() */
	bool batch;
	struct record_entry *saved;
	size_t nsaved;
};

int
record_check_dir(const char *dir, char *err, size_t errlen)
{
	char type[32];
	int rc;

	if ((rc = mtab_in_memory(dir, type, sizeof(type))) < 0) {
		errfmt(err, errlen, -rc, "%s", dir);
		return -1;
	}
	if (rc == 0) {
		errfmt(err, errlen, 0,
		    "%s: not a tmpfs or ramfs: the record of frozen filesystems must live in memory (see run_dir)",
		    dir);
		return -1;
	}
	return 0;
}

/* dir: on tmpfs, a directory, ours, writable by us alone. */
static int
check_dir_owner(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (record_check_dir(dir, err, errlen) == -1)
		return -1;
	if (stat(dir, &st) == -1) {
		errfmt(err, errlen, errno, "%s", dir);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		errfmt(err, errlen, 0, "%s: not a directory", dir);
		return -1;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 022) != 0) {
		errfmt(err, errlen, 0,
		    "%s: must be owned by us and writable by nobody else", dir);
		return -1;
	}
	return 0;
}

/* Bytes written escaped in a mount point (see record.h). */
static bool
must_escape(unsigned char c)
{
	return c <= ' ' || c == '\\' || c == 0x7f;
}

int
record_format(const struct record_entry *e, char *buf, size_t len)
{
	const unsigned char *s;
	size_t n;
	int k;

	k = snprintf(buf, len, "%u:%u %llu %llu %d %llu ", devno_major(e->dev),
	    devno_minor(e->dev), (unsigned long long)e->txid,
	    (unsigned long long)e->time, (int)e->pid,
	    (unsigned long long)e->pstart);
	if (k < 0 || (size_t)k >= len)
		return -ENAMETOOLONG;
	n = (size_t)k;
	for (s = (const unsigned char *)e->mountpoint; *s != '\0'; s++) {
		/* the byte or its \ooo, and the final NUL */
		if (n + (must_escape(*s) ? 4 : 1) + 1 > len)
			return -ENAMETOOLONG;
		if (must_escape(*s))
			n += (size_t)snprintf(buf + n, len - n, "\\%03o", *s);
		else
			buf[n++] = (char)*s;
	}
	buf[n] = '\0';
	return (int)n;
}

/* A decimal number from 0 to max, without sign or leading zeros, then
 * the byte stop; returns what follows stop, or NULL. */
static const char *
parse_num(const char *s, char stop, uint64_t max, uint64_t *out)
{
	uint64_t v = 0, d;

	if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] >= '0' && s[1] <= '9'))
		return NULL;
	for (; *s >= '0' && *s <= '9'; s++) {
		d = (uint64_t)(*s - '0');
		if (v > (max - d) / 10)
			return NULL;
		v = v * 10 + d;
	}
	if (*s != stop)
		return NULL;
	*out = v;
	return s + 1;
}

/* Absolute, no empty, "." or ".." component, no trailing slash. */
static bool
canonical(const char *p)
{
	const char *c;
	size_t n;

	if (p[0] != '/')
		return false;
	if (p[1] == '\0')
		return true;
	for (c = p + 1;; c += n + 1) {
		n = strcspn(c, "/");
		if (n == 0 || (n == 1 && c[0] == '.') ||
		    (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		if (c[n] == '\0')
			return true;
	}
}

int
record_parse(const char *line, struct record_entry *e)
{
	struct record_entry t;
	uint64_t maj, min, v;
	const char *s = line;
	size_t n = 0;
	unsigned char c;

	memset(&t, 0, sizeof(t));
	if ((s = parse_num(s, ':', MAJOR_MAX, &maj)) == NULL ||
	    (s = parse_num(s, ' ', MINOR_MAX, &min)) == NULL ||
	    (s = parse_num(s, ' ', UINT64_MAX, &t.txid)) == NULL ||
	    (s = parse_num(s, ' ', UINT64_MAX, &t.time)) == NULL ||
	    (s = parse_num(s, ' ', PID_MAX, &v)) == NULL || v == 0 ||
	    (s = parse_num(s, ' ', UINT64_MAX, &t.pstart)) == NULL)
		return -EINVAL;
	t.dev = devno_make((unsigned int)maj, (unsigned int)min);
	t.pid = (pid_t)v;
	while (*s != '\0') {
		c = (unsigned char)*s;
		if (c == '\\') {
			/* exactly \ooo, and only for a byte that needs it */
			if (s[1] < '0' || s[1] > '3' || s[2] < '0' ||
			    s[2] > '7' || s[3] < '0' || s[3] > '7')
				return -EINVAL;
			c = (unsigned char)((s[1] - '0') * 64 +
			    (s[2] - '0') * 8 + (s[3] - '0'));
			if (c == 0 || !must_escape(c))
				return -EINVAL;
			s += 4;
		} else if (must_escape(c))
			return -EINVAL;
		else
			s++;
		if (n + 1 >= sizeof(t.mountpoint))
			return -EINVAL;
		t.mountpoint[n++] = (char)c;
	}
	t.mountpoint[n] = '\0';
	if (!canonical(t.mountpoint))
		return -EINVAL;
	*e = t;
	return 0;
}

/*
 * Replace the file at path (in dir) with these entries, atomically; no
 * entry: remove it.  line is a RECORD_LINE_MAX + 1 scratch buffer.
 */
/* A new file beside run_dir/file, to be renamed over it: its fd, with
 * its name in tmp (PATH_MAX), or -errno. */
static int
open_tmp(const char *dir, const char *file, char *tmp)
{
	int fd;

	if (snprintf(tmp, PATH_MAX, "%s/.%s.XXXXXX", dir, file) >= PATH_MAX)
		return -ENAMETOOLONG;
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1)
		return -errno;
	return fd;
}

/*
 * The end of a file written through fd as name (rc: how the writing
 * went): closed and, if name is a temporary one, renamed over path; on
 * any failure it is removed.  0 or -errno.
 */
static int
close_into(int fd, int rc, const char *name, const char *path)
{
	if (close(fd) == -1 && rc == 0)
		rc = -errno;
	if (rc == 0 && strcmp(name, path) != 0 && rename(name, path) == -1)
		rc = -errno;
	if (rc != 0)
		(void)unlink(name);
	return rc;
}

static int
write_record(const char *dir, const char *path, const struct record_entry *e,
    size_t n, char *line)
{
	char tmp[PATH_MAX];
	const char *name = tmp;
	size_t i;
	int fd, k, rc = 0;

	if (n == 0)
		return unlink(path) == -1 && errno != ENOENT ? -errno : 0;
	/*
	 * No record yet (a backup's filesystems, before any is frozen):
	 * written in place.  A rename into the name frees its negative
	 * dentry through an RCU callback, right before the FIFREEZE this
	 * record is written for; a cold FIFREEZE that starts while that
	 * callback's grace period runs waits a whole grace period more,
	 * about 8 ms (bench/README.md).  Nothing of ours is frozen while
	 * there is no record, so a torn write names nothing frozen.
	 */
	fd = open(
	    path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd != -1)
		name = path;
	else if (errno != EEXIST)
		return -errno;
	else if ((fd = open_tmp(dir, RECORD_FILE, tmp)) < 0)
		return fd;
	if (fchmod(fd, 0644) == -1)
		rc = -errno;
	if (rc == 0)
		rc = write_all(fd, RECORD_MAGIC "\n", strlen(RECORD_MAGIC) + 1);
	for (i = 0; i < n && rc == 0; i++) {
		if ((k = record_format(&e[i], line, RECORD_LINE_MAX)) < 0) {
			rc = k;
			break;
		}
		line[k++] = '\n';
		rc = write_all(fd, line, (size_t)k);
	}
	if (rc == 0 && fsync(fd) == -1)
		rc = -errno;
	return close_into(fd, rc, name, path);
}

/*
 * Read the record at path into a NUL-terminated buffer, if it can be
 * trusted (regular, ours, writable by us alone).  NULL with *rc = 0 if
 * there is none, else with *rc = -1 and err.
 */
static char *
read_record(const char *path, size_t *len, int *rc, char *err, size_t errlen)
{
	struct stat st;
	char *buf;
	ssize_t n;
	size_t got = 0;
	int fd;

	*rc = -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		if (errno == ENOENT)
			*rc = 0;
		else
			errfmt(err, errlen, errno, "%s", path);
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		errfmt(err, errlen, errno, "%s", path);
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 022) != 0 || st.st_size > FILE_MAX) {
		errfmt(err, errlen, 0,
		    "%s: not a regular file of ours, writable by us alone, of a sane size; not trusted",
		    path);
		close(fd);
		return NULL;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		errfmt(err, errlen, errno, "%s", path);
		close(fd);
		return NULL;
	}
	while (got < (size_t)st.st_size) {
		n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	*len = got;
	*rc = 0;
	return buf;
}

/*
 * Split a record's text into entries (each with its line number); lines
 * that do not parse are reported as BAD_LINE in reps.  -1 and err if the
 * magic line is missing.
 */
static int
parse_record(char *buf, size_t len, struct record_entry *e, unsigned int *lines,
    size_t *ne, struct record_report *reps, size_t *nrep, char *err,
    size_t errlen, const char *path)
{
	char *p = buf, *nl, *end = buf + len;
	unsigned int lineno = 1;

	*ne = 0;
	nl = memchr(p, '\n', (size_t)(end - p));
	if (nl == NULL || (size_t)(nl - p) != strlen(RECORD_MAGIC) ||
	    memcmp(p, RECORD_MAGIC, strlen(RECORD_MAGIC)) != 0) {
		errfmt(err, errlen, 0,
		    "%s: no \"%s\" line: not a record; not trusted", path,
		    RECORD_MAGIC);
		return -1;
	}
	for (p = nl + 1; p < end; p = nl + 1) {
		lineno++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end; /* an unterminated last line: bad */
		if (nl < end)
			*nl = '\0';
		if (nl == end || strlen(p) != (size_t)(nl - p) ||
		    (size_t)(nl - p) > RECORD_LINE_MAX || *ne == RECORD_MAX ||
		    record_parse(p, &e[*ne]) != 0) {
			memset(&reps[*nrep], 0, sizeof(reps[*nrep]));
			reps[*nrep].outcome = RECORD_BAD_LINE;
			reps[*nrep].line = lineno;
			(*nrep)++;
			continue;
		}
		lines[(*ne)++] = lineno;
	}
	return 0;
}

int
record_devno(int fd, dev_t *dev)
{
	int rc, e;

	if ((rc = fsfreeze_devs(&fd, 1, dev, &e)) != 0)
		return rc;
	return -e;
}

/*
 * One recorded filesystem, first half: unless its owner lives, open its
 * mount point.  *fd is -1 when there is nothing more to do.
 */
static void
recover_open(struct record_report *rep, int dirfd, int *fd, bool *keep)
{
	const struct record_entry *e = &rep->e;

	*keep = false;
	*fd = -1;
	if (owner_alive(dirfd, e->pid, e->pstart) == 1) {
		rep->outcome = RECORD_OWNER_ALIVE;
		*keep = true;
		return;
	}
	*fd = open(e->mountpoint,
	    O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (*fd == -1) {
		rep->outcome = RECORD_GONE;
		rep->err = errno;
	}
}

/* Second half: thaw it if the fd is on the superblock we froze. */
static void
recover_thaw(struct record_report *rep, int fd, dev_t dev, int err, bool *keep)
{
	int rc;

	if (err != 0) {
		rep->outcome = RECORD_GONE;
		rep->err = err;
	} else if (dev != rep->e.dev) {
		/* never touched: not the superblock we froze */
		rep->outcome = RECORD_OTHER_FS;
		rep->found = dev;
	} else if ((rc = fsfreeze_thaw(&fd)) == 0)
		rep->outcome = RECORD_THAWED;
	else if (rc == -EINVAL)
		rep->outcome = RECORD_NOT_FROZEN;
	else {
		rep->outcome = RECORD_FAILED;
		rep->err = -rc;
		*keep = true;
	}
}

int
record_recover(const char *run_dir, struct record_report **reports,
    size_t *nreports, char *err, size_t errlen)
{
	struct record_entry *e = NULL, *kept = NULL;
	struct record_report *reps = NULL;
	dev_t *devs = NULL;
	int *errs = NULL;
	unsigned int *lines = NULL;
	char path[PATH_MAX], *buf = NULL, *line = NULL;
	size_t len = 0, ne = 0, nrep = 0, nkept = 0, nlines, i, k;
	bool *keep = NULL;
	int rc, dirfd = -1, *fds = NULL;

	*reports = NULL;
	*nreports = 0;
	if (snprintf(path, sizeof(path), "%s/%s", run_dir, RECORD_FILE) >=
	    (int)sizeof(path)) {
		errfmt(err, errlen, 0, "%s: path too long", run_dir);
		return -1;
	}
	if (access(run_dir, F_OK) == -1 && errno == ENOENT)
		return 0; /* no run_dir, no record */
	if (check_dir_owner(run_dir, err, errlen) == -1)
		return -1;
	if ((buf = read_record(path, &len, &rc, err, errlen)) == NULL)
		return rc;

	nlines = 1;
	for (i = 0; i < len; i++)
		nlines += buf[i] == '\n';
	e = calloc(nlines, sizeof(*e));
	kept = calloc(nlines, sizeof(*kept));
	lines = calloc(nlines, sizeof(*lines));
	reps = calloc(nlines, sizeof(*reps));
	devs = calloc(nlines, sizeof(*devs));
	errs = calloc(nlines, sizeof(*errs));
	fds = calloc(nlines, sizeof(*fds));
	keep = calloc(nlines, sizeof(*keep));
	line = malloc(RECORD_LINE_MAX + 1);
	if (e == NULL || kept == NULL || lines == NULL || reps == NULL ||
	    devs == NULL || errs == NULL || fds == NULL || keep == NULL ||
	    line == NULL) {
		errfmt(err, errlen, ENOMEM, "%s", path);
		rc = -1;
		goto out;
	}
	if ((dirfd = open(run_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		errfmt(err, errlen, errno, "%s", run_dir);
		rc = -1;
		goto out;
	}
	if ((rc = parse_record(
	         buf, len, e, lines, &ne, reps, &nrep, err, errlen, path)) != 0)
		goto out;
	/*
	 * Newest first: a loop image's filesystem after its holder's.  Every
	 * mount point is opened before any is identified: an open fd pins
	 * its mount, so the mount table read then cannot confuse it with one
	 * that took its mount id since (os/mountid.h).
	 */
	for (i = 0; i < ne; i++) {
		struct record_report *rep = &reps[nrep + i];

		memset(rep, 0, sizeof(*rep));
		rep->e = e[ne - 1 - i];
		rep->line = lines[ne - 1 - i];
		recover_open(rep, dirfd, &fds[i], &keep[i]);
	}
	for (i = 0, k = 0; i < ne; i++)
		if (fds[i] >= 0)
			fds[k++] = fds[i];
	if ((rc = fsfreeze_devs(fds, k, devs, errs)) != 0) {
		errfmt(err, errlen, -rc, "reading the mount table");
		for (i = 0; i < k; i++)
			close(fds[i]);
		rc = -1;
		goto out;
	}
	for (i = 0, k = 0; i < ne; i++) {
		struct record_report *rep = &reps[nrep + i];

		if (rep->outcome == RECORD_OWNER_ALIVE ||
		    rep->outcome == RECORD_GONE)
			continue;
		recover_thaw(rep, fds[k], devs[k], errs[k], &keep[i]);
		close(fds[k++]);
	}
	for (i = 0; i < ne; i++)
		if (keep[i])
			kept[nkept++] = reps[nrep + i].e;
	nrep += ne;
	/* kept entries in their original order, oldest first */
	for (i = 0; i < nkept / 2; i++) {
		struct record_entry t = kept[i];

		kept[i] = kept[nkept - 1 - i];
		kept[nkept - 1 - i] = t;
	}
	if ((rc = write_record(run_dir, path, kept, nkept, line)) != 0) {
		errfmt(err, errlen, -rc, "rewriting %s", path);
		rc = -1;
	}
	*reports = reps;
	*nreports = nrep;
	reps = NULL;
out:
	if (dirfd != -1)
		close(dirfd);
	free(devs);
	free(errs);
	free(fds);
	free(keep);
	free(buf);
	free(e);
	free(kept);
	free(lines);
	free(reps);
	free(line);
	return rc;
}

/*
 * run_dir/thawed-behind into r->behind (record.h).  What cannot be
 * trusted or read is warned about and dropped: a THAW answered S_OK
 * that should have failed is the cost, the same as without the file.
 */
static void
read_behind(struct record *r)
{
	char *buf, *end;
	unsigned long n;
	size_t len;
	int rc;

	r->behind = 0;
	if ((buf = read_record(r->behind_path, &len, &rc, r->behind_note,
	         sizeof(r->behind_note))) == NULL)
		return;
	if (len > strlen(RECORD_BEHIND_MAGIC) + 1 &&
	    strncmp(buf, RECORD_BEHIND_MAGIC "\n",
	        strlen(RECORD_BEHIND_MAGIC) + 1) == 0) {
		errno = 0;
		n = strtoul(buf + strlen(RECORD_BEHIND_MAGIC) + 1, &end, 10);
		if (errno == 0 && *end == '\n' && end[1] == '\0' && n > 0 &&
		    n <= RECORD_MAX)
			r->behind = (unsigned int)n;
	}
	if (r->behind == 0) {
		snprintf(r->behind_note, sizeof(r->behind_note),
		    "%s: not a count of filesystems thawed behind the host's back; dropped",
		    r->behind_path);
		(void)unlink(r->behind_path);
	}
	free(buf);
}

unsigned int
record_behind(const struct record *r, const char **note)
{
	*note = r->behind_note[0] != '\0' ? r->behind_note : NULL;
	return r->behind;
}

int
record_set_behind(struct record *r, unsigned int n)
{
	char buf[64], tmp[PATH_MAX];
	int fd, k, rc = 0;

	if (n == 0) {
		if (unlink(r->behind_path) == -1 && errno != ENOENT)
			return -errno;
		r->behind = 0;
		return 0;
	}
	if (n > RECORD_MAX)
		n = RECORD_MAX;
	k = snprintf(buf, sizeof(buf), "%s\n%u\n", RECORD_BEHIND_MAGIC, n);
	if ((fd = open_tmp(r->dir, RECORD_BEHIND_FILE, tmp)) < 0)
		return fd;
	if (fchmod(fd, 0644) == -1)
		rc = -errno;
	if (rc == 0)
		rc = write_all(fd, buf, (size_t)k);
	if ((rc = close_into(fd, rc, tmp, r->behind_path)) == 0)
		r->behind = n;
	return rc;
}

int
record_note_expedited(struct record *r, bool on)
{
	int fd;

	if (!on) {
		r->expedited_left = false;
		return unlink(r->expedited_path) == 0 || errno == ENOENT
		    ? 0
		    : -errno;
	}
	fd = open(r->expedited_path,
	    O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd == -1)
		return -errno;
	close(fd);
	return 0;
}

bool
record_expedited_left(const struct record *r)
{
	return r->expedited_left;
}

int
record_start_expedited(struct record *r, char *err, size_t errlen)
{
	int rc;

	if (!r->expedited_left)
		return 0;
	if ((rc = fsfreeze_expedite(false)) != 0)
		errfmt(err, errlen, -rc,
		    "the daemon before this one died while the kernel's grace periods were expedited for its freeze; putting them back");
	else {
		snprintf(err, errlen,
		    "the daemon before this one died while the kernel's grace periods were expedited for its freeze: put back to normal");
		(void)record_note_expedited(r, false);
	}
	return 1;
}

unsigned int
record_start_behind(
    struct record *r, size_t recovered, char *err, size_t errlen)
{
	const char *note;
	unsigned int kept = record_behind(r, &note);
	int rc;

	err[0] = '\0';
	if (note != NULL)
		snprintf(err, errlen, "%s", note);
	if (recovered == 0)
		return kept;
	if ((rc = record_set_behind(r, (unsigned int)recovered)) != 0)
		errfmt(err, errlen, -rc, "%s", r->behind_path);
	return (unsigned int)recovered;
}

struct record *
record_open(const char *run_dir, char *err, size_t errlen)
{
	struct record_entry *e = NULL;
	struct record_report *reps = NULL;
	struct record *r;
	unsigned int *lines = NULL;
	char *buf = NULL;
	size_t len = 0, ne = 0, nrep = 0, nlines, i;
	struct stat st;
	int rc;

	if ((r = calloc(1, sizeof(*r))) != NULL)
		r->lockfd = -1;
	if (r == NULL || (r->line = malloc(RECORD_LINE_MAX + 1)) == NULL) {
		errfmt(err, errlen, ENOMEM, "%s", run_dir);
		goto fail;
	}
	if (snprintf(r->dir, sizeof(r->dir), "%s", run_dir) >=
	        (int)sizeof(r->dir) ||
	    snprintf(r->path, sizeof(r->path), "%s/%s", run_dir, RECORD_FILE) >=
	        (int)sizeof(r->path) ||
	    snprintf(r->behind_path, sizeof(r->behind_path), "%s/%s", run_dir,
	        RECORD_BEHIND_FILE) >= (int)sizeof(r->behind_path) ||
	    snprintf(r->expedited_path, sizeof(r->expedited_path), "%s/%s",
	        run_dir,
	        RECORD_EXPEDITED_FILE) >= (int)sizeof(r->expedited_path)) {
		errfmt(err, errlen, 0, "%s: path too long", run_dir);
		goto fail;
	}
	if (mkdir(run_dir, 0755) == -1 && errno != EEXIST) {
		errfmt(err, errlen, errno, "mkdir %s", run_dir);
		goto fail;
	}
	if (check_dir_owner(run_dir, err, errlen) == -1)
		goto fail;
	r->pid = getpid();
	if ((rc = owner_start(&r->pstart)) != 0) {
		errfmt(err, errlen, -rc, "our start time");
		goto fail;
	}
	/* we live: another daemon's recovery leaves our entries alone */
	r->lockfd = open(run_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->lockfd == -1) {
		errfmt(err, errlen, errno, "locking %s", run_dir);
		goto fail;
	}
	if ((rc = owner_hold(r->lockfd, r->pid, r->pstart)) != 0) {
		errfmt(err, errlen, -rc, "locking %s", run_dir);
		goto fail;
	}
	read_behind(r);
	r->expedited_left = lstat(r->expedited_path, &st) == 0 &&
	    S_ISREG(st.st_mode) && st.st_uid == geteuid();

	/* keep what is there already (what recovery could not finish) */
	if ((buf = read_record(r->path, &len, &rc, err, errlen)) == NULL) {
		if (rc != 0)
			goto fail;
		return r;
	}
	nlines = 1;
	for (i = 0; i < len; i++)
		nlines += buf[i] == '\n';
	e = calloc(nlines, sizeof(*e));
	lines = calloc(nlines, sizeof(*lines));
	reps = calloc(nlines, sizeof(*reps));
	if (e == NULL || lines == NULL || reps == NULL) {
		errfmt(err, errlen, ENOMEM, "%s", r->path);
		goto fail;
	}
	if (parse_record(buf, len, e, lines, &ne, reps, &nrep, err, errlen,
	        r->path) != 0)
		goto fail;
	r->e = e;
	r->n = r->cap = ne;
	e = NULL;
	free(buf);
	free(lines);
	free(reps);
	return r;
fail:
	free(buf);
	free(e);
	free(lines);
	free(reps);
	record_close(r);
	return NULL;
}

void
record_close(struct record *r)
{
	if (r == NULL)
		return;
	if (r->lockfd != -1)
		close(r->lockfd);
	free(r->saved);
	free(r->e);
	free(r->line);
	free(r);
}

int
record_add(struct record *r, dev_t dev, const char *mountpoint, uint64_t txid)
{
	struct record_entry t, back, *ne;
	size_t i, cap;
	int rc;

	memset(&t, 0, sizeof(t));
	if (snprintf(t.mountpoint, sizeof(t.mountpoint), "%s", mountpoint) >=
	    (int)sizeof(t.mountpoint))
		return -ENAMETOOLONG;
	t.dev = dev;
	t.txid = txid;
	t.time = (uint64_t)time(NULL);
	t.pid = r->pid;
	t.pstart = r->pstart;
	/* what recovery cannot read back must not be recorded */
	if ((rc = record_format(&t, r->line, RECORD_LINE_MAX)) < 0)
		return rc;
	if (record_parse(r->line, &back) != 0 || back.dev != t.dev ||
	    back.txid != t.txid || back.time != t.time || back.pid != t.pid ||
	    back.pstart != t.pstart ||
	    strcmp(back.mountpoint, t.mountpoint) != 0)
		return -EINVAL;

	for (i = 0; i < r->n; i++)
		if (r->e[i].dev == dev)
			break;
	if (i == r->n) {
		if (r->n == RECORD_MAX)
			return -ENOSPC;
		if (r->n == r->cap) {
			cap = r->cap == 0 ? 8 : r->cap * 2;
			if ((ne = reallocarray(r->e, cap, sizeof(*ne))) == NULL)
				return -ENOMEM;
			r->e = ne;
			r->cap = cap;
		}
		r->e[r->n++] = t;
		if (r->batch)
			return 0;
		if ((rc = write_record(r->dir, r->path, r->e, r->n, r->line)) !=
		    0)
			r->n--;
		return rc;
	}
	back = r->e[i];
	r->e[i] = t;
	if (r->batch)
		return 0;
	if ((rc = write_record(r->dir, r->path, r->e, r->n, r->line)) != 0)
		r->e[i] = back;
	return rc;
}

int
record_begin(struct record *r)
{
	if (r->batch)
		return 0;
	if ((r->saved = calloc(r->n + 1, sizeof(*r->saved))) == NULL)
		return -ENOMEM;
	if (r->n > 0)
		memcpy(r->saved, r->e, r->n * sizeof(*r->saved));
	r->nsaved = r->n;
	r->batch = true;
	return 0;
}

void
record_rollback(struct record *r)
{
	if (!r->batch)
		return;
	/* the staged entries were only added or replaced: the array still
	 * has room for what it held */
	if (r->nsaved > 0)
		memcpy(r->e, r->saved, r->nsaved * sizeof(*r->e));
	r->n = r->nsaved;
	r->batch = false;
	free(r->saved);
	r->saved = NULL;
}

int
record_commit(struct record *r)
{
	int rc;

	if (!r->batch)
		return 0;
	/* one write for the whole freeze: the first, with no record, in
	 * place (write_record()) */
	if ((rc = write_record(r->dir, r->path, r->e, r->n, r->line)) != 0) {
		record_rollback(r);
		return rc;
	}
	r->batch = false;
	free(r->saved);
	r->saved = NULL;
	return 0;
}

/* Remove the entries that match, and write; all or nothing. */
static int
remove_where(struct record *r,
    bool (*match)(const struct record *, const struct record_entry *, dev_t),
    dev_t dev)
{
	struct record_entry *old;
	size_t i, n = 0, oldn = r->n;
	int rc;

	/* a freeze's entries are being staged (record_begin()): this write
	 * would put them on disk before their commit */
	if (r->batch)
		return -EBUSY;
	if ((old = calloc(oldn + 1, sizeof(*old))) == NULL)
		return -ENOMEM;
	if (oldn > 0) /* r->e may still be NULL */
		memcpy(old, r->e, oldn * sizeof(*old));
	for (i = 0; i < oldn; i++)
		if (!match(r, &old[i], dev))
			r->e[n++] = old[i];
	r->n = n;
	if (n == oldn)
		rc = 0; /* nothing to change */
	else if ((rc = write_record(r->dir, r->path, r->e, r->n, r->line)) !=
	    0) {
		memcpy(r->e, old, oldn * sizeof(*old));
		r->n = oldn;
	}
	free(old);
	return rc;
}

static bool
match_dev(const struct record *r, const struct record_entry *e, dev_t dev)
{
	return e->dev == dev;
}

static bool
match_ours(const struct record *r, const struct record_entry *e, dev_t dev)
{
	return e->pid == r->pid && e->pstart == r->pstart;
}

int
record_remove(struct record *r, dev_t dev)
{
	return remove_where(r, match_dev, dev);
}

int
record_clear(struct record *r)
{
	return remove_where(r, match_ours, 0);
}

size_t
record_count(const struct record *r)
{
	return r->n;
}

const struct record_entry *
record_get(const struct record *r, size_t i)
{
	return i < r->n ? &r->e[i] : NULL;
}

const char *
record_outcome_name(enum record_outcome o)
{
	switch (o) {
	case RECORD_THAWED:
		return "thawed";
	case RECORD_NOT_FROZEN:
		return "not frozen";
	case RECORD_FAILED:
		return "thaw failed";
	case RECORD_GONE:
		return "gone";
	case RECORD_OTHER_FS:
		return "other filesystem";
	case RECORD_OWNER_ALIVE:
		return "owner alive";
	case RECORD_BAD_LINE:
		return "bad line";
	}
	return "?";
}

size_t
record_thawed_behind(const struct record_report *reports, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		if (reports[i].outcome == RECORD_THAWED ||
		    reports[i].outcome == RECORD_NOT_FROZEN)
			k++;
	return k;
}

void
record_describe(const struct record_report *rep, char *buf, size_t len)
{
	const struct record_entry *e = &rep->e;
	char when[32], what[PATH_MAX + 160];
	struct tm tm;
	time_t t = (time_t)e->time;

	if (rep->outcome == RECORD_BAD_LINE) {
		snprintf(buf, len, "record line %u: not a record line; ignored",
		    rep->line);
		return;
	}
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(
		    when, sizeof(when), "%llu", (unsigned long long)e->time);
	snprintf(what, sizeof(what),
	    "%s (%u:%u, frozen by pid %d for transaction %llu at %s)",
	    e->mountpoint, devno_major(e->dev), devno_minor(e->dev),
	    (int)e->pid, (unsigned long long)e->txid, when);
	switch (rep->outcome) {
	case RECORD_THAWED:
		snprintf(buf, len, "thawed %s: it was left frozen", what);
		break;
	case RECORD_NOT_FROZEN:
		snprintf(buf, len, "%s: not frozen any more", what);
		break;
	case RECORD_FAILED:
		snprintf(buf, len, "%s: %s: %s; kept in the record", what,
		    fsfreeze_op_thaw, strerror(rep->err));
		break;
	case RECORD_GONE:
		snprintf(buf, len, "%s: gone (%s); dropped", what,
		    strerror(rep->err));
		break;
	case RECORD_OTHER_FS:
		snprintf(buf, len, "%s: %u:%u is mounted there now; left alone",
		    what, devno_major(rep->found), devno_minor(rep->found));
		break;
	case RECORD_OWNER_ALIVE:
		snprintf(
		    buf, len, "%s: that daemon still runs; left alone", what);
		break;
	default:
		snprintf(buf, len, "%s: ?", what);
	}
}
