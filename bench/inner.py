#!/usr/bin/python3
"""bench/inner.py: the measuring half of bench/run, inside the sandbox.

  inner.py --top DIR --build DIR PHASE JSON-ARGS

bench/run starts this inside tests/system/sandbox, whose only block
filesystems are the -m test mounts of the phase, so that Debian's
hv_vss_daemon (which freezes every /dev/* filesystem it sees) freezes
only those.  Phases:

  latency    FREEZE/THAW request->reply on the given mounts: hvvss, Debian's
             daemon (both through hv_vss_sim) and rawfreeze sequential and
             parallel, interleaved round by round in a rotating order
  apps       hvvss FREEZE/THAW with 0, 1, 100, 1000 instantly answering
             apps (tests/system/apps_swarm.py, started with sim -b)
  resources  RSS, context switches while idle, CPU time per backup
  stall      a paced 4 KiB writer on each mount (stallwriter) while each
             backup finds DIRTY MiB per mount not yet written back
  mounts     hvvss HOT_BACKUP/FREEZE with COUNT unrelated tmpfs mounts
             (a container host) against none, and with one of them
             changing between HOT_BACKUP and FREEZE

The phase's results are one JSON object, the last line on stdout;
progress and the daemons' logs go to stderr.  Every daemon run is one
hv_vss_sim run, whose JSON report gives each request's latency_us; our
daemon's own log lines ("froze N filesystems in X ms (presync Y ms)",
"thawed in X ms") give the breakdown.

Two helper commands are run by hv_vss_sim itself (-b and -x):

  inner.py sample OUT EXE    append one resource sample of the daemon
                             (the child of our hv_vss_sim running EXE)
  inner.py idle OUT EXE SECONDS   sample, sleep, sample
"""
import ctypes
import json
import os
import re
import subprocess
import sys
import time

DEV = "/dev/vmbus/hv_vss"
TOP = BUILD = None


def log(*words):
    print("bench:", *words, file=sys.stderr, flush=True)


def progs():
    b = BUILD
    return {
        "sim": os.path.join(b, "hv_vss_sim"),
        "hvvss": os.path.join(b, "hv_vss_daemon"),
        "debian": os.path.join(b, "ref/usr/sbin/hv_vss_daemon"),
        "rawfreeze": os.path.join(b, "bench/rawfreeze"),
        "stallwriter": os.path.join(b, "bench/stallwriter"),
        "swarm": os.path.join(TOP, "tests/system/apps_swarm.py"),
    }


def daemon_argv(which, mounts, device=DEV):
    p = progs()
    if which == "debian":
        return [p["debian"], "-n"]
    extra = {"hvvss-nosync": ["-o", "presync=no"],
             "hvvss-noexp": ["-o", "expedite_freeze=no"]}.get(which, [])
    # an explicit allow-list, always; no hooks (the host's /etc could
    # hold some); everything else is the default configuration
    return [p["hvvss"], "-n", "-c", "/dev/null", "-D", device,
            "-o", "mounts=" + ",".join(mounts),
            "-o", "hooks_dir=/run/hvvss-bench-no-hooks"] + extra


# --- our daemon's log lines ------------------------------------------------
FROZE = re.compile(r"txn (\d+): froze (\d+) filesystems? in ([\d.]+) ms "
                   r"\(presync ([\d.]+) ms[^)]*\)")
THAWED = re.compile(r"txn (\d+): thawed in ([\d.]+) ms")


def parse_daemon_log(text):
    froze, presync, thawed = [], [], []
    for line in text.splitlines():
        m = FROZE.search(line)
        if m:
            froze.append(float(m.group(3)))
            presync.append(float(m.group(4)))
            continue
        m = THAWED.search(line)
        if m:
            thawed.append(float(m.group(2)))
    return {"froze_ms": froze, "presync_ms": presync, "thawed_ms": thawed}


