#!/usr/bin/python3
"""Every kernel rule of doc/DESIGN.md ("Kernel rules"), checked against
hv_vss_sim with a scripted guest; and every rule of FreeBSD's driver
(doc/FREEBSD.md), the fbsd_* rules, against hv_vss_sim -F, whose two
devices this script drives itself through their ioctls.

Run inside the sandbox (it mounts the emulated device at
/dev/vmbus/hv_vss): sim_rules.py BUILD_DIR [RULE...].  Each rule runs the
sim with a guest that is this same script in "guest MODE" form, then
checks the guest's own observations (printed as JSON on fd 3... kept
simple: a result file) and the sim's JSON report.  Prints "ok - rule" or
"not ok - rule: why" per rule; exits 1 if any failed.
"""
import errno
import fcntl
import json
import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time

DEV = os.environ.get("HVVSS_DEVICE", "/dev/vmbus/hv_vss")
OPS = {0: "CREATE", 1: "DELETE", 2: "HOT_BACKUP", 3: "GET_DM_INFO",
       4: "BU_COMPLETE", 5: "FREEZE", 6: "THAW", 7: "AUTO_RECOVER"}
S_OK, E_FAIL = 0, 0x80004005
NOTES = os.environ.get("HVVSS_NOTES", "/tmp/guest-notes.json")


# ---------------------------------------------------------------- guest side

def reply(fd, hresult):
    os.write(fd, struct.pack("<IIi", hresult, 0, 0))


def register(fd):
    os.write(fd, bytes([129]) + bytes(11))
    ver = os.read(fd, 12)
    return ver


def next_msg(fd, timeout=10.0):
    r, _, _ = select.select([fd], [], [], timeout)
    if not r:
        return None
    return os.read(fd, 12)


def guest(mode):
    notes = {"mode": mode, "ops": [], "errors": []}

    def save():
        with open(NOTES + ".tmp", "w") as f:
            json.dump(notes, f)
        os.rename(NOTES + ".tmp", NOTES)

    def err(what, e):
        notes["errors"].append([what, e.errno if hasattr(e, "errno")
                                else str(e)])

    fd = os.open(DEV, os.O_RDWR)
    if mode == "handshake":
        r, _, _ = select.select([fd], [], [], 0)
        notes["readable_before_register"] = bool(r)
        try:
            os.open(DEV, os.O_RDWR)
            notes["second_open"] = "ok"
        except OSError as e:
            notes["second_open"] = e.errno
        for n in (11, 13, 1):
            try:
                os.write(fd, bytes([129]) + bytes(n - 1))
                notes["write_%d" % n] = "ok"
            except OSError as e:
                notes["write_%d" % n] = e.errno
        os.write(fd, bytes([129]) + bytes(11))
        r, _, _ = select.select([fd], [], [], 2)
        notes["readable_after_register"] = bool(r)
        try:
            os.read(fd, 3)
            notes["short_read"] = "ok"
        except OSError as e:
            notes["short_read"] = e.errno
        ver = os.read(fd, 12)
        notes["register_reply"] = list(ver)
        r, _, _ = select.select([fd], [], [], 0)
        notes["readable_when_idle"] = bool(r)
    else:
        register(fd)
    save()
    if mode == "blocked-read":
        os.read(fd, 12)         # never returns: killed by the test
        return
    if mode == "removal":
        removal(fd, notes, save)
        return
    if mode == "interrupted-read":
        def on_alarm(sig, frame):
            raise TimeoutError()
        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        t0 = time.monotonic()
        try:
            os.read(fd, 12)
            notes["interrupted"] = "read returned"
        except TimeoutError:
            notes["interrupted"] = "EINTR"
        notes["interrupt_ms"] = (time.monotonic() - t0) * 1000
        save()
    reopened = False
    while True:
        m = next_msg(fd, 5.0)
        if m is None:
            break
        op = m[0]
        notes["ops"].append(op)
        save()
        if mode == "slow" and op == 5:
            time.sleep(1.0)
        if mode == "slow-first" and len(notes["ops"]) == 1:
            time.sleep(0.3)
            r, _, _ = select.select([fd], [], [], 0)
            notes["readable_during_transaction"] = bool(r)
        if mode == "close-on-freeze" and op == 5:
            os.close(fd)
            notes["closed"] = True
            save()
            time.sleep(1.0)
            fd = os.open(DEV, os.O_RDWR)
            register(fd)
            continue
        if mode == "register-mid" and op == 5:
            try:
                os.write(fd, bytes([129]) + bytes(11))
                notes["register_mid"] = "ok"
            except OSError as e:
                notes["register_mid"] = e.errno
        try:
            # the op byte of the reply is the low byte of the HRESULT
            # (a union): 2 makes it read as HOT_BACKUP to the kernel
            reply(fd, 2 if mode == "reply-op-hot" and op == 2 else S_OK)
        except OSError as e:
            err("reply to %d" % op, e)
            save()
            if mode == "hibernate" and not reopened:
                os.close(fd)
                fd = os.open(DEV, os.O_RDWR)
                register(fd)
                reopened = True
    save()


def removal(fd, notes, save):
    """Answer HOT_BACKUP, then block in read() until the device goes
    away, and note what each call gives afterwards."""
    m = next_msg(fd, 10.0)
    notes["ops"].append(m[0] if m else None)
    reply(fd, S_OK)
    save()
    try:
        os.read(fd, 12)
        notes["blocked_read"] = "ok"
    except OSError as e:
        notes["blocked_read"] = e.errno
    p = select.poll()
    p.register(fd, select.POLLIN)
    notes["revents"] = [ev for _, ev in p.poll(2000)]
    for what, call in (("read", lambda: os.read(fd, 12)),
                       ("write", lambda: reply(fd, S_OK)),
                       ("write_short", lambda: os.write(fd, b"x")),
                       ("open", lambda: os.close(os.open(DEV, os.O_RDWR)))):
        try:
            call()
            notes[what] = "ok"
        except OSError as e:
            notes[what] = e.errno
    save()
    os.close(fd)


