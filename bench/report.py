#!/usr/bin/python3
"""bench/report.py: the table of bench/run, from its results.

  bench/report.py [build/bench/results.json]

bench/run calls render() at the end of a run; run by hand, this prints
the table of a saved run again.  Statistics: the median, and the 90th
percentile by nearest rank (the value below which 90 % of the backups
fall; with 20 backups, the 18th).  Every ratio is hvvss over its
baseline from the same run: below 1 is better for hvvss.
"""
import json
import math
import statistics
import sys

# issue 7's targets: what, and the limit (checked in targets_section)
TARGETS = [
    ("8 ext4: FREEZE vs Debian's", "<= 0.30x"),
    ("8 xfs: FREEZE vs Debian's", "<= 0.30x"),
    ("1 ext4: FREEZE vs Debian's", "<= 1.00x"),
    ("1000 apps: FREEZE over no app", "<= +50 ms"),
    ("longest write stall vs Debian's, 64 MiB", "<= 0.50x"),
    ("longest write stall vs Debian's, 256 MiB", "<= 0.50x"),
    ("wakeups while idle (context switches)", "0"),
    ("RSS with 1000 apps (their server)", "<= 8 MiB"),
    # issue 10
    ("10,000 unrelated mounts: FREEZE over none", "<= +10 ms"),
    # issue 11
    ("8 ext4: FREEZE vs hvvss's 1 ext4", "<= 1.30x"),
    ("  the same, expedite_freeze = no", "<= 1.30x"),
]


def med(v):
    return statistics.median(v) if v else None


def p90(v):
    if not v:
        return None
    v = sorted(v)
    return v[max(0, math.ceil(0.9 * len(v)) - 1)]


def ms(us, width=6):
    return ("%*.1f" % (width, us / 1000.0)) if us is not None else \
        "%*s" % (width, "-")


def pair(v):
    return "%s / %s" % (ms(med(v)), ms(p90(v)))


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def rtxt(x):
    return "%.2fx" % x if x is not None else "-"


ROWS = [("one", "ext4 x1"), ("ext4x8", "ext4 x8"), ("ext4x16", "ext4 x16"),
        ("ext4x64", "ext4 x64"), ("xfsx8", "xfs x8")]
METHODS = [("hvvss", "hvvss"), ("debian", "Debian"), ("raw-seq", "raw seq"),
           ("raw-par", "raw par")]