def run_sim(tag, which, mounts, n, steps=None, setup=None, xcmd=None,
            device=DEV, timeout=600):
    """One hv_vss_sim run with one daemon; returns its report, its
    standard error (the daemon's log) and its exit status."""
    p = progs()
    rep = "/tmp/%s.json" % tag
    argv = [p["sim"], "-n", str(n), "-o", rep]
    if steps:
        argv += ["-s", steps]
    if setup:
        argv += ["-b", setup]
    if xcmd:
        argv += ["-x", xcmd]
    argv += [device, "--"] + daemon_argv(which, mounts, device)
    with open("/tmp/%s.log" % tag, "w") as errf:
        rc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=errf,
                            timeout=timeout).returncode
    text = open("/tmp/%s.log" % tag).read()
    try:
        report = json.load(open(rep))
    except (OSError, ValueError) as e:
        report = {"verdict": "no report: %s" % e, "backups": []}
    if rc != 0 or report.get("verdict") != "ok":
        why = ["backup %s: %s" % (b.get("n"), b.get("why"))
               for b in report.get("backups", []) if b.get("verdict") != "ok"]
        log("%s: sim exit %d, verdict %s; %s" % (tag, rc, report.get(
            "verdict"), "; ".join(why)))
        sys.stderr.write("".join("  | " + l + "\n"
                                 for l in text.splitlines()[-60:]))
    return report, text, rc


def latencies(report, skip):
    """Per op, the latency_us of each backup after the first skip."""
    out = {"FREEZE": [], "THAW": [], "HOT_BACKUP": []}
    failed = 0
    for b in report.get("backups", [])[skip:]:
        if b.get("verdict") != "ok":
            failed += 1
            continue
        for q in b["requests"]:
            if q["op"] in out and q.get("result") == "S_OK":
                out[q["op"]].append(q["latency_us"])
    return out, failed


def empty_cell():
    return {"FREEZE": [], "THAW": [], "HOT_BACKUP": [], "failed": 0,
            "log": {"froze_ms": [], "presync_ms": [], "thawed_ms": []}}


def add_sim(cell, report, text, skip, rc):
    lat, failed = latencies(report, skip)
    for k, v in lat.items():
        cell[k] += v
    cell["failed"] += failed + (1 if rc != 0 and not failed else 0)
    parsed = parse_daemon_log(text)
    for k in cell["log"]:
        cell["log"][k] += parsed[k][skip:]


def gap_steps(a):
    """A backup, then a pause.  Backups on a real host are hours apart;
    a freeze soon after a thaw is much cheaper (each freeze level's
    percpu rwsem may still be in its slow mode, so no RCU grace period is
    waited for), which would flatter whoever freezes the most.  Every
    method waits gap_ms after each backup."""
    return "hot,freeze,thaw,sleep=%g" % (a["gap_ms"] / 1000.0)


def rotate(seq, r):
    r %= len(seq)
    return seq[r:] + seq[:r]


# --- phases ----------------------------------------------------------------
# rawfreeze's ways: sequential; parallel with a thread per filesystem
# made once; with syncfs first in those same threads; as hvvss's freeze.c
# did before its threads lasted, a fresh thread per filesystem and phase,
# syncfs first; and sequential with, right before each freeze, a thread
# that just ended (-x) or a file written and renamed on a tmpfs (-w: as
# hvvss's ownership record, which it keeps in /run/hv_vss)
RAW_FLAGS = {"raw-seq": [], "raw-par": ["-p"], "raw-par-S": ["-p", "-S"],
             "raw-thr-S": ["-t", "-S"], "raw-x": ["-x"],
             "raw-w": ["-w", "/run"]}


def phase_latency(a):
    mounts, rounds, warm, per = a["mounts"], a["rounds"], a["warmup"], \
        a["per"]
    p = progs()
    methods = ["hvvss", "debian", "raw-seq", "raw-par"] + a.get("extra", [])
    cells = {m: empty_cell() for m in methods}
    for r in range(rounds):
        for m in rotate(methods, r):
            tag = "lat-%s-%d" % (m, r)
            if not m.startswith("raw-"):
                rep, text, rc = run_sim(tag, m, mounts, warm + per,
                                        steps=gap_steps(a))
                add_sim(cells[m], rep, text, warm, rc)
                continue
            argv = [p["rawfreeze"], "-g", str(a["gap_ms"]), "-n",
                    str(warm + per)] + RAW_FLAGS[m]
            cp = subprocess.run(argv + mounts, capture_output=True,
                                text=True, timeout=300)
            if cp.returncode != 0:
                log("%s: %s" % (tag, cp.stderr.strip()))
                cells[m]["failed"] += per
            try:
                its = json.loads(cp.stdout)["iterations"][warm:]
            except ValueError:
                its = []
            cells[m]["FREEZE"] += [i["freeze_us"] for i in its]
            cells[m]["THAW"] += [i["thaw_us"] for i in its]
        log("latency %s round %d/%d done" % (a["label"], r + 1, rounds))
    return {"label": a["label"], "fstype": a["fstype"], "n_fs": len(mounts),
            "cells": cells}


