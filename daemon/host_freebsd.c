/*
 * host_freebsd.c: the host channel (host.h) on FreeBSD: the hv_vss(4)
 * driver's two devices (doc/FREEBSD.md, "The FreeBSD host backend").
 *
 * /dev/hv_fsvss_dev is the filesystem daemon's, /dev/hv_appvss_dev one
 * application's; opening one registers that side, with no handshake.
 * IOCHVVSSREAD takes the next request (status 1: none queued; it never
 * blocks), IOCHVVSSWRITE acknowledges it, echoing opt and msgid with
 * status 0 or 1, and always returns 0: an acknowledgement the kernel no
 * longer waits for is dropped without a word.  One host request visits
 * both devices in turn, the same request object with the same msgid: on
 * CHECK and FREEZE the application's first, on THAW the daemon's first.
 * One 15 s timer, armed when the host's packet arrives, covers both
 * turns; when it fires the host is answered failed and neither device is
 * told.
 *
 * We hold both devices.  The first turn of a host request, whichever
 * device it comes on, is the one request the daemon sees: its whole
 * answer (the applications, tiers and hooks, then the filesystems on
 * FREEZE; the filesystems, then the applications on THAW) is worked out
 * during that turn, so hvvss's application stage runs during the
 * application device's turn as the kernel intends.  The second turn,
 * the same msgid on the other device, is acknowledged at once with the
 * first one's verdict.  With app_device empty (legacy mode) only the
 * daemon's device is held, and the application written against the
 * other takes its own turns.
 *
 * The kernel never says that it dropped our answer, so we keep its timer
 * ourselves: the msgid is the kernel's nanotime() when the host's packet
 * arrived, so the time left is known even after a legacy application's
 * turn.  The daemon is handed what is left, less MARGIN_MS and
 * ANSWER_MS, as the request's budget: its stages are clamped to it
 * (txn_budget()), so a stage that overruns is answered failed in time.
 * If the daemon still has not answered MARGIN_MS before the kernel's
 * timer fires, or the second turn has not come by then, the request is
 * lost (rejected): the daemon undoes what it did, and nothing is written.
 * Later turns of that msgid are acknowledged failed.
 *
 * The devices are read on a timer, not when the event loop says they
 * are readable: the driver's cdevsw has no d_kqfilter, so kevent() on
 * them fails with ENODEV (kern_conf.c's no_kqfilter), which libevent's
 * kqueue backend, FreeBSD's default, takes for a failed dispatch.
 * READ never blocks, so a tick is one ioctl per device: every IDLE_MS
 * while nothing is under way, every FAST_MS while a second turn is
 * awaited.  Linux's FUSE files are read the same way, so the tests run
 * this very code.
 */
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf.h"
#include "host.h"
#include "hv_vss_fbsd.h"
#include "log.h"
#include "util.h"

#define RETRY_SECONDS 1
#define KERNEL_TIMER_MS (15 * 1000) /* hv_snapshot.c's TIMEOUT_LIMIT */
/* answered this long before the kernel's timer, or not at all: the
 * second turn's read and acknowledgement fit in it */
#define MARGIN_MS 500
#define BUDGET_MS (kernel_timer_ms() - MARGIN_MS)
/* the daemon's budget ends this long before our deadline: its failure,
 * answered when a stage overruns the budget, is written before our
 * deadline would take the request for lost */
#define ANSWER_MS 250
/* a msgid further than this from our clock is not the kernel's time */
#define CLOCK_SLACK_MS 1000
/* the devices are read this often; FAST_MS while a second turn is due */
#define IDLE_MS 200
#define FAST_MS 5

enum { DEV_FS, DEV_APP, NDEV };

struct fdev {
	char *path;
	int fd;
	bool failed_logged; /* the last open failure was logged */
	bool notvss_logged; /* "not a VSS device" was */
};

struct hostchan {
	struct event_base *base;
	struct host_callbacks cb;
	void *arg;
	struct fdev dev[NDEV];
	bool legacy; /* app_device empty: the application device is not ours */
	/* a reload changed app_device: applied between requests */
	bool app_change;
	char app_device[CONF_PATH_MAX];

	/* the request the daemon is working on: its first turn */
	bool busy;
	int side;
	uint32_t opt;
	uint64_t msgid;

	/* the last request answered: its second turn gets the same verdict */
	bool answered;
	uint64_t done_msgid;
	bool done_ok;
	int await; /* the device its second turn will come on, or -1 */

