package pcapcheck

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"golang.org/x/net/bpf"
)

// Ethernet framing the filter understands. Tags are matched inline: pcap
// files and devices without VLAN offload keep them in the frame; with
// offload the kernel strips them and the frame is seen untagged.
const (
	etherTypeOffset = 12
	etherHeaderLen  = 14
	vlanTagLen      = 4
	etherTypeIPv4   = 0x0800
	etherTypeIPv6   = 0x86dd
	etherTypeVLAN   = 0x8100 // 802.1Q
	etherTypeQinQ   = 0x88a8 // 802.1ad
	etherTypeQinQ1  = 0x9100 // QinQ before 802.1ad
	maxVLANTags     = 2

	// A BPF program returns how many bytes of the packet to keep.
	snapAll = 0x40000

	protoTCP  = 6
	protoUDP  = 17
	protoSCTP = 132
)

// match selects packets by one address and/or one TCP/UDP/SCTP port, as
// source or destination: for example the replies of a service, by VIP
// source address and port. The zero Addr matches any address; port 0 any
// port (and then any protocol).
type match struct {
	// Src matches the source address and port; otherwise the destination.
	Src  bool
	Addr netip.Addr
	Port uint16
}

func (m match) String() string {
	dir := "dst"
	if m.Src {
		dir = "src"
	}
	switch {
	case m.Addr.IsValid() && m.Port != 0:
		return fmt.Sprintf("%s %s port %d", dir, m.Addr, m.Port)
	case m.Addr.IsValid():
		return fmt.Sprintf("%s %s", dir, m.Addr)
	}
	return fmt.Sprintf("%s port %d", dir, m.Port)
}

// filterSpec says which packets a capture keeps: those whose DSCP is in
// DSCP, and those that fit any of Matches.
type filterSpec struct {
	DSCP    DSCPSet
	Matches []match
}

// maxMatches bounds the program's length well below the kernel's limit of
// 4096 instructions.
const maxMatches = 128

// accepts reports whether a decoded packet passes the filter: the filter's
// semantics in Go, for capture files and tests. Fields a cut capture does
// not hold match nothing, as the filter's loads beyond the end reject.
func (s filterSpec) accepts(p *Packet) bool {
	if p.Family == 0 {
		return false
	}
	if s.DSCP.has(p.DSCP) {
		return true
	}
	for _, m := range s.Matches {
		// The program reads IPv6 ports right behind the fixed header only,
		// as tcpdump's "port" does.
		direct := p.Family == 4 || p.Ext == 0
		a, port, ok := p.Dst, p.DstPort, p.ports && direct
		if m.Src {
			a, port, ok = p.Src, p.SrcPort, (p.ports || p.srcPortOnly) && direct
		}
		if m.Addr.IsValid() && m.Addr != a {
			continue
		}
		if m.Port != 0 && (!ok || m.Port != port) {
			continue
		}
		return true
	}
	return false
}

func (s filterSpec) validate() error {
	if s.DSCP == 0 && len(s.Matches) == 0 {
		return fmt.Errorf("the capture filter matches nothing: give at least one DSCP code, address or port")
	}
	if len(s.Matches) > maxMatches {
		return fmt.Errorf("the capture filter has %d address/port matches, more than %d: give fewer addresses or ports", len(s.Matches), maxMatches)
	}
	for _, m := range s.Matches {
		if !m.Addr.IsValid() && m.Port == 0 {
			return fmt.Errorf("a capture filter match needs an address or a port")
		}
		if m.Addr.Zone() != "" || m.Addr.Is4In6() {
			return fmt.Errorf("address %s in a capture filter: give it without zone and IPv4 addresses in IPv4 form", m.Addr)
		}
	}
	return nil
}

// dscpFilter returns a classic BPF program for an Ethernet (ARPHRD_ETHER)
// capture that accepts IPv4 and IPv6 packets whose DSCP is in codes, with up
// to two VLAN tags, and rejects everything else.
func dscpFilter(codes DSCPSet) ([]bpf.RawInstruction, error) {
	if codes == 0 {
		return nil, fmt.Errorf("no DSCP code to match: give at least one")
	}
	return filter(filterSpec{DSCP: codes})
}

