package pcapcheck

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// layer is what verify needs of one IP header and what follows it.
type layer struct {
	// Family is 4 or 6 for an IP header whose DSCP was captured, else 0.
	Family uint8
	DSCP   uint8
	ECN    uint8
	// Addrs tells that the IP header was captured whole: Src, Dst and
	// Proto are valid. A capture cut inside the IP header may still hold
	// the source address, or both (then Src, Dst are valid, Addrs false).
	Addrs    bool
	Src, Dst netip.Addr
	// Proto is the upper-layer protocol: for IPv6, the one behind the
	// extension headers.
	Proto uint8
	// ports tells that SrcPort and DstPort are valid: a TCP, UDP or SCTP
	// header (its first 4 bytes at least) behind the IP header of a first
	// fragment. A capture cut inside the ports may hold the source port
	// alone (SrcPortOnly).
	ports            bool
	srcPortOnly      bool
	SrcPort, DstPort uint16
	// TCPFlags is valid when TCP is set (the fixed TCP header captured).
	TCP      bool
	TCPFlags uint8
	// Fragment: an IPv4 fragment (MF set or a non-zero offset) or an IPv6
	// packet with a fragment header. LaterFragment: not the first one, so
	// it carries no ports.
	fragment, laterFragment bool
	// Ext is the number of IPv6 extension headers walked.
	Ext uint8
	// Truncated: the capture holds less than the headers announce.
	truncated bool
	// l4 is the offset of the upper layer from the IP header.
	l4 int
}

// Packet is what verify needs of one captured frame. Decoding fills it in
// place: a frameDecoder allocates nothing per packet.
type Packet struct {
	Time time.Time
	// Length is the length on the wire, CapLen the bytes captured.
	Length, capLen int
	// Tags is the number of VLAN tags in the frame.
	Tags int
	// layer is the first IP header, the one a capture filter's ip[1]
	// reads: for a tunnel, the outer one.
	layer
	// Malformed, when not empty, says why the frame is not a packet the
	// network would deliver (then Family is 0): it is counted apart.
	Malformed string
	// Tunnel is the outer header's protocol (4 IPIP, 41 IPv6 in IP, 47
	// GRE) when the packet carries an inner IP header, described in Inner.
	Tunnel uint8
	inner  layer
}

// maxExtHeaders bounds the IPv6 extension header chain walked. Real
// traffic carries one to three; a longer chain is counted as malformed
// rather than walked, so a crafted packet cannot make decoding slow.
const maxExtHeaders = 8

// Reasons a frame is malformed (constants: decoding allocates nothing).
const (
	malformedVersion = "the IP version nibble does not match the EtherType"
	malformedRunt    = "shorter on the wire than an IP header"
	malformedIHL     = "IPv4 header length below 20 bytes"
	malformedExtLong = "IPv6 extension header chain longer than the bound"
	malformedExtCut  = "IPv6 extension header chain runs past the end of the packet"
)

// Link types (numbers from the tcpdump.org list) gopacket has no name for.
const (
	linkTypeLinuxSLL2 layers.LinkType = 276
)

// frameDecoder decodes frames of one link type into Packets. It reads the few
// header bytes verify needs by hand: gopacket's layers would decode (and
// check) far more than that, and the IPv6 extension headers and tunnels
// need walking anyway.
type frameDecoder struct {
	link layers.LinkType
}

const (
	etIPv4  = 0x0800
	etIPv6  = 0x86dd
	etVLAN  = 0x8100
	etQinQ  = 0x88a8
	etQinQ1 = 0x9100 // the pre-802.1ad QinQ tag, still in use
)

// supportedLink tells whether a frameDecoder reads link type l.
func supportedLink(l layers.LinkType) bool {
	_, ok := linkNames[l]
	return ok
}

// newDecoder returns a decoder for frames of link type link: Ethernet,
// Linux cooked v1 or v2 (SLL, SLL2, as from tcpdump -i any) or raw IP.
func newDecoder(link layers.LinkType) (*frameDecoder, error) {
	if !supportedLink(link) {
		return nil, fmt.Errorf("link type %v (%d) is not supported: verify reads Ethernet, Linux cooked (SLL, SLL2) and raw IP captures", link, int(link))
	}
	return &frameDecoder{link: link}, nil
}

func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }

