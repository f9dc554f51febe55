#!/usr/bin/env python3
"""group_lab.py: a laboratory of VMs in one consistency group, for
t_group.sh and bench/group.

    Etcd(n, workdir)    a real etcd cluster: n members of Debian's etcd on
                        127.0.0.1, ports of their own, data on /dev/shm,
                        fsync off; kill(i), restart(i), stop()
    Vm(lab, i, ...)     one VM: a sandbox (tests/system/sandbox) holding
                        its own emulated host and device (hv_vss_sim), a
                        loop-mounted ext4 filesystem, hv_vss_daemon, the
                        bank.py workload and, with a group, hv_vss_group.
                        The host side of its backups is here: each backup
                        waits for "go" (the host starting it), and its
                        frozen window copies the VM's disk image, as a
                        Hyper-V host's snapshot would.

The proof (run as a program) drives rounds of backups over N VMs, each
VM's host starting at a random offset within --stagger seconds, then adds
up each round's snapshots: the ledgers' balances must sum to the starting
total exactly, and each image must be clean.  It prints "ok - " and
"not ok - " lines, like the shell tests.
"""

import argparse
import json
import os
import queue
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

TOP = os.environ.get("HVVSS_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
B = os.environ.get("HVVSS_BUILD") or os.path.join(TOP, "build")
SANDBOX = os.environ.get("SANDBOX") or os.path.join(B, "tests", "sandbox")
START = 1000  # each VM's opening balance


def port_free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_ports(n):
    """n consecutive free ports from a random base (tests run side by
    side on one machine)."""
    # below the ephemeral range (32768-60999): a killed etcd member's
    # port must still be free when it restarts, not taken as the source
    # port of some connection meanwhile
    for _ in range(50):
        base = random.randrange(12000, 32000 - n)
        if all(port_free(base + i) for i in range(n)):
            return list(range(base, base + n))
    raise RuntimeError("no %d free ports" % n)


class Etcd:
    def __init__(self, n, extra_host=None):
        self.n = n
        self.dir = None
        self.dir = __import__("tempfile").mkdtemp(prefix="hvvss-etcd.",
                                                  dir="/dev/shm")
        ports = free_ports(2 * n)
        self.client = [ports[2 * i] for i in range(n)]
        self.peer = [ports[2 * i + 1] for i in range(n)]
        self.extra_host = extra_host  # also listen there (network cut)
        self.cluster = ",".join("e%d=http://127.0.0.1:%d" % (i + 1, p)
                                for i, p in enumerate(self.peer))
        self.procs = [None] * n
        for i in range(n):
            self.start(i, "new")
        self.wait_healthy(30)

    def endpoints(self, host="127.0.0.1"):
        return ",".join("http://%s:%d" % (host, p) for p in self.client)

    def start(self, i, state):
        listen = "http://127.0.0.1:%d" % self.client[i]
        if self.extra_host:
            listen += ",http://%s:%d" % (self.extra_host, self.client[i])
        log = open(os.path.join(self.dir, "e%d.log" % (i + 1)), "ab")
        self.procs[i] = subprocess.Popen(
            ["etcd", "--name", "e%d" % (i + 1),
             "--data-dir", os.path.join(self.dir, "e%d" % (i + 1)),
             "--listen-client-urls", listen,
             "--advertise-client-urls", "http://127.0.0.1:%d" % self.client[i],
             "--listen-peer-urls", "http://127.0.0.1:%d" % self.peer[i],
             "--initial-advertise-peer-urls",
             "http://127.0.0.1:%d" % self.peer[i],
             "--initial-cluster", self.cluster,
             "--initial-cluster-state", state,
             "--initial-cluster-token", "hvvss-%d" % os.getpid(),
             "--unsafe-no-fsync", "--log-level", "error"],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()

    def healthy(self, i):
        try:
            req = urllib.request.Request(
                "http://127.0.0.1:%d/v3/kv/range" % self.client[i],
                data=b'{"key":"aGVhbHRo"}', method="POST")
            with urllib.request.urlopen(req, timeout=2) as r:
                return b"header" in r.read()
        except OSError:
            return False

    def wait_healthy(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if all(self.healthy(i) for i in range(self.n)
                   if self.procs[i] is not None):
                return True
            time.sleep(0.2)
        raise RuntimeError("etcd not healthy within %d s" % seconds)

    def keys(self, prefix):
        """The keys under prefix, read from any member that answers."""
        import base64
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        body = json.dumps({"key": base64.b64encode(prefix.encode()).decode(),
                           "range_end": base64.b64encode(
                               end.encode()).decode()}).encode()
        for i in range(self.n):
            if self.procs[i] is None:
                continue
            try:
                req = urllib.request.Request(
                    "http://127.0.0.1:%d/v3/kv/range" % self.client[i],
                    data=body, method="POST")
                with urllib.request.urlopen(req, timeout=3) as r:
                    ans = json.load(r)
                return [base64.b64decode(kv["key"]).decode()
                        for kv in ans.get("kvs", [])]
            except (OSError, ValueError):
                continue
        return None

    def leader(self):
        """The index of the member that leads the cluster now."""
        for i in range(self.n):
            if self.procs[i] is None:
                continue
            try:
                req = urllib.request.Request(
                    "http://127.0.0.1:%d/v3/maintenance/status" %
                    self.client[i], data=b"{}", method="POST")
                with urllib.request.urlopen(req, timeout=2) as r:
                    st = json.load(r)
                if st.get("leader") == st["header"].get("member_id"):
                    return i
            except (OSError, ValueError, KeyError):
                pass
        return 0

    def kill(self, i):
        p = self.procs[i]
        if p is not None:
            p.kill()
            p.wait()
            self.procs[i] = None

    def restart(self, i):
        self.start(i, "existing")

    def stop(self):
        for p in self.procs:
            if p is not None:
                p.terminate()
        for i, p in enumerate(self.procs):
            if p is not None:
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
                self.procs[i] = None
        if self.dir:
            for i in range(self.n):  # for a failure's post-mortem
                log = os.path.join(self.dir, "e%d.log" % (i + 1))
                if nfail and os.path.exists(log):
                    for l in open(log, errors="replace").readlines()[-5:]:
                        print("# etcd e%d: %s" % (i + 1, l.rstrip()))
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


INNER = r"""
set -u
cat >/tmp/window.sh <<'W_EOF'
n=${HVVSS_SIM_BACKUP:-0}
if [ ! -e /tmp/phase-$n ]; then
	: >/tmp/phase-$n
	# between backups: what the operator would see (README.md)
	{ echo '$ hv_vss_ctl history'; @B@/hv_vss_ctl history -n 6
	  echo '$ hv_vss_group status'; @B@/hv_vss_group status; } \
	    >/tmp/ctl.txt 2>&1
	echo "ready $n" >&3 || exit 1
	read -r w m <&4 || exit 1
	[ "$w" = go ]
	exit
fi
echo "frozen $n" >&3 || exit 1
read -r w m <&4 || exit 1
[ "$w" = copied ]
W_EOF
cat >/tmp/agent.sh <<'A_EOF'
# like systemd's Restart=always: a killed agent comes back
while [ ! -e /tmp/stop ]; do
	@NETNS@ @B@/hv_vss_group -v -c /tmp/group.conf 2>>/tmp/group.log &
	echo "agent $!" >&3
	wait $!
	sleep 0.2
done
A_EOF
mkdir -p /tmp/hooks.d
cat >/tmp/hooks.d/10-bank <<'H_EOF'
#!/bin/sh
# the bank, quiesced by a hook that takes its time (0-@HOOKDELAY@ ms), as a
# database's flush would
[ -S /tmp/bank.ctl ] || exit 0
case $1 in
freeze) cmd=FREEZE; want=FROZEN
	sleep "$(od -An -N2 -tu2 /dev/urandom |
	    awk '{ printf "%.3f", ($1 % (@HOOKDELAY@ + 1)) / 1000 }')" ;;
*) cmd=THAW; want=THAWED ;;
esac
exec python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect("/tmp/bank.ctl")
s.sendall(sys.argv[1].encode() + b"\n")
sys.exit(0 if s.makefile().readline().startswith(sys.argv[2]) else 1)
' "$cmd" "$want"
H_EOF
chmod 0755 /tmp/hooks.d /tmp/hooks.d/10-bank
cat >/tmp/setup.sh <<'S_EOF'
if [ @BANK@ = 1 ]; then
	python3 @TOP@/tests/system/bank.py --name @NAME@ --port @PORT@ \
	    --peers @PEERS@ --ledger /mnt/a/ledger @BANKCTL@ \
	    >/tmp/bank.log 2>&1 &
	echo "bank $!" >&3
else
	echo registered >/tmp/bank.log
fi
if [ @GROUP@ = 1 ]; then
	sh /tmp/agent.sh >/dev/null 2>&1 &
fi
for i in $(seq 1 150); do
	if grep -q registered /tmp/bank.log && { [ @GROUP@ = 0 ] ||
	    grep -q 'state: idle' /run/hv_vss/group.status 2>/dev/null; }; then
		exit 0
	fi
	sleep 0.1
done
echo "setup: the applications did not register" >&2
exit 1
S_EOF
cat >/tmp/group.conf <<'C_EOF'
[group]
name = @NAME@
group = lab
members = @MEMBERS@
endpoints = @ENDPOINTS@
budget_ms = @BUDGET@
lease_ttl = @TTL@
policy = @POLICY@
C_EOF
@B@/hv_vss_sim -w 10 -n @ROUNDS@ -s exec,hot,freeze,exec,thaw \
    -x "sh /tmp/window.sh" -b "sh /tmp/setup.sh" -o /tmp/report.json \
    /dev/vmbus/hv_vss -- @B@/hv_vss_daemon -n -c /dev/null \
    -o mounts=/mnt/a -o app_freeze_timeout=@AFT@ -o hooks_dir=/tmp/hooks.d \
    @DAEMONOPTS@ 2>/tmp/daemon.log
echo "sim exit $?"
# the other VMs may be in their last backup: their banks need ours
read -r w <&4
touch /tmp/stop
sleep 0.3
if ! timeout 3 sh -c 'echo x >/mnt/a/probe'; then
	echo "LEFT FROZEN"
	fsfreeze -u /mnt/a
fi
echo "=== report"
cat /tmp/report.json
echo
echo "=== daemon"
cat /tmp/daemon.log
echo "=== group"
cat /tmp/group.log 2>/dev/null
cat /run/hv_vss/group.status 2>/dev/null
echo "=== ctl"
cat /tmp/ctl.txt
echo "=== bank"
tail -n 30 /tmp/bank.log
"""


def high_fd(fd):
    import fcntl
    n = fcntl.fcntl(fd, fcntl.F_DUPFD, 100)
    os.close(fd)
    return n


class Vm:
    def __init__(self, lab, i, rounds, group, budget_ms, ttl=3,
                 policy="veto", netns_pid=None, endpoints=None,
                 workload=True, hook_ms=0, hooks_tier=None):
        self.lab = lab
        self.i = i
        self.name = "vm%d" % (i + 1)
        self.dir = os.path.join(lab.work, self.name)
        os.makedirs(self.dir, exist_ok=True)
        self.img = os.path.join(self.dir, "a.img")
        subprocess.run(["truncate", "-s", "32M", self.img], check=True)
        subprocess.run(["mkfs.ext4", "-q", "-F", self.img], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.q = queue.Queue()
        self.agent_pids = []
        self.snaps = {}  # round -> copied image
        self.rounds = rounds
        subs = {
            "@TOP@": TOP, "@B@": B, "@NAME@": self.name,
            "@PORT@": str(lab.ports[i]),
            "@PEERS@": ",".join(str(p) for j, p in enumerate(lab.ports)
                                if j != i),
            "@GROUP@": "1" if group else "0",
            "@BANK@": "1" if workload else "0",
            "@BANKCTL@": "--control /tmp/bank.ctl" if hook_ms else "",
            "@HOOKDELAY@": str(hook_ms),
            "@DAEMONOPTS@": ("-o hooks_tier=%d" % hooks_tier
                             if hooks_tier is not None else ""),
            "@MEMBERS@": ",".join("vm%d" % (j + 1) for j in range(lab.n)),
            "@ENDPOINTS@": endpoints or (lab.etcd.endpoints()
                                         if lab.etcd else ""),
            "@BUDGET@": str(budget_ms), "@TTL@": str(ttl),
            "@POLICY@": policy, "@ROUNDS@": str(rounds),
            "@AFT@": str(budget_ms // 1000 + 5),
            "@NETNS@": ("nsenter --net=/proc/%d/ns/net" % netns_pid
                        if netns_pid else ""),
        }
        text = INNER
        for k, v in subs.items():
            text = text.replace(k, v)
        with open(os.path.join(self.dir, "inner.sh"), "w") as f:
            f.write(text)
        r3, w3 = os.pipe()
        r4, w4 = os.pipe()
        r3, w3, r4, w4 = map(high_fd, (r3, w3, r4, w4))

        def child():
            os.dup2(w3, 3)
            os.dup2(r4, 4)

        self.out = open(os.path.join(self.dir, "out"), "wb")
        self.proc = subprocess.Popen(
            [SANDBOX, "-t", "900", "-r", TOP, "-r", B, "-r", self.dir,
             "-m", "%s:/mnt/a" % self.img, "--", "sh",
             os.path.join(self.dir, "inner.sh")],
            stdout=self.out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, pass_fds=(3, 4), preexec_fn=child)
        os.close(w3)
        os.close(r4)
        self.rfile = os.fdopen(r3, "r")
        self.wfile = os.fdopen(w4, "w")
        threading.Thread(target=self.reader, daemon=True).start()

    def reader(self):
        for line in self.rfile:
            w = line.split()
            if w and w[0] == "agent":
                self.agent_pids.append(int(w[1]))
            elif w and w[0] == "bank":
                self.bank_pid = int(w[1])
            else:
                self.q.put(w)
        self.q.put(None)

    def get(self, what, timeout=120):
        w = self.q.get(timeout=timeout)
        if w is None or w[0] != what:
            raise RuntimeError("%s: expected %s, got %r" % (
                self.name, what, w))
        return int(w[1])

    def say(self, line):
        self.wfile.write(line + "\n")
        self.wfile.flush()

    def round(self, r, offset, start, end):
        """One backup: wait for our turn, start it, snapshot it."""
        try:
            n = self.get("ready")
            start.wait()
            time.sleep(offset)
            self.say("go %d" % n)
            n = self.get("frozen")
            snap = os.path.join(self.dir, "r%d.img" % r)
            subprocess.run(["cp", "--sparse=always", self.img, snap],
                           check=True)
            self.snaps[r] = snap
            self.say("copied %d" % n)
        except Exception as e:  # the barrier must not hang
            print("# %s round %d: %s" % (self.name, r, e), flush=True)
            start.abort()
        finally:
            try:
                end.wait()
            except threading.BrokenBarrierError:
                pass

    def kill_agent(self):
        if self.agent_pids:
            try:
                os.kill(self.agent_pids[-1], signal.SIGKILL)
            except ProcessLookupError:
                pass

    def end(self):
        self.say("end")

    def finish(self):
        try:
            self.proc.wait(120)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            self.proc.wait()
        self.out.close()
        text = open(os.path.join(self.dir, "out"), errors="replace").read()
        self.output = text
        self.left_frozen = "LEFT FROZEN" in text
        try:
            rep = text.split("=== report\n", 1)[1].split(
                "\n=== daemon", 1)[0]
            self.report = json.loads(rep)
        except (IndexError, ValueError):
            self.report = {"backups": []}
        self.daemon_log = text.split("=== daemon\n", 1)[-1].split(
            "=== group", 1)[0]
        self.group_log = text.split("=== group\n", 1)[-1].split(
            "=== bank", 1)[0]

    def freeze_results(self):
        """FREEZE's result and latency (ms) in each of our backups."""
        out = []
        for b in self.report["backups"]:
            fr = [q for q in b["requests"] if q["op"] == "FREEZE"]
            out.append((fr[0].get("result", "none"),
                        fr[0].get("latency_us", 0) // 1000) if fr
                       else ("none", 0))
        return out


def ledger_balance(img):
    out = subprocess.run(["debugfs", "-R", "cat /ledger", img],
                         capture_output=True, text=True).stdout
    lines = [l for l in out.splitlines() if l.strip()]
    try:
        return int(lines[-1].split()[1])
    except (IndexError, ValueError):
        return None


def image_clean(img):
    h = subprocess.run(["dumpe2fs", "-h", img], capture_output=True,
                       text=True).stdout
    if "needs_recovery" in h:
        return False
    return subprocess.run(["e2fsck", "-fn", img], capture_output=True
                          ).returncode == 0


class Netns:
    """A network namespace linked to the host by a veth pair whose link
    can be cut.  Held by a sleeping process: its /proc/PID/ns/net is what
    a sandbox, with a /run of its own, can still name."""

    def __init__(self):
        tag = "%x" % (os.getpid() & 0xffff)
        self.host_if = "hvh" + tag
        net = 64 + os.getpid() % 128
        self.host_ip = "10.213.%d.1" % net
        self.ns_ip = "10.213.%d.2" % net
        self.holder = subprocess.Popen(["unshare", "-n", "sleep", "3600"])
        time.sleep(0.2)
        self.pid = self.holder.pid
        ns = ["nsenter", "--net=/proc/%d/ns/net" % self.pid]
        for cmd in (
                ["ip", "link", "add", self.host_if, "type", "veth", "peer",
                 "name", "hvg" + tag, "netns", str(self.pid)],
                ["ip", "addr", "add", self.host_ip + "/30", "dev",
                 self.host_if],
                ["ip", "link", "set", self.host_if, "up"],
                ns + ["ip", "addr", "add", self.ns_ip + "/30", "dev",
                      "hvg" + tag],
                ns + ["ip", "link", "set", "hvg" + tag, "up"],
                ns + ["ip", "link", "set", "lo", "up"]):
            subprocess.run(cmd, check=True)

    def cut(self, down=True):
        subprocess.run(["ip", "link", "set", self.host_if,
                        "down" if down else "up"], check=True)

    def close(self):
        subprocess.run(["ip", "link", "del", self.host_if],
                       stderr=subprocess.DEVNULL)
        self.holder.kill()
        self.holder.wait()


class Lab:
    def __init__(self, work, n, etcd=None):
        self.work = work
        self.n = n
        self.etcd = etcd
        self.ports = free_ports(n)
        self.vms = []


# --- the proof --------------------------------------------------------

npass = nfail = 0


def check(ok, what):
    global npass, nfail
    if ok:
        npass += 1
        print("ok - " + what, flush=True)
    else:
        nfail += 1
        print("not ok - " + what, flush=True)


def run_rounds(lab, nrounds, stagger, faults, budget_ms):
    """Drive nrounds rounds; faults: round -> callable(kind) returning
    the VMs that take part, and maybe offsets.  Returns per round the
    VMs that took part and when they were told to go."""
    plan = []
    rng = random.Random(os.getpid())
    for r in range(nrounds):
        part = list(range(lab.n))
        offsets = [rng.uniform(0, stagger) for _ in part]
        f = faults.get(r)
        during = None
        if f is not None:
            part, offsets, during = f("before", part, offsets)
        start = threading.Barrier(len(part) + 1)
        end = threading.Barrier(len(part) + 1)
        threads = [threading.Thread(target=lab.vms[i].round,
                                    args=(r, offsets[k], start, end))
                   for k, i in enumerate(part)]
        for t in threads:
            t.start()
        try:
            start.wait()
        except threading.BrokenBarrierError:
            pass
        t0 = time.monotonic()
        if during is not None:
            during()
        try:
            end.wait()
        except threading.BrokenBarrierError:
            pass
        for t in threads:
            t.join()
        if f is not None:
            f("after", part, offsets)
        plan.append((part, offsets, time.monotonic() - t0))
    return plan


def outcome(lab, plan):
    """Per round: per VM (result, latency ms), the sum and cleanliness
    if every VM's FREEZE succeeded."""
    results = [vm.freeze_results() for vm in lab.vms]
    seen = [0] * lab.n
    rows = []
    for r, (part, offsets, secs) in enumerate(plan):
        res = {}
        for i in part:
            res[i] = (results[i][seen[i]] if seen[i] < len(results[i])
                      else ("none", 0))
            seen[i] += 1
        complete = len(part) == lab.n and all(
            res[i][0] == "S_OK" for i in part)
        total = clean = None
        if complete:
            bal = [ledger_balance(lab.vms[i].snaps.get(r, "")) for i in part]
            total = (sum(bal) if None not in bal else None)
            clean = all(image_clean(lab.vms[i].snaps[r]) for i in part)
        rows.append({"round": r, "part": part, "res": res,
                     "complete": complete, "total": total,
                     "clean": clean, "secs": secs,
                     "offsets": offsets})
        for i in part:  # the copies are big; keep nothing but the sums
            snap = lab.vms[i].snaps.pop(r, None)
            if snap:
                os.unlink(snap)
    return rows


def show(lab, rows):
    for row in rows:
        res = " ".join("%s:%s/%dms@%.2fs" % (
            lab.vms[i].name, row["res"][i][0], row["res"][i][1],
            row["offsets"][k]) for k, i in enumerate(row["part"]))
        print("# round %2d: %s total %s clean %s" % (
            row["round"], res, row["total"], row["clean"]), flush=True)


def start_lab(work, n, rounds, group, budget_ms, etcd, netns=None,
              netns_vm=None, ttl=3, rounds_of=None, workload=True,
              hook_ms=0, policies=None, hooks_tier=None):
    lab = Lab(work, n, etcd)
    for i in range(n):
        policy = policies[i] if policies else "veto"
        pid = netns.pid if netns is not None and i == netns_vm else None
        eps = (etcd.endpoints(netns.host_ip)
               if pid is not None else None)
        lab.vms.append(Vm(lab, i, rounds_of[i] if rounds_of else rounds,
                          group, budget_ms, ttl=ttl, netns_pid=pid,
                          endpoints=eps, workload=workload,
                          hook_ms=hook_ms, policy=policy,
                          hooks_tier=hooks_tier))
    return lab


def finish_lab(lab, what):
    for vm in lab.vms:
        vm.end()
    for vm in lab.vms:
        vm.finish()
    check(not any(vm.left_frozen for vm in lab.vms),
          "%s: nothing left frozen on any VM" % what)


def dump_logs(lab, pattern=None):
    for vm in lab.vms:
        for l in vm.output.splitlines():
            if pattern is None or pattern in l:
                print("# %s: %s" % (vm.name, l))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--vms", nargs="*", default=["3"],
                    help="group sizes, each N or N:ROUNDS")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--control-rounds", type=int, default=8)
    ap.add_argument("--stagger", type=float, default=1.5)
    ap.add_argument("--budget", type=int, default=5000)
    ap.add_argument("--faults", action="store_true")
    ap.add_argument("--no-control", action="store_true")
    ap.add_argument("--hooks", type=int, default=0, metavar="ROUNDS",
                    help="the hooks' order: banks quiesced by a freeze "
                    "hook, with the hooks after every tier (the barrier "
                    "does not cover them) and with hooks_tier = 9")
    ap.add_argument("--hooks-tier", type=int, metavar="N",
                    help="the daemons' hooks_tier (the freeze hooks before "
                    "tier N's applications)")
    ap.add_argument("--hook-quiesced", type=int, default=0, metavar="MS",
                    help="the banks quiesced by a freeze hook that takes "
                    "0-MS ms, not as applications: what the barrier, "
                    "asked before the hooks, does not cover")
    args = ap.parse_args()

    netns = Netns() if args.faults else None
    etcd = Etcd(3, extra_host=netns.host_ip if netns else None)
    try:
        if not args.no_control:
            control(args, etcd)
        for spec in args.vms:
            n, _, r = spec.partition(":")
            proof(args, etcd, int(n), int(r) if r else args.rounds)
        if args.hooks:
            hooks_order(args, etcd)
        if args.faults:
            faults(args, etcd, netns)
            policy_single(args, etcd)
    except Exception:
        global nfail
        nfail += 1  # so that etcd's logs are shown
        raise
    finally:
        etcd.stop()
        if netns is not None:
            netns.close()
    print("# %d passed, %d failed" % (npass, nfail))
    return 1 if nfail else 0


def control(args, etcd):
    """The negative control: the same workload and staggering, no group."""
    n = int(args.vms[0].partition(":")[0]) if args.vms else 3
    work = os.path.join(args.work, "control")
    lab = start_lab(work, n, args.control_rounds, False, args.budget, etcd)
    plan = run_rounds(lab, args.control_rounds, args.stagger, {},
                      args.budget)
    finish_lab(lab, "without a group")
    rows = outcome(lab, plan)
    show(lab, rows)
    complete = [r for r in rows if r["complete"]]
    broken = [r for r in complete if r["total"] != n * START]
    print("# control: %d VMs, %d rounds, %d with every FREEZE S_OK, "
          "%d with a wrong total: %s" % (
              n, len(rows), len(complete), len(broken),
              " ".join("%d" % r["total"] for r in broken)), flush=True)
    check(len(complete) == len(rows),
          "without a group: every backup succeeds")
    check(len(broken) > 0,
          "without a group: the total is wrong in some rounds "
          "(%d of %d), so the check can fail" % (len(broken), len(rows)))
    if not os.environ.get("GROUP_LAB_KEEP"):
        shutil.rmtree(work, ignore_errors=True)


def proof(args, etcd, n, nrounds):
    work = os.path.join(args.work, "group%d" % n)
    lab = start_lab(work, n, nrounds, True, args.budget, etcd,
                    hook_ms=args.hook_quiesced, hooks_tier=args.hooks_tier)
    plan = run_rounds(lab, nrounds, args.stagger, {}, args.budget)
    finish_lab(lab, "%d VMs in a group" % n)
    rows = outcome(lab, plan)
    show(lab, rows)
    complete = [r for r in rows if r["complete"]]
    exact = [r for r in complete if r["total"] == n * START]
    clean = [r for r in complete if r["clean"]]
    lat = sorted(r["res"][i][1] for r in rows for i in r["part"])
    print("# group of %d: %d rounds, %d complete, %d exact (total %d), "
          "%d with every image clean; FREEZE latency median %d ms, "
          "max %d ms" % (n, len(rows), len(complete), len(exact),
                         n * START, len(clean), lat[len(lat) // 2],
                         lat[-1]), flush=True)
    check(len(complete) == len(rows),
          "group of %d: every round's backups all succeed (%d of %d)" % (
              n, len(complete), len(rows)))
    check(len(exact) == len(rows),
          "group of %d: every round's snapshots add up to exactly %d "
          "(%d of %d)" % (n, n * START, len(exact), len(rows)))
    check(len(clean) == len(rows),
          "group of %d: every snapshot image is clean" % n)
    if len(exact) != len(rows):
        dump_logs(lab, "VETO")
    if not os.environ.get("GROUP_LAB_KEEP"):
        shutil.rmtree(work, ignore_errors=True)


def faults(args, etcd, netns):
    """Each fault in a round of its own, followed by a round that must be
    good; vm3's agent reaches etcd through a link that can be cut."""
    n = 3
    work = os.path.join(args.work, "faults")
    budget = args.budget
    names = {}

    def fault(name, before=None, during=None, after=None, part=None,
              offsets=None):
        def f(when, p, o):
            if when == "before":
                if before:
                    before()
                return (part if part is not None else p,
                        offsets if offsets is not None else o, during)
            if after:
                after()
        return f

    stale = {}

    def members_left(when):
        # between rounds no member may count as quiesced: a FREEZE that
        # failed on etcd's account must not leave its key behind (a
        # transaction that timed out during the outage can be committed
        # once quorum is back)
        time.sleep(2.5)  # the keepers revoke within a tick
        stale[when] = [k for k in etcd.keys("/hvvss/lab/r/") or []
                       if "/m/" in k]

    def quorum_back():
        etcd.restart(1)
        etcd.restart(2)
        etcd.wait_healthy(30)
        members_left("quorum")

    def kill_vm2_agent():
        time.sleep(0.7)
        lab.vms[1].kill_agent()

    killed = []

    def kill_leader():
        killed.append(etcd.leader())
        etcd.kill(killed[0])

    def quorum_lost():
        others = [i for i in range(3) if i != 0]
        etcd.kill(others[0])
        etcd.kill(others[1])

    plan = {
        1: fault("leader", before=kill_leader),
        2: fault("leader still dead",
                 after=lambda: (etcd.restart(killed[0]),
                                etcd.wait_healthy(30))),
        3: fault("quorum", before=quorum_lost, after=quorum_back),
        5: fault("never", part=[0, 1]),
        7: fault("agent", during=kill_vm2_agent, offsets=[2.0, 0.0, 2.0]),
        9: fault("cut", before=lambda: netns.cut(True),
                 after=lambda: netns.cut(False)),
    }
    nrounds = 11
    rounds_of = [nrounds, nrounds, nrounds - 1]  # vm3 misses round 5
    lab = start_lab(work, n, nrounds, True, budget, etcd, netns=netns,
                    netns_vm=2, rounds_of=rounds_of)
    run = run_rounds(lab, nrounds, args.stagger, plan, budget)
    members_left("end")
    finish_lab(lab, "faults")
    rows = outcome(lab, run)
    show(lab, rows)

    def res(r, i):
        return rows[r]["res"].get(i, ("absent", 0))

    def good(r):
        return rows[r]["complete"] and rows[r]["total"] == n * START

    def failed_within(r, who, slack=1500):
        return all(res(r, i)[0] == "E_FAIL" and
                   res(r, i)[1] <= budget + slack for i in who)

    def vetoes(i, text):
        return [l for l in lab.vms[i].daemon_log.splitlines()
                if "hv_vss_group" in l and "VETO" in l and text in l]

    check(good(0), "faults: a first round is good")
    for r in (1, 2):
        check(good(r), "etcd's leader (e%d) killed, quorum kept: round %d "
              "complete, total exact" % (killed[0] + 1, r))
    check(failed_within(3, range(n)),
          "quorum lost: every VM's FREEZE fails within the budget "
          "(%s ms)" % ", ".join(str(res(3, i)[1]) for i in range(n)))
    check(all(vetoes(i, "cannot join a round") or vetoes(i, "etcd")
              for i in range(n)),
          "quorum lost: each daemon names the group agent's VETO and etcd")
    check(good(4), "after quorum is back: the next round is good")
    check(stale.get("quorum") == [] and stale.get("end") == [],
          "no member key left in etcd between rounds (after the outage: "
          "%s; at the end: %s)" % (stale.get("quorum"), stale.get("end")))
    check(failed_within(5, (0, 1)),
          "a VM whose backup never comes: the others' FREEZEs fail within "
          "the budget (%d, %d ms)" % (res(5, 0)[1], res(5, 1)[1]))
    check(all(vetoes(i, "missing vm3 after") for i in (0, 1)),
          "a VM whose backup never comes: the VETO names it, and only it "
          "(missing vm3)")
    check(good(6), "after the missing VM: the next round is good")
    check(res(7, 1)[0] == "E_FAIL",
          "agent killed mid-round: that VM's FREEZE fails")
    check(failed_within(7, (0, 2)) and
          all(vetoes(i, "missing vm2 after") for i in (0, 2)),
          "agent killed mid-round: the others VETO naming it "
          "(its restarted agent revoked its lease)")
    check(good(8), "after the agent came back: the next round is good")
    check(failed_within(9, range(n)),
          "network cut between vm3 and etcd: every FREEZE fails within "
          "the budget")
    check(all(vetoes(i, "missing vm3 after") for i in (0, 1)) and
          vetoes(2, "etcd"),
          "network cut: the others name vm3, vm3 names etcd")
    check(good(10), "after the link is back: the next round is good")
    for i in range(n):
        for l in lab.vms[i].daemon_log.splitlines():
            if "VETO" in l:
                print("# %s: %s" % (lab.vms[i].name, l))
    if not os.environ.get("GROUP_LAB_KEEP"):
        shutil.rmtree(work, ignore_errors=True)


def hooks_order(args, etcd):
    """A program quiesced by a freeze hook that takes its time (0-400 ms,
    as a database's flush may): with the hooks after every application
    (the default), the barrier (tier 9) comes before them, and the cut
    misses them; with hooks_tier = 9 the hooks run before the barrier."""
    n, nrounds = 3, args.hooks
    totals = {}
    for tier in (None, 9):
        work = os.path.join(args.work, "hooks%s" % tier)
        lab = start_lab(work, n, nrounds, True, args.budget, etcd,
                        hook_ms=400, hooks_tier=tier)
        plan = run_rounds(lab, nrounds, args.stagger, {}, args.budget)
        finish_lab(lab, "banks quiesced by a hook, hooks_tier %s" % (
            tier if tier is not None else "default"))
        rows = outcome(lab, plan)
        show(lab, rows)
        totals[tier] = [r["total"] for r in rows if r["complete"]]
        print("# hooks_tier %s: %d of %d rounds complete, totals: %s" % (
            tier, len(totals[tier]), nrounds,
            " ".join(str(t) for t in totals[tier])), flush=True)
        if not os.environ.get("GROUP_LAB_KEEP"):
            shutil.rmtree(work, ignore_errors=True)
    check(len(totals[None]) == nrounds and
          any(t != n * START for t in totals[None]),
          "hooks after the barrier (the default): a program quiesced by a "
          "hook is not in the cut (%d of %d totals wrong)" % (
              sum(1 for t in totals[None] if t != n * START), nrounds))
    check(len(totals[9]) == nrounds and
          all(t == n * START for t in totals[9]),
          "hooks_tier = 9: the hooks run before the barrier, every total "
          "exact (%d of %d)" % (
              sum(1 for t in totals[9] if t == n * START), nrounds))


def policy_single(args, etcd):
    """policy = single: a member whose round does not complete backs up
    alone, and says so; one with veto fails."""
    work = os.path.join(args.work, "single")
    lab = start_lab(work, 2, 2, True, args.budget, etcd,
                    rounds_of=[2, 1], policies=["single", "veto"],
                    workload=False)
    plan = {0: lambda when, p, o: ([0], [0.0], None)
            if when == "before" else None}
    run = run_rounds(lab, 2, 0.5, plan, args.budget)
    finish_lab(lab, "policy single")
    rows = outcome(lab, run)
    show(lab, rows)
    alone = [l for l in lab.vms[0].group_log.splitlines()
             if "policy single: this VM's backup goes on alone" in l and
             "missing vm2" in l]
    check(rows[0]["res"][0][0] == "S_OK" and alone,
          "policy single: the member whose round did not complete backs "
          "up alone (S_OK), its log says so and names who was missing")
    check(rows[1]["complete"],
          "policy single: the next round, with both, completes")
    if not os.environ.get("GROUP_LAB_KEEP"):
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
