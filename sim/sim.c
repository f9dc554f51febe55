/*
 * hv_vss_sim: the Hyper-V host and the Linux guest kernel's VSS driver,
 * emulated, so that a guest VSS daemon can be run and tested where no
 * Hyper-V exists.  See hv_vss_sim(1).
 *
 * This file only parses options and starts things: the device (fusedev.c),
 * the kernel model (kernel.c), the host (host.c), and an optional guest
 * command, typically the daemon under test.  With -F the kernel model is
 * FreeBSD's (kernel_fbsd.c) and its two devices are served by fbsddev.c.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "sim.h"

#define GUEST_TERM_MS 5000 /* SIGTERM, then SIGKILL after this */

static struct {
	struct event_base *base;
	struct host *host;
	struct report *rep;
	pid_t guest;
	bool guest_exited;
	bool stopping;
	bool interrupted;
} g;

static void __attribute__((noreturn)) usage(void)
{
	fprintf(stderr,
	    "usage: hv_vss_sim [-v] [-b command] [-F appdevice] [-n count] "
	    "[-w seconds]\n"
	    "                  [-s steps] [-f fault] [-H flags] [-T op=seconds] "
	    "[-O fw|vss=versions]\n"
	    "                  [-x command] [-o report] device "
	    "[-- guest-command [arg ...]]\n");
	exit(2);
}

/* Linux's kernel.c behind the interface host.c drives */
static void
lx_channel_send(void *k, const uint8_t *pkt, size_t len, uint64_t reqid)
{
	kernel_channel_send(k, pkt, len, reqid);
}

static bool
lx_ready(const void *k)
{
	return kernel_ready(k);
}

static unsigned int
lx_registrations(const void *k)
{
	return kernel_registrations(k);
}

static void
lx_hibernate(void *k)
{
	kernel_hibernate(k);
}

static void
lx_set_host(void *k, struct host *h)
{
	kernel_set_host(k, h);
}

static unsigned int
parse_seconds_ms(const char *s, const char *what)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 86400) {
		fprintf(stderr, "hv_vss_sim: %s: bad number of seconds: %s\n",
		    what, s);
		exit(2);
	}
	return (unsigned int)(v * 1000 + 0.5);
}

static void
add_step(struct sim_cfg *cfg, unsigned int at, struct step s)
{
	if (cfg->nsteps == SIM_MAX_STEPS) {
		fprintf(
		    stderr, "hv_vss_sim: more than %d steps\n", SIM_MAX_STEPS);
		exit(2);
	}
	memmove(&cfg->steps[at + 1], &cfg->steps[at],
	    (cfg->nsteps - at) * sizeof(cfg->steps[0]));
	cfg->steps[at] = s;
	cfg->nsteps++;
}

/* "hot,freeze,exec,thaw": see STEPS in hv_vss_sim(1) */
static void
parse_steps(struct sim_cfg *cfg, const char *arg)
{
	char *copy, *tok, *save = NULL;
	struct step s;
	size_t n;

	if ((copy = strdup(arg)) == NULL)
		exit(2);
	cfg->nsteps = 0;
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		memset(&s, 0, sizeof(s));
		n = strlen(tok);
		if (n > 0 && tok[n - 1] == '+') {
			s.nowait = true;
			tok[n - 1] = '\0';
		}
		if (strcmp(tok, "exec") == 0)
			s.kind = STEP_EXEC;
		else if (strcmp(tok, "hibernate") == 0)
			s.kind = STEP_HIBERNATE;
		else if (strcmp(tok, "remove") == 0)
			s.kind = STEP_REMOVE;
		else if (strncmp(tok, "sleep=", 6) == 0) {
			s.kind = STEP_SLEEP;
			s.ms = parse_seconds_ms(tok + 6, "sleep");
		} else if (strcmp(tok, "hot") == 0) {
			s.kind = STEP_REQUEST;
			s.op = HV_OP_HOT_BACKUP;
		} else if (hv_op_parse(tok, &s.op) == 0)
			s.kind = STEP_REQUEST;
		else {
			fprintf(stderr, "hv_vss_sim: unknown step: %s\n", tok);
			exit(2);
		}
		if (s.nowait && s.kind != STEP_REQUEST) {
			fprintf(stderr,
			    "hv_vss_sim: only a request can be sent without waiting: %s+\n",
			    tok);
			exit(2);
		}
		if (cfg->nsteps > 0 &&
		    cfg->steps[cfg->nsteps - 1].kind == STEP_REMOVE) {
			fprintf(stderr,
			    "hv_vss_sim: nothing can follow remove: %s\n", tok);
			exit(2);
		}
		add_step(cfg, cfg->nsteps, s);
	}
	free(copy);
	if (cfg->nsteps == 0) {
		fprintf(stderr, "hv_vss_sim: no steps\n");
		exit(2);
	}
}

