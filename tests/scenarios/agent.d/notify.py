#!/usr/bin/env python3
"""A service manager's end of sd_notify: receives datagrams on the unix socket PATH and writes each
state line with the time it came, as "EPOCH STATE" to stdout (flushed), until killed.
usage: notify.py PATH
"""
import socket
import sys
import time

s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
while True:
    msg = s.recv(4096).decode(errors="replace")
    for line in msg.split("\n"):
        if line:
            print(f"{time.time():.3f} {line}", flush=True)
