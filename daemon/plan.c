/*
 * plan.c: the freeze plan.  From the mount table (mountinfo, read with
 * libmount) and the block device stacks (sysfs), decide which filesystems
 * a backup freezes, in which order, and why every other mount is left out.
 * It reads files and nothing else (no logging, no exit, no ioctl), so the
 * unit tests feed it a fixture mountinfo and a fake sysfs tree, and
 * "hv_vss_ctl plan" can print exactly what the freezer would do.
 *
 * Three passes.  Selection: every mount that the process can reach is
 * either a candidate or a skip with a human reason, in a fixed order of
 * checks (hidden, allow-list, exclude, filesystem class, read-only,
 * freezability).  Grouping: candidates that share a superblock (the
 * major:minor in mountinfo: bind mounts, btrfs subvolumes) become one
 * target, named by the shortest mount point.  Ordering: edges between
 * targets say which one must be frozen before which (loop images first,
 * then mount nesting), and each target gets a level, the length of the
 * longest chain of targets that must be frozen before it.  The freezer
 * freezes one level at a time (the targets of a level in parallel) and
 * thaws in the exact reverse order.
 *
 * A plan can say "veto": the policy refuses a backup now (an unfreezable
 * read-write filesystem with unfreezable=veto, an allow-listed mount point
 * that is not mounted, loop images that form a cycle).  A veto is not an
 * error: plan_build() still returns 0, with every skip filled in.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/loop.h>
#include <linux/major.h>
#include <sys/ioctl.h>

#include <libmount.h>

#include "plan.h"
#include "util.h"

#define NONE SIZE_MAX
#define WALK_DEPTH 8 /* sysfs levels: dm over md over loop ... */
#define WALK_DIRS 64 /* sysfs device directories read per target */
#define SYSFS_LINE (PATH_MAX + 64) /* a backing_file, a dev, a dm name */

/* What a backup can do with a filesystem type. */
enum fsclass {
	FSC_UNKNOWN = 0,
	FSC_FREEZE, /* block filesystem whose kernel driver can freeze */
	FSC_NOFREEZE, /* disk filesystem without freeze support */
	FSC_PSEUDO,
	FSC_NETWORK,
	FSC_MEMORY,
	FSC_OVERLAY,
	FSC_FUSE,
};

static const struct {
	const char *type;
	enum fsclass cls;
} fstypes[] = {
    {"ext2", FSC_FREEZE},
    {"ext3", FSC_FREEZE},
    {"ext4", FSC_FREEZE},
    {"xfs", FSC_FREEZE},
    {"btrfs", FSC_FREEZE},
    {"f2fs", FSC_FREEZE},
    {"jfs", FSC_FREEZE},
    {"reiserfs", FSC_FREEZE},
    {"gfs2", FSC_FREEZE},
    {"ocfs2", FSC_FREEZE},
    {"nilfs2", FSC_FREEZE},

    {"vfat", FSC_NOFREEZE},
    {"msdos", FSC_NOFREEZE},
    {"exfat", FSC_NOFREEZE},
    {"ntfs", FSC_NOFREEZE},
    {"ntfs3", FSC_NOFREEZE},
    {"hfs", FSC_NOFREEZE},
    {"hfsplus", FSC_NOFREEZE},
    {"udf", FSC_NOFREEZE},
    {"iso9660", FSC_NOFREEZE},
    {"minix", FSC_NOFREEZE},

    {"proc", FSC_PSEUDO},
    {"sysfs", FSC_PSEUDO},
    {"cgroup", FSC_PSEUDO},
    {"cgroup2", FSC_PSEUDO},
    {"devpts", FSC_PSEUDO},
    {"securityfs", FSC_PSEUDO},
    {"debugfs", FSC_PSEUDO},
    {"tracefs", FSC_PSEUDO},
    {"configfs", FSC_PSEUDO},
    {"pstore", FSC_PSEUDO},
    {"bpf", FSC_PSEUDO},
    {"mqueue", FSC_PSEUDO},
    {"hugetlbfs", FSC_PSEUDO},
    {"autofs", FSC_PSEUDO},
    {"binfmt_misc", FSC_PSEUDO},
    {"efivarfs", FSC_PSEUDO},
    {"fusectl", FSC_PSEUDO},
    {"rpc_pipefs", FSC_PSEUDO},
    {"nfsd", FSC_PSEUDO},
    {"nsfs", FSC_PSEUDO},
    {"selinuxfs", FSC_PSEUDO},
    {"binder", FSC_PSEUDO},
    {"xenfs", FSC_PSEUDO},

    {"nfs", FSC_NETWORK},
    {"nfs4", FSC_NETWORK},
    {"cifs", FSC_NETWORK},
    {"smb3", FSC_NETWORK},
    {"smbfs", FSC_NETWORK},
    {"ceph", FSC_NETWORK},
    {"9p", FSC_NETWORK},
    {"afs", FSC_NETWORK},
    {"ncpfs", FSC_NETWORK},
    {"coda", FSC_NETWORK},
    {"lustre", FSC_NETWORK},
    {"orangefs", FSC_NETWORK},
    {"virtiofs", FSC_NETWORK},
    {"vboxsf", FSC_NETWORK},

    {"tmpfs", FSC_MEMORY},
    {"ramfs", FSC_MEMORY},
    {"devtmpfs", FSC_MEMORY},
    {"rootfs", FSC_MEMORY},

    {"overlay", FSC_OVERLAY},
    {"overlayfs", FSC_OVERLAY},
    {"aufs", FSC_OVERLAY},
    {"unionfs", FSC_OVERLAY},

    {"fuse", FSC_FUSE},
    /* a FUSE filesystem on a block device (ntfs-3g, exfat-fuse): a
     * read-write disk filesystem that cannot freeze */
    {"fuseblk", FSC_NOFREEZE},
};

/* One line of mountinfo, copied out of libmount. */
struct ment {
	char *target; /* normalized (see path_normalize()) */
	char *fstype;
	char *source;
	char *root; /* btrfs subvolume or bind root */
	dev_t dev; /* superblock, as mountinfo says */
	int id;
	int parent_id;
	size_t parent; /* index of the parent mount, or NONE */
	bool ro; /* per-mount or superblock "ro" */
	bool covered; /* another mount sits on the same path */
	bool visible; /* reachable by its path */
};

