#!/bin/sh
# blocked_write.sh DIR: the frozen-window command (hv_vss_sim -x) that
# proves DIR is frozen: a write started now must still be blocked, in
# uninterruptible sleep, 0.3 s later.  It lands after THAW, as
# DIR/write-N; the test checks that afterwards.  It writes only to /tmp
# (the sandbox's memory filesystem) and to DIR.
d=$1
n=${HVVSS_SIM_BACKUP:-0}
mark=/tmp/landed-$(echo "$d" | tr / _)-$n
( echo "backup $n" >"$d/write-$n"; : >"$mark" ) &
w=$!
sleep 0.3
if [ -e "$mark" ]; then
	echo "blocked_write: write $n landed while frozen" >&2
	exit 1
fi
state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$w/status")
[ "$state" = D ] || { echo "blocked_write: writer in state $state" >&2; exit 1; }
exit 0
