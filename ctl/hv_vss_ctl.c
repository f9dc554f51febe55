/*
 * hv_vss_ctl: the operator's tool for hv_vss_daemon.  See hv_vss_ctl(8).
 *
 * A client of the control socket, protocol 2 (common/ctlproto.h): one
 * request per connection, after our hello and the daemon's greeting,
 * then the daemon's lines until its final "OK" or "ERR <reason>".  The
 * subcommands come from one table, which also makes usage(), so that the
 * usage and the manual's SYNOPSIS are the same lines.
 *
 * Every line of a reply says what it is by its first byte: "| " payload,
 * streamed to stdout as its bytes arrive (a JSON document may be long);
 * "# " progress; and the few protocol lines, bounded.  So the reply ends
 * at its final line, whatever the payload holds and however long the
 * daemon takes; a time limit only bounds silence, and is an error.
 *
 * snapshot is the one subcommand with state: the daemon holds the freeze
 * for as long as the connection lives ("hold"), and CMD runs meanwhile.
 * Every way out of it (CMD's exit, its overrun, a signal to us) ends by
 * sending "release" or closing the socket, and the daemon thaws on either;
 * if we are killed outright, the close is what thaws.  Signals reach the
 * loop through a self-pipe: the handler writes the signal's number into
 * it and does nothing else, and the loop polls its other end with the
 * daemon's socket (a signalfd would be Linux's alone).
 *
 * hold and release are plain requests: a detached hold ("hold-apps")
 * holds the applications and freeze hooks, not the filesystems, for
 * another backup agent, and outlives us by design (its lease bounds it);
 * the adapters in adapters/ are its callers.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctlproto.h"
#include "util.h"

#define PROG "hv_vss_ctl"
#define CONNECT_SECONDS 5 /* connect, and send the request */
#define GREET_SECONDS 30 /* for the daemon's greeting */
#define REPLY_SECONDS 300 /* then, for each read of the reply */
#define KILL_GRACE_MS 2000 /* SIGTERM to SIGKILL for CMD */
#define REAP_MS 5000 /* then wait this long for it to go */
/*
 * The daemon's own limit on a hold, beyond --timeout: hv_vss_ctl kills an
 * overrunning CMD at --timeout and releases at most KILL_GRACE_MS later;
 * the daemon's limit is for a hv_vss_ctl that can no longer do that.
 */
#define HOLD_SLACK_MS (KILL_GRACE_MS + 3000)
#define TIMEOUT_DEFAULT_MS 60000
#define TIMEOUT_MAX_MS (3600 * 1000 - HOLD_SLACK_MS)
#define CTLBUF_MAX 4096 /* a line other than payload */

#define EXIT_ERR 1 /* the daemon said ERR, or went away */
#define EXIT_USAGE 2
#define EXIT_NOCONN 3 /* no daemon to talk to */
#define EXIT_OVERRUN 124 /* snapshot: CMD overran --timeout */

struct cmd {
	const char *name;
	int (*fn)(int, char **);
	const char *args; /* its SYNOPSIS after the name */
	const char *help;
};

static int cmd_status(int, char **);
static int cmd_plan(int, char **);
static int cmd_history(int, char **);
static int cmd_freeze(int, char **);
static int cmd_thaw(int, char **);
static int cmd_snapshot(int, char **);
static int cmd_hold(int, char **);
static int cmd_release(int, char **);

