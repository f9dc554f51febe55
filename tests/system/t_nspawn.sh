#!/bin/sh
# t_nspawn: the Debian package under a real systemd.
#
# A Debian 12 root made by debootstrap (cached as a tarball in
# $B/nspawn/), unpacked onto its own loop-mounted ext4 image, is booted
# with systemd-nspawn -b: systemd is its PID 1.  In it:
#
#  (a) Debian's hyperv-daemons is installed first, then hvvss, hvvss-sim
#      and libhvvss1 from "make deb" with apt-get install (as the README
#      says): no file conflict, and
#      hvvss's postinst does not start its daemon over hyperv-daemons'
#      unmasked VSS unit, and says so (README.Debian); hyperv-daemons'
#      KVP and fcopy units are still there and loadable; our unit
#      conflicts with Debian's VSS unit;
#  (b) the administrator's steps of README.Debian: systemctl mask
#      hv-vss-daemon.service, an allow-list in /etc/hv_vss/hv_vss.conf;
#  (c) hv_vss_sim serves /dev/vmbus/hv_vss (a transient service of the
#      container's systemd), the daemon is started by its unit
#      ("systemctl start hv_vss_daemon"), in the namespaces the unit
#      asks for (its own network, /dev and /tmp), without
#      CAP_SYS_PTRACE and CAP_IPC_LOCK, and a backup goes through:
#      HOT_BACKUP, FREEZE, THAW all S_OK; in the frozen window a write to
#      the test filesystem blocks, and completes after THAW;
#  (d) "systemctl stop hv_vss_daemon" while the host holds the guest
#      frozen: a write blocked on the frozen filesystem completes after
#      the stop, and the journal says the daemon thawed;
#  (e) an upgrade restarts the running daemon and keeps the edited
#      configuration; dpkg --purge hvvss stops it, and the unit and the
#      configuration go; hyperv-daemons stays.
#
# What differs from a Hyper-V guest, and why:
#  - /dev/vmbus/hv_vss is the emulator's FUSE file, not the hv_utils
#    character device, so no udev event starts the unit and no
#    sys-devices-virtual-misc-vmbus\x21hv_vss.device unit exists (nspawn
#    containers run no udev, and /sys shows no such device here).  The
#    unit's BindsTo=/After= on that device would make "systemctl start"
#    wait for it and fail, so the container gets an administrator's copy
#    of the packaged unit in /etc/systemd/system that lacks exactly those
#    two lines (checked: nothing else differs).  Everything else is the
#    packaged unit: ExecStart, the hardening, KillMode, Conflicts=.
#  - nspawn mounts the container's /sys read-only, which no real machine
#    does; the one file the unit may write there is bound in
#    (this machine's /sys/kernel read-only at /run/host-sys-kernel, and
#    its rcu_expedited bound from there onto the container's and made
#    read-write), so that the unit's ReadWritePaths= under
#    ProtectKernelTunables=yes is checked to work (expedite_freeze: the
#    daemon sets it to 1 while freezing, and back to 0; teardown puts
#    back a 1 a killed container left).  The rest of /sys and /proc/sys
#    stays read-only: the container's systemd must not set this
#    machine's sysctls.
#  - The container is given CAP_IPC_LOCK: nspawn's own seccomp filter
#    denies the mlock calls to a container without it, which no real
#    machine's systemd does.  The unit itself does not keep it (checked
#    below): the guard locks its memory within LimitMEMLOCK.
#
# Safety: the container's root is a loop-mounted image, never this
# machine's; the only filesystem the daemon may freeze is a loop-mounted
# test image bound at /srv/t, by its allow-list (mounts = /srv/t).
# Before the daemon is started the test unmounts, inside the container,
# every mount that shares a device with this machine's /, /tmp or /work
# (nspawn binds /run/host/* from the host's root), and checks that none
# is left; the emulator's -b command refuses to start the backup unless
# "hv_vss_ctl plan" plans /srv/t alone.  Teardown thaws /srv/t from here
# before it stops the container.
#
# Skipped (with the reason) only when Debian's archive cannot be reached
# and no cached root exists.  Run as root: sh tests/system/t_nspawn.sh

. "$(dirname "$0")/lib.sh"

need_root
need_cmd make dpkg-deb systemd-nspawn nsenter mkfs.ext4 fsfreeze tar \
    mountpoint stat awk
