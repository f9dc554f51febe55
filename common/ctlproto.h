/*
 * ctlproto.h: the control socket's protocol, version 2, between
 * hv_vss_ctl and hv_vss_daemon (default /run/hv_vss/ctl.sock).
 * doc/DESIGN.md section 5 is the full description.
 *
 * One request per connection.  The client speaks first, two lines:
 *
 *   HVVSS-CTL 2                 its hello, the version it speaks
 *   <command> [<arg> ...]       the request, at most CTL_LINE_MAX bytes
 *
 * The daemon answers the hello with its greeting, "HVVSS-CTL 2", then
 * the reply to the request, every line of which says what it is by its
 * first byte:
 *
 *   | <text>                    payload ("|" and one space, then the
 *                               text: any bytes but a newline)
 *   # <text>                    progress, meant for a terminal
 *   FROZEN <txid>               hold only: the freeze is in place
 *   OK                          the final line: done
 *   ERR <reason>                the final line: failed, and why
 *
 * then closes.  Payload is always prefixed, so nothing a payload line
 * holds (a mount point, an application's name, a hold's label) can pass
 * for a final line; the reply ends at its final line, never at a pause.
 *
 * A first line that is not a hello is a protocol 1 request (protocol 1
 * had none): the daemon answers with one line, "ERR ...", which names
 * both versions, and closes; protocol 1 clients show an ERR line's
 * reason.  A hello of another version is answered with the greeting (so
 * the client learns ours), then "ERR ...", and the close.
 *
 *   status [json]           state, device, guard, applications, version
 *   plan [json]             the freeze plan now, and what HOT_BACKUP
 *                           would answer (read-only: freezes nothing)
 *   history [<n>] [json]    the last n transactions (at most 64 kept)
 *   freeze <ms>             a local FREEZE, frozen at most <ms> (the lease)
 *   thaw                    a local THAW
 *   hold <ms>               a local FREEZE tied to this connection: the
 *                           daemon sends "FROZEN <txid>" and keeps the
 *                           connection; the client sends "release\n" (or
 *                           closes it, or dies, or <ms> passes) to thaw;
 *                           then the final line.
 *   hold-apps <ms> [<label>]
 *                           a detached hold: the applications and freeze
 *                           hooks are held, no filesystem is frozen, for
 *                           another backup agent whose own freeze follows;
 *                           it outlives the connection: "| HELD <txid>
 *                           <since> <until>", then the final line.  Ended
 *                           by release-apps, or by its lease <ms>.
 *                           <label>: [A-Za-z0-9._:@/+-], at most 64.
 *   release-apps            end the detached hold (OK if none is held;
 *                           ERR if its lease ended it first)
 *
 * status, plan and history are read-only: root, or a member of the
 * configured ctl_group, may use them; everything else is root's only.
 * The peer's credentials, as the kernel recorded them at connect
 * (daemon/os/peercred.h), are checked per command.
 */
#ifndef HVVSS_CTLPROTO_H
#define HVVSS_CTLPROTO_H

#define CTL_PROTO_VERSION 2
#define CTL_HELLO "HVVSS-CTL" /* then a space and the version */
#define CTL_LINE_MAX 256
#define CTL_SOCKET_DEFAULT "/run/hv_vss/ctl.sock"
#define CTL_HISTORY_MAX 64

#endif /* HVVSS_CTLPROTO_H */