static int
find_op(const struct sim_cfg *cfg, uint8_t op)
{
	unsigned int i;

	for (i = 0; i < cfg->nsteps; i++)
		if (cfg->steps[i].kind == STEP_REQUEST &&
		    cfg->steps[i].op == op)
			return (int)i;
	return -1;
}

/* Faults are edits of the step list (see FAULTS in hv_vss_sim(1)). */
static void
apply_fault(struct sim_cfg *cfg, const char *f)
{
	struct step s = {.kind = STEP_REQUEST};
	uint8_t op;
	int at;

	if (strcmp(f, "unknown-op") == 0) {
		s.op = HV_OP_COUNT; /* the first value that is no op */
		add_step(cfg, 0, s);
	} else if (strcmp(f, "dup-freeze") == 0) {
		if ((at = find_op(cfg, HV_OP_FREEZE)) < 0)
			goto nofreeze;
		s.op = HV_OP_FREEZE;
		add_step(cfg, at + 1, s);
	} else if (strcmp(f, "thaw-no-freeze") == 0) {
		s.op = HV_OP_THAW;
		add_step(cfg, 0, s);
	} else if (strcmp(f, "hibernate") == 0) {
		if ((at = find_op(cfg, HV_OP_FREEZE)) < 0)
			goto nofreeze;
		s.kind = STEP_HIBERNATE;
		add_step(cfg, at + 1, s);
	} else if (strcmp(f, "overlap") == 0) {
		if ((at = find_op(cfg, HV_OP_HOT_BACKUP)) < 0 &&
		    (at = find_op(cfg, HV_OP_FREEZE)) < 0)
			goto nofreeze;
		cfg->steps[at].nowait = true;
	} else if (strncmp(f, "timeout=", 8) == 0) {
		if (hv_op_parse(f + 8, &op) != 0 && strcmp(f + 8, "hot") != 0)
			goto bad;
		if (strcmp(f + 8, "hot") == 0)
			op = HV_OP_HOT_BACKUP;
		if (!hv_op_reaches_daemon(op)) {
			fprintf(stderr,
			    "hv_vss_sim: the kernel only times out HOT_BACKUP, FREEZE and THAW: %s\n",
			    f);
			exit(2);
		}
		cfg->timeout_ms[op] = 0;
	} else
		goto bad;
	return;
nofreeze:
	fprintf(
	    stderr, "hv_vss_sim: fault %s needs a request to apply to\n", f);
	exit(2);
bad:
	fprintf(stderr, "hv_vss_sim: unknown fault: %s\n", f);
	exit(2);
}

static void
parse_timeout(struct sim_cfg *cfg, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char name[32];
	unsigned int ms, i;
	uint8_t op;

	if (eq == NULL || (size_t)(eq - arg) >= sizeof(name))
		usage();
	memcpy(name, arg, eq - arg);
	name[eq - arg] = '\0';
	ms = parse_seconds_ms(eq + 1, arg);
	if (strcmp(name, "all") == 0) {
		for (i = 0; i < HV_OP_COUNT; i++)
			cfg->timeout_ms[i] = ms;
		cfg->unknown_timeout_ms = ms;
		return;
	}
	/* the host's own patience, not the kernel's */
	if (strcmp(name, "margin") == 0) {
		cfg->margin_ms = ms;
		return;
	}
	if (strcmp(name, "nego") == 0) {
		cfg->nego_timeout_ms = ms;
		return;
	}
	if (strcmp(name, "hot") == 0)
		op = HV_OP_HOT_BACKUP;
	else if (hv_op_parse(name, &op) != 0 || !hv_op_reaches_daemon(op)) {
		fprintf(stderr,
		    "hv_vss_sim: -T: not hot_backup, freeze, thaw, all, margin or nego: %s\n",
		    name);
		exit(2);
	}
	cfg->timeout_ms[op] = ms;
}

