#!/bin/sh
# ctl_inner.sh: the part of t_ctl.sh that runs inside the sandbox, with
# /mnt/a a loop-mounted ext4 of its own (the daemon's only allowed mount).
# Needs B (the build directory) and TOP in the environment.  Prints
# "key=value" lines for t_ctl.sh to check; nothing here decides.
#
# Two daemons, one after the other, each under hv_vss_sim:
#   A  ctl_group=nogroup, a long idle scenario (sleep): every subcommand,
#      text and JSON, the freezes proven with a write that blocks, the
#      group's read-only access, every way out of a snapshot.
#   B  no ctl_group, ctl_socket elsewhere (-s), metrics_file: a host
#      backup during a local snapshot, then one an application vetoes,
#      then one that succeeds, with the metrics file kept after each.
set -u
CTL=$B/hv_vss_ctl
DAEMON="$B/hv_vss_daemon -n -d -c /dev/null -o mounts=/mnt/a"
METRICS=/run/hv_vss/metrics.prom
DEV=/dev/vmbus/hv_vss
NOBODY_IN="setpriv --reuid=65534 --regid=65534 --clear-groups"
NOBODY_OUT="setpriv --reuid=65534 --regid=100 --clear-groups"

say() { echo "$1=$2"; }

# Does a write to /mnt/a land within 2 s?  If not, thaw (the safety net)
# and say so: the case fails, and nothing stays frozen.
writable() {	# name
	rm -f /tmp/w.done
	(echo x >"/mnt/a/probe.$1" && touch /tmp/w.done) &
	_wp=$!
	_i=0
	while [ ! -e /tmp/w.done ] && [ $_i -lt 20 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	if [ -e /tmp/w.done ]; then
		say "$1.writable" yes
	else
		say "$1.writable" no
		fsfreeze -u /mnt/a
	fi
	wait $_wp
}

# Start a write that must block (we are frozen): its completion is
# checked by blocked_end.
blocked_start() {	# name
	rm -f /tmp/b.done
	(echo x >"/mnt/a/blocked.$1" && touch /tmp/b.done) &
	_bp=$!
	sleep 1
	if [ -e /tmp/b.done ]; then say "$1.blocked" no; else say "$1.blocked" yes; fi
}

blocked_end() {		# name: after the thaw, the write lands
	_i=0
	while [ ! -e /tmp/b.done ] && [ $_i -lt 30 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	if [ -e /tmp/b.done ]; then
		say "$1.landed" yes
	else
		say "$1.landed" no
		fsfreeze -u /mnt/a
	fi
	wait $_bp
}

# Run hv_vss_ctl: "name.rc=", its stdout in /tmp/name.out, stderr .err
ctl() {		# name args...
	_n=$1
	shift
	"$@" >"/tmp/$_n.out" 2>"/tmp/$_n.err" </dev/null
	say "$_n.rc" $?
	sed "s/^/$_n.err /" "/tmp/$_n.err"
}

json() {	# name file python-expression-over-d
	python3 -c '
import json, sys
try:
    d = json.load(open(sys.argv[2]))
    print("%s=%s" % (sys.argv[1], eval(sys.argv[3])))
except Exception as e:
    print("%s=error %r" % (sys.argv[1], e))
' "$@"
}

wait_sock() {	# path
	for _i in $(seq 1 100); do
		[ -S "$1" ] && return 0
		sleep 0.1
	done
	say "socket.$1" missing
	return 1
}

wait_idle() {	# name [ctl args]: until status says idle, not frozen (5 s)
	_n=$1
	shift
	for _i in $(seq 1 50); do
		"$CTL" "$@" status --json >/tmp/idle.json 2>/dev/null &&
		    python3 -c 'import json,sys; d=json.load(open("/tmp/idle.json")); sys.exit(d["frozen"] or d["state"] != "idle")' &&
		    { say "$_n.idle" yes; return 0; }
		sleep 0.1
	done
	say "$_n.idle" no
}

# --- A ---------------------------------------------------------------------
# Without CAP_CHOWN, as the systemd unit runs it: both sockets are
# born in their group (daemon/sockgroup.c), not chown()-ed to it.
# two hooks, which plan lists (this session runs no backup), and what is
# no hook: a dot file, a package's and an editor's leftovers
mkdir -p -m 0755 /tmp/hooks.d
for h in 20-web 10-db .hidden 10-db.dpkg-old 20-web~; do
	printf '#!/bin/sh\nexit 0\n' >/tmp/hooks.d/$h
	chmod 0755 /tmp/hooks.d/$h
done
setpriv --bounding-set=-chown --inh-caps=-chown \
    $B/hv_vss_sim -s sleep=300 $DEV -- $DAEMON -o ctl_group=nogroup \
    -o hooks_dir=/tmp/hooks.d \
    -o app_socket_group=nogroup -o app_socket_mode=0660 \
    -o metrics_file=$METRICS >/tmp/A.json 2>/tmp/A.log &
sim=$!
wait_sock /run/hv_vss/ctl.sock
say A.sockmode "$(stat -c '%a %U:%G' /run/hv_vss/ctl.sock)"
say A.appsockmode "$(stat -c '%a %U:%G' /run/hv_vss/app.sock)"
dpid=$(pgrep -P "$sim" -x hv_vss_daemon | head -n 1)
bnd=$(sed -n 's/^CapBnd:[[:space:]]*//p' "/proc/$dpid/status")
say A.capbnd_chown $(( 0x$bnd & 1 ))	# bit 0: CAP_CHOWN

ctl status "$CTL" status
say status.text "$(tr '\n' '|' </tmp/status.out)"
ctl statusj "$CTL" status --json
json statusj.parsed /tmp/statusj.out \
    '"%s %s %s %s %s" % (d["state"], d["frozen"], d["device"]["connected"], d["guard"]["alive"], d["apps"])'
json statusj.version /tmp/statusj.out 'd["version"]'
python3 -m json.tool /tmp/statusj.out >/dev/null 2>&1
say statusj.jsontool $?

ctl plan "$CTL" plan
say plan.first "$(sed -n 2p /tmp/plan.out | tr -s ' ')"
say plan.hot "$(grep '^HOT_BACKUP now' /tmp/plan.out)"
say plan.skipsdev "$(grep -c 'not in mounts allow-list' /tmp/plan.out)"
say plan.hooks "$(sed -n '/^hooks:/,/^HOT_BACKUP/p' /tmp/plan.out | sed '1d;$d' | tr -s ' ' | tr '\n' '|')"
ctl planj "$CTL" plan --json
json planj.parsed /tmp/planj.out \
    '"%s %s %s" % ([f["mountpoint"] for f in d["filesystems"]], d["hot_backup"]["answer"], all(s["reason"] for s in d["skipped"]))'
json planj.hooks /tmp/planj.out 'd["hooks"]'

# the wire itself (protocol 2), raw: the greeting, every payload line
# marked, the final line last; a protocol 1 client and a newer one told
python3 - /run/hv_vss/ctl.sock <<'EOF'
import socket, sys
def ask(data):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    s.sendall(data)
    got = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        got += b
    return got.decode(errors="replace").split("\n")
for req in ("plan", "status json"):
    r = ask(b"HVVSS-CTL 2\n" + req.encode() + b"\n")
    key = "raw." + req.replace(" ", "")
    body = r[1:-2]
    print("%s.greet=%s" % (key, r[0]))
    print("%s.final=%s|%s" % (key, r[-2], r[-1]))
    print("%s.payload=%d" % (key, sum(1 for l in body if l.startswith("| "))))
    print("%s.unmarked=%d" % (key, sum(1 for l in body if not l.startswith("| "))))
print("raw.v1=%s" % "|".join(ask(b"status\n")))
print("raw.v3=%s" % "|".join(ask(b"HVVSS-CTL 3\nstatus\n")))
print("raw.unknown=%s" % "|".join(ask(b"HVVSS-CTL 2\nfrobnicate\n")))
EOF

# freeze: a write blocks until thaw; status shows it
ctl freeze "$CTL" freeze --timeout 30
blocked_start freeze
ctl frozenj "$CTL" status --json
json frozenj.parsed /tmp/frozenj.out \
    '"%s %s %s %s %s" % (d["state"], d["frozen"], d["requester"], d["frozen_filesystems"], 0 < d["lease_left_ms"] <= 30000)'
ctl frozen "$CTL" status
say frozen.lines "$(grep -c '^frozen:  since .*: /mnt/a$\|^lease:   [0-9.]* s left$' /tmp/frozen.out)"
ctl thaw "$CTL" thaw
blocked_end freeze
writable afterthaw

# a freeze whose timeout passes: thawed by the daemon, the late thaw fails
ctl lease "$CTL" freeze --timeout 1
sleep 2
writable lease
ctl latethaw "$CTL" thaw

# history, text and JSON
ctl hist "$CTL" history
say hist.header "$(head -n 1 /tmp/hist.out | tr -s ' ')"
say hist.rows "$(tail -n +2 /tmp/hist.out | wc -l)"
ctl histj "$CTL" history --json
json histj.parsed /tmp/histj.out \
    '" ".join("%s:%s:%s:%s:%s" % (e["requester"], e["kind"], e["verdict"], e["lease_expired"], e["stages_ms"]["fs_freeze"] is not None) for e in d)'
json histj.culprit /tmp/histj.out 'd[0]["culprit"]'
ctl hist1 "$CTL" history -n 1 --json
json hist1.len /tmp/hist1.out 'len(d)'

# the configured group reads, and only reads
ctl grp_status $NOBODY_IN "$CTL" status --json
json grp_status.state /tmp/grp_status.out 'd["state"]'
ctl grp_plan $NOBODY_IN "$CTL" plan
ctl grp_hist $NOBODY_IN "$CTL" history -n 2
ctl grp_freeze $NOBODY_IN "$CTL" freeze --timeout 5
ctl grp_thaw $NOBODY_IN "$CTL" thaw
rm -f /tmp/grp.ran
ctl grp_snap $NOBODY_IN "$CTL" snapshot -- touch /tmp/grp.ran
say grp_snap.ran "$([ -e /tmp/grp.ran ] && echo yes || echo no)"
writable grp
# outside the group the socket's mode keeps it out; with the mode opened
# up, the daemon's own check (SO_PEERCRED) still does
ctl out_status $NOBODY_OUT "$CTL" status
chmod 0666 /run/hv_vss/ctl.sock
ctl out_status2 $NOBODY_OUT "$CTL" status
ctl out_freeze2 $NOBODY_OUT "$CTL" freeze
chmod 0660 /run/hv_vss/ctl.sock
writable out

# snapshot: CMD runs frozen (it asks the daemon itself), status passed on
ctl snap "$CTL" -v snapshot --timeout 20 -- sh -c \
    '"$0" status --json >/tmp/insnap.json; echo cmd-out; exit 0' "$CTL"
json snap.inside /tmp/insnap.json \
    '"%s %s %s" % (d["state"], d["frozen"], d["requester"])'
say snap.out "$(cat /tmp/snap.out)"
say snap.progress "$(grep '^# ' /tmp/snap.err | sed 's/[0-9][0-9.]* ms/N ms/; s/txn [0-9]*/txn N/' | tr '\n' '|')"
writable snap

ctl snapfail "$CTL" snapshot -- sh -c 'exit 3'
writable snapfail
ctl snapsig "$CTL" snapshot -- sh -c 'kill -KILL $$'
writable snapsig

t0=$(date +%s%N)
ctl overrun "$CTL" snapshot --timeout 1 -- sleep 60
say overrun.ms $((($(date +%s%N) - t0) / 1000000))
writable overrun

# SIGINT to hv_vss_ctl while CMD runs
rm -f /tmp/cmd.pid
"$CTL" snapshot -- sh -c 'echo $$ >/tmp/cmd.pid; exec sleep 60' \
    >/dev/null 2>/tmp/int.err </dev/null &
p=$!
for i in $(seq 1 50); do [ -s /tmp/cmd.pid ] && break; sleep 0.1; done
"$CTL" status --json >/tmp/int.json
json int.before /tmp/int.json '"%s %s" % (d["state"], d["frozen"])'
kill -INT $p
wait $p
say int.rc $?
say int.cmdgone "$(kill -0 "$(cat /tmp/cmd.pid)" 2>/dev/null && echo no || echo yes)"
writable int

# hv_vss_ctl killed -9 while CMD runs: the daemon sees the close, thaws
rm -f /tmp/cmd.pid
"$CTL" snapshot -- sh -c 'echo $$ >/tmp/cmd.pid; exec sleep 60' \
    >/dev/null 2>&1 </dev/null &
p=$!
for i in $(seq 1 50); do [ -s /tmp/cmd.pid ] && break; sleep 0.1; done
"$CTL" status --json >/tmp/k9.json
json k9.before /tmp/k9.json '"%s %s" % (d["state"], d["frozen"])'
kill -9 $p
wait $p 2>/dev/null
wait_idle k9
writable k9
kill "$(cat /tmp/cmd.pid)" 2>/dev/null	# ours, left by the killed ctl
ctl k9hist "$CTL" history -n 1 --json
json k9hist.last /tmp/k9hist.out \
    '"%s %s %s" % (d[0]["requester"], d[0]["verdict"], d[0]["culprit"])'

# every local transaction shows in the metrics once it ended
ctl histA "$CTL" history --json
cp $METRICS /tmp/metrics.A
"$CTL" status >/dev/null && say A.alive yes
kill $sim
wait $sim
grep -q 'hv_vss_ctl went away' /tmp/A.log && say A.logged_gone yes
python3 - /tmp/histA.out /tmp/A.json <<'EOF'
import json, sys
h = json.load(open(sys.argv[1]))
ok = sum(1 for e in h if e["requester"] == "local" and e["verdict"] == "ok")
failed = sum(1 for e in h if e["requester"] == "local" and e["verdict"] == "failed")
print("A.hist_local=%d %d" % (ok, failed))
EOF
say A.metrics_local "$(awk '$1 == "hvvss_backups_total{requester=\"local\",result=\"ok\"}" {ok = $2}
    $1 == "hvvss_backups_total{requester=\"local\",result=\"failed\"}" {f = $2}
    END {print ok + 0, f + 0}' /tmp/metrics.A)"

# --- B ---------------------------------------------------------------------
S=/run/hv_vss/other.sock
rm -f $METRICS
# an application that vetoes its first FREEZE, then leaves after ABORT
cat >/tmp/veto_app.py <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
f = s.makefile("rb")
s.sendall(b"HELLO 1 nope tier=2\n")
open("/tmp/veto.registered", "w").write(f.readline().decode())
vetoed = False
for raw in f:
    w = raw.decode().split()
    if w[0] == "CHECK":
        s.sendall(("READY %s\n" % w[1]).encode())
    elif w[0] == "FREEZE":
        s.sendall(("VETO %s nope cannot flush\n" % w[1]).encode())
        vetoed = True
    elif w[0] in ("THAW", "ABORT"):
        s.sendall(("THAWED %s\n" % w[1]).encode())
        if vetoed:
            break
s.close()
EOF
cat >/tmp/b.sh <<EOF
# before the host's first backup: a local snapshot, frozen, whose CMD
# waits until the host's requests are over (x.sh, first call)
rm -f /tmp/snapB.rc /tmp/host.done /tmp/snapB.started
( "$CTL" -s $S -v snapshot --timeout 30 -- sh -c \\
    'touch /tmp/snapB.started; i=0; while [ ! -e /tmp/host.done ] && [ \$i -lt 200 ]; do sleep 0.1; i=\$((i + 1)); done'
  echo \$? >/tmp/snapB.rc ) >/tmp/snapB.out 2>/tmp/snapB.err </dev/null &
for i in \$(seq 1 100); do [ -e /tmp/snapB.started ] && exit 0; sleep 0.1; done
exit 1
EOF
cat >/tmp/x.sh <<EOF
# after each host backup: keep the metrics it left
n=\$(cat /tmp/x.n 2>/dev/null || echo 0)
n=\$((n + 1))
echo \$n >/tmp/x.n
metric() {	# file name{labels}: its value, 0 if absent
	awk -v k="\$2" '\$1 == k {print \$2; f = 1} END {if (!f) print 0}' "\$1" 2>/dev/null
}
keep() {	# until "metric > min" holds (5 s), then keep the file
	for i in \$(seq 1 50); do
		[ "\$(metric $METRICS "\$1")" -gt "\$2" ] 2>/dev/null && break
		sleep 0.1
	done
	sleep 0.3	# the rest of the batch
	cp $METRICS /tmp/metrics.\$n
}
case \$n in
1)	# the host was refused while the local snapshot held: let it end
	"$CTL" -s $S status --json >/tmp/host_during.json
	touch /tmp/host.done
	for i in \$(seq 1 100); do [ -e /tmp/snapB.rc ] && break; sleep 0.1; done
	keep 'hvvss_backups_total{requester="local",result="ok"}' 0
	python3 /tmp/veto_app.py /run/hv_vss/app.sock &
	for i in \$(seq 1 50); do [ -s /tmp/veto.registered ] && break; sleep 0.1; done
	"$CTL" -s $S status --json >/tmp/apps.json
	"$CTL" -s $S plan --json >/tmp/planapps.json ;;
2)	# vetoed
	keep 'hvvss_app_vetoes_total{app="nope"}' 0 ;;
3)	# a success
	keep 'hvvss_backups_total{requester="host",result="ok"}' \\
	    "\$(metric /tmp/metrics.2 'hvvss_backups_total{requester="host",result="ok"}')" ;;
