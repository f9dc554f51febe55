#!/bin/sh
# t_never_frozen: the fault suite of "never frozen forever" (issue 5).
# Each case breaks something while /mnt/a is frozen and asserts that it
# does not stay frozen (a write lands within 2 s, or when the named
# recovery happens) and that the host got the right HRESULT.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd mkfs.ext4 python3 pgrep
workdir
mkimage ext4 64M "$WORK/a.img" || bail "mkfs.ext4"

cat >"$WORK/inner.sh" <<EOF2
#!/bin/sh
# inside the sandbox
SIM=$B/hv_vss_sim
DEV=/dev/vmbus/hv_vss
DAEMON="$B/hv_vss_daemon -n -d -c /dev/null -o mounts=/mnt/a"
SWARM="python3 $TOP/tests/system/apps_swarm.py --socket /run/hv_vss/app.sock"

results() {	# name report
	python3 - "\$2" "\$1" <<'EOF3'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception as e:
    print("%s.results=no report (%s)" % (sys.argv[2], type(e).__name__))
    sys.exit(0)
print("%s.results=%s" % (sys.argv[2], ";".join(",".join("%s:%s" % (q["op"],
      q.get("result", "none")) for q in b["requests"]) for b in r["backups"])))
print("%s.guest_exit=%s" % (sys.argv[2], r["guest"]["exit"]))
EOF3
}
. $WORK/land.sh

# A. kill -9 of the daemon while frozen: the guard thaws at once
\$SIM -s hot,freeze,exec,thaw -x "kill -9 \\\$(pgrep --ns \$\$ --nslist mnt -x hv_vss_daemon); sh -c '. $WORK/land.sh; land kill9' >>/tmp/kill9.land" \$DEV -- \$DAEMON >/tmp/kill9.json 2>/tmp/kill9.log
results kill9 /tmp/kill9.json
cat /tmp/kill9.land
# live guards (an exited one may wait as a zombie for its new parent);
# it has up to 2 s to go
for try in \$(seq 1 20); do
	n=0
	for p in \$(pgrep --ns \$\$ --nslist mnt -x hv_vss_guard); do
		grep -q '^State:.*Z' /proc/\$p/status 2>/dev/null && continue
		n=\$((n + 1))
		[ \$try -eq 20 ] && sed -n 's/^\\(State\\|PPid\\):/kill9.guard &/p' /proc/\$p/status
	done
	[ \$n -eq 0 ] && break
	sleep 0.1
done
echo "kill9.guard_left=\$n"

# B. kill -9 of daemon and guard together (stopped first, so that the
# guard cannot see the daemon go): frozen until the next daemon starts and
# thaws what its record says it froze
\$SIM -s hot,freeze,exec,thaw -x "kill -STOP \\\$(pgrep --ns \$\$ --nslist mnt -x hv_vss_guard) \\\$(pgrep --ns \$\$ --nslist mnt -x hv_vss_daemon); kill -9 \\\$(pgrep --ns \$\$ --nslist mnt -x hv_vss_guard) \\\$(pgrep --ns \$\$ --nslist mnt -x hv_vss_daemon)" \$DEV -- \$DAEMON >/tmp/both.json 2>/tmp/both.log
results both /tmp/both.json
if frozen_now; then echo "both.frozen_after_kill=yes"; else echo "both.frozen_after_kill=no"; fi
echo "both.record=\$(cat /run/hv_vss/frozen 2>/dev/null | wc -l)"
( t0=\$(date +%s%N); echo x >/mnt/a/land-both; echo "both.writer_ms=\$(( (\$(date +%s%N) - t0) / 1000000 ))" >/tmp/both.writer ) &
\$SIM -w 10 -s get_dm_info \$DEV -- \$DAEMON >/tmp/both2.json 2>/tmp/both2.log
wait
cat /tmp/both.writer
sed 's/^/both.log /' /tmp/both2.log | grep -i 'recover'

# C. the kernel times FREEZE out while an app is slow: the late S_OK is
# rejected, the daemon thaws and comes back
\$SIM -T freeze=0.5 -s hot,freeze,sleep=2.5,thaw -b "\$SWARM --background --apps 1:slow:0:slow-freeze=1500" \$DEV -- \$DAEMON >/tmp/slowapp.json 2>/tmp/slowapp.log
results slowapp /tmp/slowapp.json
sed 's/^/slowapp.log /' /tmp/slowapp.log | grep -E 'rejected|registered with|froze|thawed'
land slowapp

