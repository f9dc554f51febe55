/*
 * devstack.h: what a filesystem's source device stands on: the seam
 * under plan.c's device-stack walk (issue 11, item 2; issue 12, item 2).
 *
 * The ordering rule is the platform's own: a filesystem on a disk image
 * is frozen before the filesystem that holds the image, or the second
 * freeze would wait forever on the first one's write-back.  What differs
 * is how an image is found:
 *
 *   Linux (today walk_source() and probe_loop() in plan.c, to move
 *   behind this with the seams): loop devices through sysfs
 *   (loop/backing_file) or LOOP_GET_STATUS64, dm and md through their
 *   slaves/ directories.
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

#include <stddef.h>

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