workdir

NSPAWN_PID=
teardown() {
	# thaw first, from outside, whatever the container did
	if mountpoint -q "$WORK/t" 2>/dev/null; then
		fsfreeze -u "$WORK/t" 2>/dev/null &&
		    echo "not ok - teardown: $WORK/t was still frozen"
	fi
	# the knob as it was, if a killed daemon left it expedited
	[ "${knob:-}" = 0 ] && echo 0 >/sys/kernel/rcu_expedited
	if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
		kill -TERM "$NSPAWN_PID"	# a clean shutdown of the container
		_n=0
		while kill -0 "$NSPAWN_PID" 2>/dev/null && [ $_n -lt 150 ]; do
			sleep 0.2
			_n=$((_n + 1))
		done
		if kill -0 "$NSPAWN_PID" 2>/dev/null; then
			echo "# teardown: the container did not halt in 30 s"
			kill -TERM "$NSPAWN_PID"	# a second TERM: at once
			sleep 2
			kill -KILL "$NSPAWN_PID" 2>/dev/null
		fi
		wait "$NSPAWN_PID" 2>/dev/null
	fi
	for _m in "$WORK/t" "$WORK/root"; do
		mountpoint -q "$_m" 2>/dev/null && umount "$_m"
	done
}
trap '_trc=$?; teardown; (exit $_trc); cleanup' EXIT

D=$B/deb
arch=$(dpkg --print-architecture)
ver=$(dpkg-parsechangelog -l "$TOP/debian/changelog" -S Version)

# ------------------------------------------------------------- packages --
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$TOP" --no-print-directory \
    B="$B" deb >"$WORK/make.log" 2>&1 ||
    { sed 's/^/# /' "$WORK/make.log" | tail -n 20; bail "make deb"; }
debs=
for p in hvvss hvvss-sim libhvvss1; do
	[ -f "$D/${p}_${ver}_$arch.deb" ] || bail "no $p in $D"
	debs="$debs $D/${p}_${ver}_$arch.deb"
done
hd=$(ls "$D"/ref/hyperv-daemons_*.deb 2>/dev/null | head -n 1)
if [ -z "$hd" ]; then
	mkdir -p "$D/ref"
	(cd "$D/ref" && apt-get download hyperv-daemons) >/dev/null 2>&1
	hd=$(ls "$D"/ref/hyperv-daemons_*.deb 2>/dev/null | head -n 1)
fi
[ -n "$hd" ] || bail "apt-get download hyperv-daemons"

# ------------------------------------------------------------ the root --
# What the root holds beyond minbase: systemd, and what our packages
# depend on (from the .debs themselves), so that dpkg -i needs no network.
incl=$(for f in $debs; do dpkg-deb -f "$f" Depends; done | tr ',' '\n' |
    awk '{ print $1 }' | grep -v -e '^libhvvss' -e '^$' | sort -u |
    paste -sd, -)
incl="systemd,systemd-sysv,dbus,fuse3,$incl"
key=$(echo "$incl" | md5sum | cut -c1-12)
cache=$B/nspawn/bookworm-$key.tar
url=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' \
    /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
