/*
 * plan.c: the freeze plan.  From the mount table (os/mtab.h) and the
 * block device stacks (os/devstack.h), decide which filesystems
 * a backup freezes, in which order, and why every other mount is left out.
 * It reads files and nothing else (no logging, no exit, no ioctl), so the
 * unit tests feed it a fixture mountinfo and a fake sysfs tree, and
 * "hv_vss_ctl plan" can print exactly what the freezer would do.
 *
 * Three passes, one file each.  Selection (here): every mount that the
 * process can reach is either a candidate or a skip with a human reason,
 * in a fixed order of checks (hidden, allow-list, exclude, filesystem
 * class, read-only, freezability); candidates that share a superblock
 * (the major:minor in mountinfo: bind mounts, btrfs subvolumes) become
 * one target, named by the shortest mount point.  Device stacks
 * (plan_stack.c): the disk images under each target.  Ordering
 * (plan_order.c): edges between targets say which one must be frozen
 * before which (loop images first, then mount nesting), and each target
 * gets a level, the length of the longest chain of targets that must be
 * frozen before it.  The freezer freezes one level at a time (the
 * targets of a level in parallel) and thaws in the exact reverse order.
 *
 * A plan can say "veto": the policy refuses a backup now (an unfreezable
 * read-write filesystem with unfreezable=veto, an allow-listed mount point
 * that is not mounted, loop images that form a cycle).  A veto is not an
 * error: plan_build() still returns 0, with every skip filled in.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "os/devno.h"
#include "os/fsfreeze.h"
#include "os/mtab.h"
#include "plan.h"
#include "plan_int.h"
#include "util.h"

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

/*
 * What freezes is the platform's to say (fsfreeze_kind()); the table
 * above gives every other type its reason to be skipped, and a type it
 * does not know but the platform calls pseudo (FreeBSD's devfs, nullfs)
 * is skipped as one.
 */
static enum fsclass
fs_class(const char *type)
{
	enum fsfreeze_kind k = fsfreeze_kind(type);
	size_t i;

	if (k == FSFREEZE_SUSPEND)
		return FSC_FREEZE;
	if (strncmp(type, "fuse.", 5) == 0)
		return FSC_FUSE;
	for (i = 0; i < sizeof(fstypes) / sizeof(fstypes[0]); i++)
		if (strcmp(type, fstypes[i].type) == 0)
			return fstypes[i].cls;
	return k == FSFREEZE_PSEUDO ? FSC_PSEUDO : FSC_UNKNOWN;
}

/*
 * Make a path comparable: collapse "//", drop "." components and a
 * trailing "/" (but keep "/" itself).  ".." stays: resolving it needs the
 * filesystem, and mountinfo never has it, so a configured path with ".."
 * simply matches nothing.
 */
void
plan_path_normalize(char *s)
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
bool
plan_path_up(char *path)
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

int
plan_key_cmp(const void *a, const void *b)
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

/* Index of the entry of keys (sorted by plan_key_cmp) named s, or NONE. */
size_t
plan_key_find(const struct key *keys, size_t n, const char *s)
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

void
plan_add_veto(struct plan *p, const char *fmt, ...)
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

/* The table, copied into our own entries (targets normalized). */
static int
read_mounts(struct pb *pb, const char *path, char *err, size_t errlen)
{
	struct mtab t;
	size_t i;

	if (mtab_read_file(&t, path, err, errlen) != 0)
		return -1;
	if ((pb->m = calloc(t.n ? t.n : 1, sizeof(*pb->m))) == NULL) {
		mtab_free(&t);
		errfmt(err, errlen, 0, "out of memory");
		return -1;
	}
	for (i = 0; i < t.n; i++) {
		struct ment *m = &pb->m[pb->nm++];
		const struct mtab_entry *e = &t.v[i];

		/* the strings change hands: t is freed of them below */
		m->target = e->target;
		m->fstype = e->fstype;
		m->source = e->source;
		m->root = e->root;
		t.v[i].target = t.v[i].fstype = t.v[i].source = t.v[i].root =
		    NULL;
		plan_path_normalize(m->target);
		m->dev = e->dev;
		m->fsid = e->fsid;
		m->id = e->id;
		m->parent_id = e->parent_id;
		m->ro = e->ro;
	}
	mtab_free(&t);
	return 0;
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
		plan_path_normalize(pb->allow[pb->nallow++]);
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
		plan_path_normalize(pb->xpath[pb->nxpath++]);
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
	qsort(byname, n, sizeof(*byname), plan_key_cmp);
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
			plan_add_veto(pb->p,
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
	if (devno_major(m->dev) == 0 &&
	    !(strcmp(m->fstype, "btrfs") == 0 &&
	        strncmp(m->source, "/dev/", 5) == 0))
		return add_skip(pb, i, false,
		    "%s without a block device (%u:%u, source %s)", m->fstype,
		    devno_major(m->dev), devno_minor(m->dev), m->source);
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
		if (plan_key_find(pb->vis, pb->nvis, pb->allow[i]) == NONE)
			plan_add_veto(pb->p, "allow-listed %s is not mounted",
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
 * Targets come out sorted by dev, for plan_tgt_by_dev().
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
		t->in = NONE;
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
				    m->root, keep->target, devno_major(m->dev),
				    devno_minor(m->dev));
			else
				r = add_skip(pb, cs[j].i, true,
				    "bind mount of %s (same superblock %u:%u)",
				    keep->target, devno_major(m->dev),
				    devno_minor(m->dev));
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

size_t
plan_tgt_by_dev(const struct pb *pb, dev_t dev)
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
srec_cmp(const void *a, const void *b)
{
	const struct srec *x = a, *y = b;

	return (x->m > y->m) - (x->m < y->m);
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
		    (t = plan_tgt_by_dev(pb, m->dev)) == NONE ||
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
	for (i = 0; i < pb->ne; i++)
		free(pb->e[i].image);
	free(pb->e);
	free(pb->s);
	for (i = 0; i < pb->nallow; i++)
		free(pb->allow[i]);
	for (i = 0; i < pb->nxpath; i++)
		free(pb->xpath[i]);
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
	pb.sysfs = sysfs;
	pb.probe_loops = probe_loops;

	if (read_mounts(&pb, mountinfo, err, errlen) == -1)
		goto fail;
	if ((cand = calloc(pb.nm ? pb.nm : 1, sizeof(*cand))) == NULL)
		goto nomem;
	if (conf_lists(&pb) == -1 || find_visible(&pb) == -1 ||
	    select_mounts(&pb, cand) == -1 || group_targets(&pb, cand) == -1)
		goto nomem;
	if (plan_stack_edges(&pb, err, errlen) == -1)
		goto fail;
	if (plan_order(&pb) == -1 || plan_order_emit(&pb) == -1 ||
	    emit_skips(&pb) == -1)
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
