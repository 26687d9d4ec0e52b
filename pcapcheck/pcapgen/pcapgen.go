// Package pcapgen builds Ethernet frames and pcap files for tests and
// benchmarks of pcapcheck: L3 DSR flows (marked requests to a real server,
// replies from the VIP or the RIP) and a deterministic mix of other traffic
// with IPv6, VLAN tags, fragments and truncated captures.
package pcapgen

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Packet describes one frame to build.
type Packet struct {
	// Tags are the EtherTypes of the VLAN tags in front of the IP header
	// (0x8100 or 0x88a8), outermost first.
	Tags     []uint16
	Src, Dst netip.Addr // same family; IPv4 or IPv6
	DSCP     uint8
	ECN      uint8
	Proto    uint8 // 6 TCP, 17 UDP, 1/58 ICMP, anything else raw
	SrcPort  uint16
	DstPort  uint16
	TCPFlags uint8
	Payload  int
	// FragOffset (in 8-byte units) and MoreFrags make an IPv4 fragment.
	FragOffset uint16
	MoreFrags  bool
	// IPv4Options adds this many 4-byte words of IPv4 options (NOPs).
	IPv4Options int
	// EtherType, when non-zero, replaces the IP EtherType (e.g. 0x0806).
	EtherType uint16
	// Ext are IPv6 extension headers put between the fixed header and
	// the upper layer, in order.
	Ext []Ext
	// Version, when non-zero, is written into the version nibble instead
	// of the family's (a malformed packet).
	Version uint8
	// Outer, when set, wraps the IP packet in a tunnel header.
	Outer *Outer

	raw []byte // the payload of a tunnel's outer header
}

// Ext is one IPv6 extension header: hop-by-hop (0), routing (43),
// destination options (60), AH (51) or fragment (44).
type Ext struct {
	Type uint8
	// Len is the header's length in bytes (a multiple of 8, 4 for AH; 0
	// gives the smallest).
	Len int
	// FragOffset (in 8-byte units) and MoreFrags for a fragment header.
	FragOffset uint16
	MoreFrags  bool
}

// Outer is a tunnel header: IPIP or IPv6-in-IP (chosen by the inner
// family), or GRE.
type Outer struct {
	Src, Dst netip.Addr
	DSCP     uint8
	GRE      bool
}

// TCP flags.
const (
	SYN = 0x02
	psh = 0x08
	ACK = 0x10
)

// Exchange is one TCP flow of L3 DSR: n requests client→rip marked with
// code, each answered from src (the VIP when DSR works).
func Exchange(client, rip, src netip.Addr, code uint8, cport uint16, n int) []Packet {
	var out []Packet
	for i := 0; i < n; i++ {
		out = append(out,
			Packet{Src: client, Dst: rip, DSCP: code, Proto: 6, SrcPort: cport, DstPort: 80, TCPFlags: ACK},
			Packet{Src: src, Dst: client, Proto: 6, SrcPort: 80, DstPort: cport, TCPFlags: ACK})
	}
	return out
}

// Bytes returns the frame as it is on the wire.
func (p Packet) Bytes() []byte {
	b := make([]byte, 0, 128+p.Payload)
	b = append(b, 0x02, 0, 0, 0, 0, 2) // destination MAC
	b = append(b, 0x02, 0, 0, 0, 0, 1) // source MAC
	for _, t := range p.Tags {
		b = binary.BigEndian.AppendUint16(b, t)
		b = binary.BigEndian.AppendUint16(b, 100)
	}
	if p.EtherType != 0 {
		b = binary.BigEndian.AppendUint16(b, p.EtherType)
		return append(b, make([]byte, 28)...)
	}
	// The EtherType follows the family of the addresses, whatever the
	// version nibble says.
	et := uint16(0x0800)
	if p.Outer != nil && p.Outer.Src.Is6() || p.Outer == nil && p.Src.Is6() {
		et = 0x86dd
	}
	b = binary.BigEndian.AppendUint16(b, et)
	return append(b, p.IP()...)
}

