#!/bin/sh
# t_deb: the Debian packages (debian/, "make deb").
#
# What it proves:
#  (a) "make deb" builds hvvss, libhvvss1, libhvvss-dev and hvvss-sim
#      with dpkg-buildpackage (or finds them built from these very
#      sources in $B/deb), with no dpkg-gensymbols or dpkg-shlibdeps
#      warning; lintian --pedantic on the .changes says no error and no
#      warning (the info tags it says are listed in the README);
#  (b) each package holds exactly the files listed below, with their
#      modes; the daemon is out of /usr/sbin; the conffiles are
#      hv_vss.conf and hooks.d/README; the dependencies are the
#      libraries the programs link (libhvvss-dev on the same libhvvss1);
#      no file is also in Debian's hyperv-daemons (whose KVP and fcopy
#      daemons must stay installable beside hvvss); the symbols file
#      lists exactly what lib/libhvvss.map exports;
#  (c) installed with dpkg --root into an empty root (maintainer scripts
#      run chrootless with DPKG_ROOT set, which they honour: nothing on
#      this machine is touched): the unit runs /usr/libexec/hvvss/
#      hv_vss_daemon, dpkg records the conffiles, examples/app.c builds
#      with the -dev package's pkg-config file and links the runtime
#      package's versioned symbols; an administrator's change to
#      hv_vss.conf survives a reinstall.
#
# The package is never installed on this machine's own root; its
# installation under a real systemd is t_nspawn.sh's.
#
# Run as root: sh tests/system/t_deb.sh (HVVSS_BUILD=build dir).

. "$(dirname "$0")/lib.sh"

need_root
need_cmd make dpkg dpkg-deb dpkg-query lintian cc pkg-config objdump
workdir

D=$B/deb
arch=$(dpkg --print-architecture)
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
ver=$(dpkg-parsechangelog -l "$TOP/debian/changelog" -S Version)

# ---------------------------------------------------------------- (a) --
start=$(now_ms)
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$TOP" --no-print-directory \
    B="$B" deb >"$WORK/make.log" 2>&1
rc=$?
echo "# make deb: $(($(now_ms) - start)) ms ($(tail -n 1 "$WORK/make.log" |
    sed 's/^ *//'))"
[ $rc -eq 0 ] || sed 's/^/# /' "$WORK/make.log" | tail -n 30
check_eq "make deb" 0 $rc
for p in hvvss libhvvss1 libhvvss-dev hvvss-sim; do
	check "built ${p}_${ver}_$arch.deb" test -f "$D/${p}_${ver}_$arch.deb"
done
[ -f "$D/hvvss_${ver}_$arch.changes" ] || bail "no .changes in $D"
check_eq "no dpkg-gensymbols or dpkg-shlibdeps warning in the build" "" \
    "$(grep -E 'dpkg-(gensymbols|shlibdeps): warning' "$D/build.log")"

lintian --pedantic -I "$D/hvvss_${ver}_$arch.changes" >"$WORK/lintian" 2>&1
echo "# lintian exit $?"
sed 's/^/# lintian: /' "$WORK/lintian"
check_eq "lintian: no error" "" "$(grep '^E: ' "$WORK/lintian")"
check_eq "lintian: no warning" "" "$(grep '^W: ' "$WORK/lintian")"
# The info tags explained in README.md ("Debian package"); a new one
# must be looked at and explained there, not let through unread.
check_eq "lintian: no info tag but those the README explains" "" \
    "$(grep '^I: ' "$WORK/lintian" | grep -v -e \
    ': package-supports-alternative-init-but-no-init.d-script ' -e \
    ': systemd-service-file-missing-install-key ' -e \
    ': hardening-no-fortify-functions \[usr/libexec/hvvss/hv_vss_guard\]' -e \
    ': spare-manual-page \[usr/share/man/man8/hv_vss_daemon.8.gz\]')"

# ---------------------------------------------------------------- (b) --
# files: "mode path" of everything but directories, sorted
files() {
	dpkg-deb -c "$1" | awk '$1 !~ /^d/ {
	    p = $6; sub(/^\.\//, "/", p)
	    if ($1 ~ /^l/) p = p " -> " $8
	    print $1, p }' | sort -k 2
}
for p in hvvss libhvvss1 libhvvss-dev hvvss-sim; do
	files "$D/${p}_${ver}_$arch.deb" >"$WORK/$p.got"
