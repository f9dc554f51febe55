#!/bin/sh
# hold_conflicts_inner.sh: the part of t_hold_conflicts.sh inside the
# sandbox (/mnt/a its own ext4).  Prints "key=value" lines; nothing here
# decides.  One detached hold, then every other local request a second
# hv_vss_ctl can make while it is held, then its release; then a hold of
# an application that goes (kill -9) before the release.
set -u
CTL=$B/hv_vss_ctl
DEV=/dev/vmbus/hv_vss
say() { echo "$1=$2"; }
hold() {	# name: the state and the hold's label, as status --json says
	"$CTL" status --json >/tmp/$1.json 2>&1
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); h=d["hold"]; print(d["state"], h["label"] if h else "-", h["txid"] if h else "-")' \
	    /tmp/$1.json 2>/dev/null || echo unreadable
}

rm -f /run/hv_vss/ctl.sock /run/hv_vss/app.sock
$B/hv_vss_sim -s sleep=300 $DEV -- $B/hv_vss_daemon -n -d -c /dev/null \
    -o mounts=/mnt/a >/tmp/sim.json 2>/tmp/daemon.log &
sim=$!
for _i in $(seq 1 100); do
	[ -S /run/hv_vss/ctl.sock ] && [ -S /run/hv_vss/app.sock ] && break
	sleep 0.1
done

"$CTL" hold --lease 60 --label first >/dev/null 2>&1
say first.rc $?
say first.status "$(hold first)"
"$CTL" hold --lease 60 --label second >/dev/null 2>&1
say second.rc $?
say after_second.status "$(hold after_second)"
"$CTL" freeze --timeout 5 >/dev/null 2>&1
say freeze.rc $?
"$CTL" thaw >/dev/null 2>&1
say thaw.rc $?
say after_all.status "$(hold after_all)"
"$CTL" release >/dev/null 2>&1
say release.rc $?
"$CTL" history --json >/tmp/hist.json 2>&1
say history "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(" ".join("%s:%s:%s:%s" % (e["txid"], e["kind"], e["verdict"], e["culprit"]) for e in d))' /tmp/hist.json 2>&1)"

# an application held, then gone before the release
python3 "$TOP/tests/system/journal_app.py" /run/hv_vss/app.sock \
    /mnt/a/j.txt /tmp/j.app 2>/tmp/j.err &
app=$!
for _i in $(seq 1 50); do
	grep -q registered /tmp/j.app 2>/dev/null && break
	sleep 0.1
done
"$CTL" hold --lease 60 --label gone >/dev/null 2>&1
say gone.hold.rc $?
say gone.frozen "$(grep -c '^FROZEN' /tmp/j.app)"
kill -9 "$app"
wait "$app" 2>/dev/null
sleep 0.5
"$CTL" release >/dev/null 2>/tmp/gone.err
say gone.release.rc $?
say gone.release.err "$(cat /tmp/gone.err)"
"$CTL" history -n 1 --json >/tmp/hist2.json 2>&1
say gone.history "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(" ".join("%s:%s:%s:%s" % (e["txid"], e["kind"], e["verdict"], e["culprit"]) for e in d))' /tmp/hist2.json 2>&1)"
"$CTL" hold --lease 60 --label after >/dev/null 2>&1
say after.hold.rc $?
"$CTL" release >/dev/null 2>&1
say after.release.rc $?

kill "$sim"
wait "$sim"
say alive "$(grep -c '[0-9] exiting$' /tmp/daemon.log)"
grep -e 'hold' -e 'HOLD' -e 'refused' /tmp/daemon.log | sed 's/^/log /'
exit 0
