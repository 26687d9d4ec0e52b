package config

import (
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/health"
	"github.com/l3dsr/l3dsr/internal/ipvs"
	"go.yaml.in/yaml/v3"
)

// minInterval is the shortest interval between probes of one real: below
// it a check of many services is a load on both ends, and no faster
// detection than keepalived's or HAProxy's is worth that.
const minInterval = 100 * time.Millisecond

// kindKeys are the keys of a health block that only some kinds read. Any
// other kind refuses them by name, rather than as unknown keys: `path` on a
// tcp check is a mistake about the kind, not a typo.
var kindKeys = map[string][]health.Kind{
	"method":  {health.KindHTTP, health.KindHTTPS},
	"path":    {health.KindHTTP, health.KindHTTPS},
	"status":  {health.KindHTTP, health.KindHTTPS},
	"body":    {health.KindHTTP, health.KindHTTPS},
	"host":    {health.KindHTTP, health.KindHTTPS},
	"query":   {health.KindDNS},
	"qtype":   {health.KindDNS},
	"rcode":   {health.KindDNS},
	"command": {health.KindExec},
	// An exec check's command goes where it likes: no path to choose.
	"via": {health.KindTCP, health.KindHTTP, health.KindHTTPS, health.KindDNS},
}

// kindProto is the protocol a kind's probe speaks; exec, absent here, can
// check a service of any protocol.
var kindProto = map[health.Kind]ipvs.Protocol{
	health.KindTCP:   ipvs.ProtoTCP,
	health.KindHTTP:  ipvs.ProtoTCP,
	health.KindHTTPS: ipvs.ProtoTCP,
	health.KindDNS:   ipvs.ProtoUDP,
}

// health reads the health block of the service sv (its mode and protocol
// already read) into a Spec with every default filled in and its path
// resolved; nil after an error.
func (p *parser) health(n *yaml.Node, sv director.Service) *health.Spec {
	if isNull(n) {
		p.errf(n, "health of service %s is empty: give at least its kind, e.g. 'health: {kind: tcp}', or leave the key out", sv.Key)
		return nil
	}
	var s health.Spec
	var haveKind bool
	var intervalNode, timeoutNode *yaml.Node
	timed := true // interval and timeout, if given, are durations
	given := map[string]*yaml.Node{}
	// kinded records a kind-specific key, then reads it.
	kinded := func(key string, read func(*yaml.Node)) func(*yaml.Node) {
		return func(v *yaml.Node) { given[key] = v; read(v) }
	}
	before := len(p.errs)
	p.fields(n, "a health check", map[string]func(*yaml.Node){
		"kind": func(v *yaml.Node) {
			before := len(p.errs)
			into(p, v, "kind", health.ParseKind, &s.Kind)
			haveKind = len(p.errs) == before
		},
		"via": kinded("via", func(v *yaml.Node) { into(p, v, "via", health.ParseVia, &s.Via) }),
		"interval": func(v *yaml.Node) {
			var ok bool
			intervalNode = v
			s.Interval, ok = p.duration(v, "interval")
			timed = timed && ok
		},
		"timeout": func(v *yaml.Node) {
			var ok bool
			timeoutNode = v
			s.Timeout, ok = p.duration(v, "timeout")
			timed = timed && ok
		},
		"rise":       func(v *yaml.Node) { s.Rise = p.count(v, "rise", "good checks in a row that bring a real back") },
		"fall":       func(v *yaml.Node) { s.Fall = p.count(v, "fall", "failed checks in a row that take a real out") },
		"on_failure": func(v *yaml.Node) { into(p, v, "on_failure", health.ParseOnFailure, &s.OnFailure) },
		"method":     kinded("method", func(v *yaml.Node) { into(p, v, "method", parseMethod, &s.Method) }),
		"path":       kinded("path", func(v *yaml.Node) { into(p, v, "path", parsePath, &s.Path) }),
		"status": kinded("status", func(v *yaml.Node) {
			const hint = "an HTTP status 100-599"
			if c, ok := p.uint(v, "status", 599, hint); ok {
				if c < 100 {
					p.errf(v, "status %d is out of range: give %s", c, hint)
				}
				s.Status = int(c)
			}
		}),
		"body":    kinded("body", func(v *yaml.Node) { into(p, v, "body", parseBody, &s.Body) }),
		"host":    kinded("host", func(v *yaml.Node) { into(p, v, "host", parseHost, &s.Host) }),
		"query":   kinded("query", func(v *yaml.Node) { into(p, v, "query", parseQuery, &s.Query) }),
		"qtype":   kinded("qtype", func(v *yaml.Node) { into(p, v, "qtype", parseQType, &s.QType) }),
		"rcode":   kinded("rcode", func(v *yaml.Node) { into(p, v, "rcode", parseRCode, &s.RCode) }),
		"command": kinded("command", func(v *yaml.Node) { s.Command = p.command(v) }),
	})
	if !haveKind {
		if len(p.errs) == before {
			p.errf(n, "the health check of service %s needs the key kind: %s", sv.Key, health.KindUse)
		}
		return nil
	}
	// Against the kind: also after a bad value, so that every mistake of
	// the block is named at once.
	p.kindKeys(s.Kind, given)
	if want, ok := kindProto[s.Kind]; ok && sv.Proto != want {
		p.errf(n, "%s check speaks %s, and service %s is %s: use %s", article(s.Kind), want, sv.Key, sv.Proto, kindsFor(sv.Proto))
	}
	if s.Kind == health.KindExec && given["command"] == nil {
		p.errf(n, "an exec check needs the key command: e.g. 'command: [/usr/local/bin/check, --fast]' (exit status 0 means up)")
	}
	if s.Via == health.ViaDSR && (sv.Mode == dsrtypes.ModeDR || sv.Mode == dsrtypes.ModeNAT) {
		p.errf(given["via"], "via dsr is for dscp, addr and ipip services, and service %s is in %s mode, where a probe to the real's address takes the clients' path: drop via, or write 'via: rip'", sv.Key, sv.Mode)
	}
	if s.Via == health.ViaRIP && sv.Mode == dsrtypes.ModeAddr {
		p.errf(given["via"], "via rip cannot check service %s: in addr mode the real's address is the VIP's own address on the real server, which rewrites every packet to it to the VIP, so the answer comes from the VIP: drop via, or write 'via: dsr'", sv.Key)
	}
	if s.Via == "" {
		s.Via = defaultVia(s.Kind, sv.Mode)
	}
	s = s.WithDefaults()
	if timed {
		p.timing(s, intervalNode, timeoutNode)
	}
	if len(p.errs) > before {
		return nil
	}
	return &s
}