static const struct cmd cmds[] = {
    {"status", cmd_status, "[--json]",
        "the daemon's state, device, guard and applications"},
    {"plan", cmd_plan, "[--json]",
        "what a backup would freeze now, in which order, and why"},
    {"history", cmd_history, "[-n count] [--json]",
        "the last transactions, their timings and verdicts"},
    {"freeze", cmd_freeze, "[--timeout seconds]",
        "freeze now; thawed by thaw, or after the timeout"},
    {"thaw", cmd_thaw, "", "thaw what freeze froze"},
    {"snapshot", cmd_snapshot, "[--timeout seconds] -- command [arg ...]",
        "freeze, run command, thaw; exit with its status"},
    {"hold", cmd_hold, "[--lease seconds] [--label text]",
        "hold the applications (no filesystem) for another backup agent"},
    {"release", cmd_release, "", "end what hold held"},
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static const char *sockpath = CTL_SOCKET_DEFAULT;
static bool verbose; /* show progress: -v, or stderr is a tty */

/* What conn_next() saw. */
enum reply_ev {
	R_NONE, /* nothing yet */
	R_FINAL, /* "OK" or "ERR <reason>" */
	R_FROZEN, /* "FROZEN <txid>" (a hold only) */
	R_CLOSED, /* closed (or failed) without a final line */
	R_BAD, /* not protocol 2, or not a line of it: why says */
	R_TIMEOUT, /* nothing within the time given */
	R_OTHER /* the other descriptor is readable */
};

struct conn {
	int fd;
	char rbuf[16384];
	size_t roff, rlen;
	bool greeted; /* the daemon said "HVVSS-CTL 2" */
	bool payload; /* within a "| " line: the rest goes to stdout */
	char line[CTLBUF_MAX]; /* any other line */
	size_t llen;
	bool hold; /* "FROZEN <txid>" is a protocol line */
	bool eof;
	int rerrno; /* the read error that ended it */
	bool out_gone; /* stdout is closed: stop writing */
	/* results */
	bool ok;
	char reason[CTLBUF_MAX];
	uint64_t txid;
	char why[CTLBUF_MAX + 128]; /* R_BAD */
};

static void progress(const char *, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *, ...) __attribute__((format(printf, 1, 2)));

/* Our own progress line, shown as the daemon's are. */
static void
progress(const char *fmt, ...)
{
	va_list ap;

	if (!verbose)
		return;
	fputs("# ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* A message on stderr, "hv_vss_ctl: ...". */
static void
say(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
usage_line(FILE *f, const char *lead, const struct cmd *c)
{
	fprintf(f, "%s" PROG " [-v] [-s socket] %s%s%s\n", lead, c->name,
	    c->args[0] != '\0' ? " " : "", c->args);
}

/* The SYNOPSIS: one line per subcommand, then -h. */
static void
usage_all(FILE *f)
{
	size_t i;

	for (i = 0; i < NCMDS; i++)
		usage_line(f, i == 0 ? "usage: " : "       ", &cmds[i]);
	fprintf(f, "       " PROG " -h\n");
}

static int
usage(const struct cmd *c)
{
	if (c != NULL)
		usage_line(stderr, "usage: ", c);
	else
		usage_all(stderr);
	return EXIT_USAGE;
}

static void
help(void)
{
	size_t i;

	usage_all(stdout);
	printf("\ncommands:\n");
	for (i = 0; i < NCMDS; i++)
		printf("  %-9s %s\n", cmds[i].name, cmds[i].help);
	printf("\nThe socket is %s unless -s says otherwise; -v shows "
	       "progress\neven when stderr is not a terminal.  "
	       "See hv_vss_ctl(8).\n",
	    CTL_SOCKET_DEFAULT);
}

static void
out(struct conn *c, const char *buf, size_t len)
{
	if (!c->out_gone && write_all(STDOUT_FILENO, buf, len) != 0)
		c->out_gone = true;
}

/*
 * Connect to the daemon.  A Unix socket's connect blocks only while the
 * listener's backlog is full, and SO_SNDTIMEO bounds that wait (and the
 * request's send).  Exit status on failure: EXIT_NOCONN.
 */
static int
ctl_connect(int *fdp)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct timeval tv = {CONNECT_SECONDS, 0};
	int fd, e;

	if (strlen(sockpath) >= sizeof(sun.sun_path)) {
		say("%s: socket path too long", sockpath);
		return EXIT_NOCONN;
	}
	memcpy(sun.sun_path, sockpath, strlen(sockpath));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		say("socket: %s", strerror(errno));
		return EXIT_NOCONN;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (errno == EINTR)
			continue;
		e = errno;
		close(fd);
		if (e == EACCES || e == EPERM)
			say("cannot connect to %s: %s (only root, or the daemon's ctl_group, may)",
			    sockpath, strerror(e));
		else if (e == EAGAIN)
			say("cannot connect to %s: no answer within %d s (is hv_vss_daemon stuck?)",
			    sockpath, CONNECT_SECONDS);
		else
			say("cannot connect to %s: %s (is hv_vss_daemon running?)",
			    sockpath, strerror(e));
		return EXIT_NOCONN;
	}
	*fdp = fd;
	return 0;
}

static bool
send_line(int fd, const char *line)
{
	size_t len = strlen(line);
	ssize_t n;

	while (len > 0) {
		n = send(fd, line, len, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		line += n;
		len -= (size_t)n;
	}
	return true;
}

static bool
parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno == 0 && *end == '\0';
}

/* The first line: the daemon's greeting, "HVVSS-CTL <version>". */
static enum reply_ev
greeting(struct conn *c)
{
	size_t n = strlen(CTL_HELLO " ");
	const char *v;

	if (strncmp(c->line, CTL_HELLO " ", n) != 0) {
		/* protocol 1 had no greeting: it took our hello for a
		 * request, and said what it thought of it */
		snprintf(c->why, sizeof(c->why),
		    "hv_vss_daemon at %s speaks control protocol 1 (it answered \"%.80s\"), this hv_vss_ctl protocol %d: use the hv_vss_ctl of the daemon's version",
		    sockpath, c->line, CTL_PROTO_VERSION);
		return R_BAD;
	}
	v = c->line + n;
	if (strtol(v, NULL, 10) != CTL_PROTO_VERSION ||
	    strspn(v, "0123456789") != strlen(v)) {
		snprintf(c->why, sizeof(c->why),
		    "hv_vss_daemon at %s speaks control protocol %.16s, this hv_vss_ctl protocol %d: use the hv_vss_ctl of the daemon's version",
		    sockpath, v, CTL_PROTO_VERSION);
		return R_BAD;
	}
	c->greeted = true;
	return R_NONE;
}

/* A complete line other than "| ..." (without its newline) in c->line. */
static enum reply_ev
proto_line(struct conn *c)
{
	const char *l = c->line;

	if (!c->greeted)
		return greeting(c);
	if (strcmp(l, "|") == 0) /* an empty payload line, short */
		out(c, "\n", 1);
	else if (l[0] == '#' && (l[1] == ' ' || l[1] == '\0')) {
		if (verbose)
			fprintf(stderr, "%s\n", l);
	} else if (strcmp(l, "OK") == 0) {
		c->ok = true;
		return R_FINAL;
	} else if (strcmp(l, "ERR") == 0 || strncmp(l, "ERR ", 4) == 0) {
		snprintf(c->reason, sizeof(c->reason), "%s",
		    l[3] == ' ' && l[4] != '\0' ? l + 4 : "failed");
		return R_FINAL;
	} else if (c->hold && strncmp(l, "FROZEN ", 7) == 0 &&
	    parse_u64(l + 7, &c->txid)) {
		c->hold = false; /* one, and only before the end */
		return R_FROZEN;
	} else {
		snprintf(c->why, sizeof(c->why),
		    "hv_vss_daemon sent a line control protocol %d does not have: \"%.80s\"",
		    CTL_PROTO_VERSION, l);
		return R_BAD;
	}
	return R_NONE;
}

/*
 * Consume what has been read, up to the end of a line that makes an
 * event; returns it, or R_NONE.
 */
static enum reply_ev
consume(struct conn *c)
{
	enum reply_ev ev;
	char *p, *nl;
	size_t n;

	while (c->roff < c->rlen) {
		p = c->rbuf + c->roff;
		n = c->rlen - c->roff;
		if (c->payload) {
			if ((nl = memchr(p, '\n', n)) != NULL) {
				n = (size_t)(nl - p) + 1;
				c->payload = false;
			}
			out(c, p, n);
			c->roff += n;
			continue;
		}
		c->roff++;
		if (c->greeted && c->llen == 1 && c->line[0] == '|' &&
		    *p == ' ') {
			c->llen = 0;
			c->payload = true;
		} else if (*p != '\n') {
			if (c->llen == sizeof(c->line) - 1) {
				c->line[c->llen] = '\0';
				snprintf(c->why, sizeof(c->why),
				    "hv_vss_daemon sent a line longer than %d bytes: \"%.40s...\"",
				    CTLBUF_MAX, c->line);
				return R_BAD;
			}
			c->line[c->llen++] = *p;
		} else {
			c->line[c->llen] = '\0';
			c->llen = 0;
			if ((ev = proto_line(c)) != R_NONE)
				return ev;
		}
	}
	return R_NONE;
}

/*
 * The next event on the connection.  timeout_ms bounds the wait for each
 * read (-1: none), and GREET_SECONDS the wait for the greeting; other,
 * if not -1, is watched too.  Time never ends a reply: only its final
 * line does, or the close, which is an error.
 */
static enum reply_ev
conn_next(struct conn *c, int timeout_ms, int other)
{
	struct pollfd pfd[2];
	enum reply_ev ev;
	ssize_t n;
	int r, wait;

	for (;;) {
		if ((ev = consume(c)) != R_NONE)
			return ev;
		if (c->eof)
			return R_CLOSED; /* an unterminated line is lost */
		wait = timeout_ms;
		if (!c->greeted && (wait == -1 || wait > GREET_SECONDS * 1000))
			wait = GREET_SECONDS * 1000;
		pfd[0].fd = c->fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = other;
		pfd[1].events = POLLIN;
		r = poll(pfd, other != -1 ? 2 : 1, wait);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			c->eof = true;
			c->rerrno = errno;
			continue;
		}
		if (r == 0)
			return R_TIMEOUT;
		if (other != -1 && pfd[1].revents != 0)
			return R_OTHER;
		n = read(c->fd, c->rbuf, sizeof(c->rbuf));
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			c->eof = true;
			c->rerrno = n == 0 ? 0 : errno;
			continue;
		}
		c->roff = 0;
		c->rlen = (size_t)n;
	}
}

