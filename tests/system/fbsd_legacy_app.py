#!/usr/bin/env python3
"""fbsd_legacy_app.py: an application written against FreeBSD's
/dev/hv_appvss_dev, as hv_vss(4) documents one: it opens the device and
acknowledges each request it reads, for the tests of the daemon's
FreeBSD host backend (legacy mode, and the device held by someone else).

    fbsd_legacy_app.py DEVICE LOG [OPT=ACTION ...] [--dup]

OPT is CHECK, FREEZE or THAW; ACTION is ok (the default), fail, none (no
acknowledgement), or a number of seconds to wait before acknowledging
ok.  --dup acknowledges every request twice.  It opens DEVICE, writes
"opened" to LOG, puts itself in the background (the parent exits 0, as
hv_vss_sim -b wants) and logs each request read and each acknowledgement,
with CLOCK_REALTIME:

    took <opt> <msgid> <time>
    acked <opt> <msgid> <status> <time>

It exits when the device goes away.
"""

import fcntl
import os
import select
import struct
import sys
import time

IOCHVVSSREAD = 0x80407602  # Linux's encoding of _IOR('v', 2, 64 bytes)
IOCHVVSSWRITE = 0x40407603  # and of _IOW('v', 3, 64 bytes)
OPTS = {1: "CHECK", 2: "FREEZE", 3: "THAW"}


def main():
    dev, logpath = sys.argv[1:3]
    actions = {}
    dup = False
    for a in sys.argv[3:]:
        if a == "--dup":
            dup = True
        else:
            k, v = a.split("=", 1)
            actions[k] = v
    fd = os.open(dev, os.O_RDWR)
    log = open(logpath, "a", buffering=1)
    log.write("opened\n")
    if os.fork() != 0:
        os._exit(0)
    os.setsid()
    p = select.poll()
    p.register(fd, select.POLLIN)
    while True:
        try:
            if not p.poll(1000):
                continue
            buf = bytearray(64)
            fcntl.ioctl(fd, IOCHVVSSREAD, buf, True)
        except OSError:
            return 0
        opt, status, msgid = struct.unpack_from("<IIQ", buf)
        if status != 0:
            continue
        name = OPTS.get(opt, str(opt))
        log.write("took %s %d %.6f\n" % (name, msgid, time.time()))
        act = actions.get(name, "ok")
        if act == "none":
            continue
        if act not in ("ok", "fail"):
            time.sleep(float(act))
        st = 1 if act == "fail" else 0
        for _ in range(2 if dup else 1):
            fcntl.ioctl(fd, IOCHVVSSWRITE,
                        struct.pack("<IIQ48x", opt, st, msgid))
            log.write("acked %s %d %d %.6f\n" % (name, msgid, st,
                                                 time.time()))


if __name__ == "__main__":
    sys.exit(main())
