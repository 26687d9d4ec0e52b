package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/ipvs"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/maptable"
	"github.com/l3dsr/l3dsr/realserver"
	"go.yaml.in/yaml/v3"
)

// parseFile reads a config file's content; name is the file name that errors
// carry. Every error found is returned at once, as Errors. A dsrtools key is
// recorded, not read: Load reads and merges the directory.
func parseFile(name string, data []byte) (*File, error) {
	f, errs := parse(name, data)
	if len(errs) == 0 {
		errs = check(f)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return f, nil
}

type parser struct {
	name string
	errs Errors
}

func (p *parser) pos(n *yaml.Node) Pos { return Pos{p.name, n.Line} }

func (p *parser) errf(n *yaml.Node, format string, a ...any) {
	p.errs = append(p.errs, Error{p.pos(n), fmt.Sprintf(format, a...)})
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func parse(name string, data []byte) (*File, Errors) {
	p := &parser{name: name}
	f := &File{name: name}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return f, nil // empty, or comments only: nothing to manage
		}
		return nil, Errors{yamlError(name, err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := extra.Line
		if err != nil {
			return nil, Errors{yamlError(name, err)}
		}
		return nil, Errors{{Pos{name, line}, "a second YAML document ('---'): keep the whole configuration in one document"}}
	}
	root := doc.Content[0]
	if isNull(root) {
		return f, nil
	}
	p.fields(root, "the top level", map[string]func(*yaml.Node){
		"realserver": func(v *yaml.Node) { f.realServer = p.realServer(v) },
		"director":   func(v *yaml.Node) { f.director = p.director(v) },
		"agent":      func(v *yaml.Node) { f.agent = p.agent(v) },
		"dsrtools": func(v *yaml.Node) {
			if s, ok := p.str(v, "dsrtools"); ok {
				if s == "" {
					p.errf(v, "dsrtools is empty: give the directory of the dsrtools *.conf files, e.g. /etc/dsr.d, or leave the key out")
				}
				f.dsrTools = s
			}
		},
	})
	// Some checks run after the keys they read; the operator reads the
	// errors in file order.
	slices.SortStableFunc(p.errs, func(a, b Error) int { return a.pos.Line - b.pos.Line })
	return f, p.errs
}

// yamlError turns a syntax error of the YAML parser into an Error with its
// line.
func yamlError(name string, err error) Error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Error{Pos{name, line}, "YAML syntax: " + m[2]}
	}
	return Error{Pos{name, 0}, "YAML syntax: " + strings.TrimPrefix(msg, "yaml: ")}
}

func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "empty"
		}
		return fmt.Sprintf("the value %q", n.Value)
	}
	return "something else"
}

// fields walks a mapping, calling each known key's function in file order.
// Unknown and repeated keys are errors: a typo must never be ignored.
func (p *parser) fields(n *yaml.Node, what string, known map[string]func(*yaml.Node)) bool {
	n = deref(n)
	names := make([]string, 0, len(known))
	for k := range known {
		names = append(names, k)
	}
	slices.Sort(names)
	if n.Kind != yaml.MappingNode {
		p.errf(n, "%s must be a mapping with the keys %s, not %s", what, strings.Join(names, ", "), kindName(n))
		return false
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], deref(n.Content[i+1])
		if first, dup := seen[k.Value]; dup {
			p.errf(k, "key %q in %s is given twice (also on line %d): keep one", k.Value, what, first)
			continue
		}
		seen[k.Value] = k.Line
		fn, ok := known[k.Value]
		if !ok {
			p.errf(k, "unknown key %q in %s: the keys are %s", k.Value, what, strings.Join(names, ", "))
			continue
		}
		fn(v)
	}
	return true
}

// isNull says whether n is empty (nothing, "~" or null).
func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func (p *parser) list(n *yaml.Node, what string) []*yaml.Node {
	n = deref(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.errf(n, "%s must be a list (lines starting with '- '), not %s", what, kindName(n))
		return nil
	}
	out := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		out[i] = deref(c)
	}
	return out
}

// items reads each item of the list n with one, keeping those it accepts.
func items[T any](p *parser, n *yaml.Node, what string, one func(*yaml.Node) (T, bool)) []T {
	var out []T
	for _, item := range p.list(n, what) {
		if x, ok := one(item); ok {
			out = append(out, x)
		}
	}
	return out
}

func (p *parser) str(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errf(n, "%s must be a single value, not %s", what, kindName(n))
		return "", false
	}
	return strings.TrimSpace(n.Value), true
}

