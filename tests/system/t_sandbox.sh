#!/bin/sh
# t_sandbox: the sandbox every system test and the demo run in.
#
# What it proves, so that later tests may freeze inside it without fear:
#  (a) the mount table inside holds nothing of the host: no mount of a
#      host block device, no /dev/... source but the sandbox's own loops,
#      no /sys;
#  (b) ext4, xfs and btrfs images given with -m are mounted, writable, and
#      clean after the sandbox exits;
#  (c) an image that lies on an earlier -m filesystem can be mounted too;
#  (d) /usr, /etc and -r directories are read-only overlays, which cannot
#      be frozen (while the -m filesystems can);
#  (e) a timeout, or SIGTERM, while a filesystem is frozen and writers are
#      blocked on it ends the sandbox quickly and leaves no loop device,
#      mount or process behind, and the filesystem clean; so does a
#      command that leaves its own loop mount frozen;
#  (f) exit statuses: the command's, 128+signal, 127, 125 with the usage,
#      and a failed setup undone;
#  (g) the command's environment is exactly what was given.
#
# Run as root: sh tests/system/t_sandbox.sh (HVVSS_BUILD=build dir).

. "$(dirname "$0")/lib.sh"

need_root
need_cmd mkfs.ext4 mkfs.xfs mkfs.btrfs e2fsck dumpe2fs debugfs xfs_repair \
    btrfs fsfreeze losetup truncate awk
[ -x "$SANDBOX" ] || bail "sandbox is built ($SANDBOX; make $SANDBOX)"
workdir
start_all=$(now_ms)

USAGE='usage: sandbox [-kv] [-t seconds] [-m image:dir[:fstype[:options]]]... [-r hostdir[:dir]]... [-e name=value]... -- command [arg ...]'

# A token in the command lines of this run's processes, to find leftovers.
token=$(basename "$WORK")

# The sandbox; every run here passes -t, so none can hang for long (the
# SIGTERM run starts "$SANDBOX" directly, to get its pid).
sb() {
	"$SANDBOX" "$@"
}

# Show files as comments, without -v's lines about overlays and links.
show() {	# file ...
	sed 's/^/#   /' "$@" | grep -v 'read-only overlay\| -> '
}

# Nothing of ours outlives a sandbox run: no loop device on an image in
# $WORK (nested images show up as "/inner.img"), no mount, no process.
no_leftovers() {	# what
	_ok=1
	_l=$(losetup -a | grep -F -e "$WORK/" -e "(/inner.img)")
	if [ -n "$_l" ]; then
		echo "# still attached: $_l"
		_ok=0
	fi
	if mounts_left >/dev/null; then
		mounts_left | sed 's/^/# still mounted: /'
		_ok=0
	fi
	_p=$(pgrep -f "$token|sleep 1000\.$$" | grep -vx "$$")
	if [ -n "$_p" ]; then
		echo "# still running: $_p"
		_ok=0
	fi
	if [ "$_ok" -eq 1 ]; then
		pass "$1: no loop device, mount or process left"
	else
		fail "$1: no loop device, mount or process left"
	fi
}

# The sandbox's temporary root directory (from -v output) must be gone.
root_removed() {	# what stderr-file
	_d=$(sed -n 's/^sandbox: root: tmpfs on //p' "$2")
	if [ -n "$_d" ] && [ ! -e "$_d" ]; then
		pass "$1: its temporary root $_d was removed"
	else
		fail "$1: its temporary root '$_d' was removed"
	fi
}

mkimage ext4 64M "$WORK/ext4.img" || bail "mkfs.ext4"
mkimage xfs 300M "$WORK/xfs.img" || bail "mkfs.xfs"
mkimage btrfs 128M "$WORK/btrfs.img" || bail "mkfs.btrfs"

# --- (a) nothing of the host in the mount table ------------------------

