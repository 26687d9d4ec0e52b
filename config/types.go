package config

import (
	"slices"

	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/internal/xtrule"
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
}

// RealServer is the real-server section.
type RealServer struct {
	// iptables is the iptables variant that appends the map-mode rule.
	iptables xtrule.Variant
	VIPs     []VIP
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
	pos     Pos
	// realPos[i] is where Service.Reals[i] was written.
	realPos []Pos
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
