#!/usr/bin/python3
"""ctl_fake.py: a stand-in for hv_vss_daemon's control socket, for
testing hv_vss_ctl alone (t_ctl_client.sh).  It freezes nothing.

  ctl_fake.py --socket PATH --log FILE [--mode MODE] [--pidfile FILE]

Speaks common/ctlproto.h, protocol 2: reads the hello ("HVVSS-CTL 2")
and greets, reads one request line, answers with canned payload lines
("| " and the text) and progress lines ("# "), then "OK" or "ERR
<reason>", and closes.  For "hold <ms>" it answers "FROZEN 42" and waits
for "release" or the close.  Every connection is logged to FILE, one
line per event, flushed at once:

  req <request line>        the request
  nohello <line>            a first line that was no hello (a protocol 1
                            client), answered "ERR ..." as the daemon does
  line <line>               a later line from the client
  released | closed-while-held | hold-expired
                            how a hold ended

MODE changes the answers, for the failure cases:
  normal      the canned answers below
  refuse      every request: "ERR busy: host transaction 7 in progress"
  silent      read the request, never answer
  nofinal     payload, then close without a final line
  early       hold: FROZEN, then after 1 s "ERR lease expired" and close
  slowhold    hold: progress, FROZEN after 1.5 s
  slow        plan: payload up to a payload line "OK", then DELAY s
              (--delay, 31 by default: longer than protocol 1's
              30 s guess) of silence, then the rest, OK
  badline     status: a payload line, then one without a marker
  trickle     as normal, but the greeting and the reply a byte at a
              time (a marker, a line, the final line split across reads)
  v1          a protocol 1 daemon: no greeting; the hello is taken for
              a request: "ERR unknown command", and the close
  v3          greets "HVVSS-CTL 3", then "ERR ..." and the close

The canned answers (normal):
  status          three text lines, OK
  status json     one JSON object, OK
  plan            text with payload lines "OK", "ERR ...", "# ...",
                  "FROZEN 1", "HVVSS-CTL 2", "|" and "" among others,
                  a progress line, OK
  plan json       one JSON line of 300 KB (streaming), OK
  history ...     a JSON or text echo of the count asked, OK
  freeze <ms>     "# freezing" progress, OK
  thaw            ERR nothing is frozen
"""
import argparse
import json
import os
import socket
import sys
import threading
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--mode", default="normal")
    ap.add_argument("--pidfile")
    ap.add_argument("--delay", type=float, default=31)
    a = ap.parse_args()
    log = open(a.log, "a", buffering=1)
    lock = threading.Lock()

    def note(s):
        with lock:
            log.write(s + "\n")

    def put(c, data):
        if a.mode != "trickle":
            c.sendall(data)
            return
        for i in range(len(data)):
            c.sendall(data[i:i + 1])
            time.sleep(0.002)

    def send(c, payload, final):
        put(c, "".join("| " + l + "\n" if not l.startswith("# ") else
                       l + "\n" for l in payload).encode() +
            final.encode() + b"\n")

    def serve(c):
        f = c.makefile("rb")
        first = f.readline().decode(errors="replace").rstrip("\n")
        if a.mode == "silent":
            note("req " + first)
            time.sleep(3600)
            return
        if a.mode == "v1":
            note("req " + first)
            c.sendall(b"ERR unknown command\n")
            c.close()
            return
        if a.mode == "v3":
            note("req " + first)
            c.sendall(b"HVVSS-CTL 3\nERR hv_vss_daemon speaks control "
                      b"protocol 3, this client protocol 2\n")
            c.close()
            return
        if first != "HVVSS-CTL 2":
            note("nohello " + first)
            c.sendall(b"ERR hv_vss_daemon speaks control protocol 2, this "
                      b"client protocol 1: use the hv_vss_ctl of the "
                      b"daemon's version\n")
            c.close()
            return
        put(c, b"HVVSS-CTL 2\n")
        req = f.readline().decode(errors="replace").rstrip("\n")
        note("req " + req)
        w = req.split()
        out = []
        final = "OK"
        if a.mode == "refuse":
            final = "ERR busy: host transaction 7 in progress"
        elif a.mode == "nofinal":
            c.sendall(b"| hv_vss_daemon 0.1.0\n| state:   idle\n")
            c.close()
            return
        elif a.mode == "badline":
            c.sendall(b"| hv_vss_daemon 0.1.0\nstate:   idle\nOK\n")
            c.close()
            return
        elif a.mode == "slow" and w[0] == "plan":
            c.sendall(b"# planning\n| freeze, in this order:\n| OK\n")
            time.sleep(a.delay)
            out = ["ERR not the end", "thaw: the exact reverse."]
        elif w[0] == "status" and "json" in w:
            out = [json.dumps({"version": "0.1.0", "state": "idle",
                               "apps": [{"name": "db", "tier": 1}]})]
        elif w[0] == "status":
            out = ["hv_vss_daemon 0.1.0", "state:   idle",
                   "device:  /dev/vmbus/hv_vss, connected"]
        elif w[0] == "plan" and "json" in w:
            fs = [{"mountpoint": "/mnt/m%05d" % i, "fstype": "ext4"}
                  for i in range(6000)]
            out = [json.dumps({"filesystems": fs})]
        elif w[0] == "plan":
            c.sendall(b"| freeze, in this order:\n| OK\n| ERR not the end\n"
                      b"# planning\n| # not progress: payload\n| #\n"
                      b"| FROZEN 1\n| HVVSS-CTL 2\n| |\n|\n| \n"
                      b"| thaw: the exact reverse.\nOK\n")
            c.close()
            return
        elif w[0] == "history":
            n = w[1] if len(w) > 1 and w[1] != "json" else "all"
            out = [json.dumps({"asked": n}) if "json" in w
                   else "asked " + n]
        elif w[0] == "freeze":
            out = ["# freezing for %s ms" % w[1]]
        elif w[0] == "thaw":
            final = "ERR nothing is frozen"
        elif w[0] == "hold-apps":
            out = ["HELD 7 1765000000 %d" % (1765000000 + int(w[1]) // 1000)]
        elif w[0] == "release-apps":
            final = "ERR the hold's lease expired"
        elif w[0] == "hold":
            return hold(c, f, w)
        else:
            final = "ERR unknown command"
        send(c, out, final)
        c.close()

    def hold(c, f, w):
        if a.mode == "slowhold":
            c.sendall(b"# apps: 0 asked\n")
            time.sleep(1.5)
        c.sendall(b"# frozen 1 filesystem\nFROZEN 42\n")
        if a.mode == "early":
            time.sleep(1)
            c.sendall(b"ERR lease expired after 1000 ms\n")
            note("hold-expired")
            c.close()
            return
        c.settimeout(int(w[1]) / 1000)
        try:
            line = f.readline().decode(errors="replace")
        except socket.timeout:
            note("hold-expired")
            c.close()
            return
        if line == "":
            note("closed-while-held")
            c.close()
            return
        note("line " + line.rstrip("\n"))
        if line == "release\n":
            note("released")
            c.sendall(b"# thawed 1 filesystem\nOK\n")
        else:
            c.sendall(b"ERR bad line while holding\n")
        c.close()

    try:
        os.unlink(a.socket)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(a.socket)
    s.listen(16)
    if a.pidfile:
        with open(a.pidfile, "w") as p:
            p.write("%d\n" % os.getpid())
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
