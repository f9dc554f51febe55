/*
 * fusedev.c: serves the emulated /dev/vmbus/hv_vss as a FUSE file.
 *
 * The file is the mount's root inode (a regular file mounted over a
 * regular file), opened with direct I/O so that each read() and write()
 * reaches us whole, with the caller's exact size, as on a character
 * device.  Requests are handled on the sim's libevent loop, one at a
 * time, with libfuse's low-level API: a read() with nothing to read is
 * parked and answered when the kernel model queues a message; poll()
 * handles are kept and notified at the same moment.  A parked read that
 * FUSE interrupts (the reader got a signal) is answered EINTR, or the
 * reader could never be killed.
 */
#include <sys/stat.h>
#include <poll.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>
#include <event2/event.h>

#include "sim.h"

#define MAX_PARKED 8

struct fusedev {
	struct event_base *base;
	struct kernel *kernel;
	struct fuse_session *se;
	struct fuse_buf fbuf;
	struct event *fuse_ev;
	struct event *intr_ev;
	char *path;
	bool created; /* we made the mount point */
	bool verbose;
	fuse_req_t parked[MAX_PARKED]; /* reads waiting */
	size_t parked_size[MAX_PARKED];
	bool parked_intr[MAX_PARKED];
	struct fuse_pollhandle *ph;
};

static void
fill_stat(struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = FUSE_ROOT_ID;
	st->st_mode = S_IFREG | 0600;
	st->st_nlink = 1;
}

static void
dev_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	if (ino != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill_stat(&st);
	fuse_reply_attr(req, &st, 1.0);
}

static void
dev_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
    struct fuse_file_info *fi)
{
	/* O_TRUNC and friends: a device has no size; accept and ignore */
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
	struct fusedev *d = fuse_req_userdata(req);
	int rc;

	if ((rc = kernel_open(d->kernel)) < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	fi->direct_io = 1;
	fi->nonseekable = 1;
	fi->keep_cache = 0;
	fuse_reply_open(req, fi);
}

static void
dev_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fusedev *d = fuse_req_userdata(req);
	int i;

	/* the kernel fails parked reads of a released file itself */
	for (i = 0; i < MAX_PARKED; i++)
		if (d->parked[i] != NULL) {
			fuse_reply_err(d->parked[i], EBADF);
			d->parked[i] = NULL;
		}
	kernel_release(d->kernel);
	fuse_reply_err(req, 0);
}

static void
dev_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

/* Answer a read from the kernel model; false if it must wait. */
static bool
answer_read(struct fusedev *d, fuse_req_t req, size_t size)
{
	uint8_t buf[64];
	ssize_t n;

	n = kernel_read(
	    d->kernel, buf, size < sizeof(buf) ? size : sizeof(buf));
	if (n == -EAGAIN)
		return false;
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_buf(req, (const char *)buf, n);
	return true;
}

/* Called by libfuse when the kernel interrupts a parked read. */
static void
read_interrupted(fuse_req_t req, void *arg)
{
	struct fusedev *d = arg;
	int i;

	/* answer from the loop, not from inside libfuse's callback */
	for (i = 0; i < MAX_PARKED; i++)
		if (d->parked[i] == req)
			d->parked_intr[i] = true;
	event_active(d->intr_ev, EV_TIMEOUT, 0);
}

static void
intr_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fusedev *d = arg;
	int i;

	for (i = 0; i < MAX_PARKED; i++)
		if (d->parked[i] != NULL && d->parked_intr[i]) {
			fuse_reply_err(d->parked[i], EINTR);
			d->parked[i] = NULL;
			d->parked_intr[i] = false;
		}
}

static void
dev_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	struct fusedev *d = fuse_req_userdata(req);
	int i;

	if (answer_read(d, req, size))
		return;
	for (i = 0; i < MAX_PARKED; i++)
		if (d->parked[i] == NULL)
			break;
	if (i == MAX_PARKED) {
		fuse_reply_err(req, EAGAIN);
		return;
	}
	d->parked[i] = req;
	d->parked_size[i] = size;
	d->parked_intr[i] = false;
	fuse_req_interrupt_func(req, read_interrupted, d);
}

static void
dev_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
    off_t off, struct fuse_file_info *fi)
{
	struct fusedev *d = fuse_req_userdata(req);
	int rc;

	if ((rc = kernel_write(d->kernel, buf, size)) < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_write(req, size);
}

/* hvt_op_poll() */
static unsigned int
poll_mask(const struct fusedev *d)
{
	if (kernel_removed(d->kernel))
		return POLLERR | POLLHUP;
	return kernel_readable(d->kernel) ? POLLIN | POLLRDNORM : 0;
}

static void
dev_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
    struct fuse_pollhandle *ph)
{
	struct fusedev *d = fuse_req_userdata(req);

	if (ph != NULL) {
		if (d->ph != NULL)
			fuse_pollhandle_destroy(d->ph);
		d->ph = ph;
	}
	fuse_reply_poll(req, poll_mask(d));
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
    .poll = dev_poll,
};

