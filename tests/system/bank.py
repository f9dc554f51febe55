#!/usr/bin/env python3
"""bank.py: the distributed workload of the group tests (t_group.sh).

One account per VM.  Each instance moves money to its peers as messages
over TCP ("T id amount"), debiting its own balance first; the receiver
credits it and answers "A id", or, while it is frozen, refuses with "N id"
and the sender puts the money back.  Every change of balance is a line
appended (one write) to the ledger on the VM's filesystem, the last line
being the balance.

It takes part in the VM's backups as an application of hv_vss_daemon
(protocol 1, tier 5).  On FREEZE it stops sending and drains: it answers
FROZEN only once every transfer it sent has been answered (credited by
the receiver, or refused and put back here), and from then on until THAW
or ABORT writes nothing and refuses what comes.  So a snapshot of this VM
holds no money in flight from it; whether the snapshots of all VMs add up
to the starting total is what a consistent cut decides.

With --control PATH it does not register with the daemon: it listens on
the unix socket PATH for "FREEZE" (drain, then answer "FROZEN") and
"THAW", which a freeze hook sends: a program quiesced by a hook, for
the test of what the barrier covers.

    bank.py --name vm1 --port P --peers P2,P3 --ledger /mnt/a/ledger
            [--start 1000] [--socket /run/hv_vss/app.sock | --control PATH]
"""

import argparse
import os
import random
import selectors
import socket
import time


def log(*a):
    print("%.3f" % time.time(), *a, flush=True)


