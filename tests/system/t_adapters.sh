#!/bin/sh
# t_adapters: the adapters that let other backup agents hold the
# applications through hv_vss_daemon (hv_vss_ctl hold / release), each
# invoked as its agent invokes it (adapters_inner.sh, in the sandbox):
#
#  - qemu-guest-agent, Debian's own (tools/deps qga), on a unix socket,
#    adapters/qemu-fsfreeze-hook as its --fsfreeze-hook, driven with
#    guest-fsfreeze-freeze / -thaw as a host would.  Contract: qemu's
#    qga/commands-posix.c (execute_fsfreeze_hook(): "freeze" before
#    FIFREEZE, "thaw" after FITHAW, stdio on /dev/null, no time limit, a
#    non-zero exit fails the command).  Proven: the sandbox shows qemu-ga
#    no filesystem with a device but /mnt/a (checked before it starts);
#    the application's FROZEN comes before qemu-ga's first FIFREEZE and
#    its THAW after the last FITHAW (strace -ttt against the app's log);
#    the copy of the image taken while frozen is clean and holds exactly
#    the lines the application had written when it said FROZEN; status
#    and history name the holder.
#  - open-vm-tools, as services/plugins/vmbackup/scriptOps.c runs
#    /etc/vmware-tools/backupScripts.d: '"PATH" freeze' in strcmp order,
#    thaw in reverse, freezeFail in reverse for the scripts before one
#    that failed.
#  - Azure's VMSnapshotLinux, as VMBackup/main/ScriptRunner.py runs
#    preScriptLocation / postScriptLocation: "sh PATH PARAMS" (the
#    template's two empty params), exit 0 / 2 (warning) / other, a script
#    past timeoutInSeconds left running.
#  - a host backup during a hold, under hot_backup_veto ok and fail.
. "$(dirname "$0")/lib.sh"
need_root
sh "$TOP/tools/deps" qga >/dev/null || bail "tools/deps qga"
need_cmd mkfs.ext4 python3 qemu-ga strace debugfs fsfreeze
workdir
[ -x "$B/hv_vss_ctl" ] || bail "no $B/hv_vss_ctl (make)"
mkimage ext4 64M "$WORK/a.img" || bail "mkfs.ext4"

copy() {	# the host's snapshot, in the frozen window
	cp --sparse=always "$WORK/a.img" "$WORK/copy.img"
}
run_with_window copy -t 400 -r "$TOP" -r "$B" -e B="$B" -e TOP="$TOP" \
    -m "$WORK/a.img:/mnt/a" -- sh "$TOP/tests/system/adapters_inner.sh"
rc=$?
out=$WORK/sandbox.out
get() { sed -n "s/^$1=//p" "$out" | head -n 1; }
sed 's/^/# /' "$out"
check_eq "sandbox exit" 0 "$rc"
[ "$rc" -eq 0 ] || show_logs

# --- Q: qemu-ga ---------------------------------------------------------------
check_eq "the sandbox shows qemu-ga only /mnt/a with a device" yes \
    "$(get mounts.safe)"
check_eq "... and it is /mnt/a" "/mnt/a " "$(get mounts.devices)"
check_eq "guest-fsfreeze-freeze: one filesystem frozen" '{"return": 1}' \
    "$(get Q.freeze)"
check_eq "while frozen: the daemon holds the apps for qemu-ga" \
    "holding apps qemu-ga" "$(get Q.held)"
check "status names the holder: uid, pid, command, label, lease, until" \
    grep -q '^Q.status hold:    txn [0-9]*, by uid 0 pid [0-9]* (hv_vss_ctl), label qemu-ga, lease 60.000 s, since .*, until ' "$out"
check_eq "while frozen: a write to /mnt/a blocks" yes "$(get Q.frozen)"
check_eq "the image was copied in the frozen window" "copied 1" \
    "$(get Q.window)"
check_eq "guest-fsfreeze-status: frozen" '{"return": "frozen"}' \
    "$(get Q.fsstatus)"
check_eq "guest-fsfreeze-thaw: one filesystem thawed" '{"return": 1}' \
    "$(get Q.thaw)"
check_eq "after the thaw the blocked write lands" yes "$(get Q.landed)"
check_eq "after the thaw: idle, no hold" "idle -" "$(get Q.after)"
check_eq "history: the HOLD, local, ok, its apps stage, the holder" \
    "HOLD local ok True uid 0 pid" \
    "$(get Q.histj | sed 's/ pid [0-9]* .*/ pid/')"
frozen=$(get Q.app_frozen)
fifreeze=$(get Q.fifreeze)
fithaw=$(get Q.fithaw)
thawed=$(get Q.app_thawed)
echo "# app FROZEN $frozen < qemu-ga FIFREEZE $fifreeze;" \
    "qemu-ga FITHAW $fithaw < app THAW $thawed"
before() { python3 -c 'import sys; sys.exit(not float(sys.argv[1]) < float(sys.argv[2]))' "$1" "$2" 2>/dev/null; }
check "the application's FROZEN comes before qemu-ga's FIFREEZE" \
    before "$frozen" "$fifreeze"
check "qemu-ga's FITHAW comes before the application's THAW" \
    before "$fithaw" "$thawed"
if [ -n "$frozen" ] && [ -n "$fifreeze" ] && [ -n "$fithaw" ] &&
    [ -n "$thawed" ]; then
	echo "# held before FIFREEZE: $(python3 -c "print('%.1f ms' % ((float('$fifreeze') - float('$frozen')) * 1000))");" \
	    "THAW after FITHAW: $(python3 -c "print('%.1f ms' % ((float('$thawed') - float('$fithaw')) * 1000))")"
