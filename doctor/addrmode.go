package doctor

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/rtnl"
	"github.com/l3dsr/l3dsr/maptable"
	"github.com/l3dsr/l3dsr/realserver"
)

// ripOf is one addr-mode VIP's RIP, from the table or from what should
// run, and the unit that asks for it (none for an entry made by hand).
type ripOf struct {
	vip, rip netip.Addr
	unit     *realserver.Config
}

// addrMode checks each addr-mode RIP (of the table's any-DSCP entries and
// of the addr-mode units): it must be an address of this host, and one of
// its own, not the address the host's own traffic leaves from.
func (c *checker) addrMode(units []realserver.Config) error {
	var rips []ripOf
	for i, u := range units {
		if modeOf(u) == dsrtypes.ModeAddr && u.RIP.IsValid() {
			rips = append(rips, ripOf{u.VIP, u.RIP, &units[i]})
		}
	}
	entries, err := c.tableEntries()
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.AnyDSCP && !slices.ContainsFunc(rips, func(r ripOf) bool { return r.rip == e.Local }) {
			rips = append(rips, ripOf{vip: e.VIP, rip: e.Local})
		}
	}
	for _, r := range rips {
		a, ok := c.addrOf(r.rip)
		if !ok {
			c.add(problem, "rip", fmt.Sprintf("VIP %s's RIP %s is not on any interface", r.vip, r.rip),
				"packets for it are not delivered: the kernel takes a packet in only for a local address, so the director's packets to the RIP are dropped (or routed on) before the any-DSCP entry can give them their VIP",
				c.ripAddFix(r))
			continue
		}
		if name, first := c.firstAddr(a); first {
			c.add(problem, "rip", fmt.Sprintf("VIP %s's RIP %s is the primary %v address of %s (its first)", r.vip, r.rip, dsrtypes.FamilyOf(r.rip), name),
				"it is the source of this host's own traffic out of "+name+": the any-DSCP entry rewrites every packet to it to the VIP (SSH, the replies to the host's own connections, its monitoring), which then reach the VIP's sockets or none; a VIP's RIP must be an address of its own",
				c.ripOwnFix(r))
		}
	}
	return nil
}

// addrOf finds a on a link of this host.
func (c *checker) addrOf(a netip.Addr) (rtnl.Addr, bool) {
	i := slices.IndexFunc(c.addrs, func(x rtnl.Addr) bool { return x.Prefix.Addr() == a })
	if i < 0 {
		return rtnl.Addr{}, false
	}
	return c.addrs[i], true
}

// firstAddr tells whether a is the first global address of its family on
// its link (not lo): the kernel's primary address there, which it picks
// as the source of what the host itself sends out of that link. A RIP
// added beside the link's own address comes after it.
func (c *checker) firstAddr(a rtnl.Addr) (string, bool) {
	i := slices.IndexFunc(c.links, func(l rtnl.Link) bool { return l.Index == a.Index })
	if i < 0 || c.links[i].Loopback() {
		return "", false
	}
	j := slices.IndexFunc(c.addrs, func(x rtnl.Addr) bool {
		return x.Index == a.Index && x.Scope == rtnl.ScopeUniverse && x.Prefix.Addr().Is4() == a.Prefix.Addr().Is4()
	})
	return c.links[i].Name, j >= 0 && c.addrs[j].Prefix == a.Prefix
}

// ripAddFix puts the RIP back: the file's apply, 'realserver up' (which
// adds what is missing) for a VIP it set up, else the address itself on
// the interface the route to it leaves by.
func (c *checker) ripAddFix(r ripOf) string {
	switch {
	case r.unit != nil && c.e.file != "":
		return c.e.apply()
	case r.unit != nil:
		s := fmt.Sprintf("l3dsr realserver up --vip %s --mode addr --rip %s", r.vip, r.rip)
		if r.unit.Dev != "" {
			s += " --dev " + r.unit.Dev
		}
		return s
	}
	dev := "IFACE"
	if d, err := c.h.RouteOif(r.rip); err == nil {
		dev = d
	}
	return fmt.Sprintf("ip addr add %s dev %s", netip.PrefixFrom(r.rip, r.rip.BitLen()), dev)
}

// ripOwnFix moves the VIP to an address of its own; an entry made by hand
// is taken out of the table.
func (c *checker) ripOwnFix(r ripOf) string {
	switch {
	case r.unit != nil && c.e.file != "":
		return fmt.Sprintf("give VIP %s an address of its own as rip in %s, then %s", r.vip, c.e.file, c.e.apply())
	case r.unit != nil:
		return fmt.Sprintf("l3dsr realserver down --vip %s && l3dsr realserver up --vip %s --mode addr --rip NEW (an address that stands for this VIP alone)", r.vip, r.vip)
	}
	return "l3dsr rule del " + delArgs(maptable.Entry{AnyDSCP: true, Local: r.rip, VIP: r.vip})
}
