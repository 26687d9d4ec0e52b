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

// Packet is what verify needs of one captured frame. Decoding fills it in
// place: a Decoder allocates nothing per packet.
type Packet struct {
	Time time.Time
	// Length is the length on the wire, CapLen the bytes captured.
	Length, CapLen int
	// Tags is the number of VLAN tags in the frame.
	Tags int
	// Family is 4 or 6 for an IP packet whose DSCP was captured, else 0.
	Family uint8
	DSCP   uint8
	ECN    uint8
	// Addrs tells that the IP header was captured whole: Src, Dst and
	// Proto are valid. A capture cut inside the IP header may still hold
	// the source address, or both (then Src, Dst are valid, Addrs false).
	Addrs    bool
	Src, Dst netip.Addr
	Proto    uint8
	// Ports tells that SrcPort and DstPort are valid: a TCP, UDP or SCTP
	// header (its first 4 bytes at least) right behind the IPv4 header of
	// a first fragment or the fixed IPv6 header. A capture cut inside the
	// ports may hold the source port alone (SrcPortOnly).
	Ports            bool
	SrcPortOnly      bool
	SrcPort, DstPort uint16
	// TCPFlags is valid when TCP is set (the whole TCP header decoded).
	TCP      bool
	TCPFlags uint8
	// Fragment: an IPv4 fragment (MF set or a non-zero offset).
	Fragment bool
	// Truncated: the capture holds less than the headers announce.
	Truncated bool
}

// Decoder decodes frames of one link type into Packets with gopacket's
// DecodingLayerParser: the layers are allocated once and overwritten.
type Decoder struct {
	link    layers.LinkType
	eth     layers.Ethernet
	sll     layers.LinuxSLL
	dot1q   layers.Dot1Q
	ip4     layers.IPv4
	ip6     layers.IPv6
	tcp     layers.TCP
	udp     layers.UDP
	parsers map[gopacket.LayerType]*gopacket.DecodingLayerParser
	first   *gopacket.DecodingLayerParser
	decoded []gopacket.LayerType
}

// Link types a Decoder reads.
var supportedLinks = []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeLinuxSLL, layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6}

// NewDecoder returns a decoder for frames of link type link: Ethernet,
// Linux cooked (SLL, as from tcpdump -i any) or raw IP.
func NewDecoder(link layers.LinkType) (*Decoder, error) {
	d := &Decoder{link: link, decoded: make([]gopacket.LayerType, 0, 8), parsers: map[gopacket.LayerType]*gopacket.DecodingLayerParser{}}
	mk := func(first gopacket.LayerType) *gopacket.DecodingLayerParser {
		p := gopacket.NewDecodingLayerParser(first)
		p.SetDecodingLayerContainer(gopacket.DecodingLayerSparse(nil))
		for _, l := range []gopacket.DecodingLayer{&d.eth, &d.sll, &d.dot1q, &d.ip4, &d.ip6, &d.tcp, &d.udp} {
			p.AddDecodingLayer(l)
		}
		p.IgnoreUnsupported = true
		return p
	}
	switch link {
	case layers.LinkTypeEthernet:
		d.first = mk(layers.LayerTypeEthernet)
	case layers.LinkTypeLinuxSLL:
		d.first = mk(layers.LayerTypeLinuxSLL)
	case layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6:
		d.parsers[layers.LayerTypeIPv4] = mk(layers.LayerTypeIPv4)
		d.parsers[layers.LayerTypeIPv6] = mk(layers.LayerTypeIPv6)
	default:
		return nil, fmt.Errorf("link type %v (%d) is not supported: verify reads Ethernet, Linux cooked (SLL) and raw IP captures", link, int(link))
	}
	return d, nil
}

