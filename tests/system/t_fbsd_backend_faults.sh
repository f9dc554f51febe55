#!/bin/sh
# t_fbsd_backend_faults: the daemon with FreeBSD's host backend
# (tests/hv_vss_daemon_fbsdhost) against hv_vss_sim -F when things go
# wrong, and that nothing stays frozen afterwards.  Each case runs one
# emulated host scenario; after each, a write to every test filesystem
# must land at once (and the case fails, after thawing, if one does not).
#
# The cases that wait the kernel's timer out (timer=N) shorten it from
# 15 s to N s, both the emulated kernel's (hv_vss_sim -T all=N) and the
# daemon's knowledge of it (HVVSS_TEST_FBSD_TIMER, which only this test
# build of the daemon reads); their delays are scaled to it, keeping
# which side of the timer and of the daemon's budget each falls on.
#
#   order       an hvvss application (journal_app.py) takes its FREEZE
#               during hv_appvss_dev's turn, while the filesystems still
#               take writes; THAW reaches it after they are thawed
#   slowapp     an application answers FREEZE after 6 s, with
#               app_freeze_timeout=30 and a 4 s timer: the request's
#               budget (what the kernel's timer leaves) shortens the stage
#               to its share, and FREEZE is answered E_FAIL in time,
#               before the kernel's timer (no kernel timeout, no channel
#               lost)
#   slowhook    a freeze hook that sleeps 6 s, hook_timeout=30: the same
#   slowfs      every FIFREEZE takes 5 s (failfreeze.so),
#               fs_freeze_timeout=30: the same while the filesystems are
#               being frozen, and they are thawed as soon as the stuck
#               calls return
#   dropped     the kernel's FREEZE timer is 1 s (-T) and the application
#               takes 1.5 s, well within its share of the 5 s the daemon
#               counts on: our acknowledgement is dropped without a word;
#               the second turn never comes, and the daemon thaws
#   dropped2    the same, and the host's next request comes before our
#               deadline: it is refused and the daemon thaws at once
#   killed      the daemon is killed -9 while frozen: the guard thaws, the
#               kernel answers THAW E_FAIL itself
#   legacybudget  a legacy application takes 1.5 s of the kernel's 4 s
#               to acknowledge FREEZE, then an hvvss application takes 4 s
#               (app_freeze_timeout=10, so that without a budget the
#               daemon would wait for it past the kernel's timer): the
#               daemon's turn comes with about 2.5 s left, which its
#               request carries as a budget (host.h); the machine clamps
#               its stages to it (txn_budget()), so the application stage
#               overruns its share and FREEZE is answered failed, in time
#               (no kernel timeout, not the channel-lost path), nothing
#               frozen
#   reload      SIGHUP between two backups, with a configuration that
#               goes from app_device empty (legacy mode: the kernel skips
#               the application's turns) to the default, and check_timeout
#               to 20 s: the daemon takes hv_appvss_dev for the second
#               backup, and warns that 20 s does not fit the 15 s timer
#   legacy*     an application written against /dev/hv_appvss_dev holds
#               it (fbsd_legacy_app.py): with app_device empty the daemon
#               takes the filesystem device's turns only; the
#               application's veto, its slowness (3.6 s of a 4 s timer:
#               the daemon's turn comes with less than 0.75 s left,
#               refused without starting), its
#               duplicate acknowledgements; and without legacy mode, the
#               daemon serves as filesystem daemon and says who holds it
#   dupfreeze   the host's FREEZE twice
#   otherfs     another daemon holds hv_fsvss_dev: ours waits, and never
#               takes hv_appvss_dev meanwhile (the kernel would send the
#               host's requests there, and they would be stranded)
#   plain       plain files where the devices belong: not taken for
#               requests, said once
. "$(dirname "$0")/lib.sh"
need_root
need_cmd mkfs.ext4 mkfs.xfs python3 ps
workdir
mkimage ext4 64M "$WORK/ext4.img" || bail "mkfs.ext4"
mkimage xfs 300M "$WORK/xfs.img" || bail "mkfs.xfs"

cat >"$WORK/app.sh" <<EOF2
# hv_vss_sim -b: an hvvss application (journal on /mnt/ext4), connected
name=\$1
python3 $TOP/tests/system/journal_app.py /run/hv_vss/app.sock \\
    /mnt/ext4/\$name.journal /tmp/\$name.app \$2 2>/tmp/\$name.app.err &
