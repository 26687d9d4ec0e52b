#!/usr/bin/env python3
"""Who answers for an address on a link: an ARP request (IPv4) or a neighbour solicitation
(IPv6) for TARGET, sent from SRC out IFACE, then 3 seconds of listening. Prints the MAC address
of every host that answered for TARGET (ARP reply, neighbour advertisement), one per line,
sorted, each once; nothing if no one did. What arping and ndisc6 tell, but every answer, not
the first: the question is whether anyone besides the director answers.

usage: neigh.py IFACE TARGET SRC
"""
import ipaddress
import sys
import time

from scapy.all import (ARP, AsyncSniffer, Ether, ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr,
                       IPv6, conf, get_if_hwaddr, sendp)

conf.verb = 0
iface, target, src = sys.argv[1], ipaddress.ip_address(sys.argv[2]), sys.argv[3]
mac = get_if_hwaddr(iface)

if target.version == 4:
    query = Ether(dst="ff:ff:ff:ff:ff:ff", src=mac) / ARP(op=1, hwsrc=mac, psrc=src, pdst=str(target))

    def answer(p):
        return ARP in p and p[ARP].op == 2 and p[ARP].psrc == str(target)
else:
    # The solicited-node group of TARGET: ff02::1:ff and its last 24 bits (RFC 4291 2.7.1).
    low = int(target) & 0xFFFFFF
    group = ipaddress.IPv6Address((0xFF0200000000000000000001FF << 24) | low)
    gmac = "33:33:ff:%02x:%02x:%02x" % (low >> 16, (low >> 8) & 0xFF, low & 0xFF)
    query = (Ether(dst=gmac, src=mac) / IPv6(src=src, dst=str(group), hlim=255)
             / ICMPv6ND_NS(tgt=str(target)) / ICMPv6NDOptSrcLLAddr(lladdr=mac))

    def answer(p):
        return ICMPv6ND_NA in p and ipaddress.ip_address(p[ICMPv6ND_NA].tgt) == target

sniffer = AsyncSniffer(iface=iface, lfilter=lambda p: Ether in p and p[Ether].src != mac and answer(p),
                       store=True)
sniffer.start()
time.sleep(1)
sendp(query, iface=iface, count=2, inter=0.5)
# A proxy neighbour advertisement may wait up to proxy_delay (0.8 s) after the solicitation.
time.sleep(3)
sniffer.stop()
for m in sorted({p[Ether].src for p in sniffer.results}):
    print(m)
