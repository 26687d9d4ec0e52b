package config

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"go.yaml.in/yaml/v3"
)

// The agent's bgp section and icmp_relay. What needs the rest of the file
// (an announced VIP must be a service's) is in check_bgp.go.

const (
	// defaultWithdrawDelay is long enough for a router to take a
	// withdrawal and move its flows (a BGP UPDATE, a FIB change), short
	// enough that a restart does not stall.
	defaultWithdrawDelay = 5 * time.Second
	// maxWithdrawDelay bounds how long a stop may wait: longer is a stuck
	// restart, not a drain. Its error writes it as 10m.
	maxWithdrawDelay = 10 * time.Minute
	// minHoldTime is RFC 4271's least hold time other than 0 (4.2).
	minHoldTime = 3 * time.Second
	// maxHoldTime is the most the OPEN message's 16-bit field carries.
	maxHoldTime = 65535 * time.Second
	// maxMD5Key is the kernel's TCP_MD5SIG_MAXKEYLEN: a longer key fails
	// when the session is set up, long after the file was accepted.
	maxMD5Key = 80
	// asTrans is AS_TRANS (RFC 6793): what a 4-byte-ASN speaker writes in
	// place of an ASN that an old speaker could not read. No AS has it.
	asTrans = 23456
)

// icmpRelay reads icmp_relay: on or off (true or false), any case.
func (p *parser) icmpRelay(n *yaml.Node) (bool, bool) {
	s, ok := p.str(n, "icmp_relay")
	if !ok {
		return false, false
	}
	switch strings.ToLower(s) {
	case "on", "true":
		return true, true
	case "off", "false":
		return false, true
	}
	p.errf(n, `icmp_relay %q: use on (ICMP "too big" for a VIP goes on to the real server that owns the flow) or off`, s)
	return false, false
}

// keyOf is the key node of key in the mapping n, or n when it has none:
// errors about a whole section point at the line of its key, not at the
// line of its first key.
func keyOf(n *yaml.Node, key string) *yaml.Node {
	m := deref(n)
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i]
		}
	}
	return n
}

// bgp reads the bgp section n, whose key is at key. Its lists are read
// whole, errors and all, so that one run of `apply` names every mistake.
func (p *parser) bgp(key, n *yaml.Node) *BGP {
	b := &BGP{ListenPort: -1, WithdrawDelay: defaultWithdrawDelay, Pos: p.pos(key)}
	var haveASN, haveID bool
	var neighbors, announce *yaml.Node
	if !p.fields(n, "bgp", map[string]func(*yaml.Node){
		"asn": func(v *yaml.Node) {
			const fix = "the AS number of this director, 1-4294967295"
			b.ASN, haveASN = p.asn(v, "ASN", fix, fix), true
		},
		"router_id": func(v *yaml.Node) {
			b.RouterID, haveID = p.routerID(v), true
		},
		"listen_port": func(v *yaml.Node) {
			if port, ok := p.positive(v, "listen_port", 65535, "a TCP port 1-65535 (179 is BGP's), or leave the key out to accept no sessions"); ok {
				b.ListenPort = int32(port)
			}
		},
		"withdraw_delay": func(v *yaml.Node) {
			if d, ok := p.delay(v, "withdraw_delay"); ok {
				if d > maxWithdrawDelay {
					p.errf(v, "withdraw_delay %s is over 10m: a stop would wait that long with the VIPs withdrawn; give at most 10m (5s is the default)", v.Value)
					return
				}
				b.WithdrawDelay = d
			}
		},
		"next_hop":  func(v *yaml.Node) { b.NextHop4, b.NextHop6 = p.nextHops(v) },
		"neighbors": func(v *yaml.Node) { neighbors = v },
		"announce":  func(v *yaml.Node) { announce = v },
	}) {
		return b
	}
	need := func(have bool, what string) {
		if !have {
			p.errf(key, "bgp needs the key %s", what)
		}
	}
	need(haveASN, "asn: the AS number of this director, e.g. 'asn: 65001'")
	need(haveID, "router_id: an IPv4 address of this director (the BGP identifier), e.g. 'router_id: 10.1.0.11'")
	need(neighbors != nil, "neighbors: the routers to announce to, e.g. 'neighbors: [{address: 10.1.0.1, asn: 65000}]'")
	need(announce != nil, "announce: the VIPs this director announces, e.g. 'announce: [192.0.2.10]'")
	if neighbors != nil {
		b.Neighbors = p.neighbors(neighbors)
	}
	if announce != nil {
		b.Announce = p.announce(announce)
	}
	return b
}

// asn reads an AS number. who names it in the errors ("ASN", "ASN of
// neighbor 10.1.0.1"); fix is what to give instead of a reserved one,
// hint instead of what is not a number.
func (p *parser) asn(n *yaml.Node, who, fix, hint string) uint32 {
	v, ok := p.uint(n, "asn", 1<<32-1, hint)
	if !ok {
		return 0
	}
	switch v {
	case 0:
		p.errf(n, "%s 0 is reserved: give %s", who, fix)
	case asTrans:
		p.errf(n, "%s %d is AS_TRANS, which stands in for a 4-byte ASN toward old speakers (RFC 6793) and is never a real AS: give %s", who, v, fix)
	}
	return uint32(v)
}

