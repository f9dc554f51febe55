#!/bin/sh
# privsep_daemon_inner.sh: the part of t_privsep_daemon.sh inside the
# sandbox (/mnt/a its own ext4).  Prints "key=value" lines; nothing here
# decides.  Needs B, USER_ (the engine's user) and DAEMON (the daemon's
# program: hv_vss_daemon, or the test build with the SIGSYS trigger).
set -u
DEV=/dev/vmbus/hv_vss
OUT=/tmp/keys
say() { echo "$1=$2" >>"$OUT"; }
: >"$OUT"
rm -f /run/hv_vss/ctl.sock /run/hv_vss/app.sock

# In backup 1's frozen window: look at the three processes, then kill
# the engine (-9, or the forbidden call with $1 = sys), and see what is
# left frozen once the parent has dealt with it.
cat >/tmp/window.sh <<EOF2
#!/bin/sh
[ "\$HVVSS_SIM_BACKUP" = 1 ] || exit 0
. /tmp/funcs.sh
parent=\$(cat /tmp/daemon.pid)
engine=\$(engine_of \$parent)
guard=\$(ps -o pid=,comm= --ppid \$parent | awk '\$2 == "hv_vss_guard" {print \$1}')
say engine.uid "\$(field \$engine Uid | awk '{print \$1, \$2, \$3, \$4}')"
say engine.capeff "\$(field \$engine CapEff)"
say engine.nnp "\$(field \$engine NoNewPrivs)"
say engine.seccomp "\$(field \$engine Seccomp)"
say engine.root "\$(readlink /proc/\$engine/root)"
say parent.uid "\$(field \$parent Uid | awk '{print \$1}')"
say parent.seccomp "\$(field \$parent Seccomp)"
say guard.seccomp "\$(field \$guard Seccomp)"
say engine.pid1 "\$engine"
if [ "$KILL" = sys ]; then kill -USR2 \$engine; else kill -9 \$engine; fi
# the parent thaws at once; the engine is restarted after 100 ms
for i in \$(seq 1 100); do
	e2=\$(engine_of \$parent)
	[ -n "\$e2" ] && [ "\$e2" != "\$engine" ] && break
	sleep 0.05
done
say engine.pid2 "\$e2"
if fsfreeze -u /mnt/a 2>/dev/null; then say left_frozen yes; else say left_frozen no; fi
exit 0
EOF2
# the helpers of window.sh: the engine is the daemon's child that is
# not the guard
{
	echo "OUT=$OUT"
	echo 'say() { echo "$1=$2" >>"$OUT"; }'
	echo 'engine_of() { for p in $(ps -o pid= --ppid "$1"); do case $(cat /proc/$p/comm 2>/dev/null) in hv_vss_daemon*) echo "$p" ;; esac; done; }'
	echo 'field() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" | head -n 1; }'
} >/tmp/funcs.sh

# two backups: the first one's engine dies in its frozen window, the
# second must be good
$B/hv_vss_sim -n 2 -s hot,freeze,exec,sleep=0.5,thaw,sleep=1 \
    -x "sh /tmp/window.sh" $DEV -- \
    sh -c "echo \$\$ >/tmp/daemon.pid; exec $DAEMON -n -d -c /dev/null \
    -o mounts=/mnt/a -o privsep=yes -o privsep_user=$USER_" \
    >/tmp/sim.json 2>/tmp/daemon.log
say sim.rc $?
say backup1 "$(python3 -c 'import json,sys; r=json.load(open("/tmp/sim.json")); print(r["backups"][0]["verdict"])')"
say thaw1 "$(python3 -c 'import json,sys; r=json.load(open("/tmp/sim.json")); print(",".join(q["op"] + ":" + q["result"] for q in r["backups"][0]["requests"]))')"
say told "$(grep -c 'the engine or daemon before this one died with 1 filesystem frozen, thawed since: the host.s THAW for that snapshot, if it comes, will be answered E_FAIL' /tmp/daemon.log)"
say backup2 "$(python3 -c 'import json,sys; r=json.load(open("/tmp/sim.json")); print(r["backups"][1]["verdict"])')"
say restarted "$(grep -c 'privsep: engine pid [0-9]* started' /tmp/daemon.log)"
say death "$(sed -n 's/.*privsep: the engine (pid [0-9]*) \(killed by SIG[A-Z]*\).*/\1/p' /tmp/daemon.log | head -n 1)"
if fsfreeze -u /mnt/a 2>/dev/null; then say left_frozen_end yes; else say left_frozen_end no; fi
cat "$OUT"
sed 's/^/log /' /tmp/daemon.log
exit 0
