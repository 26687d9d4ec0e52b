package director

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/ipvs"
)

// SchedFlags are the three scheduler flags of IPVS (ipvsadm -b). Their
// meaning is the scheduler's: sh and mh name the first two fallback and
// port; other schedulers take them as flag-1..flag-3, as ipvsadm does.
type SchedFlags uint8

const (
	schedFlag1 SchedFlags = 1 << iota
	schedFlag2
	schedFlag3
)

// schedFlagNames are the names ipvsadm gives the flags, by scheduler.
func schedFlagNames(sched string) [3]string {
	switch sched {
	case "sh", "mh":
		return [3]string{sched + "-fallback", sched + "-port", "flag-3"}
	}
	return [3]string{"flag-1", "flag-2", "flag-3"}
}

// Names lists the flags as ipvsadm names them for the scheduler sched.
func (f SchedFlags) Names(sched string) []string {
	names := schedFlagNames(sched)
	var out []string
	for i, n := range names {
		if f&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// ParseSchedFlag reads one flag name for the scheduler sched: its own names
// (sh-port for sh, ...) or flag-1..flag-3, as ipvsadm -b takes them.
func ParseSchedFlag(sched, name string) (SchedFlags, error) {
	own := schedFlagNames(sched)
	for i, n := range own {
		if name == n || name == fmt.Sprintf("flag-%d", i+1) {
			return 1 << i, nil
		}
	}
	if i := strings.IndexByte(name, '-'); i > 0 && slices.Contains([]string{"sh", "mh"}, name[:i]) {
		return 0, fmt.Errorf("scheduler flag %q is for scheduler %s, not %s: use 'scheduler: %s', or one of %s",
			name, name[:i], sched, name[:i], strings.Join(own[:], ", "))
	}
	return 0, fmt.Errorf("scheduler flag %q is unknown: use one of %s", name, strings.Join(own[:], ", "))
}

// schedBits are IPVS's flags for SchedFlags' bits 0, 1 and 2.
var schedBits = [3]ipvs.ServiceFlags{ipvs.FlagSched1, ipvs.FlagSched2, ipvs.FlagSched3}

func (f SchedFlags) ipvs() ipvs.ServiceFlags {
	var out ipvs.ServiceFlags
	for i, b := range schedBits {
		if f&(1<<i) != 0 {
			out |= b
		}
	}
	return out
}

func schedFlagsOf(fl ipvs.ServiceFlags) SchedFlags {
	var out SchedFlags
	for i, b := range schedBits {
		if fl&b != 0 {
			out |= 1 << i
		}
	}
	return out
}

// allOnes is IPVS's persistence netmask of one client address per group.
func allOnes(vip netip.Addr) uint32 {
	if vip.Is6() {
		return 128
	}
	return 0xffffffff
}

// readNetmask is a service's persistence netmask, 0 for one address.
func readNetmask(is ipvs.Service) uint32 { return fullToZero(is.Address, is.Netmask) }

// FormatNetmask writes a persistence netmask as ipvsadm -M does: a dotted
// mask for an IPv4 VIP, a prefix length for IPv6.
func FormatNetmask(vip netip.Addr, m uint32) string {
	if m == 0 {
		m = allOnes(vip)
	}
	if vip.Is6() {
		return strconv.FormatUint(uint64(m), 10)
	}
	return netip.AddrFrom4([4]byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}).String()
}

// ParseNetmask reads a persistence netmask for vip as ipvsadm -M takes it:
// a dotted mask (or a prefix length) for IPv4, a prefix length for IPv6.
func ParseNetmask(vip netip.Addr, s string) (uint32, error) {
	if n, err := strconv.ParseUint(s, 10, 8); err == nil {
		if n < 1 || int(n) > vip.BitLen() {
			return 0, fmt.Errorf("persistence netmask /%d: use a prefix length of 1-%d for %s", n, vip.BitLen(), vip)
		}
		if vip.Is6() {
			return fullToZero(vip, uint32(n)), nil
		}
		return fullToZero(vip, ^uint32(0)<<(32-n)), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() || vip.Is6() {
		if vip.Is6() {
			return 0, fmt.Errorf("persistence netmask %q: an IPv6 VIP takes a prefix length of 1-128, e.g. 64", s)
		}
		return 0, fmt.Errorf("persistence netmask %q: an IPv4 VIP takes a dotted mask such as 255.255.255.0, or a prefix length of 1-32", s)
	}
	b := a.As4()
	m := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	if m == 0 {
		return 0, fmt.Errorf("persistence netmask %s groups every client into one: give a mask such as 255.255.255.0", s)
	}
	return fullToZero(vip, m), nil
}

func fullToZero(vip netip.Addr, m uint32) uint32 {
	if m == allOnes(vip) {
		return 0
	}
	return m
}

// settings are a service's IPVS settings, comparable as one value; String
// is how changes name them.
type settings struct {
	scheduler  string
	flags      string
	persistent uint32
	netmask    string
	ops        bool
	pe         string
}

func (s Service) settings() settings {
	t := settings{scheduler: s.Scheduler, persistent: s.Persistent, ops: s.OnePacket, pe: s.PE}
	t.flags = strings.Join(s.SchedFlags.Names(s.Scheduler), ",")
	if s.Netmask != 0 {
		t.netmask = FormatNetmask(s.VIP, s.Netmask)
	}
	return t
}

func (t settings) String() string {
	out := fmt.Sprintf("scheduler %s persistent %d", t.scheduler, t.persistent)
	if t.flags != "" {
		out += " flags " + t.flags
	}
	if t.netmask != "" {
		out += " netmask " + t.netmask
	}
	if t.ops {
		out += " one-packet"
	}
	if t.pe != "" {
		out += " pe " + t.pe
	}
	return out
}

// checkSettings refuses what IPVS would take but not do: one-packet
// scheduling is for UDP only (ipvsadm refuses it elsewhere).
func checkSettings(s Service) error {
	if s.OnePacket && s.Proto != ipvs.ProtoUDP {
		return fmt.Errorf("service %s: one-packet scheduling (ops) is for UDP services only: drop it, or use proto udp", s.Key)
	}
	if s.Netmask != 0 && s.VIP.Is6() && s.Netmask > 128 {
		return fmt.Errorf("service %s: persistence netmask /%d: use a prefix length of 1-128", s.Key, s.Netmask)
	}
	return nil
}

// checkTunnel refuses tunnel settings on a real of a mode that does not
// tunnel, a GUE tunnel without its port, and a port or flags where the
// tunnel type takes none. The words are the config file's keys: only it
// sets them.
func checkTunnel(k Key, mode dsrtypes.Mode, r Real) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("real server %s of %s: %s", r.Addr, k, fmt.Sprintf(format, a...))
	}
	if mode != dsrtypes.ModeIPIP {
		if r.Tunnel != ipvs.TunnelIPIP || r.TunnelPort != 0 || r.TunnelFlags != 0 {
			return bad("tunnel, tunnel_port and tunnel_checksum are for mode ipip, and the service is %s: drop them", mode)
		}
		return nil
	}
	switch r.Tunnel {
	case ipvs.TunnelIPIP:
		if r.TunnelPort != 0 || r.TunnelFlags != 0 {
			return bad("an ipip tunnel has no port and no checksum: drop tunnel_port and tunnel_checksum, or use tunnel gue or gre")
		}
	case ipvs.TunnelGUE:
		if r.TunnelPort == 0 {
			return bad("a gue tunnel needs tunnel_port: the UDP port that the real server's fou decapsulates, e.g. 6080")
		}
	case ipvs.TunnelGRE:
		if r.TunnelPort != 0 {
			return bad("a gre tunnel has no port: drop tunnel_port")
		}
	default:
		return bad("tunnel type %d is unknown: use ipip, gue or gre", uint8(r.Tunnel))
	}
	if r.TunnelFlags&^(ipvs.TunnelFlagChecksum|ipvs.TunnelFlagRemoteChecksum) != 0 {
		return bad("tunnel flags %#x are unknown: use tunnel_checksum nocsum, csum or remcsum", r.TunnelFlags)
	}
	return nil
}

