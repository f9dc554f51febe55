#!/bin/sh
# t_ctl: hv_vss_ctl against the real daemon, in the sandbox, on a
# loop-mounted ext4 of the test's own (ctl_inner.sh is the part inside):
# every subcommand, text and JSON (parsed by python3); freezes proven by a
# write that blocks until the thaw; the configured group reads status and
# cannot freeze, others cannot connect, and the daemon refuses them even
# when the socket's mode lets them in; snapshot with a CMD that fails,
# that dies, that overruns, with hv_vss_ctl interrupted and killed -9:
# after each, a write lands at once (nothing stays frozen); a host backup
# during a local snapshot is refused (E_FAIL) and the snapshot completes;
# the metrics file after a veto and after a success.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd mkfs.ext4 python3 setpriv fsfreeze
workdir
[ -x "$B/hv_vss_ctl" ] || bail "no $B/hv_vss_ctl (make)"
mkimage ext4 64M "$WORK/a.img" || bail "mkfs.ext4"

"$SANDBOX" -t 300 -r "$TOP" -r "$B" -e B="$B" -e TOP="$TOP" \
    -m "$WORK/a.img:/mnt/a" -- sh "$TOP/tests/system/ctl_inner.sh" \
    >"$WORK/out" 2>&1
rc=$?
out=$WORK/out
get() { sed -n "s/^$1=//p" "$out" | head -n 1; }
grep -v '^[AB]\.log .*plan: ' "$out" | sed 's/^/# /'
check_eq "sandbox exit" 0 "$rc"
check_eq "the daemon served every case, to the end" yes "$(get A.alive)"
check_eq "no case left /mnt/a frozen" "" \
    "$(grep '\.writable=no\|\.landed=no\|\.blocked=no' "$out")"

# --- status, plan, history -----------------------------------------------
check_eq "ctl_group: the socket is 0660 root:nogroup" "660 root:nogroup" \
    "$(get A.sockmode)"
check_eq "app_socket_group: the socket is 0660 root:nogroup" \
    "660 root:nogroup" "$(get A.appsockmode)"
check_eq "the daemon ran without CAP_CHOWN (as under the unit)" 0 \
    "$(get A.capbnd_chown)"
check_eq "status: exit 0" 0 "$(get status.rc)"
case $(get status.text) in
"hv_vss_daemon 0.1.0|state:   idle|device:  /dev/vmbus/hv_vss, connected|guard:   alive (pid "*")|apps:    0 registered|")
	pass "status: version, state, device, guard, apps" ;;
*)	fail "status text: $(get status.text)" ;;
esac
check_eq "status --json: state, frozen, device connected, guard alive, apps" \
    "idle False True True []" "$(get statusj.parsed)"
check_eq "status --json: the version" "0.1.0" "$(get statusj.version)"
check_eq "status --json | python3 -m json.tool" 0 "$(get statusj.jsontool)"
check_eq "plan: exit 0" 0 "$(get plan.rc)"
check_eq "plan: /mnt/a first, level 0" " 0 /mnt/a ext4 /dev/loop" \
    "$(get plan.first | sed 's/loop[0-9]*/loop/')"
check_eq "plan: what HOT_BACKUP would answer" \
    "HOT_BACKUP now: S_OK, if every application answers READY" \
    "$(get plan.hot)"
check "plan: every other mount skipped, with the reason" \
    test "$(get plan.skipsdev)" -ge 5
check_eq "plan --json: filesystems, answer, a reason for every skip" \
    "['/mnt/a'] S_OK True" "$(get planj.parsed)"
check_eq "plan: the hooks the privileged parent would run, in name order, no leftovers" \
    " /tmp/hooks.d/10-db| /tmp/hooks.d/20-web|" "$(get plan.hooks)"
check_eq "plan --json: the same hooks" "['10-db', '20-web']" \
    "$(get planj.hooks)"
# --- the wire: protocol 2 ---------------------------------------------------
for r in plan statusjson; do
	check_eq "raw $r: the greeting first" "HVVSS-CTL 2" "$(get raw.$r.greet)"
	check_eq "raw $r: OK last, then the close" "OK|" "$(get raw.$r.final)"
	check "raw $r: payload lines ($(get raw.$r.payload))" \
	    test "$(get raw.$r.payload)" -ge 1
	check_eq "raw $r: every line between them marked '| '" 0 \
	    "$(get raw.$r.unmarked)"
done
check_eq "a protocol 1 client: one ERR line naming both versions, the close" \
    "ERR hv_vss_daemon speaks control protocol 2, this client protocol 1: use the hv_vss_ctl of the daemon's version|" \
    "$(get raw.v1)"
