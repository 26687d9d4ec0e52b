package doctor

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/maptable"
	"github.com/l3dsr/l3dsr/realserver"
)

// mapping checks the dscp-mode path: the module, the map-mode rule of each
// family, and the table.
func (c *checker) mapping(units []realserver.Config, rules []xtrule.Rule) error {
	fams := map[dsrtypes.Family]bool{}
	for _, u := range units {
		if modeOf(u) == dsrtypes.ModeDSCP {
			fams[dsrtypes.FamilyOf(u.VIP)] = true
		}
	}
	c.mapRules(fams, rules)
	if len(fams) == 0 && len(rules) == 0 {
		return nil
	}
	if !c.h.ModuleLoaded("xt_DADDR") {
		c.add(problem, "module", "the xt_DADDR module is not loaded",
			"nothing rewrites a marked packet to its VIP: the packets reach no socket",
			"modprobe xt_DADDR")
		return nil
	}
	if len(fams) == 0 {
		return nil
	}
	entries, err := c.h.Entries()
	if err != nil {
		return fmt.Errorf("listing xt_DADDR's table: %w", err)
	}
	want := map[maptable.Key]netip.Addr{}
	for _, u := range units {
		if modeOf(u) != dsrtypes.ModeDSCP || u.DSCP == nil {
			continue
		}
		e := maptable.Entry{DSCP: dsrtypes.DSCP(*u.DSCP), Local: u.Local, VIP: u.VIP}
		want[e.Key()] = u.VIP
		i := slices.IndexFunc(entries, func(x maptable.Entry) bool { return x.Key() == e.Key() })
		switch {
		case i < 0:
			c.add(problem, "mapping", fmt.Sprintf("the table has no entry for %v (VIP %s)", e.Key(), u.VIP),
				"packets marked with the code keep the server's address: they reach no socket of the VIP",
				"l3dsr rule add "+ruleArgs(e))
		case entries[i].VIP != u.VIP:
			c.add(problem, "mapping", fmt.Sprintf("%v maps to VIP %s, not %s", e.Key(), entries[i].VIP, u.VIP),
				"the VIP's packets are rewritten to another VIP: its clients reach the wrong service, or none",
				"l3dsr rule add --replace "+ruleArgs(e))
		}
	}
	c.twoVIPs(entries, rules, want)
	return nil
}

func ruleArgs(e maptable.Entry) string {
	s := fmt.Sprintf("--dscp %d --vip %s", e.DSCP, e.VIP)
	if e.Local.IsValid() {
		s += " --local " + e.Local.String()
	}
	return s
}

func delArgs(e maptable.Entry) string {
	k := e.Key()
	s := fmt.Sprintf("--dscp %d --family %s", k.DSCP, strings.TrimPrefix(k.Family.Name(), "ipv"))
	if k.Local.IsValid() {
		s = fmt.Sprintf("--dscp %d --local %s", k.DSCP, k.Local)
	}
	return s
}

// mapRules: every packet goes through each map-mode rule of its family,
// so one must be there for a family with dscp-mode VIPs, and never two.
// l3dsr's rules limited to ingress interfaces count as one: a packet comes
// in on one interface.
func (c *checker) mapRules(need map[dsrtypes.Family]bool, rules []xtrule.Rule) {
	limited := func(r xtrule.Rule) bool { return r.Ours && r.Ingress != "" }
	for _, f := range []dsrtypes.Family{dsrtypes.IPv4, dsrtypes.IPv6} {
		var maps []xtrule.Rule
		for _, r := range rules {
			if r.Map && r.Family == f && !(limited(r) && slices.ContainsFunc(maps, limited)) {
				maps = append(maps, r)
			}
		}
		switch {
		case len(maps) == 0 && need[f]:
			c.add(problem, "map-rule", fmt.Sprintf("raw PREROUTING has no %v map-mode rule (-j DADDR --map)", f),
				"nothing looks marked packets up in the table: none is rewritten to its VIP",
				(&xtrule.Rules{}).Binary(f)+" -t raw -A PREROUTING -j DADDR --map")
		case len(maps) > 1:
			// Keep l3dsr's own (raw PREROUTING, exact) when there is one.
			if i := slices.IndexFunc(maps, func(r xtrule.Rule) bool { return r.Ours }); i > 0 {
				maps[0], maps[i] = maps[i], maps[0]
			}
			var lines, dels []string
			for i, r := range maps {
				lines = append(lines, r.Command())
				if i > 0 {
					dels = append(dels, r.DeleteCommand())
				}
			}
			c.add(problem, "map-rule", fmt.Sprintf("%d %v map-mode rules: %s", len(maps), f, strings.Join(lines, "; ")),
				"each packet is looked up once per rule: a second rule costs a lookup per packet and counts each packet twice",
				strings.Join(dels, " && "))
		}
	}
}

