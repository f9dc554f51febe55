/*
 * holds.c: the holder of a detached hold (see holds.h).  Formatting
 * only: what the hold does is the transaction machine's (txn.c), and
 * local.c says when it starts and ends.
 */
#include <sys/types.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "holds.h"
#include "os/proc.h"

bool
hold_label_ok(const char *s)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') ||
		        (s[n] >= 'A' && s[n] <= 'Z') ||
		        (s[n] >= '0' && s[n] <= '9') ||
		        strchr("._:@/+-", s[n]) != NULL))
			return false;
	return n > 0 && n <= HOLD_LABEL_MAX;
}

/* proc_comm(), or the parent's COMM in privsep mode (holds.h) */
static int (*comm_fn)(pid_t, char *, size_t) = proc_comm;

void
holds_set_comm(int (*fn)(pid_t, char *, size_t))
{
	comm_fn = fn != NULL ? fn : proc_comm;
}

void
holder_ask(struct holder *h, uid_t uid, pid_t pid, const char *label,
    unsigned int lease_ms)
{
	memset(h, 0, sizeof(*h));
	h->uid = uid;
	h->pid = pid;
	h->lease_ms = lease_ms;
	/* as it is when it asks: it may be gone by the time anyone
	 * reads the status */
	(void)comm_fn(pid, h->comm, sizeof(h->comm));
	snprintf(h->label, sizeof(h->label), "%s", label ? label : "");
}

void
holder_txid(struct holder *h, uint64_t txid)
{
	h->txid = txid;
}

void
holder_held(struct holder *h)
{
	clock_gettime(CLOCK_REALTIME, &h->since);
	h->until = h->since;
	h->until.tv_sec += h->lease_ms / 1000;
	h->until.tv_nsec += (long)(h->lease_ms % 1000) * 1000000;
	if (h->until.tv_nsec >= 1000000000) {
		h->until.tv_sec++;
		h->until.tv_nsec -= 1000000000;
	}
	h->held = true;
}

/* The command name, with anything but printable ASCII, quotes and
 * backslashes replaced: it is the asker's to choose. */
static void
safe_comm(const struct holder *h, char *buf, size_t len)
{
	size_t i;

	snprintf(buf, len, "%s", h->comm);
	for (i = 0; buf[i] != '\0'; i++)
		if (buf[i] < 0x20 || buf[i] > 0x7e || buf[i] == '"' ||
		    buf[i] == '\\')
			buf[i] = '?';
}

void
holder_who(const struct holder *h, char *buf, size_t len)
{
	char comm[sizeof(h->comm)];

	safe_comm(h, comm, sizeof(comm));
	snprintf(buf, len, "uid %u pid %d (%s)%s%s, lease %u.%03u s",
	    (unsigned)h->uid, (int)h->pid, comm, h->label[0] ? ", label " : "",
	    h->label, h->lease_ms / 1000, h->lease_ms % 1000);
}

static void
wall(const struct timespec *ts, char *buf, size_t len)
{
	struct tm tm;

	localtime_r(&ts->tv_sec, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
}

void
holder_text(const struct holder *h, char *buf, size_t len)
{
	char who[192], since[32], until[32];

	holder_who(h, who, sizeof(who));
	if (!h->held) {
		snprintf(buf, len, "txn %llu, being taken by %s",
		    (unsigned long long)h->txid, who);
		return;
	}
	wall(&h->since, since, sizeof(since));
	wall(&h->until, until, sizeof(until));
	snprintf(buf, len, "txn %llu, by %s, since %s, until %s",
	    (unsigned long long)h->txid, who, since, until);
}

void
holder_json(const struct holder *h, char *buf, size_t len)
{
	char comm[sizeof(h->comm)], since[32] = "", until[32] = "";

	safe_comm(h, comm, sizeof(comm));
	if (h->held) {
		wall(&h->since, since, sizeof(since));
		wall(&h->until, until, sizeof(until));
	}
	/* the label's characters need no escaping (hold_label_ok()) */
	snprintf(buf, len,
	    "{\"txid\": %llu, \"uid\": %u, \"pid\": %d, \"comm\": \"%s\", "
	    "\"label\": \"%s\", \"lease_ms\": %u, \"held\": %s, "
	    "\"since\": %s%s%s, \"until\": %s%s%s}",
	    (unsigned long long)h->txid, (unsigned)h->uid, (int)h->pid, comm,
	    h->label, h->lease_ms, h->held ? "true" : "false",
	    h->held ? "\"" : "", h->held ? since : "null", h->held ? "\"" : "",
	    h->held ? "\"" : "", h->held ? until : "null", h->held ? "\"" : "");
}
