/*
 * sim.h: the parts of hv_vss_sim and how they talk.
 *
 *   host.c     plays Hyper-V: negotiates, runs backup scenarios, times
 *              each request, pushes IC packets into the channel
 *   kernel.c   plays Linux's hv_utils VSS driver (hv_snapshot.c and
 *              hv_utils_transport.c): the channel callback, the one
 *              transaction, the timeouts, the device's read/write rules
 *   fusedev.c  serves the device as a FUSE file and maps FUSE requests to
 *              kernel_open/read/write/poll/release
 *   kernel_fbsd.c  plays FreeBSD's hv_vss driver instead (-F): two
 *              devices, ioctls, the application first on FREEZE
 *   fbsddev.c  serves each of its devices as a FUSE file with ioctls
 *   report.c   records what happened and prints the JSON report
 *   sim.c      options and start-up
 *
 * Everything runs on one libevent loop in one thread; the parts call each
 * other directly, and defer with event_active() wherever the real kernel
 * would defer to a tasklet or a work item, so that no call re-enters the
 * caller.
 */
#ifndef HVVSS_SIM_H
#define HVVSS_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hv_msg.h"
#include "ic.h"
#include "util.h"

struct event_base;
struct kernel;
struct host;
struct fusedev;
struct kfbsd;
struct fbsddev;
struct report;
struct hv_vss_opt_msg;

/* Kernel timeouts, as Linux has them: FREEZE 15 min, the others 30 s. */
#define SIM_FREEZE_TIMEOUT_MS (15 * 60 * 1000)
#define SIM_UTIL_TIMEOUT_MS (30 * 1000)
/* The host's patience: a request unanswered this long past the kernel's
 * timeout for it, or a negotiation unanswered this long, is given up */
#define SIM_REPLY_MARGIN_MS (10 * 1000)
#define SIM_NEGO_TIMEOUT_MS (5 * 1000)

#define SIM_MAX_STEPS 64

enum step_kind {
	STEP_REQUEST, /* send a VSS op */
	STEP_EXEC, /* run the frozen-window command */
	STEP_HIBERNATE, /* fake THAW, channel closed, reopened, renegotiated */
	STEP_REMOVE, /* the device goes away (hvutil_transport_destroy) */
	STEP_SLEEP, /* wait ms */
	STEP_CLOSE_WAIT, /* wait for the daemon to re-register */
};

struct step {
	enum step_kind kind;
	uint8_t op; /* STEP_REQUEST */
	bool nowait; /* send the next step before the reply */
	unsigned int ms; /* STEP_SLEEP */
};

struct sim_cfg {
	const char *device; /* where the FUSE file is served */
	const char *app_device; /* -F: FreeBSD's hv_appvss_dev; else NULL */
	const char *exec_cmd; /* run while frozen, or NULL */
	const char *setup_cmd; /* run once before the first backup */
	char *const *guest_argv; /* guest command, or NULL */
	const char *report_path; /* NULL: stdout */
	unsigned int repeat;
	unsigned int wait_register_ms;
	unsigned int timeout_ms[HV_OP_COUNT]; /* kernel timeouts */
	unsigned int unknown_timeout_ms; /* for an op past HV_OP_COUNT */
	unsigned int margin_ms; /* SIM_REPLY_MARGIN_MS unless -T margin= */
	unsigned int nego_timeout_ms; /* SIM_NEGO_TIMEOUT_MS unless -T nego= */
	struct step steps[SIM_MAX_STEPS];
	unsigned int nsteps;
	uint32_t hot_flags; /* in the host's HOT_BACKUP requests */
	struct ic_version offer_fw[8], offer_msg[8];
	unsigned int noffer_fw, noffer_msg;
	bool verbose;
};

/*
 * The guest kernel as host.c drives it: Linux's (kernel.c) or FreeBSD's
 * (kernel_fbsd.c).  hibernate is NULL where the kernel has no such path.
 */