	bool proven; /* a READ worked since the devices were opened */
	struct event *tick_ev; /* read the devices */
	struct event *deadline_ev; /* the kernel's timer, less MARGIN_MS */
	struct event *retry_ev;
};

/*
 * The kernel's timer.  A test build (HVVSS_TEST_TRIGGERS: the tests'
 * hv_vss_daemon_fbsdhost, never installed) takes a shorter one, in whole
 * seconds, from HVVSS_TEST_FBSD_TIMER, to match hv_vss_sim -F -T all=:
 * the tests that wait the timer out then wait seconds, not 15 each.
 */
static unsigned int
kernel_timer_ms(void)
{
#ifdef HVVSS_TEST_TRIGGERS
	static unsigned int ms;
	const char *s;
	char *end;
	unsigned long v;

	if (ms != 0)
		return ms;
	ms = KERNEL_TIMER_MS;
	if ((s = getenv("HVVSS_TEST_FBSD_TIMER")) == NULL)
		return ms;
	errno = 0;
	v = strtoul(s, &end, 10);
	/* whole seconds: the messages say "the kernel's N s timer" */
	if (errno != 0 || end == s || *end != '\0' || v < 2 ||
	    v > KERNEL_TIMER_MS / 1000)
		fatalx("HVVSS_TEST_FBSD_TIMER=%s: not 2 to %d seconds", s,
		    KERNEL_TIMER_MS / 1000);
	ms = (unsigned int)v * 1000;
	log_info(
	    "test build: the kernel's timer is taken for %u s (HVVSS_TEST_FBSD_TIMER)",
	    ms / 1000);
	return ms;
#else
	return KERNEL_TIMER_MS;
#endif
}

static const char *const opt_names[HV_VSS_COUNT] = {
    "NONE", "CHECK", "FREEZE", "THAW"};

static const char *
opt_name(uint32_t opt)
{
	return opt < HV_VSS_COUNT ? opt_names[opt] : "unknown";
}

static enum host_req
request_of(uint32_t opt)
{
	switch (opt) {
	case HV_VSS_CHECK:
		return HOST_CHECK;
	case HV_VSS_FREEZE:
		return HOST_FREEZE;
	case HV_VSS_THAW:
		return HOST_THAW;
	default:
		return HOST_OTHER;
	}
}

/*
 * Milliseconds left of the kernel's timer for the request msgid.  The
 * driver's msgid is nanotime() (hv_vss_init_req()), our CLOCK_REALTIME;
 * if it cannot be (the clock was stepped), count from now.
 */
static unsigned int
time_left(uint64_t msgid)
{
	unsigned int timer = kernel_timer_ms();
	struct timespec ts;
	uint64_t now;
	int64_t age;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		return timer;
	now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	age = (int64_t)(now - msgid) / 1000000;
	if (age < -CLOCK_SLACK_MS || age > (int64_t)timer + CLOCK_SLACK_MS) {
		log_debug(
		    "msgid %llu is not the kernel's clock (%lld ms from ours): timing from now",
		    (unsigned long long)msgid, (long long)age);
		return timer;
	}
	if (age < 0)
		age = 0;
	return age >= timer ? 0 : timer - (unsigned int)age;
}

static void
disarm(struct hostchan *h)
{
	evtimer_del(h->deadline_ev);
}

/* rejected: the kernel gave up on our answer (its timer) */
static void
lose(struct hostchan *h, const char *why, bool rejected)
{
	hostchan_close(h);
	h->cb.lost(why, rejected, h->arg);
}

/* IOCHVVSSWRITE: it returns 0 whether the kernel took it or not */
static int
ack(struct hostchan *h, int side, uint32_t opt, uint64_t msgid, bool ok)
{
	struct hv_vss_opt_msg m;
	char why[CONF_PATH_MAX + 64];
	int err;

	memset(&m, 0, sizeof(m));
	m.opt = opt;
	m.msgid = msgid;
	m.status = ok ? VSS_SUCCESS : VSS_FAIL;
	if (ioctl(h->dev[side].fd, IOCHVVSSWRITE, &m) == 0)
		return 0;
	err = errno;
	snprintf(why, sizeof(why), "IOCHVVSSWRITE on %s: %s", h->dev[side].path,
	    strerror(err));
	lose(h, why, false);
	return -err;
}

