#!/bin/sh
# t_freezer_threads: the freezer's threads last from job to job
# (daemon/freeze.c): one coordinator and one worker per target, made by
# the first freeze and kept, never one made or ended per job.  A thread
# that ends queues RCU callbacks, and one that ended right before a cold
# FIFREEZE made it wait a whole grace period longer (bench/README.md).
#
# Four backups of /mnt/a and /mnt/b; in each frozen window (an exec step
# between FREEZE and THAW) the daemon's thread ids are listed.  Every
# window must see the same threads: the event loop's, the coordinator's
# and one worker per filesystem.  The daemon must still stop cleanly
# (freezer_free() ends and joins them) once the host is done.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd mkfs.ext4
workdir
mkimage ext4 64M "$WORK/a.img" || bail "mkfs.ext4"
mkimage ext4 64M "$WORK/b.img" || bail "mkfs.ext4"

cat >"$WORK/window.sh" <<'EOF2'
#!/bin/sh
# run by hv_vss_sim in the frozen window: the daemon is the child of the
# hv_vss_sim above us (its thaw guard is the daemon's child); the sandbox
# shares the machine's pids, so other daemons may be running
ppid() { cut -d' ' -f4 "/proc/$1/stat" 2>/dev/null; }
sim=$PPID
while [ "$sim" -gt 1 ] && [ "$(cat "/proc/$sim/comm")" != hv_vss_sim ]; do
	sim=$(ppid "$sim")
done
for p in /proc/[0-9]*; do
	[ "$(cat "$p/comm" 2>/dev/null)" = hv_vss_daemon ] || continue
	[ "$(ppid "${p#/proc/}")" = "$sim" ] || continue
	echo "tasks.$HVVSS_SIM_BACKUP=$(ls "$p/task" | sort -n | tr '\n' ' ')"
done >>/tmp/tasks
EOF2

cat >"$WORK/inner.sh" <<EOF2
#!/bin/sh
$B/hv_vss_sim -n 4 -s hot,freeze,exec,thaw,sleep=0.05 \\
    -x "sh $WORK/window.sh" /dev/vmbus/hv_vss -- \\
    $B/hv_vss_daemon -n -d -c /dev/null -o mounts=/mnt/a,/mnt/b \\
    >/tmp/report.json 2>/tmp/daemon.log
echo "sim.rc=\$?"
cat /tmp/tasks
sed 's/^/log /' /tmp/daemon.log
EOF2
"$SANDBOX" -t 120 -r "$TOP" -r "$B" -r "$WORK" -m "$WORK/a.img:/mnt/a" \
    -m "$WORK/b.img:/mnt/b" -- sh "$WORK/inner.sh" >"$WORK/out" 2>&1
rc=$?
out=$WORK/out
grep '^tasks\.' "$out" | sed 's/^/# /'
check_eq "sandbox exit" 0 "$rc"
check_eq "four backups, every request S_OK, the daemon stopped" 0 \
    "$(sed -n 's/^sim.rc=//p' "$out")"
check "both filesystems frozen in each backup" test \
    "$(grep -c ': froze 2 filesystems' "$out")" -eq 4
check_eq "a thread list from each frozen window" 4 \
    "$(grep -c '^tasks\.[1-4]=' "$out")"
first=$(sed -n 's/^tasks\.1=//p' "$out")
check_eq "the loop, the coordinator and one worker per filesystem" 4 \
    "$(echo $first | wc -w)"
for n in 2 3 4; do
	check_eq "backup $n: the same threads as backup 1" "$first" \
	    "$(sed -n "s/^tasks\.$n=//p" "$out")"
done
[ "$nfail" -eq 0 ] || sed "s/^/# out: /" "$out" | tail -n 60
finish