done
sort -k 2 >"$WORK/hvvss.want" <<EOF
-rw-r--r-- /etc/hv_vss/hooks.d/README
-rw-r--r-- /etc/hv_vss/hv_vss.conf
-rw-r--r-- /lib/systemd/system/hv_vss_daemon.service
-rw-r--r-- /lib/udev/rules.d/60-hv_vss.rules
-rw-r--r-- /usr/lib/sysusers.d/hvvss.conf
-rwxr-xr-x /usr/libexec/hvvss/hv_vss_daemon
-rwxr-xr-x /usr/libexec/hvvss/hv_vss_guard
-rwxr-xr-x /usr/libexec/hvvss/azure-post-script
-rwxr-xr-x /usr/libexec/hvvss/azure-pre-script
-rwxr-xr-x /usr/libexec/hvvss/qemu-fsfreeze-hook
-rwxr-xr-x /usr/libexec/hvvss/vmware-backup-script
-rwxr-xr-x /usr/sbin/hv_vss_ctl
-rw-r--r-- /usr/share/doc/hvvss/README.Debian
-rw-r--r-- /usr/share/doc/hvvss/README.md.gz
-rw-r--r-- /usr/share/doc/hvvss/changelog.gz
-rw-r--r-- /usr/share/doc/hvvss/copyright
-rwxr-xr-x /usr/share/doc/hvvss/examples/10-example
-rw-r--r-- /usr/share/man/man8/hv_vss_ctl.8.gz
-rw-r--r-- /usr/share/man/man8/hv_vss_daemon.8.gz
EOF
sort -k 2 >"$WORK/libhvvss1.want" <<EOF
-rw-r--r-- /usr/lib/$ma/libhvvss.so.1
-rw-r--r-- /usr/share/doc/libhvvss1/changelog.gz
-rw-r--r-- /usr/share/doc/libhvvss1/copyright
EOF
sort -k 2 >"$WORK/libhvvss-dev.want" <<EOF
-rw-r--r-- /usr/include/hvvss.h
-rw-r--r-- /usr/lib/$ma/libhvvss.a
lrwxrwxrwx /usr/lib/$ma/libhvvss.so -> libhvvss.so.1
-rw-r--r-- /usr/lib/$ma/pkgconfig/hvvss.pc
-rw-r--r-- /usr/share/doc/libhvvss-dev/changelog.gz
-rw-r--r-- /usr/share/doc/libhvvss-dev/copyright
-rw-r--r-- /usr/share/doc/libhvvss-dev/examples/app.c
-rwxr-xr-x /usr/share/doc/libhvvss-dev/examples/client.py
-rw-r--r-- /usr/share/doc/libhvvss-dev/examples/mariadb-hold.c
-rw-r--r-- /usr/share/man/man3/libhvvss.3.gz
EOF
sort -k 2 >"$WORK/hvvss-sim.want" <<EOF
-rwxr-xr-x /usr/bin/hv_vss_sim
-rw-r--r-- /usr/share/doc/hvvss-sim/changelog.gz
-rw-r--r-- /usr/share/doc/hvvss-sim/copyright
-rw-r--r-- /usr/share/man/man1/hv_vss_sim.1.gz
EOF
for p in hvvss libhvvss1 libhvvss-dev hvvss-sim; do
	if diff "$WORK/$p.want" "$WORK/$p.got" >"$WORK/diff"; then
		pass "dpkg -c $p: the files and modes expected"
	else
		sed 's/^/# /' "$WORK/diff"
		fail "dpkg -c $p: the files and modes expected"
	fi
done
check_eq "every file root's (dpkg -c)" "" "$(for p in hvvss libhvvss1 \
    libhvvss-dev hvvss-sim; do dpkg-deb -c "$D/${p}_${ver}_$arch.deb"; done |
    awk '$2 != "root/root"')"

check_eq "hvvss's conffiles (dpkg-deb -I conffiles)" \
    "/etc/hv_vss/hooks.d/README /etc/hv_vss/hv_vss.conf" \
    "$(dpkg-deb -I "$D/hvvss_${ver}_$arch.deb" conffiles | sort | paste -sd' ' -)"
for p in libhvvss1 libhvvss-dev hvvss-sim; do
	check_eq "$p has no conffiles" "" \
	    "$(dpkg-deb -I "$D/${p}_${ver}_$arch.deb" conffiles 2>/dev/null)"
done

# field package name
field() {
	dpkg-deb -f "$D/${2}_${ver}_$arch.deb" "$1"
}
deps() {	# package: its Depends, package names only, sorted
	field Depends "$1" | tr ',' '\n' | awk '{ print $1 }' | sort |
	    paste -sd' ' -
}
check_eq "hvvss depends on the libraries the daemon and the guard link, and on systemd-sysusers for its user" \
    "libc6 libevent-2.1-7 libevent-pthreads-2.1-7 libmount1 libseccomp2 systemd" \
    "$(deps hvvss)"
