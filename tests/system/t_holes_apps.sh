#!/bin/sh
# t_holes_apps: late answers, dropped apps and per-uid limits on the
# application socket (issue 10, points 2 and 4).
#
# The daemon does not wait for the THAWED that answers an ABORT, so that
# answer may arrive after the next transaction began.  It is late and
# harmless (protocol 1, common/appproto.h): the app must keep its
# registration and take part in every later backup.  An answer to a
# transaction the app was never asked about is still a protocol error, and
# an app that goes (for any reason) is named in status, in history and in
# the next backup's log.  One uid cannot take more than app_max_per_uid
# connections.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd mkfs.ext4 python3 setpriv
workdir
mkimage ext4 64M "$WORK/a.img" || bail "mkfs.ext4"

cat >"$WORK/inner.sh" <<EOF2
#!/bin/sh
SWARM="python3 $TOP/tests/system/apps_swarm.py --socket /run/hv_vss/app.sock"
DAEMON="$B/hv_vss_daemon -n -d -c /dev/null -o mounts=/mnt/a"
CTL=$B/hv_vss_ctl
DEV=/dev/vmbus/hv_vss

results() {	# name: "op:result,..." per backup, ";" between backups
	python3 - /tmp/\$1.json \$1 <<'EOF3'
import json, sys
r = json.load(open(sys.argv[1]))
print("%s.results=%s" % (sys.argv[2], ";".join(",".join("%s:%s" % (q["op"],
      q.get("result", "none")) for q in b["requests"]) for b in r["backups"])))
EOF3
}

swarm_done() {	# name: wait for the swarm to see the daemon go
	for i in \$(seq 1 50); do
		grep -q '^# done' /tmp/\$1.swarm 2>/dev/null && break
		sleep 0.1
	done
}

# what an app (a name in the swarm's log) was told, and whether the
# daemon let it go before the end
told() {	# name app
	for w in FREEZE THAW ABORT; do
		echo "\$1.\$2.\$w=\$(grep -c " \$2 [0-9]* \$w " /tmp/\$1.swarm)"
	done
	echo "\$1.\$2.dropped=\$(grep -c "app \$2 .*disconnected" /tmp/\$1.log)"
}

unfrozen() {	# name
	if ! timeout 3 sh -c "echo x >/mnt/a/probe-\$1"; then
		echo "\$1.frozen=yes"
		fsfreeze -u /mnt/a
	fi
}

# the sim, or one that pauses 30 ms before each backup (a late answer
# then lands after the next backup began, not in the pause after the
# veto)
SIM=$B/hv_vss_sim
printf '#!/bin/sh\nexec $B/hv_vss_sim -s sleep=0.03,hot,freeze,exec,thaw "\$@"\n' >/tmp/simnap
chmod +x /tmp/simnap

run() {	# name "sim-options" apps-spec ...: a host backup run
	name=\$1
	simopts=\$2
	shift 2
	\$SIM \$simopts -b "\$SWARM --background --log /tmp/\$name.swarm \$*" \\
	    \$DEV -- \$DAEMON >/tmp/\$name.json 2>/tmp/\$name.log
	echo "\$name.rc=\$?"
	results \$name
	swarm_done \$name
	grep 'failed\|lost\|gone since\|disconnected' /tmp/\$name.log |
	    sed "s/^/\$name.log /"
	unfrozen \$name
}

# 1. one app vetoes the first FREEZE and answers the ABORT at once (a
# race with the host's next HOT_BACKUP); then the same app answering
# everything in order, each answer 10 ms after its request: its THAWED
# for the ABORT comes after the next CHECK, every time
for n in 2 3 4 5; do
	run now\$n "-n \$n" --apps 1:once:0:veto-once
	told now\$n once-0
	run inorder\$n "-n \$n" --apps 1:once:0:veto-once+delay=10
	told inorder\$n once-0
done
# 2. the ABORT answered 50 ms late: after the next backup began
SIM=/tmp/simnap
run late50 "-n 4" --apps 1:once:0:veto-once+late=50
told late50 once-0
# 3. two apps of one tier, one vetoes once: both were told ABORT, both
# answer late
run two "-n 5" --apps 1:once:0:veto-once+delay=40 \\
    --apps 1:good:0:ok+late=45
told two once-0
told two good-0
SIM=$B/hv_vss_sim

# 4. a local freeze vetoed, retried at once (and 20 ms after a late
# THAWED); then an app that answers a transaction it was never asked
# about is dropped, and status, history and the next log name it
$B/hv_vss_sim -w 0 -s sleep=60 \$DEV -- \$DAEMON >/tmp/ctl.json 2>/tmp/ctl.log &
sim=\$!
for i in \$(seq 1 100); do
	[ -S /run/hv_vss/ctl.sock ] && [ -S /run/hv_vss/app.sock ] && break
	sleep 0.05
