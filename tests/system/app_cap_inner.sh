#!/bin/sh
# app_cap_inner.sh: the part of t_app_cap.sh inside the sandbox.  Prints
# "key=value" lines; nothing here decides.
set -u
DEV=/dev/vmbus/hv_vss
rm -f /run/hv_vss/ctl.sock /run/hv_vss/app.sock
$B/hv_vss_sim -s sleep=60 $DEV -- $B/hv_vss_daemon -n -d -c /dev/null \
    -o mounts=/mnt/a -o app_max_clients=4 -o app_max_per_uid=2 \
    -o app_socket_mode=0666 >/tmp/sim.json 2>/tmp/daemon.log &
sim=$!
for _i in $(seq 1 100); do
	[ -S /run/hv_vss/app.sock ] && break
	sleep 0.1
done
cat >/tmp/reg.py <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect("/run/hv_vss/app.sock")
try:
    s.sendall(b"HELLO 1 %s\n" % sys.argv[1].encode())
except OSError:
    pass
print("%s=%s" % (sys.argv[1], s.recv(200).decode().strip()), flush=True)
time.sleep(10)
PY
n=0
for u in 65534 65534 65533 65533 0; do
	n=$((n + 1))
	setpriv --reuid=$u --regid=65534 --clear-groups \
	    python3 /tmp/reg.py "app$n.uid$u" &
	sleep 0.3
done
sleep 0.5
kill "$sim"
wait "$sim"
grep 'app socket' /tmp/daemon.log | sed 's/^/log /'
exit 0
