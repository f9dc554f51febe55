#!/bin/sh
# t_ctl_client: hv_vss_ctl alone, against a stand-in for the daemon's
# control socket (ctl_fake.py): what it sends for each subcommand, that
# replies reach stdout byte for byte (a 300 KB JSON line, payload lines
# "OK", "ERR ...", "FROZEN 1", "# ..." that are only payload), progress
# only on request, the exit statuses, protocol 2 itself (the hello, an
# old daemon or a newer one, an old client, a line without a marker, a
# daemon silent longer than protocol 1's 30 s guess before its final
# line),
# and every way out of a snapshot: CMD's status, a signal ending CMD, an
# overrun (SIGTERM, then SIGKILL), a signal to hv_vss_ctl, hv_vss_ctl
# killed -9, the daemon ending the hold early.  Nothing is frozen here:
# t_ctl.sh runs hv_vss_ctl against the real daemon in the sandbox.
. "$(dirname "$0")/lib.sh"
need_cmd python3 mandoc col setpriv
workdir
CTL=$B/hv_vss_ctl
FAKE="python3 $TOP/tests/system/ctl_fake.py"
[ -x "$CTL" ] || bail "no $CTL (make)"
chmod 0755 "$WORK"
S=$WORK/ctl.sock
LOG=$WORK/fake.log
fake_pid=

fake() {	# mode: (re)start the fake daemon
	stop_fake
	rm -f "$S" "$WORK/fake.pid"
	: >"$LOG"
	$FAKE --socket "$S" --log "$LOG" --mode "$1" \
	    --pidfile "$WORK/fake.pid" &
	fake_pid=$!
	for _i in $(seq 1 50); do
		[ -s "$WORK/fake.pid" ] && return 0
		sleep 0.1
	done
	bail "ctl_fake.py did not start"
}

stop_fake() {
	[ -n "$fake_pid" ] || return 0
	kill "$fake_pid" 2>/dev/null
	wait "$fake_pid" 2>/dev/null
	fake_pid=
}

