# pktverify: parse and check IPv4/IPv6 packets, with no help from scapy.
#
# The packets under test are crafted with scapy (checksum.d/wire.py); this module is the second,
# independent implementation that judges them. Its Internet checksum does not add 16-bit words
# with carries the way scapy and the kernel do: it reads the whole buffer as one big-endian
# integer and reduces it modulo 0xffff (2**16 == 1 mod 0xffff, so a number is congruent to the
# sum of its 16-bit digits). A one's complement sum is "zero" (0x0000 or 0xffff) exactly when
# that remainder is 0, which is what a valid checksum makes of pseudo-header + covered bytes.

import struct

P_ICMP, P_TCP, P_UDP, P_DCCP, P_ICMPV6, P_UDPLITE = 1, 6, 17, 33, 58, 136
EXT_HOP, EXT_ROUTING, EXT_FRAG, EXT_DST = 0, 43, 44, 60

# Offset of the checksum inside each L4 header we know.
CSUM_OFF = {P_ICMP: 2, P_TCP: 16, P_UDP: 6, P_DCCP: 6, P_ICMPV6: 2, P_UDPLITE: 6}


def ones_residue(data):
    """The one's complement sum of data (16-bit big-endian words, odd tail zero-padded),
    as a residue modulo 0xffff: 0 means the sum is one's complement zero."""
    if len(data) % 2:
        data += b"\0"
    return int.from_bytes(data, "big") % 0xFFFF


class Pkt:
    """One IP packet (bytes from the IP header on), decoded by hand."""

    def __init__(self, l3):
        self.raw = bytes(l3)
        b = self.raw
        self.ver = b[0] >> 4
        self.frag_first = True   # carries the L4 header
        self.fragmented = False  # part of a fragmented datagram
        self.more = False
        self.frag_off = 0        # in bytes
        self.frag_id = None
        self.ext = []            # IPv6 extension header types, in order
        if self.ver == 4:
            ihl = (b[0] & 15) * 4
            self.hlen = ihl
            self.tos = b[1]
            self.dscp = b[1] >> 2
            self.tot = struct.unpack_from("!H", b, 2)[0]
            self.ident = struct.unpack_from("!H", b, 4)[0]
            fo = struct.unpack_from("!H", b, 6)[0]
            self.more = bool(fo & 0x2000)
            self.frag_off = (fo & 0x1FFF) * 8
            self.fragmented = self.more or self.frag_off != 0
            self.frag_first = self.frag_off == 0
            self.frag_id = self.ident
            self.ttl = b[8]
            self.proto = b[9]
            self.src, self.dst = b[12:16], b[16:20]
            self.l4 = ihl
            self.end = self.tot
            self.flow = None
        elif self.ver == 6:
            self.hlen = 40
            self.tos = ((b[0] & 15) << 4) | (b[1] >> 4)
            self.dscp = self.tos >> 2
            self.flow = struct.unpack_from("!I", b, 0)[0] & 0xFFFFF
            self.ident = self.flow
            plen = struct.unpack_from("!H", b, 4)[0]
            self.end = 40 + plen
            self.ttl = b[7]
            self.src, self.dst = b[8:24], b[24:40]
            nh, off = b[6], 40
            # Our own walk of the extension headers (RFC 8200 4.3-4.6).
            while nh in (EXT_HOP, EXT_ROUTING, EXT_FRAG, EXT_DST):
                self.ext.append(nh)
                if nh == EXT_FRAG:
                    fo = struct.unpack_from("!H", b, off + 2)[0]
                    self.frag_off = fo & 0xFFF8
                    self.more = bool(fo & 1)
                    self.frag_id = struct.unpack_from("!I", b, off + 4)[0]
                    self.fragmented = self.more or self.frag_off != 0
                    self.frag_first = self.frag_off == 0
                    self.frag_hdr_at = off
                    nh, off = b[off], off + 8
                    if not self.frag_first:
                        break
                else:
                    nh, off = b[off], off + (b[off + 1] + 1) * 8
            self.proto, self.l4 = nh, off
        else:
            raise ValueError("not IP: version %d" % self.ver)
        self.data = b[self.l4:self.end]  # L4 header + payload of this packet (or fragment)

    def ports(self):
        if self.frag_first and self.proto in (P_TCP, P_UDP, P_UDPLITE, P_DCCP) and len(self.data) >= 4:
            return struct.unpack_from("!HH", self.data, 0)
        return None

    def l4_csum_at(self):
        """Offset (from the IP header) of the L4 checksum, or None (none, or not in this fragment)."""
        off = CSUM_OFF.get(self.proto)
        if off is None or not self.frag_first:
            return None
        return self.l4 + off

    def l4_csum(self):
        at = self.l4_csum_at()
        return None if at is None else struct.unpack_from("!H", self.raw, at)[0]


