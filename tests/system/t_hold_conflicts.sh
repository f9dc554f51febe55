#!/bin/sh
# t_hold_conflicts: while a detached hold is in place, a second hold, a
# freeze and a thaw from other hv_vss_ctl runs are refused, and the
# refusals are theirs: status still names the first holder (a refused
# hold once overwrote it, so status showed no hold at all), and the
# hold's own transaction ends "ok" at its release (the refusals were
# once recorded as its failure).  An application that answered FROZEN to
# a hold and went before the release (the library thaws it; a hold
# freezes no filesystem) makes the release fail, naming it: the backup
# taken meanwhile is not consistent for it (the release once said OK).
# hold_conflicts_inner.sh runs inside the sandbox.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd mkfs.ext4 python3
workdir
[ -x "$B/hv_vss_ctl" ] || bail "no $B/hv_vss_ctl (make)"
mkimage ext4 64M "$WORK/a.img" || bail "mkfs.ext4"

"$SANDBOX" -t 120 -r "$TOP" -r "$B" -e B="$B" -e TOP="$TOP" \
    -m "$WORK/a.img:/mnt/a" -- sh "$TOP/tests/system/hold_conflicts_inner.sh" \
    >"$WORK/out" 2>&1
rc=$?
out=$WORK/out
get() { sed -n "s/^$1=//p" "$out" | head -n 1; }
sed 's/^/# /' "$out"
check_eq "sandbox exit" 0 "$rc"
check_eq "hold: exit 0" 0 "$(get first.rc)"
check_eq "status: held by the first" "holding apps first 1" \
    "$(get first.status)"
check_eq "a second hold: refused (exit 1)" 1 "$(get second.rc)"
check_eq "status after it: still held by the first" \
    "holding apps first 1" "$(get after_second.status)"
check_eq "a freeze during the hold: refused (exit 1)" 1 "$(get freeze.rc)"
check_eq "a thaw during the hold: refused (exit 1)" 1 "$(get thaw.rc)"
check_eq "status after them: still held by the first" \
    "holding apps first 1" "$(get after_all.status)"
check_eq "release: exit 0" 0 "$(get release.rc)"
check_eq "history: the hold ends ok, the refusals are not its own" \
    "1:HOLD:ok:" "$(get history)"
check_eq "a hold of a registered app: exit 0, the app FROZEN" "0 1" \
    "$(get gone.hold.rc) $(get gone.frozen)"
check_eq "the app gone while held: the release fails (exit 1)" 1 \
    "$(get gone.release.rc)"
check "... naming the app" grep -q \
    "^gone.release.err=hv_vss_ctl: 1 registered app gone while held, not part of the backup taken meanwhile: app journal (pid [0-9]*, uid 0): closed" \
    "$out"
check "history: that hold failed, and why" grep -q \
    "^gone.history=2:HOLD:failed:1 registered app gone while held" "$out"
check_eq "the next hold and release: exit 0" "0 0" \
    "$(get after.hold.rc) $(get after.release.rc)"
check_eq "the daemon served to the end" 1 "$(get alive)"
finish