# The host's block devices: every one the kernel knows but loop devices
# (ours will be loops), and the device of every block-device mount.
awk '{
	for (i = 7; i <= NF && $i != "-"; i++)
		;
	split($3, d, ":");
	if (d[1] != 0 || $(i + 2) ~ /^\/dev\//)
		print $3;
}' /proc/self/mountinfo >"$WORK/host.devs"
for f in /sys/class/block/*/dev; do
	case $f in */loop*) continue ;; esac
	cat "$f"
done >>"$WORK/host.devs" 2>/dev/null
sort -u -o "$WORK/host.devs" "$WORK/host.devs"
echo "# host block devices: $(tr '\n' ' ' <"$WORK/host.devs")"
[ -s "$WORK/host.devs" ] || fail "(a) found the host's block devices"

sb -v -t 60 -r "$TOP" -m "$WORK/ext4.img:/mnt/a" -- sh -c '
	cat /proc/self/mountinfo >/tmp/mi
	cp /proc/self/mounts /tmp/mounts
	cat /tmp/mi
	echo ===
	cat /tmp/mounts
	echo ===
	[ -e /sys ] && echo "sys exists"
	for n in null zero full random urandom tty fuse loop-control; do
		[ -c /dev/$n ] || echo "no /dev/$n"
	done
	[ -d /dev/vmbus ] || echo "no /dev/vmbus"
	src=$(awk "\$2 == \"/mnt/a\" { print \$1 }" /tmp/mounts)
	[ -b "$src" ] || echo "no block node $src"
	exit 0' >"$WORK/a.out" 2>"$WORK/a.err"
rc=$?
check_eq "(a) sandbox runs (exit status)" 0 "$rc"
sed -n '1,/^===$/p' "$WORK/a.out" | grep -v '^===$' >"$WORK/a.mi"
sed -n '/^===$/,/^===$/p' "$WORK/a.out" | grep -v '^===$' >"$WORK/a.mounts"
sed -n '/^===$/,$p' "$WORK/a.out" | sed '1,/^===$/d' | sed '1,/^===$/d' \
    >"$WORK/a.problems"
sed 's/^/#   /' "$WORK/a.mi"

bad=$(awk 'NR == FNR { host[$1] = 1; next } ($3 in host) { print }' \
    "$WORK/host.devs" "$WORK/a.mi")
if [ -z "$bad" ] && [ -s "$WORK/a.mi" ]; then
	pass "(a) no mount of a host block device inside"
else
	fail "(a) no mount of a host block device inside: $bad"
