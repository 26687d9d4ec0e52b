package config

import (
	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/dsrtypes"
	"go.yaml.in/yaml/v3"
)

// sorry checks the sorry real of s, written at n, against the service and
// its reals: it stands in for them while every one fails its check.
func (p *parser) sorry(n *yaml.Node, s Service) {
	sv, a := s.Service, s.Sorry
	if s.Health == nil {
		p.errf(n, "sorry %s takes the traffic while every real fails its health check, and service %s has no health block: add one, or drop sorry", a, sv.Key)
		return
	}
	if a.Is4() != sv.VIP.Is4() {
		fam := dsrtypes.FamilyOf(sv.VIP)
		p.errf(n, "sorry %s and the VIP %s are of different address families: give an %s sorry real", a, sv.VIP, fam)
		return
	}
	for i, r := range sv.Reals {
		if r.Addr == a {
			p.errf(n, "sorry %s is also a real of service %s (at %s): give another server, one that is not checked with the reals", a, sv.Key, s.realPos[i])
			return
		}
	}
	// Its settings are the service's defaults: what it is added with.
	r := director.Real{Addr: a, Weight: director.DefaultWeight, Forward: director.Forward(sv.Mode)}
	if err := director.CheckReal(sv, r); err != nil {
		p.errf(n, "sorry: %v", err)
	}
}
