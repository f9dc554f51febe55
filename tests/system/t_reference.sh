#!/bin/sh
# t_reference: validate hv_vss_sim against the daemon that runs on real
# Azure guests today, Linux's own hv_vss_daemon from Debian's
# hyperv-daemons (unpacked by tools/fetch-ref, never installed).
#
# It runs only inside the sandbox: it freezes every /dev/* filesystem it
# can see.  The sandbox has no /sys, so it cannot tell that our test
# filesystem is loop-backed and freezes it; and every backup proves the
# freeze happened: a write started in the frozen window is still blocked
# when the window's command checks on it, and lands after THAW.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd mkfs.ext4 python3
workdir
REF=$B/ref/usr/sbin/hv_vss_daemon
[ -x "$REF" ] || bail "no reference daemon at $REF (run tools/fetch-ref)"

mkimage ext4 64M "$WORK/a.img" || bail "mkfs"

cat >"$WORK/inner.sh" <<'EOF2'
#!/bin/sh
# inside the sandbox
set -u
B=$1 REF=$2 TOP=$3
sim=$B/hv_vss_sim
dev=/dev/vmbus/hv_vss

# 20 backups, each with a proven freeze
"$sim" -n 20 -x "sh $TOP/tests/system/blocked_write.sh /mnt/a" $dev -- \
    "$REF" -n >/tmp/r20.json
echo "sim20=$?"
sleep 0.5
python3 - /tmp/r20.json <<'EOF3'
import json, sys
r = json.load(open(sys.argv[1]))
ok = [b for b in r["backups"] if b["verdict"] == "ok"]
print("backups=%d ok=%d" % (len(r["backups"]), len(ok)))
res = set(q["result"] for b in r["backups"] for q in b["requests"])
print("results=%s" % ",".join(sorted(res)))
lat = r["summary"]["latency_us"]
print("freeze_median_us=%d thaw_median_us=%d" % (lat["FREEZE"]["median"],
      lat["THAW"]["median"]))
EOF3
n=0
for i in $(seq 1 20); do
	[ "$(cat /mnt/a/write-$i 2>/dev/null)" = "backup $i" ] && n=$((n + 1))
done
echo "landed=$n"

# faults: what the real kernel would produce with the real daemon
fault() {	# name sim-args...
	name=$1
	shift
	"$sim" "$@" $dev -- "$REF" -n >/tmp/$name.json
	echo "$name.rc=$?"
	python3 - /tmp/$name.json "$name" <<'EOF3'
import json, sys
r = json.load(open(sys.argv[1]))
b = r["backups"][0]
print("%s.results=%s" % (sys.argv[2], ",".join("%s:%s" % (q["op"],
      q.get("result", "none")) for q in b["requests"])))
print("%s.events=%s" % (sys.argv[2], ",".join(sorted(set(
      e["kind"] for e in r["events"])))))
EOF3
	# nothing may stay frozen: a write must land at once
	if timeout 3 sh -c "echo x >/mnt/a/after-$name"; then
		echo "$name.thawed=yes"
	else
		echo "$name.thawed=no"
		fsfreeze -u /mnt/a
	fi
}
fault timeout -f timeout=freeze -s hot,freeze,sleep=2,thaw
fault hibernate -f hibernate
fault dup -f dup-freeze
fault thawfirst -f thaw-no-freeze
fault unknown -f unknown-op
fault overlap -f overlap
EOF2

out=$("$SANDBOX" -t 300 -r "$TOP" -r "$B" -r "$WORK" \
    -m "$WORK/a.img:/mnt/a" -- sh "$WORK/inner.sh" "$B" "$REF" "$TOP" 2>"$WORK/err")
rc=$?
echo "$out" | sed 's/^/# /'
[ $rc -eq 0 ] || sed 's/^/# stderr: /' "$WORK/err" | tail -20
get() { echo "$out" | sed -n "s/^$1=//p"; }

check_eq "sandbox ran" 0 "$rc"
check_eq "20 backups: sim verdict ok" 0 "$(get sim20)"
check_eq "20 backups, all ok" "backups=20 ok=20" "$(echo "$out" | grep '^backups=')"
check_eq "every request S_OK" "S_OK" "$(get results)"
check_eq "each backup's write blocked while frozen and landed after" 20 "$(get landed)"
check_eq "kernel timeout on FREEZE: host gets E_FAIL, THAW S_OK" \
    "HOT_BACKUP:S_OK,FREEZE:E_FAIL,THAW:S_OK" "$(get timeout.results)"
case "$(get timeout.events)" in
*late_reply*registered*) pass "late FREEZE reply rejected; the daemon re-registered" ;;
*) fail "late reply: events $(get timeout.events)" ;;
esac
check_eq "after a kernel timeout the reference daemon thawed" yes "$(get timeout.thawed)"
check_eq "hibernation: fake THAW, then the host's THAW" \
    "HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK" "$(get hibernate.results)"
case "$(get hibernate.events)" in
*hibernate*late_reply*reregistered*) pass "hibernation: reply to the fake THAW rejected, daemon reopened" ;;
*) fail "hibernation: events $(get hibernate.events)" ;;
esac
check_eq "hibernation left nothing frozen" yes "$(get hibernate.thawed)"
check_eq "duplicate FREEZE: EBUSY counted as success (reference behaviour)" \
    "HOT_BACKUP:S_OK,FREEZE:S_OK,FREEZE:S_OK,THAW:S_OK" "$(get dup.results)"
check_eq "THAW without FREEZE: EINVAL counted as success" \
    "THAW:S_OK,HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK" "$(get thawfirst.results)"
check_eq "unknown op answered S_OK by the kernel, never reaching the daemon" \
    "UNKNOWN:S_OK,HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK" "$(get unknown.results)"
check_eq "FREEZE sent while HOT_BACKUP in flight: both answered, in order" \
    "HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK" "$(get overlap.results)"
for f in dup thawfirst unknown overlap; do
	check_eq "$f left nothing frozen" yes "$(get $f.thawed)"
done
check "image clean after all of it" fsck_image ext4 "$WORK/a.img"
finish
