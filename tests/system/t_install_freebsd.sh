#!/bin/sh
# t_install_freebsd: "make install OS=FreeBSD", the layout a FreeBSD
# system starts the daemon from (rc.d and devd, not systemd and udev),
# checked on Linux through DESTDIR.
#
# What it proves:
#  (a) with OS=FreeBSD, make install puts the daemon, its guard and
#      hv_vss_ctl that "make freebsd" built (FreeBSD executables, run if
#      missing) in PREFIX/sbin, libhvvss.so.1 (FreeBSD's) in PREFIX/lib,
#      no hv_vss_sim and no hv_vss_group, the configuration under PREFIX/etc/hv_vss (ports'
#      place, not /etc), the rc.d script as PREFIX/etc/rc.d/hv_vss_daemon
#      (mode 555) with every @VARIABLE@ substituted, and the devd rule
#      as PREFIX/etc/devd/hv_vss.conf, byte for byte etc/hyperv-vss.devd;
#      and no systemd unit, no udev rule; PREFIX moves all of it; with
#      OS=Linux none of the FreeBSD files is installed;
#  (b) the rc.d script, run against a stand-in for /etc/rc.subr that
#      records what rc.subr would be given: name equals the file name and
#      its PROVIDE: line (rcorder(8) and service(8) find it by that),
#      rcvar is hv_vss_daemon_enable, command is the installed daemon,
#      the daemon runs without -n (it detaches itself; no pidfile and
#      no procname, so rc.subr finds it by command, the program's path), the configuration is
#      required and passed with -c, reload and configtest exist, and
#      its keywords are nojail, nostart (devd starts it at boot, as it
#      does base's daemon; rc's faststart would race it) and shutdown; its configtest
#      runs the daemon itself (-t -c) on the installed configuration and
#      passes, and fails on a broken one; its prestart refuses when
#      /dev/hv_fsvss_dev does not exist (as on this machine);
#  (c) the devd rule: priority 12, above base's notify 11 for the same
#      device (FreeBSD's sbin/devd/hyperv.conf), CREATE and DESTROY of
#      hv_fsvss_dev; its CREATE action, run by sh as devd runs it,
#      starts hvvss through "service hv_vss_daemon quietstart" only
#      when "service hv_vss_daemon enabled" says so, and otherwise
#      leaves base's daemon to start (a stand-in service(8) records the
#      calls).
#
# What it cannot prove here, with no FreeBSD: that rc.subr, devd and
# service(8) themselves behave as their source says (doc/FREEBSD.md
# cites it), nor run the FreeBSD binaries installed: configtest runs this
# machine's build of the daemon.
#
# sh tests/system/t_install_freebsd.sh (HVVSS_BUILD=build dir).

. "$(dirname "$0")/lib.sh"

need_cmd make sed cmp find stat file
for p in hv_vss_daemon hv_vss_guard hv_vss_ctl hv_vss_sim; do
	[ -x "$B/$p" ] || bail "$B/$p is built (make)"
done
# what OS=FreeBSD installs is what "make freebsd" built
FB=${HVVSS_FREEBSD_BUILD:-$TOP/build-freebsd}
if [ ! -x "$FB/hv_vss_daemon" ] || [ ! -x "$FB/hv_vss_guard" ]; then
	make -C "$TOP" --no-print-directory freebsd >/dev/null 2>&1 ||
	    bail "make freebsd failed"
fi
workdir

inst() {	# destdir make-arguments...
	_d=$1
	shift
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u PREFIX -u BINDIR \
	    -u SBINDIR -u DAEMONDIR -u LIBDIR -u INCDIR -u MANDIR -u SYSCONFDIR \
	    -u SYSTEMDUNITDIR -u UDEVRULESDIR -u RCDIR -u DEVDDIR -u OS \
	    -u DESTDIR make -C "$TOP" --no-print-directory B="$B" \
	    DESTDIR="$_d" "$@" install >"$_d.log" 2>&1
	_rc=$?
	[ $_rc -eq 0 ] || sed 's/^/# make: /' "$_d.log" | tail -n 30
	return $_rc
}

# ---------------------------------------------------------------- (a) --
D=$WORK/root
check "make install OS=FreeBSD DESTDIR=..." inst "$D" OS=FreeBSD
while read -r mode path src; do
	got=$(stat -c '%a' "$D/$path" 2>/dev/null || echo missing)
	check_eq "installed $path, mode $mode" "$mode" "$got"
	if [ -n "$src" ]; then
		check "$path is $src" cmp -s "$D/$path" "$src"
	fi
done <<EOF2
755 usr/local/sbin/hv_vss_daemon $FB/hv_vss_daemon
755 usr/local/sbin/hv_vss_guard $FB/hv_vss_guard
755 usr/local/sbin/hv_vss_ctl $FB/hv_vss_ctl
755 usr/local/lib/libhvvss.so.1 $FB/libhvvss.so.1
644 usr/local/etc/hv_vss/hv_vss.conf $TOP/etc/hv_vss.conf
644 usr/local/etc/hv_vss/hooks.d/README $TOP/etc/hooks.d/README
555 usr/local/etc/rc.d/hv_vss_daemon
644 usr/local/etc/devd/hv_vss.conf $TOP/etc/hyperv-vss.devd
644 usr/local/share/man/man8/hv_vss_daemon.8 $TOP/daemon/hv_vss_daemon.8
EOF2
for p in hv_vss_daemon hv_vss_guard hv_vss_ctl; do
	case $(file -b "$D/usr/local/sbin/$p") in
	*"for FreeBSD"*) pass "installed $p is FreeBSD's executable" ;;
	*) fail "installed $p: $(file -b "$D/usr/local/sbin/$p")" ;;
	esac
