#!/bin/sh
# adapters_inner.sh: the part of t_adapters.sh that runs inside the
# sandbox, with /mnt/a a loop-mounted ext4 of its own, the only
# filesystem with a device it can see (checked first: qemu-ga freezes
# every such filesystem it sees).  Needs B, TOP; fd 3 and 4 are the
# frozen-window channel (lib.sh's run_with_window).  Prints "key=value"
# lines for t_adapters.sh; nothing here decides.
#
#   Q  the real qemu-ga (Debian's) on a unix socket, the adapter as its
#      fsfreeze hook, driven with guest-fsfreeze-freeze / -thaw as a host
#      would, strace timing its FIFREEZE and FITHAW; a journal application
#      registered with hv_vss_daemon; the image copied while frozen.
#   V  open-vm-tools' script runner, as scriptOps.c runs the scripts: a
#      good run, and a later script failing at freeze (freezeFail).
#   A  Azure's ScriptRunner, as ScriptRunner.py runs pre and post
#      scripts: a good run, a veto, no daemon, the lease, and a pre-script
#      that outlasts timeoutInSeconds.
#   H  the host during a hold, under both hot_backup_veto settings.
set -u
CTL=$B/hv_vss_ctl
AD=$TOP/adapters
DEV=/dev/vmbus/hv_vss
DAEMON="$B/hv_vss_daemon -n -d -c /dev/null -o mounts=/mnt/a"
say() { echo "$1=$2"; }

# --- the mount table: only /mnt/a has a device ----------------------------
python3 - >/tmp/mounts.bad <<'EOF'
for line in open("/proc/self/mountinfo"):
    f = line.split()
    major = int(f[2].split(":")[0])
    fstype = f[f.index("-") + 1]
    # qemu-ga's build_fs_mount_list(): a device, or btrfs
    if (major != 0 or fstype == "btrfs") and f[4] != "/mnt/a":
        print(f[4], fstype, f[2])
EOF
if [ -s /tmp/mounts.bad ]; then
	say mounts.safe no
	sed 's/^/mounts.bad /' /tmp/mounts.bad
	exit 1
fi
say mounts.safe yes
say mounts.devices "$(awk '{split($3, m, ":"); if (m[1] != 0) print $5}' \
    /proc/self/mountinfo | tr '\n' ' ')"

cat >/tmp/adapters.conf <<EOF
hv_vss_ctl=$CTL
qemu_lease=60
vmware_lease=60
azure_lease=60
EOF
HVVSS_ADAPTERS_CONF=/tmp/adapters.conf
export HVVSS_ADAPTERS_CONF

wait_for() {	# file pattern
	for _i in $(seq 1 100); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

start_daemon() {	# name [daemon options]
	_n=$1
	shift
	rm -f /run/hv_vss/ctl.sock /run/hv_vss/app.sock
	$B/hv_vss_sim -s sleep=600 $DEV -- $DAEMON "$@" \
	    >/tmp/$_n.sim.json 2>/tmp/$_n.daemon.log &
	sim=$!
	for _i in $(seq 1 100); do
		[ -S /run/hv_vss/ctl.sock ] && [ -S /run/hv_vss/app.sock ] &&
		    return 0
		sleep 0.1
	done
	say "$_n.daemon" "not started"
}

stop_daemon() {
	kill "$sim" 2>/dev/null
	wait "$sim" 2>/dev/null
}

start_app() {	# name [freeze delay]
	python3 "$TOP/tests/system/journal_app.py" /run/hv_vss/app.sock \
	    "/mnt/a/$1.txt" "/tmp/$1.app" ${2:-} 2>/tmp/$1.app.err &
	app=$!
	wait_for "/tmp/$1.app" registered || say "$1.app" "not registered"
}

# The field of the app's log line: FROZEN time, FROZEN lines, THAWED time.
applog() {	# name kind field
	awk -v k="$2" -v f="$3" '$1 == k { print $f; exit }' "/tmp/$1.app"
}

state() {	# name: the daemon's state and hold, as status --json says
	"$CTL" status --json >/tmp/$1.status 2>&1
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); h=d["hold"]; print(d["state"], h["label"] if h else "-")' \
	    /tmp/$1.status 2>/dev/null || echo "unreadable"
}

