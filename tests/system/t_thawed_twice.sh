#!/bin/sh
# t_thawed_twice: with privsep = yes, the engine killed -9 in backup 1's
# frozen window; its successor is told the host's THAW will fail.  Then
# (twice) that successor is killed too before the THAW, or (hup) the
# parent gets SIGHUP: the host's THAW for that snapshot must still be
# E_FAIL, not S_OK (the told state dies with the engine that was told),
# and the next backup is good.  Also (daemon) with privsep = no and yes:
# the whole daemon killed in the window, and the one started again
# killed too once told, before the THAW; a third one must still fail it.  thawed_twice_inner.sh runs in the sandbox.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd mkfs.ext4 fsfreeze python3
workdir
if id -u hvvss >/dev/null 2>&1; then USER_=hvvss; else USER_=nobody; fi
mkimage ext4 32M "$WORK/a.img" || bail "mkfs.ext4"

for k in yes.twice yes.hup no.daemon yes.daemon; do
	"$SANDBOX" -t 60 -r "$TOP" -r "$B" -e B="$B" -e USER_="$USER_" \
	    -e PRIVSEP=${k%.*} -e KILL=${k#*.} -m "$WORK/a.img:/mnt/a" -- \
	    sh "$TOP/tests/system/thawed_twice_inner.sh" >"$WORK/out.$k" 2>&1
	rc=$?
	get() { sed -n "s/^$1=//p" "$WORK/out.$k" | head -n 1; }
	sed 's/^/# /' "$WORK/out.$k"
	check_eq "$k: sandbox exit" 0 $rc
	check_eq "$k: the guard thawed /mnt/a" no "$(get left_frozen)"
	check_eq "$k: the host's THAW for that snapshot: E_FAIL" \
	    "HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:E_FAIL" "$(get backup1)"
	check_eq "$k: the next round good" \
	    "HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK" "$(get backup2)"
	check_eq "$k: nothing frozen at the end" no "$(get left_frozen_end)"
done
finish
