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

// mapping checks the path of the table's modes (dscp and addr): the
// module, the map-mode rule of each family, and the table.
func (c *checker) mapping(units []realserver.Config, rules []xtrule.Rule) error {
	fams := map[dsrtypes.Family]bool{}
	for _, u := range units {
		if usesTable(u) {
			fams[dsrtypes.FamilyOf(u.VIP)] = true
		}
	}
	// The BPF program looks the table up itself: no rule to check.
	if c.served != "bpf" {
		c.mapRules(fams, rules)
	}
	if len(fams) == 0 && len(rules) == 0 {
		return nil
	}
	if !c.h.ModuleLoaded("xt_DADDR") && c.served != "bpf" {
		return c.noBackend()
	}
	if len(fams) == 0 {
		return nil
	}
	entries, err := c.tableEntries()
	if err != nil {
		return err
	}
	want := map[maptable.Key]netip.Addr{}
	for _, e := range wantedEntries(units) {
		k := keyOf(e)
		want[k] = e.VIP
		i := slices.IndexFunc(entries, func(x maptable.Entry) bool { return keyOf(x) == k })
		switch {
		case i < 0:
			c.add(problem, "mapping", fmt.Sprintf("the table has no entry for %s (VIP %s)", keyText(k), e.VIP),
				missingWhy(e), "l3dsr rule add "+ruleArgs(e))
		case entries[i].VIP != e.VIP:
			c.add(problem, "mapping", fmt.Sprintf("%s maps to VIP %s, not %s", keyText(k), entries[i].VIP, e.VIP),
				"the VIP's packets are rewritten to another VIP: its clients reach the wrong service, or none",
				"l3dsr rule add --replace "+ruleArgs(e))
		case dscpText(entries[i].SetDSCP) != dscpText(e.SetDSCP):
			c.add(warning, "mapping", fmt.Sprintf("%s (VIP %s) sets the DSCP after the rewrite to %s, want %s", keyText(k), e.VIP, dscpText(entries[i].SetDSCP), dscpText(e.SetDSCP)),
				"the reset asked for is not what runs: the packets keep (or get) a DSCP nobody asked for, and with net.ipv4.tcp_reflect_tos the replies carry it",
				"l3dsr rule add --replace "+ruleArgs(e))
		}
	}
	c.twoVIPs(entries, rules, want)
	return nil
}

// usesTable: the VIP's packets are rewritten by the map-mode rule from an
// entry of the table.
func usesTable(u realserver.Config) bool {
	m := modeOf(u)
	return m == dsrtypes.ModeDSCP || m == dsrtypes.ModeAddr
}

// wantedEntries are the table entries units ask for: one per code of a
// dscp-mode VIP, one any-DSCP entry keyed by the RIP of an addr-mode VIP.
func wantedEntries(units []realserver.Config) []maptable.Entry {
	var out []maptable.Entry
	for _, u := range units {
		var set *dsrtypes.DSCP
		if u.SetDSCP != nil {
			d := dsrtypes.DSCP(*u.SetDSCP)
			set = &d
		}
		switch {
		case modeOf(u) == dsrtypes.ModeDSCP && u.DSCP != nil:
			out = append(out, maptable.Entry{DSCP: dsrtypes.DSCP(*u.DSCP), Local: u.Local, VIP: u.VIP, SetDSCP: set})
		case modeOf(u) == dsrtypes.ModeAddr && u.RIP.IsValid():
			out = append(out, maptable.Entry{AnyDSCP: true, Local: u.RIP, VIP: u.VIP, SetDSCP: set})
		}
	}
	return out
}

func missingWhy(e maptable.Entry) string {
	if e.AnyDSCP {
		return "packets the director sends to the VIP's RIP keep that address: they reach no socket of the VIP"
	}
	return "packets marked with the code keep the server's address: they reach no socket of the VIP"
}

// keyOf is e's key with the code of an any-DSCP key cleared, so that keys
// compare whatever a backend leaves in the ignored code.
func keyOf(e maptable.Entry) maptable.Key {
	k := e.Key()
	if k.AnyDSCP {
		k.DSCP = 0
	}
	return k
}

// keyText names a key in findings.
func keyText(k maptable.Key) string {
	local := "any"
	if k.Local.IsValid() {
		local = k.Local.String()
	}
	if k.AnyDSCP {
		return fmt.Sprintf("%v any DSCP local %s", k.Family, local)
	}
	return fmt.Sprintf("%v DSCP %d local %s", k.Family, k.DSCP, local)
}

// dscpText names the DSCP an entry sets after the rewrite.
func dscpText(d *dsrtypes.DSCP) string {
	if d == nil {
		return "none (the packet's own is kept)"
	}
	return fmt.Sprint(*d)
}

