#!/bin/sh
# thawed_twice_inner.sh: the part of t_thawed_twice.sh inside the
# sandbox (/mnt/a its own ext4).  Prints "key=value" lines; nothing here
# decides.  Needs B, USER_ and KILL: in backup 1's frozen window, with
# privsep = yes, kill -9 the engine, wait for its successor to be told
# the THAW will fail, then (KILL=twice) kill that one too before the
# host's THAW, or (KILL=hup) send the parent SIGHUP; or (KILL=daemon,
# PRIVSEP no or yes) kill -9 the whole daemon, and the one started
# again (as Restart= would) once it has been told, and start a third;
# or (KILL=once) kill the engine once, in the sim's STEPS.
set -u
DEV=/dev/vmbus/hv_vss
OUT=/tmp/keys
: >"$OUT"
say() { echo "$1=$2" >>"$OUT"; }
rm -f /run/hv_vss/ctl.sock /run/hv_vss/app.sock

cat >/tmp/window.sh <<EOF2
#!/bin/sh
[ "\$HVVSS_SIM_BACKUP" = 1 ] || exit 0
engines() { grep -c 'privsep: engine pid .* started' /tmp/daemon.log; }
engine() { sed -n 's/.*privsep: engine pid \([0-9]*\) started.*/\1/p' /tmp/daemon.log | tail -n 1; }
told() { grep -c 'will be answered E_FAIL' /tmp/daemon.log; }
[ "$KILL" = daemon ] || kill -9 \$(engine)
[ "$KILL" = daemon ] || for i in \$(seq 1 100); do [ \$(told) -ge 1 ] && break; sleep 0.05; done
if [ "$KILL" = daemon ]; then
	kill -9 \$(cat /tmp/daemon.pid.1)
	for i in \$(seq 1 100); do [ \$(told) -ge 1 ] && break; sleep 0.05; done
	kill -9 \$(cat /tmp/daemon.pid.2)
	for i in \$(seq 1 100); do [ -s /tmp/daemon.pid.3 ] && break; sleep 0.05; done
	sleep 0.3
elif [ "$KILL" = once ]; then
	for i in \$(seq 1 40); do [ \$(engines) -ge 2 ] && break; sleep 0.05; done
elif [ "$KILL" = twice ]; then
	kill -9 \$(engine)
	for i in \$(seq 1 100); do [ \$(engines) -ge 3 ] && break; sleep 0.05; done
else
	kill -HUP \$(cat /tmp/daemon.pid)
fi
sleep 0.5
if fsfreeze -u /mnt/a 2>/dev/null; then echo left_frozen=yes; else echo left_frozen=no; fi >>$OUT
exit 0
EOF2

cat >/tmp/loop.sh <<EOF2
#!/bin/sh
for n in 1 2 3; do
	sh -c 'echo \$\$ >/tmp/daemon.pid; echo \$\$ >/tmp/daemon.pid.'\$n'; exec $B/hv_vss_daemon -n -d -c /dev/null -o mounts=/mnt/a -o privsep=$PRIVSEP -o privsep_user=$USER_'
	[ "$KILL" = daemon ] || break
done
EOF2

$B/hv_vss_sim -n 2 -s ${STEPS:-hot,freeze,exec,sleep=1,thaw},sleep=0.5 \
    -x "sh /tmp/window.sh" $DEV -- \
    sh /tmp/loop.sh \
    >/tmp/sim.json 2>/tmp/daemon.log
say sim.rc $?
for i in 0 1; do
	say backup$((i + 1)) "$(python3 -c 'import json, sys
r = json.load(open("/tmp/sim.json"))
print(",".join(q["op"] + ":" + q["result"]
    for q in r["backups"][int(sys.argv[1])]["requests"]))' $i)"
done
say engines "$(grep -c 'privsep: engine pid .* started' /tmp/daemon.log)"
if fsfreeze -u /mnt/a 2>/dev/null; then say left_frozen_end yes; else say left_frozen_end no; fi
cat "$OUT"
sed 's/^/log /' /tmp/daemon.log
exit 0
