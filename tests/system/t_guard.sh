#!/bin/sh
# t_guard: the thaw guard and the ownership record, for real, on frozen
# filesystems in the sandbox, driven by build/tests/guard_drive (which
# uses daemon/guard.c and daemon/record.c as the daemon will).
#
#  (a) the driver freezes an ext4 on a loop image inside another ext4
#      (inner first, as the plan orders them) and an xfs, then is killed
#      with SIGKILL: writers blocked on all three land within 2 s.  The
#      guard must thaw newest first: thawing the inner one first would
#      hang it (its superblock goes to an image on the frozen outer one).
#      Before that: the guard is called hv_vss_guard, holds exactly its
#      socket and the three fds, has its memory locked, and shrugs off
#      SIGTERM, SIGINT, SIGHUP and SIGUSR2 (the test build's trigger,
#      see (i): the program that is installed has none).
#  (b) the driver arms a lease of 1 s (grace 1 s), freezes xfs and btrfs
#      and hangs: the guard thaws both, newest first, 2 s after the arm
#      and not before, while the driver still hangs, and reports it.
#  (c) the driver freezes, thaws, says guard_thawed(): the guard lets its
#      fds go, and later thaws nothing -- not when the old lease would
#      have run out, not when the driver exits -- although the test has
#      frozen the filesystem again by hand meanwhile.
#  (d) the driver records and freezes three filesystems, then it and its
#      guard are both killed with SIGKILL (guard first): nothing is
#      thawed.  A recovery pass thaws the three from the record, newest
#      first, and leaves alone an xfs the test froze by hand -- even with
#      a record entry naming its mount point under another device.
#  (e) the driver records and freezes, is killed, its guard thaws: the
#      recovery pass then finds the filesystem not frozen, and says so.
#  (f) the daemon itself (under hv_vss_sim, xfs and btrfs): its guard is
#      the program hv_vss_guard (/proc/PID/exe, cmdline), its child, with
#      an empty environment and fd 3, its socket, as its only fd -- not
#      the fd 9 the daemon inherited on a filesystem it freezes -- plus
#      the two held directories while frozen, its memory locked, and
#      its seccomp filter on (Seccomp: 2, NoNewPrivs: 1).
#      Then 400 backups while the guard is SIGKILLed every 40 ms (once a
#      new one serves): every backup succeeds, every death is seen and
#      the guard restarted within 1 s; and control requests go on while
#      it restarts (the loop's longest round trip, 5 kills); and with a
#      guard that takes 1.5 s to say hello (slow_guard, beside a copy of
#      the daemon), 3 kills: no round trip waits for that hello (none
#      takes half of it).
#  (g) the daemon SIGKILLed while frozen: its guard thaws within 2 s.
#  (h) the guard SIGKILLed while frozen: the new one is handed both
#      filesystems (which stay frozen); the daemon SIGKILLed then: the
#      new guard thaws them.
#  (i) the test build of the guard (hv_vss_guard_trig, beside a copy of
#      the daemon), while it holds both filesystems frozen, is made to
#      attempt a forbidden call (SIGUSR2: open(2)): it dies by SIGSYS,
#      without a core; the daemon says so and starts another, hands it
#      both filesystems (which stay frozen), and thaws them on time; both
#      backups succeed.  The installed program has no trigger (nm).
# After every case every filesystem must take a write at once (the case
# fails, after thawing, if one does not).

. "$(dirname "$0")/lib.sh"
need_root
need_cmd mkfs.ext4 mkfs.xfs mkfs.btrfs fsfreeze nm
[ -x "$B/tests/guard_drive" ] ||
    bail "guard_drive is built ($B/tests/guard_drive)"
[ -x "$B/tests/hv_vss_guard_trig" ] ||
    bail "hv_vss_guard_trig is built ($B/tests/hv_vss_guard_trig)"
[ -x "$B/tests/slow_guard" ] ||
    bail "slow_guard is built ($B/tests/slow_guard)"
workdir
# (i): the daemon starts the guard beside it: a copy of it beside the
# test build of the guard
mkdir "$WORK/trig" && cp "$B/hv_vss_daemon" "$WORK/trig/" &&
    cp "$B/tests/hv_vss_guard_trig" "$WORK/trig/hv_vss_guard" ||
    bail "copying the daemon and the test guard to $WORK/trig"
# (f): a guard slow to say hello, the real one beside it
mkdir "$WORK/slow" && cp "$B/hv_vss_daemon" "$WORK/slow/" &&
    cp "$B/tests/slow_guard" "$WORK/slow/hv_vss_guard" &&
    cp "$B/hv_vss_guard" "$WORK/slow/hv_vss_guard.real" ||
    bail "copying the daemon and the slow guard to $WORK/slow"
