#!/bin/sh
# t_check_seams: tools/check-seams, on a scratch repository made here.
#
# What it proves: a Linux-only header or call in daemon/, ctl/, guard/ or
# common/ is reported with its file and line, and makes it exit 1; one
# in a comment (one line or several), in a string literal or in Linux's
# own files (*_linux.c, guard/filter.c) is not; "/proc/" and "/sys" in a
# string are; an escaped quote does not end a string early; a Markdown
# citation must name a file of the repository (from the top or from the
# citing file), and "/work/shared" and "../shared" are always reported;
# a citation of a section of doc/DESIGN.md (by its quoted title, over
# lines, by number, or a man page's .Dq) must name a heading there;
# a clean tree exits 0 and prints nothing.  And on this repository it
# reports nothing in the files that went behind the process seams (apps,
# ctl, hooks, holds, log, sigs, main, guard.c, hv_vss_ctl).
. "$(dirname "$0")/lib.sh"
need_cmd git awk
workdir

r=$WORK/repo
mkdir -p "$r/daemon/os" "$r/ctl" "$r/guard" "$r/common" "$r/doc" "$r/sim"
cd "$r" || bail "no $r"
git init -q . || bail "git init"
mkdir tools
cp "$TOP/tools/check-seams" tools/check-seams

# clean: portable code, Linux's own files, Linux in comments and strings
cat >daemon/ok.c <<'C'
/* FIFREEZE and <linux/fs.h> in a comment, prctl(PR_SET_NAME)
 * and execveat over several lines: fine */
#include <sys/types.h>
#include <signal.h>
static const char *s = "SO_PEERCRED in a string \" execveat";
int f(void) { return kill(0, SIGTERM); } // statx in a line comment
C
cat >daemon/os/proc_linux.c <<'C'
#include <sys/pidfd.h>
int g(void) { return pidfd_open(1, 0); }
C
cat >guard/filter.c <<'C'
#include <seccomp.h>
#include <sys/prctl.h>
int h(void) { return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); }
C
printf '# d\n## 5. Control socket (protocol 2)\n### Hooks\nsee doc/DESIGN.md and FREEBSD.md\n' >doc/DESIGN.md
cat >daemon/sec.h <<'C'
/* sec.h: (doc/DESIGN.md, "Control socket
 * (protocol 2)"), doc/DESIGN.md section 5 and
 * (doc/DESIGN.md in the sources, "Hooks") */
C
printf '.Sh SEE ALSO\ndoc/DESIGN.md,\n.Dq Hooks .\n' >daemon/sec.8
echo 'sibling: DESIGN.md' >doc/FREEBSD.md
echo 'sim/x.c: not checked for calls: FIFREEZE' >sim/x.c
git add -A
out=$(sh tools/check-seams 2>&1)
rc=$?
check_eq "a clean tree: exit 0" 0 "$rc"
check_eq "a clean tree: nothing printed" "" "$out"

# violations
cat >daemon/bad.c <<'C'
#include <sys/types.h>
#include <linux/fs.h>
#include <sys/signalfd.h>
/* a comment
   FIFREEZE here is fine */
int a(int fd) { return ioctl(fd, FITHAW, 0); }
static const char *p = "/proc/self/mountinfo", *q = "/sys";
int b(void) { return SIGPWR + SIGSTKFLT; }
C
cat >ctl/bad.c <<'C'
const char *c(int s) { return sigabbrev_np(s); }
C
echo 'as /work/shared/DESIGN.md says, and ../shared/STYLE.md' >common/cite.h
echo 'see DESIGN.md (the old one) and doc/NOPE.md' >guard/cite.c
printf '# doc/DESIGN.md, "Hooks and more"\n# doc/DESIGN.md section 7\n' >guard/sec.sh
printf 'doc/DESIGN.md,\n.Dq Hookz ,\n' >guard/sec.8
git add -A
out=$(sh tools/check-seams 2>&1)
rc=$?
check_eq "violations: exit 1" 1 "$rc"
want='common/cite.h:1: cites /work/shared/DESIGN.md, outside the repository
ctl/bad.c:1: uses sigabbrev_np, Linux'"'"'s
daemon/bad.c:2: includes <linux/fs.h>, Linux'"'"'s
daemon/bad.c:3: includes <sys/signalfd.h>, Linux'"'"'s
daemon/bad.c:6: uses FITHAW, Linux'"'"'s
daemon/bad.c:7: names a path in /proc, Linux'"'"'s procfs
daemon/bad.c:7: names a path in /sys, Linux'"'"'s sysfs
daemon/bad.c:8: uses SIGPWR, Linux'"'"'s
daemon/bad.c:8: uses SIGSTKFLT, Linux'"'"'s
guard/cite.c:1: cites DESIGN.md, not a file of the repository
guard/cite.c:1: cites doc/NOPE.md, not a file of the repository
guard/sec.8:1: cites doc/DESIGN.md, "Hookz": no such section
guard/sec.sh:1: cites doc/DESIGN.md, "Hooks and more": no such section
guard/sec.sh:2: cites doc/DESIGN.md section 7: no such section'
check_eq "violations: each named by file and line" "$want" "$out"

# this repository: the process side is behind its seams
cd "$TOP" || bail "no $TOP"
mine=$(sh tools/check-seams 2>&1 | grep -E '^(daemon/(apps|ctl|hooks|holds|log|sigs|main|guard)\.[ch]|ctl/|common/|daemon/os/)' || true)
check_eq "hvvss: nothing Linux's in the process side above the seams" "" "$mine"
finish
