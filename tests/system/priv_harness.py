#!/usr/bin/env python3
"""priv_harness.py: an engine, honest and compromised, speaking the
privileged parent's protocol (daemon/privproto.h) to build/tests/hv_vss_priv.

Run inside the sandbox by t_priv.sh, with /mnt/a and /mnt/b allow-listed
and /mnt/c mounted but not:

    priv_harness.py HV_VSS_PRIV GUARD HOOKS_DIR DEVICE

Prints "ok - ..." / "not ok - ..." lines, and "# ..." comments.  Every
crafted message must be refused with its own reason and leave every
filesystem writable; a valid transaction freezes exactly /mnt/a and
/mnt/b; the parent thaws when the engine's end closes while frozen.
A writer that blocks on a frozen filesystem is the test of "frozen"
(it lands once thawed), the way t_guard.sh tests it.
"""
import os
import socket
import struct
import subprocess
import sys
import time

PRIV, GUARD, HOOKS, DEVICE = sys.argv[1:5]
SLOWHOOKS = HOOKS + "-slow"  # 10-slow: sleeps 30 s in "freeze"
FAILFREEZE = os.path.join(os.path.dirname(PRIV), "failfreeze.so")
METRICS_FILE = "/tmp/hv_vss.prom"
ALLOWED = ["/mnt/a", "/mnt/b"]
OTHER = "/mnt/c"
MAXF_S = 10

REQ = struct.Struct("=HHIQQ")  # version, type, arg, txid, reserved
REP = struct.Struct("=HHiQII160s")
DEVICE_T, CHECK, FREEZE, THAW, HOOKS_T, ARM, DISARM, CANCEL, COMM, PLAN, \
    METRICS = range(1, 12)
EV_LEASE, EV_THAWED, EV_GUARD_DIED = range(64, 67)
R_LENGTH, R_VERSION, R_TYPE, R_RESERVED, R_ARG, R_TXID, R_ORDER, \
    R_LEASE, R_BUSY, R_TEXT = range(1, 11)
ECANCELED, ENOENT = 125, 2

nfail = 0


def ok(cond, what):
    global nfail
    print(("ok - " if cond else "not ok - ") + what, flush=True)
    if not cond:
        nfail += 1


def req(t, txid=0, arg=0, version=1, reserved=0):
    return REQ.pack(version, t, arg, txid, reserved)


