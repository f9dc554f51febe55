#!/usr/bin/python3
"""apps_swarm.py: many applications on hv_vss_daemon's socket, for tests.

  apps_swarm.py --socket PATH --log FILE [--background] \\
      --apps COUNT:NAME:TIERS:MODE [--apps ...]

Each --apps group is COUNT connections named NAME-i, in tiers TIERS ("3"
or "0-9", spread round robin), behaving as MODE:

  ok            answer everything at once
  veto-check    VETO every CHECK          veto-freeze   VETO every FREEZE
  silent-freeze never answer FREEZE       die-freeze    close on FREEZE
  die-frozen    answer FROZEN, then close at once
  slow-freeze=MS  answer FREEZE after MS ms
  no-thawed     never answer THAW/ABORT
  veto-once     VETO the first FREEZE, then answer everything at once

A mode may end in "+late=MS": the THAWED that answers an ABORT is sent
MS ms late (the daemon does not wait for it; a new transaction may have
begun); or in "+delay=MS": every answer is sent MS ms after its request,
in order (an app that takes its time, but answers everything).  --uid UID runs the apps as that uid (and its gid), to test
per-uid limits.

Every line received is logged to FILE as "seq t_us name tier LINE", in
the order this single-threaded process saw them, so tests can check the
order the daemon asked in.  With --background, the process forks once
every app is registered (the parent exits 0 then, 1 if one was refused),
and the child serves until every connection is closed.

Abuse modes (instead of --apps): --garbage, --long-line BYTES,
--flood COUNT (COUNT connections that never say HELLO; reports how many
the daemon refused with ERR and how many it closed within --hold s).
"""
import argparse
import os
import selectors
import socket
import sys
import time

T0 = time.monotonic()


def now_us():
    return int((time.monotonic() - T0) * 1e6)


class App:
    def __init__(self, name, tier, mode):
        mode, *opts = mode.split("+")
        opts = dict(o.split("=", 1) for o in opts)
        self.name, self.tier, self.mode = name, tier, mode
        self.late_ms = int(opts.get("late", 0))
        self.delay_ms = int(opts.get("delay", 0))
        self.vetoed = False
        self.buf = b""
        self.registered = None
        self.pending = []       # (due, line) answers to send later
        self.sock = None


def parse_groups(specs):
    apps = []
    for spec in specs:
        count, name, tiers, mode = spec.split(":", 3)
        if "-" in tiers:
            lo, hi = map(int, tiers.split("-"))
        else:
            lo = hi = int(tiers)
        for i in range(int(count)):
            tier = lo + i % (hi - lo + 1)
            apps.append(App("%s-%d" % (name, i), tier, mode))
    return apps


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


def answer(app, words, log):
    kind, txid = words[0], words[1] if len(words) > 1 else ""
    mode = app.mode
    if kind == "CHECK":
        return "VETO %s %s says no" % (txid, app.name) \
            if mode == "veto-check" else "READY %s" % txid
    if kind == "FREEZE":
        if mode == "veto-freeze" or (mode == "veto-once" and
                                     not app.vetoed):
            app.vetoed = True
            return "VETO %s %s cannot flush" % (txid, app.name)
        if mode == "silent-freeze":
            return None
        if mode == "die-freeze":
            raise ConnectionAbortedError
        if mode.startswith("slow-freeze="):
            app.pending.append((time.monotonic() +
                                int(mode.split("=")[1]) / 1000,
                                "FROZEN %s" % txid))
            return None
        return "FROZEN %s" % txid
    if kind == "ABORT" and app.late_ms:
        app.pending.append((time.monotonic() + app.late_ms / 1000,
                            "THAWED %s" % txid))
        return None
    if kind in ("THAW", "ABORT"):
        return None if mode == "no-thawed" else "THAWED %s" % txid
    return None


