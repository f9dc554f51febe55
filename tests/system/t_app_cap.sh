#!/bin/sh
# t_app_cap: app_max_clients filled by two uids, each within
# app_max_per_uid: root's application is refused with "ERR too many
# connections", and the daemon's log says so and whom (it once said
# nothing: an application kept out of every backup left no trace).
# app_cap_inner.sh runs inside the sandbox.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd mkfs.ext4 python3 setpriv
workdir
mkimage ext4 32M "$WORK/a.img" || bail "mkfs.ext4"

"$SANDBOX" -t 60 -r "$TOP" -r "$B" -e B="$B" -e TOP="$TOP" \
    -m "$WORK/a.img:/mnt/a" -- sh "$TOP/tests/system/app_cap_inner.sh" \
    >"$WORK/out" 2>&1
rc=$?
out=$WORK/out
get() { sed -n "s/^$1=//p" "$out" | head -n 1; }
sed 's/^/# /' "$out"
check_eq "sandbox exit" 0 "$rc"
check_eq "two uids register two apps each" "OK 1|OK 2|OK 3|OK 4" \
    "$(get app1.uid65534)|$(get app2.uid65534)|$(get app3.uid65533)|$(get app4.uid65533)"
check_eq "root's app, fifth: refused" "ERR too many connections" \
    "$(get app5.uid0)"
check "the daemon's log says so, and whom" grep -q \
    "^log .*app socket: 4 connections (app_max_clients); refusing uid 0 (pid [0-9]*)" \
    "$out"
finish