// routerID reads the BGP identifier: 32 bits, nonzero (RFC 6286).
func (p *parser) routerID(n *yaml.Node) netip.Addr {
	a, ok := p.addr(n, "router_id")
	switch {
	case !ok:
	case !a.Is4():
		p.errf(n, "router_id %s is IPv6: the BGP identifier is 32 bits; give an IPv4 address of this director, e.g. 10.1.0.11", a)
	case a.IsUnspecified():
		p.errf(n, "router_id 0.0.0.0 is not a BGP identifier (RFC 6286 wants it nonzero): give an IPv4 address of this director, e.g. 10.1.0.11")
	default:
		return a
	}
	return netip.Addr{}
}

// unicast reads an address that packets go to or come from: not 0.0.0.0
// nor ::, not a multicast group.
func (p *parser) unicast(n *yaml.Node, what, fix string) (netip.Addr, bool) {
	a, ok := p.addr(n, what)
	if ok && (a.IsUnspecified() || a.IsMulticast()) {
		p.errf(n, "%s %s is not a unicast address: give %s", what, a, fix)
		return netip.Addr{}, false
	}
	return a, ok
}

// nextHops reads the section's next_hop: one address, or a list of at
// most one per family.
func (p *parser) nextHops(n *yaml.Node) (v4, v6 netip.Addr) {
	const fix = "an address of this director the routers reach, or leave the key out for each session's own address"
	one := func(item *yaml.Node) {
		a, ok := p.unicast(item, "next_hop", fix)
		if !ok {
			return
		}
		have := &v6
		if a.Is4() {
			have = &v4
		}
		if have.IsValid() {
			p.errf(item, "next_hop gives two %s addresses, %s and %s: give at most one per family", dsrtypes.FamilyOf(a), *have, a)
			return
		}
		*have = a
	}
	if n.Kind != yaml.SequenceNode {
		one(n)
		return v4, v6
	}
	if len(n.Content) == 0 {
		p.errf(n, "next_hop is an empty list: give one address per family, or leave the key out for each session's own address")
	}
	for _, item := range n.Content {
		one(deref(item))
	}
	return v4, v6
}

// neighbors reads the routers, at least one, each once.
func (p *parser) neighbors(n *yaml.Node) []BGPNeighbor {
	if n.Kind == yaml.SequenceNode && len(n.Content) == 0 || isNull(n) {
		p.errf(n, "neighbors is empty: give at least one router, e.g. '- {address: 10.1.0.1, asn: 65000}'")
		return nil
	}
	out := items(p, n, "neighbors", p.neighbor)
	seen := map[netip.Addr]int{}
	kept := out[:0]
	for _, nb := range out {
		if first, dup := seen[nb.Address]; dup {
			p.errs = append(p.errs, Error{nb.Pos, fmt.Sprintf("neighbor %s is given twice (also on line %d): keep one", nb.Address, first)})
			continue
		}
		seen[nb.Address] = nb.Pos.Line
		kept = append(kept, nb)
	}
	return kept
}

func (p *parser) neighbor(n *yaml.Node) (BGPNeighbor, bool) {
	nb := BGPNeighbor{Pos: p.pos(n)}
	var haveAddr bool
	var asnNode, localNode *yaml.Node
	before := len(p.errs)
	p.fields(n, "a neighbor", map[string]func(*yaml.Node){
		"address": func(v *yaml.Node) {
			nb.Address, haveAddr = p.unicast(v, "address", "the router's address")
		},
		// The ASN's errors name the neighbor: read once its address is.
		"asn": func(v *yaml.Node) { asnNode = v },
		"hold_time": func(v *yaml.Node) {
			if d, ok := p.delay(v, "hold_time"); ok && p.holdTime(v, d) {
				nb.HoldTime = d
			}
		},
		"password": func(v *yaml.Node) {
			s, ok := p.str(v, "password")
			switch {
			case !ok:
			case s == "":
				p.errf(v, "password is empty: give the TCP MD5 key, or leave the key out for none")
			case len(s) > maxMD5Key:
				// Its length, not the key: errors end up in logs.
				p.errf(v, "password is %d bytes: the kernel's TCP MD5 keys are at most %d; give a shorter one", len(s), maxMD5Key)
			default:
				nb.Password = s
			}
		},
		"port": func(v *yaml.Node) {
			if port, ok := p.positive(v, "port", 65535, "the router's TCP port 1-65535, or leave the key out for 179"); ok {
				nb.Port = uint16(port)
			}
		},
		"multihop": func(v *yaml.Node) {
			if ttl, ok := p.positive(v, "multihop", 255, "the TTL 1-255 that reaches a router not on a connected network, or leave the key out for a connected one"); ok {
				nb.Multihop = uint8(ttl)
			}
		},
		"bfd": func(v *yaml.Node) {
			if b, ok := p.bfd(v); ok {
				nb.BFD = b
			}
		},
		"local_address": func(v *yaml.Node) {
			localNode = v
			nb.LocalAddress, _ = p.unicast(v, "local_address", "an address of this director, or leave the key out for the kernel's choice")
		},
	})
	if len(p.errs) > before {
		return nb, false
	}
	if !haveAddr {
		p.errf(n, "a neighbor needs the key address: the router's address, e.g. '{address: 10.1.0.1, asn: 65000}'")
		return nb, false
	}
	if asnNode == nil {
		p.errf(n, "neighbor %s needs the key asn: the router's AS number, e.g. '{address: %s, asn: 65000}'", nb.Address, nb.Address)
		return nb, false
	}
	nb.ASN = p.asn(asnNode, "ASN of neighbor "+nb.Address.String(), "the router's AS number", "the router's AS number, 1-4294967295")
	if l := nb.LocalAddress; l.IsValid() && l.Is4() != nb.Address.Is4() {
		fam := dsrtypes.FamilyOf(nb.Address)
		p.errf(localNode, "local_address %s of neighbor %s is %s: give an %s address", l, nb.Address, dsrtypes.FamilyOf(l), fam)
	}
	return nb, len(p.errs) == before
}