/* One superblock to freeze. */
struct tgt {
	size_t m; /* the mount we freeze through */
	size_t nmounts; /* candidate mounts of this superblock */
	int level;
	size_t out; /* first edge from here, or NONE */
	size_t best; /* the edge that set level, or NONE */
};

/* "from" must be frozen before "to". */
struct edge {
	size_t from;
	size_t to;
	size_t next; /* next edge with the same "from" */
	bool hard; /* loop image (required), else nesting */
	char *image; /* hard: the backing file, on "to" */
};

/* A skip before it is sorted into table order. */
struct srec {
	size_t m;
	bool dup; /* names the mount that is frozen instead */
	char reason[PLAN_REASON_MAX];
};

/* A name sorted for bsearch(): mount points, ids. */
struct key {
	const char *s;
	int id;
	size_t i;
};

/* The plan being built. */
struct pb {
	struct plan *p;
	const struct conf *c;
	const char *sysfs; /* NULL: no loop or dm information */
	bool probe_loops; /* ask loop devices themselves (no sysfs) */

	struct ment *m;
	size_t nm;
	struct key *vis; /* visible mounts by target */
	size_t nvis;

	struct tgt *t; /* by dev (see group_targets()) */
	size_t nt;
	struct key *tname; /* targets by mount point */

	struct edge *e;
	size_t ne;
	size_t ecap;
	size_t nhard;

	struct srec *s;
	size_t ns;
	size_t scap;

	char *allow[CONF_MAX_LIST];
	size_t nallow;
	char *xpath[CONF_MAX_LIST];
	size_t nxpath;
	const char *xtype[CONF_MAX_LIST];
	size_t nxtype;

	size_t *queue; /* for reaches() */
	unsigned int *mark;
	unsigned int stamp;
	bool cycle;
};

/* One target's walk down its device stack. */
struct walk {
	struct pb *pb;
	size_t t;
	int budget;
};

static int walk_dev(struct walk *, const char *, int);

static enum fsclass
fs_class(const char *type)
{
	size_t i;

	if (strncmp(type, "fuse.", 5) == 0)
		return FSC_FUSE;
	for (i = 0; i < sizeof(fstypes) / sizeof(fstypes[0]); i++)
		if (strcmp(type, fstypes[i].type) == 0)
			return fstypes[i].cls;
	return FSC_UNKNOWN;
}

/*
 * Make a path comparable: collapse "//", drop "." components and a
 * trailing "/" (but keep "/" itself).  ".." stays: resolving it needs the
 * filesystem, and mountinfo never has it, so a configured path with ".."
 * simply matches nothing.
 */
static void
path_normalize(char *s)
{
	char *r = s, *w = s;

	if (*s == '\0')
		return;
	while (*r != '\0') {
		if (*r == '/') {
			while (*r == '/' ||
			    (r[0] == '.' && (r[1] == '/' || r[1] == '\0') &&
			        r[-1] == '/'))
				r++;
			*w++ = '/';
			continue;
		}
		*w++ = *r++;
	}
	if (w > s + 1 && w[-1] == '/')
		w--;
	*w = '\0';
}

/* Is path dir itself or below it (at a path boundary)? */
static bool
path_under(const char *path, const char *dir)
{
	size_t len = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return path[0] == '/';
	return strncmp(path, dir, len) == 0 &&
	    (path[len] == '\0' || path[len] == '/');
}

/* Shorten path to its parent directory; false when it was "/". */
static bool
path_up(char *path)
{
	char *s = strrchr(path, '/');

	if (s == NULL || strcmp(path, "/") == 0)
		return false;
	if (s == path)
		s[1] = '\0';
	else
		*s = '\0';
	return true;
}

static int
key_cmp(const void *a, const void *b)
{
	const struct key *x = a, *y = b;
	int d = strcmp(x->s, y->s);

	if (d != 0)
		return d;
	return (x->i > y->i) - (x->i < y->i);
}