def swarm_cmd(n, logf):
    p = progs()
    return ("python3 %s --socket /run/hv_vss/app.sock --background "
            "--log %s --apps %d:app:0-9:ok" % (p["swarm"], logf, n))


def wait_swarm_done(logf, seconds=10):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            with open(logf) as f:
                if "# done" in f.read():
                    return
        except OSError:
            return
        time.sleep(0.05)


def phase_apps(a):
    mounts, rounds, warm, per = a["mounts"], a["rounds"], a["warmup"], \
        a["per"]
    counts = a["counts"]
    cells = {str(n): empty_cell() for n in counts}
    for r in range(rounds):
        for n in rotate(counts, r):
            tag = "apps-%d-%d" % (n, r)
            logf = "/tmp/%s.swarm" % tag
            setup = swarm_cmd(n, logf) if n > 0 else None
            rep, text, rc = run_sim(tag, "hvvss", mounts, warm + per,
                                    steps=gap_steps(a), setup=setup)
            add_sim(cells[str(n)], rep, text, warm, rc)
            if n > 0:
                wait_swarm_done(logf)
        log("apps round %d/%d done" % (r + 1, rounds))
    return {"counts": counts, "cells": cells}


MANY = "/tmp/many"


def mount_many(n):
    """n tmpfs mounts under one tmpfs at MANY, as a container host has
    them; mount(2) directly, since 10,000 mount(8) processes take
    minutes.  The sandbox's own mount namespace ends them all."""
    libc = ctypes.CDLL(None, use_errno=True)
    os.makedirs(MANY, exist_ok=True)
    if libc.mount(b"none", MANY.encode(), b"tmpfs", 0, None) != 0:
        raise OSError(ctypes.get_errno(), "mount tmpfs on " + MANY)
    for i in range(n):
        d = ("%s/c%d" % (MANY, i)).encode()
        os.mkdir(d)
        if libc.mount(b"none", d, b"tmpfs", 0, b"size=64k") != 0:
            raise OSError(ctypes.get_errno(), "mount tmpfs on %s" % d)


# the "exec" step of the mounts phase: nothing, or a mount made or
# undone (so that every backup of the churn cell sees a changed table)
CHURN = ("sh -c 'if mountpoint -q /tmp/churn; then umount /tmp/churn; "
         "else mkdir -p /tmp/churn && mount -t tmpfs none /tmp/churn; fi'")


