#!/usr/bin/python3
"""soak_apps.py: many backups while applications come, go, veto and
answer late; run inside the sandbox (t_soak_apps.sh, bench/run --soak).

  soak_apps.py --backups N [--seed S] [--apps K] --sim PATH --daemon PATH
      [--mount /mnt/a] [--report FILE] [--log FILE]

It runs hv_vss_sim -n N against the daemon and, in one single-threaded
loop, keeps about K applications on the app socket, seeded (--seed):
each answers every request, sometimes late (a THAWED to an ABORT up to
120 ms late, so after the next transaction began; a FREEZE, CHECK or
THAW up to a tenth of its budget), sometimes vetoes a CHECK or a FREEZE
(its own veto, which fails that backup), and now and then leaves (only
in a frozen window and owing no answer: leaving while asked would fail
the backup, a veto of its own) while new ones register at any moment.

In each backup's frozen window (hv_vss_sim -x) it may measure the daemon:
open fds (less the app connections it holds at that moment, known
from /proc/net/unix) and VmRSS; once
after a warm-up (a tenth of the backups, at least 10) and in the last
window.  Then it prints key=value lines, and decides nothing:

  backups failures vetoes nonveto_failures drops lost joined left
  late_answers fds_before fds_after rss_kb_before rss_kb_after seconds
"""
import argparse
import json
import os
import random
import re
import selectors
import socket
import subprocess
import sys
import time

WIN = "/tmp/soak.win"
ACK = "/tmp/soak.ack"


class App:
    def __init__(self, rng, n, path):
        self.name = "soak-%d" % n
        self.tier = rng.randrange(10)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.sock.setblocking(False)
        self.buf = b""
        self.out = []           # (due, line, txid)
        self.owed = set()       # (kind, txid) asked, not yet answered
        self.registered = False
        self.veto_p = rng.choice([0, 0, 0, 0.005, 0.02])
        self.sock.sendall(("HELLO 1 %s tier=%d\n" % (self.name, self.tier))
                          .encode())


def daemon_pid(sim_pid, exe):
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                st = f.read()
            if int(st.rsplit(")", 1)[1].split()[1]) != sim_pid:
                continue
            if os.path.realpath("/proc/%s/exe" % p) == os.path.realpath(exe):
                return int(p)
        except (OSError, ValueError, IndexError):
            continue
    return None


def fd_names(pid):
    names = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            names.append(os.readlink("/proc/%d/fd/%s" % (pid, fd)))
        except OSError:
            pass
    return names


def app_conns(pid, path):
    """The daemon's fds on the app socket, less its listener: the app
    connections it holds (accepted sockets carry the listener's path in
    /proc/net/unix)."""
    inodes = set()
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            w = line.split()
            if len(w) >= 8 and w[7] == path:
                inodes.add("socket:[%s]" % w[6])
    return sum(n in inodes for n in fd_names(pid)) - 1


