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
 * bit).  A stage accepted is left running (busy) when the step's bit 1
 * is set, so that the side requests and CANCEL are checked against a
 * running stage too; the next datagram's check then finds it running,
 * and it ends (applied) after that one.  Broken properties abort:
 *  - an accepted datagram is exactly one request, of a known type, with
 *    zero reserved field and the txid rules kept;
 *  - CHECK only of a newer transaction or, planned anew, of the planned
 *    one; FREEZE only of the planned current transaction, THAW only of
 *    the frozen one; nothing planned or frozen after a refusal that was not;
 *  - an accepted ARM ends within max_frozen of the FREEZE;
 *  - while a stage runs, only side requests are accepted, and CANCEL
 *    only of a running FREEZE or HOOKS of the current transaction;
 *  - an accepted METRICS is exactly its header and arg bytes of text
 *    ending in a newline, no control byte in it;
 *  - a side request changes no state;
 *  - a refusal's reason is a non-empty string, and changes nothing.
 */
#include <stdbool.h>
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
	struct priv_state st, before, mid;
	struct priv_req r, running;
	char why[PRIV_REASON_MAX];
	uint64_t now = 1000;
	size_t len, i;
	bool held = false;
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
		now += (uint64_t)(step >> 2) * 500;
		before = st;
		memset(why, 0x55, sizeof(why));
		rc = priv_check(&st, buf, len, now, &r, why, sizeof(why));
		check(memcmp(&before, &st, sizeof(st)) == 0);
		if (rc == 0 && r.type == PRIV_METRICS) {
			check(len == sizeof(r) + r.arg && r.arg > 0 &&
			    r.arg <= PRIV_METRICS_MAX);
			check(buf[len - 1] == '\n');
			for (i = sizeof(r); i < len; i++)
				check(buf[i] >= 0x20 ? buf[i] != 0x7f
				                     : buf[i] == '\n');
		}
		free(buf);
		if (held) {
			/* the stage that ran meanwhile ends now */
			held = false;
			st.busy = false;
			st.running = 0;
			priv_apply(&st, &running, true, now);
		}
		if (rc != 0) {
			check(rc > 0 && rc <= PRIV_R_MAX);
			check(memchr(why, '\0', sizeof(why)) != NULL);
			check(why[0] != '\0');
			continue;
		}
		check(r.version == PRIV_VERSION && r.reserved == 0);
		check(r.type >= 1 && r.type <= PRIV_TYPE_MAX);
		check(!before.busy || priv_is_side(r.type));
		if (priv_is_side(r.type)) {
			if (r.type != PRIV_METRICS)
				check(len == sizeof(r));
			if (r.type == PRIV_CANCEL)
				check(before.busy && r.txid == before.txid &&
				    (before.running == PRIV_FREEZE ||
				        before.running == PRIV_HOOKS));
			else
				check(r.txid == 0);
			if (r.type == PRIV_COMM)
				check(r.arg > 0 && r.arg <= PRIV_PID_MAX);
			/* a side request is never applied as a stage */
			mid = st;
			priv_apply(&st, &r, true, now);
			check(memcmp(&mid, &st, sizeof(st)) == 0);
			continue;
		}
		check(len == sizeof(r));
		switch (r.type) {
		case PRIV_DEVICE: /* arg 0: the kept device, 1: a new one */
			check(r.txid == 0 && r.arg <= 1);
			break;
		case PRIV_CHECK: /* a new transaction, or the planned one
				  * planned anew */
			check(st.tx != PRIV_TX_FROZEN &&
			    (r.txid > st.txid ||
			        (r.txid == st.txid &&
			            st.tx == PRIV_TX_PLANNED)));
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
		if (step & 2) {
			/* left running through the next datagram */
			held = true;
			running = r;
			st.busy = true;
			st.running = r.type;
			continue;
		}
		priv_apply(&st, &r, (step & 1) == 0, now);
		check(st.tx <= PRIV_TX_FROZEN);
	}
	return 0;
}
