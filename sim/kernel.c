/*
 * kernel.c: the guest kernel's half of Hyper-V VSS, as Linux has it
 * (drivers/hv/hv_snapshot.c over drivers/hv/hv_utils_transport.c),
 * emulated closely enough that a daemon cannot tell the difference.
 *
 * The rules it keeps, each of which a daemon depends on or trips over:
 * - one opener; a second open fails with EBUSY;
 * - REGISTER1 is answered with a 4-byte u32 (129), and only once the
 *   daemon has read it does the kernel start passing requests on;
 * - every write must be exactly 12 bytes, else EINVAL;
 * - one host transaction at a time: while one is in flight the channel
 *   is not read, so later host packets wait in the ring;
 * - only FREEZE, THAW and HOT_BACKUP reach the daemon; the kernel answers
 *   GET_DM_INFO (flags 0) and every other op (S_OK) itself; with no daemon
 *   registered those three get E_FAIL at once;
 * - each request forwarded has a timeout (FREEZE 900 s, others 30 s);
 *   when it fires the host gets E_FAIL and a late reply is rejected with
 *   EINVAL ("transaction not active");
 * - closing the device during a transaction fails it (E_FAIL) and thaws
 *   nothing;
 * - one outbound message at a time (a second send fails);
 * - on hibernation (hv_vss_pre_suspend, then hv_utils closing the
 *   channel) a fake THAW is queued and the state forced to READY, so that
 *   the daemon's reply to it fails with EINVAL; what the channel held is
 *   lost; on resume the channel is opened again and the host negotiates
 *   anew before any request;
 * - when the device goes away (hvutil_transport_destroy) an open
 *   descriptor stays valid but dead: poll says POLLERR|POLLHUP, read,
 *   write and open fail with EBADF, until the daemon closes it.
 * The reply to HOT_BACKUP is the host's request sent back with a status:
 * Linux sets its NO_AUTO_RECOVERY flag (5) only when the operation byte
 * of the daemon's reply is HOT_BACKUP, and the daemon's HRESULT has
 * overwritten that byte, so in practice the host gets back the flags it
 * sent.  We do the same, so the report shows what a real host receives.
 */
#include <sys/queue.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "le.h"
#include "sim.h"

enum kstate {
	KS_INIT, /* no daemon registered */
	KS_READY, /* idle, channel read */
	KS_HOSTMSG, /* a request taken from the channel */
	KS_USER_REQ, /* the request sent to the daemon */
	KS_USER_RECV, /* the daemon answered */
};

struct chanpkt {
	TAILQ_ENTRY(chanpkt) entry;
	uint64_t reqid;
	size_t len;
	uint8_t data[];
};

struct kernel {
	struct event_base *base;
	const struct sim_cfg *cfg;
	struct report *rep;
	struct host *host;

	enum kstate state;
	bool open; /* the transport is in char-dev mode */
	bool removed; /* HVUTIL_TRANSPORT_DESTROY */
	unsigned int registrations;

	/* the one message waiting for the daemon to read it */
	uint8_t outmsg[HV_MSG_SIZE];
	size_t outmsg_len;
	bool outmsg_registers; /* reading it completes REGISTER1 */
	void (*wakeup)(void *);
	void *wakeup_arg;

	/* the channel: packets from the host not yet read */
	TAILQ_HEAD(chanring, chanpkt) ring;
	struct event *chan_ev; /* the channel callback (a tasklet) */
	struct event *work_ev; /* vss_handle_request (a work item) */
	bool work_pending;
	bool suspended; /* hibernated: the channel is closed */

	/* the one transaction */
	uint8_t buf[IC_MAX_PKT_SIZE];
	size_t len;
	uint64_t reqid;
	uint8_t op;
	bool set_nar; /* the daemon's reply said HOT_BACKUP */
	struct event *timeout_ev;
	bool timeout_pending;
};

static void kernel_poll_channel(struct kernel *);

static uint8_t
cur_op(const struct kernel *k)
{
	return k->buf[IC_HDR_SIZE];
}

/*
 * vss_respond_to_host(): status and flags into the saved request, sent
 * back with its length and VMBus request id.
 */
static void
respond(struct kernel *k, uint32_t hresult)
{
	uint8_t *body = k->buf + IC_HDR_SIZE + 8;
	uint8_t sent[4];
	uint32_t flags = HV_HBU_NO_AUTO_RECOVERY;

	/*
	 * ic_vss_answer() is a guest done right (the flag decided from the
	 * request); Linux leaves the host's flags unless the daemon's reply
	 * said HOT_BACKUP (see the top of this file).
	 */
	memcpy(sent, body, sizeof(sent));
	ic_vss_answer(k->buf, k->len, hresult);
	if (k->op == HV_OP_HOT_BACKUP && !k->set_nar)
		memcpy(body, sent, sizeof(sent));
	else if (k->op == HV_OP_HOT_BACKUP)
		put_le32(body, flags);
	if (k->host != NULL)
		host_on_reply(k->host, k->buf, k->len, k->reqid);
}

