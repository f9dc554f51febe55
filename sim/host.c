/*
 * host.c: plays the Hyper-V host's side of a backup.
 *
 * It negotiates the VSS service (offering the configured framework and
 * message versions), waits for a daemon to register, then runs the
 * scenario: a list of steps (requests, the frozen-window command, a fake
 * hibernation, pauses), repeated.  Every request is a real IC packet put
 * into the emulated channel; its reply is checked (same length and
 * transaction id, reply flags) and timed from send to reply.  Like the
 * real host it sends one request at a time and waits for its answer,
 * unless a step asks to send the next one while this one is in flight.
 * A request with no answer within the kernel's timeout plus a margin is
 * recorded as unanswered; that is a bug in the guest kernel's emulation, a
 * hung daemon, or (under -F) FreeBSD's driver dropping a request, and the
 * backup fails.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "le.h"
#include "sim.h"

#define HOST_REREGISTER_MS 10000 /* after a fake hibernation THAW */
#define HOST_RELEASE_MS 5000 /* for the daemon to close a removed device */
#define HOST_TICK_MS 2

enum phase {
	PH_NEGOTIATE,
	PH_WAIT_REGISTER,
	PH_SETUP, /* the -b command runs */
	PH_STEPS,
	PH_DONE,
};

struct pending {
	uint64_t reqid;
	bool nego; /* a negotiation, not a VSS request */
	uint8_t op;
	uint8_t txid;
	size_t len;
	uint64_t sent_us;
	uint64_t deadline_us;
};

struct host {
	struct event_base *base;
	const struct sim_cfg *cfg;
	struct guest_kernel gk; /* Linux's or FreeBSD's */
	struct report *rep;

	enum phase phase;
	unsigned int backup; /* 1-based */
	unsigned int step; /* next step to run */
	bool waiting; /* for replies, a child, a timer */

	struct pending out[SIM_MAX_STEPS];
	unsigned int nout;
	uint8_t txid;
	uint64_t reqid;
	struct ic_version fw, msgver;

	pid_t exec_pid;
	uint64_t exec_start;
	unsigned int reg_before;
	uint64_t wait_until;
	bool renego_failed;

	struct event *advance_ev;
	struct event *tick_ev;
	struct event *watch_ev;
};

static void host_advance(struct host *);

static void
schedule(struct host *h)
{
	event_active(h->advance_ev, EV_TIMEOUT, 0);
}

static void
tick_in(struct host *h, unsigned int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	evtimer_add(h->tick_ev, &tv);
}

static size_t
request_size(uint8_t op)
{
	/* a FREEZE carries LUN data that Linux ignores */
	return op == HV_OP_FREEZE ? IC_FREEZE_PKT_SIZE : IC_VSS_MIN_SIZE;
}

static void
send_request(struct host *h, uint8_t op)
{
	uint8_t pkt[IC_MAX_PKT_SIZE];
	struct pending *p;
	unsigned int tmo;
	int len;

	len = ic_vss_build(pkt, sizeof(pkt), request_size(op), ++h->txid, h->fw,
	    h->msgver, op);
	if (len < 0) {
		fprintf(stderr, "hv_vss_sim: cannot build %s: %s\n",
		    hv_op_name(op), strerror(-len));
		exit(2);
	}
	if (op == HV_OP_HOT_BACKUP) {
		/* body.flags (-H), which Linux sends back as they are */
		put_le32(pkt + IC_HDR_SIZE + 8, h->cfg->hot_flags);
	}
	tmo = op < HV_OP_COUNT ? h->cfg->timeout_ms[op]
	                       : h->cfg->unknown_timeout_ms;
	p = &h->out[h->nout++];
	p->reqid = ++h->reqid;
	p->nego = false;
	p->op = op;
	p->txid = h->txid;
	p->len = len;
	p->sent_us = mono_us();
	p->deadline_us =
	    p->sent_us + ((uint64_t)tmo + h->cfg->margin_ms) * 1000;
	h->gk.channel_send(h->gk.k, pkt, len, p->reqid);
}

static void
send_negotiation(struct host *h)
{
	uint8_t pkt[IC_MAX_PKT_SIZE];
	struct pending *p;
	int len;

	len = ic_nego_build(pkt, sizeof(pkt), ++h->txid, h->cfg->offer_fw,
	    h->cfg->noffer_fw, h->cfg->offer_msg, h->cfg->noffer_msg);
	if (len < 0) {
		fprintf(stderr, "hv_vss_sim: cannot build negotiation: %s\n",
		    strerror(-len));
		exit(2);
	}
	p = &h->out[h->nout++];
	p->reqid = ++h->reqid;
	p->nego = true;
	p->op = 0;
	p->txid = h->txid;
	p->len = len;
	p->sent_us = mono_us();
	p->deadline_us = p->sent_us + h->cfg->nego_timeout_ms * 1000ULL;
	h->gk.channel_send(h->gk.k, pkt, len, p->reqid);
}