def phase_mounts(a):
    """FREEZE and HOT_BACKUP with a.count unrelated mounts: "none" runs
    in a mount namespace of its own where they are gone (umount -l), so
    that the same filesystems, daemon and steps differ only by them;
    "static" sees them all; "churn" sees them, and one mount changes
    between HOT_BACKUP and FREEZE, so the plan must be made anew."""
    mounts, rounds, warm, per, n = a["mounts"], a["rounds"], a["warmup"], \
        a["per"], a["count"]
    t0 = time.monotonic()
    mount_many(n)
    log("mounts: %d tmpfs mounts in %.1f s" % (n, time.monotonic() - t0))
    steps = "hot,exec,freeze,thaw,sleep=%g" % (a["gap_ms"] / 1000.0)
    methods = ["none", "static", "churn"]
    cells = {m: empty_cell() for m in methods}
    p = progs()
    for r in range(rounds):
        for m in rotate(methods, r):
            tag = "mounts-%s-%d" % (m, r)
            xcmd = CHURN if m == "churn" else "true"
            if m != "none":
                rep, text, rc = run_sim(tag, "hvvss", mounts, warm + per,
                                        steps=steps, xcmd=xcmd)
                add_sim(cells[m], rep, text, warm, rc)
                continue
            # the same run, in a namespace without the mounts
            rep_path = "/tmp/%s.json" % tag
            argv = [p["sim"], "-n", str(warm + per), "-o", rep_path,
                    "-s", steps, "-x", xcmd, DEV, "--"] + \
                daemon_argv("hvvss", mounts)
            with open("/tmp/%s.log" % tag, "w") as errf:
                rc = subprocess.run(
                    ["unshare", "-m", "--propagation", "private", "sh",
                     "-c", 'umount -l "$0" && exec "$@"', MANY] + argv,
                    stdout=subprocess.DEVNULL, stderr=errf,
                    timeout=600).returncode
            text = open("/tmp/%s.log" % tag).read()
            try:
                rep = json.load(open(rep_path))
            except (OSError, ValueError) as e:
                rep = {"verdict": "no report: %s" % e, "backups": []}
            if rc != 0:
                log("%s: exit %d" % (tag, rc))
            add_sim(cells[m], rep, text, warm, rc)
        log("mounts round %d/%d done" % (r + 1, rounds))
    return {"count": n, "cells": cells}


def me_cmd(*args):
    return "python3 %s --top %s --build %s %s" % (
        os.path.abspath(__file__), TOP, BUILD, " ".join(args))


def read_samples(path):
    try:
        return [json.loads(l) for l in open(path) if l.strip()]
    except (OSError, ValueError):
        return []


# a backup, then a sample (-x).  The short sleep first: hv_vss_sim's
# watchdog may leave a 100 ms tick pending after a long request, and that
# tick, landing in an exec step, ends hv_vss_sim's wait for the command
# (the next backup would run beside the sample); a sleep step re-arms
# that timer for itself and so consumes it.
SAMPLE_STEPS = "hot,freeze,thaw,sleep=0.01,exec"


def phase_resources(a):
    mounts, idle, nb, napps = a["mounts"], a["idle"], a["backups"], a["apps"]
    p = progs()
    out = {"idle_s": idle, "backups": nb, "apps": napps}
    # 1. both daemons idle at once, each with its own emulated device:
    # sample, wait, sample (sim -b), then one HOT_BACKUP only (no freeze,
    # so the two never touch the same filesystem)
    procs = {}
    for which, dev in (("debian", DEV), ("hvvss", "/tmp/hv_vss_b")):
        s = "/tmp/idle-%s.jsonl" % which
        argv = [p["sim"], "-s", "hot", "-o", "/tmp/idle-%s.json" % which,
                "-b", me_cmd("idle", s, p[which], str(idle)), dev, "--"] \
            + daemon_argv(which, mounts, dev)
        errf = open("/tmp/idle-%s.log" % which, "w")
        procs[which] = (subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                         stderr=errf), errf)
    for which, (pr, errf) in procs.items():
        rc = pr.wait(timeout=idle + 120)
        errf.close()
        smp = read_samples("/tmp/idle-%s.jsonl" % which)
        out[which] = {"idle_rc": rc, "idle_samples": smp}
        if rc != 0 or len(smp) != 2:
            log("idle %s: sim exit %d, %d samples" % (which, rc, len(smp)))
    log("resources: idle done")
    # 2. CPU time per backup: a sample before the first backup and after
    # each (the sample runs after the thaw)
    for which in ("debian", "hvvss"):
        s = "/tmp/cpu-%s.jsonl" % which
        cmd = me_cmd("sample", s, p[which])
        rep, text, rc = run_sim("cpu-" + which, which, mounts, nb,
                                steps=SAMPLE_STEPS, setup=cmd,
                                xcmd=cmd)
        out[which]["cpu_samples"] = read_samples(s)
        out[which]["cpu_rc"] = rc
        out[which]["cpu_verdict"] = rep.get("verdict")
    log("resources: CPU done")
    # 3. our daemon with napps apps connected: after they registered,
    # and after each of a few backups
    s = "/tmp/rss-apps.jsonl"
    cmd = me_cmd("sample", s, p["hvvss"])
    logf = "/tmp/rss-apps.swarm"
    rep, text, rc = run_sim("rss-apps", "hvvss", mounts, a["apps_backups"],
                            steps=SAMPLE_STEPS,
                            setup=swarm_cmd(napps, logf) + " && " + cmd,
                            xcmd=cmd)
    wait_swarm_done(logf)
    out["hvvss"]["apps_samples"] = read_samples(s)
    out["hvvss"]["apps_rc"] = rc
    log("resources: RSS with %d apps done" % napps)
    return out


