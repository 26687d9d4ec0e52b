package config

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/ipvs"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/realserver"
	"go.yaml.in/yaml/v3"
)

// Marshal writes f in the config file format, keys in the documented order
// and defaults left out, so that Parse gives f back. header, if not empty,
// goes first as comment lines.
func Marshal(f *File, header string) ([]byte, error) {
	root := mapping()
	if rs := f.realServer; rs != nil {
		sec := mapping()
		if rs.iptables != xtrule.Default {
			put(sec, "iptables", str(string(rs.iptables)))
		}
		if len(rs.ingress) > 0 {
			put(sec, "ingress", ingressNode(rs.ingress))
		}
		if rs.backend != "" {
			put(sec, "backend", str(string(rs.backend)))
		}
		if rs.mapPath != "" {
			put(sec, "map_path", str(string(rs.mapPath)))
		}
		vips := &yaml.Node{Kind: yaml.SequenceNode}
		for _, v := range rs.VIPs {
			vips.Content = append(vips.Content, vipNode(v))
		}
		put(sec, "vips", vips)
		put(root, "realserver", sec)
	}
	if d := f.director; d != nil {
		svcs := &yaml.Node{Kind: yaml.SequenceNode}
		for _, s := range d.Services {
			svcs.Content = append(svcs.Content, serviceNode(s))
		}
		sec := mapping()
		put(sec, "services", svcs)
		put(root, "director", sec)
	}
	if f.agent != nil {
		put(root, "agent", agentNode(*f.agent))
	}
	if len(root.Content) == 0 {
		// An empty mapping would print "{}"; a file with comments only
		// means the same (nothing to manage) and reads better.
		return []byte(header), nil
	}
	var buf bytes.Buffer
	buf.WriteString(header)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("writing the config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("writing the config: %w", err)
	}
	return buf.Bytes(), nil
}

func mapping() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode} }

func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

func num[T ~uint8 | ~uint16 | ~uint32 | ~int32](v T) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(int64(v), 10)}
}

func put(m *yaml.Node, key string, v *yaml.Node) {
	m.Content = append(m.Content, str(key), v)
}

func vipNode(v VIP) *yaml.Node {
	c := v.Config
	m := mapping()
	addr := str(c.VIP.String())
	if v.note != "" {
		addr.LineComment = "# " + v.note
	}
	put(m, "vip", addr)
	if c.Mode == dsrtypes.ModeAddr {
		put(m, "mode", str(string(c.Mode)))
		put(m, "rip", str(c.RIP.String()))
		if c.Dev != "" {
			put(m, "dev", str(c.Dev))
		}
		return putSet(m, c)
	}
	if c.Mode != dsrtypes.ModeDSCP && c.Mode != "" {
		put(m, "mode", str(string(c.Mode)))
		if c.MSS != 0 {
			put(m, "mss", num(c.MSS))
		}
		return m
	}
	switch {
	case len(v.codes) > 1:
		codes := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for _, d := range v.codes {
			codes.Content = append(codes.Content, num(d))
		}
		put(m, "dscp", codes)
	case c.DSCP != nil:
		put(m, "dscp", num(*c.DSCP))
	}
	if c.Local.IsValid() {
		put(m, "local", str(c.Local.String()))
	}
	return putSet(m, c)
}

// putSet writes the VIP's DSCP reset, if it has one.
func putSet(m *yaml.Node, c realserver.Config) *yaml.Node {
	if c.SetDSCP != nil {
		put(m, "set_dscp", num(*c.SetDSCP))
	}
	return m
}

func serviceNode(svc Service) *yaml.Node {
	s := svc.Service
	m := mapping()
	put(m, "vip", str(s.Key.VIP.String()+":"+strconv.Itoa(int(s.Port))))
	if s.VIP.Is6() {
		m.Content[1].Value = "[" + s.VIP.String() + "]:" + strconv.Itoa(int(s.Port))
	}
	put(m, "proto", str(dsrtypes.Proto(s.Proto).String()))
	put(m, "mode", str(s.Mode.String()))
	if s.Mode == dsrtypes.ModeDSCP {
		put(m, "dscp", num(s.DSCP))
	}
	put(m, "scheduler", str(s.Scheduler))
	if names := s.SchedFlags.Names(s.Scheduler); len(names) > 0 {
		flags := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for _, n := range names {
			flags.Content = append(flags.Content, str(n))
		}
		put(m, "scheduler_flags", flags)
	}
	if s.Persistent != 0 {
		put(m, "persistent", num(s.Persistent))
	}
	if s.Netmask != 0 {
		mask := str(director.FormatNetmask(s.VIP, s.Netmask))
		if s.VIP.Is6() {
			mask = num(s.Netmask) // a prefix length
		}
		put(m, "persistence_netmask", mask)
	}
	if s.OnePacket {
		put(m, "ops", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"})
	}
	if svc.Sorry.IsValid() {
		put(m, "sorry", str(svc.Sorry.String()))
	}
	if svc.Health != nil {
		put(m, "health", healthNode(*svc.Health, s.Mode))
	}
	reals := &yaml.Node{Kind: yaml.SequenceNode}
	for _, r := range s.Reals {
		rn := mapping()
		rn.Style = yaml.FlowStyle
		put(rn, "address", str(r.Addr.String()))
		put(rn, "weight", num(r.Weight))
		if r.UpperThreshold != 0 {
			put(rn, "upper_threshold", num(r.UpperThreshold))
		}
		if r.LowerThreshold != 0 {
			put(rn, "lower_threshold", num(r.LowerThreshold))
		}
		if r.Tunnel != ipvs.TunnelIPIP {
			put(rn, "tunnel", str(r.Tunnel.String()))
		}
		if r.TunnelPort != 0 {
			put(rn, "tunnel_port", num(r.TunnelPort))
		}
		if c := director.TunnelChecksumName(r.TunnelFlags); c != "" {
			put(rn, "tunnel_checksum", str(c))
		}
		reals.Content = append(reals.Content, rn)
	}
	put(m, "reals", reals)
	return m
}