static void
conn_init(struct conn *c, int fd)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
}

/* What to say when the reply ends without its final line. */
static int
lost(const struct conn *c, enum reply_ev ev)
{
	if (ev == R_BAD)
		say("%s", c->why);
	else if (ev == R_TIMEOUT && !c->greeted)
		say("no answer from hv_vss_daemon within %d s", GREET_SECONDS);
	else if (ev == R_TIMEOUT)
		say("hv_vss_daemon said nothing for %d s, and not its final line",
		    REPLY_SECONDS);
	else if (c->rerrno != 0)
		say("reading from %s: %s", sockpath, strerror(c->rerrno));
	else
		say("hv_vss_daemon closed the connection without an answer");
	return EXIT_ERR;
}

/* Send our hello and the request: one write. */
static bool
send_request(int fd, const char *line)
{
	char req[sizeof(CTL_HELLO) + 16 + CTL_LINE_MAX];

	snprintf(
	    req, sizeof(req), CTL_HELLO " %d\n%s\n", CTL_PROTO_VERSION, line);
	if (send_line(fd, req))
		return true;
	say("sending to %s: %s", sockpath, strerror(errno));
	return false;
}

/*
 * One request, its reply to the end.  Payload to stdout, progress to
 * stderr; returns the exit status.
 */
