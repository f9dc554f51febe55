#!/bin/sh
# t_daemon_backup: hv_vss_daemon backs up real ext4, xfs and btrfs, and
# the snapshots are consistent.
#
# The host side (this script) copies the disk images while the guest is
# frozen, as Hyper-V does.  Data written without fsync before FREEZE must
# be in the copies, and the copies must be clean without journal replay:
# ext4 without needs_recovery, btrfs check, and for xfs a log holding
# nothing but FIFREEZE's superblock records (see snapshot_clean).  A second run
# proves each filesystem is really frozen: a write started in the frozen
# window blocks until THAW, then lands.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd mkfs.ext4 mkfs.xfs mkfs.btrfs xfs_repair btrfs dumpe2fs python3
workdir
FSES="ext4 xfs btrfs"
mkimage ext4 64M "$WORK/ext4.img" || bail "mkfs.ext4"
mkimage xfs 300M "$WORK/xfs.img" || bail "mkfs.xfs"
mkimage btrfs 128M "$WORK/btrfs.img" || bail "mkfs.btrfs"
MOUNTS="-m $WORK/ext4.img:/mnt/ext4 -m $WORK/xfs.img:/mnt/xfs -m $WORK/btrfs.img:/mnt/btrfs"
DAEMON="$B/hv_vss_daemon -n -d -c /dev/null -o mounts=/mnt/ext4,/mnt/xfs,/mnt/btrfs"

cat >"$WORK/inner.sh" <<EOF2
#!/bin/sh
# inside the sandbox: write, then one host backup
for fs in $FSES; do
	# no fsync: the daemon's freeze must bring this to the disk
	head -c 3000000 /dev/urandom >/mnt/\$fs/data
	date >/mnt/\$fs/small
	echo "sum \$fs \$(cat /mnt/\$fs/data /mnt/\$fs/small | sha256sum | cut -c1-64)"
done
$B/hv_vss_sim -x "sh $TOP/tests/system/window.sh" /dev/vmbus/hv_vss \
    -- $DAEMON >/tmp/report.json 2>/tmp/daemon.log
echo "sim \$?"
python3 -c 'import json,sys; r=json.load(open("/tmp/report.json")); print("results", ",".join(q["op"]+":"+q["result"] for q in r["backups"][0]["requests"]))'
sed 's/^/log /' /tmp/daemon.log
EOF2

copy_images() {
	for fs in $FSES; do
		cp --sparse=always "$WORK/$fs.img" "$WORK/copy-$fs.img"
	done
}

run_with_window copy_images -t 120 -r "$TOP" -r "$B" -r "$WORK" $MOUNTS \
    -- sh "$WORK/inner.sh"
rc=$?
[ $rc -eq 0 ] || show_logs
out=$WORK/sandbox.out
check_eq "sandbox exit" 0 "$rc"
check_eq "host backup: sim verdict ok" "sim 0" "$(grep '^sim ' "$out")"
check_eq "HOT_BACKUP, FREEZE, THAW all S_OK" \
    "results HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK" "$(grep '^results ' "$out")"
froze=$(grep 'froze 3 filesystems' "$out")
check "the daemon froze the 3 allow-listed filesystems" test -n "$froze"

for fs in $FSES; do
	check "$fs copy: consistent without journal replay (see snapshot_clean)" \
	    snapshot_clean "$fs" "$WORK/copy-$fs.img"
done

# the copies hold every byte written before FREEZE
cat >"$WORK/verify.sh" <<'EOF2'
for fs in ext4 xfs btrfs; do
	echo "sum $fs $(cat /mnt/$fs/data /mnt/$fs/small | sha256sum | cut -c1-64)"
done
EOF2
"$SANDBOX" -t 60 -r "$WORK" -m "$WORK/copy-ext4.img:/mnt/ext4:ext4:ro" \
    -m "$WORK/copy-xfs.img:/mnt/xfs:xfs:ro,norecovery" \
    -m "$WORK/copy-btrfs.img:/mnt/btrfs:btrfs:ro" \
    -- sh "$WORK/verify.sh" >"$WORK/verify.out" 2>&1
sed 's/^/# verify: /' "$WORK/verify.out"
for fs in $FSES; do
	want=$(grep "^sum $fs " "$out")
	got=$(grep "^sum $fs " "$WORK/verify.out")
	check "$fs copy holds the data written before FREEZE" \
	    test -n "$want" -a "$want" = "$got"
done

# a write started while frozen blocks until THAW, then lands
cat >"$WORK/blocked.sh" <<EOF2
for fs in $FSES; do
	$B/hv_vss_sim -x "sh $TOP/tests/system/blocked_write.sh /mnt/\$fs" \
	    /dev/vmbus/hv_vss -- $DAEMON >/dev/null 2>/tmp/log
	echo "sim \$fs \$?"
	sed "s/^/\$fs: /" /tmp/log | grep -v plan:
	[ "\$(cat /mnt/\$fs/write-1)" = "backup 1" ] && echo "landed \$fs"
done
EOF2
"$SANDBOX" -t 120 -r "$TOP" -r "$B" -r "$WORK" $MOUNTS \
    -- sh "$WORK/blocked.sh" >"$WORK/blocked.out" 2>&1
sed 's/^/# /' "$WORK/blocked.out"
for fs in $FSES; do
	check_eq "$fs: a write in the frozen window blocked (D state)" \
	    "sim $fs 0" "$(grep "^sim $fs " "$WORK/blocked.out")"
	check_eq "$fs: the blocked write landed after THAW" "landed $fs" \
	    "$(grep "^landed $fs" "$WORK/blocked.out")"
done
finish