// parsed reads a single value with parse; a value parse refuses is an
// error that quotes it and says what to use instead.
func parsed[T any](p *parser, n *yaml.Node, what string, parse func(string) (T, error), use string) (T, bool) {
	var zero T
	s, ok := p.str(n, what)
	if !ok {
		return zero, false
	}
	v, err := parse(s)
	if err != nil {
		p.errf(n, "%s %q: %s", what, s, use)
		return zero, false
	}
	return v, true
}

// parseModeSet is dsrtypes.ParseMode for a realserver VIP's mode, which,
// when the key is there, must be written out: it refuses "", which
// ParseMode reads as dscp.
func parseModeSet(s string) (dsrtypes.Mode, error) {
	if s == "" {
		return "", errors.New("empty mode")
	}
	return dsrtypes.ParseMode(s)
}

func (p *parser) addr(n *yaml.Node, what string) (netip.Addr, bool) {
	s, ok := p.str(n, what)
	if !ok {
		return netip.Addr{}, false
	}
	a, err := dsrtypes.ParseAddr(s)
	if err != nil {
		p.errf(n, "%s %v", what, err)
		return netip.Addr{}, false
	}
	if a.Zone() != "" {
		p.errf(n, "%s %q has a zone: write the address without %%%s", what, s, a.Zone())
		return netip.Addr{}, false
	}
	return a, true
}

// uint reads a decimal number up to max; anything else (a sign, a
// fraction, a leading zero that could be read as octal) is an error.
func (p *parser) uint(n *yaml.Node, what string, max uint64, hint string) (uint64, bool) {
	s, ok := p.str(n, what)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || (len(s) > 1 && s[0] == '0') {
		p.errf(n, "%s %q is not a whole number: give %s", what, s, hint)
		return 0, false
	}
	if v > max {
		p.errf(n, "%s %d is out of range: give %s", what, v, hint)
		return 0, false
	}
	return v, true
}

func (p *parser) realServer(n *yaml.Node) *RealServer {
	rs := &RealServer{}
	if isNull(n) {
		return rs
	}
	p.fields(n, "realserver", map[string]func(*yaml.Node){
		"iptables": func(v *yaml.Node) {
			if variant, ok := parsed(p, v, "iptables", xtrule.ParseVariant, "use legacy, nft or default (the system's iptables)"); ok {
				rs.iptables = variant
			}
		},
		"ingress": func(v *yaml.Node) { rs.ingress = p.ingress(v) },
		"backend": func(v *yaml.Node) {
			if b, ok := parsed(p, v, "backend", dsrtypes.ParseBackend, "use module (xt_DADDR), bpf (tc-BPF) or auto (the module when it loads, else bpf)"); ok {
				rs.backend = b
			}
		},
		"map_path": func(v *yaml.Node) {
			if m, ok := parsed(p, v, "map_path", maptable.ParseMode, "use rule (the -j DADDR --map iptables rule) or direct (the module's own hook, no table walk)"); ok {
				rs.mapPath = m
			}
		},
		"vips": func(v *yaml.Node) { rs.VIPs = items(p, v, "realserver.vips", p.vip) },
	})
	if rs.mapPath == maptable.ModeDirect && rs.backend == dsrtypes.BackendBPF {
		p.errf(n, "map_path direct with backend bpf: the BPF backend has no iptables rule to skip: direct mode is for the module; use map_path rule or backend module")
	}
	for i := range rs.VIPs {
		if m := rs.VIPs[i].Config.Mode; m == dsrtypes.ModeDSCP || m == dsrtypes.ModeAddr {
			rs.VIPs[i].Config.Backend = rs.backend
			rs.VIPs[i].Config.MapPath = rs.mapPath
		}
	}
	return rs
}

