#!/bin/sh
# t_lib_examples: the examples in examples/ work against the real daemon,
# and libhvvss is what its page says it is.
#
#  - build/examples/app (C, libhvvss) and examples/client.py (Python, the
#    bare protocol) register with hv_vss_daemon in the sandbox, and an
#    emulated host backup succeeds; each saw CHECK, FREEZE and THAW in
#    that order.  The host copies the disk image while the guest is
#    frozen: the copy holds exactly the lines the C app reported on disk
#    at FREEZE.  Those lines were in stdio's buffer until the app's
#    freeze callback flushed them: the daemon's own syncfs cannot see
#    them, so this is the application-consistency, not a crash-consistency.
#  - client.py --veto check: HOT_BACKUP E_FAIL, the log names the app and
#    its reason; --veto freeze: FREEZE E_FAIL, named, and the C app, asked
#    in the same tier, is told ABORT.
#  - the shell hook example answers freeze, thaw and abort, alone and
#    run by the daemon; when another hook refuses, it and the C app are
#    told abort.
#  - the shared library exports exactly the functions of libhvvss.map,
#    versioned HVVSS_1; make install puts library, header, pkg-config file
#    and page where pkg-config finds them, and the C example builds and
#    runs against that installed copy.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd mkfs.ext4 python3 nm pkg-config
workdir
mkimage ext4 64M "$WORK/a.img" || bail "mkfs.ext4"
for f in "$B/examples/app" "$B/libhvvss.so.1" "$TOP/examples/client.py"; do
	[ -e "$f" ] || bail "missing $f (make all)"
done

# --- the exported ABI ------------------------------------------------------
want=$(sed -n 's/^[[:space:]]*\(hvvss_[a-z_]*\);$/\1@@HVVSS_1/p' \
    "$TOP/lib/libhvvss.map" | sort | tr '\n' ' ')
got=$(nm -D --defined-only "$B/libhvvss.so.1" | awk '$2 == "T" {print $3}' |
    sort | tr '\n' ' ')
check_eq "libhvvss.so.1 exports exactly the map's functions, at HVVSS_1" \
    "$want" "$got"
check "the map names all 7 functions of the page's SYNOPSIS" \
    test "$(echo "$want" | wc -w)" -eq 7
check_eq "soname libhvvss.so.1" "libhvvss.so.1" \
    "$(objdump -p "$B/libhvvss.so.1" | awk '$1 == "SONAME" {print $2}')"
check_eq "the static archive defines hvvss_* and nothing else global" "" \
    "$(nm -g --defined-only "$B/libhvvss.a" | awk 'NF == 3 && $3 !~ /^hvvss_/')"

# --- the hook example --------------------------------------------------------
hook=$TOP/examples/hooks/10-example
for ph in freeze thaw abort; do
	o=$(env HVVSS_TXID=7 sh "$hook" "$ph")
	check "hook: '$ph' exits 0 and says so" \
	    test $? -eq 0 -a "$(echo "$o" | grep -c "^10-example: $ph 7: ")" = 1
done
check "hook: anything else is a usage error" \
    sh -c "! sh '$hook' bogus 2>/dev/null"
check "hook: executable, as the daemon requires" test -x "$hook"

# --- backups with both examples connected ----------------------------------
cat >"$WORK/start.sh" <<'EOF2'
#!/bin/sh
# hv_vss_sim -b: once the daemon has registered with the device, start
# the two examples, and return when both are registered with the daemon,
# before the host's first request.  start.sh BUILD TOP [check|freeze]:
# the last, for client.py --veto, with a reason it must sanitize.
B=$1 TOP=$2 veto=${3:-}
sock=/run/hv_vss/app.sock
i=0
until [ -S $sock ]; do
	i=$((i + 1)); [ $i -le 200 ] || exit 1; sleep 0.05
done
$B/examples/app /mnt/a/journal >/tmp/app.out 2>&1 &
echo $! >/tmp/app.pid
if [ -n "$veto" ]; then
	python3 $TOP/examples/client.py --socket $sock --veto "$veto" \
	    --reason "not now:$(printf '\t\r\n')busy  " >/tmp/py.out 2>&1 &
else
	python3 $TOP/examples/client.py --socket $sock >/tmp/py.out 2>&1 &
fi
echo $! >/tmp/py.pid
i=0
until grep -q '^registered' /tmp/app.out && grep -q '^registered' /tmp/py.out
do
	i=$((i + 1)); [ $i -le 200 ] || exit 1; sleep 0.05
done
EOF2

