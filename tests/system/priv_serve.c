/*
 * priv_serve.c: the privileged parent's request handler (daemon/priv.c)
 * as a program of its own, for the tests (build/tests/hv_vss_priv):
 * it serves the engine's end of a socketpair given as a descriptor, so
 * that a harness (tests/system/priv_harness.py) can speak the parent's
 * protocol to it as an engine would, and as a compromised one would.
 *
 *   hv_vss_priv [-ds] [-g guard] [-o key=value]... fd
 *
 * -o sets the configuration as hv_vss_daemon's -o does (the allow-list,
 * the hooks directory, max_frozen ...); -g starts the thaw guard program
 * at that path and has every filesystem held by it before it is frozen;
 * -s loads the parent's seccomp filter (daemon/os/sandbox.h) once the
 * guard runs, before the first request, so that everything is served
 * under it (hooks included, which inherit it).
 * It exits 0 once the engine's end closes (after thawing), 1 on a
 * start-up error.  Not installed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "conf.h"
#include "guard.h"
#include "log.h"
#include "priv.h"
#include "sandbox.h"

static void
usage(void)
{
	fprintf(stderr,
	    "usage: hv_vss_priv [-ds] [-g guard] [-o key=value]... fd\n");
	exit(1);
}

static void
gone_cb(struct priv *p, void *arg)
{
	event_base_loopbreak(arg);
}

static struct priv *served;

/* The guard's reports, for the log (the lease passing above all), and
 * for the engine (priv_guard). */
static void
guard_cb(evutil_socket_t fd, short what, void *arg)
{
	struct guard *g = arg;
	struct guard_event ev;
	int rc;

	while ((rc = guard_read(g, &ev)) == 1) {
		if (served != NULL)
			priv_guard(served, &ev);
		switch (ev.type) {
		case GUARD_EV_THAWED:
			log_warnx("thaw guard: lease passed, thawed %s: %s",
			    ev.path, ev.err == 0 ? "ok" : strerror(ev.err));
			break;
		case GUARD_EV_LEASE:
			log_warnx(
			    "thaw guard: lease passed: %u thawed, %u found thawed, %u failed",
			    ev.nthawed, ev.nnotfrozen, ev.nfailed);
			break;
		case GUARD_EV_DIED:
			log_warnx("thaw guard died (status %d)", ev.status);
			return;
		default:
			break;
		}
	}
}

int
main(int argc, char **argv)
{
	struct event_base *base;
	struct event *gev = NULL;
	struct guard *g = NULL;
	struct priv *p;
	struct conf c;
	const char *guard_path = NULL;
	char err[512], *end;
	int ch, debug = 0, filter = 0;
	long fd;

	conf_defaults(&c);
	while ((ch = getopt(argc, argv, "dg:o:s")) != -1) {
		switch (ch) {
		case 'd':
			debug++;
			break;
		case 'g':
			guard_path = optarg;
			break;
		case 's':
			filter = 1;
			break;
		case 'o':
			if (conf_set(&c, optarg, err, sizeof(err)) == -1) {
				fprintf(stderr, "hv_vss_priv: -o %s\n", err);
				return 1;
			}
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 1)
		usage();
	errno = 0;
	fd = strtol(argv[optind], &end, 10);
	if (errno != 0 || *end != '\0' || fd < 0 || fd > 1024)
		usage();
	log_init(true, debug);
	if (guard_path != NULL) {
		if (guard_image(guard_path, err, sizeof(err)) == -1 ||
		    (g = guard_start(0, err, sizeof(err))) == NULL) {
			fprintf(stderr, "hv_vss_priv: thaw guard: %s\n", err);
			return 1;
		}
		log_info("%s", guard_note(g));
	}
	if (evthread_use_pthreads() != 0 || (base = event_base_new()) == NULL) {
		fprintf(stderr, "hv_vss_priv: no event loop\n");
		return 1;
	}
	if (g != NULL) {
		gev = event_new(
		    base, guard_fd(g), EV_READ | EV_PERSIST, guard_cb, g);
		event_add(gev, NULL);
	}
	if ((p = priv_new(base, &c, g, (int)fd, gone_cb, base, err,
	         sizeof(err))) == NULL) {
		fprintf(stderr, "hv_vss_priv: %s\n", err);
		return 1;
	}
	served = p;
	if (filter) {
		if (sandbox_parent(err, sizeof(err)) == -1) {
			fprintf(stderr, "hv_vss_priv: %s\n", err);
			return 1;
		}
		log_info("under the parent's seccomp filter");
	}
	log_info("serving the engine on fd %ld", fd);
	event_base_dispatch(base);
	log_info("done: %llu requests done, %llu refused",
	    (unsigned long long)priv_ndone(p),
	    (unsigned long long)priv_nrefused(p));
	served = NULL;
	priv_free(p);
	if (gev != NULL)
		event_free(gev);
	if (g != NULL)
		guard_free(g);
	event_base_free(base);
	conf_clear(&c);
	return 0;
}
