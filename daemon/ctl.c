/*
 * ctl.c: the control socket (see common/ctlproto.h).
 *
 * Like the application socket, nothing a client does may stall the
 * daemon: the socket is non-blocking, a request line is bounded, a
 * client that says nothing is dropped after a while.  Credentials come
 * from the socket (os/peercred.h) and are checked for each command, so
 * that a process in ctl_group reads status but cannot freeze.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "ctl.h"
#include "ctlproto.h"
#include "holds.h"
#include "log.h"
#include "os/peercred.h"
#include "os/sockgroup.h"

#define CTL_REQUEST_SECONDS 5 /* to send the request line */
#define CTL_MAX_CONNS 32

struct ctl_conn {
	struct ctl *ctl;
	struct bufferevent *bev;
	struct event *idle_ev;
	uid_t uid;
	pid_t pid;
	bool ro_member; /* in ctl_group when it connected */
	bool got_hello; /* "HVVSS-CTL 2" */
	bool got_request;
	bool waiting; /* a handler will answer */
	bool holding; /* a hold: "release" awaited */
	bool closing; /* flush the output, then close */
};

struct ctl {
	struct event_base *base;
	struct evconnlistener *lis;
	struct event *relisten_ev; /* accepting again after an error */
	struct ctl_handlers h;
	void *arg;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	gid_t ro_gid; /* may read status; -1: none */
	unsigned int nconns;
};

static void
conn_free(struct ctl_conn *c)
{
	if (c->waiting && c->ctl->h.gone != NULL)
		c->ctl->h.gone(c, c->ctl->arg);
	if (c->idle_ev != NULL)
		event_free(c->idle_ev);
	bufferevent_free(c->bev);
	c->ctl->nconns--;
	free(c);
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct ctl_conn *c = arg;

	if (c->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_free(c);
}

/*
 * Add "<prefix><text>\n", text on one line: a newline in it (a reason
 * made of a path, say) would make a second line that is not marked.
 */
static void
add_line(struct ctl_conn *c, const char *prefix, const char *text)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	const char *nl;

	evbuffer_add(out, prefix, strlen(prefix));
	while ((nl = strchr(text, '\n')) != NULL) {
		evbuffer_add(out, text, (size_t)(nl - text));
		evbuffer_add(out, " ", 1);
		text = nl + 1;
	}
	evbuffer_add(out, text, strlen(text));
	evbuffer_add(out, "\n", 1);
}

/*
 * Move payload to the connection, each of its lines marked "| ": then no
 * payload line, whatever it holds, reads as a final line.  A last line
 * without its newline gets one.
 */
static void
add_payload(struct ctl_conn *c, struct evbuffer *payload)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	struct evbuffer_ptr nl;
	size_t len;

	while ((len = evbuffer_get_length(payload)) > 0) {
		nl = evbuffer_search(payload, "\n", 1, NULL);
		evbuffer_add(out, "| ", 2);
		if (nl.pos == -1) {
			evbuffer_remove_buffer(payload, out, len);
			evbuffer_add(out, "\n", 1);
		} else
			evbuffer_remove_buffer(
			    payload, out, (size_t)nl.pos + 1);
	}
}

void
ctl_progress(struct ctl_conn *c, const char *fmt, ...)
{
	char text[CTL_LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	add_line(c, "# ", text);
}

void
ctl_line(struct ctl_conn *c, const char *fmt, ...)
{
	struct evbuffer *b;
	va_list ap;

	if ((b = evbuffer_new()) == NULL) {
		log_warnx("ctl: out of memory for a reply line");
		return;
	}
	va_start(ap, fmt);
	evbuffer_add_vprintf(b, fmt, ap);
	va_end(ap);
	add_payload(c, b);
	evbuffer_free(b);
}

void
ctl_peer(const struct ctl_conn *c, uid_t *uid, pid_t *pid)
{
	*uid = c->uid;
	*pid = c->pid;
}

void
ctl_frozen(struct ctl_conn *c, uint64_t txid)
{
	c->holding = true;
	evbuffer_add_printf(bufferevent_get_output(c->bev), "FROZEN %llu\n",
	    (unsigned long long)txid);
}

void
ctl_done(struct ctl_conn *c, bool ok, const char *reason)
{
	c->waiting = false;
	c->holding = false;
	if (ok)
		add_line(c, "OK", "");
	else
		add_line(c, "ERR ",
		    reason != NULL && reason[0] != '\0' ? reason : "failed");
	c->closing = true;
	bufferevent_disable(c->bev, EV_READ);
	write_cb(c->bev, c);
}

/*
 * May the peer read status?  Root, or a member of ctl_group.  The peer's
 * groups come from the socket (peercred_get() at accept), never from the
 * group database: NSS may go to sssd or LDAP, which may be stuck on a
 * frozen /var, and this runs on the loop, frozen window included.
 */
static bool
may_read(const struct ctl_conn *c)
{
	return c->uid == 0 || c->ro_member;
}

static bool
parse_uint(const char *s, unsigned int max, unsigned int *out)
{
	unsigned long v = 0;
	const char *p;

	if (s == NULL || *s == '\0')
		return false;
	for (p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > max)
			return false;
	}
	*out = (unsigned int)v;
	return true;
}