/*
 * A turn of the request answered last: its second turn gets the first's
 * verdict; any other (a turn the daemon gave up on, come after it
 * reconnected) is failed, as the kernel's timer fails it to the host.
 */
static int
answered_turn(struct hostchan *h, int side, const struct hv_vss_opt_msg *m)
{
	if (side != h->await) {
		log_warnx(
		    "%s: %s (msgid %llu) again, after the daemon gave it up: answered failed",
		    h->dev[side].path, opt_name(m->opt),
		    (unsigned long long)m->msgid);
		return ack(h, side, m->opt, m->msgid, false);
	}
	log_debug("%s: %s (msgid %llu), second turn: %s as the first",
	    h->dev[side].path, opt_name(m->opt), (unsigned long long)m->msgid,
	    h->done_ok ? "ok" : "failed");
	h->await = -1;
	disarm(h);
	return ack(h, side, m->opt, m->msgid, h->done_ok);
}

/* One request read from a device; -1 if the channel went with it. */
static int
turn(struct hostchan *h, int side, const struct hv_vss_opt_msg *m)
{
	struct timeval tv;
	unsigned int left;
	char why[256];

	if (h->answered && m->msgid == h->done_msgid)
		return answered_turn(h, side, m);
	if (h->busy) {
		/* the kernel holds one request at a time, and ours is in an
		 * ack queue: a leftover of an earlier connection */
		log_warnx(
		    "%s: %s (msgid %llu) while %s (msgid %llu) is being answered: answered failed",
		    h->dev[side].path, opt_name(m->opt),
		    (unsigned long long)m->msgid, opt_name(h->opt),
		    (unsigned long long)h->msgid);
		return ack(h, side, m->opt, m->msgid, false);
	}
	if (h->await != -1) {
		/* the kernel holds one request at a time: it gave up on the
		 * last one, dropping our answer, whatever our clock said */
		snprintf(why, sizeof(why),
		    "%s (msgid %llu) came before the second turn of msgid %llu: the kernel dropped our answer to it",
		    opt_name(m->opt), (unsigned long long)m->msgid,
		    (unsigned long long)h->done_msgid);
		h->await = -1;
		h->done_ok = false;
		if (ack(h, side, m->opt, m->msgid, false) != 0)
			return -1;
		lose(h, why, true);
		return -1;
	}
	h->answered = true;
	h->done_msgid = m->msgid;
	h->done_ok = false;
	if ((left = time_left(m->msgid)) <= MARGIN_MS + ANSWER_MS) {
		log_warnx(
		    "%s: %s (msgid %llu) came with %u ms of the kernel's %u s left: answered failed without starting it",
		    h->dev[side].path, opt_name(m->opt),
		    (unsigned long long)m->msgid, left,
		    kernel_timer_ms() / 1000);
		return ack(h, side, m->opt, m->msgid, false);
	}
	h->busy = true;
	h->side = side;
	h->opt = m->opt;
	h->msgid = m->msgid;
	left -= MARGIN_MS;
	tv.tv_sec = left / 1000;
	tv.tv_usec = (left % 1000) * 1000;
	evtimer_add(h->deadline_ev, &tv);
	log_debug("%s: %s (msgid %llu), %u ms to answer", h->dev[side].path,
	    opt_name(m->opt), (unsigned long long)m->msgid, left);
	/* the machine fits its stages in what is left (txn_budget()) */
	h->cb.request(
	    request_of(m->opt), opt_name(m->opt), left - ANSWER_MS, h->arg);
	return 0;
}

static void retry_later(struct hostchan *);
static void apply_app_device(struct hostchan *);

/* Read the next tick in ms. */
static void
schedule(struct hostchan *h, unsigned int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	if (h->dev[DEV_FS].fd != -1)
		evtimer_add(h->tick_ev, &tv);
}

