#!/bin/sh
# t_mariadb: a real MariaDB server, held consistent by examples/mariadb-hold
# while the host backs the VM up.
#
# Debian's mariadb-server runs in the sandbox with its datadir on a
# loop-mounted ext4.  Two writers insert rows without pause, one per
# INSERT, autocommit, one into a MyISAM table and one into an InnoDB
# table; each records the id of every row once the server has
# acknowledged it (in the sandbox's /tmp, a tmpfs, not the test
# filesystem).  mariadb-hold is registered with hv_vss_daemon.
#
#  (a) A host backup copies the disk image while the guest is frozen.
#      In the frozen window the writers' last acknowledged ids are
#      recorded, and again after the copy: they must not have moved
#      (FLUSH TABLES WITH READ LOCK holds them), and they move again
#      after THAW.  Then a second MariaDB starts on the copy (InnoDB
#      crash recovery allowed, MyISAM automatic repair off) and every
#      row acknowledged before FROZEN must be there, in both tables,
#      with no gap below it, intact; CHECK TABLE ... EXTENDED must say
#      OK and nothing else, and myisamchk, run on the copy before the
#      server opens it, must find the MyISAM table closed and clean.
#      The copy itself is clean at the filesystem level.
#  (b) The daemon is killed (SIGKILL) while mariadb-hold holds the lock:
#      libhvvss calls its thaw (aborted), it releases the lock, and the
#      writers go on (once the daemon's thaw guard has thawed the fs).
#  (c) A long write holds FTWRL back, so it cannot finish: with a
#      2.5 s budget, mariadb-hold sets lock_wait_timeout to 1 s, the
#      server gives up, and the FREEZE is vetoed with the server's
#      reason, within the budget; the writers, which a waiting FTWRL
#      holds too, go on while that write still runs.
#  (d) The server hangs (SIGSTOP): the FREEZE is vetoed ("no answer in
#      time") within a 1.5 s budget, by the client's own deadline.
#  (e) The server is stopped: the next backup's CHECK and FREEZE are
#      vetoed by mariadb-hold, and the daemon's log gives its reason.
#  (f) The server is started again: mariadb-hold reconnects by itself
#      (as it did to each new daemon) and the next backup succeeds.
#
# HVVSS_MARIADB_NOHOLD=1 runs (a) alone without mariadb-hold: the
# negative control, by hand; its checks that need the lock should fail.
#
# The packages (tools/deps db) are installed if missing, and
# mariadb-hold built if it was not (make builds it only where
# libmariadb is found).
. "$(dirname "$0")/lib.sh"
need_root
workdir
sh "$TOP/tools/deps" db >"$WORK/deps.log" 2>&1 ||
    { sed 's/^/# /' "$WORK/deps.log"; bail "tools/deps db"; }
need_cmd mariadbd mariadb mariadb-install-db myisamchk mkfs.ext4 dumpe2fs \
    python3
HOLD=$B/examples/mariadb-hold
make -s -C "$TOP" B="$B" "$HOLD" >"$WORK/make.log" 2>&1 ||
    { sed 's/^/# /' "$WORK/make.log"; bail "make $HOLD"; }
NOHOLD=${HVVSS_MARIADB_NOHOLD:-}
mkimage ext4 256M "$WORK/db.img" || bail "mkfs.ext4"

# --- what runs inside the sandbox ------------------------------------------
# common.sh: what every script inside shares.
cat >"$WORK/common.sh" <<'EOF2'
SOCK=/run/mysqld/mysqld.sock
MDB="mariadb --no-defaults -S $SOCK -u root"
APPSOCK=/run/hv_vss/app.sock

# wait_for seconds command [arg ...]: poll every 50 ms until it succeeds
wait_for() {
	_n=$(($1 * 20))
	shift
	until "$@"; do
		_n=$((_n - 1))
		[ $_n -gt 0 ] || return 1
		sleep 0.05
	done
}
lastack() {	# table: the last id the server acknowledged
	_a=$(tail -n 1 "/tmp/ack.$1" 2>/dev/null)
	echo "${_a:-0}"
}
acked_past() {	# table id: the writer got past id
	[ "$(lastack "$1")" -gt "$2" ]
}
count_ge() {	# file regex n: at least n lines of file match
	[ "$(grep -c "$2" "$1" 2>/dev/null)" -ge "$3" ]
}
EOF2

