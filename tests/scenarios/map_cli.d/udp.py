#!/usr/bin/python3
"""UDP request/reply over L3 DSR for the map_cli scenario (one process per role: python
starts slowly under TCG).

  udp.py server PORT READYFILE VIP...
      One socket bound to each VIP:PORT. Each request is answered from the socket it came
      in on, so from that VIP, with "VIP <the request>".

  udp.py scale PORT TARGETS
      TARGETS lines: "RIP DSCP VIP COUNT". Sends COUNT requests, one at a time, each to
      RIP:PORT with the DSCP in the TOS / traffic class, and waits up to 3 s (UDP_TIMEOUT)
      for the reply.
      Prints one line per failed request ("bad ...") and, per family, a line
      "ipv4 sent=N ok=N bad=N": ok means the reply came from VIP and named VIP.

  udp.py loop PORT TARGETS STOPFILE READYFILE
      The same, round robin over TARGETS (COUNT ignored), until STOPFILE exists, with a
      pause of GAP (5 ms) between requests so that the guest's CPUs are not all ours. Touches
      READYFILE after the first good reply. Prints failures as they happen, then
      "sent=N ok=N bad=N" and "per_vip VIP=N ..." (requests per VIP).
"""
import os
import selectors
import socket
import sys
import time

# UDP_TIMEOUT shortens the wait where no reply is the expected answer (ingress's denied cases):
# a counter that must not move is the check there, not the wait.
TIMEOUT = float(os.environ.get("UDP_TIMEOUT", "3"))
GAP = 0.005


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def server(port, ready, vips):
    sel = selectors.DefaultSelector()
    for vip in vips:
        s = socket.socket(family(vip), socket.SOCK_DGRAM)
        s.bind((vip, port))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, vip)
    open(ready, "w").close()
    while True:
        for key, _ in sel.select():
            try:
                data, peer = key.fileobj.recvfrom(2048)
            except BlockingIOError:
                continue
            key.fileobj.sendto(key.data.encode() + b" " + data, peer)


class Client:
    def __init__(self, port):
        self.port = port
        self.socks = {}
        self.seq = 0

    def sock(self, fam):
        if fam not in self.socks:
            s = socket.socket(fam, socket.SOCK_DGRAM)
            s.settimeout(TIMEOUT)
            self.socks[fam] = s
        return self.socks[fam]

    def request(self, rip, dscp, vip):
        """One request; None if good, else why not."""
        fam = family(rip)
        s = self.sock(fam)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, dscp << 2)
        else:
            s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, dscp << 2)
        self.seq += 1
        req = "req %d %s %d" % (self.seq, rip, dscp)
        s.sendto(req.encode(), (rip, self.port))
        deadline = time.monotonic() + TIMEOUT
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return "no reply within %.0fs" % TIMEOUT
            s.settimeout(left)
            try:
                data, peer = s.recvfrom(2048)
            except socket.timeout:
                return "no reply within %.0fs" % TIMEOUT
            text = data.decode(errors="replace")
            if not text.endswith(" " + req):
                continue  # a late reply to an earlier request
            named = text.split(" ", 1)[0]
            if peer[0] != vip or named != vip:
                return "reply from %s naming %s" % (peer[0], named)
            return None


def read_targets(path):
    out = []
    with open(path) as f:
        for line in f:
            p = line.split()
            if p:
                out.append((p[0], int(p[1]), p[2], int(p[3]) if len(p) > 3 else 1))
    return out


def scale(port, path):
    c = Client(port)
    n = {"4": [0, 0, 0], "6": [0, 0, 0]}  # sent, ok, bad
    for rip, dscp, vip, count in read_targets(path):
        f = "6" if ":" in rip else "4"
        for _ in range(count):
            n[f][0] += 1
            why = c.request(rip, dscp, vip)
            if why is None:
                n[f][1] += 1
            else:
                n[f][2] += 1
                print("bad rip=%s dscp=%d want=%s: %s" % (rip, dscp, vip, why), flush=True)
    for f in "46":
        print("ipv%s sent=%d ok=%d bad=%d" % (f, n[f][0], n[f][1], n[f][2]), flush=True)


def loop(port, path, stop, ready):
    c = Client(port)
    targets = read_targets(path)
    per_vip = {t[2]: 0 for t in targets}
    sent = ok = bad = 0
    i = 0
    while not os.path.exists(stop):
        rip, dscp, vip, _ = targets[i % len(targets)]
        i += 1
        sent += 1
        per_vip[vip] += 1
        why = c.request(rip, dscp, vip)
        if why is None:
            ok += 1
            if ok == 1:
                open(ready, "w").close()
        else:
            bad += 1
            print("bad #%d at %.3f rip=%s dscp=%d want=%s: %s" % (sent, time.time(), rip, dscp, vip, why), flush=True)
        time.sleep(GAP)
    print("sent=%d ok=%d bad=%d" % (sent, ok, bad))
    print("per_vip " + " ".join("%s=%d" % kv for kv in per_vip.items()), flush=True)


def main():
    mode = sys.argv[1]
    if mode == "server":
        server(int(sys.argv[2]), sys.argv[3], sys.argv[4:])
    elif mode == "scale":
        scale(int(sys.argv[2]), sys.argv[3])
    elif mode == "loop":
        loop(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5])
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