wait_for() {	# file [tenths]: until it exists and is not empty
	for _i in $(seq 1 "${2:-50}"); do
		[ -s "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

gone() {	# pidfile: that process no longer exists
	! kill -0 "$(cat "$1")" 2>/dev/null
}

ctl() {		# args: run hv_vss_ctl on the fake, output in $WORK/out, err
	"$CTL" -s "$S" "$@" >"$WORK/out" 2>"$WORK/err" </dev/null
	rc=$?
}

# The two cases that wait 30 s out (a daemon slower than protocol 1's
# guess, one that never answers) run in the background from here, each
# against its own fake, while the others run; their checks are below, in
# their place.  NAME.rc: hv_vss_ctl's exit status and how long it took.
bg_case() {	# name mode hv_vss_ctl-args
	_n=$1
	_m=$2
	shift 2
	(
		$FAKE --socket "$WORK/$_n.sock" --log "$WORK/$_n.log" \
		    --mode "$_m" --pidfile "$WORK/$_n.pid" &
		_f=$!
		wait_for "$WORK/$_n.pid"
		_t0=$(now_ms)
		"$CTL" -s "$WORK/$_n.sock" "$@" >"$WORK/$_n.out" \
		    2>"$WORK/$_n.err" </dev/null
		_rc=$?
		kill "$_f"
		wait "$_f"
		echo "$_rc $(($(now_ms) - _t0))" >"$WORK/$_n.rc"
	) &
}
bg_case slow slow -v plan
slow_job=$!
bg_case silent silent status
silent_job=$!

# --- usage: the table makes usage(), which is the manual's SYNOPSIS -----
"$CTL" >/dev/null 2>"$WORK/usage"
check_eq "no command: exit 2" 2 "$?"
mandoc -Tascii -O width=300 "$TOP/ctl/hv_vss_ctl.8" | col -b |
    sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed '1d;$d' |
    sed 's/^ *//' | grep -v '^$' | tr -s ' ' >"$WORK/synopsis"
sed 's/^usage: //; s/^ *//' "$WORK/usage" | tr -s ' ' >"$WORK/usage.n"
check "usage() equals the SYNOPSIS of hv_vss_ctl.8, line for line" \
    cmp -s "$WORK/synopsis" "$WORK/usage.n"
[ "$nfail" -eq 0 ] || diff "$WORK/synopsis" "$WORK/usage.n" | sed 's/^/# /'
check "hv_vss_ctl.8 is mandoc -Tlint clean" \
    mandoc -Tlint -W warning "$TOP/ctl/hv_vss_ctl.8"
"$CTL" -h >"$WORK/help" 2>&1
check_eq "-h: exit 0" 0 "$?"
check "-h: the synopsis and each command's help" \
    grep -q '^  snapshot  freeze, run command, thaw' "$WORK/help"

for bad in "frobnicate" "status --jsn" "status extra" "history -n x" \
    "history -n 0" "freeze --timeout 0" "freeze --timeout soon" \
    "freeze --timeout 99999" "thaw now" "snapshot" "snapshot --" \
    "snapshot --timeout -1 -- true" "-x status"; do
	# shellcheck disable=SC2086
	"$CTL" -s "$WORK/none" $bad >/dev/null 2>"$WORK/err"
	rc=$?
	if [ "$rc" -eq 2 ] && grep -q '^usage: hv_vss_ctl' "$WORK/err"; then
		pass "usage error: '$bad' exits 2 with the usage"
	else
		fail "usage error: '$bad': exit $rc, $(head -n 1 "$WORK/err")"
	fi
done
"$CTL" -s "$WORK/none" history -n x >/dev/null 2>"$WORK/err"
check_eq "a subcommand's usage error shows that subcommand's line" \
    "usage: hv_vss_ctl [-v] [-s socket] history [-n count] [--json]" \
    "$(grep '^usage' "$WORK/err")"

# --- cannot connect: exit 3, the socket named ------------------------------
ctl_none() { "$CTL" -s "$WORK/none" status 2>&1 >/dev/null; }
msg=$(ctl_none)
check_eq "no daemon: exit 3" 3 "$(ctl_none >/dev/null; echo $?)"
check_eq "no daemon: says which socket and asks whether it runs" \
    "hv_vss_ctl: cannot connect to $WORK/none: No such file or directory (is hv_vss_daemon running?)" \
    "$msg"
long=$WORK/$(printf 'x%.0s' $(seq 1 120))
"$CTL" -s "$long" status >/dev/null 2>"$WORK/err"
check_eq "a socket path too long for sun_path: exit 3" 3 "$?"
check "... and said so" grep -q 'socket path too long' "$WORK/err"
: >"$WORK/plainfile"
"$CTL" -s "$WORK/plainfile" status >/dev/null 2>"$WORK/err"
check_eq "a file that is no socket: exit 3" 3 "$?"

# --- the read-only subcommands: request lines, replies through ----------
fake normal
ctl status
check_eq "status: exit 0" 0 "$rc"
check_eq "status: sends 'status'" "req status" "$(cat "$LOG")"
check_eq "status: the payload on stdout, the final OK not" \
    "hv_vss_daemon 0.1.0|state:   idle|device:  /dev/vmbus/hv_vss, connected" \
    "$(tr '\n' '|' <"$WORK/out" | sed 's/|$//')"
check_eq "status: nothing on stderr" "" "$(cat "$WORK/err")"
: >"$LOG"
ctl status --json
check_eq "status --json: sends 'status json'" "req status json" "$(cat "$LOG")"
check_eq "status --json: the document as is, parsed by python3" "idle db" \
    "$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["state"], d["apps"][0]["name"])' <"$WORK/out")"
"$CTL" -s "$S" status --json | python3 -m json.tool >/dev/null
check_eq "status --json | python3 -m json.tool" 0 "$?"
: >"$LOG"
ctl plan --json
python3 - "$WORK/out" >"$WORK/py" <<'EOF'
import json, sys
raw = open(sys.argv[1], "rb").read()
d = json.loads(raw)
print(len(raw), len(d["filesystems"]), d["filesystems"][-1]["mountpoint"])
EOF
check_eq "plan --json: a 300 KB line streamed through whole" \
    "294018 6000 /mnt/m05999" "$(cat "$WORK/py")"
ctl plan
printf '%s\n' "freeze, in this order:" "OK" "ERR not the end" \
    "# not progress: payload" "#" "FROZEN 1" "HVVSS-CTL 2" "|" "" "" \
    "thaw: the exact reverse." >"$WORK/plan.want"
check "plan: payload lines 'OK', 'ERR ...', '# ...', 'FROZEN 1', the greeting, '|', empty: all payload, in order; the final OK not" \
    cmp -s "$WORK/plan.want" "$WORK/out"
cmp -s "$WORK/plan.want" "$WORK/out" ||
    diff "$WORK/plan.want" "$WORK/out" | sed 's/^/# /'
check_eq "plan: exit 0" 0 "$rc"
check_eq "plan: a '# ' line is progress: not on stdout, and without -v or a tty not on stderr" \
    "" "$(cat "$WORK/err")"
"$CTL" -v -s "$S" plan >/dev/null 2>"$WORK/err"
check_eq "plan -v: the progress line on stderr" "# planning" \
    "$(cat "$WORK/err")"
: >"$LOG"
ctl history
ctl history --json
ctl history -n 5 --json
check_eq "history -n 5 --json: the count on stdout" '{"asked": "5"}' \
    "$(cat "$WORK/out")"
ctl history -n 1000
ctl history --json -n 2
check_eq "history: requests 'history', 'history json', 'history N [json]', N at most 64" \
    "req history|req history json|req history 5 json|req history 64|req history 2 json" \
    "$(tr '\n' '|' <"$LOG" | sed 's/|$//')"

# --- freeze, thaw: progress, ERR ----------------------------------------------
: >"$LOG"
ctl freeze
check_eq "freeze: exit 0" 0 "$rc"
ctl freeze --timeout 2.5
"$CTL" -v -s "$S" freeze --timeout 90 >"$WORK/out" 2>"$WORK/err"
check_eq "freeze: sends 'freeze <ms>', 60 s by default" \
    "req freeze 60000|req freeze 2500|req freeze 90000" \
    "$(tr '\n' '|' <"$LOG" | sed 's/|$//')"
check_eq "freeze -v: the daemon's progress on stderr" \
    "# freezing for 90000 ms" "$(cat "$WORK/err")"
: >"$LOG"
ctl thaw
check_eq "thaw: sends 'thaw'" "req thaw" "$(cat "$LOG")"
check_eq "thaw answered ERR: exit 1" 1 "$rc"
check_eq "thaw answered ERR: the reason on stderr" \
    "hv_vss_ctl: nothing is frozen" "$(cat "$WORK/err")"

# --- hold, release ---------------------------------------------------------
: >"$LOG"
ctl hold
check_eq "hold: exit 0" 0 "$rc"
check_eq "hold: the daemon's HELD line on stdout" "HELD 7 1765000000 1765000060" \
    "$(cat "$WORK/out")"
ctl hold --lease 2.5 --label qemu-ga
ctl hold --label 'two words'
check_eq "hold --label with a space: exit 2" 2 "$rc"
ctl hold --lease 3601
check_eq "hold --lease past an hour: exit 2" 2 "$rc"
ctl hold --lease 0
check_eq "hold --lease 0: exit 2" 2 "$rc"
check_eq "hold: sends 'hold-apps <ms> [label]', 60 s by default, nothing bad" \
    "req hold-apps 60000|req hold-apps 2500 qemu-ga" \
    "$(tr '\n' '|' <"$LOG" | sed 's/|$//')"
: >"$LOG"
ctl release
check_eq "release: sends 'release-apps'" "req release-apps" "$(cat "$LOG")"
check_eq "release answered ERR: exit 1, the reason on stderr" \
    "1 hv_vss_ctl: the hold's lease expired" "$rc $(cat "$WORK/err")"

# --- snapshot -------------------------------------------------------------
: >"$LOG"
ctl snapshot -- sh -c 'echo "cmd out"; echo "cmd err" >&2; exit 7'
check_eq "snapshot: exit status of CMD (7)" 7 "$rc"
check_eq "snapshot: CMD's stdout inherited" "cmd out" "$(cat "$WORK/out")"
check_eq "snapshot: CMD's stderr inherited, no progress without -v" \
    "cmd err" "$(cat "$WORK/err")"
check_eq "snapshot: 'hold <timeout + 5 s>', then 'release' after CMD" \
    "req hold 65000|line release|released" \
    "$(tr '\n' '|' <"$LOG" | sed 's/|$//')"
"$CTL" -v -s "$S" snapshot --timeout 10 -- true >"$WORK/out" 2>"$WORK/err"
check_eq "snapshot -- true: exit 0" 0 "$?"
sed 's/[0-9][0-9]* ms/N ms/' "$WORK/err" >"$WORK/err.n"
check_eq "snapshot -v: the daemon's progress and its own, in order" \
    "# freezing (timeout 10 s)|# frozen 1 filesystem|# frozen (txn 42) in N ms|# running true|# thawed 1 filesystem|# thawed in N ms" \
    "$(tr '\n' '|' <"$WORK/err.n" | sed 's/|$//')"
ctl snapshot -- sh -c 'kill -USR1 $$'
check_eq "snapshot: CMD killed by SIGUSR1: exit 128+10" 138 "$rc"
ctl snapshot -- "$WORK/no-such-command"
check_eq "snapshot: CMD not found: 127" 127 "$rc"
check "snapshot: ... and thawed all the same" \
    sh -c "tail -n 1 '$LOG' | grep -qx released"
ctl snapshot -- "$WORK/plainfile"
check_eq "snapshot: CMD not executable: 126" 126 "$rc"

# CMD starts with the signal mask and dispositions hv_vss_ctl was given,
# not those of its own signal handling (handlers and a self-pipe):
# nothing blocked, nothing caught; and a signal ignored from the start
# (a background job's SIGINT) is ignored in CMD too, while hv_vss_ctl
# still ends on it ("SIGINT to hv_vss_ctl" below)
ctl snapshot -- cat /proc/self/status
check_eq "snapshot: CMD blocks and catches no signal" \
    "SigBlk:	0000000000000000 SigCgt:	0000000000000000" \
    "$(grep -E '^Sig(Blk|Cgt)' "$WORK/out" | tr '\n' ' ' | sed 's/ $//')"
(
	trap '' INT
	exec "$CTL" -s "$S" snapshot -- cat /proc/self/status
) >"$WORK/out" 2>"$WORK/err" </dev/null
ign=$(sed -n 's/^SigIgn:[[:space:]]*//p' "$WORK/out")
check "snapshot, SIGINT ignored from the start: CMD has it ignored too (SigIgn $ign)" \
    test $((0x${ign:-0} & 2)) -eq 2

# an overrun: CMD ignores SIGTERM, so it takes the SIGKILL 2 s later
: >"$LOG"
rm -f "$WORK/cmd.pid"
t0=$(now_ms)
ctl snapshot --timeout 1 -- sh -c \
    'echo $$ >"$0"; trap "" TERM; sleep 60 & echo $! >>"$0"; wait' \
    "$WORK/cmd.pid"
t=$(($(now_ms) - t0))
check_eq "overrun: exit 124" 124 "$rc"
check "overrun: 1 s, then SIGTERM ignored, SIGKILL after 2 s (took $t ms)" \
    test "$t" -ge 2900 -a "$t" -lt 6000
check "overrun: CMD and its child are gone (the whole group killed)" \
    sh -c "! kill -0 $(tr '\n' ' ' <"$WORK/cmd.pid") 2>/dev/null"
check_eq "overrun: released" "req hold 6000|line release|released" \
    "$(tr '\n' '|' <"$LOG" | sed 's/|$//')"
check "overrun: said so" grep -q 'overran the timeout (1 s)' "$WORK/err"
ctl snapshot --timeout 0.5 -- sleep 30
check_eq "overrun of a CMD that ends on SIGTERM: 124" 124 "$rc"

# a signal to hv_vss_ctl: release, then end CMD, exit 128+signal
for sig in INT TERM HUP; do
	: >"$LOG"
	rm -f "$WORK/cmd.pid"
	"$CTL" -s "$S" snapshot -- sh -c 'echo $$ >"$0"; exec sleep 60' \
	    "$WORK/cmd.pid" >"$WORK/out" 2>"$WORK/err" </dev/null &
	p=$!
	wait_for "$WORK/cmd.pid" || fail "SIG$sig: CMD never started"
	kill -"$sig" "$p"
	wait "$p"
	rc=$?
	case $sig in INT) n=2 ;; TERM) n=15 ;; HUP) n=1 ;; esac
	check_eq "SIG$sig to hv_vss_ctl: exit 128+$n" $((128 + n)) "$rc"
	check_eq "SIG$sig to hv_vss_ctl: released" \
	    "req hold 65000|line release|released" \
	    "$(tr '\n' '|' <"$LOG" | sed 's/|$//')"
	check "SIG$sig to hv_vss_ctl: CMD ended" gone "$WORK/cmd.pid"
