#!/bin/sh
# t_holes_mount: what is frozen is what was planned, even when the planned
# mount goes away between the plan and the freeze (issue 10, point 1).
#
# Inside the sandbox: images at /mnt/outer, /mnt/b and /mnt/c; c's
# filesystem is mounted again at /mnt/outer/c, and the daemon may freeze
# /mnt/outer/c only.  A loop unmounts and mounts /mnt/outer/c again and
# again (plainly, then with umount -l) while hv_vss_sim backs up, with
# 1,000 other mounts (tmpfs) in the table.  The mount at /mnt/c stays,
# keeping c's loop device and giving a path to c whatever happens at
# /mnt/outer/c.  Before the fix, a FREEZE whose path
# fell through to /mnt/outer froze /mnt/outer (outside the allow-list)
# and answered S_OK.  In every frozen window (hv_vss_sim -x) this checks
# that no descriptor of the daemon or its guard is on /mnt/outer's device
# and that a write to /mnt/outer lands at once; after each FREEZE that
# was answered S_OK, that c's device is held, frozen (a write to /mnt/c
# blocks) and the one in the record.  A third pass runs the daemon with
# statmount(2) hidden (tests/failfreeze.so), as on Linux 6.1, where the
# check falls back to statx() and mountinfo.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd mkfs.ext4 python3 pidof
workdir
N=${HOLES_BACKUPS:-25}
mkimage ext4 64M "$WORK/outer.img" || bail "mkfs.ext4"
mkimage ext4 32M "$WORK/b.img" || bail "mkfs.ext4"
mkimage ext4 32M "$WORK/c.img" || bail "mkfs.ext4"

# the mount loop: mount(2) and umount2(2) straight from Python, mounted
# 5-25 ms, unmounted 2-8 ms: a plan that saw /mnt/outer/c mounted often
# finds it gone (or mounted anew) by the time its path is opened, since
# the padding mounts below make each plan take several ms, as a real
# mount table does
cat >"$WORK/churn.py" <<'EOF2'
import ctypes, os, random, sys, time
libc = ctypes.CDLL(None, use_errno=True)
src, tgt, flags = sys.argv[1].encode(), sys.argv[2].encode(), int(sys.argv[3])
random.seed(int(sys.argv[4]))
n = 0
while not os.path.exists("/tmp/stop"):
    if libc.mount(src, tgt, b"ext4", 0, None) == 0:
        n += 1
    time.sleep(0.005 + random.random() * 0.02)
    libc.umount2(tgt, flags)
    time.sleep(0.002 + random.random() * 0.006)
# leave /mnt/outer/c mounted once, as it was
while libc.umount2(tgt, 0) == 0:
    pass
libc.mount(src, tgt, b"ext4", 0, None)
print("churn mounts %d" % n)
EOF2