class Parent:
    def __init__(self, *extra, hooks=HOOKS, env=None):
        self.me, child = socket.socketpair(socket.AF_UNIX,
                                           socket.SOCK_SEQPACKET)
        self.log = open("/tmp/priv.log", "ab")
        self.events = []
        self.early = []  # replies that came before the one awaited
        self.proc = subprocess.Popen(
            [PRIV, "-ds", "-g", GUARD, "-o", "mounts=" + ",".join(ALLOWED),
             "-o", "hooks_dir=" + hooks, "-o", "device=" + DEVICE,
             "-o", "max_frozen=%d" % MAXF_S, "-o", "hook_timeout=5",
             "-o", "metrics_file=" + METRICS_FILE,
             *extra, str(child.fileno())],
            pass_fds=[child.fileno()], stdout=self.log, stderr=self.log,
            env=env)
        child.close()
        self.me.settimeout(30)
        # the first answer comes once the filter is loaded
        status, _v, _r, fds = self.ask(req(DEVICE_T))
        for fd in fds:
            os.close(fd)
        with open("/proc/%d/status" % self.proc.pid) as f:
            s = dict(l.rstrip("\n").split(":\t", 1) for l in f if ":\t" in l)
        self.seccomp, self.nnp = s.get("Seccomp"), s.get("NoNewPrivs")

    def recv(self):
        """The next reply, events kept aside: (type, status, value,
        reason, fds, text)."""
        while True:
            data, anc, _, _ = self.me.recvmsg(65536,
                                              socket.CMSG_SPACE(4 * 4))
            got = []
            for lvl, typ, d in anc:
                if lvl == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                    got += struct.unpack("=%di" % (len(d) // 4), d)
            if len(data) < REP.size:
                return None, None, 0, "reply of %d bytes" % len(data), \
                    got, b""
            _v, t, status, _txid, value, _r, reason = \
                REP.unpack(data[:REP.size])
            reason = reason.split(b"\0")[0].decode()
            if EV_LEASE <= t <= EV_GUARD_DIED:
                self.events.append((t, status, value, reason))
                continue
            return t, status, value, reason, got, data[REP.size:]

    def reply_to(self, t):
        """The reply to a request of type t, others kept aside."""
        for i, r in enumerate(self.early):
            if r[0] == t:
                return self.early.pop(i)
        while True:
            r = self.recv()
            if r[0] == t or r[0] is None or t is None:
                return r
            self.early.append(r)

    def ask(self, raw, fds=()):
        """Send raw bytes; return (status, value, reason, fds)."""
        self.send(raw, fds)
        t = struct.unpack("=H", raw[2:4])[0] if len(raw) >= 4 else None
        _t, status, value, reason, got, self.text = self.reply_to(
            t if 1 <= (t or 0) <= METRICS else None)
        return status, value, reason, got

    def send(self, raw, fds=()):
        if fds:
            self.me.sendmsg([raw], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                     struct.pack("=%di" % len(fds), *fds))])
        else:
            self.me.send(raw)

    def wait_event(self, t, secs):
        end = time.monotonic() + secs
        while not any(e[0] == t for e in self.events):
            left = end - time.monotonic()
            if left <= 0:
                return None
            self.me.settimeout(left)
            try:
                r = self.recv()
                self.early.append(r)
            except socket.timeout:
                pass
            finally:
                self.me.settimeout(30)
        return next(e for e in self.events if e[0] == t)

    def close(self):
        self.me.close()
        try:
            return self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


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
    ws = [writer(m, tag) for m in ALLOWED + [OTHER]]
    return all(lands(w, 3) for w in ws)


def refused(p, raw, code, what, pattern=None):
    status, _v, reason, _f = p.ask(raw)
    ok(status == code and (pattern is None or pattern in reason),
       "%s: refused (%d, want %d): %s" % (what, status or 0, code, reason))


# --- a compromised engine: crafted messages, nothing frozen ------------
p = Parent()
ok(p.seccomp == "2" and p.nnp == "1",
   "the parent serves under its seccomp filter (Seccomp %s, NoNewPrivs %s)"
   % (p.seccomp, p.nnp))
status, _v, reason, fds = p.ask(req(DEVICE_T))
same = bool(fds) and os.fstat(fds[0]).st_ino == os.stat(DEVICE).st_ino
ok(status == 0 and same,
   "DEVICE: the parent opens its own device and passes the fd (%s)" %
   (reason or "ok"))
for fd in fds:
    os.close(fd)
refused(p, req(99, 1), R_TYPE, "an unknown type (99)")
refused(p, req(0, 1), R_TYPE, "type 0")
refused(p, req(CHECK, 1, version=7), R_VERSION, "another version")
refused(p, req(CHECK, 1) + b"/mnt/c\0", R_LENGTH,
        "a path smuggled after a CHECK", "bytes")
refused(p, req(CHECK, 1) + b"x" * 4000, R_LENGTH, "an oversize message")
refused(p, req(CHECK, 1)[:10], R_LENGTH, "a short message")
refused(p, req(CHECK, 1, reserved=0x2f6d6e74), R_RESERVED,
        "bytes of a path in the reserved field")
refused(p, req(THAW, 7), R_TXID, "THAW of a transaction never frozen")
refused(p, req(FREEZE, 1), R_TXID, "FREEZE with no CHECK")
refused(p, req(CHECK, 1, arg=5), R_ARG, "CHECK with an argument")
st, _v, reason, _f = p.ask(req(CHECK, 1), fds=[os.open("/", os.O_RDONLY)])
ok(st == 0, "a CHECK that comes with a descriptor is done, the fd "
   "closed unread (%s)" % (reason or "ok"))
