#!/bin/sh
# t_hooks_tier: hooks_tier puts the freeze hooks between two tiers of
# applications, and the thaw mirrors it.  Three applications (tiers 2, 5
# and 9, apps_swarm.py) and a hook that notes when it runs; one backup
# per setting.  The order is read from the times each saw its request
# (CLOCK_MONOTONIC, shared by every process); the hook sleeps 100 ms
# before and after noting, so that any wrong order is off by that much.
#
#   default (10)    FREEZE 2 5 9 hook     THAW hook 9 5 2
#   hooks_tier = 5  FREEZE 2 hook 5 9     THAW 9 5 hook 2
#   hooks_tier = 9  FREEZE 2 5 hook 9     THAW 9 hook 5 2  (the group agent)
#   hooks_tier = 0  FREEZE hook 2 5 9     THAW 9 5 2 hook
. "$(dirname "$0")/lib.sh"
need_root
need_cmd mkfs.ext4 python3
workdir
mkimage ext4 32M "$WORK/a.img" || bail "mkfs.ext4"

cat >"$WORK/inner.sh" <<EOF2
#!/bin/sh
mkdir -p /tmp/hooks.d
cat >/tmp/hooks.d/10-mark <<'EOF3'
#!/bin/sh
sleep 0.1
python3 -c 'import sys, time; print("hook", sys.argv[1], time.monotonic())' "\$1" >>/tmp/hook.log
sleep 0.1
EOF3
chmod 0755 /tmp/hooks.d /tmp/hooks.d/10-mark
for t in default 5 9 0; do
	opt=
	[ \$t = default ] || opt="-o hooks_tier=\$t"
	: >/tmp/hook.log
	$B/hv_vss_sim -b "python3 $TOP/tests/system/apps_swarm.py \\
	    --socket /run/hv_vss/app.sock --log /tmp/swarm.log --background \\
	    --apps 1:a:2:ok --apps 1:b:5:ok --apps 1:c:9:ok" \\
	    /dev/vmbus/hv_vss -- $B/hv_vss_daemon -n -c /dev/null \\
	    -o mounts=/mnt/a -o hooks_dir=/tmp/hooks.d \$opt \\
	    >/tmp/report.json 2>/tmp/daemon.log
	echo "\$t.rc=\$?"
	for i in \$(seq 1 50); do
		grep -q '^# done' /tmp/swarm.log 2>/dev/null && break
		sleep 0.1
	done
	python3 - \$t <<'EOF3'
import sys
t0 = 0.0
ev = []
for l in open("/tmp/swarm.log"):
    w = l.split()
    if l.startswith("# t0"):
        t0 = float(w[2])
    elif not l.startswith("#") and w[4] in ("FREEZE", "THAW"):
        ev.append((t0 + int(w[1]) / 1e6, w[4], w[3]))
for l in open("/tmp/hook.log"):
    w = l.split()
    ev.append((float(w[2]), w[1].upper(), "hook"))
ev.sort()
print("%s.freeze=%s" % (sys.argv[1], " ".join(e[2] for e in ev if e[1] == "FREEZE")))
print("%s.thaw=%s" % (sys.argv[1], " ".join(e[2] for e in ev if e[1] == "THAW")))
EOF3
	grep -o '"results".*' /tmp/report.json >/dev/null
	python3 -c 'import json; r = json.load(open("/tmp/report.json")); print("'\$t'.verdict=" + r["verdict"])'
done
EOF2
"$SANDBOX" -t 120 -r "$TOP" -r "$B" -r "$WORK" -m "$WORK/a.img:/mnt/a" \
    -- sh "$WORK/inner.sh" >"$WORK/out" 2>&1
rc=$?
sed 's/^/# /' "$WORK/out"
get() { sed -n "s/^$1=//p" "$WORK/out"; }
check_eq "sandbox exit" 0 "$rc"
check_eq "default: every backup ok" ok "$(get default.verdict)"
check_eq "default: FREEZE tiers 2 5 9, then the hooks" "2 5 9 hook" \
    "$(get default.freeze)"
check_eq "default: THAW the hooks, then tiers 9 5 2" "hook 9 5 2" \
    "$(get default.thaw)"
for t in 5 9 0; do
	check_eq "hooks_tier = $t: backup ok" ok "$(get $t.verdict)"
done
check_eq "hooks_tier = 5: FREEZE 2, the hooks, 5 9" "2 hook 5 9" \
    "$(get 5.freeze)"
check_eq "hooks_tier = 5: THAW 9 5, the hooks, 2" "9 5 hook 2" \
    "$(get 5.thaw)"
check_eq "hooks_tier = 9: FREEZE 2 5, the hooks, 9" "2 5 hook 9" \
    "$(get 9.freeze)"
check_eq "hooks_tier = 9: THAW 9, the hooks, 5 2" "9 hook 5 2" \
    "$(get 9.thaw)"
check_eq "hooks_tier = 0: FREEZE the hooks, then 2 5 9" "hook 2 5 9" \
    "$(get 0.freeze)"
check_eq "hooks_tier = 0: THAW 9 5 2, then the hooks" "9 5 2 hook" \
    "$(get 0.thaw)"
finish
