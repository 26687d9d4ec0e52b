package config

import (
	"fmt"
	"net/netip"
)

// checkBGP checks the announced VIPs against the director section: a VIP
// that no service has would draw its clients' packets to a director that
// drops them, and its health could never withdraw it.
func checkBGP(f *File) Errors {
	if f.agent == nil || f.agent.BGP == nil {
		return nil
	}
	services := map[netip.Addr]bool{}
	if f.director != nil {
		for _, s := range f.director.Services {
			services[s.Service.VIP] = true
		}
	}
	b := f.agent.BGP
	v6Session := false
	for _, n := range b.Neighbors {
		v6Session = v6Session || n.Address.Is6()
	}
	var errs Errors
	seen := map[netip.Addr]Pos{}
	for _, a := range b.Announce {
		if first, dup := seen[a.VIP]; dup {
			errs = append(errs, Error{a.Pos, fmt.Sprintf("VIP %s is announced twice (also on line %d): keep one entry", a.VIP, first.Line)})
			continue
		}
		seen[a.VIP] = a.Pos
		if !services[a.VIP] {
			errs = append(errs, Error{a.Pos, fmt.Sprintf("VIP %s is announced, but no service has it: add a service for it, or remove it from announce", a.VIP)})
		}
		// Over IPv4 sessions only, the session's own address is IPv4: an
		// IPv6 route would go out with a next hop no router can use.
		if a.VIP.Is6() && !a.NextHop.IsValid() && !b.NextHop6.IsValid() && !v6Session {
			errs = append(errs, Error{a.Pos, fmt.Sprintf("VIP %s is IPv6, and every neighbor is IPv4: give its IPv6 next hop (next_hop of the entry, or an IPv6 address in bgp's next_hop)", a.VIP)})
		}
	}
	return errs
}
