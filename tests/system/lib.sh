# tests/system/lib.sh: what every system test shares.  Source it:
#
#	. "$(dirname "$0")/lib.sh"
#	need_root; need_cmd mkfs.ext4 ...; workdir
#	mkimage ext4 64M "$WORK/a.img"
#	check "what it proves" some command
#	finish
#
# Results are printed one per line as "ok - ..." or "not ok - ...", which
# is what tests/run counts; finish exits non-zero if any check failed.
# Everything a test makes lives in $WORK, a directory under /tmp that the
# EXIT trap removes after detaching any loop device still attached to an
# image in it (that, and anything still mounted there, is a bug: it is
# reported as a failure).  Nothing here ever freezes anything: freezing
# happens only inside the sandbox, on its own loop-mounted filesystems.

set -u
LC_ALL=C	# error messages are matched, and sort must be stable
export LC_ALL

TOP=${HVVSS_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
B=${HVVSS_BUILD:-$TOP/build}
SANDBOX=${SANDBOX:-$B/tests/sandbox}
WORK=
npass=0
nfail=0

pass() {	# description
	npass=$((npass + 1))
	echo "ok - $*"
}

fail() {	# description
	nfail=$((nfail + 1))
	echo "not ok - $*"
}

# check description command [arg ...]: pass if the command succeeds.
check() {
	_desc=$1
	shift
	if "$@"; then
		pass "$_desc"
	else
		fail "$_desc"
	fi
}

# check_eq description expected actual
check_eq() {
	if [ "$2" = "$3" ]; then
		pass "$1"
	else
		fail "$1 (expected '$2', got '$3')"
	fi
}

# Exit with a summary; non-zero if any check failed.
finish() {
	echo "# $npass passed, $nfail failed"
	[ "$nfail" -eq 0 ] && exit 0
	exit 1
}

# A reason to stop before any check: report it as a failure, not a skip,
# so that a missing tool is never mistaken for a pass.
bail() {
	fail "$*"
	finish
}

need_root() {
	[ "$(id -u)" -eq 0 ] || bail "needs root"
}

need_cmd() {	# command ...
	for _c in "$@"; do
		command -v "$_c" >/dev/null 2>&1 || bail "needs $_c"
	done
}

# Milliseconds on some monotonic-enough clock, for elapsed times.
now_ms() {
	_t=$(date +%s%N)
	echo $((_t / 1000000))
}

# Make $WORK and the trap that removes it.
workdir() {
	WORK=$(mktemp -d /tmp/hvvss-test.XXXXXX) || bail "mktemp"
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
}

# Lines of `losetup -a` for images in $WORK (loop devices a test left).
loops_left() {
	[ -n "$WORK" ] || return 0
	losetup -a | grep -F "$WORK/"
}

# Lines of the host's mount table that mention $WORK or a sandbox root.
mounts_left() {
	[ -n "$WORK" ] || return 0
	grep -F -e "$WORK" /proc/self/mountinfo
}

cleanup() {
	_rc=$?
	trap - EXIT INT TERM HUP
	[ -n "$WORK" ] && [ -d "$WORK" ] || exit "$_rc"
	for _img in "$WORK"/*.img; do
		[ -f "$_img" ] || continue
		for _dev in $(losetup -j "$_img" | cut -d: -f1); do
			echo "not ok - cleanup: $_dev still attached to" \
			    "$_img; detaching it"
			losetup -d "$_dev"
			_rc=1
		done
	done
	if mounts_left >/dev/null; then
		echo "not ok - cleanup: still mounted under $WORK; left it"
		_rc=1
	else
		rm -rf "$WORK"
	fi
	exit "$_rc"
}

# mkimage fstype size path: a sparse image file with a fresh filesystem.
mkimage() {
	rm -f "$3"
	truncate -s "$2" "$3" || return 1
	case $1 in
	ext2|ext3|ext4)	"mkfs.$1" -q -F "$3" >"$3.log" 2>&1 ;;
	xfs)		mkfs.xfs -q -f "$3" >"$3.log" 2>&1 ;;
	btrfs)		mkfs.btrfs -q -f "$3" >"$3.log" 2>&1 ;;
	*)		echo "mkimage: $1: unknown type" >"$3.log"; false ;;
	esac
	_rc=$?
	[ "$_rc" -eq 0 ] || sed 's/^/# /' "$3.log"
	rm -f "$3.log"
	return "$_rc"
}

# fsck_image fstype path: a read-only consistency check of an unmounted
# image; clean means no journal left to replay.
fsck_image() {
	case $1 in
	ext2|ext3|ext4)	e2fsck -fn "$2" ;;
	xfs)		xfs_repair -n -f "$2" ;;
	btrfs)		btrfs check --readonly "$2" ;;
	*)		false ;;
	esac >"$WORK/fsck.log" 2>&1
	_rc=$?
	[ "$_rc" -eq 0 ] || sed 's/^/# /' "$WORK/fsck.log"
	return "$_rc"
}

# run_with_window fn sandbox-arg ...: run the sandbox in the background
# with a frozen-window channel: the command inside runs hv_vss_sim with
# -x "sh $TOP/tests/system/window.sh", and each time the guest is frozen
# the host side (here) calls "fn N" (typically: copy the disk images),
# then lets the guest go on.  The sandbox's stdout and stderr go to
# $WORK/sandbox.out and $WORK/sandbox.err; returns its exit status.
run_with_window() {
	_fn=$1
	shift
	rm -f "$WORK/to_host" "$WORK/to_guest"
	mkfifo "$WORK/to_host" "$WORK/to_guest" || return 125
	"$SANDBOX" "$@" 3>"$WORK/to_host" 4<"$WORK/to_guest" \
	    >"$WORK/sandbox.out" 2>"$WORK/sandbox.err" &
	_sbx=$!
	exec 5<"$WORK/to_host" 6>"$WORK/to_guest"
	while read -r _w _n <&5; do
		[ "$_w" = frozen ] || continue
		"$_fn" "$_n"
		echo "copied $_n" >&6
	done
	exec 5<&- 6>&-
	wait "$_sbx"
}

# show_logs: the sandbox's output, as comments (for failures).
show_logs() {
	sed 's/^/# out: /' "$WORK/sandbox.out"
	sed 's/^/# err: /' "$WORK/sandbox.err" | tail -n 60
}

# needs_recovery image: true if an ext4 image has a journal to replay.
needs_recovery() {
	dumpe2fs -h "$1" 2>/dev/null | grep -q needs_recovery
}

# snapshot_clean fstype image: the copy of a frozen filesystem is
# consistent without replaying anything of substance.
#  ext4:  no needs_recovery, and e2fsck -fn clean.
#  btrfs: btrfs check clean.
#  xfs:   FIFREEZE leaves the XFS log "covered", not unmounted: it holds
#         only superblock records (plain fsfreeze does the same), so
#         xfs_repair -n alone always calls it dirty.  Checked instead:
#         every logged item is the superblock (no inode, no other block),
#         and replaying that on a scratch copy gives an xfs_repair -n
#         clean filesystem.
snapshot_clean() {
	case $1 in
	ext2|ext3|ext4)
		! needs_recovery "$2" && fsck_image "$1" "$2" ;;
	btrfs)
		fsck_image btrfs "$2" ;;
	xfs)
		xfs_logprint -t "$2" >"$WORK/logprint" 2>&1 || return 1
		if grep -E 'INODE|INO:|EFI|EFD|ICREATE|DQUOT' \
		    "$WORK/logprint" >/dev/null ||
		    grep 'start blkno:' "$WORK/logprint" |
		    grep -v 'start blkno:0x0 ' >/dev/null; then
			sed 's/^/# logprint: /' "$WORK/logprint" | head -n 40
			return 1
		fi
		cp --sparse=always "$2" "$WORK/replay.img" &&
		    "$SANDBOX" -t 60 -m "$WORK/replay.img:/mnt/replay:xfs" \
		    -- true >"$WORK/replay.log" 2>&1 &&
		    fsck_image xfs "$WORK/replay.img"
		_rc=$?
		rm -f "$WORK/replay.img"
		return $_rc ;;
	*)
		false ;;
	esac
}
