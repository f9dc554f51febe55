/*
 * host.h: the host channel, the seam between the daemon and the
 * kernel's Hyper-V VSS driver (issue 11, item 2): requests in, one
 * answer each out, ok or failed.
 *
 * The daemon sees only what the host asks (CHECK, FREEZE, THAW) and
 * answers ok or not; how the kernel carries it is the backend's:
 *
 *   host_linux.c    /dev/vmbus/hv_vss: one device, the REGISTER1
 *                   handshake, the 12-byte struct hv_vss_msg
 *                   (common/hv_msg.h) with an HRESULT for an answer
 *   host_freebsd.c  /dev/hv_fsvss_dev and /dev/hv_appvss_dev: no
 *                   handshake, the 64-byte hv_vss_opt_msg
 *                   (common/hv_vss_fbsd.h), status 0/1; one request
 *                   visits both devices, under one 15 s timer
 *
 * One backend is linked; nothing here says which kernel it speaks to.
 */
#ifndef HVVSS_HOST_H
#define HVVSS_HOST_H

#include <stdbool.h>
#include <stdint.h>

struct conf;
struct event_base;
struct hostchan;

/* What the host asks of the guest. */
enum host_req {
	HOST_CHECK, /* may a backup start now? (Linux: HOT_BACKUP) */
	HOST_FREEZE, /* make the filesystems consistent and hold them */
	HOST_THAW, /* let go */
	HOST_OTHER, /* none of these (a channel that passes more on):
		     * answered failed */
};

struct host_callbacks {
	/* a request from the host; name is the channel's own name of it,
	 * for the log; budget_ms: the time the kernel leaves to answer it,
	 * what went before it already spent (FreeBSD's one 15 s timer, less
	 * a legacy application's turn and a margin), 0: the backend's
	 * kernel says none (Linux's timers are warned about at start) */
	void (*request)(
	    enum host_req, const char *name, unsigned int budget_ms, void *arg);
	/* the channel failed or rejected an answer: answers owed are void */
	void (*lost)(const char *why, bool rejected, void *arg);
	/* the channel is up and requests will come; version is the
	 * channel's protocol (0: it has none to say) */
	void (*registered)(uint32_t version, void *arg);
};

/* c: the device paths (device; FreeBSD: app_device too), kept */
struct hostchan *hostchan_new(struct event_base *, const struct conf *c,
    const struct host_callbacks *, void *);
/*
 * A reloaded configuration (SIGHUP): what the backend reads beyond the
 * device (FreeBSD: app_device, taken or let go between requests, never
 * between the two turns of one).  The device itself is
 * hostchan_set_device()'s, once the daemon has closed the channel.
 */
void hostchan_reconf(struct hostchan *, const struct conf *c);
void hostchan_free(struct hostchan *);
/* Open and register; on failure retry every second until it works. */
void hostchan_connect(struct hostchan *);
/* Close now (the kernel fails a transaction in flight; thaws nothing). */
void hostchan_close(struct hostchan *);
/* Answer the current request; -errno, and lost() is called. */
int hostchan_reply(struct hostchan *, bool ok);
bool hostchan_connected(const struct hostchan *);
void hostchan_set_device(struct hostchan *, const char *);
/*
 * How the device is opened: open(2) by default; in privsep mode the
 * engine gets it from its parent.  fn returns a descriptor or -errno;
 * fresh: the last one was lost, a new open is wanted (not the copy the
 * parent keeps); why: on EBUSY, who holds it ("unknown" if that cannot be
 * told).  NULL: open(2).
 */
/* Who holds device open ("pid N (comm)", or "unknown"): for EBUSY. */
void host_device_holder(const char *device, char *out, size_t len);
/* The backend can take its device from privsep's parent (Linux's). */
extern const bool host_can_privsep;
typedef int (*hostchan_open_fn)(
    const char *device, bool fresh, char *why, size_t whylen, void *arg);
void hostchan_set_opener(struct hostchan *, hostchan_open_fn, void *arg);

/*
 * The settings the backend's kernel decides.  host_conf_defaults():
 * called by conf_defaults(), after the common defaults, with the
 * device and, where the kernel's timers bound the stages, deadlines
 * that fit them.  host_conf_apply(): at start (daemon_start()) and at
 * each reload: logs a warning, naming the settings, for each that
 * cannot work with this kernel's timers (Linux: 30 s for HOT_BACKUP and
 * THAW, 900 s for FREEZE; FreeBSD: one 15 s timer for each request),
 * and what the configuration makes of the backend (FreeBSD: legacy
 * mode).
 */
void host_conf_defaults(struct conf *);
void host_conf_apply(const struct conf *);

#endif /* HVVSS_HOST_H */
