package icmprelay

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Target is where and how an ICMP error is sent on: to real server RIP,
// from Source (the director's own address toward it; zero keeps the
// router's source, DSCP and addr modes only), in the service's L3 DSR
// encoding: Tunnel wraps it in an IPIP/IP6IP6 header (ipip mode);
// otherwise the destination becomes RIP and the DSCP bits DSCP (dscp mode),
// or they stay as they are with KeepTOS (addr mode, where RIP itself tells
// the real server the VIP).
type Target struct {
	RIP, Source netip.Addr
	Tunnel      bool
	DSCP        uint8
	KeepTOS     bool
}

// tunnelTTL is the outer header's TTL (hop limit), as a host's default.
const tunnelTTL = 64

// toReal is the packet to send toward t.RIP for pkt, an ICMP error parse
// accepts: a new slice, pkt is not changed.
func toReal(pkt []byte, t Target) ([]byte, error) {
	if _, err := parse(pkt); err != nil {
		return nil, err
	}
	pkt = trim(pkt)
	if !t.RIP.IsValid() {
		return nil, fmt.Errorf("relay target has no real server address")
	}
	if t.Source.IsValid() && t.Source.Is4() != t.RIP.Is4() {
		return nil, fmt.Errorf("relay source %s and real server %s are of two families", t.Source, t.RIP)
	}
	if t.Tunnel {
		return tunnel(pkt, t)
	}
	if !t.KeepTOS && t.DSCP > 63 {
		return nil, fmt.Errorf("DSCP code %d out of range 0-63", t.DSCP)
	}
	v4 := pkt[0]>>4 == 4
	if v4 != t.RIP.Is4() {
		return nil, fmt.Errorf("cannot send an IPv%d ICMP error to real server %s without a tunnel: its DSCP encoding keeps the family", map[bool]int{true: 4, false: 6}[v4], t.RIP)
	}
	out := append([]byte(nil), pkt...)
	if v4 {
		if !t.KeepTOS {
			out[1] = t.DSCP<<2 | out[1]&0x03
		}
		if t.Source.IsValid() {
			copy(out[12:16], t.Source.AsSlice())
		}
		copy(out[16:20], t.RIP.AsSlice())
		ihl := int(out[0]&0x0f) * 4
		out[10], out[11] = 0, 0
		binary.BigEndian.PutUint16(out[10:], checksum(out[:ihl], 0))
		return out, nil
	}
	if !t.KeepTOS {
		// Traffic class straddles bytes 0 and 1: DSCP in its upper 6 bits.
		tc := t.DSCP<<2 | (out[1]>>4)&0x03
		out[0] = 0x60 | tc>>4
		out[1] = tc<<4 | out[1]&0x0f
	}
	if t.Source.IsValid() {
		copy(out[8:24], t.Source.AsSlice())
	}
	copy(out[24:40], t.RIP.AsSlice())
	// ICMPv6's checksum covers the addresses (its pseudo-header).
	icmp := out[40:]
	icmp[2], icmp[3] = 0, 0
	binary.BigEndian.PutUint16(icmp[2:], checksum(icmp, pseudo6(out[8:24], out[24:40], len(icmp))))
	return out, nil
}

// trim cuts a packet parse accepted to its IP length (link padding off).
func trim(pkt []byte) []byte {
	if pkt[0]>>4 == 4 {
		return pkt[:binary.BigEndian.Uint16(pkt[2:])]
	}
	return pkt[:40+int(binary.BigEndian.Uint16(pkt[4:]))]
}

// tunnel wraps pkt in an outer header from t.Source to t.RIP, of RIP's
// family, carrying the inner DS field as IPVS's tunnel does; the inner
// packet is left as it came.
func tunnel(pkt []byte, t Target) ([]byte, error) {
	if !t.Source.IsValid() {
		return nil, fmt.Errorf("tunnel to real server %s needs the director's source address", t.RIP)
	}
	proto := uint8(protoIPIP)
	ds := pkt[1]
	if pkt[0]>>4 == 6 {
		proto, ds = protoIPv6, pkt[0]<<4|pkt[1]>>4
	}
	if t.RIP.Is4() {
		if 20+len(pkt) > 0xffff {
			return nil, fmt.Errorf("packet of %d bytes too long to tunnel", len(pkt))
		}
		out := make([]byte, 20, 20+len(pkt))
		out[0], out[1] = 0x45, ds
		binary.BigEndian.PutUint16(out[2:], uint16(20+len(pkt)))
		// ID 0: the kernel picks one for a raw socket's header.
		out[8], out[9] = tunnelTTL, proto
		copy(out[12:16], t.Source.AsSlice())
		copy(out[16:20], t.RIP.AsSlice())
		binary.BigEndian.PutUint16(out[10:], checksum(out, 0))
		return append(out, pkt...), nil
	}
	if len(pkt) > 0xffff {
		return nil, fmt.Errorf("packet of %d bytes too long to tunnel", len(pkt))
	}
	out := make([]byte, 40, 40+len(pkt))
	out[0], out[1] = 0x60|ds>>4, ds<<4
	binary.BigEndian.PutUint16(out[4:], uint16(len(pkt)))
	out[6], out[7] = proto, tunnelTTL
	copy(out[8:24], t.Source.AsSlice())
	copy(out[24:40], t.RIP.AsSlice())
	return append(out, pkt...), nil
}
