#!/usr/bin/env python3
"""privsep_harness.py: the supervisor (daemon/privsep.c) under attack, as
build/tests/hv_vss_privsep with its test engine (tests/system/privsep_try.c).

Run inside the sandbox by t_privsep.sh, with /mnt/a and /mnt/b
allow-listed:

    privsep_harness.py HV_VSS_PRIVSEP GUARD USER ROOT

Prints "ok - ..." / "not ok - ..." lines.  The engine is killed by -9
while its transaction holds /mnt/a and /mnt/b frozen, by -9 while the
parent is in the middle of its FREEZE, by SIGSYS from its own filter
(the test trigger), exits, and closes its end of the parent's socket
while living on: each time nothing may stay frozen, the parent must
name how the engine ended, start another, and the next transaction
must freeze and thaw both.  A write that blocks on a frozen filesystem
is the test of "frozen" (it lands once thawed), as in priv_harness.py.
"""
import os
import signal
import socket
import subprocess
import sys
import threading
import time

PRIVSEP, GUARD, USER, ROOT = sys.argv[1:5]
ALLOWED = ["/mnt/a", "/mnt/b"]
SOCK = "/tmp/privsep.sock"
LOG = "/tmp/privsep.log"
FAILFREEZE = os.path.join(os.path.dirname(PRIVSEP), "failfreeze.so")

nfail = 0


def ok(cond, what):
    global nfail
    print(("ok - " if cond else "not ok - ") + what, flush=True)
    if not cond:
        nfail += 1