// IP returns the IP packet alone (what a raw-IP capture holds).
func (p Packet) IP() []byte {
	inner := p.ip()
	if p.Outer == nil {
		return inner
	}
	o := p.Outer
	proto := uint8(4)
	if p.Src.Is6() {
		proto = 41
	}
	if o.GRE {
		et := uint16(0x0800)
		if p.Src.Is6() {
			et = 0x86dd
		}
		inner = append(binary.BigEndian.AppendUint16([]byte{0, 0}, et), inner...)
		proto = 47
	}
	return Packet{Src: o.Src, Dst: o.Dst, DSCP: o.DSCP, Proto: proto, raw: inner}.ip()
}

func (p Packet) ip() []byte {
	var b []byte
	l4 := p.l4()
	if p.raw != nil {
		l4 = p.raw
	}
	if p.Src.Is4() {
		ihl := 5 + p.IPv4Options
		total := ihl*4 + len(l4)
		ip := make([]byte, ihl*4)
		ip[0] = 0x40 | byte(ihl)
		if p.Version != 0 {
			ip[0] = p.Version<<4 | byte(ihl)
		}
		ip[1] = p.DSCP<<2 | p.ECN&3
		binary.BigEndian.PutUint16(ip[2:], uint16(total))
		binary.BigEndian.PutUint16(ip[4:], 0x1234)
		frag := p.FragOffset & 0x1fff
		if p.MoreFrags {
			frag |= 0x2000
		}
		binary.BigEndian.PutUint16(ip[6:], frag)
		ip[8] = 64
		ip[9] = p.Proto
		s, d := p.Src.As4(), p.Dst.As4()
		copy(ip[12:], s[:])
		copy(ip[16:], d[:])
		for i := 20; i < len(ip); i++ {
			ip[i] = 1 // NOP
		}
		binary.BigEndian.PutUint16(ip[10:], checksum(ip))
		b = append(b, ip...)
	} else {
		ip := make([]byte, 40)
		tc := uint32(p.DSCP)<<2 | uint32(p.ECN&3)
		ver := uint32(6)
		if p.Version != 0 {
			ver = uint32(p.Version)
		}
		binary.BigEndian.PutUint32(ip, ver<<28|tc<<20|0x12345)
		ip[6] = p.Proto
		ip[7] = 64
		s, d := p.Src.As16(), p.Dst.As16()
		copy(ip[8:], s[:])
		copy(ip[24:], d[:])
		var ext []byte
		for i, e := range p.Ext {
			next := p.Proto
			if i+1 < len(p.Ext) {
				next = p.Ext[i+1].Type
			}
			if i == 0 {
				ip[6] = e.Type
			}
			ext = append(ext, e.bytes(next)...)
		}
		binary.BigEndian.PutUint16(ip[4:], uint16(len(ext)+len(l4)))
		b = append(b, ip...)
		b = append(b, ext...)
	}
	return append(b, l4...)
}

func (e Ext) bytes(next uint8) []byte {
	switch e.Type {
	case 44:
		h := make([]byte, 8)
		h[0] = next
		v := e.FragOffset << 3
		if e.MoreFrags {
			v |= 1
		}
		binary.BigEndian.PutUint16(h[2:], v)
		binary.BigEndian.PutUint32(h[4:], 0xabcd)
		return h
	case 51:
		n := max(e.Len, 12)
		h := make([]byte, n)
		h[0], h[1] = next, byte(n/4-2)
		return h
	}
	n := max(e.Len, 8)
	h := make([]byte, n)
	h[0], h[1] = next, byte(n/8-1)
	// PadN over the rest, so the options are well formed.
	h[2], h[3] = 1, byte(n-4)
	return h
}

