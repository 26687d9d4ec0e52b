package config

import (
	"net/netip"
	"slices"
	"time"

	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/health"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/maptable"
	"github.com/l3dsr/l3dsr/realserver"
)

// DefaultPath is where the systemd unit and `l3dsr apply` look for the file.
const DefaultPath = "/etc/l3dsr/l3dsr.conf"

// File is a parsed and validated config file. A nil section is one the file
// does not have: apply leaves that side of the host alone.
type File struct {
	realServer *RealServer
	director   *Director
	// dsrTools is the directory of Yahoo dsrtools *.conf files whose VIP=DSCP
	// lines were merged into realServer.VIPs ("" for none).
	dsrTools string
	// agent is the agent section, nil when the file has none.
	agent *Agent
	// name is the file's name, where the agent's defaults come from.
	name string
}

// Agent is what `l3dsr agent` reads besides the sections it applies; apply
// ignores it.
type Agent struct {
	// Metrics is the address /metrics listens on, as net.Listen takes it
	// ("127.0.0.1:9641", "[::1]:9641", ":9641" for every address); "" is
	// none (metrics: off).
	Metrics string
	// MetricsPos is where metrics was written, or the agent section (the
	// file, without agent:) when the default is used: the agent names it
	// when the address is in use.
	MetricsPos Pos
	// Teardown is on_stop: teardown, SIGTERM deleting what the file set
	// up. Without it a stop (and so a restart) leaves the data path
	// running.
	Teardown bool
	// RepairInterval is how often the running state is compared with the
	// file and drift repaired.
	RepairInterval time.Duration
	// BGP is the bgp section; nil is none (nothing is announced).
	BGP *BGP
	// ICMPRelay sends ICMP "fragmentation needed" and "packet too big"
	// for a VIP on to the real server that owns the quoted flow
	// (icmp_relay: on|off; on by default when there is a bgp section).
	ICMPRelay bool
}

// The agent's defaults: metrics on the loopback only, since counters of
// every service are nobody else's business until the operator says so; a
// repair interval short enough that a VIP deleted by hand is back within
// seconds, long enough that reading every service is not a load.
const (
	defaultMetrics        = "127.0.0.1:9641"
	defaultRepairInterval = 10 * time.Second
)

// Agent is the file's agent section, with the defaults for what it leaves
// out (or for all of it, without one).
func (f *File) Agent() Agent {
	if f.agent != nil {
		return *f.agent
	}
	return Agent{Metrics: defaultMetrics, MetricsPos: Pos{File: f.name}, RepairInterval: defaultRepairInterval}
}

// RealServer is the real-server section.
type RealServer struct {
	// iptables is the iptables variant that appends the map-mode rule.
	iptables xtrule.Variant
	// ingress is the interfaces the map-mode rules are limited to (none:
	// any); parse_ingress.go.
	ingress realserver.Ingress
	// backend is the table's backend of the dscp- and addr-mode VIPs
	// (module, bpf or auto; empty: the one in use, else the module).
	backend dsrtypes.Backend
	// mapPath is the module's map path apply sets (rule or direct; empty:
	// left as it is, which is rule unless 'l3dsr rule mode' changed it).
	mapPath maptable.Mode
	VIPs    []VIP
}

// VIP is one real-server VIP and where it was written.
type VIP struct {
	// Config is the VIP with its first code (dscp mode).
	Config realserver.Config
	// codes are all its codes (dscp mode), as written (a list, or VIP=DSCP
	// lines of dsrtools files), and codePos[i] is where codes[i] was.
	codes   realserver.Codes
	codePos []Pos
	pos     Pos
	// note is written as a comment beside the VIP when the file is saved:
	// the host name of a dsrtools line, resolved when it was converted.
	note string
}

// Director is the director section. Having one means l3dsr owns every IPVS
// service by address in the network namespace: apply removes those that are
// not in the file. Firewall-mark services are never touched.
type Director struct {
	Services []Service
}

// Service is one IPVS service with its reals, and where they were written.
type Service struct {
	Service director.Service
	// Health is the service's check (every field set, Via resolved for
	// its mode); nil for none. apply ignores it: the agent runs it.
	Health *health.Spec
	// Sorry is the real that takes the traffic while every real fails its
	// check; the zero Addr for none. It is not one of Service.Reals.
	Sorry netip.Addr
	pos   Pos
	// realPos[i] is where Service.Reals[i] was written, sorryPos Sorry.
	realPos  []Pos
	sorryPos Pos
}

// withCodes sets v's codes, and Config's first code.
func (v *VIP) withCodes(codes realserver.Codes, pos []Pos) {
	v.codes, v.codePos = codes, pos
	v.Config.DSCP = nil
	if len(codes) > 0 {
		d := codes[0]
		v.Config.DSCP = &d
	}
}

// addCode gives v one more code, written at p.
func (v *VIP) addCode(d uint8, p Pos) {
	v.withCodes(append(slices.Clone(v.codes), d), append(slices.Clone(v.codePos), p))
}

// withCode is v's Config for its code d: what one 'realserver up' sets up.
func (v VIP) withCode(d uint8) realserver.Config {
	c := v.Config
	c.DSCP = &d
	return c
}

func (v VIP) String() string { return v.Config.Describe(v.codes) }