def latency_section(r, out, verdict):
    lat = r.get("latency", {})
    if not lat:
        return
    p = r["meta"]["params"]["latency"]
    out.append("FREEZE and THAW request->reply, ms: median / p90 "
               "(backups per cell in brackets; %d ms between backups)"
               % p["gap_ms"])
    out.append("%-9s %-6s" % ("", "") + "".join(
        "%-17s" % h for _, h in METHODS) + "hvvss/Debian  hvvss/raw-par")
    for key, label in ROWS:
        g = lat.get(key)
        if g is None:
            continue
        if "error" in g:
            out.append("%-9s %s" % (label, g["error"]))
            continue
        c = g["cells"]
        for op in ("FREEZE", "THAW"):
            line = "%-9s %-6s" % (label if op == "FREEZE" else "", op)
            for m, _ in METHODS:
                line += "%-17s" % pair(c[m][op])
            rd = ratio(med(c["hvvss"][op]), med(c["debian"][op]))
            rp = ratio(med(c["hvvss"][op]), med(c["raw-par"][op]))
            line += "%-14s%s" % (rtxt(rd), rtxt(rp))
            out.append(line)
            if op == "FREEZE":
                verdict[key] = rd
        counts = " ".join("%s %d%s" % (h, len(c[m]["FREEZE"]),
                                       " (%d FAILED)" % c[m]["failed"]
                                       if c[m]["failed"] else "")
                          for m, h in METHODS)
        out.append("%-9s [%s]" % ("", counts))
    scaling_lines(lat, out, verdict)
    out.append("")
    out.append("hvvss FREEZE and THAW from its own log, ms (medians): "
               "presync = syncfs of every filesystem,")
    out.append("FIFREEZE = the freeze stage, rest = the request->reply "
               "time outside both (host channel, plan, apps, hooks)")
    for key, label in ROWS:
        g = lat.get(key)
        if g is None or "error" in g:
            continue
        c = g["cells"]["hvvss"]
        lg = c["log"]
        rest_f = rest(c["FREEZE"], lg["presync_ms"], lg["froze_ms"])
        rest_t = rest(c["THAW"], lg["thawed_ms"])
        out.append("%-9s FREEZE %s = presync %s + FIFREEZE %s + rest %s;"
                   "  THAW %s = FITHAW %s + rest %s" % (
                       label, ms(med(c["FREEZE"])).strip(),
                       msf(med(lg["presync_ms"])), msf(med(lg["froze_ms"])),
                       ms(rest_f).strip(), ms(med(c["THAW"])).strip(),
                       msf(med(lg["thawed_ms"])), ms(rest_t).strip()))
    extras = [("hvvss-noexp", "hvvss -o expedite_freeze=no (normal RCU "
               "grace periods, as before)"),
              ("hvvss-nosync", "hvvss -o presync=no"),
              ("raw-thr-S", "rawfreeze -t -S (syncfs, then FIFREEZE, each "
               "in a fresh thread, as hvvss did)"),
              ("raw-par-S", "rawfreeze -p -S (syncfs, then FIFREEZE, in "
               "one lasting thread per filesystem, as hvvss now)"),
              ("raw-x", "rawfreeze -x (sequential, a thread ended right "
               "before each freeze)"),
              ("raw-w", "rawfreeze -w /run (sequential, a file written and "
               "renamed on a tmpfs right before each freeze)")]
    for key, label in ROWS:
        g = lat.get(key)
        if g is None or "error" in g:
            continue
        c = g["cells"]
        for m, what in extras:
            if m not in c:
                continue
            x = c[m]
            out.append("%-9s %s:" % (label, what))
            out.append("%-9s   FREEZE %s [%d%s], %s of Debian's, %s of "
                       "hvvss's, %s of raw seq's" % (
                           "", pair(x["FREEZE"]).strip(), len(x["FREEZE"]),
                           " %d FAILED" % x["failed"] if x["failed"] else "",
                           rtxt(ratio(med(x["FREEZE"]),
                                      med(c["debian"]["FREEZE"]))),
                           rtxt(ratio(med(x["FREEZE"]),
                                      med(c["hvvss"]["FREEZE"]))),
                           rtxt(ratio(med(x["FREEZE"]),
                                      med(c["raw-seq"]["FREEZE"])))))
    out.append("")


def scaling_lines(lat, out, verdict):
    """N filesystems against one: each group runs in its own sandbox,
    one after another, so these ratios are not interleaved."""
    one = lat.get("one")
    if one is None or "error" in one:
        return
    base = {m: med(one["cells"][m]["FREEZE"])
            for m in ("hvvss", "raw-par", "hvvss-noexp")
            if m in one["cells"]}
    parts = []
    for key, label in ROWS[1:]:
        g = lat.get(key)
        if g is None or "error" in g or not key.startswith("ext4"):
            continue
        h = ratio(med(g["cells"]["hvvss"]["FREEZE"]), base["hvvss"])
        p = ratio(med(g["cells"]["raw-par"]["FREEZE"]), base["raw-par"])
        ne = ""
        if "hvvss-noexp" in g["cells"] and "hvvss-noexp" in base:
            ne = ", hvvss -o expedite_freeze=no %s" % rtxt(ratio(
                med(g["cells"]["hvvss-noexp"]["FREEZE"]),
                base["hvvss-noexp"]))
            if key == "ext4x8":
                verdict["scale8_noexp"] = ratio(
                    med(g["cells"]["hvvss-noexp"]["FREEZE"]),
                    base["hvvss-noexp"])
        parts.append("%s %s (raw par %s%s)" % (label.split()[1], rtxt(h),
                                               rtxt(p), ne))
        if key == "ext4x8":
            verdict["scale8"] = h
    if parts:
        out.append("FREEZE of N ext4 over 1 ext4 (groups run one after "
                   "another, not interleaved): " + ", ".join(parts))


def msf(x):
    return "%.1f" % x if x is not None else "-"


def rest(lat_us, *parts_ms):
    """Median over backups of latency minus the logged stages; the lists
    are in backup order, so they pair up when nothing failed."""
    if not lat_us or any(len(p) != len(lat_us) for p in parts_ms):
        return None
    return med([lat_us[i] - sum(p[i] for p in parts_ms) * 1000.0
                for i in range(len(lat_us))])


