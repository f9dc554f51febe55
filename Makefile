# hvvss: plain Makefile.  "make help" lists the targets.
#
# Everything is built into $(B) (default build/), so that a sanitizer
# build (make B=build-asan SAN=1) lives beside the normal one.

PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
SBINDIR	?= $(PREFIX)/sbin
# hv_vss_daemon alone: the Debian package puts it in /usr/libexec/hvvss,
# as hyperv-daemons owns /usr/sbin/hv_vss_daemon (debian/rules)
DAEMONDIR ?= $(SBINDIR)
LIBDIR	?= $(PREFIX)/lib
LIBEXECDIR ?= $(PREFIX)/libexec
INCDIR	?= $(PREFIX)/include
MANDIR	?= $(PREFIX)/share/man
# "make install" installs how the system starts the daemon: systemd and
# udev (Linux), or rc.d and devd (OS=FreeBSD, the default on FreeBSD,
# where the configuration too lives under PREFIX, as ports have it)
OS	?= $(shell uname -s)
ifeq ($(OS),FreeBSD)
SYSCONFDIR ?= $(PREFIX)/etc
# rc(8) runs $(PREFIX)/etc/rc.d/*, devd(8) reads $(PREFIX)/etc/devd/*.conf
RCDIR	?= $(PREFIX)/etc/rc.d
DEVDDIR	?= $(PREFIX)/etc/devd
else
SYSCONFDIR ?= /etc
endif
# other backup agents' hooks, which hold the apps (hv_vss_ctl(8), ADAPTERS)
ADAPTERS = qemu-fsfreeze-hook vmware-backup-script azure-pre-script \
	azure-post-script
# systemd and udev look here whatever PREFIX is
SYSTEMDUNITDIR ?= /lib/systemd/system
# the engine's system user, hvvss (etc/hvvss.sysusers)
SYSUSERSDIR ?= /usr/lib/sysusers.d
UDEVRULESDIR ?= /lib/udev/rules.d
DESTDIR	?=

B	?= build
CC	?= cc
PKG_CONFIG ?= /usr/bin/pkg-config
CFLAGS	?= -O2 -g
WARN	= -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	  -Wformat=2 -Wno-unused-parameter -Wno-format-truncation
ifdef WERROR
WARN	+= -Werror
endif
ifdef SAN
CFLAGS	+= -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
	   -fno-sanitize-recover=undefined
LDFLAGS	+= -fsanitize=address,undefined
endif
CPPFLAGS += -D_GNU_SOURCE -Icommon
ALL_CFLAGS = $(CPPFLAGS) $(WARN) $(CFLAGS)

pc_cflags = $(shell $(PKG_CONFIG) --cflags $(1) 2>/dev/null)
pc_libs   = $(shell $(PKG_CONFIG) --libs $(1) 2>/dev/null)

# --- common/: the codecs and helpers; each program lists the ones it
# uses, and its objects compile with its own packages' flags only -------

# --- hv_vss_daemon: every object but main.o is also linked into the unit
# tests, so that they test the code the daemon runs; DAEMON_OS_SRCS are
# the Linux platform files (daemon/os/) under the seams it goes through --
DAEMON_OS_SRCS = daemon/os/peercred_linux.c daemon/os/proc_linux.c \
	daemon/os/fsfreeze_linux.c daemon/os/mountid_linux.c \
	daemon/os/mtab_linux.c daemon/os/devstack_linux.c \
	daemon/os/devno_linux.c daemon/os/owner_linux.c \
	daemon/os/sigtab_linux.c daemon/os/sandbox_linux.c \
	daemon/os/sandbox_common.c daemon/os/sockgroup_linux.c