static int
key_id_cmp(const void *a, const void *b)
{
	const struct key *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

/* Index of the entry of keys (sorted by key_cmp) named s, or NONE. */
static size_t
key_find(const struct key *keys, size_t n, const char *s)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = strcmp(s, keys[mid].s);

		if (d == 0)
			return keys[mid].i;
		if (d < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NONE;
}

static int add_skip(struct pb *pb, size_t m, bool dup, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
add_skip(struct pb *pb, size_t m, bool dup, const char *fmt, ...)
{
	struct srec *s;
	va_list ap;

	if (pb->ns == pb->scap) {
		size_t cap = pb->scap ? pb->scap * 2 : 32;

		s = reallocarray(pb->s, cap, sizeof(*s));
		if (s == NULL)
			return -1;
		pb->s = s;
		pb->scap = cap;
	}
	s = &pb->s[pb->ns++];
	s->m = m;
	s->dup = dup;
	va_start(ap, fmt);
	vsnprintf(s->reason, sizeof(s->reason), fmt, ap);
	va_end(ap);
	return 0;
}

static void add_veto(struct plan *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
add_veto(struct plan *p, const char *fmt, ...)
{
	size_t len = strlen(p->veto_reason);
	va_list ap;

	if (p->veto) {
		appendf(p->veto_reason, sizeof(p->veto_reason), "; ");
		len = strlen(p->veto_reason);
	}
	p->veto = true;
	if (len + 1 >= sizeof(p->veto_reason))
		return;
	va_start(ap, fmt);
	vsnprintf(p->veto_reason + len, sizeof(p->veto_reason) - len, fmt, ap);
	va_end(ap);
}

static bool
has_opt(const char *optstr, const char *name)
{
	char *val = NULL;
	size_t valsz = 0;

	return optstr != NULL &&
	    mnt_optstr_get_option(optstr, name, &val, &valsz) == 0;
}

/*
 * libmount ignores lines it cannot parse.  We do not: a plan built from
 * part of the mount table could miss the filesystem that holds a loop
 * image and freeze in the wrong order, so plan_build() fails instead.
 * The kernel never writes such a line.
 */
static int
parse_error(struct libmnt_table *tb, const char *file, int line)
{
	int *bad = mnt_table_get_userdata(tb);

	if (bad != NULL && *bad == 0)
		*bad = line > 0 ? line : 1;
	return 1;
}

static char *
xstrdup(const char *s)
{
	return strdup(s != NULL ? s : "");
}

static int
read_mounts(struct pb *pb, const char *path, char *err, size_t errlen)
{
	struct libmnt_table *tb;
	struct libmnt_iter *it = NULL;
	struct libmnt_fs *fs;
	int bad = 0, rc = -1, n;

	if (path == NULL) {
		errfmt(err, errlen, 0, "no mountinfo file");
		return -1;
	}
	if ((tb = mnt_new_table()) == NULL)
		goto nomem;
	mnt_table_set_userdata(tb, &bad);
	mnt_table_set_parser_errcb(tb, parse_error);
	if ((n = mnt_table_parse_file(tb, path)) < 0) {
		errfmt(err, errlen, -n, "%s", path);
		goto out;
	}
	if (bad != 0) {
		errfmt(
		    err, errlen, 0, "%s:%d: not a mountinfo line", path, bad);
		goto out;
	}
	n = mnt_table_get_nents(tb);
	if ((pb->m = calloc(n > 0 ? (size_t)n : 1, sizeof(*pb->m))) == NULL)
		goto nomem;
	if ((it = mnt_new_iter(MNT_ITER_FORWARD)) == NULL)
		goto nomem;
	while (pb->nm < (size_t)n && mnt_table_next_fs(tb, it, &fs) == 0) {
		struct ment *m = &pb->m[pb->nm];

		/* fstab syntax also parses: insist on mountinfo's fields */
		if (mnt_fs_get_root(fs) == NULL ||
		    mnt_fs_get_target(fs) == NULL ||
		    mnt_fs_get_fstype(fs) == NULL) {
			errfmt(err, errlen, 0, "%s: not in mountinfo format",
			    path);
			goto out;
		}
		m->target = xstrdup(mnt_fs_get_target(fs));
		m->fstype = xstrdup(mnt_fs_get_fstype(fs));
		m->source = xstrdup(mnt_fs_get_source(fs));
		m->root = xstrdup(mnt_fs_get_root(fs));
		pb->nm++;
		if (m->target == NULL || m->fstype == NULL ||
		    m->source == NULL || m->root == NULL)
			goto nomem;
		path_normalize(m->target);
		m->dev = mnt_fs_get_devno(fs);
		m->id = mnt_fs_get_id(fs);
		m->parent_id = mnt_fs_get_parent_id(fs);
		m->ro = has_opt(mnt_fs_get_vfs_options(fs), "ro") ||
		    has_opt(mnt_fs_get_fs_options(fs), "ro");
	}
	rc = 0;
	goto out;
nomem:
	errfmt(err, errlen, 0, "out of memory");
out:
	mnt_free_iter(it);
	mnt_unref_table(tb);
	return rc;
}

static int
conf_lists(struct pb *pb)
{
	const struct conf *c = pb->c;
	size_t i, n;

	n = c->nmounts < CONF_MAX_LIST ? c->nmounts : CONF_MAX_LIST;
	for (i = 0; i < n; i++) {
		if (c->mounts[i] == NULL)
			continue;
		if ((pb->allow[pb->nallow] = strdup(c->mounts[i])) == NULL)
			return -1;
		path_normalize(pb->allow[pb->nallow++]);
	}
	n = c->nexclude < CONF_MAX_LIST ? c->nexclude : CONF_MAX_LIST;
	for (i = 0; i < n; i++) {
		if (c->exclude[i] == NULL || c->exclude[i][0] == '\0')
			continue;
		if (c->exclude[i][0] != '/') {
			pb->xtype[pb->nxtype++] = c->exclude[i];
			continue;
		}
		if ((pb->xpath[pb->nxpath] = strdup(c->exclude[i])) == NULL)
			return -1;
		path_normalize(pb->xpath[pb->nxpath++]);
	}
	return 0;
}

/*
 * Which mounts can we reach by their path?  FIFREEZE is issued on an open
 * mount point, so it freezes whatever is on top there.  A mount that
 * another one covers (mounted later on the same path, or tucked beneath
 * it: then the top one's parent is the covered one), and everything below
 * a covered mount, would be frozen in name only: the path leads to a
 * different superblock.  Such mounts are skipped.
 */
static int
find_visible(struct pb *pb)
{
	struct key *ids = NULL, *byname = NULL;
	unsigned char *state = NULL; /* 0 new, 1 on the chain, 2 done */
	bool *up = NULL; /* every mount above is reachable */
	size_t *chain = NULL;
	size_t i, j, k, n = pb->nm;
	int rc = -1;

	if (n == 0)
		return 0;
	ids = calloc(n, sizeof(*ids));
	byname = calloc(n, sizeof(*byname));
	state = calloc(n, 1);
	up = calloc(n, sizeof(*up));
	chain = calloc(n, sizeof(*chain));
	pb->vis = calloc(n, sizeof(*pb->vis));
	if (ids == NULL || byname == NULL || state == NULL || up == NULL ||
	    chain == NULL || pb->vis == NULL)
		goto out;

	for (i = 0; i < n; i++) {
		ids[i].id = pb->m[i].id;
		ids[i].i = i;
		byname[i].s = pb->m[i].target;
		byname[i].i = i;
	}
	qsort(ids, n, sizeof(*ids), key_id_cmp);
	for (i = 0; i < n; i++) {
		struct key k0 = {.id = pb->m[i].parent_id}, *f;

		f = bsearch(&k0, ids, n, sizeof(*ids), key_id_cmp);
		pb->m[i].parent = f != NULL && f->i != i ? f->i : NONE;
	}

	/* covered: pairs on the same path (rare; quadratic only in them) */
	qsort(byname, n, sizeof(*byname), key_cmp);
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && strcmp(byname[i].s, byname[j].s) == 0;
		     j++)
			;
		for (k = i; k < j; k++) {
			struct ment *a = &pb->m[byname[k].i];
			size_t l;

			for (l = i; l < j; l++) {
				struct ment *b = &pb->m[byname[l].i];

				if (l == k)
					continue;
				if (b->parent_id == a->id ||
				    (byname[l].i > byname[k].i &&
				        a->parent_id != b->id))
					a->covered = true;
			}
		}
	}

	/*
	 * up[i]: walk the parent chain once, iteratively (hostile input may
	 * nest thousands deep or loop).  A mount on the same path as its
	 * parent is the one covering it, so the parent's coverage does not
	 * count against it.
	 */
	for (i = 0; i < n; i++) {
		size_t d = 0, cur = i, par;
		bool val;

		if (state[i] == 2)
			continue;
		for (;;) {
			state[cur] = 1;
			chain[d++] = cur;
			par = pb->m[cur].parent;
			if (par == NONE || state[par] == 1) {
				val = true;
				break;
			}
			if (state[par] == 2) {
				val = up[par] &&
				    (strcmp(pb->m[cur].target,
				         pb->m[par].target) == 0 ||
				        !pb->m[par].covered);
				break;
			}
			cur = par;
		}
		up[chain[d - 1]] = val;
		state[chain[d - 1]] = 2;
		for (k = d - 1; k-- > 0;) {
			size_t c = chain[k], p = chain[k + 1];

			up[c] = up[p] &&
			    (strcmp(pb->m[c].target, pb->m[p].target) == 0 ||
			        !pb->m[p].covered);
			state[c] = 2;
		}
	}

	for (i = 0; i < n; i++) {
		struct ment *m = &pb->m[byname[i].i];

		m->visible = !m->covered && up[byname[i].i];
		if (m->visible)
			pb->vis[pb->nvis++] = byname[i];
	}
	rc = 0;
out:
	free(ids);
	free(byname);
	free(state);
	free(up);
	free(chain);
	return rc;
}

static bool
allowed(const struct pb *pb, const char *target)
{
	size_t i;

	for (i = 0; i < pb->nallow; i++)
		if (strcmp(pb->allow[i], target) == 0)
			return true;
	return false;
}

/*
 * Sort one mount into candidate or skip.  The order of the checks is the
 * order of the reasons a reader expects: what the admin configured first
 * (an allow-list or exclude beats anything the type would say, and an
 * excluded vfat does not veto), then what the filesystem is, then its
 * state.  Returns 1 for a candidate, 0 for a skip, -1 out of memory.
 */
static int
select_one(struct pb *pb, size_t i)
{
	struct ment *m = &pb->m[i];
	enum fsclass cls = fs_class(m->fstype);
	size_t k;

	if (!m->visible) {
		if (m->covered)
			return add_skip(pb, i, false,
			    "hidden: another mount covers %s", m->target);
		return add_skip(
		    pb, i, false, "hidden: a mount above it is covered");
	}
	if (pb->nallow > 0 && !allowed(pb, m->target))
		return add_skip(pb, i, false, "not in mounts allow-list");
	for (k = 0; k < pb->nxpath; k++)
		if (path_under(m->target, pb->xpath[k]))
			return add_skip(pb, i, false, "excluded by path (%s)",
			    pb->xpath[k]);
	for (k = 0; k < pb->nxtype; k++)
		if (strcmp(m->fstype, pb->xtype[k]) == 0)
			return add_skip(pb, i, false, "excluded by type (%s)",
			    pb->xtype[k]);
	switch (cls) {
	case FSC_PSEUDO:
		return add_skip(
		    pb, i, false, "pseudo filesystem (%s)", m->fstype);
	case FSC_NETWORK:
		return add_skip(
		    pb, i, false, "network filesystem (%s)", m->fstype);
	case FSC_FUSE:
		return add_skip(pb, i, false, "FUSE filesystem");
	case FSC_OVERLAY:
		return add_skip(pb, i, false,
		    "%s: has no block device of its own", m->fstype);
	case FSC_MEMORY:
		return add_skip(
		    pb, i, false, "%s: memory filesystem", m->fstype);
	default:
		break;
	}
	if (m->ro)
		return add_skip(pb, i, false, "read-only");
	if (cls == FSC_NOFREEZE) {
		if (pb->c->unfreezable == UNFREEZABLE_VETO) {
			add_veto(pb->p,
			    "%s (%s) cannot be frozen (unfreezable=veto)",
			    m->target, m->fstype);
			return add_skip(pb, i, false,
			    "cannot freeze (%s): vetoes the backup (unfreezable=veto)",
			    m->fstype);
		}
		return add_skip(pb, i, false,
		    "cannot freeze (%s): skipped by unfreezable=skip",
		    m->fstype);
	}
	if (cls == FSC_UNKNOWN)
		return add_skip(pb, i, false,
		    "type %s: not known to support freezing", m->fstype);
	/*
	 * btrfs reports an anonymous 0:N in mountinfo (one per filesystem,
	 * shared by its subvolumes), never the disk's number; it is still a
	 * block filesystem if it came from a device.
	 */
	if (major(m->dev) == 0 &&
	    !(strcmp(m->fstype, "btrfs") == 0 &&
	        strncmp(m->source, "/dev/", 5) == 0))
		return add_skip(pb, i, false,
		    "%s without a block device (%u:%u, source %s)", m->fstype,
		    major(m->dev), minor(m->dev), m->source);
	return 1;
}

static int
select_mounts(struct pb *pb, bool *cand)
{
	size_t i;
	int r;

	for (i = 0; i < pb->nm; i++) {
		if ((r = select_one(pb, i)) < 0)
			return -1;
		cand[i] = r == 1;
	}
	/* the admin asked for these: not finding one is not a detail */
	for (i = 0; i < pb->nallow; i++)
		if (key_find(pb->vis, pb->nvis, pb->allow[i]) == NONE)
			add_veto(pb->p, "allow-listed %s is not mounted",
			    pb->allow[i]);
	return 0;
}

struct cand {
	dev_t dev;
	bool top; /* mounts the filesystem's root, not a directory */
	size_t len;
	const char *target;
	size_t i;
};

static int
cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	int d;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->top != y->top)
		return x->top ? -1 : 1;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	if ((d = strcmp(x->target, y->target)) != 0)
		return d;
	return (x->i > y->i) - (x->i < y->i);
}