/* hvutil_transport_send() */
static int
transport_send(struct kernel *k, const void *msg, size_t len, bool registers)
{
	if (!k->open)
		return -EINVAL;
	if (k->outmsg_len > 0)
		return -EFAULT; /* the previous message was not read */
	memcpy(k->outmsg, msg, len);
	k->outmsg_len = len;
	k->outmsg_registers = registers;
	if (k->wakeup != NULL)
		k->wakeup(k->wakeup_arg);
	return 0;
}

static void
arm_timeout(struct kernel *k, uint8_t op)
{
	unsigned int ms = k->cfg->timeout_ms[op];
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	evtimer_add(k->timeout_ev, &tv);
	k->timeout_pending = true;
}

/* cancel_delayed_work_sync(): true if the timeout had not fired yet */
static bool
cancel_timeout(struct kernel *k)
{
	bool was = k->timeout_pending;

	evtimer_del(k->timeout_ev);
	k->timeout_pending = false;
	return was;
}

/* vss_poll_wrapper(): the transaction is over, read the channel again */
static void
finish(struct kernel *k)
{
	k->state = KS_READY;
	kernel_poll_channel(k);
}

static void
timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kernel *k = arg;

	k->timeout_pending = false;
	report_event(k->rep, "kernel_timeout",
	    "VSS: timeout waiting for daemon to reply to %s",
	    hv_op_name(k->op));
	respond(k, HV_E_FAIL);
	finish(k);
}

/* vss_send_op() */
static void
send_op(struct kernel *k)
{
	uint8_t msg[HV_MSG_SIZE];
	int rc;

	hv_msg_encode(k->op, 0, msg);
	k->state = KS_USER_REQ;
	arm_timeout(k, k->op);
	if ((rc = transport_send(k, msg, sizeof(msg), false)) != 0) {
		report_event(k->rep, "send_failed",
		    "VSS: failed to communicate to the daemon: %d", rc);
		if (cancel_timeout(k)) {
			respond(k, HV_E_FAIL);
			k->state = KS_READY;
			kernel_poll_channel(k);
		}
	}
}

/* vss_handle_request() */
static void
work_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kernel *k = arg;
	uint32_t zero = 0;

	k->work_pending = false;
	k->op = cur_op(k);
	k->set_nar = false;
	switch (k->op) {
	case HV_OP_THAW:
	case HV_OP_FREEZE:
	case HV_OP_HOT_BACKUP:
		if (k->state < KS_READY) {
			report_event(k->rep, "not_registered",
			    "%s answered E_FAIL: no daemon registered",
			    hv_op_name(k->op));
			respond(k, HV_E_FAIL);
			kernel_poll_channel(k);
			return;
		}
		k->state = KS_HOSTMSG;
		send_op(k);
		return;
	case HV_OP_GET_DM_INFO:
		memcpy(k->buf + IC_HDR_SIZE + 8, &zero, sizeof(zero));
		break;
	default:
		report_event(k->rep, "kernel_answered",
		    "op %u (%s) answered S_OK by the kernel", k->op,
		    hv_op_name(k->op));
		break;
	}
	respond(k, HV_S_OK);
	finish(k);
}

/* hv_vss_onchannelcallback(): read one packet if idle */
static void
chan_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kernel *k = arg;
	struct chanpkt *p;
	struct ic_hdr h;
	struct ic_version fw = IC_FW_VERSION_GUEST;
	struct ic_version vss = IC_VSS_VERSION_GUEST;
	struct ic_version fw_out, vss_out;
	int rc;

	if (k->state > KS_READY || k->work_pending || k->suspended ||
	    k->removed)
		return;
	if ((p = TAILQ_FIRST(&k->ring)) == NULL)
		return;
	TAILQ_REMOVE(&k->ring, p, entry);
	memcpy(k->buf, p->data, p->len);
	k->len = p->len;
	k->reqid = p->reqid;
	free(p);

	if (k->len < IC_HDR_SIZE || ic_hdr_decode(k->buf, k->len, &h) < 0) {
		report_event(k->rep, "dropped",
		    "packet of %zu bytes dropped: too small or malformed",
		    k->len);
		kernel_poll_channel(k);
		return;
	}
	if (h.type == IC_TYPE_NEGOTIATE) {
		rc = ic_nego_answer(k->buf, k->len, sizeof(k->buf), &fw, 1,
		    &vss, 1, &fw_out, &vss_out);
		if (rc > 0) {
			k->len = rc;
			if (k->host != NULL)
				host_on_reply(
				    k->host, k->buf, k->len, k->reqid);
		} else
			report_event(k->rep, "dropped",
			    "malformed negotiation dropped: %s", strerror(-rc));
		kernel_poll_channel(k);
		return;
	}
	if (h.type != IC_TYPE_VSS || k->len < IC_VSS_MIN_SIZE) {
		report_event(k->rep, "dropped",
		    "VSS request received. Invalid msg type %u or length %zu",
		    h.type, k->len);
		kernel_poll_channel(k);
		return;
	}
	k->work_pending = true;
	event_active(k->work_ev, EV_TIMEOUT, 0);
}