DAEMON_LIB_SRCS = $(filter-out daemon/main.c daemon/%_freebsd.c, \
	$(wildcard daemon/*.c)) $(DAEMON_OS_SRCS) \
	common/hv_msg.c common/appproto.c common/util.c
DAEMON_LIB_OBJS = $(DAEMON_LIB_SRCS:%.c=$(B)/%.o)
DAEMON_PKGS = libevent libevent_pthreads mount libseccomp
# libmount is the Linux mount table's alone: its headers for that file only
DAEMON_CFLAGS_PKGS = libevent libevent_pthreads

# --- hv_vss_guard: the thaw guard's own program, static so that what it
# mlocks is itself and nothing else (not under SAN: no static sanitizer
# runtime, and the guard does not lock then anyway).  Its seccomp filter
# is libseccomp's (libseccomp-dev has the .a).  hv_vss_guard_trig, for
# the tests only, is the same program with HVVSS_TEST_TRIGGERS: SIGUSR2
# makes it attempt a forbidden call (never installed) ------------------
GUARD_SRCS = guard/hv_vss_guard.c guard/sandbox_linux.c guard/filter.c
# the stray signals it shares with the daemon
GUARD_SIGS = $(B)/daemon/sigs.o $(B)/daemon/os/sigtab_linux.o
# it thaws through the freezer's seam (os/fsfreeze.h)
GUARD_OS_OBJS = $(B)/daemon/os/fsfreeze_linux.o $(B)/daemon/os/mountid_linux.o
GUARD_LDFLAGS = $(if $(SAN),,-static)
GUARD_LIBS = $(if $(SAN),$(call pc_libs,libseccomp),\
	     $(shell $(PKG_CONFIG) --static --libs libseccomp 2>/dev/null))

# --- hv_vss_sim: the IC framing (common/ic.c) is the emulated kernel's ----
SIM_SRCS = sim/sim.c sim/kernel.c sim/fusedev.c sim/host.c sim/report.c \
	sim/kernel_fbsd.c sim/fbsddev.c common/hv_msg.c common/ic.c \
	common/util.c
SIM_OBJS = $(SIM_SRCS:%.c=$(B)/%.o)
SIM_PKGS = fuse3 libevent

# --- hv_vss_ctl: libc only, common/ctlproto.h is its protocol -------------
CTL_OBJS = $(B)/ctl/hv_vss_ctl.o $(B)/common/util.o

# --- hv_vss_group: the consistency-group agent, a libhvvss client that
# talks to etcd's JSON gateway (libcurl, json-c); the only program that
# links them -----------------------------------------------------------
GROUP_SRCS = group/hv_vss_group.c group/etcd.c group/round.c
GROUP_OBJS = $(GROUP_SRCS:%.c=$(B)/%.o) $(B)/common/util.o
GROUP_PKGS = libcurl json-c inih

# --- libhvvss: its own -fPIC objects in $(B)/lib/, apart from the
# programs'; the .so exports only what lib/libhvvss.map names, the .a
# only hvvss_* (the codec's app_* names are made local) -----------------
LIB_SRCS = lib/hvvss.c common/appproto.c common/util.c
LIB_OBJS = $(addprefix $(B)/lib/,$(notdir $(LIB_SRCS:.c=.o)))
LIB_SONAME = libhvvss.so.1
LIB_VERSION = 1.0
LIB_OUT = $(B)/$(LIB_SONAME) $(B)/libhvvss.so $(B)/libhvvss.a
EXAMPLES = $(B)/examples/app
# mariadb-hold needs libmariadb (tools/deps db, which its test installs):
# built by "all" only where pkg-config finds it, so that a machine
# without a database still builds everything else
ifeq ($(shell $(PKG_CONFIG) --exists libmariadb 2>/dev/null && echo y),y)
EXAMPLES += $(B)/examples/mariadb-hold
endif

# --- daemon/os/: the platform files, one per role and platform
# (doc/FREEBSD.md, "Platform files").  The daemon links those it goes
# through (DAEMON_OS_SRCS); all of Linux's are built here for their unit
# tests; FreeBSD's by "make freebsd"; devstack_md.c (pure) by both.
OS_LINUX_SRCS = $(wildcard daemon/os/*_linux.c) daemon/os/devstack_md.c
OS_LINUX_OBJS = $(OS_LINUX_SRCS:%.c=$(B)/%.o)
OS_FREEBSD_SRCS = $(wildcard daemon/os/*_freebsd.c) daemon/os/devstack_md.c \
	daemon/os/sandbox_common.c
OS_UNIT	= $(B)/tests/unit/test_peercred $(B)/tests/unit/test_proc \
	  $(B)/tests/unit/test_devstack

# --- test helpers ----------------------------------------------------------
SANDBOX_SRCS = tests/system/sandbox.c

# --- unit tests (cmocka): one binary per file in tests/unit ----------------
UNIT_SRCS = $(wildcard tests/unit/test_*.c)
UNIT_BINS = $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/unit/%)

PROGS = $(B)/hv_vss_sim $(B)/hv_vss_daemon $(B)/hv_vss_guard $(B)/hv_vss_ctl \
	$(B)/hv_vss_group
TEST_PROGS = $(B)/tests/sandbox $(B)/tests/failfreeze.so $(UNIT_BINS) \
	     $(B)/tests/guard_drive $(B)/tests/fbsd_cmds $(B)/tests/slow_guard \
	     $(B)/tests/hv_vss_guard_trig $(B)/tests/hv_vss_priv \
	     $(B)/tests/hv_vss_confine $(B)/tests/hv_vss_daemon_fbsdhost \
	     $(B)/tests/hv_vss_privsep $(B)/tests/hv_vss_daemon_trig
# bench/: the raw FIFREEZE floor and the write-stall writer (bench/run)
BENCH_PROGS = $(B)/bench/rawfreeze $(B)/bench/stallwriter

.PHONY: all deps check unit system demo install lint fmt clean help bench \
	programs deb freebsd

all: $(PROGS) $(LIB_OUT) $(EXAMPLES) $(TEST_PROGS) $(BENCH_PROGS)

# what "make install" installs, and no test: debian/rules builds this
programs: $(PROGS) $(LIB_OUT)

help:
	@echo "make            build the programs and test helpers into $(B)/"
	@echo "make deps       install the missing Debian packages (apt-get)"
	@echo "make check      deps + build + unit and system tests (as root)"
	@echo "make unit       unit tests only"
	@echo "make fuzz       libFuzzer targets, FUZZ_SECONDS=$(FUZZ_SECONDS) each"
	@echo "make demo       an emulated host backup of real filesystems"
	@echo "make bench      benchmarks vs Debian's daemon (SMOKE=1: one pass)"
	@echo "make freebsd    cross-build for FreeBSD into $(FB)/ (Zig cc)"
	@echo "make install    install (PREFIX=$(PREFIX) DESTDIR= OS=$(OS))"
	@echo "make deb        the Debian packages (debian/) into $(B)/deb/"
	@echo "make lint       clang-format, cppcheck, mandoc -Tlint, check-seams"
	@echo "make check-seams  Linux-only headers and calls above the seams"

deps:
	@sh tools/deps build test

# The Debian packages, built by dpkg-buildpackage from a copy of the
# sources in $(B)/deb/src (debian/rules' own build directory inside it),
# so that nothing is written to the tree or beside it.  Skipped when the
# sources are those of the packages already there (tools/mkdeb).
deb:
	@sh tools/deps build deb
	@sh tools/mkdeb $(B)/deb

# a program's own packages' flags: common/ and ctl/ need none
$(B)/daemon/%.o: PKG_CFLAGS = $(call pc_cflags,$(DAEMON_CFLAGS_PKGS))
$(B)/daemon/os/mtab_linux.o: PKG_CFLAGS = $(call pc_cflags,mount)
$(B)/sim/%.o: PKG_CFLAGS = $(call pc_cflags,$(SIM_PKGS))
# the guard shares its protocol and the stray signals with the daemon
$(B)/guard/%.o: PKG_CFLAGS = -Idaemon

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

$(B)/hv_vss_sim: $(SIM_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(SIM_PKGS)) -lm

$(B)/hv_vss_daemon: $(B)/daemon/main.o $(DAEMON_LIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(DAEMON_PKGS)) -lpthread

# the daemon with FreeBSD's host backend (daemon/host_freebsd.c) in
# place of Linux's, for the tests against hv_vss_sim -F; one backend per
# binary.  Its guard is looked for beside it: a copy.  Built with
# HVVSS_TEST_TRIGGERS: HVVSS_TEST_FBSD_TIMER shortens the kernel's timer
# as it knows it, to match hv_vss_sim -F -T all= (make freebsd's never)
$(B)/tests/trig/host_freebsd.o: daemon/host_freebsd.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -DHVVSS_TEST_TRIGGERS \
	    $(call pc_cflags,$(DAEMON_CFLAGS_PKGS)) -MMD -MP -c $< -o $@

$(B)/tests/hv_vss_daemon_fbsdhost: $(B)/daemon/main.o \
    $(filter-out $(B)/daemon/host_linux.o,$(DAEMON_LIB_OBJS)) \
    $(B)/tests/trig/host_freebsd.o | $(B)/tests/hv_vss_guard
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) \
	    $(call pc_libs,$(DAEMON_PKGS)) -lpthread

# the daemon with the engine's test trigger (SIGUSR2: a forbidden system
# call, daemon/parent.c), for t_privsep_daemon.sh; its guard beside it
$(B)/tests/trig/parent.o: daemon/parent.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -DHVVSS_TEST_TRIGGERS -Idaemon \
	    $(call pc_cflags,$(DAEMON_CFLAGS_PKGS)) -MMD -MP -c $< -o $@

$(B)/tests/hv_vss_daemon_trig: $(B)/daemon/main.o \
    $(filter-out $(B)/daemon/os/sandbox_linux.o $(B)/daemon/parent.o, \
    $(DAEMON_LIB_OBJS)) $(B)/tests/trig/sandbox_linux.o \
    $(B)/tests/trig/parent.o | $(B)/tests/hv_vss_guard
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) \
	    $(call pc_libs,$(DAEMON_PKGS)) -lpthread

$(B)/tests/hv_vss_guard: $(B)/hv_vss_guard
	@mkdir -p $(@D)
	cp $< $@

# libc and libseccomp only; started by the daemon from the directory it
# runs from
$(B)/hv_vss_guard: $(GUARD_SRCS:%.c=$(B)/%.o) $(GUARD_SIGS) $(GUARD_OS_OBJS)
	$(CC) $(LDFLAGS) $(GUARD_LDFLAGS) -o $@ $^ $(GUARD_LIBS)

$(B)/tests/trig/hv_vss_guard.o: guard/hv_vss_guard.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -DHVVSS_TEST_TRIGGERS -Idaemon -MMD -MP -c $< -o $@

$(B)/tests/hv_vss_guard_trig: $(B)/tests/trig/hv_vss_guard.o \
    $(B)/guard/sandbox_linux.o $(B)/guard/filter.o $(GUARD_SIGS) \
    $(GUARD_OS_OBJS)
	$(CC) $(LDFLAGS) $(GUARD_LDFLAGS) -o $@ $^ $(GUARD_LIBS)

# a guard slow to say hello, for t_guard.sh
$(B)/tests/slow_guard: tests/system/slow_guard.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $<

$(B)/hv_vss_ctl: $(CTL_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^

$(B)/group/%.o: group/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Ilib $(call pc_cflags,$(GROUP_PKGS)) \
	    -MMD -MP -c $< -o $@

$(B)/hv_vss_group: $(GROUP_OBJS) $(B)/libhvvss.a
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(GROUP_PKGS)) -lpthread

$(B)/lib/%.o: lib/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -fPIC -MMD -MP -c $< -o $@

$(B)/lib/%.o: common/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -fPIC -MMD -MP -c $< -o $@

$(B)/$(LIB_SONAME): $(LIB_OBJS) lib/libhvvss.map
	$(CC) $(LDFLAGS) -shared -Wl,-soname,$(LIB_SONAME) -Wl,--no-undefined \
	    -Wl,--version-script,lib/libhvvss.map -o $@ $(LIB_OBJS)

$(B)/libhvvss.so: $(B)/$(LIB_SONAME)
	ln -sf $(LIB_SONAME) $@

$(B)/libhvvss.a: $(LIB_OBJS)
	$(CC) -r -nostdlib -o $(B)/lib/libhvvss-all.o $(LIB_OBJS)
	objcopy -w -G 'hvvss_*' $(B)/lib/libhvvss-all.o
	rm -f $@
	$(AR) rcs $@ $(B)/lib/libhvvss-all.o

$(B)/examples/app: examples/app.c $(B)/libhvvss.so
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Ilib $(LDFLAGS) -o $@ $< -L$(B) -lhvvss \
	    -Wl,-rpath,'$$ORIGIN/..'

$(B)/examples/mariadb-hold: examples/mariadb-hold.c $(B)/libhvvss.so
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Ilib $(call pc_cflags,libmariadb) $(LDFLAGS) \
	    -o $@ $< -L$(B) -lhvvss $(call pc_libs,libmariadb) \
	    -Wl,-rpath,'$$ORIGIN/..'

$(B)/tests/sandbox: $(SANDBOX_SRCS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^

$(B)/tests/failfreeze.so: tests/system/failfreeze.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -shared -fPIC -o $@ $< -ldl

# prints common/hv_vss_fbsd.h's ioctl numbers for sim_rules.py
$(B)/tests/fbsd_cmds: tests/system/fbsd_cmds.c common/hv_vss_fbsd.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $<

# drives the thaw guard and the ownership record for t_guard.sh
$(B)/tests/guard_drive: tests/system/guard_drive.c $(B)/daemon/guard.o \
    $(B)/daemon/record.o $(GUARD_SIGS) $(B)/daemon/os/fsfreeze_linux.o \
    $(B)/daemon/os/mountid_linux.o $(B)/daemon/os/mtab_linux.o \
    $(B)/daemon/os/devno_linux.o $(B)/daemon/os/owner_linux.o \
    $(B)/daemon/os/proc_linux.o $(B)/common/util.o | $(B)/hv_vss_guard
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Idaemon $(call pc_cflags,mount) $(LDFLAGS) \
	    -o $@ $^ $(call pc_libs,mount)

# the engine's confinement and the parent's filter (daemon/os/sandbox.h)
# with the test trigger, for t_confine.sh
$(B)/tests/trig/sandbox_linux.o: daemon/os/sandbox_linux.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -DHVVSS_TEST_TRIGGERS -MMD -MP -c $< -o $@

$(B)/tests/hv_vss_confine: tests/system/confine_try.c \
    $(B)/tests/trig/sandbox_linux.o $(B)/daemon/os/sandbox_common.o \
    $(B)/common/util.o
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -DHVVSS_TEST_TRIGGERS -Idaemon/os \
	    $(call pc_cflags,libevent) $(LDFLAGS) -o $@ $^ \
	    $(call pc_libs,libseccomp libevent)

# the privileged parent's request handler alone, for t_priv.sh
$(B)/tests/hv_vss_priv: tests/system/priv_serve.c $(DAEMON_LIB_OBJS) \
    | $(B)/hv_vss_guard
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Idaemon -Idaemon/os \
	    $(call pc_cflags,$(DAEMON_PKGS)) $(LDFLAGS) -o $@ $^ \
	    $(call pc_libs,$(DAEMON_PKGS)) -lpthread

# the supervisor (daemon/privsep.c) with a test engine, and the sandbox's
# test trigger, for t_privsep.sh
$(B)/tests/hv_vss_privsep: tests/system/privsep_try.c \
    $(filter-out $(B)/daemon/os/sandbox_linux.o,$(DAEMON_LIB_OBJS)) \
    $(B)/tests/trig/sandbox_linux.o | $(B)/hv_vss_guard
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -DHVVSS_TEST_TRIGGERS -Idaemon -Idaemon/os \
	    $(call pc_cflags,$(DAEMON_PKGS)) $(LDFLAGS) -o $@ $^ \
	    $(call pc_libs,$(DAEMON_PKGS)) -lpthread

$(B)/tests/unit/%: tests/unit/%.c $(DAEMON_LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Idaemon $(call pc_cflags,cmocka $(DAEMON_PKGS)) \
	    $(LDFLAGS) -o $@ $^ $(call pc_libs,cmocka $(DAEMON_PKGS)) -lpthread

# freeze.c where closing a hold thaws (FreeBSD's), on a fake platform of
# its own: not the Linux files the other tests link
$(B)/tests/unit/test_freeze_close: tests/unit/test_freeze_close.c \
    $(B)/daemon/freeze.o $(B)/common/util.o
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Idaemon $(call pc_cflags,cmocka $(DAEMON_CFLAGS_PKGS)) \
	    $(LDFLAGS) -o $@ $^ $(call pc_libs,cmocka $(DAEMON_CFLAGS_PKGS)) -lpthread

# the platform files' tests link the one file they test (and common/util.o)
$(B)/tests/unit/test_peercred: $(B)/daemon/os/peercred_linux.o
$(B)/tests/unit/test_proc: $(B)/daemon/os/proc_linux.o $(B)/common/util.o
$(B)/tests/unit/test_devstack: $(B)/daemon/os/devstack_md.o \
    $(B)/daemon/os/devstack_linux.o
$(OS_UNIT): $(B)/tests/unit/%: tests/unit/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Idaemon $(call pc_cflags,cmocka) $(LDFLAGS) \
	    -o $@ $^ $(call pc_libs,cmocka)

# the codecs' tests link the codec alone
CODEC_TESTS = $(B)/tests/unit/test_hv_msg $(B)/tests/unit/test_ic \
	$(B)/tests/unit/test_appproto
$(B)/tests/unit/test_hv_msg: tests/unit/test_hv_msg.c $(B)/common/hv_msg.o
$(B)/tests/unit/test_ic: tests/unit/test_ic.c $(B)/common/ic.o \
    $(B)/common/hv_msg.o
$(B)/tests/unit/test_appproto: tests/unit/test_appproto.c \
    $(B)/common/appproto.o
$(CODEC_TESTS):
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(call pc_cflags,cmocka) $(LDFLAGS) -o $@ $^ \
	    $(call pc_libs,cmocka)

# the library's tests link its own objects, not the daemon's
$(B)/tests/unit/test_lib: tests/unit/test_lib.c $(LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Ilib $(call pc_cflags,cmocka) $(LDFLAGS) -o $@ $^ \
	    $(call pc_libs,cmocka) -lpthread

# the guard's seccomp filter, loaded in forked children
$(B)/tests/unit/test_filter: tests/unit/test_filter.c $(B)/guard/filter.o
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Idaemon -Iguard $(call pc_cflags,cmocka) \
	    $(LDFLAGS) -o $@ $^ $(call pc_libs,cmocka libseccomp)

# test_guard starts the real guard program
unit: $(UNIT_BINS) $(B)/hv_vss_guard
	@$(if $(SAN),HVVSS_MODEL_BOUNDED=1) sh tests/run -u $(B)

# --- fuzzing: the libFuzzer targets of tests/fuzz, built with clang into
# build-fuzz/ and run FUZZ_SECONDS each on a copy of their seed corpus ----
FUZZ_B	= build-fuzz
FUZZ_CC	= clang
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS = -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_BINS = $(FUZZ_B)/fuzz_hv_msg $(FUZZ_B)/fuzz_ic \
	$(FUZZ_B)/fuzz_appproto $(FUZZ_B)/fuzz_conf $(FUZZ_B)/fuzz_privproto

$(FUZZ_B)/fuzz_hv_msg: tests/fuzz/fuzz_hv_msg.c common/hv_msg.c
$(FUZZ_B)/fuzz_ic: tests/fuzz/fuzz_ic.c common/ic.c common/hv_msg.c
$(FUZZ_B)/fuzz_appproto: tests/fuzz/fuzz_appproto.c common/appproto.c
$(FUZZ_B)/fuzz_conf: tests/fuzz/fuzz_conf.c daemon/conf.c common/util.c
$(FUZZ_B)/fuzz_privproto: tests/fuzz/fuzz_privproto.c daemon/privproto.c
$(FUZZ_BINS): $(wildcard common/*.h) daemon/conf.h daemon/privproto.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) -Idaemon $(WARN) -Wno-unknown-warning-option \
	    $(FUZZ_CFLAGS) -o $@ $(filter %.c,$^)

.PHONY: fuzz
fuzz:
	@sh tools/deps build fuzz
	@$(MAKE) --no-print-directory $(FUZZ_BINS)
	@sh tests/fuzz/run $(FUZZ_B) $(FUZZ_SECONDS)

# tests/system/t_deb.sh and t_nspawn.sh build and boot the packages
check: deps
	@sh tools/deps deb nspawn
	@$(MAKE) --no-print-directory all
	@sh tools/fetch-ref $(B)/ref
	@sh tests/run $(B)

system: all
	@sh tools/deps deb nspawn
	@sh tools/fetch-ref $(B)/ref
	@sh tests/run -s $(B)

demo: deps
	@$(MAKE) --no-print-directory all
	@sh tools/fetch-ref $(B)/ref
	@sh tools/demo $(B)

$(B)/bench/%: bench/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< -lpthread

# SMOKE=1 (or BENCH_SMOKE=1): one backup per row, for CI (bench/README.md)
BENCH_FLAGS = $(if $(filter-out 0,$(SMOKE) $(BENCH_SMOKE)),--smoke)
bench: deps
	@$(MAKE) --no-print-directory all
	@sh tools/fetch-ref $(B)/ref
	@python3 bench/run -B $(B) $(BENCH_FLAGS)

# --- make freebsd: cross-compiled with Zig's cc (PyPI's ziglang, which
# tools/deps freebsd installs), FreeBSD 14's own headers and libc, into
# $(FB)/, warnings as errors: common/, libhvvss (.so, .a),
# tests/freebsd/abi (FreeBSD's ioctl numbers, asserted), examples/app
# linked with libhvvss.so, hv_vss_daemon (FreeBSD's host backend and
# platform files, libevent), hv_vss_guard (Capsicum), hv_vss_ctl, and
# tests/osprobe (every platform file, run once on FreeBSD).  Each link
# names its objects: an object left in $(FB) by an older tree is never
# picked up.  tools/freebsd-report writes $(FB)/REPORT: what was built,
# the objects tried that nothing links yet (the privilege split's), and
# what file(1) says of each output.  libevent is built from its Debian
# source package by tools/freebsd-deps into $(FB)/deps. ----
FB	= build-freebsd
# Zig's caches too live in $(FB), not in the user's ~/.cache.  The zig
# that "python3 -m ziglang" execs, named once, spares a Python start per
# compile (the sub-make of "make freebsd" looks it up after tools/deps)
ifneq ($(filter freebsd $(FB)/%,$(MAKECMDGOALS)),)
FB_ZIG_EXE := $(shell python3 -c 'import os, ziglang; \
	print(os.path.join(os.path.dirname(ziglang.__file__), "zig"))' 2>/dev/null)
endif
FB_ZIG	= env ZIG_GLOBAL_CACHE_DIR=$(CURDIR)/$(FB)/zig-cache \
	  $(or $(FB_ZIG_EXE),python3 -m ziglang)
FB_CC	= $(FB_ZIG) cc -target x86_64-freebsd
FB_AR	= $(FB_ZIG) ar
FB_DEPS	= $(FB)/deps
FB_CFLAGS = $(CPPFLAGS) $(WARN) -Werror -O2 -g -I$(FB_DEPS)/include
# every codec and helper in common/ must build for FreeBSD too
FB_COMMON_OBJS = $(patsubst %.c,$(FB)/%.o,$(wildcard common/*.c))
FB_LIB_OBJS = $(addprefix $(FB)/lib/,$(notdir $(LIB_SRCS:.c=.o)))
# the daemon: every daemon/*.c but Linux's backends (*_linux.c: FreeBSD's
# are *_freebsd.c).  The privilege split's parent is linked but not run:
# FreeBSD's host backend says host_can_privsep = false, one process
FB_DAEMON_SRCS = $(filter-out daemon/%_linux.c,$(wildcard daemon/*.c))
FB_TRY	=
# daemon/os/*_freebsd.c: the FreeBSD platform files, each its own object
# and all linked into tests/osprobe, which runs each once on FreeBSD
FB_OS_OBJS = $(OS_FREEBSD_SRCS:%.c=$(FB)/%.o)
FB_DAEMON_OBJS = $(FB_DAEMON_SRCS:%.c=$(FB)/%.o) $(FB_OS_OBJS) \
	$(FB)/common/hv_msg.o $(FB)/common/appproto.o $(FB)/common/util.o
# the guard: Capsicum for its sandbox, it thaws by closing (fsfreeze.h)
FB_GUARD_OBJS = $(FB)/guard/hv_vss_guard.o $(FB)/guard/sandbox_freebsd.o \
	$(FB)/daemon/sigs.o $(FB)/daemon/os/sigtab_freebsd.o \
	$(FB)/daemon/os/fsfreeze_freebsd.o $(FB)/common/util.o
FB_OUT	= $(FB_COMMON_OBJS) $(FB)/$(LIB_SONAME) $(FB)/libhvvss.so \
	  $(FB)/libhvvss.a $(FB)/tests/abi $(FB)/examples/app \
	  $(FB_DAEMON_OBJS) $(FB)/tests/osprobe $(FB_GUARD_OBJS) \
	  $(FB)/hv_vss_daemon $(FB)/hv_vss_guard $(FB)/hv_vss_ctl

freebsd:
	@sh tools/deps freebsd
	@ZIG_GLOBAL_CACHE_DIR=$(CURDIR)/$(FB)/zig-cache \
	    sh tools/freebsd-deps $(FB_DEPS)
	@$(MAKE) --no-print-directory $(FB_OUT)
	@FB_CC='$(FB_CC)' FB_CFLAGS='$(FB_CFLAGS) -Idaemon' \
	    sh tools/freebsd-report $(FB) $(FB_TRY) -- $(FB_OUT)

$(FB)/%.o: %.c
	@mkdir -p $(@D)
	$(FB_CC) $(FB_CFLAGS) -Idaemon -c $< -o $@

$(FB)/lib/%.o: lib/%.c
	@mkdir -p $(@D)
	$(FB_CC) $(FB_CFLAGS) -fPIC -c $< -o $@

$(FB)/lib/%.o: common/%.c
	@mkdir -p $(@D)
	$(FB_CC) $(FB_CFLAGS) -fPIC -c $< -o $@

$(FB)/$(LIB_SONAME): $(FB_LIB_OBJS) lib/libhvvss.map
	$(FB_CC) -shared -Wl,-soname,$(LIB_SONAME) -Wl,--no-undefined \
	    -Wl,--version-script,lib/libhvvss.map -o $@ $(FB_LIB_OBJS)

$(FB)/libhvvss.so: $(FB)/$(LIB_SONAME)
	ln -sf $(LIB_SONAME) $@

$(FB)/libhvvss.a: $(FB_LIB_OBJS)
	$(FB_CC) -r -nostdlib -o $(FB)/lib/libhvvss-all.o $(FB_LIB_OBJS)
	objcopy -w -G 'hvvss_*' $(FB)/lib/libhvvss-all.o
	rm -f $@
	$(FB_AR) rcs $@ $(FB)/lib/libhvvss-all.o

$(FB)/tests/abi: tests/freebsd/abi.c common/hv_vss_fbsd.h
	@mkdir -p $(@D)
	$(FB_CC) $(FB_CFLAGS) -o $@ $<

$(FB)/tests/osprobe: tests/freebsd/osprobe.c $(FB_OS_OBJS) $(FB)/common/util.o
	@mkdir -p $(@D)
	$(FB_CC) $(FB_CFLAGS) -Idaemon -o $@ $^

$(FB)/hv_vss_ctl: $(FB)/ctl/hv_vss_ctl.o $(FB)/common/util.o
	$(FB_CC) -o $@ $^

# libevent's static libraries, from $(FB_DEPS) (tools/freebsd-deps)
$(FB)/hv_vss_daemon: $(FB_DAEMON_OBJS)
	$(FB_CC) -o $@ $^ -L$(FB_DEPS)/lib -levent_pthreads -levent -lpthread

$(FB)/hv_vss_guard: $(FB_GUARD_OBJS)
	$(FB_CC) -o $@ $^

$(FB)/examples/app: examples/app.c $(FB)/libhvvss.so
	@mkdir -p $(@D)
	$(FB_CC) $(FB_CFLAGS) -Ilib -o $@ $< -L$(FB) -lhvvss \
	    -Wl,-rpath,'$$ORIGIN/..'

# OS=FreeBSD installs what "make freebsd" built in $(FB): the daemon, its
# guard, hv_vss_ctl and libhvvss (hv_vss_sim and hv_vss_group, which
# need FUSE, libcurl and json-c, are Linux's)
ifeq ($(OS),FreeBSD)
INST_B	= $(FB)
INST_PROGS = $(FB)/hv_vss_daemon $(FB)/hv_vss_guard $(FB)/hv_vss_ctl
else
INST_B	= $(B)
INST_PROGS = $(PROGS)
endif

install: $(INST_PROGS) install-lib
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) \
	    $(DESTDIR)$(DAEMONDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(SYSCONFDIR)/hv_vss/hooks.d
	install -m 0755 $(INST_B)/hv_vss_daemon $(DESTDIR)$(DAEMONDIR)/hv_vss_daemon
	@# beside the daemon: it starts the guard from its own directory
	install -m 0755 $(INST_B)/hv_vss_guard $(DESTDIR)$(DAEMONDIR)/hv_vss_guard
	install -m 0755 $(INST_B)/hv_vss_ctl $(DESTDIR)$(SBINDIR)/hv_vss_ctl
	install -m 0644 daemon/hv_vss_daemon.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 ctl/hv_vss_ctl.8 $(DESTDIR)$(MANDIR)/man8/
	@# never overwrite an admin's configuration
	test -e $(DESTDIR)$(SYSCONFDIR)/hv_vss/hv_vss.conf || \
	    install -m 0644 etc/hv_vss.conf $(DESTDIR)$(SYSCONFDIR)/hv_vss/
	install -m 0644 etc/hooks.d/README $(DESTDIR)$(SYSCONFDIR)/hv_vss/hooks.d/
	@# an example only: the agent's unit starts once group.conf exists
	install -m 0644 etc/group.conf \
	    $(DESTDIR)$(SYSCONFDIR)/hv_vss/group.conf.example
ifeq ($(OS),FreeBSD)
	@# service(8) and devd(8), not systemd and udev (README.md,
	@# "Replacing FreeBSD's base hv_vss_daemon")
	install -d $(DESTDIR)$(RCDIR) $(DESTDIR)$(DEVDDIR)
	sed -e 's|@SBINDIR@|$(DAEMONDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	    -e 's|@RCDIR@|$(RCDIR)|g' -e 's|@DEVDDIR@|$(DEVDDIR)|g' \
	    etc/rc.d/hv_vss_daemon >$(DESTDIR)$(RCDIR)/hv_vss_daemon
	chmod 0555 $(DESTDIR)$(RCDIR)/hv_vss_daemon
	install -m 0644 etc/hyperv-vss.devd $(DESTDIR)$(DEVDDIR)/hv_vss.conf
else
	install -m 0755 $(B)/hv_vss_sim $(DESTDIR)$(BINDIR)/hv_vss_sim
	install -m 0755 $(B)/hv_vss_group $(DESTDIR)$(SBINDIR)/hv_vss_group
	install -m 0644 group/hv_vss_group.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 sim/hv_vss_sim.1 $(DESTDIR)$(MANDIR)/man1/
	install -d $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(UDEVRULESDIR)
	sed 's|@SBINDIR@|$(DAEMONDIR)|g' etc/hv_vss_daemon.service \
	    >$(DESTDIR)$(SYSTEMDUNITDIR)/hv_vss_daemon.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/hv_vss_daemon.service
	sed 's|@SBINDIR@|$(SBINDIR)|g' etc/hv_vss_group.service \
	    >$(DESTDIR)$(SYSTEMDUNITDIR)/hv_vss_group.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/hv_vss_group.service
	install -m 0644 etc/60-hv_vss.rules $(DESTDIR)$(UDEVRULESDIR)/
	install -d $(DESTDIR)$(SYSUSERSDIR)
	install -m 0644 etc/hvvss.sysusers $(DESTDIR)$(SYSUSERSDIR)/hvvss.conf
	@# the user now, on this machine (not into a DESTDIR: a package's
	@# postinst does it where it is installed)
	if [ -z "$(DESTDIR)" ] && command -v systemd-sysusers >/dev/null; then \
	    systemd-sysusers $(SYSUSERSDIR)/hvvss.conf; fi
endif
	@# on every system: qemu-ga and open-vm-tools run on FreeBSD too
	install -d $(DESTDIR)$(LIBEXECDIR)/hvvss
	for a in $(ADAPTERS); do \
	    sed 's|@SBINDIR@|$(SBINDIR)|g' adapters/$$a \
	        >$(DESTDIR)$(LIBEXECDIR)/hvvss/$$a && \
	    chmod 0755 $(DESTDIR)$(LIBEXECDIR)/hvvss/$$a || exit 1; \
	done

.PHONY: install-lib
install-lib: $(LIB_OUT:$(B)/%=$(INST_B)/%)
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCDIR) \
	    $(DESTDIR)$(MANDIR)/man3
	install -m 0755 $(INST_B)/$(LIB_SONAME) $(DESTDIR)$(LIBDIR)/$(LIB_SONAME)
	ln -sf $(LIB_SONAME) $(DESTDIR)$(LIBDIR)/libhvvss.so
	install -m 0644 $(INST_B)/libhvvss.a $(DESTDIR)$(LIBDIR)/libhvvss.a
	install -m 0644 lib/hvvss.h $(DESTDIR)$(INCDIR)/hvvss.h
	install -m 0644 lib/libhvvss.3 $(DESTDIR)$(MANDIR)/man3/libhvvss.3
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCDIR@|$(INCDIR)|g' -e 's|@VERSION@|$(LIB_VERSION)|g' \
	    lib/hvvss.pc.in >$(DESTDIR)$(LIBDIR)/pkgconfig/hvvss.pc

C_FILES = $(wildcard common/*.[ch] sim/*.[ch] daemon/*.[ch] guard/*.[ch] \
	  daemon/os/*.h daemon/os/*_linux.c daemon/os/devstack_md.c \
	  lib/*.[ch] ctl/*.[ch] tests/unit/*.c tests/system/*.c tests/fuzz/*.c \
	  examples/*.c bench/*.c group/*.[ch])
MAN_PAGES = $(wildcard daemon/*.[1-8] sim/*.[1-8] ctl/*.[1-8] lib/*.[1-8] \
	    group/*.[1-8])

lint:
	@sh tools/deps lint
	clang-format --dry-run --Werror $(C_FILES)
	@# the queue(3) macros must be known, or cppcheck misreads loops
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
	    --inline-suppr --suppress=missingIncludeSystem -D__linux__ \
	    --include=$(shell echo '#include <sys/queue.h>' | \
	        $(CC) -H -E -o /dev/null - 2>&1 | sed -n 's/^\. //p' | head -n 1) \
	    -Icommon $(C_FILES)
	@# built for FreeBSD only (make freebsd): formatted, not cppchecked
	clang-format --dry-run --Werror $(wildcard tests/freebsd/*.c) \
	    $(wildcard daemon/os/*_freebsd.c)
	mandoc -Tlint -W warning $(MAN_PAGES)
	@sh tools/check-seams

# nothing above the platform seams is Linux's, nothing cites a file
# outside the repository or a section doc/DESIGN.md lacks
# (tools/check-seams; part of lint)
.PHONY: check-seams
check-seams:
	@sh tools/check-seams

fmt:
	clang-format -i $(C_FILES)

clean:
	rm -rf $(B) build-asan build-fuzz $(FB)

-include $(shell find $(B) -path $(B)/ref -prune -o -type f -name '*.d' -print 2>/dev/null)