url=${url:-http://deb.debian.org/debian}
if [ ! -f "$cache" ]; then
	need_cmd debootstrap wget
	if ! wget -q -T 15 -t 1 --spider "$url/dists/bookworm/Release"; then
		echo "ok - # SKIP debootstrap cannot reach $url (no cached root in $B/nspawn)"
		finish
	fi
	echo "# debootstrap --variant=minbase --include=$incl bookworm ($url)"
	start=$(now_ms)
	mkdir -p "$B/nspawn" "$WORK/ds"
	if ! debootstrap --variant=minbase --include="$incl" bookworm \
	    "$WORK/ds" "$url" >"$WORK/ds.log" 2>&1; then
		tail -n 20 "$WORK/ds.log" | sed 's/^/# /'
		bail "debootstrap (the archive answered)"
	fi
	tar -C "$WORK/ds" -cf "$cache.new" . && mv "$cache.new" "$cache" ||
	    bail "tar the root into $cache"
	rm -rf "$WORK/ds"
	echo "# made $cache in $(($(now_ms) - start)) ms"
fi

start=$(now_ms)
mkimage ext4 1G "$WORK/root.img" || bail "mkfs the root image"
mkimage ext4 64M "$WORK/t.img" || bail "mkfs the test image"
mkdir -p "$WORK/root" "$WORK/t"
mount -o loop "$WORK/root.img" "$WORK/root" || bail "mount the root image"
mount -o loop "$WORK/t.img" "$WORK/t" || bail "mount the test image"
tar -C "$WORK/root" -xf "$cache" || bail "unpack $cache"
mkdir -p "$WORK/root/root/debs"
cp $debs "$hd" "$WORK/root/root/debs/"
echo "# root unpacked onto its image in $(($(now_ms) - start)) ms"

# ---------------------------------------------------------------- boot --
machine=hvvss-$(basename "$WORK" | tr -cd 'a-zA-Z0-9')
start=$(now_ms)
knob=$(cat /sys/kernel/rcu_expedited 2>/dev/null)
systemd-nspawn --register=no --keep-unit -q -M "$machine" -D "$WORK/root" \
    --private-network --resolv-conf=off --timezone=off --link-journal=no \
    --capability=CAP_IPC_LOCK --bind="$WORK/t:/srv/t" --bind=/dev/fuse \
    --bind-ro=/sys/kernel:/run/host-sys-kernel \
    --console=pipe -b </dev/null >"$WORK/nspawn.log" 2>&1 &
NSPAWN_PID=$!
C=
n=0
while [ $n -lt 300 ]; do
	C=$(ps -o pid= --ppid "$NSPAWN_PID" 2>/dev/null | head -n 1 | tr -d ' ')
	if [ -n "$C" ]; then
		s=$(nsenter -t "$C" -m -u -i -n -p systemctl is-system-running \
		    2>/dev/null)
		case $s in running|degraded) break ;; esac
	fi
	kill -0 "$NSPAWN_PID" 2>/dev/null || break
	sleep 0.1
	n=$((n + 1))
done
echo "# container booted in $(($(now_ms) - start)) ms: systemd pid $C, state ${s:-?}"
[ "${s:-}" = running ] || {
	sed 's/^/# nspawn: /' "$WORK/nspawn.log" | tail -n 20
	[ -n "$C" ] && nsenter -t "$C" -m -u -i -n -p \
	    systemctl --failed --no-pager 2>&1 | sed 's/^/# /'
}
check_eq "systemd booted the container: is-system-running" running "${s:-}"
[ -n "$C" ] || bail "no container"

# in command ...: run in the container
cin() {
	nsenter -t "$C" -m -u -i -n -p -- "$@"
}
check_eq "its PID 1 is systemd" systemd "$(cin cat /proc/1/comm)"
# the knob, bound in: read-write as on a machine (nspawn made it ro)
if [ "$knob" = 0 ]; then
	cin sh -c 'mount --bind /run/host-sys-kernel/rcu_expedited \
	    /sys/kernel/rcu_expedited &&
	    mount -o remount,bind,rw /sys/kernel/rcu_expedited' ||
	    echo "# the knob could not be bound in"
fi
check_eq "its root is the loop image, not this machine's" \
    "$(stat -c %d "$WORK/root")" "$(cin stat -c %d /)"

# ------------------------------------------------------------- (a) --
cin sh -c 'printf "#!/bin/sh\nexit 101\n" >/usr/sbin/policy-rc.d &&
    chmod 755 /usr/sbin/policy-rc.d && dpkg -i /root/debs/hyperv-daemons_*.deb;
    rc=$?; rm -f /usr/sbin/policy-rc.d; exit $rc' >"$WORK/hd.log" 2>&1
rc=$?
[ $rc -eq 0 ] || sed 's/^/# /' "$WORK/hd.log"
check_eq "dpkg -i hyperv-daemons (its units not started: policy-rc.d)" 0 $rc
# as the README says, with apt (offline here: the root holds what they
# depend on, which apt checks)
cin sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y \
    /root/debs/hvvss_*.deb /root/debs/hvvss-sim_*.deb \
    /root/debs/libhvvss1_*.deb' >"$WORK/dpkg.log" 2>&1
rc=$?
sed 's/^/# apt: /' "$WORK/dpkg.log"
check_eq "apt-get install ./hvvss ./hvvss-sim ./libhvvss1, beside hyperv-daemons" 0 $rc
[ $rc -eq 0 ] || bail "nothing to test without the packages"
check_eq "the package created the engine's system user hvvss (sysusers.d)" \
    "hvvss:/:/usr/sbin/nologin" \
    "$(cin getent passwd hvvss | awk -F: '{ print $1 ":" $6 ":" $7 }')"