for i in \$(seq 100); do
	grep -q registered /tmp/\$name.app 2>/dev/null && exit 0
	sleep 0.1
done
exit 1
EOF2
cat >"$WORK/kill.sh" <<'EOF2'
# hv_vss_sim -x: kill -9, while frozen, the daemon of the hv_vss_sim that
# runs this (its comm: hv_vss_daemon_f, the fbsdhost binary's)
p=$$
while [ "$p" -gt 1 ] && [ "$(cat /proc/$p/comm)" != hv_vss_sim ]; do
	p=$(awk '{ print $4 }' /proc/$p/stat)
done
for c in $(ps -e -o pid=,ppid=,comm= | awk -v s="$p" '$2 == s && $3 ~ /^hv_vss_daemon/ { print $1 }'); do
	kill -9 "$c" && echo "killed $c" >&2
done
sleep 0.5
EOF2
cat >"$WORK/hup.sh" <<'EOF2'
# hv_vss_sim -x: a new configuration for the daemon of the hv_vss_sim
# that runs this, and SIGHUP
p=$$
while [ "$p" -gt 1 ] && [ "$(cat /proc/$p/comm)" != hv_vss_sim ]; do
	p=$(awk '{ print $4 }' /proc/$p/stat)
done
printf '[daemon]\ncheck_timeout = 20\n' >/tmp/reload.conf
for c in $(ps -e -o pid=,ppid=,comm= | awk -v s="$p" '$2 == s && $3 ~ /^hv_vss_daemon/ { print $1 }'); do
	kill -HUP "$c" && echo "hup $c" >&2
done
sleep 0.5
EOF2
cat >"$WORK/first.sh" <<EOF2
# the guest command: fbsd_legacy_app.py opens DEVICE first (as a legacy
# application, or as another filesystem daemon), then the daemon starts
dev=\$1
log=\$2
shift 2
python3 $TOP/tests/system/fbsd_legacy_app.py "\$dev" "\$log" || exit 1
exec "\$@"
EOF2

cat >"$WORK/inner.sh" <<EOF2
#!/bin/sh
# inside the sandbox: one scenario per case
DAEMON="$B/tests/hv_vss_daemon_fbsdhost -n -d -c /dev/null -o mounts=/mnt/ext4,/mnt/xfs"
LEGACY="python3 $TOP/tests/system/fbsd_legacy_app.py /dev/hv_appvss_dev"

run() {	# name [timer=N] [env=value ...] [-o key=value ...] -- sim-args
	name=\$1
	shift
	# FBSD_CASES="a b": only those (when looking into a failure)
	case " ${FBSD_CASES:-\$name} " in *" \$name "*) ;; *) return ;; esac
	envs=
	opts=
	first=
	simt=
	while [ "\$1" != -- ]; do
		case \$1 in
		-o) opts="\$opts -o \$2"; shift ;;
		-c) opts="\$opts -c \$2"; shift ;;
		first=*) first="sh $WORK/first.sh /dev/hv_appvss_dev \${1#first=}" ;;
		firstfs=*) first="sh $WORK/first.sh /dev/hv_fsvss_dev \${1#firstfs=}" ;;
		timer=*) envs="\$envs HVVSS_TEST_FBSD_TIMER=\${1#timer=}"
		    simt="-T all=\${1#timer=}" ;;
		*) envs="\$envs \$1" ;;
		esac
		shift
	done
	shift
	$B/hv_vss_sim -F /dev/hv_appvss_dev \$simt "\$@" /dev/hv_fsvss_dev -- \\
	    \$first env \$envs \$DAEMON \$opts >/tmp/\$name.json 2>/tmp/\$name.log
	echo "\$name.rc=\$?"
	python3 - /tmp/\$name.json \$name <<'EOF3'
import json, sys
r = json.load(open(sys.argv[1]))
n = sys.argv[2]
print("%s.results=%s" % (n, ";".join(",".join("%s:%s" % (q["op"],
      q.get("result", "none")) for q in b["requests"]) for b in r["backups"])))
