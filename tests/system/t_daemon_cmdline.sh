#!/bin/sh
# t_daemon_cmdline: what hv_vss_daemon says about its command line and
# configuration before it serves anything, and what hv_vss_ctl status
# says while a freeze is in progress.
#
#  - -t refuses an empty allow-list (and says how to ask for the
#    automatic plan), an allow-listed path that does not exist or has
#    "..", a key set twice or before [daemon]: exit 1, the message naming
#    the key and the value (and the file and line);
#  - a run_dir that cannot be made, or one that leaves the app socket's
#    directory missing, is named as the culprit;
#  - libevent's warnings (a device that cannot be polled, as with
#    -D /dev/null) come through the daemon's log, never as raw "[warn]";
#  - SIGQUIT stops the daemon as SIGTERM does;
#  - status during a slow freeze gives the time the freeze started, not
#    the epoch.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd mkfs.ext4 python3
workdir
mkimage ext4 64M "$WORK/a.img" || bail "mkfs.ext4"
D=$B/hv_vss_daemon

# --- -t: safe outside the sandbox (it reads, checks and exits) -----------
t() {	# expected-status expected-message description daemon-args...
	_st=$1 _msg=$2 _desc=$3
	shift 3
	_out=$("$D" -t "$@" 2>&1 >/dev/null)
	_rc=$?
	check_eq "$_desc: exit $_st" "$_st" "$_rc"
	check_eq "$_desc: message" "$_msg" "$_out"
}
t 1 'hv_vss_daemon: -o mounts: an empty allow-list (for the automatic plan, say "auto")' \
    "-o mounts= (empty)" -c /dev/null -o mounts=
t 1 'hv_vss_daemon: -o mounts: an empty allow-list (for the automatic plan, say "auto")' \
    "-o mounts=' , ' (empty)" -c /dev/null -o 'mounts= , '
t 0 "" "-o mounts=auto" -c /dev/null -o mounts=auto
check_eq "-t -o mounts=auto: the dump says auto" "mounts = auto" \
    "$("$D" -t -c /dev/null -o mounts=auto | grep '^mounts')"
t 1 'hv_vss_daemon: mounts: "/nonexistent/hvvss": No such file or directory' \
    "-o mounts= a path that does not exist" -c /dev/null \
    -o "mounts=$WORK /nonexistent/hvvss"
t 1 "hv_vss_daemon: mounts: \"$WORK/a.img\": not a directory" \
    "-o mounts= a file" -c /dev/null -o "mounts=$WORK/a.img"
t 1 'hv_vss_daemon: -o mounts: "." or ".." in a path (mount points are matched as the mount table spells them): "/tmp/../etc"' \
    "-o mounts= with .." -c /dev/null -o "mounts=/tmp/../etc"
printf '[daemon]\nmounts = /\n\t/\n' >"$WORK/ok.conf"
t 0 "" "a file that is fine" -c "$WORK/ok.conf"
printf '[daemon]\nmounts =\n' >"$WORK/empty.conf"
t 1 "hv_vss_daemon: $WORK/empty.conf:2: mounts: an empty allow-list (for the automatic plan, say \"auto\")" \
    "empty mounts in the file" -c "$WORK/empty.conf"
printf '# a comment\n[daemon]\nmax_frozen = 30\nmax_frozen = 60\n' >"$WORK/dup.conf"
t 1 "hv_vss_daemon: $WORK/dup.conf:4: max_frozen: set again (first at line 3)" \
    "a key set twice" -c "$WORK/dup.conf"
printf 'max_frozen = 30\n[daemon]\n' >"$WORK/early.conf"
t 1 "hv_vss_daemon: $WORK/early.conf:1: max_frozen: before [daemon] (every key goes in that section)" \
    "a key before [daemon]" -c "$WORK/early.conf"

# --- the daemon itself: in the sandbox --------------------------------------
cat >"$WORK/inner.sh" <<EOF2
#!/bin/sh
D="$D -n -c /dev/null -o mounts=/mnt/a"
# run_dir
\$D -o run_dir=/nonexistent/x >/tmp/rd1 2>&1
echo "rd1.rc=\$?"
sed 's/^[0-9:.]* /rd1.log=/' /tmp/rd1
\$D -o run_dir=/other >/tmp/rd2 2>&1
echo "rd2.rc=\$?"
sed 's/^[0-9:.]* /rd2.log=/' /tmp/rd2
\$D -o run_dir=/etc/hostname >/tmp/rd3 2>&1
echo "rd3.rc=\$?"
sed 's/^[0-9:.]* /rd3.log=/' /tmp/rd3

