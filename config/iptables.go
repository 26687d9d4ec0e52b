package config

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/errclass"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/realserver"
)

// FromIPTables is what `l3dsr save --from-iptables` prints: the running
// state (as Running reads it) plus, as dscp-mode VIPs, what the DADDR rules
// l3dsr did not write serve (a rule written by hand, or by Yahoo's tools:
// `-m dscp --dscp N -j DADDR --set-daddr VIP`, in raw or mangle; a -d
// ADDR match becomes the VIP's local address). A rule the file cannot say
// (no dscp match, a negated one, other matches, a map-mode rule) is not
// converted: the header names it with the reason, and it keeps running.
// With the converted rules all of one backend (legacy or nft), the file
// has l3dsr's map-mode rule made with it too (iptables: legacy).
// The header also gives the commands that delete the converted rules,
// which are the operator's to run once 'l3dsr apply' serves their VIPs.
// Two rules that map one code to two VIPs are an error matching
// realserver.ErrRuleClash.
func FromIPTables(ctx context.Context, h Host) (*File, string, error) {
	f, rep, err := running(ctx, h)
	if err != nil {
		return nil, "", err
	}
	header, err := fromHandRules(f, rep.HandWritten)
	return f, header, err
}

// fromHandRules adds the VIPs of the rules in hand to f's real-server
// section and returns the file's header.
func fromHandRules(f *File, hand []realserver.HandRule) (string, error) {
	var del, skipped []string
	var added []VIP
	backends := map[xtrule.Variant]bool{}
	for _, h := range hand {
		r := h.Rule
		if why := unconvertible(h); why != "" {
			skipped = append(skipped, fmt.Sprintf("#   %s\n#     (%s)", h.Command, why))
			continue
		}
		del = append(del, "#   "+r.DeleteCommand())
		backends[r.Backend] = true
		pos := Pos{r.Binary() + " -t " + r.Table + " -S " + r.Chain, r.Num}
		c := realserver.Config{VIP: r.VIP, Mode: dsrtypes.ModeDSCP, Local: r.Dst}
		d := uint8(r.DSCP)
		i := slices.IndexFunc(added, func(v VIP) bool { return v.Config.VIP == c.VIP && v.Config.Local == c.Local })
		switch {
		case i < 0:
			v := VIP{Config: c, pos: pos, note: "by hand: " + ruleName(h)}
			v.withCodes(realserver.Codes{d}, []Pos{pos})
			added = append(added, v)
		case !slices.Contains(added[i].codes, d): // the same code twice (raw and mangle, legacy and nft) is one
			added[i].addCode(d, pos)
			added[i].note += ", " + ruleName(h)
		}
	}
	if len(added) > 0 && f.realServer == nil {
		f.realServer = &RealServer{}
	}
	if len(backends) == 1 && f.realServer.iptables == xtrule.Default {
		// l3dsr's map-mode rule goes where the operator's rules are.
		for v := range backends {
			f.realServer.iptables = v
		}
	}
	for _, v := range added {
		j := slices.IndexFunc(f.realServer.VIPs, func(o VIP) bool { return o.Config.VIP == v.Config.VIP && sameVIPAs(o, v) })
		if j < 0 {
			f.realServer.VIPs = append(f.realServer.VIPs, v)
			continue
		}
		for k, d := range v.codes { // l3dsr serves the VIP already: add the codes it lacks
			if !slices.Contains(f.realServer.VIPs[j].codes, d) {
				f.realServer.VIPs[j].addCode(d, v.codePos[k])
			}
		}
	}
	if errs := check(f); len(errs) > 0 {
		return "", ruleClashf("the DADDR rules cannot be one config file:\n%v\nfix the rules (one VIP per code and family), then save again", errs)
	}
	return iptablesHeader(del, skipped), nil
}

// sameVIPAs reports whether the running VIP o can take v's codes: the
// same mode (dscp) and local address.
func sameVIPAs(o, v VIP) bool {
	return o.Config.Mode == dsrtypes.ModeDSCP && o.Config.Local == v.Config.Local
}

// unconvertible says why the config file cannot say what h does ("" if it
// can).
func unconvertible(h realserver.HandRule) string {
	r := h.Rule
	switch {
	case r.Map:
		return "a map-mode rule: l3dsr keeps its own in raw PREROUTING; delete this one"
	case r.DSCP < 0:
		return "it matches no DSCP code: it rewrites every packet that reaches it, which a config file's VIP cannot say; keep it, or add a dscp match and save again"
	case r.NotDSCP:
		return fmt.Sprintf("it matches every code but %d, which a config file's VIP cannot say", r.DSCP)
	case len(r.Extra) > 0:
		return "it also matches " + strings.Join(r.Extra, " ") + ", which a config file's VIP cannot say (only a -d local address)"
	}
	return ""
}

func ruleName(h realserver.HandRule) string {
	return fmt.Sprintf("%s %s %s rule %d", h.Rule.Backend, h.Rule.Table, h.Rule.Chain, h.Rule.Num)
}

func iptablesHeader(del, skipped []string) string {
	var b strings.Builder
	b.WriteString("# Made by 'l3dsr save --from-iptables' (docs/realserver.md, moving from hand-written rules):\n" +
		"# the VIPs l3dsr serves, and those that DADDR rules it did not write serve. The VIPs stay\n" +
		"# on lo as they are (labels such as lo:1 too). Check with 'l3dsr apply --dry-run -f FILE',\n" +
		"# apply, then delete the old rules.\n")
	if len(del) > 0 {
		b.WriteString("# Once 'l3dsr apply' serves these VIPs, the old rules can go (l3dsr does not delete\n# rules it did not write):\n")
		b.WriteString(strings.Join(del, "\n") + "\n")
	}
	if len(skipped) > 0 {
		b.WriteString("# Not converted (they keep running; apply refuses a code they map to another VIP):\n")
		b.WriteString(strings.Join(skipped, "\n") + "\n")
	}
	return b.String()
}

// checkHandRules refuses a dscp-mode code of rs that a DADDR rule l3dsr
// did not write maps to another VIP, or that a second map-mode rule would
// handle again (realserver.ErrRuleClash): apply checks it, dry run or not,
// before it changes anything.
func checkHandRules(rs *RealServer, rep realserver.Report) error {
	var units []realserver.Config
	for _, v := range rs.VIPs {
		for _, d := range v.codes {
			units = append(units, v.withCode(d))
		}
	}
	return rep.CheckRules(units)
}

func ruleClashf(format string, a ...any) error {
	return errclass.New(realserver.ErrRuleClash, format, a...)
}