check "... logged" grep -q '^A.log .*ctl: uid 0 (pid [0-9]*) speaks control protocol 1 (no hello): refused' "$out"
check_eq "a protocol 3 client: our greeting, then ERR naming both" \
    "HVVSS-CTL 2|ERR hv_vss_daemon speaks control protocol 2, this client protocol 3|" \
    "$(get raw.v3)"
check_eq "an unknown command: the greeting, then ERR" \
    "HVVSS-CTL 2|ERR unknown command|" "$(get raw.unknown)"
check_eq "history: exit 0" 0 "$(get hist.rc)"
check_eq "history: the header" \
    "txn start by kind check apps fs frozen thaw verdict" "$(get hist.header)"
check_eq "history: a row per transaction so far" 2 "$(get hist.rows)"
check_eq "history --json: newest first, requester, kind, verdict, lease" \
    "local:FREEZE:failed:True:True local:FREEZE:ok:False:True" \
    "$(get histj.parsed)"
check_eq "history --json: the culprit of the failure" \
    "the lease expired before THAW" "$(get histj.culprit)"
check_eq "history -n 1 --json: one entry" 1 "$(get hist1.len)"

# --- freeze, thaw ---------------------------------------------------------
check_eq "freeze: exit 0" 0 "$(get freeze.rc)"
check_eq "freeze: a write to /mnt/a blocks" yes "$(get freeze.blocked)"
check_eq "status --json while frozen: state, requester, what, lease left" \
    "frozen True local /mnt/a True" "$(get frozenj.parsed)"
check_eq "status while frozen: the frozen: and lease: lines" 2 \
    "$(get frozen.lines)"
check_eq "thaw: exit 0" 0 "$(get thaw.rc)"
check_eq "thaw: the blocked write lands" yes "$(get freeze.landed)"
check_eq "freeze --timeout 1: exit 0" 0 "$(get lease.rc)"
check_eq "freeze --timeout 1: thawed by the daemon 1 s later" yes \
    "$(get lease.writable)"
check_eq "the thaw after that: exit 1 (the snapshot may be inconsistent)" 1 \
    "$(get latethaw.rc)"
check "... with the daemon's reason on stderr" \
    grep -q '^latethaw.err hv_vss_ctl: .' "$out"

# --- who may ------------------------------------------------------------------
for c in status plan hist; do
	check_eq "ctl_group member (nobody:nogroup): $c exit 0" 0 \
	    "$(get grp_$c.rc)"
done
check_eq "ctl_group member: status --json parsed" idle "$(get grp_status.state)"
for c in freeze thaw snap; do
	check_eq "ctl_group member: $c refused, exit 1" 1 "$(get grp_$c.rc)"
	check "ctl_group member: $c: 'permission denied'" \
	    grep -q "^grp_$c.err hv_vss_ctl: permission denied$" "$out"
done
check_eq "ctl_group member: snapshot's CMD never ran" no "$(get grp_snap.ran)"
check "the daemon logged each refusal with the uid" \
    grep -q '^A.log .*ctl: uid 65534 (pid [0-9]*) may not hold' "$out"
check_eq "not in ctl_group: cannot connect, exit 3" 3 "$(get out_status.rc)"
check "not in ctl_group: told who may" \
    grep -q "^out_status.err hv_vss_ctl: cannot connect to /run/hv_vss/ctl.sock: Permission denied (only root, or the daemon's ctl_group, may)" "$out"
check_eq "not in ctl_group, socket opened to all: the daemon refuses status" \
    1 "$(get out_status2.rc)"
check_eq "... and freeze" 1 "$(get out_freeze2.rc)"
check_eq "nothing frozen by the refused requests" yes "$(get grp.writable)"

# --- snapshot -------------------------------------------------------------------
check_eq "snapshot: exit 0" 0 "$(get snap.rc)"
check_eq "snapshot: CMD ran frozen (it asked the daemon)" \
    "frozen True local" "$(get snap.inside)"
check_eq "snapshot: CMD's stdout" cmd-out "$(get snap.out)"
check_eq "snapshot -v: progress, its own and the daemon's stages, in order" \
    '# freezing (timeout 20 s)|# applications frozen|# freeze hooks done|# filesystems frozen|# frozen (txn N) in N ms|# running sh -c "$0" status --json >/tmp/insnap.json; echo cmd-out; exit 0 '"$B"'/hv_vss_ctl|# thawed in N ms|' \
    "$(get snap.progress)"
