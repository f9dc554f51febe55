/*
 * parent.c: hv_vss_daemon in privsep mode (privsep = yes): the
 * privileged parent's part of the process (parent.h).
 *
 * The parent keeps what needs root and nothing else: the ownership
 * record (a filesystem is named in it before it is frozen, and a new
 * daemon thaws what a dead one left), the thaw guard (started here,
 * watched, restarted), and the supervisor of the engine (privsep.c),
 * whose request handler (priv.c) plans, freezes, thaws and runs hooks
 * from this process's own configuration.  The engine is the daemon
 * proper (daemon.c in its engine mode): it binds the application and
 * control sockets while still root, in the child, then confines itself
 * (privsep.c, os/sandbox.h) and serves them.
 *
 * Hazards:
 * - The guard's events are read here and forwarded (privsep_guard()):
 *   the engine may not hold the guard's socket.
 * - SIGTERM: the engine is told (it answers what it must and thaws
 *   through us), then reaped; only then does the parent exit, unlinking
 *   the sockets the engine may not.  A stop that does not end within
 *   STOP_GRACE_MS is forced (privsep_free(): thaw, then SIGKILL).
 * - The engine's empty root is <run_dir>/empty, made here: a directory
 *   owned by root and writable by no one else (sandbox.h checks it),
 *   if we may chroot at all; the systemd unit does not let us (it says
 *   why), and the engine's filter alone keeps it off the filesystem.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf.h"
#include "daemon.h"
#include "guard.h"
#include "log.h"
#include "os/sandbox.h"
#include "parent.h"
#include "priv.h"
#include "privsep.h"
#include "record.h"
#include "sigs.h"
#include "util.h"

#define GUARD_RESPAWN_MS 1000
#define STOP_GRACE_MS 30000

#define RELOAD_RETRY_MS 200

static struct {
	struct event_base *base;
	struct conf *c;
	const char *conf_path;
	char *const *overrides;
	int noverrides;
	struct conf next; /* SIGHUP's, until nothing is frozen */
	bool next_valid;
	struct event *reload_timer;
	struct privsep *ps;
	struct guard *guard;
	struct record *record;
	struct event *guard_ev, *guard_timer, *stop_timer;
	struct event *sig_ev[4];
	bool foreground;
	bool stopping;
	bool helloed; /* the running guard said hello */
	char root[CONF_PATH_MAX + 8];
} p;

static void guard_cb(evutil_socket_t, short, void *);

static void
guard_watch(void)
{
	p.guard_ev = event_new(
	    p.base, guard_fd(p.guard), EV_READ | EV_PERSIST, guard_cb, NULL);
	if (p.guard_ev == NULL || event_add(p.guard_ev, NULL) != 0)
		fatalx("cannot watch the thaw guard");
}

static void
guard_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = {0, GUARD_RESPAWN_MS * 1000};
	char err[256];

	if (guard_spawn(p.guard, err, sizeof(err)) == -1) {
		log_warnx("thaw guard: %s; trying again in 1 s", err);
		evtimer_add(p.guard_timer, &tv);
		return;
	}
	guard_watch();
}

/* The guard said something: forwarded to the engine, and acted on. */
static void
guard_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = {0, GUARD_RESPAWN_MS * 1000};
	struct guard_event ev;

	while (guard_read(p.guard, &ev) == 1) {
		switch (ev.type) {
		case GUARD_EV_READY:
			p.helloed = true;
			log_info("%s", guard_note(p.guard));
			break;
		case GUARD_EV_THAWED:
			log_warnx("thaw guard thawed %s%s%s", ev.path,
			    ev.err ? ": " : "", ev.err ? strerror(ev.err) : "");
			break;
		case GUARD_EV_LEASE:
			log_warnx(
			    "thaw guard: the lease passed; the guard thawed what it held");
			break;
		case GUARD_EV_ERROR:
			log_warnx("thaw guard rejected a message (bug)");
			break;
		case GUARD_EV_DIED:
			/* one that dies before its hello (a broken install)
			 * is not restarted in a tight loop */
			log_warnx(
			    "thaw guard died (status %d); restarting it%s",
			    ev.status, p.helloed ? "" : " in 1 s");
			event_free(p.guard_ev);
			p.guard_ev = NULL;
			if (!p.helloed)
				evtimer_add(p.guard_timer, &tv);
			else {
				struct timeval now = {0, 0};

				evtimer_add(p.guard_timer, &now);
			}
			p.helloed = false;
			break;
		}
		if (p.ps != NULL)
			privsep_guard(p.ps, &ev);
		if (ev.type == GUARD_EV_DIED)
			return;
	}
}

