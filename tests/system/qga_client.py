#!/usr/bin/env python3
"""qga_client.py SOCKET COMMAND: send one qemu-guest-agent command as a
host would (guest-sync first, then COMMAND, JSON lines on the agent's
socket), print its reply and the times it was sent and answered
(CLOCK_REALTIME, seconds): "<sent> <answered> <reply JSON>"."""

import json
import socket
import sys
import time


def call(rfile, sock, cmd):
    sock.sendall(json.dumps(cmd).encode() + b"\n")
    while True:
        line = rfile.readline()
        if not line:
            raise SystemExit("qemu-ga closed the connection")
        line = line.strip(b"\xff \r\n")
        if line:
            return json.loads(line)


def main():
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(120)
    sock.connect(sys.argv[1])
    rfile = sock.makefile("rb")
    sync = call(rfile, sock,
                {"execute": "guest-sync", "arguments": {"id": 4242}})
    if sync.get("return") != 4242:
        raise SystemExit("guest-sync: %r" % sync)
    sent = time.time()
    reply = call(rfile, sock, {"execute": sys.argv[2]})
    print("%.6f %.6f %s" % (sent, time.time(), json.dumps(reply)))
    return 0 if "return" in reply else 1


if __name__ == "__main__":
    sys.exit(main())