/*
 * One target per superblock: a second FIFREEZE of the same superblock
 * through another mount point gets EBUSY, and freezing it once freezes
 * every mount of it (bind mounts, btrfs subvolumes).  The mount of the
 * filesystem's own root names it (a bind mount of a directory is the
 * copy, not the original), then the shortest mount point: stable.
 * Targets come out sorted by dev, for tgt_by_dev().
 */
static int
group_targets(struct pb *pb, const bool *cand)
{
	struct cand *cs;
	size_t i, j, n = 0;

	if ((cs = calloc(pb->nm ? pb->nm : 1, sizeof(*cs))) == NULL)
		return -1;
	for (i = 0; i < pb->nm; i++) {
		if (!cand[i])
			continue;
		cs[n].dev = pb->m[i].dev;
		cs[n].top = strcmp(pb->m[i].root, "/") == 0;
		cs[n].len = strlen(pb->m[i].target);
		cs[n].target = pb->m[i].target;
		cs[n].i = i;
		n++;
	}
	qsort(cs, n, sizeof(*cs), cand_cmp);
	if ((pb->t = calloc(n ? n : 1, sizeof(*pb->t))) == NULL)
		goto fail;
	for (i = 0; i < n; i = j) {
		struct tgt *t = &pb->t[pb->nt++];
		const struct ment *keep = &pb->m[cs[i].i];

		t->m = cs[i].i;
		t->out = NONE;
		t->best = NONE;
		t->nmounts = 1;
		for (j = i + 1; j < n && cs[j].dev == cs[i].dev; j++) {
			const struct ment *m = &pb->m[cs[j].i];
			int r;

			t->nmounts++;
			if (strcmp(m->fstype, "btrfs") == 0 &&
			    strcmp(m->root, keep->root) != 0)
				r = add_skip(pb, cs[j].i, true,
				    "btrfs subvolume %s: same filesystem as %s (%u:%u)",
				    m->root, keep->target, major(m->dev),
				    minor(m->dev));
			else
				r = add_skip(pb, cs[j].i, true,
				    "bind mount of %s (same superblock %u:%u)",
				    keep->target, major(m->dev), minor(m->dev));
			if (r == -1)
				goto fail;
		}
	}
	free(cs);
	return 0;
fail:
	free(cs);
	return -1;
}