done
check "a signal: said so" grep -q 'interrupted by SIGHUP' "$WORK/err"
# started with SIGTERM blocked: it still ends on it, and CMD starts with
# it blocked, as it was given (cat, not sh: dash clears its mask)
blocked() {	# command ...: exec it with SIGTERM blocked
	exec python3 -c 'import os, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
os.execv(sys.argv[1], sys.argv[1:])' "$@"
}
(blocked "$CTL" -s "$S" snapshot -- cat /proc/self/status) >"$WORK/out" \
    2>"$WORK/err" </dev/null
blk=$(sed -n 's/^SigBlk:[[:space:]]*//p' "$WORK/out")
check "started with SIGTERM blocked: so is CMD (SigBlk $blk)" \
    test $((0x${blk:-0} & 0x4000)) -eq $((0x4000))
: >"$LOG"
rm -f "$WORK/cmd.pid"
blocked "$CTL" -s "$S" snapshot -- sh -c 'echo $$ >"$0"; exec sleep 60' \
    "$WORK/cmd.pid" >"$WORK/out" 2>"$WORK/err" </dev/null &
p=$!
wait_for "$WORK/cmd.pid" || fail "SIGTERM blocked: CMD never started"
kill -TERM "$p"
wait "$p"
check_eq "started with SIGTERM blocked: SIGTERM still ends it, 128+15" 143 "$?"
check "started with SIGTERM blocked: CMD ended" gone "$WORK/cmd.pid"

