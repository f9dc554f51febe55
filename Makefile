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
COMMON_SRCS = common/hv_msg.c common/ic.c
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

# --- test helpers ----------------------------------------------------------
SANDBOX_SRCS = tests/system/sandbox.c

# --- unit tests (cmocka): one binary per file in tests/unit ----------------
UNIT_SRCS = $(wildcard tests/unit/test_*.c)
UNIT_BINS = $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/unit/%)

PROGS = $(B)/hv_vss_sim $(B)/hv_vss_daemon
TEST_PROGS = $(B)/tests/sandbox $(B)/tests/failfreeze.so $(UNIT_BINS)

.PHONY: all deps check unit system demo install lint fmt clean help

all: $(PROGS) $(TEST_PROGS)

help:
	@echo "make            build the programs and test helpers into $(B)/"
	@echo "make deps       install the missing Debian packages (apt-get)"
	@echo "make check      deps + build + unit and system tests (as root)"
	@echo "make unit       unit tests only"
	@echo "make demo       an emulated host backup of real filesystems"
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

$(B)/tests/sandbox: $(SANDBOX_SRCS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^

$(B)/tests/failfreeze.so: tests/system/failfreeze.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -shared -fPIC -o $@ $< -ldl

$(B)/tests/unit/%: tests/unit/%.c $(COMMON_OBJS) $(DAEMON_LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Idaemon $(call pc_cflags,cmocka $(DAEMON_PKGS)) \
	    $(LDFLAGS) -o $@ $^ $(call pc_libs,cmocka $(DAEMON_PKGS)) -lpthread

unit: $(UNIT_BINS)
	@sh tests/run -u $(B)

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

install: $(PROGS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(SYSCONFDIR)/hv_vss/hooks.d
	install -m 0755 $(B)/hv_vss_daemon $(DESTDIR)$(SBINDIR)/hv_vss_daemon
	install -m 0755 $(B)/hv_vss_sim $(DESTDIR)$(BINDIR)/hv_vss_sim
	install -m 0644 daemon/hv_vss_daemon.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 sim/hv_vss_sim.1 $(DESTDIR)$(MANDIR)/man1/
	@# never overwrite an admin's configuration
	test -e $(DESTDIR)$(SYSCONFDIR)/hv_vss/hv_vss.conf || \
	    install -m 0644 etc/hv_vss.conf $(DESTDIR)$(SYSCONFDIR)/hv_vss/

C_FILES = $(wildcard common/*.[ch] sim/*.[ch] daemon/*.[ch] lib/*.[ch] \
	  ctl/*.[ch] tests/unit/*.c tests/system/*.c tests/fuzz/*.c)
MAN_PAGES = $(wildcard */*.[1-8])

lint:
	@sh tools/deps lint
	clang-format --dry-run --Werror $(C_FILES)
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
	    --inline-suppr --suppress=missingIncludeSystem -D__linux__ \
	    -Icommon $(C_FILES)
	mandoc -Tlint -W warning $(MAN_PAGES)

fmt:
	clang-format -i $(C_FILES)

clean:
	rm -rf $(B) build-asan

-include $(shell find $(B) -path $(B)/ref -prune -o -type f -name '*.d' -print 2>/dev/null)
