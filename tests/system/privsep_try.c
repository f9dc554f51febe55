/*
 * privsep_try.c: the supervisor (daemon/privsep.c) with a test engine,
 * for t_privsep.sh (build/tests/hv_vss_privsep; built with
 * HVVSS_TEST_TRIGGERS, never installed).
 *
 *   hv_vss_privsep [-ds] [-g guard] [-o key=value]... -u user -r root
 *       -l socket
 *
 * The parent binds a Unix stream socket at socket (as the daemon binds
 * its application and control sockets) and starts the engine with it;
 * -g starts the thaw guard, -s loads the parent's filter once the first
 * engine runs, -o sets the configuration as hv_vss_daemon's -o does.
 * SIGTERM or SIGINT ends it (thawing first), exit 0.
 *
 * The engine, confined (user, empty root, no capabilities, its seccomp
 * list), accepts one connection at a time on socket, reads one command
 * line, answers one line, closes:
 *   pid        "pid PID uid UID events N" (events: unasked messages seen)
 *   freeze     CHECK and FREEZE of the next transaction: "frozen N"
 *   thaw       THAW of it: "thawed N"
 *   forbidden  a call outside its list (sandbox_test_forbidden): SIGSYS
 *   exit       exit 3 at once
 *   close      close its end of the parent's socket and live on: "closed"
 * A request that fails answers "error TYPE STATUS REASON".
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "conf.h"
#include "guard.h"
#include "log.h"
#include "privproto.h"
#include "privsep.h"
#include "sandbox.h"

struct engine {
	int lfd;
	int sock;
	uint64_t txid;
	unsigned int nevents;
};

static void
usage(void)
{
	fprintf(stderr,
	    "usage: hv_vss_privsep [-ds] [-g guard] "
	    "[-o key=value]... -u user -r root -l socket\n");
	exit(1);
}

/* One request and its reply (events counted and passed over). */
static int
ask(struct engine *e, enum priv_type type, uint32_t arg, struct priv_rep *rep)
{
	unsigned char buf[sizeof(*rep) + PRIV_PLAN_MAX];
	struct priv_req r;
	ssize_t n;

	priv_req_make(&r, type, type == PRIV_DEVICE ? 0 : e->txid, arg);
	if (send(e->sock, &r, sizeof(r), MSG_NOSIGNAL) != (ssize_t)sizeof(r))
		return -errno;
	for (;;) {
		if ((n = recv(e->sock, buf, sizeof(buf), 0)) <= 0)
			return n == 0 ? -EPIPE : -errno;
		if (priv_msg_kind(buf, (size_t)n) > 0) {
			e->nevents++;
			continue;
		}
		if (priv_rep_check(&r, buf, (size_t)n) != 0)
			return -EPROTO;
		memcpy(rep, buf, sizeof(*rep));
		return rep->status;
	}
}

static void
answer_rep(char *out, size_t len, const char *what, const struct priv_rep *p)
{
	if (p->status == 0)
		snprintf(out, len, "%s %u", what, p->value);
	else
		snprintf(out, len, "error %s %d %s", priv_type_name(p->type),
		    p->status, p->reason);
}

static void
command(struct engine *e, const char *cmd, char *out, size_t len)
{
	struct priv_rep rep;
	int rc;

	memset(&rep, 0, sizeof(rep));
	if (strcmp(cmd, "pid") == 0) {
		snprintf(out, len, "pid %d uid %d events %u", (int)getpid(),
		    (int)getuid(), e->nevents);
	} else if (strcmp(cmd, "freeze") == 0) {
		e->txid++;
		if ((rc = ask(e, PRIV_CHECK, 0, &rep)) != 0) {
			if (rc < 0 && rep.type == 0)
				snprintf(out, len, "error CHECK %d", rc);
			else
				answer_rep(out, len, "planned", &rep);
			return;
		}
		rc = ask(e, PRIV_FREEZE, 0, &rep);
		if (rc < 0 && rep.type == 0)
			snprintf(out, len, "error FREEZE %d", rc);
		else
			answer_rep(out, len, "frozen", &rep);
	} else if (strcmp(cmd, "thaw") == 0) {
		rc = ask(e, PRIV_THAW, 0, &rep);
		if (rc < 0 && rep.type == 0)
			snprintf(out, len, "error THAW %d", rc);
		else
			answer_rep(out, len, "thawed", &rep);
	} else if (strcmp(cmd, "forbidden") == 0) {
		sandbox_test_forbidden();
		snprintf(out, len, "still alive");
	} else if (strcmp(cmd, "exit") == 0) {
		_exit(3);
	} else if (strcmp(cmd, "close") == 0) {
		close(e->sock);
		e->sock = -1;
		snprintf(out, len, "closed");
	} else
		snprintf(out, len, "unknown command");
}

