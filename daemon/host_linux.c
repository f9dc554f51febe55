/*
 * host_linux.c: the host channel (host.h) on Linux: /dev/vmbus/hv_vss
 * (doc/DESIGN.md, "Host contract").
 *
 * Open O_RDWR, write REGISTER1, read the kernel's 4-byte answer; then
 * each POLLIN brings one 12-byte request, answered by one 12-byte write.
 * The device is read only after poll says a message waits: its read()
 * blocks even with O_NONBLOCK.  Any failure (a short read, a write the
 * kernel rejects because it gave up on the request, the device going
 * away) is reported as lost; the daemon thaws before it lets us
 * reconnect, as a rejected reply may mean a FREEZE the host no longer
 * waits for.  The device may be a regular file: hv_vss_sim serves it
 * through FUSE.
 *
 * HOT_BACKUP is host.h's CHECK; an answer is the HRESULT S_OK or E_FAIL
 * written over the request, its flags echoed.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf.h"
#include "hv_msg.h"
#include "host.h"
#include "log.h"

#define RETRY_SECONDS 1

const bool host_can_privsep = true;

struct hostchan {
	struct event_base *base;
	struct host_callbacks cb;
	void *arg;
	char *device;
	int fd;
	bool registered;
	bool open_failed_logged;
	bool backoff; /* wait before the next open */
	uint32_t req_flags; /* echoed in the reply */
	hostchan_open_fn open_fn; /* NULL: open(2) */
	void *open_arg;
	bool fresh; /* lost: the next open is a new one */
	struct event *read_ev;
	struct event *retry_ev;
};

