#!/bin/sh
# t_other_freezers: a filesystem frozen by someone else fails the FREEZE
# (issue 10, point 3).  They could thaw it inside our window and the
# host's snapshot of it would be torn while the daemon said S_OK; so the
# daemon refuses, names the mount, undoes what it froze, and leaves their
# freeze alone.
#
# /mnt/a holds /mnt/a/b: b is frozen first (level 0), then a.
#  admin:   fsfreeze -f /mnt/a, then a host backup: FREEZE E_FAIL naming
#           /mnt/a; /mnt/a/b, frozen by us first, is thawed again before
#           the reply; /mnt/a stays frozen until the admin thaws it.
#  second:  two daemons on two emulated devices, same filesystems: while
#           the first holds them frozen, the second's FREEZE is E_FAIL;
#           the first's freeze is untouched and its THAW S_OK.
#  local:   the same for hv_vss_ctl freeze (a local snapshot), which goes
#           through the same freezer.
#  subvol:  a btrfs subvolume allow-listed alone (its st_dev is not the
#           superblock's) freezes: the freezer's check against the plan
#           uses mountinfo's device, not st_dev.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd mkfs.ext4 mkfs.btrfs btrfs fsfreeze python3
workdir
mkimage ext4 64M "$WORK/a.img" || bail "mkfs.ext4"
mkimage ext4 32M "$WORK/b.img" || bail "mkfs.ext4"
mkimage btrfs 128M "$WORK/c.img" || bail "mkfs.btrfs"
"$SANDBOX" -t 60 -m "$WORK/c.img:/mnt/c" -- \
    btrfs -q subvolume create /mnt/c/sv1 >"$WORK/prep.log" 2>&1 ||
    { cat "$WORK/prep.log"; bail "preparing"; }

cat >"$WORK/writes.sh" <<'EOF2'
# writes.sh TAG DIR...: start a write to each DIR; after 0.3 s say which
# landed ("TAG.landed DIR") and which are blocked ("TAG.blocked DIR")
tag=$1
shift
for d in "$@"; do
	m=/tmp/landed-$tag-$(echo "$d" | tr / _)
	( echo "$tag" >"$d/w-$tag"; : >"$m" ) &
done
sleep 0.3
for d in "$@"; do
	m=/tmp/landed-$tag-$(echo "$d" | tr / _)
	if [ -e "$m" ]; then echo "$tag.landed $d"; else echo "$tag.blocked $d"; fi
done
EOF2

cat >"$WORK/second.sh" <<EOF2
# the first daemon's frozen window: a second daemon on its own device
$B/hv_vss_sim -s hot,freeze,thaw /dev/vmbus/hv_vss2 -- $B/hv_vss_daemon \\
    -n -d -c /dev/null -D /dev/vmbus/hv_vss2 -o mounts=/mnt/a,/mnt/a/b \\
    -o run_dir=/run/hv2 -o app_socket=/run/hv2/app.sock \\
    -o ctl_socket=/run/hv2/ctl.sock >/tmp/second.json 2>/tmp/second.log
echo "second.sim \$?" >/tmp/second.rc
sh $WORK/writes.sh inwindow /mnt/a /mnt/a/b >/tmp/inwindow.out
exit 0
EOF2

cat >"$WORK/inner.sh" <<EOF2
#!/bin/sh
DAEMON="$B/hv_vss_daemon -n -d -c /dev/null -o mounts=/mnt/a,/mnt/a/b"
results() {	# name json
	python3 -c 'import json,sys; r=json.load(open(sys.argv[2])); print(sys.argv[1] + ".results", ",".join(q["op"]+":"+q.get("result","none") for b in r["backups"] for q in b["requests"]))' "\$1" "\$2"
}
trap 'fsfreeze -u /mnt/a 2>/dev/null; fsfreeze -u /mnt/a/b 2>/dev/null' EXIT

# admin: someone froze /mnt/a before the host's FREEZE
fsfreeze -f /mnt/a
$B/hv_vss_sim -s hot,freeze,thaw /dev/vmbus/hv_vss -- \$DAEMON \\
    >/tmp/admin.json 2>/tmp/admin.log
echo "admin.sim \$?"
results admin /tmp/admin.json
sed 's/^/admin.log /' /tmp/admin.log | grep -v plan:
sh $WORK/writes.sh admin /mnt/a /mnt/a/b
fsfreeze -u /mnt/a
sleep 0.2
[ -e /mnt/a/w-admin ] && echo "admin.after_thaw landed"

# second: two daemons, two devices, the same filesystems
$B/hv_vss_sim -x "sh $WORK/second.sh" /dev/vmbus/hv_vss -- \$DAEMON \\
    >/tmp/first.json 2>/tmp/first.log
echo "first.sim \$?"
results first /tmp/first.json
results second /tmp/second.json
cat /tmp/second.rc /tmp/inwindow.out
sed 's/^/first.log /' /tmp/first.log | grep -v plan:
sed 's/^/second.log /' /tmp/second.log | grep -v plan:
sh $WORK/writes.sh second /mnt/a /mnt/a/b

