package realserver

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/l3dsr/l3dsr/internal/rtnl"
)

// Header bytes between a link's MTU and the TCP payload of a tunnelled
// segment: the outer IP header the director adds, the inner IP header and
// the TCP header (options aside, as the MSS counts them).
const (
	tunnelOverhead4 = 20 + 20 + 20
	tunnelOverhead6 = 40 + 40 + 20
)

// tunnelKinds are links that carry tunnelled traffic, not the path itself.
var tunnelKinds = []string{"ipip", "ip6tnl", "sit", "gre", "gretap", "ip6gre", "ip6gretap", "vxlan", "geneve"}

// deriveMSS is the largest MSS a client may send to vip over the tunnel:
// the smallest MTU of the up, non-loopback, non-tunnel links with a
// global address of vip's family, less the tunnel and header overhead
// (1500: 1440 for IPv4, 1400 for IPv6).
func (m *Manager) deriveMSS(vip netip.Addr) (uint16, error) {
	links, err := m.linkList()
	if err != nil {
		return 0, fmt.Errorf("deriving the MSS for VIP %s: %w", vip, err)
	}
	addrs, err := m.net.AddrList(0)
	if err != nil {
		return 0, fmt.Errorf("deriving the MSS for VIP %s: %w", vip, err)
	}
	has := map[int]bool{}
	for _, a := range addrs {
		if a.Prefix.Addr().Is4() == vip.Is4() && a.Scope == rtnl.ScopeUniverse && a.Prefix.Addr() != vip {
			has[a.Index] = true
		}
	}
	var mtu uint32
	var from string
	for _, l := range links {
		if !l.Up() || l.Loopback() || slices.Contains(tunnelKinds, l.Kind) || !has[l.Index] || l.MTU == 0 {
			continue
		}
		if mtu == 0 || l.MTU < mtu {
			mtu, from = l.MTU, l.Name
		}
	}
	over := uint32(tunnelOverhead4)
	if vip.Is6() {
		over = tunnelOverhead6
	}
	if mtu == 0 {
		return 0, fmt.Errorf("deriving the MSS for VIP %s: no up interface has a global %s address to take the MTU from: give --mss", vip, famName(vip))
	}
	if mtu < over+536 {
		return 0, fmt.Errorf("deriving the MSS for VIP %s: the MTU of %s (%d) leaves less than 536 bytes after %d bytes of headers: give --mss", vip, from, mtu, over)
	}
	return uint16(mtu - over), nil
}
