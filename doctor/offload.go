package doctor

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/l3dsr/l3dsr/internal/rtnl"
	"github.com/l3dsr/l3dsr/realserver"
)

// nicKinds are the link kinds that receive from the wire, or stand for a
// device that does (a veth of a container, a VLAN, a bond); "" is a
// driver without rtnl_link_ops, which most physical NICs are.
var nicKinds = []string{"", "veth", "vlan", "bond", "team", "macvlan", "ipvlan"}

// offloads checks the receive offloads of the NICs the VIPs' packets come
// in by: the up NICs with a global address of a VIP's family.
func (c *checker) offloads(vips []realserver.Config) error {
	var v4, v6 bool
	isVIP := map[netip.Addr]bool{}
	for _, u := range vips {
		v4, v6 = v4 || u.VIP.Is4(), v6 || u.VIP.Is6()
		isVIP[u.VIP] = true
	}
	has := map[int]bool{}
	for _, a := range c.addrs {
		ip := a.Prefix.Addr()
		if a.Scope == rtnl.ScopeUniverse && !isVIP[ip] && ((ip.Is4() && v4) || (ip.Is6() && v6)) {
			has[a.Index] = true
		}
	}
	for _, l := range c.links {
		if !l.Up() || l.Loopback() || !has[l.Index] || !slices.Contains(nicKinds, l.Kind) {
			continue
		}
		f, err := c.h.Features(l.Name)
		if err != nil {
			continue // the driver does not say; nothing to check
		}
		var off, on, why []string
		if !f.RxChecksum {
			off, on = append(off, "rx checksum offload"), append(on, "rx on")
			why = append(why, "without rx checksum offload the kernel verifies every packet's checksum in software")
		}
		// A virtual device's GRO is off by default, and needless: the
		// sender's GSO packet reaches it whole. A NIC's is what merges.
		if !f.GRO && l.Kind == "" {
			off, on = append(off, "GRO"), append(on, "gro on")
			why = append(why, "without GRO each segment goes through netfilter, xt_DADDR and the stack on its own, where GRO merges a flow's segments and xt_DADDR rewrites the merged packet once")
		}
		if len(off) == 0 {
			continue
		}
		c.add(warning, "offload", fmt.Sprintf("%s: %s off", l.Name, strings.Join(off, " and ")),
			"DSR works, at a cost in CPU: "+strings.Join(why, "; "),
			fmt.Sprintf("ethtool -K %s %s", l.Name, strings.Join(on, " ")))
	}
	return nil
}