#ifdef HVVSS_TEST_TRIGGERS
/* Test builds: SIGUSR2 makes the engine attempt a forbidden call. */
static void
trigger(int sig)
{
	sandbox_test_forbidden();
}
#endif

/* In the engine, as root still: its log, its sockets, its device. */
static int
engine_before(int sock, void *arg)
{
	struct event_base *base;

	log_init_engine(p.foreground, p.c->debug);
	tzset(); /* /etc/localtime, read while it can be */
	sigs_ignore_stray();
#ifdef HVVSS_TEST_TRIGGERS
	signal(SIGUSR2, trigger);
#endif
	if ((base = event_base_new()) == NULL) {
		log_warnx("engine: cannot create its event loop");
		return -1;
	}
	daemon_start_engine(base, p.c, p.conf_path, p.overrides, p.noverrides,
	    sock, p.guard != NULL ? guard_pid(p.guard) : 0);
	return 0;
}

static int
engine_main(int sock, void *arg)
{
	return daemon_run();
}

static void
stopped(void *arg)
{
	event_base_loopbreak(p.base);
}

static void
stop_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	log_warnx("the engine did not stop within %d s: thawing and killing it",
	    STOP_GRACE_MS / 1000);
	event_base_loopbreak(p.base);
}

/*
 * SIGHUP's configuration, for the parent's own use (the allow-list, the
 * hooks, the lease's cap), once no stage runs and nothing is frozen: a
 * plan is never made from one configuration and frozen by another.  The
 * engine reloads its own (CONF).
 */
static void
reload_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = {0, RELOAD_RETRY_MS * 1000};

	if (!p.next_valid)
		return;
	if (!privsep_idle(p.ps)) {
		evtimer_add(p.reload_timer, &tv);
		return;
	}
	conf_clear(p.c);
	*p.c = p.next;
	p.next_valid = false;
	privsep_conf_changed(p.ps);
	log_info("parent: configuration reloaded from %s", p.conf_path);
}

static void
reload(void)
{
	char err[512];
	int i;

	if (p.next_valid)
		conf_clear(&p.next);
	p.next_valid = false;
	conf_defaults(&p.next);
	/* required: a file gone must not mean "the defaults" */
	if (conf_load(&p.next, p.conf_path, true, err, sizeof(err)) != 0)
		goto bad;
	for (i = 0; i < p.noverrides; i++)
		if (conf_set(&p.next, p.overrides[i], err, sizeof(err)) != 0)
			goto bad;
	/* what the engine, the sockets and the record were started with
	 * stays until the next start (the engine says so) */
	snprintf(p.next.run_dir, sizeof(p.next.run_dir), "%s", p.c->run_dir);
	snprintf(p.next.privsep_user, sizeof(p.next.privsep_user), "%s",
	    p.c->privsep_user);
	p.next.privsep = p.c->privsep;
	p.next_valid = true;
	reload_cb(-1, 0, NULL);
	return;
bad:
	log_warnx("parent: SIGHUP: %s; keeping the running configuration", err);
	conf_clear(&p.next);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct timeval tv = {STOP_GRACE_MS / 1000, 0};
	int rc;

	if (sig == SIGHUP) {
		reload();
		if ((rc = privsep_signal(p.ps, SIGHUP)) < 0)
			log_warnx("SIGHUP: no engine to pass it to: %s",
			    strerror(-rc));
		return;
	}
	if (p.stopping)
		return;
	p.stopping = true;
	log_info("%s: stopping the engine", strsignal(sig));
	evtimer_add(p.stop_timer, &tv);
	privsep_stop(p.ps, (int)sig, stopped, NULL);
}