done
check_eq "no hv_vss_sim, no hv_vss_group (Linux's: FUSE, libcurl)" "" \
    "$(cd "$D" && find . -name 'hv_vss_sim*' -o -name 'hv_vss_group*')"
check_eq "no systemd unit, no udev rule, nothing in /etc" "" \
    "$(cd "$D" && find lib etc -print 2>/dev/null)"
RC=$D/usr/local/etc/rc.d/hv_vss_daemon
check_eq "no @VARIABLE@ left in the rc.d script" "" \
    "$(grep -n '@[A-Z_]*@' "$RC")"
check "the rc.d script is valid sh" sh -n "$RC"
check_eq "its command is the installed daemon" \
    "command=/usr/local/sbin/hv_vss_daemon" "$(grep '^command=' "$RC")"
check "its configuration is PREFIX/etc/hv_vss/hv_vss.conf" \
    grep -qF ': ${hv_vss_daemon_config:=/usr/local/etc/hv_vss/hv_vss.conf}' \
    "$RC"

D2=$WORK/root2
check "make install OS=FreeBSD PREFIX=/opt/hvvss" \
    inst "$D2" OS=FreeBSD PREFIX=/opt/hvvss
check "PREFIX moves the rc.d script" \
    test -x "$D2/opt/hvvss/etc/rc.d/hv_vss_daemon"
check "PREFIX moves the devd rule" test -f "$D2/opt/hvvss/etc/devd/hv_vss.conf"
check "PREFIX moves the configuration" \
    test -f "$D2/opt/hvvss/etc/hv_vss/hv_vss.conf"
check_eq "the rc.d script names the daemon under PREFIX" \
    "command=/opt/hvvss/sbin/hv_vss_daemon" \
    "$(grep '^command=' "$D2/opt/hvvss/etc/rc.d/hv_vss_daemon")"

D3=$WORK/root3
check "make install OS=Linux" inst "$D3" OS=Linux
check_eq "OS=Linux installs no rc.d script and no devd rule" "" \
    "$(find "$D3" -path '*rc.d*' -o -name 'hv_vss.conf' -path '*devd*')"
check "OS=Linux installs the systemd unit" \
    test -f "$D3/lib/systemd/system/hv_vss_daemon.service"

# ---------------------------------------------------------------- (b) --
# A stand-in for /etc/rc.subr: what run_rc_command is handed, and the
# script's own methods run as rc.subr would run them (command may be
# overridden by ${name}_program, as rc.subr allows).
mkdir -p "$WORK/rc"
cat >"$WORK/rc/rc.subr" <<'EOF2'
load_rc_config() { [ -f "$RCCONF" ] && . "$RCCONF"; }
checkyesno() { eval "_v=\$$1"; case $_v in [Yy][Ee][Ss]) return 0 ;; esac; return 1; }
warn() { echo "warn: $*"; }
run_rc_command() {
	eval "_o=\${${name}_program}"
	command=${_o:-$command}
	echo "name=$name"
	echo "rcvar=$rcvar"
	echo "command=$command"
	echo "procname=$procname"
	echo "pidfile=$pidfile"
	echo "command_args=$command_args"
	echo "required_files=$required_files"
	echo "extra_commands=$extra_commands"
	case $1 in
	configtest) eval "$configtest_cmd"; echo "configtest.rc=$?" ;;
	prestart) eval "$start_precmd"; echo "prestart.rc=$?" ;;
	esac
}
EOF2
sed "s|^\. /etc/rc\.subr\$|. $WORK/rc/rc.subr|" "$RC" >"$WORK/rc/script"
check "the rc.d script sources /etc/rc.subr (the stand-in replaced it)" \
    grep -q "^\. $WORK/rc/rc.subr\$" "$WORK/rc/script"
cp "$D/usr/local/etc/hv_vss/hv_vss.conf" "$WORK/rc/good.conf"
# the installed daemon is FreeBSD's: its configtest runs this machine's
# build of the same source (hv_vss_daemon_program, as rc.subr allows)
printf 'hv_vss_daemon_program=%s\nhv_vss_daemon_config=%s\n' \
    "$B/hv_vss_daemon" "$WORK/rc/good.conf" >"$WORK/rc/rc.conf"
out=$(RCCONF=$WORK/rc/rc.conf sh "$WORK/rc/script" configtest 2>&1)
printf '%s\n' "$out" | sed 's/^/# rc: /'
get() { printf '%s\n' "$out" | sed -n "s/^$1=//p"; }
check_eq "name is the file's name" hv_vss_daemon "$(get name)"
check_eq "PROVIDE: is the name" "# PROVIDE: hv_vss_daemon" \
    "$(grep '^# PROVIDE:' "$RC")"
