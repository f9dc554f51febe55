#!/usr/bin/env python3
"""guard_kill: for t_guard.sh, inside the sandbox: find the hv_vss_daemon
that hv_vss_sim SIM_PID runs (its child: other daemons may run on the
machine) and its thaw guard, describe the guard, then SIGKILL it again
and again while the daemon serves backups, and time each restart.

    guard_kill.py SIM_PID describe [NFDS]
        once the guard holds NFDS fds (10 s at most; default: any), one
        line each: "daemon PID", "guard PID", "exe PATH", "cmdline
        ARGS", "fds N:TARGET ...", "environ_bytes N", "vmlck_kb N",
        "seccomp N", "nonewprivs N" (/proc/PID/status), "parent
        daemon|PID".
    guard_kill.py SIM_PID kill INTERVAL_MS MAX
        up to MAX times, while the daemon lives: SIGKILL its guard, then
        wait (1 ms steps, 3 s at most) for a new guard child that serves:
        waiting in poll(2), which it does only after its hello (its
        memory locked then, except in a sanitizer build);
        "restart_ms X" for each (or "restart_ms never"), then sleep
        INTERVAL_MS.  "kills N" at the end: every SIGKILL delivered,
        after "last_kill_at_exit 1" if the daemon exited before a new
        guard served (the daemon may have seen that death or not).
    guard_kill.py SIM_PID stall KILLS CTL_SOCKET
        the event loop's stall while a guard restarts: "status" on the
        control socket over and over, 300 ms each round, its longest
        round trip: "base_ms X" for a round without a kill, then per
        kill (the guard SIGKILLed as the round starts, once it serves,
        10 s at most) "stall_ms X"; before each round "guard_wait_ms X",
        how long the guard took to serve.

Times are CLOCK_MONOTONIC.  Exit status 0, or 1 with an "error" line.
"""
import os
import signal
import socket
import sys
import time


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def ppid(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
        return int(s[s.rindex(")") + 2:].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def daemon_pid(sim, wait_s=10.0):
    end = time.monotonic() + wait_s
    while time.monotonic() < end:
        for p in pids():
            if comm(p) == "hv_vss_daemon" and ppid(p) == sim:
                return p
        time.sleep(0.01)
    return None


def vmlck_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmLck:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return -1


def status_field(pid, name):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(name + ":"):
                    return line.split()[1]
    except (OSError, IndexError):
        pass
    return "?"


def serving(pid):
    """Waiting in poll(2): it has said hello (and locked its memory,
    but not in a sanitizer build: VmLck cannot tell)."""
    try:
        with open("/proc/%d/wchan" % pid) as f:
            wchan = f.read()
    except OSError:
        return False
    return "poll" in wchan


def guard_of(d, ready=False, not_pid=None):
    for p in pids():
        if p != not_pid and comm(p) == "hv_vss_guard" and ppid(p) == d:
            if not ready or serving(p):
                return p
    return None


def wait_guard(d, not_pid=None, wait_s=3.0):
    end = time.monotonic() + wait_s
    while time.monotonic() < end:
        g = guard_of(d, True, not_pid)
        if g is not None:
            return g
        time.sleep(0.001)
    return None


def nfds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return -1


def describe(d, want):
    g = wait_guard(d, None, 10.0)
    if g is None:
        print("error no thaw guard under daemon %d" % d)
        return 1
    end = time.monotonic() + 10.0
    while want is not None and nfds(g) != want and time.monotonic() < end:
        time.sleep(0.005)
    print("daemon %d" % d)
    print("guard %d" % g)
    print("exe %s" % os.readlink("/proc/%d/exe" % g))
    with open("/proc/%d/cmdline" % g, "rb") as f:
        print("cmdline %s" % f.read().rstrip(b"\0").replace(b"\0", b" ")
              .decode())
    fds = []
    for fd in sorted(os.listdir("/proc/%d/fd" % g), key=int):
        t = os.readlink("/proc/%d/fd/%s" % (g, fd))
        fds.append("%s:%s" % (fd, "socket" if t.startswith("socket:") else t))
    print("fds %s" % " ".join(fds))
    with open("/proc/%d/environ" % g, "rb") as f:
        print("environ_bytes %d" % len(f.read()))
    print("vmlck_kb %d" % vmlck_kb(g))
    print("seccomp %s" % status_field(g, "Seccomp"))
    print("nonewprivs %s" % status_field(g, "NoNewPrivs"))
    print("parent %s" % ("daemon" if ppid(g) == d else ppid(g)))
    return 0


def kill_loop(d, interval_ms, most):
    n = 0
    while n < most and comm(d) == "hv_vss_daemon":
        g = wait_guard(d)
        if g is None:
            print("restart_ms never")
            break
        t0 = time.monotonic()
        try:
            os.kill(g, signal.SIGKILL)
        except ProcessLookupError:
            continue
        n += 1
        new = wait_guard(d, g)
        if new is None:
            if comm(d) != "hv_vss_daemon":
                # the daemon ended with the backups: it may or may not
                # have seen this death (and logged it) before it exited
                print("last_kill_at_exit 1")
                break
            print("restart_ms never")
        else:
            print("restart_ms %.1f" % ((time.monotonic() - t0) * 1000))
        sys.stdout.flush()
        time.sleep(interval_ms / 1000.0)
    print("kills %d" % n)
    return 0


def status_rtt(path):
    t0 = time.monotonic()
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.settimeout(10)
    c.connect(path)
    c.sendall(b"HVVSS-CTL 2\nstatus\n")  # control protocol 2
    while c.recv(4096):
        pass
    c.close()
    return (time.monotonic() - t0) * 1000


def stall(d, kills, path):
    # a guard may take its time to serve (t_guard's slow one sleeps
    # 1.5 s before it starts): 10 s, and the wait is printed, so that a
    # loaded machine shows as such and not as a lost restart
    def round_ms(kill):
        t0 = time.monotonic()
        g = wait_guard(d, None, 10.0)
        print("guard_wait_ms %.1f" % ((time.monotonic() - t0) * 1000))
        if g is None:
            return None
        if kill:
            os.kill(g, signal.SIGKILL)
        end = time.monotonic() + 0.3
        m = 0.0
        while time.monotonic() < end:
            m = max(m, status_rtt(path))
        return m

    # the guard may serve before the control socket is bound (the
    # parent starts its guard, then the engine that binds the sockets;
    # the one-process daemon may bind them after its guard's hello)
    end = time.monotonic() + 10.0
    while time.monotonic() < end:
        try:
            status_rtt(path)
            break
        except OSError:
            time.sleep(0.005)
    try:
        m = round_ms(False)
        if m is None:
            print("error no thaw guard served under daemon %d" % d)
            return 1
        print("base_ms %.1f" % m)
        for _ in range(kills):
            m = round_ms(True)
            print("stall_ms %s" % ("never" if m is None else "%.1f" % m))
            sys.stdout.flush()
    except OSError as e:
        print("error %s: %s" % (path, e))
        return 1
    return 0


def main():
    if len(sys.argv) < 3 or not sys.argv[1].isdigit():
        sys.stderr.write(__doc__)
        return 2
    a = sys.argv[2:]
    d = daemon_pid(int(sys.argv[1]))
    if d is None:
        print("error no hv_vss_daemon under %s" % sys.argv[1])
        return 1
    if a == ["describe"]:
        return describe(d, None)
    if len(a) == 2 and a[0] == "describe":
        return describe(d, int(a[1]))
    if len(a) == 3 and a[0] == "stall":
        return stall(d, int(a[1]), a[2])
    if len(a) == 3 and a[0] == "kill":
        return kill_loop(d, int(a[1]), int(a[2]))
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