static void
drop_pending(struct host *h, unsigned int i)
{
	h->out[i] = h->out[--h->nout];
}

static void
negotiation_reply(struct host *h, const uint8_t *pkt, size_t len)
{
	static struct ic_nego n;
	struct ic_hdr hdr;
	struct ic_version none = {0, 0};

	if (ic_hdr_decode(pkt, len, &hdr) < 0 ||
	    ic_nego_decode(pkt, len, &n) < 0 || !ic_is_reply(&hdr)) {
		report_negotiation(h->rep, -1, none, none, HV_E_FAIL);
		h->phase = PH_DONE;
		return;
	}
	if (n.fw_count != 1 || n.msg_count != 1 || hdr.status != HV_S_OK) {
		report_negotiation(h->rep, 0, none, none, hdr.status);
		h->phase = PH_DONE;
		return;
	}
	h->fw = n.fw[0];
	h->msgver = n.msg[0];
	report_negotiation(h->rep, 1, h->fw, h->msgver, hdr.status);
	h->phase = PH_WAIT_REGISTER;
	h->wait_until = mono_us() + h->cfg->wait_register_ms * 1000ULL;
}

/*
 * The answer to the negotiation that follows a resume: the same rules as
 * the first, and the versions chosen again are the ones used from now on.
 */
static void
renegotiation_reply(struct host *h, const uint8_t *pkt, size_t len)
{
	struct ic_nego n;
	struct ic_hdr hdr;

	if (ic_hdr_decode(pkt, len, &hdr) < 0 ||
	    ic_nego_decode(pkt, len, &n) < 0 || !ic_is_reply(&hdr) ||
	    n.fw_count != 1 || n.msg_count != 1 || hdr.status != HV_S_OK) {
		h->renego_failed = true;
		report_event(h->rep, "renegotiation_failed",
		    "after resume: negotiation answered with status 0x%08x",
		    hdr.status);
		return;
	}
	h->fw = n.fw[0];
	h->msgver = n.msg[0];
	report_event(h->rep, "renegotiated",
	    "after resume: framework %u.%u, VSS %u.%u", h->fw.major,
	    h->fw.minor, h->msgver.major, h->msgver.minor);
}

/* The guest kernel sent a packet back. */
void
host_on_reply(struct host *h, const uint8_t *pkt, size_t len, uint64_t reqid)
{
	struct pending *p = NULL;
	struct ic_hdr hdr;
	struct ic_vss v;
	uint64_t lat;
	unsigned int i;
	bool wellformed;

	for (i = 0; i < h->nout; i++)
		if (h->out[i].reqid == reqid) {
			p = &h->out[i];
			break;
		}
	if (p == NULL) {
		report_event(h->rep, "stray_reply",
		    "reply with request id %llu matches no request",
		    (unsigned long long)reqid);
		return;
	}
	lat = mono_us() - p->sent_us;
	if (h->phase == PH_NEGOTIATE) {
		drop_pending(h, i);
		negotiation_reply(h, pkt, len);
		schedule(h);
		return;
	}
	if (p->nego) { /* after a resume; the hibernate step waits for it */
		drop_pending(h, i);
		renegotiation_reply(h, pkt, len);
		return;
	}
	wellformed = ic_vss_decode(pkt, len, &hdr, &v) == 0 && len == p->len &&
	    hdr.txid == p->txid && hdr.flags == IC_FLAGS_REPLY;
	report_request(h->rep, p->op, p->txid, len,
	    wellformed ? hdr.status : HV_E_FAIL, wellformed ? v.flags : 0, lat,
	    true);
	if (!wellformed)
		report_event(h->rep, "bad_reply",
		    "malformed reply to %s (length %zu, expected %zu)",
		    hv_op_name(p->op), len, p->len);
	drop_pending(h, i);
	/* a reply never ends the wait for the frozen-window command */
	if (h->nout == 0 && h->waiting && h->exec_pid == 0) {
		h->waiting = false;
		schedule(h);
	}
}