def dirty(mounts, mib):
    """Overwrite the first mib MiB of dirty.dat on each mount, no sync:
    never truncate, ext4 flushes a file truncated and rewritten at close
    (auto_da_alloc).  Returns the machine's Dirty (KiB) afterwards."""
    buf = b"d" * (1 << 20)
    for m in mounts:
        fd = os.open(os.path.join(m, "dirty.dat"), os.O_WRONLY | os.O_CREAT,
                     0o644)
        for _ in range(mib):
            os.write(fd, buf)
        os.close(fd)
    return status_fields("/proc/meminfo", ("Dirty",)).get("Dirty", 0)


def phase_stall(a):
    """One hv_vss_sim run per backup, so that what happens between two
    backups is ours: make the data dirty, mark the time, let the host
    run HOT_BACKUP, FREEZE, THAW, mark the time.  (hv_vss_sim's exec
    steps would do it in one run, but a stale watchdog tick can end its
    wait for an exec command early; see bench/README.md.)"""
    mounts, rounds, per, levels = a["mounts"], a["rounds"], a["per"], \
        a["dirty_mib"]
    p = progs()
    files = [os.path.join(m, "writer.dat") for m in mounts]
    wout = open("/tmp/stallwriter.json", "w")
    writer = subprocess.Popen([p["stallwriter"]] + files, stdout=wout)
    time.sleep(1.0)
    runs = []
    try:
        for r in range(rounds):
            for mib in levels:
                for which in rotate(["hvvss", "debian"], r):
                    for k in range(per):
                        tag = "stall-%s-%d-%d-%d" % (which, mib, r, k)
                        kb = dirty(mounts, mib)
                        t0 = time.monotonic_ns() // 1000
                        rep, text, rc = run_sim(tag, which, mounts, 1,
                                                steps="hot,freeze,thaw")
                        t1 = time.monotonic_ns() // 1000
                        runs.append({"which": which, "mib": mib, "round": r,
                                     "rc": rc, "report": rep,
                                     "log": parse_daemon_log(text),
                                     "window": [t0, t1, kb]})
            log("stall round %d/%d done" % (r + 1, rounds))
    finally:
        # everything is thawed here (each sim run ended with its THAW or
        # its daemon's exit); the writer's last writes return
        writer.terminate()
        writer.wait(timeout=60)
        wout.close()
    w = json.load(open("/tmp/stallwriter.json"))
    return {"n_fs": len(mounts), "levels": levels, "writer": {
        k: w[k] for k in ("writes", "max_us", "threshold_us",
                          "interval_us", "dropped")},
        "runs": [charge(run, w, len(mounts)) for run in runs]}


def charge(run, w, nfs):
    """The run's one backup: its window (dirtied .. sim done), the
    stalls that overlap it, and what the host saw."""
    t0, t1, kb = run.pop("window")
    rep = run.pop("report")
    backups = []
    for b in rep.get("backups", []):
        lat = {q["op"]: q["latency_us"] for q in b["requests"]
               if q.get("result") == "S_OK"}
        entry = {"n": b["n"], "ok": b.get("verdict") == "ok",
                 "freeze_us": lat.get("FREEZE"), "thaw_us": lat.get("THAW"),
                 "dirty_kb": kb}
        if entry["ok"]:
            mine = [s for s in w["stalls"] if s[0] < t1 and s[0] + s[1] > t0]
            entry["longest_us"] = max([s[1] for s in mine], default=0)
            entry["blocked_us"] = sum(s[1] for s in mine) / nfs
            entry["stalls"] = len(mine)
            entry["window_us"] = t1 - t0
        else:
            entry["why"] = "verdict %s (%s)" % (b.get("verdict"), b.get("why"))
        backups.append(entry)
    if not backups:
        backups.append({"n": 1, "ok": False, "why": "no report"})
    run["backups"] = backups
    return run


