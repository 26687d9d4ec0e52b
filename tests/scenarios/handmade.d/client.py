#!/usr/bin/env python3
"""The client of the handmade scenario: one request after the other to every target, round after
round, each result a line of OUT as soon as it is known:
    N PROTO HOST ok <the server's answer line>
    N PROTO HOST fail <what went wrong>
A TCP request is an HTTP GET on a connection of its own; a UDP one is a datagram on a socket
connected to HOST, so that only an answer from HOST is taken. An answer must name HOST (local=)
and the run's TOKEN. It runs until STOPFILE exists (the round in progress is finished), at most
LIMIT seconds, pausing PAUSE seconds between rounds.
usage: client.py TOKEN OUT STOPFILE PAUSE LIMIT PROTO:HOST:PORT...   (IPv6 HOST in brackets)
"""
import http.client
import os
import socket
import sys
import time

token, out, stop, pause, limit = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
targets = []
for t in sys.argv[6:]:
    proto, rest = t.split(":", 1)
    host, port = rest.rsplit(":", 1)
    targets.append((proto, host.strip("[]"), int(port)))
end = time.monotonic() + limit


def check(host, line):
    if f" token={token} " not in line or f" local={host} " not in line:
        return False, "answer %r (want token %s, local %s)" % (line, token, host)
    return True, line


def tcp(host, port, n):
    c = http.client.HTTPConnection(host, port, timeout=5)
    try:
        c.request("GET", "/%d" % n, headers={"Host": "handmade"})
        r = c.getresponse()
        body = r.read().decode(errors="replace").strip()
    finally:
        c.close()
    if r.status != 200:
        return False, "status %d %s" % (r.status, r.reason)
    return check(host, body)


def udp(host, port, n):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.connect((host, port))
        s.send(b"ping %d\n" % n)
        return check(host, s.recv(2048).decode(errors="replace").strip())


with open(out, "w", buffering=1) as f:
    n = 0
    while time.monotonic() < end and not os.path.exists(stop):
        for proto, host, port in targets:
            n += 1
            try:
                ok, what = (tcp if proto == "tcp" else udp)(host, port, n)
            except OSError as e:
                ok, what = False, "%s: %s" % (type(e).__name__, e)
            f.write("%d %s %s %s %s\n" % (n, proto, host, "ok" if ok else "fail", what))
        time.sleep(pause)
