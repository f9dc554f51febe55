#!/bin/sh
# t_daemon_faults: what hv_vss_daemon answers when things go wrong, and
# that nothing stays frozen afterwards.  Each case runs one emulated host
# scenario; after each, a write to every test filesystem must land at once
# (and the case fails, after thawing, if one does not).
. "$(dirname "$0")/lib.sh"
need_root
need_cmd mkfs.ext4 mkfs.xfs python3
workdir
mkimage ext4 512M "$WORK/outer.img" || bail "mkfs.ext4"
mkimage ext4 64M "$WORK/c.img" || bail "mkfs.ext4"
"$SANDBOX" -t 60 -m "$WORK/outer.img:/mnt/outer" -- sh -c \
    'truncate -s 300M /mnt/outer/inner.img && mkfs.xfs -q /mnt/outer/inner.img' \
    >"$WORK/prep.log" 2>&1 || { cat "$WORK/prep.log"; bail "preparing"; }

cat >"$WORK/inner.sh" <<EOF2
#!/bin/sh
# inside the sandbox: one scenario per case
dev=/dev/vmbus/hv_vss
DAEMON="$B/hv_vss_daemon -n -d -c /dev/null -o mounts=/mnt/outer,/mnt/inner,/mnt/c"

run() {	# name [env=value ...] -- sim-args
	name=\$1
	shift
	envs=
	while [ "\$1" != -- ]; do envs="\$envs \$1"; shift; done
	shift
	env \$envs $B/hv_vss_sim "\$@" \$dev -- \$DAEMON >/tmp/\$name.json \\
	    2>/tmp/\$name.log
	echo "\$name.rc=\$?"
	python3 - /tmp/\$name.json \$name <<'EOF3'
import json, sys
r = json.load(open(sys.argv[1]))
n = sys.argv[2]
print("%s.results=%s" % (n, ";".join(",".join("%s:%s" % (q["op"],
      q.get("result", "none")) for q in b["requests"]) for b in r["backups"])))
print("%s.events=%s" % (n, ",".join(sorted(set(e["kind"] for e in r["events"])))))
EOF3
	sed "s/^/\$name.log /" /tmp/\$name.log | grep -v plan:
	for m in /mnt/outer /mnt/inner /mnt/c; do
		if ! timeout 3 sh -c "echo x >\$m/probe-\$name"; then
			echo "\$name.frozen=\$m"
			fsfreeze -u \$m
		fi
	done
}

# a FIFREEZE fails part-way: /mnt/inner is frozen first, /mnt/outer fails
run partway LD_PRELOAD=$B/tests/failfreeze.so HVVSS_FAIL_FREEZE=/mnt/outer -- \\
    -s hot,freeze,thaw
# the kernel gives up on FREEZE: the late S_OK is rejected, the daemon
# thaws, registers again and serves the next request
run ktimeout -- -f timeout=freeze -s hot,freeze,sleep=1,thaw,hot
# hibernation: a fake THAW, the reply to it rejected, reconnect, THAW
run hibernate -- -f hibernate
# no THAW within max_frozen: thawed by the lease, the late THAW E_FAIL
run lease -- -s hot,freeze,sleep=2,thaw -- 
# a FITHAW fails twice: THAW E_FAIL naming it, a FREEZE meanwhile
# refused, the thaw tried again (every 2 s) until it works, then a
# normal backup; a hook sees "thaw" after the failed one, as do the apps
# (with the privilege split, the default, and without: there the THAW
# fails once only, its first retry 2 s on works, and 4 s are waited)
mkdir -m 700 /tmp/rethaw-hooks
printf '#!/bin/sh\necho "\$1" >>/tmp/rethaw-hook.log\n' >/tmp/rethaw-hooks/10-log
chmod 755 /tmp/rethaw-hooks/10-log
save=\$DAEMON
for c in rethaw:yes:2:6 rethaw1:no:1:4; do
	set -- \$(echo \$c | tr : ' ')
	DAEMON="\$save -o hooks_dir=/tmp/rethaw-hooks -o privsep=\$2"
	rm -f /tmp/rethaw-hook.log
	run \$1 LD_PRELOAD=$B/tests/failfreeze.so HVVSS_FAIL_THAW=/mnt/c \\
	    HVVSS_FAIL_THAW_TIMES=\$3 -- \\
	    -s hot,freeze,thaw,freeze,sleep=\$4,hot,freeze,thaw
	echo "\$1.hook=\$(tr '\n' , </tmp/rethaw-hook.log)"
