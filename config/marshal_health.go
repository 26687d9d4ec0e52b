package config

import (
	"time"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/health"
	"go.yaml.in/yaml/v3"
)

// The sections only a file has: the running state knows no health check,
// sorry real nor agent, so `save` never writes them; Marshal writes them
// when the File it is given has them, so that a parsed file saves whole.

// healthNode writes s, a check of a service in mode, leaving out what is
// the default.
func healthNode(s health.Spec, mode dsrtypes.Mode) *yaml.Node {
	def := health.Spec{Kind: s.Kind, Interval: s.Interval}.WithDefaults()
	m := mapping()
	put(m, "kind", str(string(s.Kind)))
	if s.Via != defaultVia(s.Kind, mode) {
		put(m, "via", str(string(s.Via)))
	}
	if s.Interval != health.DefaultInterval {
		put(m, "interval", dur(s.Interval))
	}
	if s.Timeout != def.Timeout {
		put(m, "timeout", dur(s.Timeout))
	}
	if s.Rise != def.Rise {
		put(m, "rise", num(int32(s.Rise)))
	}
	if s.Fall != def.Fall {
		put(m, "fall", num(int32(s.Fall)))
	}
	if s.OnFailure != def.OnFailure {
		put(m, "on_failure", str(string(s.OnFailure)))
	}
	for _, kv := range []struct{ key, val, def string }{
		{"method", s.Method, def.Method},
		{"path", s.Path, def.Path},
		{"host", s.Host, def.Host},
		{"query", s.Query, def.Query},
		{"qtype", s.QType, def.QType},
		{"rcode", s.RCode, def.RCode},
	} {
		if kv.val != kv.def {
			put(m, kv.key, str(kv.val))
		}
	}
	if s.Status != def.Status {
		put(m, "status", num(int32(s.Status)))
	}
	if s.Body != nil {
		put(m, "body", str(s.Body.String()))
	}
	if s.Command != nil {
		argv := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for _, a := range s.Command {
			argv.Content = append(argv.Content, str(a))
		}
		put(m, "command", argv)
	}
	return m
}

// defaultVia is the path a check of kind k takes in mode when the file
// does not say: the clients' path where it differs from the real's own
// address. An exec check has none.
func defaultVia(k health.Kind, mode dsrtypes.Mode) health.Via {
	switch {
	case k == health.KindExec:
		return ""
	case mode == dsrtypes.ModeDSCP || mode == dsrtypes.ModeIPIP || mode == dsrtypes.ModeAddr:
		return health.ViaDSR
	}
	return health.ViaRIP
}

func agentNode(a Agent) *yaml.Node {
	m := mapping()
	switch a.Metrics {
	case defaultMetrics:
	case "":
		put(m, "metrics", str("off"))
	default:
		put(m, "metrics", str(a.Metrics))
	}
	if a.Teardown {
		put(m, "on_stop", str("teardown"))
	}
	if a.RepairInterval != defaultRepairInterval {
		put(m, "repair_interval", dur(a.RepairInterval))
	}
	putBGP(m, a)
	return m
}

func dur(d time.Duration) *yaml.Node { return str(d.String()) }
