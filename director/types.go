package director

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/l3dsr/l3dsr/internal/ipvs"
)

// Mode is how packets reach the real servers of a service.
type Mode uint8

// The modes; ModeDSCP is the default.
const (
	ModeDSCP Mode = iota
	ModeIPIP
)

func (m Mode) String() string {
	switch m {
	case ModeDSCP:
		return "dscp"
	case ModeIPIP:
		return "ipip"
	}
	return fmt.Sprintf("mode(%d)", uint8(m))
}

// ParseMode reads "dscp" or "ipip".
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(s) {
	case "dscp", "":
		return ModeDSCP, nil
	case "ipip", "tun", "tunnel":
		return ModeIPIP, nil
	}
	return 0, fmt.Errorf("mode %q: use dscp (L3 DSR by DSCP code) or ipip (IPVS tunnel mode)", s)
}

// forward is the IPVS forwarding method of the mode's reals.
func (m Mode) forward() ipvs.ForwardMethod {
	if m == ModeIPIP {
		return ipvs.Tunnel
	}
	return ipvs.Masquerade
}

// Key names a service: its VIP, port and protocol.
type Key struct {
	VIP   netip.Addr
	Port  uint16
	Proto ipvs.Protocol
}

func (k Key) String() string {
	return fmt.Sprintf("%s %s", k.Proto, netip.AddrPortFrom(k.VIP, k.Port))
}

// Service is a virtual service as the director runs it.
type Service struct {
	Key
	Mode      Mode
	DSCP      uint8 // ModeDSCP only
	Scheduler string
	// Persistent is the persistence timeout in seconds; 0 turns it off.
	Persistent uint32
	Reals      []Real
	// Read back by Show.
	Stats ipvs.Stats
}

// Real is a real server of a service. Its port is the service's: the real
// server answers on the VIP and the same port.
type Real struct {
	Addr           netip.Addr
	Weight         int32
	UpperThreshold uint32
	LowerThreshold uint32
	// Read back by Show.
	Forward       ipvs.ForwardMethod
	ActiveConns   uint32
	InactiveConns uint32
	PersistConns  uint32
	Stats         ipvs.Stats
}

// ServiceEdit holds the settings an edit changes; nil fields stay as they are.
type ServiceEdit struct {
	DSCP       *uint8
	Scheduler  *string
	Persistent *uint32
}

// RealEdit holds the settings a real's edit changes; nil fields stay.
type RealEdit struct {
	Weight         *int32
	UpperThreshold *uint32
	LowerThreshold *uint32
}