// Decode fills p from one frame. It reports whether the frame is an IP
// packet whose DSCP was captured (p.Family != 0) or a malformed IP packet
// (p.Malformed set); the other fields are valid as their flags say.
func (d *frameDecoder) Decode(data []byte, ci gopacket.CaptureInfo, p *Packet) bool {
	*p = Packet{Time: ci.Timestamp, Length: ci.Length, capLen: len(data)}
	wire := ci.Length
	if wire < len(data) {
		wire = len(data)
	}
	var et uint16
	off := 0
	switch d.link {
	case layers.LinkTypeEthernet:
		if len(data) < 14 {
			return false
		}
		et, off = be16(data[12:]), 14
	case layers.LinkTypeLinuxSLL:
		if len(data) < 16 {
			return false
		}
		et, off = be16(data[14:]), 16
	case linkTypeLinuxSLL2:
		if len(data) < 20 {
			return false
		}
		et, off = be16(data), 20
	default: // raw IP: the version nibble tells the family
		if len(data) == 0 {
			return false
		}
		switch data[0] >> 4 {
		case 4:
			et = etIPv4
		case 6:
			et = etIPv6
		default:
			return false
		}
	}
	for et == etVLAN || et == etQinQ || et == etQinQ1 {
		// Beyond two tags is beyond what the capture filter reads.
		if p.Tags == maxVLANTags || len(data) < off+4 {
			return false
		}
		et = be16(data[off+2:])
		off += 4
		p.Tags++
	}
	var ver uint8
	switch et {
	case etIPv4:
		ver = 4
	case etIPv6:
		ver = 6
	default:
		return false
	}
	b := data[off:]
	if len(b) < 2 {
		// Not even the TOS byte: nothing to count.
		return false
	}
	if why := decodeIP(b, wire-off, ver, &p.layer); why != "" {
		p.layer = layer{}
		p.Malformed = why
		return true
	}
	if p.Addrs && !p.laterFragment && isTunnel(p.Proto) {
		d.decodeTunnel(b, wire-off, p)
	}
	return true
}

func isTunnel(proto uint8) bool { return proto == 4 || proto == 41 || proto == 47 }

// decodeTunnel decodes the inner header of an IPIP, IPv6-in-IP or GRE
// packet into p.Inner. An inner header that is cut or malformed leaves
// Inner empty: the outer header alone is what the network delivered.
func (d *frameDecoder) decodeTunnel(b []byte, wire int, p *Packet) {
	hl := p.l4
	if hl > len(b) {
		return
	}
	in, inWire := b[hl:], wire-hl
	var ver uint8
	switch p.Proto {
	case 4:
		ver = 4
	case 41:
		ver = 6
	case 47:
		// GRE (RFC 2784/2890): flags and version, protocol, then the
		// optional checksum, key and sequence words.
		if len(in) < 4 || in[0]&0x07 != 0 || in[1]&0x07 != 0 {
			return
		}
		n := 4
		for _, bit := range []byte{0x80, 0x20, 0x10} {
			if in[0]&bit != 0 {
				n += 4
			}
		}
		switch be16(in[2:]) {
		case etIPv4:
			ver = 4
		case etIPv6:
			ver = 6
		default:
			return
		}
		if len(in) < n {
			return
		}
		in, inWire = in[n:], inWire-n
	}
	if len(in) < 2 {
		return
	}
	var l layer
	if decodeIP(in, inWire, ver, &l) != "" {
		return
	}
	p.Tunnel, p.inner = p.Proto, l
}

// decodeIP decodes the IP header at the start of b (at least 2 bytes),
// wire bytes long on the wire, whose link layer announced version ver. It
// returns why the header is malformed, or "".
func decodeIP(b []byte, wire int, ver uint8, l *layer) string {
	if b[0]>>4 != ver {
		return malformedVersion
	}
	if ver == 4 {
		return decodeIPv4(b, wire, l)
	}
	return decodeIPv6(b, wire, l)
}

// setAddrs reads the source and destination addresses, size bytes each,
// that start at src in an IP header whose fixed part is fixed bytes long.
// Of a header cut before its end it keeps what a filter could still read
// (the source, if it is whole), marks the layer truncated and returns false.
func (l *layer) setAddrs(b []byte, fixed, src, size int) bool {
	if len(b) < fixed {
		l.truncated = true
		if len(b) >= src+size {
			l.Src, _ = netip.AddrFromSlice(b[src : src+size])
		}
		return false
	}
	l.Src, _ = netip.AddrFromSlice(b[src : src+size])
	l.Dst, _ = netip.AddrFromSlice(b[src+size : src+2*size])
	return true
}

func decodeIPv4(b []byte, wire int, l *layer) string {
	if wire < 20 {
		return malformedRunt
	}
	hl := int(b[0]&0x0f) * 4
	if hl < 20 {
		return malformedIHL
	}
	l.Family, l.DSCP, l.ECN = 4, b[1]>>2, b[1]&3
	if !l.setAddrs(b, 20, 12, 4) {
		return ""
	}
	if len(b) < hl {
		l.truncated = true
		return ""
	}
	l.Addrs = true
	l.Proto = b[9]
	fo := be16(b[6:])
	l.fragment = fo&0x3fff != 0
	l.laterFragment = fo&0x1fff != 0
	l.l4 = hl
	if !l.laterFragment {
		l.setPorts(b[hl:])
	}
	return ""
}