/* "fw=3.0,1.0" or "vss=5.0" */
static void
parse_offer(struct sim_cfg *cfg, const char *arg)
{
	struct ic_version *v;
	unsigned int *n, maj, min;
	const char *p;
	int used;

	if (strncmp(arg, "fw=", 3) == 0) {
		v = cfg->offer_fw;
		n = &cfg->noffer_fw;
		p = arg + 3;
	} else if (strncmp(arg, "vss=", 4) == 0) {
		v = cfg->offer_msg;
		n = &cfg->noffer_msg;
		p = arg + 4;
	} else
		usage();
	*n = 0;
	for (;;) {
		if (*n == 8 || sscanf(p, "%u.%u%n", &maj, &min, &used) != 2 ||
		    maj > 0xffff || min > 0xffff) {
			fprintf(
			    stderr, "hv_vss_sim: bad version list: %s\n", arg);
			exit(2);
		}
		v[(*n)++] = (struct ic_version){maj, min};
		p += used;
		if (*p == '\0')
			break;
		if (*p++ != ',')
			usage();
	}
}

static void
reap(void)
{
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == g.guest) {
			g.guest_exited = true;
			report_guest(g.rep, pid,
			    WIFEXITED(status) ? WEXITSTATUS(status)
			                      : 128 + WTERMSIG(status));
			if (!g.stopping)
				report_event(g.rep, "guest_exited",
				    "the guest command exited before the end");
			else
				event_base_loopbreak(g.base);
		} else if (g.host != NULL)
			host_on_child(g.host, pid, status);
	}
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	if (sig == SIGCHLD) {
		reap();
		return;
	}
	g.interrupted = true;
	report_event(g.rep, "interrupted", "stopped by signal %d", (int)sig);
	event_base_loopbreak(g.base);
}

