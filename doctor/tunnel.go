package doctor

import (
	"fmt"
	"net/netip"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/realserver"
)

// tunnels checks, for the ipip-mode VIPs, the tunnel device of each family
// and the MSS clamp of each VIP.
func (c *checker) tunnels(units []realserver.Config, rec map[netip.Addr]realserver.VIPStatus) {
	done := map[string]bool{}
	for _, u := range units {
		if modeOf(u) != dsrtypes.ModeIPIP {
			continue
		}
		name, module := "tunl0", "ipip"
		if u.VIP.Is6() {
			name, module = "ip6tnl0", "ip6_tunnel"
		}
		if !done[name] {
			done[name] = true
			l, ok := c.link(name)
			switch {
			case !ok:
				fix := fmt.Sprintf("modprobe %s && ip link set %s up", module, name)
				if c.h.ModuleLoaded(module) {
					fix = fmt.Sprintf("ip link add name %s type %s && ip link set %s up", name, map[string]string{"tunl0": "ipip", "ip6tnl0": "ip6tnl"}[name], name)
				}
				c.add(problem, "tunnel", fmt.Sprintf("%s does not exist", name),
					"nothing takes the director's encapsulated packets in: they are dropped", fix)
			case !l.Up():
				c.add(problem, "tunnel", fmt.Sprintf("%s is down", name),
					"the director's encapsulated packets are dropped", "ip link set "+name+" up")
			}
		}
		vs, ok := rec[u.VIP]
		if ok && vs.ClampMSS != vs.Config.MSS {
			c.add(problem, "mss-clamp", fmt.Sprintf("SYN-ACKs from VIP %s are clamped to MSS %d, want %d (nftables table inet l3dsr_rs)", u.VIP, vs.ClampMSS, vs.Config.MSS),
				"clients send segments sized for their own path, and with the tunnel's header added they no longer fit: large transfers stall",
				fmt.Sprintf("l3dsr realserver up --vip %s --mode ipip --mss %d", u.VIP, vs.Config.MSS))
		}
	}
}