// holdTime checks a neighbor's hold time d, written at n.
func (p *parser) holdTime(n *yaml.Node, d time.Duration) bool {
	s := n.Value
	switch {
	case d == 0:
		return true
	case d < minHoldTime:
		p.errf(n, "hold_time %s is under %v, the least RFC 4271 allows: give %v or more, or leave the key out for the speaker's 90s", s, minHoldTime, minHoldTime)
	case d%time.Second != 0:
		p.errf(n, "hold_time %s is not whole seconds: BGP carries the hold time in seconds; give e.g. %v", s, d.Round(time.Second))
	case d > maxHoldTime:
		p.errf(n, "hold_time %s is over %v (65535 s, the most BGP carries): give e.g. 90s", s, maxHoldTime)
	default:
		return true
	}
	return false
}

// delay reads a duration that may be 0 ("0" needs no unit: zero is zero
// in any); otherwise as duration does.
func (p *parser) delay(n *yaml.Node, what string) (time.Duration, bool) {
	if n.Kind == yaml.ScalarNode {
		d, err := time.ParseDuration(n.Value)
		switch {
		case n.Value == "0" || err == nil && d == 0:
			return 0, true
		case err == nil && d < 0:
			p.errf(n, "%s %s is negative: give 0 or a duration such as 5s", what, n.Value)
			return 0, false
		}
	}
	return p.duration(n, what)
}

// announce reads the VIPs to announce, at least one: each an address, or
// {vip, next_hop}.
func (p *parser) announce(n *yaml.Node) []BGPAnnounce {
	if n.Kind == yaml.SequenceNode && len(n.Content) == 0 || isNull(n) {
		p.errf(n, "announce is empty: give the VIPs to announce, e.g. 'announce: [192.0.2.10]'")
		return nil
	}
	return items(p, n, "announce", p.announced)
}

func (p *parser) announced(n *yaml.Node) (BGPAnnounce, bool) {
	a := BGPAnnounce{Pos: p.pos(n)}
	if n.Kind != yaml.MappingNode {
		if n.Kind != yaml.ScalarNode {
			p.errf(n, "an announce entry must be a VIP or a mapping with the keys next_hop, vip, not %s", kindName(n))
			return a, false
		}
		var ok bool
		a.VIP, ok = p.addr(n, "VIP")
		return a, ok
	}
	var haveVIP bool
	var hopNode *yaml.Node
	before := len(p.errs)
	p.fields(n, "an announce entry", map[string]func(*yaml.Node){
		"vip": func(v *yaml.Node) { a.VIP, haveVIP = p.addr(v, "vip") },
		"next_hop": func(v *yaml.Node) {
			hopNode = v
			a.NextHop, _ = p.unicast(v, "next_hop", "an address of this director the routers reach, or leave the key out for the section's")
		},
	})
	if len(p.errs) > before {
		return a, false
	}
	if !haveVIP {
		p.errf(n, "an announce entry needs the key vip: e.g. '{vip: 192.0.2.10, next_hop: 10.1.0.11}'")
		return a, false
	}
	if h := a.NextHop; h.IsValid() && h.Is4() != a.VIP.Is4() {
		p.errf(hopNode, "next_hop %s for VIP %s is %s: give an %s next hop", h, a.VIP, dsrtypes.FamilyOf(h), dsrtypes.FamilyOf(a.VIP))
		return a, false
	}
	return a, true
}

// positive reads a whole number 1-max: 0, like a value over max, is
// refused with the hint of what to give.
func (p *parser) positive(n *yaml.Node, what string, max uint64, hint string) (uint64, bool) {
	v, ok := p.uint(n, what, max, hint)
	if ok && v == 0 {
		p.errf(n, "%s 0: give %s", what, hint)
		return 0, false
	}
	return v, ok
}
