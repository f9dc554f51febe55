/*
 * fuzz_privproto.c: libFuzzer target for the parent's checks of the
 * engine's requests (daemon/privproto.c).
 *
 * The engine is assumed compromised: whatever it sends, the parent must
 * refuse it with a reason, or accept exactly a well-formed request the
 * transaction's state allows.  The input is a run of datagrams, each a
 * length byte (up to 255, so longer and shorter than a request) and its
 * bytes, and a clock step byte; they are checked in turn against one
 * state, accepted ones applied as done (or failed, on the step's low
 * bit).  Broken properties abort:
 *  - an accepted datagram is exactly one request, of a known type, with
 *    zero reserved field and the txid rules kept;
 *  - FREEZE only of the planned current transaction, THAW only of the
 *    frozen one; nothing planned or frozen after a refusal that was not;
 *  - an accepted ARM ends within max_frozen of the FREEZE;
 *  - a refusal's reason is a non-empty string, and changes nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "privproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(int cond)
{
	if (!cond)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct priv_state st, before;
	struct priv_req r;
	char why[PRIV_REASON_MAX];
	uint64_t now = 1000;
	size_t len;
	uint8_t step;
	uint8_t *buf;
	int rc;

	memset(&st, 0, sizeof(st));
	st.max_frozen_ms = 60000;
	while (size >= 2) {
		len = data[0];
		step = data[1];
		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		/* exactly len bytes, so that ASan sees a read past them */
		buf = malloc(len ? len : 1);
		check(buf != NULL);
		memcpy(buf, data, len);
		data += len;
		size -= len;
		now += (uint64_t)(step >> 1) * 500;
		before = st;
		memset(why, 0x55, sizeof(why));
		rc = priv_check(&st, buf, len, now, &r, why, sizeof(why));
		free(buf);
		check(memcmp(&before, &st, sizeof(st)) == 0);
		if (rc != 0) {
			check(rc > 0 && rc <= PRIV_R_MAX);
			check(memchr(why, '\0', sizeof(why)) != NULL);
			check(why[0] != '\0');
			continue;
		}
		check(len == sizeof(r));
		check(r.version == PRIV_VERSION && r.reserved == 0);
		check(r.type >= 1 && r.type <= PRIV_TYPE_MAX);
		switch (r.type) {
		case PRIV_DEVICE:
			check(r.txid == 0 && r.arg == 0);
			break;
		case PRIV_CHECK:
			check(r.txid > st.txid && st.tx != PRIV_TX_FROZEN);
			break;
		case PRIV_FREEZE:
			check(r.txid == st.txid && st.tx == PRIV_TX_PLANNED);
			break;
		case PRIV_THAW:
			check(r.txid == st.txid && st.tx == PRIV_TX_FROZEN);
			break;
		case PRIV_HOOKS:
			check(r.txid == st.txid && r.arg <= PRIV_PHASE_ABORT);
			break;
		case PRIV_ARM:
			check(st.tx == PRIV_TX_FROZEN && r.arg > 0);
			check(now < st.frozen_at_ms ||
			    now - st.frozen_at_ms + r.arg <= st.max_frozen_ms);
			break;
		case PRIV_DISARM:
			check(r.txid == st.txid && st.tx != PRIV_TX_FROZEN);
			break;
		}
		priv_apply(&st, &r, (step & 1) == 0, now);
		check(st.tx <= PRIV_TX_FROZEN);
	}
	return 0;
}
