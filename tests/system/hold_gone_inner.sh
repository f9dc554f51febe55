#!/bin/sh
# hold_gone_inner.sh: the part of t_hold_gone.sh inside the sandbox
# (/mnt/a its own ext4).  Prints "key=value" lines; nothing here decides.
# Detached holds whose registered apps go: many at once (the names do
# not fit), one going and another registering, two releases at once,
# a release after the hold's lease, an app going in the freeze stage.
set -u
CTL=$B/hv_vss_ctl
DEV=/dev/vmbus/hv_vss
say() { echo "$1=$2"; }
app() {	# tag [delay]: start journal_app.py, wait for its registration
	python3 "$TOP/tests/system/journal_app.py" /run/hv_vss/app.sock \
	    /mnt/a/$1.txt /tmp/$1.app ${2:-} 2>/tmp/$1.err &
	echo $! >/tmp/$1.pid
	for _i in $(seq 1 50); do
		grep -q registered /tmp/$1.app 2>/dev/null && break
		sleep 0.1
	done
}
gone() { kill -9 $(cat /tmp/$1.pid); wait $(cat /tmp/$1.pid) 2>/dev/null; }
release() {	# key
	"$CTL" release >/tmp/$1.out 2>/tmp/$1.err
	say $1.rc $?
	say $1.err "$(tr '\n' ' ' </tmp/$1.err)"
}

rm -f /run/hv_vss/ctl.sock /run/hv_vss/app.sock
$B/hv_vss_sim -s sleep=300 $DEV -- $B/hv_vss_daemon -n -d -c /dev/null \
    -o mounts=/mnt/a -o app_max_clients=64 >/tmp/sim.json 2>/tmp/daemon.log &
sim=$!
for _i in $(seq 1 100); do
	[ -S /run/hv_vss/ctl.sock ] && [ -S /run/hv_vss/app.sock ] && break
	sleep 0.1
done

# many apps gone while held
for i in $(seq 1 30); do app many$i; done
"$CTL" hold --lease 60 --label many >/dev/null 2>&1
say many.hold.rc $?
for i in $(seq 1 30); do gone many$i; done
sleep 0.5
release many

# one gone, another registered meanwhile
app one
"$CTL" hold --lease 60 --label swap >/dev/null 2>&1
say swap.hold.rc $?
gone one
app two
sleep 0.3
release swap
gone two

# two releases at once, an app gone
app three
"$CTL" hold --lease 60 --label twice >/dev/null 2>&1
say twice.hold.rc $?
gone three
sleep 0.3
release twice.a &
r1=$!
release twice.b &
r2=$!
wait $r1 $r2
"$CTL" status >/tmp/twice.status 2>&1
say twice.status "$(head -n 1 /tmp/twice.status)"

# a release after the hold's lease
app four
"$CTL" hold --lease 1 --label lease >/dev/null 2>&1
say lease.hold.rc $?
sleep 2
release lease
gone four

# an app gone while the hold waits for it (FROZEN after 3 s)
app five 3
"$CTL" hold --lease 60 --label stage >/dev/null 2>/tmp/stage.hold.err &
h=$!
sleep 1
gone five
wait $h
say stage.hold.rc $?
say stage.hold.err "$(tr '\n' ' ' </tmp/stage.hold.err)"
release stage

"$CTL" hold --lease 60 --label after >/dev/null 2>&1
say after.hold.rc $?
release after

kill "$sim"
wait "$sim"
say alive "$(grep -c '[0-9] exiting$' /tmp/daemon.log)"
grep -e 'hold' -e 'HOLD' -e 'RELEASE' -e 'gone' /tmp/daemon.log | sed 's/^/log /'
exit 0
