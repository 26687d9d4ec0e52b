package director

import (
	"fmt"
	"net/netip"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/ipvs"
	"github.com/l3dsr/l3dsr/maptable"
)

// standardDSCP names the codes that already mean something to routers on the
// way: marking a VIP's traffic with one of them also changes how the network
// queues it, and QoS policies may rewrite it before it reaches the real server.
var standardDSCP = map[uint8]string{
	0: "CS0/default, the code of all unmarked traffic",
	1: "LE (Lower Effort, RFC 8622), deprioritised by some networks",
	8: "CS1", 16: "CS2", 24: "CS3", 32: "CS4", 40: "CS5",
	48: "CS6 (network control)", 56: "CS7 (network control)",
	10: "AF11", 12: "AF12", 14: "AF13",
	18: "AF21", 20: "AF22", 22: "AF23",
	26: "AF31", 28: "AF32", 30: "AF33",
	34: "AF41", 36: "AF42", 38: "AF43",
	44: "VOICE-ADMIT (RFC 5865)",
	46: "EF (expedited forwarding)",
}

// dscpWarning says why a code is a poor choice for L3 DSR, or "" if it is not.
func dscpWarning(d uint8) string {
	m, ok := standardDSCP[d]
	if !ok {
		return ""
	}
	if d == 0 {
		return fmt.Sprintf("DSCP 0 is %s: every packet the real server gets without a mark would map to this VIP; pick a code from 2-63 that your network does not use for QoS", m)
	}
	return fmt.Sprintf("DSCP %d is %s: routers may queue or re-mark this traffic; prefer a code your network leaves alone", d, m)
}

// checkKey validates the parts of a service key that need no kernel.
func checkKey(k Key) error {
	if !k.VIP.IsValid() || k.VIP.IsUnspecified() || k.VIP.IsMulticast() || k.VIP.Is4In6() {
		return fmt.Errorf("VIP %s: use a unicast IPv4 or IPv6 address", k.VIP)
	}
	if k.Port == 0 {
		return fmt.Errorf("service %s: port 0 is not a service port; give VIP:PORT with a port from 1 to 65535", k)
	}
	switch k.Proto {
	case ipvs.ProtoTCP, ipvs.ProtoUDP, ipvs.ProtoSCTP:
	default:
		return fmt.Errorf("protocol %d: use tcp, udp or sctp", uint16(k.Proto))
	}
	return nil
}

func checkDSCP(d uint8) error {
	if dsrtypes.DSCP(d) > dsrtypes.MaxDSCP {
		return fmt.Errorf("DSCP %d: the code is six bits, use 0-%d", d, dsrtypes.MaxDSCP)
	}
	return nil
}

func checkReal(k Key, r Real) error {
	if !r.Addr.IsValid() || r.Addr.IsUnspecified() || r.Addr.IsMulticast() || r.Addr.Is4In6() {
		return fmt.Errorf("real server %s: use a unicast address", r.Addr)
	}
	if r.Addr.Is4() != k.VIP.Is4() {
		return fmt.Errorf("real server %s and VIP %s are of different address families: an IPv%d VIP needs IPv%d real servers",
			r.Addr, k.VIP, ipVersion(k.VIP), ipVersion(k.VIP))
	}
	if r.Addr == k.VIP {
		return fmt.Errorf("real server %s is the VIP itself: give the real server's own address", r.Addr)
	}
	if r.Weight < 0 {
		return fmt.Errorf("weight %d of real server %s: use 0 (drain) or more", r.Weight, r.Addr)
	}
	if r.UpperThreshold != 0 && r.LowerThreshold > r.UpperThreshold {
		return fmt.Errorf("real server %s: lower threshold %d is above the upper threshold %d", r.Addr, r.LowerThreshold, r.UpperThreshold)
	}
	return nil
}

func ipVersion(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}

// checkDSCPConflicts refuses a state in which one real server would receive one
// DSCP code, or in addr mode one address, for two different VIPs: its table maps the code (for its
// address) to one VIP only (maptable.Clash), so it could not tell them
// apart. svcs is the whole intended state.
func checkDSCPConflicts(svcs []Service) error {
	owner := map[maptable.Key]Service{}
	for _, s := range svcs {
		if s.Mode != dsrtypes.ModeDSCP && s.Mode != dsrtypes.ModeAddr && s.Mode != "" {
			continue
		}
		for _, r := range s.Reals {
			e := s.EntryFor(r)
			o, ok := owner[e.Key()]
			if !ok {
				owner[e.Key()] = s
				continue
			}
			if maptable.Clash(o.EntryFor(r), e) && e.AnyDSCP {
				return fmt.Errorf("address %s would stand for two VIPs on its real server in addr mode: %s (service %s) and %s (service %s); the real server could not tell them apart: give each VIP its own address on the real server",
					r.Addr, o.VIP, o.Key, s.VIP, s.Key)
			}
			if maptable.Clash(o.EntryFor(r), e) {
				return fmt.Errorf("DSCP %d would stand for two VIPs on real server %s: %s (service %s) and %s (service %s); the real server could not tell them apart: give one of the services another --dscp",
					s.DSCP, r.Addr, o.VIP, o.Key, s.VIP, s.Key)
			}
		}
	}
	return nil
}