// mapper is one thing that maps a code to a VIP here: an entry of the
// table, or a revision-0 DADDR rule (--set-daddr).
type mapper struct {
	what string
	vip  netip.Addr
	// del is the command that removes it.
	del string
	// wanted: the file (or 'realserver up''s record) asks for it.
	wanted bool
}

// twoVIPs: a code that stands for two VIPs of one family (entries limited
// to different local addresses, or a rule beside an entry) sends a
// director's packets to the wrong VIP whenever they reach this server by
// the other address, or go through the other one last.
func (c *checker) twoVIPs(entries []maptable.Entry, rules []xtrule.Rule, want map[maptable.Key]netip.Addr) {
	type code struct {
		f dsrtypes.Family
		d dsrtypes.DSCP
	}
	groups := map[code][]mapper{}
	var order []code
	put := func(k code, m mapper) {
		if groups[k] == nil {
			order = append(order, k)
		}
		groups[k] = append(groups[k], m)
	}
	for _, e := range entries {
		w, ok := want[e.Key()]
		put(code{e.Key().Family, e.DSCP}, mapper{e.String(), e.VIP, "l3dsr rule del " + delArgs(e), ok && w == e.VIP})
	}
	for _, r := range rules {
		if !r.Map && r.VIP.IsValid() && r.DSCP >= 0 && !r.NotDSCP {
			put(code{r.Family, dsrtypes.DSCP(r.DSCP)}, mapper{r.Command(), r.VIP, r.DeleteCommand(), false})
		}
	}
	for _, k := range order {
		g := groups[k]
		vips := map[netip.Addr]bool{}
		wanted := 0
		for _, m := range g {
			vips[m.vip] = true
			if m.wanted {
				wanted++
			}
		}
		if len(vips) < 2 {
			continue
		}
		var list, dels []string
		for i, m := range g {
			list = append(list, m.what)
			// Remove what nothing asks for; when nothing is asked for,
			// all but the first.
			if !m.wanted && (wanted > 0 || i > 0) {
				dels = append(dels, m.del)
			}
		}
		l, fix := problem, strings.Join(dels, " && ")
		if len(dels) == 0 {
			// Both are asked for: moving one VIP to another code is the
			// operator's choice, and the directors' too.
			last := g[len(g)-1].vip
			l, fix = warning, fmt.Sprintf("l3dsr realserver down --vip %s --dscp %d (then set it up with a code of its own, and change its directors)", last, k.d)
			if c.e.file != "" {
				fix = fmt.Sprintf("give VIP %s another code in %s and on its directors, then %s", last, c.e.file, c.e.apply())
			}
		}
		c.add(l, "dscp-two-vips", fmt.Sprintf("%v DSCP %d stands for %d VIPs: %s", k.f, k.d, len(vips), strings.Join(list, "; ")),
			"a director marks a service's packets with one code: those that reach this server by the other entry's address, or through the other rule last, reach the other VIP",
			fix)
	}
}
