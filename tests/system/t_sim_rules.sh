#!/bin/sh
# t_sim_rules: every kernel rule of doc/DESIGN.md ("Kernel rules"),
# checked against hv_vss_sim with a scripted guest (sim_rules.py), and
# every rule of FreeBSD's driver (doc/FREEBSD.md) against hv_vss_sim -F,
# inside the sandbox since the sim serves its devices in /dev.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd python3
"$SANDBOX" -t 300 -r "$TOP" -r "$B" -- \
    python3 "$TOP/tests/system/sim_rules.py" "$B"