# ----------------------------------------------------------------- test side

def run_sim(build, args, mode=None, timeout=60):
    try:
        os.unlink(NOTES)
    except FileNotFoundError:
        pass
    cmd = [os.path.join(build, "hv_vss_sim")] + args + [DEV]
    if mode:
        cmd += ["--", sys.executable, os.path.abspath(__file__), "guest",
                mode]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, timeout=timeout)
    report = json.loads(p.stdout)
    notes = {}
    if os.path.exists(NOTES):
        with open(NOTES) as f:
            notes = json.load(f)
    return p.returncode, report, notes


def reqs(report, n=0):
    return report["backups"][n]["requests"]


def results(report, n=0):
    return [(q["op"], q.get("result")) for q in reqs(report, n)]


def events(report, kind):
    return [e for e in report["events"] if e["kind"] == kind]


def check(cond, why):
    if not cond:
        raise AssertionError(why)


def rule_handshake(build):
    """REGISTER1 is answered with u32 129; one opener; exact 12-byte
    writes; a read buffer shorter than the message gets EINVAL; poll says
    POLLIN only when a message waits."""
    rc, rep, g = run_sim(build, ["-s", "hot"], "handshake")
    check(rc == 0, "sim exited %d" % rc)
    check(g["register_reply"] == [129, 0, 0, 0],
          "REGISTER1 answer %r" % g["register_reply"])
    check(g["second_open"] == 16, "second open: %r" % g["second_open"])
    for n in (11, 13, 1):
        check(g["write_%d" % n] == 22, "write of %d bytes: %r"
              % (n, g["write_%d" % n]))
    check(g["short_read"] == 22, "3-byte read: %r" % g["short_read"])
    check(not g["readable_before_register"], "POLLIN before REGISTER1")
    check(g["readable_after_register"], "no POLLIN with the answer queued")
    check(not g["readable_when_idle"], "POLLIN with nothing queued")
    check(g["ops"] == [2], "guest saw %r" % g["ops"])


def rule_kernel_answers(build):
    """Only FREEZE, THAW and HOT_BACKUP reach the daemon; the kernel
    answers GET_DM_INFO (flags 0), the other ops and unknown ops itself,
    S_OK."""
    steps = "create,delete,get_dm_info,bu_complete,auto_recover,8,200," \
            "hot,freeze,thaw"
    rc, rep, g = run_sim(build, ["-s", steps], "ok")
    check(rc == 0, "sim exited %d" % rc)
    check(g["ops"] == [2, 5, 6], "guest saw %r" % g["ops"])
    for q in reqs(rep):
        check(q["result"] == "S_OK", "%s answered %s" % (q["op"],
                                                         q["result"]))
        if q["op"] == "GET_DM_INFO":
            check(q["flags"] == 0, "GET_DM_INFO flags %d" % q["flags"])
    check(len(events(rep, "kernel_answered")) == 6,
          "kernel_answered events: %r" % events(rep, "kernel_answered"))


def rule_no_daemon(build):
    """With no daemon registered, VSS requests get E_FAIL at once."""
    rc, rep, g = run_sim(build, ["-w", "0", "-s", "hot,freeze,thaw"])
    check(rc == 1, "sim exited %d, want 1 (backup failed)" % rc)
    for q in reqs(rep):
        check(q["result"] == "E_FAIL", "%s: %s" % (q["op"], q["result"]))
        check(q["latency_us"] < 500000, "%s took %d us" % (q["op"],
                                                            q["latency_us"]))
    check(rep["negotiation"]["ok"], "negotiation needs no daemon")


def rule_timeout(build):
    """A kernel timeout answers the host E_FAIL; the late reply is
    rejected with EINVAL."""
    # the host waits before THAW: Linux does not check which request a
    # reply answers, so a late FREEZE reply would be taken for THAW's
    rc, rep, g = run_sim(build, ["-T", "freeze=0.3", "-s",
                                 "hot,freeze,sleep=1.5,thaw"], "slow")
    check(rc == 1, "sim exited %d" % rc)
    fr = [q for q in reqs(rep) if q["op"] == "FREEZE"][0]
    check(fr["result"] == "E_FAIL", "FREEZE: %s" % fr["result"])
    check(250000 <= fr["latency_us"] < 900000,
          "FREEZE answered after %d us, timeout 300 ms" % fr["latency_us"])
    check(["reply to 5", 22] in g["errors"], "late reply: %r" % g["errors"])
    check(events(rep, "late_reply"), "no late_reply event")
    check(results(rep)[-1] == ("THAW", "S_OK"), "THAW: %r" % results(rep))
    # the injected form, on each op that times out
    # the injected form, on each op that times out; the pause lets the
    # guest read the stale message, or the next send would find it still
    # queued and fail too (as in Linux)
    for op, name, steps, code in (
            ("hot", "HOT_BACKUP", "hot,sleep=0.5,freeze,thaw", 2),
            ("freeze", "FREEZE", "hot,freeze,sleep=0.5,thaw", 5),
            ("thaw", "THAW", "hot,freeze,thaw,sleep=0.5", 6)):
        rc, rep, g = run_sim(build, ["-f", "timeout=" + op, "-s", steps],
                             "ok")
        got = dict(results(rep))
        check(got[name] == "E_FAIL", "timeout=%s: %r" % (op, got))
        check(all(v == "S_OK" for k, v in got.items() if k != name),
              "timeout=%s spilled over: %r" % (op, got))
        check(["reply to %d" % code, 22] in g["errors"],
              "timeout=%s: late reply not rejected: %r" % (op, g["errors"]))


