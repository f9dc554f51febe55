/*
 * kernel_fbsd.c: the guest kernel's half of Hyper-V VSS as FreeBSD has
 * it (sys/dev/hyperv/utilities/hv_snapshot.c, hv_vss(4)), emulated for
 * hv_vss_sim -F.  doc/FREEBSD.md names the function of the source each
 * rule was checked against.
 *
 * Two devices, each with one opener (EBUSY for a second) and no
 * handshake: the filesystem daemon's (KF_FS) and one application's
 * (KF_APP).  Each holds a queue of requests to notify and one of
 * requests notified and not yet acknowledged.  A host FREEZE or
 * HOT_BACKUP (opt CHECK) goes to the application first when one is open,
 * then to the daemon; THAW to the daemon first, then the application.
 * One timer (15 s) covers the whole chain; when it fires the host gets
 * E_FAIL and neither side is told.  An acknowledgement whose msgid is no
 * longer in that device's ack queue is dropped, invisibly to its sender
 * (the ioctl is _IOW: nothing is copied back).
 *
 * The driver's own defects are kept, because a daemon written for it
 * meets them: a host request that arrives while another is queued is
 * dropped unanswered, and since every packet is received into one
 * shared buffer the pending request's reply is then built from the
 * dropped packet's bytes; unknown ops are never answered; the ring is
 * not read at all (not even the version negotiation) until the daemon
 * first opens its device; an application acknowledging while the daemon
 * is closed strands the request until its timer fires; a negotiation
 * failure is answered with an errno where an HRESULT belongs.  Each is
 * reported as an event.
 */
#include <sys/queue.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "hv_vss_fbsd.h"
#include "sim.h"

#define KF_BUFSIZE 16384 /* VMBUS_IC_BRSIZE: 4 pages */
#define KF_NREQ 4 /* the driver's free list */
#define KF_TIMEOUT_MS (15 * 1000) /* TIMEOUT_LIMIT */
#define KF_VSS_MSG_SIZE 40 /* its struct hv_vss_msg */
#define KF_OFF_STATUS 20
#define KF_OFF_FLAGS 25
#define KF_OFF_OP 28
#define KF_OFF_BODY 36
/* FreeBSD's errno values, which its negotiation puts in ic_status */
#define KF_EINVAL 22
#define KF_EOPNOTSUPP 45

struct kf_pkt {
	TAILQ_ENTRY(kf_pkt) entry;
	uint64_t reqid;
	size_t len;
	uint8_t data[];
};

TAILQ_HEAD(kf_reqq, kf_req);

struct kf_req {
	TAILQ_ENTRY(kf_req) entry;
	struct kfbsd *k;
	bool busy; /* off the free list */
	struct kf_reqq *q; /* the queue it is on, or NULL */
	struct hv_vss_opt_msg opt_msg;
	uint8_t msg[KF_VSS_MSG_SIZE]; /* the host message, copied */
	uint32_t host_len;
	uint64_t host_reqid;
	unsigned int buf_gen; /* the shared buffer's, when received */
	struct event *timer;
	bool timer_pending;
};

struct kf_dev {
	bool open;
	struct kf_reqq notify, ack;
	void (*wakeup)(void *);
	void *wakeup_arg;
};

struct kfbsd {
	struct event_base *base;
	const struct sim_cfg *cfg;
	struct report *rep;
	struct host *host;

	struct kf_dev dev[2]; /* KF_FS, KF_APP */
	bool ever_opened; /* daemon_sc.proc_task != NULL */
	unsigned int registrations;

	TAILQ_HEAD(, kf_pkt) ring;
	struct event *task_ev; /* hv_vss_process_request */

	uint8_t buf[KF_BUFSIZE]; /* ic_buf: every packet lands here */
	unsigned int buf_gen; /* bumped by each packet received */
	struct kf_req req[KF_NREQ];
	uint64_t last_msgid;
};

static const char *const opt_names[] = {"None", "CHECK", "FREEZE", "THAW"};

static const char *
opt_name(uint32_t opt)
{
	return opt < HV_VSS_COUNT ? opt_names[opt] : "?";
}

static const char *
side_name(int side)
{
	return side == KF_FS ? HV_FBSD_FS_DEV : HV_FBSD_APP_DEV;
}

static void
put_le32(uint8_t *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = (v >> 24) & 0xff;
}

static uint16_t
get_le16(const uint8_t *p)
{
	return p[0] | p[1] << 8;
}

