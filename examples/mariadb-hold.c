/*
 * mariadb-hold.c: keeps a MariaDB (or MySQL) server consistent on disk
 * while hv_vss_daemon(8) freezes the filesystems under it, so that a
 * Hyper-V snapshot of the VM holds a database that starts without repair
 * and with every row it had acknowledged.  A long-lived client of
 * libhvvss and libmariadb; it says what it does on standard output.
 *
 *	mariadb-hold [-d app-socket] [-n name] [-t tier] [-S mysql-socket]
 *	    [-u user]
 *
 * The password, if the account needs one, comes from MYSQL_PWD (not the
 * command line, where ps(1) shows it); root on Debian logs in through
 * the unix socket without one.  The default tier is 9: the database is
 * a back-end, so it freezes after (and thaws before) the applications
 * in lower tiers that may still write into it while they flush.
 *
 * On FREEZE it runs FLUSH TABLES WITH READ LOCK (FTWRL), and answers
 * FROZEN once it has the lock.  Why FTWRL and not LOCK TABLES ... READ
 * per table: FTWRL is the one statement that covers the whole server,
 * tables created in the meantime and the system tables included; it
 * waits for running writes to end, closes every table (MyISAM and Aria
 * write their buffered index blocks and mark their files closed, so that
 * the copy needs no repair), and blocks every write and commit until it
 * is released.  InnoDB goes on writing in the background; its redo log
 * already holds every committed row, and a snapshot taken with the
 * filesystem frozen is what its crash recovery is made for.
 *
 * Why the session is kept: the global read lock belongs to the
 * connection that took it and ends with it.  So the program keeps that
 * session, idle, from FROZEN until THAW or ABORT, then says UNLOCK
 * TABLES.  If the program dies, the server releases the lock when the
 * connection closes; if the daemon dies, libhvvss calls the thaw
 * callback (aborted) and the lock is released at once.
 *
 * Why a deadline: while FTWRL waits (for a long statement, or a table in
 * use by a long query), every writer on the server already waits behind
 * it.  A lock that cannot be had within the daemon's budget must become
 * a VETO that says why, soon, not an overrun that leaves the database
 * stalled and the lock taken behind the daemon's back.  The server is
 * told lock_wait_timeout (whole seconds, at least 1; FTWRL waits up to
 * that in each of its three steps, hence a third of the budget), and
 * the client gives up at the budget itself: libmariadb's read timeout
 * is fixed at connect and counts whole seconds, so every statement runs
 * through the non-blocking API here, under poll(2) with a deadline in
 * milliseconds.  A session that failed or timed out is closed, which
 * also drops whatever it might still get; the next request opens a new
 * one.
 *
 * Neither the daemon nor the server is required to be up: the program
 * reconnects to each with a backoff, and vetoes (with the reason) a
 * CHECK or FREEZE it cannot serve.  It writes nothing but its standard
 * output, which belongs on a tmpfs or in the journal, not on a
 * filesystem it helps to freeze.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mysql.h>

#include <hvvss.h>

#define DB_SOCKET_DEFAULT "/run/mysqld/mysqld.sock"
#define RETRY_MIN_MS 100 /* reconnect backoff, daemon and server */
#define RETRY_MAX_MS 2000
#define CONNECT_MS 500 /* a background reconnect (it blocks the loop) */
#define CHECK_MS 2000 /* CHECK carries no budget: ours */
#define UNLOCK_MS 5000 /* UNLOCK TABLES, at THAW or ABORT */
#define MARGIN_MAX_MS 200 /* the budget kept for answering the daemon */

struct hold {
	const char *db_sock;
	const char *user;
	const char *password; /* MYSQL_PWD, or NULL */
	MYSQL *db; /* the session, NULL while disconnected */
	int64_t db_retry_at; /* when db == NULL: next attempt */
	unsigned int db_backoff;
	int db_down_said; /* the outage was reported */
	int locked; /* db holds the global read lock */
	uint64_t locked_txid;
	int64_t locked_at;
};

static volatile sig_atomic_t stop;

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
on_signal(int sig)
{
	stop = 1;
}