# hv_vss_ctl killed -9: the connection closes, which is the daemon's cue
: >"$LOG"
rm -f "$WORK/cmd.pid"
"$CTL" -s "$S" snapshot -- sh -c 'echo $$ >"$0"; exec sleep 60' \
    "$WORK/cmd.pid" >/dev/null 2>&1 </dev/null &
p=$!
wait_for "$WORK/cmd.pid" || fail "kill -9: CMD never started"
kill -9 "$p"
wait "$p" 2>/dev/null
sleep 0.3
check_eq "hv_vss_ctl killed -9: the daemon sees the close" \
    "req hold 65000|closed-while-held" "$(tr '\n' '|' <"$LOG" | sed 's/|$//')"
kill "$(cat "$WORK/cmd.pid")" 2>/dev/null	# ours: nobody else will

# --- the daemon's side of failures -------------------------------------------
fake refuse
rm -f "$WORK/ran"
ctl snapshot -- touch "$WORK/ran"
check_eq "hold refused: exit 1" 1 "$rc"
check_eq "hold refused: the reason" \
    "hv_vss_ctl: busy: host transaction 7 in progress" "$(cat "$WORK/err")"
check "hold refused: CMD never ran" test ! -e "$WORK/ran"
ctl status
check_eq "status refused: exit 1" 1 "$rc"