/* Take what one device has queued; -1 if the channel went. */
static int
drain(struct hostchan *h, int side)
{
	struct hv_vss_opt_msg m;
	char why[CONF_PATH_MAX + 64];
	int err;

	while (h->dev[side].fd != -1) {
		memset(&m, 0, sizeof(m));
		if (ioctl(h->dev[side].fd, IOCHVVSSREAD, &m) == -1) {
			err = errno;
			if (!h->proven) {
				/* e.g. a plain file left where the emulator
				 * served the device: not ours to write to */
				if (!h->dev[side].notvss_logged)
					log_warnx(
					    "IOCHVVSSREAD on %s: %s: not a VSS device; retrying every %d s",
					    h->dev[side].path, strerror(err),
					    RETRY_SECONDS);
				h->dev[side].notvss_logged = true;
				hostchan_close(h);
				retry_later(h);
				return -1;
			}
			snprintf(why, sizeof(why), "IOCHVVSSREAD on %s: %s",
			    h->dev[side].path, strerror(err));
			lose(h, why, false);
			return -1;
		}
		if (!h->proven) {
			h->proven = true;
			h->dev[DEV_FS].notvss_logged = false;
			h->cb.registered(0, h->arg);
		}
		if (m.status != VSS_SUCCESS)
			return 0;
		if (turn(h, side, &m) != 0)
			return -1;
	}
	return -1;
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hostchan *h = arg;
	int side;

	apply_app_device(h);
	/* the daemon's device first: its READ proves the devices */
	for (side = 0; side < NDEV; side++)
		if (h->dev[side].fd != -1 && drain(h, side) != 0)
			return;
	schedule(h, h->await != -1 ? FAST_MS : IDLE_MS);
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hostchan *h = arg;
	char why[256];

	h->done_ok = false;
	if (h->busy) {
		snprintf(why, sizeof(why),
		    "%s (msgid %llu) not answered %d ms before the kernel's %u s timer: the kernel answers the host failed",
		    opt_name(h->opt), (unsigned long long)h->msgid, MARGIN_MS,
		    kernel_timer_ms() / 1000);
		h->busy = false;
	} else if (h->await != -1)
		snprintf(why, sizeof(why),
		    "the kernel never passed msgid %llu on to %s: our answer came after its %u s timer, and the host was answered failed",
		    (unsigned long long)h->done_msgid, h->dev[h->await].path,
		    kernel_timer_ms() / 1000);
	else
		return;
	h->await = -1;
	lose(h, why, true);
}

/* -1 and errno set: not opened (failure logged once) */
static int
open_dev(struct hostchan *h, int side)
{
	struct fdev *d = &h->dev[side];
	struct stat st;
	int fd, err;

	if ((fd = open(d->path, O_RDWR | O_CLOEXEC)) == -1) {
		err = errno;
		if (!d->failed_logged) {
			if (err == EBUSY && side == DEV_APP)
				log_warnx(
				    "%s is busy: an application written against it holds it (fstat(1) says which); serving as the filesystem daemon only and retrying every %d s (app_device = (empty) leaves it to that application)",
				    d->path, RETRY_SECONDS);
			else if (side == DEV_APP)
				log_warnx(
				    "open %s: %s; serving as the filesystem daemon only and retrying every %d s",
				    d->path, strerror(err), RETRY_SECONDS);
			else if (err == EBUSY)
				log_warnx(
				    "%s is busy: another VSS daemon holds it (FreeBSD's own hv_vss_daemon?); retrying every %d s",
				    d->path, RETRY_SECONDS);
			else
				log_warnx("open %s: %s; retrying every %d s",
				    d->path, strerror(err), RETRY_SECONDS);
		}
		d->failed_logged = true;
		errno = err;
		return -1;
	}
	if (fstat(fd, &st) == 0 && !S_ISCHR(st.st_mode) &&
	    !S_ISREG(st.st_mode)) {
		if (!d->failed_logged)
			log_warnx("%s: neither a character device nor a file",
			    d->path);
		d->failed_logged = true;
		close(fd);
		errno = ENODEV;
		return -1;
	}
	if (d->failed_logged)
		log_info("%s opened", d->path);
	d->failed_logged = false;
	d->fd = fd;
	return 0;
}

static void
close_dev(struct fdev *d)
{
	if (d->fd != -1)
		close(d->fd);
	d->fd = -1;
}

static void
retry_later(struct hostchan *h)
{
	struct timeval tv = {RETRY_SECONDS, 0};

	if (!evtimer_pending(h->retry_ev, NULL))
		evtimer_add(h->retry_ev, &tv);
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hostchan *h = arg;

	if (h->dev[DEV_FS].fd == -1) {
		hostchan_connect(h);
		return;
	}
	/*
	 * The application device, which a legacy application held.  Not
	 * between the turns of a request: the kernel decides at each
	 * step whether the application is asked.
	 */
	if (h->legacy || h->dev[DEV_APP].fd != -1)
		return;
	if (h->busy || h->await != -1 || open_dev(h, DEV_APP) == -1)
		retry_later(h);
}