esac
exit 0
EOF
$B/hv_vss_sim -b "sh /tmp/b.sh" -x "sh /tmp/x.sh" \
    -s hot,freeze,thaw,exec,hot,freeze,thaw,exec,hot,freeze,thaw,exec \
    $DEV -- $DAEMON -o ctl_socket=$S -o metrics_file=$METRICS \
    >/tmp/B.json 2>/tmp/B.log
say B.simrc $?
python3 - /tmp/B.json <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
print("B.results=%s" % ";".join(",".join("%s:%s" % (q["op"],
      q.get("result", "none")) for q in b["requests"]) for b in r["backups"]))
EOF
say snapB.rc "$(cat /tmp/snapB.rc 2>/dev/null)"
say snapB.progress "$(grep -c '^# \(frozen (txn\|running\|thawed in\)' /tmp/snapB.err)"
sed 's/^/snapB.err /' /tmp/snapB.err
json B.during /tmp/host_during.json \
    '"%s %s %s" % (d["state"], d["frozen"], d["requester"])'
json B.apps /tmp/apps.json \
    '" ".join("%s:%s:%s" % (a["name"], a["tier"], a["uid"]) for a in d["apps"])'
json B.planapps /tmp/planapps.json \
    '" ".join("%s:%s" % (a["name"], a["tier"]) for a in d["apps"])'
