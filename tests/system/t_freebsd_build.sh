#!/bin/sh
# t_freebsd_build: "make freebsd", the FreeBSD cross-build (doc/FREEBSD.md).
#
# What it proves: make freebsd succeeds (it installs Zig from PyPI and
# builds libevent from Debian's source the first time, then only what
# changed); what it links is FreeBSD's (executables: file(1) "for
# FreeBSD", FreeBSD's interpreter /libexec/ld-elf.so.1; libhvvss.so: it
# needs FreeBSD's libc.so.7 and its FBSD_1.x versions); libhvvss.so exports only hvvss_*
# names and examples/app needs it; tests/freebsd/abi, which asserts at
# compile time that FreeBSD's _IOR/_IOW give 0x40407602/0x80407603, was
# built; every object of common/ is x86-64 ELF; the FreeBSD platform
# files (daemon/os/*_freebsd.c) built and linked into tests/osprobe,
# a FreeBSD executable needing pdfork, getfsstat, kevent ... of libc; build-freebsd/REPORT
# accounts for every daemon/*.c, each either built or named with the
# compiler's error, and each built but not linked named with why;
# hv_vss_daemon is linked (libevent inside, FreeBSD's calls, no Linux
# one, the two-device host backend), hv_vss_guard is linked (Capsicum, no
# seccomp), hv_vss_ctl is linked (signals by a self-pipe), the guard's
# sandbox is FreeBSD's (cap_enter, procctl).  What it
# cannot prove: that anything runs, with no FreeBSD here.
. "$(dirname "$0")/lib.sh"
need_cmd python3 file readelf nm
FB=${HVVSS_FREEBSD_BUILD:-build-freebsd}
cd "$TOP" || bail "no $TOP"
workdir

log=$WORK/make.log
t0=$(date +%s)
if make --no-print-directory freebsd >"$log" 2>&1; then
	pass "make freebsd ($(($(date +%s) - t0)) s)"
else
	tail -n 30 "$log"
	fail "make freebsd"
fi

for f in "$FB/tests/abi" "$FB/examples/app" "$FB/tests/osprobe" \
    "$FB/hv_vss_ctl" "$FB/hv_vss_daemon" "$FB/hv_vss_guard"; do
	d=$(file -b "$f" 2>&1)
	case $d in
	ELF\ 64-bit*x86-64*"for FreeBSD"*) pass "$f: FreeBSD ELF ($d)" ;;
	*) fail "$f: not FreeBSD ELF: $d" ;;
	esac
done
# a shared object has no ABI note for file(1) to read (an executable gets
# it from crt1.o): what it links says whose it is
check "libhvvss.so.1 needs FreeBSD's libc.so.7" \
    sh -c "readelf -d '$FB/libhvvss.so.1' | grep -q 'NEEDED.*\[libc\.so\.7\]'"
check "libhvvss.so.1 binds FreeBSD's FBSD_1.x symbol versions" \
    sh -c "readelf -V '$FB/libhvvss.so.1' | grep -q '(FBSD_1\.'"
interp=$(readelf -p .interp "$FB/tests/abi" 2>/dev/null |
    sed -n 's/.*\] *//p')
check_eq "abi's interpreter is FreeBSD's" /libexec/ld-elf.so.1 "$interp"
bad=
for f in "$FB"/common/*.o "$FB"/daemon/*.o; do
	case $(file -b "$f") in
	"ELF 64-bit LSB relocatable, x86-64"*) ;;
	*) bad="$bad $f" ;;
	esac
done
check_eq "objects are x86-64 ELF" "" "$bad"
# the platform files (daemon/os): one object each, linked into osprobe
# against FreeBSD's libc, whose calls they are
missing=
for f in daemon/os/*_freebsd.c daemon/os/devstack_md.c; do
	o=$FB/${f%.c}.o
	case $(file -b "$o" 2>&1) in
	"ELF 64-bit LSB relocatable, x86-64"*) ;;
	*) missing="$missing $o" ;;
	esac
done
check_eq "every daemon/os/*_freebsd.c built, x86-64 ELF" "" "$missing"
und=$(nm -u "$FB/tests/osprobe" 2>/dev/null | awk '{print $2}' |
    sed 's/@.*//' | sort -u)
for sym in pdfork pdkill getfsstat closefrom kqueue kevent sysctl getsockopt; do
	check "osprobe needs FreeBSD's $sym" \
	    eval 'printf "%s\n" "$und" | grep -qx "$sym"'