static pid_t
spawn_guest(char *const *argv)
{
	pid_t pid;

	switch (pid = fork()) {
	case -1:
		fprintf(stderr, "hv_vss_sim: fork: %s\n", strerror(errno));
		exit(2);
	case 0:
		dup2(STDERR_FILENO, STDOUT_FILENO);
		execvp(argv[0], argv);
		fprintf(
		    stderr, "hv_vss_sim: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

/* SIGTERM the guest, SIGKILL it if it lingers, serving FUSE meanwhile. */
static void
stop_guest(void)
{
	struct timeval tv = {GUEST_TERM_MS / 1000, 0};
	int sig;

	g.stopping = true;
	reap();
	for (sig = SIGTERM; !g.guest_exited; sig = SIGKILL) {
		kill(g.guest, sig);
		event_base_loopexit(g.base, &tv);
		event_base_dispatch(g.base);
		reap();
		if (sig == SIGKILL)
			break;
	}
}

int
main(int argc, char *argv[])
{
	static struct sim_cfg cfg;
	struct event *sigev[4];
	const int sigs[4] = {SIGCHLD, SIGINT, SIGTERM, SIGHUP};
	const char *faults[16];
	struct kernel *k = NULL;
	struct kfbsd *kf = NULL;
	struct fusedev *dev = NULL;
	struct fbsddev *fsdev = NULL, *appdev = NULL;
	struct guest_kernel gk;
	unsigned int nfaults = 0, i;
	unsigned long ul;
	int ch, rc;
	char *end;

	cfg.repeat = 1;
	cfg.wait_register_ms = 10000;
	/* UINT_MAX: not set by -T or -f, the kernel's default once known */
	for (i = 0; i < HV_OP_COUNT; i++)
		cfg.timeout_ms[i] = UINT_MAX;
	cfg.unknown_timeout_ms = SIM_UTIL_TIMEOUT_MS;
	cfg.margin_ms = SIM_REPLY_MARGIN_MS;
	cfg.nego_timeout_ms = SIM_NEGO_TIMEOUT_MS;
	cfg.offer_fw[0] = IC_FW_VERSION_GUEST;
	cfg.noffer_fw = 1;
	cfg.offer_msg[0] = IC_VSS_VERSION_GUEST;
	cfg.noffer_msg = 1;
	parse_steps(&cfg, "hot,freeze,exec,thaw");

	while ((ch = getopt(argc, argv, "+b:F:f:H:n:o:O:s:T:vw:x:")) != -1) {
		switch (ch) {
		case 'b':
			cfg.setup_cmd = optarg;
			break;
		case 'F':
			cfg.app_device = optarg;
			break;
		case 'f':
			if (nfaults == sizeof(faults) / sizeof(faults[0]))
				usage();
			faults[nfaults++] = optarg;
			break;
		case 'H':
			errno = 0;
			ul = strtoul(optarg, &end, 0);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    ul > UINT32_MAX) {
				fprintf(stderr,
				    "hv_vss_sim: -H: bad flags: %s\n", optarg);
				exit(2);
			}
			cfg.hot_flags = (uint32_t)ul;
			break;
		case 'n':
			errno = 0;
			cfg.repeat = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || cfg.repeat < 1 ||
			    cfg.repeat > 1000000) {
				fprintf(stderr,
				    "hv_vss_sim: -n: bad count: %s\n", optarg);
				exit(2);
			}
			break;
		case 'o':
			cfg.report_path = optarg;
			break;
		case 'O':
			parse_offer(&cfg, optarg);
			break;
		case 's':
			parse_steps(&cfg, optarg);
			break;
		case 'T':
			parse_timeout(&cfg, optarg);
			break;
		case 'v':
			cfg.verbose = true;
			setenv("HVVSS_SIM_TRACE", "1", 1);
			break;
		case 'w':
			cfg.wait_register_ms = parse_seconds_ms(optarg, "-w");
			break;
		case 'x':
			cfg.exec_cmd = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	cfg.device = argv[0];
	if (argc > 1) {
		if (strcmp(argv[1], "--") != 0 || argc < 3)
			usage();
		cfg.guest_argv = &argv[2];
	}
	for (i = 0; i < nfaults; i++)
		apply_fault(&cfg, faults[i]);
	for (i = 0; i < HV_OP_COUNT; i++) {
		if (cfg.timeout_ms[i] != UINT_MAX)
			continue;
		if (cfg.app_device != NULL)
			cfg.timeout_ms[i] = SIM_FBSD_TIMEOUT_MS;
		else
			cfg.timeout_ms[i] = i == HV_OP_FREEZE
			    ? SIM_FREEZE_TIMEOUT_MS
			    : SIM_UTIL_TIMEOUT_MS;
	}
	for (i = 0; cfg.app_device != NULL && i < cfg.nsteps; i++)
		if (cfg.steps[i].kind == STEP_HIBERNATE ||
		    cfg.steps[i].kind == STEP_REMOVE) {
			fprintf(stderr,
			    "hv_vss_sim: -F: FreeBSD's driver has no hibernation path and its removal is not emulated: no hibernate or remove step or fault\n");
			exit(2);
		}

	if ((g.base = event_base_new()) == NULL ||
	    (g.rep = report_new()) == NULL) {
		fprintf(stderr, "hv_vss_sim: out of memory\n");
		exit(2);
	}
	if (cfg.app_device != NULL) {
		if ((kf = kfbsd_new(g.base, &cfg, g.rep)) == NULL) {
			fprintf(stderr, "hv_vss_sim: out of memory\n");
			exit(2);
		}
		gk = kfbsd_guest(kf);
	} else {
		if ((k = kernel_new(g.base, &cfg, g.rep)) == NULL) {
			fprintf(stderr, "hv_vss_sim: out of memory\n");
			exit(2);
		}
		gk = (struct guest_kernel){k, k, lx_channel_send, lx_ready,
		    lx_registrations, lx_hibernate, lx_set_host};
	}
	for (i = 0; i < 4; i++) {
		sigev[i] = evsignal_new(g.base, sigs[i], signal_cb, NULL);
		if (sigev[i] == NULL || event_add(sigev[i], NULL) != 0) {
			fprintf(stderr, "hv_vss_sim: cannot catch signals\n");
			exit(2);
		}
	}
	signal(SIGPIPE, SIG_IGN);
	if (kf != NULL) {
		if ((fsdev = fbsddev_start(
		         g.base, cfg.device, kf, KF_FS, false)) == NULL)
			exit(2);
		if ((appdev = fbsddev_start(
		         g.base, cfg.app_device, kf, KF_APP, false)) == NULL) {
			fbsddev_stop(fsdev);
			exit(2);
		}
	} else if ((dev = fusedev_start(g.base, cfg.device, k, false)) == NULL)
		exit(2);
	if (cfg.guest_argv != NULL)
		g.guest = spawn_guest(cfg.guest_argv);
	if ((g.host = host_new(g.base, &cfg, &gk, g.rep)) == NULL) {
		fprintf(stderr, "hv_vss_sim: out of memory\n");
		exit(2);
	}
	host_start(g.host);
	event_base_dispatch(g.base);

	if (g.guest > 0)
		stop_guest();
	host_free(g.host);
	g.host = NULL;
	fusedev_stop(dev);
	fbsddev_stop(fsdev);
	fbsddev_stop(appdev);
	kernel_free(k);
	kfbsd_free(kf);
	if ((rc = report_write(g.rep, cfg.report_path)) < 0)
		fprintf(stderr, "hv_vss_sim: report: %s\n", strerror(-rc));
	rc = report_ok(g.rep) && !g.interrupted ? 0 : 1;
	report_free(g.rep);
	for (i = 0; i < 4; i++)
		event_free(sigev[i]);
	event_base_free(g.base);
	return rc;
}
