/*
 * hv_vss_daemon: the guest side of Hyper-V backups (VSS) for Linux.
 * See hv_vss_daemon(8).
 *
 * main.c only starts things: options, configuration, logging, then the
 * daemon proper (daemon.c).
 */
#include <sys/resource.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "conf.h"
#include "daemon.h"
#include "guard.h"
#include "log.h"

#define MAX_OVERRIDES 64

static void __attribute__((noreturn)) usage(void)
{
	fprintf(stderr,
	    "usage: hv_vss_daemon [-dhnt] [-c file] "
	    "[-D device] [-o key=value]\n");
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
				    "hv_vss_daemon: more than %d "
				    "-o\n",
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
		conf_dump(&c, stdout);
		conf_clear(&c);
		exit(0);
	}
	if (geteuid() != 0) {
		fprintf(stderr,
		    "hv_vss_daemon: must run as root (it freezes "
		    "filesystems)\n");
		exit(1);
	}
	if (!guard_found) {
		fprintf(stderr, "hv_vss_daemon: thaw guard: %s\n", guard_err);
		exit(1);
	}

	raise_fd_limit();
	log_init(foreground, c.debug);
	if (!foreground && daemon(0, 0) == -1) {
		fprintf(stderr, "hv_vss_daemon: daemon: %s\n", strerror(errno));
		exit(1);
	}
	/* the freezer reports from a worker thread */
	if (evthread_use_pthreads() != 0)
		fatalx("libevent without thread support");
	if ((base = event_base_new()) == NULL)
		fatalx("cannot create the event loop");
	log_info("starting: device %s, %s plan", c.device,
	    c.nmounts > 0 ? "allow-listed" : "automatic");
	daemon_start(base, &c, conf_path, overrides, noverrides);
	i = daemon_run();
	event_base_free(base);
	log_info("exiting");
	return i;
}
