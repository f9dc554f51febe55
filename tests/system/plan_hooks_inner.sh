#!/bin/sh
# plan_hooks_inner.sh: the part of t_plan_hooks.sh inside the sandbox
# (/mnt/a its own ext4).  Prints "key=value" lines; nothing here decides.
# With privsep = yes, hv_vss_ctl plan (text and --json) lists the hooks
# the parent reads from hooks_dir (HOOKS=odd: names with a tab, a
# newline, UTF-8, and 500 more; unreadable: a mode 000 directory; file:
# hooks_dir a regular file).
set -u
CTL=$B/hv_vss_ctl
DEV=/dev/vmbus/hv_vss
say() { echo "$1=$2"; }
rm -f /run/hv_vss/ctl.sock /run/hv_vss/app.sock
H=/tmp/hooks.d
case $HOOKS in
odd)
	mkdir -p -m 0755 $H
	for h in "$(printf '10-tab\there')" "$(printf '20-new\nline')" \
	    "30-caf$(printf '\303\251')" $(seq -f 'm%03g' 1 500); do
		printf '#!/bin/sh\nexit 0\n' >"$H/$h"
		chmod 0755 "$H/$h"
	done
	;;
unreadable)
	mkdir -p -m 0755 $H
	printf '#!/bin/sh\nexit 0\n' >$H/10-a
	chmod 0755 $H/10-a
	chmod 000 $H
	;;
file)
	printf '#!/bin/sh\nexit 0\n' >$H
	;;
refused)
	mkdir -p -m 0755 $H
	printf '#!/bin/sh\nexit 0\n' >$H/10-a
	chmod 0757 $H/10-a
	;;
esac
$B/hv_vss_sim -s sleep=300 $DEV -- $B/hv_vss_daemon -n -d -c /dev/null \
    -o mounts=/mnt/a -o privsep=yes -o privsep_user=$USER_ \
    -o hooks_dir=$H >/tmp/sim.json 2>/tmp/daemon.log &
sim=$!
for _i in $(seq 1 100); do
	[ -S /run/hv_vss/ctl.sock ] && break
	sleep 0.1
done
"$CTL" plan >/tmp/plan.out 2>/tmp/plan.err
say plan.rc $?
say plan.err "$(tr '\n' '|' </tmp/plan.err)"
say plan.hooks "$(sed -n '/^hooks:/,/^HOT_BACKUP/p' /tmp/plan.out | sed '1d;$d' | wc -l)"
say plan.hookhead "$(sed -n '/^hooks:/,/^HOT_BACKUP/p' /tmp/plan.out | head -n 6 | tr '\t\n' '>|')"
say plan.hot "$(grep -c '^HOT_BACKUP' /tmp/plan.out)"
say plan.says "$(grep -c -e 'every FREEZE fails: .*more than 128 hooks' -e 'every FREEZE fails: .*Not a directory' -e 'every FREEZE fails: hook 10-a: refused' /tmp/plan.out)"
"$CTL" plan --json >/tmp/planj.out 2>/tmp/planj.err
say planj.rc $?
say planj.err "$(tr '\n' '|' </tmp/planj.err)"
say planj.hooks "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); h=d["hooks"]; print(len(h), repr(h[:4]) if isinstance(h, list) else repr(h))' /tmp/planj.out 2>&1 | tr '\n' '|' | cut -c1-400)"
say planj.odd "$(python3 -c 'import json,re,sys; d=json.load(open(sys.argv[1])); print(sum(1 for n in d["hooks"] if not re.fullmatch(r"[A-Za-z0-9_.-]+", n)))' /tmp/planj.out 2>&1)"
say planj.fails "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["freeze_fails"])' /tmp/planj.out 2>&1 | tr '\n' '|')"
say planj.fs "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print([f["mountpoint"] for f in d["filesystems"]])' /tmp/planj.out 2>&1 | tr '\n' '|')"
"$CTL" status >/dev/null 2>&1
say status.rc $?
# what a freeze makes of the same directory
"$CTL" freeze --timeout 20 >/dev/null 2>/tmp/freeze.err
say freeze.rc $?
say freeze.err "$(tr '\n' '|' </tmp/freeze.err)"
"$CTL" thaw >/dev/null 2>&1
fsfreeze -u /mnt/a 2>/dev/null && say left_frozen yes || say left_frozen no
kill "$sim"
wait "$sim"
say alive "$(grep -c '[0-9] exiting$' /tmp/daemon.log)"
grep -i -e hook -e plan: -e error /tmp/daemon.log | grep -v 'skip ' | head -20 | sed 's/^/log /'
exit 0
