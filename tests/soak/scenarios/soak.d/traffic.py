#!/usr/bin/env python3
"""The soak test's traffic (tests/soak/scenarios/soak.sh): one process, not a curl loop, because
under TCG every process start costs a second.

  traffic.py server VIP TOKEN
      TCP on VIP:80 (a line in, "pong LINE TOKEN" out, per connection, threaded) and UDP on
      VIP:7 (each datagram answered the same way); prints "listening" once both are bound.
  traffic.py client VIP TOKEN STATE PAUSE STOP [GAP_S]
      alternates a TCP exchange (a new connection each time) and a UDP exchange (one socket,
      made again after an error), each with a 3 s limit, GAP_S (0.05) apart; an answer counts
      only if it carries the token and the request's sequence number. Writes
      "tcp_ok=N tcp_err=N udp_ok=N udp_err=N grace_err=N last_error=TEXT" to STATE every second
      and at the end. While the file PAUSE exists it sends nothing (and creates PAUSE.ack
      once the exchange under way is over): the module is being reloaded. Errors in the 3 s after
      a pause count as grace_err, not as errors. Ends when STOP exists.

The client closes TCP with a reset (SO_LINGER 0): no TIME_WAIT socket, and IPVS drops the flow
after 10 s instead of 2 minutes, so the director's memory reaches its steady state within the
warm-up even of a short run. The UDP socket keeps its port for the same reason.
"""

import os
import socket
import socketserver
import struct
import sys
import threading
import time

TCP_PORT, UDP_PORT, LIMIT_S, GRACE_S = 80, 7, 3.0, 3.0


def serve(vip, token):
    class TCP(socketserver.StreamRequestHandler):
        def handle(self):
            line = self.rfile.readline(200).strip()
            self.wfile.write(b"pong " + line + b" " + token + b"\n")

    socketserver.ThreadingTCPServer.allow_reuse_address = True
    socketserver.ThreadingTCPServer.daemon_threads = True
    tcp = socketserver.ThreadingTCPServer((vip, TCP_PORT), TCP)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((vip, UDP_PORT))
    threading.Thread(target=tcp.serve_forever, daemon=True).start()
    print("listening", flush=True)
    while True:
        data, peer = udp.recvfrom(512)
        udp.sendto(b"pong " + data.strip() + b" " + token + b"\n", peer)


class Client:
    def __init__(self, vip, token, state):
        self.vip, self.token, self.state = vip, token, state
        self.n = {"tcp_ok": 0, "tcp_err": 0, "udp_ok": 0, "udp_err": 0, "grace_err": 0}
        self.last_error = "none"
        self.grace_until = 0.0
        self.seq = 0
        self.udp = None

    def want(self):
        return b"pong " + str(self.seq).encode() + b" " + self.token

    def tcp_once(self):
        with socket.create_connection((self.vip, TCP_PORT), timeout=LIMIT_S) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.sendall(str(self.seq).encode() + b"\n")
            got = b""
            while not got.endswith(b"\n"):
                chunk = s.recv(512)
                if not chunk:
                    break
                got += chunk
        if got.strip() != self.want():
            raise OSError(f"tcp answer {got!r}")

    def udp_once(self):
        if self.udp is None:
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.udp.settimeout(LIMIT_S)
            self.udp.connect((self.vip, UDP_PORT))
        self.udp.send(str(self.seq).encode() + b"\n")
        while True:
            got = self.udp.recv(512).strip()
            # A late answer to an earlier datagram: read on.
            if got == self.want():
                return

    def once(self, kind):
        self.seq += 1
        try:
            (self.tcp_once if kind == "tcp" else self.udp_once)()
            self.n[kind + "_ok"] += 1
        except OSError as e:
            if kind == "udp" and self.udp is not None:
                self.udp.close()
                self.udp = None
            self.last_error = f"{kind} #{self.seq}: {e}".replace("\n", " ")
            self.n["grace_err" if time.monotonic() < self.grace_until else kind + "_err"] += 1

    def write(self):
        text = " ".join(f"{k}={v}" for k, v in self.n.items()) + f" last_error={self.last_error}\n"
        tmp = self.state + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, self.state)


def client(vip, token, state, pause, stop, gap):
    c = Client(vip, token, state)
    last = 0.0
    kinds = ("tcp", "udp")
    i = 0
    while not os.path.exists(stop):
        if os.path.exists(pause):
            c.write()
            open(pause + ".ack", "w").close()
            while os.path.exists(pause) and not os.path.exists(stop):
                time.sleep(0.2)
            os.unlink(pause + ".ack")
            c.grace_until = time.monotonic() + GRACE_S
            continue
        c.once(kinds[i % 2])
        i += 1
        if time.monotonic() - last >= 1:
            c.write()
            last = time.monotonic()
        time.sleep(gap)
    c.write()


def main(argv):
    if len(argv) == 3 and argv[0] == "server":
        serve(argv[1], argv[2].encode())
    elif len(argv) in (6, 7) and argv[0] == "client":
        client(argv[1], argv[2].encode(), argv[3], argv[4], argv[5],
               float(argv[6]) if len(argv) == 7 else 0.05)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
