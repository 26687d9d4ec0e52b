# Host tests of the packet fuzzer's generator and judge: a reference rewriter written here (a
# forwarding Linux plus a correct incremental rewrite) must pass every generated packet, and each
# way of getting a rewrite wrong must be caught.
#   python3 -m unittest discover -s tests/scenarios/pkt_fuzz.d -p 'test_*.py'

import os
import socket
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen  # noqa: E402
import model  # noqa: E402
from model import pv  # noqa: E402

A4 = lambda s: socket.inet_pton(socket.AF_INET, s)  # noqa: E731
A6 = lambda s: socket.inet_pton(socket.AF_INET6, s)  # noqa: E731
FAM = {4: gen.Fam(4, A4("10.11.0.1"), A4("10.13.0.9"), 10), 6: gen.Fam(6, A6("fd00:11::1"), A6("fd00:13::9"), 12)}
P_ICMP = {4: pv.P_ICMP, 6: pv.P_ICMPV6}
VIP = {4: A4("192.0.2.77"), 6: A6("2001:db8:77::a")}


def put16(b, at, v):
    return b[:at] + struct.pack("!H", v) + b[at + 2:]


def forward(raw, rule, l4fix=True, dscp_fix=True):
    """What a forwarding kernel with a correct rewriter sends on, or None when it drops."""
    info = model.parse(raw)
    if info.bad is not None and info.ver == 4 and info.l4 is None:
        return None
    b = info.fwd[:info.end]
    v = info.ver
    if info.dscp == rule.code:
        a, z = (16, 20) if v == 4 else (24, 40)
        if l4fix and info.csum_at is not None and info.proto in model.PSEUDO:
            c = struct.unpack_from("!H", b, info.csum_at)[0]
            if not (info.proto == pv.P_UDP and c == 0):
                n = model.incremental(c, b[a:z], rule.vip)
                b = put16(b, info.csum_at, n or (0xFFFF if info.proto == pv.P_UDP else 0))
        b = b[:a] + rule.vip + b[z:]
        if rule.dscp_set is not None and dscp_fix:
            if v == 4:
                b = b[:1] + bytes((rule.dscp_set << 2 | b[1] & 3,)) + b[2:]
            else:
                w = struct.unpack_from("!I", b, 0)[0] & ~(0x3F << 22) | rule.dscp_set << 22
                b = struct.pack("!I", w) + b[4:]
    ttl = 8 if v == 4 else 7
    b = b[:ttl] + bytes((b[ttl] - 1,)) + b[ttl + 1:]
    if v == 4:
        hlen = (b[0] & 15) * 4
        b = put16(b, 10, 0)
        b = put16(b, 10, gen.csum(b[:hlen]))
    return b


def rule(v, dscp_set=None):
    return model.Rule(v, FAM[v].code, VIP[v], dscp_set)


def first_packet(v, pred, limit=5000):
    for i in range(limit):
        raw, desc = gen.packet(1, FAM[v], i)
        info = model.parse(raw)
        if pred(info, desc):
            return raw
    raise AssertionError("no such packet in %d" % limit)


def matching(proto, word="", malformed=False):
    def pred(info, desc):
        return info.proto == proto and info.csum_at is not None and info.dscp == FAM[info.ver].code and \
            (info.bad is not None) == malformed and word in desc
    return pred


