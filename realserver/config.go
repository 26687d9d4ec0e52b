package realserver

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/errclass"
	"github.com/l3dsr/l3dsr/maptable"
)

// Config is one VIP as Up sets it up.
type Config struct {
	VIP  netip.Addr    `json:"vip"`
	Mode dsrtypes.Mode `json:"mode"`
	// DSCP is the code that stands for the VIP (dsrtypes.ModeDSCP only, required).
	DSCP *uint8 `json:"dscp,omitempty"`
	// Local limits the mapping to packets for this local address (dsrtypes.ModeDSCP
	// only); the zero Addr means any.
	Local netip.Addr `json:"local,omitzero"`
	// RIP is the VIP's own address on this server (dsrtypes.ModeAddr only,
	// required): the director sends the VIP's packets to it, and the
	// any-DSCP entry keyed by it puts the VIP back.
	RIP netip.Addr `json:"rip,omitzero"`
	// Dev is the interface RIP is put on (dsrtypes.ModeAddr only); empty:
	// the interface of the route to RIP's subnet.
	Dev string `json:"dev,omitempty"`
	// SetDSCP, when set, is the DSCP the VIP's packets leave the rewrite
	// with (dscp and addr modes; ECN is kept): the reset that keeps the
	// DSR code from leaking into replies under net.ipv4.tcp_reflect_tos.
	SetDSCP *uint8 `json:"set_dscp,omitempty"`
	// MSS is the MSS the VIP's SYN-ACKs are clamped to (dsrtypes.ModeIPIP only); 0
	// in a Config given to Up means: derive it from the interface MTU.
	MSS uint16 `json:"mss,omitempty"`
	// Backend is what puts the VIP back (dscp and addr modes): module,
	// bpf, or auto (the module if xt_DADDR loads, else bpf); empty: the
	// one the namespace's VIPs use, else the module. In the record: ""
	// (the module) or bpf.
	Backend dsrtypes.Backend `json:"backend,omitempty"`
	// MapPath is the namespace's map path Up sets for the module (rule or
	// direct, mappath.go); empty leaves it as it is.
	MapPath maptable.Mode `json:"map_path,omitempty"`
}

// errInvalid is matched (errors.Is) by the error of a Config that can never
// be set up, found before anything is touched.
var errInvalid = errors.New("invalid real-server configuration")

// ErrConflict is matched (errors.Is) by the error of a Config that clashes
// with what is set up already (another VIP with the same DSCP key, a mapping
// made by someone else, the VIP set up in another way).
var ErrConflict = errors.New("conflicts with the running setup")

func invalidf(format string, a ...any) error { return errclass.New(errInvalid, format, a...) }

func conflictf(format string, a ...any) error {
	return errclass.New(ErrConflict, format, a...)
}

// Validate checks c on its own, with an error (matching errInvalid) that
// names the bad value and the fix.
func (c Config) Validate() error {
	if m, err := dsrtypes.ParseMode(string(c.Mode)); err != nil || (c.Mode != "" && m != c.Mode) {
		return invalidf("mode %q is unknown: %s", c.Mode, dsrtypes.ModeUse)
	}
	if b, err := dsrtypes.ParseBackend(string(c.Backend)); err != nil || b != c.Backend {
		return invalidf("backend %q is unknown: use module, bpf or auto", c.Backend)
	}
	if _, err := maptable.ParseMode(string(c.MapPath)); err != nil && c.MapPath != "" {
		return invalidf("%v", err)
	}
	if err := checkMapPath(c, c.Backend); err != nil {
		return invalidf("%v", err)
	}
	if !c.VIP.IsValid() {
		return invalidf("the VIP is missing: give the service address, e.g. --vip 10.0.0.1")
	}
	if c.VIP.Zone() != "" || c.VIP.Is4In6() {
		return invalidf("VIP %s is not a plain IPv4 or IPv6 address: write it without zone, IPv4 as a.b.c.d", c.VIP)
	}
	if !c.VIP.IsGlobalUnicast() && !c.VIP.IsPrivate() {
		return invalidf("VIP %s is not a unicast service address (loopback, link-local, multicast or unspecified): give the address clients connect to", c.VIP)
	}
	if err := c.validateAddrFields(); err != nil {
		return err
	}
	switch c.mode() {
	case dsrtypes.ModeNAT:
		return invalidf("mode nat (plain LVS-NAT) is the director's only: a NAT service's real server needs no l3dsr setup, just its route back to the clients through the director; for VIP %s use dscp, ipip or dr", c.VIP)
	case dsrtypes.ModeDR:
		if c.DSCP != nil {
			return invalidf("DSCP %d given for VIP %s in dr mode: dr mode uses no DSCP code (the director sends the packet to the VIP unchanged), leave --dscp out (or use --mode dscp)", *c.DSCP, c.VIP)
		}
		if c.Local.IsValid() {
			return invalidf("--local %s given for VIP %s in dr mode: --local selects a DSCP mapping, and dr mode has none; leave --local out", c.Local, c.VIP)
		}
		if c.MSS != 0 {
			return invalidf("--mss %d is for ipip mode only (dr mode adds no header, so nothing needs clamping): leave it out", c.MSS)
		}
	case dsrtypes.ModeDSCP:
		if c.DSCP == nil {
			return invalidf("VIP %s in dscp mode needs its DSCP code: give --dscp 0-%d", c.VIP, dsrtypes.MaxDSCP)
		}
		if dsrtypes.DSCP(*c.DSCP) > dsrtypes.MaxDSCP {
			return invalidf("DSCP %d is out of range: use 0-%d", *c.DSCP, dsrtypes.MaxDSCP)
		}
		if c.MSS != 0 {
			return invalidf("--mss %d is for ipip mode only (dscp mode adds no header, so nothing needs clamping): leave it out", c.MSS)
		}
		if c.Local.IsValid() {
			if c.Local.Is4() != c.VIP.Is4() {
				return invalidf("VIP %s is %s but --local %s is %s: give a local address of the VIP's family", c.VIP, famName(c.VIP), c.Local, famName(c.Local))
			}
			if err := (maptable.Entry{DSCP: dsrtypes.DSCP(*c.DSCP), VIP: c.VIP, Local: c.Local}).Validate(); err != nil {
				return invalidf("%v", err)
			}
		}
	case dsrtypes.ModeAddr:
		return c.validateAddr()
	case dsrtypes.ModeIPIP:
		if c.DSCP != nil {
			return invalidf("DSCP %d given for VIP %s in ipip mode: ipip mode uses no DSCP code, leave --dscp out (or use --mode dscp)", *c.DSCP, c.VIP)
		}
		if c.Local.IsValid() {
			return invalidf("--local %s given for VIP %s in ipip mode: the tunnel device takes packets for any local address, leave --local out", c.Local, c.VIP)
		}
		if c.MSS != 0 && (c.MSS < 536 || c.MSS > 65495) {
			return invalidf("MSS %d is out of range: use 536-65495, or leave it out to derive it from the interface MTU", c.MSS)
		}
	}
	return nil
}