static void
kernel_poll_channel(struct kernel *k)
{
	if (!TAILQ_EMPTY(&k->ring))
		event_active(k->chan_ev, EV_TIMEOUT, 0);
}

/* vss_register_done(), run when the daemon has read the 129 */
static void
register_done(struct kernel *k)
{
	k->registrations++;
	report_event(k->rep, "registered",
	    "VSS: userspace daemon ver. %u connected", HV_OP_REGISTER1);
	finish(k);
}

/* vss_on_reset(), from the transport's release */
static void
on_reset(struct kernel *k)
{
	if (cancel_timeout(k)) {
		report_event(k->rep, "closed_in_transaction",
		    "device closed during %s: host answered E_FAIL, nothing thawed",
		    hv_op_name(k->op));
		respond(k, HV_E_FAIL);
	}
	k->state = KS_INIT;
	kernel_poll_channel(k);
}

/* The host puts a packet in the channel. */
void
kernel_channel_send(
    struct kernel *k, const uint8_t *pkt, size_t len, uint64_t reqid)
{
	struct chanpkt *p;

	if (len > IC_MAX_PKT_SIZE)
		len = IC_MAX_PKT_SIZE;
	if ((p = malloc(sizeof(*p) + len)) == NULL)
		abort();
	p->reqid = reqid;
	p->len = len;
	memcpy(p->data, pkt, len);
	TAILQ_INSERT_TAIL(&k->ring, p, entry);
	event_active(k->chan_ev, EV_TIMEOUT, 0);
}

/* hvt_op_open() */
int
kernel_open(struct kernel *k)
{
	if (k->removed)
		return -EBADF;
	if (k->open) {
		report_event(k->rep, "open_busy",
		    "second open of the device refused with EBUSY");
		return -EBUSY;
	}
	k->open = true;
	return 0;
}

/* hvt_op_release() */
void
kernel_release(struct kernel *k)
{
	k->open = false;
	k->outmsg_len = 0;
	k->outmsg_registers = false;
	if (k->removed) {
		/* what hvutil_transport_destroy() waits for */
		report_event(k->rep, "released",
		    "device closed by the daemon after its removal");
		return;
	}
	report_event(k->rep, "closed", "device closed by the daemon");
	on_reset(k);
}

/* hvt_op_read(): -EAGAIN means "block until kernel_readable()" */
ssize_t
kernel_read(struct kernel *k, void *buf, size_t len)
{
	size_t n = k->outmsg_len;

	if (k->removed)
		return -EBADF; /* even with a message waiting */
	if (n == 0)
		return -EAGAIN;
	if (len < n)
		return -EINVAL;
	memcpy(buf, k->outmsg, n);
	k->outmsg_len = 0;
	if (k->outmsg_registers) {
		k->outmsg_registers = false;
		register_done(k);
	}
	return n;
}

/* hvt_op_write() -> vss_on_msg() */
int
kernel_write(struct kernel *k, const void *buf, size_t len)
{
	const uint8_t *b = buf;
	uint8_t ver[HV_REGISTER_REPLY_SIZE] = {HV_OP_REGISTER1, 0, 0, 0};
	uint32_t hresult, flags;

	if (k->removed)
		return -EBADF; /* before any check of the message */
	if (len != HV_MSG_SIZE) {
		report_event(k->rep, "bad_write",
		    "write of %zu bytes rejected with EINVAL", len);
		return -EINVAL;
	}
	if (b[0] == HV_OP_REGISTER || b[0] == HV_OP_REGISTER1) {
		if (k->state > KS_READY) {
			report_event(k->rep, "bad_register",
			    "registration during a transaction: EINVAL");
			return -EINVAL;
		}
		if (b[0] == HV_OP_REGISTER) /* legacy: no answer */
			return 0;
		if (transport_send(k, ver, sizeof(ver), true) != 0)
			return -EFAULT;
		return 0;
	}
	if (k->state != KS_USER_REQ) {
		report_event(k->rep, "late_reply",
		    "VSS: Transaction not active: reply rejected with EINVAL");
		return -EINVAL;
	}
	k->state = KS_USER_RECV;
	hv_msg_decode_reply(buf, len, &hresult, &flags);
	if (b[0] == HV_OP_HOT_BACKUP)
		k->set_nar = true;
	if (cancel_timeout(k)) {
		respond(k, hresult);
		finish(k);
	}
	return 0;
}

