package dsrtypes

import (
	"net/netip"
	"strings"
)

// ParseAddr reads one IPv4 or IPv6 address, such as a VIP. A prefix is
// refused with the address it holds, since "10.0.0.1/32" is a common slip.
func ParseAddr(s string) (netip.Addr, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return netip.Addr{}, invalidf("the address is empty: give an IPv4 or IPv6 address")
	}
	a, err := netip.ParseAddr(t)
	if err == nil {
		return a, nil
	}
	if p, perr := netip.ParsePrefix(t); perr == nil {
		return netip.Addr{}, invalidf("%q is a prefix: give the address alone, e.g. %s", s, p.Addr())
	}
	return netip.Addr{}, invalidf("%q is not an IP address: give an IPv4 or IPv6 address, e.g. 10.0.0.1", s)
}

// ParseAddrPort reads a VIP:PORT, with an IPv6 address in brackets. The
// port must not be 0.
func ParseAddrPort(s string) (netip.AddrPort, error) {
	t := strings.TrimSpace(s)
	ap, err := netip.ParseAddrPort(t)
	if err == nil {
		if ap.Port() == 0 {
			return ap, invalidf("%q has port 0: give the service's port, 1-65535", s)
		}
		return ap, nil
	}
	if a, aerr := netip.ParseAddr(strings.Trim(t, "[]")); aerr == nil {
		if a.Is6() {
			return netip.AddrPort{}, invalidf("%q has no port: give VIP:PORT, e.g. [%s]:80", s, a)
		}
		return netip.AddrPort{}, invalidf("%q has no port: give VIP:PORT, e.g. %s:80", s, a)
	}
	return netip.AddrPort{}, invalidf("%q is not VIP:PORT: give e.g. 10.0.0.1:80 or [2001:db8::1]:80", s)
}

// Addr is a netip.Addr that is a pflag.Value; the zero value is unset.
type Addr struct{ netip.Addr }

// Set parses s with ParseAddr.
func (a *Addr) Set(s string) error { return set(&a.Addr, ParseAddr, s) }

func (a Addr) String() string {
	if !a.IsValid() {
		return ""
	}
	return a.Addr.String()
}

// Type names the value in flag help.
func (*Addr) Type() string { return "addr" }