fi
# Sources starting with /dev/: only the sandbox's own loop device.
devsrc=$(awk '{
	for (i = 7; i <= NF && $i != "-"; i++)
		;
	if ($(i + 2) ~ /^\/dev\//)
		print $5, $(i + 2), $3;
}' "$WORK/a.mi")
echo "# /dev sources inside: $devsrc"
check "(a) the only /dev/ source inside is our /dev/loopN on /mnt/a" \
    sh -c 'printf "%s\n" "$1" | grep -Eqx "/mnt/a /dev/loop[0-9]+ 7:[0-9]+"' \
    - "$devsrc"
bad=$(awk '$1 ~ /^\/dev\// && !($1 ~ /^\/dev\/loop[0-9]+$/ && $2 == "/mnt/a")' \
    "$WORK/a.mounts")
check_eq "(a) /proc/mounts inside: no other /dev/ source" "" "$bad"
bad=$(awk '{
	for (i = 7; i <= NF && $i != "-"; i++)
		;
	t = $(i + 1);
	if (t ~ /^(sysfs|cgroup2?|devtmpfs|devpts|securityfs|debugfs)$/)
		print $5, t;
}' "$WORK/a.mi")
check_eq "(a) no sysfs, cgroup, devtmpfs or devpts inside" "" "$bad"
check_eq "(a) no /sys; /dev has its nodes, vmbus/ and the loop node" "" \
    "$(cat "$WORK/a.problems")"
n=$(wc -l <"$WORK/a.mi")
check_eq "(a) root is the sandbox tmpfs" \
    "tmpfs sandbox" "$(awk '$5 == "/" { print $8, $9 }' "$WORK/a.mi")"
echo "# $n mounts inside"
root_removed "(a)" "$WORK/a.err"
no_leftovers "(a)"

# --- (b) ext4, xfs, btrfs ------------------------------------------------

sb -t 60 -m "$WORK/ext4.img:/mnt/ext4" -m "$WORK/xfs.img:/mnt/xfs" \
    -m "$WORK/btrfs.img:/mnt/btrfs" -- sh -c '
	for fs in ext4 xfs btrfs; do
		t=$(awk -v m=/mnt/$fs "\$2 == m { print \$3 }" /proc/mounts)
		echo "data-$fs" >/mnt/$fs/hello && sync &&
		    [ "$(cat /mnt/$fs/hello)" = "data-$fs" ] &&
		    echo "rw $fs $t"
	done' >"$WORK/b.out" 2>&1
rc=$?
sed 's/^/#   /' "$WORK/b.out"
check_eq "(b) three filesystems (exit status)" 0 "$rc"
for fs in ext4 xfs btrfs; do
	check "(b) $fs image mounted as $fs and writable inside" \
	    grep -qx "rw $fs $fs" "$WORK/b.out"
	check "(b) $fs image clean after the sandbox" \
	    fsck_image "$fs" "$WORK/$fs.img"
done
sb -t 60 -m "$WORK/ext4.img:/mnt/ext4:ext4:ro" \
    -m "$WORK/xfs.img:/mnt/xfs:xfs:ro,norecovery" \
    -m "$WORK/btrfs.img:/mnt/btrfs::ro" -- sh -c '
	cat /mnt/ext4/hello /mnt/xfs/hello /mnt/btrfs/hello
	touch /mnt/ext4/x 2>/dev/null && echo "ro mount writable"
	awk "\$2 ~ /^\/mnt\// { print \$2, \$4 }" /proc/mounts | cut -d, -f1
	' >"$WORK/b2.out" 2>&1
sed 's/^/#   /' "$WORK/b2.out"
check_eq "(b) data persisted; fstype and options (ro, norecovery) work" \
    "data-ext4 data-xfs data-btrfs /mnt/ext4 ro /mnt/xfs ro /mnt/btrfs ro" \
    "$(tr '\n' ' ' <"$WORK/b2.out" | sed 's/ $//')"
no_leftovers "(b)"

# --- (c) an image on an earlier -m filesystem ---------------------------

sb -t 60 -m "$WORK/ext4.img:/mnt/a" -- \
    mkfs.ext4 -q -F /mnt/a/inner.img 16M >"$WORK/c1.out" 2>&1
check_eq "(c) made inner.img on the ext4 test filesystem" 0 "$?"
sb -t 60 -m "$WORK/ext4.img:/mnt/a" -m /mnt/a/inner.img:/mnt/b -- sh -c '
	a=$(awk "\$2 == \"/mnt/a\" { print \$1 }" /proc/mounts)
	b=$(awk "\$2 == \"/mnt/b\" { print \$1, \$3 }" /proc/mounts)
	echo "outer $a"
	echo "inner $b"
	echo "backing $(losetup -nO BACK-FILE ${b% *})"
	echo nested >/mnt/b/hello && sync && cat /mnt/b/hello
	' >"$WORK/c2.out" 2>&1
rc=$?
sed 's/^/#   /' "$WORK/c2.out"
check_eq "(c) nested mount (exit status)" 0 "$rc"
outer=$(sed -n 's/^outer //p' "$WORK/c2.out")
inner=$(sed -n 's/^inner //p' "$WORK/c2.out")
case $inner in
/dev/loop[0-9]*" ext4")
	if [ "${inner% *}" != "$outer" ]; then
		pass "(c) inner image mounted from its own loop device"
	else
		fail "(c) inner image mounted from its own loop device"
	fi ;;