func (p *parser) vip(n *yaml.Node) (VIP, bool) {
	var c realserver.Config
	var haveVIP bool
	var codes realserver.Codes
	var codePos []Pos
	before := len(p.errs)
	p.fields(n, "a realserver VIP", map[string]func(*yaml.Node){
		"vip":   func(v *yaml.Node) { c.VIP, haveVIP = p.addr(v, "vip") },
		"dscp":  func(v *yaml.Node) { codes, codePos = p.codes(v, p.pos(n)) },
		"local": func(v *yaml.Node) { c.Local, _ = p.addr(v, "local") },
		"rip":   func(v *yaml.Node) { c.RIP, _ = p.addr(v, "rip") },
		"dev":   func(v *yaml.Node) { c.Dev, _ = p.str(v, "dev") },
		"set_dscp": func(v *yaml.Node) {
			if d, ok := p.uint(v, "set_dscp", uint64(dsrtypes.MaxDSCP), "the DSCP 0-63 the VIP's packets leave the rewrite with (dscp and addr modes)"); ok {
				s := uint8(d)
				c.SetDSCP = &s
			}
		},
		"mode": func(v *yaml.Node) {
			if m, ok := parsed(p, v, "mode", parseModeSet, dsrtypes.ModeUse); ok {
				c.Mode = m
			}
		},
		"mss": func(v *yaml.Node) {
			if m, ok := p.uint(v, "mss", 65495, "an MSS of 536-65495 bytes (ipip mode only)"); ok {
				c.MSS = uint16(m)
			}
		},
	})
	if len(p.errs) > before {
		return VIP{}, false
	}
	if !haveVIP {
		p.errf(n, "a realserver VIP needs the key vip: e.g. 'vip: 10.0.0.1'")
		return VIP{}, false
	}
	if c.Mode == "" {
		c.Mode = dsrtypes.ModeDSCP
	}
	if c.Mode == dsrtypes.ModeDSCP && len(codes) == 0 {
		p.errf(n, "VIP %s in dscp mode needs its code: add 'dscp: N' (0-63, or a list: 'dscp: [19, 20]'), or 'mode: addr' with 'rip:', 'mode: ipip' or 'mode: dr'", c.VIP)
		return VIP{}, false
	}
	v := VIP{Config: c, pos: p.pos(n)}
	v.withCodes(codes, codePos)
	if err := v.Config.Validate(); err != nil {
		p.errf(n, "%v", err)
		return VIP{}, false
	}
	return v, true
}

// codes reads a realserver VIP's dscp: one code, or a list of them (a VIP
// with several codes). A single code is at the VIP's place vipPos (where
// errors about it have always pointed); a listed one at its own line.
func (p *parser) codes(n *yaml.Node, vipPos Pos) (realserver.Codes, []Pos) {
	const hint = "a DSCP code 0-63"
	if n.Kind != yaml.SequenceNode {
		if d, ok := p.uint(n, "dscp", uint64(dsrtypes.MaxDSCP), hint); ok {
			return realserver.Codes{uint8(d)}, []Pos{vipPos}
		}
		return nil, nil
	}
	if len(n.Content) == 0 {
		p.errf(n, "dscp is an empty list: give the VIP's code, or its codes as 'dscp: [19, 20]'")
		return nil, nil
	}
	var codes realserver.Codes
	var pos []Pos
	for _, item := range n.Content {
		if d, ok := p.uint(deref(item), "dscp", uint64(dsrtypes.MaxDSCP), hint); ok {
			codes, pos = append(codes, uint8(d)), append(pos, p.pos(item))
		}
	}
	return codes, pos
}

func (p *parser) director(n *yaml.Node) *Director {
	d := &Director{}
	if isNull(n) {
		return d
	}
	p.fields(n, "director", map[string]func(*yaml.Node){
		"services": func(v *yaml.Node) { d.Services = items(p, v, "director.services", p.service) },
	})
	return d
}

