# wire.py: the packet-by-packet checksum test of the DADDR rewrite, on a real forwarding path.
#
#   tx --veth-- rw (raw PREROUTING: DSCP n -> daddr VIP; forwards) --veth-- sink
#
# One python process does everything (python starts slowly under TCG): it opens its sockets in
# each namespace (setns), crafts packets with scapy, sends them from tx to rw's address (the RIP)
# with the DSCP code, and captures each one twice with AF_PACKET: on rw's ingress veth (the
# bytes before the rewrite, and the skb's checksum state there from PACKET_AUXDATA) and on
# sink's veth (the bytes on the wire after the rewrite and forwarding). pktverify.py, which
# shares no code with scapy, then judges every packet: new destination, IPv4 header checksum,
# L4 checksum (over the reassembled datagram for fragments), and no byte changed other than
# daddr, TTL/hop limit, the IPv4 header checksum and (where one is due) the L4 checksum.
#
# Three skb states reach rw's PREROUTING here (veth never sets ip_summed itself):
#   none         rw0 with GRO and rx checksumming off: crafted frames stay CHECKSUM_NONE
#   unnecessary  rw0 with GRO on (veth then receives through NAPI/GRO, which validates TCP and
#                UDP checksums and marks the skb CHECKSUM_UNNECESSARY); tx0 without TSO,
#                which veth requires before it takes the GRO path
#   partial      frames sent with a virtio_net_hdr asking for checksum offload
#                (PACKET_VNET_HDR, VIRTIO_NET_HDR_F_NEEDS_CSUM: any L4 protocol), and local
#                TCP/UDP sockets in tx; veth passes CHECKSUM_PARTIAL through. rw1 has tx
#                checksumming off, so rw completes the checksum in software before it leaves.
# The state rw saw is asserted for every packet (TP_STATUS_CSUMNOTREADY = partial,
# TP_STATUS_CSUM_VALID = unnecessary, neither = none).
#
# Output, one line each: "pass CASE", "fail CASE REASON", and "info TEXT". Configuration comes
# from CK_* environment variables set by checksum.sh.

import ctypes
import errno
import os
import select
import socket
import struct
import subprocess
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pktverify as pv  # noqa: E402

T0 = time.monotonic()
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption  # noqa: E402
from scapy.layers.inet6 import (ICMPv6EchoRequest, IPv6, IPv6ExtHdrDestOpt,  # noqa: E402
                                IPv6ExtHdrFragment, IPv6ExtHdrHopByHop, IPv6ExtHdrRouting,
                                HBHOptUnknown, PadN)
from scapy.layers.l2 import Ether  # noqa: E402
from scapy.packet import Raw  # noqa: E402
from scapy.utils import checksum as scapy_checksum  # noqa: E402
T_SCAPY = time.monotonic() - T0

E = os.environ
NS_TX, NS_RW, NS_SINK = E["CK_NS_TX"], E["CK_NS_RW"], E["CK_NS_SINK"]
IF_TX, IF_RWIN, IF_RWOUT, IF_SINK = E["CK_IF_TX"], E["CK_IF_RWIN"], E["CK_IF_RWOUT"], E["CK_IF_SINK"]
MAC_TX, MAC_RWIN = E["CK_MAC_TX"], E["CK_MAC_RWIN"]
TX4, RIP4, VIP4 = E["CK_TX4"], E["CK_RIP4"], E["CK_VIP4"]
TX6, RIP6, VIP6 = E["CK_TX6"], E["CK_RIP6"], E["CK_VIP6"]
DSCP4, DSCP6 = int(E["CK_DSCP4"]), int(E["CK_DSCP6"])
OUT = E.get("CK_OUT", ".")
WAIT = float(E.get("CK_WAIT", "10"))  # seconds for one packet to show up (TCG can be slow)
PHASES = E.get("CK_PHASES", "none,unnecessary,partial").split(",")

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_AUXDATA = 8
PACKET_VNET_HDR = 15
PACKET_OUTGOING = 4
TP_STATUS_CSUMNOTREADY = 1 << 3
TP_STATUS_CSUM_VALID = 1 << 7
VIRTIO_NET_HDR_F_NEEDS_CSUM = 1
CLONE_NEWNET = 0x40000000
MSG_FASTOPEN = 0x20000000

libc = ctypes.CDLL("libc.so.6", use_errno=True)


def out(*a):
    print(*a, flush=True)


def setns(name):
    fd = os.open("/run/netns/" + name, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, "setns %s: %s" % (name, os.strerror(e)))
    finally:
        os.close(fd)