# local: hv_vss_ctl freeze while the admin holds /mnt/a
$B/hv_vss_sim -s sleep=30 /dev/vmbus/hv_vss -- \$DAEMON \
    >/tmp/local.json 2>/tmp/local.log &
sim=\$!
i=0
while [ ! -S /run/hv_vss/ctl.sock ] && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i + 1)); done
fsfreeze -f /mnt/a
$B/hv_vss_ctl freeze --timeout 10 >/tmp/local.out 2>/tmp/local.err
echo "local.rc \$?"
sed 's/^/local.err /' /tmp/local.err
sh $WORK/writes.sh local /mnt/a /mnt/a/b
fsfreeze -u /mnt/a
kill \$sim
wait \$sim
sed 's/^/local.log /' /tmp/local.log | grep -v plan:

# subvol: a btrfs subvolume alone
mkdir -p /mnt/sv1
mount -o subvol=sv1 "\$(awk '\$2 == "/mnt/c" {print \$1}' /proc/mounts)" /mnt/sv1
echo "subvol.st_dev \$(stat -c %d /mnt/sv1) \$(stat -c %d /mnt/c)"
$B/hv_vss_sim -x "sh $WORK/writes.sh subvol /mnt/sv1 >/tmp/subvol.out" \\
    /dev/vmbus/hv_vss -- $B/hv_vss_daemon -n -d -c /dev/null \\
    -o mounts=/mnt/sv1 >/tmp/subvol.json 2>/tmp/subvol.log
echo "subvol.sim \$?"
results subvol /tmp/subvol.json
cat /tmp/subvol.out
sed 's/^/subvol.log /' /tmp/subvol.log | grep -v plan:
umount /mnt/sv1
EOF2

"$SANDBOX" -t 120 -r "$TOP" -r "$B" -r "$WORK" -m "$WORK/a.img:/mnt/a" \
    -m "$WORK/b.img:/mnt/a/b" -m "$WORK/c.img:/mnt/c" \
    -- sh "$WORK/inner.sh" >"$WORK/out" 2>&1
rc=$?
out=$WORK/out
get() { sed -n "s/^$1 //p" "$out"; }
sed 's/^/# /' "$out"
check_eq "sandbox exit" 0 "$rc"

check_eq "admin: FREEZE E_FAIL, THAW S_OK" \
    "HOT_BACKUP:S_OK,FREEZE:E_FAIL,THAW:S_OK" "$(get admin.results)"
check "admin: the reply names /mnt/a and the other freezer" grep -q \
    'admin.log .*FREEZE failed: FIFREEZE /mnt/a: frozen already by another freezer' \
    "$out"
check "admin: /mnt/a/b, frozen first, was thawed again before the reply" \
    grep -q 'admin.log .*thawed again: /mnt/a/b' "$out"
check_eq "admin: nothing of ours left frozen (/mnt/a/b writable)" \
    "/mnt/a/b" "$(get admin.landed)"
check_eq "admin: their freeze untouched (/mnt/a still frozen)" \
    "/mnt/a" "$(get admin.blocked)"
check_eq "admin: their thaw works, the blocked write lands" \
    "landed" "$(get admin.after_thaw)"

check_eq "two daemons: the first's backup S_OK throughout" \
    "HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK" "$(get first.results)"
check_eq "two daemons: the second's FREEZE E_FAIL" \
    "HOT_BACKUP:S_OK,FREEZE:E_FAIL,THAW:S_OK" "$(get second.results)"
check "two daemons: the second names the mount held by the first" grep -q \
    'second.log .*FREEZE failed: FIFREEZE /mnt/a/b: frozen already by another freezer' \
    "$out"
check_eq "two daemons: the first's freeze intact after the second gave up" \
    "/mnt/a /mnt/a/b" "$(get inwindow.blocked | tr '\n' ' ' | sed 's/ $//')"
check_eq "two daemons: all thawed after the first's THAW" \
    "/mnt/a /mnt/a/b" "$(get second.landed | tr '\n' ' ' | sed 's/ $//')"

check_eq "local: hv_vss_ctl freeze fails" 1 "$(get local.rc)"
check "local: and names /mnt/a and the other freezer" grep -q \
    '^local.err .*FIFREEZE /mnt/a: frozen already by another freezer' "$out"
check_eq "local: nothing of ours left frozen" "/mnt/a/b" "$(get local.landed)"
check_eq "local: their freeze untouched" "/mnt/a" "$(get local.blocked)"

st=$(get subvol.st_dev)
check "subvol: st_dev differs from the filesystem's ($st)" \
    test "${st% *}" != "${st#* }"
check_eq "subvol: backup S_OK" "HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK" \
    "$(get subvol.results)"
check_eq "subvol: frozen in the window" "/mnt/sv1" "$(get subvol.blocked)"
finish