// The tunnel checksum names, as ipvsadm's --tun-nocsum, --tun-csum and
// --tun-remcsum.
var tunnelChecksums = []string{"nocsum", "csum", "remcsum"}

// TunnelChecksumName names a tunnel's checksum flags ("" for none).
func TunnelChecksumName(f uint16) string {
	switch f {
	case 0:
		return ""
	case ipvs.TunnelFlagChecksum:
		return tunnelChecksums[1]
	case ipvs.TunnelFlagRemoteChecksum:
		return tunnelChecksums[2]
	}
	return fmt.Sprintf("%#x", f)
}

// ParseTunnelChecksum reads nocsum, csum or remcsum.
func ParseTunnelChecksum(s string) (uint16, error) {
	for i, n := range tunnelChecksums {
		if s == n {
			return []uint16{0, ipvs.TunnelFlagChecksum, ipvs.TunnelFlagRemoteChecksum}[i], nil
		}
	}
	return 0, fmt.Errorf("tunnel_checksum %q is unknown: use %s", s, strings.Join(tunnelChecksums, ", "))
}

// ParseTunnel reads a tunnel type: ipip, gue or gre.
func ParseTunnel(s string) (ipvs.TunnelType, error) {
	for _, t := range []ipvs.TunnelType{ipvs.TunnelIPIP, ipvs.TunnelGUE, ipvs.TunnelGRE} {
		if s == t.String() {
			return t, nil
		}
	}
	return 0, fmt.Errorf("tunnel %q is unknown: use ipip, gue or gre (ipvsadm --tun-type)", s)
}
