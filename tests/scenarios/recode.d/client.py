#!/usr/bin/env python3
"""The client of the recode scenario: HTTP/1.0 requests to one VIP, one connection each, one
after the other, each result a line of OUT as soon as it is known:
    N ok <the server's answer line>          answered from HOST with the run's TOKEN
    N fail <what went wrong>                 no answer, a wrong status, another source or token
It runs until STOPFILE exists and at least MIN requests were made (with STOPFILE there from the
start: exactly MIN), at most LIMIT seconds, pausing PAUSE seconds between requests, so that it
keeps running while the scenario changes the VIP's code under it.
usage: client.py HOST PORT TOKEN OUT STOPFILE MIN [PAUSE [LIMIT]]
"""
import os
import socket
import sys
import time

host, port, token, out, stop, least = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
pause = float(sys.argv[7]) if len(sys.argv) > 7 else 0.05
limit = float(sys.argv[8]) if len(sys.argv) > 8 else 600
end = time.monotonic() + limit


def request(n):
    with socket.create_connection((host, port), timeout=5) as c:
        c.sendall(b"GET /%d HTTP/1.0\r\nHost: recode\r\n\r\n" % n)
        data = b""
        while True:
            d = c.recv(4096)
            if not d:
                break
            data += d
    head, _, body = data.decode(errors="replace").partition("\r\n\r\n")
    line = body.strip()
    if not head.startswith("HTTP/1.0 200"):
        return False, "status %r" % head.split("\r\n")[0]
    if f" token={token} " not in line or f" local={host} " not in line:
        return False, "answer %r (want token %s, local %s)" % (line, token, host)
    return True, line


with open(out, "w", buffering=1) as f:
    n = 0
    while time.monotonic() < end and not (n >= least and os.path.exists(stop)):
        n += 1
        try:
            ok, what = request(n)
        except OSError as e:
            ok, what = False, "%s: %s" % (type(e).__name__, e)
        f.write("%d %s %s\n" % (n, "ok" if ok else "fail", what))
        time.sleep(pause)