# setup.sh N (hv_vss_sim -b): once the daemon listens, wait until
# mariadb-hold has registered for the N-th time (it reconnects to each
# new daemon by itself).
cat >"$WORK/setup.sh" <<'EOF2'
. "$WORK/common.sh"
wait_for 10 test -S $APPSOCK || exit 1
[ -n "$NOHOLD" ] && exit 0
wait_for 15 count_ge /tmp/hold.out '^registered' "$1"
EOF2

# window-a.sh (hv_vss_sim -x): the frozen window of backup (a).  The
# last acknowledged ids, before and after the host's copy; only /tmp is
# written here, never the frozen filesystem.
cat >"$WORK/window-a.sh" <<'EOF2'
. "$WORK/common.sh"
echo "$(lastack m) $(lastack i)" >/tmp/frozen
sh "$TOP/tests/system/window.sh" || exit 1
echo "$(lastack m) $(lastack i)" >/tmp/frozen.after
EOF2

# window-b.sh: the daemon dies while the lock is held.  (What -x says
# goes to the sim's stderr: the results go to /tmp/b.out.)
cat >"$WORK/window-b.sh" <<'EOF2'
. "$WORK/common.sh"
m=$(lastack m) i=$(lastack i)
{
count_ge /tmp/hold.out '^freeze [0-9]*: .*: holding$' 2 &&
    echo "b.held=yes"
kill -KILL "$(cat /tmp/daemon.pid)"
wait_for 10 grep -q '^abort [0-9]*: lock released' /tmp/hold.out &&
    echo "b.released=yes"
wait_for 10 acked_past m "$m" && wait_for 10 acked_past i "$i" &&
    echo "b.resumed=yes"
} >/tmp/b.out
EOF2

cat >"$WORK/inner.sh" <<'EOF2'
. "$WORK/common.sh"
DAEMON="$B/hv_vss_daemon -n -c /dev/null -o mounts=/mnt/db -o app_socket=$APPSOCK"
DOPTS=	# more daemon options, for one sim
now() { _t=$(date +%s%N); echo $((_t / 1000000)); }
T0=$(now)
mark() { echo "time.$1=$(($(now) - T0))"; }

server_start() {
	mariadbd --no-defaults --user=root --datadir=/mnt/db/data \
	    --skip-networking --socket=$SOCK \
	    --pid-file=/run/mysqld/mysqld.pid --log-error=/tmp/mariadb.err \
	    --innodb-buffer-pool-size=32M --innodb-log-file-size=16M &
	echo $! >/tmp/mariadbd.pid
	wait_for 30 $MDB -e 'DO 1' 2>/dev/null
}
# a clean shutdown; the pid file goes when it is complete
server_stop() {
	$MDB -e SHUTDOWN || return 1
	wait_for 30 test ! -e /run/mysqld/mysqld.pid || return 1
	wait "$(cat /tmp/mariadbd.pid)"
}
# writer table: INSERT one row at a time; the client runs one statement
# after the other, so each SELECT prints the id of a row the server has
# acknowledged (--unbuffered: at once).  An error ends it.  The client's
# pid goes to /tmp/writer.TABLE.pid, its exit status to .rc.
writer() {
	i=1
	while :; do
		echo "INSERT INTO $1 VALUES ($i, 'row $i'); SELECT $i;"
		i=$((i + 1))
	done | sh -c "echo \$\$ >/tmp/writer.$1.pid; exec $MDB -N -B \
	    --unbuffered t" >/tmp/ack.$1 2>/tmp/writer.$1.err
	echo $? >/tmp/writer.$1.rc
}
# stop the clients: the rows queued in the pipe are not wanted
writers_stop() {
	for _t in m i; do
		[ -e /tmp/writer.$_t.rc ] || kill "$(cat /tmp/writer.$_t.pid)"
	done
	wait_for 20 test -e /tmp/writer.m.rc -a -e /tmp/writer.i.rc
	echo "writers.rc=$(cat /tmp/writer.m.rc /tmp/writer.i.rc | tr '\n' ' ')"
	echo "writers.err=$(cat /tmp/writer.m.err /tmp/writer.i.err)"
	echo "final=$(lastack m) $(lastack i)"
}
# sim name [options]: one emulated host backup; its results and log
sim() {
	_n=$1
	shift
	$B/hv_vss_sim "$@" /dev/vmbus/hv_vss \
	    -- sh -c "echo \$\$ >/tmp/daemon.pid; exec $DAEMON $DOPTS" \
	    >/tmp/$_n.json 2>/tmp/$_n.log
	echo "$_n.rc=$?"
	python3 - /tmp/$_n.json $_n <<'EOF3'
import json, sys
r = json.load(open(sys.argv[1]))
print("%s.results=%s" % (sys.argv[2], ";".join(",".join("%s:%s" % (q["op"],
      q.get("result", "none")) for q in b["requests"]) for b in r["backups"])))
lat = r["summary"]["latency_us"].get("FREEZE")
if lat:
    print("%s.freeze_us=%d" % (sys.argv[2], lat["median"]))
for e in r.get("events", []):
    print("%s.event=%s" % (sys.argv[2], json.dumps(e)))
EOF3
	grep -v 'plan:' /tmp/$_n.log | sed "s/^/$_n.log /"
}