mkimage ext4 256M "$WORK/outer.img" || bail "mkfs.ext4"
mkimage xfs 300M "$WORK/xfs.img" || bail "mkfs.xfs"
mkimage btrfs 128M "$WORK/btrfs.img" || bail "mkfs.btrfs"
"$SANDBOX" -t 60 -m "$WORK/outer.img:/mnt/outer" -- sh -c \
    'truncate -s 64M /mnt/outer/inner.img &&
    mkfs.ext4 -q -F /mnt/outer/inner.img' \
    >"$WORK/prep.log" 2>&1 || { cat "$WORK/prep.log"; bail "inner image"; }

cat >"$WORK/inner.sh" <<'EOF2'
#!/bin/sh
# inside the sandbox: prints key=value lines for the checks outside
GD=$B/tests/guard_drive
RUN=/run/hv_vss
# thaw order: the outer filesystem before the one whose image it holds
ALL="/mnt/outer /mnt/inner /mnt/xfs /mnt/btrfs"

now() { _t=$(date +%s%N); echo $((_t / 1000000)); }
res() { echo "$1=$2"; }
thaw_all() { for _m in $ALL; do fsfreeze -u "$_m" 2>/dev/null; done; }
trap thaw_all EXIT

# wait_for file regex: until a line of file matches (10 s at most)
wait_for() {
	_i=0
	until grep -q "$2" "$1" 2>/dev/null; do
		_i=$((_i + 1))
		[ $_i -gt 500 ] && return 1
		sleep 0.02
	done
}

# start_writer name dir: a write to dir; /tmp/landed-name once it lands.
# Its pid goes to /tmp/wpid-name.
start_writer() {
	rm -f "/tmp/landed-$1"
	( echo "$1" >"$2/w-$1" && : >"/tmp/landed-$1" ) &
	echo $! >"/tmp/wpid-$1"
}
# wstate name: the writer's state letter (D: blocked on a frozen fs), or
# "-" if it has finished
wstate() {
	_s=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' \
	    "/proc/$(cat "/tmp/wpid-$1")/status" 2>/dev/null)
	[ -e "/tmp/landed-$1" ] && _s=-
	echo "${_s:--}"
}
# landed t0 max name...: ms from t0 until all have landed, or "never"
landed() {
	_t0=$1
	_max=$2
	shift 2
	while :; do
		_all=1
		for _n in "$@"; do
			[ -e "/tmp/landed-$_n" ] || _all=0
		done
		_el=$(($(now) - _t0))
		[ $_all -eq 1 ] && { echo "$_el"; return 0; }
		[ $_el -ge "$_max" ] && { echo never; return 1; }
		sleep 0.01
	done
}
# frozen_writer name dir: start_writer until one does not land at once,
# that is until dir is frozen (5 s at most)
frozen_writer() {
	_i=0
	while [ $_i -lt 50 ]; do
		start_writer "$1" "$2"
		sleep 0.1
		[ -e "/tmp/landed-$1" ] || return 0
		_i=$((_i + 1))
	done
	return 1
}
gone() {	# pid: wait up to 3 s for it to disappear
	_i=0
	while [ -d "/proc/$1" ] && [ $_i -lt 150 ]; do
		sleep 0.02
		_i=$((_i + 1))
	done
	[ -d "/proc/$1" ] && echo no || echo yes
}
# every filesystem takes a write at once; else thaw, and name it
nothing_frozen() {
	_left=
	for _m in $ALL; do
		_n=$1-end-$(basename "$_m")
		start_writer "$_n" "$_m"
		if [ "$(landed "$(now)" 2000 "$_n")" = never ]; then
			_left="$_left $_m"
		fi
	done
	res "$1.left_frozen" "${_left:-none}"
	if [ -n "$_left" ]; then
		thaw_all
	fi
}
show() {	# case file
	sed "s/^/$1.out /" "$2"
}

# --- (a) kill -9 while frozen: the guard thaws at EOF -------------------
# fd 9, on a filesystem it freezes: the driver's, never the guard's
$GD die /mnt/inner /mnt/outer /mnt/xfs 9>/mnt/outer/leak-a >/tmp/a.out 2>&1 &
d=$!
wait_for /tmp/a.out '^frozen\|^error'
show a /tmp/a.out
g=$(sed -n 's/^guard \([0-9]*\) .*/\1/p' /tmp/a.out)
res a.frozen "$(sed -n 's/^frozen //p' /tmp/a.out)"
res a.comm "$(cat "/proc/$g/comm")"
res a.parent "$([ "$(cut -d' ' -f4 "/proc/$g/stat")" = "$d" ] && echo driver)"
res a.fds "$(ls "/proc/$g/fd" | wc -l)"
res a.fd_targets "$(for f in /proc/$g/fd/*; do readlink "$f"; done |
    sed 's/socket:.*/socket/' | sort | tr '\n' ' ')"
res a.locked "$(awk '/^VmLck:/ { print ($2 > 0) ? "yes" : "no" }' \
    "/proc/$g/status")"