bool
kernel_readable(const struct kernel *k)
{
	return k->outmsg_len > 0;
}

bool
kernel_ready(const struct kernel *k)
{
	return k->open && k->state >= KS_READY;
}

unsigned int
kernel_registrations(const struct kernel *k)
{
	return k->registrations;
}

/*
 * util_suspend(): hv_vss_pre_suspend() queues a fake THAW for a daemon
 * that may have frozen and forgets the transaction (the host is not
 * answered), then the channel is closed: what it held is lost.  Nothing
 * is read from it until kernel_resume().
 */
void
kernel_hibernate(struct kernel *k)
{
	uint8_t msg[HV_MSG_SIZE];
	struct chanpkt *p;
	unsigned int lost = 0;

	hv_msg_encode(HV_OP_THAW, 0, msg);
	cancel_timeout(k); /* hv_vss_cancel_work() */
	event_del(k->work_ev);
	k->work_pending = false;
	(void)transport_send(k, msg, sizeof(msg), false);
	k->state = KS_READY;
	k->suspended = true;
	while ((p = TAILQ_FIRST(&k->ring)) != NULL) {
		TAILQ_REMOVE(&k->ring, p, entry);
		free(p);
		lost++;
	}
	report_event(k->rep, "hibernate",
	    "hibernation: fake THAW queued for the daemon, channel closed (%u packets in it lost)",
	    lost);
}

/* util_resume(): the channel is opened again; the host negotiates first. */
void
kernel_resume(struct kernel *k)
{
	k->suspended = false;
	report_event(k->rep, "resume", "resumed: channel opened again");
	kernel_poll_channel(k);
}

/*
 * hv_vss_deinit() -> hvutil_transport_destroy(): the transaction is
 * dropped (the host is not answered), a waiting read or poll wakes up to
 * EBADF and POLLERR|POLLHUP, and the device lingers until the daemon
 * closes it.
 */
void
kernel_remove(struct kernel *k)
{
	cancel_timeout(k);
	event_del(k->work_ev);
	k->work_pending = false;
	k->removed = true;
	report_event(k->rep, "removed",
	    "device removed: poll gives POLLERR|POLLHUP, read, write and open EBADF");
	if (k->wakeup != NULL)
		k->wakeup(k->wakeup_arg);
}

bool
kernel_removed(const struct kernel *k)
{
	return k->removed;
}

bool
kernel_is_open(const struct kernel *k)
{
	return k->open;
}

void
kernel_set_host(struct kernel *k, struct host *h)
{
	k->host = h;
}

void
kernel_set_wakeup(struct kernel *k, void (*fn)(void *), void *arg)
{
	k->wakeup = fn;
	k->wakeup_arg = arg;
}

struct kernel *
kernel_new(
    struct event_base *base, const struct sim_cfg *cfg, struct report *rep)
{
	struct kernel *k;

	if ((k = calloc(1, sizeof(*k))) == NULL)
		return NULL;
	k->base = base;
	k->cfg = cfg;
	k->rep = rep;
	k->state = KS_INIT;
	TAILQ_INIT(&k->ring);
	k->chan_ev = event_new(base, -1, 0, chan_cb, k);
	k->work_ev = event_new(base, -1, 0, work_cb, k);
	k->timeout_ev = evtimer_new(base, timeout_cb, k);
	if (k->chan_ev == NULL || k->work_ev == NULL || k->timeout_ev == NULL) {
		kernel_free(k);
		return NULL;
	}
	return k;
}

void
kernel_free(struct kernel *k)
{
	struct chanpkt *p;

	if (k == NULL)
		return;
	while ((p = TAILQ_FIRST(&k->ring)) != NULL) {
		TAILQ_REMOVE(&k->ring, p, entry);
		free(p);
	}
	if (k->chan_ev)
		event_free(k->chan_ev);
	if (k->work_ev)
		event_free(k->work_ev);
	if (k->timeout_ev)
		event_free(k->timeout_ev);
	free(k);
}