fake early
rm -f "$WORK/cmd.pid"
t0=$(now_ms)
ctl snapshot -- sh -c 'echo $$ >"$0"; exec sleep 30' "$WORK/cmd.pid"
t=$(($(now_ms) - t0))
check_eq "the daemon ends the hold while CMD runs: exit 1" 1 "$rc"
check "... CMD is ended at once (took $t ms)" test "$t" -lt 4000
check "... CMD gone" gone "$WORK/cmd.pid"
check_eq "... and the reason said" \
    "hv_vss_ctl: the daemon thawed before sh ended: lease expired after 1000 ms" \
    "$(cat "$WORK/err")"

fake slowhold
"$CTL" -v -s "$S" snapshot -- true >"$WORK/out" 2>"$WORK/err"
check_eq "a slow freeze (1.5 s): exit 0" 0 "$?"
check "a slow freeze: its time measured" \
    grep -q '^# frozen (txn 42) in 1[5-9][0-9][0-9] ms$' "$WORK/err"

fake nofinal
ctl status
check_eq "a reply without its final line: exit 1" 1 "$rc"
check_eq "... said so" \
    "hv_vss_ctl: hv_vss_daemon closed the connection without an answer" \
    "$(cat "$WORK/err")"
check_eq "... the payload still shown" "hv_vss_daemon 0.1.0|state:   idle" \
    "$(tr '\n' '|' <"$WORK/out" | sed 's/|$//')"

