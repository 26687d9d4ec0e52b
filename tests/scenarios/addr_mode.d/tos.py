#!/usr/bin/env python3
"""The addr-mode scenario's traffic: a server that reports the DSCP and ECN bits its socket saw,
its clients, and a sprayer for the table's scale cases.

  tos.py NAME TOKEN VIP...           (NAME not a command below: as rs_servers_start runs it) TCP 80 (one line per connection) and UDP 7 on each VIP (never
                                     the wildcard, so every answer leaves from the VIP asked).
                                     UDP answers carry the TOS/traffic class of the datagram as the
                                     socket received it (IP_RECVTOS / IPV6_RECVTCLASS):
                                       l3dsr-addr name=NAME token=TOKEN local=VIP tos=0xNN
  tos.py udp HOST TOS N              N datagrams sent with TOS (IP_TOS / IPV6_TCLASS), one at a
                                     time, each answer printed as "from=ADDR <answer>"; a missing
                                     answer prints "timeout"
  tos.py tcp HOST TOS                one TCP connection to HOST:80 with TOS; prints
                                     "from=ADDR <answer>"
  tos.py spray FILE TOS N            N datagrams to port 9 of each address in FILE (one per line),
                                     with TOS; prints the number sent
"""
import socket
import sys
import threading


def fam(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def set_tos(s, af, tos):
    if af == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, tos)
    else:
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, tos)


def serve(name, token, vips):
    def tcp(s):
        while True:
            c, _ = s.accept()
            with c:
                c.settimeout(10)
                try:
                    c.recv(1024)
                    c.sendall(f"l3dsr-addr name={name} token={token} local={c.getsockname()[0]} tcp\n".encode())
                except OSError:
                    pass

    def udp(s, af):
        if af == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVTCLASS, 1)
            want = (socket.IPPROTO_IPV6, socket.IPV6_TCLASS)
        else:
            s.setsockopt(socket.IPPROTO_IP, socket.IP_RECVTOS, 1)
            want = (socket.IPPROTO_IP, socket.IP_TOS)
        while True:
            data, anc, _, peer = s.recvmsg(2048, 64)
            tos = -1
            for level, typ, val in anc:
                if (level, typ) == want:
                    tos = int.from_bytes(val[:4] if af == socket.AF_INET6 else val[:1], sys.byteorder)
            s.sendto(f"l3dsr-addr name={name} token={token} local={s.getsockname()[0]} tos={tos:#04x}\n".encode(), peer)

    threads = []
    for vip in vips:
        af = fam(vip)
        t = socket.socket(af, socket.SOCK_STREAM)
        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        t.bind((vip, 80))
        t.listen(64)
        u = socket.socket(af, socket.SOCK_DGRAM)
        u.bind((vip, 7))
        threads += [threading.Thread(target=tcp, args=(t,), daemon=True),
                    threading.Thread(target=udp, args=(u, af), daemon=True)]
    for th in threads:
        th.start()
    print(f"{name}: listening on {vips}", flush=True)
    for th in threads:
        th.join()


def udp_client(host, tos, n):
    af = fam(host)
    s = socket.socket(af, socket.SOCK_DGRAM)
    set_tos(s, af, tos)
    s.settimeout(3)
    for i in range(n):
        s.sendto(b"ping %d\n" % i, (host, 7))
        try:
            data, peer = s.recvfrom(2048)
            print(f"from={peer[0]} {data.decode().strip()}", flush=True)
        except socket.timeout:
            print("timeout", flush=True)


def tcp_client(host, tos):
    af = fam(host)
    s = socket.socket(af, socket.SOCK_STREAM)
    set_tos(s, af, tos)
    s.settimeout(5)
    try:
        s.connect((host, 80))
        s.sendall(b"hello\n")
        data = s.recv(2048)
        print(f"from={s.getpeername()[0]} {data.decode().strip()}")
    except OSError as e:
        print(f"error {e}")


def spray(path, tos, n):
    with open(path) as f:
        addrs = [l.strip() for l in f if l.strip()]
    socks = {}
    sent = 0
    for _ in range(n):
        for a in addrs:
            af = fam(a)
            if af not in socks:
                socks[af] = socket.socket(af, socket.SOCK_DGRAM)
                set_tos(socks[af], af, tos)
            socks[af].sendto(b"x", (a, 9))
            sent += 1
    print(sent)


cmd = sys.argv[1]
if cmd == "udp":
    udp_client(sys.argv[2], int(sys.argv[3], 0), int(sys.argv[4]))
elif cmd == "tcp":
    tcp_client(sys.argv[2], int(sys.argv[3], 0))
elif cmd == "spray":
    spray(sys.argv[2], int(sys.argv[3], 0), int(sys.argv[4]))
else:
    serve(sys.argv[1], sys.argv[2], sys.argv[3:])
