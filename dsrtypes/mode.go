package dsrtypes

import "strings"

// Mode is how a packet for a VIP reaches a real server.
type Mode string

const (
	// ModeDSCP: addressed to the real server, marked with the VIP's DSCP
	// code; xt_DADDR puts the VIP back. The default.
	ModeDSCP Mode = "dscp"
	// ModeIPIP: encapsulated (IPIP or IP6IP6, IPVS's tunnel forwarding),
	// addressed to the VIP inside.
	ModeIPIP Mode = "ipip"
	// ModeAddr: addressed to an address of the real server's that stands
	// for the VIP (the VIP's own RIP; one per VIP), with no DSCP code and
	// no tunnel: xt_DADDR's any-DSCP entry keyed by that address puts the
	// VIP back, and the client's DSCP and ECN arrive as they were sent.
	// Costs an address per VIP on each real server, not a code or MTU.
	ModeAddr Mode = "addr"
	// ModeDR: L2 DSR (LVS-DR, IPVS's direct routing, dsrtools' L2DSR): the
	// director leaves the packet as it is, addressed to the VIP, and sends
	// it to the real server's MAC, so the real server must be on one of the
	// director's links. The real server holds the VIP on lo and answers no
	// ARP or neighbour solicitation for it; no code, no rewrite.
	ModeDR Mode = "dr"
	// ModeNAT: plain LVS-NAT (IPVS masquerading, ipvsadm -m) without a
	// DSCP mark: the real server sees its own address as the destination
	// and must send its replies back through the director, which undoes
	// the rewrite. Not DSR; a director's mode only (also how it reads the
	// services of ipvsadm or keepalived that masquerade): a real server
	// needs no l3dsr setup for one.
	ModeNAT Mode = "nat"
)

// ModeUse names the modes, for errors that refuse one.
const ModeUse = "use dscp, addr or ipip (L3 DSR), or dr (L2 DSR)"

// ParseMode accepts "dscp" (also "", the default), "addr", "ipip", "dr" and "nat",
// in any case. nat is a director's mode only; the real server side refuses
// it (a NAT service's real servers need nothing of l3dsr).
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "dscp":
		return ModeDSCP, nil
	case "ipip":
		return ModeIPIP, nil
	case "addr", "address":
		return ModeAddr, nil
	case "dr":
		return ModeDR, nil
	case "nat":
		return ModeNAT, nil
	case "tun", "tunnel":
		return "", invalidf("mode %q: IPVS's tunnel mode is ipip here; %s", s, ModeUse)
	case "route", "droute", "direct", "l2", "l2dsr":
		return "", invalidf("mode %q: IPVS's direct routing is dr here; %s", s, ModeUse)
	case "masq", "masquerade", "lvs-nat":
		return "", invalidf("mode %q: IPVS's masquerading is dscp here (with l3dsr's DSCP mark) or nat (plain LVS-NAT); %s", s, ModeUse)
	}
	return "", invalidf("mode %q: %s", s, ModeUse)
}

func (m Mode) String() string { return string(m) }

// Set and Type make *Mode a pflag.Value.
func (m *Mode) Set(s string) error { return set(m, ParseMode, s) }

// Type names the value in flag help.
func (*Mode) Type() string { return "dscp|addr|ipip|dr" }
