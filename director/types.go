package director

import (
	"fmt"
	"net/netip"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/ipvs"
)

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
	Mode      dsrtypes.Mode // "" is dscp; Show also reads nat, mixed and none
	DSCP      uint8         // dsrtypes.ModeDSCP only
	Scheduler string
	// Persistent is the persistence timeout in seconds; 0 turns it off.
	Persistent uint32
	Reals      []Real
	// Read back by Show.
	Stats ipvs.Stats
	// Managed: l3dsr made the service (its DSCP mark, or its tag in the
	// IPVS flags). Show reports problems of managed services only, and of
	// those that cannot work whoever made them.
	Managed bool
}

// Real is a real server of a service. Its port is the service's: the real
// server answers on the VIP and the same port.
type Real struct {
	Addr           netip.Addr
	Weight         int32
	UpperThreshold uint32
	LowerThreshold uint32
	// Read back by Show.
	Forward ipvs.ForwardMethod
	// tunnel and tunnelPort: the encapsulation of a tunnel real (ipip unless
	// the kernel reports gue or gre; tunnelPort is GUE's UDP port).
	tunnel        ipvs.TunnelType
	tunnelPort    uint16
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
