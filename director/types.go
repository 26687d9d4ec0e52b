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
	// Netmask groups clients for persistence, as ipvsadm -M gives it: for
	// IPv4 the mask (0xffffff00 is 255.255.255.0), for IPv6 the prefix
	// length. 0 is one client address per group (0xffffffff or 128).
	Netmask uint32
	// SchedFlags are the scheduler's flags (ipvsadm -b).
	SchedFlags SchedFlags
	// OnePacket schedules each UDP datagram on its own (ipvsadm -o).
	OnePacket bool
	// PE is the persistence engine (ipvsadm --pe), read back only: l3dsr
	// sets none, and save refuses a service with one.
	PE    string
	Reals []Real
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
	// Forward is how the director sends to the real: read back by Show;
	// AddReal forwards as the service's mode does.
	Forward ipvs.ForwardMethod
	// Tunnel, TunnelPort and TunnelFlags are the encapsulation of a tunnel
	// real: ipip unless gue (with its UDP port) or gre, and the GUE/GRE
	// checksum flags (ipvs.TunnelFlagChecksum, _RemoteChecksum).
	Tunnel      ipvs.TunnelType
	TunnelPort  uint16
	TunnelFlags uint16
	// Port is read back only: the real's port when it is not the service's
	// (ipvsadm's NAT to another port), else 0.
	Port          uint16
	ActiveConns   uint32
	InactiveConns uint32
	PersistConns  uint32
	Stats         ipvs.Stats
	// Health is what the agent's check last found ("up", "down,
	// quiesced"), filled in from its record (agent.Annotate); "" when no
	// agent checks the real.
	Health string
}

// ServiceEdit holds the settings an edit changes; nil fields stay as they are.
type ServiceEdit struct {
	DSCP       *uint8
	Scheduler  *string
	Persistent *uint32
	Netmask    *uint32
	SchedFlags *SchedFlags
	OnePacket  *bool
	PE         *string
}

// RealEdit holds the settings a real's edit changes; nil fields stay.
type RealEdit struct {
	Weight         *int32
	UpperThreshold *uint32
	LowerThreshold *uint32
	Forward        *ipvs.ForwardMethod
	Tunnel         *ipvs.TunnelType
	TunnelPort     *uint16
	TunnelFlags    *uint16
}

// Apply is s with the edit's fields set.
func (e ServiceEdit) Apply(s Service) Service {
	edit(&s.DSCP, e.DSCP)
	edit(&s.Scheduler, e.Scheduler)
	edit(&s.Persistent, e.Persistent)
	edit(&s.Netmask, e.Netmask)
	edit(&s.SchedFlags, e.SchedFlags)
	edit(&s.OnePacket, e.OnePacket)
	edit(&s.PE, e.PE)
	return s
}

// Apply is r with the edit's fields set; a real that does not tunnel has
// no tunnel settings.
func (e RealEdit) Apply(r Real) Real {
	edit(&r.Weight, e.Weight)
	edit(&r.UpperThreshold, e.UpperThreshold)
	edit(&r.LowerThreshold, e.LowerThreshold)
	if edit(&r.Forward, e.Forward); r.Forward != ipvs.Tunnel {
		r.Tunnel, r.TunnelPort, r.TunnelFlags = ipvs.TunnelIPIP, 0, 0
		return r
	}
	edit(&r.Tunnel, e.Tunnel)
	edit(&r.TunnelPort, e.TunnelPort)
	edit(&r.TunnelFlags, e.TunnelFlags)
	return r
}
