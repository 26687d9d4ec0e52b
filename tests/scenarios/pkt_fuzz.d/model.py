# model.py: the packet fuzzer's reference model and judge.
#
# parse() reads a packet as the receive path of a forwarding Linux would, and calls it
# well-formed only when it is sure that ip_rcv/ipv6_rcv accept it, forwarding leaves it alone
# and a rewriter can find its whole L4 header: every doubt makes it "malformed", which only widens
# what the judge accepts, so a doubt can never fail a correct rewriter.
#
# judge() sorts what came out of the forwarding path into dropped / unchanged / rewritten and
# says whether that outcome is allowed: for well-formed input exactly one is (DSCP of the rule ->
# rewritten, any other -> unchanged); for malformed input any is, but a rewritten packet must
# still differ from the sent one only in daddr, TTL/hop limit, DSCP (when the rule sets one) and
# checksums, with a valid IPv4 header checksum and an L4 checksum updated incrementally: its
# error (if it was sent bad) is the same after as before.

import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "checksum.d"))
import pktverify as pv  # noqa: E402

P_SCTP, P_AH = 132, 51
# Bytes an L4 header needs before a rewriter may be required to fix it.
L4_MIN = {pv.P_TCP: 20, pv.P_UDP: 8, pv.P_DCCP: 16, pv.P_ICMP: 8, pv.P_ICMPV6: 8, P_SCTP: 12}
# Protocols whose checksum covers a pseudo-header with the destination address.
PSEUDO = (pv.P_TCP, pv.P_UDP, pv.P_DCCP, pv.P_ICMPV6)
# IPv4 options the kernel acts on (and forwarding rewrites): never part of a well-formed packet.
V4_OPTS_ACTED_ON = {7, 68, 130, 131, 133, 134, 136, 137, 148}
V6_EXT = (pv.EXT_HOP, pv.EXT_ROUTING, pv.EXT_FRAG, pv.EXT_DST)


class Info:
    """What the model knows about one sent packet."""

    def __init__(self, raw):
        self.raw = bytes(raw)
        self.ver = raw[0] >> 4 if raw else 0
        self.bad = None        # why the packet is malformed, or None
        self.end = len(raw)    # bytes kept by the receive path (IP total / payload length)
        self.dscp = None
        self.ident = None
        self.proto = None
        self.l4 = None         # offset of the L4 header, when this packet carries it
        self.csum_at = None    # offset of the L4 checksum field, when it is inside the packet
        self.fwd = self.raw    # the packet as forwarding alone would leave it (TTL aside)
        self.more = False      # a first fragment: more of the datagram follows
        self.opts_free = set()  # IPv4 option bytes that forwarding may change


def _malformed(info, why):
    if info.bad is None and why:
        info.bad = why
    return info


def parse(raw):
    info = Info(raw)
    if info.ver == 4 and len(raw) >= 20:
        _parse4(info)
    elif info.ver == 6 and len(raw) >= 40:
        _parse6(info)
    else:
        return _malformed(info, "no IPv4/IPv6 header (version %d, %d bytes)" % (info.ver, len(raw)))
    if info.l4 is not None:
        off = pv.CSUM_OFF.get(info.proto)
        if off is not None and info.l4 + off + 2 <= info.end:
            info.csum_at = info.l4 + off
        _check_l4(info)
    return info