static int
request(const char *line)
{
	struct conn c;
	enum reply_ev ev;
	int fd, rc;

	if (strlen(line) >= CTL_LINE_MAX) {
		say("request too long");
		return EXIT_USAGE;
	}
	if ((rc = ctl_connect(&fd)) != 0)
		return rc;
	if (!send_request(fd, line)) {
		close(fd);
		return EXIT_ERR;
	}
	conn_init(&c, fd);
	ev = conn_next(&c, REPLY_SECONDS * 1000, -1);
	close(fd);
	if (ev != R_FINAL)
		return lost(&c, ev);
	if (!c.ok) {
		say("%s", c.reason);
		return EXIT_ERR;
	}
	return 0;
}

/* "1.5" seconds -> 1500 ms, within (0, max]. */
static bool
parse_timeout(const char *s, unsigned int max_ms, unsigned int *ms)
{
	char *end;
	double v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || v * 1000 > max_ms)
		return false;
	*ms = (unsigned int)(v * 1000 + 0.5);
	return *ms > 0;
}

static const struct option json_opts[] = {
    {"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};

static const struct option no_opts[] = {{NULL, 0, NULL, 0}};

static const struct option timeout_opts[] = {
    {"timeout", required_argument, NULL, 't'}, {NULL, 0, NULL, 0}};

static const struct cmd *
find_cmd(const char *name)
{
	size_t i;

	for (i = 0; i < NCMDS; i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

/*
 * Before getopt for a subcommand: start afresh (optind 0), and have its
 * messages say "hv_vss_ctl status:" (glibc's getopt names argv[0]).
 */
static void
sub_begin(char **argv)
{
	static char name[64];

	snprintf(name, sizeof(name), PROG " %s", argv[0]);
	argv[0] = name;
	optind = 0;
}

static int
cmd_query(int argc, char **argv, const char *what)
{
	const struct cmd *self = find_cmd(what);
	char req[64];
	bool json = false;
	unsigned int n = 0;
	bool have_n = false;
	uint64_t v;
	int ch;

	sub_begin(argv);
	while ((ch = getopt_long(argc, argv,
	            strcmp(what, "history") == 0 ? "+n:" : "+", json_opts,
	            NULL)) != -1) {
		switch (ch) {
		case 'j':
			json = true;
			break;
		case 'n':
			if (!parse_u64(optarg, &v) || v == 0) {
				say("history: -n %s: not a count", optarg);
				return usage(self);
			}
			/* the daemon keeps CTL_HISTORY_MAX */
			n = v > CTL_HISTORY_MAX ? CTL_HISTORY_MAX
			                        : (unsigned int)v;
			have_n = true;
			break;
		default:
			return usage(self);
		}
	}
	if (optind != argc)
		return usage(self);
	if (have_n)
		snprintf(
		    req, sizeof(req), "%s %u%s", what, n, json ? " json" : "");
	else
		snprintf(req, sizeof(req), "%s%s", what, json ? " json" : "");
	return request(req);
}

static int
cmd_status(int argc, char **argv)
{
	return cmd_query(argc, argv, "status");
}

static int
cmd_plan(int argc, char **argv)
{
	return cmd_query(argc, argv, "plan");
}

static int
cmd_history(int argc, char **argv)
{
	return cmd_query(argc, argv, "history");
}

/* --timeout for freeze and snapshot; -1 on a usage error. */
static int
timeout_args(int argc, char **argv, const struct cmd *self, unsigned int *ms)
{
	int ch;

	*ms = TIMEOUT_DEFAULT_MS;
	sub_begin(argv);
	while ((ch = getopt_long(argc, argv, "+", timeout_opts, NULL)) != -1) {
		if (ch != 't')
			return -1;
		if (!parse_timeout(optarg, TIMEOUT_MAX_MS, ms)) {
			say("%s: --timeout %s: not a number of seconds (0 < seconds <= %u)",
			    self->name, optarg, TIMEOUT_MAX_MS / 1000);
			return -1;
		}
	}
	return 0;
}

static int
cmd_freeze(int argc, char **argv)
{
	const struct cmd *self = find_cmd("freeze");
	unsigned int ms;
	char req[64];

	if (timeout_args(argc, argv, self, &ms) != 0 || optind != argc)
		return usage(self);
	snprintf(req, sizeof(req), "freeze %u", ms);
	return request(req);
}

static int
cmd_thaw(int argc, char **argv)
{
	const struct cmd *self = find_cmd("thaw");

	sub_begin(argv);
	if (getopt_long(argc, argv, "+", no_opts, NULL) != -1 || optind != argc)
		return usage(self);
	return request("thaw");
}

/*
 * hold: a detached hold of the applications and freeze hooks, for a
 * backup agent that freezes the filesystems itself (see the adapters).
 * The daemon answers "HELD <txid> <since> <until>" and keeps the hold
 * after we go; release (or the lease) ends it.
 */
static const struct option hold_opts[] = {
    {"lease", required_argument, NULL, 'l'},
    {"label", required_argument, NULL, 'L'}, {NULL, 0, NULL, 0}};

static int
cmd_hold(int argc, char **argv)
{
	const struct cmd *self = find_cmd("hold");
	unsigned int ms = TIMEOUT_DEFAULT_MS;
	const char *label = NULL;
	char req[CTL_LINE_MAX];
	int ch;

	sub_begin(argv);
	while ((ch = getopt_long(argc, argv, "+", hold_opts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			if (!parse_timeout(optarg, 3600 * 1000, &ms)) {
				say("hold: --lease %s: not a number of seconds (0 < seconds <= 3600)",
				    optarg);
				return usage(self);
			}
			break;
		case 'L':
			label = optarg;
			break;
		default:
			return usage(self);
		}
	}
	if (optind != argc)
		return usage(self);
	/* the daemon checks the label's characters; a space would split
	 * the request, and a long one would not fit */
	if (label != NULL &&
	    (strlen(label) == 0 || strlen(label) > 64 ||
	        strpbrk(label, " \t\n") != NULL)) {
		say("hold: --label %s: 1 to 64 of [A-Za-z0-9._:@/+-]", label);
		return usage(self);
	}
	snprintf(req, sizeof(req), "hold-apps %u%s%s", ms, label ? " " : "",
	    label ? label : "");
	return request(req);
}

static int
cmd_release(int argc, char **argv)
{
	const struct cmd *self = find_cmd("release");

	sub_begin(argv);
	if (getopt_long(argc, argv, "+", no_opts, NULL) != -1 || optind != argc)
		return usage(self);
	return request("release-apps");
}

/* --- snapshot -------------------------------------------------------- */

/* The signals snapshot watches, and the self-pipe they are written to. */
static const int watched[] = {SIGINT, SIGTERM, SIGHUP, SIGCHLD};
#define NWATCHED (sizeof(watched) / sizeof(watched[0]))
static int sigpipe_w = -1;

struct snap {
	struct conn c;
	int sfd; /* the self-pipe's read end: INT, TERM, HUP, CHLD */
	sigset_t oldmask;
	struct sigaction oldpipe;
	struct sigaction oldsa[NWATCHED];
	const char *name; /* CMD's */
	pid_t pid; /* CMD, and its process group */
	bool reaped;
	int status; /* CMD's, as from waitpid */
	bool tty; /* CMD is the terminal's foreground */
	int signo; /* the signal that interrupted us */
};

/* The handler: the number into the pipe, nothing else (full: lost,
 * but a full pipe is read already). */
static void
on_signal(int sig)
{
	unsigned char b = (unsigned char)sig;
	int e = errno;

	(void)!write(sigpipe_w, &b, 1);
	errno = e;
}

/* Read the self-pipe: a signal's number, 0 if none. */
static int
next_signal(struct snap *s)
{
	unsigned char b;

	if (read(s->sfd, &b, 1) != 1)
		return 0;
	return b;
}

/* Its name for a message: sigabbrev_np() is glibc's alone. */
static const char *
sig_name(int sig)
{
	switch (sig) {
	case SIGINT:
		return "INT";
	case SIGTERM:
		return "TERM";
	case SIGHUP:
		return "HUP";
	default:
		return "?";
	}
}

/* The self-pipe and its handlers; the previous dispositions into s. */
static int
watch_signals(struct snap *s)
{
	struct sigaction sa;
	sigset_t set;
	int p[2];
	size_t i;

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) == -1)
		return -1;
	s->sfd = p[0];
	sigpipe_w = p[1];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	/* restarted: a SIGCHLD must not cut a write to stdout short */
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	/* also one ignored or blocked when we started (a background job's
	 * SIGINT): a blocked signalfd saw those too; CMD gets them back as
	 * they were */
	sigemptyset(&set);
	for (i = 0; i < NWATCHED; i++) {
		(void)sigaction(watched[i], &sa, &s->oldsa[i]);
		sigaddset(&set, watched[i]);
	}
	(void)sigprocmask(SIG_UNBLOCK, &set, NULL);
	return 0;
}

static void
unwatch_signals(struct snap *s)
{
	size_t i;

	(void)sigprocmask(SIG_SETMASK, &s->oldmask, NULL);
	for (i = 0; i < NWATCHED; i++)
		(void)sigaction(watched[i], &s->oldsa[i], NULL);
	close(s->sfd);
	close(sigpipe_w);
	s->sfd = sigpipe_w = -1;
}

static void
reap(struct snap *s)
{
	int st;

	if (!s->reaped && s->pid > 0 &&
	    waitpid(s->pid, &st, WNOHANG) == s->pid) {
		s->reaped = true;
		s->status = st;
	}
}

/* Give the terminal back to us, if CMD had it. */
static void
take_tty(struct snap *s)
{
	sigset_t ttou, old;

	if (!s->tty)
		return;
	sigemptyset(&ttou);
	sigaddset(&ttou, SIGTTOU);
	sigprocmask(SIG_BLOCK, &ttou, &old);
	(void)tcsetpgrp(STDIN_FILENO, getpgrp());
	sigprocmask(SIG_SETMASK, &old, NULL);
	s->tty = false;
}

/* Wait up to ms for CMD to end; a signal to us cuts the wait short. */
static void
wait_cmd(struct snap *s, int ms)
{
	int64_t end = (int64_t)mono_ms() + ms, left;
	struct pollfd pfd = {s->sfd, POLLIN, 0};
	int sig;

	for (reap(s); !s->reaped; reap(s)) {
		if ((left = end - (int64_t)mono_ms()) <= 0)
			break;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		sig = next_signal(s);
		if (sig != 0 && sig != SIGCHLD)
			return; /* asked again: stop waiting */
	}
}

/* End CMD's process group: SIGTERM, then SIGKILL after KILL_GRACE_MS. */
static void
kill_cmd(struct snap *s)
{
	reap(s);
	if (s->reaped)
		return;
	(void)kill(-s->pid, SIGTERM);
	(void)kill(-s->pid, SIGCONT); /* if stopped, so it sees TERM */
	wait_cmd(s, KILL_GRACE_MS);
	if (!s->reaped) {
		progress("%s did not end on SIGTERM: SIGKILL", s->name);
		(void)kill(-s->pid, SIGKILL);
	}
}

static void
join_words(char *buf, size_t len, char **words)
{
	size_t off = 0;
	int i, n;

	buf[0] = '\0';
	for (i = 0; words[i] != NULL && off < len; i++) {
		n = snprintf(
		    buf + off, len - off, "%s%s", i ? " " : "", words[i]);
		if (n < 0)
			break;
		off += (size_t)n;
	}
	if (off >= len && len > 4)
		memcpy(buf + len - 4, "...", 4);
}

static pid_t
spawn(struct snap *s, char **argv)
{
	sigset_t block, old;
	size_t i;
	pid_t pid;

	s->tty = isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == getpgrp();
	/* SIGTTOU blocked over the fork: both sides hand CMD the terminal;
	 * and the watched ones, so that our handler never runs in CMD */
	sigemptyset(&block);
	sigaddset(&block, SIGTTOU);
	for (i = 0; i < NWATCHED; i++)
		sigaddset(&block, watched[i]);
	sigprocmask(SIG_BLOCK, &block, &old);
	pid = fork();
	if (pid == 0) {
		(void)setpgid(0, 0);
		if (s->tty)
			(void)tcsetpgrp(STDIN_FILENO, getpid());
		sigaction(SIGPIPE, &s->oldpipe, NULL);
		for (i = 0; i < NWATCHED; i++)
			sigaction(watched[i], &s->oldsa[i], NULL);
		close(s->sfd);
		close(sigpipe_w);
		sigprocmask(SIG_SETMASK, &s->oldmask, NULL);
		execvp(argv[0], argv);
		fprintf(stderr, PROG ": %s: %s\n", argv[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	if (pid > 0) {
		/* either side's setpgid may come first: both do it */
		(void)setpgid(pid, pid);
		if (s->tty)
			(void)tcsetpgrp(STDIN_FILENO, pid);
	} else
		s->tty = false;
	sigprocmask(SIG_SETMASK, &old, NULL);
	return pid;
}

/* "60 s", "2.5 s" */
static const char *
seconds(unsigned int ms)
{
	static char buf[32];

	if (ms % 1000 == 0)
		snprintf(buf, sizeof(buf), "%u s", ms / 1000);
	else
		snprintf(buf, sizeof(buf), "%u.%03u s", ms / 1000, ms % 1000);
	return buf;
}

static int
cmd_status_of(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return EXIT_ERR;
}

/*
 * Release the hold and wait for the daemon's final line.  Returns
 * whether it confirmed the thaw.
 */
static bool
release(struct snap *s)
{
	int64_t t0 = (int64_t)mono_ms();
	enum reply_ev ev;

	(void)send_line(s->c.fd, "release\n");
	for (;;) {
		ev = conn_next(&s->c, REPLY_SECONDS * 1000, s->sfd);
		if (ev == R_OTHER) {
			(void)next_signal(s); /* releasing already */
			reap(s);
			continue;
		}
		if (ev == R_FROZEN)
			continue;
		break;
	}
	if (ev != R_FINAL) {
		lost(&s->c, ev);
		say("the thaw was not confirmed (the daemon thaws when the connection closes)");
		return false;
	}
	if (!s->c.ok) {
		say("%s", s->c.reason);
		return false;
	}
	progress("thawed in %" PRId64 " ms", (int64_t)mono_ms() - t0);
	return true;
}

static int
snapshot_run(struct snap *s, char **argv, unsigned int ms)
{
	enum reply_ev ev;
	char req[64], words[200];
	int64_t t0, deadline, left;
	int sig, rc;
	bool overrun = false;

	if ((rc = ctl_connect(&s->c.fd)) != 0)
		return rc;
	conn_init(&s->c, s->c.fd);
	s->c.hold = true;
	snprintf(req, sizeof(req), "hold %u", ms + HOLD_SLACK_MS);
	t0 = (int64_t)mono_ms();
	if (!send_request(s->c.fd, req))
		return EXIT_ERR;
	progress("freezing (timeout %s)", seconds(ms));
	for (;;) {
		ev = conn_next(&s->c, REPLY_SECONDS * 1000, s->sfd);
		if (ev != R_OTHER)
			break;
		sig = next_signal(s);
		if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
			/* the close calls the freeze off, or thaws */
			say("interrupted by SIG%s while freezing",
			    sig_name(sig));
			return 128 + sig;
		}
	}
	if (ev == R_FINAL) {
		say("%s",
		    s->c.ok ? "the daemon ended the hold before freezing"
		            : s->c.reason);
		return EXIT_ERR;
	}
	if (ev != R_FROZEN)
		return lost(&s->c, ev);
	progress("frozen (txn %" PRIu64 ") in %" PRId64 " ms", s->c.txid,
	    (int64_t)mono_ms() - t0);
	s->name = argv[0];
	join_words(words, sizeof(words), argv);
	progress("running %s", words);

	if ((s->pid = spawn(s, argv)) == -1) {
		say("fork: %s", strerror(errno));
		release(s);
		return EXIT_ERR;
	}
	deadline = (int64_t)mono_ms() + ms;
	for (;;) {
		reap(s);
		if (s->reaped)
			break;
		if ((left = deadline - (int64_t)mono_ms()) <= 0) {
			overrun = true;
			break;
		}
		ev = conn_next(&s->c, (int)left, s->sfd);
		if (ev == R_TIMEOUT) {
			overrun = true;
			break;
		}
		if (ev == R_FINAL || ev == R_CLOSED || ev == R_BAD) {
			/* the daemon ended the hold, or we end it by the
			 * close: CMD runs thawed */
			take_tty(s);
			if (ev == R_FINAL)
				say("the daemon thawed before %s ended%s%s",
				    argv[0], s->c.ok ? "" : ": ",
				    s->c.ok ? "" : s->c.reason);
			else if (ev == R_BAD)
				say("%s; closing the connection (the daemon thaws then)",
				    s->c.why);
			else
				say("the connection to hv_vss_daemon was lost while frozen (the daemon thaws then)");
			kill_cmd(s);
			wait_cmd(s, REAP_MS);
			return EXIT_ERR;
		}
		if (ev != R_OTHER)
			continue;
		sig = next_signal(s);
		if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
			s->signo = sig;
			break;
		}
	}
	take_tty(s);
	if (s->signo != 0) {
		say("interrupted by SIG%s: thawing, then ending %s",
		    sig_name(s->signo), argv[0]);
		release(s);
		kill_cmd(s);
		wait_cmd(s, REAP_MS);
		return 128 + s->signo;
	}
	if (overrun) {
		say("%s overran the timeout (%s): ending it, then thawing",
		    argv[0], seconds(ms));
		kill_cmd(s);
		release(s);
		wait_cmd(s, REAP_MS);
		return EXIT_OVERRUN;
	}
	rc = cmd_status_of(s->status);
	if (rc != 0)
		progress("%s exited with status %d", argv[0], rc);
	if (!release(s) && rc == 0)
		rc = EXIT_ERR;
	return rc;
}

static int
cmd_snapshot(int argc, char **argv)
{
	const struct cmd *self = find_cmd("snapshot");
	struct sigaction ign = {.sa_handler = SIG_IGN};
	struct snap s;
	unsigned int ms;
	int rc;

	if (timeout_args(argc, argv, self, &ms) != 0 || optind == argc)
		return usage(self);
	memset(&s, 0, sizeof(s));
	s.c.fd = -1;
	sigprocmask(SIG_SETMASK, NULL, &s.oldmask);
	sigaction(SIGPIPE, &ign, &s.oldpipe);
	if (watch_signals(&s) == -1) {
		say("pipe: %s", strerror(errno));
		return EXIT_ERR;
	}
	rc = snapshot_run(&s, argv + optind, ms);
	take_tty(&s);
	if (s.c.fd != -1)
		close(s.c.fd);
	unwatch_signals(&s);
	return rc;
}

int
main(int argc, char *argv[])
{
	const struct cmd *c;
	int ch;

	while ((ch = getopt(argc, argv, "+hs:v")) != -1) {
		switch (ch) {
		case 'h':
			help();
			return 0;
		case 's':
			sockpath = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		default:
			return usage(NULL);
		}
	}
	if (optind == argc)
		return usage(NULL);
	if ((c = find_cmd(argv[optind])) == NULL) {
		say("%s: unknown command", argv[optind]);
		return usage(NULL);
	}
	if (isatty(STDERR_FILENO))
		verbose = true;
	return c->fn(argc - optind, argv + optind);
}