def rule_one_transaction(build):
    """One transaction at a time: a request sent while another is in
    flight waits in the channel until the first is answered."""
    rc, rep, g = run_sim(build, ["-f", "overlap"], "slow-first")
    check(rc == 0, "sim exited %d" % rc)
    check(not g["readable_during_transaction"],
          "the second request reached the daemon before the first reply")
    q = {x["op"]: x for x in reqs(rep)}
    check(q["FREEZE"]["latency_us"] >= 300000,
          "FREEZE answered in %d us, before HOT_BACKUP's reply"
          % q["FREEZE"]["latency_us"])
    check(g["ops"] == [2, 5, 6], "order %r" % g["ops"])


def rule_close(build):
    """Closing the device during a transaction fails it (E_FAIL) at once;
    the next daemon can register and serve."""
    rc, rep, g = run_sim(build, ["-s", "hot,freeze,sleep=2,thaw"],
                         "close-on-freeze")
    got = results(rep)
    check(got == [("HOT_BACKUP", "S_OK"), ("FREEZE", "E_FAIL"),
                  ("THAW", "S_OK")], "results %r" % got)
    fr = reqs(rep)[1]
    check(fr["latency_us"] < 800000, "FREEZE failed after %d us"
          % fr["latency_us"])
    check(events(rep, "closed_in_transaction"), "no closed event")


def rule_register_mid(build):
    """REGISTER1 during a transaction is rejected with EINVAL."""
    rc, rep, g = run_sim(build, [], "register-mid")
    check(g["register_mid"] == 22, "REGISTER1 mid-transaction: %r"
          % g["register_mid"])
    check(rc == 0, "sim exited %d" % rc)


def rule_hibernate(build):
    """Hibernation queues a fake THAW; the daemon's reply to it fails
    with EINVAL; after reopening it serves the host's THAW.  The channel
    is closed and opened again, and the host negotiates anew (with the
    versions it offers) before its next request."""
    rc, rep, g = run_sim(build, ["-f", "hibernate", "-O", "vss=4.0,5.0"],
                         "hibernate")
    check(g["ops"] == [2, 5, 6, 6], "guest saw %r" % g["ops"])
    check(["reply to 6", 22] in g["errors"], "errors %r" % g["errors"])
    kinds = [e["kind"] for e in rep["events"]
             if e["kind"] in ("hibernate", "resume", "renegotiated",
                              "reregistered", "renegotiation_failed")]
    check(kinds == ["hibernate", "resume", "renegotiated", "reregistered"],
          "events in order %r" % kinds)
    h = events(rep, "hibernate")[0]["text"]
    check("channel closed" in h, "hibernate event: %r" % h)
    r = events(rep, "renegotiated")[0]["text"]
    check(r == "after resume: framework 3.0, VSS 5.0",
          "renegotiated: %r" % r)
    check(rc == 0, "sim exited %d: %r" % (rc, results(rep)))
    check(results(rep)[-1] == ("THAW", "S_OK"), "after resume: %r"
          % results(rep))


def rule_hot_flags(build):
    """The reply to HOT_BACKUP carries back the flags the host sent
    (Linux edits the request in place and sets NO_AUTO_RECOVERY only when
    the daemon's reply reads as HOT_BACKUP, which an HRESULT never
    does); a reply whose op byte is HOT_BACKUP gets flags 5."""
    rc, rep, g = run_sim(build, ["-s", "hot"], "ok")
    check(rc == 0 and reqs(rep)[0]["flags"] == 0,
          "default: rc %d, %r" % (rc, reqs(rep)))
    rc, rep, g = run_sim(build, ["-s", "hot", "-H", "0x2a"], "ok")
    q = reqs(rep)[0]
    check(rc == 0 and q["result"] == "S_OK" and q["flags"] == 0x2a,
          "-H 0x2a: rc %d, %r" % (rc, q))
    rc, rep, g = run_sim(build, ["-s", "hot", "-H", "0x2a"], "reply-op-hot")
    q = reqs(rep)[0]
    check(q["flags"] == 5 and q["hresult"] == "0x00000002",
          "op byte HOT_BACKUP: %r" % q)
    # only HOT_BACKUP carries those flags: GET_DM_INFO is zeroed
    rc, rep, g = run_sim(build, ["-s", "get_dm_info,hot", "-H", "7"], "ok")
    check([q["flags"] for q in reqs(rep)] == [0, 7],
          "flags %r" % [q["flags"] for q in reqs(rep)])


def rule_removal(build):
    """When the device goes away (hvutil_transport_destroy) a read
    blocked on it wakes with EBADF, poll says POLLERR|POLLHUP, read,
    write (of any size) and open fail with EBADF, and the host waits for
    the daemon to close it."""
    rc, rep, g = run_sim(build, ["-s", "hot,sleep=0.3,remove"], "removal")
    check(g["ops"] == [2], "guest saw %r" % g["ops"])
    check(g["blocked_read"] == 9, "blocked read: %r" % g["blocked_read"])
    check(g["revents"] == [select.POLLERR | select.POLLHUP],
          "poll: %r" % g["revents"])
    for what in ("read", "write", "write_short", "open"):
        check(g[what] == 9, "%s: %r" % (what, g[what]))
    check(events(rep, "removed") and events(rep, "released") and
          not events(rep, "not_released"), "events %r" % rep["events"])
    check(rc == 0, "sim exited %d: %r" % (rc, results(rep)))
    # nothing may follow remove
    p = subprocess.run([os.path.join(build, "hv_vss_sim"), "-s",
                        "remove,hot", DEV], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=10)
    check(p.returncode == 2 and b"nothing can follow remove" in p.stderr,
          "remove,hot: %d %r" % (p.returncode, p.stderr))