refused(p, req(THAW, 1), R_ORDER, "THAW of a transaction planned, never "
        "frozen")
refused(p, req(ARM, 1, 1000), R_ORDER, "ARM before FREEZE")
ok(all_writable("crafted"),
   "after the crafted messages nothing is frozen (a write lands on "
   "/mnt/a, /mnt/b and /mnt/c)")

# --- the honest engine's transaction -----------------------------------
st, n, reason, _f = p.ask(req(CHECK, 2))
ok(st == 0 and n == 2, "CHECK txn 2: the parent's own plan: %d targets "
   "(want 2: /mnt/a, /mnt/b) %s" % (n, reason))
st, n, reason, _f = p.ask(req(HOOKS_T, 2, 0))
ok(st == 0 and n == 1, "HOOKS freeze txn 2: its hook ran (%d) %s" %
   (n, reason))
refused(p, req(FREEZE, 1), R_TXID, "FREEZE of the previous transaction")
t0 = time.monotonic()
st, n, reason, _f = p.ask(req(FREEZE, 2))
ok(st == 0 and n == 2, "FREEZE txn 2: froze %d filesystems %s" %
   (n, reason))
ws = {m: writer(m, "frozen") for m in ALLOWED + [OTHER]}
time.sleep(1)
ok(all(ws[m].poll() is None for m in ALLOWED),
   "a write to /mnt/a and to /mnt/b blocks: frozen")
ok(ws[OTHER].poll() is not None, "a write to /mnt/c lands: not in the "
   "allow-list, not frozen")
refused(p, req(ARM, 2, 2 * MAXF_S * 1000), R_LEASE,
        "ARM with a lease above max_frozen")
refused(p, req(ARM, 2, 0), R_LEASE, "ARM with lease 0")
refused(p, req(DISARM, 2), R_ORDER, "DISARM while frozen", "lease stands")
refused(p, req(CHECK, 3), R_ORDER, "CHECK of a new transaction while frozen")
refused(p, req(THAW, 3), R_TXID, "THAW of another transaction")
refused(p, req(HOOKS_T, 2, 1), R_ORDER, "thaw hooks while still frozen")
st, n, reason, _f = p.ask(req(ARM, 2, 4000))
ok(st == 0, "ARM txn 2 with 4 s, within max_frozen (%s)" % (reason or "ok"))
ok(all(ws[m].poll() is None for m in ALLOWED),
   "the refusals thawed nothing: /mnt/a and /mnt/b still block")
st, n, reason, _f = p.ask(req(THAW, 2))
ok(st == 0 and n == 2, "THAW txn 2: thawed %d %s" % (n, reason))
ok(all(lands(ws[m], 3) for m in ALLOWED),
   "the blocked writes landed after THAW (%.1f s frozen)" %
   (time.monotonic() - t0))
refused(p, req(THAW, 2), R_ORDER, "a second THAW")
st, n, reason, _f = p.ask(req(HOOKS_T, 2, 1))
ok(st == 0 and n == 1, "HOOKS thaw txn 2 (%d ran) %s" % (n, reason))
with open("/tmp/priv.log", "rb") as f:
    plog = f.read().decode(errors="replace")
ok("hook 10-note (freeze): hook freeze" in plog and
   "hook 10-note (thaw): hook thaw" in plog,
   "what the hooks printed is logged by the parent after the thaw hooks")
st, n, reason, _f = p.ask(req(DISARM, 2))
ok(st == 0, "DISARM txn 2 once thawed")
ok(all_writable("after"), "nothing frozen after the transaction")