check_eq "snapshot: thawed after" yes "$(get snap.writable)"
check_eq "snapshot, CMD exits 3: exit 3" 3 "$(get snapfail.rc)"
check_eq "snapshot, CMD exits 3: thawed" yes "$(get snapfail.writable)"
check_eq "snapshot, CMD killed by SIGKILL: exit 137" 137 "$(get snapsig.rc)"
check_eq "snapshot, CMD killed: thawed" yes "$(get snapsig.writable)"
check_eq "snapshot, CMD overruns 1 s: exit 124" 124 "$(get overrun.rc)"
check "snapshot, CMD overruns: ended within 4 s ($(get overrun.ms) ms)" \
    test "$(get overrun.ms)" -lt 4000
check_eq "snapshot, CMD overruns: thawed" yes "$(get overrun.writable)"
check_eq "snapshot, SIGINT to hv_vss_ctl: was frozen" "frozen True" \
    "$(get int.before)"
check_eq "snapshot, SIGINT to hv_vss_ctl: exit 130" 130 "$(get int.rc)"
check_eq "snapshot, SIGINT to hv_vss_ctl: CMD ended" yes "$(get int.cmdgone)"
check_eq "snapshot, SIGINT to hv_vss_ctl: thawed" yes "$(get int.writable)"
check_eq "snapshot, hv_vss_ctl killed -9: was frozen" "frozen True" \
    "$(get k9.before)"
check_eq "snapshot, hv_vss_ctl killed -9: the daemon went idle" yes \
    "$(get k9.idle)"
check_eq "snapshot, hv_vss_ctl killed -9: thawed" yes "$(get k9.writable)"
check_eq "snapshot, hv_vss_ctl killed -9: the daemon said why it thawed" yes \
    "$(get A.logged_gone)"
check_eq "snapshot, hv_vss_ctl killed -9: history says failed, and why" \
    "local failed hv_vss_ctl went away" "$(get k9hist.last)"
h=$(get A.hist_local)
check_eq "metrics: local transactions ok/failed as in the history" \
    "$h" "$(get A.metrics_local)"

# --- a host backup during a local snapshot; metrics -----------------------------
check_eq "host backup during a local snapshot: refused (HOT_BACKUP S_OK: hot_backup_veto=ok); then a veto; then a success" \
    "HOT_BACKUP:S_OK,FREEZE:E_FAIL,THAW:E_FAIL,HOT_BACKUP:S_OK,FREEZE:E_FAIL,THAW:S_OK,HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK" \
    "$(get B.results)"
check_eq "... the local snapshot held meanwhile (status from CMD's time)" \
    "frozen True local" "$(get B.during)"
check "... the refusals logged with the reason" \
    grep -q '^B.log .*FREEZE refused: a local transaction is in progress (frozen)' "$out"
check_eq "... and the snapshot completed: exit 0 (through -s, ctl_socket)" \
    0 "$(get snapB.rc)"
check_eq "... its progress: frozen, running, thawed" 3 "$(get snapB.progress)"
check_eq "status --json: a registered app: name, tier, uid" "nope:2:0" \
    "$(get B.apps)"
check_eq "plan --json: the apps by tier" "nope:2" "$(get B.planapps)"
check_eq "after it all: thawed" yes "$(get B.writable)"
check_eq "metrics after the local snapshot: local ok 1" \
    "host 0/0 local 1/0 vetoes nope=0 lease=0 guard=0" "$(get metrics1)"
check_eq "metrics after the local snapshot: its frozen window, one FREEZE latency" \
    "True 1" "$(get metrics1.frozen_window) $(get metrics1.latency_count)"
case $(get metrics2) in
"host "*"/1 local "*" vetoes nope=1 lease=0 guard=0")
	pass "metrics after the veto: host failed 1, vetoes{app=nope} 1" ;;
*)	fail "metrics after the veto: $(get metrics2)" ;;
esac
check_eq "metrics after the veto: no FREEZE latency added" 1 \
    "$(get metrics2.latency_count)"
ok2=$(get metrics2 | sed -n 's/^host \([0-9]*\)\/.*/\1/p')
ok3=$(get metrics3 | sed -n 's/^host \([0-9]*\)\/.*/\1/p')
check "metrics after the success: host ok up (from $ok2 to $ok3)" \
    test "${ok3:-0}" -gt "${ok2:-0}"
case $(get metrics3) in
"host "*"/1 local "*" vetoes nope=1 lease=0 guard=0")
	pass "metrics after the success: failures and vetoes unchanged" ;;
*)	fail "metrics after the success: $(get metrics3)" ;;
esac
check_eq "metrics after the success: one more FREEZE latency, a frozen window" \
    "2 True" "$(get metrics3.latency_count) $(get metrics3.frozen_window)"
finish