cat >"$WORK/inner.sh" <<EOF2
#!/bin/sh
# inside the sandbox: one host backup per case
DAEMON="$B/hv_vss_daemon -n -c /dev/null -o mounts=/mnt/a -o app_socket=/run/hv_vss/app.sock -o hooks_dir=/tmp/hooks.d"
# the hook example, installed as the daemon wants it: root's, 0755
mkdir -m 0755 /tmp/hooks.d
cp $TOP/examples/hooks/10-example /tmp/hooks.d/
chmod 0755 /tmp/hooks.d/10-example

run() {	# name veto [sim options]
	name=\$1 veto=\$2
	shift 2
	rm -f /tmp/app.out /tmp/py.out /tmp/app.pid /tmp/py.pid
	$B/hv_vss_sim -b "sh $WORK/start.sh $B $TOP \$veto" "\$@" /dev/vmbus/hv_vss \\
	    -- \$DAEMON >/tmp/\$name.json 2>/tmp/\$name.log
	echo "\$name.rc=\$?"
	python3 - /tmp/\$name.json \$name <<'EOF3'
import json, sys
r = json.load(open(sys.argv[1]))
print("%s.results=%s" % (sys.argv[2], ";".join(",".join("%s:%s" % (q["op"],
      q.get("result", "none")) for q in b["requests"]) for b in r["backups"])))
lat = r["summary"]["latency_us"].get("FREEZE")
if lat:
    print("%s.freeze_us=%d" % (sys.argv[2], lat["median"]))
EOF3
	# the daemon is gone: both examples must notice and exit
	for p in app py; do
		i=0
		while [ -s /tmp/\$p.pid ] && kill -0 \$(cat /tmp/\$p.pid) 2>/dev/null
		do
			i=\$((i + 1))
			if [ \$i -gt 100 ]; then
				echo "\$name.\$p=still running"
				kill \$(cat /tmp/\$p.pid)
				break
			fi
			sleep 0.05
		done
		sed "s/^/\$name.\$p /" /tmp/\$p.out
	done
	sed "s/^/\$name.log /" /tmp/\$name.log
	if ! timeout 3 sh -c "echo x >/mnt/a/probe-\$name"; then
		echo "\$name.frozen=yes"
		fsfreeze -u /mnt/a
	fi
}

run ok "" -x "sh $TOP/tests/system/window.sh"
echo "journal.lines=\$(wc -l </mnt/a/journal)"
run vetocheck check
run vetofreeze freeze
# a second hook that refuses: the example is told abort
printf '#!/bin/sh\n[ "\$1" != freeze ]\n' >/tmp/hooks.d/20-no
chmod 0755 /tmp/hooks.d/20-no
# (the pause: the abort stage runs after FREEZE's E_FAIL, and hooks'
# output is logged at the next stage; a THAW and the SIGTERM that ends
# the scenario at once would cut it off)
run hookveto "" -s hot,freeze,sleep=1,thaw
EOF2

copy_image() {
	cp --sparse=always "$WORK/a.img" "$WORK/copy.img"
}

run_with_window copy_image -t 120 -r "$TOP" -r "$B" -r "$WORK" \
    -m "$WORK/a.img:/mnt/a" -- sh "$WORK/inner.sh"
rc=$?
out=$WORK/sandbox.out
[ $rc -eq 0 ] || show_logs
sed 's/^/# /' "$out" | grep -v '\.log .*plan:'
get() { sed -n "s/^$1=//p" "$out"; }
# the first words of an example's lines, in order: what it saw
seen() {	# case example
	sed -n "s/^$1\.$2 \(-> \)\{0,1\}\([A-Za-z]*\).*/\2/p" "$out" |
	    tr '\n' ' '
}
check_eq "sandbox exit" 0 "$rc"
check_eq "no case left /mnt/a frozen" "" "$(grep '\.frozen=' "$out")"
check_eq "no example outlived its daemon" "" \
    "$(grep -E '^[a-z]+\.(app|py)=still running' "$out")"

check_eq "with both examples: backup S_OK" \
    "HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK" "$(get ok.results)"
check_eq "with both examples: sim verdict ok" 0 "$(get ok.rc)"
check_eq "C example saw CHECK, FREEZE, THAW in order, then the daemon go" \
    "registered check freeze thaw daemon " "$(seen ok app)"
check_eq "Python example saw CHECK, FREEZE, THAW in order and answered" \
    "registered CHECK READY FREEZE FROZEN THAW THAWED daemon " \
    "$(seen ok py)"
check "the hook example ran with freeze, and the daemon logged it" \
    grep -q '^ok.log .*hook 10-example (freeze): 10-example: freeze [0-9]*: flushing and holding$' "$out"
check "... and with thaw" \
    grep -q '^ok.log .*hook 10-example (thaw): 10-example: thaw [0-9]*: resuming$' "$out"
