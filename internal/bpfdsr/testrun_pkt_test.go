package bpfdsr

import (
	"encoding/binary"
	"net/netip"
)

// Hand-built packets: every byte is the test's, so that what the program
// changed is exactly what differs.

const (
	protoICMP    = 1
	protoTCP     = 6
	protoUDP     = 17
	protoDCCP    = 33
	protoICMPv6  = 58
	protoUDPLite = 136
	ethHdr       = 14
)

var be = binary.BigEndian

// The client, the address it sent to (the real server's), and the VIP the
// entry rewrites it to.
var (
	client4, rip4, vip4 = mustAddr("198.51.100.7"), mustAddr("10.0.0.5"), mustAddr("192.0.2.10")
	client6, rip6, vip6 = mustAddr("2001:db8:c::7"), mustAddr("2001:db8:a::5"), mustAddr("2001:db8:f::10")
)

// sum16 is the ones' complement sum of b, folded.
func sum16(sum uint32, b []byte) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(be.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return sum
}

func pseudo(src, dst netip.Addr, proto uint8, n int) []byte {
	if src.Is4() {
		p := append(src.AsSlice(), dst.AsSlice()...)
		return append(p, 0, proto, byte(n>>8), byte(n))
	}
	p := append(src.AsSlice(), dst.AsSlice()...)
	return append(p, 0, 0, byte(n>>8), byte(n), 0, 0, 0, proto)
}

// csumOff is where proto keeps its checksum, -1 for none we fill in.
func csumOff(proto uint8) int {
	switch proto {
	case protoTCP:
		return 16
	case protoUDP, protoUDPLite, protoDCCP:
		return 6
	case protoICMP, protoICMPv6:
		return 2
	}
	return -1
}

// l4sum is the sum a receiver checks: over the pseudo header (none for
// ICMPv4) and the whole segment. 0xffff means valid.
func l4sum(src, dst netip.Addr, proto uint8, seg []byte) uint32 {
	s := uint32(0)
	if proto != protoICMP {
		s = sum16(0, pseudo(src, dst, proto, len(seg)))
	}
	return sum16(s, seg)
}

// segment builds an L4 header of proto (20 bytes, enough for every one we
// test) and payload, with a valid checksum for src->dst.
func segment(src, dst netip.Addr, proto uint8, payload []byte) []byte {
	seg := make([]byte, 20, 20+len(payload))
	be.PutUint16(seg[0:], 40000)
	be.PutUint16(seg[2:], 80)
	switch proto {
	case protoUDP:
		be.PutUint16(seg[4:], uint16(len(seg)+len(payload)))
	case protoDCCP:
		seg[4] = 5 // data offset in 32-bit words; CsCov 0: all
	case protoTCP:
		seg[12] = 5 << 4
	}
	seg = append(seg, payload...)
	be.PutUint16(seg[csumOff(proto):], 0)
	be.PutUint16(seg[csumOff(proto):], uint16(^l4sum(src, dst, proto, seg)))
	return seg
}

func ether(etherType uint16, rest []byte) []byte {
	h := []byte{2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, byte(etherType >> 8), byte(etherType)}
	return append(h, rest...)
}

// ipv4 builds eth+IPv4 with a valid header checksum. fragOff is the 13-bit
// offset field.
func ipv4(tos, proto uint8, src, dst netip.Addr, fragOff uint16, payload []byte) []byte {
	h := make([]byte, 20)
	h[0] = 0x45
	h[1] = tos
	be.PutUint16(h[2:], uint16(20+len(payload)))
	be.PutUint16(h[6:], fragOff)
	h[8] = 64
	h[9] = proto
	copy(h[12:], src.AsSlice())
	copy(h[16:], dst.AsSlice())
	be.PutUint16(h[10:], uint16(^sum16(0, h)))
	return ether(0x0800, append(h, payload...))
}

// ipv6 builds eth+IPv6; next is the first next header of payload.
func ipv6(tclass, next uint8, src, dst netip.Addr, payload []byte) []byte {
	h := make([]byte, 40)
	be.PutUint32(h[0:], 6<<28|uint32(tclass)<<20|0x12345)
	be.PutUint16(h[4:], uint16(len(payload)))
	h[6] = next
	h[7] = 64
	copy(h[8:], src.AsSlice())
	copy(h[24:], dst.AsSlice())
	return ether(0x86dd, append(h, payload...))
}

// ext6 is an 8-byte hop-by-hop or destination options header (PadN).
func ext6(next uint8) []byte { return []byte{next, 0, 1, 4, 0, 0, 0, 0} }

// frag6 is a fragment header: offset in 8-byte units, more fragments or not.
func frag6(next uint8, offset uint16, more bool) []byte {
	f := []byte{next, 0, 0, 0, 0, 0, 0, 42}
	v := offset << 3
	if more {
		v |= 1
	}
	be.PutUint16(f[2:], v)
	return f
}

// route6 is a type 0 routing header with one address and segsLeft.
func route6(next, segsLeft uint8, addr netip.Addr) []byte {
	r := []byte{next, 2, 0, segsLeft, 0, 0, 0, 0}
	return append(r, addr.AsSlice()...)
}

// ipv4OK reports whether out's IPv4 header checksum is valid.
func ipv4OK(out []byte) bool { return sum16(0, out[ethHdr:ethHdr+20]) == 0xffff }

func dst4(out []byte) netip.Addr { return netip.AddrFrom4([4]byte(out[ethHdr+16 : ethHdr+20])) }
func dst6(out []byte) netip.Addr { return netip.AddrFrom16([16]byte(out[ethHdr+24 : ethHdr+40])) }

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
