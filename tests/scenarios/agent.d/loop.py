#!/usr/bin/env python3
"""A client loop: one HTTP/1.0 request per connection to URL every INTERVAL seconds, each with a
TIMEOUT, until the file STOP exists. One line per request to stdout:
    EPOCH ok NAME        (the answer's name=)
    EPOCH fail REASON
usage: loop.py URL STOP [INTERVAL] [TIMEOUT]
"""
import socket
import sys
import time
from urllib.parse import urlparse

url, stop = sys.argv[1], sys.argv[2]
interval = float(sys.argv[3]) if len(sys.argv) > 3 else 0.05
timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 2.0
u = urlparse(url)
host, port = u.hostname, u.port or 80
while True:
    try:
        open(stop).close()
        break
    except OSError:
        pass
    t = time.time()
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(f"GET / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
            data = b""
            while True:
                d = s.recv(4096)
                if not d:
                    break
                data += d
        text = data.decode(errors="replace")
        name = [w[5:] for w in text.split() if w.startswith("name=")]
        if " 200 " in text.split("\r\n")[0] + " " and name:
            print(f"{t:.3f} ok {name[0]}", flush=True)
        else:
            print(f"{t:.3f} fail bad-answer {text[:40]!r}", flush=True)
    except OSError as e:
        print(f"{t:.3f} fail {type(e).__name__}", flush=True)
    time.sleep(max(0.0, interval - (time.time() - t)))