func (p Packet) l4() []byte {
	if p.FragOffset != 0 {
		return make([]byte, 8+p.Payload)
	}
	for _, e := range p.Ext {
		if e.Type == 44 && e.FragOffset != 0 {
			return make([]byte, 8+p.Payload)
		}
	}
	switch p.Proto {
	case 6:
		h := make([]byte, 20+p.Payload)
		binary.BigEndian.PutUint16(h[0:], p.SrcPort)
		binary.BigEndian.PutUint16(h[2:], p.DstPort)
		binary.BigEndian.PutUint32(h[4:], 1000)
		h[12] = 5 << 4
		h[13] = p.TCPFlags
		binary.BigEndian.PutUint16(h[14:], 65535)
		return h
	case 17:
		h := make([]byte, 8+p.Payload)
		binary.BigEndian.PutUint16(h[0:], p.SrcPort)
		binary.BigEndian.PutUint16(h[2:], p.DstPort)
		binary.BigEndian.PutUint16(h[4:], uint16(8+p.Payload))
		return h
	case 1, 58:
		h := make([]byte, 8+p.Payload)
		h[0] = 8
		if p.Proto == 58 {
			h[0] = 128
		}
		return h
	}
	return make([]byte, p.Payload)
}

func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

// writer writes frames to a pcap (or pcapng) file, one per call.
type writer struct {
	bw   *bufio.Writer
	pw   *pcapgo.Writer
	nw   *pcapgo.NgWriter
	t    time.Time
	snap int
}

// NewWriter starts a pcap file (pcapng with ng) on w. Frames longer than
// snap bytes are cut to snap, as a capture with that snap length does.
func NewWriter(w io.Writer, ng bool, snap int) (*writer, error) {
	gw := &writer{bw: bufio.NewWriterSize(w, 1<<20), t: time.Unix(1700000000, 0), snap: snap}
	if ng {
		nw, err := pcapgo.NewNgWriter(gw.bw, layers.LinkTypeEthernet)
		if err != nil {
			return nil, fmt.Errorf("pcapng header: %w", err)
		}
		gw.nw = nw
		return gw, nil
	}
	gw.pw = pcapgo.NewWriter(gw.bw)
	if err := gw.pw.WriteFileHeader(uint32(snap), layers.LinkTypeEthernet); err != nil {
		return nil, fmt.Errorf("pcap header: %w", err)
	}
	return gw, nil
}

// Write appends one frame, cut to caplen bytes when 0 < caplen < len, else
// to the snap length.
func (w *writer) Write(frame []byte, caplen int) error {
	if caplen <= 0 || caplen > len(frame) {
		caplen = len(frame)
	}
	if caplen > w.snap {
		caplen = w.snap
	}
	w.t = w.t.Add(time.Microsecond * 10)
	ci := gopacket.CaptureInfo{Timestamp: w.t, CaptureLength: caplen, Length: len(frame)}
	if w.nw != nil {
		return w.nw.WritePacket(ci, frame[:caplen])
	}
	return w.pw.WritePacket(ci, frame[:caplen])
}

// Close flushes the file (it does not close the underlying writer).
func (w *writer) Close() error {
	if w.nw != nil {
		if err := w.nw.Flush(); err != nil {
			return err
		}
	}
	return w.bw.Flush()
}

// Mix describes a deterministic stream of traffic: L3 DSR flows plus noise.
type Mix struct {
	Seed uint64
	// Codes are the DSCP codes of the DSR services; the VIPs are
	// 10.80.0.<i+1> and 2001:db8:80::<i+1>, the RIP 203.0.113.30 and
	// 2001:db8:e::30.
	Codes []uint8
	// Tags, IPv6, Truncate, Noise: whether to add VLAN-tagged frames, IPv6
	// flows, frames cut short (in the Ethernet, IP and L4 headers) and
	// unrelated traffic (ARP, other DSCP codes, fragments, options).
	Tags, IPv6, Truncate, Noise bool
}

// Addresses of the generated DSR setup.
var (
	RIP4    = netip.MustParseAddr("203.0.113.30")
	RIP6    = netip.MustParseAddr("2001:db8:e::30")
	Client4 = netip.MustParseAddr("198.51.100.10")
	Client6 = netip.MustParseAddr("2001:db8:c::10")
)

