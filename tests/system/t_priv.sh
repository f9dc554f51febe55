#!/bin/sh
# t_priv: the privileged parent's request handler (daemon/priv.c), as
# build/tests/hv_vss_priv, driven over its protocol (daemon/privproto.h)
# by tests/system/priv_harness.py playing the engine, honest and not.
#
# What it proves, in the sandbox, on three loop-mounted ext4 images of
# which /mnt/a and /mnt/b are allow-listed and /mnt/c is not:
#  (a) DEVICE: the parent opens the device of its own configuration and
#      passes the descriptor;
#  (b) crafted messages are refused, each with its own reason, and
#      freeze nothing: an unknown type, type 0, another version, a path
#      smuggled after a request, an oversize and a short message, a
#      path's bytes in the reserved field, a THAW of a transaction never
#      frozen (and of one planned, not frozen), a FREEZE with no CHECK,
#      an argument where none is taken, ARM before FREEZE; a descriptor
#      sent along is closed unread;
#  (c) a valid transaction (CHECK, HOOKS freeze, FREEZE, ARM, THAW,
#      HOOKS thaw, DISARM) freezes /mnt/a and /mnt/b, the parent's own
#      plan, and not /mnt/c; while frozen, a lease above max_frozen, a
#      lease of 0, DISARM, a new CHECK, a THAW of another transaction and
#      the thaw hooks are refused and thaw nothing; THAW thaws both; a
#      second THAW is refused;
#      CHECK, FREEZE and THAW sent at once are done in turn;
#  (d) the engine's end closing while frozen: the parent thaws at once
#      and exits 0; closing right after sending FREEZE, before the reply:
#      the parent finishes the freeze, thaws, exits 0;
#  (e) an engine that arms a 1 s lease and never thaws: the thaw guard
#      thaws (lease + its 5 s grace), and the late THAW is answered.
#
# Run as root: sh tests/system/t_priv.sh (HVVSS_BUILD=build dir).

. "$(dirname "$0")/lib.sh"

need_root
need_cmd mkfs.ext4 python3 fsfreeze
[ -x "$SANDBOX" ] || bail "sandbox is built ($SANDBOX; make $SANDBOX)"
[ -x "$B/tests/hv_vss_priv" ] || bail "no $B/tests/hv_vss_priv (make)"
workdir

for i in a b c; do
	mkimage ext4 64M "$WORK/$i.img" || bail "mkfs.ext4 $i"
done
mkdir -m 0755 "$WORK/hooks"
cat >"$WORK/hooks/10-note" <<'EOF2'
#!/bin/sh
echo "hook $1"
EOF2
chmod 0755 "$WORK/hooks/10-note"
mkdir -m 0755 "$WORK/hooks-slow"
cat >"$WORK/hooks-slow/10-slow" <<'EOF2'
#!/bin/sh
echo $$ >/tmp/slowhook.pid
[ "$1" = freeze ] && exec sleep 30
exit 0
EOF2
chmod 0755 "$WORK/hooks-slow/10-slow"
cat >"$WORK/inner.sh" <<'EOF2'
#!/bin/sh
# inside the sandbox; thaws the three on the way out whatever happened
trap 'for m in /mnt/a /mnt/b /mnt/c; do fsfreeze -u $m 2>/dev/null &&
    echo "not ok - $m was left frozen"; done' EXIT
: >/tmp/hv_vss_dev
python3 "$1/tests/system/priv_harness.py" "$2/tests/hv_vss_priv" \
    "$2/hv_vss_guard" "$3/hooks" /tmp/hv_vss_dev
rc=$?
sed 's/^/# parent: /' /tmp/priv.log
exit $rc
EOF2

"$SANDBOX" -t 120 -r "$TOP" -r "$B" -r "$WORK" \
    -m "$WORK/a.img:/mnt/a" -m "$WORK/b.img:/mnt/b" -m "$WORK/c.img:/mnt/c" \
    -- sh "$WORK/inner.sh" "$TOP" "$B" "$WORK" >"$WORK/out" 2>&1
rc=$?
while IFS= read -r line; do
	case $line in
	"ok - "*) pass "${line#ok - }" ;;
	"not ok - "*) fail "${line#not ok - }" ;;
	*) echo "$line" ;;
	esac
done <"$WORK/out"
check_eq "sandbox exit" 0 "$rc"
check "the parent logged its refusals" \
    grep -q '^# parent: .*priv: refused: 31 bytes: a request is 24' \
    "$WORK/out"

finish
