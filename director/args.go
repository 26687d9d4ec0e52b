package director

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/ipvs"
)

// The checks of a command line's service and real server, before anything
// is touched: their errors name the flags (the CLI's usage errors), where
// AddService and the others name the values.

// KeyOf is the key of the service --vip and --proto give: vip is the zero
// AddrPort when --vip is not given, text the --vip given.
func KeyOf(vip netip.AddrPort, text string, proto dsrtypes.Proto) (Key, error) {
	if !vip.IsValid() {
		return Key{}, fmt.Errorf("--vip is required: give VIP:PORT, e.g. --vip 10.0.0.1:80 or --vip [2001:db8::1]:80")
	}
	a := vip.Addr().WithZone("")
	if a.IsUnspecified() || a.IsMulticast() || a.Is4In6() {
		return Key{}, fmt.Errorf("--vip %q: the VIP must be a unicast IPv4 or IPv6 address", text)
	}
	return Key{VIP: a, Port: vip.Port(), Proto: ipvs.Protocol(proto)}, nil
}

// CheckNew checks the settings of a service to add: dscpGiven tells whether
// --dscp was given (0 is a code).
func (s Service) CheckNew(dscpGiven bool) error {
	switch {
	case s.Mode == dsrtypes.ModeDSCP && !dscpGiven:
		return fmt.Errorf("--dscp is required in mode dscp: give the code (1-63) that stands for %s on its real servers, or use --mode ipip, dr or nat", s.VIP)
	case s.Mode == dsrtypes.ModeAddr && dscpGiven:
		return addrDSCPError("--dscp", s.DSCP, netip.AddrPortFrom(s.VIP, s.Port).String(), "--mode dscp")
	case s.Mode != dsrtypes.ModeDSCP && dscpGiven:
		return fmt.Errorf("--dscp %s: mode %s uses no DSCP code; drop --dscp, or use --mode dscp", dsrtypes.DSCP(s.DSCP), s.Mode)
	}
	return checkScheduler(s.Scheduler)
}

// addrDSCPError refuses a DSCP code given to an addr-mode service; what
// and fix are the words of the flag or key and of the other mode.
func addrDSCPError(what string, dscp uint8, svc, fix string) error {
	return fmt.Errorf("%s %d given for service %s in addr mode: addr mode uses no DSCP code (the real server knows the VIP by the real's address); leave %s out, or use %s",
		what, dscp, svc, what, fix)
}

func checkScheduler(sched string) error {
	if strings.TrimSpace(sched) == "" {
		return fmt.Errorf("--scheduler is empty: give an IPVS scheduler, e.g. wlc, rr, sh or mh")
	}
	return nil
}

// Check refuses an edit that changes nothing, and an empty scheduler.
func (e ServiceEdit) Check() error {
	if e.DSCP == nil && e.Scheduler == nil && e.Persistent == nil {
		return nothingToChange("--dscp, --scheduler or --persistent")
	}
	if e.Scheduler != nil {
		return checkScheduler(*e.Scheduler)
	}
	return nil
}

// Check refuses an edit that changes nothing.
func (e RealEdit) Check() error {
	if e.Weight == nil && e.UpperThreshold == nil && e.LowerThreshold == nil {
		return nothingToChange("--weight, --u-threshold or --l-threshold")
	}
	return nil
}

func nothingToChange(flags string) error {
	return fmt.Errorf("nothing to change: give %s", flags)
}

// CheckRealArgs checks the real server --real gives (the zero Addr when
// not given) for the service k, and the weight given.
func CheckRealArgs(k Key, a netip.Addr, weight int32) error {
	if !a.IsValid() {
		return fmt.Errorf("--real is required: give the real server's own address, e.g. --real 10.1.0.10")
	}
	if a.Is4() != k.VIP.Is4() {
		fam := dsrtypes.FamilyOf(k.VIP)
		return fmt.Errorf("--real %s and --vip %s are of different address families: give an %s real server for an %s VIP", a, k.VIP, fam, fam)
	}
	if weight < 0 {
		return fmt.Errorf("--weight %d: use 0 (no new connections) or more", weight)
	}
	return nil
}