# -D /dev/null with -d: libevent's warning comes through our log; then
# SIGQUIT stops the daemon
\$D -d -D /dev/null >/tmp/null.log 2>&1 &
p=\$!
sleep 1.5
kill -QUIT \$p
# (a shell starts a background job with SIGQUIT ignored: a daemon that
# does not catch it would never go)
i=0
while kill -0 \$p 2>/dev/null && [ \$i -lt 30 ]; do sleep 0.1; i=\$((i + 1)); done
kill -0 \$p 2>/dev/null && { echo "quit.alive=yes"; kill -TERM \$p; }
wait \$p
echo "quit.rc=\$?"
sed 's/^/null.log=/' /tmp/null.log

# status while the freezer is busy: each FIFREEZE takes 1.5 s, and the
# frozen-window command runs while the FREEZE is still in flight
$B/hv_vss_sim -s hot,freeze+,exec,thaw -x 'sleep 0.5; date +%s >/tmp/now;
    $B/hv_vss_ctl status >/tmp/status.txt; $B/hv_vss_ctl status --json >/tmp/status.json' \\
    /dev/vmbus/hv_vss -- env LD_PRELOAD=$B/tests/failfreeze.so HVVSS_FREEZE_DELAY_MS=1500 \$D \\
    >/tmp/report.json 2>/tmp/slow.log
echo "slow.sim=\$?"
sed -n 's/^frozen: */status.frozen=/p' /tmp/status.txt
# how long before the status each says the freeze began, in seconds
python3 - <<'EOF3'
import json, re, time
now = int(open("/tmp/now").read())
age = lambda s: now - time.mktime(time.strptime(s, "%Y-%m-%dT%H:%M:%S"))
d = json.load(open("/tmp/status.json"))
print("status.json=%s %s" % (d["state"], d["frozen"]))
print("status.json.age=%d" % age(d["frozen_since"]))
m = re.search(r"^frozen: +since (\S+): ", open("/tmp/status.txt").read(), re.M)
print("status.text.age=%s" % (int(age(m.group(1))) if m else "none"))
EOF3
sed 's/^/slow.log=/' /tmp/slow.log
EOF2
"$SANDBOX" -t 120 -r "$TOP" -r "$B" -r "$WORK" -m "$WORK/a.img:/mnt/a" \
    -- sh "$WORK/inner.sh" >"$WORK/out" 2>&1
rc=$?
out=$WORK/out
get() { sed -n "s/^$1=//p" "$out"; }
sed 's/^/# /' "$out" | grep -v 'plan:'
check_eq "sandbox exit" 0 "$rc"

check_eq "run_dir that cannot be made: exit 1" 1 "$(get rd1.rc)"
check_eq "run_dir that cannot be made: named" \
    "run_dir /nonexistent/x: cannot create it: No such file or directory" \
    "$(get rd1.log)"
check_eq "run_dir elsewhere, app socket's directory missing: exit 1" 1 \
    "$(get rd2.rc)"
check_eq "run_dir elsewhere: the app socket's directory and run_dir named" \
    "app_socket /run/hv_vss/app.sock: its directory /run/hv_vss (run_dir, /other, is the only one made): No such file or directory" \
    "$(get rd2.log)"
check_eq "run_dir a file: named" \
    "run_dir /etc/hostname: not a directory" "$(get rd3.log)"

check_eq "-D /dev/null: no raw libevent line" "" \
    "$(get null.log | grep '^\[')"
check "-D /dev/null: libevent's warning in the daemon's log, at debug" \
    grep -q '^null.log=[0-9:.]* libevent: Epoll ADD.*Operation not permitted' "$out"
check "-D /dev/null: the daemon's own words for it" \
    grep -q '^null.log=.*/dev/null cannot be polled: not a VSS device' "$out"
check_eq "SIGQUIT: the daemon went" "" "$(get quit.alive)"
check_eq "SIGQUIT: exit 0" 0 "$(get quit.rc)"
check "SIGQUIT: stops as SIGTERM does" \
    grep -q '^null.log=[0-9:.]* Quit: exiting$' "$out"

check_eq "slow freeze: the backup still succeeds" 0 "$(get slow.sim)"
check "status while freezing: says a freeze is in progress" \
    grep -q '^status.frozen=since .*: (a freeze or thaw is in progress)$' "$out"
check_eq "status --json while freezing: state and frozen" \
    "freezing filesystems True" "$(get status.json)"
# the freeze began 0.5 s before the status: 0 or 1 s ago, as it shows
# whole seconds (the epoch would be 56 years)
for f in text json; do
	case $(get status.$f.age) in
	0|1) pass "status ($f) while freezing: frozen since the freeze began" ;;
	*) fail "status ($f) while freezing: frozen since $(get status.$f.age) s before" ;;
	esac
done
finish
