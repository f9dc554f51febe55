#!/bin/sh
# expedite_inner.sh: the part of t_expedite.sh inside the sandbox
# (/mnt/a its own ext4; there is no /sys here, so /sys/kernel/rcu_expedited
# is a plain file that stands for the kernel's).  Needs B, USER_ and CASE:
# on (the knob at 0), preset (at 1: someone else's), off
# (expedite_freeze = no), missing (no knob), killed (the whole daemon
# killed -9 while its FIFREEZE runs, then started again).  Every FIFREEZE
# first sleeps 600 ms (failfreeze.so), and the knob is read every 20 ms.
# Prints "key=value" lines; nothing here decides.
set -u
DEV=/dev/vmbus/hv_vss
KNOB=/sys/kernel/rcu_expedited
say() { echo "$1=$2"; }
rm -f /run/hv_vss/ctl.sock /run/hv_vss/app.sock
mkdir -p /sys/kernel
case $CASE in
preset) echo 1 >$KNOB ;;
missing) rm -rf /sys/kernel ;;
*) echo 0 >$KNOB ;;
esac
opt=
[ "$CASE" = off ] && opt="-o expedite_freeze=no"
cat >/tmp/daemon.sh <<EOF2
#!/bin/sh
echo \$\$ >/tmp/daemon.pid
exec env LD_PRELOAD=$B/tests/failfreeze.so HVVSS_FREEZE_DELAY_MS=600 \
    $B/hv_vss_daemon -n -d -c /dev/null -o mounts=/mnt/a \
    -o privsep_user=$USER_ $opt
EOF2

: >/tmp/seen
(while :; do cat $KNOB >>/tmp/seen 2>/dev/null; sleep 0.02; done) &
watcher=$!

results() {	# the sim's report: OP:RESULT,...
	python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
print(",".join(q["op"] + ":" + q.get("result", "none")
    for b in r["backups"] for q in b["requests"]))' "$1"
}

if [ "$CASE" = killed ]; then
	# kill -9 while the FIFREEZE sleeps (the note is made before it)
	(for i in $(seq 1 300); do
		[ -e /run/hv_vss/expedited ] && break
		sleep 0.01
	done
	sleep 0.2
	kill -9 "$(cat /tmp/daemon.pid)") &
	$B/hv_vss_sim -s hot,freeze,thaw $DEV -- sh /tmp/daemon.sh \
	    >/tmp/sim1.json 2>/tmp/daemon1.log
	wait $!
	say knob_after_kill "$(cat $KNOB)"
	[ -e /run/hv_vss/expedited ] && say noted_after_kill yes ||
	    say noted_after_kill no
	sed 's/^/log1 /' /tmp/daemon1.log
fi
$B/hv_vss_sim -s hot,freeze,thaw $DEV -- sh /tmp/daemon.sh \
    >/tmp/sim.json 2>/tmp/daemon.log
say sim_rc $?
kill $watcher
wait $watcher 2>/dev/null
say results "$(results /tmp/sim.json)"
say seen "$(sort -u /tmp/seen | tr -d '\n')"
say knob_after "$(cat $KNOB 2>/dev/null || echo none)"
[ -e /run/hv_vss/expedited ] && say noted_after yes || say noted_after no
if fsfreeze -u /mnt/a 2>/dev/null; then say left_frozen yes; else say left_frozen no; fi
sed 's/^/log /' /tmp/daemon.log
exit 0