func (c Config) mode() dsrtypes.Mode {
	if c.Mode == "" {
		return dsrtypes.ModeDSCP
	}
	return c.Mode
}

// prefix is the VIP as a host route on lo: /32 or /128.
func (c Config) prefix() netip.Prefix {
	return netip.PrefixFrom(c.VIP, c.VIP.BitLen())
}

// entry is the mapping of a dscp-mode VIP (one code), or of an addr-mode
// VIP: any DSCP to its RIP.
func (c Config) entry() maptable.Entry {
	e := maptable.Entry{Family: dsrtypes.FamilyOf(c.VIP), Local: c.Local, VIP: c.VIP}
	if c.SetDSCP != nil {
		d := dsrtypes.DSCP(*c.SetDSCP)
		e.SetDSCP = &d
	}
	if c.mode() == dsrtypes.ModeAddr {
		e.AnyDSCP, e.Local = true, c.RIP
		return e
	}
	e.DSCP = dsrtypes.DSCP(*c.DSCP)
	return e
}

// mapped reports whether the VIP has entries in the map (dscp and addr
// modes), and so needs the map-mode rule.
func (c Config) mapped() bool { return c.mode() == dsrtypes.ModeDSCP || c.mode() == dsrtypes.ModeAddr }

// takes reports whether the VIP set up as c can take d too: the same mode
// and local address, and in ipip mode the same MSS (a zero MSS in d, derive,
// matches any). In dscp mode d may bring another code: it is added. Another
// --set-dscp is changed in place (upReset).
func (c Config) takes(d Config) bool {
	if c.VIP != d.VIP || c.mode() != d.mode() || c.Local != d.Local || c.RIP != d.RIP {
		return false
	}
	if d.Dev != "" && c.Dev != d.Dev {
		return false
	}
	return d.MSS == 0 || c.MSS == d.MSS
}

// upCommand is the command line that sets c up, for fix texts.
func (c Config) upCommand() string {
	s := "l3dsr realserver up --vip " + c.VIP.String()
	if c.mode() == dsrtypes.ModeDR {
		return s + " --mode dr"
	}
	if c.mode() == dsrtypes.ModeIPIP {
		s += " --mode ipip"
		if c.MSS != 0 {
			s += fmt.Sprintf(" --mss %d", c.MSS)
		}
		return s
	}
	if c.mode() == dsrtypes.ModeAddr {
		s += " --mode addr --rip " + c.RIP.String()
		if c.Dev != "" {
			s += " --dev " + c.Dev
		}
	}
	if c.DSCP != nil {
		s += fmt.Sprintf(" --dscp %d", *c.DSCP)
	}
	if c.Local.IsValid() {
		s += " --local " + c.Local.String()
	}
	if c.SetDSCP != nil {
		s += fmt.Sprintf(" --set-dscp %d", *c.SetDSCP)
	}
	return s
}

func (c Config) String() string {
	var codes Codes
	if c.DSCP != nil {
		codes = Codes{*c.DSCP}
	}
	return c.Describe(codes)
}

// Describe names the VIP with the codes given (instead of its DSCP): "VIP
// 10.0.0.1 (dscp, DSCP 19, 20)".
func (c Config) Describe(codes Codes) string {
	s := fmt.Sprintf("VIP %s (%s", c.VIP, c.mode())
	if len(codes) > 0 {
		s += ", DSCP " + codes.String()
	}
	if c.Local.IsValid() {
		s += ", local " + c.Local.String()
	}
	if c.RIP.IsValid() {
		s += ", RIP " + c.RIP.String()
		if c.Dev != "" {
			s += " on " + c.Dev
		}
	}
	if c.SetDSCP != nil {
		s += fmt.Sprintf(", set DSCP %d", *c.SetDSCP)
	}
	if c.MSS != 0 {
		s += fmt.Sprintf(", MSS %d", c.MSS)
	}
	return s + ")"
}

func famName(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}
