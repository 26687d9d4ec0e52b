package doctor

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/rtnl"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/maptable"
	"github.com/l3dsr/l3dsr/realserver"
	"golang.org/x/sys/unix"
)

// realServer checks the real-server side: vips is what should run (one
// Config per code), rs what 'realserver up' recorded, rules every DADDR
// rule.
func (c *checker) realServer(vips []realserver.Config, rs realserver.Report, rules []xtrule.Rule) error {
	rec := map[netip.Addr]realserver.VIPStatus{}
	for _, v := range rs.VIPs {
		rec[v.VIP] = v
	}
	// A VIP the file has and 'realserver up' never set up: apply is the
	// fix, and the checks of its pieces would only repeat that.
	var units []realserver.Config
	missing := map[netip.Addr]bool{}
	for _, u := range vips {
		if _, ok := rec[u.VIP]; ok || c.e.file == "" {
			units = append(units, u)
		} else if !missing[u.VIP] {
			missing[u.VIP] = true
			c.add(problem, "not-set-up", fmt.Sprintf("VIP %s (mode %s) is in %s but not set up", u.VIP, modeOf(u), c.e.file),
				"nothing of it runs here: its packets are dropped", c.e.apply())
		}
	}
	lo := c.onLo()
	var onLoVIPs []netip.Addr
	for _, u := range units {
		onLoVIPs = append(onLoVIPs, u.VIP)
	}
	for _, r := range rules {
		if !r.Map && r.VIP.IsValid() {
			onLoVIPs = append(onLoVIPs, r.VIP)
		}
	}
	slices.SortFunc(onLoVIPs, netip.Addr.Compare)
	for _, v := range slices.Compact(onLoVIPs) {
		if !lo[v] {
			c.add(problem, "vip-on-lo", fmt.Sprintf("VIP %s is not on lo", v),
				"the kernel takes a packet in only for a local address: the packet rewritten (or decapsulated) to the VIP is dropped, and clients time out",
				fmt.Sprintf("ip addr add %s dev lo", netip.PrefixFrom(v, v.BitLen())))
		}
	}
	var err error
	c.path = rs.MapPath
	if c.served, err = c.backend(units, rs); err != nil {
		return err
	}
	if err := c.rsSysctls(vips, rules); err != nil {
		return err
	}
	if err := c.mapping(units, rules); err != nil {
		return err
	}
	if err := c.addrMode(units); err != nil {
		return err
	}
	if err := c.dscpHygiene(units, rules); err != nil {
		return err
	}
	c.handRules(rs.HandWritten)
	c.tunnels(units, rec)
	return c.offloads(vips)
}

// dscpHygiene checks what dscp mode does to the DSCP field beyond the
// rewrite: a code that leaks into replies, and codes honoured from any
// interface.
func (c *checker) dscpHygiene(units []realserver.Config, rules []xtrule.Rule) error {
	entries, err := c.tableEntries()
	if err != nil {
		return err
	}
	coded := slices.DeleteFunc(slices.Clone(entries), func(e maptable.Entry) bool { return e.AnyDSCP })
	if len(coded) == 0 {
		return nil
	}
	if err := c.reflect(coded, units); err != nil {
		return err
	}
	fams := map[dsrtypes.Family]bool{}
	for _, e := range coded {
		fams[e.Key().Family] = true
	}
	c.ingress(fams, rules)
	return nil
}

// handRules: a revision-0 rule in mangle runs after conntrack, which has
// recorded the connection to the server's own address. A rule that l3dsr's
// mapping makes redundant (it has a delete command) does nothing.
func (c *checker) handRules(hand []realserver.HandRule) {
	for _, h := range hand {
		r := h.Rule
		if r.Map || h.Delete != "" || r.BeforeConntrack() {
			continue
		}
		_, match, _ := strings.Cut(strings.TrimPrefix(r.Line, "-A "), " ")
		c.add(problem, "conntrack", fmt.Sprintf("%s runs in %s %s, after conntrack", r.Command(), r.Table, r.Chain),
			"conntrack recorded the connection to the server's own address: the replies from the VIP match none, and a firewall that drops INVALID packets drops them",
			fmt.Sprintf("%s -t raw -A PREROUTING %s && %s", r.Binary(), match, r.DeleteCommand()))
	}
}

func modeOf(c realserver.Config) dsrtypes.Mode {
	if c.Mode == "" {
		return dsrtypes.ModeDSCP
	}
	return c.Mode
}

