package config

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// minRepairInterval bounds how often the agent reads the whole running
// state to look for drift: more often is a load and repairs nothing sooner
// that matters.
const minRepairInterval = time.Second

// agent reads the agent section; apply never looks at it.
func (p *parser) agent(n *yaml.Node) *Agent {
	a := &Agent{Metrics: defaultMetrics, MetricsPos: p.pos(n), RepairInterval: defaultRepairInterval}
	if isNull(n) {
		return a
	}
	relaySet := false
	p.fields(n, "agent", map[string]func(*yaml.Node){
		"bgp": func(v *yaml.Node) { a.BGP = p.bgp(keyOf(n, "bgp"), v) },
		"icmp_relay": func(v *yaml.Node) {
			a.ICMPRelay, relaySet = p.icmpRelay(v)
		},
		"metrics": func(v *yaml.Node) {
			a.MetricsPos = p.pos(v)
			if m, ok := p.metrics(v); ok {
				a.Metrics = m
			}
		},
		"on_stop": func(v *yaml.Node) {
			if s, ok := p.str(v, "on_stop"); ok {
				switch strings.ToLower(s) {
				case "keep":
					a.Teardown = false
				case "teardown":
					a.Teardown = true
				default:
					p.errf(v, "on_stop %q: use keep (a stop leaves the data path as it is, so a restart drops nothing) or teardown (a stop deletes what the file set up)", s)
				}
			}
		},
		"repair_interval": func(v *yaml.Node) {
			d, ok := p.duration(v, "repair_interval")
			if ok && d < minRepairInterval {
				p.errf(v, "repair_interval %v is under %v: each repair reads the whole running state; give %v or more", d, minRepairInterval, minRepairInterval)
			}
			a.RepairInterval = d
		},
	})
	if !relaySet {
		// A director that announces VIPs is one of several behind ECMP:
		// the ICMP for a flow often reaches another one.
		a.ICMPRelay = a.BGP != nil
	}
	return a
}

// metrics reads the listen address of /metrics: an address and a port
// (":PORT" for every address), or off. A host name is refused: nothing is
// resolved at boot, and a name could listen somewhere the operator did not
// mean.
func (p *parser) metrics(n *yaml.Node) (string, bool) {
	const eg = `e.g. 127.0.0.1:9641, "[::1]:9641" (quoted), :9641 for every address, or off`
	if n.Kind == yaml.SequenceNode {
		p.errf(n, `metrics is a list: quote an IPv6 address, e.g. metrics: "[::1]:9641"`)
		return "", false
	}
	s, ok := p.str(n, "metrics")
	if !ok {
		return "", false
	}
	if strings.EqualFold(s, "off") {
		return "", true
	}
	bad := func(why string) (string, bool) {
		p.errf(n, "metrics %q %s: write %s", s, why, eg)
		return "", false
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		if a, aerr := netip.ParseAddr(s); aerr == nil {
			p.errf(n, "metrics %q has no port: write %q", s, netip.AddrPortFrom(a, 9641).String())
			return "", false
		}
		return bad("is not ADDRESS:PORT")
	}
	pn, err := strconv.ParseUint(port, 10, 16)
	switch {
	case err != nil:
		return bad("has no port number")
	case pn == 0:
		return bad("has port 0, which Prometheus could not find")
	case host == "":
		return ":" + port, true
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		p.errf(n, "metrics %q names a host, and nothing is resolved: give an address, e.g. 127.0.0.1:%s", s, port)
		return "", false
	}
	return netip.AddrPortFrom(a, uint16(pn)).String(), true
}
