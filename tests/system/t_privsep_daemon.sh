#!/bin/sh
# t_privsep_daemon: hv_vss_daemon itself with privsep = yes, under
# hv_vss_sim, in the sandbox (/mnt/a a loop-mounted ext4):
#  (a) in the frozen window, the engine runs as the unprivileged user,
#      CapEff 0, NoNewPrivs 1, Seccomp 2, chrooted to run_dir/empty; the
#      parent (root) and the guard have their filters (Seccomp 2);
#  (b) the engine killed -9 in the frozen window: /mnt/a thawed by the
#      parent at once, another engine started and told so, which answers
#      the host's THAW for that snapshot E_FAIL (taken after the thaw, it
#      may be inconsistent), and the next backup good;
#  (c) the same with the engine's forbidden system call (SIGUSR2 in the
#      test build, build/tests/hv_vss_daemon_trig): it dies by SIGSYS.
# privsep_daemon_inner.sh runs inside the sandbox.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd mkfs.ext4 fsfreeze python3
workdir
if id -u hvvss >/dev/null 2>&1; then USER_=hvvss; else USER_=nobody; fi
mkimage ext4 32M "$WORK/a.img" || bail "mkfs.ext4"

run() {	# kill-how daemon
	"$SANDBOX" -t 60 -r "$TOP" -r "$B" -e B="$B" -e USER_="$USER_" \
	    -e KILL="$1" -e DAEMON="$2" \
	    -m "$WORK/a.img:/mnt/a" -- \
	    sh "$TOP/tests/system/privsep_daemon_inner.sh" >"$WORK/out.$1" 2>&1
}

uid=$(id -u "$USER_")
for how in kill sys; do
	daemon=$B/hv_vss_daemon
	if [ $how = sys ]; then
		daemon=$B/tests/hv_vss_daemon_trig
		[ -x "$daemon" ] || { fail "no $daemon (make)"; continue; }
	fi
	run $how "$daemon"
	rc=$?
	out=$WORK/out.$how
	get() { sed -n "s/^$1=//p" "$out" | head -n 1; }
	sed 's/^/# /' "$out"
	check_eq "$how: sandbox exit" 0 "$rc"
	if [ $how = kill ]; then
		check_eq "engine's uids (real, effective, saved, fs)" \
		    "$uid $uid $uid $uid" "$(get engine.uid)"
		check_eq "engine's CapEff" 0000000000000000 "$(get engine.capeff)"
		check_eq "engine's NoNewPrivs" 1 "$(get engine.nnp)"
		check_eq "engine's Seccomp" 2 "$(get engine.seccomp)"
		check_eq "engine's root" /run/hv_vss/empty "$(get engine.root)"
		check_eq "parent is root" 0 "$(get parent.uid)"
		check_eq "parent's Seccomp" 2 "$(get parent.seccomp)"
		check_eq "guard's Seccomp" 2 "$(get guard.seccomp)"
		check_eq "engine killed -9: its death named" "killed by SIGKILL" \
		    "$(get death)"
	else
		check_eq "engine's forbidden call: its death named" \
		    "killed by SIGSYS" "$(get death)"
	fi
	check "$how: another engine started" \
	    test -n "$(get engine.pid2)" -a "$(get engine.pid2)" != "$(get engine.pid1)"
	check_eq "$how: nothing left frozen once it died" no "$(get left_frozen)"
	check_eq "$how: the new engine was told its predecessor died frozen" 1 \
	    "$(get told)"
	check_eq "$how: so the host's THAW for that snapshot failed" \
	    "HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:E_FAIL" "$(get thaw1)"
	check_eq "$how: two engines started in all" 2 "$(get restarted)"
	check_eq "$how: the next backup good" ok "$(get backup2)"
	check_eq "$how: nothing frozen at the end" no "$(get left_frozen_end)"
done
finish
