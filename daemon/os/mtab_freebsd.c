/*
 * mtab_freebsd.c: the mount table on FreeBSD (mtab.h), from
 * getfsstat(2).
 *
 * getfsstat(NULL, 0) counts the mounts; the table can grow between the
 * count and the read, so the buffer has room for a few more and the
 * read is repeated while it comes back full.
 */
#include <sys/types.h>
#include <sys/param.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtab.h"
#include "util.h"

#define MTAB_TRIES 5

/* Is path dir itself or under it? */
static bool
under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return true;
	return strncmp(path, dir, n) == 0 &&
	    (path[n] == '\0' || path[n] == '/');
}

/* The statfs records, in a buffer of ours: *np of them. */
static int
read_fsstat(struct statfs **bufp, size_t *np, char *err, size_t errlen)
{
	struct statfs *buf = NULL;
	int n, got, tries, e;

	for (tries = 0; tries < MTAB_TRIES; tries++) {
		if ((n = getfsstat(NULL, 0, MNT_NOWAIT)) == -1) {
			e = errno;
			errfmt(err, errlen, e, "getfsstat");
			free(buf);
			return -e;
		}
		n += 8;
		free(buf);
		if ((buf = calloc((size_t)n, sizeof(*buf))) == NULL) {
			errfmt(err, errlen, 0, "getfsstat: out of memory");
			return -ENOMEM;
		}
		got = getfsstat(
		    buf, (long)((size_t)n * sizeof(*buf)), MNT_NOWAIT);
		if (got == -1) {
			e = errno;
			errfmt(err, errlen, e, "getfsstat");
			free(buf);
			return -e;
		}
		if (got < n) {
			*bufp = buf;
			*np = (size_t)got;
			return 0;
		}
	}
	free(buf);
	errfmt(err, errlen, 0,
	    "getfsstat: the mount table kept growing while read (%d tries)",
	    MTAB_TRIES);
	return -EAGAIN;
}

int
mtab_read(struct mtab *t, char *err, size_t errlen)
{
	struct statfs *sf;
	struct mtab_entry *m;
	struct stat st;
	size_t n, i, j, best;
	int rc;

	t->v = NULL;
	t->n = 0;
	if ((rc = read_fsstat(&sf, &n, err, errlen)) != 0)
		return rc;
	if (n > 0 && (t->v = calloc(n, sizeof(*t->v))) == NULL) {
		free(sf);
		errfmt(err, errlen, 0, "mount table: out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		m = &t->v[i];
		t->n = i + 1;
		m->target = strdup(sf[i].f_mntonname);
		m->source = strdup(sf[i].f_mntfromname);
		m->fstype = strdup(sf[i].f_fstypename);
		m->root = strdup("/");
		if (m->target == NULL || m->source == NULL ||
		    m->fstype == NULL || m->root == NULL) {
			free(sf);
			mtab_free(t);
			errfmt(err, errlen, 0, "mount table: out of memory");
			return -ENOMEM;
		}
		m->id = (int)i + 1;
		m->ro = (sf[i].f_flags & MNT_RDONLY) != 0;
		m->local = (sf[i].f_flags & MNT_LOCAL) != 0;
		memcpy(m->fsid.val, &sf[i].f_fsid, sizeof(m->fsid.val));
		/* a path reaches the top mount only: a covered one (a
		 * later mount on the same path) keeps dev 0 rather than
		 * the top one's */
		for (j = i + 1; j < n; j++)
			if (strcmp(sf[j].f_mntonname, sf[i].f_mntonname) == 0)
				break;
		if (m->local && j == n && stat(m->target, &st) == 0)
			m->dev = st.st_dev;
		/* the nearest earlier mount that contains this one */
		best = n;
		for (j = 0; j < i; j++)
			if (under(m->target, t->v[j].target) &&
			    (best == n ||
			        strlen(t->v[j].target) >=
			            strlen(t->v[best].target)))
				best = j;
		m->parent_id = best == n ? 0 : t->v[best].id;
	}
	free(sf);
	return 0;
}

void
mtab_free(struct mtab *t)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		free(t->v[i].target);
		free(t->v[i].source);
		free(t->v[i].fstype);
		free(t->v[i].root);
	}
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

int
mtab_read_file(struct mtab *t, const char *path, char *err, size_t errlen)
{
	if (path == NULL)
		return mtab_read(t, err, errlen);
	t->v = NULL;
	t->n = 0;
	errfmt(err, errlen, 0,
	    "%s: FreeBSD's mount table is getfsstat(2), not a file", path);
	return -EOPNOTSUPP;
}

int
mtab_in_memory(const char *path, char *fstype, size_t len)
{
	struct statfs sf;

	if (statfs(path, &sf) == -1)
		return -errno;
	snprintf(fstype, len, "%s", sf.f_fstypename);
	return strcmp(sf.f_fstypename, "tmpfs") == 0;
}

int
mtab_watch_open(const char *path)
{
	(void)path;
	return -EOPNOTSUPP;
}