start_writer a1 /mnt/inner
start_writer a2 /mnt/outer
start_writer a3 /mnt/xfs
sleep 0.3
res a.blocked "$(wstate a1)$(wstate a2)$(wstate a3)"
kill -TERM "$g"
kill -INT "$g"
kill -HUP "$g"
kill -USR2 "$g"
sleep 0.3
res a.after_signals \
    "$([ -d "/proc/$g" ] && echo alive)$(wstate a1)$(wstate a2)$(wstate a3)"
t0=$(now)
kill -KILL "$d"
res a.landed_ms "$(landed "$t0" 5000 a1 a2 a3)"
wait "$d" 2>/dev/null
res a.guard_exited "$(gone "$g")"
nothing_frozen a

# --- (b) stuck past the lease: the guard thaws by itself -----------------
$GD stuck 1000 1000 /mnt/xfs /mnt/btrfs >/tmp/b.out 2>&1 &
d=$!
wait_for /tmp/b.out '^frozen\|^error'
t0=$(now)
start_writer b1 /mnt/xfs
start_writer b2 /mnt/btrfs
sleep 0.3
res b.blocked "$(wstate b1)$(wstate b2)"
res b.landed_ms "$(landed "$t0" 6000 b1 b2)"
res b.driver_at_thaw "$([ -d "/proc/$d" ] && echo stuck)"
wait "$d"
res b.rc $?
show b /tmp/b.out
res b.lease "$(sed -n 's/^event lease //p' /tmp/b.out)"
res b.order "$(sed -n 's/^event thawed \([^ ]*\) err=0 .*/\1/p' /tmp/b.out |
    tr '\n' ' ')"
res b.guard_fds "$(sed -n 's/^guard_fds //p' /tmp/b.out)"
nothing_frozen b

# --- (c) normal thaw: the guard lets go and thaws nothing later ---------
rm -f /tmp/c.in
mkfifo /tmp/c.in
$GD normal 1000 500 /mnt/outer </tmp/c.in >/tmp/c.out 2>&1 &
d=$!
exec 7>/tmp/c.in
wait_for /tmp/c.out '^ready\|^error'
g=$(sed -n 's/^guard \([0-9]*\) .*/\1/p' /tmp/c.out)
start_writer c0 /mnt/outer
res c.writable "$(landed "$(now)" 2000 c0)"
fsfreeze -f /mnt/outer
echo go >&7
exec 7>&-
wait "$d"
res c.rc $?
show c /tmp/c.out
res c.thawed "$(grep -c '^thawed$' /tmp/c.out)"
res c.guard_fds "$(sed -n 's/^guard_fds //p' /tmp/c.out)"
res c.events "$(grep -c '^event' /tmp/c.out)"
res c.guard_exited "$(gone "$g")"
start_writer c1 /mnt/outer
sleep 0.5
res c.still_frozen "$(wstate c1)"
fsfreeze -u /mnt/outer
res c.after_hand_thaw "$(landed "$(now)" 2000 c1)"
nothing_frozen c

# --- (d) daemon and guard killed: recovery from the record ---------------
$GD fake "$RUN" /mnt/xfs 7:1048575 >/tmp/d0.out 2>&1
res d.fake_rc $?
show d /tmp/d0.out
$GD record "$RUN" 77 /mnt/inner /mnt/outer /mnt/btrfs >/tmp/d.out 2>&1 &
d=$!
wait_for /tmp/d.out '^frozen\|^error'
show d /tmp/d.out
g=$(sed -n 's/^guard \([0-9]*\) .*/\1/p' /tmp/d.out)
sed 's/^/d.record /' "$RUN/frozen"
res d.record_lines "$(wc -l <"$RUN/frozen")"
res d.record_magic "$(head -n 1 "$RUN/frozen")"
res d.record_ours "$(awk -v p="$d" '$4 == p && $2 == 77 { print $6 }' \
    "$RUN/frozen" | tr '\n' ' ')"
fsfreeze -f /mnt/xfs
kill -KILL "$g" "$d"
wait "$d" 2>/dev/null
res d.guard_killed "$(gone "$g")"
sleep 0.5
start_writer d1 /mnt/inner
start_writer d2 /mnt/outer
start_writer d3 /mnt/btrfs
start_writer d4 /mnt/xfs
sleep 0.3
res d.blocked "$(wstate d1)$(wstate d2)$(wstate d3)$(wstate d4)"
t0=$(now)
$GD recover "$RUN" >/tmp/d2.out 2>&1
res d.recover_rc $?
show d /tmp/d2.out
res d.outcomes "$(sed -n 's/^report \([^:]*\):.*/\1/p' /tmp/d2.out |
    tr '\n' ',')"
res d.order "$(sed -n 's/^report [^:]*: \(thawed \)\{0,1\}\([^ ]*\) .*/\2/p' \
    /tmp/d2.out | tr '\n' ' ')"
res d.landed_ms "$(landed "$t0" 2000 d1 d2 d3)"
sleep 0.3
res d.hand_frozen "$(wstate d4)"
res d.record_after "$([ -e "$RUN/frozen" ] && echo present || echo gone)"
fsfreeze -u /mnt/xfs
res d.after_hand_thaw "$(landed "$(now)" 2000 d4)"
$GD recover "$RUN" >/tmp/d3.out 2>&1
res d.again "$(cat /tmp/d3.out)"
nothing_frozen d

