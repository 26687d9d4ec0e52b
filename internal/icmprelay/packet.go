package icmprelay

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// Quoted is the flow an ICMP error is about: a reply the real server sent
// as VIP:VIPPort -> Client:ClientPort, and the MTU the router asked for.
type Quoted struct {
	Client, VIP         netip.Addr
	Proto               uint8
	ClientPort, VIPPort uint16
	MTU                 uint32
}

// IP protocol numbers.
const (
	protoICMP   = 1
	protoIPIP   = 4
	protoTCP    = 6
	protoUDP    = 17
	protoIPv6   = 41
	protoFrag   = 44
	protoICMPv6 = 58
	protoSCTP   = 132
)

// errMalformed is wrapped by every error of parse.
var errMalformed = errors.New("not a relayable ICMP error")

func malformed(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errMalformed}, a...)...)
}

// minL4 is how much of the quoted transport header parse needs: the ports,
// which TCP, UDP and SCTP all carry in their first 4 bytes. RFC 792 makes
// a router quote 8 bytes, RFC 4443 as much as fits in 1280.
const minL4 = 8

// parse reads pkt, a whole IP packet (from its IP header on; trailing
// link padding is ignored): an ICMP fragmentation needed or an ICMPv6
// packet too big, whose quoted packet is a TCP, UDP or SCTP one from the
// address the error is sent to (the VIP) to the client. The packet comes
// off the wire before the kernel checked it, so parse checks the IPv4
// header checksum and the ICMP checksum itself. An IPv6 packet with
// extension headers before the ICMPv6 one is refused (routers send none);
// the quoted packet may have hop-by-hop, routing and destination options.
// Every error wraps errMalformed.
func parse(pkt []byte) (Quoted, error) {
	if len(pkt) < 1 {
		return Quoted{}, malformed("empty packet")
	}
	switch v := pkt[0] >> 4; v {
	case 4:
		return parse4(pkt)
	case 6:
		return parse6(pkt)
	default:
		return Quoted{}, malformed("IP version %d, want 4 or 6", v)
	}
}