def run(ns, *cmd):
    r = subprocess.run(["ip", "netns", "exec", ns] + list(cmd), capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("`%s` in %s failed (%d): %s" % (" ".join(cmd), ns, r.returncode,
                                                          (r.stderr or r.stdout).strip()))
    return r.stdout


def capsock(ifname):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((ifname, ETH_P_ALL))
    s.setblocking(False)
    return s


# ---------------------------------------------------------------- capture bookkeeping

class Frame:
    def __init__(self, data, status, when):
        self.data = data
        self.status = status
        self.when = when
        self.pkt = None
        if len(data) > 14:
            et = struct.unpack_from("!H", data, 12)[0]
            if et in (0x0800, 0x86DD):
                try:
                    self.pkt = pv.Pkt(data[14:])
                except (ValueError, IndexError, struct.error):
                    self.pkt = None

    def state(self):
        if self.status & TP_STATUS_CSUMNOTREADY:
            return "partial"
        if self.status & TP_STATUS_CSUM_VALID:
            return "unnecessary"
        return "none"


class Cap:
    """An AF_PACKET capture: every incoming frame is kept (pcap) and offered to the waiters."""

    def __init__(self, name, sock):
        self.name, self.sock = name, sock
        self.all = []      # every IP frame seen, in order
        self.pending = []  # frames not claimed by a case yet

    def pump(self, timeout):
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r:
            return False
        while True:
            try:
                data, anc, _flags, addr = self.sock.recvmsg(65535, socket.CMSG_SPACE(32))
            except BlockingIOError:
                return True
            if addr[2] == PACKET_OUTGOING:
                continue
            status = 0
            for lvl, typ, val in anc:
                if lvl == SOL_PACKET and typ == PACKET_AUXDATA:
                    status = struct.unpack_from("I", val, 0)[0]
            f = Frame(data, status, time.time())
            if f.pkt is None:
                continue
            self.all.append(f)
            self.pending.append(f)

    def take(self, pred, n, deadline):
        got = []
        while True:
            keep = []
            for f in self.pending:
                (got if len(got) < n and pred(f.pkt) else keep).append(f)
            self.pending = keep
            if len(got) >= n:
                return got
            left = deadline - time.monotonic()
            if left <= 0:
                return got
            self.pump(left)

    def drain(self, quiet=0.05):
        while self.pump(quiet):
            pass
        self.pending = []

    def write_pcap(self, path, frames=None):
        with open(path, "wb") as fh:
            fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
            for f in (self.all if frames is None else frames):
                sec = int(f.when)
                fh.write(struct.pack("<IIII", sec, int((f.when - sec) * 1e6), len(f.data), len(f.data)))
                fh.write(f.data)


# ---------------------------------------------------------------- crafting (scapy)

# A port no tcpdump decoder claims (7000 would be decoded as AFS RX, for instance).
DPORT = 19999
PAYLOAD = bytes((i * 37 + 11) & 0xFF for i in range(512))


def payload(n, tag):
    return (tag.encode() + b"|" + PAYLOAD)[:n]


def scapy_pseudo_sum(ver, src, dst, proto, length):
    """Folded (not complemented) one's complement sum of the pseudo-header, via scapy."""
    if ver == 4:
        ph = socket.inet_pton(socket.AF_INET, src) + socket.inet_pton(socket.AF_INET, dst) + \
            struct.pack("!BBH", 0, proto, length)
    else:
        ph = socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst) + \
            struct.pack("!IxxxB", length, proto)
    return (~scapy_checksum(ph)) & 0xFFFF


def fold_add(a, b):
    s = a + b
    return (s & 0xFFFF) + (s >> 16)


def udplite_bytes(ver, src, dst, sport, dport, cov, data):
    """A UDP-Lite datagram (RFC 3828) with its checksum computed through scapy's checksum()."""
    hdr = struct.pack("!HHHH", sport, dport, cov, 0)
    seg = hdr + data
    n = len(seg) if cov == 0 else cov
    c = scapy_checksum(pseudo_bytes(ver, src, dst, pv.P_UDPLITE, len(seg)) + seg[:n])
    return seg[:6] + struct.pack("!H", c or 0xFFFF) + seg[8:]


def dccp_bytes(ver, src, dst, sport, dport, cscov, data, seq=0x010203040506):
    """A DCCP-Data packet with 48-bit sequence number (X=1, 16-byte header), RFC 4340."""
    hdr = struct.pack("!HHBBHBB", sport, dport, 4, cscov & 15, 0, (2 << 1) | 1, 0) + \
        seq.to_bytes(6, "big")
    seg = hdr + data
    n = len(seg) if cscov == 0 else min(len(seg), 16 + (cscov - 1) * 4)
    c = scapy_checksum(pseudo_bytes(ver, src, dst, pv.P_DCCP, len(seg)) + seg[:n])
    return seg[:6] + struct.pack("!H", c) + seg[8:]


def pseudo_bytes(ver, src, dst, proto, length):
    if ver == 4:
        return socket.inet_pton(socket.AF_INET, src) + socket.inet_pton(socket.AF_INET, dst) + \
            struct.pack("!BBH", 0, proto, length)
    return socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst) + \
        struct.pack("!IxxxB", length, proto)


