#!/usr/bin/env python3
"""HTTP/1.0 "200 ok" on every port from FIRST to LAST (wildcard, dual stack), one asyncio loop:
the real server of the agent's scale bench.
usage: many.py FIRST LAST
"""
import asyncio
import socket
import sys

BODY = b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n"


async def handle(r, w):
    try:
        await r.readuntil(b"\r\n\r\n")
        w.write(BODY)
        await w.drain()
    except Exception:
        pass
    finally:
        w.close()


async def main(first, last):
    servers = []
    for p in range(first, last + 1):
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind(("::", p))
        servers.append(await asyncio.start_server(handle, sock=s, backlog=128))
    await asyncio.Event().wait()


asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
