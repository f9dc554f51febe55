#!/bin/sh
# t_thawed_twice: with privsep = yes, the engine killed -9 in backup 1's
# frozen window; its successor is told the host's THAW will fail.  Then
# (twice) that successor is killed too before the THAW, or (hup) the
# parent gets SIGHUP: the host's THAW for that snapshot must still be
# E_FAIL, not S_OK (the told state dies with the engine that was told),
# and the next backup is good.  The same with the whole daemon killed
# twice (daemon, with privsep = yes and no): the third one started must
# still answer E_FAIL (run_dir/thawed-behind keeps it, record.h).
# And the engine killed once: then two THAWs (E_FAIL once), a new
# HOT_BACKUP and FREEZE instead of the THAW (all S_OK), or killed after
# the THAW's answer (a stray THAW S_OK).  thawed_twice_inner.sh runs in the sandbox.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd mkfs.ext4 fsfreeze python3
workdir
if id -u hvvss >/dev/null 2>&1; then USER_=hvvss; else USER_=nobody; fi
mkimage ext4 32M "$WORK/a.img" || bail "mkfs.ext4"

for k in yes.twice yes.hup yes.daemon no.daemon yes.thaw2 yes.refreeze \
    yes.afterthaw; do
	case ${k#*.} in
	thaw2) st=hot,freeze,exec,sleep=1,thaw,thaw ;;
	refreeze) st=hot,freeze,exec,sleep=1,hot,freeze,thaw ;;
	afterthaw) st=hot,freeze,thaw,exec,sleep=1,thaw ;;
	*) st= ;;
	esac
	kill=${k#*.}
	[ -n "$st" ] && kill=once
	"$SANDBOX" -t 60 -r "$TOP" -r "$B" -e B="$B" -e USER_="$USER_" \
	    -e PRIVSEP=${k%.*} -e KILL=$kill \
	    -e STEPS="$st" -m "$WORK/a.img:/mnt/a" -- \
	    sh "$TOP/tests/system/thawed_twice_inner.sh" >"$WORK/out.$k" 2>&1
	rc=$?
	get() { sed -n "s/^$1=//p" "$WORK/out.$k" | head -n 1; }
	sed 's/^/# /' "$WORK/out.$k"
	check_eq "$k: sandbox exit" 0 $rc
	check_eq "$k: the guard thawed /mnt/a" no "$(get left_frozen)"
	case $k in
	yes.thaw2)
		check_eq "$k: two THAWs: E_FAIL once, then S_OK" \
		    "HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:E_FAIL,THAW:S_OK" \
		    "$(get backup1)"
		;;
	yes.refreeze)
		check_eq "$k: a new HOT_BACKUP and FREEZE instead: all S_OK" \
		    "HOT_BACKUP:S_OK,FREEZE:S_OK,HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK" \
		    "$(get backup1)"
		;;
	yes.afterthaw)
		check_eq "$k: killed after the THAW: a stray THAW S_OK" \
		    "HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK,THAW:S_OK" \
		    "$(get backup1)"
		;;
	*)
		check_eq "$k: the host's THAW for that snapshot: E_FAIL" \
		    "HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:E_FAIL" "$(get backup1)"
		check_eq "$k: the next round good" \
		    "HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK" "$(get backup2)"
		;;
	esac
	check_eq "$k: nothing frozen at the end" no "$(get left_frozen_end)"
done
finish