def zero_after_rewrite(ver, sport, dport, n, tag, proto=pv.P_UDP):
    """Payload for a UDP (or full-coverage UDP-Lite) datagram whose checksum, once the
    destination is the VIP, computes to 0 (so it must go on the wire as 0xffff). Two payload
    bytes at an even offset are chosen so that the one's complement sum of pseudo-header +
    datagram (checksum field 0) is 0xffff; scapy's checksum() then returns 0."""
    src, vip = (TX4, VIP4) if ver == 4 else (TX6, VIP6)
    data = bytearray(payload(n, tag))
    data[-2:] = b"\0\0"
    if proto == pv.P_UDP:
        seg = struct.pack("!HHHH", sport, dport, 8 + n, 0) + bytes(data)
    else:
        seg = struct.pack("!HHHH", sport, dport, 0, 0) + bytes(data)
    s = (~scapy_checksum(pseudo_bytes(ver, src, vip, proto, len(seg)) + seg)) & 0xFFFF
    w = 0xFFFF - s  # adding w makes the folded sum 0xffff
    data[-2:] = struct.pack("!H", w)
    seg = seg[:8] + bytes(data)
    assert scapy_checksum(pseudo_bytes(ver, src, vip, proto, len(seg)) + seg) == 0
    return bytes(data)


def ip_layer(ver, ident, **kw):
    if ver == 4:
        return IP(src=TX4, dst=RIP4, tos=DSCP4 << 2, id=ident, ttl=64, **kw)
    return IPv6(src=TX6, dst=RIP6, tc=DSCP6 << 2, fl=ident, hlim=64, **kw)


EXT = {
    "hop": lambda: IPv6ExtHdrHopByHop(options=[PadN(optdata=b"\0" * 4)]),
    # Linux refuses more than 7 bytes of padding in a row: a skippable unknown option fills it.
    "dst": lambda: IPv6ExtHdrDestOpt(options=[HBHOptUnknown(otype=0x1E, optdata=b"\xab" * 12)]),
    "rt": lambda: IPv6ExtHdrRouting(type=0, segleft=0, addresses=[]),
    "frag": lambda: IPv6ExtHdrFragment(offset=0, m=0, id=0x1234),
}
EXT_NH = {"hop": 0, "dst": 60, "rt": 43, "frag": 44}


def chain(names, last_nh):
    """IPv6 extension headers in the given order, each pointing at the next."""
    layers = [EXT[n]() for n in names]
    for i, l in enumerate(layers):
        l.nh = EXT_NH[names[i + 1]] if i + 1 < len(names) else last_nh
    out = None
    for l in layers:
        out = l if out is None else out / l
    return out


def l4_for(ver, proto, kind, tag, n=64):
    """(proto number, scapy layer or Raw) for an L4 segment crafted for destination RIP."""
    src, rip = (TX4, RIP4) if ver == 4 else (TX6, RIP6)
    sport, dport = 40000 + (zlib.crc32(tag.encode()) & 0x3FFF), DPORT
    data = payload(n, tag)
    if proto == "tcp":
        flags = "S" if kind == "syn" else "PA"
        tcp = TCP(sport=sport, dport=dport, seq=0x11223344, ack=0x55667788 if flags != "S" else 0,
                  flags=flags, window=8192,
                  options=[("MSS", 1400), ("NOP", None), ("WScale", 7)])
        return pv.P_TCP, (tcp / Raw(data) if flags != "S" else tcp)
    if proto == "udp":
        if kind == "zero":
            return pv.P_UDP, UDP(sport=sport, dport=dport, chksum=0) / Raw(data)
        if kind == "ffff":
            return pv.P_UDP, UDP(sport=sport, dport=dport) / Raw(zero_after_rewrite(ver, sport, dport, n, tag))
        if kind == "odd":
            return pv.P_UDP, UDP(sport=sport, dport=dport) / Raw(payload(n + 1, tag))
        return pv.P_UDP, UDP(sport=sport, dport=dport) / Raw(data)
    if proto == "udplite":
        if kind == "ffff":
            d = zero_after_rewrite(ver, sport, dport, n, tag, pv.P_UDPLITE)
            return pv.P_UDPLITE, Raw(udplite_bytes(ver, src, rip, sport, dport, 0, d))
        cov = {"full": 0, "cov8": 8, "cov20": 20, "covall": 8 + n}[kind]
        return pv.P_UDPLITE, Raw(udplite_bytes(ver, src, rip, sport, dport, cov, data))
    if proto == "dccp":
        cscov = int(kind[5:])
        return pv.P_DCCP, Raw(dccp_bytes(ver, src, rip, sport, dport, cscov, data))
    if proto == "icmp":
        if ver == 4:
            return pv.P_ICMP, ICMP(type=8, id=0x4242, seq=7) / Raw(data)
        return pv.P_ICMPV6, ICMPv6EchoRequest(id=0x4242, seq=7) / Raw(data)
    raise ValueError(proto)


def build(ver, ident, proto, kind, tag, ext=(), n=64, options=None):
    """One unfragmented packet (scapy), L4 checksum computed for destination RIP."""
    pnum, l4 = l4_for(ver, proto, kind, tag, n)
    if ver == 4:
        ip = ip_layer(4, ident, options=options) if options else ip_layer(4, ident)
        ip.proto = pnum
        return ip / l4
    ip = ip_layer(6, ident)
    if ext:
        return ip / chain(list(ext), pnum) / l4
    if isinstance(l4, Raw):
        ip.nh = pnum
    return ip / l4


