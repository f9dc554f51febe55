#!/usr/bin/python3
"""Every kernel rule of doc/DESIGN.md ("Kernel rules"), checked against
hv_vss_sim with a scripted guest.

Run inside the sandbox (it mounts the emulated device at
/dev/vmbus/hv_vss): sim_rules.py BUILD_DIR [RULE...].  Each rule runs the
sim with a guest that is this same script in "guest MODE" form, then
checks the guest's own observations (printed as JSON on fd 3... kept
simple: a result file) and the sim's JSON report.  Prints "ok - rule" or
"not ok - rule: why" per rule; exits 1 if any failed.
"""
import json
import os
import select
import signal
import struct
import subprocess
import sys
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


RULES = [rule_handshake, rule_kernel_answers, rule_no_daemon, rule_timeout,
         rule_one_transaction, rule_close, rule_register_mid,
         rule_hibernate, rule_interrupt, rule_negotiation, rule_faults,
         rule_hot_flags, rule_removal]


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "guest":
        guest(sys.argv[2])
        return 0
    build = os.path.abspath(sys.argv[1])
    only = sys.argv[2:]
    failed = 0
    for rule in RULES:
        name = rule.__name__[5:]
        if only and name not in only:
            continue
        try:
            rule(build)
            print("ok - %s" % name, flush=True)
        except Exception as e:       # a crash is a failure too, named
            failed += 1
            print("not ok - %s: %s: %s" % (name, type(e).__name__, e),
                  flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