/* A child of ours exited: maybe the frozen-window command. */
void
host_on_child(struct host *h, pid_t pid, int status)
{
	int rc;

	if (pid != h->exec_pid)
		return;
	rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (h->phase == PH_SETUP) {
		h->exec_pid = 0;
		h->waiting = false;
		report_setup(h->rep, rc);
		if (rc != 0) {
			h->phase = PH_DONE;
			event_base_loopbreak(h->base);
			return;
		}
		h->phase = PH_STEPS;
		h->backup = 1;
		h->step = 0;
		report_backup_begin(h->rep, h->backup);
		schedule(h);
		return;
	}
	report_exec(h->rep, h->cfg->exec_cmd, rc, mono_us() - h->exec_start);
	h->exec_pid = 0;
	h->waiting = false;
	schedule(h);
}

static void
start_exec(struct host *h, const char *cmd)
{
	char num[16];
	pid_t pid;

	if (cmd == NULL) {
		schedule(h);
		return;
	}
	h->exec_start = mono_us();
	snprintf(num, sizeof(num), "%u", h->backup);
	switch (pid = fork()) {
	case -1:
		if (h->phase == PH_SETUP) {
			report_setup(h->rep, 127);
			h->phase = PH_DONE;
			event_base_loopbreak(h->base);
			return;
		}
		report_exec(h->rep, cmd, 127, 0);
		schedule(h);
		return;
	case 0:
		/* the report owns our stdout */
		dup2(STDERR_FILENO, STDOUT_FILENO);
		setenv("HVVSS_SIM_BACKUP", num, 1);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	h->exec_pid = pid;
	h->waiting = true;
}

static void
run_step(struct host *h, const struct step *s)
{
	switch (s->kind) {
	case STEP_REQUEST:
		send_request(h, s->op);
		if (s->nowait)
			schedule(h);
		else
			h->waiting = true;
		break;
	case STEP_EXEC:
		start_exec(h, h->cfg->exec_cmd);
		break;
	case STEP_HIBERNATE:
		h->reg_before = h->gk.registrations(h->gk.k);
		h->gk.hibernate(h->gk.k);
		/* what was in flight went with the channel: never answered */
		while (h->nout > 0) {
			report_request(h->rep, h->out[0].op, h->out[0].txid, 0,
			    0, 0, mono_us() - h->out[0].sent_us, false);
			drop_pending(h, 0);
		}
		/* resume: the channel is opened again, and a host always
		 * negotiates on a fresh channel before anything else */
		kernel_resume(h->gk.lk);
		send_negotiation(h);
		h->wait_until = mono_us() + HOST_REREGISTER_MS * 1000ULL;
		h->waiting = true;
		tick_in(h, HOST_TICK_MS);
		break;
	case STEP_REMOVE:
		kernel_remove(h->gk.lk);
		while (h->nout > 0) {
			report_request(h->rep, h->out[0].op, h->out[0].txid, 0,
			    0, 0, mono_us() - h->out[0].sent_us, false);
			drop_pending(h, 0);
		}
		h->wait_until = mono_us() + HOST_RELEASE_MS * 1000ULL;
		h->waiting = true;
		tick_in(h, HOST_TICK_MS);
		break;
	case STEP_SLEEP:
		h->wait_until = mono_us() + s->ms * 1000ULL;
		h->waiting = true;
		tick_in(h, s->ms);
		break;
	case STEP_CLOSE_WAIT:
		break;
	}
}

static void
host_advance(struct host *h)
{
	const struct step *s;

	switch (h->phase) {
	case PH_NEGOTIATE:
		return;
	case PH_WAIT_REGISTER:
		if (!h->gk.ready(h->gk.k) && mono_us() < h->wait_until) {
			tick_in(h, HOST_TICK_MS);
			return;
		}
		if (!h->gk.ready(h->gk.k) && h->cfg->wait_register_ms > 0)
			report_event(h->rep, "no_daemon",
			    "no daemon registered within %u ms",
			    h->cfg->wait_register_ms);
		if (h->cfg->setup_cmd != NULL) {
			h->phase = PH_SETUP;
			start_exec(h, h->cfg->setup_cmd);
			return;
		}
		h->phase = PH_STEPS;
		h->backup = 1;
		h->step = 0;
		report_backup_begin(h->rep, h->backup);
		break;
	case PH_SETUP:
		return;
	case PH_STEPS:
		break;
	case PH_DONE:
		event_base_loopbreak(h->base);
		return;
	}
	if (h->waiting)
		return;
	if (h->step == h->cfg->nsteps) {
		if (h->nout > 0) { /* a last "+" step: wait for it */
			h->waiting = true;
			return;
		}
		report_backup_end(h->rep);
		if (h->backup == h->cfg->repeat) {
			h->phase = PH_DONE;
			event_base_loopbreak(h->base);
			return;
		}
		report_backup_begin(h->rep, ++h->backup);
		h->step = 0;
	}
	s = &h->cfg->steps[h->step++];
	run_step(h, s);
}

static void
advance_cb(evutil_socket_t fd, short what, void *arg)
{
	host_advance(arg);
}

/* Timers: waiting for registration, hibernation, sleeps, deadlines. */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct host *h = arg;
	const struct step *s;
	uint64_t now = mono_us();
	unsigned int i;

	if (h->phase == PH_WAIT_REGISTER) {
		schedule(h);
		return;
	}
	if (h->phase != PH_STEPS || !h->waiting || h->step == 0)
		return;
	s = &h->cfg->steps[h->step - 1];
	if (s->kind == STEP_REMOVE) {
		if (!kernel_is_open(h->gk.lk) || now >= h->wait_until) {
			if (kernel_is_open(h->gk.lk))
				report_event(h->rep, "not_released",
				    "the removed device was still open after %u ms",
				    HOST_RELEASE_MS);
			h->waiting = false;
			schedule(h);
		} else
			tick_in(h, HOST_TICK_MS);
		return;
	}
	if (s->kind == STEP_HIBERNATE) {
		if (h->gk.registrations(h->gk.k) > h->reg_before &&
		    h->gk.ready(h->gk.k) && h->nout == 0) {
			report_event(h->rep, "reregistered",
			    "daemon registered again after hibernation");
			h->waiting = false;
			schedule(h);
		} else if (now >= h->wait_until) {
			if (h->nout > 0)
				report_event(h->rep, "renegotiation_failed",
				    "after resume: negotiation not answered within %u ms",
				    HOST_REREGISTER_MS);
			h->nout = 0;
			if (!h->gk.ready(h->gk.k))
				report_event(h->rep, "no_reregister",
				    "daemon did not register again within %u ms",
				    HOST_REREGISTER_MS);
			h->waiting = false;
			schedule(h);
		} else
			tick_in(h, HOST_TICK_MS);
		return;
	}
	if (s->kind == STEP_SLEEP && h->nout == 0) {
		h->waiting = false;
		schedule(h);
		return;
	}
	/* replies overdue: the guest never answered */
	for (i = 0; i < h->nout;) {
		if (now < h->out[i].deadline_us) {
			i++;
			continue;
		}
		report_request(h->rep, h->out[i].op, h->out[i].txid, 0, 0, 0,
		    now - h->out[i].sent_us, false);
		drop_pending(h, i);
	}
	if (h->exec_pid != 0)
		return; /* the command ends the wait (host_on_child) */
	if (h->nout == 0) {
		h->waiting = false;
		schedule(h);
	} else
		tick_in(h, 100);
}

