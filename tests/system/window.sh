#!/bin/sh
# window.sh: the frozen-window command (hv_vss_sim -x) for tests that let
# the host side take the snapshot, as Hyper-V does: tell the host, through
# fd 3, that the guest is frozen, and wait on fd 4 until it has copied the
# disk images.  It writes to no file: everything here may be frozen.
n=${HVVSS_SIM_BACKUP:-0}
echo "frozen $n" >&3 || exit 1
read -r word m <&4 || exit 1
[ "$word" = copied ] && [ "$m" = "$n" ]