done
DAEMON=\$save
# a FIFREEZE fails part-way and its undo fails too (the FITHAW of
# /mnt/inner, twice): FREEZE E_FAIL, a FREEZE meanwhile refused, the
# thaw tried again until it works; with and without the split (there
# the undo fails once, and the first retry works)
for c in undofail:yes:2:6 undofail1:no:1:4; do
	set -- \$(echo \$c | tr : ' ')
	DAEMON="\$save -o privsep=\$2"
	run \$1 LD_PRELOAD=$B/tests/failfreeze.so \\
	    HVVSS_FAIL_FREEZE=/mnt/outer HVVSS_FAIL_THAW=/mnt/inner \\
	    HVVSS_FAIL_THAW_TIMES=\$3 -- -s hot,freeze,freeze,sleep=\$4,thaw
done
DAEMON=\$save
# odd sequences
run thawidle -- -s thaw,hot,freeze,thaw
run dupfreeze -- -f dup-freeze
run overlap -- -f overlap
run unknown -- -f unknown-op
EOF2
# the lease case needs its own daemon option: patch it in
sed -i 's|^run lease -- -s hot,freeze,sleep=2,thaw -- $|DAEMON="$DAEMON -o max_frozen=1"; run lease -- -s hot,freeze,sleep=2,thaw|' "$WORK/inner.sh"

"$SANDBOX" -t 300 -r "$TOP" -r "$B" -r "$WORK" \
    -m "$WORK/outer.img:/mnt/outer" -m "/mnt/outer/inner.img:/mnt/inner" \
    -m "$WORK/c.img:/mnt/c" -- sh "$WORK/inner.sh" >"$WORK/out" 2>&1
rc=$?
out=$WORK/out
get() { sed -n "s/^$1=//p" "$out"; }
sed 's/^/# /' "$out" | grep -v 'log .*plan:'
check_eq "sandbox exit" 0 "$rc"
check_eq "nothing left frozen by any case" "" "$(grep '\.frozen=' "$out")"

check_eq "part-way failure: FREEZE E_FAIL, THAW finds nothing frozen" \
    "HOT_BACKUP:S_OK,FREEZE:E_FAIL,THAW:S_OK" "$(get partway.results)"
check "part-way failure: the culprit named" \
    grep -q 'partway.log .*FREEZE failed: FIFREEZE /mnt/outer: Input/output error' "$out"
check "part-way failure: what was frozen was thawed before the reply" \
    grep -q 'partway.log .*thawed again: .*/mnt/inner' "$out"

check_eq "kernel timeout: FREEZE E_FAIL to the host; served again after" \
    "HOT_BACKUP:S_OK,FREEZE:E_FAIL,THAW:S_OK,HOT_BACKUP:S_OK" \
    "$(get ktimeout.results)"
check "kernel timeout: the late reply's rejection seen, thaw, reconnect" \
    grep -q 'ktimeout.log .*reply rejected: Invalid argument' "$out"
check "kernel timeout: the daemon registered again" \
    test "$(grep -c 'ktimeout.log .*registered with' "$out")" -ge 2

check_eq "hibernation: all answered S_OK" \
    "HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK" "$(get hibernate.results)"
