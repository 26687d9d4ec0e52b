package doctor

import (
	"fmt"
	"slices"
	"strings"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/xtrule"
)

// ingress: a code is honoured on every interface a map-mode rule of its
// family matches (coded: the families with coded entries). Any host that
// reaches the RIP there can set the code and reach the VIP's socket,
// around the director and its ACLs.
func (c *checker) ingress(coded map[dsrtypes.Family]bool, rules []xtrule.Rule) {
	for _, f := range []dsrtypes.Family{dsrtypes.IPv4, dsrtypes.IPv6} {
		if !coded[f] {
			continue
		}
		var ifs []string
		open := false
		for _, r := range rules {
			if !r.Map || r.Family != f {
				continue
			}
			in := ingressOf(r)
			open = open || in == ""
			if in != "" && !slices.Contains(ifs, in) {
				ifs = append(ifs, in)
			}
		}
		switch {
		case open:
			c.add(info, "dscp-ingress", fmt.Sprintf("%v DSR codes are honoured from every interface (a map-mode rule without -i)", f),
				"any host that can reach a RIP of this server can set a DSR code and reach that VIP's socket, around the director and its ACLs; two defences: re-mark (clear) DSCP where traffic enters your network, or honour the codes only on the interfaces the directors' packets come in by",
				c.ingressFix())
		case len(ifs) > 0:
			c.add(info, "dscp-ingress", fmt.Sprintf("%v DSR codes are honoured only on %s (map-mode rules with -i)", f, strings.Join(ifs, ", ")),
				"a coded packet that comes in by another interface is not rewritten: it reaches no VIP",
				"none needed; to change the list: "+c.ingressFix())
		}
	}
}

func (c *checker) ingressFix() string {
	if c.e.file != "" {
		return fmt.Sprintf("ingress: [IFACE, ...] in the realserver section of %s, then %s (or clear DSCP at the network's edge)", c.e.file, c.e.apply())
	}
	return "l3dsr realserver up --vip VIP ... --ingress IFACE[,IFACE] (or clear DSCP at the network's edge)"
}