static unsigned int
backoff(unsigned int *ms)
{
	unsigned int cur = *ms < RETRY_MIN_MS ? RETRY_MIN_MS : *ms;

	*ms = cur * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : cur * 2;
	return cur;
}

/*
 * Wait, until deadline, for what a non-blocking libmariadb call asked
 * for (status: MYSQL_WAIT_*), and return what happened, for its _cont
 * call; -1 once the deadline has passed.
 */
static int
db_wait(MYSQL *db, int status, int64_t deadline)
{
	struct pollfd pfd = {.fd = mysql_get_socket(db)};
	int64_t left;
	int n, ms, got = 0;

	if (status & MYSQL_WAIT_READ)
		pfd.events |= POLLIN;
	if (status & MYSQL_WAIT_WRITE)
		pfd.events |= POLLOUT;
	if (status & MYSQL_WAIT_EXCEPT)
		pfd.events |= POLLPRI;
	do {
		if ((left = deadline - now_ms()) <= 0)
			return -1;
		ms = left > INT_MAX ? INT_MAX : (int)left;
		if ((status & MYSQL_WAIT_TIMEOUT) &&
		    mysql_get_timeout_value_ms(db) < (unsigned int)ms)
			ms = (int)mysql_get_timeout_value_ms(db);
		n = poll(&pfd, 1, ms);
	} while (n == -1 && errno == EINTR);
	if (n == 0 && (status & MYSQL_WAIT_TIMEOUT))
		return MYSQL_WAIT_TIMEOUT; /* libmariadb's own timer */
	if (n <= 0)
		return -1;
	/* an error or hang-up: let libmariadb's next read find it */
	if (pfd.revents & (POLLIN | POLLERR | POLLHUP))
		got |= status & MYSQL_WAIT_READ;
	if (pfd.revents & (POLLOUT | POLLERR | POLLHUP))
		got |= status & MYSQL_WAIT_WRITE;
	if (pfd.revents & POLLPRI)
		got |= MYSQL_WAIT_EXCEPT;
	return got;
}

/*
 * Run one statement that returns no rows, by deadline: 0, -1 with the
 * server's or the client's error in mysql_error(db), or -2: no answer
 * in time (the session is then unusable).
 */
static int
db_query(MYSQL *db, const char *sql, int64_t deadline)
{
	int err = 0, status;

	status = mysql_real_query_start(&err, db, sql, strlen(sql));
	while (status != 0) {
		if ((status = db_wait(db, status, deadline)) < 0)
			return -2;
		status = mysql_real_query_cont(&err, db, status);
	}
	return err == 0 ? 0 : -1;
}

/* Close the session (which releases any lock it holds on the server). */
static void
db_drop(struct hold *h, const char *why)
{
	printf("MariaDB session closed (%s): reconnecting\n", why);
	mysql_close(h->db);
	h->db = NULL;
	h->locked = 0;
	h->db_backoff = 0;
	h->db_retry_at = now_ms() + backoff(&h->db_backoff);
}

/* Open a session by deadline; else -1 with why. */
static int
db_connect(struct hold *h, int64_t deadline, char *why, size_t len)
{
	MYSQL *db, *ret = NULL;
	int status;

	if ((db = mysql_init(NULL)) == NULL) {
		snprintf(why, len, "out of memory");
		return -1;
	}
	if (mysql_options(db, MYSQL_OPT_NONBLOCK, 0) != 0) {
		snprintf(why, len, "libmariadb without its non-blocking API");
		mysql_close(db);
		return -1;
	}
	status = mysql_real_connect_start(
	    &ret, db, NULL, h->user, h->password, NULL, 0, h->db_sock, 0);
	while (status != 0) {
		if ((status = db_wait(db, status, deadline)) < 0)
			break;
		status = mysql_real_connect_cont(&ret, db, status);
	}
	if (ret == NULL) {
		snprintf(why, len, "%s",
		    status < 0 ? "no answer in time" : mysql_error(db));
		mysql_close(db);
		return -1;
	}
	h->db = db;
	h->db_backoff = 0;
	h->db_down_said = 0;
	printf("MariaDB %s at %s: connected\n", mysql_get_server_info(db),
	    h->db_sock);
	return 0;
}