# D. the device vanishes while frozen, and comes back
\$DAEMON >/tmp/vanish.log 2>&1 &
dpid=\$!
\$SIM -s hot,freeze,exec,thaw -x 'kill -9 \$PPID' \$DEV >/dev/null 2>&1
umount -l \$DEV 2>/dev/null
sleep 0.5
land vanish
\$SIM -w 10 \$DEV >/tmp/vanish2.json 2>/dev/null
results vanish /tmp/vanish2.json
kill \$dpid; wait \$dpid
echo "vanish.daemon_exit=\$?"
sed 's/^/vanish.log /' /tmp/vanish.log | grep -E 'lost|registered with|thawed'

# E. the log target takes nothing (a syslog socket nobody reads): the
# daemon, logging to syslog with -dd, does not hang
python3 -c '
import os, socket, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.bind("/dev/log")
open("/tmp/deaf.ready", "w").close()
time.sleep(120)' &
deaf=\$!
while [ ! -e /tmp/deaf.ready ]; do sleep 0.05; done
$B/hv_vss_daemon -dd -c /dev/null -o mounts=/mnt/a
timeout 60 \$SIM -w 10 -n 5 \$DEV >/tmp/deaf.json 2>/dev/null
echo "deaf.sim_rc=\$?"
results deaf /tmp/deaf.json
kill \$(pgrep --ns \$\$ --nslist mnt -x hv_vss_daemon) 2>/dev/null
kill \$deaf
sleep 0.5
echo "deaf.daemon_left=\$(pgrep --ns \$\$ --nslist mnt -x hv_vss_daemon | wc -l)"

# F. SIGHUP during a transaction: the reload waits until it is over
printf '[daemon]\\nmounts = /mnt/a\\n' >/tmp/hv.conf
\$SIM -s hot,freeze,exec,thaw,sleep=0.5 -x "printf '[daemon]\\nmounts = /mnt/a\\nmax_frozen = 30\\n' >/tmp/hv.conf; kill -HUP \\\$(pgrep --ns \$\$ --nslist mnt -x hv_vss_daemon); sleep 0.3" \$DEV -- $B/hv_vss_daemon -n -d -c /tmp/hv.conf >/tmp/hup.json 2>/tmp/hup.log
results hup /tmp/hup.json
grep -n -E 'thawed in|configuration reloaded' /tmp/hup.log | sed 's/^/hup.order /'
printf '[daemon]\\nmounts = /mnt/a\\n' >/tmp/hv.conf
\$SIM -s hot,freeze,exec,thaw,sleep=0.5 -x "printf 'bogus line\\n' >/tmp/hv.conf; kill -HUP \\\$(pgrep --ns \$\$ --nslist mnt -x hv_vss_daemon); sleep 0.3" \$DEV -- $B/hv_vss_daemon -n -d -c /tmp/hv.conf >/tmp/badhup.json 2>/tmp/badhup.log
results badhup /tmp/badhup.json
grep -E 'SIGHUP' /tmp/badhup.log | sed 's/^/badhup.log /'

# G. SIGTERM while frozen: thaw, release the apps, exit 0
\$SIM -s hot,freeze,exec,thaw -b "\$SWARM --background --log /tmp/term.swarm --apps 2:app:0-1:ok" -x "kill -TERM \\\$(pgrep --ns \$\$ --nslist mnt -x hv_vss_daemon); sh -c '. $WORK/land.sh; land term' >>/tmp/term.land" \$DEV -- \$DAEMON >/tmp/term.json 2>/tmp/term.log
results term /tmp/term.json
cat /tmp/term.land
sleep 0.3
echo "term.apps_thawed=\$(grep -c ' THAW ' /tmp/term.swarm)"
EOF2
cat >"$WORK/land.sh" <<'EOF2'
# A write to a frozen filesystem sleeps uninterruptibly: no timeout(1)
# can end it, so the write runs in the background and we watch for it.
# land name: how long a write to /mnt/a takes, up to 5 s (else thaw it)
land() {
	t0=$(date +%s%N)
	rm -f "/tmp/landed-$1"
	( echo "$1" >"/mnt/a/land-$1"; : >"/tmp/landed-$1" ) &
	i=0
	while [ ! -e "/tmp/landed-$1" ] && [ $i -lt 500 ]; do
		sleep 0.01
		i=$((i + 1))
	done
	if [ -e "/tmp/landed-$1" ]; then
		echo "$1.land_ms=$(( ($(date +%s%N) - t0) / 1000000 ))"
	else
		echo "$1.land_ms=never"
		fsfreeze -u /mnt/a 2>/dev/null
	fi
}
# frozen_now: true if a write does not land within 0.5 s (it lands later)
frozen_now() {
	rm -f /tmp/probe.done
	( echo probe >/mnt/a/probe; : >/tmp/probe.done ) &
	sleep 0.5
	[ ! -e /tmp/probe.done ]
}
EOF2
"$SANDBOX" -t 300 -r "$TOP" -r "$B" -r "$WORK" -m "$WORK/a.img:/mnt/a" \
    -- sh "$WORK/inner.sh" >"$WORK/out" 2>&1