# --- protocol 2 itself ----------------------------------------------------
# the hello and the request, in that order, in one write
rm -f "$S"
python3 - "$S" "$WORK/raw" <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(1)
c, _ = s.accept()
c.settimeout(10)
got = b""
while got.count(b"\n") < 2:
    got += c.recv(4096)
open(sys.argv[2], "wb").write(got)
c.sendall(b"HVVSS-CTL 2\n| x\nOK\n")
c.close()
EOF
raw_pid=$!
for _i in $(seq 1 50); do [ -S "$S" ] && break; sleep 0.1; done
ctl history -n 3
wait "$raw_pid"
check_eq "the client's first line is its hello, then the request" \
    "HVVSS-CTL 2|history 3" "$(tr '\n' '|' <"$WORK/raw" | sed 's/|$//')"
check_eq "... and the reply shown" "0 x" "$rc $(cat "$WORK/out")"

# a reply a byte at a time: every line, marker and the final one split
fake trickle
"$CTL" -v -s "$S" freeze >"$WORK/out" 2>"$WORK/err" </dev/null
check_eq "a reply a byte at a time: exit 0, the progress line" \
    "0 # freezing for 60000 ms" "$? $(cat "$WORK/err")"
ctl status
check_eq "a reply a byte at a time: the payload whole" \
    "0 hv_vss_daemon 0.1.0|state:   idle|device:  /dev/vmbus/hv_vss, connected" \
    "$rc $(tr '\n' '|' <"$WORK/out" | sed 's/|$//')"

# a daemon slower than protocol 1's guess: a payload line "OK", then 31 s
# of silence, then the rest; protocol 1's hv_vss_ctl took the "OK" as the
# end after 30 s, exit 0 with the rest lost
# (bg_case slow, started at the top)
wait "$slow_job"
rc=none t=0
[ -f "$WORK/slow.rc" ] && read -r rc t <"$WORK/slow.rc"
check_eq "a slow daemon (31 s before its final line): exit 0" 0 "$rc"
check "... waited for it (took $t ms)" test "$t" -ge 30500
check_eq "... and printed everything" \
    "freeze, in this order:|OK|ERR not the end|thaw: the exact reverse." \
    "$(tr '\n' '|' <"$WORK/slow.out" | sed 's/|$//')"
check_eq "... its progress on stderr (-v)" "# planning" \
    "$(cat "$WORK/slow.err")"

# an old daemon (protocol 1): no greeting, our hello taken for a request
fake v1
ctl status
check_eq "a protocol 1 daemon: exit 1" 1 "$rc"
check_eq "... said so, with both versions and what it answered" \
    "hv_vss_ctl: hv_vss_daemon at $S speaks control protocol 1 (it answered \"ERR unknown command\"), this hv_vss_ctl protocol 2: use the hv_vss_ctl of the daemon's version" \
    "$(cat "$WORK/err")"
