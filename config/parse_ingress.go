package config

import (
	"context"
	"fmt"

	"github.com/l3dsr/l3dsr/realserver"
	"go.yaml.in/yaml/v3"
)

// The realserver section's ingress key: the interfaces the map-mode rules
// are limited to (realserver.Ingress), host-wide; without it, any.

// ingress reads `ingress: [eth1, eth2]` (or `ingress: [any]`).
func (p *parser) ingress(n *yaml.Node) realserver.Ingress {
	names := items(p, n, "realserver.ingress", func(v *yaml.Node) (string, bool) { return p.str(v, "an ingress interface") })
	if len(names) == 1 && names[0] == "any" {
		return nil
	}
	ing, err := realserver.NewIngress(names)
	if err != nil {
		p.errf(n, "realserver.%v", err)
		return nil
	}
	return ing
}

// ingressNode is the list as the file writes it: one line, [eth1, eth2].
func ingressNode(ing realserver.Ingress) *yaml.Node {
	seq := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, n := range ing {
		seq.Content = append(seq.Content, str(n))
	}
	return seq
}

// planIngress is the step that moves the running list (cur) to the
// file's, after the VIPs' steps: it goes through the file's first VIP,
// up by then (realserver.Manager.UpIngress sets a VIP up and the list in
// one change), and is undone by moving the list back. A file without VIPs
// sets nothing up, so it has nothing to limit.
func planIngress(ctx context.Context, want *RealServer, cur realserver.Ingress, api realServerAPI) []Step {
	if want.ingress.String() == cur.String() || len(want.VIPs) == 0 {
		return nil
	}
	c, v, to, from := want.VIPs[0].Config, want.iptables, want.ingress, cur
	return []Step{{
		What: fmt.Sprintf("limit the map-mode rules to ingress %s (was %s)", to, from),
		do:   func() ([]string, []string, error) { return fromApplied(api.UpIngress(ctx, c, v, &to)) },
		undo: func() error { _, err := api.UpIngress(ctx, c, v, &from); return err },
	}}
}