/*
 * A session that answers, by deadline: the one we have if a round trip
 * succeeds (the server may have restarted since), else a new one.
 */
static int
db_ready(struct hold *h, int64_t deadline, char *why, size_t len)
{
	char err[MYSQL_ERRMSG_SIZE];
	int rc;

	if (h->db != NULL) {
		if ((rc = db_query(h->db, "DO 1", deadline)) == 0)
			return 0;
		snprintf(err, sizeof(err), "%s",
		    rc == -2 ? "no answer in time" : mysql_error(h->db));
		db_drop(h, err);
	}
	return db_connect(h, deadline, why, len);
}

static int
on_check(uint64_t txid, char *reason, size_t len, void *arg)
{
	struct hold *h = arg;
	char why[MYSQL_ERRMSG_SIZE];

	if (db_ready(h, now_ms() + CHECK_MS, why, sizeof(why)) < 0) {
		snprintf(reason, len, "MariaDB at %s: %s", h->db_sock, why);
		printf("check %" PRIu64 ": VETO %s\n", txid, reason);
		return -1;
	}
	printf("check %" PRIu64 ": ready\n", txid);
	return 0;
}

static int
on_freeze(
    uint64_t txid, unsigned int budget_ms, char *reason, size_t len, void *arg)
{
	struct hold *h = arg;
	char why[MYSQL_ERRMSG_SIZE], sql[64];
	unsigned int margin = budget_ms / 10;
	int64_t start = now_ms(), deadline, lwt;
	const char *step;
	int rc;

	if (margin > MARGIN_MAX_MS)
		margin = MARGIN_MAX_MS;
	deadline = start + budget_ms - margin;
	if (db_ready(h, deadline, why, sizeof(why)) < 0) {
		snprintf(reason, len, "MariaDB at %s: %s", h->db_sock, why);
		goto veto;
	}
	/* FTWRL waits up to lock_wait_timeout in each of its 3 steps */
	lwt = (deadline - now_ms()) / 3000;
	if (lwt < 1)
		lwt = 1;
	snprintf(
	    sql, sizeof(sql), "SET SESSION lock_wait_timeout = %" PRId64, lwt);
	step = "SET lock_wait_timeout";
	if ((rc = db_query(h->db, sql, deadline)) == 0) {
		step = "FLUSH TABLES WITH READ LOCK";
		rc = db_query(h->db, step, deadline);
	}
	if (rc != 0) {
		if (rc == -2)
			snprintf(reason, len, "%s: no answer within %u ms",
			    step, budget_ms);
		else
			snprintf(
			    reason, len, "%s: %s", step, mysql_error(h->db));
		/* whatever the server still does for it ends with it */
		db_drop(h, reason);
		goto veto;
	}
	h->locked = 1;
	h->locked_txid = txid;
	h->locked_at = now_ms();
	printf("freeze %" PRIu64 ": FLUSH TABLES WITH READ LOCK in %" PRId64
	       " ms (budget %u ms, lock_wait_timeout %" PRId64 " s): holding\n",
	    txid, h->locked_at - start, budget_ms, lwt);
	return 0;
veto:
	printf("freeze %" PRIu64 ": VETO %s\n", txid, reason);
	return -1;
}

/* Release the lock, if held: THAW, ABORT, a lost daemon, or exit. */
static void
release(struct hold *h, const char *what, uint64_t txid)
{
	int64_t held;
	int rc;

	if (!h->locked) {
		printf("%s %" PRIu64 ": no lock held\n", what, txid);
		return;
	}
	held = now_ms() - h->locked_at;
	if ((rc = db_query(h->db, "UNLOCK TABLES", now_ms() + UNLOCK_MS)) != 0)
		db_drop(h,
		    rc == -2 ? "UNLOCK TABLES: no answer in time"
		             : mysql_error(h->db));
	h->locked = 0;
	printf("%s %" PRIu64 ": lock released after %" PRId64 " ms%s\n", what,
	    txid, held, rc == 0 ? "" : ", by closing the session");
}

static void
on_thaw(uint64_t txid, bool aborted, void *arg)
{
	release(arg, aborted ? "abort" : "thaw", txid);
}

