package bpfdsr

import (
	"bytes"
	"net/netip"
	"testing"
)

// rewritten4 checks what every rewritten IPv4 packet must be: the VIP, a
// valid header checksum, and a valid L4 checksum over the new pseudo header.
func rewritten4(t *testing.T, proto uint8, out []byte) {
	t.Helper()
	if got := dst4(out); got != vip4 {
		t.Fatalf("daddr %v, want %v", got, vip4)
	}
	if !ipv4OK(out) {
		t.Errorf("IPv4 header checksum %#04x is wrong", be.Uint16(out[ethHdr+10:]))
	}
	seg := out[ethHdr+20:]
	if s := l4sum(client4, vip4, proto, seg); s != 0xffff {
		t.Errorf("proto %d: L4 checksum %#04x sums to %#04x, want 0xffff",
			proto, be.Uint16(seg[csumOff(proto):]), s)
	}
}

// Every protocol whose checksum covers the pseudo header, and ICMP, whose
// checksum does not, in both families.
func TestRunChecksums(t *testing.T) {
	for _, tc := range []struct {
		name  string
		proto uint8
		v6    bool
	}{
		{"tcp", protoTCP, false}, {"udp", protoUDP, false}, {"udplite", protoUDPLite, false},
		{"dccp", protoDCCP, false}, {"icmp", protoICMP, false},
		{"tcp6", protoTCP, true}, {"udp6", protoUDP, true}, {"udplite6", protoUDPLite, true},
		{"dccp6", protoDCCP, true}, {"icmpv6", protoICMPv6, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, false)
			if tc.v6 {
				r.add(6, key(10, rip6.String()), vip6.String(), 255)
				seg := segment(client6, rip6, tc.proto, []byte("hello, l3dsr"))
				rewritten6(t, tc.proto, r.mustRun(ipv6(10<<2, tc.proto, client6, rip6, seg)), 0)
			} else {
				r.add(4, key(10, rip4.String()), vip4.String(), 255)
				seg := segment(client4, rip4, tc.proto, []byte("hello, l3dsr"))
				out := r.mustRun(ipv4(10<<2, tc.proto, client4, rip4, 0, seg))
				rewritten4(t, tc.proto, out)
				if tc.proto == protoICMP && !bytes.Equal(out[ethHdr+20:], seg) {
					t.Errorf("ICMP has no pseudo header: its bytes changed")
				}
			}
			r.wantTotals(l3dsrL3dsrTotals{Rewritten: 1})
		})
	}
}

// A UDP sender may leave the checksum out; the rewrite must not fill it in.
func TestRunIPv4UDPZeroStaysZero(t *testing.T) {
	r := newRig(t, false)
	r.add(4, key(10, rip4.String()), vip4.String(), 255)
	seg := segment(client4, rip4, protoUDP, []byte("no checksum"))
	be.PutUint16(seg[6:], 0)
	out := r.mustRun(ipv4(10<<2, protoUDP, client4, rip4, 0, seg))
	if dst4(out) != vip4 || !ipv4OK(out) {
		t.Fatalf("daddr %v, header ok %v", dst4(out), ipv4OK(out))
	}
	if c := be.Uint16(out[ethHdr+20+6:]); c != 0 {
		t.Errorf("UDP checksum %#04x, want 0 (absent)", c)
	}
}

// zeroAfter makes a payload whose UDP or UDP-Lite checksum, once the
// destination is vip, computes to 0: on the wire it must be 0xffff.
func zeroAfter(src, rip, vip netip.Addr, proto uint8) []byte {
	payload := []byte{0, 0}
	seg := segment(src, vip, proto, payload)
	be.PutUint16(seg[6:], 0)
	s := l4sum(src, vip, proto, seg)
	be.PutUint16(payload, uint16(0xffff-s))
	return segment(src, rip, proto, payload)
}

func TestRunIPv4UDPResultZeroIsAllOnes(t *testing.T) {
	for _, proto := range []uint8{protoUDP, protoUDPLite} {
		r := newRig(t, false)
		r.add(4, key(10, rip4.String()), vip4.String(), 255)
		seg := zeroAfter(client4, rip4, vip4, proto)
		out := r.mustRun(ipv4(10<<2, proto, client4, rip4, 0, seg))
		rewritten4(t, proto, out)
		if c := be.Uint16(out[ethHdr+20+6:]); c != 0xffff {
			t.Errorf("proto %d: checksum %#04x, want 0xffff (a computed 0)", proto, c)
		}
	}
}

// Later fragments start with payload: only the address and the header
// checksum may change.
func TestRunIPv4LaterFragment(t *testing.T) {
	r := newRig(t, false)
	r.add(4, key(10, rip4.String()), vip4.String(), 255)
	payload := bytes.Repeat([]byte{0xa5, 0x5a, 0x01, 0x02}, 8)
	in := ipv4(10<<2, protoTCP, client4, rip4, 100, payload)
	out := r.mustRun(in)
	if dst4(out) != vip4 || !ipv4OK(out) {
		t.Fatalf("daddr %v, header ok %v", dst4(out), ipv4OK(out))
	}
	if !bytes.Equal(out[ethHdr+20:], payload) {
		t.Errorf("payload changed: % x", out[ethHdr+20:])
	}
	r.wantTotals(l3dsrL3dsrTotals{Rewritten: 1})
}

// set_dscp: the new code, the packet's ECN bits, a valid header checksum.
func TestRunIPv4SetDSCPKeepsECN(t *testing.T) {
	r := newRig(t, false)
	r.add(4, key(10, rip4.String()), vip4.String(), 46)
	seg := segment(client4, rip4, protoTCP, []byte("ef"))
	out := r.mustRun(ipv4(10<<2|2, protoTCP, client4, rip4, 0, seg))
	rewritten4(t, protoTCP, out)
	if tos := out[ethHdr+1]; tos != 46<<2|2 {
		t.Errorf("tos %#02x, want %#02x (DSCP 46, ECN 2)", tos, 46<<2|2)
	}
}