*)	fail "(c) inner image mounted from its own loop device ($inner)" ;;
esac
check "(c) inner loop device is backed by /mnt/a/inner.img" \
    grep -qx "backing /mnt/a/inner.img" "$WORK/c2.out"
check "(c) inner filesystem writable" grep -qx nested "$WORK/c2.out"
sb -t 60 -m "$WORK/ext4.img:/mnt/a" -- sh -c '
	e2fsck -fn /mnt/a/inner.img >/dev/null 2>&1 && echo clean
	debugfs -R "cat /hello" /mnt/a/inner.img 2>/dev/null' \
    >"$WORK/c3.out" 2>&1
check_eq "(c) inner filesystem clean, data persisted" "clean nested" \
    "$(tr '\n' ' ' <"$WORK/c3.out" | sed 's/ $//')"
check "(c) outer filesystem clean" fsck_image ext4 "$WORK/ext4.img"
no_leftovers "(c)"

# --- (d) read-only overlays that cannot be frozen ------------------------

# FIFREEZE is tried on an overlay only after checking, inside, that it is
# an overlay (anonymous device, major 0): a bind mount there would be the
# host's own filesystem.  Should a freeze ever succeed, it is undone at
# once.
sb -t 60 -r "$TOP" -m "$WORK/ext4.img:/mnt/a" -- sh -c '
	for d in /usr /etc "$0"; do
		if touch "$d/.sandbox-write-test" 2>/tmp/err; then
			rm -f "$d/.sandbox-write-test"
			echo "writable $d"
		elif grep -q "Read-only file system" /tmp/err; then
			echo "erofs $d"
		else
			echo "other $d: $(cat /tmp/err)"
		fi
		t=$(stat -f -c %T "$d")
		dev=$(awk -v m="$d" "\$5 == m { print \$3 }" \
		    /proc/self/mountinfo)
		case $t:$dev in
		overlayfs:0:*) ;;
		*) echo "not an overlay $d ($t $dev)"; continue ;;
		esac
		if fsfreeze -f "$d" 2>/tmp/err; then
			fsfreeze -u "$d"
			echo "FROZE $d"
		elif grep -q "Operation not supported" /tmp/err; then
			echo "eopnotsupp $d"
		else
			echo "other freeze $d: $(cat /tmp/err)"
		fi
	done
	fsfreeze -f /mnt/a && fsfreeze -u /mnt/a && echo "froze+thawed /mnt/a"
	' "$TOP" >"$WORK/d.out" 2>&1
sed 's/^/#   /' "$WORK/d.out"
for d in /usr /etc "$TOP"; do
	check "(d) $d is read-only inside (EROFS)" \
	    grep -qxF "erofs $d" "$WORK/d.out"
	check "(d) fsfreeze -f $d inside fails with EOPNOTSUPP" \
	    grep -qxF "eopnotsupp $d" "$WORK/d.out"
done
check "(d) an -m filesystem can be frozen and thawed inside" \
    grep -qx "froze+thawed /mnt/a" "$WORK/d.out"
no_leftovers "(d)"

# --- (e) timeout and SIGTERM while frozen -------------------------------

# Inside: freeze /mnt/a, start a writer in the command's process group and
# one that escapes it with setsid; both block in uninterruptible sleep.
frozen_cmd='
	fsfreeze -f /mnt/a || exit 99
	(echo in-group >/mnt/a/blocked-'$token') &
	w1=$!
	setsid sh -c "echo escaped >/mnt/a/escaped-'$token'" &
	w2=$!
	sleep 1
	s1=$(cut -d" " -f3 /proc/$w1/stat)
	s2=$(cut -d" " -f3 /proc/$w2/stat)
	echo "writer states $s1 $s2"
	sleep 1000.'$$'
'
t0=$(now_ms)
sb -v -t 3 -m "$WORK/ext4.img:/mnt/a" -- sh -c "$frozen_cmd" \
    >"$WORK/e.out" 2>"$WORK/e.err"