print("%s.events=%s" % (n, ",".join(sorted(set(e["kind"] for e in r["events"])))))
for e in r["events"]:
    if e["kind"] in ("notified", "late_ack", "kernel_timeout", "daemon_gone"):
        t = e["text"].split()
        print("%s.%s=%s" % (n, e["kind"], " ".join(t[:3])))
    if e["kind"] == "registered":
        print("%s.opened=%s" % (n, e["text"].split()[0]))
EOF3
	sed "s/^/\$name.log /" /tmp/\$name.log | grep -v plan:
	[ -f /tmp/\$name.alog ] && sed "s/^/\$name.alog /" /tmp/\$name.alog
	[ -f /tmp/\$name.app ] && sed "s/^/\$name.app /" /tmp/\$name.app
	for m in /mnt/ext4 /mnt/xfs; do
		if ! timeout 3 sh -c "echo x >\$m/probe-\$name"; then
			echo "\$name.frozen=\$m"
			fsfreeze -u \$m
		fi
	done
}

run order -- -b "sh $WORK/app.sh order" -s hot,freeze,thaw
run slowapp timer=4 -o app_freeze_timeout=30 -- \\
    -b "sh $WORK/app.sh slowapp 6" -s hot,freeze,sleep=2.5,hot
mkdir -p /tmp/slowhooks
printf '#!/bin/sh\n[ "\$1" = freeze ] && sleep 6\nexit 0\n' >/tmp/slowhooks/10-slow
chmod 0755 /tmp/slowhooks /tmp/slowhooks/10-slow
run slowhook timer=4 -o hooks_dir=/tmp/slowhooks -o hook_timeout=30 -- \
    -s hot,freeze,sleep=2.5,hot
run slowfs timer=4 LD_PRELOAD=$B/tests/failfreeze.so \\
    HVVSS_FREEZE_DELAY_MS=5000 -o fs_freeze_timeout=30 -- \\
    -s hot,freeze,sleep=3.5,hot
run dropped timer=5 -o app_freeze_timeout=30 -- -T freeze=1 \\
    -b "sh $WORK/app.sh dropped 1.5" -s hot,freeze,sleep=5,hot
run dropped2 -- -T freeze=1 -b "sh $WORK/app.sh dropped2 3" \
    -s hot,freeze,sleep=3,hot,sleep=2,hot
run killed -- -x "sh $WORK/kill.sh" -s hot,freeze,exec,thaw
run legacy -o app_device= -- -b "\$LEGACY /tmp/legacy.alog" -s hot,freeze,thaw
run legacyveto -o app_device= -- -b "\$LEGACY /tmp/legacyveto.alog FREEZE=fail" \\
    -s hot,freeze,thaw
run legacyslow timer=4 -o app_device= -- \\
    -b "\$LEGACY /tmp/legacyslow.alog FREEZE=3.6" -s hot,freeze,sleep=1,thaw
run legacybudget timer=4 -o app_device= -o app_freeze_timeout=10 -- \\
    -b "\$LEGACY /tmp/legacybudget.alog FREEZE=1.5 && sh $WORK/app.sh legacybudget 4" \\
    -s hot,freeze,thaw
printf '[daemon]\napp_device =\n' >/tmp/reload.conf
run reload -c /tmp/reload.conf -- -x "sh $WORK/hup.sh" \\
    -s hot,freeze,thaw,exec,sleep=1,hot,freeze,thaw
run legacydup -o app_device= -- -b "\$LEGACY /tmp/legacydup.alog --dup" \\
    -s hot,freeze,thaw
run busy first=/tmp/busy.alog -- -s hot,freeze,thaw
run dupfreeze -- -f dup-freeze
run otherfs firstfs=/tmp/otherfs.alog -- -s hot,sleep=2.5,freeze,thaw
# no emulator: plain files where the devices belong are not read as
# requests, the daemon says so once and does not spin
case " \${FBSD_CASES:-plain} " in *" plain "*)
: >/tmp/plain
: >/tmp/plainapp
\$DAEMON -o device=/tmp/plain -o app_device=/tmp/plainapp 2>/tmp/plain.log &
d=\$!
sleep 2.5
kill \$d
wait \$d
sed 's/^/plain.log /' /tmp/plain.log
esac
EOF2

"$SANDBOX" -t 400 -r "$TOP" -r "$B" -r "$WORK" \
    -m "$WORK/ext4.img:/mnt/ext4" -m "$WORK/xfs.img:/mnt/xfs" \
    -- sh "$WORK/inner.sh" >"$WORK/out" 2>&1