enum query { Q_STATUS, Q_PLAN, Q_HISTORY };

/*
 * A read-only request, answered at once.  The handler writes its text
 * to a buffer of its own, which is then framed; if it fails, the first
 * line of that text is the reason.
 */
static void
query(struct ctl_conn *c, enum query q, unsigned int n, bool json)
{
	struct ctl *ctl = c->ctl;
	struct evbuffer *b;
	char why[CTL_LINE_MAX], *nl;
	size_t len;
	int rc;

	if ((b = evbuffer_new()) == NULL) {
		ctl_done(c, false, "out of memory");
		return;
	}
	if (q == Q_STATUS)
		rc = ctl->h.status(json, b, ctl->arg);
	else if (q == Q_PLAN)
		rc = ctl->h.plan(json, b, ctl->arg);
	else
		rc = ctl->h.history(n, json, b, ctl->arg);
	if (rc == 0) {
		add_payload(c, b);
		ctl_done(c, true, NULL);
	} else {
		len = evbuffer_copyout(b, why, sizeof(why) - 1);
		why[len == (size_t)-1 ? 0 : len] = '\0';
		if ((nl = strchr(why, '\n')) != NULL)
			*nl = '\0';
		ctl_done(c, false, why);
	}
	evbuffer_free(b);
}

static void
request(struct ctl_conn *c, char *line)
{
	struct ctl *ctl = c->ctl;
	char *argv[4], *save = NULL, *tok;
	unsigned int argc = 0, n, ms;
	bool json = false, ro;

	for (tok = strtok_r(line, " ", &save); tok != NULL && argc < 4;
	     tok = strtok_r(NULL, " ", &save))
		argv[argc++] = tok;
	if (tok != NULL || argc == 0) {
		ctl_done(c, false, "bad request");
		return;
	}
	/* a hold's label may be any word, "json" included */
	if (argc > 1 && strcmp(argv[argc - 1], "json") == 0 &&
	    strcmp(argv[0], "hold-apps") != 0) {
		json = true;
		argc--;
	}
	ro = strcmp(argv[0], "status") == 0 || strcmp(argv[0], "plan") == 0 ||
	    strcmp(argv[0], "history") == 0;
	if (ro ? !may_read(c) : c->uid != 0) {
		log_warnx("ctl: uid %u (pid %d) may not %s", (unsigned)c->uid,
		    (int)c->pid, argv[0]);
		ctl_done(c, false, "permission denied");
		return;
	}
	if (strcmp(argv[0], "status") == 0 && argc == 1)
		query(c, Q_STATUS, 0, json);
	else if (strcmp(argv[0], "plan") == 0 && argc == 1)
		query(c, Q_PLAN, 0, json);
	else if (strcmp(argv[0], "history") == 0 && argc <= 2) {
		n = CTL_HISTORY_MAX;
		if (argc == 2 && !parse_uint(argv[1], 100000, &n)) {
			ctl_done(c, false, "history: not a count");
			return;
		}
		query(c, Q_HISTORY, n, json);
	} else if ((strcmp(argv[0], "freeze") == 0 ||
	               strcmp(argv[0], "hold") == 0) &&
	    argc == 2 && !json) {
		if (!parse_uint(argv[1], 3600 * 1000, &ms) || ms == 0) {
			ctl_done(c, false, "freeze: not a number of ms");
			return;
		}
		log_info("ctl: %s %u ms by uid %u (pid %d)", argv[0], ms,
		    (unsigned)c->uid, (int)c->pid);
		c->waiting = true;
		ctl->h.freeze(c, ms, argv[0][0] == 'h', ctl->arg);
		return;
	} else if (strcmp(argv[0], "hold-apps") == 0 &&
	    (argc == 2 || argc == 3) && !json) {
		if (!parse_uint(argv[1], 3600 * 1000, &ms) || ms == 0) {
			ctl_done(c, false, "hold-apps: not a number of ms");
			return;
		}
		if (argc == 3 && !hold_label_ok(argv[2])) {
			ctl_done(c, false,
			    "hold-apps: the label is 1 to 64 of [A-Za-z0-9._:@/+-]");
			return;
		}
		log_info("ctl: hold-apps %u ms%s%s by uid %u (pid %d)", ms,
		    argc == 3 ? " label " : "", argc == 3 ? argv[2] : "",
		    (unsigned)c->uid, (int)c->pid);
		c->waiting = true;
		ctl->h.hold_apps(c, ms, argc == 3 ? argv[2] : NULL, ctl->arg);
		return;
	} else if (strcmp(argv[0], "release-apps") == 0 && argc == 1 && !json) {
		log_info("ctl: release-apps by uid %u (pid %d)",
		    (unsigned)c->uid, (int)c->pid);
		c->waiting = true;
		ctl->h.release_apps(c, ctl->arg);
		return;
	} else if (strcmp(argv[0], "thaw") == 0 && argc == 1 && !json) {
		log_info("ctl: thaw by uid %u (pid %d)", (unsigned)c->uid,
		    (int)c->pid);
		c->waiting = true;
		ctl->h.thaw(c, ctl->arg);
		return;
	} else
		ctl_done(c, false, "unknown command");
}

