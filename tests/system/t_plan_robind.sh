#!/bin/sh
# t_plan_robind: a filesystem the daemon sees only through a read-only
# bind mount, while it is read-write elsewhere, is frozen.
#
# It is what the systemd unit's ProtectSystem=full and
# ProtectHome=read-only leave the daemon for a separate /usr, /boot or
# /home: read-only mounts in its own namespace, while the rest of the
# system writes to the same superblocks.  In the sandbox, /mnt/a is the
# test's ext4, read-write; in a mount namespace of its own (unshare -m)
# the daemon sees it only at /mnt/ro, bound read-only, with /mnt/a
# unmounted there.  A backup of mounts=/mnt/ro must freeze it: a write
# through the read-write /mnt/a, from the sandbox's namespace (nsenter),
# blocks while frozen and lands after THAW.  Before the plan judged
# read-only by the superblock (daemon/os/mtab_linux.c), it skipped /mnt/ro
# as "read-only" and froze nothing.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd mkfs.ext4 python3 unshare nsenter
workdir
mkimage ext4 64M "$WORK/a.img" || bail "mkfs.ext4"

# run by hv_vss_sim between FREEZE and THAW, in the daemon's namespace:
# a write through the read-write mount, in the sandbox's namespace
cat >"$WORK/frozen.sh" <<'EOF2'
#!/bin/sh
rm -f /tmp/w.done
nsenter --mount=/proc/$OUTER/ns/mnt -- \
    sh -c 'echo x >/mnt/a/probe && touch /tmp/w.done' &
sleep 1
# (its output goes to the sim's log)
[ -e /tmp/w.done ] && echo "frozen.blocked=no" || echo "frozen.blocked=yes"
EOF2

cat >"$WORK/ns.sh" <<EOF2
#!/bin/sh
# the daemon's namespace: /mnt/a only through a read-only bind
mkdir -p /mnt/ro
mount --bind /mnt/a /mnt/ro && mount -o remount,bind,ro /mnt/ro || exit 1
umount /mnt/a || exit 1
echo "ns.mountinfo=\$(grep ' /mnt/ro ' /proc/self/mountinfo)"
echo "ns.write=\$(touch /mnt/ro/x 2>&1 >/dev/null | grep -c 'Read-only')"
$B/hv_vss_sim -s hot,freeze,exec,thaw -x "sh $WORK/frozen.sh" \\
    /dev/vmbus/hv_vss -- \\
    $B/hv_vss_daemon -n -d -c /dev/null -o mounts=/mnt/ro \\
    >/tmp/b.json 2>/tmp/b.log
echo "b.rc=\$?"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("b.results=" + ",".join(q["op"]+":"+q["result"] for q in r["backups"][0]["requests"]))' /tmp/b.json
sed "s/^/b.log /" /tmp/b.log
EOF2

cat >"$WORK/inner.sh" <<EOF2
#!/bin/sh
OUTER=\$\$ unshare -m --propagation private sh $WORK/ns.sh
for i in \$(seq 1 30); do [ -e /tmp/w.done ] && break; sleep 0.1; done
[ -e /tmp/w.done ] && echo "after.landed=yes" || echo "after.landed=no"
echo "after.probe=\$(cat /mnt/a/probe 2>/dev/null)"
EOF2
"$SANDBOX" -t 120 -r "$TOP" -r "$B" -r "$WORK" -m "$WORK/a.img:/mnt/a" \
    -- sh "$WORK/inner.sh" >"$WORK/out" 2>&1
rc=$?
out=$WORK/out
get() { sed -n "s/^$1=//p" "$out" | head -n 1; }
froze() { sed -n "s/^b.log .*froze [0-9]* filesystems* in .*: //p" "$out"; }
sed 's/^/# /' "$out"
check_eq "sandbox exit" 0 "$rc"
case $(get ns.mountinfo) in
*" /mnt/ro ro,"*" - ext4 "*" rw"*) pass "the daemon's view: /mnt/ro a read-only mount of a read-write ext4" ;;
*) fail "the daemon's view of /mnt/ro: $(get ns.mountinfo)" ;;
esac
check_eq "a write through /mnt/ro fails: read-only" 1 "$(get ns.write)"
check_eq "every request answered S_OK" "HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK" \
    "$(get b.results)"
check_eq "the read-only mount's filesystem frozen" "/mnt/ro" "$(froze)"
check "the plan does not skip it as read-only" \
    sh -c '! grep -q "^b.log .*plan: skip /mnt/ro (ext4): read-only" "$0"' "$out"
check_eq "frozen: a write through the read-write /mnt/a blocks" yes \
    "$(get "b.log frozen.blocked")"
check_eq "after THAW: the write landed" yes "$(get after.landed)"
check_eq "after THAW: its data is there" x "$(get after.probe)"
finish
