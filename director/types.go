package director

import (
	"fmt"
	"net/netip"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/ipvs"
)

// forward is the IPVS forwarding method of the mode's reals.
func forward(m dsrtypes.Mode) ipvs.ForwardMethod {
	if m == dsrtypes.ModeIPIP {
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
	Mode      dsrtypes.Mode // "" is dscp
	DSCP      uint8         // dsrtypes.ModeDSCP only
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
