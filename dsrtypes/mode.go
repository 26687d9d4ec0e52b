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
)

// ParseMode accepts "dscp" (also "", the default) and "ipip", in any case.
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "dscp":
		return ModeDSCP, nil
	case "ipip":
		return ModeIPIP, nil
	case "tun", "tunnel":
		return "", invalidf("mode %q: use dscp or ipip (ipip is IPVS's tunnel mode)", s)
	}
	return "", invalidf("mode %q: use dscp or ipip", s)
}

func (m Mode) String() string { return string(m) }

// Set and Type make *Mode a pflag.Value.
func (m *Mode) Set(s string) error { return set(m, ParseMode, s) }

// Type names the value in flag help.
func (*Mode) Type() string { return "dscp|ipip" }