# --- (e) the guard thawed at EOF: recovery finds it not frozen ------------
$GD record "$RUN" 78 /mnt/xfs >/tmp/e.out 2>&1 &
d=$!
wait_for /tmp/e.out '^frozen\|^error'
show e /tmp/e.out
start_writer e1 /mnt/xfs
sleep 0.3
res e.blocked "$(wstate e1)"
t0=$(now)
kill -KILL "$d"
res e.landed_ms "$(landed "$t0" 5000 e1)"
wait "$d" 2>/dev/null
$GD recover "$RUN" >/tmp/e2.out 2>&1
res e.recover_rc $?
show e /tmp/e2.out
res e.outcomes "$(sed -n 's/^report \([^:]*\):.*/\1/p' /tmp/e2.out |
    tr '\n' ',')"
res e.record_after "$([ -e "$RUN/frozen" ] && echo present || echo gone)"
nothing_frozen e

# --- (f) the daemon's own guard: its image, its fds; killed under load ---
SIM=$B/hv_vss_sim
dev=/dev/vmbus/hv_vss
DAEMON="$B/hv_vss_daemon -n -d -c /dev/null -o mounts=/mnt/xfs,/mnt/btrfs"
# fd 9, not close-on-exec, on a filesystem it will freeze: the daemon
# inherits it, its guard must not
$SIM -s sleep=1,hot,freeze,sleep=2,thaw -o /tmp/f0.json $dev -- $DAEMON \
    9>/mnt/outer/leak >/tmp/f0.log 2>&1 &
sim=$!
python3 "$GK" "$sim" describe 1 >/tmp/f.idle 2>&1
show f.idle /tmp/f.idle
dp=$(sed -n 's/^daemon //p' /tmp/f.idle)
res f.daemon_leak "$(readlink "/proc/$dp/fd/9")"
python3 "$GK" "$sim" describe 3 >/tmp/f.frozen 2>&1
show f.frozen /tmp/f.frozen
wait "$sim"
res f0.rc $?
show f0 /tmp/f0.log
nothing_frozen f0

# the same daemon, 400 backups; its guard SIGKILLed every 40 ms meanwhile
$SIM -n 400 -s hot,freeze,thaw -o /tmp/f2.json $dev -- $DAEMON \
    >/tmp/f2.log 2>&1 &
sim=$!
python3 "$GK" "$sim" kill 40 30 >/tmp/f2.kills 2>&1
wait "$sim"
res f2.rc $?
show f2.kills /tmp/f2.kills
grep -e 'thaw guard' -e 'E_FAIL' -e 'fail' /tmp/f2.log | head -n 80 |
    sed 's/^/f2.log /' 
res f2.kills "$(sed -n 's/^kills //p' /tmp/f2.kills)"
res f2.restart_max "$(sed -n 's/^restart_ms //p' /tmp/f2.kills |
    sort -n | tail -n 1)"
res f2.died "$(grep -c 'thaw guard died (status 9); restarting it$' \
    /tmp/f2.log)"
# a kill just before the daemon exits may go unseen: no restart is owed
res f2.at_exit "$(grep -c '^last_kill_at_exit 1$' /tmp/f2.kills)"
# the daemon's own view, from its log's times: from the death seen to
# the new guard's hello, the longest
res f2.hello_max "$(awk '
	{ split($1, t, ":"); ms = ((t[1] * 60 + t[2]) * 60 + t[3]) * 1000 }
	/thaw guard died/ { d = ms }
	/thaw guard pid .*memory/ && d { x = ms - d; if (x > m) m = x; d = 0 }
	END { printf "%d\n", m }' /tmp/f2.log)"
python3 - /tmp/f2.json <<'EOF3'
import json, sys
r = json.load(open(sys.argv[1]))
lat = {}
for b in r["backups"]:
    for q in b["requests"]:
        lat.setdefault(q["op"], []).append(q.get("latency_us", 0))
ok = sum(1 for b in r["backups"] if b["verdict"] == "ok")
for i, b in enumerate(r["backups"]):
    if b["verdict"] != "ok" and i < 10:
        print("f2.failed %d %s %s" % (i, b.get("why"), ",".join("%s:%s" % (
            q["op"], q.get("result")) for q in b["requests"])))
