#!/bin/sh
# t_json_utf8: hv_vss_ctl --json shows a mount point named in UTF-8 as it
# is (/mnt/données, not /mnt/donn\u00c3\u00a9es), and one whose name is
# not UTF-8 (Latin-1 /mnt/caf\351) with U+FFFD for the bad byte, as
# hv_vss_ctl(8) says; python3's json parses both, from plan and from
# status while frozen.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd mkfs.ext4 python3 fsfreeze
workdir
[ -x "$B/hv_vss_ctl" ] || bail "no $B/hv_vss_ctl (make)"
mkimage ext4 32M "$WORK/u.img" || bail "mkfs.ext4"
mkimage ext4 32M "$WORK/l.img" || bail "mkfs.ext4"
utf=/mnt/donn$(printf '\303\251')es
lat=/mnt/caf$(printf '\351')

cat >"$WORK/inner.sh" <<EOF2
#!/bin/sh
CTL=$B/hv_vss_ctl
# prints name=<python expression over the JSON in file>, or the error
json() {	# name file expression
	python3 -c '
import json, sys
try:
    d = json.load(open(sys.argv[2], encoding="utf-8"))
    print("%s=%s" % (sys.argv[1], ascii(eval(sys.argv[3]))))
except Exception as e:
    print("%s=error %r" % (sys.argv[1], e))
' "\$@"
}
$B/hv_vss_sim -s sleep=60 /dev/vmbus/hv_vss -- $B/hv_vss_daemon -n -d \\
    -c /dev/null -o 'mounts=$utf,$lat' >/tmp/sim.json 2>/tmp/daemon.log &
sim=\$!
for i in \$(seq 1 100); do
	[ -S /run/hv_vss/ctl.sock ] && break
	sleep 0.1
done
\$CTL plan --json >/tmp/plan.json 2>/tmp/plan.err
echo "plan.rc=\$?"
json plan.fs /tmp/plan.json 'sorted(f["mountpoint"] for f in d["filesystems"])'
\$CTL freeze --timeout 30 >/tmp/freeze.out 2>&1
echo "freeze.rc=\$?"
\$CTL status --json >/tmp/status.json 2>/tmp/status.err
echo "status.rc=\$?"
json status.frozen /tmp/status.json 'sorted(d["frozen_filesystems"].split(" "))'
\$CTL thaw >/tmp/thaw.out 2>&1
echo "thaw.rc=\$?"
# whatever happened above, nothing stays frozen
fsfreeze -u '$utf' 2>/dev/null
fsfreeze -u '$lat' 2>/dev/null
kill \$sim
wait \$sim
sed 's/^/log /' /tmp/daemon.log /tmp/plan.err /tmp/status.err
EOF2
"$SANDBOX" -t 120 -r "$TOP" -r "$B" -r "$WORK" -m "$WORK/u.img:$utf" \
    -m "$WORK/l.img:$lat" -- sh "$WORK/inner.sh" >"$WORK/out" 2>&1
rc=$?
out=$WORK/out
get() { sed -n "s/^$1=//p" "$out" | head -n 1; }
sed 's/^/# /' "$out" | grep -v 'plan: skip /[a-z]* '
check_eq "sandbox exit" 0 "$rc"
check_eq "plan --json: exit 0" 0 "$(get plan.rc)"
check_eq "plan --json: UTF-8 kept, the Latin-1 byte as U+FFFD" \
    "['/mnt/caf\\ufffd', '/mnt/donn\\xe9es']" "$(get plan.fs)"
check_eq "freeze: exit 0" 0 "$(get freeze.rc)"
check_eq "status --json while frozen: both names" \
    "['/mnt/caf\\ufffd', '/mnt/donn\\xe9es']" "$(get status.frozen)"
check_eq "thaw: exit 0" 0 "$(get thaw.rc)"
finish
