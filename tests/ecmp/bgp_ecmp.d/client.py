#!/usr/bin/env python3
"""Flows with fixed tuples for bgp_ecmp: COUNT connections to VIP:80, flow i from client address
ADDRS[i % len] and port FIRST + i // len, each a GET / whose answer names the real server.
All are opened and answered first, then held open (the server has closed its side; the
directors' IPVS entries stay ESTABLISHED) until the file STOP exists, so that the scenario can
read every director's connection table with all the flows in it; then closed.
Prints "ADDR PORT ANSWER" per flow (ANSWER "error:..." on failure), then "done".
usage: client.py VIP FIRST COUNT STOP ADDR...
"""
import os
import socket
import sys
import time

vip, first, count, stop = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
addrs = sys.argv[5:]
held = []
for i in range(count):
    a, p = addrs[i % len(addrs)], first + i // len(addrs)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.settimeout(10)
    try:
        s.bind((a, p))
        s.connect((vip, 80))
        s.sendall(b"GET / HTTP/1.0\r\nHost: vip\r\n\r\n")
        data = b""
        while True:
            d = s.recv(4096)
            if not d:
                break
            data += d
        head, _, body = data.partition(b"\r\n\r\n")
        ans = body.decode().strip() if head.startswith(b"HTTP/1.0 200") else "error:" + head[:40].decode(errors="replace").replace(" ", "_")
    except OSError as e:
        ans = "error:" + type(e).__name__
    print(a, p, ans, flush=True)
    held.append(s)
print("done", flush=True)
deadline = time.monotonic() + 300
while not os.path.exists(stop) and time.monotonic() < deadline:
    time.sleep(0.1)
for s in held:
    s.close()
