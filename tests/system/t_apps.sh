#!/bin/sh
# t_apps: applications take part in the transaction (doc/DESIGN.md,
# "Application socket (protocol 1)"): many at once, in tier order, and
# every way one can fail: a veto, silence, death while asked to freeze,
# death while frozen, garbage, an endless line, a connection flood.  In
# every failing case nothing may be frozen and the culprit must be named.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd mkfs.ext4 python3
workdir
mkimage ext4 64M "$WORK/a.img" || bail "mkfs.ext4"

cat >"$WORK/inner.sh" <<EOF2
#!/bin/sh
# inside the sandbox: one sim run per case
SWARM="python3 $TOP/tests/system/apps_swarm.py --socket /run/hv_vss/app.sock"
DAEMON="$B/hv_vss_daemon -n -d -c /dev/null -o mounts=/mnt/a"

run() {	# name daemon-options -- sim-args ...
	name=\$1
	shift
	opts=
	while [ "\$1" != -- ]; do opts="\$opts \$1"; shift; done
	shift
	$B/hv_vss_sim "\$@" /dev/vmbus/hv_vss -- \$DAEMON \$opts \\
	    >/tmp/\$name.json 2>/tmp/\$name.log
	echo "\$name.rc=\$?"
	python3 - /tmp/\$name.json \$name <<'EOF3'
import json, sys
r = json.load(open(sys.argv[1]))
n = sys.argv[2]
print("%s.results=%s" % (n, ";".join(",".join("%s:%s" % (q["op"],
      q.get("result", "none")) for q in b["requests"]) for b in r["backups"])))
lat = r["summary"]["latency_us"].get("FREEZE")
if lat:
    print("%s.freeze_median_us=%d" % (n, lat["median"]))
EOF3
	sed "s/^/\$name.log /" /tmp/\$name.log | grep -v 'plan:\|registered:'
	# wait for the swarm to see the daemon go, then keep its log
	for i in \$(seq 1 50); do
		grep -q '^# done' /tmp/\$name.swarm 2>/dev/null && break
		sleep 0.1
	done
	if ! timeout 3 sh -c "echo x >/mnt/a/probe-\$name"; then
		echo "\$name.frozen=yes"
		fsfreeze -u /mnt/a
	fi
}
swarm() {	# name --apps spec ...
	name=\$1
	shift
	echo "\$SWARM --background --log /tmp/\$name.swarm \$*"
}

for n in 1 10 1000; do
	run many\$n -- -n 5 -b "\$(swarm many\$n --apps \$n:app:0-9:ok)"
	echo "many\$n.check=\$(grep -c ' CHECK ' /tmp/many\$n.swarm)"
	echo "many\$n.freeze=\$(grep -c ' FREEZE ' /tmp/many\$n.swarm)"
	echo "many\$n.thaw=\$(grep -c ' THAW ' /tmp/many\$n.swarm)"
done
python3 - /tmp/many10.swarm <<'EOF3'
# tier order in the first backup: FREEZE 0..9, THAW 9..0
import sys
rows = [l.rstrip("\n").split(" ", 4) for l in open(sys.argv[1])
        if not l.startswith("#")]
def seqs(kind, txid):
    return [(int(r[3]), int(r[0])) for r in rows
            if r[4].startswith(kind + " " + txid + " ") or r[4] == kind + " " + txid]
first = [r for r in rows if r[4].startswith("FREEZE ")][0][4].split()[1]
fr, th = seqs("FREEZE", first), seqs("THAW", first)
up = all(max(s for t, s in fr if t == k) < min(s for t, s in fr if t == k + 1)
         for k in range(9))
down = all(min(s for t, s in th if t == k) > max(s for t, s in th if t == k + 1)
           for k in range(9))
print("tiers=freeze_up=%s thaw_down=%s" % (up, down))
EOF3
run veto -- -b "\$(swarm veto --apps 5:good:0-4:ok --apps 1:nope:2:veto-freeze)"
echo "veto.abort=\$(grep -c ' ABORT ' /tmp/veto.swarm)"
echo "veto.asked=\$(grep ' FREEZE ' /tmp/veto.swarm | awk '{print \$3}' | sort | tr '\n' ' ')"
run vetocheck -- -b "\$(swarm vetocheck --apps 2:good:0:ok --apps 1:nope:4:veto-check)"
echo "vetocheck.freeze=\$(grep -c ' FREEZE ' /tmp/vetocheck.swarm)"
echo "vetocheck.check=\$(grep -c ' CHECK ' /tmp/vetocheck.swarm)"
run vetocheckfail -o hot_backup_veto=fail -- -b "\$(swarm vetocheckfail --apps 2:good:0:ok --apps 1:nope:4:veto-check)"
run silent -o app_freeze_timeout=2 -- -b "\$(swarm silent --apps 3:good:0-2:ok --apps 1:mute:5:silent-freeze)"
echo "silent.abort=\$(grep ' ABORT ' /tmp/silent.swarm | awk '{print \$3}' | sort | tr '\n' ' ')"
run killed -- -b "\$(swarm killed --apps 2:good:0:ok --apps 1:dies:1:die-freeze)"
run diesfrozen -- -b "\$(swarm diesfrozen --apps 2:good:0:ok --apps 1:dies:0:die-frozen)"
run slow -- -b "\$(swarm slow --apps 1:good:0:ok --apps 1:slow:1:slow-freeze=300)"

