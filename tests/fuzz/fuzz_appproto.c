/*
 * fuzz_appproto.c: libFuzzer target for the application line protocol
 * (common/appproto.c).
 *
 * Any local process that may connect to the socket can send the daemon
 * any bytes, and the library parses whatever the daemon sends.  The
 * protocol has one spelling for each message, so a line that parses must
 * format back to a line that parses to the same message, and, but for
 * HELLO (whose options may come in either order and whose tier may be
 * left out), to the very same bytes.  The other way round, a message
 * made of the input's bytes that formats must parse back to itself.
 * app_format() writes into a buffer of exactly the size it is told, so
 * that ASan sees a byte written past it.  A broken property aborts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "appproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(int cond)
{
	if (!cond)
		abort();
}

/* Format m into an exact-size buffer; the length, or a negative errno. */
static int
format(const struct app_msg *m, char **out, size_t cap)
{
	char *buf;
	int n;

	*out = NULL;
	if (cap == 0 || (buf = malloc(cap)) == NULL)
		return -ENOMEM;
	n = app_format(m, buf, cap);
	if (n >= 0) {
		check((size_t)n < cap && buf[n] == '\0');
		check(n >= 2 && buf[n - 1] == '\n');
		check(memchr(buf, '\n', (size_t)n - 1) == NULL);
		check(n <= APP_LINE_MAX);
		*out = buf;
	} else
		free(buf);
	return n;
}

/* Bytes to message to bytes. */
static void
fuzz_parse(const char *line, size_t len)
{
	struct app_msg m, m2;
	char *buf;
	int rc, n;

	rc = app_parse(line, len, &m);
	if (len + 1 > APP_LINE_MAX)
		check(rc == -EMSGSIZE);
	if (rc != 0) {
		check(
		    rc == -EMSGSIZE || rc == -EINVAL || rc == -EPROTONOSUPPORT);
		return;
	}
	check(m.type < AM_NTYPES);
	check(strlen(app_msg_name(m.type)) <= len);
	check(memcmp(line, app_msg_name(m.type),
	          strlen(app_msg_name(m.type))) == 0);

	n = format(&m, &buf, APP_LINE_MAX + 1);
	check(n > 0);
	if (m.type != AM_HELLO)
		check((size_t)n == len + 1 && memcmp(buf, line, len) == 0);
	check(app_parse(buf, (size_t)n - 1, &m2) == 0);
	check(memcmp(&m, &m2, sizeof(m)) == 0);
	free(buf);

	/* exactly enough room, and one byte less */
	check(format(&m, &buf, (size_t)n + 1) == n);
	free(buf);
	check(format(&m, &buf, (size_t)n) == -ENOSPC);
}

/* Message (from the input's bytes) to bytes to message. */
static void
fuzz_format(const uint8_t *data, size_t size)
{
	struct app_msg m, m2;
	size_t cap, k;
	char *buf;
	int n;

	if (size < 16)
		return;
	memset(&m, 0, sizeof(m));
	m.type = (enum app_msg_type)(data[0] % (AM_NTYPES + 1));
	memcpy(&m.txid, data + 1, sizeof(m.txid));
	m.app_id = m.txid;
	memcpy(&m.ms, data + 9, sizeof(m.ms));
	m.timeout_ms = m.ms;
	m.has_timeout = data[13] & 1;
	m.version = APP_PROTO_VERSION;
	m.tier = data[13] >> 1;
	cap = data[14] | (size_t)(data[15] & 1) << 8;
	k = size - 16;
	if (m.type == AM_HELLO)
		memcpy(m.name, data + 16, k < APP_NAME_MAX ? k : APP_NAME_MAX);
	else if (m.type == AM_VETO || m.type == AM_ERR)
		memcpy(m.reason, data + 16,
		    k < APP_REASON_MAX ? k : APP_REASON_MAX);

	n = format(&m, &buf, cap);
	if (n < 0) {
		check(n == -EINVAL || n == -ENOSPC || n == -ENOMEM);
		return;
	}
	check(m.type < AM_NTYPES);
	check(app_parse(buf, (size_t)n - 1, &m2) == 0);
	/* what parsing cannot know: fields the message does not carry */
	switch (m.type) {
	case AM_HELLO:
		check(strcmp(m.name, m2.name) == 0 && m.tier == m2.tier);
		check(m.has_timeout == m2.has_timeout);
		check(!m.has_timeout || m.timeout_ms == m2.timeout_ms);
		break;
	case AM_OK:
		check(m.app_id == m2.app_id);
		break;
	case AM_ERR:
		check(strcmp(m.reason, m2.reason) == 0);
		break;
	case AM_VETO:
		check(strcmp(m.reason, m2.reason) == 0);
		check(m.txid == m2.txid);
		break;
	case AM_FREEZE:
		check(m.ms == m2.ms);
		check(m.txid == m2.txid);
		break;
	default:
		check(m.txid == m2.txid);
		break;
	}
	check(m2.type == m.type);
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_parse((const char *)data, size);
	fuzz_format(data, size);
	return 0;
}