# mariadb-hold first, before any daemon or server: it must wait for both
if [ -z "$NOHOLD" ]; then
	$B/examples/mariadb-hold -d $APPSOCK >/tmp/hold.out 2>&1 &
	echo $! >/tmp/hold.pid
fi
mkdir -p /run/mysqld /mnt/db/data
mariadb-install-db --no-defaults --user=root --datadir=/mnt/db/data \
    --skip-test-db >/tmp/install.log 2>&1 ||
    { sed 's/^/install /' /tmp/install.log; exit 1; }
mark installed
server_start || { echo "server did not start"; exit 1; }
mark started
$MDB -e "CREATE DATABASE t;
    CREATE TABLE t.m (id INT PRIMARY KEY, v VARCHAR(32)) ENGINE=MyISAM;
    CREATE TABLE t.i (id INT PRIMARY KEY, v VARCHAR(32)) ENGINE=InnoDB;
    CREATE TABLE t.b (id INT) ENGINE=MyISAM; INSERT INTO t.b VALUES (1);" ||
    exit 1
writer m &
writer i &
wait_for 20 acked_past m 300 && wait_for 20 acked_past i 300 ||
    echo "writers are slow"
mark writing

# (a) the backup, the copy taken in the frozen window
sim a -b "sh $WORK/setup.sh 1" -x "sh $WORK/window-a.sh"
echo "a.frozen=$(cat /tmp/frozen)"
echo "a.after=$(cat /tmp/frozen.after)"
wait_for 10 acked_past m "$(cut -d' ' -f1 /tmp/frozen)" &&
    wait_for 10 acked_past i "$(cut -d' ' -f2 /tmp/frozen)" &&
    echo "a.resumed=yes"
mark a

if [ -z "$NOHOLD" ]; then
	# (b) the daemon killed while frozen
	sim b -b "sh $WORK/setup.sh 2" -x "sh $WORK/window-b.sh" \
	    -s hot,freeze,exec
	cat /tmp/b.out
	mark b

	# (c) FTWRL stuck behind a long write to t.b (a read would not
	# stop it: MariaDB's FTWRL waits for running writes only)
	$MDB -e 'UPDATE t.b SET id = SLEEP(60)' >/dev/null 2>&1 &
	sleeper() {
		$MDB -N -B -e "SELECT id FROM information_schema.processlist
		    WHERE info = 'UPDATE t.b SET id = SLEEP(60)'"
	}
	sleeping() { test -n "$(sleeper)"; }
	wait_for 10 sleeping || echo "c.nosleeper"
	DOPTS="-o app_freeze_timeout=2.5"
	sim c -b "sh $WORK/setup.sh 3" -s hot,freeze,thaw
	DOPTS=
	m=$(lastack m) i=$(lastack i)
	wait_for 10 acked_past m "$m" && wait_for 10 acked_past i "$i" &&
	    sleeping && echo "c.resumed=yes"
	$MDB -e "KILL $(sleeper)"
	mark c

	# (d) the server hangs.  (c) cost mariadb-hold its session, which it
	# opens again by itself: the server must hang only once it has, or
	# it is that reconnect which hangs, and the FREEZE queues behind it
	# until the daemon's deadline (then, the server back, a late lock
	# and its abort)
	wait_for 10 count_ge /tmp/hold.out '^MariaDB .*: connected$' 2 ||
	    echo "d.noreconnect"
	kill -STOP "$(cat /tmp/mariadbd.pid)"
	DOPTS="-o app_freeze_timeout=1.5"
	sim d -b "sh $WORK/setup.sh 4" -s freeze,thaw
	DOPTS=
	kill -CONT "$(cat /tmp/mariadbd.pid)"
	mark d