check_eq "all four installed" "ii ii ii ii" "$(cin dpkg-query -W \
    -f='${db:Status-Abbrev}\n' hyperv-daemons hvvss hvvss-sim libhvvss1 |
    tr -d ' ' | paste -sd' ' -)"
check "the postinst says it did not start over Debian's unmasked VSS unit" \
    grep -q "hyperv-daemons' hv-vss-daemon.service is not masked, so hv_vss_daemon.service was not started" \
    "$WORK/dpkg.log"
check_eq "and did not start it" inactive \
    "$(cin systemctl is-active hv_vss_daemon.service)"
for u in hv-kvp-daemon hv-fcopy-daemon; do
	check_eq "hyperv-daemons' $u.service is still there and loads" \
	    "loaded /lib/systemd/system/$u.service" \
	    "$(cin systemctl show -P LoadState "$u.service") $(cin systemctl show \
	    -P FragmentPath "$u.service")"
done
for f in /usr/sbin/hv_kvp_daemon /usr/sbin/hv_fcopy_daemon \
    /usr/sbin/hv_vss_daemon; do
	check_eq "$f is still hyperv-daemons'" "hyperv-daemons: $f" \
	    "$(cin dpkg -S "$f" 2>&1)"
done
check "our unit conflicts with Debian's VSS unit" \
    eval 'cin systemctl show -P Conflicts hv_vss_daemon.service |
    tr " " "\n" | grep -qx hv-vss-daemon.service'

# ------------------------------------------------------------- (b) --
cin systemctl mask hv-vss-daemon.service >/dev/null 2>&1
check_eq "the administrator masks Debian's VSS unit" masked \
    "$(cin systemctl is-enabled hv-vss-daemon.service)"
cin sh -c 'printf "mounts = /srv/t\n" >>/etc/hv_vss/hv_vss.conf'
mounts=$(cin /usr/libexec/hvvss/hv_vss_daemon -t 2>&1 | grep '^mounts *=')
check_eq "the daemon's configuration in effect: mounts = /srv/t" \
    "mounts = /srv/t" "$mounts"
[ "$mounts" = "mounts = /srv/t" ] || bail "refusing to start a daemon without its allow-list"
# the unit without the device it cannot have here (see the top)
cin sh -c 'sed "/^BindsTo=sys-devices/d; /^After=sys-devices/d" \
    /lib/systemd/system/hv_vss_daemon.service \
    >/etc/systemd/system/hv_vss_daemon.service && systemctl daemon-reload'
check_eq "the container's copy of the unit lacks the device's two lines only" \
    "2" "$(cin diff /lib/systemd/system/hv_vss_daemon.service \
    /etc/systemd/system/hv_vss_daemon.service | grep -c '^<')"
check_eq "and adds nothing" "0" "$(cin diff \
    /lib/systemd/system/hv_vss_daemon.service \
    /etc/systemd/system/hv_vss_daemon.service | grep -c '^>')"

# Nothing of this machine's own filesystems in the container (but
# read-only superblocks): nspawn binds /run/host/* from the host's root,
# read-only mounts the plan would freeze (their superblock is not).
hostdevs=$(stat -c '%d' / /tmp /work 2>/dev/null | sort -u)
hostmm=$(for d in $hostdevs; do echo "$((d >> 8)):$((d & 255))"; done)
shared() {	# the container's mounts of a read-write superblock of this
	# machine's: the plan freezes a read-only bind of one too
	cin cat /proc/1/mountinfo | awk -v devs="$hostmm" '
	    BEGIN { n = split(devs, d, "\n"); for (i = 1; i <= n; i++) h[d[i]] = 1 }
	    { for (i = 7; i < NF && $i != "-"; i++) ; sb = $(i + 3) }
	    ($3 in h) && sb ~ /(^|,)rw(,|$)/ { print $5 }' | sort -r
}
for m in $(shared); do
	cin umount "$m" || cin umount -l "$m"
done
for m in $(shared); do	# stacked mounts: once more
	cin umount "$m" || cin umount -l "$m"
done
check_eq "no mount of this machine's read-write /, /tmp or /work left in the container" \
    "" "$(shared)"
[ -z "$(shared)" ] || bail "refusing to start a freezing daemon"