def ipv4_header_ok(p):
    return ones_residue(p.raw[:p.hlen]) == 0


def pseudo(ver, src, dst, proto, length):
    if ver == 4:
        return src + dst + struct.pack("!BBH", 0, proto, length)
    return src + dst + struct.pack("!IxxxB", length, proto)


def coverage(proto, seg):
    """How many bytes of the L4 segment its checksum covers, or an error string."""
    n = len(seg)
    if proto == P_UDPLITE:
        cov = struct.unpack_from("!H", seg, 4)[0]
        if cov == 0:
            return n
        if cov < 8 or cov > n:
            return "UDP-Lite coverage %d outside 8..%d" % (cov, n)
        return cov
    if proto == P_DCCP:
        doff = seg[4] * 4
        cscov = seg[5] & 15
        if cscov == 0:
            return n
        return min(n, doff + (cscov - 1) * 4)
    return n


def l4_verdict(ver, src, dst, proto, seg):
    """Check the L4 checksum of a whole L4 segment (header + all of its payload).
    Returns (ok, text). A zero UDP checksum over IPv4 means "none" and is reported as such."""
    if proto not in CSUM_OFF:
        return True, "no L4 checksum for protocol %d" % proto
    check = struct.unpack_from("!H", seg, CSUM_OFF[proto])[0]
    if proto == P_UDP and check == 0:
        return True, "UDP checksum absent (0)"
    cov = coverage(proto, seg)
    if isinstance(cov, str):
        return False, cov
    ph = b"" if proto == P_ICMP else pseudo(ver, src, dst, proto, len(seg))
    r = ones_residue(ph + seg[:cov])
    if r != 0:
        return False, "L4 checksum 0x%04x wrong (sum residue 0x%04x over %d covered bytes)" % (check, r, cov)
    return True, "L4 checksum 0x%04x ok" % check


def reassemble(frags):
    """L4 segment (bytes) of a datagram from its fragments (Pkt list), or an error string."""
    frags = sorted(frags, key=lambda f: f.frag_off)
    if not frags or not frags[0].frag_first:
        return "first fragment missing"
    out = b""
    for f in frags:
        if f.frag_off != len(out):
            return "fragment hole or overlap at %d (have %d bytes)" % (f.frag_off, len(out))
        out += f.data
    if frags[-1].more:
        return "last fragment missing"
    return out


def diff_positions(a, b):
    """Offsets at which byte strings a and b differ (and a length mismatch)."""
    d = [i for i in range(min(len(a), len(b))) if a[i] != b[i]]
    if len(a) != len(b):
        d.append("len %d!=%d" % (len(a), len(b)))
    return d


def allowed_changes(p, l4_may_change):
    """Offsets that forwarding plus the rewrite may change in packet p (pre-rewrite layout)."""
    if p.ver == 4:
        s = {8, 10, 11} | set(range(16, 20))
    else:
        s = {7} | set(range(24, 40))
    at = p.l4_csum_at()
    if l4_may_change and at is not None:
        s |= {at, at + 1}
    return s


def hexaddr(b):
    if len(b) == 4:
        return ".".join(str(x) for x in b)
    import ipaddress
    return str(ipaddress.IPv6Address(bytes(b)))