class ReferenceRewriter(unittest.TestCase):
    def test_every_packet_judged_right(self):
        for v in (4, 6):
            for ds in (None, 0):
                r = rule(v, ds)
                outcomes = {}
                for i in range(1500):
                    raw, desc = gen.packet(3, FAM[v], i)
                    outcome, why = model.judge(raw, forward(raw, r), r)
                    self.assertIsNone(why, "v%d packet %d (%s)" % (v, i, desc))
                    outcomes[outcome] = outcomes.get(outcome, 0) + 1
                self.assertGreater(outcomes.get("rewritten", 0), 500, outcomes)
                self.assertGreater(outcomes.get("unchanged", 0), 300, outcomes)

    def test_replay_is_deterministic(self):
        self.assertEqual(gen.packet(9, FAM[6], 41), gen.packet(9, FAM[6], 41))
        self.assertNotEqual(gen.packet(9, FAM[6], 41)[0], gen.packet(10, FAM[6], 41)[0])

    def test_sweep_cuts_every_header_at_every_offset(self):
        for v in (4, 6):
            cuts = set()
            for i in range(len(gen.SWEEP)):
                raw, desc = gen.packet(2, FAM[v], i)
                info = model.parse(raw)
                self.assertEqual(info.dscp, FAM[v].code, desc)
                cuts.add((info.proto, info.end - info.l4))
            self.assertEqual(len(cuts), len(gen.SWEEP))
            self.assertEqual({p for p, _ in cuts}, {pv.P_TCP, pv.P_UDP, pv.P_DCCP, P_ICMP[v], model.P_SCTP})
            for p, _ in cuts:
                self.assertEqual({n for q, n in cuts if q == p}, set(range(model.L4_MIN[p] + 1)))

    def test_mutations_all_drawn(self):
        seen = " ".join(gen.packet(5, FAM[v], i)[1] for v in (4, 6) for i in range(800))
        for word in ("ihl=", "len=short", "len=long", "len=trailer", "trunc=", "ext-len", "ext-loop", "ulen=",
                     "frag=first", "frag=middle", "frag=last", "frag=overlap", "frag=tiny", "csum=zero",
                     "csum=garbage", "hdrcsum=garbage", "sctp", "dccp", "icmp"):
            self.assertIn(word, seen)


class JudgeCatches(unittest.TestCase):
    def test_well_formed_dropped(self):
        raw = first_packet(4, matching(pv.P_TCP))
        outcome, why = model.judge(raw, None, rule(4))
        self.assertEqual(outcome, "dropped")
        self.assertIn("the model wants it rewritten", why)

    def test_l4_checksum_not_fixed(self):
        for v in (4, 6):
            raw = first_packet(v, matching(pv.P_TCP))
            _, why = model.judge(raw, forward(raw, rule(v), l4fix=False), rule(v))
            self.assertIn("incremental update", why)

    def test_bad_checksum_repaired_instead_of_kept_bad(self):
        raw = first_packet(6, matching(pv.P_UDP, "csum=garbage"))
        good = forward(raw, rule(6))
        info = model.parse(raw)
        seg = good[info.l4:]
        fixed = put16(good, info.csum_at, 0)
        fixed = put16(fixed, info.csum_at, gen.csum(gen.pseudo(gen.Fam(6, good[8:24], good[24:40], 0), 17, len(seg)) +
                                                   fixed[info.l4:]))
        self.assertIsNone(model.judge(raw, good, rule(6))[1])
        self.assertIn("incremental update", model.judge(raw, fixed, rule(6))[1])

    def test_udp_zero_checksum(self):
        raw = first_packet(4, lambda i, d: i.proto == pv.P_UDP and i.bad is None and i.dscp == 10 and
                           i.csum_at is not None and struct.unpack_from("!H", i.raw, i.csum_at)[0] == 0)
        got = forward(raw, rule(4))
        self.assertIsNone(model.judge(raw, got, rule(4))[1])
        info = model.parse(raw)
        got = put16(got, info.csum_at, 0x1234)
        self.assertIn("zero UDP checksum", model.judge(raw, got, rule(4))[1])

    def test_rewritten_without_matching_dscp(self):
        raw = first_packet(6, lambda i, d: i.bad is None and i.dscp != 12)
        got = forward(raw, model.Rule(6, model.parse(raw).dscp, VIP[6]))
        outcome, why = model.judge(raw, got, rule(6))
        self.assertEqual(outcome, "rewritten")
        self.assertIn("the model wants it unchanged", why)

    def test_dscp_not_set(self):
        raw = first_packet(4, lambda i, d: i.bad is None and i.dscp == 10)
        _, why = model.judge(raw, forward(raw, rule(4, 0), dscp_fix=False), rule(4, 0))
        self.assertIn("DSCP/ECN 10/", why)

    def test_other_byte_changed(self):
        raw = first_packet(6, matching(pv.P_TCP))
        got = forward(raw, rule(6))
        got = got[:-1] + bytes((got[-1] ^ 0x40,))
        _, why = model.judge(raw, got, rule(6))
        self.assertIn("bytes changed that must not (offset: sent->forwarded) %d:" % (len(got) - 1), why)

    def test_ipv4_header_checksum(self):
        raw = first_packet(4, lambda i, d: i.bad is None)
        got = forward(raw, rule(4))
        got = put16(got, 10, struct.unpack_from("!H", got, 10)[0] ^ 1)
        self.assertIn("IPv4 header checksum", model.judge(raw, got, rule(4))[1])

    def test_malformed_allows_any_outcome_but_checks_rewrite(self):
        raw = first_packet(4, lambda i, d: matching(pv.P_TCP, "trunc=", True)(i, d) and i.end - i.l4 >= 4)
        info = model.parse(raw)
        self.assertIn("cut", info.bad)
        self.assertEqual(model.judge(raw, None, rule(4)), ("dropped", None))
        self.assertIsNone(model.judge(raw, forward(raw, rule(4), l4fix=False), rule(4))[1])
        got = forward(raw, rule(4))
        got = got[:info.l4] + bytes((got[info.l4] ^ 1,)) + got[info.l4 + 1:]  # the source port
        self.assertIn("bytes changed that must not (offset: sent->forwarded) %d:" % info.l4,
                      model.judge(raw, got, rule(4))[1])


