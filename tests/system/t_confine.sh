#!/bin/sh
# t_confine: the engine's confinement and the parent's filter
# (daemon/os/sandbox_linux.c), on a real process: build/tests/hv_vss_confine,
# the test build with the forbidden-call trigger.
#
# What it proves (nothing is frozen here: the sandbox is not needed):
#  (a) confined as the engine, the process runs as the engine's user
#      (hvvss if it exists, else nobody), every uid and gid that user's,
#      with CapEff, CapPrm, CapInh and CapAmb 0, NoNewPrivs 1, Seccomp 2
#      (a filter), not dumpable, its root the empty directory; it can
#      still read and write what it holds, and run what the engine's
#      event loop runs (libevent on a Unix socketpair, a timer);
#  (b) the engine dies by SIGSYS on a call outside its list: the test
#      trigger (ptrace), open(2), socket(AF_INET);
#  (c) refused, before anything is done: a root directory that is not
#      empty, or writable by others, or not root's; the user root; an
#      unknown user;
#  (d) under the parent's filter: uid 0, NoNewPrivs 1, Seccomp 2; it can
#      open files and start a hook (/bin/sh, which inherits the filter),
#      and dies by SIGSYS on the trigger; socket(AF_INET) fails with
#      EAFNOSUPPORT and it lives on (its hooks inherit the filter, and
#      runuser's PAM opens an audit netlink socket: it must not die of it).
#
# Run as root: sh tests/system/t_confine.sh (HVVSS_BUILD=build dir).

. "$(dirname "$0")/lib.sh"

need_root
BIN=$B/tests/hv_vss_confine
[ -x "$BIN" ] || bail "no $BIN (make)"
workdir

if id -u hvvss >/dev/null 2>&1; then USER_=hvvss; else USER_=nobody; fi
UID_=$(id -u "$USER_")
GID_=$(id -g "$USER_")
echo "# the engine's user: $USER_ ($UID_:$GID_)"
mkdir -m 0755 "$WORK/empty"
"$BIN" -l | sed 's/^/# /'

PID=
# start mode...: the confined process, its stdin a fifo held open on fd 3
start() {
	rm -f "$WORK/in" "$WORK/out" "$WORK/err"
	mkfifo "$WORK/in"
	"$BIN" "$@" <"$WORK/in" >"$WORK/out" 2>"$WORK/err" &
	PID=$!
	exec 3>"$WORK/in"
	_n=0
	until grep -qx ready "$WORK/out" 2>/dev/null; do
		_n=$((_n + 1))
		if [ $_n -gt 100 ] || ! kill -0 "$PID" 2>/dev/null; then
			sed 's/^/# err: /' "$WORK/err"
			return 1
		fi
		sleep 0.05
	done
}
# say cmd: send it, wait for its answer (or the process's end)
say() {
	_l=$(wc -l <"$WORK/out")
	echo "$1" >&3
	_n=0
	while [ "$(wc -l <"$WORK/out")" -eq "$_l" ] && kill -0 "$PID" 2>/dev/null &&
	    [ $_n -lt 100 ]; do
		sleep 0.05
		_n=$((_n + 1))
	done
	tail -n 1 "$WORK/out"
}
# ends: RC, the status it ended with (wait), after closing its stdin
ends() {
	exec 3>&-
	wait "$PID"
	RC=$?
}
st() {	# field: its value in /proc/PID/status
	sed -n "s/^$1:[[:space:]]*//p" "/proc/$PID/status" | tr -s '\t ' ' ' |
	    sed 's/ $//'
}