void
hostchan_connect(struct hostchan *h)
{
	if (h->dev[DEV_FS].fd != -1 || evtimer_pending(h->retry_ev, NULL))
		return;
	/*
	 * The daemon's first, and the application's only once the daemon's
	 * is ours: held on its own, even for a moment, it would route the
	 * host's requests to us while another daemon serves the other
	 * (hv_vss_start_notify()), and we would strand them.  A request
	 * that comes between the two opens skips the application's turn,
	 * which changes nothing here: its first turn is the request.
	 */
	if (open_dev(h, DEV_FS) == -1) {
		retry_later(h);
		return;
	}
	if (!h->legacy && open_dev(h, DEV_APP) == -1)
		retry_later(h); /* meanwhile the daemon's alone */
	/* registered once a READ has shown the devices are the driver's */
	h->proven = false;
	schedule(h, 0);
}

/* Both closed: the kernel fails nothing it holds (its timer will). */
void
hostchan_close(struct hostchan *h)
{
	int i;

	for (i = 0; i < NDEV; i++)
		close_dev(&h->dev[i]);
	disarm(h);
	evtimer_del(h->tick_ev);
	h->busy = false;
	h->await = -1;
}

int
hostchan_reply(struct hostchan *h, bool ok)
{
	int side = h->side, rc;

	if (h->dev[DEV_FS].fd == -1)
		return -ENOTCONN;
	if (!h->busy) {
		log_warnx("an answer with no request to answer: dropped");
		return -EINVAL;
	}
	h->busy = false;
	h->done_ok = ok;
	if (h->dev[side].fd == -1) {
		lose(h, "the device of the request closed under it", false);
		return -ENOTCONN;
	}
	if ((rc = ack(h, side, h->opt, h->msgid, ok)) != 0)
		return rc;
	/* the kernel passes it on only after a success (hv_vss_app_acked(),
	 * hv_vss_daemon_acked()), and THAW only to an application */
	if (ok && side == DEV_APP &&
	    (h->opt == HV_VSS_CHECK || h->opt == HV_VSS_FREEZE))
		h->await = DEV_FS;
	else if (ok && side == DEV_FS && h->opt == HV_VSS_THAW &&
	    h->dev[DEV_APP].fd != -1)
		h->await = DEV_APP;
	else
		disarm(h);
	if (h->await != -1)
		schedule(h, FAST_MS);
	return 0;
}

bool
hostchan_connected(const struct hostchan *h)
{
	return h->dev[DEV_FS].fd != -1;
}

static void
set_path(char **p, const char *path)
{
	char *copy = strdup(path);

	if (copy == NULL)
		fatal("strdup");
	free(*p);
	*p = copy;
}

void
hostchan_set_device(struct hostchan *h, const char *device)
{
	set_path(&h->dev[DEV_FS].path, device);
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
	h->dev[DEV_FS].fd = h->dev[DEV_APP].fd = -1;
	h->await = -1;
	(void)kernel_timer_ms(); /* a test build's says so now */
	snprintf(h->app_device, sizeof(h->app_device), "%s", c->app_device);
	h->legacy = h->app_device[0] == '\0';
	hostchan_set_device(h, c->device);
	set_path(&h->dev[DEV_APP].path, h->app_device);
	if ((h->retry_ev = evtimer_new(base, retry_cb, h)) == NULL ||
	    (h->tick_ev = evtimer_new(base, tick_cb, h)) == NULL ||
	    (h->deadline_ev = evtimer_new(base, deadline_cb, h)) == NULL) {
		hostchan_free(h);
		return NULL;
	}
	return h;
}

/*
 * A new app_device, once no request is under way: the kernel decides at
 * each step of a request whether the application is asked, so the
 * device is never let go or taken between the two turns of one.
 */
static void
apply_app_device(struct hostchan *h)
{
	if (!h->app_change || h->busy || h->await != -1)
		return;
	h->app_change = false;
	close_dev(&h->dev[DEV_APP]);
	h->legacy = h->app_device[0] == '\0';
	set_path(&h->dev[DEV_APP].path, h->app_device);
	h->dev[DEV_APP].failed_logged = false;
	if (h->legacy)
		log_info(
		    "app_device empty: /dev/%s let go, for an application written against it",
		    HV_FBSD_APP_DEV);
	else if (h->dev[DEV_FS].fd != -1 && open_dev(h, DEV_APP) == -1)
		retry_later(h);
	else if (h->dev[DEV_FS].fd != -1)
		log_info("%s opened: hvvss's applications take its turns",
		    h->app_device);
}