// VIP4 and VIP6 return the VIPs of service i.
func VIP4(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 80, 0, byte(i + 1)}) }
func VIP6(i int) netip.Addr {
	a := netip.MustParseAddr("2001:db8:80::").As16()
	a[15] = byte(i + 1)
	return netip.AddrFrom16(a)
}

// Generate writes n frames of the mix to w.
func (m Mix) Generate(w *writer, n int) error {
	r := rand.New(rand.NewPCG(m.Seed, 0x13d5))
	tagSets := [][]uint16{nil, {0x8100}, {0x88a8, 0x8100}, {0x8100, 0x8100}}
	for i := 0; i < n; {
		svc := r.IntN(len(m.Codes))
		v6 := m.IPv6 && r.IntN(3) == 0
		var tags []uint16
		if m.Tags && r.IntN(4) == 0 {
			tags = tagSets[1+r.IntN(3)]
		}
		client, rip, vip := Client4, RIP4, VIP4(svc)
		if v6 {
			client, rip, vip = Client6, RIP6, VIP6(svc)
		}
		proto := uint8(6)
		if r.IntN(4) == 0 {
			proto = 17
		}
		cport := uint16(20000 + r.IntN(40000))
		req := Packet{Tags: tags, Src: client, Dst: rip, DSCP: m.Codes[svc], ECN: uint8(r.IntN(4)), Proto: proto,
			SrcPort: cport, DstPort: 80, TCPFlags: ACK | psh, Payload: r.IntN(200)}
		rep := Packet{Tags: tags, Src: vip, Dst: client, Proto: proto, SrcPort: 80, DstPort: cport, TCPFlags: ACK, Payload: r.IntN(1000)}
		for _, p := range []Packet{req, rep} {
			if i >= n {
				break
			}
			caplen := 0
			if m.Truncate && r.IntN(10) == 0 {
				// Cut in the Ethernet header, the IP header or the L4 header.
				caplen = 1 + r.IntN(14+4*len(p.Tags)+40+20)
			}
			if err := w.Write(p.Bytes(), caplen); err != nil {
				return err
			}
			i++
		}
		if !m.Noise || i >= n || r.IntN(2) == 0 {
			continue
		}
		var p Packet
		switch r.IntN(6) {
		case 0:
			p = Packet{EtherType: 0x0806}
		case 1: // another DSCP code, any protocol
			p = Packet{Tags: tags, Src: client, Dst: rip, DSCP: uint8(r.IntN(64)), Proto: []uint8{6, 17, 1, 47}[r.IntN(4)], SrcPort: cport, DstPort: 443}
			if v6 && p.Proto == 1 {
				p.Proto = 58
			}
		case 2: // an IPv4 fragment carrying a code
			p = Packet{Tags: tags, Src: Client4, Dst: RIP4, DSCP: m.Codes[svc], Proto: 17, FragOffset: uint16(r.IntN(2) * 185), MoreFrags: true, SrcPort: 5000, DstPort: 80, Payload: 100}
		case 3: // IPv4 options
			p = Packet{Tags: tags, Src: Client4, Dst: RIP4, DSCP: m.Codes[svc], Proto: 6, SrcPort: cport + 1, DstPort: 80, IPv4Options: 1 + r.IntN(3), TCPFlags: SYN}
		case 4: // a reply from the RIP (broken DSR)
			p = Packet{Tags: tags, Src: rip, Dst: client, Proto: proto, SrcPort: 80, DstPort: cport, TCPFlags: ACK}
		case 5: // three tags: beyond what the filter reads
			p = Packet{Tags: []uint16{0x8100, 0x8100, 0x8100}, Src: Client4, Dst: RIP4, DSCP: m.Codes[svc], Proto: 6, SrcPort: 1, DstPort: 80}
		}
		if err := w.Write(p.Bytes(), 0); err != nil {
			return err
		}
		i++
	}
	return nil
}