def say(cmd, timeout=20):
    """One command to the engine, its one-line answer."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(SOCK)
        s.sendall(cmd.encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            d = s.recv(512)
            if not d:
                break
            data += d
        return data.decode().strip()
    except OSError as e:
        return "io error: %s" % e
    finally:
        s.close()


def writer(mnt, tag):
    return subprocess.Popen(["sh", "-c", "echo %s > %s/w-%s" %
                             (tag, mnt, tag)])


def lands(p, secs):
    try:
        p.wait(secs)
        return True
    except subprocess.TimeoutExpired:
        return False


def all_writable(tag):
    ws = [writer(m, tag) for m in ALLOWED]
    return all(lands(w, 5) for w in ws)


def status(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict(l.rstrip("\n").split(":\t", 1) for l in f if ":\t" in l)


def engine_pid():
    a = say("pid").split()
    return int(a[1]) if len(a) >= 2 and a[0] == "pid" else None


def log_has(text, secs=5):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        with open(LOG, "rb") as f:
            if text in f.read().decode(errors="replace"):
                return True
        time.sleep(0.1)
    return False


def next_txn_good(what):
    a = say("freeze")
    ws = [writer(m, "next") for m in ALLOWED]
    time.sleep(0.5)
    blocked = all(w.poll() is None for w in ws)
    b = say("thaw")
    landed = all(lands(w, 5) for w in ws)
    ok(a == "frozen 2" and blocked and b == "thawed 2" and landed,
       "%s: the next transaction freezes both (%s, writes blocked: %s) "
       "and thaws them (%s)" % (what, a, blocked, b))


class Parent:
    def __init__(self, env=None):
        self.log = open(LOG, "ab")
        self.proc = subprocess.Popen(
            [PRIVSEP, "-ds", "-g", GUARD, "-u", USER, "-r", ROOT,
             "-l", SOCK, "-o", "mounts=" + ",".join(ALLOWED),
             "-o", "max_frozen=20"],
            stdout=self.log, stderr=self.log, env=env)
        for _ in range(100):
            if os.path.exists(SOCK):
                break
            time.sleep(0.05)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


# --- the engine as it runs ---------------------------------------------
p = Parent()
pid = engine_pid()
ok(pid is not None and pid != p.proc.pid, "the engine answers (pid %s)"
   % pid)
if pid is not None:
    st = status(pid)
    want_uid = subprocess.run(["id", "-u", USER], capture_output=True,
                              text=True).stdout.strip()
    ok(st.get("Uid", "").split() == [want_uid] * 4 and
       st.get("CapEff") == "0000000000000000" and
       st.get("NoNewPrivs") == "1" and st.get("Seccomp") == "2" and
       os.readlink("/proc/%d/root" % pid) == ROOT,
       "the engine: uid %s (%s), CapEff %s, NoNewPrivs %s, Seccomp %s, "
       "root %s" % (st.get("Uid"), USER, st.get("CapEff"),
                    st.get("NoNewPrivs"), st.get("Seccomp"),
                    os.readlink("/proc/%d/root" % pid)))
    fds = sorted(int(f) for f in os.listdir("/proc/%d/fd" % pid))
    ok(len(fds) <= 5, "the engine holds only 0-2, its socket and the "
       "listening socket (%s)" % fds)
pst = status(p.proc.pid)
ok(pst.get("Seccomp") == "2" and pst.get("Uid", "").split()[0] == "0",
   "the parent: root, Seccomp %s" % pst.get("Seccomp"))
next_txn_good("the first engine")

# --- kill -9 while frozen ---------------------------------------------
a = say("freeze")
ws = [writer(m, "kill9") for m in ALLOWED]
time.sleep(0.5)
frozen = a == "frozen 2" and all(w.poll() is None for w in ws)
t0 = time.monotonic()
os.kill(pid, signal.SIGKILL)
landed = all(lands(w, 5) for w in ws)
ok(frozen and landed, "kill -9 of the engine while it holds /mnt/a and "
   "/mnt/b frozen: thawed, the writes landed in %.2f s" %
   (time.monotonic() - t0))
ok(log_has("the engine (pid %d) killed by SIGKILL" % pid),
   "the parent named the signal (SIGKILL)")
pid2 = engine_pid()
ok(pid2 is not None and pid2 != pid, "another engine runs (pid %s), "
   "answering %.0f ms after the kill (backoff 100 ms)" %
   (pid2, (time.monotonic() - t0) * 1000))
next_txn_good("after kill -9")

# --- SIGSYS from the engine's own filter, while frozen -----------------
a = say("freeze")
b = say("forbidden")
ok(a == "frozen 2" and (b == "" or b.startswith("io error")),
   "the engine attempts a forbidden call while frozen: no answer (%r)" % b)
ok(all_writable("sigsys"), "nothing frozen after its SIGSYS")
ok(log_has("the engine (pid %d) killed by SIGSYS" % pid2) and
   log_has("outside its seccomp list"),
   "the parent named the signal (SIGSYS, a forbidden system call)")
pid3 = engine_pid()
ok(pid3 is not None and pid3 != pid2, "another engine runs (pid %s)" % pid3)
next_txn_good("after SIGSYS")

# --- an engine that closes its socket and lives on ---------------------
b = say("close")
time.sleep(0.5)
# its answer may be cut short by the SIGKILL: the log is the proof
ok(b in ("closed", "") and
   log_has("the engine (pid %d) killed by SIGKILL" % pid3),
   "an engine that closes its end of the parent's socket and lives on: "
   "killed, reaped (%r)" % b)
pid4 = engine_pid()
ok(pid4 is not None and pid4 != pid3, "another engine runs (pid %s)" % pid4)
b = say("exit")
ok(log_has("the engine (pid %d) exited 3" % pid4),
   "an engine that exits: its status logged")
pid5 = engine_pid()
ok(pid5 is not None and pid5 != pid4, "another engine runs (pid %s)" % pid5)
with open(LOG, "rb") as f:
    delays = [int(l.rsplit("restarting in ", 1)[1].split()[0])
              for l in f.read().decode(errors="replace").splitlines()
              if "restarting in " in l]
ok(delays == [100, 200, 400, 800],
   "each quick death doubles the backoff (%s ms)" % delays)
next_txn_good("after four deaths")
rc = p.stop()
ok(rc == 0 and all_writable("stopped"), "SIGTERM: the parent stops, 0 (%d)"
   % rc)
try:
    os.kill(pid5, 0)
    gone5 = False
except ProcessLookupError:
    gone5 = True
ok(gone5, "and its engine (pid %d) is gone" % pid5)

# --- kill -9 while the parent is in the middle of the FREEZE -----------
env = dict(os.environ, LD_PRELOAD=FAILFREEZE, HVVSS_FREEZE_DELAY_MS="1500")
p = Parent(env=env)
pid = engine_pid()
got = {}
t = threading.Thread(target=lambda: got.update(a=say("freeze")))
t.start()
time.sleep(0.5)
os.kill(pid, signal.SIGKILL)
t.join(10)
time.sleep(2.5)  # the FIFREEZE comes back, and is undone
ok(all_writable("midfreeze"),
   "kill -9 of the engine during its FREEZE (%r): the freeze is undone "
   "once back, nothing frozen" % got.get("a"))
ok(log_has("gone during FREEZE") and
   log_has("the engine (pid %d) killed by SIGKILL" % pid),
   "the parent waited for the FREEZE, undid it, then reaped the engine")
pid2 = engine_pid()
ok(pid2 is not None and pid2 != pid, "another engine runs (pid %s)" % pid2)
next_txn_good("after kill -9 mid-FREEZE")
p.stop()

# --- kill -9 of the parent while frozen: the engine dies with it, and
# the guard, which holds no copy of its socket in the engine, sees the
# parent's end close and thaws ---------------------------------------
p = Parent()
pid = engine_pid()
a = say("freeze")
ws = [writer(m, "parent9") for m in ALLOWED]
time.sleep(0.5)
frozen = a == "frozen 2" and all(w.poll() is None for w in ws)
t0 = time.monotonic()
p.proc.kill()
p.proc.wait()
landed = all(lands(w, 5) for w in ws)
ok(frozen and landed, "kill -9 of the parent while frozen: the guard "
   "thawed both, the writes landed in %.2f s" % (time.monotonic() - t0))
gone = False
for _ in range(40):
    try:
        with open("/proc/%d/stat" % pid) as f:
            gone = f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        gone = True
    if gone:
        break
    time.sleep(0.05)
ok(gone, "and the engine (pid %d) died with its parent (PDEATHSIG)" % pid)

sys.exit(1 if nfail else 0)