check "the daemon logged both registrations, with their tier" sh -c \
    "grep -q '^ok.log .*app example-app (pid [0-9]*, uid 0) registered: id [0-9]*, tier 5' '$out' &&
    grep -q '^ok.log .*app example-py (pid [0-9]*, uid 0) registered: id [0-9]*, tier 5' '$out'"

# the snapshot holds what the C app flushed at FREEZE, no more, no less
ondisk=$(sed -n 's/^ok\.app freeze .*: \([0-9]*\) lines on disk, holding$/\1/p' "$out")
check "the C app had written lines before FREEZE" test "${ondisk:-0}" -ge 1
check "the snapshot is consistent without journal replay" \
    snapshot_clean ext4 "$WORK/copy.img"
"$SANDBOX" -t 60 -r "$WORK" -m "$WORK/copy.img:/mnt/a:ext4:ro" -- \
    sh -c 'wc -l </mnt/a/journal; tail -n 1 /mnt/a/journal' \
    >"$WORK/copy.out" 2>&1
sed 's/^/# copy: /' "$WORK/copy.out"
check_eq "the snapshot holds exactly the lines flushed at FREEZE" \
    "$ondisk" "$(sed -n 1p "$WORK/copy.out")"
check_eq "... the last of them whole" "line $((${ondisk:-0} - 1))" \
    "$(sed -n 2p "$WORK/copy.out")"
check "after THAW the C app wrote on" \
    test "$(get journal.lines)" -gt "${ondisk:-0}"

check_eq "client.py --veto check: HOT_BACKUP S_OK, FREEZE E_FAIL (hot_backup_veto=ok)" \
    "HOT_BACKUP:S_OK,FREEZE:E_FAIL" \
    "$(get vetocheck.results | cut -d, -f1,2)"
check "... the log names the app and its (sanitized) reason" \
    grep -q '^vetocheck.log .*app example-py (pid [0-9]*, uid 0): VETO not now: busy$' "$out"
check "... the C app was asked too, and agreed" \
    grep -q '^vetocheck.app check ' "$out"
check_eq "client.py --veto freeze: FREEZE E_FAIL" "FREEZE:E_FAIL" \
    "$(get vetofreeze.results | cut -d, -f2)"
check "... the log names the app and its reason" \
    grep -q '^vetofreeze.log .*app example-py (pid [0-9]*, uid 0): VETO not now: busy$' "$out"
check "... nothing was frozen" \
    sh -c "! grep -q '^vetofreeze.log .*froze [0-9]' '$out'"
check_eq "... the C app, frozen in the same tier, was told ABORT" \
    "registered check freeze abort " \
    "$(seen vetofreeze app | sed 's/daemon $//')"
check_eq "a hook that refuses: FREEZE E_FAIL" "FREEZE:E_FAIL" \
    "$(get hookveto.results | cut -d, -f2)"
check "... the hook example was told abort" \
    grep -q '^hookveto.log .*hook 10-example (abort): 10-example: abort [0-9]*: resuming$' "$out"
check_eq "... and so was the C app, after it had frozen" \
    "registered check freeze abort " \
    "$(seen hookveto app | sed 's/daemon $//')"
echo "# FREEZE request to reply with both examples: $(get ok.freeze_us) us"

# --- make install, and the example built against the installed copy --------
inst=$WORK/inst
make -s -C "$TOP" B="$B" DESTDIR="$inst" PREFIX=/usr install-lib \
    >"$WORK/install.log" 2>&1
check "make install-lib" test $? -eq 0
for f in usr/lib/libhvvss.so.1 usr/lib/libhvvss.so usr/lib/libhvvss.a \
    usr/include/hvvss.h usr/lib/pkgconfig/hvvss.pc \
    usr/share/man/man3/libhvvss.3; do
	check "installed /$f" test -e "$inst/$f"
done
flags=$(PKG_CONFIG_PATH=$inst/usr/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$inst \
    pkg-config --cflags --libs hvvss | sed 's/ *$//')
check_eq "pkg-config hvvss" "-I$inst/usr/include -L$inst/usr/lib -lhvvss" \
    "$flags"
# shellcheck disable=SC2086
cc -o "$WORK/app-installed" "$TOP/examples/app.c" $flags \
    >"$WORK/cc.log" 2>&1
check "examples/app.c builds with pkg-config's flags alone" test $? -eq 0
sed 's/^/# cc: /' "$WORK/cc.log"
o=$(LD_LIBRARY_PATH=$inst/usr/lib "$WORK/app-installed" "$WORK/j" \
    "$WORK/nodaemon.sock" 2>&1)
check_eq "... and runs against the installed library" \
    "app: cannot register: No such file or directory" "$o"
finish