// filter returns a classic BPF program for an Ethernet (ARPHRD_ETHER)
// capture that accepts the IPv4 and IPv6 packets spec selects, with up to
// two VLAN tags, and rejects everything else. Field semantics follow
// tcpdump's: the DSCP is (ip[1] & 0xfc) >> 2 or (ip6[0:2] & 0x0fc0) >> 6;
// ports are those of TCP, UDP and SCTP, read behind the IPv4 header of a
// first fragment, or right behind the fixed IPv6 header (no extension
// headers are walked, as tcpdump's "port" does not walk them).
//
// DSCP set membership costs the same for one code or 64: the DSCP selects
// a bit of a 64-bit mask held in two 32-bit constants.
func filter(spec filterSpec) ([]bpf.RawInstruction, error) {
	if err := spec.validate(); err != nil {
		return nil, err
	}
	p := &program{}
	// Walk the tags: each pass looks at the EtherType at the current
	// offset, which grows by one tag per pass. X gets the offset of the
	// IP header; the IP code below loads relative to it.
	for tags := 0; tags <= maxVLANTags; tags++ {
		off := uint32(etherTypeOffset + tags*vlanTagLen)
		l3 := uint32(etherHeaderLen + tags*vlanTagLen)
		next := fmt.Sprintf("tag%d", tags+1)
		v4, v6 := fmt.Sprintf("v4_%d", tags), fmt.Sprintf("v6_%d", tags)
		p.emit(bpf.LoadAbsolute{Off: off, Size: 2})
		p.jeq(etherTypeIPv4, v4)
		p.jeq(etherTypeIPv6, v6)
		if tags < maxVLANTags {
			p.jeq(etherTypeVLAN, next)
			p.jeq(etherTypeQinQ, next)
			p.jeq(etherTypeQinQ1, next)
		}
		p.jump("reject")
		p.label(v4)
		p.emit(bpf.LoadConstant{Dst: bpf.RegX, Val: l3})
		p.jump("v4")
		p.label(v6)
		p.emit(bpf.LoadConstant{Dst: bpf.RegX, Val: l3})
		p.jump("v6")
		if tags < maxVLANTags {
			p.label(next)
		}
	}

	// IPv4: DSCP is the top six bits of the TOS byte.
	p.label("v4")
	p.emit(bpf.StoreScratch{Src: bpf.RegX, N: 0})
	p.emit(bpf.LoadIndirect{Off: 1, Size: 1})
	p.emit(bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 2})
	p.dscpTest(spec.DSCP, "v4m")
	p.label("v4m")
	p.matches(spec.Matches, ipv4Fields)

	// IPv6: the traffic class straddles the first two bytes:
	// version(4) | traffic class(8) | flow label(20).
	p.label("v6")
	p.emit(bpf.StoreScratch{Src: bpf.RegX, N: 0})
	p.emit(bpf.LoadIndirect{Off: 0, Size: 2})
	p.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0x0fc0})
	p.emit(bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 6})
	p.dscpTest(spec.DSCP, "v6m")
	p.label("v6m")
	p.matches(spec.Matches, ipv6Fields)

	p.label("accept")
	p.emit(bpf.RetConstant{Val: snapAll})
	p.label("reject")
	p.emit(bpf.RetConstant{Val: 0})
	return p.assemble()
}

// ipFields is where a filter finds what a match tests in one IP version,
// relative to the IP header (register X, kept in scratch 0).
type ipFields struct {
	name     string // label prefix
	is       func(netip.Addr) bool
	src, dst uint32 // the addresses
	proto    uint32 // the upper-layer protocol
	// toPorts emits what moves X to the upper-layer header, or jumps to
	// miss when there are no ports to read there, and returns the offset
	// of the ports from X.
	toPorts func(p *program, miss string) uint32
}

var ipv4Fields = ipFields{name: "v4", is: netip.Addr.Is4, src: 12, dst: 16, proto: 9,
	toPorts: func(p *program, miss string) uint32 {
		// Only a first fragment (offset 0) has the ports.
		p.emit(bpf.LoadIndirect{Off: 6, Size: 2})
		p.jset(0x1fff, miss)
		// X = offset of the IP header + 4 * IHL.
		p.emit(bpf.LoadIndirect{Off: 0, Size: 1})
		p.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0x0f})
		p.emit(bpf.ALUOpConstant{Op: bpf.ALUOpShiftLeft, Val: 2})
		p.emit(bpf.ALUOpX{Op: bpf.ALUOpAdd})
		p.emit(bpf.TAX{})
		return 0
	}}

// IPv6 ports are read right behind the fixed header, as tcpdump's "port"
// reads them.
var ipv6Fields = ipFields{name: "v6", is: netip.Addr.Is6, src: 8, dst: 24, proto: 6,
	toPorts: func(*program, string) uint32 { return 40 }}

// matches emits the tests of the matches of one IP version, each accepting
// the packet when it holds; then rejects it.
func (p *program) matches(ms []match, f ipFields) {
	for _, m := range ms {
		if m.Addr.IsValid() && !f.is(m.Addr) {
			continue
		}
		miss := p.newLabel(f.name + "miss")
		p.emit(bpf.LoadScratch{Dst: bpf.RegX, N: 0})
		if m.Addr.IsValid() {
			off := f.dst
			if m.Src {
				off = f.src
			}
			a := m.Addr.AsSlice()
			for i := 0; i < len(a); i += 4 {
				p.emit(bpf.LoadIndirect{Off: off + uint32(i), Size: 4})
				p.jne(binary.BigEndian.Uint32(a[i:]), miss)
			}
		}
		if m.Port != 0 {
			l4 := p.newLabel(f.name + "l4")
			p.emit(bpf.LoadIndirect{Off: f.proto, Size: 1})
			p.jeq(protoTCP, l4)
			p.jeq(protoUDP, l4)
			p.jeq(protoSCTP, l4)
			p.jump(miss)
			p.label(l4)
			off := f.toPorts(p, miss) + 2
			if m.Src {
				off -= 2
			}
			p.emit(bpf.LoadIndirect{Off: off, Size: 2})
			p.jne(uint32(m.Port), miss)
		}
		p.jump("accept")
		p.label(miss)
	}
	p.jump("reject")
}

// dscpTest: A holds the DSCP (0..63); accept when bit A of the set is on,
// else go on at miss. Clobbers X.
func (p *program) dscpTest(codes DSCPSet, miss string) {
	if codes == 0 {
		p.jump(miss)
		return
	}
	high := p.newLabel("high")
	p.jgeConst(32, high)
	p.bitTest(uint32(codes), "accept", miss)
	p.label(high)
	p.emit(bpf.ALUOpConstant{Op: bpf.ALUOpSub, Val: 32})
	p.bitTest(uint32(codes>>32), "accept", miss)
}