class Parse(unittest.TestCase):
    def pkt6(self, exts, last=pv.P_UDP):
        seg = struct.pack("!HHHH", 1, 2, 8, 0)
        body = b"".join(exts) + seg
        return struct.pack("!IHBB16s16s", 6 << 28, len(body), exts and 60 or last, 64, FAM[6].src, FAM[6].dst) + body

    def test_ipv6_chains(self):
        dst = lambda nh, ln=0: bytes((nh, ln)) + gen.EXT_WELL[pv.EXT_DST] + b"\0" * 8 * ln  # noqa: E731
        self.assertIsNone(model.parse(self.pkt6([dst(pv.P_UDP)])).bad)
        self.assertEqual(model.parse(self.pkt6([dst(pv.P_UDP)])).l4, 48)
        raw = bytearray(self.pkt6([dst(pv.P_UDP)]))
        raw[41] = 9  # hdr-ext-len: 80 bytes, the packet has 16 after the fixed header
        self.assertIn("of 80 bytes at 40 past the end 56", model.parse(bytes(raw)).bad)
        self.assertIn("loop", model.parse(self.pkt6([dst(60), dst(60), dst(pv.P_UDP)])).bad)

    def test_ipv4_trailer_is_trimmed(self):
        raw = first_packet(4, lambda i, d: "len=trailer" in d and i.bad is None)
        info = model.parse(raw)
        self.assertLess(info.end, len(raw))
        self.assertEqual(info.end, struct.unpack_from("!H", raw, 2)[0])

    def test_ipv4_record_route_may_change(self):
        opts = b"\x07\x07\x04\0\0\0\0\0"  # record route, room for one address
        h = struct.pack("!BBHHHBBH4s4s", 0x47, 0, 28, 1, 0, 64, 59, 0, FAM[4].src, FAM[4].dst) + opts
        h = put16(h, 10, gen.csum(h))
        info = model.parse(h)
        self.assertEqual(info.bad, "IPv4 option 7")
        got = forward(h[:20] + b"\x07\x07\x08\x0a\x0c\0\x01\0" + h[28:], rule(4))
        self.assertEqual(model.judge(h, got, rule(4)), ("unchanged", None))

    def test_ipv4_options_after_eol_zeroed(self):
        opts = b"\x01\x00\x07\x01"
        h = struct.pack("!BBHHHBBH4s4s", 0x46, 0, 24, 1, 0, 64, 59, 0, FAM[4].src, FAM[4].dst) + opts
        h = put16(h, 10, gen.csum(h))
        info = model.parse(h)
        self.assertIn("after the end-of-options", info.bad)
        self.assertEqual(info.fwd[20:24], b"\x01\x00\x00\x00")


if __name__ == "__main__":
    unittest.main()