check "KEYWORD: nojail nostart shutdown (devd starts it at boot, not rc)" \
    grep -qx '# KEYWORD: nojail nostart shutdown' "$RC"
check_eq "rcvar" hv_vss_daemon_enable "$(get rcvar)"
check_eq "no procname, no pidfile: rc.subr finds it by its command" \
    "::" "$(get procname)::$(get pidfile)"
check_eq "the daemon detaches itself (no -n); configuration by -c" \
    "-c $WORK/rc/good.conf" "$(get command_args)"
check_eq "the configuration is a required file" "$WORK/rc/good.conf" \
    "$(get required_files)"
check_eq "reload and configtest" "reload configtest" "$(get extra_commands)"
check "configtest runs the daemon's -t on the configuration and passes" \
    eval 'printf "%s\n" "$out" | grep -qx "configtest.rc=0"'
echo "no_such_key = 1" >"$WORK/rc/bad.conf"
printf 'hv_vss_daemon_program=%s\nhv_vss_daemon_config=%s\n' \
    "$B/hv_vss_daemon" "$WORK/rc/bad.conf" >"$WORK/rc/rc.conf"
bad=$(RCCONF=$WORK/rc/rc.conf sh "$WORK/rc/script" configtest 2>&1)
printf '%s\n' "$bad" | grep -v '^[a-z_]*=' | sed 's/^/# rc: /'
check "configtest fails on a broken configuration, naming it" \
    eval 'printf "%s\n" "$bad" | grep -qx "configtest.rc=1" &&
        printf "%s\n" "$bad" | grep -q "bad.conf"'
if [ -e /dev/hv_fsvss_dev ]; then
	fail "this machine has /dev/hv_fsvss_dev: the prestart check cannot be tried"
else
	pre=$(RCCONF=$WORK/rc/rc.conf sh "$WORK/rc/script" prestart 2>&1)
	check "prestart refuses without /dev/hv_fsvss_dev, and says why" \
	    eval 'printf "%s\n" "$pre" | grep -qx "prestart.rc=1" &&
	        printf "%s\n" "$pre" | grep -q "warn: /dev/hv_fsvss_dev does not exist"'
fi

# ---------------------------------------------------------------- (c) --
DEVD=$D/usr/local/etc/devd/hv_vss.conf
check_eq "devd: two rules, both priority 12 (base's are 11)" "2 2" \
    "$(grep -c '^notify 12 {' "$DEVD") $(grep -c '^notify' "$DEVD")"
check_eq "devd: CREATE and DESTROY of hv_fsvss_dev" "CREATE DESTROY" \
    "$(grep -A4 '^notify' "$DEVD" | sed -n 's/.*match "type"[^"]*"\([A-Z]*\)".*/\1/p' | paste -sd' ' -)"
check_eq "devd: both match cdev hv_fsvss_dev" 2 \
    "$(grep -c 'match "cdev"[[:space:]]*"hv_fsvss_dev";' "$DEVD")"
create=$(awk '/"CREATE"/ { c = 1 } c && /action/ { print; exit }' "$DEVD" |
    sed 's/^[[:space:]]*action "//; s/";$//')
destroy=$(awk '/"DESTROY"/ { c = 1 } c && /action/ { print; exit }' "$DEVD" |
    sed 's/^[[:space:]]*action "//; s/";$//')
check_eq "devd: DESTROY stops whichever daemon runs" "pkill -x hv_vss_daemon" \
    "$destroy"
mkdir -p "$WORK/bin"
cat >"$WORK/bin/service" <<'EOF2'
#!/bin/sh
echo "service $*" >>"$CALLS"
[ "$2" = enabled ] && exit "$ENABLED"
exit 0
EOF2
chmod +x "$WORK/bin/service"
: >"$WORK/calls.on"
CALLS=$WORK/calls.on ENABLED=0 PATH=$WORK/bin:$PATH sh -c "$create"
check_eq "devd CREATE, enabled: service ... quietstart" \
    "service hv_vss_daemon enabled,service hv_vss_daemon quietstart" \
    "$(paste -sd, "$WORK/calls.on")"
: >"$WORK/calls.off"
CALLS=$WORK/calls.off ENABLED=1 PATH=$WORK/bin:$PATH sh -c "$create"
rc=$?
check_eq "devd CREATE, not enabled: hvvss is not started" \
    "service hv_vss_daemon enabled" "$(paste -sd, "$WORK/calls.off")"
if [ -x /usr/sbin/hv_vss_daemon ]; then
	echo "# /usr/sbin/hv_vss_daemon exists here: base's start not tried"
else
	check_eq "devd CREATE, not enabled, no base daemon: nothing, no error" \
	    0 "$rc"
fi
check "devd CREATE, not enabled: base's /usr/sbin/hv_vss_daemon is what starts" \
    eval 'printf "%s\n" "$create" | grep -q "elif \[ -x /usr/sbin/hv_vss_daemon \]; then /usr/sbin/hv_vss_daemon; fi"'
finish