# ------------------------------------------------------------- (c) --
# The frozen-window command: a write to /srv/t must block while frozen,
# and complete after THAW (the writer is left running in the background).
cat >"$WORK/root/root/window.sh" <<'EOF'
#!/bin/sh
n=$TAG	# this emulator's backups are numbered from 1 again
rm -f /run/w$n.done
# a unit of its own: the emulator's cgroup, this script's, ends with it
systemd-run -q --collect --unit=writer$n sh -c \
    "echo 'written after freeze $n' >/srv/t/w$n && echo done >/run/w$n.done"
sleep 1
if [ -e /run/w$n.done ]; then
	echo "window $n: the write went through: not frozen" >/run/window$n
	exit 1
fi
echo "window $n: the write blocks: frozen" >/run/window$n
touch /run/frozen$n
exec sleep "${HOLD:-0}"
EOF
# -b: only /srv/t in the plan, or no backup at all
cat >"$WORK/root/root/plan.sh" <<'EOF'
#!/bin/sh
hv_vss_ctl plan >/run/plan.txt 2>&1 || exit 1
got=$(awk '/^freeze,/ { on = 1; next } /^thaw:/ { on = 0 } on { print $2 }' \
    /run/plan.txt | paste -sd' ' -)
[ "$got" = /srv/t ] || { echo "plan: $got" >>/run/plan.txt; exit 1; }
EOF
cin mkdir -p /dev/vmbus

# sim N HOLD: the emulator as a transient service hvsimN in the container,
# its frozen window held HOLD seconds, its report in /run/simN.json
sim() {
	cin systemd-run -q --unit="hvsim$1" --collect -E TAG="$1" -E HOLD="$2" \
	    hv_vss_sim -w 60 -b "sh /root/plan.sh" -x "sh /root/window.sh" \
	    -o "/run/sim$1.json" /dev/vmbus/hv_vss
}
# wait_for N CMD...: up to N tenths of a second for CMD to succeed
wait_for() {
	_n=$1
	shift
	while [ "$_n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		_n=$((_n - 1))
	done
	return 1
}

start=$(now_ms)
check "hv_vss_sim serves /dev/vmbus/hv_vss in the container" \
    eval 'sim 1 0 && wait_for 50 cin mountpoint -q /dev/vmbus/hv_vss'
check "systemctl start hv_vss_daemon" cin systemctl start hv_vss_daemon.service
check "the backup ran to its end (the emulator exited)" \
    wait_for 300 eval '[ "$(cin systemctl is-active hvsim1)" != active ]'
echo "# backup through the unit: $(($(now_ms) - start)) ms"
sed 's/^/# plan: /' "$WORK/root/run/plan.txt" 2>/dev/null | sed -n '1,4p'
R1=$(cin cat /run/sim1.json 2>/dev/null)
results() {
	echo "$1" | python3 -c 'import json, sys
r = json.load(sys.stdin)
print(r["verdict"], ",".join(q["op"] + ":" + q["result"]
    for b in r["backups"] for q in b["requests"]))' 2>/dev/null
}
check_eq "the host saw HOT_BACKUP, FREEZE, THAW S_OK" \
    "ok HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK" "$(results "$R1")"
check_eq "in the frozen window a write to /srv/t blocked" \
    "window 1: the write blocks: frozen" "$(cin cat /run/window1 2>&1)"
check "after THAW the write completed" wait_for 50 cin test -e /run/w1.done
check_eq "the daemon that did it is the unit's" \
    "/usr/libexec/hvvss/hv_vss_daemon -n" \
    "$(cin cat "/proc/$(cin systemctl show -P MainPID hv_vss_daemon)/cmdline" |
    tr '\0' ' ' | sed 's/ $//')"
# The unit's namespaces, as its systemd made them (see the unit)
mpid=$(cin systemctl show -P MainPID hv_vss_daemon)
check "the daemon has a network namespace of its own (PrivateNetwork)" \
    test "$(cin readlink /proc/1/ns/net)" != \
    "$(cin readlink "/proc/$mpid/ns/net")"
check "its /dev is private: /dev/vmbus bound in, the container's /dev/fuse absent" \
    cin sh -c "test -d /proc/$mpid/root/dev/vmbus &&
    test -e /dev/fuse && ! test -e /proc/$mpid/root/dev/fuse"