rc=$?
out=$WORK/out
get() { sed -n "s/^$1=//p" "$out"; }
sed 's/^/# /' "$out" | head -n 200
check_eq "sandbox exit" 0 "$rc"
under() {	# name value limit-ms
	case $2 in
	''|*[!0-9]*) fail "$1 (got '$2')" ;;
	*) if [ "$2" -le "$3" ]; then pass "$1 ($2 ms)"; else fail "$1 ($2 ms)"; fi ;;
	esac
}
under "kill -9 of the daemon while frozen: a write lands within 2 s" "$(get kill9.land_ms)" 2000
check_eq "kill -9: the host's THAW finds no daemon: E_FAIL" \
    "HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:E_FAIL" "$(get kill9.results)"
check_eq "kill -9: the guard exits once it thawed" 0 "$(get kill9.guard_left)"
check_eq "daemon and guard killed: still frozen (nobody left to thaw)" yes "$(get both.frozen_after_kill)"
check_eq "daemon and guard killed: the record names the filesystem" 2 "$(get both.record)"
under "a restarted daemon thaws from its record: the blocked writer lands" "$(get both.writer_ms)" 15000
check "the restarted daemon says what it thawed" grep -q '^both.log .*recovery: thawed /mnt/a' "$out"
check_eq "kernel timeout on FREEZE, app slow: E_FAIL, then THAW S_OK" \
    "HOT_BACKUP:S_OK,FREEZE:E_FAIL,THAW:S_OK" "$(get slowapp.results)"
check "kernel timeout: the late S_OK rejected, the daemon re-registered" \
    grep -q '^slowapp.log .*reply rejected' "$out"
under "kernel timeout: nothing left frozen" "$(get slowapp.land_ms)" 2000
under "device gone while frozen: thawed" "$(get vanish.land_ms)" 2000
check_eq "device back: the same daemon serves the next backup" \
    "HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK" "$(get vanish.results)"
check_eq "device back: the daemon then stops cleanly on SIGTERM" 0 "$(get vanish.daemon_exit)"
check_eq "deaf syslog: 5 backups complete, no hang" 0 "$(get deaf.sim_rc)"
check_eq "deaf syslog: the daemon stops on SIGTERM" 0 "$(get deaf.daemon_left)"
check_eq "SIGHUP while frozen: the backup is unaffected" \
    "HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK" "$(get hup.results)"
hup_thaw=$(sed -n 's/^hup.order \([0-9]*\):.*thawed in.*/\1/p' "$out" | head -n 1)
hup_load=$(sed -n 's/^hup.order \([0-9]*\):.*configuration reloaded.*/\1/p' "$out" | head -n 1)
check "SIGHUP while frozen: reloaded after the thaw, not during" \
    test -n "$hup_thaw" -a -n "$hup_load" -a "${hup_load:-0}" -gt "${hup_thaw:-0}"
check_eq "bad config on SIGHUP: the backup is unaffected" \
    "HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK" "$(get badhup.results)"
check "bad config on SIGHUP: kept the running one, said why" \
    grep -q '^badhup.log .*SIGHUP: /tmp/hv.conf:1: .*keeping the running configuration' "$out"
under "SIGTERM while frozen: thawed at once" "$(get term.land_ms)" 2000
check_eq "SIGTERM while frozen: the daemon exits 0" 0 "$(get term.guest_exit)"
check_eq "SIGTERM while frozen: both apps told THAW" 2 "$(get term.apps_thawed)"
finish
