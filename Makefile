# hvvss: plain Makefile.  "make help" lists the targets.
#
# Everything is built into $(B) (default build/), so that a sanitizer
# build (make B=build-asan SAN=1) lives beside the normal one.

PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
SBINDIR	?= $(PREFIX)/sbin
LIBDIR	?= $(PREFIX)/lib
INCDIR	?= $(PREFIX)/include
MANDIR	?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
# systemd and udev look here whatever PREFIX is
SYSTEMDUNITDIR ?= /lib/systemd/system
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

# --- common/: codecs shared by every program ------------------------------
COMMON_SRCS = common/hv_msg.c common/ic.c common/appproto.c
COMMON_OBJS = $(COMMON_SRCS:%.c=$(B)/%.o)

# --- hv_vss_daemon: every object but main.o is also linked into the unit
# tests, so that they test the code the daemon runs ---------------------
DAEMON_LIB_SRCS = $(filter-out daemon/main.c,$(wildcard daemon/*.c))
DAEMON_LIB_OBJS = $(DAEMON_LIB_SRCS:%.c=$(B)/%.o)
DAEMON_PKGS = libevent libevent_pthreads mount inih

# --- hv_vss_sim ------------------------------------------------------------
SIM_SRCS = sim/sim.c sim/kernel.c sim/fusedev.c sim/host.c sim/report.c
SIM_OBJS = $(SIM_SRCS:%.c=$(B)/%.o)
SIM_PKGS = fuse3 libevent

# --- hv_vss_group: the consistency-group agent, a libhvvss client that
# talks to etcd's JSON gateway (libcurl, json-c); the only program that
# links them -----------------------------------------------------------
GROUP_SRCS = group/hv_vss_group.c group/etcd.c group/round.c
GROUP_OBJS = $(GROUP_SRCS:%.c=$(B)/%.o)
GROUP_PKGS = libcurl json-c inih

# --- libhvvss: its own -fPIC objects in $(B)/lib/, apart from the
# programs'; the .so exports only what lib/libhvvss.map names, the .a
# only hvvss_* (the codec's app_* names are made local) -----------------
LIB_SRCS = lib/hvvss.c common/appproto.c
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

# --- test helpers ----------------------------------------------------------
SANDBOX_SRCS = tests/system/sandbox.c

# --- unit tests (cmocka): one binary per file in tests/unit ----------------
UNIT_SRCS = $(wildcard tests/unit/test_*.c)
UNIT_BINS = $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/unit/%)

PROGS = $(B)/hv_vss_sim $(B)/hv_vss_daemon $(B)/hv_vss_ctl \
	$(B)/hv_vss_group
TEST_PROGS = $(B)/tests/sandbox $(B)/tests/failfreeze.so $(UNIT_BINS) \
	     $(B)/tests/guard_drive
# bench/: the raw FIFREEZE floor and the write-stall writer (bench/run)
BENCH_PROGS = $(B)/bench/rawfreeze $(B)/bench/stallwriter

.PHONY: all deps check unit system demo install lint fmt clean help bench

all: $(PROGS) $(LIB_OUT) $(EXAMPLES) $(TEST_PROGS) $(BENCH_PROGS)

help:
	@echo "make            build the programs and test helpers into $(B)/"
	@echo "make deps       install the missing Debian packages (apt-get)"
	@echo "make check      deps + build + unit and system tests (as root)"
	@echo "make unit       unit tests only"
	@echo "make fuzz       libFuzzer targets, FUZZ_SECONDS=$(FUZZ_SECONDS) each"
	@echo "make demo       an emulated host backup of real filesystems"
	@echo "make bench      benchmarks vs Debian's daemon (SMOKE=1: one pass)"
	@echo "make install    install (PREFIX=$(PREFIX) DESTDIR=)"
	@echo "make lint       clang-format check, cppcheck, mandoc -Tlint"

deps:
	@sh tools/deps build test

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Idaemon $(call pc_cflags,$(SIM_PKGS) $(DAEMON_PKGS)) \
	    -MMD -MP -c $< -o $@

$(B)/hv_vss_sim: $(SIM_OBJS) $(COMMON_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(SIM_PKGS)) -lm

$(B)/hv_vss_daemon: $(B)/daemon/main.o $(DAEMON_LIB_OBJS) $(COMMON_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(DAEMON_PKGS)) -lpthread

# hv_vss_ctl: libc only, common/ctlproto.h is its protocol
$(B)/hv_vss_ctl: $(B)/ctl/hv_vss_ctl.o
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

# drives the thaw guard and the ownership record for t_guard.sh
$(B)/tests/guard_drive: tests/system/guard_drive.c $(B)/daemon/guard.o \
    $(B)/daemon/record.o
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Idaemon $(call pc_cflags,mount) $(LDFLAGS) \
	    -o $@ $^ $(call pc_libs,mount)

$(B)/tests/unit/%: tests/unit/%.c $(COMMON_OBJS) $(DAEMON_LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Idaemon $(call pc_cflags,cmocka $(DAEMON_PKGS)) \
	    $(LDFLAGS) -o $@ $^ $(call pc_libs,cmocka $(DAEMON_PKGS)) -lpthread

# the library's tests link its own objects, not the daemon's
$(B)/tests/unit/test_lib: tests/unit/test_lib.c $(LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Ilib $(call pc_cflags,cmocka) $(LDFLAGS) -o $@ $^ \
	    $(call pc_libs,cmocka) -lpthread

unit: $(UNIT_BINS)
	@sh tests/run -u $(B)

# --- fuzzing: the libFuzzer targets of tests/fuzz, built with clang into
# build-fuzz/ and run FUZZ_SECONDS each on a copy of their seed corpus ----
FUZZ_B	= build-fuzz
FUZZ_CC	= clang
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS = -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_BINS = $(FUZZ_B)/fuzz_hv_msg $(FUZZ_B)/fuzz_ic \
	$(FUZZ_B)/fuzz_appproto $(FUZZ_B)/fuzz_conf

$(FUZZ_B)/fuzz_hv_msg: tests/fuzz/fuzz_hv_msg.c common/hv_msg.c
$(FUZZ_B)/fuzz_ic: tests/fuzz/fuzz_ic.c common/ic.c common/hv_msg.c
$(FUZZ_B)/fuzz_appproto: tests/fuzz/fuzz_appproto.c common/appproto.c
$(FUZZ_B)/fuzz_conf: tests/fuzz/fuzz_conf.c daemon/conf.c
$(FUZZ_BINS): $(wildcard common/*.h) daemon/conf.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) -Idaemon $(WARN) -Wno-unknown-warning-option \
	    $(FUZZ_CFLAGS) -o $@ $(filter %.c,$^) $(call pc_libs,inih)

.PHONY: fuzz
fuzz:
	@sh tools/deps build fuzz
	@$(MAKE) --no-print-directory $(FUZZ_BINS)
	@sh tests/fuzz/run $(FUZZ_B) $(FUZZ_SECONDS)

check: deps
	@$(MAKE) --no-print-directory all
	@sh tools/fetch-ref $(B)/ref
	@sh tests/run $(B)

system: all
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

install: $(PROGS) install-lib
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(SYSCONFDIR)/hv_vss/hooks.d
	install -m 0755 $(B)/hv_vss_daemon $(DESTDIR)$(SBINDIR)/hv_vss_daemon
	install -m 0755 $(B)/hv_vss_ctl $(DESTDIR)$(SBINDIR)/hv_vss_ctl
	install -m 0755 $(B)/hv_vss_sim $(DESTDIR)$(BINDIR)/hv_vss_sim
	install -m 0755 $(B)/hv_vss_group $(DESTDIR)$(SBINDIR)/hv_vss_group
	install -m 0644 group/hv_vss_group.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 daemon/hv_vss_daemon.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 ctl/hv_vss_ctl.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 sim/hv_vss_sim.1 $(DESTDIR)$(MANDIR)/man1/
	@# never overwrite an admin's configuration
	test -e $(DESTDIR)$(SYSCONFDIR)/hv_vss/hv_vss.conf || \
	    install -m 0644 etc/hv_vss.conf $(DESTDIR)$(SYSCONFDIR)/hv_vss/
	install -m 0644 etc/hooks.d/README $(DESTDIR)$(SYSCONFDIR)/hv_vss/hooks.d/
	@# an example only: the agent's unit starts once group.conf exists
	install -m 0644 etc/group.conf \
	    $(DESTDIR)$(SYSCONFDIR)/hv_vss/group.conf.example
	install -d $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(UDEVRULESDIR)
	sed 's|@SBINDIR@|$(SBINDIR)|g' etc/hv_vss_daemon.service \
	    >$(DESTDIR)$(SYSTEMDUNITDIR)/hv_vss_daemon.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/hv_vss_daemon.service
	sed 's|@SBINDIR@|$(SBINDIR)|g' etc/hv_vss_group.service \
	    >$(DESTDIR)$(SYSTEMDUNITDIR)/hv_vss_group.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/hv_vss_group.service
	install -m 0644 etc/60-hv_vss.rules $(DESTDIR)$(UDEVRULESDIR)/

.PHONY: install-lib
install-lib: $(LIB_OUT)
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCDIR) \
	    $(DESTDIR)$(MANDIR)/man3
	install -m 0755 $(B)/$(LIB_SONAME) $(DESTDIR)$(LIBDIR)/$(LIB_SONAME)
	ln -sf $(LIB_SONAME) $(DESTDIR)$(LIBDIR)/libhvvss.so
	install -m 0644 $(B)/libhvvss.a $(DESTDIR)$(LIBDIR)/libhvvss.a
	install -m 0644 lib/hvvss.h $(DESTDIR)$(INCDIR)/hvvss.h
	install -m 0644 lib/libhvvss.3 $(DESTDIR)$(MANDIR)/man3/libhvvss.3
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCDIR@|$(INCDIR)|g' -e 's|@VERSION@|$(LIB_VERSION)|g' \
	    lib/hvvss.pc.in >$(DESTDIR)$(LIBDIR)/pkgconfig/hvvss.pc

C_FILES = $(wildcard common/*.[ch] sim/*.[ch] daemon/*.[ch] lib/*.[ch] \
	  ctl/*.[ch] tests/unit/*.c tests/system/*.c tests/fuzz/*.c \
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
	mandoc -Tlint -W warning $(MAN_PAGES)

fmt:
	clang-format -i $(C_FILES)

clean:
	rm -rf $(B) build-asan build-fuzz

-include $(shell find $(B) -path $(B)/ref -prune -o -type f -name '*.d' -print 2>/dev/null)