def apps_section(r, out, verdict):
    a = r.get("apps", {}).get("one")
    if a is None:
        return
    if "error" in a:
        out.append("Applications: %s" % a["error"])
        out.append("")
        return
    c = a["cells"]
    out.append("Applications: hvvss, 1 ext4, N instantly answering apps "
               "(tests/system/apps_swarm.py, tiers 0-9), ms")
    out.append("%-6s %-17s %-11s %-17s %-17s %s" % (
        "apps", "FREEZE med / p90", "FREEZE +", "THAW med / p90",
        "HOT_BACKUP", "backups"))
    base = med(c["0"]["FREEZE"]) if "0" in c else None
    for n in a["counts"]:
        x = c[str(n)]
        over = med(x["FREEZE"]) - base if base is not None and \
            x["FREEZE"] else None
        out.append("%-6d %-17s %-11s %-17s %-17s %d%s" % (
            n, pair(x["FREEZE"]),
            ("%+.1f" % (over / 1000)) if over is not None else "-",
            pair(x["THAW"]), pair(x["HOT_BACKUP"]), len(x["FREEZE"]),
            " (%d FAILED)" % x["failed"] if x["failed"] else ""))
        if n == 1000 and over is not None:
            verdict["apps1000"] = over / 1000.0
    out.append("")


