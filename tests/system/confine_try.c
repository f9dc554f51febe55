/*
 * confine_try.c: a process confined by daemon/os/sandbox_linux.c, for
 * t_confine.sh (build/tests/hv_vss_confine; built with
 * HVVSS_TEST_TRIGGERS, never installed).
 *
 *   hv_vss_confine -e user root    confined as the engine
 *   hv_vss_confine -p              under the parent's filter
 *   hv_vss_confine -l              print both lists and exit
 *
 * Once confined it prints "ready" and answers commands read from stdin,
 * one a line, so that the test can look at /proc/PID/status meanwhile
 * and then make it try things:
 *   ping       "pong" (read and write are allowed to both)
 *   loop       what the engine's event loop does, through libevent: a
 *              new event base, a Unix socketpair, a line written to one
 *              end read from the other by a bufferevent (FIONREAD), the
 *              peer's credentials (SO_PEERCRED), a timer: "looped N"
 *   spawn      (parent) posix_spawn /bin/sh -c 'exit 7', as a hook:
 *              "spawned 7"
 *   open       open /etc/hostname: "opened" or "open: why"
 *   inet       socket(AF_INET): "inet: fd" or "inet: why"
 *   forbidden  a call outside both lists (sandbox_test_forbidden())
 *   exit       exit 0
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandbox.h"

extern char **environ;

static void
usage(void)
{
	fprintf(stderr, "usage: hv_vss_confine -e user root | -p | -l\n");
	exit(2);
}

struct loop {
	struct event_base *base;
	int got; /* lines read, timer fired */
};

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct loop *l = arg;
	char *s;

	if ((s = evbuffer_readln(
	         bufferevent_get_input(bev), NULL, EVBUFFER_EOL_LF)) != NULL) {
		l->got++;
		free(s);
	}
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct loop *l = arg;

	l->got++;
	event_base_loopexit(l->base, NULL);
}

/* The engine's kind of work, under its filter; lines read + timers. */
static int
loop(void)
{
	struct timeval tv = {0, 20000};
	struct bufferevent *bev;
	struct ucred uc;
	socklen_t len = sizeof(uc);
	struct loop l = {NULL, 0};
	struct event *ev;
	int sv[2];

	if ((l.base = event_base_new()) == NULL ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return -1;
	if (getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &uc, &len) == -1 ||
	    uc.pid != getpid())
		return -1;
	evutil_make_socket_nonblocking(sv[0]);
	bev = bufferevent_socket_new(l.base, sv[0], BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(bev, read_cb, NULL, NULL, &l);
	bufferevent_enable(bev, EV_READ);
	if (write(sv[1], "a line\n", 7) != 7)
		return -1;
	ev = evtimer_new(l.base, timer_cb, &l);
	evtimer_add(ev, &tv);
	event_base_dispatch(l.base);
	event_free(ev);
	bufferevent_free(bev);
	close(sv[1]);
	event_base_free(l.base);
	return l.got;
}

static void
list(const char *what, const char *const *calls)
{
	size_t n;

	for (n = 0; calls[n] != NULL; n++)
		;
	printf("%s (%zu):", what, n);
	for (n = 0; calls[n] != NULL; n++)
		printf(" %s", calls[n]);
	printf("\n");
}

int
main(int argc, char **argv)
{
	char line[64], err[512];
	char *const sh[] = {"sh", "-c", "exit 7", NULL};
	pid_t pid;
	int fd, status;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && strcmp(argv[1], "-l") == 0) {
		list("engine", sandbox_engine_calls());
		list("parent", sandbox_parent_calls());
		return 0;
	}
	if (argc == 4 && strcmp(argv[1], "-e") == 0) {
		if (sandbox_engine(argv[2], argv[3], err, sizeof(err)) == -1) {
			fprintf(stderr, "hv_vss_confine: %s\n", err);
			return 1;
		}
	} else if (argc == 2 && strcmp(argv[1], "-p") == 0) {
		if (sandbox_parent(err, sizeof(err)) == -1) {
			fprintf(stderr, "hv_vss_confine: %s\n", err);
			return 1;
		}
	} else
		usage();
	printf("ready\n");
	while (fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strcmp(line, "ping") == 0)
			printf("pong\n");
		else if (strcmp(line, "loop") == 0)
			printf("looped %d\n", loop());
		else if (strcmp(line, "spawn") == 0) {
			if ((errno = posix_spawn(&pid, "/bin/sh", NULL, NULL,
			         sh, environ)) != 0 ||
			    waitpid(pid, &status, 0) == -1)
				printf("spawn: %s\n", strerror(errno));
			else
				printf("spawned %d\n",
				    WIFEXITED(status) ? WEXITSTATUS(status)
				                      : -1);
		} else if (strcmp(line, "open") == 0) {
			if ((fd = open("/etc/hostname", O_RDONLY)) == -1)
				printf("open: %s\n", strerror(errno));
			else {
				printf("opened\n");
				close(fd);
			}
		} else if (strcmp(line, "inet") == 0) {
			if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
				printf("inet: %s\n", strerror(errno));
			else {
				printf("inet: %d\n", fd);
				close(fd);
			}
		} else if (strcmp(line, "forbidden") == 0) {
			sandbox_test_forbidden();
			printf("forbidden: still alive\n");
		} else if (strcmp(line, "exit") == 0)
			return 0;
		else
			printf("?\n");
	}
	return 0;
}
