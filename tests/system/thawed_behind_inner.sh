#!/bin/sh
# thawed_behind_inner.sh: the part of t_thawed_behind.sh inside the
# sandbox (/mnt/a its own ext4).  Prints "key=value" lines; nothing here
# decides.  Needs B, USER_, PRIVSEP (no or yes) and WHEN (frozen: kill
# the daemon in backup 1's frozen window; idle: after its HOT_BACKUP).
set -u
DEV=/dev/vmbus/hv_vss
OUT=/tmp/keys
: >"$OUT"
say() { echo "$1=$2" >>"$OUT"; }
rm -f /run/hv_vss/ctl.sock /run/hv_vss/app.sock

# backup 1's window: kill -9 the daemon (the first one: the parent with
# privsep), wait for its guard to thaw, then for the loop below to have
# started the second one
cat >/tmp/window.sh <<EOF2
#!/bin/sh
[ "\$HVVSS_SIM_BACKUP" = 1 ] || exit 0
kill -9 \$(cat /tmp/daemon.pid.1)
for i in \$(seq 1 100); do
	[ -s /tmp/daemon.pid.2 ] && break
	sleep 0.05
done
sleep 0.3
if fsfreeze -u /mnt/a 2>/dev/null; then echo left_frozen=yes; else echo left_frozen=no; fi >>$OUT
exit 0
EOF2

# the daemon, started again once when it dies, as Restart= would
cat >/tmp/loop.sh <<EOF2
#!/bin/sh
for n in 1 2; do
	sh -c 'echo \$\$ >/tmp/daemon.pid.'\$n'; exec $B/hv_vss_daemon -n -d -c /dev/null -o mounts=/mnt/a -o privsep=$PRIVSEP -o privsep_user=$USER_'
done
EOF2

if [ "$WHEN" = frozen ]; then
	steps=hot,freeze,exec,sleep=1,thaw
else
	steps=hot,exec,sleep=1,thaw
fi
$B/hv_vss_sim -n 2 -s $steps,sleep=0.5 -x "sh /tmp/window.sh" $DEV -- \
    sh /tmp/loop.sh >/tmp/sim.json 2>/tmp/daemon.log
say sim.rc $?
for i in 0 1; do
	say backup$((i + 1)) "$(python3 -c 'import json, sys
r = json.load(open("/tmp/sim.json"))
print(",".join(q["op"] + ":" + q["result"]
    for q in r["backups"][int(sys.argv[1])]["requests"]))' $i)"
done
say started "$(ls /tmp/daemon.pid.* | wc -l)"
say told "$(grep -c 'before this one died with 1 filesystem frozen, thawed since: the host.s THAW for that snapshot, if it comes, will be answered E_FAIL' /tmp/daemon.log)"
if fsfreeze -u /mnt/a 2>/dev/null; then say left_frozen_end yes; else say left_frozen_end no; fi
cat "$OUT"
sed 's/^/log /' /tmp/daemon.log
exit 0