# ---------------------------------------------------------------- (a) --
if start -e "$USER_" "$WORK/empty"; then
	check_eq "engine: every uid is $USER_'s" "$UID_ $UID_ $UID_ $UID_" "$(st Uid)"
	check_eq "engine: every gid is $USER_'s" "$GID_ $GID_ $GID_ $GID_" "$(st Gid)"
	check_eq "engine: its groups, its own only" "$GID_" "$(st Groups)"
	check_eq "engine: CapEff 0" 0000000000000000 "$(st CapEff)"
	check_eq "engine: CapPrm 0" 0000000000000000 "$(st CapPrm)"
	check_eq "engine: CapInh 0" 0000000000000000 "$(st CapInh)"
	check_eq "engine: CapAmb 0" 0000000000000000 "$(st CapAmb)"
	echo "# engine: CapBnd $(st CapBnd) (emptied when CAP_SETPCAP allows)"
	check_eq "engine: NoNewPrivs 1" 1 "$(st NoNewPrivs)"
	check_eq "engine: Seccomp 2" 2 "$(st Seccomp)"
	check_eq "engine: its root is the empty directory" "$WORK/empty" \
	    "$(readlink "/proc/$PID/root")"
	check_eq "engine: not dumpable (/proc/PID/status is root's)" "0" \
	    "$(stat -c %u "/proc/$PID/status")"
	check_eq "engine: it still reads and writes what it holds" pong \
	    "$(say ping)"
	check_eq "engine: a libevent loop serves a Unix socketpair (a line read, SO_PEERCRED, a timer)" \
	    "looped 2" "$(say loop)"
	say forbidden >/dev/null
	ends
	check_eq "engine: the trigger's forbidden call kills it by SIGSYS" \
	    $((128 + 31)) "$RC"
else
	fail "engine: confined and ready"
fi
# ---------------------------------------------------------------- (b) --
for c in open inet; do
	if start -e "$USER_" "$WORK/empty"; then
		say "$c" >/dev/null
		ends
		check_eq "engine: $c kills it by SIGSYS" $((128 + 31)) "$RC"
	else
		fail "engine: confined and ready ($c)"
	fi
done
# ---------------------------------------------------------------- (c) --
refused() {	# what pattern args...
	_what=$1
	_pat=$2
	shift 2
	"$BIN" "$@" </dev/null >"$WORK/out" 2>"$WORK/err"
	_rc=$?
	if [ $_rc -eq 1 ] && grep -q "$_pat" "$WORK/err" &&
	    ! grep -q ready "$WORK/out"; then
		pass "refused: $_what ($(cat "$WORK/err"))"
	else
		fail "refused: $_what (exit $_rc: $(cat "$WORK/err" "$WORK/out"))"
	fi
}
mkdir -m 0755 "$WORK/full" && : >"$WORK/full/x"
refused "a root that is not empty" "not empty (x)" -e "$USER_" "$WORK/full"
mkdir -m 0757 "$WORK/open"
refused "a root writable by others" "must be root's" -e "$USER_" "$WORK/open"
mkdir -m 0755 "$WORK/theirs" && chown "$UID_" "$WORK/theirs"
refused "a root not root's" "must be root's" -e "$USER_" "$WORK/theirs"
refused "the user root" "not root's" -e root "$WORK/empty"
refused "an unknown user" "no such user" -e hvvss-no-such-user "$WORK/empty"
# ---------------------------------------------------------------- (d) --
if start -p; then
	check_eq "parent: uid 0" "0 0 0 0" "$(st Uid)"
	check_eq "parent: NoNewPrivs 1" 1 "$(st NoNewPrivs)"
	check_eq "parent: Seccomp 2" 2 "$(st Seccomp)"
	check_eq "parent: opens files" opened "$(say open)"
	check_eq "parent: starts a hook (/bin/sh under its filter)" \
	    "spawned 7" "$(say spawn)"
	say forbidden >/dev/null
	ends
	check_eq "parent: the trigger's forbidden call kills it by SIGSYS" \
	    $((128 + 31)) "$RC"
else
	fail "parent: filtered and ready"
fi
if start -p; then
	check_eq "parent: socket(AF_INET) fails, EAFNOSUPPORT" \
	    "inet: Address family not supported by protocol" "$(say inet)"
	check "parent: ... and it lives on" kill -0 "$PID"
	say exit >/dev/null
	ends
	check_eq "parent: ... and exits as asked" 0 "$RC"
else
	fail "parent: filtered and ready (inet)"
fi

finish
