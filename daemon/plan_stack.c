/*
 * plan_stack.c: the disk images under each target of a freeze plan, as
 * the platform's device-stack walk finds them (os/devstack.h), turned
 * into "hard" edges for plan_order.c: the target on the image's device
 * is frozen before the one that holds the image.
 */
#include <sys/types.h>

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "os/devstack.h"
#include "plan_int.h"

/* The target whose stack is walked. */
struct walk {
	struct pb *pb;
	size_t t;
};

/* The mount holding path: the longest visible mount point above it. */
static size_t
holder(const struct pb *pb, const char *path)
{
	char buf[PATH_MAX];
	size_t m;

	if (strlen(path) >= sizeof(buf))
		return NONE;
	strcpy(buf, path);
	plan_path_normalize(buf);
	do {
		if ((m = plan_key_find(pb->vis, pb->nvis, buf)) != NONE)
			return m;
	} while (plan_path_up(buf));
	return NONE;
}

/*
 * One image under target w->t: its holder is the target with the device
 * number the kernel gave (if any, and not this target itself), else the
 * target of the mount that holds the path, unless the path was cut
 * short.  A holder that is skipped but shares a frozen superblock
 * counts.
 */
static int
image(const char *img, bool whole, dev_t hdev, void *arg)
{
	struct walk *w = arg;
	struct pb *pb = w->pb;
	char path[PATH_MAX];
	size_t h, t;

	if (hdev != 0 && (t = plan_tgt_by_dev(pb, hdev)) != NONE && t != w->t)
		return plan_order_add_edge(pb, w->t, t, true, img);
	if (!whole || strlen(img) >= sizeof(path))
		return 0;
	strcpy(path, img);
	plan_path_normalize(path);
	if ((h = holder(pb, path)) == NONE)
		return 0;
	if ((t = plan_tgt_by_dev(pb, pb->m[h].dev)) == NONE)
		return 0;
	return plan_order_add_edge(pb, w->t, t, true, path);
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
 * The platform walks the device stack (os/devstack.h: on Linux dm and
 * md down their slaves, so the edge is found however deep the loop
 * device sits); this file finds the target that holds each image.
 * These edges are "hard": never dropped.
 */
int
plan_stack_edges(struct pb *pb, char *err, size_t errlen)
{
	const struct devstack_opts o = {
	    .root = pb->sysfs, .probe = pb->probe_loops};
	size_t i;
	int r;

	for (i = 0; i < pb->nt; i++) {
		const struct ment *m = &pb->m[pb->t[i].m];
		const struct devstack_src src = {
		    .source = m->source, .fstype = m->fstype, .dev = m->dev};
		struct walk w = {.pb = pb, .t = i};

		if ((r = devstack_walk(&o, &src, image, &w, err, errlen)) ==
		    -1) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		if (r < 0)
			return -1;
	}
	return 0;
}