// header4 checks an outer IPv4 header and returns its length and the
// packet cut to its total length.
func header4(pkt []byte) (int, []byte, error) {
	if len(pkt) < 20 {
		return 0, nil, malformed("IPv4 packet of %d bytes, shorter than its header", len(pkt))
	}
	ihl := int(pkt[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(pkt[2:]))
	switch {
	case ihl < 20:
		return 0, nil, malformed("IPv4 header length %d, less than 20", ihl)
	case total < ihl || total > len(pkt):
		return 0, nil, malformed("IPv4 total length %d, but %d bytes with a header of %d", total, len(pkt), ihl)
	case checksum(pkt[:ihl], 0) != 0:
		return 0, nil, malformed("IPv4 header checksum %#04x is wrong", binary.BigEndian.Uint16(pkt[10:]))
	case binary.BigEndian.Uint16(pkt[6:])&0x3fff != 0:
		return 0, nil, malformed("IPv4 packet is a fragment (flags and offset %#04x): the quote may be cut", binary.BigEndian.Uint16(pkt[6:]))
	}
	return ihl, pkt[:total], nil
}

func parse4(pkt []byte) (Quoted, error) {
	ihl, pkt, err := header4(pkt)
	if err != nil {
		return Quoted{}, err
	}
	if pkt[9] != protoICMP {
		return Quoted{}, malformed("IPv4 protocol %d, not ICMP", pkt[9])
	}
	icmp := pkt[ihl:]
	if len(icmp) < 8 {
		return Quoted{}, malformed("ICMP message of %d bytes, shorter than its header", len(icmp))
	}
	if icmp[0] != 3 || icmp[1] != 4 {
		return Quoted{}, malformed("ICMP type %d code %d, not fragmentation needed (3/4)", icmp[0], icmp[1])
	}
	if checksum(icmp, 0) != 0 {
		return Quoted{}, malformed("ICMP checksum %#04x is wrong", binary.BigEndian.Uint16(icmp[2:]))
	}
	q, err := quoted4(icmp[8:])
	if err != nil {
		return Quoted{}, err
	}
	q.MTU = uint32(binary.BigEndian.Uint16(icmp[6:]))
	return q, sentToVIP(netip.AddrFrom4([4]byte(pkt[16:20])), q)
}

// sentToVIP refuses an error not sent to the quoted packet's source: a
// router sends it there, and the relay's own copies (sent to a real) must
// never pass for one.
func sentToVIP(dst netip.Addr, q Quoted) error {
	if dst != q.VIP {
		return malformed("ICMP error sent to %s about a packet from %s: not a router's answer to it", dst, q.VIP)
	}
	return nil
}

func quoted4(b []byte) (Quoted, error) {
	if len(b) < 20 || b[0]>>4 != 4 {
		return Quoted{}, malformed("quoted packet of %d bytes is not an IPv4 header", len(b))
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < 20 || len(b) < ihl+minL4 {
		return Quoted{}, malformed("quoted IPv4 packet of %d bytes with a header of %d: want %d bytes of its transport header", len(b), ihl, minL4)
	}
	if off := binary.BigEndian.Uint16(b[6:]) & 0x1fff; off != 0 {
		return Quoted{}, malformed("quoted IPv4 packet is a fragment at offset %d: no ports", off*8)
	}
	return ports(b[9], b[12:16], b[16:20], b[ihl:])
}

func ports(proto uint8, src, dst, l4 []byte) (Quoted, error) {
	switch proto {
	case protoTCP, protoUDP, protoSCTP:
	default:
		return Quoted{}, malformed("quoted protocol %d, not TCP, UDP or SCTP", proto)
	}
	vip, _ := netip.AddrFromSlice(src)
	client, _ := netip.AddrFromSlice(dst)
	return Quoted{
		VIP: vip, Client: client, Proto: proto,
		VIPPort: binary.BigEndian.Uint16(l4), ClientPort: binary.BigEndian.Uint16(l4[2:]),
	}, nil
}

func parse6(pkt []byte) (Quoted, error) {
	if len(pkt) < 40 {
		return Quoted{}, malformed("IPv6 packet of %d bytes, shorter than its header", len(pkt))
	}
	plen := int(binary.BigEndian.Uint16(pkt[4:]))
	if 40+plen > len(pkt) {
		return Quoted{}, malformed("IPv6 payload length %d, but %d bytes after the header", plen, len(pkt)-40)
	}
	pkt = pkt[:40+plen]
	switch pkt[6] {
	case protoICMPv6:
	case protoFrag:
		return Quoted{}, malformed("IPv6 packet is a fragment: the quote may be cut")
	default:
		return Quoted{}, malformed("IPv6 next header %d, not ICMPv6 (extension headers are not read)", pkt[6])
	}
	icmp := pkt[40:]
	if len(icmp) < 8 {
		return Quoted{}, malformed("ICMPv6 message of %d bytes, shorter than its header", len(icmp))
	}
	if icmp[0] != 2 || icmp[1] != 0 {
		return Quoted{}, malformed("ICMPv6 type %d code %d, not packet too big (2/0)", icmp[0], icmp[1])
	}
	if checksum(icmp, pseudo6(pkt[8:24], pkt[24:40], len(icmp))) != 0 {
		return Quoted{}, malformed("ICMPv6 checksum %#04x is wrong", binary.BigEndian.Uint16(icmp[2:]))
	}
	q, err := quoted6(icmp[8:])
	if err != nil {
		return Quoted{}, err
	}
	q.MTU = binary.BigEndian.Uint32(icmp[4:])
	return q, sentToVIP(netip.AddrFrom16([16]byte(pkt[24:40])), q)
}

func quoted6(b []byte) (Quoted, error) {
	if len(b) < 40 || b[0]>>4 != 6 {
		return Quoted{}, malformed("quoted packet of %d bytes is not an IPv6 header", len(b))
	}
	next, off := b[6], 40
	for {
		switch next {
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if len(b) < off+8 {
				return Quoted{}, malformed("quoted IPv6 extension header %d cut at %d bytes", next, len(b))
			}
			next, off = b[off], off+(int(b[off+1])+1)*8
			continue
		case protoFrag:
			if len(b) < off+8 {
				return Quoted{}, malformed("quoted IPv6 fragment header cut at %d bytes", len(b))
			}
			if fo := binary.BigEndian.Uint16(b[off+2:]) &^ 7; fo != 0 {
				return Quoted{}, malformed("quoted IPv6 packet is a fragment at offset %d: no ports", fo)
			}
			next, off = b[off], off+8
			continue
		}
		break
	}
	if len(b) < off+minL4 {
		return Quoted{}, malformed("quoted IPv6 packet of %d bytes with headers of %d: want %d bytes of its transport header", len(b), off, minL4)
	}
	return ports(next, b[8:24], b[24:40], b[off:])
}

// checksum is the Internet checksum (RFC 1071) of b, from the partial sum
// sum: 0 over a message that carries its own checksum means it is right.
func checksum(b []byte, sum uint32) uint16 {
	for len(b) >= 2 {
		sum += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// pseudo6 is the partial sum of ICMPv6's pseudo-header (RFC 8200 8.1).
func pseudo6(src, dst []byte, length int) uint32 {
	var sum uint32
	for _, a := range [][]byte{src, dst} {
		for i := 0; i < 16; i += 2 {
			sum += uint32(binary.BigEndian.Uint16(a[i:]))
		}
	}
	return sum + uint32(length>>16) + uint32(length&0xffff) + protoICMPv6
}