/* hv_vss_respond_host(): status and reply flags into buf, sent back */
static void
respond(struct kfbsd *k, uint8_t *buf, uint32_t len, uint64_t reqid,
    uint32_t status)
{
	put_le32(buf + KF_OFF_STATUS, status);
	buf[KF_OFF_FLAGS] = IC_FLAGS_REPLY;
	if (k->host != NULL)
		host_on_reply(k->host, buf, len, reqid);
}

/*
 * hv_vss_notify_host_result_locked(): the reply is built in the shared
 * receive buffer, whatever it holds by now, and the request recycled.
 */
static void
notify_host(struct kfbsd *k, struct kf_req *r, uint32_t status)
{
	if (r->buf_gen != k->buf_gen)
		report_event(k->rep, "reply_from_clobbered_buffer",
		    "%s reply (msgid %llu) built in the shared buffer, overwritten since by a later host packet",
		    opt_name(r->opt_msg.opt),
		    (unsigned long long)r->opt_msg.msgid);
	if (r->opt_msg.opt == HV_VSS_CHECK)
		put_le32(k->buf + KF_OFF_BODY, HV_HBU_NO_AUTO_RECOVERY);
	respond(k, k->buf, r->host_len, r->host_reqid, status);
	r->busy = false;
}

static void
cancel_timer(struct kf_req *r)
{
	evtimer_del(r->timer);
	r->timer_pending = false;
}

static void
enqueue(struct kfbsd *k, int side, struct kf_req *r)
{
	struct kf_dev *d = &k->dev[side];

	TAILQ_INSERT_TAIL(&d->notify, r, entry);
	r->q = &d->notify;
	if (d->wakeup != NULL)
		d->wakeup(d->wakeup_arg);
}

static void
dequeue(struct kf_req *r)
{
	if (r->q != NULL)
		TAILQ_REMOVE(r->q, r, entry);
	r->q = NULL;
}

/* hv_vss_timeout(): nobody is told but the host */
static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kf_req *r = arg;
	struct kfbsd *k = r->k;

	r->timer_pending = false;
	if (r->q == NULL)
		report_event(k->rep, "timeout_unqueued",
		    "%s timed out while on no queue: an INVARIANTS kernel panics here, others answer the host E_FAIL",
		    opt_name(r->opt_msg.opt));
	report_event(k->rep, "kernel_timeout",
	    "%s (msgid %llu) timed out: host answered E_FAIL, neither device told",
	    opt_name(r->opt_msg.opt), (unsigned long long)r->opt_msg.msgid);
	dequeue(r);
	notify_host(k, r, HV_E_FAIL);
}

/* hv_vss_get_new_req_locked(): NULL while any request is queued */
static struct kf_req *
new_req(struct kfbsd *k)
{
	int i;

	for (i = 0; i < 2; i++)
		if (!TAILQ_EMPTY(&k->dev[i].notify) ||
		    !TAILQ_EMPTY(&k->dev[i].ack)) {
			report_event(k->rep, "busy_ignored",
			    "host request received while another is queued: ignored, never answered");
			return NULL;
		}
	for (i = 0; i < KF_NREQ; i++)
		if (!k->req[i].busy) {
			k->req[i].busy = true;
			return &k->req[i];
		}
	report_event(k->rep, "no_buffer",
	    "host request ignored: all %d requests are held by timers",
	    KF_NREQ);
	return NULL;
}

static uint32_t
op_to_opt(uint8_t op)
{
	switch (op) {
	case HV_OP_HOT_BACKUP:
		return HV_VSS_CHECK;
	case HV_OP_FREEZE:
		return HV_VSS_FREEZE;
	case HV_OP_THAW:
		return HV_VSS_THAW;
	}
	return HV_VSS_NONE;
}

/* hv_vss_init_req() and hv_vss_start_notify() */
static void
start(struct kfbsd *k, struct kf_req *r, uint32_t len, uint64_t reqid)
{
	unsigned int ms;
	struct timeval tv;
	struct timespec ts;
	uint64_t now;
	uint8_t op = k->buf[KF_OFF_OP];

	memset(&r->opt_msg, 0, sizeof(r->opt_msg));
	memcpy(r->msg, k->buf, sizeof(r->msg));
	r->host_len = len;
	r->host_reqid = reqid;
	r->buf_gen = k->buf_gen;
	r->opt_msg.opt = op_to_opt(op);
	/* the driver's is nanotime() (hv_vss_init_req()): the time the
	 * timer started, which a daemon may read from it; kept rising */
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	r->opt_msg.msgid = k->last_msgid =
	    now > k->last_msgid ? now : k->last_msgid + 1;
	if (op == HV_OP_THAW || !k->dev[KF_APP].open)
		enqueue(k, KF_FS, r);
	else
		enqueue(k, KF_APP, r);
	ms = k->cfg->timeout_ms[op];
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(r->timer, &tv);
	r->timer_pending = true;
}