# --- a stage sent while another runs is refused, never run alongside ---
for r in (req(CHECK, 3), req(FREEZE, 3), req(THAW, 3)):
    p.me.send(r)
got = []
for _ in range(3):
    t, status, value, _r, _f, _x = p.recv()
    got.append((t, status, value))
ok(got == [(CHECK, 0, 2), (THAW, R_BUSY, 0), (FREEZE, 0, 2)],
   "CHECK, FREEZE, THAW sent at once: CHECK done, THAW refused busy while "
   "FREEZE runs, FREEZE done (%s)" % got)
st, n, reason, _f = p.ask(req(THAW, 3))
ok(st == 0 and n == 2, "THAW txn 3 once FREEZE is done (%d) %s" %
   (n, reason))
ok(all_writable("pipelined"), "nothing frozen after them")

# --- side requests: COMM, PLAN, METRICS ---------------------------------
st, n, reason, _f = p.ask(req(COMM, 0, os.getpid()))
ok(st == 0 and n == os.getpid() and reason.startswith("python3"),
   "COMM: the parent names process %d: %r" % (os.getpid(), reason))
refused(p, req(COMM, 0, 0), R_ARG, "COMM of pid 0")
refused(p, req(COMM, 0, 5 << 22), R_ARG, "COMM of a pid above PID_MAX")
refused(p, req(COMM, 5, 1), R_TXID, "COMM naming a transaction")
st, n, reason, _f = p.ask(req(COMM, 0, 4194000))
ok(st == -ENOENT, "COMM of a process that does not exist: %d %s" %
   (st, reason))
st, n, reason, _f = p.ask(req(PLAN))
lines = p.text.decode().splitlines()
ok(st == 0 and n == len(p.text) and b"\0" not in p.text and
   any(l.startswith("target\t/mnt/a\text4\t") for l in lines) and
   any(l.startswith("target\t/mnt/b\text4\t") for l in lines) and
   any(l.startswith("skip\t/mnt/c\text4\t") for l in lines),
   "PLAN: the parent's plan as text, %d bytes: /mnt/a and /mnt/b "
   "targets, /mnt/c skipped (%s)" % (n, [l for l in lines if "/mnt/" in l]))
refused(p, req(PLAN, 0, 1), R_ARG, "PLAN with an argument")
text = b"hvvss_test_metric 42\n"
st, n, reason, _f = p.ask(req(METRICS, 0, len(text)) + text)
for _ in range(50):
    if os.path.exists(METRICS_FILE):
        break
    time.sleep(0.05)
try:
    with open(METRICS_FILE, "rb") as f:
        got_m = f.read()
except OSError as e:
    got_m = str(e).encode()
ok(st == 0 and got_m == text,
   "METRICS: the parent wrote the engine's text to its own metrics_file "
   "(%r)" % got_m)
refused(p, req(METRICS, 0, 5) + b"a\0b\n\n", R_TEXT, "METRICS with a NUL")
refused(p, req(METRICS, 0, 3) + b"ab", R_LENGTH,
        "METRICS with less text than it says")
refused(p, req(METRICS, 0, 40000) + b"x\n", R_ARG,
        "METRICS of more than PRIV_METRICS_MAX")
refused(p, req(CANCEL, 3), R_ORDER, "CANCEL with nothing running")

# --- the mount table changes: nothing unasked (no timer wakes the
# parent), and nothing arrives while it is idle --------------------------
os.makedirs("/tmp/mnt-ev", exist_ok=True)
subprocess.run(["mount", "-t", "tmpfs", "none", "/tmp/mnt-ev"], check=False)
p.me.settimeout(2)
try:
    got = p.me.recv(4096)
except socket.timeout:
    got = None
p.me.settimeout(30)
subprocess.run(["umount", "/tmp/mnt-ev"], check=False)
ok(got is None, "a tmpfs mounted: the idle parent sends nothing (%r)" % (got,))

