package icmprelay

import (
	"fmt"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// snapLen is what the filter keeps of a packet: all of it (an ICMPv6
// error is at most 1280 bytes, an ICMP one 576, but a jumbo link could
// carry more).
const snapLen = 0xffff

// filter is the socket filter: only what parse may accept comes up from
// the kernel, so that the director's other traffic is dropped in it. The
// socket gets packets from their IP header on (SOCK_DGRAM). It passes:
//   - packets addressed to this host (PACKET_HOST): not the copies a
//     promiscuous link hands up of other hosts' packets, nor broadcast
//     and multicast ones, nor what this host sends;
//   - IPv4 ICMP type 3 code 4 not fragmented (the type at the header's
//     length, which IHL gives);
//   - IPv6 next header 58 (ICMPv6) type 2: an error behind extension
//     headers is dropped, as routers send none.
func filter() ([]unix.SockFilter, error) {
	const drop, pass = 0, snapLen
	prog := []bpf.Instruction{
		/* 0 */ bpf.LoadExtension{Num: bpf.ExtType},
		/* 1 */ bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: unix.PACKET_HOST, SkipTrue: 15},
		/* 2 */ bpf.LoadExtension{Num: bpf.ExtProto},
		/* 3 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.ETH_P_IPV6, SkipTrue: 8},
		/* 4 */ bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: unix.ETH_P_IP, SkipTrue: 12},
		/* 5 */ bpf.LoadAbsolute{Off: 9, Size: 1},
		/* 6 */ bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: protoICMP, SkipTrue: 10},
		/* 7 */ bpf.LoadAbsolute{Off: 6, Size: 2},
		/* 8 */ bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x3fff, SkipTrue: 8},
		/* 9 */ bpf.LoadMemShift{Off: 0},
		/* 10 */ bpf.LoadIndirect{Off: 0, Size: 2},
		/* 11 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 3<<8 | 4, SkipTrue: 4, SkipFalse: 5},
		/* 12 */ bpf.LoadAbsolute{Off: 6, Size: 1},
		/* 13 */ bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: protoICMPv6, SkipTrue: 3},
		/* 14 */ bpf.LoadAbsolute{Off: 40, Size: 1},
		/* 15 */ bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 2, SkipTrue: 1},
		/* 16 */ bpf.RetConstant{Val: pass},
		/* 17 */ bpf.RetConstant{Val: drop},
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, fmt.Errorf("assemble the ICMP socket filter: %w", err)
	}
	out := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		out[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	return out, nil
}