// kindKeys refuses the keys of kind-specific settings that kind k does not
// read.
func (p *parser) kindKeys(k health.Kind, given map[string]*yaml.Node) {
	keys := make([]string, 0, len(given))
	for key := range given {
		keys = append(keys, key)
	}
	// In file order, as every other error.
	slices.SortFunc(keys, func(a, b string) int { return given[a].Line - given[b].Line })
	for _, key := range keys {
		kinds := kindKeys[key]
		if slices.Contains(kinds, k) {
			continue
		}
		names := make([]string, len(kinds))
		for i, kk := range kinds {
			names[i] = string(kk)
		}
		list := strings.Join(names[:len(names)-1], ", ")
		if list != "" {
			list += " and "
		}
		list += names[len(names)-1]
		p.errf(given[key], "%s is for %s checks, and this one is %s: drop it, or change the kind", key, list, k)
	}
}

// article is "a tcp", "an http": the kind with its article, as said.
func article(k health.Kind) string {
	if k == health.KindHTTP || k == health.KindHTTPS || k == health.KindExec {
		return "an " + string(k)
	}
	return "a " + string(k)
}

// kindsFor names the kinds that can check a service of protocol pr.
func kindsFor(pr ipvs.Protocol) string {
	switch pr {
	case ipvs.ProtoTCP:
		return "tcp, http, https or exec"
	case ipvs.ProtoUDP:
		return "udp-dns or exec"
	}
	return "exec"
}

// timing checks s's interval and timeout, defaults filled in: a probe must
// end before the next is due, and probes must not come too fast.
func (p *parser) timing(s health.Spec, intervalNode, timeoutNode *yaml.Node) {
	if intervalNode != nil && s.Interval < minInterval {
		p.errf(intervalNode, "interval %v is under %v: give %v or more", s.Interval, minInterval, minInterval)
		return
	}
	if s.Timeout <= s.Interval {
		return
	}
	at, which := timeoutNode, ""
	if intervalNode == nil {
		which = " (the default)"
	}
	if at == nil {
		at = intervalNode
	}
	p.errf(at, "timeout %v is longer than the interval %v%s: a probe would still run when the next is due; give a timeout of at most %v, or a longer interval", s.Timeout, s.Interval, which, s.Interval)
}

// bareNumber is a duration written without its unit.
var bareNumber = regexp.MustCompile(`^[0-9]+(\.[0-9]*)?$`)

// duration reads a positive duration with its unit, as Go writes them
// (500ms, 2s, 1m30s). A bare number is refused: seconds or milliseconds,
// the reader could not tell.
func (p *parser) duration(n *yaml.Node, what string) (time.Duration, bool) {
	s, ok := p.str(n, what)
	if !ok {
		return 0, false
	}
	if bareNumber.MatchString(s) {
		p.errf(n, "%s %s has no unit: write %ss (or ms, m)", what, s, s)
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		p.errf(n, "%s %q is not a duration: write e.g. 500ms, 2s or 1m", what, s)
		return 0, false
	}
	if d <= 0 {
		p.errf(n, "%s %s is not positive: give a duration such as 1s", what, s)
		return 0, false
	}
	return d, true
}

// count reads rise or fall: 1 or more, since 0 would never change a state.
func (p *parser) count(n *yaml.Node, what, means string) int {
	hint := "at least 1 (the " + means + ")"
	c, ok := p.uint(n, what, 1000, "1-1000, the "+means)
	if ok && c == 0 {
		p.errf(n, "%s 0 would never change the real's state: write %s", what, hint)
	}
	return int(c)
}

// command reads an exec check's argv: a list, or one word. A string with
// spaces is refused, since splitting it would need a shell's quoting rules.
func (p *parser) command(n *yaml.Node) []string {
	var argv []string
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		s := strings.TrimSpace(n.Value)
		if strings.ContainsAny(s, " \t") {
			fields := strings.Fields(s)
			p.errf(n, "command %q is one string: write the program and its arguments as a list, e.g. [%s]", s, strings.Join(fields, ", "))
			return nil
		}
		argv = []string{s}
	} else {
		before := len(p.errs)
		for _, item := range p.list(n, "command") {
			if s, ok := p.str(item, "an argument of command"); ok {
				argv = append(argv, s)
			}
		}
		if len(p.errs) > before {
			return nil
		}
	}
	if len(argv) == 0 {
		p.errf(n, "command is empty: give the program and its arguments, e.g. [/usr/local/bin/check, --fast]")
		return nil
	}
	if !strings.HasPrefix(argv[0], "/") {
		p.errf(n, "command %q does not start with an absolute path: the agent runs with systemd's PATH, so write e.g. /usr/local/bin/%s", argv[0], argv[0])
		return nil
	}
	return argv
}
