package config

import (
	"github.com/l3dsr/l3dsr/director"
	"go.yaml.in/yaml/v3"
)

// The IPVS settings of a service and its reals that ipvsadm sets and
// l3dsr reads back: each is parsed by the director's own words, so that
// save writes what apply reads.

func (p *parser) netmask(n *yaml.Node, s *director.Service) {
	if v, ok := p.str(n, "persistence_netmask"); ok {
		m, err := director.ParseNetmask(s.VIP, v)
		if err != nil {
			p.errf(n, "service %s: %v", s.Key, err)
			return
		}
		s.Netmask = m
	}
}

func (p *parser) schedFlags(n *yaml.Node, s *director.Service) {
	for _, item := range p.list(n, "scheduler_flags") {
		v, ok := p.str(item, "a scheduler flag")
		if !ok {
			continue
		}
		f, err := director.ParseSchedFlag(s.Scheduler, v)
		if err != nil {
			p.errf(item, "service %s: %v", s.Key, err)
			continue
		}
		s.SchedFlags |= f
	}
}

func (p *parser) bool(n *yaml.Node, what string) (bool, bool) {
	v, ok := p.str(n, what)
	if !ok {
		return false, false
	}
	switch v {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	p.errf(n, "%s %q: use true or false", what, v)
	return false, false
}

func (p *parser) tunnel(n *yaml.Node, r *director.Real) {
	if v, ok := p.str(n, "tunnel"); ok {
		t, err := director.ParseTunnel(v)
		if err != nil {
			p.errf(n, "%v", err)
			return
		}
		r.Tunnel = t
	}
}

func (p *parser) tunnelPort(n *yaml.Node, r *director.Real) {
	if v, ok := p.uint(n, "tunnel_port", 65535, "the UDP port of a gue tunnel, 1-65535"); ok {
		r.TunnelPort = uint16(v)
	}
}

func (p *parser) tunnelChecksum(n *yaml.Node, r *director.Real) {
	if v, ok := p.str(n, "tunnel_checksum"); ok {
		f, err := director.ParseTunnelChecksum(v)
		if err != nil {
			p.errf(n, "%v", err)
			return
		}
		r.TunnelFlags = f
	}
}