/*
 * The first line: the client's hello.  Protocol 1 had none, so anything
 * else is a protocol 1 request, answered with one ERR line, which is
 * what a protocol 1 client shows.  A hello of another version gets our
 * greeting first, so that the client can say which version we speak.
 */
static bool
hello(struct ctl_conn *c, const char *line)
{
	size_t n = strlen(CTL_HELLO);
	char why[160];

	if (strncmp(line, CTL_HELLO " ", n + 1) != 0) {
		log_warnx(
		    "ctl: uid %u (pid %d) speaks control protocol 1 (no hello): refused",
		    (unsigned)c->uid, (int)c->pid);
		snprintf(why, sizeof(why),
		    "hv_vss_daemon speaks control protocol %d, this client protocol 1: use the hv_vss_ctl of the daemon's version",
		    CTL_PROTO_VERSION);
		ctl_done(c, false, why);
		return false;
	}
	evbuffer_add_printf(bufferevent_get_output(c->bev), CTL_HELLO " %d\n",
	    CTL_PROTO_VERSION);
	if (strtol(line + n + 1, NULL, 10) != CTL_PROTO_VERSION ||
	    strspn(line + n + 1, "0123456789") != strlen(line + n + 1)) {
		log_warnx(
		    "ctl: uid %u (pid %d) speaks control protocol \"%.16s\": refused",
		    (unsigned)c->uid, (int)c->pid, line + n + 1);
		snprintf(why, sizeof(why),
		    "hv_vss_daemon speaks control protocol %d, this client protocol %.16s",
		    CTL_PROTO_VERSION, line + n + 1);
		ctl_done(c, false, why);
		return false;
	}
	return true;
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct ctl_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len;
	char *line;

	while ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF)) != NULL) {
		if (!c->got_hello)
			c->got_hello = hello(c, line);
		else if (!c->got_request) {
			c->got_request = true;
			event_del(c->idle_ev);
			request(c, line);
		} else if (c->holding && strcmp(line, "release") == 0) {
			c->holding = false;
			c->ctl->h.release(c, c->ctl->arg);
		}
		free(line);
		if (c->closing)
			return;
	}
	if (evbuffer_get_length(in) >= CTL_LINE_MAX) {
		c->closing = true;
		conn_free(c);
	}
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct ctl_conn *c = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_free(c); /* calls gone(): a hold is released */
}

static void
idle_cb(evutil_socket_t fd, short what, void *arg)
{
	conn_free(arg);
}