class Bank:
    def __init__(self, args):
        self.args = args
        self.balance = args.start
        self.fd = os.open(args.ledger, os.O_WRONLY | os.O_CREAT |
                          os.O_APPEND, 0o644)
        self.seq = 0
        self.outstanding = {}  # id -> (peer, amount)
        self.frozen = False
        self.draining = None  # txid of the FREEZE being drained
        self.sel = selectors.DefaultSelector()
        self.peers = {}  # port -> socket
        self.inbuf = {}
        self.sent = self.refused = self.credited = 0
        self.write("start")

    def write(self, why):
        assert not self.frozen
        os.write(self.fd, b"%s %d\n" % (why.encode(), self.balance))

    # --- the daemon -------------------------------------------------------
    def connect_daemon(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.args.socket)
        s.sendall(b"HELLO 1 bank-%s tier=5 timeout=2000\n" %
                  self.args.name.encode())
        f = s.makefile("rb")
        words = f.readline(256).split()
        if words[:1] != [b"OK"]:
            raise SystemExit("bank: refused: %r" % words)
        log("registered as app", words[1].decode())
        self.daemon = s
        self.inbuf[s] = b""
        s.setblocking(False)
        self.sel.register(s, selectors.EVENT_READ, self.on_daemon)

    def answer(self, line):
        self.daemon.setblocking(True)
        self.daemon.sendall(line.encode() + b"\n")
        self.daemon.setblocking(False)

    # --- or a hook, through a control socket ------------------------------
    def listen_control(self):
        cs = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        cs.bind(self.args.control)
        cs.listen(8)
        self.sel.register(cs, selectors.EVENT_READ, self.accept_control)
        log("registered: control socket", self.args.control)

    def accept_control(self, cs):
        c, _ = cs.accept()
        self.inbuf[c] = b""
        self.sel.register(c, selectors.EVENT_READ, self.on_control)

    def on_control(self, c):
        data = c.recv(4096)
        if not data:
            self.sel.unregister(c)
            c.close()
            return
        self.inbuf[c] += data
        while b"\n" in self.inbuf[c]:
            line, self.inbuf[c] = self.inbuf[c].split(b"\n", 1)
            w = line.decode().split()
            self.daemon = c  # answers go to this hook
            if w[0] == "FREEZE":
                log("hook FREEZE, outstanding", len(self.outstanding))
                self.draining = "hook"
                self.maybe_frozen()
            elif w[0] == "THAW":
                log("hook THAW, balance", self.balance)
                self.frozen = False
                self.draining = None
                self.answer("THAWED hook")

    def on_daemon(self, s):
        data = s.recv(4096)
        if not data:
            # the peers may still be in their last backup: go on
            # answering them, never frozen again, until killed
            log("daemon gone; balance", self.balance,
                "sent", self.sent, "refused", self.refused,
                "credited", self.credited)
            self.sel.unregister(s)
            self.frozen = False
            self.draining = None
            self.args.peers = []
            return
        self.inbuf[s] += data
        while b"\n" in self.inbuf[s]:
            line, self.inbuf[s] = self.inbuf[s].split(b"\n", 1)
            w = line.decode().split()
            if w[0] == "CHECK":
                self.answer("READY " + w[1])
            elif w[0] == "FREEZE":
                log("FREEZE", w[1], "outstanding", len(self.outstanding))
                self.draining = w[1]
                self.maybe_frozen()
            elif w[0] in ("THAW", "ABORT"):
                log(w[0], w[1], "balance", self.balance)
                self.frozen = False
                self.draining = None
                self.answer("THAWED " + w[1])

    def maybe_frozen(self):
        if self.draining is None or self.outstanding:
            return
        os.fsync(self.fd)
        self.frozen = True
        log("FROZEN", self.draining, "balance", self.balance)
        self.answer("FROZEN " + self.draining)
        self.draining = None

    # --- the peers --------------------------------------------------------
    def accept(self, ls):
        c, _ = ls.accept()
        c.setblocking(False)
        self.inbuf[c] = b""
        self.sel.register(c, selectors.EVENT_READ, self.on_peer)

    def peer(self, port):
        s = self.peers.get(port)
        if s is None:
            try:
                s = socket.create_connection(("127.0.0.1", port), 1)
            except OSError:
                return None
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.setblocking(False)
            self.peers[port] = s
            self.inbuf[s] = b""
            self.sel.register(s, selectors.EVENT_READ, self.on_peer)
        return s

    def send(self, s, line):
        s.setblocking(True)
        s.sendall(line.encode() + b"\n")
        s.setblocking(False)

    def on_peer(self, s):
        try:
            data = s.recv(65536)
        except OSError:
            data = b""
        if not data:
            self.sel.unregister(s)
            for p, x in list(self.peers.items()):
                if x is s:
                    del self.peers[p]
            if any(x is s for x, _ in self.outstanding.values()):
                log("a peer went away with transfers outstanding")
            s.close()
            return
        self.inbuf[s] += data
        while b"\n" in self.inbuf[s]:
            line, self.inbuf[s] = self.inbuf[s].split(b"\n", 1)
            w = line.decode().split()
            if w[0] == "T":  # a transfer to us
                if self.frozen:
                    self.send(s, "N " + w[1])
                else:
                    self.balance += int(w[2])
                    self.credited += 1
                    self.write("credit")
                    self.send(s, "A " + w[1])
            elif w[0] in ("A", "N"):  # the answer to one of ours
                _, amount = self.outstanding.pop(w[1])
                if w[0] == "N":
                    self.balance += amount
                    self.refused += 1
                    self.write("refund")
                self.maybe_frozen()

    def transfer(self):
        if self.frozen or self.draining is not None or not self.args.peers:
            return
        port = random.choice(self.args.peers)
        amount = random.randint(1, 10)
        if amount > self.balance:
            return
        s = self.peer(port)
        if s is None:
            return
        self.seq += 1
        tid = "%s-%d" % (self.args.name, self.seq)
        self.balance -= amount
        self.write("debit")
        self.outstanding[tid] = (s, amount)
        self.sent += 1
        self.send(s, "T %s %d" % (tid, amount))

    def run(self):
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", self.args.port))
        ls.listen(64)
        self.sel.register(ls, selectors.EVENT_READ, self.accept)
        if self.args.control:
            self.listen_control()
        else:
            self.connect_daemon()
        next_t = time.monotonic()
        while True:
            timeout = max(0, next_t - time.monotonic())
            for key, _ in self.sel.select(timeout):
                key.data(key.fileobj)
            if time.monotonic() >= next_t:
                self.transfer()
                next_t = time.monotonic() + self.args.interval


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--peers", default="")
    ap.add_argument("--ledger", required=True)
    ap.add_argument("--start", type=int, default=1000)
    ap.add_argument("--interval", type=float, default=0.003)
    ap.add_argument("--socket", default="/run/hv_vss/app.sock")
    ap.add_argument("--control")
    args = ap.parse_args()
    args.peers = [int(p) for p in args.peers.split(",") if p]
    Bank(args).run()


if __name__ == "__main__":
    main()
