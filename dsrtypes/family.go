package dsrtypes

import (
	"fmt"
	"net/netip"
	"strings"
)

// Family is an address family as Linux numbers it (AF_INET, AF_INET6), so
// that it goes to the kernel as it is. The zero value means either family.
type Family uint8

const (
	// AnyFamily selects both families where an operation allows it.
	AnyFamily Family = 0
	// IPv4 is AF_INET.
	IPv4 Family = 2
	// IPv6 is AF_INET6.
	IPv6 Family = 10
)

// FamilyOf returns a's family, or AnyFamily for the zero Addr.
func FamilyOf(a netip.Addr) Family {
	switch {
	case a.Is4():
		return IPv4
	case a.Is6():
		return IPv6
	}
	return AnyFamily
}

// ParseFamily accepts 4, 6, ipv4, ipv6, inet and inet6 (any case).
func ParseFamily(s string) (Family, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "4", "ipv4", "inet":
		return IPv4, nil
	case "6", "ipv6", "inet6":
		return IPv6, nil
	}
	return 0, invalidf("family %q is unknown: use 4 or 6", s)
}

func (f Family) String() string {
	switch f {
	case AnyFamily:
		return "all families"
	case IPv4:
		return "IPv4"
	case IPv6:
		return "IPv6"
	}
	return fmt.Sprintf("family(%d)", uint8(f))
}

// Name is the family as JSON and tables print it: "ipv4" or "ipv6".
func (f Family) Name() string {
	switch f {
	case IPv4:
		return "ipv4"
	case IPv6:
		return "ipv6"
	}
	return f.String()
}

// AddrLen is the length of an address of f on the wire (0 for AnyFamily).
func (f Family) AddrLen() int {
	switch f {
	case IPv4:
		return 4
	case IPv6:
		return 16
	}
	return 0
}

// Set and Type make *Family a pflag.Value.
func (f *Family) Set(s string) error { return set(f, ParseFamily, s) }

// Type names the value in flag help.
func (*Family) Type() string { return "4|6" }