print("f2.backups=%d/%d" % (ok, len(r["backups"])))
for op in ("HOT_BACKUP", "FREEZE", "THAW"):
    v = sorted(lat.get(op, [0]))
    print("f2.%s_ms=%d %d" % (op, v[len(v) // 2] // 1000, v[-1] // 1000))
EOF3
nothing_frozen f2

# the event loop while a guard restarts: control requests go on
$SIM -s sleep=8 -o /tmp/f3.json $dev -- $DAEMON >/tmp/f3.log 2>&1 &
sim=$!
python3 "$GK" "$sim" stall 5 /run/hv_vss/ctl.sock >/tmp/f3.out 2>&1
show f3 /tmp/f3.out
res f3.base "$(sed -n 's/^base_ms //p' /tmp/f3.out)"
res f3.stall_max "$(sed -n 's/^stall_ms //p' /tmp/f3.out | sort -n |
    tail -n 1)"
res f3.restarted "$(grep -c 'thaw guard died (status 9); restarting it$' \
    /tmp/f3.log)"
wait "$sim"

# the same with a guard that says hello 1.5 s after it is started: the
# loop answers meanwhile (a wait for the hello on the loop would stall
# every round by that long)
SD="$SLOW/hv_vss_daemon -n -d -c /dev/null -o mounts=/mnt/xfs,/mnt/btrfs"
$SIM -s sleep=14 -o /tmp/f4.json $dev -- $SD >/tmp/f4.log 2>&1 &
sim=$!
python3 "$GK" "$sim" stall 3 /run/hv_vss/ctl.sock >/tmp/f4.out 2>&1
show f4 /tmp/f4.out
res f4.stall_max "$(sed -n 's/^stall_ms //p' /tmp/f4.out | sort -n |
    tail -n 1)"
res f4.restarted "$(grep -c 'thaw guard died (status 9); restarting it$' \
    /tmp/f4.log)"
wait "$sim"
res f4.hellos "$(grep -c 'thaw guard pid .*memory' /tmp/f4.log)"
grep 'thaw guard' /tmp/f4.log | sed 's/^/f4.log /'

# --- (g) the daemon SIGKILLed while frozen: its guard thaws ---------------
$SIM -s hot,freeze,sleep=5,thaw -o /tmp/g.json $dev -- $DAEMON \
    >/tmp/g.log 2>&1 &
sim=$!
python3 "$GK" "$sim" describe 3 >/tmp/g.desc 2>&1
dp=$(sed -n 's/^daemon //p' /tmp/g.desc)
# the guard holds both; the freeze follows (the log says nothing now:
# it is held in memory while frozen)
frozen_writer g1 /mnt/xfs
frozen_writer g2 /mnt/btrfs
sleep 0.2
res g.blocked "$(wstate g1)$(wstate g2)"
t0=$(now)
kill -KILL "$dp"
res g.landed_ms "$(landed "$t0" 5000 g1 g2)"
wait "$sim"
nothing_frozen g

# --- (h) the guard killed while frozen, then the daemon: the new guard
# was handed both filesystems, and thaws them ------------------------------
$SIM -s hot,freeze,sleep=6,thaw -o /tmp/h.json $dev -- $DAEMON \
    >/tmp/h.log 2>&1 &
sim=$!
python3 "$GK" "$sim" describe 3 >/tmp/h.desc 2>&1
dp=$(sed -n 's/^daemon //p' /tmp/h.desc)
old=$(sed -n 's/^guard //p' /tmp/h.desc)
frozen_writer h1 /mnt/xfs
frozen_writer h2 /mnt/btrfs
kill -KILL "$old"
python3 "$GK" "$sim" describe 3 >/tmp/h.desc2 2>&1
show h /tmp/h.desc2
new=$(sed -n 's/^guard //p' /tmp/h.desc2)
res h.new_guard "$([ -n "$new" ] && [ "$new" != "$old" ] && echo yes)"
res h.held "$(sed -n 's/^fds //p' /tmp/h.desc2 | tr ' ' '\n' |
    sed 's/^[0-9]*://' | sort | tr '\n' ' ')"
res h.blocked "$(wstate h1)$(wstate h2)"
t0=$(now)
kill -KILL "$dp"
res h.landed_ms "$(landed "$t0" 5000 h1 h2)"
wait "$sim"
nothing_frozen h

# --- (i) the test build's guard attempts a forbidden call while frozen ---
TD="$TRIG/hv_vss_daemon -n -d -c /dev/null -o mounts=/mnt/xfs,/mnt/btrfs"
# cores allowed, to the sandbox's root: the guard must still write none
# the second backup starts once the first one's blocked writes landed:
# a FREEZE right after the THAW could catch them again before they ran
cat >/tmp/i_landed.sh <<'EOF3'
i=0
while [ $i -lt 500 ] && ! { [ -e /tmp/landed-i1 ] && [ -e /tmp/landed-i2 ]; }; do
	sleep 0.02
	i=$((i + 1))
done
EOF3
rm -f /tmp/landed-i1 /tmp/landed-i2
(ulimit -c unlimited && exec $SIM -n 2 -s hot,freeze,sleep=3,thaw,exec \
    -x "sh /tmp/i_landed.sh" -o /tmp/i.json $dev -- $TD) >/tmp/i.log 2>&1 &