func (p *parser) service(n *yaml.Node) (Service, bool) {
	var s Service
	sv := &s.Service
	sv.Mode = dsrtypes.ModeDSCP
	sv.Proto = ipvs.ProtoTCP
	sv.Scheduler = director.DefaultScheduler
	var haveVIP, haveDSCP bool
	var dscpNode, sorryNode *yaml.Node
	var reals []*yaml.Node
	var after []func()
	before := len(p.errs)
	p.fields(n, "a director service", map[string]func(*yaml.Node){
		"vip": func(v *yaml.Node) {
			str, ok := p.str(v, "vip")
			if !ok {
				return
			}
			ap, err := netip.ParseAddrPort(str)
			if err != nil {
				if a, aerr := netip.ParseAddr(str); aerr == nil {
					p.errf(v, "vip %q has no port: write VIP:PORT, e.g. %s", str, netip.AddrPortFrom(a, 80))
				} else {
					p.errf(v, "vip %q is not VIP:PORT: write e.g. 10.0.0.1:80, or \"[2001:db8::1]:80\" (quoted) for IPv6", str)
				}
				return
			}
			sv.VIP, sv.Port, haveVIP = ap.Addr(), ap.Port(), true
		},
		"proto": func(v *yaml.Node) {
			if pr, ok := parsed(p, v, "proto", dsrtypes.ParseProto, "use tcp, udp or sctp"); ok {
				sv.Proto = ipvs.Protocol(pr)
			}
		},
		"mode": func(v *yaml.Node) {
			if m, ok := parsed(p, v, "mode", dsrtypes.ParseMode, dsrtypes.ModeUse); ok {
				sv.Mode = m
			}
		},
		"dscp": func(v *yaml.Node) {
			dscpNode = v
			if d, ok := p.uint(v, "dscp", uint64(dsrtypes.MaxDSCP), "a DSCP code 0-63"); ok {
				sv.DSCP, haveDSCP = uint8(d), true
			}
		},
		"scheduler": func(v *yaml.Node) {
			if str, ok := p.str(v, "scheduler"); ok {
				if str == "" {
					p.errf(v, "scheduler is empty: give an IPVS scheduler (wlc, rr, mh, ...), or leave the key out for %s", director.DefaultScheduler)
				}
				sv.Scheduler = str
			}
		},
		"persistent": func(v *yaml.Node) {
			if t, ok := p.uint(v, "persistent", 1<<31, "the persistence timeout in seconds, 0 for none"); ok {
				sv.Persistent = uint32(t)
			}
		},
		"reals": func(v *yaml.Node) { reals = p.list(v, "reals") },
		// These read the VIP or the scheduler: they run after every key.
		"persistence_netmask": func(v *yaml.Node) { after = append(after, func() { p.netmask(v, sv) }) },
		"scheduler_flags":     func(v *yaml.Node) { after = append(after, func() { p.schedFlags(v, sv) }) },
		"ops":                 func(v *yaml.Node) { sv.OnePacket, _ = p.bool(v, "ops") },
		// The check reads the mode and the protocol; the sorry real is
		// checked against the reals, below.
		"health": func(v *yaml.Node) { after = append(after, func() { s.Health = p.health(v, *sv) }) },
		"sorry": func(v *yaml.Node) {
			if a, ok := p.addr(v, "sorry"); ok {
				s.Sorry, s.sorryPos, sorryNode = a, p.pos(v), v
			}
		},
	})
	if !haveVIP && len(p.errs) == before {
		p.errf(n, "a director service needs the key vip: e.g. 'vip: 10.0.0.1:80'")
	}
	if haveVIP {
		for _, f := range after {
			f()
		}
	}
	if len(p.errs) > before {
		return s, false
	}
	if sv.Mode == dsrtypes.ModeDSCP && !haveDSCP {
		p.errf(n, "service %s in dscp mode needs its code: add 'dscp: N' (0-63), or 'mode: ipip' or 'mode: dr'", sv.Key)
		return s, false
	}
	if sv.Mode != dsrtypes.ModeDSCP && haveDSCP {
		p.errf(dscpNode, "service %s is in %s mode, which uses no DSCP code: drop 'dscp', or use 'mode: dscp'", sv.Key, sv.Mode)
		return s, false
	}
	if err := director.CheckService(*sv); err != nil {
		p.errf(n, "%v", err)
		return s, false
	}
	s.pos = p.pos(n)
	for _, rn := range reals {
		if r, ok := p.real(rn, *sv); ok {
			sv.Reals = append(sv.Reals, r)
			s.realPos = append(s.realPos, p.pos(rn))
		}
	}
	if sorryNode != nil {
		p.sorry(sorryNode, s)
	}
	return s, len(p.errs) == before
}

func (p *parser) real(n *yaml.Node, s director.Service) (director.Real, bool) {
	k := s.Key
	r := director.Real{Weight: director.DefaultWeight, Forward: director.Forward(s.Mode)}
	var have bool
	before := len(p.errs)
	p.fields(n, "a real server", map[string]func(*yaml.Node){
		"address": func(v *yaml.Node) { r.Addr, have = p.addr(v, "address") },
		"weight": func(v *yaml.Node) {
			if w, ok := p.uint(v, "weight", 65535, "a weight of 0 (drain) to 65535"); ok {
				r.Weight = int32(w)
			}
		},
		"upper_threshold": func(v *yaml.Node) {
			if t, ok := p.uint(v, "upper_threshold", 1<<32-1, "a connection count, 0 for no limit"); ok {
				r.UpperThreshold = uint32(t)
			}
		},
		"lower_threshold": func(v *yaml.Node) {
			if t, ok := p.uint(v, "lower_threshold", 1<<32-1, "a connection count, 0 for none"); ok {
				r.LowerThreshold = uint32(t)
			}
		},
		"tunnel":          func(v *yaml.Node) { into(p, v, "tunnel", director.ParseTunnel, &r.Tunnel) },
		"tunnel_port":     func(v *yaml.Node) { p.tunnelPort(v, &r) },
		"tunnel_checksum": func(v *yaml.Node) { into(p, v, "tunnel_checksum", director.ParseTunnelChecksum, &r.TunnelFlags) },
	})
	if len(p.errs) > before {
		return r, false
	}
	if !have {
		p.errf(n, "a real server of service %s needs the key address: e.g. '{address: 10.1.0.10, weight: 100}'", k)
		return r, false
	}
	if err := director.CheckReal(s, r); err != nil {
		p.errf(n, "%v", err)
		return r, false
	}
	return r, true
}