# --- a flood from an engine that does not read its replies -------------
p.me.settimeout(10)
for i in range(3000):
    p.me.send(req(COMM, 0, os.getpid()))
for i in range(3000):
    p.me.send(req(99, 1))
p.me.settimeout(1)
ndrained = 0
try:
    while True:
        p.me.recv(65536)
        ndrained += 1
except socket.timeout:
    pass
p.me.settimeout(30)
p.early, p.events = [], []
st, n, _r, _f = p.ask(req(CHECK, 4))
st2, n2, _r, _f = p.ask(req(FREEZE, 4))
st3, n3, _r, _f = p.ask(req(THAW, 4))
with open("/tmp/priv.log", "rb") as f:
    plog = f.read().decode(errors="replace")
nrefusal_lines = plog.count("priv: refused: type 99")
ok(st == 0 and st2 == 0 and n2 == 2 and st3 == 0 and
   "replies or events lost: the engine did not read them" in plog and
   nrefusal_lines < 200,
   "6000 requests sent without reading a reply: the parent never blocked "
   "(%d replies read, the rest lost and said so once), logged %d of the "
   "3000 refusals, and the next transaction froze and thawed %d" %
   (ndrained, nrefusal_lines, n3))
ok(all_writable("flood"), "nothing frozen after the flood")

# --- the engine dies while frozen: the parent thaws -------------------
st, n, _r, _f = p.ask(req(CHECK, 5))
st2, n2, _r, _f = p.ask(req(FREEZE, 5))
ws = {m: writer(m, "death") for m in ALLOWED}
time.sleep(0.5)
ok(st == 0 and st2 == 0 and all(w.poll() is None for w in ws.values()),
   "txn 5 frozen (%d filesystems)" % n2)
t1 = time.monotonic()
rc = p.close()
ok(all(lands(w, 5) for w in ws.values()),
   "the engine's end closed while frozen: the parent thawed, the writes "
   "landed in %.2f s" % (time.monotonic() - t1))
ok(rc == 0, "and the parent exited 0 (%d)" % rc)

# --- the engine dies mid-FREEZE, before reading the reply --------------
p = Parent()
st, n, _r, _f = p.ask(req(CHECK, 1))
p.me.send(req(FREEZE, 1))
t3 = time.monotonic()
rc = p.close()
ok(st == 0 and rc == 0 and all_writable("midfreeze"),
   "the engine's end closed right after sending FREEZE: the parent "
   "cancelled the running freeze, undone when back, and exited 0 (%.2f s)"
   % (time.monotonic() - t3))
with open("/tmp/priv.log", "rb") as f:
    tail = f.read().decode(errors="replace").splitlines()[-8:]
# which comes first, the end of the socket or the freezer's answer, is
# the event loop's choice: either way nothing may stay frozen
ok((any("engine is gone during FREEZE txn 1: undone once it is back"
        in l for l in tail) and any("freeze failed: cancelled" in l
                                    for l in tail)) or
   any("engine is gone while txn 1 holds 2 filesystems frozen: thawing"
       in l for l in tail),
   "and said it undid (or thawed) the freeze for the engine that is gone")

# --- the guard: a stuck engine gets nothing past the lease -------------
p = Parent()
p.ask(req(CHECK, 1))
st, _n, _r, _f = p.ask(req(FREEZE, 1))
st2, _n, reason, _f = p.ask(req(ARM, 1, 1000))
ws = {m: writer(m, "lease") for m in ALLOWED}
t2 = time.monotonic()
# the engine never thaws: the guard does, at the lease plus its grace
landed = all(lands(w, 10) for w in ws.values())
ok(st == 0 and st2 == 0 and landed,
   "an engine that armed 1 s and never thawed: the guard thawed in "
   "%.1f s" % (time.monotonic() - t2))