rc=$?
ms=$(($(now_ms) - t0))
show "$WORK/e.out" "$WORK/e.err"
check_eq "(e) timeout while frozen: exit status 124" 124 "$rc"
check "(e) the writers were blocked in D state" \
    grep -qx "writer states D D" "$WORK/e.out"
if [ "$ms" -lt 8000 ]; then
	pass "(e) -t 3 ended the sandbox in $ms ms"
else
	fail "(e) -t 3 ended the sandbox in $ms ms (want < 8000)"
fi
check "(e) the sandbox thawed /mnt/a before killing" \
    grep -q "^sandbox: /mnt/a was left frozen; thawed it" "$WORK/e.err"
root_removed "(e)" "$WORK/e.err"
no_leftovers "(e)"
check "(e) filesystem clean after the timeout" \
    fsck_image ext4 "$WORK/ext4.img"
check "(e) no journal left to replay" \
    sh -c "! dumpe2fs -h '$WORK/ext4.img' 2>/dev/null | grep -q needs_recovery"
sb -t 10 -m "$WORK/ext4.img:/mnt/a" -- sh -c \
    'echo after >/mnt/a/after && sync && cat /mnt/a/after' \
    >"$WORK/e2.out" 2>&1
check_eq "(e) remounted and written to afterwards (not frozen)" after \
    "$(cat "$WORK/e2.out")"

t0=$(now_ms)
"$SANDBOX" -t 60 -m "$WORK/ext4.img:/mnt/a" -- sh -c "$frozen_cmd" \
    >"$WORK/e3.out" 2>"$WORK/e3.err" &
pid=$!
sleep 2
kill -TERM "$pid"
wait "$pid"
rc=$?
ms=$(($(now_ms) - t0))
sed 's/^/#   /' "$WORK/e3.out" "$WORK/e3.err"
check_eq "(e) SIGTERM while frozen: exit status 143" 143 "$rc"
if [ "$ms" -lt 7000 ]; then
	pass "(e) SIGTERM ended the sandbox in $ms ms"
else
	fail "(e) SIGTERM ended the sandbox in $ms ms (want < 7000)"
fi
check "(e) the sandbox thawed /mnt/a on SIGTERM" \
    grep -q "^sandbox: /mnt/a was left frozen; thawed it" "$WORK/e3.err"
no_leftovers "(e) SIGTERM"
check "(e) filesystem clean after SIGTERM" fsck_image ext4 "$WORK/ext4.img"

# The command attaches a loop device itself (no autoclear) to the image
# on /mnt/a, mounts it, freezes it and then /mnt/a (inner first, the safe
# order), and exits: the sandbox must thaw both (outer first), unmount
# its mount, detach its loop device, and unmount /mnt/a.  There is no
# devtmpfs inside, so the command makes the node itself.
sb -v -t 60 -m "$WORK/ext4.img:/mnt/a" -- sh -c '
	for try in 1 2 3; do
		n=$(losetup -f) && mknod "$n" b 7 "${n#/dev/loop}" &&
		    losetup "$n" /mnt/a/inner.img && break
		rm -f "$n"
		n=
	done
	[ -n "$n" ] || exit 98
	mkdir -p /mnt/own && mount "$n" /mnt/own &&
	    fsfreeze -f /mnt/own && fsfreeze -f /mnt/a && echo "own $n"
	' >"$WORK/e4.out" 2>"$WORK/e4.err"
rc=$?
show "$WORK/e4.out" "$WORK/e4.err"
check_eq "(e) own loop mount, both frozen: exit status" 0 "$rc"
own=$(sed -n 's/^own //p' "$WORK/e4.out")
check "(e) ... both thawed, outer first" sh -c "
	grep '^sandbox: /mnt/.* was left frozen' '$WORK/e4.err' |
	    cut -d' ' -f2 | tr '\n' ' ' | grep -qx '/mnt/a /mnt/own '"
