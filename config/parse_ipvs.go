package config

import (
	"fmt"

	"github.com/l3dsr/l3dsr/director"
	"go.yaml.in/yaml/v3"
)

// The IPVS settings of a service and its reals that ipvsadm sets and
// l3dsr reads back: each is parsed by the director's own words, so that
// save writes what apply reads.

// into reads one value of n with parse into dst; parse's error, which
// names the value and the fix, is the message.
func into[T any](p *parser, n *yaml.Node, what string, parse func(string) (T, error), dst *T) {
	if v, ok := p.str(n, what); ok {
		x, err := parse(v)
		if err != nil {
			p.errf(n, "%v", err)
			return
		}
		*dst = x
	}
}

func (p *parser) netmask(n *yaml.Node, s *director.Service) {
	into(p, n, "persistence_netmask", func(v string) (uint32, error) {
		m, err := director.ParseNetmask(s.VIP, v)
		if err != nil {
			return 0, fmt.Errorf("service %s: %w", s.Key, err)
		}
		return m, nil
	}, &s.Netmask)
}

func (p *parser) schedFlags(n *yaml.Node, s *director.Service) {
	for _, item := range p.list(n, "scheduler_flags") {
		var f director.SchedFlags
		into(p, item, "a scheduler flag", func(v string) (director.SchedFlags, error) {
			f, err := director.ParseSchedFlag(s.Scheduler, v)
			if err != nil {
				return 0, fmt.Errorf("service %s: %w", s.Key, err)
			}
			return f, nil
		}, &f)
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

func (p *parser) tunnelPort(n *yaml.Node, r *director.Real) {
	if v, ok := p.uint(n, "tunnel_port", 65535, "the UDP port of a gue tunnel, 1-65535"); ok {
		r.TunnelPort = uint16(v)
	}
}