def fragments(ver, ident, proto, kind, tag, splits, ext=(), n=200):
    """The packet of build() cut into fragments at the given L4 offsets (multiples of 8)."""
    whole = bytes(build(ver, ident, proto, kind, tag, n=n))
    p = pv.Pkt(whole)
    seg, pnum = p.data, p.proto
    cuts = [0] + list(splits) + [len(seg)]
    frames = []
    for i in range(len(cuts) - 1):
        piece, last = seg[cuts[i]:cuts[i + 1]], i == len(cuts) - 2
        if ver == 4:
            f = ip_layer(4, ident, proto=pnum, flags=0 if last else "MF", frag=cuts[i] // 8) / Raw(piece)
        else:
            fh = IPv6ExtHdrFragment(nh=pnum, offset=cuts[i] // 8, m=0 if last else 1, id=0xABC00000 | ident)
            f = ip_layer(6, ident) / (chain(list(ext), 44) / fh if ext else fh) / Raw(piece)
        frames.append(f)
    return frames


def eth(l3):
    return Ether(src=MAC_TX, dst=MAC_RWIN) / l3


def vnet_frame(l3pkt):
    """Frame bytes + virtio_net_hdr asking for checksum offload: the L4 checksum field holds
    the pseudo-header seed, csum_start/csum_offset point at the L4 header and its field."""
    raw = bytearray(bytes(eth(l3pkt)))
    p = pv.Pkt(bytes(raw[14:]))
    at = p.l4_csum_at()
    if p.proto == pv.P_ICMP:
        seed = 0
    else:
        src, dst = (TX4, RIP4) if p.ver == 4 else (TX6, RIP6)
        seed = scapy_pseudo_sum(p.ver, src, dst, p.proto, len(p.data))
    struct.pack_into("!H", raw, 14 + at, seed)
    hdr = struct.pack("<BBHHHH", VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 14 + p.l4, at - p.l4)
    return hdr + bytes(raw), bytes(raw)


# ---------------------------------------------------------------- cases

class Case:
    def __init__(self, name, state, ver, ident=None, frames=None, vnet=False, sock=None,
                 l4change=True, zero=False, ffff=False, sport=None, proto=None):
        self.name, self.state, self.ver = name, state, ver
        self.proto = proto
        self.ident = ident
        self.l3 = frames or []           # scapy L3 packets (crafted cases)
        self.vnet = vnet
        self.sock = sock                 # ("udp"|"tcp") for local socket senders
        self.l4change = l4change
        self.zero, self.ffff = zero, ffff
        self.sport = sport
        self.n = len(self.l3) if self.l3 else 1

    def match(self, p):
        if p.ver != self.ver:
            return False
        src = TX4 if self.ver == 4 else TX6
        if pv.hexaddr(p.src) != src:
            return False
        if self.sock:
            return p.ports() is not None and p.ports()[0] == self.sport and p.proto == (
                pv.P_TCP if self.sock == "tcp" else pv.P_UDP)
        return p.ident == self.ident


PROTO = {(v, n): p for v in (4, 6) for n, p in (("tcp", pv.P_TCP), ("udp", pv.P_UDP),
                                              ("udplite", pv.P_UDPLITE), ("dccp", pv.P_DCCP))}
PROTO[4, "icmp"], PROTO[6, "icmp"] = pv.P_ICMP, pv.P_ICMPV6

_ident = [0x100]


def nid():
    _ident[0] += 1
    return _ident[0]


def crafted(name, state, ver, proto, kind="", ext=(), **kw):
    i = nid()
    pkt = build(ver, i, proto, kind, name, ext=ext, **{k: v for k, v in kw.items() if k in ("n", "options")})
    return Case(name, state, ver, ident=i, frames=[pkt], l4change=not (ver == 4 and proto == "icmp")
                and kind != "zero", zero=(kind == "zero"), ffff=(kind == "ffff"), proto=PROTO[ver, proto])


def fragcase(name, ver, proto, kind, splits, ext=(), n=200, state="none"):
    i = nid()
    return Case(name, state, ver, ident=i, frames=fragments(ver, i, proto, kind, name, splits, ext, n),
                l4change=not (ver == 4 and proto == "icmp"), proto=PROTO[ver, proto])


def per_family(state, rows):
    """crafted cases for IPv4, then IPv6: rows of (name, proto, kind), each name prefixed with
    v4- or v6-; a name may be a pair (IPv4's, IPv6's)."""
    return [crafted("v%d-%s" % (v, n if isinstance(n, str) else n[v == 6]), state, v, proto, kind)
            for v in (4, 6) for n, proto, kind in rows]


def cases_none():
    c = per_family("none", [
        ("tcp", "tcp", "data"), ("tcp-syn", "tcp", "syn"),
        ("udp", "udp", ""), ("udp-odd-length", "udp", "odd"), ("udp-zero-stays-zero", "udp", "zero"),
        ("udp-result0-is-ffff", "udp", "ffff"),
        ("udplite-full", "udplite", "full"), ("udplite-cov8", "udplite", "cov8"),
        ("udplite-cov20", "udplite", "cov20"), ("udplite-result0-is-ffff", "udplite", "ffff"),
        ("dccp-cscov0", "dccp", "cscov0"), ("dccp-cscov1", "dccp", "cscov1"),
        ("dccp-cscov3", "dccp", "cscov3"),
        (("icmp-untouched", "icmpv6"), "icmp", ""),
    ])
    c += [
        # IHL 7: the L4 header is found through the options.
        crafted("v4-options-udp", "none", 4, "udp", options=[IPOption(b"\x01" * 7 + b"\x00")]),
        crafted("v4-options-tcp", "none", 4, "tcp", "data", options=[IPOption(b"\x01" * 3 + b"\x00")]),
        # First fragment: L4 checksum fixed; later ones: address and header checksum only.
        fragcase("v4-frags-udp", 4, "udp", "", [64]),
        fragcase("v4-frags-tcp", 4, "tcp", "data", [32, 96]),
        fragcase("v4-frags-udplite-cov20", 4, "udplite", "cov20", [48]),
        fragcase("v4-frags-dccp", 4, "dccp", "cscov0", [40]),
        fragcase("v4-frags-icmp", 4, "icmp", "", [56]),
        # A later fragment that is as short as a UDP header: nothing there may change.
        fragcase("v4-frags-short-tail", 4, "udp", "", [200]),
    ]
    chains = [("hop",), ("dst",), ("rt",), ("frag",), ("hop", "dst", "rt", "frag", "dst")]
    for ch in chains:
        nm = "v6-" + "-".join(ch) + "-"
        c.append(crafted(nm + "udp", "none", 6, "udp", ext=ch))
    full = ("hop", "dst", "rt", "frag", "dst")
    nm = "v6-" + "-".join(full) + "-"
    c += [
        crafted(nm + "tcp", "none", 6, "tcp", "data", ext=full),
        crafted(nm + "udplite-cov20", "none", 6, "udplite", "cov20", ext=full),
        crafted(nm + "dccp-cscov2", "none", 6, "dccp", "cscov2", ext=full),
        crafted(nm + "icmpv6", "none", 6, "icmp", ext=full),
        crafted("v6-hop-udp-result0-is-ffff", "none", 6, "udp", "ffff", ext=("hop",)),
        fragcase("v6-frags-udp", 6, "udp", "", [64]),
        fragcase("v6-hop-dst-rt-frags-tcp", 6, "tcp", "data", [32, 96], ext=("hop", "dst", "rt")),
        fragcase("v6-frags-icmpv6", 6, "icmp", "", [48]),
        fragcase("v6-frags-dccp-cscov2", 6, "dccp", "cscov2", [40]),
        fragcase("v6-frags-udplite-cov20", 6, "udplite", "cov20", [56]),
        fragcase("v6-frags-short-tail", 6, "udp", "", [200]),
    ]
    return c


def cases_unnecessary():
    c = per_family("unnecessary", [
        ("tcp-unnecessary", "tcp", "data"),
        ("udp-unnecessary", "udp", ""),
        ("udp-result0-is-ffff-unnecessary", "udp", "ffff"),
    ])
    c.append(crafted("v6-dst-udp-unnecessary", "unnecessary", 6, "udp", ext=("dst",)))
    return c


def vnetcase(name, ver, proto, kind="", ext=()):
    cs = crafted(name, "partial", ver, proto, kind, ext=ext)
    cs.vnet = True
    return cs


_sport = [33000]


def sockcase(name, ver, kind):
    _sport[0] += 1
    return Case(name, "partial", ver, sock=kind, sport=_sport[0], proto=PROTO[ver, kind])


def cases_partial():
    c = []
    for v in (4, 6):
        p = "v%d-" % v
        c += [
            vnetcase(p + "tcp-partial", v, "tcp", "data"),
            vnetcase(p + "udp-partial", v, "udp"),
            vnetcase(p + "udp-result0-is-ffff-partial", v, "udp", "ffff"),
            vnetcase(p + "udplite-full-partial", v, "udplite", "full"),
            vnetcase(p + "dccp-cscov0-partial", v, "dccp", "cscov0"),
            vnetcase(p + ("icmp-untouched-partial" if v == 4 else "icmpv6-partial"), v, "icmp"),
            sockcase(p + "udp-socket-partial", v, "udp"),
            sockcase(p + "tcp-socket-partial", v, "tcp"),
        ]
    full = ("hop", "dst", "rt", "frag", "dst")
    c += [
        vnetcase("v6-hop-dst-rt-frag-dst-udp-partial", 6, "udp", ext=full),
        vnetcase("v6-hop-dst-rt-frag-dst-tcp-partial", 6, "tcp", "data", ext=full),
        vnetcase("v6-hop-dst-rt-frag-dst-icmpv6-partial", 6, "icmp", ext=full),
    ]
    for cs in c:
        if cs.ffff:
            cs.l4change = True
    return c


# ---------------------------------------------------------------- checking

def check(cs, sent, rw, sink):
    """Return None if the case holds, else the reason."""
    if len(rw) != cs.n:
        return "rw's ingress saw %d of %d packets" % (len(rw), cs.n)
    if len(sink) != cs.n:
        return "sink saw %d of %d packets (rewritten packets not forwarded?)" % (len(sink), cs.n)
    key = (lambda f: f.pkt.frag_off)
    rw, sink = sorted(rw, key=key), sorted(sink, key=key)
    vip = VIP4 if cs.ver == 4 else VIP6
    rip = RIP4 if cs.ver == 4 else RIP6
    for i, (r, s) in enumerate(zip(rw, sink)):
        where = "packet %d/%d" % (i + 1, cs.n) if cs.n > 1 else "packet"
        if r.state() != cs.state:
            return "%s: skb at rw ingress was CHECKSUM_%s, the case needs CHECKSUM_%s (aux status 0x%x)" % (
                where, r.state().upper(), cs.state.upper(), r.status)
        if s.status & TP_STATUS_CSUMNOTREADY:
            return "%s: sink received a CHECKSUM_PARTIAL skb: the checksum never reached the wire" % where
        if sent is not None and bytes(sent[i]) != r.data:
            d = pv.diff_positions(bytes(sent[i]), r.data)
            return "%s: rw ingress bytes differ from the crafted ones at %s (capture saw the rewrite: data not unshared?)" % (where, d[:8])
        rp, sp = r.pkt, s.pkt
        if rp.proto != cs.proto:
            return "%s: test bug: L4 protocol %d sent, the case wants %d" % (where, rp.proto, cs.proto)
        if pv.hexaddr(rp.dst) != rip:
            return "%s: rw saw destination %s, want the RIP %s" % (where, pv.hexaddr(rp.dst), rip)
        if pv.hexaddr(sp.dst) != vip:
            return "%s: sink got destination %s, want the VIP %s" % (where, pv.hexaddr(sp.dst), vip)
        if sp.ttl != rp.ttl - 1:
            return "%s: TTL/hop limit %d -> %d, want one less" % (where, rp.ttl, sp.ttl)
        if cs.ver == 4 and not pv.ipv4_header_ok(sp):
            return "%s: IPv4 header checksum 0x%04x wrong" % (where, struct.unpack_from("!H", sp.raw, 10)[0])
        a, b = r.data[14:], s.data[14:]
        allowed = pv.allowed_changes(rp, cs.l4change or cs.state == "partial")
        bad = [x for x in pv.diff_positions(a, b) if x not in allowed]
        if bad:
            desc = ", ".join("%s: %s->%s" % (x, "%02x" % a[x] if isinstance(x, int) else "",
                                              "%02x" % b[x] if isinstance(x, int) else "") for x in bad[:6])
            return "%s: bytes changed that must not (offset from IP header: before->after) %s" % (where, desc)
        if sp.proto != cs.proto:
            return "%s: L4 protocol %d at sink (through the extension headers), want %d" % (where, sp.proto, cs.proto)
    # L4 checksum over the whole datagram, before (sanity: crafter and verifier agree) and after.
    r0, s0 = rw[0].pkt, sink[0].pkt
    if cs.n > 1:
        rseg, sseg = pv.reassemble([f.pkt for f in rw]), pv.reassemble([f.pkt for f in sink])
        if isinstance(sseg, str):
            return "sink fragments: " + sseg
    else:
        rseg, sseg = r0.data, s0.data
    if cs.state != "partial":
        ok, why = pv.l4_verdict(cs.ver, r0.src, r0.dst, r0.proto, rseg)
        if not ok:
            return "the packet as sent was already bad (crafter and verifier disagree): " + why
    ok, why = pv.l4_verdict(cs.ver, s0.src, s0.dst, s0.proto, sseg)
    if not ok:
        return "after the rewrite: " + why
    off = pv.CSUM_OFF.get(s0.proto)
    after = struct.unpack_from("!H", sseg, off)[0] if off is not None else None
    before = struct.unpack_from("!H", rseg, off)[0] if off is not None else None
    if cs.zero and after != 0:
        return "zero UDP checksum became 0x%04x, want it left 0" % after
    if cs.ffff and after != 0xFFFF:
        return "checksum that computes to 0 went out as 0x%04x, want 0xffff" % after
    if cs.l4change and cs.state != "partial" and off is not None and before == after:
        return "L4 checksum 0x%04x unchanged although the pseudo-header changed" % after
    return None


def main():
    results = []
    rw_counts = {4: 0, 6: 0}

    def res(name, why):
        results.append((name, why))
        out("pass %s" % name if why is None else "fail %s %s" % (name, why))

    out("info scapy layers imported in %.1fs" % T_SCAPY)
    t1 = time.monotonic()
    all_cases = {"none": cases_none, "unnecessary": cases_unnecessary, "partial": cases_partial}
    phases = [(ph, all_cases[ph]()) for ph in PHASES]
    names = [c.name for _, cs in phases for c in cs]
    assert len(names) == len(set(names)), "duplicate case names"
    if E.get("CK_ONLY"):  # debugging: only the cases whose name matches this regex
        import re
        phases = [(ph, [c for c in cs if re.search(E["CK_ONLY"], c.name)]) for ph, cs in phases]
    out("info %d cases crafted in %.1fs" % (sum(len(c) for _, c in phases), time.monotonic() - t1))

    setns(NS_SINK)
    sinkcap = Cap("sink", capsock(IF_SINK))
    setns(NS_RW)
    rwcap = Cap("rw", capsock(IF_RWIN))
    setns(NS_TX)
    raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    raw.bind((IF_TX, 0))
    vnet = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    vnet.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
    vnet.bind((IF_TX, 0))

    snmp_before = sink_snmp()
    order = []  # (case, sink frames) in the order they were taken, for tcpdump
    t2 = time.monotonic()
    for ph, cases in phases:
        phase_setup(ph)
        time.sleep(0.2)
        rwcap.drain()
        sinkcap.drain()
        for cs in cases:
            sent = None
            try:
                if cs.sock:
                    held = send_sock(cs)
                elif cs.vnet:
                    sent = []
                    for p in cs.l3:
                        v, f = vnet_frame(p)
                        vnet.send(v)
                        sent.append(f)
                else:
                    sent = [bytes(eth(p)) for p in cs.l3]
                    for f in sent:
                        raw.send(f)
            except OSError as e:
                res(cs.name, "sending failed: %s" % e)
                continue
            deadline = time.monotonic() + WAIT
            r = rwcap.take(cs.match, cs.n, deadline)
            s = sinkcap.take(cs.match, cs.n, deadline)
            if cs.sock:
                held.close()
            res(cs.name, check(cs, sent, r, s))
            order.append((cs, s))
    out("info %d packets sent and checked in %.1fs" % (len(results), time.monotonic() - t2))

    # Let stragglers (TCP retransmissions) arrive, then count what rw received with our codes.
    time.sleep(0.5)
    rwcap.drain(0.3)
    sinkcap.drain(0.3)
    for f in rwcap.all:
        p = f.pkt
        if p.ver == 4 and pv.hexaddr(p.dst) == RIP4 and p.dscp == DSCP4:
            rw_counts[4] += 1
        if p.ver == 6 and pv.hexaddr(p.dst) == RIP6 and p.dscp == DSCP6:
            rw_counts[6] += 1
    out("count 4 %d" % rw_counts[4])
    out("count 6 %d" % rw_counts[6])

    sink_kernel(snmp_before, sink_snmp(), sinkcap, res)
    rwcap.write_pcap(os.path.join(OUT, "rw-in.pcap"))
    sinkcap.write_pcap(os.path.join(OUT, "sink.pcap"))
    tcpdump_crosscheck(order, sinkcap, res)


def phase_setup(ph):
    if ph == "none":
        run(NS_RW, "ethtool", "-K", IF_RWIN, "gro", "off", "rx", "off")
        run(NS_TX, "ethtool", "-K", IF_TX, "tso", "on")
    elif ph == "unnecessary":
        run(NS_RW, "ethtool", "-K", IF_RWIN, "gro", "on", "rx", "on")
        run(NS_TX, "ethtool", "-K", IF_TX, "tso", "off")
    elif ph == "partial":
        run(NS_RW, "ethtool", "-K", IF_RWIN, "gro", "off", "rx", "on")
        run(NS_TX, "ethtool", "-K", IF_TX, "tso", "on", "tx", "on")


def send_sock(cs):
    """A datagram, or a TCP Fast Open SYN carrying data, from a local socket in tx (we are in
    tx's namespace): the kernel leaves its checksum to the device, so it leaves CHECKSUM_PARTIAL."""
    fam = socket.AF_INET if cs.ver == 4 else socket.AF_INET6
    rip, src = (RIP4, TX4) if cs.ver == 4 else (RIP6, TX6)
    s = socket.socket(fam, socket.SOCK_DGRAM if cs.sock == "udp" else socket.SOCK_STREAM)
    if cs.ver == 4:
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, DSCP4 << 2)
    else:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, DSCP6 << 2)
    s.bind((src, cs.sport))
    data = payload(77, cs.name)
    if cs.sock == "udp":
        s.sendto(data, (rip, DPORT))
    else:
        s.setblocking(False)
        try:
            s.sendto(data, MSG_FASTOPEN, (rip, DPORT))
        except BlockingIOError:
            pass
        except OSError as e:
            if e.errno != errno.EINPROGRESS:
                raise
    return s


