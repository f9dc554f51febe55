#!/bin/sh
# t_expedite: expedite_freeze.  While the FIFREEZEs of a freeze run, the
# kernel's RCU grace periods are expedited (/sys/kernel/rcu_expedited
# 1), and normal again before the FREEZE is answered; a knob someone
# else set to 1 is left alone; expedite_freeze = no leaves it at 0; no
# knob: the freeze goes on without, saying why; the whole daemon killed
# -9 in the middle leaves it at 1 and noted in run_dir, and the daemon
# started next puts it back.  In the sandbox the knob is a plain file
# (it has no /sys), so the machine's own is never touched here.
# expedite_inner.sh runs in the sandbox.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd mkfs.ext4 fsfreeze python3
workdir
if id -u hvvss >/dev/null 2>&1; then USER_=hvvss; else USER_=nobody; fi
mkimage ext4 32M "$WORK/a.img" || bail "mkfs.ext4"

for c in on preset off missing killed; do
	"$SANDBOX" -t 60 -r "$TOP" -r "$B" -e B="$B" -e USER_="$USER_" \
	    -e CASE=$c -m "$WORK/a.img:/mnt/a" -- \
	    sh "$TOP/tests/system/expedite_inner.sh" >"$WORK/out.$c" 2>&1
	rc=$?
	get() { sed -n "s/^$1=//p" "$WORK/out.$c" | head -n 1; }
	sed 's/^/# /' "$WORK/out.$c"
	check_eq "$c: sandbox exit" 0 $rc
	check_eq "$c: the backup" "HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK" \
	    "$(get results)"
	check_eq "$c: nothing left frozen" no "$(get left_frozen)"
	check_eq "$c: nothing left noted in run_dir" no "$(get noted_after)"
	case $c in
	on)
		check_eq "on: 1 while freezing, 0 before and after" 01 \
		    "$(get seen)"
		check_eq "on: back to 0" 0 "$(get knob_after)"
		check "on: the log says so" grep -q \
		    'froze 1 filesystem in .* ms (presync .* ms, grace periods expedited)' \
		    "$WORK/out.$c"
		;;
	preset)
		check_eq "preset: someone else's 1, left alone" 1 "$(get seen)"
		check_eq "preset: still 1" 1 "$(get knob_after)"
		;;
	off)
		check_eq "off: never 1" 0 "$(get seen)"
		;;
	missing)
		check "missing: frozen without, saying why" grep -q \
		    'grace periods not expedited: No such file or directory' \
		    "$WORK/out.$c"
		;;
	killed)
		check_eq "killed: left at 1 by the dead daemon" 1 \
		    "$(get knob_after_kill)"
		check_eq "killed: and noted in run_dir" yes \
		    "$(get noted_after_kill)"
		check "killed: the next daemon put it back, and said so" grep -q \
		    'log .*died while the kernel.s grace periods were expedited for its freeze: put back to normal' \
		    "$WORK/out.$c"
		check_eq "killed: 0 at the end" 0 "$(get knob_after)"
		;;
	esac
done
finish
