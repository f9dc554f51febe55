#!/usr/bin/env python3
"""client.py: take part in hv_vss_daemon's backups from Python, with
nothing but the standard library, by speaking the line protocol itself
(doc/DESIGN.md, "Application socket (protocol 1)").

It registers, then answers every request and prints it: CHECK with
READY, FREEZE with FROZEN (this is where a real program would flush and
hold its writes), THAW and ABORT with THAWED.  With --veto it refuses
instead, at CHECK or at FREEZE, with a reason the daemon logs.  It exits
when the daemon closes the connection.

    client.py [--socket PATH] [--name NAME] [--tier 0-9]
              [--veto check|freeze] [--reason TEXT]
"""

import argparse
import socket
import sys

LINE_MAX = 256  # bytes, with the newline


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--socket", default="/run/hv_vss/app.sock",
                    help="the daemon's socket (default: %(default)s)")
    ap.add_argument("--name", default="example-py",
                    help="the name the daemon's logs use (%(default)s)")
    ap.add_argument("--tier", type=int, default=5, choices=range(10),
                    metavar="0-9", help="0 freezes first (default 5)")
    ap.add_argument("--veto", choices=("check", "freeze"),
                    help="refuse CHECK or FREEZE")
    ap.add_argument("--reason", default="example client says no",
                    help="why, for --veto")
    args = ap.parse_args()

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(args.socket)
    except OSError as e:
        print("client.py: %s: %s" % (args.socket, e.strerror), file=sys.stderr)
        return 1
    sock.settimeout(5)  # for the registration only
    sock.sendall(b"HELLO 1 %s tier=%d\n" % (args.name.encode(), args.tier))
    rfile = sock.makefile("rb")
    words = rfile.readline(LINE_MAX).decode("ascii", "replace").split()
    if words[:1] != ["OK"]:
        print("refused:", " ".join(words) or "connection closed")
        return 1
    print("registered as app", words[1], flush=True)
    sock.settimeout(None)

    # A reason is printable ASCII on one line: never let one through that
    # would end the line early or read as another word of the protocol.
    reason = "".join(c if " " < c < "\x7f" else " " for c in args.reason)
    reason = " ".join(reason.split())[:200] or "vetoed"
    while True:
        raw = rfile.readline(LINE_MAX + 1)  # bounded, unlike "for raw in"
        if not raw:
            break
        if not raw.endswith(b"\n") or len(raw) > LINE_MAX:
            print("bad line from the daemon:", raw[:40])
            return 1
        words = raw.decode("ascii", "replace").split()
        print(" ".join(words), flush=True)
        kind, txid = (words + ["", ""])[:2]
        if kind == "CHECK":
            answer = "READY" if args.veto != "check" else "VETO"
        elif kind == "FREEZE":
            answer = "FROZEN" if args.veto != "freeze" else "VETO"
        elif kind in ("THAW", "ABORT"):
            answer = "THAWED"
        else:
            print("unexpected line from the daemon:", " ".join(words))
            return 1
        line = "%s %s" % (answer, txid)
        if answer == "VETO":
            line += " " + reason
        print("->", line, flush=True)
        sock.sendall(line.encode() + b"\n")
    print("daemon gone: exiting", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
