/*
 * hv_vss_daemon: the guest side of Hyper-V backups (VSS) for Linux.
 * See hv_vss_daemon(8).
 *
 * main.c only starts things: options, configuration, logging, signals,
 * run_dir, then the daemon proper (daemon.c).
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "conf.h"
#include "daemon.h"
#include "guard.h"
#include "host.h"
#include "log.h"
#include "parent.h"
#include "sigs.h"

#define MAX_OVERRIDES 64

static void __attribute__((noreturn)) usage(void)
{
	fprintf(stderr,
	    "usage: hv_vss_daemon [-dhnt] [-c file] [-D device] [-o key=value]\n");
	exit(1);
}

/* One descriptor per application connection: allow app_max_clients. */
static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/*
 * libevent's messages, through our log instead of raw "[warn]" lines on
 * stderr.  Its warnings come with a failure it also returns to its
 * caller, who reports it in the daemon's own words (and repeats it each
 * time it retries), so they are debug detail; an error precedes a fatal
 * one.
 */
static void
libevent_log(int severity, const char *msg)
{
	if (severity == EVENT_LOG_ERR)
		log_warnx("libevent: %s", msg);
	else
		log_debug("libevent: %s", msg);
}

/* libevent cannot go on: thaw (fatal's hook) before the process ends. */
static void
libevent_fatal(int err)
{
	fatalx("libevent: fatal error %d", err);
}

static struct event *stray_ev[SIGS_MAX];

/*
 * A stray signal (sigs.h) arrived: say which, once.  Deleting the event
 * puts back SIG_IGN, the disposition libevent found, so later ones are
 * ignored by the kernel without waking the loop or interrupting anything.
 */
static void
stray_cb(evutil_socket_t sig, short what, void *arg)
{
	char buf[32];
	const char *name = sigs_name((int)sig, buf, sizeof(buf));

	log_info(
	    "%s (signal %d) ignored, and from now on without a word (see SIGNALS in hv_vss_daemon(8))",
	    name, (int)sig);
	event_del(arg);
}

/* Watch the strays that are worth a log line; they are ignored already. */
static void
watch_strays(struct event_base *base)
{
	int sigs[SIGS_MAX];
	bool quiet[SIGS_MAX];
	size_t i, n;

	n = sigs_stray(sigs, quiet, SIGS_MAX);
	for (i = 0; i < n; i++) {
		if (quiet[i])
			continue;
		stray_ev[i] =
		    evsignal_new(base, sigs[i], stray_cb, event_self_cbarg());
		if (stray_ev[i] == NULL || event_add(stray_ev[i], NULL) != 0)
			fatalx("cannot watch signal %d", sigs[i]);
	}
}

static void
unwatch_strays(void)
{
	size_t i;

	for (i = 0; i < SIGS_MAX; i++)
		if (stray_ev[i] != NULL)
			event_free(stray_ev[i]);
}

/*
 * run_dir, made if missing; and the directories of the sockets, which
 * need not be in it.  Each failure names the key at fault, not the
 * socket that would fail to bind later.
 */
