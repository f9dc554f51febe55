/*
 * hv_vss_group: the consistency-group agent.  An application of
 * hv_vss_daemon(8) in the last tier: on FREEZE, every other application
 * of this VM has flushed and stopped sending; it records that in etcd
 * under the group's current round and answers FROZEN only when every
 * member of the group has done the same (round.c), so that no member's
 * snapshot is taken before all have quiesced.  If the round does not
 * complete within its budget it answers VETO naming who was missing, or,
 * with policy single, FROZEN as a backup of this VM alone, and says so.
 *
 * It is its own process: the daemon only ever waits for its answer, under
 * the daemon's own deadline, and an agent that dies is an application
 * lost while asked to freeze (the backup fails, nothing stays frozen).
 *
 *	hv_vss_group [-v] [-c file] [-o key=value ...]
 *	hv_vss_group [-c file] [-o key=value ...] status
 */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ini.h>

#include <hvvss.h>

#include "etcd.h"
#include "round.h"

#define CONF_DEFAULT "/etc/hv_vss/group.conf"
#define STATUS_DEFAULT "/run/hv_vss/group.status"
#define HISTORY_ROUNDS 10

struct conf {
	char *name, *group, *prefix, *socket, *status;
	char *members, *endpoints;
	char *cacert, *cert, *key, *user, *password_file;
	unsigned int budget_ms;
	int lease_ttl;
	bool degrade; /* policy single */
};

static struct conf conf = {
    .prefix = "/hvvss",
    .status = STATUS_DEFAULT,
    .budget_ms = 8000,
    .lease_ttl = 5,
};
static int verbose;
static struct group *grp;
static struct etcd *etcd, *keeper_etcd;
static bool leave_pending;
static volatile sig_atomic_t quit;

/* The status file: the agent's state and its last rounds. */
static char state[128] = "starting";
static char rounds[HISTORY_ROUNDS][1024];
static int nrounds;

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
logmsg(const char *fmt, ...)
{
	struct timespec ts;
	struct tm tm;
	va_list ap;
	char line[2048];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%02d:%02d:%02d.%03ld hv_vss_group: %s\n", tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, line);
}

/*
 * Written by rename over the old one, in /run: never on a filesystem the
 * daemon freezes (it would block the agent while frozen).
 */
static void
write_status(void)
{
	char tmp[PATH_MAX];
	int64_t session, spare;
	FILE *f;
	int i;

	snprintf(tmp, sizeof(tmp), "%s.tmp", conf.status);
	if ((f = fopen(tmp, "w")) == NULL)
		return;
	fprintf(f, "member: %s\ngroup: %s\nmembers: %s\n", conf.name,
	    conf.group, conf.members);
	fprintf(f, "etcd: %s\npolicy: %s\nbudget: %u ms\nstate: %s\n",
	    etcd_endpoint(etcd), conf.degrade ? "single" : "veto",
	    conf.budget_ms, state);
	group_leases(grp, &session, &spare);
	fprintf(f, "pid: %ld\nleases: %llx %llx\n", (long)getpid(),
	    (unsigned long long)session, (unsigned long long)spare);
	for (i = 0; i < nrounds; i++)
		fprintf(f, "round: %s\n", rounds[i]);
	if (fclose(f) == 0)
		rename(tmp, conf.status);
	else
		unlink(tmp);
}

/* A line of the status file's history: when, the txn, the round. */
static void record_round(uint64_t txid, const char *id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
record_round(uint64_t txid, const char *id, const char *fmt, ...)
{
	char when[32];
	struct tm tm;
	time_t t = time(NULL);
	va_list ap;
	int n;

	if (nrounds == HISTORY_ROUNDS) {
		memmove(
		    rounds[0], rounds[1], sizeof(rounds[0]) * (nrounds - 1));
		nrounds--;
	}
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	n = snprintf(rounds[nrounds], sizeof(rounds[0]), "%s txn %llu %s ",
	    when, (unsigned long long)txid, id[0] ? id : "-");
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(rounds[0]))
		vsnprintf(rounds[nrounds] + n, sizeof(rounds[0]) - (size_t)n,
		    fmt, ap);
	va_end(ap);
	nrounds++;
}

static int
on_check(uint64_t txid, char *reason, size_t len, void *arg)
{
	return 0;
}

