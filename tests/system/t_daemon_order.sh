#!/bin/sh
# t_daemon_order: hv_vss_daemon freezes in dependency order, and each
# superblock once.
#
# /mnt/outer (ext4) holds inner.img, loop-mounted at /mnt/inner (xfs):
# the inner must freeze first and thaw last, or its FIFREEZE would hang
# writing its journal into a frozen file.  /mnt/bind is a bind mount of a
# directory of /mnt/outer; /mnt/sv1 and /mnt/sv2 are two subvolumes of
# the btrfs at /mnt/b.  The host copies outer.img while frozen, and both
# filesystems in it must be consistent.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd mkfs.ext4 mkfs.xfs mkfs.btrfs btrfs python3
workdir
mkimage ext4 512M "$WORK/outer.img" || bail "mkfs.ext4"
mkimage btrfs 128M "$WORK/b.img" || bail "mkfs.btrfs"
"$SANDBOX" -t 60 -m "$WORK/outer.img:/mnt/outer" -m "$WORK/b.img:/mnt/b" \
    -- sh -c 'truncate -s 300M /mnt/outer/inner.img &&
	mkfs.xfs -q /mnt/outer/inner.img && mkdir /mnt/outer/sub &&
	btrfs -q subvolume create /mnt/b/sv1 >/dev/null &&
	btrfs -q subvolume create /mnt/b/sv2 >/dev/null' \
    >"$WORK/prep.log" 2>&1 || { cat "$WORK/prep.log"; bail "preparing"; }

ALL=/mnt/outer,/mnt/inner,/mnt/bind,/mnt/b,/mnt/sv1,/mnt/sv2
cat >"$WORK/inner.sh" <<EOF2
#!/bin/sh
set -e
loop=\$(awk '\$2 == "/mnt/b" {print \$1}' /proc/mounts)
mkdir -p /mnt/sv1 /mnt/sv2 /mnt/bind
mount -o subvol=sv1 "\$loop" /mnt/sv1
mount -o subvol=sv2 "\$loop" /mnt/sv2
mount --bind /mnt/outer/sub /mnt/bind
seq 1 100000 >/mnt/inner/data
seq 1 50000 >/mnt/bind/data
echo "sum \$(cat /mnt/inner/data /mnt/outer/sub/data | sha256sum | cut -c1-64)"
set +e
$B/hv_vss_sim -x "sh $TOP/tests/system/window.sh" /dev/vmbus/hv_vss -- \\
    $B/hv_vss_daemon -n -d -c /dev/null -o mounts=$ALL \\
    >/tmp/report.json 2>/tmp/daemon.log
echo "sim \$?"
sed 's/^/log /' /tmp/daemon.log
umount /mnt/bind /mnt/sv2 /mnt/sv1
EOF2

copy_outer() {
	cp --sparse=always "$WORK/outer.img" "$WORK/copy.img"
}
run_with_window copy_outer -t 120 -r "$TOP" -r "$B" -r "$WORK" \
    -m "$WORK/outer.img:/mnt/outer" -m "/mnt/outer/inner.img:/mnt/inner" \
    -m "$WORK/b.img:/mnt/b" -- sh "$WORK/inner.sh"
rc=$?
out=$WORK/sandbox.out
[ $rc -eq 0 ] || show_logs
check_eq "sandbox exit (no hang)" 0 "$rc"
check_eq "backup succeeded" "sim 0" "$(grep '^sim ' "$out")"
froze=$(sed -n 's/.*froze [0-9]* filesystems* in .*: //p' "$out")
thawed=$(sed -n 's/.*thawed in [0-9.]* ms: //p' "$out")
echo "# froze: $froze"
echo "# thawed: $thawed"
check_eq "three superblocks, each frozen once" 3 "$(echo "$froze" | wc -w)"
pos() { echo "$1" | tr ' ' '\n' | grep -n -x "$2" | cut -d: -f1; }
check "the loop-mounted /mnt/inner froze before /mnt/outer holding its image" \
    test "$(pos "$froze" /mnt/inner)" -lt "$(pos "$froze" /mnt/outer)"
check_eq "thaw is the exact reverse of the freeze" \
    "$(echo "$froze" | tr ' ' '\n' | tac | tr '\n' ' ' | sed 's/ $//')" "$thawed"
check "the bind mount /mnt/bind was not frozen again" \
    sh -c "! echo '$froze' | grep -q /mnt/bind"
check "one btrfs freeze for /mnt/b, /mnt/sv1, /mnt/sv2" \
    test "$(echo "$froze" | tr ' ' '\n' | grep -c -E '^/mnt/(b|sv1|sv2)$')" -eq 1
grep 'plan: skip' "$out" | sed 's/^log /# /'
check "the plan names the superblock the bind mount shares" \
    grep -q 'plan: skip /mnt/bind.*/mnt/outer' "$out"

check "outer copy consistent without replay" snapshot_clean ext4 "$WORK/copy.img"
"$SANDBOX" -t 60 -m "$WORK/copy.img:/mnt/outer:ext4:ro" \
    -m "/mnt/outer/inner.img:/mnt/inner:xfs:ro,norecovery" -- sh -c '
	echo "sum $(cat /mnt/inner/data /mnt/outer/sub/data | sha256sum | cut -c1-64)"
	cp --sparse=always /mnt/outer/inner.img /tmp/i.img
	xfs_logprint -t /tmp/i.img | grep -c "start blkno:0x[1-9a-f]"
	xfs_logprint -t /tmp/i.img | grep -c INODE' \
    >"$WORK/verify.out" 2>&1
sed 's/^/# verify: /' "$WORK/verify.out"
check_eq "the copy holds what was written to both before FREEZE" \
    "$(grep '^sum' "$out")" "$(grep '^sum' "$WORK/verify.out")"
check_eq "inner xfs in the copy: its log holds only superblock records" \
    "0 0" "$(grep -v '^sum' "$WORK/verify.out" | tr '\n' ' ' | sed 's/ $//')"
finish