sim=$!
python3 "$GK" "$sim" describe 3 >/tmp/i.desc 2>&1
show i /tmp/i.desc
old=$(sed -n 's/^guard //p' /tmp/i.desc)
frozen_writer i1 /mnt/xfs
frozen_writer i2 /mnt/btrfs
kill -USR2 "$old"
res i.old_gone "$(gone "$old")"
python3 "$GK" "$sim" describe 3 >/tmp/i.desc2 2>&1
show i2 /tmp/i.desc2
new=$(sed -n 's/^guard //p' /tmp/i.desc2)
res i.new_guard "$([ -n "$new" ] && [ "$new" != "$old" ] && echo yes)"
res i.held "$(sed -n 's/^fds //p' /tmp/i.desc2 | tr ' ' '\n' |
    sed 's/^[0-9]*://' | sort | tr '\n' ' ')"
res i.blocked "$(wstate i1)$(wstate i2)"
res i.landed_ms "$(landed "$(now)" 5000 i1 i2)"
wait "$sim"
res i.rc $?
head -n 80 /tmp/i.log | sed 's/^/i.log /'
res i.cores "$(ls / | grep -c '^core')"
# 31: SIGSYS, no core (159 with one)
res i.died "$(grep -c 'thaw guard died (status 31); restarting it$' /tmp/i.log)"
python3 - /tmp/i.json <<'EOF3'
import json, sys
r = json.load(open(sys.argv[1]))
ok = sum(1 for b in r["backups"] if b["verdict"] == "ok")
print("i.backups=%d/%d" % (ok, len(r["backups"])))
EOF3
nothing_frozen i
EOF2

"$SANDBOX" -t 240 -r "$TOP" -r "$B" -r "$WORK" -e "B=$B" \
    -e "GK=$TOP/tests/system/guard_kill.py" -e "TRIG=$WORK/trig" \
    -e "SLOW=$WORK/slow" \
    -m "$WORK/outer.img:/mnt/outer" -m "/mnt/outer/inner.img:/mnt/inner" \
    -m "$WORK/xfs.img:/mnt/xfs" -m "$WORK/btrfs.img:/mnt/btrfs" \
    -- sh "$WORK/inner.sh" >"$WORK/out" 2>"$WORK/err"
rc=$?
out=$WORK/out
get() { sed -n "s/^$1=//p" "$out" | head -n 1; }
sed 's/^/# /' "$out"
sed 's/^/# err: /' "$WORK/err"
check_eq "sandbox exit" 0 "$rc"

# between lo and hi milliseconds, or units (a number, not "never")
within() {	# what lo hi value [unit]
	_u=${5:-ms}
	case $4 in
	''|*[!0-9]*) fail "$1 (got '$4')"; return ;;
	esac
	if [ "$4" -ge "$2" ] && [ "$4" -le "$3" ]; then
		pass "$1 ($4 $_u)"
	else
		fail "$1 ($4 $_u, want $2..$3)"
	fi
}

# (a)
check_eq "(a) the driver froze 3 filesystems" 3 "$(get a.frozen)"
check_eq "(a) the guard is named hv_vss_guard" hv_vss_guard "$(get a.comm)"
check_eq "(a) the guard is the driver's child" driver "$(get a.parent)"
check_eq "(a) the guard holds its socket and the 3 fds, nothing else" \
    "/mnt/inner /mnt/outer /mnt/xfs socket " "$(get a.fd_targets)"
# a sanitizer build cannot lock its shadow memory (see guard.c) and says so
if grep -q '^a.out guard .*NOT locked (sanitizer build)' "$out"; then
	check_eq "(a) sanitizer build: the guard says its memory is not locked" \
	    no "$(get a.locked)"
else
	check_eq "(a) the guard's memory is locked" yes "$(get a.locked)"
fi
check_eq "(a) writers on the 3 filesystems blocked (D)" DDD "$(get a.blocked)"
check_eq "(a) SIGTERM, SIGINT, SIGHUP, SIGUSR2: the guard lives, thaws nothing" \
    aliveDDD "$(get a.after_signals)"
within "(a) kill -9 of the driver: all 3 writers landed within 2 s" \
    0 2000 "$(get a.landed_ms)"
check_eq "(a) the guard exited after thawing" yes "$(get a.guard_exited)"
check_eq "(a) nothing left frozen" none "$(get a.left_frozen)"

# (b)
check_eq "(b) writers on xfs and btrfs blocked (D)" DD "$(get b.blocked)"
within "(b) the guard thawed both at lease + grace (2 s after the arm)" \
    1600 2700 "$(get b.landed_ms)"
check_eq "(b) ... while the driver was still stuck" stuck \
    "$(get b.driver_at_thaw)"
check_eq "(b) the driver exits 0" 0 "$(get b.rc)"
check_eq "(b) the guard reported: 2 thawed" \
    "thawed=2 notfrozen=0 failed=0 truncated=0" "$(get b.lease)"
check_eq "(b) ... newest first" "/mnt/btrfs /mnt/xfs " "$(get b.order)"
check_eq "(b) ... and let its fds go" 1 "$(get b.guard_fds)"
check_eq "(b) nothing left frozen" none "$(get b.left_frozen)"