void
hostchan_reconf(struct hostchan *h, const struct conf *c)
{
	if (strcmp(c->app_device, h->app_device) == 0)
		return;
	log_info("app_device changed from %s to %s",
	    h->app_device[0] ? h->app_device : "(empty)",
	    c->app_device[0] ? c->app_device : "(empty)");
	snprintf(h->app_device, sizeof(h->app_device), "%s", c->app_device);
	h->app_change = true;
	apply_app_device(h);
}

void
hostchan_free(struct hostchan *h)
{
	if (h == NULL)
		return;
	hostchan_close(h);
	if (h->retry_ev != NULL)
		event_free(h->retry_ev);
	if (h->deadline_ev != NULL)
		event_free(h->deadline_ev);
	if (h->tick_ev != NULL)
		event_free(h->tick_ev);
	free(h->dev[DEV_FS].path);
	free(h->dev[DEV_APP].path);
	free(h);
}

/*
 * The kernel's one 15 s timer covers a request from the host's packet to
 * the last device's answer: the stages of each request must fit in it,
 * less MARGIN_MS.  FREEZE: the applications and hooks, then the
 * filesystems (txn.c's limits: app_freeze_timeout + hook_timeout, then
 * fs_freeze_timeout); THAW: the filesystems, then the applications, each
 * up to thaw_timeout.
 */
void
host_conf_defaults(struct conf *c)
{
	snprintf(c->device, sizeof(c->device), "/dev/%s", HV_FBSD_FS_DEV);
	snprintf(
	    c->app_device, sizeof(c->app_device), "/dev/%s", HV_FBSD_APP_DEV);
	c->check_timeout_ms = 10 * 1000;
	c->app_freeze_timeout_ms = 5 * 1000;
	c->hook_timeout_ms = 3 * 1000;
	c->fs_freeze_timeout_ms = 5 * 1000;
	c->thaw_timeout_ms = 6 * 1000;
}

void
host_conf_apply(const struct conf *c)
{
	unsigned int freeze = c->app_freeze_timeout_ms + c->hook_timeout_ms +
	    c->fs_freeze_timeout_ms;

	if (c->app_device[0] == '\0')
		log_info(
		    "app_device empty: legacy mode: /dev/%s is left to an application written against it, whose turn comes first out of the same %u s",
		    HV_FBSD_APP_DEV, kernel_timer_ms() / 1000);
	if (c->check_timeout_ms > BUDGET_MS)
		log_warnx(
		    "check_timeout %u ms does not fit FreeBSD's %u s timer for HOT_BACKUP (%u ms usable): each check is cut to what the timer leaves",
		    c->check_timeout_ms, kernel_timer_ms() / 1000, BUDGET_MS);
	if (freeze > BUDGET_MS)
		log_warnx(
		    "app_freeze_timeout %u ms + hook_timeout %u ms + fs_freeze_timeout %u ms = %u ms does not fit FreeBSD's %u s timer for FREEZE (%u ms usable): each FREEZE's stages are shortened together to what the timer leaves",
		    c->app_freeze_timeout_ms, c->hook_timeout_ms,
		    c->fs_freeze_timeout_ms, freeze, kernel_timer_ms() / 1000,
		    BUDGET_MS);
	if (2 * c->thaw_timeout_ms > BUDGET_MS)
		log_warnx(
		    "thaw_timeout %u ms, twice (the filesystems, then the applications), does not fit FreeBSD's %u s timer for THAW (%u ms usable): each THAW's stages get half of what the timer leaves",
		    c->thaw_timeout_ms, kernel_timer_ms() / 1000, BUDGET_MS);
}

/*
 * Privsep mode is Linux's only so far (the engine would need both
 * devices from its parent): main.c runs one process with this backend.
 */
const bool host_can_privsep = false;

void
hostchan_set_opener(struct hostchan *h, hostchan_open_fn fn, void *arg)
{
	fatalx("hostchan_set_opener: privsep is not supported on FreeBSD");
}

/* No /proc to look into here: the holder is not named. */
void
host_device_holder(const char *device, char *out, size_t len)
{
	snprintf(out, len, "unknown");
}
