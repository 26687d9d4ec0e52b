package bpfdsr

import (
	"bytes"
	"testing"
)

// rewritten6 checks the VIP and the L4 checksum of the segment at off
// (from the IPv6 header's end).
func rewritten6(t *testing.T, proto uint8, out []byte, off int) {
	t.Helper()
	if got := dst6(out); got != vip6 {
		t.Fatalf("daddr %v, want %v", got, vip6)
	}
	seg := out[ethHdr+40+off:]
	if s := l4sum(client6, vip6, proto, seg); s != 0xffff {
		t.Errorf("proto %d: L4 checksum %#04x sums to %#04x, want 0xffff",
			proto, be.Uint16(seg[csumOff(proto):]), s)
	}
}

func TestRunIPv6UDPZero(t *testing.T) {
	r := newRig(t, false)
	r.add(6, key(10, rip6.String()), vip6.String(), 255)
	seg := zeroAfter(client6, rip6, vip6, protoUDP)
	out := r.mustRun(ipv6(10<<2, protoUDP, client6, rip6, seg))
	rewritten6(t, protoUDP, out, 0)
	if c := be.Uint16(out[ethHdr+40+6:]); c != 0xffff {
		t.Errorf("checksum %#04x, want 0xffff (a computed 0)", c)
	}
	seg = segment(client6, rip6, protoUDP, []byte("absent"))
	be.PutUint16(seg[6:], 0)
	out = r.mustRun(ipv6(10<<2, protoUDP, client6, rip6, seg))
	if dst6(out) != vip6 || be.Uint16(out[ethHdr+40+6:]) != 0 {
		t.Errorf("daddr %v, checksum %#04x: want the VIP and 0", dst6(out), be.Uint16(out[ethHdr+40+6:]))
	}
}

// The L4 header is found behind hop-by-hop, destination options and a
// first fragment header; a later fragment gets the address only.
func TestRunIPv6ExtensionHeaders(t *testing.T) {
	r := newRig(t, false)
	r.add(6, key(10, rip6.String()), vip6.String(), 255)
	seg := segment(client6, rip6, protoTCP, []byte("behind extension headers"))
	var chain []byte
	chain = append(chain, ext6(60)...)                  // hop-by-hop -> dst opts
	chain = append(chain, ext6(44)...)                  // dst opts -> fragment
	chain = append(chain, frag6(protoTCP, 0, false)...) // first (atomic) fragment
	out := r.mustRun(ipv6(10<<2, 0, client6, rip6, append(chain, seg...)))
	rewritten6(t, protoTCP, out, len(chain))
	if !bytes.Equal(out[ethHdr+40:ethHdr+40+len(chain)], chain) {
		t.Errorf("extension headers changed: % x", out[ethHdr+40:ethHdr+40+len(chain)])
	}

	later := append(frag6(protoTCP, 100, false), seg...)
	out = r.mustRun(ipv6(10<<2, 44, client6, rip6, later))
	if dst6(out) != vip6 || !bytes.Equal(out[ethHdr+40:], later) {
		t.Errorf("later fragment: daddr %v, payload changed %v", dst6(out), !bytes.Equal(out[ethHdr+40:], later))
	}
	r.wantTotals(l3dsrL3dsrTotals{Rewritten: 2})
}

// With segments left we are a waypoint: the packet is not ours to change.
func TestRunIPv6RoutingHeaderSkipped(t *testing.T) {
	r := newRig(t, false)
	r.add(6, key(10, rip6.String()), vip6.String(), 255)
	seg := segment(client6, rip6, protoUDP, []byte("waypoint"))
	in := ipv6(10<<2, 43, client6, rip6, append(route6(protoUDP, 1, vip6), seg...))
	out := r.mustRun(in)
	if !bytes.Equal(out, in) {
		t.Errorf("packet changed:\n% x\nwant\n% x", out, in)
	}
	r.wantTotals(l3dsrL3dsrTotals{Skipped: 1})
	if p, b := r.counters(6, key(10, rip6.String())); p != 0 || b != 0 {
		t.Errorf("entry counted %d packets %d bytes, want none", p, b)
	}
}

func TestRunIPv6SetDSCPKeepsECN(t *testing.T) {
	r := newRig(t, false)
	r.add(6, key(10, rip6.String()), vip6.String(), 46)
	seg := segment(client6, rip6, protoTCP, []byte("ef"))
	out := r.mustRun(ipv6(10<<2|1, protoTCP, client6, rip6, seg))
	rewritten6(t, protoTCP, out, 0)
	w := be.Uint32(out[ethHdr:])
	if want := uint32(6<<28 | (46<<2|1)<<20 | 0x12345); w != want {
		t.Errorf("first word %#08x, want %#08x (DSCP 46, ECN 1, flow label kept)", w, want)
	}
}

// Bytes past the IP length (a link layer's padding) are not the L4
// header's: tc ingress sees them before the stack trims them. pkt_fuzz
// found the checksum's first byte changed in a UDP header that the IP
// length cut at 7 bytes, with the padding completing it.
func TestRunPaddingIsNotL4(t *testing.T) {
	r := newRig(t, false)
	r.add(4, key(10, rip4.String()), vip4.String(), 255)
	r.add(6, key(10, rip6.String()), vip6.String(), 255)
	in4 := ipv4(10<<2, protoUDP, client4, rip4, 0, segment(client4, rip4, protoUDP, []byte("padded")))
	be.PutUint16(in4[ethHdr+2:], 20+7)
	in6 := ipv6(10<<2, protoUDP, client6, rip6, segment(client6, rip6, protoUDP, []byte("padded")))
	be.PutUint16(in6[ethHdr+4:], 7)

	out := r.mustRun(in4)
	if dst4(out) != vip4 || !bytes.Equal(out[ethHdr+20:], in4[ethHdr+20:]) {
		t.Errorf("IPv4: daddr %v; after the IP header\n% x\nwant\n% x", dst4(out), out[ethHdr+20:], in4[ethHdr+20:])
	}
	out = r.mustRun(in6)
	if dst6(out) != vip6 || !bytes.Equal(out[ethHdr+40:], in6[ethHdr+40:]) {
		t.Errorf("IPv6: daddr %v; after the IP header\n% x\nwant\n% x", dst6(out), out[ethHdr+40:], in6[ethHdr+40:])
	}
}