# --- Q: qemu-ga -------------------------------------------------------------
start_daemon Q
start_app Q
sleep 1	# lines on disk, and more in the app's memory
rm -f /tmp/qga.sock
mkdir -p /tmp/qga-state
strace -f -ttt -e trace=ioctl -o /tmp/qga.strace \
    qemu-ga -m unix-listen -p /tmp/qga.sock -t /tmp/qga-state \
    -l /tmp/qga.log -v \
    --fsfreeze-hook="$AD/qemu-fsfreeze-hook" &
strace_pid=$!
for _i in $(seq 1 100); do [ -S /tmp/qga.sock ] && break; sleep 0.1; done
say Q.qga_version "$(qemu-ga -V 2>&1 | head -n 1)"
python3 "$TOP/tests/system/qga_client.py" /tmp/qga.sock \
    guest-fsfreeze-freeze >/tmp/Q.freeze 2>&1
say Q.freeze "$(cut -d' ' -f3- /tmp/Q.freeze)"
# the frozen window: what status says, and the host's copy of the image
say Q.held "$(state Q.held)"
"$CTL" status >/tmp/Q.held.text 2>&1
sed 's/^/Q.status /' /tmp/Q.held.text
(echo late >>/mnt/a/probe && touch /tmp/Q.probe) &
sleep 0.5
[ -e /tmp/Q.probe ] && say Q.frozen no || say Q.frozen yes
echo "frozen 1" >&3
read -r _ans <&4
say Q.window "$_ans"
python3 "$TOP/tests/system/qga_client.py" /tmp/qga.sock \
    guest-fsfreeze-status >/tmp/Q.status 2>&1
say Q.fsstatus "$(cut -d' ' -f3- /tmp/Q.status)"
python3 "$TOP/tests/system/qga_client.py" /tmp/qga.sock \
    guest-fsfreeze-thaw >/tmp/Q.thaw 2>&1
say Q.thaw "$(cut -d' ' -f3- /tmp/Q.thaw)"
wait_for /tmp/Q.app THAWED || say Q.app "no THAW"
wait_for /tmp/Q.probe . 2>/dev/null
[ -e /tmp/Q.probe ] && say Q.landed yes || say Q.landed no
say Q.after "$(state Q.after)"
"$CTL" history >/tmp/Q.hist 2>&1
sed 's/^/Q.history /' /tmp/Q.hist
"$CTL" history --json >/tmp/Q.histj 2>&1
python3 - /tmp/Q.histj <<'EOF'
import json, sys
e = json.load(open(sys.argv[1]))[0]
print("Q.histj=%s %s %s %s %s" % (e["kind"], e["requester"], e["verdict"],
      e["stages_ms"]["apps_freeze"] is not None, e["holder"]))
EOF
# qemu-ga, strace's child (it writes its -f pidfile only with -d)
kill "$(pgrep -P "$strace_pid" -x qemu-ga)" 2>/dev/null
for _i in $(seq 1 50); do kill -0 "$strace_pid" 2>/dev/null || break; sleep 0.1; done
kill "$strace_pid" 2>/dev/null
wait "$strace_pid" 2>/dev/null
# the order: the app's FROZEN, qemu-ga's FIFREEZE, its FITHAW, the THAW
say Q.app_frozen "$(applog Q FROZEN 2)"
say Q.app_lines "$(applog Q FROZEN 3)"
say Q.app_thawed "$(applog Q THAWED 2)"
say Q.fifreeze "$(awk '/FIFREEZE/ && / = 0/ { print $2; exit }' /tmp/qga.strace)"
say Q.fithaw "$(awk '/FITHAW/ && / = 0/ { t = $2 } END { print t }' /tmp/qga.strace)"
sed -n 's/^/Q.strace /p' /tmp/qga.strace | grep -e FIFREEZE -e FITHAW
grep -e 'hold' -e 'RELEASE' -e 'HOLD' /tmp/Q.daemon.log | sed 's/^/Q.log /'
grep -i -e 'fsfreeze' -e 'hook' /tmp/qga.log | sed 's/^/Q.qgalog /'

