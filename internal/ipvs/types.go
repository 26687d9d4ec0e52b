package ipvs

import (
	"fmt"
	"github.com/l3dsr/l3dsr/dsrtypes"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Protocol is a service's transport protocol (an IP protocol number).
type Protocol uint16

// The protocols IPVS balances by address and port: dsrtypes' numbers.
const (
	ProtoTCP  = Protocol(dsrtypes.TCP)
	ProtoUDP  = Protocol(dsrtypes.UDP)
	ProtoSCTP = Protocol(dsrtypes.SCTP)
)

// String returns "tcp", "udp", "sctp", or "proto(N)" for other numbers.
func (p Protocol) String() string {
	if d := dsrtypes.Proto(p); p <= 0xff && d.Valid() {
		return d.String()
	}
	return fmt.Sprintf("proto(%d)", uint16(p))
}

// ForwardMethod is how IPVS sends a connection to a destination
// (IP_VS_CONN_F_MASQ, _LOCALNODE, _TUNNEL, _DROUTE).
type ForwardMethod uint32

// The forwarding methods.
const (
	Masquerade ForwardMethod = connFMasq      // NAT: the destination address (and port) is rewritten
	Local      ForwardMethod = connFLocalNode // delivered to this host: the kernel sets it for a destination address of this host, whatever method was asked
	Tunnel     ForwardMethod = connFTunnel    // encapsulated (IPIP, GUE or GRE) to the destination
	Route      ForwardMethod = connFDRoute    // direct routing (LVS-DR): sent unchanged to the destination's MAC, on one of this host's links
)

var forwardNames = []string{Masquerade: "masq", Local: "local", Tunnel: "tunnel", Route: "route"}

// String returns "masq", "local", "tunnel", "route", or "fwd(N)".
func (f ForwardMethod) String() string {
	if int(f) < len(forwardNames) {
		return forwardNames[f]
	}
	return fmt.Sprintf("fwd(%d)", uint32(f))
}

// parseForwardMethod parses the names String returns.
func parseForwardMethod(s string) (ForwardMethod, error) {
	for i, n := range forwardNames {
		if strings.EqualFold(s, n) {
			return ForwardMethod(i), nil
		}
	}
	return 0, fmt.Errorf("unknown forwarding method %q: use masq, local, tunnel or route", s)
}

// TunnelType is the encapsulation of a Tunnel destination.
type TunnelType uint8

// The tunnel types. GUE and GRE need Linux 5.2 or later.
const (
	TunnelIPIP TunnelType = tunTypeIPIP
	TunnelGUE  TunnelType = tunTypeGUE
	TunnelGRE  TunnelType = tunTypeGRE
)

var tunnelNames = []string{TunnelIPIP: "ipip", TunnelGUE: "gue", TunnelGRE: "gre"}

// String returns "ipip", "gue", "gre", or "tun(N)".
func (t TunnelType) String() string {
	if int(t) < len(tunnelNames) {
		return tunnelNames[t]
	}
	return fmt.Sprintf("tun(%d)", uint8(t))
}

// Tunnel encapsulation flags for Destination.TunnelFlags (GUE and GRE).
const (
	tunnelFlagNoChecksum     uint16 = tunFlagNoCsum
	TunnelFlagChecksum       uint16 = tunFlagCsum
	TunnelFlagRemoteChecksum uint16 = tunFlagRemCsum
)

// ServiceFlags are a service's IP_VS_SVC_F_* flags.
type ServiceFlags uint32

// The service flags. flagHashed is set by the kernel on every service it
// holds; the scheduler flags mean what the service's scheduler makes of them.
const (
	FlagPersistent ServiceFlags = svcFPersistent
	flagHashed     ServiceFlags = svcFHashed
	FlagOnePacket  ServiceFlags = svcFOnePacket
	FlagSched1     ServiceFlags = svcFSched1
	FlagSched2     ServiceFlags = svcFSched2
	FlagSched3     ServiceFlags = svcFSched3

	// The sh scheduler: skip unavailable destinations; hash the port too.
	flagSchedSHFallback = FlagSched1
	flagSchedSHPort     = FlagSched2
	// The mh (Maglev) scheduler: the same two meanings (the kernel's
	// IP_VS_SVC_F_SCHED_MH_FALLBACK and _MH_PORT, not in the uapi header).
	flagSchedMHFallback = FlagSched1
	flagSchedMHPort     = FlagSched2
)

var flagNames = []struct {
	f    ServiceFlags
	name string
}{
	{FlagPersistent, "persistent"}, {flagHashed, "hashed"}, {FlagOnePacket, "one-packet"},
	{FlagSched1, "sched1"}, {FlagSched2, "sched2"}, {FlagSched3, "sched3"},
}

// String lists the flags joined by "|", e.g. "persistent|hashed"; unknown
// bits are shown in hex.
func (f ServiceFlags) String() string {
	var parts []string
	for _, n := range flagNames {
		if f&n.f != 0 {
			parts = append(parts, n.name)
			f &^= n.f
		}
	}
	if f != 0 {
		parts = append(parts, fmt.Sprintf("%#x", uint32(f)))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

// Stats are a service's or destination's counters since it was created
// or last zeroed, and the kernel's estimated rates (per second).
type Stats struct {
	Connections uint64
	PacketsIn   uint64
	PacketsOut  uint64
	BytesIn     uint64
	BytesOut    uint64
	CPS         uint64
	PPSIn       uint64
	PPSOut      uint64
	BPSIn       uint64
	BPSOut      uint64
}

// Service is an IPVS virtual service: by protocol, address and port, or by
// firewall mark.
type Service struct {
	// Family is unix.AF_INET or unix.AF_INET6. When zero it is taken from
	// Address; a firewall-mark service without an address is IPv4 then,
	// as with ipvsadm.
	Family uint16
	// Protocol is 0 for a firewall-mark service.
	Protocol Protocol
	Address  netip.Addr
	Port     uint16
	// FWMark, when not 0, makes this a firewall-mark service: Protocol,
	// Address and Port must be unset.
	FWMark uint32
	// Scheduler is the scheduler's name ("wlc", "mh", "rr", ...); the kernel
	// loads ip_vs_<name> on demand. Empty means "wlc" when creating.
	Scheduler string
	Flags     ServiceFlags
	// Timeout is the persistence timeout in seconds (with FlagPersistent).
	Timeout uint32
	// Netmask groups clients for persistence: for IPv4 the mask as a
	// number (0xffffff00 is 255.255.255.0), for IPv6 the prefix length,
	// as ipvsadm -M takes them. Zero means one client address per group
	// (0xffffffff or 128).
	Netmask uint32
	// PEName is an optional persistence engine, e.g. "sip".
	PEName string
	// Stats is filled by reads and ignored by writes.
	Stats Stats
}

// String names the service as the errors of this package do:
// "tcp 10.0.0.1:80", "udp [2001:db8::1]:53", "fwmark 7 (IPv4)".
func (s Service) String() string {
	if s.FWMark != 0 {
		fam := "IPv4"
		if s.family() == unix.AF_INET6 {
			fam = "IPv6"
		}
		return fmt.Sprintf("fwmark %d (%s)", s.FWMark, fam)
	}
	if !s.Address.IsValid() {
		return fmt.Sprintf("%v (no address):%d", s.Protocol, s.Port)
	}
	return fmt.Sprintf("%v %s", s.Protocol, netip.AddrPortFrom(s.Address, s.Port))
}

// family is the service's address family, with Family's defaults.
func (s Service) family() uint16 {
	switch {
	case s.Family != 0:
		return s.Family
	case s.Address.Is6() && !s.Address.Is4In6():
		return unix.AF_INET6
	}
	return unix.AF_INET
}

// Destination is a real server of a service.
type Destination struct {
	Address netip.Addr
	// Port 0 means the service's port (for a service by address).
	Port uint16
	// Family is the destination's address family when it differs from the
	// service's (a Tunnel destination may); zero means Address's family.
	Family  uint16
	Forward ForwardMethod
	Weight  int32
	// UpperThreshold and LowerThreshold bound the active connections;
	// 0 means no limit.
	UpperThreshold uint32
	LowerThreshold uint32
	// TunnelType, TunnelPort and TunnelFlags apply to Tunnel destinations;
	// TunnelPort (the UDP port of GUE) is required for GUE.
	TunnelType  TunnelType
	TunnelPort  uint16
	TunnelFlags uint16

	// Filled by reads, ignored by writes.
	ActiveConns   uint32
	InactiveConns uint32
	PersistConns  uint32
	Stats         Stats
}

// String returns "ADDR:PORT".
func (d Destination) String() string {
	return netip.AddrPortFrom(d.Address, d.Port).String()
}

func (d Destination) family() uint16 {
	if d.Family != 0 {
		return d.Family
	}
	if d.Address.Is6() && !d.Address.Is4In6() {
		return unix.AF_INET6
	}
	return unix.AF_INET
}

// ipvsInfo is what the kernel says about IPVS itself.
type ipvsInfo struct {
	// version is the IPVS version, e.g. "1.2.1".
	version string
	// connTableSize is the size of the connection hash table (the
	// ip_vs_conn_tab_bits module parameter).
	connTableSize uint32
}

func versionString(v uint32) string {
	return strconv.Itoa(int(v>>16&0xff)) + "." + strconv.Itoa(int(v>>8&0xff)) + "." + strconv.Itoa(int(v&0xff))
}
