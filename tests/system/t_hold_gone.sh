#!/bin/sh
# t_hold_gone: detached holds whose registered apps go before the
# release.  30 gone at once: the release fails with the count, the names
# that fit, whole, and "and more" (the reason was once cut in the middle
# of a name, the rest lost without a word); one gone while another
# registers: the release names the gone one; two releases at once: one
# names the gone app; a release after
# the hold's lease fails saying so; an app gone while the hold waits for
# its FROZEN fails the hold, naming it; the next hold is good.
# hold_gone_inner.sh runs inside the sandbox.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd mkfs.ext4 python3
workdir
[ -x "$B/hv_vss_ctl" ] || bail "no $B/hv_vss_ctl (make)"
mkimage ext4 64M "$WORK/a.img" || bail "mkfs.ext4"

"$SANDBOX" -t 120 -r "$TOP" -r "$B" -e B="$B" -e TOP="$TOP" \
    -m "$WORK/a.img:/mnt/a" -- sh "$TOP/tests/system/hold_gone_inner.sh" \
    >"$WORK/out" 2>&1
rc=$?
out=$WORK/out
get() { sed -n "s/^$1=//p" "$out" | head -n 1; }
sed 's/^/# /' "$out"
check_eq "sandbox exit" 0 "$rc"
check_eq "30 apps held, gone: hold 0, release 1" "0 1" \
    "$(get many.hold.rc) $(get many.rc)"
check "... the count" grep -q \
    "^many.err=hv_vss_ctl: 30 registered apps gone while held, not part of the backup taken meanwhile: app journal (pid [0-9]*, uid 0): closed;" \
    "$out"
check "... whole names, then 'and more'" grep -q \
    "^many.err=.*: closed; and more *$" "$out"
check_eq "one gone, another registered: hold 0, release 1" "0 1" \
    "$(get swap.hold.rc) $(get swap.rc)"
check "... naming the gone one only" grep -q \
    "^swap.err=hv_vss_ctl: 1 registered app gone while held, not part of the backup taken meanwhile: app journal (pid [0-9]*, uid 0): closed *$" \
    "$out"
# the other: refused while the first runs, or, if it comes after, S_OK
# for a release with nothing held (as a THAW with nothing frozen)
check_eq "two releases at once: the hold 0, at least one fails" "0 yes" \
    "$(get twice.hold.rc) $([ "$(get twice.a.rc)$(get twice.b.rc)" != 00 ] && echo yes || echo no)"
check "... one of them names the gone app" grep -q \
    "^twice\.[ab]\.err=hv_vss_ctl: 1 registered app gone while held" "$out"
check_eq "a release after the lease: fails" "0 1" \
    "$(get lease.hold.rc) $(get lease.rc)"
check "... saying so" grep -q \
    "^lease.err=hv_vss_ctl: RELEASE after the hold's lease expired" "$out"
check_eq "an app gone in the hold's freeze stage: the hold fails" 1 \
    "$(get stage.hold.rc)"
check "... naming it" grep -q \
    "^stage.hold.err=hv_vss_ctl: app journal (pid [0-9]*, uid 0): lost while asked to FREEZE" \
    "$out"
check_eq "the next hold and release: exit 0" "0 0" \
    "$(get after.hold.rc) $(get after.rc)"
check_eq "the daemon served to the end" 1 "$(get alive)"
finish
