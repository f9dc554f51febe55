#!/bin/sh
# t_privsep: the privileged parent's supervision of its engine
# (daemon/privsep.c), as build/tests/hv_vss_privsep with a test engine,
# driven by tests/system/privsep_harness.py.
#
# What it proves, in the sandbox, on two loop-mounted ext4 images
# /mnt/a and /mnt/b (allow-listed):
#  (a) the engine runs confined (the engine's user, CapEff 0,
#      NoNewPrivs 1, Seccomp 2, its root the empty directory) holding
#      only its socket and the one the parent bound for it; the parent
#      runs as root under its own filter;
#  (b) kill -9 of the engine while its transaction holds both frozen:
#      thawed at once, the signal named in the log, another engine
#      started, and the next transaction freezes and thaws both;
#  (c) the engine's forbidden call (the test trigger) while frozen: the
#      same, the log naming SIGSYS;
#  (d) an engine that closes its end and lives on is killed and
#      reaped; one that exits has its status logged; quick deaths double
#      the backoff (100, 200, 400, 800 ms);
#  (e) SIGTERM stops the parent (0), nothing frozen, the engine gone;
#  (f) kill -9 of the engine while the parent is inside its FREEZE (a
#      slow FIFREEZE, failfreeze.so): the freeze is undone once back,
#      then the engine is reaped and another started; the next
#      transaction is good;
#  (g) kill -9 of the parent while frozen: the guard thaws both (the
#      engine holds no copy of the guard's socket), the engine dies with
#      its parent (PDEATHSIG).
#
# Run as root: sh tests/system/t_privsep.sh (HVVSS_BUILD=build dir).

. "$(dirname "$0")/lib.sh"

need_root
need_cmd mkfs.ext4 python3 fsfreeze
[ -x "$SANDBOX" ] || bail "sandbox is built ($SANDBOX; make $SANDBOX)"
[ -x "$B/tests/hv_vss_privsep" ] || bail "no $B/tests/hv_vss_privsep (make)"
workdir

if id -u hvvss >/dev/null 2>&1; then USER_=hvvss; else USER_=nobody; fi
for i in a b; do
	mkimage ext4 64M "$WORK/$i.img" || bail "mkfs.ext4 $i"
done
mkdir -m 0755 "$WORK/empty"
cat >"$WORK/inner.sh" <<'EOF2'
#!/bin/sh
# inside the sandbox; thaws both on the way out whatever happened
trap 'for m in /mnt/a /mnt/b; do fsfreeze -u $m 2>/dev/null &&
    echo "not ok - $m was left frozen"; done' EXIT
python3 "$1/tests/system/privsep_harness.py" "$2/tests/hv_vss_privsep" \
    "$2/hv_vss_guard" "$3" "$4/empty"
rc=$?
sed 's/^/# parent: /' /tmp/privsep.log
exit $rc
EOF2

"$SANDBOX" -t 150 -r "$TOP" -r "$B" -r "$WORK" \
    -m "$WORK/a.img:/mnt/a" -m "$WORK/b.img:/mnt/b" \
    -- sh "$WORK/inner.sh" "$TOP" "$B" "$USER_" "$WORK" >"$WORK/out" 2>&1
rc=$?
while IFS= read -r line; do
	case $line in
	"ok - "*) pass "${line#ok - }" ;;
	"not ok - "*) fail "${line#not ok - }" ;;
	*) echo "$line" ;;
	esac
done <"$WORK/out"
check_eq "sandbox exit" 0 "$rc"

finish