done
for late in 0 20; do
	k=ctl\$late
	spec=1:once\$late:0:veto-once
	[ \$late -gt 0 ] && spec=\$spec+late=\$late
	\$SWARM --background --log /tmp/\$k.swarm --apps \$spec
	\$CTL freeze --timeout 10 >/tmp/\$k.1.out 2>&1
	echo "\$k.first=\$?"
	\$CTL freeze --timeout 10 >/tmp/\$k.2.out 2>&1
	echo "\$k.second=\$?"
	\$CTL thaw >/tmp/\$k.3.out 2>&1
	echo "\$k.thaw=\$?"
	sed "s/^/\$k.out /" /tmp/\$k.1.out /tmp/\$k.2.out
	unfrozen \$k
done
python3 - <<'EOF3'
import socket
s = socket.socket(socket.AF_UNIX)
s.connect("/run/hv_vss/app.sock")
s.sendall(b"HELLO 1 liar tier=3\n")
f = s.makefile("rb")
f.readline()
s.sendall(b"READY 424242\n")
print("liar.closed=%s" % ("yes" if f.readline() == b"" else "no"))
EOF3
\$CTL status >/tmp/gone.status 2>&1
sed 's/^/gone.status /' /tmp/gone.status
\$CTL status --json >/tmp/gone.json 2>&1
python3 -c 'import json; d = json.load(open("/tmp/gone.json")); print("gone.jsonnames=%s" % " ".join(g["name"] + ":" + g["why"].replace(" ", "_") for g in d["apps_gone"]))'
\$CTL freeze --timeout 10 >/dev/null 2>&1
echo "gone.freeze=\$?"
\$CTL thaw >/dev/null 2>&1
\$CTL history -n 1 >/tmp/gone.history 2>&1
sed 's/^/gone.history /' /tmp/gone.history
kill \$sim
wait \$sim
grep 'gone since\|disconnected' /tmp/ctl.log | sed 's/^/ctl.log /'
for late in 0 20; do
	swarm_done ctl\$late
	cp /tmp/ctl.log /tmp/ctl\$late.log
	told ctl\$late once\$late-0
done

# 5. per-uid limit: uid 65534 takes its 3 slots, a 4th is refused, uid
# 65533 and root still register, and a backup has them all
cat >/tmp/uid.sh <<EOF3
\$SWARM --uid 65534 --background --log /tmp/uid.a.swarm --apps 3:usera:0:ok
echo "uid.a=\\\$?" >>/tmp/uid.res
setpriv --reuid=65534 --regid=65534 --clear-groups python3 -c '
import socket
s = socket.socket(socket.AF_UNIX)
s.connect("/run/hv_vss/app.sock")
print("uid.extra=%s" % s.makefile().readline().strip())' >>/tmp/uid.res
\$SWARM --uid 65533 --background --log /tmp/uid.b.swarm --apps 2:userb:1:ok
echo "uid.b=\\\$?" >>/tmp/uid.res
\$SWARM --background --log /tmp/uid.r.swarm --apps 4:root:2:ok
echo "uid.root=\\\$?" >>/tmp/uid.res
exit 0
EOF3
rm -f /tmp/uid.res
$B/hv_vss_sim -b "sh /tmp/uid.sh" \$DEV -- \$DAEMON -o app_socket_mode=0666 \\
    -o app_max_per_uid=3 >/tmp/uid.json 2>/tmp/uid.log
echo "uid.rc=\$?"
results uid
cat /tmp/uid.res
grep 'app_max_per_uid' /tmp/uid.log | sed 's/^/uid.log /'
for w in a b r; do
	echo "uid.\$w.freeze=\$(grep -c ' FREEZE ' /tmp/uid.\$w.swarm)"
done
unfrozen uid
EOF2
"$SANDBOX" -t 300 -r "$TOP" -r "$B" -r "$WORK" -m "$WORK/a.img:/mnt/a" \
    -- sh "$WORK/inner.sh" >"$WORK/out" 2>&1
rc=$?
out=$WORK/out
get() { sed -n "s/^$1=//p" "$out"; }
sed 's/^/# /' "$out" | head -n 300
check_eq "sandbox exit" 0 "$rc"
check_eq "no case left /mnt/a frozen" "" "$(grep '\.frozen=' "$out")"