func ruleArgs(e maptable.Entry) string {
	s := fmt.Sprintf("--dscp %d --vip %s", e.DSCP, e.VIP)
	if e.AnyDSCP {
		s = "--dscp any --vip " + e.VIP.String()
	}
	if e.Local.IsValid() {
		s += " --local " + e.Local.String()
	}
	if e.SetDSCP != nil {
		s += fmt.Sprintf(" --set-dscp %d", *e.SetDSCP)
	}
	return s
}

func delArgs(e maptable.Entry) string {
	k := e.Key()
	if k.AnyDSCP {
		return "--dscp any --local " + k.Local.String()
	}
	s := fmt.Sprintf("--dscp %d --family %s", k.DSCP, strings.TrimPrefix(k.Family.Name(), "ipv"))
	if k.Local.IsValid() {
		s = fmt.Sprintf("--dscp %d --local %s", k.DSCP, k.Local)
	}
	return s
}

// mapRules: every packet goes through each map-mode rule of its family
// that its interface matches, so one must be there for a family with
// dscp- or addr-mode VIPs, and no packet may meet two: one rule without
// -i, or one per ingress interface ('realserver up --ingress'), never a
// rule twice nor a rule without -i beside rules with it.
func (c *checker) mapRules(need map[dsrtypes.Family]bool, rules []xtrule.Rule) {
	for _, f := range []dsrtypes.Family{dsrtypes.IPv4, dsrtypes.IPv6} {
		var maps []xtrule.Rule
		for _, r := range rules {
			if r.Map && r.Family == f {
				maps = append(maps, r)
			}
		}
		direct := c.path != nil && c.path.Mode == maptable.ModeDirect
		if direct && need[f] && !c.path.Hooked(f) {
			c.add(problem, "map-path", fmt.Sprintf("the map path is direct but the module has no %v hook", f),
				"nothing looks marked packets up in the table: none is rewritten to its VIP",
				"l3dsr rule mode direct (or l3dsr rule mode rule)")
		}
		if len(maps) == 0 {
			if need[f] && !direct {
				c.add(problem, "map-rule", fmt.Sprintf("raw PREROUTING has no %v map-mode rule (-j DADDR --map)", f),
					"nothing looks marked packets up in the table: none is rewritten to its VIP",
					(&xtrule.Rules{}).Binary(f)+" -t raw -A PREROUTING -j DADDR --map")
			}
			continue
		}
		// Keep l3dsr's own (raw PREROUTING) where there are any, else
		// the first of each interface.
		slices.SortStableFunc(maps, func(a, b xtrule.Rule) int {
			switch {
			case a.Ours == b.Ours:
				return 0
			case a.Ours:
				return -1
			}
			return 1
		})
		// Rules with -i beside one without: the packets of the listed
		// interfaces meet two. The limit stays unless only the rule
		// without -i is l3dsr's: a DSR code honoured on too few
		// interfaces fails loudly, on too many it lets anyone in.
		ours := func(open bool) bool {
			return slices.ContainsFunc(maps, func(r xtrule.Rule) bool { return r.Ours && (ingressOf(r) == "") == open })
		}
		dropOpen := ours(false) || !ours(true)
		mixed := slices.ContainsFunc(maps, func(r xtrule.Rule) bool { return ingressOf(r) == "" }) &&
			slices.ContainsFunc(maps, func(r xtrule.Rule) bool { return ingressOf(r) != "" })
		kept := map[string]bool{}
		var lines, dels []string
		for _, r := range maps {
			lines = append(lines, r.Command())
			in := ingressOf(r)
			if kept[in] || (mixed && (in == "") == dropOpen) {
				dels = append(dels, r.DeleteCommand())
				continue
			}
			kept[in] = true
		}
		if len(dels) > 0 {
			c.add(problem, "map-rule", fmt.Sprintf("%d %v map-mode rules: %s", len(maps), f, strings.Join(lines, "; ")),
				"each packet is looked up once per rule its interface matches: a second rule costs a lookup per packet and counts each packet twice",
				strings.Join(dels, " && "))
		}
	}
}

// ingressOf is the interface a rule is limited to (its -i), "" for every
// interface. A negated -i matches nearly every interface: "" too.
func ingressOf(r xtrule.Rule) string {
	if r.Ingress != "" {
		return r.Ingress
	}
	for _, x := range r.Extra {
		if in, ok := strings.CutPrefix(x, "-i "); ok {
			return in
		}
	}
	return ""
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
		if e.AnyDSCP {
			continue // keyed by an address, not a code: no code clash
		}
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