# (c)
check_eq "(c) the driver exits 0" 0 "$(get c.rc)"
check_eq "(c) the driver froze and thawed" 1 "$(get c.thawed)"
check_eq "(c) after guard_thawed the guard holds only its socket" 1 \
    "$(get c.guard_fds)"
within "(c) the filesystem took a write after the thaw" 0 1000 \
    "$(get c.writable)"
check_eq "(c) no report from the guard past the old lease" 0 \
    "$(get c.events)"
check_eq "(c) the guard exited at the driver's exit" yes \
    "$(get c.guard_exited)"
check_eq "(c) the hand freeze survived lease and EOF (writer in D)" D \
    "$(get c.still_frozen)"
within "(c) ... and the writer landed after fsfreeze -u" 0 2000 \
    "$(get c.after_hand_thaw)"
check_eq "(c) nothing left frozen" none "$(get c.left_frozen)"

# (d)
check_eq "(d) a fake entry recorded" 0 "$(get d.fake_rc)"
check_eq "(d) the record: magic line, fake entry, 3 of ours" 5 \
    "$(get d.record_lines)"
check_eq "(d) ... magic line" "hvvss-frozen 1" "$(get d.record_magic)"
check_eq "(d) ... ours, in freeze order, with pid and txid" \
    "/mnt/inner /mnt/outer /mnt/btrfs " "$(get d.record_ours)"
check_eq "(d) guard killed" yes "$(get d.guard_killed)"
check_eq "(d) both killed: all 4 still frozen (writers in D)" DDDD \
    "$(get d.blocked)"
check_eq "(d) recovery ran" 0 "$(get d.recover_rc)"
check_eq "(d) recovery: 3 thawed, the fake entry left alone" \
    "thawed,thawed,thawed,other filesystem," "$(get d.outcomes)"
check_eq "(d) ... newest first (outer before inner)" \
    "/mnt/btrfs /mnt/outer /mnt/inner /mnt/xfs " "$(get d.order)"
within "(d) writers on the 3 recorded filesystems landed" 0 2000 \
    "$(get d.landed_ms)"
check_eq "(d) the xfs frozen by hand is still frozen (writer in D)" D \
    "$(get d.hand_frozen)"
within "(d) ... until fsfreeze -u" 0 2000 "$(get d.after_hand_thaw)"
check_eq "(d) the record is gone after recovery" gone \
    "$(get d.record_after)"
check_eq "(d) a second recovery finds nothing" "recovered 0" \
    "$(get d.again)"
check_eq "(d) nothing left frozen" none "$(get d.left_frozen)"

# (e)
check_eq "(e) writer blocked (D)" D "$(get e.blocked)"
within "(e) kill -9 of the driver alone: the guard thawed" 0 2000 \
    "$(get e.landed_ms)"
check_eq "(e) recovery ran" 0 "$(get e.recover_rc)"
check_eq "(e) recovery: not frozen any more (the guard did it)" \
    "not frozen," "$(get e.outcomes)"
check_eq "(e) the record is gone after recovery" gone \
    "$(get e.record_after)"
check_eq "(e) nothing left frozen" none "$(get e.left_frozen)"

# (f)
idle() { sed -n "s/^f.idle.out $1 //p" "$out"; }
frozen() { sed -n "s/^f.frozen.out $1 //p" "$out"; }
check_eq "(f) the daemon's guard runs the program hv_vss_guard" \
    "$(readlink -f "$B/hv_vss_guard")" "$(idle exe)"
check_eq "(f) ... as 'hv_vss_guard GRACE_MS'" "hv_vss_guard 5000" \
    "$(idle cmdline)"
check_eq "(f) ... a child of the daemon" daemon "$(idle parent)"
check_eq "(f) ... with an empty environment" 0 "$(idle environ_bytes)"
check_eq "(f) the daemon had fd 9 open, not close-on-exec" \
    /mnt/outer/leak "$(get f.daemon_leak)"
check_eq "(f) the idle guard's only fd is its socket, as fd 3" "3:socket" \
    "$(idle fds)"
check_eq "(f) frozen: its socket and the 2 held directories, nothing else" \
    "/mnt/btrfs /mnt/xfs socket" \
    "$(frozen fds | tr ' ' '\n' | sed 's/^[0-9]*://' | sort | tr '\n' ' ' |
        sed 's/ $//')"
if grep -q 'f0.out .*thaw guard pid .*NOT locked (sanitizer build)' "$out"
then
	check_eq "(f) sanitizer build: VmLck 0" 0 "$(idle vmlck_kb)"
else
	within "(f) its memory is locked (VmLck)" 1 4096 "$(idle vmlck_kb)" kB
	check_eq "(f) it is under its seccomp filter (Seccomp: 2)" 2 \
	    "$(idle seccomp)"
	check_eq "(f) ... with no new privileges (NoNewPrivs: 1)" 1 \
	    "$(idle nonewprivs)"
	check "(f) ... and the daemon says so" \
	    grep -q '^f0.out .*thaw guard pid .*, seccomp filter on$' "$out"
