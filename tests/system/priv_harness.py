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
ALLOWED = ["/mnt/a", "/mnt/b"]
OTHER = "/mnt/c"
MAXF_S = 10

REQ = struct.Struct("=HHIQQ")  # version, type, arg, txid, reserved
REP = struct.Struct("=HHiQII160s")
DEVICE_T, CHECK, FREEZE, THAW, HOOKS_T, ARM, DISARM = range(1, 8)
R_LENGTH, R_VERSION, R_TYPE, R_RESERVED, R_ARG, R_TXID, R_ORDER, \
    R_LEASE, R_BUSY = range(1, 10)

nfail = 0


def ok(cond, what):
    global nfail
    print(("ok - " if cond else "not ok - ") + what, flush=True)
    if not cond:
        nfail += 1


def req(t, txid=0, arg=0, version=1, reserved=0):
    return REQ.pack(version, t, arg, txid, reserved)


class Parent:
    def __init__(self, *extra):
        self.me, child = socket.socketpair(socket.AF_UNIX,
                                           socket.SOCK_SEQPACKET)
        self.log = open("/tmp/priv.log", "ab")
        self.proc = subprocess.Popen(
            [PRIV, "-ds", "-g", GUARD, "-o", "mounts=" + ",".join(ALLOWED),
             "-o", "hooks_dir=" + HOOKS, "-o", "device=" + DEVICE,
             "-o", "max_frozen=%d" % MAXF_S, "-o", "hook_timeout=5",
             *extra, str(child.fileno())],
            pass_fds=[child.fileno()], stdout=self.log, stderr=self.log)
        child.close()
        self.me.settimeout(30)
        # the first answer comes once the filter is loaded
        status, _v, _r, fds = self.ask(req(DEVICE_T))
        for fd in fds:
            os.close(fd)
        with open("/proc/%d/status" % self.proc.pid) as f:
            s = dict(l.rstrip("\n").split(":\t", 1) for l in f if ":\t" in l)
        self.seccomp, self.nnp = s.get("Seccomp"), s.get("NoNewPrivs")

    def ask(self, raw, fds=()):
        """Send raw bytes; return (status, value, reason, fds)."""
        if fds:
            self.me.sendmsg([raw], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                     struct.pack("=%di" % len(fds), *fds))])
        else:
            self.me.send(raw)
        data, anc, _, _ = self.me.recvmsg(4096, socket.CMSG_SPACE(4 * 4))
        got = []
        for lvl, typ, d in anc:
            if lvl == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                got += struct.unpack("=%di" % (len(d) // 4), d)
        if len(data) != REP.size:
            return None, 0, "reply of %d bytes" % len(data), got
        _v, _t, status, _txid, value, _r, reason = REP.unpack(data)
        return status, value, reason.split(b"\0")[0].decode(), got

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
st, n, reason, _f = p.ask(req(DISARM, 2))
ok(st == 0, "DISARM txn 2 once thawed")
ok(all_writable("after"), "nothing frozen after the transaction")

# --- requests sent at once wait their turn ----------------------------
for r in (req(CHECK, 3), req(FREEZE, 3), req(THAW, 3)):
    p.me.send(r)
got = []
for _ in range(3):
    d = p.me.recv(4096)
    _v, t, status, txid, value, _r, _reason = REP.unpack(d)
    got.append((t, status, value))
ok(got == [(CHECK, 0, 2), (FREEZE, 0, 2), (THAW, 0, 2)],
   "CHECK, FREEZE, THAW sent at once: done one after the other, in "
   "order (%s)" % got)
ok(all_writable("pipelined"), "nothing frozen after them")

# --- the engine dies while frozen: the parent thaws -------------------
st, n, _r, _f = p.ask(req(CHECK, 4))
st2, n2, _r, _f = p.ask(req(FREEZE, 4))
ws = {m: writer(m, "death") for m in ALLOWED}
time.sleep(0.5)
ok(st == 0 and st2 == 0 and all(w.poll() is None for w in ws.values()),
   "txn 4 frozen (%d filesystems)" % n2)
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
   "the engine's end closed right after sending FREEZE: the parent froze, "
   "found no one to answer, thawed, and exited 0 (%.2f s)" %
   (time.monotonic() - t3))
with open("/tmp/priv.log", "rb") as f:
    tail = f.read().decode(errors="replace").splitlines()[-6:]
ok(any("engine is gone while txn 1 holds 2 filesystems frozen: thawing"
       in l for l in tail),
   "and said it thawed the 2 filesystems for the engine that is gone")

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
p.close()

sys.exit(1 if nfail else 0)
