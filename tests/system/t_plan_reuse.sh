#!/bin/sh
# t_plan_reuse: a FREEZE reuses the plan its HOT_BACKUP made only while
# the mount table stays as it was (daemon/mountwatch.h); any mount,
# unmount or remount in between makes it read the table again.
#
# Four backups of /mnt/a and /mnt/b, each with a command run between
# HOT_BACKUP and FREEZE (-s hot,exec,freeze,exec,thaw): nothing; a tmpfs
# mounted elsewhere; /mnt/b remounted read-only, which the new plan must
# leave out (a stale plan would try to freeze it); the configuration
# changed to allow /mnt/a alone and SIGHUP, which the FREEZE must obey
# (the privilege split's parent once froze by the HOT_BACKUP's plan).
. "$(dirname "$0")/lib.sh"
need_root
need_cmd mkfs.ext4 python3
workdir
mkimage ext4 64M "$WORK/a.img" || bail "mkfs.ext4"
mkimage ext4 64M "$WORK/b.img" || bail "mkfs.ext4"

cat >"$WORK/between.sh" <<'EOF2'
#!/bin/sh
# run by hv_vss_sim at each "exec": the first time (between HOT_BACKUP
# and FREEZE) it changes the mount table as $CHANGE says
[ -e /tmp/between.done ] && exit 0
touch /tmp/between.done
case $CHANGE in
none) ;;
tmpfs) mkdir -p /tmp/x && mount -t tmpfs none /tmp/x ;;
ro) mount -o remount,ro /mnt/b ;;
hup)
	printf '[daemon]\nmounts = /mnt/a\n' >/tmp/hup.conf
	kill -HUP "$(cat /tmp/daemon.pid)"
	# the parent applies it at once, being idle between the two
	i=0
	while ! grep -q 'configuration reloaded' /tmp/hup.log && [ $i -lt 40 ]; do
		sleep 0.05
		i=$((i + 1))
	done ;;
esac
EOF2

cat >"$WORK/inner.sh" <<EOF2
#!/bin/sh
for change in none tmpfs hup ro; do
	rm -f /tmp/between.done
	printf '[daemon]\\nmounts = /mnt/a,/mnt/b\\n' >/tmp/\$change.conf
	CHANGE=\$change $B/hv_vss_sim -s hot,exec,freeze,exec,thaw \\
	    -x "sh $WORK/between.sh" /dev/vmbus/hv_vss -- \\
	    sh -c "echo \\\$\\\$ >/tmp/daemon.pid; exec $B/hv_vss_daemon -n -d -c /tmp/\$change.conf" \\
	    >/tmp/\$change.json 2>/tmp/\$change.log
	echo "\$change.rc=\$?"
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(sys.argv[2] + ".results=" + ",".join(q["op"]+":"+q["result"] for q in r["backups"][0]["requests"]))' /tmp/\$change.json \$change
	sed "s/^/\$change.log /" /tmp/\$change.log
done
mount -o remount,rw /mnt/b
umount /tmp/x
EOF2
"$SANDBOX" -t 120 -r "$TOP" -r "$B" -r "$WORK" -m "$WORK/a.img:/mnt/a" \
    -m "$WORK/b.img:/mnt/b" -- sh "$WORK/inner.sh" >"$WORK/out" 2>&1
rc=$?
out=$WORK/out
get() { sed -n "s/^$1=//p" "$out"; }
reused() { grep -q "^$1.log .*plan: the mount table is as at HOT_BACKUP" "$out"; }
froze() { sed -n "s/^$1.log .*froze [0-9]* filesystems* in .*: //p" "$out"; }
grep -v 'plan: skip /[a-z]* (\(overlay\|tmpfs\|proc\))' "$out" | sed 's/^/# /'
check_eq "sandbox exit" 0 "$rc"
for c in none tmpfs hup ro; do
	check_eq "$c: every request answered S_OK" \
	    "HOT_BACKUP:S_OK,FREEZE:S_OK,THAW:S_OK" "$(get $c.results)"
done
check "unchanged table: FREEZE reuses the HOT_BACKUP's plan" reused none
check_eq "unchanged table: both filesystems frozen" "/mnt/a /mnt/b" \
    "$(froze none | tr ' ' '\n' | sort | tr '\n' ' ' | sed 's/ $//')"
check "a mount elsewhere: the plan is made anew" \
    sh -c '! grep -q "^tmpfs.log .*plan: the mount table is as at HOT_BACKUP" "$0"' "$out"
check "/mnt/b remounted read-only: the plan is made anew" \
    sh -c '! grep -q "^ro.log .*plan: the mount table is as at HOT_BACKUP" "$0"' "$out"
check_eq "/mnt/b remounted read-only: only /mnt/a frozen" "/mnt/a" "$(froze ro)"
check "/mnt/b remounted read-only: the new plan says why it is left out" \
    grep -q '^ro.log .*plan: skip /mnt/b (ext4): read-only' "$out"
check "SIGHUP between: the parent reloaded before the FREEZE" \
    grep -q '^hup.log .*configuration reloaded' "$out"
check_eq "SIGHUP to mounts = /mnt/a between: only /mnt/a frozen" "/mnt/a" \
    "$(froze hup)"
finish
