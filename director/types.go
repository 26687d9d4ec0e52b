package director

import (
	"fmt"
	"net/netip"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/ipvs"
)

// forward is the IPVS forwarding method of the mode's reals.
func forward(m dsrtypes.Mode) ipvs.ForwardMethod {
	switch m {
	case dsrtypes.ModeIPIP:
		return ipvs.Tunnel
	case dsrtypes.ModeDR:
		return ipvs.Route
	}
	return ipvs.Masquerade
}

// drTag marks a dr-mode service in its IPVS flags. IPVS keeps the mode per
// real server, not per service, and a dr service has no DSCP mark to tell
// it from an ipip one, so without the tag a dr service with no real server
// yet would read back as ipip and get tunnelled reals. The kernel stores
// and dumps a service's flags as given (ip_vs_add_service, _edit_service);
// no IPVS flag uses the top bit. The reals' method still decides when there
// are reals (a service restored by 'ipvsadm -R' loses the tag).
const drTag ipvs.ServiceFlags = 1 << 31

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