# Debian's own dispatcher, /etc/qemu/fsfreeze-hook from the package: it
# runs every executable in fsfreeze-hook.d beside it (here a copy in
# /tmp/qemu, with the adapter linked in), logging to
# /var/log/qga-fsfreeze-hook.log
if [ -x /etc/qemu/fsfreeze-hook ]; then
	mkdir -p /tmp/qemu/fsfreeze-hook.d /var/log
	cp /etc/qemu/fsfreeze-hook /tmp/qemu/fsfreeze-hook
	ln -s "$AD/qemu-fsfreeze-hook" /tmp/qemu/fsfreeze-hook.d/50-hvvss
	rm -f /tmp/qga.sock
	qemu-ga -m unix-listen -p /tmp/qga.sock -t /tmp/qga-state \
	    -l /tmp/qga2.log --fsfreeze-hook=/tmp/qemu/fsfreeze-hook &
	qga=$!
	for _i in $(seq 1 100); do [ -S /tmp/qga.sock ] && break; sleep 0.1; done
	python3 "$TOP/tests/system/qga_client.py" /tmp/qga.sock \
	    guest-fsfreeze-freeze >/tmp/Q2.freeze 2>&1
	say Q2.freeze "$(cut -d' ' -f3- /tmp/Q2.freeze)"
	say Q2.held "$(state Q2.held)"
	python3 "$TOP/tests/system/qga_client.py" /tmp/qga.sock \
	    guest-fsfreeze-thaw >/tmp/Q2.thaw 2>&1
	say Q2.thaw "$(cut -d' ' -f3- /tmp/Q2.thaw)"
	sleep 0.5
	say Q2.after "$(state Q2.after)"
	say Q2.app "$(awk '{ print $1 }' /tmp/Q.app | tr '\n' ',')"
	sed 's/^/Q2.hooklog /' \
	    /var/log/qga-fsfreeze-hook.log
	kill "$qga" 2>/dev/null
	wait "$qga" 2>/dev/null
else
	say Q2.freeze "no /etc/qemu/fsfreeze-hook"
fi
kill "$app" 2>/dev/null
stop_daemon

