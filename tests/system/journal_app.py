#!/usr/bin/env python3
"""journal_app.py: a protocol-1 application for the adapter tests.

It makes a line every 10 ms and keeps it in memory, as a database keeps
its log buffer; it writes what it holds to JOURNAL (append, fsync) every
0.5 s, and at FREEZE, before it answers FROZEN.  From FROZEN to THAW it
writes nothing.  Its LOG (kept off the frozen filesystem) says when, on
CLOCK_REALTIME in seconds with microseconds (as strace -ttt), and how many
lines were on disk:

    registered <id>
    FROZEN <time> <lines on disk>
    THAWED <time> <lines on disk>

so that a copy of the filesystem taken while frozen must hold exactly the
first <lines on disk> lines, and its FROZEN time can be set against the
FIFREEZE of whoever froze the filesystem afterwards.
"""

import os
import select
import socket
import sys
import time


def main():
    sockpath, journal, logpath = sys.argv[1:4]
    # a slow application: FROZEN this many seconds after FREEZE
    delay = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    log = open(logpath, "a", buffering=1)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(sockpath)
    sock.sendall(b"HELLO 1 journal tier=5\n")
    rfile = sock.makefile("rb")
    words = rfile.readline(256).decode().split()
    if words[:1] != ["OK"]:
        print("refused:", words, file=sys.stderr)
        return 1
    log.write("registered %s\n" % words[1])
    fd = os.open(journal, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    made = written = 0
    pending = []
    held = False
    last = time.monotonic()

    def flush():
        nonlocal written, pending
        if pending:
            os.write(fd, "".join(pending).encode())
            written += len(pending)
            pending = []
        os.fsync(fd)

    while True:
        ready, _, _ = select.select([sock], [], [], 0.01)
        if not ready:
            made += 1
            pending.append("line %d\n" % made)
            if not held and time.monotonic() - last >= 0.5:
                flush()
                last = time.monotonic()
            continue
        raw = rfile.readline(257)
        if not raw:
            return 0
        kind, txid = (raw.decode().split() + ["", ""])[:2]
        if kind == "CHECK":
            answer = "READY"
        elif kind == "FREEZE":
            time.sleep(delay)
            flush()
            held = True
            log.write("FROZEN %.6f %d\n" % (time.time(), written))
            answer = "FROZEN"
        elif kind in ("THAW", "ABORT"):
            held = False
            log.write("THAWED %.6f %d\n" % (time.time(), written))
            answer = "THAWED"
        else:
            continue
        sock.sendall(("%s %s\n" % (answer, txid)).encode())


if __name__ == "__main__":
    sys.exit(main())
