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
	var errs Errors
	seen := map[netip.Addr]Pos{}
	for _, a := range f.agent.BGP.Announce {
		if first, dup := seen[a.VIP]; dup {
			errs = append(errs, Error{a.Pos, fmt.Sprintf("VIP %s is announced twice (also on line %d): keep one entry", a.VIP, first.Line)})
			continue
		}
		seen[a.VIP] = a.Pos
		if !services[a.VIP] {
			errs = append(errs, Error{a.Pos, fmt.Sprintf("VIP %s is announced, but no service has it: add a service for it, or remove it from announce", a.VIP)})
		}
	}
	return errs
}
