package director

import (
	"fmt"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/maptable"
)

// CheckService validates a service on its own, without the kernel: its key,
// its mode and DSCP code, its scheduler. The config file parser uses it so
// that a file is refused before anything is touched, with the same words as
// the commands.
func CheckService(s Service) error {
	if err := checkKey(s.Key); err != nil {
		return err
	}
	switch s.Mode {
	case dsrtypes.ModeDSCP, "":
		if err := checkDSCP(s.DSCP); err != nil {
			return err
		}
	case dsrtypes.ModeAddr:
		if s.DSCP != 0 {
			return addrDSCPError("DSCP", s.DSCP, s.Key.String(), "mode dscp")
		}
	case dsrtypes.ModeIPIP, dsrtypes.ModeDR, dsrtypes.ModeNAT:
		if s.DSCP != 0 {
			return fmt.Errorf("service %s: mode %s uses no DSCP code (got %d): drop the DSCP, or use mode dscp", s.Key, s.Mode, s.DSCP)
		}
	default:
		return fmt.Errorf("service %s: mode %q is unknown: %s", s.Key, s.Mode, dsrtypes.ModeUse)
	}
	if s.Scheduler == "" {
		return fmt.Errorf("service %s: the scheduler is empty: give an IPVS scheduler such as %s", s.Key, DefaultScheduler)
	}
	return checkSettings(s)
}

// CheckReal validates a real server of the service s on its own: its
// address and weights, and its tunnel settings for s's mode.
func CheckReal(s Service, r Real) error {
	if err := checkReal(s.Key, r); err != nil {
		return err
	}
	return checkTunnel(s.Key, s.Mode, r)
}

// CheckDSCPConflicts refuses a set of services in which one real server would
// receive one DSCP code for two different VIPs.
func CheckDSCPConflicts(svcs []Service) error { return checkDSCPConflicts(svcs) }

// EntryFor is the table entry real server r needs for the dscp-mode service
// s: packets reach r's address marked with s's code and must become s's
// VIP. In addr mode r's address stands for the VIP whatever the code: the
// any-DSCP entry. Two services clash on r when their entries do
// (maptable.Clash).
func (s Service) EntryFor(r Real) maptable.Entry {
	if s.Mode == dsrtypes.ModeAddr {
		return maptable.Entry{AnyDSCP: true, Local: r.Addr, VIP: s.VIP}
	}
	return maptable.Entry{DSCP: dsrtypes.DSCP(s.DSCP), Local: r.Addr, VIP: s.VIP}
}
