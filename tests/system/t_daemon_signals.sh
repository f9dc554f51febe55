#!/bin/sh
# t_daemon_signals: a stray signal neither kills nor stops hv_vss_daemon,
# idle or mid-stage, and what it starts does not inherit what it ignores.
#
# Under hv_vss_sim, two backups of /mnt/a.  The signals whose default
# would end or stop a process and that the daemon does not handle
# (hv_vss_daemon(8), SIGNALS) are sent to the daemon: idle (-b, before
# the first backup), during the application stage (by a freeze hook, to
# its parent), and in the frozen window (-x), where they go to the thaw
# guard too.  A second daemon gets them while its freezer threads are in
# FIFREEZE (made slow by failfreeze.so), the first of each kind then
# landing on whichever thread.  Every request must still be answered
# S_OK, the daemon and
# its guard must still run (and not be stopped), each signal is logged
# once, and the hook, which the daemon spawned after ignoring them all,
# must see default dispositions and an empty signal mask.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd mkfs.ext4 python3
workdir
mkimage ext4 64M "$WORK/a.img" || bail "mkfs.ext4"

STRAYS="USR1 USR2 PIPE ALRM VTALRM PROF IO PWR STKFLT XCPU XFSZ TSTP TTIN TTOU RTMIN RTMIN+6 RTMAX"

cat >"$WORK/strays.py" <<'EOF2'
# strays.py pid name...: send each signal, by name (RTMIN+n, RTMAX too)
import os, signal, sys
pid = int(sys.argv[1])
for name in sys.argv[2:]:
    if name.startswith("RTMIN"):
        n = signal.SIGRTMIN + int(name[6:] or 0)
    elif name == "RTMAX":
        n = signal.SIGRTMAX
    else:
        n = getattr(signal, "SIG" + name)
    os.kill(pid, n)
EOF2

cat >"$WORK/alive.sh" <<'EOF2'
# alive.sh tag pid: is pid there and not stopped?  (a "tag.alive=" line)
sleep 0.3
st=$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$2/status" 2>/dev/null)
echo "$1.alive=${st:-gone}" >>/tmp/results
[ "$st" = S ] || [ "$st" = R ]
EOF2

cat >"$WORK/window.sh" <<EOF2
# the frozen window: the daemon and its guard get every stray signal
d=\$(cat /tmp/daemon.pid)
g=\$($B/hv_vss_ctl status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["guard"]["pid"])')
python3 $WORK/strays.py \$d $STRAYS
python3 $WORK/strays.py \$g $STRAYS
sh $WORK/alive.sh guard\$HVVSS_SIM_BACKUP \$g &&
    echo "guard\$HVVSS_SIM_BACKUP.sigcgt=\$(sed -n 's/^SigCgt:[[:space:]]*//p' /proc/\$g/status)" >>/tmp/results &&
    sh $WORK/alive.sh frozen\$HVVSS_SIM_BACKUP \$d
EOF2

cat >"$WORK/inner.sh" <<EOF2
#!/bin/sh
# inside the sandbox
mkdir -m 0755 /root/hooks
cat >/root/hooks/10-strays <<'EOF3'
#!/bin/sh
# what this hook inherited from the daemon, then (on freeze) a stray
# signal of every kind to the daemon, its parent, in the middle of a stage
echo "\$1 SigIgn=\$(sed -n 's/^SigIgn:[[:space:]]*//p' /proc/\$\$/status)"
echo "\$1 SigBlk=\$(sed -n 's/^SigBlk:[[:space:]]*//p' /proc/\$\$/status)"
[ "\$1" = freeze ] || exit 0
python3 $WORK/strays.py \$PPID $STRAYS
sleep 0.3
EOF3
chmod 0755 /root/hooks/10-strays
: >/tmp/results
$B/hv_vss_sim -n 2 -b "python3 $WORK/strays.py \\\$(cat /tmp/daemon.pid) $STRAYS && sh $WORK/alive.sh idle \\\$(cat /tmp/daemon.pid)" \\
    -x "sh $WORK/window.sh" /dev/vmbus/hv_vss -- sh -c 'echo \$\$ >/tmp/daemon.pid;
    exec $B/hv_vss_daemon -n -d -c /dev/null -o mounts=/mnt/a -o hooks_dir=/root/hooks' \\
    >/tmp/report.json 2>/tmp/daemon.log
echo "sim=\$?"
python3 -c 'import json; r=json.load(open("/tmp/report.json")); print("results=" + ";".join(",".join(q["op"]+":"+q.get("result","none") for q in b["requests"]) for b in r["backups"])); print("guest.exit=%s" % r["guest"]["exit"])'
sed 's/^/log /' /tmp/daemon.log