struct guest_kernel {
	void *k;
	/* Linux's kernel, for the steps only it has (hibernate, remove);
	 * NULL under -F, which refuses those steps */
	struct kernel *lk;
	void (*channel_send)(void *, const uint8_t *, size_t, uint64_t);
	bool (*ready)(const void *);
	unsigned int (*registrations)(const void *);
	void (*hibernate)(void *);
	void (*set_host)(void *, struct host *);
};

/* kernel.c */
struct kernel *
kernel_new(struct event_base *, const struct sim_cfg *, struct report *);
void kernel_free(struct kernel *);
void kernel_set_host(struct kernel *, struct host *);
void kernel_set_wakeup(struct kernel *, void (*)(void *), void *);
void kernel_channel_send(struct kernel *, const uint8_t *, size_t, uint64_t);
int kernel_open(struct kernel *);
void kernel_release(struct kernel *);
ssize_t kernel_read(struct kernel *, void *, size_t);
int kernel_write(struct kernel *, const void *, size_t);
bool kernel_readable(const struct kernel *);
bool kernel_ready(const struct kernel *);
unsigned int kernel_registrations(const struct kernel *);
void kernel_hibernate(struct kernel *);
void kernel_resume(struct kernel *);
void kernel_remove(struct kernel *);
bool kernel_removed(const struct kernel *);
bool kernel_is_open(const struct kernel *);

/* kernel_fbsd.c: side is KF_FS (hv_fsvss_dev) or KF_APP (hv_appvss_dev) */
#define KF_FS 0
#define KF_APP 1
#define SIM_FBSD_TIMEOUT_MS (15 * 1000) /* its one timer, TIMEOUT_LIMIT */
struct kfbsd *
kfbsd_new(struct event_base *, const struct sim_cfg *, struct report *);
void kfbsd_free(struct kfbsd *);
struct guest_kernel kfbsd_guest(struct kfbsd *);
void kfbsd_channel_send(struct kfbsd *, const uint8_t *, size_t, uint64_t);
int kfbsd_open(struct kfbsd *, int);
void kfbsd_release(struct kfbsd *, int);
void kfbsd_read(struct kfbsd *, int, struct hv_vss_opt_msg *);
void kfbsd_write(struct kfbsd *, int, const struct hv_vss_opt_msg *);
bool kfbsd_readable(const struct kfbsd *, int);
void kfbsd_set_wakeup(struct kfbsd *, int, void (*)(void *), void *);

/* fbsddev.c */
struct fbsddev *
fbsddev_start(struct event_base *, const char *, struct kfbsd *, int, bool);
void fbsddev_stop(struct fbsddev *);

/* fusedev.c */
struct fuse_lowlevel_ops;
struct fuse_session *fusefile_mount(const char *,
    const struct fuse_lowlevel_ops *, size_t, void *, bool, bool *);
struct fusedev *
fusedev_start(struct event_base *, const char *, struct kernel *, bool);
void fusedev_stop(struct fusedev *);

/* host.c */
struct host *host_new(struct event_base *, const struct sim_cfg *,
    const struct guest_kernel *, struct report *);
void host_free(struct host *);
void host_start(struct host *);
void host_on_reply(struct host *, const uint8_t *, size_t, uint64_t);
void host_on_child(struct host *, pid_t, int);
bool host_done(const struct host *);

/* report.c */
struct report *report_new(void);
void report_free(struct report *);
void report_event(struct report *, const char *, const char *, ...)
    __attribute__((format(printf, 3, 4)));
void report_negotiation(
    struct report *, int, struct ic_version, struct ic_version, uint32_t);
void report_backup_begin(struct report *, unsigned int);
void report_request(struct report *, uint8_t, uint8_t, size_t, uint32_t,
    uint32_t, uint64_t, bool);
void report_exec(struct report *, const char *, int, uint64_t);
void report_backup_end(struct report *);
void report_setup(struct report *, int);
void report_guest(struct report *, pid_t, int);
int report_write(struct report *, const char *);
bool report_ok(const struct report *);

#endif /* HVVSS_SIM_H */
