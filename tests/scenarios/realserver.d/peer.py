#!/usr/bin/python3
"""Servers and a UDP client for the realserver scenario (one python process per role: python
starts slowly under TCG).

  peer.py serve PORT TOKEN READYFILE VIP...
      On each VIP: a UDP socket on VIP:PORT that answers each datagram from that socket (so
      from the VIP) with "udp token=TOKEN vip=VIP got=<datagram>", and a TCP socket on
      VIP:PORT that answers one HTTP/1.0 request per connection with a page
      "tcp token=TOKEN vip=VIP client=<peer address>". Touches READYFILE once listening.

  peer.py ask VIP PORT DSCP MESSAGE
      Sends MESSAGE to VIP:PORT from a connected UDP socket (which takes datagrams from
      VIP:PORT only) with DSCP in the TOS / traffic class (0: unmarked), prints the answer,
      exits 1 after 5 s without one.
"""
import selectors
import socket
import sys


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def serve(port, token, ready, vips):
    sel = selectors.DefaultSelector()
    for vip in vips:
        u = socket.socket(family(vip), socket.SOCK_DGRAM)
        u.bind((vip, port))
        u.setblocking(False)
        sel.register(u, selectors.EVENT_READ, ("udp", vip))
        t = socket.socket(family(vip), socket.SOCK_STREAM)
        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        t.bind((vip, port))
        t.listen(64)
        t.setblocking(False)
        sel.register(t, selectors.EVENT_READ, ("tcp", vip))
    open(ready, "w").close()
    while True:
        for key, _ in sel.select():
            kind, vip = key.data
            s = key.fileobj
            if kind == "udp":
                data, peer = s.recvfrom(2048)
                s.sendto(f"udp token={token} vip={vip} got={data.decode(errors='replace').strip()}\n".encode(), peer)
                continue
            try:
                c, peer = s.accept()
            except BlockingIOError:
                continue
            c.settimeout(5)
            try:
                req = b""
                while b"\r\n\r\n" not in req and len(req) < 8192:
                    chunk = c.recv(2048)
                    if not chunk:
                        break
                    req += chunk
                body = f"tcp token={token} vip={vip} client={peer[0]}\n"
                c.sendall(f"HTTP/1.0 200 OK\r\nContent-Length: {len(body)}\r\n\r\n{body}".encode())
            except OSError:
                pass
            finally:
                c.close()


def ask(vip, port, dscp, msg):
    s = socket.socket(family(vip), socket.SOCK_DGRAM)
    if dscp:
        if family(vip) == socket.AF_INET:
            s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, dscp << 2)
        else:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, dscp << 2)
    s.connect((vip, port))
    s.settimeout(5)
    s.send(msg.encode())
    try:
        print(s.recv(2048).decode().strip())
    except socket.timeout:
        print(f"no answer from {vip} port {port} within 5s")
        sys.exit(1)


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5:])
    elif sys.argv[1] == "ask":
        ask(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    else:
        sys.exit(f"unknown role {sys.argv[1]}")
