package config

import (
	"net/netip"

	"go.yaml.in/yaml/v3"
)

// putBGP writes the agent's icmp_relay, when it is not the default, and
// its bgp section, defaults left out, so that a parsed file saves whole.
func putBGP(m *yaml.Node, a Agent) {
	if a.ICMPRelay != (a.BGP != nil) {
		put(m, "icmp_relay", str(map[bool]string{true: "on", false: "off"}[a.ICMPRelay]))
	}
	if a.BGP != nil {
		put(m, "bgp", bgpNode(*a.BGP))
	}
}

func bgpNode(b BGP) *yaml.Node {
	m := mapping()
	put(m, "asn", num(b.ASN))
	put(m, "router_id", str(b.RouterID.String()))
	if b.ListenPort != -1 {
		put(m, "listen_port", num(b.ListenPort))
	}
	if b.WithdrawDelay != defaultWithdrawDelay {
		put(m, "withdraw_delay", dur(b.WithdrawDelay))
	}
	// The section's next hops: one address, or a list of one per family.
	var hops []*yaml.Node
	for _, h := range []netip.Addr{b.NextHop4, b.NextHop6} {
		if h.IsValid() {
			hops = append(hops, str(h.String()))
		}
	}
	switch len(hops) {
	case 1:
		put(m, "next_hop", hops[0])
	case 2:
		put(m, "next_hop", &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle, Content: hops})
	}
	neighbors := &yaml.Node{Kind: yaml.SequenceNode}
	for _, nb := range b.Neighbors {
		neighbors.Content = append(neighbors.Content, neighborNode(nb))
	}
	put(m, "neighbors", neighbors)
	announce := &yaml.Node{Kind: yaml.SequenceNode}
	for _, a := range b.Announce {
		v := str(a.VIP.String())
		if a.NextHop.IsValid() {
			e := mapping()
			e.Style = yaml.FlowStyle
			put(e, "vip", v)
			put(e, "next_hop", str(a.NextHop.String()))
			v = e
		}
		announce.Content = append(announce.Content, v)
	}
	put(m, "announce", announce)
	return m
}

func neighborNode(nb BGPNeighbor) *yaml.Node {
	m := mapping()
	m.Style = yaml.FlowStyle
	put(m, "address", str(nb.Address.String()))
	put(m, "asn", num(nb.ASN))
	if nb.HoldTime != 0 {
		put(m, "hold_time", dur(nb.HoldTime))
	}
	if nb.Password != "" {
		put(m, "password", str(nb.Password))
	}
	if nb.Port != 0 {
		put(m, "port", num(nb.Port))
	}
	if nb.Multihop != 0 {
		put(m, "multihop", num(nb.Multihop))
	}
	if nb.LocalAddress.IsValid() {
		put(m, "local_address", str(nb.LocalAddress.String()))
	}
	if nb.BFD != nil {
		put(m, "bfd", bfdNode(nb.BFD))
	}
	return m
}