static void
prepare_dirs(const struct conf *c)
{
	const char *keys[2] = {"app_socket", "ctl_socket"};
	const char *socks[2] = {c->app_socket, c->ctl_socket};
	char buf[CONF_PATH_MAX];
	const char *dir;
	struct stat st;
	int i;

	if (mkdir(c->run_dir, 0755) == -1 && errno != EEXIST)
		fatal("run_dir %s: cannot create it", c->run_dir);
	if (stat(c->run_dir, &st) == -1)
		fatal("run_dir %s", c->run_dir);
	if (!S_ISDIR(st.st_mode))
		fatalx("run_dir %s: not a directory", c->run_dir);
	for (i = 0; i < 2; i++) {
		snprintf(buf, sizeof(buf), "%s", socks[i]);
		dir = dirname(buf);
		if (stat(dir, &st) == -1)
			fatal(
			    "%s %s: its directory %s (run_dir, %s, is the only one made)",
			    keys[i], socks[i], dir, c->run_dir);
		if (!S_ISDIR(st.st_mode))
			fatalx("%s %s: %s is not a directory", keys[i],
			    socks[i], dir);
	}
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
	    {"no-daemon", no_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	static char *overrides[MAX_OVERRIDES + 1];
	static char devopt[CONF_PATH_MAX + 8];
	const char *conf_path = CONF_PATH_DEFAULT;
	bool explicit_conf = false, foreground = false, test_only = false;
	int ch, debug = 0, noverrides = 0, i;
	struct event_base *base;
	struct conf c;
	char err[512], guard_err[512];
	bool guard_found;

	/* the thaw guard's program, beside this one: opened before an
	 * upgrade can replace the files; reported only if we run */
	guard_found = guard_image(NULL, guard_err, sizeof(guard_err)) == 0;
	while ((ch = getopt_long(argc, argv, "c:dD:hno:t", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'c':
			conf_path = optarg;
			explicit_conf = true;
			break;
		case 'd':
			debug++;
			break;
		case 'D':
			snprintf(devopt, sizeof(devopt), "device=%s", optarg);
			if (noverrides == MAX_OVERRIDES)
				usage();
			overrides[noverrides++] = devopt;
			break;
		case 'n':
			foreground = true;
			break;
		case 'o':
			if (noverrides == MAX_OVERRIDES) {
				fprintf(stderr,
				    "hv_vss_daemon: more than %d -o\n",
				    MAX_OVERRIDES);
				exit(1);
			}
			overrides[noverrides++] = optarg;
			break;
		case 't':
			test_only = true;
			break;
		case 'h':
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	conf_defaults(&c);
	if (conf_load(&c, conf_path, explicit_conf, err, sizeof(err)) != 0) {
		fprintf(stderr, "hv_vss_daemon: %s\n", err);
		exit(1);
	}
	for (i = 0; i < noverrides; i++)
		if (conf_set(&c, overrides[i], err, sizeof(err)) != 0) {
			fprintf(stderr, "hv_vss_daemon: %s\n", err);
			exit(1);
		}
	if (debug > c.debug)
		c.debug = debug;
	if (test_only) {
		/* what only a check can say: the allow-list as it is now */
		if (conf_check_mounts(&c, err, sizeof(err)) != 0) {
			fprintf(stderr, "hv_vss_daemon: %s\n", err);
			exit(1);
		}
		conf_dump(&c, stdout);
		conf_clear(&c);
		exit(0);
	}
	if (geteuid() != 0) {
		fprintf(stderr,
		    "hv_vss_daemon: must run as root (it freezes filesystems)\n");
		exit(1);
	}
	if (!guard_found) {
		fprintf(stderr, "hv_vss_daemon: thaw guard: %s\n", guard_err);
		exit(1);
	}

	raise_fd_limit();
	/* from the start: ignored dispositions are inherited by the guard */
	sigs_ignore_stray();
	log_init(foreground, c.debug);
	if (c.privsep && !host_can_privsep) {
		log_info(
		    "privsep: not with this host backend yet: one process (hv_vss_daemon(8), SECURITY)");
		c.privsep = false;
	}
	event_set_log_callback(libevent_log);
	event_set_fatal_callback(libevent_fatal);
	prepare_dirs(&c);
	if (!foreground && daemon(0, 0) == -1) {
		fprintf(stderr, "hv_vss_daemon: daemon: %s\n", strerror(errno));
		exit(1);
	}
	/* the freezer reports from a worker thread */
	if (evthread_use_pthreads() != 0)
		fatalx("libevent without thread support");
	if ((base = event_base_new()) == NULL)
		fatalx("cannot create the event loop");
	log_info("starting: device %s, %s plan%s", c.device,
	    c.nmounts > 0 ? "allow-listed" : "automatic",
	    c.privsep ? ", privilege separated" : "");
	if (c.privsep) { /* never on FreeBSD yet: host_can_privsep */
		watch_strays(base);
		i = parent_run(
		    base, &c, conf_path, overrides, noverrides, foreground);
		unwatch_strays();
		event_base_free(base);
		log_info("exiting");
		return i;
	}
	daemon_start(base, &c, conf_path, overrides, noverrides);
	watch_strays(base);
	i = daemon_run();
	unwatch_strays();
	event_base_free(base);
	log_info("exiting");
	return i;
}