/* The background reconnect, when the backoff says so. */
static void
db_retry(struct hold *h)
{
	char why[MYSQL_ERRMSG_SIZE];

	if (h->db != NULL || now_ms() < h->db_retry_at)
		return;
	if (db_connect(h, now_ms() + CONNECT_MS, why, sizeof(why)) == 0)
		return;
	if (!h->db_down_said) {
		printf("MariaDB at %s unreachable (%s): retrying\n", h->db_sock,
		    why);
		h->db_down_said = 1;
	}
	h->db_retry_at = now_ms() + backoff(&h->db_backoff);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: mariadb-hold [-d app-socket] [-n name] "
	    "[-t tier] [-S mysql-socket] [-u user]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	const struct hvvss_callbacks cb = {on_check, on_freeze, on_thaw};
	struct hold hold = {.db_sock = DB_SOCKET_DEFAULT, .user = "root"};
	const char *app_sock = NULL, *name = "mariadb";
	struct sigaction sa = {.sa_handler = on_signal};
	sigset_t block, orig;
	struct hvvss *hv = NULL;
	struct pollfd pfd = {.fd = -1, .events = POLLIN};
	int64_t hv_retry_at = 0, next, t;
	unsigned int hv_backoff = 0;
	int tier = HVVSS_TIER_MAX, hv_down_said = 0, c, rc;
	struct timespec ts;
	char *end;

	while ((c = getopt(argc, argv, "d:n:S:t:u:")) != -1) {
		switch (c) {
		case 'd':
			app_sock = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'S':
			hold.db_sock = optarg;
			break;
		case 't':
			tier = (int)strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || tier < 0 ||
			    tier > HVVSS_TIER_MAX)
				usage();
			break;
		case 'u':
			hold.user = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	hold.password = getenv("MYSQL_PWD");
	setvbuf(stdout, NULL, _IOLBF, 0);

	/*
	 * SIGTERM and SIGINT are taken only in ppoll below, so that one
	 * that comes while a request is served ends the program after it,
	 * and never between the check of stop and the wait.
	 */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &orig);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN); /* a server gone mid-write: an error */

	while (!stop) {
		if (hv == NULL && now_ms() >= hv_retry_at) {
			rc = hvvss_open(app_sock, name, tier, 0, &hv);
			if (rc == 0) {
				hvvss_set_callbacks(hv, &cb, &hold);
				pfd.fd = hvvss_fd(hv);
				hv_backoff = 0;
				hv_down_said = 0;
				printf("registered with hv_vss_daemon as app "
				       "%" PRIu64 " (%s, tier %d)\n",
				    hvvss_app_id(hv), name, tier);
			} else {
				if (!hv_down_said)
					printf(
					    "hv_vss_daemon unreachable (%s): "
					    "retrying\n",
					    strerror(-rc));
				hv_down_said = 1;
				hv_retry_at = now_ms() + backoff(&hv_backoff);
			}
		}
		db_retry(&hold);

		/* sleep until a request, or the next reconnect attempt */
		next = -1;
		if (hv == NULL)
			next = hv_retry_at;
		if (hold.db == NULL && (next < 0 || hold.db_retry_at < next))
			next = hold.db_retry_at;
		t = next < 0 ? -1 : next - now_ms();
		if (t < 0 && next >= 0)
			t = 0;
		ts.tv_sec = t / 1000;
		ts.tv_nsec = (long)(t % 1000) * 1000000;
		rc = ppoll(&pfd, hv != NULL ? 1 : 0, t < 0 ? NULL : &ts, &orig);
		if (rc <= 0 || hv == NULL)
			continue;
		/* a lost daemon: libhvvss has called on_thaw if we held */
		if ((rc = hvvss_dispatch(hv)) < 0) {
			printf("hv_vss_daemon gone (%s): reconnecting\n",
			    strerror(-rc));
			hvvss_close(hv);
			hv = NULL;
			pfd.fd = -1;
			hv_retry_at = now_ms() + backoff(&hv_backoff);
		}
	}
	if (hold.locked)
		release(&hold, "exit", hold.locked_txid);
	hvvss_close(hv);
	if (hold.db != NULL)
		mysql_close(hold.db);
	printf("stopped\n");
	return 0;
}