check "its user is created by systemd-sysusers (or a standalone one)" \
    eval 'field Depends hvvss | grep -q "systemd | systemd-standalone-sysusers | systemd-sysusers"'
check "the postinst creates the engine's user hvvss (sysusers.d)" \
    eval 'dpkg-deb -I "$D/hvvss_${ver}_$arch.deb" postinst |
    grep -q "systemd-sysusers .*hvvss.conf"'
check_eq "hvvss-sim depends on libfuse3 and libevent" \
    "libc6 libevent-2.1-7 libfuse3-3" "$(deps hvvss-sim)"
check_eq "hvvss-sim recommends fuse3" "fuse3" "$(field Recommends hvvss-sim)"
check_eq "libhvvss-dev depends on the same libhvvss1" \
    "libhvvss1 (= $ver)" "$(field Depends libhvvss-dev)"
check_eq "libhvvss1 is Multi-Arch: same, in section libs" "same libs" \
    "$(field Multi-Arch libhvvss1) $(field Section libhvvss1)"
check_eq "libhvvss1's shlibs" "libhvvss 1 libhvvss1 (>= $ver)" \
    "$(dpkg-deb -I "$D/libhvvss1_${ver}_$arch.deb" shlibs)"

# the symbols file: exactly the map's names, at HVVSS_1
sed -n 's/^[[:space:]]*\(hvvss_[a-z_]*\);$/\1@HVVSS_1/p' \
    "$TOP/lib/libhvvss.map" | sort >"$WORK/map"
dpkg-deb -I "$D/libhvvss1_${ver}_$arch.deb" symbols |
    sed -n 's/^ \(hvvss_[^ ]*\) .*/\1/p' | sort >"$WORK/syms"
check "the map names functions (so the comparison is not of nothing)" \
    test -s "$WORK/map"
check_eq "the symbols file lists exactly libhvvss.map's functions" \
    "$(cat "$WORK/map")" "$(cat "$WORK/syms")"

# Debian's hyperv-daemons, downloaded (never installed here)
ref=$B/deb/ref
if ! ls "$ref"/hyperv-daemons_*.deb >/dev/null 2>&1; then
	mkdir -p "$ref"
	(cd "$ref" && { apt-get download hyperv-daemons ||
	    { apt-get update -qq && apt-get download hyperv-daemons; }; }) \
	    >"$WORK/download.log" 2>&1
fi
hd=$(ls "$ref"/hyperv-daemons_*.deb 2>/dev/null | head -n 1)
if [ -n "$hd" ]; then
	dpkg-deb -c "$hd" | awk '$1 !~ /^d/ { print $6 }' |
	    sed 's|^\./|/|' | sort >"$WORK/hd.files"
	cat "$WORK"/hvvss.got "$WORK"/libhvvss1.got "$WORK"/libhvvss-dev.got \
	    "$WORK"/hvvss-sim.got | awk '{ print $2 }' | sort >"$WORK/ours"
	check "hyperv-daemons has /usr/sbin/hv_vss_daemon (what we avoid)" \
	    grep -qx /usr/sbin/hv_vss_daemon "$WORK/hd.files"
	check_eq "no file in common with hyperv-daemons $(dpkg-deb -f "$hd" \
	    Version)" "" "$(comm -12 "$WORK/hd.files" "$WORK/ours")"
else
	sed 's/^/# /' "$WORK/download.log"
	fail "apt-get download hyperv-daemons (to compare file lists)"
fi

# ---------------------------------------------------------------- (c) --
R=$WORK/root
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates"
: >"$R/var/lib/dpkg/status"
: >"$R/var/lib/dpkg/available"
# --force-depends: the root holds no libc; --force-script-chrootless:
# it holds no shell either, and the scripts, run here with DPKG_ROOT set,
# do nothing then (checked above by what they are, and below by what
# they leave: no /run/systemd touched, no unit started).
inst() {
	dpkg --root="$R" --force-script-chrootless --force-depends \
	    --force-confold -i "$D/hvvss_${ver}_$arch.deb" \
	    "$D/libhvvss1_${ver}_$arch.deb" \
	    "$D/libhvvss-dev_${ver}_$arch.deb" \
	    "$D/hvvss-sim_${ver}_$arch.deb" >"$WORK/dpkg.log" 2>&1
	_rc=$?
	[ $_rc -eq 0 ] || sed 's/^/# dpkg: /' "$WORK/dpkg.log" | tail -n 20
	return $_rc
}
before=$(ls -la /run/systemd /etc/systemd/system 2>&1 | md5sum)
check "dpkg --root installs the four packages" inst
check_eq "dpkg --root: nothing changed in this machine's systemd dirs" \
    "$before" "$(ls -la /run/systemd /etc/systemd/system 2>&1 | md5sum)"