// Decode fills p from one frame. It reports whether the frame is an IP
// packet whose DSCP was captured (p.Family != 0); the other fields are
// valid as their flags say.
func (d *Decoder) Decode(data []byte, ci gopacket.CaptureInfo, p *Packet) bool {
	*p = Packet{Time: ci.Timestamp, Length: ci.Length, CapLen: len(data)}
	parser := d.first
	if parser == nil {
		if len(data) == 0 {
			return false
		}
		switch data[0] >> 4 {
		case 4:
			parser = d.parsers[layers.LayerTypeIPv4]
		case 6:
			parser = d.parsers[layers.LayerTypeIPv6]
		default:
			return false
		}
	}
	// Errors (short or malformed headers) end decoding; what was decoded
	// before them is used, and the raw bytes behind the last link layer
	// give the DSCP, as a filter reading ip[1] would.
	_ = parser.DecodeLayers(data, &d.decoded)
	p.Truncated = parser.Truncated

	l3 := data
	var next gopacket.LayerType
	if d.first == nil {
		next = layers.LayerTypeIPv4
		if data[0]>>4 == 6 {
			next = layers.LayerTypeIPv6
		}
	}
	var gotIP4, gotIP6 bool
	for _, t := range d.decoded {
		switch t {
		case layers.LayerTypeEthernet:
			l3, next = d.eth.Payload, d.eth.NextLayerType()
		case layers.LayerTypeLinuxSLL:
			l3, next = d.sll.Payload, d.sll.NextLayerType()
		case layers.LayerTypeDot1Q:
			p.Tags++
			l3, next = d.dot1q.Payload, d.dot1q.NextLayerType()
		case layers.LayerTypeIPv4:
			gotIP4 = true
		case layers.LayerTypeIPv6:
			gotIP6 = true
		case layers.LayerTypeTCP:
			p.TCP = true
			p.TCPFlags = tcpFlags(&d.tcp)
		}
	}
	if d.link == layers.LinkTypeEthernet && p.Tags > maxVLANTags {
		// Beyond what the capture filter reads.
		return false
	}
	switch next {
	case layers.LayerTypeIPv4:
		if len(l3) < 2 {
			return false
		}
		p.Family, p.DSCP, p.ECN = 4, l3[1]>>2, l3[1]&3
		if !gotIP4 {
			if len(l3) < 20 {
				p.Truncated = true
			}
			// What a filter could still read of a cut header.
			if len(l3) >= 16 {
				p.Src = netip.AddrFrom4([4]byte(l3[12:16]))
			}
			if len(l3) >= 20 {
				p.Dst = netip.AddrFrom4([4]byte(l3[16:20]))
			}
			return true
		}
		p.Addrs = true
		p.Src, _ = netip.AddrFromSlice(d.ip4.SrcIP)
		p.Dst, _ = netip.AddrFromSlice(d.ip4.DstIP)
		p.Proto = uint8(d.ip4.Protocol)
		p.Fragment = d.ip4.Flags&layers.IPv4MoreFragments != 0 || d.ip4.FragOffset != 0
		if d.ip4.FragOffset == 0 {
			p.setPorts(l3[d.ip4.IHL*4:])
		}
	case layers.LayerTypeIPv6:
		if len(l3) < 2 {
			return false
		}
		tc := binary.BigEndian.Uint16(l3) >> 4
		p.Family, p.DSCP, p.ECN = 6, uint8(tc>>2)&0x3f, uint8(tc&3)
		if !gotIP6 {
			if len(l3) < 40 {
				p.Truncated = true
			}
			if len(l3) >= 24 {
				p.Src = netip.AddrFrom16([16]byte(l3[8:24]))
			}
			if len(l3) >= 40 {
				p.Dst = netip.AddrFrom16([16]byte(l3[24:40]))
			}
			return true
		}
		p.Addrs = true
		p.Src = netip.AddrFrom16([16]byte(d.ip6.SrcIP))
		p.Dst = netip.AddrFrom16([16]byte(d.ip6.DstIP))
		// The protocol in the fixed header, as filters read it.
		p.Proto = l3[6]
		p.setPorts(l3[40:])
	default:
		return false
	}
	return true
}

func (p *Packet) setPorts(l4 []byte) {
	switch p.Proto {
	case protoTCP, protoUDP, protoSCTP:
	default:
		return
	}
	if len(l4) < 4 {
		p.Truncated = true
		if len(l4) >= 2 {
			p.SrcPortOnly = true
			p.SrcPort = binary.BigEndian.Uint16(l4)
		}
		return
	}
	p.Ports = true
	p.SrcPort = binary.BigEndian.Uint16(l4)
	p.DstPort = binary.BigEndian.Uint16(l4[2:])
}

func tcpFlags(t *layers.TCP) uint8 {
	var f uint8
	for i, set := range []bool{t.FIN, t.SYN, t.RST, t.PSH, t.ACK, t.URG} {
		if set {
			f |= 1 << i
		}
	}
	return f
}

// String formats p as one line, like tcpdump -n with the TOS/DSCP shown.
func (p *Packet) String() string {
	var b strings.Builder
	b.WriteString(p.Time.Format("15:04:05.000000"))
	if p.Family == 0 {
		fmt.Fprintf(&b, " non-IP, length %d", p.Length)
		return b.String()
	}
	if p.Family == 4 {
		b.WriteString(" IP")
	} else {
		b.WriteString(" IP6")
	}
	tos := p.DSCP<<2 | p.ECN
	if p.Family == 4 {
		fmt.Fprintf(&b, " (tos 0x%x", tos)
	} else {
		fmt.Fprintf(&b, " (class 0x%x", tos)
	}
	fmt.Fprintf(&b, ", DSCP %d", p.DSCP)
	if p.Tags > 0 {
		fmt.Fprintf(&b, ", %d VLAN tag(s)", p.Tags)
	}
	b.WriteString(")")
	if !p.Addrs {
		fmt.Fprintf(&b, " [truncated IP header], length %d", p.Length)
		return b.String()
	}
	if p.Ports {
		fmt.Fprintf(&b, " %s > %s:", addrPort(p.Src, p.SrcPort), addrPort(p.Dst, p.DstPort))
	} else {
		fmt.Fprintf(&b, " %s > %s:", p.Src, p.Dst)
	}
	switch p.Proto {
	case protoTCP:
		b.WriteString(" tcp")
		if p.TCP {
			fmt.Fprintf(&b, " Flags [%s]", flagString(p.TCPFlags))
		}
	case protoUDP:
		b.WriteString(" UDP")
	case 1:
		b.WriteString(" ICMP")
	case 58:
		b.WriteString(" ICMP6")
	default:
		fmt.Fprintf(&b, " proto %d", p.Proto)
	}
	if p.Fragment {
		b.WriteString(" (fragment)")
	}
	if p.Truncated {
		b.WriteString(" [truncated]")
	}
	fmt.Fprintf(&b, ", length %d", p.Length)
	return b.String()
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
