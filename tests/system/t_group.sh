#!/bin/sh
# t_group: consistency groups (hv_vss_group, README.md "Consistency
# groups").  A real etcd cluster (three members on 127.0.0.1) and N VMs,
# each a sandbox with its own emulated host, device, ext4 filesystem,
# daemon, bank.py workload and group agent; the hosts start each round's
# backups at random offsets within 1.5 s, and each frozen window copies
# the VM's image.  tests/system/group_lab.py drives it and prints the
# checks:
#
#  - negative control: without the group the snapshots' total is wrong in
#    some rounds (so the check can fail);
#  - with the group: every round complete, total exact, images clean, for
#    3 and 5 VMs;
#  - the hooks' order: a program quiesced by a slow freeze hook is not
#    in the cut while the hooks run after the barrier (the default), and
#    is with hooks_tier = 9;
#  - faults: etcd's leader killed, quorum lost, a VM whose backup never
#    comes, an agent killed mid-round, the link between a VM and etcd cut;
#    each ends with nothing frozen and a good next round; no member key
#    left in etcd; policy single.
#
# make check runs the short version (8 control rounds, 20 rounds of 3
# VMs, 10 of 5, 8 of each hooks order, the faults: about 2.5 minutes);
# HVVSS_GROUP_FULL=1 runs the full size (20 control rounds, 50 rounds
# each of 3 and 5 VMs, 20 of each hooks order, staggered within 3 s:
# about 8 minutes).
. "$(dirname "$0")/lib.sh"
need_root
need_cmd etcd mkfs.ext4 debugfs e2fsck dumpe2fs ip unshare nsenter python3
[ -x "$B/hv_vss_group" ] || bail "needs $B/hv_vss_group (make all)"
workdir

if [ "${HVVSS_GROUP_FULL:-0}" = 1 ]; then
	set -- --control-rounds 20 --stagger 3 --vms 3:50 5:50 --hooks 20
else
	set -- --control-rounds 8 --stagger 1.5 --vms 3:20 5:10 --hooks 8
fi
HVVSS_TOP=$TOP HVVSS_BUILD=$B SANDBOX=$SANDBOX \
    python3 "$TOP/tests/system/group_lab.py" --work "$WORK" "$@" --faults