check_eq "... nothing on stdout" "" "$(cat "$WORK/out")"
rm -f "$WORK/ran"
ctl snapshot -- touch "$WORK/ran"
check_eq "a protocol 1 daemon, snapshot: exit 1, CMD never ran" "1 no" \
    "$rc $(test -e "$WORK/ran" && echo yes || echo no)"
fake v3
ctl status
check_eq "a newer daemon (protocol 3): exit 1, said so" \
    "1 hv_vss_ctl: hv_vss_daemon at $S speaks control protocol 3, this hv_vss_ctl protocol 2: use the hv_vss_ctl of the daemon's version" \
    "$rc $(cat "$WORK/err")"

# an old client (protocol 1: the request first, no hello) to a protocol 2
# daemon (the fake answers as daemon/ctl.c does; t_ctl.sh asks the real
# one): one ERR line, which protocol 1's hv_vss_ctl shows as the reason
fake normal
python3 - "$S" >"$WORK/v1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"status\n")
got = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    got += b
sys.stdout.write(got.decode())
EOF
check_eq "a protocol 1 client: one line, ERR naming both versions" \
    "ERR hv_vss_daemon speaks control protocol 2, this client protocol 1: use the hv_vss_ctl of the daemon's version" \
    "$(cat "$WORK/v1")"

# a line without a marker: not payload, not final: an error, not a guess
fake badline
ctl status
check_eq "a line without a marker: exit 1" 1 "$rc"
check_eq "... said which" \
    "hv_vss_ctl: hv_vss_daemon sent a line control protocol 2 does not have: \"state:   idle\"" \
    "$(cat "$WORK/err")"
check_eq "... the payload before it shown" "hv_vss_daemon 0.1.0" \
    "$(cat "$WORK/out")"

# a daemon that never answers (no greeting): 30 s, then exit 1
# (bg_case silent, started at the top)
wait "$silent_job"
rc=none t=0
[ -f "$WORK/silent.rc" ] && read -r rc t <"$WORK/silent.rc"
check_eq "a silent daemon: exit 1" 1 "$rc"
check "a silent daemon: given up after 30 s (took $t ms)" \
    test "$t" -ge 29500 -a "$t" -lt 35000
check_eq "... said so" "hv_vss_ctl: no answer from hv_vss_daemon within 30 s" \
    "$(cat "$WORK/silent.err")"

# a socket others may not open: exit 3, said why
fake normal
chmod 0600 "$S"
setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" -s "$S" status \
    >/dev/null 2>"$WORK/err"
check_eq "a user without access to the socket: exit 3" 3 "$?"
check "... told who may" grep -q 'Permission denied (only root, or the daemon.s ctl_group, may)' "$WORK/err"
stop_fake

# --- make install: the program to SBINDIR, its page to man8 ----------------
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u PREFIX -u SBINDIR -u MANDIR \
    -u DESTDIR make -C "$TOP" --no-print-directory B="$B" \
    DESTDIR="$WORK/root" PREFIX=/usr/local install >"$WORK/install.log" 2>&1
check_eq "make install DESTDIR=...: exit 0" 0 "$?"
check_eq "installed usr/local/sbin/hv_vss_ctl, 0755, the one built" \
    "regular file 755 same" \
    "$(stat -c '%F %a' "$WORK/root/usr/local/sbin/hv_vss_ctl" 2>&1) $(cmp -s "$WORK/root/usr/local/sbin/hv_vss_ctl" "$CTL" && echo same)"
check_eq "installed usr/local/share/man/man8/hv_vss_ctl.8, 0644" \
    "regular file 644 same" \
    "$(stat -c '%F %a' "$WORK/root/usr/local/share/man/man8/hv_vss_ctl.8" 2>&1) $(cmp -s "$WORK/root/usr/local/share/man/man8/hv_vss_ctl.8" "$TOP/ctl/hv_vss_ctl.8" && echo same)"
finish