/*
 * vmbus_ic_negomsg(): the highest host version not above ours, framework
 * and message each; on failure the packet is sent back as it came, with
 * an errno for status.
 */
static void
negotiate(struct kfbsd *k, uint32_t *len, uint64_t reqid)
{
	uint8_t *p = k->buf;
	unsigned int nfw, nmsg, i, best[2] = {0, 0};
	bool have[2] = {false, false};
	uint32_t status = KF_EOPNOTSUPP;
	const unsigned int ours[2] = {3u << 16, 5u << 16}; /* 3.0, 5.0 */

	if (*len < 36 || (nfw = get_le16(p + 28)) == 0 ||
	    (nmsg = get_le16(p + 30)) == 0 || *len < 36 + 4 * (nfw + nmsg)) {
		status = KF_EINVAL;
		goto done;
	}
	for (i = 0; i < nfw + nmsg; i++) {
		const uint8_t *v = p + 36 + 4 * i;
		unsigned int s = i < nfw ? 0 : 1;
		unsigned int ver = (unsigned int)get_le16(v) << 16 |
		    get_le16(v + 2); /* major, minor: ordered */

		if (ver <= ours[s] && (!have[s] || ver > best[s])) {
			best[s] = ver;
			have[s] = true;
		}
	}
	if (!have[0] || !have[1])
		goto done;
	status = HV_S_OK;
	p[28] = 1;
	p[29] = 0;
	p[30] = 1;
	p[31] = 0;
	for (i = 0; i < 2; i++) {
		p[36 + 4 * i] = (best[i] >> 16) & 0xff;
		p[37 + 4 * i] = (best[i] >> 24) & 0xff;
		p[38 + 4 * i] = best[i] & 0xff;
		p[39 + 4 * i] = (best[i] >> 8) & 0xff;
	}
	p[18] = 16; /* ic_dsize */
	p[19] = 0;
	if (*len < 44)
		*len = 44;
done:
	if (status != HV_S_OK)
		report_event(k->rep, "nego_failed",
		    "negotiation failed: answered with errno %u as its status",
		    status);
	respond(k, p, *len, reqid, status);
}

/* hv_vss_process_request(): drain the ring */
static void
task_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kfbsd *k = arg;
	struct kf_pkt *pk;
	struct kf_req *r;
	uint32_t len;
	uint64_t reqid;
	uint8_t op;

	while ((pk = TAILQ_FIRST(&k->ring)) != NULL) {
		TAILQ_REMOVE(&k->ring, pk, entry);
		/* vmbus_chan_recv(): bytes past len keep what was there */
		len = pk->len;
		memcpy(k->buf, pk->data, len);
		reqid = pk->reqid;
		free(pk);
		k->buf_gen++;
		/* the driver checks neither the length nor the type */
		if (k->buf[12] == IC_TYPE_NEGOTIATE && k->buf[13] == 0) {
			negotiate(k, &len, reqid);
			continue;
		}
		op = k->buf[KF_OFF_OP];
		if (!k->dev[KF_FS].open) {
			/* "daemon was killed after launch" */
			report_event(k->rep, "daemon_gone",
			    "%s answered E_FAIL: %s is closed", hv_op_name(op),
			    HV_FBSD_FS_DEV);
			if (op == HV_OP_HOT_BACKUP)
				put_le32(k->buf + KF_OFF_BODY,
				    HV_HBU_NO_AUTO_RECOVERY);
			else if (op == HV_OP_GET_DM_INFO)
				put_le32(k->buf + KF_OFF_BODY, 0);
			respond(k, k->buf, len, reqid, HV_E_FAIL);
			continue;
		}
		switch (op) {
		case HV_OP_FREEZE:
		case HV_OP_THAW:
		case HV_OP_HOT_BACKUP:
			if ((r = new_req(k)) != NULL)
				start(k, r, len, reqid);
			break;
		case HV_OP_GET_DM_INFO:
			put_le32(k->buf + KF_OFF_BODY, 0);
			respond(k, k->buf, len, reqid, HV_S_OK);
			break;
		default:
			report_event(k->rep, "unknown_op",
			    "Unknown opt from host: %u: never answered", op);
			break;
		}
	}
}