def rule_interrupt(build):
    """A read blocked on the device is interruptible (FUSE interrupts are
    answered) and killable."""
    rc, rep, g = run_sim(build, ["-s", "sleep=1,hot"], "interrupted-read")
    check(g["interrupted"] == "EINTR", "read: %r" % g["interrupted"])
    check(g["interrupt_ms"] < 1000, "took %.0f ms" % g["interrupt_ms"])
    # kill -9 of a reader blocked in read(): reaped at once
    sim = subprocess.Popen([os.path.join(build, "hv_vss_sim"), "-w", "10",
                            "-s", "sleep=3", DEV], stdout=subprocess.PIPE)
    for _ in range(100):
        if os.path.exists(DEV) and os.stat(DEV).st_dev != \
                os.stat("/dev").st_dev:
            break
        time.sleep(0.05)
    g = subprocess.Popen([sys.executable, os.path.abspath(__file__),
                          "guest", "blocked-read"])
    time.sleep(0.5)
    t0 = time.monotonic()
    g.kill()
    g.wait(timeout=5)
    took = time.monotonic() - t0
    sim.communicate(timeout=30)
    check(took < 2, "kill -9 of a blocked reader took %.1f s" % took)


def rule_negotiation(build):
    """The host's offer is answered with the highest common version; with
    none in common the answer has counts 0 and E_FAIL, and no backup
    runs."""
    rc, rep, g = run_sim(build, ["-O", "fw=1.0,3.0", "-O", "vss=4.0,5.0",
                                 "-w", "0", "-s", "get_dm_info"])
    n = rep["negotiation"]
    check(n["ok"] and n["framework"] == "3.0" and n["vss"] == "5.0",
          "negotiated %r" % n)
    rc, rep, g = run_sim(build, ["-O", "vss=4.0", "-w", "0"])
    n = rep["negotiation"]
    check(not n["ok"] and n["answered"] and n["status"] == "0x80004005",
          "refused negotiation: %r" % n)
    check(rc == 1 and rep["backups"] == [], "rc %d, backups %r"
          % (rc, rep["backups"]))


def rule_faults(build):
    """Duplicate FREEZE and THAW without FREEZE reach the daemon as such;
    repeat runs N backups."""
    rc, rep, g = run_sim(build, ["-f", "dup-freeze", "-f", "thaw-no-freeze",
                                 "-f", "unknown-op", "-n", "3"], "ok")
    check(rc == 0, "sim exited %d" % rc)
    check(len(rep["backups"]) == 3, "%d backups" % len(rep["backups"]))
    check([q["op"] for q in reqs(rep)] ==
          ["UNKNOWN", "THAW", "HOT_BACKUP", "FREEZE", "FREEZE", "THAW"],
          "steps %r" % [q["op"] for q in reqs(rep)])
    check(g["ops"] == [6, 2, 5, 5, 6] * 3, "guest saw %r" % g["ops"])
    fr = [q for q in reqs(rep) if q["op"] == "FREEZE"][0]
    check(fr["length"] == 6260, "FREEZE packet of %d bytes" % fr["length"])



# ------------------------------------------------ FreeBSD's driver (hv_vss_sim -F)
#
# The test drives both devices itself (no guest command): it starts the
# sim, opens hv_fsvss_dev and hv_appvss_dev, and answers each request by
# a policy, logging (device, opt, msgid, time) for every request read.

FS_DEV = os.environ.get("HVVSS_FS_DEV", "/dev/hv_fsvss_dev")
APP_DEV = os.environ.get("HVVSS_APP_DEV", "/dev/hv_appvss_dev")
CHECK, FREEZE, THAW = 1, 2, 3


def linux_ioc(direction, typ, nr, size):
    """Linux's _IOC(): direction in bits 30-31 (1 write, 2 read), size in
    16-29, type in 8-15, number in 0-7."""
    return direction << 30 | size << 16 | ord(typ) << 8 | nr


IOCHVVSSREAD = linux_ioc(2, "v", 2, 64)     # _IOR('v', 2, 64 bytes)
IOCHVVSSWRITE = linux_ioc(1, "v", 3, 64)    # _IOW('v', 3, 64 bytes)


def vss_read(fd):
    """IOCHVVSSREAD: (opt, status, msgid)."""
    buf = bytearray(64)
    fcntl.ioctl(fd, IOCHVVSSREAD, buf, True)
    opt, status, msgid = struct.unpack_from("<IIQ", buf)
    return opt, status, msgid, bytes(buf[16:])


def vss_write(fd, opt, msgid, status):
    fcntl.ioctl(fd, IOCHVVSSWRITE, struct.pack("<IIQ48x", opt, status,
                                                msgid))


def mounted(path):
    try:
        return os.stat(path).st_dev != os.stat(os.path.dirname(path)).st_dev
    except OSError:
        return False