writable B
for n in 1 2 3; do
	python3 - /tmp/metrics.$n $n <<'EOF'
import sys
m = {}
try:
    for l in open(sys.argv[1]):
        if l.startswith("#") or not l.strip():
            continue
        k, v = l.rsplit(" ", 1)
        m[k] = float(v)
except OSError:
    print("metrics%s=missing" % sys.argv[2])
    sys.exit(0)
def g(k):
    v = m.get(k, 0)
    return int(v) if v == int(v) else v
def b(r, s):
    return g('hvvss_backups_total{requester="%s",result="%s"}' % (r, s))
print("metrics%s=host %s/%s local %s/%s vetoes nope=%s lease=%s guard=%s" % (
    sys.argv[2], b("host", "ok"), b("host", "failed"), b("local", "ok"),
    b("local", "failed"), g('hvvss_app_vetoes_total{app="nope"}'),
    g("hvvss_lease_expiries_total"), g("hvvss_guard_thaws_total")))
print("metrics%s.frozen_window=%s" % (sys.argv[2],
    0 < m.get("hvvss_last_frozen_window_seconds", 0) < 60))
print("metrics%s.latency_count=%s" % (sys.argv[2],
    g("hvvss_freeze_latency_seconds_count")))
EOF
done
sed 's/^/B.log /' /tmp/B.log | grep -v 'plan: skip'
sed 's/^/A.log /' /tmp/A.log | grep -v 'plan: skip'