def serve(apps, log, background, deadline):
    sel = selectors.DefaultSelector()
    for app in apps:
        app.sock.setblocking(False)
        sel.register(app.sock, selectors.EVENT_READ, app)
    live = len(apps)
    seq = 0
    forked = not background
    while live > 0 and time.monotonic() < deadline:
        due = [a.pending[0][0] for a in apps if a.pending]
        timeout = max(0.001, min(due) - time.monotonic()) if due else 1.0
        for key, _ in sel.select(timeout):
            app = key.data
            try:
                data = app.sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                sel.unregister(app.sock)
                app.sock.close()
                live -= 1
                continue
            app.buf += data
            while b"\n" in app.buf:
                line, app.buf = app.buf.split(b"\n", 1)
                text = line.decode("ascii", "replace")
                seq += 1
                log.write("%d %d %s %d %s\n" % (seq, now_us(), app.name,
                                                app.tier, text))
                words = text.split(" ")
                if words[0] == "OK":
                    app.registered = True
                    continue
                if words[0] == "ERR":
                    app.registered = False
                    continue
                try:
                    reply = answer(app, words, log)
                except ConnectionAbortedError:
                    sel.unregister(app.sock)
                    app.sock.close()
                    live -= 1
                    break
                if reply and app.delay_ms:
                    app.pending.append((time.monotonic() +
                                        app.delay_ms / 1000, reply))
                elif reply:
                    app.sock.sendall((reply + "\n").encode())
                if words[0] == "FREEZE" and app.mode == "die-frozen":
                    sel.unregister(app.sock)
                    app.sock.close()
                    live -= 1
                    break
        for app in apps:
            while app.pending and app.pending[0][0] <= time.monotonic():
                _, line = app.pending.pop(0)
                try:
                    app.sock.sendall((line + "\n").encode())
                except OSError:
                    pass
        log.flush()
        if not forked and all(a.registered is not None for a in apps):
            refused = [a.name for a in apps if not a.registered]
            if refused:
                print("refused: %s" % " ".join(refused[:5]), flush=True)
                os._exit(1)
            print("ready %d" % len(apps), flush=True)
            if os.fork() > 0:
                os._exit(0)
            forked = True
    log.write("# done\n")
    log.flush()


def abuse(args):
    if args.garbage:
        s = connect(args.socket)
        s.sendall(b"HELLO 1 garbage\nHELLO TWO THREE\n\x00\xff\n")
        s.settimeout(5)
        try:
            got = s.recv(4096)
            more = s.recv(4096)
        except OSError:
            more = b"?"
        print("garbage: got %r, then %s" % (got, "closed" if more == b""
                                             else "open"))
        return 0 if more == b"" else 1
    if args.long_line:
        s = connect(args.socket)
        s.settimeout(10)
        sent = 0
        chunk = b"x" * 65536
        try:
            while sent < args.long_line:
                sent += s.send(chunk)
            more = s.recv(4096)
        except OSError:
            more = b""
        print("long-line: sent %d bytes, connection %s" %
              (sent, "closed" if more == b"" else "open"))
        return 0 if more == b"" else 1
    if args.flood:
        socks, refused, failed = [], 0, 0
        for _ in range(args.flood):
            try:
                socks.append(connect(args.socket))
            except OSError:
                failed += 1
        time.sleep(0.5)
        for s in socks:
            s.setblocking(False)
            try:
                if s.recv(64).startswith(b"ERR too many"):
                    refused += 1
            except BlockingIOError:
                pass
            except OSError:
                pass
        # the rest are held; the daemon must close them (no HELLO)
        deadline = time.monotonic() + args.hold
        closed = 0
        for s in socks:
            s.setblocking(True)
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                while s.recv(64):
                    pass        # an ERR line, then the close
                closed += 1
            except socket.timeout:
                pass
            except OSError:
                closed += 1
            s.close()
        print("flood: %d connections, %d refused with ERR, %d failed to "
              "connect, %d closed by the daemon within %.0f s" %
              (len(socks), refused, failed, closed, args.hold))
        return 0
    return 2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", default="/run/hv_vss/app.sock")
    ap.add_argument("--log", default="/dev/null")
    ap.add_argument("--apps", action="append", default=[])
    ap.add_argument("--background", action="store_true")
    ap.add_argument("--max-seconds", type=float, default=300)
    ap.add_argument("--garbage", action="store_true")
    ap.add_argument("--long-line", type=int, default=0)
    ap.add_argument("--flood", type=int, default=0)
    ap.add_argument("--hold", type=float, default=8)
    ap.add_argument("--uid", type=int, default=-1)
    args = ap.parse_args()
    log = open(args.log, "w")
    if args.uid >= 0:
        os.setgroups([])
        os.setgid(args.uid)
        os.setuid(args.uid)
    if not args.apps:
        return abuse(args)
    apps = parse_groups(args.apps)
    log.write("# t0 %.6f\n" % T0)  # CLOCK_MONOTONIC, for other processes
    for app in apps:
        app.sock = connect(args.socket)
        app.sock.sendall(("HELLO 1 %s tier=%d\n" % (app.name, app.tier))
                         .encode())
    serve(apps, log, args.background, time.monotonic() + args.max_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