class FbsdSim:
    """hv_vss_sim -F running in the background."""

    def __init__(self, build, args, fs_dev=FS_DEV, app_dev=APP_DEV):
        self.p = subprocess.Popen(
            [os.path.join(build, "hv_vss_sim"), "-F", app_dev] + args +
            [fs_dev], stdout=subprocess.PIPE)
        for _ in range(200):
            if mounted(fs_dev) and mounted(app_dev):
                break
            time.sleep(0.02)
        else:
            raise AssertionError("devices never mounted")

    def report(self, timeout=60):
        out, _ = self.p.communicate(timeout=timeout)
        return self.p.returncode, json.loads(out)

    def running(self):
        return self.p.poll() is None


def serve(sim, fds, policy, limit=30.0):
    """Answer requests on fds ({"fs": fd, "app": fd}) until the sim exits.
    policy(side, opt, n) -> status to ack with, None for no ack, or a
    (seconds, status) pair to ack after a pause.  Returns the log."""
    log = []
    t0 = time.monotonic()
    p = select.poll()
    for fd in fds.values():
        p.register(fd, select.POLLIN)
    side_of = {fd: side for side, fd in fds.items()}
    while sim.running() and time.monotonic() - t0 < limit:
        for fd, ev in p.poll(50):
            if not ev & select.POLLIN:
                continue
            side = side_of[fd]
            try:
                opt, status, msgid, _ = vss_read(fd)
            except OSError:
                return log
            if status != 0:
                continue
            n = len([x for x in log if x[0] == side])
            log.append((side, opt, msgid, time.monotonic() - t0))
            answer = policy(side, opt, n)
            if isinstance(answer, tuple):
                time.sleep(answer[0])
                answer = answer[1]
            if answer is not None:
                vss_write(fd, opt, msgid, answer)
    return log


def opens(*paths):
    """Open in reverse order: the application's device before the
    daemon's, whose opening starts the host (the ring is read from then
    on), so that the first request finds the application there."""
    return list(reversed([os.open(x, os.O_RDWR)
                          for x in reversed(paths)]))


def closeall(fds):
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def seq(log):
    return [(x[0], x[1]) for x in log]


def rule_fbsd_ioctl_numbers(build):
    """IOCHVVSSREAD/WRITE of common/hv_vss_fbsd.h, as this platform's
    _IOR/_IOW build them, are Linux's encoding of _IOR('v', 2, 64 bytes)
    and _IOW('v', 3, 64 bytes) (and not FreeBSD's: direction bits
    swapped)."""
    out = subprocess.run([os.path.join(build, "tests", "fbsd_cmds")],
                         stdout=subprocess.PIPE, check=True,
                         text=True).stdout.split()
    got = dict(zip(out[0::2], out[1::2]))
    check(int(got["IOCHVVSSREAD"], 16) == IOCHVVSSREAD == 0x80407602,
          "READ %s" % got)
    check(int(got["IOCHVVSSWRITE"], 16) == IOCHVVSSWRITE == 0x40407603,
          "WRITE %s" % got)
    check(got["size"] == "64", "size %s" % got["size"])


def rule_fbsd_open(build):
    """Opening a device registers it, no handshake: a second open is
    EBUSY, READ with nothing queued returns status 1 at once, poll says
    nothing, read()/write() are ENODEV; the files are 0640."""
    sim = FbsdSim(build, ["-s", "sleep=1"])
    fs, app = opens(FS_DEV, APP_DEV)
    notes = {}
    for name, path in (("fs", FS_DEV), ("app", APP_DEV)):
        try:
            os.open(path, os.O_RDWR)
            notes[name + "_second"] = "ok"
        except OSError as e:
            notes[name + "_second"] = e.errno
        notes[name + "_mode"] = os.stat(path).st_mode & 0o777
    for name, fd in (("fs", fs), ("app", app)):
        t = time.monotonic()
        opt, status, msgid, rest = vss_read(fd)
        notes[name + "_ioctl"] = (opt, status, msgid, rest == bytes(48),
                                  time.monotonic() - t)
        p = select.poll()
        p.register(fd, select.POLLIN)
        notes[name + "_poll"] = p.poll(0)
        for op, call in (("read", lambda: os.read(fd, 64)),
                         ("write", lambda: os.write(fd, bytes(64)))):
            try:
                call()
                notes[name + "_" + op] = "ok"
            except OSError as e:
                notes[name + "_" + op] = e.errno
    closeall([fs, app])
    rc, rep = sim.report()
    for name in ("fs", "app"):
        check(notes[name + "_second"] == errno.EBUSY,
              "%s second open: %r" % (name, notes[name + "_second"]))
        check(notes[name + "_mode"] == 0o640, "%s mode %o"
              % (name, notes[name + "_mode"]))
        opt, status, msgid, zero, took = notes[name + "_ioctl"]
        check((opt, status, msgid, zero) == (0, 1, 0, True),
              "%s idle READ: %r" % (name, notes[name + "_ioctl"]))
        check(took < 0.5, "%s idle READ took %.3f s" % (name, took))
        check(notes[name + "_poll"] == [], "%s poll %r"
              % (name, notes[name + "_poll"]))
        for op in ("read", "write"):
            check(notes[name + "_" + op] == errno.ENODEV, "%s %s(): %r"
                  % (name, op, notes[name + "_" + op]))
    check(len(events(rep, "open_busy")) == 2, "events %r" % rep["events"])
    check(rc == 0, "sim exited %d" % rc)