def measure(pid):
    fds = len(os.listdir("/proc/%d/fd" % pid))
    rss = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return fds, rss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--backups", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--apps", type=int, default=8)
    ap.add_argument("--sim", required=True)
    ap.add_argument("--daemon", required=True)
    ap.add_argument("--mount", default="/mnt/a")
    ap.add_argument("--socket", default="/run/hv_vss/app.sock")
    ap.add_argument("--report", default="/tmp/soak.json")
    ap.add_argument("--log", default="/tmp/soak.log")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    warm = max(10, a.backups // 10)

    for f in (WIN, ACK):
        if os.path.exists(f):
            os.unlink(f)
        os.mkfifo(f)
    win = os.open(WIN, os.O_RDWR | os.O_NONBLOCK)
    t0 = time.monotonic()
    sim = subprocess.Popen(
        [a.sim, "-n", str(a.backups), "-o", a.report,
         "-x", "echo w >%s && read r <%s" % (WIN, ACK),
         "/dev/vmbus/hv_vss", "--", a.daemon, "-n", "-d", "-c", "/dev/null",
         "-o", "mounts=" + a.mount],
        stderr=open(a.log, "w"))
    while not os.path.exists(a.socket) and sim.poll() is None:
        time.sleep(0.01)
    time.sleep(0.05)
    pid = daemon_pid(sim.pid, a.daemon)

    sel = selectors.DefaultSelector()
    sel.register(win, selectors.EVENT_READ, None)
    apps = []
    st = {"joined": 0, "left": 0, "late_answers": 0, "lost": 0}
    newest = 0
    windows = 0
    before = after = None

    def join():
        try:
            app = App(rng, st["joined"], a.socket)
        except OSError:
            return
        st["joined"] += 1
        apps.append(app)
        sel.register(app.sock, selectors.EVENT_READ, app)

    def close(app):
        sel.unregister(app.sock)
        app.sock.close()
        apps.remove(app)

    for _ in range(a.apps):
        join()

    while sim.poll() is None:
        now = time.monotonic()
        dues = [o[0] for app in apps for o in app.out]
        timeout = max(0.0, min(dues) - now) if dues else 0.02
        for key, _ in sel.select(min(timeout, 0.02)):
            if key.data is None:        # a frozen window
                n = os.read(win, 64).count(b"w")
                for _ in range(n):
                    windows += 1
                    if windows in (warm, a.backups) and pid:
                        # let the daemon accept and close what is in
                        # flight, then count without our connections
                        time.sleep(0.05)
                        fds, rss = measure(pid)
                        conns = app_conns(pid, a.socket)
                        # the freezer's fd on the mount is there only if
                        # this backup's FREEZE was not vetoed: not a leak
                        held = sum(n == a.mount or n.startswith(a.mount + "/")
                                   for n in fd_names(pid))
                        m = (fds - conns - held, rss, fds, conns,
                             [n for n in fd_names(pid) if n != a.mount])
                        if windows == warm:
                            before = m
                        else:
                            after = m
                    # leave here, where nothing is asked: leaving while
                    # asked would fail the backup, a veto of the app's own
                    if apps and rng.random() < 0.3:
                        app = rng.choice(apps)
                        if app.registered and not app.owed and not app.out:
                            st["left"] += 1
                            close(app)
                    with open(ACK, "w") as f:
                        f.write("go\n")
                continue
            app = key.data
            if app not in apps:         # left earlier in this batch
                continue
            try:
                data = app.sock.recv(65536)
            except OSError:
                data = b""
            if not data:                # the daemon closed it
                if windows < a.backups:
                    st["lost"] += 1
                close(app)
                continue
            app.buf += data
            while b"\n" in app.buf:
                line, app.buf = app.buf.split(b"\n", 1)
                w = line.decode().split()
                if w[0] == "OK":
                    app.registered = True
                    continue
                if w[0] == "ERR":
                    continue
                txid = int(w[1])
                newest = max(newest, txid)
                t = time.monotonic()
                if w[0] == "CHECK":
                    app.owed.add(("CHECK", txid))
                    ans = "READY"
                    if rng.random() < app.veto_p:
                        ans = "VETO %d %s says no" % (txid, app.name)
                    delay = rng.choice([0, 0, 0, 0.002, 0.02])
                elif w[0] == "FREEZE":
                    app.owed.add(("FREEZE", txid))
                    ans = "FROZEN"
                    if rng.random() < app.veto_p:
                        ans = "VETO %d %s cannot flush" % (txid, app.name)
                    delay = rng.choice([0, 0, 0.001, 0.01, 0.03])
                    delay = min(delay, int(w[2]) / 10000)
                elif w[0] == "ABORT":
                    app.owed.add(("ABORT", txid))
                    ans = "THAWED"
                    delay = rng.choice([0, 0.005, 0.03, 0.06, 0.12])
                else:                   # THAW
                    app.owed.add(("THAW", txid))
                    ans = "THAWED"
                    delay = rng.choice([0, 0, 0.001, 0.01])
                if not ans.startswith("VETO"):
                    ans = "%s %d" % (ans, txid)
                app.out.append((t + delay, ans, (w[0], txid)))
                app.out.sort(key=lambda o: o[0])
        now = time.monotonic()
        for app in list(apps):
            while app.out and app.out[0][0] <= now:
                _, line, owed = app.out.pop(0)
                if owed[1] < newest:
                    st["late_answers"] += 1
                try:
                    app.sock.sendall((line + "\n").encode())
                except OSError:
                    pass
                app.owed.discard(owed)
        # churn: new ones register at any moment (they leave in windows)
        if len(apps) < a.apps and rng.random() < 0.05:
            join()
    took = time.monotonic() - t0
    for app in list(apps):
        close(app)
    os.close(win)

    rep = json.load(open(a.report))
    results = [q.get("result", "none") for b in rep["backups"]
               for q in b["requests"]]
    log = open(a.log).read()
    failed = re.findall(r"txn \d+: .*failed: (.*)", log)
    print("soak.seed=%d" % a.seed)
    print("soak.backups=%d" % len(rep["backups"]))
    print("soak.windows=%d" % windows)
    print("soak.requests=%d" % len(results))
    print("soak.failures=%d" % sum(r != "S_OK" for r in results))
    print("soak.failed_lines=%d" % len(failed))
    print("soak.vetoes=%d" % sum(": VETO " in f for f in failed))
    print("soak.nonveto_failures=%d" % sum(": VETO " not in f
                                           for f in failed))
    for f in [f for f in failed if ": VETO " not in f][:5]:
        print("# not a veto: %s" % f)
    drops = [l for l in re.findall(r"disconnected: (.*)", log)
             if l != "closed"]
    print("soak.drops=%d" % len(drops))
    for d in drops[:5]:
        print("# dropped: %s" % d)
    for k in ("joined", "left", "late_answers", "lost"):
        print("soak.%s=%d" % (k, st[k]))
    if before and after:
        print("soak.fds_before=%d" % before[0])
        print("soak.fds_after=%d" % after[0])
        print("soak.fds_raw=%d with %d app connections, %d with %d" %
              (before[2], before[3], after[2], after[3]))
        for n in sorted(set(before[4]) ^ set(after[4])):
            if not n.startswith("socket:"):
                print("# fd only %s: %s" % ("before" if n in before[4]
                                            else "after", n))
        print("soak.rss_kb_before=%d" % before[1])
        print("soak.rss_kb_after=%d" % after[1])
    print("soak.seconds=%.1f" % took)
    print("soak.sim_rc=%d" % sim.returncode)
    return 0


if __name__ == "__main__":
    sys.exit(main())