static size_t
tgt_by_dev(const struct pb *pb, dev_t dev)
{
	size_t lo = 0, hi = pb->nt;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		dev_t d = pb->m[pb->t[mid].m].dev;

		if (d == dev)
			return mid;
		if (dev < d)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NONE;
}

static int
add_edge(struct pb *pb, size_t from, size_t to, bool hard, const char *image)
{
	struct edge *e;
	size_t k;

	for (k = pb->t[from].out; k != NONE; k = pb->e[k].next)
		if (pb->e[k].to == to && pb->e[k].hard == hard)
			return 0;
	if (pb->ne == pb->ecap) {
		size_t cap = pb->ecap ? pb->ecap * 2 : 32;

		e = reallocarray(pb->e, cap, sizeof(*e));
		if (e == NULL)
			return -1;
		pb->e = e;
		pb->ecap = cap;
	}
	e = &pb->e[pb->ne];
	memset(e, 0, sizeof(*e));
	if (image != NULL && (e->image = strdup(image)) == NULL)
		return -1;
	e->from = from;
	e->to = to;
	e->hard = hard;
	e->next = pb->t[from].out;
	pb->t[from].out = pb->ne++;
	if (hard)
		pb->nhard++;
	return 0;
}

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
name_dir(const struct pb *pb, const char *name, char *dir, size_t size)
{
	if (name[0] == '\0' || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0 || strchr(name, '/') != NULL)
		return false;
	if (mkpath(dir, size, "%s/class/block/%s", pb->sysfs, name) &&
	    is_dir(dir))
		return true;
	return mkpath(dir, size, "%s/block/%s", pb->sysfs, name) && is_dir(dir);
}

/* The mount holding path: the longest visible mount point above it. */
static size_t
holder(const struct pb *pb, const char *path)
{
	char buf[PATH_MAX];
	size_t m;

	if (!mkpath(buf, sizeof(buf), "%s", path))
		return NONE;
	path_normalize(buf);
	do {
		if ((m = key_find(pb->vis, pb->nvis, buf)) != NONE)
			return m;
	} while (path_up(buf));
	return NONE;
}

/*
 * A loop device's backing file.  Its holder must be frozen after this
 * target (see the hazard at loop_edges()).  The kernel writes the path
 * as this process's root sees it, with " (deleted)" for an unlinked file
 * (which still lives, and writes, on the same filesystem).  A loop over a
 * block device (losetup /dev/sdb) is followed down instead: /dev/sdb is
 * not a file on the filesystem that holds /dev.
 */
