#!/usr/bin/env python3
"""A real server's test service: HTTP/1.0 on TCP and a datagram responder on UDP, bound to the
VIPs given (never the wildcard, so that every answer leaves from the VIP the client asked).

Each answer names this server and counts it, so the scenario can tell which real server IPVS
picked and check the director's per-real counters against what the servers saw:
    l3dsr-director name=NAME token=TOKEN local=ADDR client=ADDR n=COUNT
usage: server.py NAME TOKEN PORT_TCP PORT_UDP VIP...   (counts also go to ./count.NAME)
"""
import os
import socket
import sys
import threading

name, token, tport, uport = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
vips = sys.argv[5:]
lock = threading.Lock()
count = 0


def answer(local, peer, port):
    global count
    with lock:
        count += 1
        n = count
        with open(f"count.{name}.tmp", "w") as f:
            f.write(f"{n}\n")
        os.replace(f"count.{name}.tmp", f"count.{name}")
    return f"l3dsr-director name={name} token={token} local={local} client={peer} cport={port} n={n}\n"


def tcp_conn(c):
    with c:
        c.settimeout(20)
        buf = b""
        while b"\r\n\r\n" not in buf and b"\n\n" not in buf:
            d = c.recv(4096)
            if not d:
                return
            buf += d
        body = answer(c.getsockname()[0], *c.getpeername()[:2]).encode()
        c.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                  + b"Content-Length: %d\r\n\r\n" % len(body) + body)


def tcp_serve(s):
    while True:
        c, _ = s.accept()
        threading.Thread(target=tcp_conn, args=(c,), daemon=True).start()


def udp_serve(s):
    while True:
        data, peer = s.recvfrom(2048)
        s.sendto(answer(s.getsockname()[0], *peer[:2]).encode(), peer)


threads = []
for vip in vips:
    fam = socket.AF_INET6 if ":" in vip else socket.AF_INET
    t = socket.socket(fam, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind((vip, tport))
    t.listen(256)
    u = socket.socket(fam, socket.SOCK_DGRAM)
    u.bind((vip, uport))
    threads += [threading.Thread(target=tcp_serve, args=(t,), daemon=True),
                threading.Thread(target=udp_serve, args=(u,), daemon=True)]
for th in threads:
    th.start()
print(f"{name}: listening on {vips} tcp {tport} udp {uport}", flush=True)
for th in threads:
    th.join()