def stall_section(r, out, verdict):
    s = r.get("stall", {}).get("stall")
    if s is None:
        return
    if "error" in s:
        out.append("Write stall: %s" % s["error"])
        out.append("")
        return
    w = s["writer"]
    out.append("Write stall: %d ext4 (1 GiB images), one writer each "
               "(4 KiB pwrite, %d us apart); DIRTY MiB per filesystem"
               % (s["n_fs"], w["interval_us"]))
    out.append("written (not synced) just before each backup; per backup, "
               "from then to THAW's reply: the longest write(2),")
    out.append("and the time spent in writes of >= %d ms per writer, ms"
               % (w["threshold_us"] // 1000))
    out.append("%-6s %-7s %-17s %-17s %-17s %-11s %s" % (
        "dirty", "daemon", "longest med / p90", "blocked med / p90",
        "FREEZE med / p90", "dirty seen", "backups"))
    for mib in s["levels"]:
        meds = {}
        for which, label in (("hvvss", "hvvss"), ("debian", "Debian")):
            bs = [b for run in s["runs"] if run["mib"] == mib and
                  run["which"] == which for b in run["backups"]]
            ok = [b for b in bs if b["ok"]]
            lon = [b["longest_us"] for b in ok]
            blk = [b["blocked_us"] for b in ok]
            frz = [b["freeze_us"] for b in ok if b["freeze_us"]]
            dirty = med([b["dirty_kb"] for b in ok if b["dirty_kb"]])
            meds[which] = med(lon)
            out.append("%-6s %-7s %-17s %-17s %-17s %-11s %d%s" % (
                mib if which == "hvvss" else "", label, pair(lon),
                pair(blk), pair(frz),
                "%d MiB" % (dirty // 1024) if dirty else "-", len(ok),
                " (%d FAILED)" % (len(bs) - len(ok)) if len(bs) > len(ok)
                else ""))
        rl = ratio(meds["hvvss"], meds["debian"])
        verdict["stall%d" % mib] = rl
        out.append("%-6s longest write hvvss/Debian %s" % ("", rtxt(rl)))
    out.append("(dirty seen: the machine's Dirty in /proc/meminfo when "
               "the backup starts, all filesystems together)")
    out.append("")


def mounts_section(r, out, verdict):
    g = r.get("mounts", {}).get("mounts")
    if g is None:
        return
    if "error" in g:
        out.append("Unrelated mounts: %s" % g["error"])
        out.append("")
        return
    c = g["cells"]
    out.append("Unrelated mounts: hvvss, 1 ext4 allow-listed, %d tmpfs "
               "mounts beside it, ms" % g["count"])
    out.append("%-8s %-17s %-10s %-17s %-10s %s" % (
        "mounts", "FREEZE med / p90", "FREEZE +", "HOT_BACKUP",
        "HOT +", "backups"))
    base = {op: med(c["none"][op]) for op in ("FREEZE", "HOT_BACKUP")}
    labels = [("none", "none"), ("static", "%d" % g["count"]),
              ("churn", "%d, one changing between HOT_BACKUP and FREEZE"
               % g["count"])]
    for m, label in labels:
        x = c[m]
        over = {op: (med(x[op]) - base[op]) / 1000.0
                if base[op] is not None and x[op] else None
                for op in ("FREEZE", "HOT_BACKUP")}
        out.append("%-8s %-17s %-10s %-17s %-10s %d%s%s" % (
            m, pair(x["FREEZE"]),
            "%+.1f" % over["FREEZE"] if over["FREEZE"] is not None else "-",
            pair(x["HOT_BACKUP"]),
            "%+.1f" % over["HOT_BACKUP"]
            if over["HOT_BACKUP"] is not None else "-",
            len(x["FREEZE"]),
            " (%d FAILED)" % x["failed"] if x["failed"] else "",
            "" if m == "none" else "  (%s)" % label))
        if m == "static":
            verdict["mounts"] = over["FREEZE"]
    out.append("(static: the FREEZE reuses the plan its HOT_BACKUP made; "
               "churn: it reads the mount table again)")
    out.append("")


def kib(x):
    return "%.1f MiB" % (x / 1024.0) if x is not None else "-"


def is_guard(k):
    # samples from before "exe" was kept: every child was the guard
    return k.get("exe", "hv_vss_guard") == "hv_vss_guard"


def serving(s):
    """Of a sample, the process the apps talk to: with the privilege
    split the engine (the daemon's child that is not the guard)."""
    eng = [k for k in s.get("children", []) if not is_guard(k)]
    return eng[0] if eng else s


def resources_section(r, out, verdict):
    res = r.get("resources", {}).get("one")
    if res is None:
        return
    if "error" in res:
        out.append("Resources: %s" % res["error"])
        out.append("")
        return
    out.append("Resources (1 ext4; /proc/PID/status and stat)")
    out.append("%-40s %-22s %s" % ("", "hvvss", "Debian"))
    rows = {}
    for which in ("hvvss", "debian"):
        d = res.get(which, {})
        idle = d.get("idle_samples", [])
        x = {}
        if len(idle) == 2:
            a, b = idle
            x["rss"] = a["rss_kb"]
            guards = [k for k in a["children"] if is_guard(k)]
            engines = [k for k in a["children"] if not is_guard(k)]
            x["guard"] = sum(k["rss_kb"] for k in guards) \
                if guards else None
            x["engine"] = sum(k["rss_kb"] for k in engines) \
                if engines else None
            x["pss"] = a.get("pss_kb", 0) + sum(
                k.get("pss_kb", 0) for k in a["children"])
            x["ctx"] = (b["ctxsw"] + sum(k["ctxsw"] for k in b["children"])) \
                - (a["ctxsw"] + sum(k["ctxsw"] for k in a["children"]))
            x["threads"] = a["threads"]
        cpu = d.get("cpu_samples", [])
        if len(cpu) >= 2 and cpu[-1].get("backup", len(cpu) - 1) > \
                cpu[0].get("backup", 0):
            n = cpu[-1].get("backup", len(cpu) - 1) - cpu[0].get("backup", 0)

            def tot(s):
                return s["cpu_ms"] + sum(k["cpu_ms"] for k in s["children"])
            x["cpu"] = (tot(cpu[-1]) - tot(cpu[0])) / n
            x["cpu_n"] = n
        ap = [serving(s) for s in d.get("apps_samples", [])]
        if ap:
            x["rss_apps"] = max(s["rss_kb"] for s in ap)
            x["hwm_apps"] = max(s["hwm_kb"] for s in ap)
        rows[which] = x
    h, dd = rows.get("hvvss", {}), rows.get("debian", {})

    def line(label, f, key):
        out.append("%-40s %-22s %s" % (label, f(h.get(key)), f(dd.get(key))))
    line("RSS idle, the daemon process", kib, "rss")
    if h.get("engine") is not None:
        line("RSS idle, its engine (privsep)", kib, "engine")
    line("RSS idle, its thaw guard (mlocked)", kib, "guard")
    line("PSS idle, all of them", kib, "pss")
    out.append("%-40s %-22s %s" % (
        "RSS with %d apps, their server (peak)" % res["apps"],
        "%s (%s)" % (kib(h.get("rss_apps")), kib(h.get("hwm_apps"))),
        "n/a (no apps)"))
    line("context switches while idle %g s" % res["idle_s"],
         lambda v: "%d" % v if v is not None else "-", "ctx")
    line("CPU per backup (utime+stime, %d)" % h.get("cpu_n", 0),
         lambda v: "%.2f ms" % v if v is not None else "-", "cpu")
    out.append("(CPU time counts in 10 ms ticks: over %d backups, "
               "a resolution of %.2f ms per backup)"
               % (h.get("cpu_n", 0) or 1, 10.0 / (h.get("cpu_n", 0) or 1)))
    verdict["ctx"] = h.get("ctx")
    verdict["rss_apps"] = h.get("rss_apps")
    out.append("")


def targets_section(r, out, v):
    out.append("Targets (reported, never asserted)")
    vals = [
        (v.get("ext4x8"), lambda x: x <= 0.30, rtxt),
        (v.get("xfsx8"), lambda x: x <= 0.30, rtxt),
        (v.get("one"), lambda x: x <= 1.00, rtxt),
        (v.get("apps1000"), lambda x: x <= 50, lambda x: "%+.1f ms" % x),
        (v.get("stall64"), lambda x: x <= 0.50, rtxt),
        (v.get("stall256"), lambda x: x <= 0.50, rtxt),
        (v.get("ctx"), lambda x: x == 0, lambda x: "%d" % x),
        (v.get("rss_apps"), lambda x: x <= 8192, kib),
        (v.get("mounts"), lambda x: x <= 10, lambda x: "%+.1f ms" % x),
        (v.get("scale8"), lambda x: x <= 1.30, rtxt),
        (v.get("scale8_noexp"), lambda x: x <= 1.30, rtxt),
    ]
    for (what, limit), (x, ok, fmt) in zip(TARGETS, vals):
        if x is None:
            out.append("  %-42s %-10s %-10s %s" % (what, "-", limit,
                                                   "not measured"))
            continue
        if r["meta"].get("smoke"):
            said = "(smoke)"
        else:
            said = "met" if ok(x) else "MISSED"
        out.append("  %-42s %-10s %-10s %s" % (what, fmt(x), limit, said))
    if r["meta"].get("smoke"):
        out.append("  (a smoke run, one backup per row: these say nothing)")
    out.append("")


def render(r):
    m = r["meta"]
    mc = m["machine"]
    out = ["hvvss benchmarks: %s, %s, %s s%s" % (
        m["date"], m["command"], m.get("seconds", "?"),
        "  SMOKE: one backup per row, not a measurement"
        if m.get("smoke") else ""),
        "machine: %d CPUs (%s), %.1f GiB, Linux %s, images on %s; "
        "Debian's hv_vss_daemon %s" % (mc["nproc"], mc["cpu"], mc["mem_gib"],
                                       mc["kernel"], mc["disk"],
                                       mc["debian_daemon"]), ""]
    verdict = {}
    latency_section(r, out, verdict)
    apps_section(r, out, verdict)
    stall_section(r, out, verdict)
    resources_section(r, out, verdict)
    mounts_section(r, out, verdict)
    targets_section(r, out, verdict)
    bad = failures(r)
    if bad:
        out.append("FAILURES: " + "; ".join(bad))
    return "\n".join(out) + "\n"


def failures(r):
    """What did not run as it should: not the targets, the runs."""
    bad = []
    for phase in ("latency", "apps", "resources", "stall", "mounts"):
        for g, x in r.get(phase, {}).items():
            if "error" in x:
                bad.append("%s/%s: %s" % (g, phase, x["error"]))
            for m, c in x.get("cells", {}).items():
                if c.get("failed"):
                    bad.append("%s/%s %s: %d backups failed" % (
                        g, phase, m, c["failed"]))
            for run in x.get("runs", []):
                n = sum(1 for b in run["backups"] if not b["ok"])
                if n or run["rc"] != 0:
                    bad.append("%s/%s %s %d MiB: run exit %d, %d backups "
                               "failed" % (g, phase, run["which"],
                                           run["mib"], run["rc"], n))
    res = r.get("resources", {}).get("one", {})
    for which in ("hvvss", "debian"):
        d = res.get(which, {})
        for k in ("idle_rc", "cpu_rc", "apps_rc"):
            if d.get(k):
                bad.append("resources %s: %s %d" % (which, k, d[k]))
    return bad


if __name__ == "__main__":
    path = sys.argv[1] if len(sys.argv) > 1 else "build/bench/results.json"
    sys.stdout.write(render(json.load(open(path))))