rc=$?
out=$WORK/out
get() { sed -n "s/^$1=//p" "$out"; }
# the line number of the first line of the case's log matching a pattern
at() { grep -n "^$1.log .*$2" "$out" | head -n 1 | cut -d: -f1; }
sed 's/^/# /' "$out" | grep -v 'log .*plan:'
check_eq "sandbox exit" 0 "$rc"
check_eq "nothing left frozen by any case" "" "$(grep '\.frozen=' "$out")"

# order
check_eq "order: all answered S_OK" "HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK" \
    "$(get order.results)"
check_eq "order: the kernel's turns, app first on CHECK and FREEZE, fs first on THAW" \
    "hv_appvss_dev took CHECK hv_fsvss_dev took CHECK hv_appvss_dev took FREEZE hv_fsvss_dev took FREEZE hv_fsvss_dev took THAW hv_appvss_dev took THAW" \
    "$(get order.notified | tr '\n' ' ' | sed 's/ $//')"
a=$(at order 'hv_appvss_dev: FREEZE')
f=$(at order 'froze 2 filesystems')
s=$(at order 'hv_fsvss_dev: FREEZE.*second turn')
check "order: the application stage and the freeze ran in hv_appvss_dev's turn, before hv_fsvss_dev's" \
    test -n "$a" -a -n "$f" -a -n "$s" -a "${a:-0}" -lt "${f:-0}" -a "${f:-0}" -lt "${s:-0}"
frozen_lines=$(awk '$1 == "order.app" && $2 == "FROZEN" { print $4 }' "$out")
check "order: the application wrote and fsync'd its journal at FREEZE (the filesystems were not frozen yet)" \
    test "${frozen_lines:-0}" -gt 0
t=$(at order 'hv_fsvss_dev: THAW')
th=$(at order 'thawed in')
s=$(at order 'hv_appvss_dev: THAW.*second turn')
check "order: THAW thawed the filesystems in hv_fsvss_dev's turn, before hv_appvss_dev's" \
    test -n "$t" -a -n "$th" -a -n "$s" -a "${t:-0}" -lt "${th:-0}" -a "${th:-0}" -lt "${s:-0}"
check "order: the application was told THAW" grep -q '^order.app THAWED' "$out"

# the kernel's timer mid-stage
check_eq "slowapp: FREEZE E_FAIL (its share of the budget); served again after" \
    "HOT_BACKUP:S_OK,FREEZE:E_FAIL,HOT_BACKUP:S_OK" "$(get slowapp.results)"
check "slowapp: the test build takes the kernel's timer for 4 s" \
    grep -q "slowapp.log .*test build: the kernel's timer is taken for 4 s" "$out"
check "slowapp: the budget warning at start names the settings" \
    grep -q "slowapp.log .*app_freeze_timeout 30000 ms + hook_timeout 3000 ms + fs_freeze_timeout 5000 ms = 38000 ms does not fit FreeBSD's 4 s timer for FREEZE (3500 ms usable)" "$out"
check "slowapp: the application stage failed on its share of the budget" \
    grep -q "slowapp.log .*FREEZE failed: app journal .*no answer to FREEZE within [0-9]* ms" "$out"
check_eq "slowapp: answered in time: no kernel timeout, no channel lost, no late acknowledgement" \
    "" "$(get slowapp.events | tr ',' '\n' | grep -E 'kernel_timeout|late_ack')$(grep 'slowapp.log .*not answered 500 ms before' "$out")"
check_eq "slowhook: FREEZE E_FAIL (its share of the budget); served again after" \
    "HOT_BACKUP:S_OK,FREEZE:E_FAIL,HOT_BACKUP:S_OK" "$(get slowhook.results)"
check "slowhook: the budget warning names hook_timeout" \
    grep -q 'slowhook.log .*app_freeze_timeout 5000 ms + hook_timeout 30000 ms + fs_freeze_timeout 5000 ms = 40000 ms does not fit' "$out"
check "slowhook: the hook was stopped on its share of the budget" \
    grep -q "slowhook.log .*FREEZE failed: hook 10-slow: timed out after [0-9]* ms" "$out"
check_eq "slowhook: answered in time: no kernel timeout, no channel lost, no late acknowledgement" \
    "" "$(get slowhook.events | tr ',' '\n' | grep -E 'kernel_timeout|late_ack')$(grep 'slowhook.log .*not answered 500 ms before' "$out")"