/* Who holds the device open?  Scan /proc for an fd on the same inode. */
void
host_device_holder(const char *device, char *out, size_t len)
{
	struct stat dst, st;
	struct dirent *pe, *fe;
	DIR *proc, *fds;
	char path[PATH_MAX], comm[64];
	FILE *f;
	size_t n;

	snprintf(out, len, "unknown");
	if (stat(device, &dst) == -1 || (proc = opendir("/proc")) == NULL)
		return;
	while ((pe = readdir(proc)) != NULL) {
		if (!isdigit((unsigned char)pe->d_name[0]) ||
		    atoi(pe->d_name) == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", pe->d_name);
		if ((fds = opendir(path)) == NULL)
			continue;
		while ((fe = readdir(fds)) != NULL) {
			snprintf(path, sizeof(path), "/proc/%s/fd/%s",
			    pe->d_name, fe->d_name);
			if (stat(path, &st) == -1 || st.st_dev != dst.st_dev ||
			    st.st_ino != dst.st_ino ||
			    st.st_rdev != dst.st_rdev)
				continue;
			comm[0] = '\0';
			snprintf(
			    path, sizeof(path), "/proc/%s/comm", pe->d_name);
			if ((f = fopen(path, "r")) != NULL) {
				if (fgets(comm, sizeof(comm), f) != NULL &&
				    (n = strlen(comm)) > 0 &&
				    comm[n - 1] == '\n')
					comm[n - 1] = '\0';
				fclose(f);
			}
			snprintf(out, len, "pid %s (%s)", pe->d_name, comm);
			closedir(fds);
			closedir(proc);
			return;
		}
		closedir(fds);
	}
	closedir(proc);
}

/* The request, as host.h names it. */
static enum host_req
request_of(uint8_t op)
{
	switch (op) {
	case HV_OP_HOT_BACKUP:
		return HOST_CHECK;
	case HV_OP_FREEZE:
		return HOST_FREEZE;
	case HV_OP_THAW:
		return HOST_THAW;
	default:
		return HOST_OTHER;
	}
}

/* rejected: only our reply was refused (the kernel gave up on it) */
static void
lose(struct hostchan *h, const char *why, bool rejected)
{
	hostchan_close(h);
	h->fresh = true;
	h->cb.lost(why, rejected, h->arg);
}

static void
read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hostchan *h = arg;
	uint8_t buf[HV_MSG_SIZE];
	struct hv_msg m;
	uint32_t version;
	ssize_t n;
	char why[128];

	n = read(h->fd, buf, sizeof(buf));
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (!h->registered) {
		if (hv_msg_decode_register_reply(
		        buf, n < 0 ? 0 : (size_t)n, &version) != 0) {
			snprintf(why, sizeof(why),
			    "bad REGISTER1 answer (%zd bytes%s%s)", n,
			    n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
			/* not a VSS device (any more): don't spin on it */
			h->backoff = true;
			lose(h, why, false);
			return;
		}
		h->registered = true;
		h->open_failed_logged = false;
		h->cb.registered(version, h->arg);
		return;
	}
	if (n < 0 || hv_msg_decode(buf, (size_t)n, &m) != 0) {
		snprintf(why, sizeof(why), "read %zd bytes%s%s", n,
		    n < 0 ? ": " : " instead of 12",
		    n < 0 ? strerror(errno) : "");
		lose(h, why, false);
		return;
	}
	h->req_flags = m.flags;
	/* Linux's timers (30 s, 900 s) are warned about at start
	 * (host_conf_apply()), not carried with the request */
	h->cb.request(request_of(m.op), hv_op_name(m.op), 0, h->arg);
}

static bool
try_open(struct hostchan *h)
{
	uint8_t msg[HV_MSG_SIZE];
	struct stat st;
	char holder[128];
	int fd, err;

	if (h->open_fn != NULL) {
		snprintf(holder, sizeof(holder), "unknown");
		fd = h->open_fn(
		    h->device, h->fresh, holder, sizeof(holder), h->open_arg);
		if (fd < 0) {
			errno = -fd;
			fd = -1;
		}
	} else
		fd = open(h->device, O_RDWR | O_CLOEXEC);
	if (fd == -1) {
		err = errno;
		if (h->open_failed_logged)
			return false;
		h->open_failed_logged = true;
		/* the parent's open: it cannot be looked into from here */
		if (err == EBUSY && h->open_fn != NULL)
			log_warnx(
			    "%s is busy: another VSS daemon holds it (%s); retrying every %d s",
			    h->device, holder, RETRY_SECONDS);
		else if (err == EBUSY) {
			host_device_holder(h->device, holder, sizeof(holder));
			log_warnx(
			    "%s is busy: another VSS daemon holds it (%s); retrying every %d s",
			    h->device, holder, RETRY_SECONDS);
		} else
			log_warnx("open %s: %s; retrying every %d s", h->device,
			    strerror(err), RETRY_SECONDS);
		return false;
	}
	if (fstat(fd, &st) == 0 && !S_ISCHR(st.st_mode) &&
	    !S_ISREG(st.st_mode)) {
		log_warnx(
		    "%s: neither a character device nor a file", h->device);
		close(fd);
		return false;
	}
	/* pollable first: a plain file left where the emulator was served
	 * is not a VSS device (yet), and must not be written to */
	h->read_ev = event_new(h->base, fd, EV_READ | EV_PERSIST, read_cb, h);
	if (h->read_ev == NULL || event_add(h->read_ev, NULL) != 0) {
		if (!h->open_failed_logged)
			log_warnx(
			    "%s cannot be polled: not a VSS device; retrying every %d s",
			    h->device, RETRY_SECONDS);
		h->open_failed_logged = true;
		if (h->read_ev != NULL)
			event_free(h->read_ev);
		h->read_ev = NULL;
		close(fd);
		return false;
	}
	hv_msg_encode(HV_OP_REGISTER1, 0, msg);
	if (write(fd, msg, sizeof(msg)) != (ssize_t)sizeof(msg)) {
		log_warn("register with %s", h->device);
		event_free(h->read_ev);
		h->read_ev = NULL;
		close(fd);
		return false;
	}
	h->fd = fd;
	h->registered = false;
	h->fresh = false;
	return true;
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	hostchan_connect(arg);
}

void
hostchan_connect(struct hostchan *h)
{
	struct timeval tv = {RETRY_SECONDS, 0};

	if (h->fd != -1 || evtimer_pending(h->retry_ev, NULL))
		return;
	if (h->backoff) {
		h->backoff = false;
		evtimer_add(h->retry_ev, &tv);
		return;
	}
	if (!try_open(h))
		evtimer_add(h->retry_ev, &tv);
}

void
hostchan_close(struct hostchan *h)
{
	if (h->read_ev != NULL) {
		event_free(h->read_ev);
		h->read_ev = NULL;
	}
	if (h->fd != -1)
		close(h->fd);
	h->fd = -1;
	h->registered = false;
}

int
hostchan_reply(struct hostchan *h, bool ok)
{
	uint8_t msg[HV_MSG_SIZE];
	char why[128];
	int err;

	if (h->fd == -1)
		return -ENOTCONN;
	hv_msg_encode_reply(ok ? HV_S_OK : HV_E_FAIL, h->req_flags, msg);
	if (write(h->fd, msg, sizeof(msg)) == (ssize_t)sizeof(msg))
		return 0;
	err = errno;
	snprintf(why, sizeof(why), "reply rejected: %s%s", strerror(err),
	    err == EINVAL
	        ? " (the kernel no longer waits for it: timeout or hibernation)"
	        : "");
	lose(h, why, err == EINVAL);
	return -err;
}

bool
hostchan_connected(const struct hostchan *h)
{
	return h->fd != -1 && h->registered;
}

void
hostchan_set_device(struct hostchan *h, const char *device)
{
	char *copy = strdup(device);

	if (copy == NULL)
		fatal("strdup");
	free(h->device);
	h->device = copy;
}

struct hostchan *
hostchan_new(struct event_base *base, const struct conf *c,
    const struct host_callbacks *cb, void *arg)
{
	struct hostchan *h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	h->base = base;
	h->cb = *cb;
	h->arg = arg;
	h->fd = -1;
	hostchan_set_device(h, c->device);
	if ((h->retry_ev = evtimer_new(base, retry_cb, h)) == NULL) {
		free(h->device);
		free(h);
		return NULL;
	}
	return h;
}

/* Linux's timers (30 s, 900 s) fit conf.c's deadlines as they are. */
void
host_conf_defaults(struct conf *c)
{
	strcpy(c->device, "/dev/vmbus/hv_vss");
	c->app_device[0] = '\0'; /* Linux has no application device */
}

/*
 * Linux answers the host E_FAIL itself after 30 s for HOT_BACKUP and THAW
 * and after 900 s for FREEZE, and rejects a later answer; a stage
 * deadline past that only delays the truth.  At start and at each
 * reload.
 */
void
host_conf_apply(const struct conf *c)
{
	if (c->app_device[0] != '\0')
		log_warnx(
		    "app_device %s: FreeBSD's; Linux has no application device: ignored",
		    c->app_device);
	if (c->check_timeout_ms >= 30000)
		log_warnx(
		    "check_timeout %u ms: Linux gives up on HOT_BACKUP after 30 s",
		    c->check_timeout_ms);
	if (2 * c->thaw_timeout_ms >= 30000)
		log_warnx(
		    "thaw_timeout %u ms: a THAW may take it twice (the filesystems, then the applications); Linux gives up on THAW after 30 s",
		    c->thaw_timeout_ms);
	if (c->app_freeze_timeout_ms + c->hook_timeout_ms +
	        c->fs_freeze_timeout_ms >=
	    900000)
		log_warnx(
		    "app_freeze_timeout, hook_timeout and fs_freeze_timeout add up past the 900 s Linux waits for FREEZE");
}

/* Linux has one device: nothing but it, which hostchan_set_device()
 * changes. */
void
hostchan_reconf(struct hostchan *h, const struct conf *c)
{
	(void)h;
	(void)c;
}

void
hostchan_free(struct hostchan *h)
{
	if (h == NULL)
		return;
	hostchan_close(h);
	event_free(h->retry_ev);
	free(h->device);
	free(h);
}

void
hostchan_set_opener(struct hostchan *h, hostchan_open_fn fn, void *arg)
{
	h->open_fn = fn;
	h->open_arg = arg;
}