func decodeIPv6(b []byte, wire int, l *layer) string {
	if wire < 40 {
		return malformedRunt
	}
	tc := be16(b) >> 4
	l.Family, l.DSCP, l.ECN = 6, uint8(tc>>2)&0x3f, uint8(tc&3)
	if !l.setAddrs(b, 40, 8, 16) {
		return ""
	}
	l.Addrs = true
	// The chain ends where the payload length says (Ethernet may pad
	// short frames); 0 is a jumbogram, bounded by the frame.
	end := wire
	if pl := int(be16(b[4:])); pl != 0 && 40+pl < end {
		end = 40 + pl
	}
	o, next := 40, b[6]
	for {
		switch next {
		case 0, 43, 60, 44, 51: // hop-by-hop, routing, destination options, fragment, AH
		default: // the upper layer, ESP (50) or No Next Header (59)
			l.Proto, l.l4 = next, o
			if o > end {
				return malformedExtCut
			}
			if o <= len(b) {
				l.setPorts(b[o:])
			} else {
				l.truncated = true
			}
			return ""
		}
		if l.Ext == maxExtHeaders {
			return malformedExtLong
		}
		if o+8 > end {
			return malformedExtCut
		}
		if o+8 > len(b) {
			// Cut by the snap length: the DSCP and addresses stand.
			l.truncated = true
			return ""
		}
		h := b[o:]
		l.Ext++
		switch next {
		case 44:
			l.fragment = true
			if be16(h[2:])>>3 != 0 {
				l.laterFragment = true
				l.Proto = h[0]
				return ""
			}
			o += 8
		case 51:
			o += (int(h[1]) + 2) * 4
		default:
			o += (int(h[1]) + 1) * 8
		}
		next = h[0]
	}
}

func (l *layer) setPorts(l4 []byte) {
	switch l.Proto {
	case protoTCP, protoUDP, protoSCTP:
	default:
		return
	}
	if len(l4) < 4 {
		l.truncated = true
		if len(l4) >= 2 {
			l.srcPortOnly = true
			l.SrcPort = be16(l4)
		}
		return
	}
	l.ports = true
	l.SrcPort = be16(l4)
	l.DstPort = be16(l4[2:])
	if l.Proto == protoTCP {
		if len(l4) >= 20 {
			l.TCP = true
			l.TCPFlags = l4[13] & 0x3f
		} else {
			l.truncated = true
		}
	}
}

// String formats p as one line, like tcpdump -n with the TOS/DSCP shown.
func (p *Packet) String() string {
	var b strings.Builder
	b.WriteString(p.Time.Format("15:04:05.000000"))
	if p.Malformed != "" {
		fmt.Fprintf(&b, " malformed IP (%s), length %d", p.Malformed, p.Length)
		return b.String()
	}
	if p.Family == 0 {
		fmt.Fprintf(&b, " non-IP, length %d", p.Length)
		return b.String()
	}
	p.layer.format(&b, p.Tags)
	if p.Tunnel != 0 {
		b.WriteString(" | inner")
		p.inner.format(&b, 0)
	}
	fmt.Fprintf(&b, ", length %d", p.Length)
	return b.String()
}

func (l *layer) format(b *strings.Builder, tags int) {
	if l.Family == 4 {
		b.WriteString(" IP")
	} else {
		b.WriteString(" IP6")
	}
	tos := l.DSCP<<2 | l.ECN
	if l.Family == 4 {
		fmt.Fprintf(b, " (tos 0x%x", tos)
	} else {
		fmt.Fprintf(b, " (class 0x%x", tos)
	}
	fmt.Fprintf(b, ", DSCP %d", l.DSCP)
	if tags > 0 {
		fmt.Fprintf(b, ", %d VLAN tag(s)", tags)
	}
	b.WriteString(")")
	if !l.Addrs {
		b.WriteString(" [truncated IP header]")
		return
	}
	if l.ports {
		fmt.Fprintf(b, " %s > %s:", addrPort(l.Src, l.SrcPort), addrPort(l.Dst, l.DstPort))
	} else {
		fmt.Fprintf(b, " %s > %s:", l.Src, l.Dst)
	}
	switch l.Proto {
	case protoTCP:
		b.WriteString(" tcp")
		if l.TCP {
			fmt.Fprintf(b, " Flags [%s]", flagString(l.TCPFlags))
		}
	case protoUDP:
		b.WriteString(" UDP")
	case 1:
		b.WriteString(" ICMP")
	case 58:
		b.WriteString(" ICMP6")
	case 4:
		b.WriteString(" IPIP")
	case 41:
		b.WriteString(" IP6-in-IP")
	case 47:
		b.WriteString(" GRE")
	default:
		fmt.Fprintf(b, " proto %d", l.Proto)
	}
	if l.Ext > 0 {
		fmt.Fprintf(b, " (%d ext hdr)", l.Ext)
	}
	if l.fragment {
		b.WriteString(" (fragment)")
	}
	if l.truncated {
		b.WriteString(" [truncated]")
	}
}

func addrPort(a netip.Addr, port uint16) string {
	return fmt.Sprintf("%s.%d", a, port)
}

func flagString(f uint8) string {
	var b strings.Builder
	for i, c := range "FSRP.U" {
		if f&(1<<i) != 0 {
			b.WriteRune(c)
		}
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}