# abuse, then a normal backup with well-behaved apps, same daemon
{
	echo "\$SWARM --garbage"
	echo "\$SWARM --long-line 1048576"
	echo "\$SWARM --flood 2000 --hold 8"
	swarm abuse --apps 3:good:0-2:ok
} >/tmp/abuse.sh
run abuse -- -b "sh -e /tmp/abuse.sh"
EOF2
"$SANDBOX" -t 400 -r "$TOP" -r "$B" -r "$WORK" -m "$WORK/a.img:/mnt/a" \
    -- sh "$WORK/inner.sh" >"$WORK/out" 2>&1
rc=$?
out=$WORK/out
get() { sed -n "s/^$1=//p" "$out"; }
grep -v '\.log .*\(plan:\|app .* registered\|disconnected: closed\)' "$out" |
    grep -v '^many' | sed 's/^/# /' | head -n 400
check_eq "sandbox exit" 0 "$rc"
check_eq "no case left /mnt/a frozen" "" "$(grep '\.frozen=' "$out")"

ok5="HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK"
ok5="$ok5;$ok5;$ok5;$ok5;$ok5"
for n in 1 10 1000; do
	check_eq "$n apps: 5 backups all S_OK" "$ok5" "$(get many$n.results)"
	for w in check freeze thaw; do
		check_eq "$n apps: each asked $w once per backup" \
		    "$((5 * n))" "$(get many$n.$w)"
	done
done

check_eq "tiers: FREEZE 0..9 in order, THAW 9..0" \
    "freeze_up=True thaw_down=True" "$(get tiers)"

check_eq "veto: FREEZE E_FAIL" "HOT_BACKUP:S_OK,FREEZE:E_FAIL,THAW:S_OK" \
    "$(get veto.results)"
check "veto: the log names the app, its pid and its reason" \
    grep -q 'veto.log .*FREEZE failed: app nope-0 (pid [0-9]*, uid 0): VETO 1* *[0-9]* *nope-0 cannot flush' "$out"
check "veto: nothing was frozen" sh -c "! grep -q 'veto.log .*froze [0-9]' '$out'"
check_eq "veto: tiers above the culprit were never asked" \
    "good-0 good-1 good-2 nope-0 " "$(get veto.asked)"
check_eq "veto: every app asked to freeze was told ABORT" 4 "$(get veto.abort)"
# hot_backup_veto = ok (the default): HOT_BACKUP says S_OK, as Linux's
# daemon does, and the FREEZE fails on the veto without asking again
check_eq "veto on CHECK: HOT_BACKUP S_OK, FREEZE E_FAIL (hot_backup_veto=ok)" \
    "HOT_BACKUP:S_OK,FREEZE:E_FAIL,THAW:S_OK" "$(get vetocheck.results)"
check "veto on CHECK: named" grep -q 'vetocheck.log .*HOT_BACKUP check failed: app nope-0 .*VETO' "$out"
check "veto on CHECK: the FREEZE fails on it, named" \
    grep -q 'vetocheck.log .*FREEZE failed: app nope-0 .*VETO.*hot_backup_veto = ok' "$out"
check_eq "veto on CHECK: no app was asked to FREEZE" 0 \
    "$(get vetocheck.freeze)"
check "... (the apps were asked CHECK)" test "$(get vetocheck.check)" -ge 3
check_eq "veto on CHECK, hot_backup_veto=fail: HOT_BACKUP E_FAIL" \
    "HOT_BACKUP:E_FAIL,FREEZE:S_OK,THAW:S_OK" "$(get vetocheckfail.results)"
check "veto on CHECK, fail: named" grep -q 'vetocheckfail.log .*HOT_BACKUP check failed: app nope-0 .*VETO' "$out"

check_eq "silent app: FREEZE E_FAIL" "HOT_BACKUP:S_OK,FREEZE:E_FAIL,THAW:S_OK" \
    "$(get silent.results)"
check "silent app: named, with the deadline" \
    grep -q 'silent.log .*FREEZE failed: app mute-0 (pid [0-9]*, uid 0): no answer to FREEZE within [0-9]* ms' "$out"
check_eq "silent app: ABORT to every app that was asked" \
    "good-0 good-1 good-2 mute-0 " "$(get silent.abort)"
check "silent app: nothing was frozen" sh -c "! grep -q 'silent.log .*froze [0-9]' '$out'"

check_eq "app killed while asked to freeze: E_FAIL" \
    "HOT_BACKUP:S_OK,FREEZE:E_FAIL,THAW:S_OK" "$(get killed.results)"
check "app killed: named as lost while asked to FREEZE" \
    grep -q 'killed.log .*app dies-0 (pid [0-9]*, uid 0): lost while asked to FREEZE' "$out"
check_eq "app dying while frozen: the backup and the thaw complete" \
    "HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK" "$(get diesfrozen.results)"
check_eq "a slow app (300 ms) within its budget: S_OK" \
    "HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK" "$(get slow.results)"

check "garbage: that client alone is closed, named" \
    grep -q 'abuse.log .*app garbage (pid [0-9]*, uid 0): disconnected: malformed line' "$out"
check "garbage: the client saw its connection closed" \
    grep -q 'abuse.log garbage: .*closed' "$out"
check "1 MB line: closed before the daemon took more than 64 KiB of it" \
    grep -q 'abuse.log long-line: sent [0-9]\{1,5\} bytes, connection closed' "$out"
check "2000 connections: 1024 served, the excess refused with ERR, all closed" \
    grep -q 'abuse.log flood: 2000 connections, 976 refused with ERR, 0 failed to connect, 2000 closed' "$out"
check_eq "after the abuse, a backup with good apps succeeds" \
    "HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK" "$(get abuse.results)"
for n in 1 10 1000; do
	echo "# FREEZE median with $n apps: $(get many$n.freeze_median_us) us"
done
finish