fi
writers_stop
mark stopped
if [ -z "$NOHOLD" ]; then
	# (e) no server: CHECK and FREEZE are vetoed
	server_stop && echo "e.stopped=yes"
	mark down
	# hot_backup_veto=fail: the FREEZE is asked too (with ok, the
	# default, it would fail on the CHECK's veto without asking)
	DOPTS="-o hot_backup_veto=fail"
	sim e -b "sh $WORK/setup.sh 5" -s hot,freeze,thaw
	DOPTS=
	mark e
	# (f) a server again: mariadb-hold finds it, the backup succeeds
	nconn=$(grep -c '^MariaDB .*: connected$' /tmp/hold.out)
	server_start || echo "server did not start again"
	wait_for 10 count_ge /tmp/hold.out '^MariaDB .*: connected$' \
	    $((nconn + 1)) &&
	    echo "f.reconnected=yes"
	sim f -b "sh $WORK/setup.sh 6"
	mark f
fi
server_stop && echo "server.stopped=yes"
if [ -z "$NOHOLD" ]; then
	kill -TERM "$(cat /tmp/hold.pid)"
	wait_for 10 grep -q '^stopped$' /tmp/hold.out && echo "hold.stopped=yes"
	sed 's/^/hold /' /tmp/hold.out
fi
grep -E '\[(ERROR|Warning)\]' /tmp/mariadb.err | sed 's/^/server.err /'
echo "server.shutdowns=$(grep -c 'mariadbd: Shutdown complete' /tmp/mariadb.err)"
mark done
EOF2

# verify.sh: in a second sandbox, on the copy: myisamchk first, then a
# second server (InnoDB crash recovery allowed, MyISAM repair off).
cat >"$WORK/verify.sh" <<'EOF2'
. "$WORK/common.sh"
myisamchk --check --extend-check --read-only /mnt/db/data/t/m \
    >/tmp/myisamchk.out 2>&1
echo "myisamchk.rc=$?"
sed 's/^/myisamchk /' /tmp/myisamchk.out
mkdir -p /run/mysqld
mariadbd --no-defaults --user=root --datadir=/mnt/db/data \
    --skip-networking --socket=$SOCK --pid-file=/run/mysqld/mysqld.pid \
    --log-error=/tmp/copy.err --innodb-buffer-pool-size=32M \
    --innodb-log-file-size=16M --innodb-force-recovery=0 \
    --myisam-recover-options=OFF &
pid=$!
if wait_for 30 $MDB -e 'DO 1' 2>/dev/null; then
	for t in m i; do
		echo "rows.$t=$($MDB -N -B -e "SELECT COUNT(*),
		    COALESCE(MIN(id), 0), COALESCE(MAX(id), 0),
		    COALESCE(SUM(v = CONCAT('row ', id)), 0) FROM t.$t" |
		    tr '\t' ' ')"
	done
	$MDB -N -B -e 'CHECK TABLE t.m, t.i EXTENDED' | tr '\t' ' ' |
	    sed 's/^/check /'
	$MDB -e SHUTDOWN
	wait_for 30 test ! -e /run/mysqld/mysqld.pid
fi
wait $pid
echo "copy.server.rc=$?"
# InnoDB's crash recovery is expected (the server was running); a
# MyISAM or Aria table found crashed, or any error, is not
grep -E '\[(ERROR|Warning)\]|crash|repair|corrupt' /tmp/copy.err |
    sed 's/^/copy.log /'
grep -E '\[ERROR\]|marked as crashed|repair|[Cc]orrupt|not closed' \
    /tmp/copy.err | sed 's/^/copy.bad /'
EOF2

copy_image() {
	cp --sparse=always "$WORK/db.img" "$WORK/copy.img"
}