/* hv_vss_callback(): the ring is read only once a daemon has opened */
static void
callback(struct kfbsd *k)
{
	if (k->dev[KF_FS].open || k->ever_opened)
		event_active(k->task_ev, EV_TIMEOUT, 0);
}

/* The host puts a packet in the channel. */
void
kfbsd_channel_send(
    struct kfbsd *k, const uint8_t *pkt, size_t len, uint64_t reqid)
{
	struct kf_pkt *p;

	if (len > KF_BUFSIZE)
		len = KF_BUFSIZE;
	if ((p = malloc(sizeof(*p) + len)) == NULL)
		abort();
	p->reqid = reqid;
	p->len = len;
	memcpy(p->data, pkt, len);
	TAILQ_INSERT_TAIL(&k->ring, p, entry);
	callback(k);
}

/* hv_vss_dev_open(), hv_appvss_dev_open(): no handshake */
int
kfbsd_open(struct kfbsd *k, int side)
{
	if (k->dev[side].open) {
		report_event(k->rep, "open_busy",
		    "second open of %s refused with EBUSY", side_name(side));
		return -EBUSY;
	}
	k->dev[side].open = true;
	report_event(k->rep, "registered", "%s opened", side_name(side));
	if (side == KF_FS) {
		k->registrations++;
		k->ever_opened = true;
		callback(k);
	}
	return 0;
}

/* hv_vss_dev_close(), hv_appvss_dev_close(): fails nothing queued */
void
kfbsd_release(struct kfbsd *k, int side)
{
	k->dev[side].open = false;
	report_event(k->rep, "closed", "%s closed%s", side_name(side),
	    TAILQ_EMPTY(&k->dev[side].notify) && TAILQ_EMPTY(&k->dev[side].ack)
	        ? ""
	        : ": its queued request waits for the timer");
}

/* IOCHVVSSREAD (hv_vss_notified()): never blocks */
void
kfbsd_read(struct kfbsd *k, int side, struct hv_vss_opt_msg *m)
{
	struct kf_dev *d = &k->dev[side];
	struct kf_req *r;

	/* _IOR: the generic ioctl code zeroes the buffer first */
	memset(m, 0, sizeof(*m));
	if ((r = TAILQ_FIRST(&d->notify)) == NULL) {
		m->status = VSS_FAIL;
		return;
	}
	TAILQ_REMOVE(&d->notify, r, entry);
	TAILQ_INSERT_TAIL(&d->ack, r, entry);
	r->q = &d->ack;
	r->opt_msg.opt = op_to_opt(r->msg[KF_OFF_OP]);
	*m = r->opt_msg;
	m->status = VSS_SUCCESS;
	report_event(k->rep, "notified", "%s took %s (msgid %llu)",
	    side_name(side), opt_name(m->opt), (unsigned long long)m->msgid);
}

static struct kf_req *
find_ack(struct kfbsd *k, int side, uint64_t msgid)
{
	struct kf_req *r;

	TAILQ_FOREACH(r, &k->dev[side].ack, entry)
		if (r->opt_msg.msgid == msgid)
			return r;
	return NULL;
}

/* hv_vss_daemon_acked() */
static void
fs_acked(struct kfbsd *k, struct kf_req *r, uint32_t opt, uint32_t status)
{
	switch (opt) {
	case HV_VSS_CHECK:
	case HV_VSS_FREEZE:
		cancel_timer(r);
		notify_host(k, r, status == VSS_SUCCESS ? HV_S_OK : HV_E_FAIL);
		break;
	case HV_VSS_THAW:
		if (k->dev[KF_APP].open && status == VSS_SUCCESS) {
			enqueue(k, KF_APP, r);
			break;
		}
		cancel_timer(r);
		notify_host(k, r, status == VSS_SUCCESS ? HV_S_OK : HV_E_FAIL);
		break;
	default:
		report_event(k->rep, "ack_lost",
		    "ack with opt %u: the request waits for its timer", opt);
		break;
	}
}

/* hv_vss_app_acked(): its status is a uint8_t there */
static void
app_acked(struct kfbsd *k, struct kf_req *r, uint32_t opt, uint8_t status)
{
	if (!k->dev[KF_FS].open) {
		report_event(k->rep, "daemon_gone_on_app_ack",
		    "Fatal: vss daemon was killed: %s waits for its timer",
		    opt_name(opt));
		return;
	}
	switch (opt) {
	case HV_VSS_CHECK:
	case HV_VSS_FREEZE:
		if (status == VSS_SUCCESS) {
			enqueue(k, KF_FS, r);
			break;
		}
		cancel_timer(r);
		notify_host(k, r, HV_E_FAIL);
		break;
	case HV_VSS_THAW:
		cancel_timer(r);
		notify_host(k, r, status == VSS_SUCCESS ? HV_S_OK : HV_E_FAIL);
		break;
	default:
		report_event(k->rep, "ack_lost",
		    "ack with opt %u: the request waits for its timer", opt);
		break;
	}
}