veto="HOT_BACKUP:S_OK,FREEZE:E_FAIL,THAW:S_OK"
ok="HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK"
for n in 2 3 4 5; do
	want=$veto
	i=1
	while [ $i -lt $n ]; do want="$want;$ok"; i=$((i + 1)); done
	for c in now inorder; do
		what="ABORT answered at once"
		[ $c = inorder ] && what="answers in order, 10 ms each"
		check_eq "$what, -n $n: backup 1 vetoed, the rest S_OK" \
		    "$want" "$(get $c$n.results)"
		check_eq "$what, -n $n: the app was asked every FREEZE, and THAW after each later one" \
		    "$n $((n - 1))" "$(get $c$n.once-0.FREEZE) $(get $c$n.once-0.THAW)"
		check_eq "$what, -n $n: never dropped" \
		    0 "$(get $c$n.once-0.dropped)"
	done
done
check_eq "ABORT answered 50 ms late: backup 1 vetoed, the rest S_OK" \
    "$veto;$ok;$ok;$ok" "$(get late50.results)"
check_eq "ABORT answered 50 ms late: the app froze in every later backup" \
    "4 3" "$(get late50.once-0.FREEZE) $(get late50.once-0.THAW)"
check_eq "ABORT answered 50 ms late: never dropped" \
    0 "$(get late50.once-0.dropped)"
check_eq "two apps: backup 1 vetoed, the rest S_OK" \
    "$veto;$ok;$ok;$ok;$ok" "$(get two.results)"
for a in once-0 good-0; do
	check_eq "two apps: $a told ABORT once, asked every FREEZE, never dropped" \
	    "1 5 4 0" "$(get two.$a.ABORT) $(get two.$a.FREEZE) $(get two.$a.THAW) $(get two.$a.dropped)"
done
for late in 0 20; do
	check_eq "hv_vss_ctl freeze vetoed (THAWED after $late ms), retried at once: fails, then succeeds" \
	    "1 0 0" "$(get ctl$late.first) $(get ctl$late.second) $(get ctl$late.thaw)"
done
# once0 stays for the rest: vetoed by once20 once, then frozen in the
# retry and in the last freeze
check_eq "hv_vss_ctl freeze retried (THAWED at once): the app took part in every freeze, never dropped" \
    "2 5 3 0" "$(get ctl0.once0-0.ABORT) $(get ctl0.once0-0.FREEZE) $(get ctl0.once0-0.THAW) $(get ctl0.once0-0.dropped)"
check_eq "hv_vss_ctl freeze retried (THAWED after 20 ms): the app took part in every freeze, never dropped" \
    "1 3 2 0" "$(get ctl20.once20-0.ABORT) $(get ctl20.once20-0.FREEZE) $(get ctl20.once20-0.THAW) $(get ctl20.once20-0.dropped)"

check_eq "an answer to a transaction never asked: the connection is closed" \
    yes "$(get liar.closed)"
check "the daemon's log says why" grep -q \
    "^ctl.log .*app liar (pid [0-9]*, uid 0): disconnected: answer for a transaction it was never asked about" "$out"
check "status names the app gone, and why" grep -q \
    "^gone.status  .* liar  *[0-9]*  *0  *[0-9]*  answer for a transaction it was never asked about" "$out"
check_eq "status --json lists it" \
    "liar:answer_for_a_transaction_it_was_never_asked_about" "$(get gone.jsonnames)"
check_eq "the next backup runs" 0 "$(get gone.freeze)"
check "the next backup's log names it" grep -q \
    "^ctl.log .*txn [0-9]*: 1 registered app gone since the last transaction, not part of this one: app liar (pid [0-9]*, uid 0): answer for a transaction" "$out"
check "history names it on that backup" grep -q \
    "^gone.history .* FREEZE .* ok \[without apps gone before it: app liar (pid [0-9]*, uid 0): answer for a transaction" "$out"

check_eq "per-uid limit: the backup with every registered app S_OK" \
    "$ok" "$(get uid.results)"
check_eq "per-uid limit: uid 65534 registers 3" 0 "$(get uid.a)"
check_eq "per-uid limit: its 4th connection is refused" \
    "ERR too many connections for this uid" "$(get uid.extra)"
check "per-uid limit: the daemon says which uid" grep -q \
    "^uid.log .*uid 65534 has 3 connections (app_max_per_uid); refusing more" "$out"
check_eq "per-uid limit: uid 65533 and root still register" "0 0" \
    "$(get uid.b) $(get uid.root)"
check_eq "per-uid limit: all 9 took part in the backup" "3 2 4" \
    "$(get uid.a.freeze) $(get uid.b.freeze) $(get uid.r.freeze)"
finish