fi
check_eq "(f) the backup ran" 0 "$(get f0.rc)"
check_eq "(f) nothing left frozen" none "$(get f0.left_frozen)"
check_eq "(f) 400 backups with the guard killed: all succeeded" 400/400 \
    "$(get f2.backups)"
check_eq "(f) ... hv_vss_sim says ok" 0 "$(get f2.rc)"
within "(f) ... the guard was killed at least 10 times" 10 30 \
    "$(get f2.kills)" kills
# every death while the daemon ran; the last kill, if the daemon exited
# right after it, may or may not have been seen before the exit
f2k=$(get f2.kills)
f2d=$(get f2.died)
f2unseen=$((${f2k:-0} - ${f2d:-0}))
if [ "$(get f2.at_exit)" = 1 ] && [ "$f2unseen" = 1 ]; then
	f2unseen=0
fi
check_eq "(f) ... every death seen, a new guard started ($(get f2.died) of $(get f2.kills) kills, last at exit: $(get f2.at_exit))" \
    0 "$f2unseen"
within "(f) ... a new guard served within 1 s of each kill" 0 1000 \
    "$(get f2.restart_max | cut -d. -f1)"
within "(f) ... and said hello within 500 ms of the death (daemon's log)" \
    0 500 "$(get f2.hello_max)"
check_eq "(f) ... nothing left frozen" none "$(get f2.left_frozen)"
check_eq "(f) 5 kills while control requests run: 5 restarts" 5 \
    "$(get f3.restarted)"
within "(f) ... no round trip took 250 ms (the loop never waits)" 0 250 \
    "$(get f3.stall_max | cut -d. -f1)"
check_eq "(f) a guard 1.5 s slow to say hello, 3 kills: 3 restarts, 4 hellos" \
    "3 4" "$(get f4.restarted) $(get f4.hellos)"
# half the hello's delay: a wait for it would take all of it; what is
# less is the machine's load (f3 bounds the loop's own stalls)
within "(f) ... no round trip took 750 ms (nothing waits for the 1.5 s hello)" \
    0 750 "$(get f4.stall_max | cut -d. -f1)"

# (g)
check_eq "(g) writers on xfs and btrfs blocked (D)" DD "$(get g.blocked)"
within "(g) kill -9 of the daemon: its guard thawed both" 0 2000 \
    "$(get g.landed_ms)"
check_eq "(g) nothing left frozen" none "$(get g.left_frozen)"

# (h)
check_eq "(h) the guard killed while frozen: a new one started" yes \
    "$(get h.new_guard)"
check_eq "(h) ... and was handed both frozen filesystems" \
    "/mnt/btrfs /mnt/xfs socket " "$(get h.held)"
check_eq "(h) ... which stayed frozen (writers in D)" DD "$(get h.blocked)"
within "(h) kill -9 of the daemon then: the new guard thawed both" 0 2000 \
    "$(get h.landed_ms)"
check_eq "(h) nothing left frozen" none "$(get h.left_frozen)"

# (i)
if grep -q '^i.log .*NO seccomp filter (sanitizer build)' "$out"; then
	# no filter under a sanitizer (see guard/hv_vss_guard.c): the open
	# works, and the guard lives on
	check_eq "(i) sanitizer build: no filter, SIGUSR2's open did not kill" \
	    no "$(get i.old_gone)"
else
	check_eq "(i) the test build's guard: under its filter too" 2 \
	    "$(sed -n 's/^i.out seccomp //p' "$out")"
	check_eq "(i) SIGUSR2 (a forbidden open): the guard died" yes \
	    "$(get i.old_gone)"
	check_eq "(i) ... by SIGSYS, no core; the daemon started another" 1 \
	    "$(get i.died)"
	check_eq "(i) ... no core file (cores allowed by its limit)" 0 \
	    "$(get i.cores)"
	check_eq "(i) ... and handed it both frozen filesystems" yes \
	    "$(get i.new_guard)"
	check_eq "(i) ... held by the new guard" "/mnt/btrfs /mnt/xfs socket " \
	    "$(get i.held)"
	check_eq "(i) ... which stayed frozen (writers in D)" DD "$(get i.blocked)"
fi
within "(i) ... until the daemon thawed them (3 s after the freeze)" 0 5000 \
    "$(get i.landed_ms)"
check_eq "(i) both backups succeeded" 2/2 "$(get i.backups)"
check_eq "(i) ... hv_vss_sim says ok" 0 "$(get i.rc)"
check_eq "(i) nothing left frozen" none "$(get i.left_frozen)"
check_eq "(i) the installed guard has no test trigger (nm)" 0 \
    "$(nm "$B/hv_vss_guard" | grep -c ' g_test_trigger$')"
check_eq "(i) ... the test build has it (so nm can tell)" 1 \
    "$(nm "$B/tests/hv_vss_guard_trig" | grep -c ' g_test_trigger$')"
finish