static int
on_freeze(uint64_t txid, unsigned int ms, char *reason, size_t len, void *arg)
{
	struct round_result r;
	unsigned int budget = conf.budget_ms;
	int rc;

	/* the daemon's share for this tier, less a margin for our answer */
	if (ms > 100 && ms - 100 < budget)
		budget = ms - 100;
	snprintf(state, sizeof(state), "in a round (txn %llu)",
	    (unsigned long long)txid);
	write_status();
	rc = group_freeze(grp, budget, &r);
	if (rc == 0) {
		logmsg("txn %llu: group %s round %s complete after %u ms: %s",
		    (unsigned long long)txid, conf.group, r.id, r.waited_ms,
		    r.present);
		if (verbose)
			logmsg(
			    "txn %llu: joined +%u ms, watching +%u ms, all seen +%u ms, complete +%u ms",
			    (unsigned long long)txid, r.joined_ms,
			    r.watching_ms, r.all_ms, r.waited_ms);
		record_round(txid, r.id, "complete in %u ms; arrived %s",
		    r.waited_ms, r.present);
		snprintf(state, sizeof(state), "frozen in round %s", r.id);
		write_status();
		return 0;
	}
	if (conf.degrade) {
		logmsg(
		    "txn %llu: group %s round %s: %s after %u ms; policy single: this VM's backup goes on alone",
		    (unsigned long long)txid, conf.group, r.id[0] ? r.id : "-",
		    r.why, r.waited_ms);
		record_round(txid, r.id,
		    "ALONE (policy single) after %u ms: %s", r.waited_ms,
		    r.why);
		snprintf(state, sizeof(state), "frozen alone (policy single)");
		write_status();
		return 0;
	}
	/* the daemon keeps about 200 characters of it: the names first */
	snprintf(reason, len, "group %s round %s: %s after %u ms", conf.group,
	    r.id[0] ? r.id : "-", r.why, r.waited_ms);
	logmsg("txn %llu: VETO: %s", (unsigned long long)txid, reason);
	record_round(txid, r.id, "VETO after %u ms: %s", r.waited_ms, r.why);
	snprintf(state, sizeof(state), "vetoed");
	write_status();
	return -1; /* the ABORT that follows takes us out of the round */
}

static void
on_thaw(uint64_t txid, bool aborted, void *arg)
{
	/* out of the round after the answer, not before it */
	leave_pending = true;
	snprintf(state, sizeof(state), "idle");
}

/* --- configuration --------------------------------------------------- */

static int
conf_set(const char *k, const char *v)
{
	char **s = NULL;
	char *end;
	long n;

	if (strcmp(k, "name") == 0)
		s = &conf.name;
	else if (strcmp(k, "group") == 0)
		s = &conf.group;
	else if (strcmp(k, "members") == 0)
		s = &conf.members;
	else if (strcmp(k, "endpoints") == 0)
		s = &conf.endpoints;
	else if (strcmp(k, "prefix") == 0)
		s = &conf.prefix;
	else if (strcmp(k, "socket") == 0)
		s = &conf.socket;
	else if (strcmp(k, "status_file") == 0)
		s = &conf.status;
	else if (strcmp(k, "cacert") == 0)
		s = &conf.cacert;
	else if (strcmp(k, "cert") == 0)
		s = &conf.cert;
	else if (strcmp(k, "key") == 0)
		s = &conf.key;
	else if (strcmp(k, "user") == 0)
		s = &conf.user;
	else if (strcmp(k, "password_file") == 0)
		s = &conf.password_file;
	if (s != NULL) {
		*s = strdup(v);
		return *s != NULL;
	}
	if (strcmp(k, "policy") == 0) {
		if (strcmp(v, "veto") != 0 && strcmp(v, "single") != 0)
			return 0;
		conf.degrade = strcmp(v, "single") == 0;
		return 1;
	}
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || end == v)
		return 0;
	if (strcmp(k, "budget_ms") == 0 && n >= 100 && n <= 600000)
		conf.budget_ms = (unsigned int)n;
	else if (strcmp(k, "lease_ttl") == 0 && n >= 2 && n <= 3600)
		conf.lease_ttl = (int)n;
	else
		return 0;
	return 1;
}

static int
conf_line(void *arg, const char *section, const char *k, const char *v)
{
	if (strcmp(section, "group") != 0) {
		fprintf(stderr, "hv_vss_group: %s: unknown section [%s]\n",
		    (const char *)arg, section);
		return 0;
	}
	if (!conf_set(k, v)) {
		fprintf(stderr, "hv_vss_group: %s: bad setting: %s = %s\n",
		    (const char *)arg, k, v);
		return 0;
	}
	return 1;
}