# the frozen window: what the daemon holds, what is frozen
cat >"$WORK/window.sh" <<'EOF2'
n=${HVVSS_SIM_BACKUP:-0}
w=/tmp/win-$n
# the daemon and its guard: ours, in this mount namespace (the sandbox
# has no pid namespace, and other tests may run daemons of their own)
ns=$(readlink /proc/self/ns/mnt)
for p in $(pidof hv_vss_daemon); do
	[ "$(readlink /proc/$p/ns/mnt)" = "$ns" ] || continue
	for f in /proc/$p/fd/*; do
		stat -L -c '%Hd:%Ld' "$f" 2>/dev/null
	done
done | sort -u >"$w.devs"
cut -d' ' -f1 /run/hv_vss/frozen 2>/dev/null | grep -v hvvss >"$w.record"
( echo "$n" >/mnt/outer/probe; : >"$w.outer-landed" ) &
( echo "$n" >/mnt/c/probe; : >"$w.c-landed" ) &
sleep 0.15
[ -e "$w.outer-landed" ] && echo outer >>"$w.landed"
[ -e "$w.c-landed" ] && echo c >>"$w.landed"
exit 0
EOF2

cat >"$WORK/pad.py" <<'EOF2'
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
for i in range(1000):
    d = "/tmp/pad/%d" % i
    os.makedirs(d)
    libc.mount(b"pad", d.encode(), b"tmpfs", 0, b"size=64k")
EOF2

cat >"$WORK/inner.sh" <<EOF2
#!/bin/sh
# inside the sandbox: one pass per way of unmounting
mkdir -p /mnt/outer/c
python3 $WORK/pad.py
echo "pad mounts \$(grep -c ' /tmp/pad/' /proc/self/mountinfo)"
src=\$(awk '\$5 == "/mnt/c" { print \$(NF - 1) }' /proc/self/mountinfo)
echo "dev outer \$(mountpoint -d /mnt/outer)"
echo "dev c \$(mountpoint -d /mnt/c)"
# max_frozen: a window stalled on a loaded machine must not be thawed by
# the lease, which would look like a FREEZE that froze nothing
DAEMON="$B/hv_vss_daemon -n -d -c /dev/null -o mounts=/mnt/outer/c -o max_frozen=30"
pass() {	# name umount-flags [env ...]
	name=\$1 flags=\$2
	shift 2
	rm -f /tmp/stop /tmp/win-*
	mount "\$src" /mnt/outer/c || echo "cannot mount \$src"
	python3 $WORK/churn.py "\$src" /mnt/outer/c "\$flags" \$\$ \\
	    >/tmp/\$name.churn 2>&1 &
	churn=\$!
	env "\$@" $B/hv_vss_sim -n $N -w 10 -x "sh $WORK/window.sh" \\
	    /dev/vmbus/hv_vss -- \$DAEMON >/tmp/\$name.json 2>/tmp/\$name.log
	echo "\$name.sim \$?"
	: >/tmp/stop
	wait \$churn
	sed "s/^/\$name./" /tmp/\$name.churn
	python3 - /tmp/\$name.json \$name <<'EOF3'
import json, sys
r = json.load(open(sys.argv[1]))
for b in r["backups"]:
    res = dict((q["op"], q.get("result", "none")) for q in b["requests"])
    print("%s.freeze %d %s" % (sys.argv[2], b["n"], res.get("FREEZE", "none")))
EOF3
	for f in /tmp/win-*.devs; do
		k=\${f#/tmp/win-}
		k=\${k%.devs}
		echo "\$name.win \$k devs=[\$(echo \$(cat \$f))]" \\
		    "record=[\$(echo \$(cat /tmp/win-\$k.record))]" \\
		    "landed=[\$(echo \$(cat /tmp/win-\$k.landed 2>/dev/null))]"
	done
	grep -E 'FREEZE failed|froze [0-9]|no longer the planned|detached while' \\
	    /tmp/\$name.log | sed "s/^/\$name.log /"
	sed "s/^/\$name.full /" /tmp/\$name.log
	sed "s/^/\$name.full sim /" /tmp/\$name.json | grep -v '^ *[]{}]'
	[ -e /tmp/statmount-hidden ] && echo "\$name.statmount hidden"
	rm -f /tmp/statmount-hidden
	umount /mnt/outer/c 2>/dev/null
	rmdir /mnt/outer/c 2>/dev/null
	mkdir -p /mnt/outer/c
}
pass umount 0
pass lazy 2
pass fallback 2 LD_PRELOAD=$B/tests/failfreeze.so HVVSS_NO_STATMOUNT=1 \\
    ASAN_OPTIONS=verify_asan_link_order=0
EOF2

"$SANDBOX" -t 170 -r "$TOP" -r "$B" -r "$WORK" \
    -m "$WORK/outer.img:/mnt/outer" -m "$WORK/b.img:/mnt/b" \
    -m "$WORK/c.img:/mnt/c" -- sh "$WORK/inner.sh" >"$WORK/out" 2>&1
rc=$?
out=$WORK/out
grep -v '\.win \|\.full ' "$out" | sed 's/^/# /'
check_eq "sandbox exit" 0 "$rc"
outer=$(sed -n 's/^dev outer //p' "$out")
c=$(sed -n 's/^dev c //p' "$out")
check "devices known (outer $outer, c $c)" test -n "$outer" -a -n "$c" -a \
    "$outer" != "$c"

for p in umount lazy fallback; do
	# every window: nothing of the daemon on /mnt/outer, which is writable
	bad=$(grep "^$p\.win " "$out" | grep -e "[[ ]$outer[] ]")
	check_eq "$p: no daemon fd or record entry on /mnt/outer's device" \
	    "" "$bad"
	bad=$(grep "^$p\.win " "$out" | grep -v 'landed=\[outer')
	check_eq "$p: a write to /mnt/outer never blocked" "" "$bad"
	# every FREEZE answered S_OK froze c's device, exactly
	nok=0
	bad=
	for k in $(sed -n "s/^$p\.freeze \([0-9]*\) S_OK$/\1/p" "$out"); do
		nok=$((nok + 1))
		line=$(grep "^$p\.win $k " "$out")
		case $line in
		*"devs=["*"$c"[]\ ]*"record=[$c] landed=[outer]") ;;
		*) bad="$bad [$line]"
		   # the daemon's log and the host's report of that backup
		   grep "^$p\.full .*txn $((2 * k - 1))[: ]\|^$p\.full .*txn $((2 * k))[: ]\|^$p\.full .*\(lease\|guard\)" "$out" |
		       sed 's/^/# /' ;;
		esac
	done
	check_eq "$p: each S_OK FREEZE held and froze $c, the record named it" \
	    "" "$bad"
	nef=$(grep -c "^$p\.freeze [0-9]* E_FAIL" "$out")
	nmis=$(grep -c "^$p\.log .*\(no longer the planned\|detached while\)" \
	    "$out")
	echo "# $p: $nok FREEZE S_OK, $nef E_FAIL, $nmis refused as not the plan"
	check "$p: some backups succeeded ($nok of $N)" test "$nok" -ge 3
done
check "the fallback pass ran without statmount (the shim refused it)" \
    grep -q '^fallback.statmount hidden' "$out"
finish
