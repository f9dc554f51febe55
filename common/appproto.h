/*
 * appproto.h: the application socket's line protocol, version 1 (the
 * contract is doc/DESIGN.md, "Application socket (protocol 1)").
 *
 * ASCII lines ending in '\n', at most APP_LINE_MAX bytes with the newline,
 * tokens separated by exactly one space, nothing before the first or
 * after the last:
 *
 *   app -> daemon                      daemon -> app
 *   HELLO 1 <name> [tier=<0-9>] [timeout=<ms>]
 *                                      OK <app-id> | ERR <reason...>
 *                                      CHECK <txid>
 *   READY <txid> | VETO <txid> <reason...>
 *                                      FREEZE <txid> <ms>
 *   FROZEN <txid> | VETO <txid> <reason...>
 *                                      THAW <txid> | ABORT <txid>
 *   THAWED <txid>
 *
 * <txid> and <app-id>: decimal u64; <ms>: decimal u32; <name>:
 * [A-Za-z0-9._-]{1,64}; <reason>: printable ASCII, at least one
 * character.  Numbers have no sign and no leading zeros (but "0").  A
 * HELLO without tier= is tier APP_TIER_DEFAULT; timeout= is what the app
 * says it needs to flush.
 *
 * Late answers are harmless.  Every answer names the transaction it
 * answers.  The daemon does not wait for the THAWED that answers an ABORT,
 * and a stage may end (its deadline, another app's VETO) before an app
 * answered, so an answer may name an earlier transaction than the one in
 * progress.  An answer to a transaction the app was asked in (among its
 * last four) is ignored: a late READY or THAWED, a VETO to a stage that
 * is over (it vetoes nothing), a FROZEN for a transaction already
 * aborted; a FROZEN for one the app was never told to leave is answered
 * ABORT.  None costs the app its registration.  An answer naming a txid
 * the app was never asked about is a protocol error (the daemon closes
 * the connection).  A daemon may forget transactions older than an app's
 * last four and ignore answers to them.
 *
 * The parser rejects before it copies: the line is checked against every
 * limit first.  No logging, no exit, no allocation.
 */
#ifndef HVVSS_APPPROTO_H
#define HVVSS_APPPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define APP_PROTO_VERSION 1
#define APP_LINE_MAX 256 /* bytes, with the '\n' */
#define APP_NAME_MAX 64
#define APP_REASON_MAX (APP_LINE_MAX - 1)
#define APP_TIER_MAX 9
#define APP_TIER_DEFAULT 5

enum app_msg_type {
	AM_HELLO, /* app: register */
	AM_READY, /* app: CHECK answered yes */
	AM_FROZEN, /* app: flushed and holding */
	AM_THAWED, /* app: resumed (answers THAW and ABORT) */
	AM_VETO, /* app: CHECK or FREEZE refused, with a reason */
	AM_OK, /* daemon: registered, with the app id */
	AM_ERR, /* daemon: refused, with a reason (then closes) */
	AM_CHECK, /* daemon: can a backup run now? */
	AM_FREEZE, /* daemon: flush and hold, answer within ms */
	AM_THAW, /* daemon: filesystems thawed, resume */
	AM_ABORT, /* daemon: the freeze is off, resume */
	AM_NTYPES
};

struct app_msg {
	enum app_msg_type type;
	uint64_t txid; /* READY..VETO, CHECK..ABORT */
	uint64_t app_id; /* OK */
	uint32_t ms; /* FREEZE: the budget */
	uint32_t timeout_ms; /* HELLO: timeout=, 0 if not given */
	bool has_timeout;
	unsigned int version; /* HELLO */
	unsigned int tier; /* HELLO */
	char name[APP_NAME_MAX + 1]; /* HELLO */
	char reason[APP_REASON_MAX + 1]; /* VETO, ERR */
};

/*
 * Parse one line of len bytes, without its '\n'.  0, or -EMSGSIZE (too
 * long), -EINVAL (malformed: unknown word, bad token, bad number, extra or
 * missing token, spacing), -EPROTONOSUPPORT (a HELLO of another version).
 */
int app_parse(const char *line, size_t len, struct app_msg *m);

/*
 * Format m into buf (cap bytes) with its '\n' and a terminating NUL.
 * Returns the length (without the NUL), -EINVAL if a field breaks the
 * grammar (a bad name, an empty or unprintable reason), -ENOSPC if cap is
 * too small.
 */
int app_format(const struct app_msg *m, char *buf, size_t cap);

/* "HELLO", "FREEZE", ... */
const char *app_msg_name(enum app_msg_type);

/* True if s is a valid <name>. */
bool app_name_valid(const char *s);

#endif /* HVVSS_APPPROTO_H */