/* Split list (commas or spaces) into out[]; the count, or -1. */
static int
split(char *list, const char **out, int max)
{
	char *p, *save = NULL;
	int n = 0;

	for (p = strtok_r(list, ", \t", &save); p != NULL;
	     p = strtok_r(NULL, ", \t", &save)) {
		if (n == max)
			return -1;
		out[n++] = p;
	}
	return n;
}

static bool
valid_name(const char *s)
{
	size_t n = strspn(s,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789._-");

	return n > 0 && n <= GROUP_NAME_MAX && s[n] == '\0';
}

static char *
read_password(const char *path)
{
	char line[256];
	FILE *f;

	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	line[strcspn(line, "\n")] = '\0';
	return strdup(line);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: hv_vss_group [-v] [-c file] [-o key=value ...]\n"
	    "       hv_vss_group [-c file] [-o key=value ...] status\n");
	exit(2);
}

static void
on_signal(int sig)
{
	quit = sig;
}

/*
 * A member restarting mid-round: the keys of the agent it replaces would
 * count it as quiesced until their lease expired, while its own backup
 * has failed.  Its status file names those leases: revoke them now.
 */
static void
revoke_previous(void)
{
	unsigned long long l[2];
	char line[256];
	FILE *f;
	int i;

	if ((f = fopen(conf.status, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "leases: %llx %llx", &l[0], &l[1]) != 2)
			continue;
		for (i = 0; i < 2; i++)
			if (l[i] != 0 &&
			    etcd_lease_revoke(etcd, (int64_t)l[i], 1000) == 0)
				logmsg(
				    "revoked lease %llx of the agent before us",
				    l[i]);
	}
	fclose(f);
}

static int
status_cmd(void)
{
	char line[2048];
	FILE *f;

	if ((f = fopen(conf.status, "r")) == NULL) {
		fprintf(stderr,
		    "hv_vss_group: %s: %s (is the agent running?)\n",
		    conf.status, strerror(errno));
		return 1;
	}
	while (fgets(line, sizeof(line), f) != NULL)
		fputs(line, stdout);
	fclose(f);
	return 0;
}

