#!/bin/sh
# t_plan_hooks: with privsep = yes, hv_vss_ctl plan lists the hooks the
# parent reads, and must not promise what a FREEZE then refuses.  odd:
# names with a tab, a newline and UTF-8 (hooks.c never runs them) and
# 500 more (over HOOKS_MAX: every FREEZE fails "more than 128 hooks");
# unreadable: a mode 000 hooks_dir (the parent is root: read all the
# same); file: hooks_dir a regular file (every FREEZE fails "Not a
# directory"); refused: a hook others may write (every FREEZE fails
# "refused").  The plan stays valid JSON and the daemon serves on, and
# lists no hook that never runs, and it says that every FREEZE will
# fail, and why, where it will (odd, file).  The plan reads the
# directory with the hooks stage's own checks (hooks_preview()), so it
# cannot promise what the FREEZE refuses.
# plan_hooks_inner.sh runs inside the sandbox.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd mkfs.ext4 fsfreeze python3
workdir
[ -x "$B/hv_vss_ctl" ] || bail "no $B/hv_vss_ctl (make)"
if id -u hvvss >/dev/null 2>&1; then USER_=hvvss; else USER_=nobody; fi
mkimage ext4 32M "$WORK/a.img" || bail "mkfs.ext4"

for k in odd unreadable file refused; do
	"$SANDBOX" -t 60 -r "$TOP" -r "$B" -e B="$B" -e TOP="$TOP" \
	    -e USER_="$USER_" -e HOOKS=$k -m "$WORK/a.img:/mnt/a" -- \
	    sh "$TOP/tests/system/plan_hooks_inner.sh" >"$WORK/out.$k" 2>&1
	rc=$?
	get() { sed -n "s/^$1=//p" "$WORK/out.$k" | head -n 1; }
	sed 's/^/# /' "$WORK/out.$k"
	check_eq "$k: sandbox exit" 0 $rc
	check_eq "$k: plan and plan --json exit 0" "0 0" \
	    "$(get plan.rc) $(get planj.rc)"
	check_eq "$k: the plan ends with its HOT_BACKUP line" 1 "$(get plan.hot)"
	check_eq "$k: the daemon serves on" "0 1" \
	    "$(get status.rc) $(get alive)"
	check_eq "$k: nothing left frozen" no "$(get left_frozen)"
	case $k in
	odd)
		check_eq "odd: the FREEZE fails (over HOOKS_MAX)" 1 \
		    "$(get freeze.rc)"
		check_eq "odd: --json lists no name hooks.c never runs" 0 \
		    "$(get planj.odd)"
		check_eq "odd: the plan says every FREEZE fails, and why" 1 \
		    "$(get plan.says)"
		check_eq "odd: and so does --json" \
		    "hooks directory /tmp/hooks.d: more than 128 hooks|" \
		    "$(get planj.fails)"
		;;
	unreadable)
		check_eq "unreadable: the root parent lists its hook" \
		    "1 ['10-a']|" "$(get planj.hooks)"
		check_eq "unreadable: and the FREEZE runs it" 0 \
		    "$(get freeze.rc)"
		check_eq "unreadable: no failure foretold" "None|" \
		    "$(get planj.fails)"
		;;
	file)
		check_eq "file: the FREEZE fails (not a directory)" 1 \
		    "$(get freeze.rc)"
		check_eq "file: the plan says every FREEZE fails, and why" 1 \
		    "$(get plan.says)"
		check_eq "file: and so does --json" \
		    "hooks directory /tmp/hooks.d: Not a directory|" \
		    "$(get planj.fails)"
		;;
	refused)
		check_eq "refused: the FREEZE fails" 1 "$(get freeze.rc)"
		check_eq "refused: under hooks, one line: every FREEZE fails, and why" \
		    "1 1" "$(get plan.hooks) $(get plan.says)"
		check_eq "refused: and so does --json" \
		    "hook 10-a: refused: writable by others|" "$(get planj.fails)"
		;;
	esac
done
finish