static int
engine(int sock, void *arg)
{
	struct engine e = {*(int *)arg, sock, 0, 0};
	char line[128], out[PRIV_REASON_MAX + 64];
	size_t got;
	ssize_t n;
	int c;

	for (;;) {
		if ((c = accept(e.lfd, NULL, NULL)) == -1) {
			if (errno == EINTR)
				continue;
			return 2;
		}
		got = 0;
		while (got < sizeof(line) - 1 &&
		    (n = read(c, line + got, sizeof(line) - 1 - got)) > 0) {
			got += (size_t)n;
			if (memchr(line, '\n', got) != NULL)
				break;
		}
		line[got] = '\0';
		line[strcspn(line, "\n")] = '\0';
		command(&e, line, out, sizeof(out));
		strcat(out, "\n");
		(void)write(c, out, strlen(out));
		close(c);
	}
}

static struct guard *the_guard;

static void
sig_cb(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

static void
guard_cb(evutil_socket_t fd, short what, void *arg)
{
	struct privsep **ps = arg;
	struct guard_event ev;

	while (guard_read(the_guard, &ev) == 1) {
		log_info("thaw guard: event %d", (int)ev.type);
		if (*ps != NULL)
			privsep_guard(*ps, &ev);
		if (ev.type == GUARD_EV_DIED)
			return;
	}
}

int
main(int argc, char **argv)
{
	struct privsep_conf pc;
	struct event_base *base;
	struct event *gev = NULL, *sterm, *sint;
	struct privsep *ps = NULL;
	struct sockaddr_un sun;
	struct conf c;
	const char *guard_path = NULL, *user = NULL, *root = NULL, *path = NULL;
	char err[512];
	int ch, debug = 0, filter = 0, lfd;

	conf_defaults(&c);
	while ((ch = getopt(argc, argv, "dg:l:o:r:su:")) != -1) {
		switch (ch) {
		case 'd':
			debug++;
			break;
		case 'g':
			guard_path = optarg;
			break;
		case 'l':
			path = optarg;
			break;
		case 'o':
			if (conf_set(&c, optarg, err, sizeof(err)) == -1) {
				fprintf(stderr, "hv_vss_privsep: -o %s\n", err);
				return 1;
			}
			break;
		case 'r':
			root = optarg;
			break;
		case 's':
			filter = 1;
			break;
		case 'u':
			user = optarg;
			break;
		default:
			usage();
		}
	}
	if (argc != optind || user == NULL || root == NULL || path == NULL ||
	    strlen(path) >= sizeof(sun.sun_path))
		usage();
	log_init(true, debug);
	if (guard_path != NULL) {
		if (guard_image(guard_path, err, sizeof(err)) == -1 ||
		    (the_guard = guard_start(0, err, sizeof(err))) == NULL) {
			fprintf(
			    stderr, "hv_vss_privsep: thaw guard: %s\n", err);
			return 1;
		}
		log_info("%s", guard_note(the_guard));
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	(void)unlink(path);
	if ((lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(lfd, 16) == -1) {
		fprintf(
		    stderr, "hv_vss_privsep: %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (evthread_use_pthreads() != 0 || (base = event_base_new()) == NULL) {
		fprintf(stderr, "hv_vss_privsep: no event loop\n");
		return 1;
	}
	if (the_guard != NULL) {
		gev = event_new(base, guard_fd(the_guard), EV_READ | EV_PERSIST,
		    guard_cb, &ps);
		event_add(gev, NULL);
	}
	sterm = evsignal_new(base, SIGTERM, sig_cb, base);
	sint = evsignal_new(base, SIGINT, sig_cb, base);
	event_add(sterm, NULL);
	event_add(sint, NULL);
	memset(&pc, 0, sizeof(pc));
	pc.user = user;
	pc.root = root;
	pc.keep[0] = lfd;
	pc.nkeep = 1;
	pc.engine = engine;
	pc.arg = &lfd;
	if ((ps = privsep_start(base, &c, the_guard, &pc, err, sizeof(err))) ==
	    NULL) {
		fprintf(stderr, "hv_vss_privsep: %s\n", err);
		return 1;
	}
	if (filter) {
		if (sandbox_parent(err, sizeof(err)) == -1) {
			fprintf(stderr, "hv_vss_privsep: %s\n", err);
			privsep_free(ps);
			return 1;
		}
		log_info("under the parent's seccomp filter");
	}
	log_info("serving, engine pid %d", (int)privsep_engine_pid(ps));
	event_base_dispatch(base);
	log_info("stopping after %u restarts", privsep_restarts(ps));
	privsep_free(ps);
	ps = NULL;
	close(lfd);
	(void)unlink(path);
	if (gev != NULL)
		event_free(gev);
	if (the_guard != NULL)
		guard_free(the_guard);
	event_free(sterm);
	event_free(sint);
	event_base_free(base);
	conf_clear(&c);
	return 0;
}