/* Deadline watchdog: a repeating check while replies are outstanding. */
static void
watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct host *h = arg;

	if (h->phase == PH_STEPS && h->waiting && h->nout > 0)
		tick_cb(-1, 0, h);
	else if (h->phase == PH_NEGOTIATE && h->nout > 0 &&
	    mono_us() >= h->out[0].deadline_us) {
		struct ic_version none = {0, 0};

		report_negotiation(h->rep, -1, none, none, HV_E_FAIL);
		h->phase = PH_DONE;
		event_base_loopbreak(h->base);
	}
}

struct host *
host_new(struct event_base *base, const struct sim_cfg *cfg,
    const struct guest_kernel *gk, struct report *rep)
{
	struct host *h;
	struct timeval sec = {1, 0};

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	h->base = base;
	h->cfg = cfg;
	h->gk = *gk;
	h->rep = rep;
	h->advance_ev = event_new(base, -1, 0, advance_cb, h);
	h->tick_ev = evtimer_new(base, tick_cb, h);
	h->watch_ev = event_new(base, -1, EV_PERSIST, watch_cb, h);
	if (h->advance_ev == NULL || h->tick_ev == NULL ||
	    h->watch_ev == NULL || event_add(h->watch_ev, &sec) != 0) {
		host_free(h);
		return NULL;
	}
	h->gk.set_host(h->gk.k, h);
	return h;
}

void
host_start(struct host *h)
{
	h->phase = PH_NEGOTIATE;
	send_negotiation(h);
}

bool
host_done(const struct host *h)
{
	return h->phase == PH_DONE;
}

void
host_free(struct host *h)
{
	if (h == NULL)
		return;
	h->gk.set_host(h->gk.k, NULL);
	if (h->advance_ev)
		event_free(h->advance_ev);
	if (h->tick_ev)
		event_free(h->tick_ev);
	if (h->watch_ev)
		event_free(h->watch_ev);
	free(h);
}