q() {
	dpkg-query --admindir="$R/var/lib/dpkg" -W -f="$1" "$2"
}
check_eq "dpkg --root: all four installed" \
    "install ok installed|install ok installed|install ok installed|install ok installed" \
    "$(for p in hvvss libhvvss1 libhvvss-dev hvvss-sim; do
    q '${Status}' $p; echo; done | paste -sd'|' -)"
check_eq "dpkg records hvvss's conffiles with their md5sums" \
    " /etc/hv_vss/hooks.d/README $(md5sum <"$TOP/etc/hooks.d/README" |
    cut -d' ' -f1)| /etc/hv_vss/hv_vss.conf $(md5sum <"$TOP/etc/hv_vss.conf" |
    cut -d' ' -f1)" "$(q '${Conffiles}' hvvss | sed '/^$/d' | paste -sd'|' -)"
check_eq "the installed unit runs the daemon from /usr/libexec/hvvss (through choom)" \
    "ExecStart=/usr/bin/choom -n 0 -- /usr/libexec/hvvss/hv_vss_daemon -n" \
    "$(grep '^ExecStart=' "$R/lib/systemd/system/hv_vss_daemon.service")"
check "the unit runs a file that is there, and is the daemon" \
    eval '"$R/usr/libexec/hvvss/hv_vss_daemon" -h 2>&1 | grep -q "usage: hv_vss_daemon"'
check "no /usr/sbin/hv_vss_daemon" test ! -e "$R/usr/sbin/hv_vss_daemon"
check "choom, which the unit runs first, comes with util-linux (Essential)" \
    eval 'dpkg -S /usr/bin/choom | grep -q "^util-linux:" &&
    [ "$(dpkg-query -W -f "\${Essential}" util-linux)" = yes ]'
check "the conffile is the repository's hv_vss.conf" \
    cmp -s "$R/etc/hv_vss/hv_vss.conf" "$TOP/etc/hv_vss.conf"

# The -dev package, as a program's build uses it: pkg-config, the
# header, the .so link; the result needs libhvvss.so.1 at HVVSS_1.
pc() {
	PKG_CONFIG_SYSROOT_DIR=$R PKG_CONFIG_LIBDIR=$R/usr/lib/$ma/pkgconfig \
	    pkg-config "$@"
}
check_eq "pkg-config --cflags --libs hvvss (in the root)" \
    "-I$R/usr/include -L$R/usr/lib/$ma -lhvvss" \
    "$(pc --cflags --libs hvvss | sed 's/  */ /g; s/ $//')"
# shellcheck disable=SC2046
check "examples/app.c builds against the installed -dev package" \
    cc -o "$WORK/app" "$TOP/examples/app.c" $(pc --cflags --libs hvvss)
check_eq "it needs libhvvss.so.1" "libhvvss.so.1" \
    "$(objdump -p "$WORK/app" 2>/dev/null | awk '$1 == "NEEDED" &&
    $2 ~ /hvvss/ { print $2 }')"
check "its hvvss_ symbols are versioned HVVSS_1" \
    eval 'objdump -T "$WORK/app" | grep hvvss_ >"$WORK/appsyms" &&
    ! grep -v "HVVSS_1" "$WORK/appsyms"'
check "it runs on the runtime package's library: hvvss_open says no daemon" \
    eval 'LD_LIBRARY_PATH=$R/usr/lib/$ma "$WORK/app" "$WORK/j" \
    "$WORK/none.sock" 2>&1 | grep -q "^app: cannot register: No such file"'
check "and that library is the one in the root (ldd)" \
    eval 'LD_LIBRARY_PATH=$R/usr/lib/$ma ldd "$WORK/app" |
    grep -q "libhvvss.so.1 => $R/usr/lib/$ma/libhvvss.so.1"'

echo "max_frozen = 30" >>"$R/etc/hv_vss/hv_vss.conf"
check "dpkg --root reinstalls over an edited hv_vss.conf" inst
check_eq "the administrator's hv_vss.conf is kept" "max_frozen = 30" \
    "$(tail -n 1 "$R/etc/hv_vss/hv_vss.conf")"

finish