/* The kernel model queued a message: serve parked reads, wake pollers. */
static void
wakeup(void *arg)
{
	struct fusedev *d = arg;
	int i;

	for (i = 0; i < MAX_PARKED; i++) {
		if (d->parked[i] == NULL || d->parked_intr[i])
			continue;
		if (!answer_read(d, d->parked[i], d->parked_size[i]))
			break;
		d->parked[i] = NULL;
	}
	if (d->ph != NULL && poll_mask(d) != 0) {
		fuse_lowlevel_notify_poll(d->ph);
		fuse_pollhandle_destroy(d->ph);
		d->ph = NULL;
	}
}

static void
fuse_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fusedev *d = arg;
	int rc;

	rc = fuse_session_receive_buf(d->se, &d->fbuf);
	if (rc == -EINTR || rc == -EAGAIN)
		return;
	if (rc <= 0) {
		if (rc < 0)
			fprintf(
			    stderr, "hv_vss_sim: fuse: %s\n", strerror(-rc));
		event_del(d->fuse_ev);
		return;
	}
	fuse_session_process_buf(d->se, &d->fbuf);
}

/*
 * A FUSE session serving the regular file at path, made if missing
 * (*created then says so: the caller unlinks it at the end).  A FUSE
 * file shows up as a regular file, which the daemons must accept.  Both
 * emulated kernels' devices are served this way (fbsddev.c too).
 */
struct fuse_session *
fusefile_mount(const char *path, const struct fuse_lowlevel_ops *ops,
    size_t opsize, void *userdata, bool verbose, bool *created)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_session *se;
	struct stat st;
	int fd;

	*created = false;
	if (stat(path, &st) == -1) {
		if (errno != ENOENT) {
			fprintf(stderr, "hv_vss_sim: %s: %s\n", path,
			    strerror(errno));
			return NULL;
		}
		if ((fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600)) ==
		    -1) {
			fprintf(stderr, "hv_vss_sim: create %s: %s\n", path,
			    strerror(errno));
			return NULL;
		}
		close(fd);
		*created = true;
	} else if (!S_ISREG(st.st_mode)) {
		fprintf(stderr, "hv_vss_sim: %s: not a regular file\n", path);
		return NULL;
	}
	if (fuse_opt_add_arg(&args, "hv_vss_sim") != 0 ||
	    fuse_opt_add_arg(&args, "-o") != 0 ||
	    fuse_opt_add_arg(&args, "fsname=hv_vss_sim,subtype=hv_vss_sim") !=
	        0 ||
	    (verbose && fuse_opt_add_arg(&args, "-d") != 0)) {
		fuse_opt_free_args(&args);
		goto fail;
	}
	se = fuse_session_new(&args, ops, opsize, userdata);
	fuse_opt_free_args(&args);
	if (se == NULL) {
		fprintf(stderr, "hv_vss_sim: fuse_session_new failed\n");
		goto fail;
	}
	if (fuse_session_mount(se, path) != 0) {
		fprintf(stderr, "hv_vss_sim: cannot mount FUSE on %s\n", path);
		fuse_session_destroy(se);
		goto fail;
	}
	return se;
fail:
	if (*created)
		unlink(path);
	*created = false;
	return NULL;
}

struct fusedev *
fusedev_start(struct event_base *base, const char *path, struct kernel *kernel,
    bool verbose)
{
	struct fusedev *d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->base = base;
	d->kernel = kernel;
	d->verbose = verbose;
	if ((d->path = strdup(path)) == NULL)
		goto fail;
	if ((d->se = fusefile_mount(path, &dev_ops, sizeof(dev_ops), d, verbose,
	         &d->created)) == NULL)
		goto fail;
	d->fuse_ev = event_new(
	    base, fuse_session_fd(d->se), EV_READ | EV_PERSIST, fuse_cb, d);
	d->intr_ev = event_new(base, -1, 0, intr_cb, d);
	if (d->fuse_ev == NULL || d->intr_ev == NULL ||
	    event_add(d->fuse_ev, NULL) != 0) {
		fusedev_stop(d);
		return NULL;
	}
	kernel_set_wakeup(kernel, wakeup, d);
	return d;
fail:
	free(d->path);
	free(d);
	return NULL;
}

void
fusedev_stop(struct fusedev *d)
{
	int i;

	if (d == NULL)
		return;
	kernel_set_wakeup(d->kernel, NULL, NULL);
	for (i = 0; i < MAX_PARKED; i++)
		if (d->parked[i] != NULL)
			fuse_reply_err(d->parked[i], ENODEV);
	if (d->ph != NULL)
		fuse_pollhandle_destroy(d->ph);
	if (d->fuse_ev != NULL)
		event_free(d->fuse_ev);
	if (d->intr_ev != NULL)
		event_free(d->intr_ev);
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
