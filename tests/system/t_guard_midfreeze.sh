#!/bin/sh
# t_guard_midfreeze: the thaw guard killed while the freezer is inside
# FIFREEZE (made 1 s long by failfreeze.so), then the daemon killed -9 in
# the frozen window: the guard restarted meanwhile must hold what was
# frozen, and thaw it when the daemon dies.  It once held nothing (the
# fds had gone to the dead guard, and the restart's hand-over ran while
# the job was still freezing): /mnt/a was left frozen for good.
# guard_midfreeze_inner.sh runs inside the sandbox.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd mkfs.ext4 fsfreeze
workdir
[ -f "$B/tests/failfreeze.so" ] || bail "no $B/tests/failfreeze.so (make)"
mkimage ext4 32M "$WORK/a.img" || bail "mkfs.ext4"

"$SANDBOX" -t 60 -r "$TOP" -r "$B" -e B="$B" \
    -m "$WORK/a.img:/mnt/a" -- sh "$TOP/tests/system/guard_midfreeze_inner.sh" \
    >"$WORK/out" 2>&1
rc=$?
out=$WORK/out
get() { sed -n "s/^$1=//p" "$out" | head -n 1; }
sed 's/^/# /' "$out"
check_eq "sandbox exit" 0 "$rc"
check_eq "the guard killed inside FIFREEZE" hv_vss_guard "$(get guard1.comm)"
check_eq "a new guard in the frozen window" "hv_vss_guard yes" \
    "$(get guard2.comm) $(get guard2.new)"
check_eq "... holding /mnt/a" 1 "$(get guard2.holds)"
check_eq "the daemon killed -9 then: /mnt/a not left frozen" no \
    "$(get left_frozen)"
finish