st, n, reason, _f = p.ask(req(THAW, 1))
ok(st == 0, "the late THAW is answered (%s)" % (reason or "ok"))
lease = [e for e in p.events if e[0] == EV_LEASE]
thawed = sorted(e[3] for e in p.events if e[0] == EV_THAWED)
ok(len(lease) == 1 and lease[0][2] == 2 and thawed == ALLOWED,
   "the engine was told: THAWED %s, then LEASE (%s)" % (thawed, lease))
p.close()

# --- CANCEL of a running freeze: nothing left frozen -------------------
env = dict(os.environ, LD_PRELOAD=FAILFREEZE, HVVSS_FREEZE_DELAY_MS="1500")
p = Parent(env=env)
p.ask(req(CHECK, 1))
p.send(req(FREEZE, 1))
time.sleep(0.3)
tc = time.monotonic()
st, _n, reason, _f = p.ask(req(CANCEL, 1))
ok(st == 0, "CANCEL during FREEZE txn 1 is answered at once (%.2f ms: %s)"
   % ((time.monotonic() - tc) * 1000, reason))
refused(p, req(THAW, 1), R_BUSY, "THAW while the FREEZE runs",
        "while FREEZE txn 1")
_t, st, n, reason, _f, _x = p.reply_to(FREEZE)  # the FREEZE's own
ok(st == -ECANCELED, "the FREEZE then fails, cancelled (%d: %s)" %
   (st, reason))
ok(all_writable("cancelled"), "nothing frozen after the cancelled FREEZE")
refused(p, req(THAW, 1), R_ORDER, "THAW of the cancelled FREEZE")
st, n, reason, _f = p.ask(req(CHECK, 2))
st2, n2, reason2, _f = p.ask(req(FREEZE, 2))
st3, n3, _r, _f = p.ask(req(THAW, 2))
ok(st == 0 and st2 == 0 and n2 == 2 and st3 == 0,
   "the next transaction freezes and thaws both (%s)" % (reason2 or "ok"))
p.close()

# --- CANCEL of a running hooks stage -----------------------------------
p = Parent(hooks=SLOWHOOKS)
p.ask(req(CHECK, 1))
p.send(req(HOOKS_T, 1, 0))
for _ in range(100):
    if os.path.exists("/tmp/slowhook.pid"):
        break
    time.sleep(0.05)
time.sleep(0.2)
refused(p, req(FREEZE, 1), R_BUSY, "FREEZE while the freeze hooks run",
        "while HOOKS")
st, _n, reason, _f = p.ask(req(CANCEL, 1))
_t, st2, _n, reason2, _f, _x = p.reply_to(HOOKS_T)  # the stage's own
try:
    with open("/tmp/slowhook.pid") as f:
        hpid = int(f.read())
    time.sleep(0.5)
    hook_gone = not os.path.exists("/proc/%d" % hpid) or \
        open("/proc/%d/stat" % hpid).read().split()[2] == "Z"
except (OSError, ValueError):
    hook_gone = False
ok(st == 0 and st2 == -ECANCELED and hook_gone,
   "CANCEL during the freeze hooks: answered (%s), the stage fails "
   "cancelled (%d), the hook is killed (%s)" % (reason, st2, hook_gone))
st, n, reason, _f = p.ask(req(HOOKS_T, 1, 2))
ok(st == 0, "and the abort hooks may run then (%d ran: %s)" % (n, reason))
os.unlink("/tmp/slowhook.pid")

# --- the engine dies while its freeze hooks had run: abort hooks -------
p = Parent()
p.ask(req(CHECK, 1))
st, n, _r, _f = p.ask(req(HOOKS_T, 1, 0))
rc = p.close()
with open("/tmp/priv.log", "rb") as f:
    tail = f.read().decode(errors="replace").splitlines()[-12:]
ok(st == 0 and rc == 0 and
   any("running the abort hooks" in l for l in tail) and
   any("abort hooks: 1 ran" in l for l in tail),
   "the engine gone after its freeze hooks: the parent ran the abort hooks")


sys.exit(1 if nfail else 0)