def _parse4(info):
    b = info.raw
    info.dscp = b[1] >> 2
    info.ident = struct.unpack_from("!H", b, 4)[0]
    info.proto = b[9]
    hlen = (b[0] & 15) * 4
    tot = struct.unpack_from("!H", b, 2)[0]
    if hlen < 20 or hlen > len(b):
        return _malformed(info, "IHL %d" % (hlen // 4))
    if tot < hlen or tot > len(b):
        info.end = min(max(tot, hlen), len(b))
        return _malformed(info, "total length %d for a %d-byte header in %d bytes" % (tot, hlen, len(b)))
    info.end = tot
    if pv.ones_residue(b[:hlen]) != 0:
        _malformed(info, "IPv4 header checksum")
    why, eol, acted = _v4_options(b[20:hlen])
    _malformed(info, why)
    if eol is not None:  # ip_options_compile overwrites whatever follows end-of-options with zeros
        info.fwd = b[:20 + eol] + bytes(hlen - 20 - eol) + b[hlen:]
    if acted:  # record route, timestamps...: forwarding writes into the options
        info.opts_free = set(range(20, hlen))
    fo = struct.unpack_from("!H", b, 6)[0]
    if fo & 0x8000:
        _malformed(info, "reserved fragment flag")
    if fo & 0x1FFF == 0:
        info.l4, info.more = hlen, bool(fo & 0x2000)


def _v4_options(opt):
    """(why the options make the packet malformed or None, offset of end-of-options or None,
    whether the walk met an option the kernel acts on), walking them as ip_options_compile."""
    i, why, acted = 0, None, False
    while i < len(opt):
        t = opt[i]
        if t == 0:  # end of list: the kernel overwrites anything after it with zeros
            return why or (any(opt[i:]) and "bytes after the end-of-options option" or None), i, acted
        if t == 1:
            i += 1
            continue
        if t in V4_OPTS_ACTED_ON:
            why, acted = why or "IPv4 option %d" % t, True
        if i + 1 >= len(opt) or opt[i + 1] < 2 or i + opt[i + 1] > len(opt):
            return why or "IPv4 option %d with a bad length" % t, None, acted
        i += opt[i + 1]
    return why, None, acted


def _parse6(info):
    b = info.raw
    info.dscp = (((b[0] & 15) << 4) | (b[1] >> 4)) >> 2
    info.ident = struct.unpack_from("!I", b, 0)[0] & 0xFFFFF
    plen = struct.unpack_from("!H", b, 4)[0]
    if plen == 0 and b[6] == pv.EXT_HOP:
        return _malformed(info, "jumbo payload length 0")
    if 40 + plen > len(b):
        return _malformed(info, "payload length %d in %d bytes" % (plen, len(b)))
    info.end = 40 + plen
    # Walk the chain as ipv6_skip_exthdr does (a rewriter may find the L4 header even in a chain
    # the model calls malformed), noting on the way what makes it malformed.
    nh, off, seen = b[6], 40, []
    while nh in V6_EXT or nh == P_AH:
        if nh == P_AH:
            _malformed(info, "authentication header")
        if nh == pv.EXT_HOP and seen:
            _malformed(info, "hop-by-hop header not first")
        if nh in seen and not (nh == pv.EXT_DST and seen.count(nh) < 2):
            _malformed(info, "next-header loop through %d" % nh)
        seen.append(nh)
        if off + 8 > info.end:
            return _malformed(info, "extension header %d cut at %d" % (nh, off))
        elen = 8 if nh == pv.EXT_FRAG else (b[off + 1] + 2) * 4 if nh == P_AH else (b[off + 1] + 1) * 8
        if off + elen > info.end:
            return _malformed(info, "extension header %d of %d bytes at %d past the end %d" % (nh, elen, off, info.end))
        if nh == pv.EXT_HOP:
            _malformed(info, _hop_options(b[off + 2:off + elen]))
        if nh == pv.EXT_ROUTING and b[off + 3] != 0:
            _malformed(info, "routing header with segments left")
        if nh == pv.EXT_FRAG and struct.unpack_from("!H", b, off + 2)[0] & 0xFFF8:
            info.proto = b[off]
            return info  # a later fragment: no L4 header here
        if nh == pv.EXT_FRAG and b[off + 3] & 1:
            info.more = True
        nh, off = b[off], off + elen
    if nh in (50, 59, 135, 139, 140, 253, 254):  # ESP, none, mobility, HIP, shim6, test
        return _malformed(info, "next header %d" % nh)
    info.proto, info.l4 = nh, off


def _hop_options(opt):
    """Why ipv6_parse_hopopts would drop these options, or None. Only padding and a skippable
    unknown option (type 0x1e) pass; anything else is called malformed."""
    i, pad = 0, 0
    while i < len(opt):
        t = opt[i]
        if t == 0:
            i, pad = i + 1, pad + 1
        elif i + 1 >= len(opt) or i + 2 + opt[i + 1] > len(opt):
            return "hop-by-hop option %d cut" % t
        elif t == 1:
            if any(opt[i + 2:i + 2 + opt[i + 1]]):
                return "PadN with non-zero data"
            pad += 2 + opt[i + 1]
            i += 2 + opt[i + 1]
        elif t == 0x1E:
            i, pad = i + 2 + opt[i + 1], 0
        else:
            return "hop-by-hop option 0x%02x" % t
        if pad > 7:
            return "more than 7 bytes of hop-by-hop padding"
    return None


def _check_l4(info):
    seg = info.raw[info.l4:info.end]
    need = L4_MIN.get(info.proto, 0)
    if len(seg) < need:
        return _malformed(info, "L4 header %d cut at %d of %d bytes" % (info.proto, len(seg), need))
    if info.proto == pv.P_TCP and not 20 <= (seg[12] >> 4) * 4 <= len(seg):
        return _malformed(info, "TCP data offset %d" % (seg[12] >> 4))
    # A first fragment's UDP length is the datagram's, longer than the fragment.
    if info.proto == pv.P_UDP and struct.unpack_from("!H", seg, 4)[0] != len(seg) and not info.more:
        return _malformed(info, "UDP length %d in a %d-byte segment" % (struct.unpack_from("!H", seg, 4)[0], len(seg)))
    if info.proto == pv.P_DCCP and (not seg[8] & 1 or not 16 <= seg[4] * 4 <= len(seg)):
        return _malformed(info, "DCCP header (X=%d, data offset %d)" % (seg[8] & 1, seg[4]))


class Rule:
    """A rewriter's rule for one family: DSCP code -> VIP, optionally setting the DSCP."""

    def __init__(self, ver, code, vip, dscp_set=None):
        self.ver, self.code, self.vip, self.dscp_set = ver, code, bytes(vip), dscp_set


def expected(info, rule):
    """'rewritten' or 'unchanged' for well-formed input, None (any outcome) for malformed."""
    if info.bad is not None:
        return None
    return "rewritten" if info.dscp == rule.code else "unchanged"


def incremental(csum, old, new):
    """The checksum field csum after old (bytes) became new in the summed data: RFC 1624's
    HC' = ~(~HC + ~m + m'), as a residue modulo 0xffff."""
    x = (0xFFFF - csum) % 0xFFFF
    x = (x - pv.ones_residue(old) + pv.ones_residue(new)) % 0xFFFF
    return (0xFFFF - x) % 0xFFFF


def _daddr_at(ver):
    return (16, 20) if ver == 4 else (24, 40)


def judge(sent, got, rule):
    """(outcome, error) for one packet: outcome is dropped / unchanged / rewritten / other,
    error None when the model allows what happened."""
    info = parse(sent)
    want = expected(info, rule)
    if got is None:
        outcome = "dropped"
    else:
        a, z = _daddr_at(info.ver)
        dst = bytes(got[a:z]) if len(got) >= z else b""
        outcome = "rewritten" if dst == rule.vip and sent[a:z] != rule.vip else \
            "unchanged" if dst == bytes(sent[a:z]) else "other"
    if outcome == "other":
        return outcome, "forwarded with destination %s, neither the sent one nor the VIP" % pv.hexaddr(dst)
    if want is not None and outcome != want:
        return outcome, "%s, the model wants it %s (DSCP %d, rule DSCP %d)" % (outcome, want, info.dscp, rule.code)
    if outcome == "dropped":
        return outcome, None
    return outcome, _compare(info, bytes(got), rule, outcome == "rewritten")


def _compare(info, got, rule, rewritten):
    s = info.fwd[:info.end]
    if len(got) != len(s):
        return "%d bytes forwarded, %d sent (after trimming to the IP length)" % (len(got), len(s))
    ver = info.ver
    allowed = ({8, 10, 11} | info.opts_free) if ver == 4 else {7}
    if got[8 if ver == 4 else 7] != s[8 if ver == 4 else 7] - 1:
        return "TTL/hop limit %d -> %d, want one less" % (s[8 if ver == 4 else 7], got[8 if ver == 4 else 7])
    if ver == 4 and pv.ones_residue(got[:(got[0] & 15) * 4]) != 0:
        return "IPv4 header checksum 0x%04x wrong" % struct.unpack_from("!H", got, 10)[0]
    if rewritten:
        a, z = _daddr_at(ver)
        allowed |= set(range(a, z))
        want_dscp = info.dscp if rule.dscp_set is None else rule.dscp_set
        dscp, ecn = _ds(got, ver)
        if dscp != want_dscp or ecn != _ds(s, ver)[1]:
            return "DSCP/ECN %d/%d after the rewrite, want %d/%d" % (dscp, ecn, want_dscp, _ds(s, ver)[1])
        allowed |= {1} if ver == 4 else {0, 1}
        if info.csum_at is not None:
            allowed |= {info.csum_at, info.csum_at + 1}
            why = _l4_after(info, got, s[a:z], rule.vip)
            if why:
                return why
    bad = [i for i in range(len(s)) if s[i] != got[i] and i not in allowed]
    if bad:
        return "bytes changed that must not (offset: sent->forwarded) " + ", ".join(
            "%d: %02x->%02x" % (i, s[i], got[i]) for i in bad[:6])
    return None


def _ds(b, ver):
    ds = b[1] if ver == 4 else ((b[0] & 15) << 4) | (b[1] >> 4)
    return ds >> 2, ds & 3


def _l4_after(info, got, old, new):
    before = struct.unpack_from("!H", info.raw, info.csum_at)[0]
    after = struct.unpack_from("!H", got, info.csum_at)[0]
    if info.proto not in PSEUDO:
        return None if after == before else \
            "L4 checksum of protocol %d 0x%04x -> 0x%04x: it has no pseudo-header, nothing to fix" % (info.proto, before, after)
    if info.proto == pv.P_UDP and before == 0:
        return None if after == 0 else "zero UDP checksum (none) became 0x%04x" % after
    if info.proto == pv.P_UDP and after == 0:
        return "UDP checksum went out as 0 (none); a sum of 0 must be sent as 0xffff"
    want = incremental(before, old, new)
    if (after - want) % 0xFFFF == 0:
        return None
    if info.bad is not None and after == before:
        return None  # a malformed packet's L4 header may be left alone
    return "L4 checksum 0x%04x -> 0x%04x, want 0x%04x (the incremental update for the new daddr)" % (
        before, after, want or 0xFFFF)
