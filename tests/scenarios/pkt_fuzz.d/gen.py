# gen.py: the packet fuzzer's generator. Packet i of family v under seed s is a function of
# (s, v, i) alone, so PKT_FUZZ_SEED=s replays a run and every rewriter gets the same packets.
#
# Packets are built with struct, not scapy: scapy is far too slow per packet under TCG, and
# malformed headers are easier to write byte by byte than to coax out of its layers. Each packet
# starts well-formed (a TCP, UDP, ICMP, DCCP or SCTP segment, IPv4 options or IPv6 extension
# headers that the kernel accepts, a DSCP code that matches the rule or not) and then gets zero or
# more mutations, named in its description (`desc`), so a failure says what was done to it.

import os
import random
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "checksum.d"))
import pktverify as pv  # noqa: E402
from model import P_SCTP  # noqa: E402

MUTATIONS = ("ihl", "len", "ulen", "trunc", "ext", "frag", "csum", "udp0", "hdrcsum")
# How often each mutation is drawn: most packets get one or two, a fifth none.
WEIGHTS = {"ihl": 3, "len": 3, "ulen": 2, "trunc": 3, "ext": 4, "frag": 3, "csum": 4, "udp0": 1, "hdrcsum": 1}
PROTOS = ("tcp", "udp", "icmp", "dccp", "sctp")
IPV4_UNKNOWN_OPTS = (30, 94, 158)  # experimental/unassigned: the kernel skips them
# The first packets of each family cut every L4 header at every offset, DSCP matching.
SWEEP = [(p, cut) for p, n in (("tcp", 20), ("udp", 8), ("icmp", 8), ("dccp", 16), ("sctp", 12))
         for cut in range(n + 1)]


def csum(data):
    """The Internet checksum of data (0xffff for an all-zero sum)."""
    return 0xFFFF - pv.ones_residue(data) or 0xFFFF


class Fam:
    """Addresses and the rule's code of one family, as packed bytes."""

    def __init__(self, ver, src, dst, code):
        self.ver, self.src, self.dst, self.code = ver, bytes(src), bytes(dst), code


def packet(seed, fam, i):
    """(L3 bytes, description) of packet i."""
    rng = random.Random("%d/%d/%d" % (seed, fam.ver, i))
    muts = [m for m in MUTATIONS if rng.random() < WEIGHTS[m] / 20.0]
    sweep = SWEEP[i] if i < len(SWEEP) else None
    if sweep:
        muts = ["trunc"]
    if fam.ver == 4:
        muts = [m for m in muts if m != "ext"]
    else:
        muts = [m for m in muts if m not in ("ihl", "hdrcsum")]
    desc = []
    dscp = fam.code if rng.random() < 0.6 or sweep else rng.randrange(64)
    ecn = rng.randrange(4)
    proto = sweep[0] if sweep else rng.choice(PROTOS)
    desc.append("%s dscp=%d ecn=%d" % (proto, dscp, ecn))
    pnum, seg = l4(rng, fam, proto, i, "udp0" in muts)
    if "ulen" in muts and pnum == pv.P_UDP:  # a UDP length that disagrees with the IP one
        n = rng.randrange(len(seg) + 24)
        seg = seg[:4] + struct.pack("!H", n) + seg[6:]
        desc.append("ulen=%d/%d" % (n, len(seg)))
    if "csum" in muts:
        seg, how = bad_csum(rng, pnum, seg)
        desc.append("csum=" + how)
    if "trunc" in muts:
        cut = sweep[1] if sweep else rng.randrange(min(len(seg), 24) + 1)
        seg = seg[:cut]
        desc.append("trunc=%d" % cut)
    frag = None
    if "frag" in muts:
        frag, seg, what = fragment(rng, seg)
        desc.append("frag=" + what)
    if fam.ver == 4:
        raw = ip4(rng, fam, i, dscp, ecn, pnum, seg, frag, muts, desc)
    else:
        raw = ip6(rng, fam, i, dscp, ecn, pnum, seg, frag, muts, desc)
    if "len" in muts:
        raw = lengths(rng, fam.ver, raw, desc)
    if fam.ver == 4 and "hdrcsum" not in muts:
        hlen = min((raw[0] & 15) * 4, len(raw))
        raw = raw[:10] + b"\0\0" + raw[12:]
        raw = raw[:10] + struct.pack("!H", csum(raw[:hlen])) + raw[12:]
    elif fam.ver == 4:
        raw = raw[:10] + struct.pack("!H", rng.randrange(0x10000)) + raw[12:]
        desc.append("hdrcsum=garbage")
    return raw, " ".join(desc)