SNMP_FILES = ("/proc/net/snmp", "/proc/net/netstat", "/proc/net/snmp6")


def sink_snmp():
    """{"Udp.InCsumErrors": n, "Udp6InCsumErrors": n, ...} of sink's namespace."""
    vals = {}
    for fn in SNMP_FILES:
        lines = run(NS_SINK, "cat", fn).splitlines()
        if fn.endswith("snmp6"):
            for l in lines:
                k, v = l.split()
                vals[k] = int(v)
            continue
        for h, v in zip(lines[0::2], lines[1::2]):
            hk, vk = h.split(), v.split()
            for k, x in zip(hk[1:], vk[1:]):
                vals[hk[0].rstrip(":") + "." + k] = int(x)
    return vals


def sink_kernel(before, after, sinkcap, res):
    """sink owns the VIPs: its own receive path validates every checksum again (Linux as a third,
    independent verifier). No checksum error may be counted, and each datagram we delivered
    must be counted where a valid one ends up (no socket listens: NoPorts, resets, echo)."""
    d = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    errs = {k: v for k, v in d.items() if "CsumErrors" in k and v}
    ignored = 0
    # A zero UDP checksum is not allowed over IPv6 (RFC 8200 8.1): sink may count it as an error.
    for f in sinkcap.all:
        p = f.pkt
        if p.ver == 6 and p.proto == pv.P_UDP and p.l4_csum() == 0:
            ignored += 1
    if ignored and errs.get("Udp6InCsumErrors", 0) <= ignored:
        errs.pop("Udp6InCsumErrors", None)
    if errs:
        res("sink-kernel-no-csum-errors", "sink's kernel counted checksum errors: %s" % errs)
    else:
        res("sink-kernel-no-csum-errors", None)
    # Datagrams (fragments reassembled) by what sink's kernel does with a valid one.
    want = {"Udp.NoPorts": 0, "Udp6NoPorts": 0, "UdpLite.NoPorts": 0, "UdpLite6NoPorts": 0,
            "Icmp.InEchos": 0, "Icmp6InEchos": 0}
    seen = set()
    for f in sinkcap.all:
        p = f.pkt
        if pv.hexaddr(p.dst) not in (VIP4, VIP6):
            continue
        key = (p.ver, p.frag_id) if p.fragmented else id(f)
        if key in seen:
            continue
        seen.add(key)
        if p.proto == pv.P_UDP and not (p.ver == 6 and p.l4_csum() == 0):
            want["Udp.NoPorts" if p.ver == 4 else "Udp6NoPorts"] += 1
        elif p.proto == pv.P_UDPLITE:
            want["UdpLite.NoPorts" if p.ver == 4 else "UdpLite6NoPorts"] += 1
        elif p.proto == pv.P_ICMP:
            want["Icmp.InEchos"] += 1
        elif p.proto == pv.P_ICMPV6:
            want["Icmp6InEchos"] += 1
    bad = ["%s %d (want %d)" % (k, d.get(k, 0), v) for k, v in want.items() if d.get(k, 0) != v]
    if bad:
        out("info sink counter changes: " + " ".join("%s+%d" % (k, v) for k, v in sorted(d.items()) if v))
    res("sink-kernel-accepted-all", "sink's kernel counters: " + ", ".join(bad) if bad else None)