done
# the process seams: hv_vss_ctl's signals through a self-pipe, the
# guard's sandbox FreeBSD's own (Capsicum, procctl)
und=$(nm -u "$FB/hv_vss_ctl" 2>/dev/null | awk '{print $2}' | sed 's/@.*//')
check "hv_vss_ctl needs pipe2 and sigaction, no signalfd" eval \
    'printf "%s\n" "$und" | grep -qx pipe2 &&
    printf "%s\n" "$und" | grep -qx sigaction &&
    ! printf "%s\n" "$und" | grep -q signalfd'
und=$(nm -u "$FB/guard/sandbox_freebsd.o" 2>/dev/null | awk '{print $2}')
for sym in cap_enter __cap_rights_init cap_rights_limit procctl mlockall; do
	check "the guard's sandbox needs FreeBSD's $sym" \
	    eval 'printf "%s\n" "$und" | grep -qx "$sym"'
done
# the daemon: libevent linked in (its kqueue backend: kqueue, kevent),
# FreeBSD's calls through the seams, none of Linux's
und=$(nm -u "$FB/hv_vss_daemon" 2>/dev/null | awk '{print $2}' | sed 's/@.*//')
def=$(nm --defined-only "$FB/hv_vss_daemon" 2>/dev/null | awk '{print $3}')
for sym in event_base_new event_base_loop hostchan_new fsfreeze_freeze; do
	check "hv_vss_daemon holds $sym" \
	    eval 'printf "%s\n" "$def" | grep -qx "$sym"'
done
for sym in pdfork getfsstat kqueue kevent getsockopt sysctl; do
	check "hv_vss_daemon needs FreeBSD's $sym" \
	    eval 'printf "%s\n" "$und" | grep -qx "$sym"'
done
check_eq "hv_vss_daemon needs no Linux call" "" \
    "$(printf '%s\n' "$und" | grep -E '^(signalfd|pidfd_open|pidfd_send_signal|mnt_new_table|syncfs|prctl)$')"
check "hv_vss_daemon is FreeBSD's host backend (the two devices)" \
    eval 'strings "$FB/hv_vss_daemon" | grep -q hv_fsvss_dev'
check_eq "hv_vss_daemon reads no test knob (HVVSS_TEST_FBSD_TIMER is the test build's)" \
    "" "$(strings "$FB/hv_vss_daemon" | grep HVVSS_TEST_)"
# the guard: its sandbox is Capsicum, it thaws by closing what it holds
und=$(nm -u "$FB/hv_vss_guard" 2>/dev/null | awk '{print $2}' | sed 's/@.*//')
for sym in cap_enter procctl mlockall recvmsg; do
	check "hv_vss_guard needs FreeBSD's $sym" \
	    eval 'printf "%s\n" "$und" | grep -qx "$sym"'
done
check_eq "hv_vss_guard needs no Linux call (seccomp, prctl)" "" \
    "$(printf '%s\n' "$und" | grep -E '^(seccomp_.*|prctl)$')"
other=$(nm -D --defined-only "$FB/libhvvss.so.1" | awk '{print $3}' |
    grep -v '^hvvss_' | grep -v '^HVVSS_' || true)
check_eq "libhvvss.so exports only hvvss_* names" "" "$other"
check "libhvvss.a holds one object, of FreeBSD's x86-64" \
    sh -c "cd '$WORK' && ar x '$TOP/$FB/libhvvss.a' &&
        file -b *.o | grep -q 'relocatable, x86-64'"
check "examples/app needs libhvvss.so.1" \
    sh -c "readelf -d '$FB/examples/app' | grep -q 'NEEDED.*libhvvss.so.1'"

rep=$FB/REPORT
missing=
for f in daemon/*.c; do
	# a Linux backend (host_linux.c): FreeBSD's is its _freebsd.c,
	# accounted for itself, or named as not written yet
	case $f in
	*_linux.c)
		b=${f%_linux.c}_freebsd.c
		[ -e "$b" ] || missing="$missing $b"
		continue ;;
	esac
	grep -q "^built $FB/${f%.c}.o\$" "$rep" ||
	    grep -q "^not built $f: ." "$rep" || missing="$missing $f"
	# built but not linked: said so, and why
	case $(sed -n '/^## tried/,/^## linked/p' "$rep") in
	*"built $FB/${f%.c}.o"*)
		grep -q "^not linked $f: ." "$rep" || missing="$missing $f" ;;
	esac
done
check_eq "REPORT accounts for every daemon object" "" "$missing"
for p in hv_vss_daemon hv_vss_guard hv_vss_ctl; do
	check "REPORT: $p linked" grep -q "^linked $FB/$p: needs .*libc\.so\.7" "$rep"
done
finish
