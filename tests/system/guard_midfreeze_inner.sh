#!/bin/sh
# guard_midfreeze_inner.sh: the part of t_guard_midfreeze.sh inside the
# sandbox (/mnt/a its own ext4).  Prints "key=value" lines; nothing here
# decides.  Needs B.
set -u
DEV=/dev/vmbus/hv_vss
say() { echo "$1=$2"; }
rm -f /run/hv_vss/ctl.sock /run/hv_vss/app.sock
# every FIFREEZE takes 1 s more (failfreeze.so): the guard is killed
# inside it; the frozen window lasts 3 s
$B/hv_vss_sim -s hot,freeze,sleep=3,thaw $DEV -- \
    env LD_PRELOAD=$B/tests/failfreeze.so HVVSS_FREEZE_DELAY_MS=1000 \
    $B/hv_vss_daemon -n -d -c /dev/null -o mounts=/mnt/a \
    >/tmp/sim.json 2>/tmp/daemon.log &
sim=$!
for _i in $(seq 1 500); do
	grep -q 'host: FREEZE' /tmp/daemon.log 2>/dev/null && break
	sleep 0.01
done
sleep 0.3
daemon=$(ps -o pid= --ppid "$sim" | tr -d ' ')
guard=$(ps -o pid=,comm= --ppid "$daemon" | awk '$2 == "hv_vss_guard" {print $1}')
say guard1.comm "$(cat /proc/$guard/comm)"
kill -9 "$guard"
# the FIFREEZE is done at about 1 s; the window lasts until 4 s
sleep 1.2
guard2=$(ps -o pid=,comm= --ppid "$daemon" | awk '$2 == "hv_vss_guard" {print $1}')
say guard2.comm "$(cat /proc/$guard2/comm 2>/dev/null)"
say guard2.new "$([ "$guard2" != "$guard" ] && echo yes || echo no)"
say guard2.holds "$(for f in /proc/$guard2/fd/*; do readlink "$f"; done | grep -c '^/mnt/a$')"
kill -9 "$daemon"
wait "$sim"
sleep 1
# left frozen?  fsfreeze -u says so without blocking, and thaws it
if fsfreeze -u /mnt/a 2>/dev/null; then
	say left_frozen yes
else
	say left_frozen no
fi
grep -e 'guard' -e 'froze' /tmp/daemon.log | sed 's/^/log /'
exit 0
