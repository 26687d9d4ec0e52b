package pcapcheck

import (
	"fmt"

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
	maxVLANTags     = 2

	// A BPF program returns how many bytes of the packet to keep.
	snapAll = 0x40000
)

// DSCPSet is a set of DSCP codes (0..63) as a bitmap.
type DSCPSet uint64

// NewDSCPSet returns the set of the given codes, or an error naming the
// first code out of range.
func NewDSCPSet(codes ...int) (DSCPSet, error) {
	var s DSCPSet
	for _, c := range codes {
		if c < 0 || c > 63 {
			return 0, fmt.Errorf("DSCP %d is out of range: use 0-63", c)
		}
		s |= 1 << uint(c)
	}
	return s, nil
}

// Has reports whether code is in the set.
func (s DSCPSet) Has(code uint8) bool { return code < 64 && s&(1<<code) != 0 }

// DSCPFilter returns a classic BPF program for an Ethernet (ARPHRD_ETHER)
// capture that accepts IPv4 and IPv6 packets whose DSCP is in codes, with up
// to two VLAN tags, and rejects everything else.
//
// Set membership costs the same for one code or 64: the DSCP selects a bit
// of a 64-bit mask held in two 32-bit constants.
func DSCPFilter(codes DSCPSet) ([]bpf.RawInstruction, error) {
	if codes == 0 {
		return nil, fmt.Errorf("no DSCP code to match: give at least one")
	}
	p := &program{}
	// Walk the tags: each pass looks at the EtherType at the current
	// offset, which grows by one tag per pass.
	for tags := 0; tags <= maxVLANTags; tags++ {
		off := uint32(etherTypeOffset + tags*vlanTagLen)
		l3 := uint32(etherHeaderLen + tags*vlanTagLen)
		next := fmt.Sprintf("tag%d", tags+1)
		p.emit(bpf.LoadAbsolute{Off: off, Size: 2})
		p.jeq(etherTypeIPv4, fmt.Sprintf("v4_%d", tags))
		p.jeq(etherTypeIPv6, fmt.Sprintf("v6_%d", tags))
		if tags < maxVLANTags {
			p.jeq(etherTypeVLAN, next)
			p.jeq(etherTypeQinQ, next)
		}
		p.jump("reject")

		// IPv4: DSCP is the top six bits of the TOS byte.
		p.label(fmt.Sprintf("v4_%d", tags))
		p.emit(bpf.LoadAbsolute{Off: l3 + 1, Size: 1})
		p.emit(bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 2})
		p.jump("dscp")

		// IPv6: the traffic class straddles the first two bytes:
		// version(4) | traffic class(8) | flow label(20).
		p.label(fmt.Sprintf("v6_%d", tags))
		p.emit(bpf.LoadAbsolute{Off: l3, Size: 2})
		p.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0x0fc0})
		p.emit(bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 6})
		p.jump("dscp")

		if tags < maxVLANTags {
			p.label(next)
		}
	}

	// A holds the DSCP (0..63): accept when bit A of the set is on.
	p.label("dscp")
	p.jgeConst(32, "high")
	p.bitTest(uint32(codes))
	p.label("high")
	p.emit(bpf.ALUOpConstant{Op: bpf.ALUOpSub, Val: 32})
	p.bitTest(uint32(codes >> 32))

	p.label("accept")
	p.emit(bpf.RetConstant{Val: snapAll})
	p.label("reject")
	p.emit(bpf.RetConstant{Val: 0})
	return p.assemble()
}
