#!/bin/sh
# t_fbsd_backend: the daemon with FreeBSD's host backend
# (daemon/host_freebsd.c, linked into tests/hv_vss_daemon_fbsdhost)
# backs up real ext4 and xfs through hv_vss_sim -F, FreeBSD's two
# devices, and the snapshots are consistent.
#
# The daemon holds both devices: the host's HOT_BACKUP and FREEZE come to
# it on hv_appvss_dev first, then, with the same msgid, on hv_fsvss_dev;
# THAW the other way round (the emulator's "notified" and "acked"
# events).  The host side copies the images while the guest is frozen;
# a second run proves each filesystem is really frozen: a write started
# in the frozen window blocks until THAW, then lands.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd mkfs.ext4 mkfs.xfs xfs_repair dumpe2fs python3
workdir
FSES="ext4 xfs"
mkimage ext4 64M "$WORK/ext4.img" || bail "mkfs.ext4"
mkimage xfs 300M "$WORK/xfs.img" || bail "mkfs.xfs"
MOUNTS="-m $WORK/ext4.img:/mnt/ext4 -m $WORK/xfs.img:/mnt/xfs"
DAEMON="$B/tests/hv_vss_daemon_fbsdhost -n -d -c /dev/null -o mounts=/mnt/ext4,/mnt/xfs"
# the daemon opens hv_appvss_dev just after hv_fsvss_dev, which starts the
# host: a request sent at once would have no application turn (harmless,
# but this test looks at the turns), hence the pause
SIM="$B/hv_vss_sim -F /dev/hv_appvss_dev -s sleep=0.3,hot,freeze,exec,thaw"

cat >"$WORK/inner.sh" <<EOF2
#!/bin/sh
# inside the sandbox: write, then one host backup
for fs in $FSES; do
	# no fsync: the daemon's freeze must bring this to the disk
	head -c 3000000 /dev/urandom >/mnt/\$fs/data
	date >/mnt/\$fs/small
	echo "sum \$fs \$(cat /mnt/\$fs/data /mnt/\$fs/small | sha256sum | cut -c1-64)"
done
$SIM -x "sh $TOP/tests/system/window.sh" /dev/hv_fsvss_dev \
    -- $DAEMON >/tmp/report.json 2>/tmp/daemon.log
echo "sim \$?"
python3 - <<'EOF3'
import json
r = json.load(open("/tmp/report.json"))
print("results", ",".join(q["op"] + ":" + q["result"]
                          for q in r["backups"][0]["requests"]))
turns = [e["text"].split()[:3] + [e["text"].split()[4].rstrip("):")]
         for e in r["events"] if e["kind"] in ("notified", "acked")]
for t in turns:
    print("turn", " ".join(t))
print("events", ",".join(sorted(set(e["kind"] for e in r["events"]))))
EOF3
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
check "the daemon froze the 2 allow-listed filesystems" \
    grep -q 'froze 2 filesystems' "$out"
grep '^turn ' "$out" | sed 's/^/# /'
# each request: its device turns in the kernel's order, one msgid each
turns=$(awk '$1 == "turn" { print $2, $3, $4 }' "$out" | tr '\n' ';')
check_eq "turns: CHECK and FREEZE app then fs, THAW fs then app" \
    "hv_appvss_dev took CHECK;hv_appvss_dev acked CHECK;hv_fsvss_dev took CHECK;hv_fsvss_dev acked CHECK;hv_appvss_dev took FREEZE;hv_appvss_dev acked FREEZE;hv_fsvss_dev took FREEZE;hv_fsvss_dev acked FREEZE;hv_fsvss_dev took THAW;hv_fsvss_dev acked THAW;hv_appvss_dev took THAW;hv_appvss_dev acked THAW;" \
    "$turns"
ids=$(awk '$1 == "turn" { print $5 }' "$out" | uniq | wc -l)
check_eq "both devices' turns of a request carry its one msgid (3 requests)" \
    3 "$ids"
check "no late or unmatched acknowledgement, no timeout" \
    sh -c "! grep '^events ' '$out' | grep -E 'late_ack|kernel_timeout|opt_mismatch|busy_ignored'"
check "no budget warning with the backend's defaults" \
    sh -c "! grep -q 'does not fit' '$out'"

for fs in $FSES; do
	check "$fs copy: consistent without journal replay (see snapshot_clean)" \
	    snapshot_clean "$fs" "$WORK/copy-$fs.img"
done

# the copies hold every byte written before FREEZE
cat >"$WORK/verify.sh" <<'EOF2'
for fs in ext4 xfs; do
	echo "sum $fs $(cat /mnt/$fs/data /mnt/$fs/small | sha256sum | cut -c1-64)"
done
EOF2
"$SANDBOX" -t 60 -r "$WORK" -m "$WORK/copy-ext4.img:/mnt/ext4:ext4:ro" \
    -m "$WORK/copy-xfs.img:/mnt/xfs:xfs:ro,norecovery" \
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
	$SIM -x "sh $TOP/tests/system/blocked_write.sh /mnt/\$fs" \
	    /dev/hv_fsvss_dev -- $DAEMON >/dev/null 2>/tmp/log
	echo "sim \$fs \$?"
	sed "s/^/\$fs: /" /tmp/log | grep -v plan:
	[ "\$(cat /mnt/\$fs/write-1)" = "backup 1" ] && echo "landed \$fs"
done
EOF2
"$SANDBOX" -t 120 -r "$TOP" -r "$B" -r "$WORK" $MOUNTS \
    -- sh "$WORK/blocked.sh" >"$WORK/blocked.out" 2>&1
sed 's/^/# /' "$WORK/blocked.out" | tail -n 20
for fs in $FSES; do
	check_eq "$fs: a write in the frozen window blocked (D state)" \
	    "sim $fs 0" "$(grep "^sim $fs " "$WORK/blocked.out")"
	check_eq "$fs: the blocked write landed after THAW" "landed $fs" \
	    "$(grep "^landed $fs" "$WORK/blocked.out")"
done
finish