case "$(get hibernate.events)" in
*hibernate*late_reply*reregistered*) pass "hibernation: fake THAW served, its reply rejected, daemon back" ;;
*) fail "hibernation events: $(get hibernate.events)" ;;
esac

check_eq "lease: THAW after max_frozen answered E_FAIL" \
    "HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:E_FAIL" "$(get lease.results)"
check "lease: the expiry logged with its reason" \
    grep -q 'lease.log .*frozen for max_frozen (1000 ms) without a THAW' "$out"

for c in rethaw rethaw1; do
	[ $c = rethaw ] && how="privsep" || how="no privsep"
	check_eq "failed thaw ($how): THAW E_FAIL, FREEZE refused until the retry thawed" \
	    "HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:E_FAIL,FREEZE:E_FAIL,HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK" \
	    "$(get $c.results)"
	check "failed thaw ($how): the culprit named" \
	    grep -q "$c.log .*THAW failed: FITHAW /mnt/c: Input/output error" "$out"
	check "failed thaw ($how): the FREEZE meanwhile refused, saying why" \
	    grep -q "$c.log .*FREEZE refused: filesystems a thaw failed on are still frozen" "$out"
	check_eq "failed thaw ($how): the hook told freeze, thaw, then the next backup's" \
	    "freeze,thaw,freeze,thaw," "$(get $c.hook)"
	check "failed thaw ($how): tried again until it worked" \
	    grep -q "$c.log .*the thaw that failed was tried again and succeeded" "$out"
done

for c in undofail undofail1; do
	[ $c = undofail ] && how="privsep" || how="no privsep"
	check_eq "undo failed ($how): FREEZE E_FAIL, FREEZE refused, THAW S_OK after the retry" \
	    "HOT_BACKUP:S_OK,FREEZE:E_FAIL,FREEZE:E_FAIL,THAW:S_OK" \
	    "$(get $c.results)"
	check "undo failed ($how): said" \
	    grep -q "$c.log .*the freeze could not all be undone" "$out"
	check "undo failed ($how): tried again until it worked" \
	    grep -q "$c.log .*the thaw that failed was tried again and succeeded" "$out"
done

check_eq "THAW with nothing frozen: S_OK, then a normal backup" \
    "THAW:S_OK,HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK" "$(get thawidle.results)"
check_eq "FREEZE while frozen: S_OK (already frozen)" \
    "HOT_BACKUP:S_OK,FREEZE:S_OK,FREEZE:S_OK,THAW:S_OK" "$(get dupfreeze.results)"
check "FREEZE while frozen: logged as such" \
    grep -q 'dupfreeze.log .*FREEZE while frozen' "$out"
check_eq "FREEZE sent while HOT_BACKUP in flight: both served in order" \
    "HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK" "$(get overlap.results)"
check_eq "unknown op: answered by the kernel, backup fine" \
    "UNKNOWN:S_OK,HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK" "$(get unknown.results)"
for c in partway ktimeout hibernate lease rethaw rethaw1 undofail \
    undofail1 thawidle dupfreeze overlap unknown; do
	check_eq "$c: sim ran to its end" "" "$(get $c.rc | grep -v '^[01]$')"
done

# a bad configuration stops the daemon before it touches anything, naming
# file, line and key (-t: check and exit; safe outside the sandbox)
printf '[daemon]\nmax_frozen = 30\nunfreezable = maybe\n' >"$WORK/bad.conf"
msg=$("$B/hv_vss_daemon" -t -c "$WORK/bad.conf" 2>&1)
check_eq "bad config: exit 1" 1 "$?"
case $msg in
*"bad.conf:3: unfreezable"*) pass "bad config: message names file, line and key" ;;
*) fail "bad config message: $msg" ;;
esac
msg=$("$B/hv_vss_daemon" -t -o max_frozen=soon 2>&1)
case $msg in
*"max_frozen"*) pass "bad -o: message names the key" ;;
*) fail "bad -o message: $msg" ;;
esac
finish