def rule_fbsd_ack(build):
    """With the daemon alone: CHECK (opt 1), FREEZE (2), THAW (3) in
    turn; a WRITE echoing opt and msgid with status 0 answers the host
    S_OK (CHECK with flags 5); status 1 answers E_FAIL."""
    for verdict, want in ((0, "S_OK"), (1, "E_FAIL")):
        sim = FbsdSim(build, ["-s", "hot,freeze,thaw"])
        (fs,) = opens(FS_DEV)
        log = serve(sim, {"fs": fs}, lambda s, o, n: verdict)
        closeall([fs])
        rc, rep = sim.report()
        check(seq(log) == [("fs", CHECK), ("fs", FREEZE), ("fs", THAW)],
              "daemon saw %r" % seq(log))
        check(len(set(x[2] for x in log)) == 3, "msgids %r" % log)
        for q in reqs(rep):
            check(q["result"] == want, "%s: %s, want %s"
                  % (q["op"], q["result"], want))
            if q["op"] == "HOT_BACKUP":
                check(q["flags"] == 5, "HOT_BACKUP flags %d" % q["flags"])
        check(rc == (0 if verdict == 0 else 1), "sim exited %d" % rc)


def rule_fbsd_order(build):
    """CHECK and FREEZE go to the application first, then the daemon;
    THAW to the daemon first, then the application; the second is asked
    only once the first has acked.  Both turns of a request carry its
    one msgid, the CLOCK_REALTIME nanoseconds of its arrival
    (hv_vss_init_req()'s nanotime())."""
    sim = FbsdSim(build, ["-s", "hot,freeze,thaw"])
    fs, app = opens(FS_DEV, APP_DEV)
    t0 = time.time_ns()
    log = serve(sim, {"fs": fs, "app": app}, lambda s, o, n: (0.2, 0))
    closeall([fs, app])
    rc, rep = sim.report()
    check(seq(log) == [("app", CHECK), ("fs", CHECK), ("app", FREEZE),
                       ("fs", FREEZE), ("fs", THAW), ("app", THAW)],
          "order %r" % seq(log))
    for a, b in zip(log, log[1:]):
        check(b[3] - a[3] >= 0.15, "%r asked before %r acked" % (b, a))
    ids = [x[2] for x in log]
    check(ids[0] == ids[1] and ids[2] == ids[3] and ids[4] == ids[5] and
          len(set(ids)) == 3, "msgids %r" % ids)
    # each request's id is the time it came, before its first turn's
    # READ (log times are relative to serve()'s start, just after t0)
    for i in (0, 2, 4):
        came = (ids[i] - t0) / 1e9
        check(-0.5 < came <= log[i][3] + 0.05, "msgid %d is %.3f s from "
              "the start, its turn read at %.3f s" % (ids[i], came,
                                                      log[i][3]))
    check([q["result"] for q in reqs(rep)] == ["S_OK"] * 3,
          "results %r" % results(rep))
    check(rc == 0, "sim exited %d" % rc)


def rule_fbsd_app_veto(build):
    """The application's failure of CHECK or FREEZE fails the host's
    request, and the daemon is never asked; a daemon's THAW failure is
    the host's, and the application is not asked to thaw."""
    for fail_opt, steps in ((CHECK, "hot"), (FREEZE, "freeze")):
        sim = FbsdSim(build, ["-s", steps])
        fs, app = opens(FS_DEV, APP_DEV)
        log = serve(sim, {"fs": fs, "app": app},
                    lambda s, o, n: 1 if s == "app" and o == fail_opt else 0)
        closeall([fs, app])
        rc, rep = sim.report()
        check(seq(log) == [("app", fail_opt)], "%d: saw %r"
              % (fail_opt, seq(log)))
        check(results(rep)[0][1] == "E_FAIL", "results %r" % results(rep))
    sim = FbsdSim(build, ["-s", "thaw"])
    fs, app = opens(FS_DEV, APP_DEV)
    log = serve(sim, {"fs": fs, "app": app}, lambda s, o, n: 1)
    closeall([fs, app])
    rc, rep = sim.report()
    check(seq(log) == [("fs", THAW)], "THAW: saw %r" % seq(log))
    check(results(rep) == [("THAW", "E_FAIL")], "%r" % results(rep))


def rule_fbsd_timer(build):
    """One timer covers a host request across both devices: two stages
    each within it but together over it fail the host's request when it
    fires, neither side is told, and the late ack is dropped (its ioctl
    still returns 0)."""
    sim = FbsdSim(build, ["-T", "all=1", "-s", "freeze,sleep=1"])
    fs, app = opens(FS_DEV, APP_DEV)
    # serve() polls both devices until the sim exits, a second after
    log = serve(sim, {"fs": fs, "app": app}, lambda s, o, n: (0.6, 0))
    closeall([fs, app])
    rc, rep = sim.report()
    check(seq(log) == [("app", FREEZE), ("fs", FREEZE)], "saw %r"
          % seq(log))
    q = reqs(rep)[0]
    check(q["result"] == "E_FAIL", "FREEZE %s" % q["result"])
    check(900000 <= q["latency_us"] < 1500000,
          "answered after %d us, timer 1 s" % q["latency_us"])
    check(events(rep, "kernel_timeout"), "no kernel_timeout event")
    check(len(events(rep, "late_ack")) == 1, "late acks %r"
          % events(rep, "late_ack"))
    # the real one, 15 s, waited out meanwhile (DefaultTimer)
    default_timer.join()
    if default_timer.error is not None:
        raise default_timer.error
    q = reqs(default_timer.rep)[0]
    check(q["result"] == "E_FAIL" and
          14900000 <= q["latency_us"] < 15500000,
          "default timer: %r" % q)


