#!/bin/sh
# t_soak_apps: backups in a row while applications register, veto, answer
# late and leave at random (tests/system/soak_apps.py, seeded): no backup
# may fail but by an app's own veto, no app may be dropped, and the
# daemon's open fds (less its app connections) and VmRSS may not grow
# from the warm-up to the last backup.
#
#	SOAK_BACKUPS=N SOAK_SEED=S sh tests/system/t_soak_apps.sh
#
# make check runs 150 backups (about 20 s); bench/run --soak runs 1000
# or more with this same script.  SOAK_RSS_KB is the RSS growth allowed
# (default 256 KiB: the daemon's per-app state is bounded, and what
# malloc keeps for 8 apps is far less).
. "$(dirname "$0")/lib.sh"
need_root
need_cmd mkfs.ext4 python3
workdir
mkimage ext4 64M "$WORK/a.img" || bail "mkfs.ext4"
n=${SOAK_BACKUPS:-150}
seed=${SOAK_SEED:-1}
rss_bound=${SOAK_RSS_KB:-256}

"$SANDBOX" -t $((60 + n / 2)) -r "$TOP" -r "$B" -m "$WORK/a.img:/mnt/a" \
    -- python3 "$TOP/tests/system/soak_apps.py" --backups "$n" \
    --seed "$seed" --sim "$B/hv_vss_sim" --daemon "$B/hv_vss_daemon" \
    >"$WORK/out" 2>&1
rc=$?
out=$WORK/out
get() { sed -n "s/^soak\.$1=//p" "$out"; }
sed 's/^/# /' "$out" | grep -v '^# $'
check_eq "sandbox exit" 0 "$rc"
check_eq "$n backups ran, each with its frozen window" "$n $n" \
    "$(get backups) $(get windows)"
# with hot_backup_veto=ok (the default) a vetoed CHECK is logged but
# answered S_OK, and the FREEZE after it fails on it: two failure lines,
# one failed request; so every failed request has a logged cause, and
# every logged cause is a veto
check "every failed request has a logged failure, each an app's own veto" \
    test "$(get failures)" -le "$(get vetoes)" -a \
    "$(get vetoes)" -eq "$(get failed_lines)"
check_eq "no failure that is not a veto" 0 "$(get nonveto_failures)"
check "some backups were vetoed, some answers late, apps came and went" \
    test "$(get vetoes)" -gt 0 -a "$(get late_answers)" -gt 0 \
    -a "$(get left)" -gt 0 -a "$(get joined)" -gt 8
check_eq "no app dropped by the daemon" 0 "$(get drops)"
check_eq "no app connection closed by the daemon before the end" 0 \
    "$(get lost)"
check_eq "open fds (less app connections) after warm-up and at the end" \
    "$(get fds_before)" "$(get fds_after)"
before=$(get rss_kb_before)
after=$(get rss_kb_after)
check "VmRSS ${before:-?} kB -> ${after:-?} kB: grew at most $rss_bound kB" \
    test -n "$before" -a -n "$after" -a "$((${after:-0} - ${before:-0}))" \
    -le "$rss_bound"
finish