static int
walk_backing(struct walk *w, char *img, int depth)
{
	static const char deleted[] = " (deleted)";
	struct pb *pb = w->pb;
	char dir[PATH_MAX];
	size_t len = strlen(img), h, t;

	if (len >= sizeof(deleted) &&
	    strcmp(img + len - (sizeof(deleted) - 1), deleted) == 0)
		img[len - (sizeof(deleted) - 1)] = '\0';
	if (img[0] != '/')
		return 0; /* "(unreachable)...": not in our mounts */
	if (strncmp(img, "/dev/", 5) == 0 &&
	    name_dir(pb, strrchr(img, '/') + 1, dir, sizeof(dir)))
		return walk_dev(w, dir, depth + 1);
	path_normalize(img);
	if ((h = holder(pb, img)) == NONE)
		return 0;
	/* a holder that is skipped but shares a frozen superblock counts */
	if ((t = tgt_by_dev(pb, pb->m[h].dev)) == NONE)
		return 0;
	return add_edge(pb, w->t, t, true, img);
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
	struct pb *pb = w->pb;
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
	    mkpath(dir, sizeof(dir), "%s/dev/block/%u:%u", pb->sysfs, ma, mi) &&
	    is_dir(dir))
		return walk_dev(w, dir, depth);
	if (name_dir(pb, name, dir, sizeof(dir)))
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
dm_by_name(const struct pb *pb, const char *want, char *out, size_t size)
{
	char path[PATH_MAX], name[256];
	struct dirent *de;
	bool found = false;
	DIR *d;

	if (!mkpath(path, sizeof(path), "%s/block", pb->sysfs) ||
	    (d = opendir(path)) == NULL)
		return false;
	while (!found && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' ||
		    !mkpath(path, sizeof(path), "%s/block/%s/dm/name",
		        pb->sysfs, de->d_name) ||
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
	struct pb *pb = w->pb;
	char path[PATH_MAX], devs[PATH_MAX];
	struct dirent *de, *me;
	DIR *d, *md;
	int rc = 0;

	if (!mkpath(path, sizeof(path), "%s/fs/btrfs", pb->sysfs) ||
	    (d = opendir(path)) == NULL)
		return 0;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' ||
		    !mkpath(devs, sizeof(devs), "%s/fs/btrfs/%s/devices",
		        pb->sysfs, de->d_name) ||
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
	struct pb *pb = w->pb;
	const struct ment *m = &pb->m[pb->t[w->t].m];
	char name[256], dir[PATH_MAX];
	const char *s;
	int r;

	if (strncmp(m->source, "/dev/", 5) != 0)
		return 0;
	if (strncmp(m->source, "/dev/mapper/", 12) == 0) {
		if (!dm_by_name(pb, m->source + 12, name, sizeof(name)))
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
	if (!name_dir(pb, name, dir, sizeof(dir)))
		return 0;
	return walk_dev(w, dir, 1);
}

/*
 * Without sysfs, ask the loop device itself: LOOP_GET_STATUS64 on the
 * source node gives the backing file's device and inode and the first 63
 * bytes of its path.  The filesystem holding it is the target with that
 * device number; failing that (btrfs reports a subvolume's st_dev), the
 * holder of the path, unless the kernel cut the path short.  The node
 * must be the block device mountinfo names, or it is not asked.
 */
static int
probe_loop(struct walk *w)
{
	struct pb *pb = w->pb;
	const struct ment *m = &pb->m[pb->t[w->t].m];
	struct loop_info64 li;
	struct stat st;
	char img[LO_NAME_SIZE + 1];
	size_t t;
	int fd;

	if (!pb->probe_loops || major(m->dev) != LOOP_MAJOR ||
	    strncmp(m->source, "/dev/", 5) != 0)
		return 0;
	if ((fd = open(m->source, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		return 0;
	if (fstat(fd, &st) == -1 || !S_ISBLK(st.st_mode) ||
	    st.st_rdev != m->dev || ioctl(fd, LOOP_GET_STATUS64, &li) == -1) {
		close(fd);
		return 0;
	}
	close(fd);
	if ((t = tgt_by_dev(pb, (dev_t)li.lo_device)) != NONE && t != w->t) {
		memcpy(img, li.lo_file_name, LO_NAME_SIZE);
		img[LO_NAME_SIZE] = '\0';
		return add_edge(pb, w->t, t, true, img);
	}
	memcpy(img, li.lo_file_name, LO_NAME_SIZE);
	img[LO_NAME_SIZE] = '\0';
	if (strlen(img) >= LO_NAME_SIZE - 1)
		return 0; /* cut short: no safe guess */
	return walk_backing(w, img, 0);
}

/*
 * THE hazard.  A filesystem on a loop device must be frozen before the
 * filesystem that holds its image file, and thawed after it.  FIFREEZE
 * first syncs: it writes the filesystem's dirty data and its journal (or
 * log), and for a loop-backed filesystem those writes are writes into
 * the image file.  If the filesystem holding the image is already frozen,
 * they wait for a thaw that never comes: the inner FIFREEZE sleeps in
 * uninterruptible state (kill -9 does nothing), every writer on either
 * filesystem piles up behind it, and the guest is deadlocked until the
 * host gives up.  Linux's hv_vss_daemon avoided it by skipping loop
 * devices altogether; we order them instead.
 *
 * dm and md are walked down their slaves (dm over loop over file, md
 * over loops, partitions of a loop device), so the edge is found however
 * deep the loop device sits.  These edges are "hard": never dropped.
 */
static int
loop_edges(struct pb *pb)
{
	char dir[PATH_MAX];
	size_t i;

	for (i = 0; i < pb->nt; i++) {
		struct walk w = {.pb = pb, .t = i, .budget = WALK_DIRS};
		const struct ment *m = &pb->m[pb->t[i].m];
		int r;

		if (pb->sysfs == NULL)
			r = probe_loop(&w);
		else if (mkpath(dir, sizeof(dir), "%s/dev/block/%u:%u",
		             pb->sysfs, major(m->dev), minor(m->dev)) &&
		    is_dir(dir))
			r = walk_dev(&w, dir, 0);
		else
			r = walk_source(&w);
		if (r == -1)
			return -1;
	}
	return 0;
}

/*
 * Loop images that hold each other (crafted, or a setup gone wrong) have
 * no safe freeze order.  Find a cycle among the hard edges with an
 * iterative depth-first search and name it in the veto.
 */
static int
find_cycle(struct pb *pb)
{
	unsigned char *color; /* 0 new, 1 on the stack, 2 done */
	size_t *stk, *it, top, r, i, n = pb->nt;
	int rc = -1;

	color = calloc(n ? n : 1, 1);
	stk = calloc(n ? n : 1, sizeof(*stk));
	it = calloc(n ? n : 1, sizeof(*it));
	if (color == NULL || stk == NULL || it == NULL)
		goto out;
	rc = 0;
	for (r = 0; r < n && !pb->cycle; r++) {
		if (color[r] != 0)
			continue;
		top = 0;
		stk[top] = r;
		it[top] = pb->t[r].out;
		color[r] = 1;
		while (top != NONE && !pb->cycle) {
			size_t u = stk[top], e = it[top], v;

			if (e == NONE) {
				color[u] = 2;
				top = top == 0 ? NONE : top - 1;
				continue;
			}
			it[top] = pb->e[e].next;
			v = pb->e[e].to;
			if (color[v] == 0) {
				color[v] = 1;
				stk[++top] = v;
				it[top] = pb->t[v].out;
			} else if (color[v] == 1) {
				char *vr = pb->p->veto_reason;
				size_t vs = sizeof(pb->p->veto_reason);

				pb->cycle = true;
				for (i = 0; stk[i] != v; i++)
					;
				add_veto(pb->p,
				    "cycle of loop images (each lives on the next): ");
				for (; i <= top; i++)
					appendf(vr, vs, "%s -> ",
					    pb->m[pb->t[stk[i]].m].target);
				appendf(vr, vs, "%s", pb->m[pb->t[v].m].target);
			}
		}
	}
out:
	free(color);
	free(stk);
	free(it);
	return rc;
}

/* Can "to" be reached from "from" along the edges so far? */
static bool
reaches(struct pb *pb, size_t from, size_t to)
{
	size_t head = 0, tail = 0, k;

	if (++pb->stamp == 0) {
		memset(pb->mark, 0, pb->nt * sizeof(*pb->mark));
		pb->stamp = 1;
	}
	pb->queue[tail++] = from;
	pb->mark[from] = pb->stamp;
	while (head < tail) {
		size_t u = pb->queue[head++];

		if (u == to)
			return true;
		for (k = pb->t[u].out; k != NONE; k = pb->e[k].next) {
			size_t v = pb->e[k].to;

			if (pb->mark[v] != pb->stamp) {
				pb->mark[v] = pb->stamp;
				pb->queue[tail++] = v;
			}
		}
	}
	return false;
}

/*
 * Mount nesting: children before their parents, "/" last, as every
 * freezer since the first fsfreeze scripts has done.  Freezing a parent
 * first turns anything that touches it while the children are frozen
 * (the freezer opening the next mount point, a helper writing a temporary
 * file, a log line) into a writer that blocks; freezing leaves first
 * keeps "/" frozen for the shortest time.  These edges are "soft": one
 * that would contradict the loop edges (a filesystem mounted inside the
 * one whose image it holds) is dropped, because the loop order is the
 * one that deadlocks when broken.  Each target gets an edge to every
 * target mounted above it, not just the nearest, so that dropping one
 * still leaves "/" after everything it can be after.
 */
static int
nest_edges(struct pb *pb)
{
	char buf[PATH_MAX];
	size_t i, a;

	pb->tname = calloc(pb->nt ? pb->nt : 1, sizeof(*pb->tname));
	pb->queue = calloc(pb->nt ? pb->nt : 1, sizeof(*pb->queue));
	pb->mark = calloc(pb->nt ? pb->nt : 1, sizeof(*pb->mark));
	if (pb->tname == NULL || pb->queue == NULL || pb->mark == NULL)
		return -1;
	for (i = 0; i < pb->nt; i++) {
		pb->tname[i].s = pb->m[pb->t[i].m].target;
		pb->tname[i].i = i;
	}
	qsort(pb->tname, pb->nt, sizeof(*pb->tname), key_cmp);
	for (i = 0; i < pb->nt; i++) {
		size_t t = pb->tname[i].i;

		if (!mkpath(buf, sizeof(buf), "%s", pb->tname[i].s))
			continue;
		while (path_up(buf)) {
			a = key_find(pb->tname, pb->nt, buf);
			if (a == NONE || a == t)
				continue;
			if (pb->nhard > 0 && reaches(pb, a, t))
				continue;
			if (add_edge(pb, t, a, false, NULL) == -1)
				return -1;
		}
	}
	return 0;
}

/*
 * Levels: a target's level is 1 + the highest level of the targets that
 * must be frozen before it, 0 if there are none (longest path, by Kahn's
 * topological order).  The edge that decided it becomes its order_reason:
 * among the predecessors one level below, a loop edge beats nesting, then
 * the smallest mount point, so that the reason is deterministic.
 */
static int
set_levels(struct pb *pb)
{
	size_t *indeg, *q, head = 0, tail = 0, i, k;
	int rc = -1;

	indeg = calloc(pb->nt ? pb->nt : 1, sizeof(*indeg));
	q = calloc(pb->nt ? pb->nt : 1, sizeof(*q));
	if (indeg == NULL || q == NULL)
		goto out;
	for (k = 0; k < pb->ne; k++)
		indeg[pb->e[k].to]++;
	for (i = 0; i < pb->nt; i++)
		if (indeg[i] == 0)
			q[tail++] = i;
	while (head < tail) {
		size_t u = q[head++];

		for (k = pb->t[u].out; k != NONE; k = pb->e[k].next) {
			size_t v = pb->e[k].to;

			if (pb->t[u].level + 1 > pb->t[v].level)
				pb->t[v].level = pb->t[u].level + 1;
			if (--indeg[v] == 0)
				q[tail++] = v;
		}
	}
	rc = 0;
	if (tail != pb->nt) {
		/* find_cycle() and nest_edges() make this impossible */
		pb->cycle = true;
		add_veto(pb->p, "freeze order has a cycle");
		goto out;
	}
	for (k = 0; k < pb->ne; k++) {
		const struct edge *e = &pb->e[k], *b;
		struct tgt *v = &pb->t[e->to];

		if (pb->t[e->from].level + 1 != v->level)
			continue;
		if (v->best != NONE) {
			b = &pb->e[v->best];
			if (b->hard && !e->hard)
				continue;
			if (b->hard == e->hard &&
			    strcmp(pb->m[pb->t[b->from].m].target,
			        pb->m[pb->t[e->from].m].target) <= 0)
				continue;
		}
		v->best = k;
	}
out:
	free(indeg);
	free(q);
	return rc;
}

struct order {
	int level;
	const char *name;
	size_t t;
};

static int
order_cmp(const void *a, const void *b)
{
	const struct order *x = a, *y = b;

	if (x->level != y->level)
		return x->level < y->level ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int
srec_cmp(const void *a, const void *b)
{
	const struct srec *x = a, *y = b;

	return (x->m > y->m) - (x->m < y->m);
}

static int
emit_targets(struct pb *pb)
{
	struct plan *p = pb->p;
	struct order *o;
	size_t i;

	if (pb->cycle || pb->nt == 0)
		return 0;
	if ((o = calloc(pb->nt, sizeof(*o))) == NULL)
		return -1;
	if ((p->targets = calloc(pb->nt, sizeof(*p->targets))) == NULL) {
		free(o);
		return -1;
	}
	for (i = 0; i < pb->nt; i++) {
		o[i].level = pb->t[i].level;
		o[i].name = pb->m[pb->t[i].m].target;
		o[i].t = i;
	}
	qsort(o, pb->nt, sizeof(*o), order_cmp);
	for (i = 0; i < pb->nt; i++) {
		const struct tgt *t = &pb->t[o[i].t];
		const struct ment *m = &pb->m[t->m];
		struct plan_target *pt = &p->targets[p->ntargets++];

		pt->mountpoint = strdup(m->target);
		pt->fstype = strdup(m->fstype);
		pt->source = strdup(m->source);
		if (pt->mountpoint == NULL || pt->fstype == NULL ||
		    pt->source == NULL) {
			free(o);
			return -1;
		}
		pt->dev = m->dev;
		pt->mount_id = m->id;
		pt->level = t->level;
		pt->nmounts = t->nmounts;
		if (t->best != NONE) {
			const struct edge *e = &pb->e[t->best];
			const char *from = pb->m[pb->t[e->from].m].target;

			if (e->hard)
				snprintf(pt->order_reason,
				    sizeof(pt->order_reason),
				    "after %s: its image %s lives here", from,
				    e->image);
			else
				snprintf(pt->order_reason,
				    sizeof(pt->order_reason),
				    "after %s: mounted under it", from);
		}
	}
	free(o);
	return 0;
}

/*
 * Skips in mountinfo order.  A skipped mount whose superblock is frozen
 * anyway, through another mount point (a read-only bind of a read-write
 * filesystem, an excluded path that is a subvolume of "/"), says so: the
 * exclusion did not keep it from being frozen.
 */
static int
emit_skips(struct pb *pb)
{
	struct plan *p = pb->p;
	size_t i, t;

	if (pb->ns == 0)
		return 0;
	qsort(pb->s, pb->ns, sizeof(*pb->s), srec_cmp);
	if ((p->skips = calloc(pb->ns, sizeof(*p->skips))) == NULL)
		return -1;
	for (i = 0; i < pb->ns; i++) {
		const struct srec *s = &pb->s[i];
		const struct ment *m = &pb->m[s->m];
		struct plan_skip *ps = &p->skips[p->nskips++];

		ps->mountpoint = strdup(m->target);
		ps->fstype = strdup(m->fstype);
		if (ps->mountpoint == NULL || ps->fstype == NULL)
			return -1;
		memcpy(ps->reason, s->reason, sizeof(ps->reason));
		if (s->dup || pb->cycle ||
		    (t = tgt_by_dev(pb, m->dev)) == NONE ||
		    strcmp(pb->m[pb->t[t].m].fstype, m->fstype) != 0)
			continue;
		appendf(ps->reason, sizeof(ps->reason),
		    "; its filesystem is frozen at %s",
		    pb->m[pb->t[t].m].target);
	}
	return 0;
}

static void
pb_free(struct pb *pb)
{
	size_t i;

	for (i = 0; i < pb->nm; i++) {
		free(pb->m[i].target);
		free(pb->m[i].fstype);
		free(pb->m[i].source);
		free(pb->m[i].root);
	}
	free(pb->m);
	free(pb->vis);
	free(pb->t);
	free(pb->tname);
	for (i = 0; i < pb->ne; i++)
		free(pb->e[i].image);
	free(pb->e);
	free(pb->s);
	for (i = 0; i < pb->nallow; i++)
		free(pb->allow[i]);
	for (i = 0; i < pb->nxpath; i++)
		free(pb->xpath[i]);
	free(pb->queue);
	free(pb->mark);
}

int
plan_build(struct plan *p, const struct conf *c, const char *mountinfo,
    const char *sysfs, bool probe_loops, char *err, size_t errlen)
{
	static const struct conf none;
	struct pb pb;
	bool *cand = NULL;

	memset(p, 0, sizeof(*p));
	memset(&pb, 0, sizeof(pb));
	pb.p = p;
	pb.c = c != NULL ? c : &none;
	/* no sysfs at all (a test sandbox): every device is plain */
	if (sysfs != NULL && is_dir(sysfs))
		pb.sysfs = sysfs;
	pb.probe_loops = probe_loops;

	if (read_mounts(&pb, mountinfo, err, errlen) == -1)
		goto fail;
	if ((cand = calloc(pb.nm ? pb.nm : 1, sizeof(*cand))) == NULL)
		goto nomem;
	if (conf_lists(&pb) == -1 || find_visible(&pb) == -1 ||
	    select_mounts(&pb, cand) == -1 || group_targets(&pb, cand) == -1 ||
	    loop_edges(&pb) == -1 || find_cycle(&pb) == -1)
		goto nomem;
	if (!pb.cycle && (nest_edges(&pb) == -1 || set_levels(&pb) == -1))
		goto nomem;
	if (emit_targets(&pb) == -1 || emit_skips(&pb) == -1)
		goto nomem;
	free(cand);
	pb_free(&pb);
	return 0;
nomem:
	errfmt(err, errlen, 0, "out of memory");
fail:
	free(cand);
	pb_free(&pb);
	plan_free(p);
	return -1;
}

void
plan_free(struct plan *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->ntargets; i++) {
		free(p->targets[i].mountpoint);
		free(p->targets[i].fstype);
		free(p->targets[i].source);
	}
	free(p->targets);
	for (i = 0; i < p->nskips; i++) {
		free(p->skips[i].mountpoint);
		free(p->skips[i].fstype);
	}
	free(p->skips);
	memset(p, 0, sizeof(*p));
}
