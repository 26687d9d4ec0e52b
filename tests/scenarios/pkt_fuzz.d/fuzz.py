# fuzz.py: sends gen.py's packets from tx at one rewriter in rw (set up by pkt_fuzz.sh), captures
# each on rw's ingress (the bytes before the rewrite) and on sink's veth (what rw forwarded) and
# has model.judge() rule on it. One run is one rewriter (PF_GROUP), both families.
#
# The packets go to PF_DST4/PF_DST6, an address rw routes to sink, not to rw's own address: a
# packet the rule leaves alone is then forwarded unchanged and seen at sink too, so "unchanged"
# and "dropped" can be told apart. Every rule under test matches on the DSCP alone (no local
# address in its key), so the destination does not change what it does.
#
# Packets go out in batches, each closed by a marker (a well-formed UDP datagram with a DSCP no
# rule matches) that paces the run; all captures are judged together at the end of a family, so a
# straggler that overtook nothing is not called dropped.
#
# Output lines: "pass CASE", "fail CASE REASON", "info TEXT", "count CASE N D U R".

import ctypes
import os
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen  # noqa: E402
import model  # noqa: E402

E = os.environ
GROUP = E["PF_GROUP"]
SEED = int(E["PF_SEED"])
COUNT = min(int(E.get("PF_COUNT", "300")), 0xF000)
ONLY = E.get("PF_ONLY")  # "4:17" replays packet 17 of IPv4 alone
BATCH = int(E.get("PF_BATCH", "25"))
WAIT = float(E.get("PF_WAIT", "10"))
MARK4, MARK6 = 0xF000, 0xFF000  # marker idents, above any packet's


def out(*a):
    print(*a, flush=True)


def enter(name):
    """Moves this process into network namespace name (setns)."""
    with open("/run/netns/" + name) as fh:
        if ctypes.CDLL(None, use_errno=True).setns(fh.fileno(), 0x40000000):
            raise OSError(ctypes.get_errno(), "setns " + name)


class Capture:
    """Incoming IPv4/IPv6 frames from tx's source address on one interface, by ident (IPv4 ID or
    IPv6 flow label); the first frame of each ident is kept."""

    def __init__(self, ifname, srcs):
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind((ifname, 3))
        self.sock.setblocking(False)
        self.srcs = srcs
        self.got = {}

    def poll(self, timeout):
        if not select.select([self.sock], [], [], timeout)[0]:
            return False
        while True:
            try:
                data, addr = self.sock.recvfrom(65535)
            except BlockingIOError:
                return True
            l3 = data[14:]
            if addr[2] == socket.PACKET_OUTGOING or len(l3) < 20:
                continue
            ver = l3[0] >> 4
            if ver == 4 and l3[12:16] == self.srcs[4]:
                self.got.setdefault((4, struct.unpack_from("!H", l3, 4)[0]), l3)
            elif ver == 6 and len(l3) >= 40 and l3[8:24] == self.srcs[6]:
                self.got.setdefault((6, struct.unpack_from("!I", l3, 0)[0] & 0xFFFFF), l3)

    def wait_for(self, key, deadline):
        while key not in self.got and time.monotonic() < deadline:
            self.poll(deadline - time.monotonic())
        return key in self.got

    def settle(self, quiet):
        while self.poll(quiet):
            pass


def addr(v, text):
    return socket.inet_pton(socket.AF_INET if v == 4 else socket.AF_INET6, text)


def marker(fam, ident, dscp):
    """A well-formed UDP datagram, DSCP dscp, that every rewriter forwards unchanged."""
    seg = struct.pack("!HHHH", 9, 9, 12, 0) + b"mark"
    seg = seg[:6] + struct.pack("!H", gen.csum(gen.pseudo(fam, 17, 12) + seg)) + seg[8:]
    if fam.ver == 4:
        h = struct.pack("!BBHHHBBH4s4s", 0x45, dscp << 2, 20 + len(seg), ident, 0, 64, 17, 0, fam.src, fam.dst)
        return h[:10] + struct.pack("!H", gen.csum(h)) + h[12:] + seg
    return struct.pack("!IHBB16s16s", 6 << 28 | dscp << 22 | ident, len(seg), 17, 64, fam.src, fam.dst) + seg


