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

// familyInfo is how l3dsr names a family and what it knows of it.
type familyInfo struct {
	title   string // String: "IPv4"
	name    string // Name: "ipv4"
	addrLen int    // AddrLen
}

var families = map[Family]familyInfo{
	IPv4: {"IPv4", "ipv4", 4},
	IPv6: {"IPv6", "ipv6", 16},
}

// familyWords are the words ParseFamily accepts, lower case.
var familyWords = map[string]Family{
	"4": IPv4, "ipv4": IPv4, "inet": IPv4,
	"6": IPv6, "ipv6": IPv6, "inet6": IPv6,
}

// ParseFamily accepts 4, 6, ipv4, ipv6, inet and inet6 (any case).
func ParseFamily(s string) (Family, error) {
	if f, ok := familyWords[strings.ToLower(strings.TrimSpace(s))]; ok {
		return f, nil
	}
	return 0, invalidf("family %q is unknown: use 4 or 6", s)
}

func (f Family) String() string {
	if i, ok := families[f]; ok {
		return i.title
	}
	if f == AnyFamily {
		return "all families"
	}
	return fmt.Sprintf("family(%d)", uint8(f))
}

// Name is the family as JSON and tables print it: "ipv4" or "ipv6".
func (f Family) Name() string {
	if i, ok := families[f]; ok {
		return i.name
	}
	return f.String()
}

// AddrLen is the length of an address of f on the wire (0 for AnyFamily).
func (f Family) AddrLen() int { return families[f].addrLen }

// Set and Type make *Family a pflag.Value.
func (f *Family) Set(s string) error { return set(f, ParseFamily, s) }

// Type names the value in flag help.
func (*Family) Type() string { return "4|6" }