def pseudo(fam, pnum, n):
    if fam.ver == 4:
        return fam.src + fam.dst + struct.pack("!BBH", 0, pnum, n)
    return fam.src + fam.dst + struct.pack("!IxxxB", n, pnum)


def l4(rng, fam, proto, i, udp0):
    """(protocol number, segment) with a valid checksum (UDP: none when udp0)."""
    data = (b"pf%d|" % i + bytes(rng.randrange(256) for _ in range(rng.randrange(48))))[:rng.randrange(4, 52)]
    sport, dport = rng.randrange(1024, 65536), 19999
    if proto == "tcp":
        opts = b"\x01" * 4 * rng.randrange(3)
        hdr = struct.pack("!HHIIBBHHH", sport, dport, rng.getrandbits(32), rng.getrandbits(32),
                          (5 + len(opts) // 4) << 4, rng.choice((0x02, 0x10, 0x18, 0x11)), 8192, 0, 0) + opts
        pnum, at = pv.P_TCP, 16
    elif proto == "udp":
        hdr, pnum, at = struct.pack("!HHHH", sport, dport, 8 + len(data), 0), pv.P_UDP, 6
    elif proto == "icmp":
        typ, pnum = (8, pv.P_ICMP) if fam.ver == 4 else (128, pv.P_ICMPV6)
        hdr, at = struct.pack("!BBHHH", typ, 0, 0, rng.randrange(0x10000), i & 0xFFFF), 2
    elif proto == "dccp":
        # DCCP-Data with a 48-bit sequence number (X=1): a 16-byte header, data offset 4.
        hdr = struct.pack("!HHBBHBB", sport, dport, 4, 0, 0, (2 << 1) | 1, 0) + rng.getrandbits(48).to_bytes(6, "big")
        pnum, at = pv.P_DCCP, 6
    else:
        # SCTP's CRC32c covers no pseudo-header: a rewriter must leave it as it is, so any value does.
        hdr = struct.pack("!HHII", sport, dport, rng.getrandbits(32), rng.getrandbits(32))
        return P_SCTP, hdr + data
    seg = hdr + data
    if pnum == pv.P_UDP and udp0:
        return pnum, seg
    c = csum((b"" if pnum == pv.P_ICMP else pseudo(fam, pnum, len(seg))) + seg)
    return pnum, seg[:at] + struct.pack("!H", c) + seg[at + 2:]


def bad_csum(rng, pnum, seg):
    at = pv.CSUM_OFF.get(pnum, 8 if pnum == P_SCTP else None)
    if at is None or at + 2 > len(seg):
        return seg, "none"
    v, how = (0, "zero") if rng.random() < 0.3 else (rng.randrange(0x10000), "garbage")
    return seg[:at] + struct.pack("!H", v) + seg[at + 2:], how


def fragment(rng, seg):
    """(offset in 8-byte units, more-fragments, piece) of the segment, and what it is."""
    what = rng.choice(("first", "middle", "last", "overlap", "tiny"))
    if what == "first":
        return (0, True), seg[:max(8, len(seg) // 16 * 8)], what
    if what == "tiny":
        return (0, True), seg[:rng.randrange(1, 9)], what
    if what == "overlap":  # starts inside the L4 header of the first fragment
        return (1, rng.random() < 0.5), seg[8:] or b"\0" * 8, what
    off = rng.randrange(1, 64)
    return (off, what == "middle"), seg[(off * 8) % max(len(seg), 1):] or b"\xee" * 8, what


def v4_options(rng, n):
    """n bytes of IPv4 options the kernel skips: NOPs, unknown options, EOL and zeros last."""
    out = b""
    while len(out) < n:
        left = n - len(out)
        r = rng.random()
        if r < 0.4 or left < 2:
            out += b"\x01"
        elif r < 0.8:
            ln = rng.randrange(2, min(left, 8) + 1)
            out += bytes((rng.choice(IPV4_UNKNOWN_OPTS), ln)) + bytes(rng.randrange(256) for _ in range(ln - 2))
        else:
            out += b"\0" * left
    return out


def ip4(rng, fam, i, dscp, ecn, pnum, seg, frag, muts, desc):
    opts = b""
    ihl = 5
    if "ihl" in muts:
        opts = v4_options(rng, 4 * rng.randrange(1, 11))
        ihl = 5 + len(opts) // 4
        if rng.random() < 0.3:  # a header length that does not fit the options or the packet
            ihl = rng.randrange(5, 16)
        desc.append("ihl=%d opts=%d" % (ihl, len(opts)))
    fo = 0
    if frag:
        fo = frag[0] | (0x2000 if frag[1] else 0)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, dscp << 2 | ecn, 20 + len(opts) + len(seg), i & 0xFFFF, fo,
                      64, pnum, 0, fam.src, fam.dst)
    return hdr + opts + seg


EXT_WELL = {
    pv.EXT_HOP: b"\x01\x04\0\0\0\0",                     # PadN of 4
    pv.EXT_DST: b"\x1e\x04\xab\xab\xab\xab",             # a skippable unknown option
    pv.EXT_ROUTING: b"\0\0\0\0\0\0",                     # type 0, no segments left
}


def ip6(rng, fam, i, dscp, ecn, pnum, seg, frag, muts, desc):
    chain = []
    if "ext" in muts or rng.random() < 0.15:
        if rng.random() < 0.4:
            chain.append(pv.EXT_HOP)
        for _ in range(rng.randrange(1, 4)):
            chain.append(rng.choice((pv.EXT_ROUTING, pv.EXT_DST, pv.EXT_FRAG)))
    if frag:
        chain.append(pv.EXT_FRAG)
    hdrs = []
    for k, t in enumerate(chain):
        nh = chain[k + 1] if k + 1 < len(chain) else pnum
        if t == pv.EXT_FRAG:
            last = k == len(chain) - 1 and frag
            fo = (frag[0] << 3 | frag[1]) if last else 0
            hdrs.append(bytearray(struct.pack("!BBHI", nh, 0, fo, 0xF0000000 | i)))
        else:
            hdrs.append(bytearray(bytes((nh, 0)) + EXT_WELL[t]))
    if "ext" in muts and hdrs:
        k = rng.randrange(len(hdrs))
        if rng.random() < 0.5:  # bogus hdr-ext-len
            hdrs[k][1] = rng.randrange(256)
            desc.append("ext-len[%d]=%d" % (k, hdrs[k][1]))
        else:  # next header back to an earlier (or its own) type: a loop
            hdrs[k][0] = chain[rng.randrange(k + 1)]
            desc.append("ext-loop[%d]->%d" % (k, hdrs[k][0]))
    if chain:
        desc.append("ext=" + ",".join(str(t) for t in chain))
    body = b"".join(bytes(h) for h in hdrs) + seg
    first = chain[0] if chain else pnum
    tc = dscp << 2 | ecn
    return struct.pack("!IHBB16s16s", 6 << 28 | tc << 20 | (i & 0xFFFFF), len(body), first, 64,
                       fam.src, fam.dst) + body


def lengths(rng, ver, raw, desc):
    """A total/payload length that is short, long, or right with trailing bytes after it."""
    at, base = (2, 0) if ver == 4 else (4, 40)
    n = struct.unpack_from("!H", raw, at)[0]
    how = rng.choice(("short", "long", "trailer"))
    if how == "trailer":
        raw += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 32)))
    else:
        n = rng.randrange(0, n) if how == "short" and n else n + rng.randrange(1, 200)
        raw = raw[:at] + struct.pack("!H", n) + raw[at + 2:]
    desc.append("len=%s:%d/%d" % (how, n, len(raw) - base))
    return raw