check "(e) ... its loop device $own detached" grep -q \
    "^sandbox: $own was left attached (to /mnt/a/inner.img); detached it" \
    "$WORK/e4.err"
check "(e) ... /mnt/a unmounted, not detached lazily" sh -c \
    "grep -q '^sandbox: unmounted /mnt/a\$' '$WORK/e4.err' &&
    ! grep -q lazily '$WORK/e4.err'"
no_leftovers "(e) own loop mount"
check "(e) ... outer filesystem clean" fsck_image ext4 "$WORK/ext4.img"
sb -t 60 -m "$WORK/ext4.img:/mnt/a" -- e2fsck -fn /mnt/a/inner.img \
    >"$WORK/e5.out" 2>&1
check_eq "(e) ... inner filesystem clean" 0 "$?"

# --- (f) exit statuses and failed setups --------------------------------

sb -t 60 -- sh -c 'exit 7'
check_eq "(f) the command's exit status is passed through" 7 "$?"
sb -t 60 -- sh -c 'kill -TERM $$'
check_eq "(f) a command killed by SIGTERM gives 143" 143 "$?"
sb -t 60 -- /nonexistent-command 2>/dev/null
check_eq "(f) a command not found gives 127" 127 "$?"
sb -t 60 -m "$WORK/ext4.img:/mnt/a" -- sh -c 'exit 3'
check_eq "(f) exit status passed through with a -m mount" 3 "$?"
sb -x -- true 2>"$WORK/f.err"
rc=$?
check_eq "(f) a bad option gives 125" 125 "$rc"
check_eq "(f) a bad option prints the usage" "$USAGE" \
    "$(grep '^usage:' "$WORK/f.err")"
sb -t 60 -m /dev/null:/mnt/a -- true 2>"$WORK/f.err"
rc=$?
check_eq "(f) an image that is not a regular file gives 125" 125 "$rc"
check_eq "(f) ... and the error names it" \
    "sandbox: image: /dev/null: not a regular file" "$(cat "$WORK/f.err")"
# The second mount fails after the first image is attached and mounted:
# both must be undone.
sb -v -t 60 -m "$WORK/ext4.img:/mnt/a" -m "$WORK/xfs.img:/mnt/b:ext4" -- \
    true 2>"$WORK/f.err"
rc=$?
show "$WORK/f.err"
check_eq "(f) a failing mount gives 125" 125 "$rc"
check "(f) ... and the error names the image and the mount point" \
    grep -q "^sandbox: mount ext4 $WORK/xfs.img on /dev/loop[0-9]*: /mnt/b: " \
    "$WORK/f.err"
root_removed "(f) failed setup" "$WORK/f.err"
no_leftovers "(f) failed setup"

# --- (g) environment ------------------------------------------------------

env -u TERM "$SANDBOX" -t 60 -e FOO=bar -e 'SPACE=a b' -e FOO=baz -- env \
    >"$WORK/g.out" 2>&1
check_eq "(g) the command's environment is PATH, HOME and -e only" \
    "FOO=baz HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin SPACE=a b" \
    "$(sort "$WORK/g.out" | tr '\n' ' ' | sed 's/ $//')"

# (h) -k: the kernel's rcu_expedited, and nothing else of /sys; read
# only here (the bench's hv_vss_daemon writes it)
if [ -r /sys/kernel/rcu_expedited ]; then
	sb -k -t 10 -- sh -c 'cat /sys/kernel/rcu_expedited; ls /sys; ls /sys/kernel
	    grep -c " /sys" /proc/mounts' >"$WORK/h.out" 2>&1
	check_eq "(h) -k: the host's rcu_expedited, alone under /sys" \
	    "$(cat /sys/kernel/rcu_expedited) kernel rcu_expedited 1" \
	    "$(tr '\n' ' ' <"$WORK/h.out" | sed 's/ $//')"
fi

echo "# took $(($(now_ms) - start_all)) ms"
finish