/* IOCHVVSSWRITE: _IOW, so whatever happens here its sender sees 0 */
void
kfbsd_write(struct kfbsd *k, int side, const struct hv_vss_opt_msg *m)
{
	struct kf_req *r;

	if ((r = find_ack(k, side, m->msgid)) == NULL) {
		report_event(k->rep, "late_ack",
		    "%s: ack of %s (msgid %llu) matches no request: dropped",
		    side_name(side), opt_name(m->opt),
		    (unsigned long long)m->msgid);
		return;
	}
	dequeue(r);
	report_event(k->rep, "acked", "%s acked %s (msgid %llu): status %u",
	    side_name(side), opt_name(m->opt), (unsigned long long)m->msgid,
	    m->status);
	if (m->opt != r->opt_msg.opt)
		report_event(k->rep, "opt_mismatch",
		    "ack says %s for a %s request: an INVARIANTS kernel panics, others act on the ack's opt",
		    opt_name(m->opt), opt_name(r->opt_msg.opt));
	if (side == KF_FS)
		fs_acked(k, r, m->opt, m->status);
	else
		app_acked(k, r, m->opt, (uint8_t)m->status);
}

bool
kfbsd_readable(const struct kfbsd *k, int side)
{
	return !TAILQ_EMPTY(&k->dev[side].notify);
}

void
kfbsd_set_wakeup(struct kfbsd *k, int side, void (*fn)(void *), void *arg)
{
	k->dev[side].wakeup = fn;
	k->dev[side].wakeup_arg = arg;
}

/* --- the host's view (struct guest_kernel) ------------------------------ */

static void
gk_channel_send(void *k, const uint8_t *pkt, size_t len, uint64_t reqid)
{
	kfbsd_channel_send(k, pkt, len, reqid);
}

static bool
gk_ready(const void *k)
{
	return ((const struct kfbsd *)k)->dev[KF_FS].open;
}

static unsigned int
gk_registrations(const void *k)
{
	return ((const struct kfbsd *)k)->registrations;
}

static void
gk_set_host(void *k, struct host *h)
{
	((struct kfbsd *)k)->host = h;
}

struct guest_kernel
kfbsd_guest(struct kfbsd *k)
{
	struct guest_kernel g = {
	    .k = k,
	    .channel_send = gk_channel_send,
	    .ready = gk_ready,
	    .registrations = gk_registrations,
	    .hibernate = NULL, /* FreeBSD's driver has no such path */
	    .set_host = gk_set_host,
	};

	return g;
}

struct kfbsd *
kfbsd_new(
    struct event_base *base, const struct sim_cfg *cfg, struct report *rep)
{
	struct kfbsd *k;
	int i;

	if ((k = calloc(1, sizeof(*k))) == NULL)
		return NULL;
	k->base = base;
	k->cfg = cfg;
	k->rep = rep;
	TAILQ_INIT(&k->ring);
	for (i = 0; i < 2; i++) {
		TAILQ_INIT(&k->dev[i].notify);
		TAILQ_INIT(&k->dev[i].ack);
	}
	if ((k->task_ev = event_new(base, -1, 0, task_cb, k)) == NULL)
		goto fail;
	for (i = 0; i < KF_NREQ; i++) {
		k->req[i].k = k;
		k->req[i].timer = evtimer_new(base, timer_cb, &k->req[i]);
		if (k->req[i].timer == NULL)
			goto fail;
	}
	return k;
fail:
	kfbsd_free(k);
	return NULL;
}

void
kfbsd_free(struct kfbsd *k)
{
	struct kf_pkt *p;
	int i;

	if (k == NULL)
		return;
	while ((p = TAILQ_FIRST(&k->ring)) != NULL) {
		TAILQ_REMOVE(&k->ring, p, entry);
		free(p);
	}
	if (k->task_ev != NULL)
		event_free(k->task_ev);
	for (i = 0; i < KF_NREQ; i++)
		if (k->req[i].timer != NULL)
			event_free(k->req[i].timer);
	free(k);
}