// onLo are the addresses on the loopback device.
func (c *checker) onLo() map[netip.Addr]bool {
	loIdx := map[int]bool{}
	for _, l := range c.links {
		if l.Loopback() {
			loIdx[l.Index] = true
		}
	}
	on := map[netip.Addr]bool{}
	for _, a := range c.addrs {
		if loIdx[a.Index] {
			on[a.Prefix.Addr()] = true
		}
	}
	return on
}

// arpLinks are the up links that speak ARP: where a neighbour may ask who
// has the VIP, and where client packets come in.
func (c *checker) arpLinks() []string {
	var out []string
	for _, l := range c.links {
		if l.Up() && !l.Loopback() && l.Flags&unix.IFF_NOARP == 0 {
			out = append(out, l.Name)
		}
	}
	return out
}

func (c *checker) link(name string) (rtnl.Link, bool) {
	i := slices.IndexFunc(c.links, func(l rtnl.Link) bool { return l.Name == name })
	if i < 0 {
		return rtnl.Link{}, false
	}
	return c.links[i], true
}

// rsSysctls checks the IPv4 settings the VIPs need; IPv6 has no
// counterpart of any of them.
func (c *checker) rsSysctls(vips []realserver.Config, rules []xtrule.Rule) error {
	var v4, dscp4, ipip4 bool
	for _, u := range vips {
		if u.VIP.Is4() {
			v4 = true
			dscp4 = dscp4 || usesTable(u)
			ipip4 = ipip4 || modeOf(u) == dsrtypes.ModeIPIP
		}
	}
	for _, r := range rules {
		if r.Family == dsrtypes.IPv4 {
			v4, dscp4 = true, true
		}
	}
	if !v4 {
		return nil
	}
	ifaces := c.arpLinks()
	for _, r := range []confRule{
		{key: "arp_ignore", want: 1, ok: []int{1, 2, 8}, preferAll: true, what: "arp_ignore", check: "arp_ignore",
			why: "this host answers ARP for the VIP on lo, so the router may send the VIP's traffic here instead of to the director"},
		{key: "arp_announce", want: 2, ok: []int{2}, preferAll: true, what: "arp_announce", check: "arp_announce",
			why: "ARP requests may carry the VIP as their sender address, which teaches neighbours that the VIP lives here"},
	} {
		if err := c.checkConf(r, ifaces); err != nil {
			return err
		}
	}
	if ipip4 {
		if err := c.tunnelRP(); err != nil {
			return err
		}
	}
	if dscp4 {
		// Loose, or off: after DADDR the packet is client -> VIP, in on
		// whichever interface the director's path uses; strict drops it
		// when the route back to the client leaves by another. With ipip
		// VIPs conf/all must stay 0 (tunl0), so each interface is set.
		return c.checkConf(confRule{key: "rp_filter", want: 2, ok: []int{0, 2}, preferAll: !ipip4,
			what: "reverse-path filtering", check: "rp_filter",
			why: "strict reverse-path filtering drops a client's rewritten packet whenever the route back to the client leaves by another interface than the one it came in on"}, ifaces)
	}
	return nil
}

// tunnelRP: the decapsulated packet comes in on tunl0, which has no IPv4
// address, and the kernel drops every packet from such an interface while
// rp_filter is on for it, strict and loose alike.
func (c *checker) tunnelRP() error {
	if _, ok := c.link("tunl0"); !ok {
		return nil // the tunnel check says so
	}
	all, err := c.confInt("all", "rp_filter")
	if err != nil {
		return err
	}
	own, err := c.confInt("tunl0", "rp_filter")
	if err != nil {
		return err
	}
	if max(all, own) == 0 {
		return nil
	}
	var cmds []string
	if all != 0 {
		cmds = append(cmds, setCmd("all", "rp_filter", 0))
	}
	if own != 0 {
		cmds = append(cmds, setCmd("tunl0", "rp_filter", 0))
	}
	c.add(problem, "rp_filter", fmt.Sprintf("rp_filter on tunl0 is %d (the larger of all %d and tunl0 %d), want 0", max(all, own), all, own),
		"tunl0 has no address, and reverse-path filtering drops every packet that comes in on an interface without one: every decapsulated packet is dropped (each other interface keeps its own value when conf/all is 0)",
		strings.Join(cmds, " && "))
	return nil
}