check "its /tmp is private (PrivateTmp)" \
    cin sh -c "touch /tmp/t_nspawn.host &&
    ! test -e /proc/$mpid/root/tmp/t_nspawn.host"
check "it holds no CAP_SYS_PTRACE nor CAP_IPC_LOCK (CapBnd)" \
    eval 'b=$(cin sed -n "s/^CapBnd:\t//p" /proc/$mpid/status) &&
    [ $(((0x$b >> 19) & 1)) -eq 0 ] && [ $(((0x$b >> 14) & 1)) -eq 0 ]'
check "nor CAP_CHOWN nor CAP_SYS_RESOURCE (CapBnd)" \
    eval 'b=$(cin sed -n "s/^CapBnd:\t//p" /proc/$mpid/status) &&
    [ $((0x$b & 1)) -eq 0 ] && [ $(((0x$b >> 24) & 1)) -eq 0 ]'
check_eq "the daemon (and so its hooks) at oom_score_adj 0 (choom)" 0 \
    "$(cin cat /proc/$mpid/oom_score_adj)"
# its engine (privsep = yes): the one process run as hvvss
epid=$(cin sh -c 'for d in /proc/[0-9]*; do
    [ "$(stat -c %U "$d" 2>/dev/null)" = hvvss ] && echo "${d#/proc/}"
    done' | head -n 1)
check_eq "its engine runs as hvvss, a child of the daemon" "$mpid" \
    "$(cin awk '/^PPid:/ { print $2 }' "/proc/${epid:-0}/status")"
check_eq "... with no capabilities, no new privileges, under its filter" \
    "0000000000000000 1 2" \
    "$(cin awk '/^CapEff:/ { c = $2 } /^NoNewPrivs:/ { n = $2 }
    /^Seccomp:/ { f = $2 } END { print c, n, f }' "/proc/${epid:-0}/status")"
check_eq "... not chrooted: the unit grants no CAP_SYS_CHROOT" / \
    "$(cin readlink "/proc/${epid:-0}/root")"
check_eq "its / read-only, /var given back (ProtectSystem=strict)" "/ ro /var rw" \
    "$(cin awk '{ top[$5] = substr($6, 1, 2) }
    END { print "/", top["/"], "/var", top["/var"] }' /proc/$mpid/mountinfo)"
cin journalctl -q -u hv_vss_daemon --no-pager -o cat >"$WORK/j1" 2>&1
sed 's/^/# journal: /' "$WORK/j1"
check "the journal has the unit's backup: froze /srv/t, thawed it" \
    eval 'grep -q "froze 1 filesystem.*/srv/t" "$WORK/j1" &&
    grep -q "thawed in .*/srv/t" "$WORK/j1"'
# someone else's 1 is never written: then there is nothing to see
if [ "$knob" = 0 ]; then
	check_eq "its /sys read-only but rcu_expedited (ProtectKernelTunables, ReadWritePaths)" \
	    "/sys ro /sys/kernel/rcu_expedited rw" \
	    "$(cin awk '{ top[$5] = substr($6, 1, 2) }
	    END { print "/sys", top["/sys"], "/sys/kernel/rcu_expedited",
	    top["/sys/kernel/rcu_expedited"] }' /proc/$mpid/mountinfo)"
	check "the unit may write rcu_expedited alone of /sys: the freeze was expedited" \
	    grep -q "froze 1 filesystem in .* ms (presync .* ms, grace periods expedited): /srv/t" "$WORK/j1"
	check_eq "... and it is back to 0" 0 "$(cat /sys/kernel/rcu_expedited)"
fi
check "the thaw guard locked its memory (within the unit's LimitMEMLOCK)" \
    grep -q "thaw guard pid [0-9]*, memory locked" "$WORK/j1"
check "... and the engine said so" \
    grep -q "privsep: engine pid ${epid:-0} started (user uid [0-9]*, not chrooted: no CAP_SYS_CHROOT" "$WORK/j1"
# Only where this machine's systemd may set the unit's OOMScoreAdjust
# floor at all (it ignores the failure in a container without
# CAP_SYS_RESOURCE, and then nothing can be exempt).
if [ $(((0x$(sed -n 's/^CapBnd:\t//p' /proc/self/status) >> 24) & 1)) -eq 1 ]; then
	check "the thaw guard is OOM killer exempt without CAP_SYS_RESOURCE" \
	    grep -q "thaw guard pid [0-9]*, .*OOM killer exempt" "$WORK/j1"
else
	echo "ok - # SKIP the guard's OOM exemption: this machine has no CAP_SYS_RESOURCE to give"
fi

# ------------------------------------------------------------- (d) --
# The host holds the guest frozen (the window command sleeps 50 s, under
# max_frozen's 60): a write blocks; systemctl stop must thaw.
check "a second emulated host, that holds the guest frozen" \
    sim 2 50
if wait_for 150 cin test -e /run/frozen2; then
	pass "the daemon (still running) froze /srv/t for it"
	cin systemd-run -q --collect --unit=writer-stop sh -c \
	    'echo after-stop >/srv/t/stop && echo done >/run/stop.done'
	sleep 1
	check "a write to /srv/t blocks while frozen" \
	    cin test ! -e /run/stop.done
	start=$(now_ms)
	cin systemctl stop hv_vss_daemon.service
	stop_rc=$?
	stop_ms=$(($(now_ms) - start))
	check_eq "systemctl stop hv_vss_daemon" 0 $stop_rc
	check "the blocked write completed after the stop" \
	    wait_for 50 cin test -e /run/stop.done
	wrote_ms=$(($(now_ms) - start))
	echo "# stop took $stop_ms ms; the write was through $wrote_ms ms after it began"
	check_eq "what it wrote is there" "after-stop" \
	    "$(cin cat /srv/t/stop 2>&1)"
	check "/srv/t is no longer frozen (fsfreeze -u from here: EINVAL)" \
	    eval '! fsfreeze -u "$WORK/t" 2>/dev/null'
	cin journalctl -q -u hv_vss_daemon --no-pager -o cat >"$WORK/j2" 2>&1
	tail -n +"$(($(wc -l <"$WORK/j1") + 1))" "$WORK/j2" |
	    sed 's/^/# journal: /'
	check "the journal says it thawed /srv/t on the way out" \
	    eval 'tail -n 20 "$WORK/j2" | grep -q "thawed in .*/srv/t"'
	check_eq "the unit is inactive (a clean exit, not a failure)" inactive \
	    "$(cin systemctl is-active hv_vss_daemon.service)"
else
	fail "the daemon (still running) froze /srv/t for it"
	cin journalctl -q -u hv_vss_daemon -u hvsim2 --no-pager -o cat |
	    tail -n 20 | sed 's/^/# /'
fi
cin systemctl stop hvsim2 >/dev/null 2>&1

# An upgrade (the same version again: dpkg runs "postinst configure 1.0")
# restarts a running daemon, and leaves the configuration as edited.
# Started with no emulator: it waits for the device and freezes nothing.
cin systemctl start hv_vss_daemon.service
pid1=$(cin systemctl show -P MainPID hv_vss_daemon.service)
cin dpkg -i "/root/debs/hvvss_${ver}_$arch.deb" >"$WORK/up.log" 2>&1
rc=$?
[ $rc -eq 0 ] || sed 's/^/# /' "$WORK/up.log"
check_eq "dpkg -i hvvss over itself (an upgrade)" 0 $rc
pid2=$(cin systemctl show -P MainPID hv_vss_daemon.service)
check "it restarted the running daemon (MainPID $pid1, then $pid2)" \
    test "$pid1" != 0 -a "$pid2" != 0 -a "$pid1" != "$pid2"
check_eq "the edited configuration is kept" "mounts = /srv/t" \
    "$(cin tail -n 1 /etc/hv_vss/hv_vss.conf)"

# ------------------------------------------------------------- (e) --
cin dpkg --purge hvvss >"$WORK/purge.log" 2>&1
rc=$?
[ $rc -eq 0 ] || sed 's/^/# /' "$WORK/purge.log"
check_eq "dpkg --purge hvvss" 0 $rc
check_eq "the purge stopped the daemon" inactive \
    "$(cin systemctl is-active hv_vss_daemon.service)"
check "the packaged unit and the configuration are gone" \
    cin sh -c '! test -e /lib/systemd/system/hv_vss_daemon.service &&
    ! test -e /etc/hv_vss/hv_vss.conf'
check_eq "hyperv-daemons is still installed" "ii" \
    "$(cin dpkg-query -W -f='${db:Status-Abbrev}' hyperv-daemons | tr -d ' ')"

finish