# --- V: open-vm-tools' backup scripts ----------------------------------------
# scriptOps.c: every file of backupScripts.d, strcmp() order, run as the
# command line '"PATH" freeze'; on success the sync driver freezes, then
# '"PATH" thaw' in reverse order; a freeze script that fails stops the
# walk, and the ones before it get '"PATH" freezeFail', in reverse order.
mkdir -p /tmp/bs.d
cat >/tmp/bs.d/10-first <<'EOF'
#!/bin/sh
echo "10-first $1" >>/tmp/V.order
EOF
cat >/tmp/bs.d/90-last <<'EOF'
#!/bin/sh
echo "90-last $1" >>/tmp/V.order
[ "$1" = freeze ] && [ -e /tmp/V.fail ] && exit 1
exit 0
EOF
cp "$AD/vmware-backup-script" /tmp/bs.d/50-hvvss
chmod 755 /tmp/bs.d/*
vmtools() {	# one quiesced snapshot, as vmtoolsd runs it
	_ran=""
	for _s in $(ls /tmp/bs.d | LC_ALL=C sort); do
		if ! sh -c "\"/tmp/bs.d/$_s\" freeze"; then
			for _r in $_ran; do
				sh -c "\"/tmp/bs.d/$_r\" freezeFail"
			done
			echo "vmtoolsd: freeze script $_s failed" >>/tmp/V.order
			return 1
		fi
		_ran="$_s $_ran"
	done
	fsfreeze -f /mnt/a && echo "sync freeze" >>/tmp/V.order
	"$CTL" status --json >/tmp/V.held.json
	fsfreeze -u /mnt/a && echo "sync thaw" >>/tmp/V.order
	for _r in $_ran; do
		sh -c "\"/tmp/bs.d/$_r\" thaw" ||
		    echo "vmtoolsd: thaw script $_r failed" >>/tmp/V.order
	done
}
start_daemon V
start_app V
rm -f /tmp/V.order
vmtools 2>/tmp/V.err
say V.rc $?
sed 's/^/V.err /' /tmp/V.err
# the app's answers in the same sequence
say V.order "$(tr '\n' ',' </tmp/V.order)"
say V.app "$(awk '{ print $1 }' /tmp/V.app | tr '\n' ',')"
say V.held "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["state"], d["hold"]["label"])' /tmp/V.held.json)"
touch /tmp/V.fail
rm -f /tmp/V.order
vmtools
say V.failrc $?
say V.failorder "$(tr '\n' ',' </tmp/V.order)"
say V.failapp "$(awk '{ print $1 }' /tmp/V.app | tr '\n' ',')"
say V.failafter "$(state V.failafter)"
kill "$app" 2>/dev/null
stop_daemon

# --- A: Azure's pre/post scripts ----------------------------------------------
# ScriptRunner.py: ['sh', preScriptLocation] + preScriptParams (the
# template's are two empty strings), stdout and stderr to pipes, polled
# until it exits or timeoutInSeconds passes (then it is left running);
# exit 0 success, 2 warning, other failure.  Then the extension's freeze
# and snapshot, then the post-script the same way.
azure() {	# pre|post timeout: the script's exit code, or "timeout"
	sh "$AD/azure-$1-script" "" "" >/tmp/A.$1.out 2>&1 &
	_p=$!
	_t=0
	while kill -0 "$_p" 2>/dev/null; do
		if [ "$_t" -ge "$(($2 * 10))" ]; then
			echo timeout
			return
		fi
		sleep 0.1
		_t=$((_t + 1))
	done
	wait "$_p"
	echo $?
}
start_daemon A
start_app A
say A.pre "$(azure pre 30)"
sed 's/^/A.pre.out /' /tmp/A.pre.out
say A.held "$(state A.held)"
fsfreeze -f /mnt/a && fsfreeze -u /mnt/a
say A.post "$(azure post 30)"
sed 's/^/A.post.out /' /tmp/A.post.out
say A.app "$(awk '{ print $1 }' /tmp/A.app | tr '\n' ',')"
say A.after "$(state A.after)"
# the lease ends the hold first: the post-script says so
echo azure_lease=1 >>/tmp/adapters.conf
say A.lpre "$(azure pre 30)"
sleep 2
say A.lpost "$(azure post 30)"
sed 's/^/A.lpost.out /' /tmp/A.post.out
"$CTL" history --json >/tmp/A.lhist 2>&1
python3 - /tmp/A.lhist <<'EOF'
import json, sys
h = [e for e in json.load(open(sys.argv[1])) if e["kind"] == "HOLD"][0]
print("A.lhist=%s %s %s %s" % (h["verdict"], h["lease_expired"],
      h["stages_ms"]["frozen"] is not None, h["culprit"]))
EOF
sed -i '$d' /tmp/adapters.conf
kill "$app" 2>/dev/null
wait "$app" 2>/dev/null
# an application that vetoes: the pre-script fails, nothing is held
python3 "$TOP/examples/client.py" --name nope --veto freeze \
    --reason "not now" >/tmp/A.veto.app 2>&1 &
vapp=$!
wait_for /tmp/A.veto.app registered
say A.vpre "$(azure pre 30)"
sed 's/^/A.vpre.out /' /tmp/A.pre.out
say A.vpost "$(azure post 30)"
kill "$vapp" 2>/dev/null
# an application slower than timeoutInSeconds: ScriptRunner walks away,
# the extension freezes and snapshots, then the post-script comes while
# the hold is still being taken: it calls the hold off
start_app A2 4
say A.spre "$(azure pre 1)"
cp /tmp/A.pre.out /tmp/A.spre.out 2>/dev/null
say A.spost "$(azure post 30)"
sleep 5
say A.safter "$(state A.safter)"
say A.sapp "$(awk '{ print $1 }' /tmp/A2.app | tr '\n' ',')"
kill "$app" 2>/dev/null
stop_daemon
# no daemon at all: a warning, the backup goes on
say A.npre "$(azure pre 30)"
say A.npost "$(azure post 30)"

# --- labels: "json" is a label like any other --------------------------------
start_daemon L
"$CTL" hold --lease 5 --label json >/tmp/L.out 2>&1
say L.hold "$? $(cut -d' ' -f1 /tmp/L.out)"
say L.held "$(state L.held)"
"$CTL" release >/dev/null 2>&1
say L.release "$?"
stop_daemon

# --- H: the host during a hold --------------------------------------------
for pol in ok fail; do
	rm -f /run/hv_vss/ctl.sock
	$B/hv_vss_sim -b "$CTL hold --lease 30 --label test" \
	    -s hot,freeze,thaw $DEV -- $DAEMON -o hot_backup_veto=$pol \
	    >/tmp/H$pol.json 2>/tmp/H$pol.log
	say "H$pol.rc" $?
	python3 - "/tmp/H$pol.json" "H$pol" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
print("%s.results=%s" % (sys.argv[2], ",".join("%s:%s" % (q["op"],
      q.get("result", "none")) for b in r["backups"] for q in b["requests"])))
EOF
	grep -e 'refused' -e 'hot_backup_veto' "/tmp/H$pol.log" |
	    sed "s/^/H$pol.log /"
done
exit 0