fi
check "the copy is a clean ext4 (nothing to replay)" \
    snapshot_clean ext4 "$WORK/copy.img"
lines=$(get Q.app_lines)
debugfs -R "cat /Q.txt" "$WORK/copy.img" >"$WORK/copy.txt" 2>/dev/null
check_eq "the copy holds every line the app had when it said FROZEN" \
    "$lines" "$(wc -l <"$WORK/copy.txt" | tr -d ' ')"
check_eq "... the last of them whole" "line $lines" "$(tail -n 1 "$WORK/copy.txt")"
check "... and more than one flush's worth (the FREEZE flush counted)" \
    test "${lines:-0}" -gt 50

# Debian's /etc/qemu/fsfreeze-hook, running fsfreeze-hook.d/50-hvvss
check_eq "Debian's fsfreeze-hook dispatcher: frozen" '{"return": 1}' \
    "$(get Q2.freeze)"
check_eq "... the adapter in fsfreeze-hook.d held the apps" \
    "holding apps qemu-ga" "$(get Q2.held)"
check_eq "... thawed, and released" '{"return": 1} idle -' \
    "$(get Q2.thaw) $(get Q2.after)"
check_eq "... the app held and resumed again" \
    "registered,FROZEN,THAWED,FROZEN,THAWED," "$(get Q2.app)"
check "... the dispatcher's log: the adapter ran for freeze, status 0" \
    grep -q '^Q2.hooklog .*50-hvvss finished with status=0' "$out"

# --- V: open-vm-tools -----------------------------------------------------------
check_eq "vmtools: the quiesced snapshot succeeds" 0 "$(get V.rc)"
check_eq "vmtools: freeze in name order, the sync driver, thaw in reverse" \
    "10-first freeze,90-last freeze,sync freeze,sync thaw,90-last thaw,10-first thaw," \
    "$(get V.order)"
check_eq "vmtools: the apps held between 10-first and 90-last, and after" \
    "registered,FROZEN,THAWED," "$(get V.app)"
check_eq "vmtools: held while the sync driver froze" \
    "holding apps open-vm-tools" "$(get V.held)"
check_eq "vmtools: a later freeze script fails: the snapshot fails" 1 \
    "$(get V.failrc)"
check_eq "vmtools: freezeFail to the scripts before it, in reverse" \
    "10-first freeze,90-last freeze,10-first freezeFail,vmtoolsd: freeze script 90-last failed," \
    "$(get V.failorder)"
check_eq "vmtools: freezeFail released the apps" \
    "registered,FROZEN,THAWED,FROZEN,THAWED," "$(get V.failapp)"
check_eq "vmtools: nothing held after the failure" "idle -" \
    "$(get V.failafter)"

# --- A: Azure ---------------------------------------------------------------------
check_eq "azure: the pre-script exits 0" 0 "$(get A.pre)"
check_eq "azure: held for the extension" "holding apps azure-vmbackup" \
    "$(get A.held)"
check_eq "azure: the post-script exits 0" 0 "$(get A.post)"
check_eq "azure: FROZEN, then THAWED" "registered,FROZEN,THAWED," \
    "$(get A.app)"
check_eq "azure: nothing held after" "idle -" "$(get A.after)"
check_eq "azure: lease 1 s: the pre-script exits 0" 0 "$(get A.lpre)"
check_eq "azure: ... the post-script after it fails (1)" 1 "$(get A.lpost)"
check "azure: ... saying the lease expired" \
    grep -q "^A.lpost.out .*lease expired" "$out"
check_eq "azure: ... the history says so too" \
    "failed True True the lease expired before RELEASE" "$(get A.lhist)"
check_eq "azure: an app vetoes: the pre-script fails (1)" 1 "$(get A.vpre)"
check "azure: ... naming the app and its reason" \
    grep -q "^A.vpre.out .*nope.*not now" "$out"
check_eq "azure: ... the post-script has nothing to release (0)" 0 \
    "$(get A.vpost)"
check_eq "azure: a slow app: the pre-script outlasts timeoutInSeconds" \
    timeout "$(get A.spre)"
check_eq "azure: ... the post-script calls the hold off (0)" 0 \
    "$(get A.spost)"
check_eq "azure: ... and nothing stays held" "idle -" "$(get A.safter)"
check_eq "azure: ... the app was told FREEZE, then ABORT (THAWED)" \
    "registered,FROZEN,THAWED," "$(get A.sapp)"
check_eq "azure: no daemon: the pre-script warns (2)" 2 "$(get A.npre)"
check_eq "azure: no daemon: the post-script warns (2)" 2 "$(get A.npost)"

check_eq "hold --label json: held, labelled json, released" \
    "0 HELD|holding apps json|0" \
    "$(get L.hold)|$(get L.held)|$(get L.release)"

# --- H: the host during a hold -----------------------------------------------------
check_eq "hold, hot_backup_veto=ok: HOT_BACKUP S_OK, FREEZE refused" \
    "HOT_BACKUP:S_OK,FREEZE:E_FAIL,THAW:E_FAIL" "$(get Hok.results)"
check "... the log says why, naming the hold" \
    grep -q "^Hok.log .*FREEZE refused: the applications are held for another backup agent (hv_vss_ctl hold" "$out"
check_eq "hold, hot_backup_veto=fail: HOT_BACKUP E_FAIL" \
    "HOT_BACKUP:E_FAIL,FREEZE:E_FAIL,THAW:E_FAIL" "$(get Hfail.results)"
finish