class DefaultTimer(threading.Thread):
    """rule_fbsd_timer's other half: the driver's own timer, 15 s, run out
    by a HOT_BACKUP that both devices take and never acknowledge.  It
    waits on devices of its own, in the background from the start, while
    the rules before rule_fbsd_timer run."""

    def __init__(self, build):
        super().__init__(daemon=True)
        self.build = build
        self.rep = None
        self.error = None
        self.started = False

    def start(self):
        self.started = True
        super().start()

    def join(self, timeout=None):
        if not self.started:
            self.start()
        super().join(timeout)

    def run(self):
        fs_dev, app_dev = FS_DEV + "-t15", APP_DEV + "-t15"
        try:
            sim = FbsdSim(self.build, ["-s", "hot"], fs_dev, app_dev)
            fs, app = opens(fs_dev, app_dev)
            serve(sim, {"fs": fs, "app": app}, lambda s, o, n: None,
                  limit=25)
            closeall([fs, app])
            rc, self.rep = sim.report()
        except Exception as e:
            self.error = e


default_timer = None


def rule_fbsd_busy(build):
    """A host request that arrives while another is queued is ignored,
    never answered; the pending request's reply is then built from the
    ignored packet's bytes (the driver's one shared buffer)."""
    # the host gives up on the ignored FREEZE 1 s past its timer, not 10
    sim = FbsdSim(build, ["-T", "all=1", "-T", "margin=1", "-f", "overlap",
                          "-s", "hot,freeze"])
    (fs,) = opens(FS_DEV)
    log = serve(sim, {"fs": fs}, lambda s, o, n: (0.3, 0))
    closeall([fs])
    rc, rep = sim.report()
    check(seq(log) == [("fs", CHECK)], "daemon saw %r" % seq(log))
    q = {x["op"]: x for x in reqs(rep)}
    check(not q["FREEZE"]["answered"], "FREEZE answered: %r" % q["FREEZE"])
    check(events(rep, "busy_ignored"), "no busy_ignored event")
    check(events(rep, "reply_from_clobbered_buffer"),
          "no reply_from_clobbered_buffer event")
    check(events(rep, "bad_reply"), "HOT_BACKUP's reply was well formed")


def rule_fbsd_close(build):
    """Closing the daemon's device fails nothing queued: its request is
    answered E_FAIL by the timer, not at close; while it is closed, host
    requests get E_FAIL at once; a new opener serves again."""
    sim = FbsdSim(build, ["-T", "all=1", "-s",
                          "freeze,sleep=0.5,thaw,sleep=1.5,hot"])
    (fs,) = opens(FS_DEV)
    while not select.select([fs], [], [], 5)[0]:
        pass
    opt, status, msgid, _ = vss_read(fs)
    os.close(fs)
    # the timer fires at 1 s, THAW arrives at 1.5 s, the hot at 3 s
    time.sleep(2.2)
    (fs,) = opens(FS_DEV)
    log = serve(sim, {"fs": fs}, lambda s, o, n: 0)
    closeall([fs])
    rc, rep = sim.report()
    got = results(rep)
    check((opt, status) == (FREEZE, 0), "read %r" % ((opt, status),))
    check(got == [("FREEZE", "E_FAIL"), ("THAW", "E_FAIL"),
                  ("HOT_BACKUP", "S_OK")], "results %r" % got)
    fr, th = reqs(rep)[0], reqs(rep)[1]
    check(fr["latency_us"] >= 900000, "FREEZE failed after %d us, before "
          "the timer" % fr["latency_us"])
    check(th["latency_us"] < 300000, "THAW took %d us" % th["latency_us"])
    check(events(rep, "daemon_gone"), "no daemon_gone event")
    check(seq(log) == [("fs", CHECK)], "new daemon saw %r" % seq(log))


def rule_fbsd_app_close(build):
    """An application that closes holding FREEZE: the request times out
    (E_FAIL), the daemon is never asked, later requests skip the
    application."""
    sim = FbsdSim(build, ["-T", "all=1", "-s", "freeze,thaw"])
    fs, app = opens(FS_DEV, APP_DEV)
    while not select.select([app], [], [], 5)[0]:
        pass
    first = vss_read(app)[:2]
    os.close(app)
    log = serve(sim, {"fs": fs}, lambda s, o, n: 0)
    closeall([fs])
    rc, rep = sim.report()
    check(first == (FREEZE, 0), "app read %r" % (first,))
    check(results(rep) == [("FREEZE", "E_FAIL"), ("THAW", "S_OK")],
          "results %r" % results(rep))
    check(reqs(rep)[0]["latency_us"] >= 900000, "FREEZE failed early")
    check(seq(log) == [("fs", THAW)], "daemon saw %r" % seq(log))


def rule_fbsd_kernel_answers(build):
    """GET_DM_INFO is answered by the kernel (S_OK, flags 0); CREATE,
    DELETE, BU_COMPLETE, AUTO_RECOVER and unknown ops are never
    answered; none reaches a device."""
    # the host gives up on each 1.1 s after sending it (all= covers
    # the unknown op too), not 10.1 s and 40 s
    sim = FbsdSim(build, ["-T", "all=0.1", "-T", "margin=1", "-s",
                          "create+,delete+,bu_complete+,auto_recover+,8+,"
                          "get_dm_info"])
    fs, app = opens(FS_DEV, APP_DEV)
    log = serve(sim, {"fs": fs, "app": app}, lambda s, o, n: 0)
    closeall([fs, app])
    rc, rep = sim.report()
    check(log == [], "devices saw %r" % log)
    q = {x["op"]: x for x in reqs(rep)}
    check(q["GET_DM_INFO"]["result"] == "S_OK" and
          q["GET_DM_INFO"]["flags"] == 0, "GET_DM_INFO %r" % q["GET_DM_INFO"])
    for op in ("CREATE", "DELETE", "BU_COMPLETE", "AUTO_RECOVER",
               "UNKNOWN"):
        check(not q[op]["answered"], "%s answered: %r" % (op, q[op]))
    check(len(events(rep, "unknown_op")) == 5, "events %r" % rep["events"])