def hexdump(b, most=96):
    """b in groups of 4 bytes; the first most bytes only (the replay shows the rest)."""
    return " ".join(b[i:i + 4].hex() for i in range(0, min(len(b), most), 4)) + (" ..." if len(b) > most else "")


def run_family(v, tx, eth, rwcap, sinkcap):
    code = int(E["CK_DSCP%d" % v])
    dset = E.get("PF_DSCP_SET%d" % v)
    rule = model.Rule(v, code, addr(v, E["PF_VIP%d" % v]), int(dset) if dset else None)
    fam = gen.Fam(v, addr(v, E["CK_TX%d" % v]), addr(v, E["PF_DST%d" % v]), code)
    idx = range(COUNT)
    if ONLY:
        fv, fi = ONLY.split(":")
        idx = [int(fi)] if int(fv) == v else []
    sent = {}
    t0 = time.monotonic()
    mark = MARK4 if v == 4 else MARK6
    batches = [list(idx)[k:k + BATCH] for k in range(0, len(idx), BATCH)]
    for n, batch in enumerate(batches):
        for i in batch:
            raw, desc = gen.packet(SEED, fam, i)
            sent[i] = (raw, desc)
            tx.send(eth + raw)
        m = mark + n % 0xFFF
        tx.send(eth + marker(fam, m, (code + 1) % 64))
        if not sinkcap.wait_for((v, m), time.monotonic() + WAIT):
            return "fail", "marker %d after batch %d never reached sink: the path is broken" % (m, n), None
        rwcap.settle(0)
    sinkcap.settle(0.3)
    rwcap.settle(0.05)
    t1 = time.monotonic()
    tally = {"dropped": 0, "unchanged": 0, "rewritten": 0}
    first = None
    for i, (raw, desc) in sorted(sent.items()):
        key = (v, (i & 0xFFFF) if v == 4 else (i & 0xFFFFF))
        seen = rwcap.got.get(key)
        got = sinkcap.got.get(key)
        if seen is None or seen[:len(raw)] != raw:
            outcome, why = "other", "rw's ingress saw %s" % ("nothing" if seen is None else hexdump(seen[:64]))
        else:
            outcome, why = model.judge(raw, got, rule)
        tally[outcome] = tally.get(outcome, 0) + 1
        if why and first is None:
            info = model.parse(raw)
            first = "packet %d (%s; model: %s): %s. sent %s; forwarded %s. Replay: PKT_FUZZ_SEED=%d PKT_FUZZ_ONLY=%d:%d" % (
                i, desc, info.bad or "well-formed", why, hexdump(raw),
                "nothing" if got is None else hexdump(got), SEED, v, i)
    out("info %s-v%d: %d packets sent in %.1fs, judged in %.1fs" % (GROUP, v, len(sent), t1 - t0, time.monotonic() - t1))
    return ("fail" if first else "pass"), first, tally


def main():
    srcs = {4: addr(4, E["CK_TX4"]), 6: addr(6, E["CK_TX6"])}
    enter(E["CK_NS_SINK"])
    sinkcap = Capture(E["CK_IF_SINK"], srcs)
    enter(E["CK_NS_RW"])
    rwcap = Capture(E["CK_IF_RWIN"], srcs)
    enter(E["CK_NS_TX"])
    tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    tx.bind((E["CK_IF_TX"], 0))
    mac = lambda m: bytes.fromhex(m.replace(":", ""))  # noqa: E731
    for v in (4, 6):
        eth = mac(E["CK_MAC_RWIN"]) + mac(E["CK_MAC_TX"]) + struct.pack("!H", 0x0800 if v == 4 else 0x86DD)
        verdict, why, tally = run_family(v, tx, eth, rwcap, sinkcap)
        case = "%s-v%d" % (GROUP, v)
        out("%s %s%s" % (verdict, case, " " + why if why else ""))
        if tally:
            out("count %s %d %d %d %d" % (case, sum(tally.values()), tally["dropped"], tally["unchanged"],
                                          tally["rewritten"]))


if __name__ == "__main__":
    main()