int
main(int argc, char *argv[])
{
	const struct hvvss_callbacks cb = {on_check, on_freeze, on_thaw};
	const char *path = CONF_DEFAULT, *eps[ETCD_MAX_ENDPOINTS];
	struct group_conf gc = {0};
	struct etcd_conf ec = {0};
	struct hvvss *h = NULL;
	struct pollfd pfd;
	struct sigaction sa = {.sa_handler = on_signal};
	char *ov[32], *members, *endpoints, *eq;
	int nov = 0, o, i, rc, n;
	bool explicit_conf = false;

	while ((o = getopt(argc, argv, "c:o:v")) != -1) {
		switch (o) {
		case 'c':
			path = optarg;
			explicit_conf = true;
			break;
		case 'o':
			if (nov == 32)
				usage();
			ov[nov++] = optarg;
			break;
		case 'v':
			verbose++;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 1 || (argc == 1 && strcmp(argv[0], "status") != 0))
		usage();
	if (access(path, F_OK) == 0 || explicit_conf) {
		if ((rc = ini_parse(path, conf_line, (void *)path)) != 0) {
			if (rc < 0)
				fprintf(stderr, "hv_vss_group: %s: %s\n", path,
				    strerror(errno));
			else
				fprintf(stderr, "hv_vss_group: %s: line %d\n",
				    path, rc);
			return 1;
		}
	}
	for (i = 0; i < nov; i++) {
		if ((eq = strchr(ov[i], '=')) == NULL)
			usage();
		*eq = '\0';
		if (!conf_set(ov[i], eq + 1)) {
			fprintf(stderr,
			    "hv_vss_group: -o: bad setting: %s = %s\n", ov[i],
			    eq + 1);
			return 1;
		}
	}
	if (argc == 1)
		return status_cmd();

	if (conf.name == NULL || conf.group == NULL || conf.members == NULL ||
	    conf.endpoints == NULL) {
		fprintf(stderr,
		    "hv_vss_group: %s: name, group, members and endpoints must be set\n",
		    path);
		return 1;
	}
	if (!valid_name(conf.name) || !valid_name(conf.group)) {
		fprintf(stderr,
		    "hv_vss_group: bad name or group: %s, %s (want [A-Za-z0-9._-], at most 64)\n",
		    conf.name, conf.group);
		return 1;
	}
	members = strdup(conf.members);
	endpoints = strdup(conf.endpoints);
	n = split(members, gc.members, GROUP_MAX_MEMBERS);
	if (n < 1) {
		fprintf(stderr, "hv_vss_group: members: 1 to %d names\n",
		    GROUP_MAX_MEMBERS);
		return 1;
	}
	gc.nmembers = n;
	for (i = 0; i < n; i++)
		if (!valid_name(gc.members[i])) {
			fprintf(stderr, "hv_vss_group: members: bad name %s\n",
			    gc.members[i]);
			return 1;
		}
	for (i = 0; i < n && strcmp(gc.members[i], conf.name) != 0; i++)
		;
	if (i == n) {
		fprintf(stderr, "hv_vss_group: %s is not in members (%s)\n",
		    conf.name, conf.members);
		return 1;
	}
	if ((ec.nendpoints = split(endpoints, eps, ETCD_MAX_ENDPOINTS)) < 1) {
		fprintf(stderr, "hv_vss_group: endpoints: 1 to %d URLs\n",
		    ETCD_MAX_ENDPOINTS);
		return 1;
	}
	for (i = 0; i < ec.nendpoints; i++)
		ec.endpoints[i] = eps[i];
	ec.cacert = conf.cacert;
	ec.cert = conf.cert;
	ec.key = conf.key;
	ec.user = conf.user;
	if (conf.password_file != NULL &&
	    (ec.password = read_password(conf.password_file)) == NULL) {
		fprintf(stderr, "hv_vss_group: %s: %s\n", conf.password_file,
		    strerror(errno));
		return 1;
	}
	gc.prefix = conf.prefix;
	gc.group = conf.group;
	gc.self = conf.name;
	gc.lease_ttl = conf.lease_ttl;
	/* longer than any member waits in it, so that it never ends under
	 * a member still waiting */
	gc.round_ttl = (int)(conf.budget_ms / 1000) * 2 + conf.lease_ttl;
	if ((etcd = etcd_new(&ec)) == NULL ||
	    (keeper_etcd = etcd_new(&ec)) == NULL) {
		fprintf(
		    stderr, "hv_vss_group: cannot set up the etcd client\n");
		return 1;
	}
	revoke_previous();
	if ((grp = group_new(&gc, etcd, keeper_etcd)) == NULL) {
		fprintf(
		    stderr, "hv_vss_group: cannot set up the etcd client\n");
		return 1;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stderr, NULL, _IOLBF, 0);

	logmsg(
	    "member %s of group %s (%d members), etcd %s, budget %u ms, policy %s",
	    conf.name, conf.group, gc.nmembers, conf.endpoints, conf.budget_ms,
	    conf.degrade ? "single" : "veto");
	while (!quit) {
		if (h == NULL) {
			/* the daemon may be (re)starting: try again soon */
			rc = hvvss_open(conf.socket, "hv_vss_group",
			    HVVSS_TIER_MAX, conf.budget_ms, &h);
			if (rc < 0) {
				snprintf(state, sizeof(state),
				    "not registered: %s", strerror(-rc));
				write_status();
				poll(NULL, 0, 500);
				continue;
			}
			hvvss_set_callbacks(h, &cb, NULL);
			logmsg(
			    "registered with the daemon as app %llu, tier %d",
			    (unsigned long long)hvvss_app_id(h),
			    HVVSS_TIER_MAX);
			snprintf(state, sizeof(state), "idle");
			write_status();
		}
		pfd.fd = hvvss_fd(h);
		pfd.events = POLLIN;
		rc = poll(&pfd, 1, 1000);
		if (rc > 0 && (rc = hvvss_dispatch(h)) < 0) {
			logmsg("daemon connection lost: %s; registering again",
			    strerror(-rc));
			leave_pending = true;
			hvvss_close(h);
			h = NULL;
		}
		if (leave_pending) {
			leave_pending = false;
			group_leave(grp);
			write_status();
		}
	}
	logmsg("exiting on signal %d", (int)quit);
	hvvss_close(h);
	unlink(conf.status);
	group_free(grp);
	etcd_free(etcd);
	etcd_free(keeper_etcd);
	return 0;
}