start=$(now_ms)
run_with_window copy_image -t 90 -r "$TOP" -r "$B" -r "$WORK" \
    -e "B=$B" -e "TOP=$TOP" -e "WORK=$WORK" -e "NOHOLD=$NOHOLD" \
    -m "$WORK/db.img:/mnt/db" -- sh "$WORK/inner.sh"
rc=$?
out=$WORK/sandbox.out
[ $rc -eq 0 ] || show_logs
grep -v -e '^[a-d]\.log .*plan:' "$out" | sed 's/^/# /'
get() { sed -n "s/^$1=//p" "$out" | head -n 1; }
field() { echo "$1" | cut -d' ' -f"$2"; }
check_eq "sandbox exit" 0 "$rc"

# (a) the backup, and the writers held by the lock
check_eq "(a) backup: HOT_BACKUP, FREEZE, THAW all S_OK" \
    "HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK" "$(get a.results)"
check_eq "(a) sim verdict ok" 0 "$(get a.rc)"
check "(a) mariadb-hold took the read lock and answered FROZEN" \
    grep -q '^hold freeze [0-9]*: FLUSH TABLES WITH READ LOCK in [0-9]* ms (budget [0-9]* ms, lock_wait_timeout [0-9]* s): holding$' "$out"
check "(a) ... and released it at THAW" \
    grep -q '^hold thaw [0-9]*: lock released after [0-9]* ms$' "$out"
check "(a) the daemon logged mariadb's registration, tier 9" \
    grep -q '^a\.log .*app mariadb (pid [0-9]*, uid 0) registered: id [0-9]*, tier 9$' "$out"
frozen=$(get a.frozen)
am=$(field "$frozen" 1)
ai=$(field "$frozen" 2)
check "(a) both writers had rows acknowledged before FREEZE" \
    test "${am:-0}" -ge 300 -a "${ai:-0}" -ge 300
check_eq "(a) no row was acknowledged while frozen" "$frozen" \
    "$(get a.after)"
check_eq "(a) the writers went on after THAW" yes "$(get a.resumed)"

# the copy
check "(a) the copy is clean without journal replay (ext4)" \
    snapshot_clean ext4 "$WORK/copy.img"
"$SANDBOX" -t 60 -r "$WORK" -e "WORK=$WORK" \
    -m "$WORK/copy.img:/mnt/db" -- sh "$WORK/verify.sh" \
    >"$WORK/verify.out" 2>&1
vrc=$?
sed 's/^/# copy: /' "$WORK/verify.out"
vget() { sed -n "s/^$1=//p" "$WORK/verify.out" | head -n 1; }
check_eq "(a) copy: the verifying sandbox ran" 0 "$vrc"
check_eq "(a) copy: myisamchk finds the MyISAM table clean" 0 \
    "$(vget myisamchk.rc)"
check_eq "(a) copy: ... and closed (no client 'using' it, nothing to fix)" \
    "" "$(grep -i -E '^myisamchk .*(warning|error|using|closed|crashed|repair)' "$WORK/verify.out")"
check_eq "(a) copy: CHECK TABLE ... EXTENDED says OK, and nothing else" \
    "check t.m check status OK check t.i check status OK" \
    "$(grep '^check ' "$WORK/verify.out" | tr '\n' ' ' | sed 's/ $//')"
check_eq "(a) copy: no error, crashed table or repair in the server's log" \
    "" "$(grep '^copy\.bad ' "$WORK/verify.out")"
check_eq "(a) copy: the second server shut down cleanly" 0 \
    "$(vget copy.server.rc)"
for t in m i; do
	case $t in m) eng=MyISAM want=$am ;; i) eng=InnoDB want=$ai ;; esac
	r=$(vget rows.$t)
	n=$(field "$r" 1) lo=$(field "$r" 2) hi=$(field "$r" 3)
	good=$(field "$r" 4)
	check "(a) copy, $eng: every row acknowledged before FROZEN ($want)" \
	    test "${n:-0}" -ge "${want:-1}" -a "${hi:-0}" -ge "${want:-1}"
	check "(a) copy, $eng: no gap below (ids 1..$hi, $n rows)" \
	    test "${lo:-0}" = 1 -a "${n:-0}" = "${hi:-x}"
	check_eq "(a) copy, $eng: every row intact" "$n" "$good"
	echo "# $eng: $want rows acknowledged before FROZEN, $n in the copy (max id $hi)"