def tcpdump_verifies(cs, frames):
    """Whether tcpdump 4.99 checks this packet's L4 checksum itself: TCP, UDP, DCCP and ICMPv6
    when unfragmented and, over IPv6, without extension headers (it prints no verdict there)."""
    if len(frames) != 1 or cs.zero:
        return False
    p = frames[0].pkt
    if p.fragmented or p.ext:
        return False
    return p.proto in (pv.P_TCP, pv.P_UDP, pv.P_DCCP, pv.P_ICMPV6)


def tcpdump_crosscheck(order, sinkcap, res):
    """tcpdump -vvv judges TCP, UDP, DCCP, ICMPv6 (and IPv4 header and ICMP) checksums itself:
    nothing we checked may read "bad"/"incorrect"/"wrong" (but the IPv6 UDP zero checksum,
    which IPv6 does not allow and which we leave alone on purpose), and every packet tcpdump
    can verify must read "correct" / "sum ok"."""
    frames = [f for _, fs in order for f in fs]
    path = os.path.join(OUT, "checked.pcap")
    sinkcap.write_pcap(path, frames)
    r = subprocess.run(["tcpdump", "-r", path, "-n", "-t", "-vvv"], capture_output=True, text=True)
    recs = []
    for line in r.stdout.splitlines():
        if line[:1].isspace() and recs:
            recs[-1] += " " + line.strip()
        else:
            recs.append(line)
    if len(recs) != len(frames):
        res("tcpdump-crosscheck", "tcpdump printed %d packets of %d: %s" % (len(recs), len(frames), r.stderr.strip()[:200]))
        return
    bad, good, want = [], 0, 0
    i = 0
    with open(os.path.join(OUT, "tcpdump.txt"), "w") as fh:
        for cs, fs in order:
            mine = recs[i:i + len(fs)]
            i += len(fs)
            for rec in mine:
                fh.write("%s\t%s\n" % (cs.name, rec))
            low = " ".join(mine).lower()
            allowed_bad = cs.zero and cs.ver == 6 and "bad udp cksum 0x0000" in low
            if len(fs) > 1:
                # tcpdump does not reassemble: it judges a fragment's L4 checksum (DCCP) over the
                # fragment alone. Only its verdict on the IPv4 header counts here.
                verdict_bad = ", bad cksum " in low
            else:
                verdict_bad = "bad" in low or "incorrect" in low or "wrong" in low
            if verdict_bad and not allowed_bad:
                bad.append("%s: %s" % (cs.name, " ".join(mine)[:240]))
            elif tcpdump_verifies(cs, fs):
                want += 1
                if "correct)" in low or "sum ok" in low:
                    good += 1
                else:
                    bad.append("%s: no checksum verdict from tcpdump: %s" % (cs.name, " ".join(mine)[:200]))
    out("info tcpdump verified %d of %d packets it can check (%d packets in all)" % (good, want, len(frames)))
    res("tcpdump-crosscheck", "; ".join(bad[:3]) if bad else None)


if __name__ == "__main__":
    main()
