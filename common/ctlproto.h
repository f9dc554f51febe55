/*
 * ctlproto.h: the control socket's protocol, between hv_vss_ctl and
 * hv_vss_daemon (default /run/hv_vss/ctl.sock).
 *
 * One request per connection: a line "<command> [<arg> ...]\n" of at most
 * CTL_LINE_MAX bytes.  The daemon answers with any number of payload
 * lines, then exactly one final line, "OK" or "ERR <reason>", and closes;
 * lines starting with "# " are progress, meant for a terminal.
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
 *                           it outlives the connection: "HELD <txid>
 *                           <since> <until>", then the final line.  Ended
 *                           by release-apps, or by its lease <ms>.
 *                           <label>: [A-Za-z0-9._:@/+-], at most 64.
 *   release-apps            end the detached hold (OK if none is held;
 *                           ERR if its lease ended it first)
 *
 * status, plan and history are read-only: root, or a member of the
 * configured ctl_group, may use them; everything else is root's only.
 * The peer's credentials are checked per command (SO_PEERCRED).
 */
#ifndef HVVSS_CTLPROTO_H
#define HVVSS_CTLPROTO_H

#define CTL_PROTO_VERSION 1
#define CTL_LINE_MAX 256
#define CTL_SOCKET_DEFAULT "/run/hv_vss/ctl.sock"
#define CTL_HISTORY_MAX 64

#endif /* HVVSS_CTLPROTO_H */
