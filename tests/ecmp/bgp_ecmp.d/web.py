#!/usr/bin/env python3
"""A real server's web service for bgp_ecmp, bound to the VIP only: a request that did not come
along the L3 DSR path (rewritten to the VIP by xt_DADDR) finds no socket.

    GET /health                200 "ok" (the directors' checks)
    GET /                      200 "NAME\n"
    GET /big?n=BYTES&rate=R    200, BYTES bytes, paced at R bytes/s (0 or absent: as fast as TCP
                               goes). The server paces: curl --limit-rate only paces its reads,
                               and the kernel's buffers would let the sender run ahead.
Prints "listening" once bound.
usage: web.py NAME VIP PORT
"""
import http.server
import socket
import socketserver
import sys
import time
from urllib.parse import parse_qs, urlparse

name, vip, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
CHUNK = 16384


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        u = urlparse(self.path)
        if u.path == "/big":
            q = parse_qs(u.query)
            n = int(q.get("n", ["0"])[0])
            rate = float(q.get("rate", ["0"])[0])
            self.send_response(200)
            self.send_header("Content-Length", str(n))
            self.end_headers()
            start, sent, block = time.monotonic(), 0, b"x" * CHUNK
            while sent < n:
                k = min(CHUNK, n - sent)
                self.wfile.write(block[:k])
                sent += k
                if rate > 0:
                    ahead = start + sent / rate - time.monotonic()
                    if ahead > 0:
                        time.sleep(ahead)
            return
        body = b"ok\n" if u.path == "/health" else f"{name}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def server_bind(self):
        # Not HTTPServer's: it looks the host up (getfqdn), and the VM has no DNS server.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "web", port


srv = Server((vip, port), Handler)
print("listening", flush=True)
srv.serve_forever()
