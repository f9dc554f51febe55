/*
 * fbsddev.c: serves one of the emulated FreeBSD devices (hv_fsvss_dev or
 * hv_appvss_dev) as a FUSE file, for hv_vss_sim -F.
 *
 * As in fusedev.c the file is the mount's root inode, a regular file
 * mounted over a regular file.  FreeBSD's devices carry no data through
 * read() and write(): everything goes through two ioctls.  FUSE passes
 * ioctls on a regular file as "restricted" ones, whose direction and size
 * the Linux kernel takes from the command number itself: IOCHVVSSREAD
 * (_IOR) comes with 64 bytes to fill, IOCHVVSSWRITE (_IOW) with the 64
 * bytes the caller gave.  The numbers are those of common/hv_vss_fbsd.h,
 * built with the _IOR and _IOW of the platform the sim runs on, so they
 * match what a caller's ioctl() carries here.  Neither ioctl ever
 * blocks, so nothing is parked: only poll handles are kept.
 */
#include <sys/stat.h>
#include <poll.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>
#include <event2/event.h>

#include "hv_vss_fbsd.h"
#include "sim.h"

struct fbsddev {
	struct kfbsd *kernel;
	int side; /* KF_FS or KF_APP */
	struct fuse_session *se;
	struct fuse_buf fbuf;
	struct event *fuse_ev;
	char *path;
	bool created; /* we made the mount point */
	struct fuse_pollhandle *ph;
};

static void
dev_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	if (ino != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	memset(&st, 0, sizeof(st));
	st.st_ino = FUSE_ROOT_ID;
	st.st_mode = S_IFREG | 0640; /* root:wheel 0640 on FreeBSD */
	st.st_nlink = 1;
	fuse_reply_attr(req, &st, 1.0);
}

static void
dev_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
    struct fuse_file_info *fi)
{
	dev_getattr(req, ino, fi);
}

static void
dev_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, ENOTDIR);
}

static void
dev_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fbsddev *d = fuse_req_userdata(req);
	int rc;

	if ((rc = kfbsd_open(d->kernel, d->side)) < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	fi->direct_io = 1;
	fi->nonseekable = 1;
	fuse_reply_open(req, fi);
}

static void
dev_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fbsddev *d = fuse_req_userdata(req);

	kfbsd_release(d->kernel, d->side);
	fuse_reply_err(req, 0);
}

static void
dev_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

/* The driver has no d_read or d_write: devfs answers ENODEV. */
static void
dev_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	fuse_reply_err(req, ENODEV);
}

static void
dev_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
    off_t off, struct fuse_file_info *fi)
{
	fuse_reply_err(req, ENODEV);
}

static void
dev_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
    struct fuse_file_info *fi, unsigned int flags, const void *in_buf,
    size_t in_bufsz, size_t out_bufsz)
{
	struct fbsddev *d = fuse_req_userdata(req);
	struct hv_vss_opt_msg m;

	if (flags & FUSE_IOCTL_COMPAT) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	switch (cmd) {
	case IOCHVVSSREAD:
		if (out_bufsz < sizeof(m)) {
			fuse_reply_err(req, EINVAL);
			return;
		}
		kfbsd_read(d->kernel, d->side, &m);
		fuse_reply_ioctl(req, 0, &m, sizeof(m));
		return;
	case IOCHVVSSWRITE:
		if (in_bufsz < sizeof(m)) {
			fuse_reply_err(req, EINVAL);
			return;
		}
		memcpy(&m, in_buf, sizeof(m));
		kfbsd_write(d->kernel, d->side, &m);
		fuse_reply_ioctl(req, 0, NULL, 0);
		return;
	}
	/* the driver's switch has no default: any other command is 0 */
	fuse_reply_ioctl(req, 0, NULL, 0);
}

static void
dev_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
    struct fuse_pollhandle *ph)
{
	struct fbsddev *d = fuse_req_userdata(req);

	if (ph != NULL) {
		if (d->ph != NULL)
			fuse_pollhandle_destroy(d->ph);
		d->ph = ph;
	}
	/* the driver says POLLIN only, never POLLRDNORM */
	fuse_reply_poll(req, kfbsd_readable(d->kernel, d->side) ? POLLIN : 0);
}

static const struct fuse_lowlevel_ops dev_ops = {
    .lookup = dev_lookup,
    .getattr = dev_getattr,
    .setattr = dev_setattr,
    .open = dev_open,
    .read = dev_read,
    .write = dev_write,
    .flush = dev_flush,
    .release = dev_release,
    .ioctl = dev_ioctl,
    .poll = dev_poll,
};

/* The kernel model queued a request for this device: wake its poller. */
static void
wakeup(void *arg)
{
	struct fbsddev *d = arg;

	if (d->ph != NULL) {
		fuse_lowlevel_notify_poll(d->ph);
		fuse_pollhandle_destroy(d->ph);
		d->ph = NULL;
	}
}

static void
fuse_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fbsddev *d = arg;
	int rc;

	rc = fuse_session_receive_buf(d->se, &d->fbuf);
	if (rc == -EINTR || rc == -EAGAIN)
		return;
	if (rc <= 0) {
		if (rc < 0)
			fprintf(stderr, "hv_vss_sim: fuse: %s: %s\n", d->path,
			    strerror(-rc));
		event_del(d->fuse_ev);
		return;
	}
	fuse_session_process_buf(d->se, &d->fbuf);
}

struct fbsddev *
fbsddev_start(struct event_base *base, const char *path, struct kfbsd *kernel,
    int side, bool verbose)
{
	struct fbsddev *d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->kernel = kernel;
	d->side = side;
	if ((d->path = strdup(path)) == NULL)
		goto fail;
	if ((d->se = fusefile_mount(path, &dev_ops, sizeof(dev_ops), d, verbose,
	         &d->created)) == NULL)
		goto fail;
	d->fuse_ev = event_new(
	    base, fuse_session_fd(d->se), EV_READ | EV_PERSIST, fuse_cb, d);
	if (d->fuse_ev == NULL || event_add(d->fuse_ev, NULL) != 0) {
		fbsddev_stop(d);
		return NULL;
	}
	kfbsd_set_wakeup(kernel, side, wakeup, d);
	return d;
fail:
	free(d->path);
	free(d);
	return NULL;
}

void
fbsddev_stop(struct fbsddev *d)
{
	if (d == NULL)
		return;
	kfbsd_set_wakeup(d->kernel, d->side, NULL, NULL);
	if (d->ph != NULL)
		fuse_pollhandle_destroy(d->ph);
	if (d->fuse_ev != NULL)
		event_free(d->fuse_ev);
	if (d->se != NULL) {
		fuse_session_unmount(d->se);
		fuse_session_destroy(d->se);
	}
	free(d->fbuf.mem);
	if (d->created)
		unlink(d->path);
	free(d->path);
	free(d);
}