/* <run_dir>/empty: the engine's root. */
static void
make_root(const struct conf *c)
{
	struct stat st;

	snprintf(p.root, sizeof(p.root), "%s/empty", c->run_dir);
	if (mkdir(p.root, 0755) == -1 && errno != EEXIST)
		fatal("%s: cannot create the engine's root", p.root);
	if (stat(p.root, &st) == -1)
		fatal("%s", p.root);
	if (st.st_uid != 0 || (st.st_mode & 022) != 0)
		fatalx(
		    "%s: the engine's root must be root's and writable by no one else",
		    p.root);
}

int
parent_run(struct event_base *base, struct conf *c, const char *conf_path,
    char *const *overrides, int noverrides, bool foreground)
{
	const int sigs[4] = {SIGTERM, SIGINT, SIGQUIT, SIGHUP};
	struct record_report *reports = NULL;
	struct privsep_conf pc;
	char err[512], line[512];
	size_t n = 0, i, behind;

	p.base = base;
	p.c = c;
	p.conf_path = conf_path;
	p.overrides = overrides;
	p.noverrides = noverrides;
	priv_set_conf_path(conf_path);
	p.foreground = foreground;
	if (sandbox_may_chroot())
		make_root(c);
	if (record_recover(c->run_dir, &reports, &n, err, sizeof(err)) != 0)
		log_warnx("recovery from %s: %s", c->run_dir, err);
	for (i = 0; i < n; i++) {
		record_describe(&reports[i], line, sizeof(line));
		log_warnx("recovery: %s", line);
	}
	behind = record_thawed_behind(reports, n);
	free(reports);
	if ((p.record = record_open(c->run_dir, err, sizeof(err))) == NULL)
		fatalx("ownership record: %s", err);
	behind = record_start_behind(p.record, behind, err, sizeof(err));
	if (err[0] != '\0')
		log_warnx("%s", err);
	if (record_start_expedited(p.record, err, sizeof(err)))
		log_warnx("%s", err);
	if ((p.guard = guard_start(0, err, sizeof(err))) == NULL)
		fatalx("thaw guard: %s", err);
	log_info("%s", guard_note(p.guard));
	p.helloed = true;
	if ((p.guard_timer = evtimer_new(base, guard_timer_cb, NULL)) == NULL ||
	    (p.stop_timer = evtimer_new(base, stop_timer_cb, NULL)) == NULL ||
	    (p.reload_timer = evtimer_new(base, reload_cb, NULL)) == NULL)
		fatalx("out of memory");
	guard_watch();
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < 4; i++) {
		p.sig_ev[i] = evsignal_new(base, sigs[i], signal_cb, NULL);
		if (p.sig_ev[i] == NULL || event_add(p.sig_ev[i], NULL) != 0)
			fatalx("cannot catch signals");
	}

	memset(&pc, 0, sizeof(pc));
	pc.user = c->privsep_user;
	pc.root = p.root[0] != '\0' ? p.root : NULL;
	pc.thawed_behind = (unsigned int)behind;
	pc.before = engine_before;
	pc.engine = engine_main;
	if ((p.ps = privsep_start(base, c, p.guard, &pc, err, sizeof(err))) ==
	    NULL)
		fatalx(
		    "privsep: %s (privsep_user; etc/hvvss.sysusers makes the user, or set privsep = no)",
		    err);
	privsep_set_record(p.ps, p.record);
	if (sandbox_parent(err, sizeof(err)) == -1)
		fatalx("privsep: the parent's filter: %s", err);

	event_base_dispatch(base);

	for (i = 0; i < 4; i++) {
		int sig;

		sig = event_get_signal(p.sig_ev[i]);
		event_free(p.sig_ev[i]);
		signal(sig, SIG_IGN);
	}
	/* thaws first, then the engine goes */
	privsep_free(p.ps);
	(void)unlink(c->app_socket);
	(void)unlink(c->ctl_socket);
	if (p.guard_ev != NULL)
		event_free(p.guard_ev);
	event_free(p.guard_timer);
	event_free(p.stop_timer);
	event_free(p.reload_timer);
	if (p.next_valid)
		conf_clear(&p.next);
	guard_free(p.guard);
	record_close(p.record);
	return 0;
}