def rule_fbsd_negotiation(build):
    """Nothing, not even the negotiation, is read from the channel until
    the daemon's device is first opened; then the highest host version
    not above ours is chosen (4.0 is taken, unlike Linux), and with none
    the packet goes back with an errno (45, EOPNOTSUPP) as status."""
    # the host gives the negotiation 1 s (-T nego), not 5
    rc, rep = FbsdSim(build, ["-w", "0", "-T", "nego=1"]).report()
    check(not rep["negotiation"]["answered"], "answered with no daemon: %r"
          % rep["negotiation"])
    sim = FbsdSim(build, ["-O", "vss=4.0,3.0", "-s", "get_dm_info"])
    fds = opens(FS_DEV)
    rc, rep = sim.report()
    closeall(fds)
    n = rep["negotiation"]
    check(n["ok"] and n["vss"] == "4.0", "negotiated %r" % n)
    sim = FbsdSim(build, ["-O", "vss=6.0"])
    fds = opens(FS_DEV)
    rc, rep = sim.report()
    closeall(fds)
    n = rep["negotiation"]
    check(n["answered"] and n["status"] == "0x0000002d", "refused %r" % n)


def rule_fbsd_status(build):
    """An ack's status fails the request if it is not 0, any value (2
    here); the application's status is a uint8_t in the driver, so its
    256 is a success."""
    sim = FbsdSim(build, ["-s", "hot,hot"])
    fs, app = opens(FS_DEV, APP_DEV)
    log = serve(sim, {"fs": fs, "app": app},
                lambda s, o, n: {("app", 0): 256, ("fs", 1): 2}.get((s, n),
                                                                    0))
    closeall([fs, app])
    rc, rep = sim.report()
    check(seq(log) == [("app", CHECK), ("fs", CHECK)] * 2, "saw %r"
          % seq(log))
    check(results(rep) == [("HOT_BACKUP", "S_OK"), ("HOT_BACKUP", "E_FAIL")],
          "results %r" % results(rep))


def rule_fbsd_stranded(build):
    """An application that acks FREEZE while the daemon's device is
    closed strands the request: nobody is asked, the host is answered
    E_FAIL when the timer fires."""
    sim = FbsdSim(build, ["-T", "all=1", "-s", "freeze"])
    fs, app = opens(FS_DEV, APP_DEV)
    while not select.select([app], [], [], 5)[0]:
        pass
    opt, status, msgid, _ = vss_read(app)
    os.close(fs)
    time.sleep(0.2)
    vss_write(app, opt, msgid, 0)
    closeall([app])
    rc, rep = sim.report()
    q = reqs(rep)[0]
    check(q["result"] == "E_FAIL" and q["latency_us"] >= 900000,
          "FREEZE %r" % q)
    check(events(rep, "daemon_gone_on_app_ack"), "no stranding event")
    check(events(rep, "timeout_unqueued"), "no timeout_unqueued event")


def rule_fbsd_opt(build):
    """An ack's opt is not checked against its request (a KASSERT only):
    the driver acts on the ack's; opt 0 strands the request until the
    timer, opt THAW on a CHECK with no application answers it."""
    sim = FbsdSim(build, ["-T", "all=1", "-s", "hot,hot"])
    (fs,) = opens(FS_DEV)
    log = []
    while sim.running() and len(log) < 2:
        if not select.select([fs], [], [], 0.1)[0]:
            continue
        opt, status, msgid, _ = vss_read(fs)
        if status == 0:
            log.append(opt)
            vss_write(fs, [0, THAW][len(log) - 1], msgid, 0)
    closeall([fs])
    rc, rep = sim.report()
    check(log == [CHECK, CHECK], "daemon saw %r" % log)
    check(results(rep) == [("HOT_BACKUP", "E_FAIL"), ("HOT_BACKUP", "S_OK")],
          "results %r" % results(rep))
    check(reqs(rep)[0]["latency_us"] >= 900000, "opt 0 answered early")
    check(len(events(rep, "opt_mismatch")) == 2 and events(rep, "ack_lost"),
          "events %r" % rep["events"])


FBSD_RULES = [rule_fbsd_ioctl_numbers, rule_fbsd_open, rule_fbsd_ack,
              rule_fbsd_order, rule_fbsd_app_veto, rule_fbsd_timer,
              rule_fbsd_busy, rule_fbsd_close, rule_fbsd_app_close,
              rule_fbsd_kernel_answers, rule_fbsd_negotiation,
              rule_fbsd_status, rule_fbsd_stranded, rule_fbsd_opt]

RULES = [rule_handshake, rule_kernel_answers, rule_no_daemon, rule_timeout,
         rule_one_transaction, rule_close, rule_register_mid,
         rule_hibernate, rule_interrupt, rule_negotiation, rule_faults,
         rule_hot_flags, rule_removal] + FBSD_RULES


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "guest":
        guest(sys.argv[2])
        return 0
    build = os.path.abspath(sys.argv[1])
    only = sys.argv[2:]
    failed = 0
    global default_timer
    default_timer = DefaultTimer(build)
    if not only or "fbsd_timer" in only:
        default_timer.start()
    for rule in RULES:
        name = rule.__name__[5:]
        if only and name not in only:
            continue
        t0 = time.monotonic()
        try:
            rule(build)
            print("ok - %s (%.1f s)" % (name, time.monotonic() - t0),
                  flush=True)
        except Exception as e:       # a crash is a failure too, named
            failed += 1
            print("not ok - %s: %s: %s" % (name, type(e).__name__, e),
                  flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