# while the freezer works: each FIFREEZE takes 1 s, and the frozen-window
# command runs while the FREEZE is in flight
$B/hv_vss_sim -s hot,freeze+,exec,thaw \
    -x "sleep 0.3; python3 $WORK/strays.py \\\$(cat /tmp/daemon.pid) $STRAYS && sh $WORK/alive.sh busy \\\$(cat /tmp/daemon.pid)" \
    /dev/vmbus/hv_vss -- sh -c 'echo \$\$ >/tmp/daemon.pid;
    exec env LD_PRELOAD=$B/tests/failfreeze.so HVVSS_FREEZE_DELAY_MS=1000 $B/hv_vss_daemon -n -d -c /dev/null -o mounts=/mnt/a' \
    >/tmp/busy.json 2>/tmp/busy.log
echo "busy.sim=\$?"
python3 -c 'import json; r=json.load(open("/tmp/busy.json")); print("busy.results=" + ";".join(",".join(q["op"]+":"+q.get("result","none") for q in b["requests"]) for b in r["backups"])); print("busy.guest.exit=%s" % r["guest"]["exit"])'
sed 's/^/busy.log /' /tmp/busy.log
cat /tmp/results
EOF2

"$SANDBOX" -t 120 -r "$TOP" -r "$B" -r "$WORK" -m "$WORK/a.img:/mnt/a" \
    -- sh "$WORK/inner.sh" >"$WORK/out" 2>&1
rc=$?
out=$WORK/out
get() { sed -n "s/^$1=//p" "$out"; }
sed 's/^/# /' "$out" | grep -v 'log .*plan:'
check_eq "sandbox exit" 0 "$rc"
check_eq "sim verdict ok" 0 "$(get sim)"
check_eq "both backups answered S_OK throughout" \
    "HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK;HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK" \
    "$(get results)"
check_eq "the daemon lived to be stopped by the sim (exit 0)" 0 "$(get guest.exit)"
check_eq "idle: still running, not stopped" S "$(get idle.alive | tr R S)"
for n in 1 2; do
	check_eq "backup $n, frozen window: the daemon still running" S \
	    "$(get frozen$n.alive | tr R S)"
	check_eq "backup $n, frozen window: the guard still running" S \
	    "$(get guard$n.alive | tr R S)"
	check_eq "backup $n: the guard catches nothing (no handler inherited)" \
	    0000000000000000 "$(get guard$n.sigcgt)"
done
# (the daemon names SIGIO so; glibc's kill -l calls it SIGPOLL)
for s in USR1 USR2 ALRM VTALRM PROF IO PWR STKFLT XCPU TSTP TTIN TTOU \
    RTMIN+0 RTMIN+6 RTMIN+30; do
	check_eq "SIG$s: logged as ignored exactly once" 1 \
	    "$(grep -c "^log .* SIG$s (signal [0-9]*) ignored, and from now on without a word" "$out")"
done
check_eq "SIGPIPE and SIGXFSZ (raised by our own writes): ignored quietly" "" \
    "$(grep -E 'SIG(PIPE|XFSZ) .*ignored' "$out")"
check_eq "signals while the freezer works: sim verdict ok" 0 "$(get busy.sim)"
check_eq "signals while the freezer works: all S_OK" \
    "HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK" "$(get busy.results)"
check_eq "signals while the freezer works: the daemon running" S \
    "$(get busy.alive | tr R S)"
check_eq "signals while the freezer works: it lived to the end" 0 \
    "$(get busy.guest.exit)"
check "signals while the freezer works: the FREEZE was in flight then" \
    grep -q 'busy.log .*froze 1 filesystem in 1[0-9][0-9][0-9]\.' "$out"
check_eq "signals while the freezer works: each logged once" 15 \
    "$(grep -c 'busy.log .* ignored, and from now on without a word' "$out")"
check_eq "the hook ran on freeze and thaw, twice each" 4 \
    "$(grep -c 'log .*hook 10-strays ([a-z]*): [a-z]* SigIgn=' "$out")"
# glibc's posix_spawn sets its own two internal signals (32 and 33,
# below SIGRTMIN) to SIG_IGN in the child, and exec keeps that; glibc
# installs its handlers for them when a program needs them.  Any other
# bit is ours.
check_eq "the hook inherited no ignored signal (but glibc's own 32 and 33)" "" \
    "$(grep 'log .*hook 10-strays .*SigIgn=' "$out" |
    grep -v -e 'SigIgn=0000000000000000$' -e 'SigIgn=0000000180000000$')"
check_eq "the hook inherited no blocked signal" "" \
    "$(grep 'log .*hook 10-strays .*SigBlk=' "$out" | grep -v 'SigBlk=0000000000000000$')"
finish