done
final=$(get final)
echo "# rows written in all: MyISAM $(field "$final" 1), InnoDB $(field "$final" 2)"
echo "# FREEZE request to reply (a): $(get a.freeze_us) us"
check_eq "the writers ran until stopped (SIGTERM), without an error" \
    "143 143 ." "$(get writers.rc).$(get writers.err)"

if [ -z "$NOHOLD" ]; then
	# (b) the daemon dies while the lock is held
	check_eq "(b) mariadb-hold re-registered and froze again" yes \
	    "$(get b.held)"
	check_eq "(b) the daemon killed while frozen: the lock was released" \
	    yes "$(get b.released)"
	check_eq "(b) ... and the writers went on" yes "$(get b.resumed)"
	check "(b) mariadb-hold saw the daemon go, and did not exit" \
	    grep -q '^hold hv_vss_daemon gone (.*): reconnecting$' "$out"
	# (c) a stuck FTWRL
	check_eq "(c) FTWRL behind a long write: FREEZE E_FAIL" \
	    "HOT_BACKUP:S_OK,FREEZE:E_FAIL" "$(get c.results | cut -d, -f1,2)"
	check "(c) ... vetoed with the server's reason, lock_wait_timeout 1 s" \
	    grep -q "^c\.log .*app mariadb (pid [0-9]*, uid 0): VETO FLUSH TABLES WITH READ LOCK: Lock wait timeout exceeded" "$out"
	check "(c) ... within the 2.5 s budget" \
	    test "$(get c.freeze_us)" -lt 2500000
	check_eq "(c) ... and the writers went on, the long write still running" \
	    yes "$(get c.resumed)"
	# (d) a hung server
	check_eq "(d) a hung server: FREEZE E_FAIL" "FREEZE:E_FAIL" \
	    "$(get d.results | cut -d, -f1)"
	check "(d) mariadb-hold had its session back before the server hung" \
	    eval '! grep -q "^d\.noreconnect" "$out"'
	check "(d) ... vetoed by the client's own deadline" \
	    grep -q "^d\.log .*app mariadb (pid [0-9]*, uid 0): VETO MariaDB at /run/mysqld/mysqld.sock: no answer in time" "$out"
	check "(d) ... within the 1.5 s budget" \
	    test "$(get d.freeze_us)" -lt 1500000
	# (e) no server
	check_eq "(e) the server stopped cleanly" yes "$(get e.stopped)"
	check_eq "(e) no server, hot_backup_veto=fail: HOT_BACKUP and FREEZE E_FAIL" \
	    "HOT_BACKUP:E_FAIL,FREEZE:E_FAIL" \
	    "$(get e.results | cut -d, -f1,2)"
	check "(e) ... the daemon's log names mariadb and its reason" \
	    grep -q "^e\.log .*app mariadb (pid [0-9]*, uid 0): VETO MariaDB at /run/mysqld/mysqld.sock: Can't connect to local server through socket" "$out"
	check "(e) ... mariadb-hold vetoed the FREEZE, with the reason" \
	    grep -q "^hold freeze [0-9]*: VETO MariaDB at /run/mysqld/mysqld.sock: Can't connect" "$out"
	# (f) a server again
	check_eq "(f) mariadb-hold reconnected to the restarted server" yes \
	    "$(get f.reconnected)"
	check_eq "(f) backup: HOT_BACKUP, FREEZE, THAW all S_OK" \
	    "HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK" "$(get f.results)"
	check_eq "(f) mariadb-hold froze and thawed 3 times in all" "3 3" \
	    "$(grep -c '^hold freeze [0-9]*: .*: holding$' "$out") $(grep -c '^hold \(thaw\|abort\) [0-9]*: lock released' "$out")"
	check_eq "mariadb-hold stopped on SIGTERM" yes "$(get hold.stopped)"
	check_eq "the server shut down cleanly each time" 2 \
	    "$(get server.shutdowns)"
fi
check_eq "the server's last shutdown was clean" yes "$(get server.stopped)"
echo "# in the sandbox (ms since start): $(sed -n 's/^time\.\([a-z]*\)=\(.*\)/\1 \2/p' "$out" | tr '\n' ' ')"
echo "# all: $(($(now_ms) - start)) ms"
finish
