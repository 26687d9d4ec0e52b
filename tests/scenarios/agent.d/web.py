#!/usr/bin/env python3
"""A real server's web service for the agent scenario, on the wildcard address (so that it answers
on every VIP the host holds, and on its own address for the plain checks).

    GET /          200 "name=NAME port=PORT local=ADDR n=COUNT"
    GET /health    200 "ok", not counted (the agent's checks)
    GET /slow?s=N  200, the body trickled over N seconds (a long download, for drain)
Each request is counted in ./count.NAME.PORT (atomically replaced).
usage: web.py NAME PORT
"""
import http.server
import os
import socket
import socketserver
import sys
import threading
import time
from urllib.parse import parse_qs, urlparse

name, port = sys.argv[1], int(sys.argv[2])
lock = threading.Lock()
# A server started again goes on counting where the last one stopped.
try:
    with open(f"count.{name}.{port}") as f:
        count = int(f.read())
except OSError:
    count = 0


def bump():
    global count
    with lock:
        count += 1
        f = f"count.{name}.{port}"
        with open(f + ".tmp", "w") as out:
            out.write(f"{count}\n")
        os.replace(f + ".tmp", f)
        return count


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        u = urlparse(self.path)
        if u.path == "/health":
            self.send_response(200)
            self.send_header("Content-Length", "3")
            self.end_headers()
            self.wfile.write(b"ok\n")
            return
        n = bump()
        if u.path == "/slow":
            secs = float(parse_qs(u.query).get("s", ["5"])[0])
            self.send_response(200)
            self.send_header("Content-Length", str(int(secs * 10) * 10))
            self.end_headers()
            for _ in range(int(secs * 10)):
                self.wfile.write(b"x" * 9 + b"\n")
                self.wfile.flush()
                time.sleep(0.1)
            return
        body = f"name={name} port={port} local={self.connection.getsockname()[0]} n={n}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


class Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True
    allow_reuse_address = True

    def server_bind(self):
        # Not HTTPServer's: it looks the host up (getfqdn), which waits for
        # a DNS server that the VM does not have.
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "web", port


Server(("::", port), Handler).serve_forever()
