#!/bin/sh
# t_daemon_unfreezable: a read-write disk filesystem that cannot freeze
# (NTFS through ntfs-3g, a FUSE filesystem on a block device: "fuseblk")
# is left out with unfreezable=skip, and refuses the backup with
# unfreezable=veto, naming the mount.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd mkfs.ext4 mkntfs ntfs-3g python3
workdir
mkimage ext4 64M "$WORK/a.img" || bail "mkfs.ext4"
truncate -s 64M "$WORK/win.img" && mkntfs -q -F -Q "$WORK/win.img" \
    >/dev/null 2>&1 || bail "mkntfs"

cat >"$WORK/inner.sh" <<EOF2
#!/bin/sh
# a loop device of our own for the NTFS image (the sandbox has no
# devtmpfs: make the node), mounted by ntfs-3g as fuseblk; the image is
# copied to /tmp first, as $WORK is a read-only overlay in here
cp $WORK/win.img /tmp/win.img
n=
for try in 1 2 3; do
	n=\$(losetup -f) && mknod "\$n" b 7 "\${n#/dev/loop}" 2>/dev/null;
	losetup "\$n" /tmp/win.img && break
	n=
done
[ -n "\$n" ] || { echo "no loop device"; exit 1; }
mkdir -p /mnt/win
ntfs-3g "\$n" /mnt/win || exit 1
grep ' /mnt/win ' /proc/mounts | sed 's/^/mount /'
for policy in skip veto; do
	$B/hv_vss_sim -x "sh $TOP/tests/system/blocked_write.sh /mnt/a" \\
	    /dev/vmbus/hv_vss -- $B/hv_vss_daemon -n -d -c /dev/null \\
	    -o mounts=/mnt/a,/mnt/win -o unfreezable=\$policy \\
	    >/tmp/\$policy.json 2>/tmp/\$policy.log
	echo "\$policy.rc=\$?"
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(sys.argv[2] + ".results=" + ",".join(q["op"]+":"+q["result"] for q in r["backups"][0]["requests"]))' /tmp/\$policy.json \$policy
	sed "s/^/\$policy.log /" /tmp/\$policy.log
done
umount /mnt/win
losetup -d "\$n"
EOF2
"$SANDBOX" -t 120 -r "$TOP" -r "$B" -r "$WORK" -m "$WORK/a.img:/mnt/a" \
    -- sh "$WORK/inner.sh" >"$WORK/out" 2>&1
rc=$?
out=$WORK/out
get() { sed -n "s/^$1=//p" "$out"; }
sed 's/^/# /' "$out" | grep -v 'plan: skip /[a-z]* (\(overlay\|tmpfs\|proc\))'
check_eq "sandbox exit" 0 "$rc"
check "NTFS is mounted as fuseblk on its loop device" \
    grep -q '^mount /dev/loop[0-9]* /mnt/win fuseblk rw' "$out"
check_eq "unfreezable=skip: the backup goes on without it" \
    "HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK" "$(get skip.results)"
check "unfreezable=skip: the plan says why it is left out" \
    grep -q 'skip.log .*plan: skip /mnt/win (fuseblk): cannot freeze (fuseblk): skipped by unfreezable=skip' "$out"
check "unfreezable=skip: /mnt/a was really frozen (a write blocked)" \
    test "$(get skip.rc)" = 0
# hot_backup_veto = ok (the default): HOT_BACKUP S_OK as Linux's daemon
# says, and the FREEZE fails on the veto
check_eq "unfreezable=veto: HOT_BACKUP S_OK (hot_backup_veto=ok), FREEZE refused" \
    "HOT_BACKUP:S_OK,FREEZE:E_FAIL,THAW:S_OK" "$(get veto.results)"
check "unfreezable=veto: the culprit named in the log" \
    grep -q 'veto.log .*HOT_BACKUP check failed: /mnt/win (fuseblk) cannot be frozen (unfreezable=veto)' "$out"
check "unfreezable=veto: nothing was frozen" \
    sh -c "! grep -q 'veto.log .*froze [0-9]' '$out'"
finish
