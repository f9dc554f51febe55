#!/bin/sh
# t_thawed_behind: the whole daemon killed -9 in the frozen window and
# started again (as systemd's Restart= would) before the host's THAW:
# its thaw guard thaws at once, the new daemon's recovery finds the
# dead one's record, and the host's THAW for that snapshot, which may
# have been taken after the thaw, is answered E_FAIL, not S_OK as for a
# THAW with nothing behind it; the next backup is good.  With
# privsep = no, and with privsep = yes (the parent is killed, its engine
# dies with it, the new parent tells its first engine).  A restart with
# nothing left by the dead daemon (it was killed while idle) answers a
# stray THAW S_OK.  thawed_behind_inner.sh runs inside the sandbox.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd mkfs.ext4 fsfreeze python3
workdir
if id -u hvvss >/dev/null 2>&1; then USER_=hvvss; else USER_=nobody; fi
mkimage ext4 32M "$WORK/a.img" || bail "mkfs.ext4"

for ps in no yes; do
	for when in frozen idle; do
		t=$ps.$when
		"$SANDBOX" -t 60 -r "$TOP" -r "$B" -e B="$B" -e USER_="$USER_" \
		    -e PRIVSEP=$ps -e WHEN=$when -m "$WORK/a.img:/mnt/a" -- \
		    sh "$TOP/tests/system/thawed_behind_inner.sh" \
		    >"$WORK/out.$t" 2>&1
		rc=$?
		get() { sed -n "s/^$1=//p" "$WORK/out.$t" | head -n 1; }
		sed 's/^/# /' "$WORK/out.$t"
		check_eq "privsep=$ps, killed $when: sandbox exit" 0 $rc
		check_eq "privsep=$ps, killed $when: a second daemon started" 2 \
		    "$(get started)"
		if [ $when = frozen ]; then
			check_eq "privsep=$ps: the dead daemon's guard thawed /mnt/a" \
			    no "$(get left_frozen)"
			check_eq "privsep=$ps: the new daemon said the THAW would fail" \
			    1 "$(get told)"
			check_eq "privsep=$ps: the host's THAW for that snapshot: E_FAIL" \
			    "HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:E_FAIL" \
			    "$(get backup1)"
		else
			check_eq "privsep=$ps, killed idle: nothing said" 0 \
			    "$(get told)"
			check_eq "privsep=$ps, killed idle: a stray THAW is S_OK" \
			    "HOT_BACKUP:S_OK,THAW:S_OK" "$(get backup1)"
		fi
		# the sim's steps are each backup's: the second one the same
		# without a kill
		[ $when = frozen ] && want=HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK ||
		    want=HOT_BACKUP:S_OK,THAW:S_OK
		check_eq "privsep=$ps, killed $when: the next round good" \
		    "$want" "$(get backup2)"
		check_eq "privsep=$ps, killed $when: nothing frozen at the end" \
		    no "$(get left_frozen_end)"
	done
done
finish