check_eq "slowfs: FREEZE E_FAIL; served again after" \
    "HOT_BACKUP:S_OK,FREEZE:E_FAIL,HOT_BACKUP:S_OK" "$(get slowfs.results)"
check "slowfs: failed on its share of the budget with a FIFREEZE under way" \
    grep -q "slowfs.log .*FREEZE failed: freezing the filesystems took longer than [0-9]* ms; undoing when the stuck call returns" "$out"
check "slowfs: undone when it returned" \
    grep -q 'slowfs.log .*cancelled freeze undone' "$out"
check_eq "slowfs: answered in time: no kernel timeout, no channel lost, no late acknowledgement" \
    "" "$(get slowfs.events | tr ',' '\n' | grep -E 'kernel_timeout|late_ack')$(grep 'slowfs.log .*not answered 500 ms before' "$out")"

# our acknowledgement dropped by the kernel
check_eq "dropped: FREEZE E_FAIL (the 1 s FREEZE timer); served again after" \
    "HOT_BACKUP:S_OK,FREEZE:E_FAIL,HOT_BACKUP:S_OK" "$(get dropped.results)"
check_eq "dropped: the kernel dropped the application device's acknowledgement" \
    "hv_appvss_dev: ack of" "$(get dropped.late_ack)"
check "dropped: the daemon saw the second turn never came, and thawed" \
    grep -q 'dropped.log .*the kernel never passed msgid [0-9]* on to /dev/hv_fsvss_dev' "$out"
check "dropped: thawed after" grep -q 'dropped.log .*lost while frozen: thawing' "$out"

check_eq "dropped2: a new request before the second turn: refused, and we thaw at once" \
    "HOT_BACKUP:S_OK,FREEZE:E_FAIL,HOT_BACKUP:E_FAIL,HOT_BACKUP:S_OK" \
    "$(get dropped2.results)"
check "dropped2: the dropped answer noticed by the new request" \
    grep -q 'dropped2.log .*CHECK (msgid [0-9]*) came before the second turn of msgid [0-9]*: the kernel dropped our answer' "$out"
check "dropped2: thawed then" grep -q 'dropped2.log .*lost while frozen: thawing' "$out"

# killed while frozen
check_eq "killed: THAW E_FAIL by the kernel (the daemon's device closed)" \
    "HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:E_FAIL" "$(get killed.results)"
check "killed: the daemon was killed -9 in the frozen window" \
    grep -q 'killed.log killed [0-9]' "$out"
check_eq "killed: the guard thawed both filesystems (writes land)" "" \
    "$(grep '^killed.frozen=' "$out")"

# legacy applications
check_eq "legacy: all S_OK" "HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK" \
    "$(get legacy.results)"
check_eq "legacy: the application's turns, the daemon's after on CHECK and FREEZE, before on THAW" \
    "hv_appvss_dev took CHECK hv_fsvss_dev took CHECK hv_appvss_dev took FREEZE hv_fsvss_dev took FREEZE hv_fsvss_dev took THAW hv_appvss_dev took THAW" \
    "$(get legacy.notified | tr '\n' ' ' | sed 's/ $//')"
check "legacy: the daemon said legacy mode" \
    grep -q 'legacy.log .*app_device empty: legacy mode' "$out"
check "legacy: the daemon froze the filesystems" \
    grep -q 'legacy.log .*froze 2 filesystems' "$out"
check_eq "legacyveto: FREEZE E_FAIL, THAW S_OK" \
    "HOT_BACKUP:S_OK,FREEZE:E_FAIL,THAW:S_OK" "$(get legacyveto.results)"
check_eq "legacyveto: the daemon never saw FREEZE" "" \
    "$(grep 'legacyveto.log .*host: FREEZE' "$out")"
check_eq "legacyslow: FREEZE E_FAIL" "HOT_BACKUP:S_OK,FREEZE:E_FAIL,THAW:S_OK" \
    "$(get legacyslow.results)"
check "legacyslow: the daemon's turn came too late to start: refused at once" \
    grep -q "legacyslow.log .*hv_fsvss_dev: FREEZE (msgid [0-9]*) came with [0-9]* ms of the kernel's 4 s left: answered failed without starting it" "$out"
