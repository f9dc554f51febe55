/*
 * devstack.h: what a filesystem's source device stands on: the seam
 * under plan.c's device-stack walk (issue 11, item 2; issue 12, item 2).
 *
 * The ordering rule is the platform's own: a filesystem on a disk image
 * is frozen before the filesystem that holds the image, or the second
 * freeze would wait forever on the first one's write-back.  What differs
 * is how an image is found:
 *
 *   Linux (devstack_linux.c): loop devices through sysfs
 *   (loop/backing_file) or LOOP_GET_STATUS64, dm and md through their
 *   slaves/ directories, a btrfs through all of its devices.
 *
 *   FreeBSD (devstack_freebsd.c): md(4) vnode-backed disks, the loop
 *   devices of FreeBSD.  A source /dev/mdN, or a partition or slice of
 *   it (mdNp1, mdNs1, mdNs1a, mdNa), or a GELI layer on either
 *   (mdN.eli, mdNp1.eli), names unit N; MDIOCQUERY on /dev/mdctl says
 *   whether it is MD_VNODE and copies out its backing file.  Other GEOM
 *   layers (labels, gmirror, gconcat) are not walked yet: a
 *   filesystem on one is ordered as a plain disk is, by its mount
 *   point alone.
 */
#ifndef HVVSS_DEVSTACK_H
#define HVVSS_DEVSTACK_H

#include <sys/types.h>
#include <stdbool.h>
#include <stddef.h>

/* Where the walk looks. */
struct devstack_opts {
	/* Linux: the sysfs tree ("/sys", or a test's fixture); NULL or a
	 * missing tree: no stack information.  FreeBSD: unused. */
	const char *root;
	/* ask the image device itself when root says nothing (Linux:
	 * LOOP_GET_STATUS64 on the source); FreeBSD always asks md(4) */
	bool probe;
};

/* The system's own tree for devstack_opts.root: Linux "/sys", FreeBSD
 * NULL (md(4) is asked instead) */
extern const char *const devstack_system_root;

/* The filesystem whose stack is walked, as the mount table has it. */
struct devstack_src {
	const char *source; /* e.g. /dev/loop3, /dev/mapper/vg-lv, /dev/md0 */
	const char *fstype; /* a btrfs is walked through all its devices */
	dev_t dev; /* its device number (mtab.h) */
};

/*
 * One image under the filesystem.  img is its path as the kernel knows
 * it; whole false: the kernel cut it short (Linux keeps 63 bytes of it
 * in LOOP_GET_STATUS64), so the path is a label, not a place to look up.
 * holder, if not 0, is the device number of the filesystem that holds
 * the image, as the kernel says.  0 to go on, -1 to stop the walk.
 */
typedef int (*devstack_fn)(
    const char *img, bool whole, dev_t holder, void *arg);

/*
 * Every image under src, to fn.  0, -1 if fn stopped it, or -errno with
 * the culprit in err (FreeBSD: /dev/mdctl cannot be asked; a walk that
 * goes on without it could order an image's host first and hang).
 */
int devstack_walk(const struct devstack_opts *o, const struct devstack_src *src,
    devstack_fn fn, void *arg, char *err, size_t errlen);

/*
 * The disk image under source, if any: 1 with its path in img, 0 if
 * source is not on an image (a disk, an md of memory or swap, not a
 * device at all), or -errno with the culprit in err (the control device
 * cannot be opened or asked).
 */
int devstack_image(
    const char *source, char *img, size_t imglen, char *err, size_t errlen);

/*
 * The md unit a source names (see above), or -1.  Pure: no system call,
 * so that its parsing is tested on any platform.
 */
int devstack_md_unit(const char *source);

#endif /* HVVSS_DEVSTACK_H */