static void
accept_cb(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct ctl *ctl = arg;
	struct timeval tv = {CTL_REQUEST_SECONDS, 0};
	struct peercred pc;
	struct ctl_conn *c;

	if (ctl->nconns >= CTL_MAX_CONNS || peercred_get(fd, &pc) != 0 ||
	    (c = calloc(1, sizeof(*c))) == NULL) {
		evutil_closesocket(fd);
		return;
	}
	c->ctl = ctl;
	c->uid = pc.uid;
	c->pid = pc.pid;
	c->ro_member = peercred_in_group(&pc, ctl->ro_gid);
	c->bev = bufferevent_socket_new(ctl->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->idle_ev = evtimer_new(ctl->base, idle_cb, c);
	if (c->bev == NULL || c->idle_ev == NULL) {
		if (c->bev != NULL)
			bufferevent_free(c->bev);
		else
			evutil_closesocket(fd);
		if (c->idle_ev != NULL)
			event_free(c->idle_ev);
		free(c);
		return;
	}
	ctl->nconns++;
	bufferevent_setwatermark(c->bev, EV_READ, 0, 2 * CTL_LINE_MAX);
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	evtimer_add(c->idle_ev, &tv);
}

static void
relisten_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ctl *ctl = arg;

	evconnlistener_enable(ctl->lis);
}

/* EMFILE and friends: pause accepting for a second rather than spin. */
static void
listen_error_cb(struct evconnlistener *lis, void *arg)
{
	struct ctl *ctl = arg;
	struct timeval tv = {1, 0};

	log_warn("control socket accept (pausing 1 s)");
	evconnlistener_disable(lis);
	evtimer_add(ctl->relisten_ev, &tv);
}

struct ctl *
ctl_new(struct event_base *base, const struct conf *conf,
    const struct ctl_handlers *h, void *arg)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct group *gr;
	struct ctl *ctl;
	mode_t mode = 0600;
	int fd, gerr;

	if ((ctl = calloc(1, sizeof(*ctl))) == NULL)
		return NULL;
	ctl->base = base;
	ctl->h = *h;
	ctl->arg = arg;
	ctl->ro_gid = (gid_t)-1;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", conf->ctl_socket);
	snprintf(ctl->path, sizeof(ctl->path), "%s", conf->ctl_socket);
	if (mkdir(conf->run_dir, 0755) == -1 && errno != EEXIST)
		log_warn("mkdir %s", conf->run_dir);
	(void)unlink(sun.sun_path); /* one daemon per device: ours */
	if (conf->ctl_group[0] != '\0') {
		if ((gr = getgrnam(conf->ctl_group)) == NULL)
			log_warnx(
			    "ctl_group %s: no such group", conf->ctl_group);
		else {
			ctl->ro_gid = gr->gr_gid;
			mode = 0660;
		}
	}
	/* born in the group: no CAP_CHOWN (os/sockgroup.h) */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1 || sock_bind_group(fd, &sun, ctl->ro_gid, &gerr) == -1) {
		log_warn("control socket %s", sun.sun_path);
		if (fd != -1)
			close(fd);
		free(ctl);
		return NULL;
	}
	if (gerr != 0)
		log_warnx("%s: ctl_group %s: %s", sun.sun_path, conf->ctl_group,
		    strerror(gerr));
	if (chmod(sun.sun_path, mode) == -1 || listen(fd, 16) == -1) {
		log_warn("control socket %s", sun.sun_path);
		close(fd);
		free(ctl);
		return NULL;
	}
	ctl->lis = evconnlistener_new(base, accept_cb, ctl,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	ctl->relisten_ev = evtimer_new(base, relisten_cb, ctl);
	if (ctl->lis == NULL || ctl->relisten_ev == NULL) {
		if (ctl->lis != NULL)
			evconnlistener_free(ctl->lis);
		else
			close(fd);
		if (ctl->relisten_ev != NULL)
			event_free(ctl->relisten_ev);
		free(ctl);
		return NULL;
	}
	evconnlistener_set_error_cb(ctl->lis, listen_error_cb);
	return ctl;
}

void
ctl_free(struct ctl *ctl)
{
	if (ctl == NULL)
		return;
	evconnlistener_free(ctl->lis);
	event_free(ctl->relisten_ev);
	unlink(ctl->path);
	free(ctl);
}