check_eq "legacyslow: nothing frozen for it" "" \
    "$(grep 'legacyslow.log .*froze ' "$out")"
check_eq "legacybudget: FREEZE E_FAIL, THAW S_OK" \
    "HOT_BACKUP:S_OK,FREEZE:E_FAIL,THAW:S_OK" \
    "$(get legacybudget.results)"
# what the legacy application's 1.5 s left of the 4 s, less the margins
b=$(sed -n 's/^legacybudget.log .*host: FREEZE, \([0-9]*\) ms to answer.*/\1/p' "$out" | head -n 1)
check "legacybudget: the daemon's FREEZE came with a budget of under 2.5 s (${b:-none} ms)" \
    test "${b:-0}" -gt 0 -a "${b:-0}" -lt 2500
check "legacybudget: the application stage failed on its clamped deadline" \
    grep -q "legacybudget.log .*FREEZE failed: app journal .*no answer to FREEZE within [0-9]* ms" "$out"
check_eq "legacybudget: answered in time: no kernel timeout, no channel lost" "" \
    "$(get legacybudget.events | tr ',' '\n' | grep -x kernel_timeout)$(grep "legacybudget.log .*not answered 500 ms before" "$out")"
check_eq "legacybudget: nothing frozen" "" \
    "$(grep -E 'legacybudget.log .*froze [0-9]' "$out")"
check_eq "reload: all S_OK" \
    "HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK,HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK" \
    "$(get reload.results)"
check_eq "reload: the daemon's device alone, then both after SIGHUP" \
    "hv_fsvss_dev took CHECK hv_fsvss_dev took FREEZE hv_fsvss_dev took THAW hv_appvss_dev took CHECK hv_fsvss_dev took CHECK hv_appvss_dev took FREEZE hv_fsvss_dev took FREEZE hv_fsvss_dev took THAW hv_appvss_dev took THAW" \
    "$(get reload.notified | tr '\n' ' ' | sed 's/ $//')"
check "reload: the daemon says app_device changed" \
    grep -q 'reload.log .*app_device changed from (empty) to /dev/hv_appvss_dev' "$out"
check "reload: the reloaded check_timeout is warned about" \
    grep -q "reload.log .*check_timeout 20000 ms does not fit FreeBSD's 15 s timer" "$out"
check_eq "legacydup: all S_OK" "HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK" \
    "$(get legacydup.results)"
check_eq "legacydup: each duplicate dropped by the kernel, the application's only" \
    "hv_appvss_dev: ack of hv_appvss_dev: ack of hv_appvss_dev: ack of" \
    "$(get legacydup.late_ack | tr '\n' ' ' | sed 's/ $//')"
check_eq "busy: all S_OK as the filesystem daemon" \
    "HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK" "$(get busy.results)"
check "busy: the daemon says the application device is held, and what to set" \
    grep -q 'busy.log .*/dev/hv_appvss_dev is busy: an application written against it holds it.*app_device = (empty)' "$out"
check_eq "dupfreeze: FREEZE twice, S_OK" \
    "HOT_BACKUP:S_OK,FREEZE:S_OK,FREEZE:S_OK,THAW:S_OK" "$(get dupfreeze.results)"

check_eq "plain files: 'not a VSS device' said once" 1 \
    "$(grep -c 'plain.log .*IOCHVVSSREAD on /tmp/plain: .*not a VSS device; retrying every 1 s' "$out")"
check_eq "plain files: never registered, nothing taken for a request" "" \
    "$(grep -E 'plain.log .*(registered|host: )' "$out")"

check_eq "otherfs: another daemon holding hv_fsvss_dev serves the backup" \
    "HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK" "$(get otherfs.results)"
check "otherfs: ours says so and waits" \
    grep -q 'otherfs.log .*/dev/hv_fsvss_dev is busy: another VSS daemon holds it' "$out"
check_eq "otherfs: ours never took hv_appvss_dev (the host's requests would go to it)" \
    "" "$(grep -E '^otherfs\.(opened|notified)=hv_appvss_dev' "$out")"

# no case but dropped saw an acknowledgement the kernel did not want
check_eq "the daemon never acknowledged late or twice" "" \
    "$(grep -E '^(order|slowapp|slowhook|slowfs|killed|legacy|legacyveto|legacyslow|legacybudget|busy|dupfreeze)\.late_ack=' "$out")"
finish