# --- helpers run by hv_vss_sim ---------------------------------------------
def ppid_of(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def comm_of(pid):
    with open("/proc/%d/comm" % pid) as f:
        return f.read().strip()


def all_pids():
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def children(pid):
    out = []
    for q in all_pids():
        try:
            if ppid_of(q) == pid:
                out.append(q)
        except OSError:
            pass
    return out


def find_daemon(exe):
    """The child of our hv_vss_sim ancestor that runs exe."""
    p = os.getppid()
    while p > 1 and comm_of(p) != "hv_vss_sim":
        p = ppid_of(p)
    want = os.path.realpath(exe)
    for c in children(p):
        try:
            if os.path.realpath("/proc/%d/exe" % c) == want:
                return c
        except OSError:
            pass
    raise SystemExit("inner.py: no %s under hv_vss_sim %d" % (exe, p))


def status_fields(path, keys):
    out = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in keys:
                out[k] = int(v.split()[0])
    return out


def proc_sample(pid):
    """One process: memory, CPU (all threads, dead ones included) and
    context switches summed over its live threads."""
    st = status_fields("/proc/%d/status" % pid, ("VmRSS", "VmHWM"))
    try:
        pss = status_fields("/proc/%d/smaps_rollup" % pid, ("Pss",))
    except OSError:
        pss = {}
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    cpu_ms = (int(fields[11]) + int(fields[12])) * 1000.0 / tick
    ctx = 0
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            s = status_fields("/proc/%d/task/%s/status" % (pid, t),
                              ("voluntary_ctxt_switches",
                               "nonvoluntary_ctxt_switches"))
        except OSError:
            continue
        ctx += sum(s.values())
    try:
        exe = os.path.basename(os.path.realpath("/proc/%d/exe" % pid))
    except OSError:
        exe = ""
    return {"pid": pid, "exe": exe, "rss_kb": st.get("VmRSS", 0),
            "hwm_kb": st.get("VmHWM", 0), "pss_kb": pss.get("Pss", 0),
            "cpu_ms": cpu_ms, "ctxsw": ctx,
            "threads": len(os.listdir("/proc/%d/task" % pid))}


def sample(exe):
    d = find_daemon(exe)
    s = proc_sample(d)
    # its children are part of the daemon: the thaw guard, and with the
    # privilege split the engine (the parent is d: the daemon's binary
    # that hv_vss_sim started)
    s["children"] = [proc_sample(c) for c in children(d)]
    s["t"] = time.monotonic()
    # the backup just done (0: before the first), from hv_vss_sim
    s["backup"] = int(os.environ.get("HVVSS_SIM_BACKUP", "0"))
    return s


def cmd_sample(out, exe):
    s = sample(exe)
    with open(out, "a") as f:
        f.write(json.dumps(s) + "\n")


def cmd_idle(out, exe, seconds):
    cmd_sample(out, exe)
    time.sleep(float(seconds))
    cmd_sample(out, exe)


PHASES = {"latency": phase_latency, "apps": phase_apps,
          "resources": phase_resources, "stall": phase_stall,
          "mounts": phase_mounts}
HELPERS = {"sample": cmd_sample, "idle": cmd_idle}


def main(argv):
    global TOP, BUILD
    while argv and argv[0] in ("--top", "--build"):
        if argv[0] == "--top":
            TOP = argv[1]
        else:
            BUILD = argv[1]
        argv = argv[2:]
    if not argv or TOP is None or BUILD is None:
        raise SystemExit("usage: inner.py --top DIR --build DIR PHASE ARGS")
    if argv[0] in HELPERS:
        HELPERS[argv[0]](*argv[1:])
        return
    if argv[0] not in PHASES or len(argv) != 2:
        raise SystemExit("inner.py: unknown phase %s" % argv[0])
    t0 = time.monotonic()
    res = PHASES[argv[0]](json.loads(argv[1]))
    res["seconds"] = round(time.monotonic() - t0, 1)
    print(json.dumps(res))


if __name__ == "__main__":
    main(sys.argv[1:])
