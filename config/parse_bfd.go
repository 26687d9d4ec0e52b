package config

import (
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// A neighbor's bfd: on (these timers), off, or the timers.
const (
	// defaultBFDInterval and defaultBFDMultiplier detect a dead director
	// in under a second (3 × 300 ms), against the hold time's 3 s at the
	// least, without a packet rate a software BFD on a loaded director
	// cannot keep up.
	defaultBFDInterval   = 300 * time.Millisecond
	defaultBFDMultiplier = 3
	// minBFDInterval is GoBGP's floor: shorter is a flapping session on a
	// busy host, not faster detection.
	minBFDInterval = 10 * time.Millisecond
	maxBFDInterval = time.Minute
)

func defaultBFD() *BGPBFD {
	return &BGPBFD{MinTx: defaultBFDInterval, MinRx: defaultBFDInterval, Multiplier: defaultBFDMultiplier}
}

// bfd reads a neighbor's bfd key: on or off (true or false), or a mapping
// of min_tx, min_rx and multiplier (each defaulted).
func (p *parser) bfd(n *yaml.Node) (*BGPBFD, bool) {
	const eg = "on, off, or e.g. {min_tx: 100ms, min_rx: 100ms, multiplier: 3}"
	if n.Kind == yaml.ScalarNode {
		switch strings.ToLower(n.Value) {
		case "on", "true":
			return defaultBFD(), true
		case "off", "false":
			return nil, true
		}
		p.errf(n, "bfd %q: give %s", n.Value, eg)
		return nil, false
	}
	if n.Kind != yaml.MappingNode {
		p.errf(n, "bfd must be %s", eg)
		return nil, false
	}
	b := defaultBFD()
	before := len(p.errs)
	interval := func(what string, to *time.Duration) func(*yaml.Node) {
		return func(v *yaml.Node) {
			d, ok := p.duration(v, what)
			switch {
			case !ok:
			case d < minBFDInterval || d > maxBFDInterval:
				p.errf(v, "%s %s is out of range: give %v to %v (%v is the default)", what, v.Value, minBFDInterval, maxBFDInterval, defaultBFDInterval)
			default:
				*to = d
			}
		}
	}
	p.fields(n, "bfd", map[string]func(*yaml.Node){
		"min_tx": interval("min_tx", &b.MinTx),
		"min_rx": interval("min_rx", &b.MinRx),
		"multiplier": func(v *yaml.Node) {
			if m, ok := p.positive(v, "multiplier", 255, "the control packets missed in a row that take the session down, 1-255 (3 is the default)"); ok {
				b.Multiplier = uint8(m)
			}
		},
	})
	return b, len(p.errs) == before
}

// bfdNode is the bfd key as save writes it: on for the defaults.
func bfdNode(b *BGPBFD) *yaml.Node {
	if *b == *defaultBFD() {
		return str("on")
	}
	m := mapping()
	m.Style = yaml.FlowStyle
	put(m, "min_tx", dur(b.MinTx))
	put(m, "min_rx", dur(b.MinRx))
	put(m, "multiplier", num(b.Multiplier))
	return m
}
