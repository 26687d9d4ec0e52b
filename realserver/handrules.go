package realserver

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/errclass"
	"github.com/l3dsr/l3dsr/internal/rtnl"
	"github.com/l3dsr/l3dsr/internal/xtrule"
)

// ErrRuleClash is matched (errors.Is) by the error of a code that a DADDR
// rule l3dsr did not write (set up by hand, or by Yahoo's tools) maps to
// another VIP, or that a second map-mode rule would handle again: the
// command line or file asks for what cannot work beside that rule, and
// nothing was changed.
var ErrRuleClash = errors.New("a DADDR rule not written by l3dsr handles the code")

// HandRule is a DADDR rule l3dsr did not write, as Show lists it.
type HandRule struct {
	// Rule is the rule as read (xtrule.Reader).
	Rule xtrule.Rule `json:"-"`
	// VIP is the rule's --set-daddr address; empty for a map-mode rule.
	VIP    string `json:"vip,omitempty"`
	Family string `json:"family"`
	// DSCP says which codes it matches: "1", "any", "not 5".
	DSCP string `json:"dscp"`
	// Narrower lists its other matches, which make it match less than its
	// code ("-i eth0").
	Narrower []string `json:"narrower,omitempty"`
	Map      bool     `json:"map,omitempty"`
	// Command is the rule as `iptables -t TABLE -S` prints it, with the
	// binary of its backend.
	Command string `json:"rule"`
	OnLo    bool   `json:"on_lo"`
	// Delete, when set, is the command that deletes the rule: l3dsr maps
	// the same code to the same VIP, so the rule has become redundant.
	Delete string `json:"delete,omitempty"`
}

// readHandRules returns the DADDR rules of the namespace that are not
// l3dsr's own map-mode rule, and whether l3dsr's rule is there, per family.
func (m *Manager) readHandRules(ctx context.Context) (hand []xtrule.Rule, ours map[xtrule.Family]bool, err error) {
	ours = map[xtrule.Family]bool{}
	if m.readRules == nil {
		return nil, ours, nil
	}
	all, err := m.readRules(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, r := range all {
		if r.Ours {
			ours[r.Family] = true
		} else {
			hand = append(hand, r)
		}
	}
	return hand, ours, nil
}

// ruleClash says why rule r and the dscp-mode unit c (one VIP, one code)
// cannot both run, with the fix; "" if they can. A rule limited to another
// local address (-d) than c's --local acts on other packets.
func ruleClash(r xtrule.Rule, c Config) (what, fix string) {
	if c.mode() != dsrtypes.ModeDSCP || c.DSCP == nil || r.Family != xtFamilyOf(c) || !r.Covers(*c.DSCP) {
		return "", ""
	}
	if c.Local.IsValid() && r.Dst.IsValid() && c.Local != r.Dst {
		return "", "" // they act on packets to different local addresses
	}
	d, del := *c.DSCP, r.DeleteCommand()
	if r.Map {
		return fmt.Sprintf("%v DSCP %d would be handled twice: by l3dsr's map-mode rule and by another one l3dsr did not write: %s",
				xtFamilyOf(c), d, r.Command()),
			fmt.Sprintf("delete that rule ('%s'): l3dsr keeps its own in raw PREROUTING", del)
	}
	if r.VIP == c.VIP {
		return "", ""
	}
	return fmt.Sprintf("%v DSCP %d is mapped to VIP %s already, by a DADDR rule l3dsr did not write: %s; VIP %s with the same code would break one of the two (the rule that runs later wins)",
			xtFamilyOf(c), d, r.VIP, r.Command(), c.VIP),
		fmt.Sprintf("give VIP %s another DSCP code, or, once nothing needs VIP %s with DSCP %d, delete the rule ('%s')", c.VIP, r.VIP, d, del)
}

// CheckRules refuses, with an error matching ErrRuleClash, a dscp-mode
// unit of cs (each VIP with one code) that a rule of the report's
// HandWritten clashes with: what 'apply' checks before it changes anything.
func (rep Report) CheckRules(cs []Config) error {
	for _, h := range rep.HandWritten {
		for _, c := range cs {
			if what, fix := ruleClash(h.Rule, c); what != "" {
				return ruleClashf("%s: %s", what, fix)
			}
		}
	}
	return nil
}

func ruleClashf(format string, a ...any) error { return errclass.New(ErrRuleClash, format, a...) }

// handReport lists the rules l3dsr did not write in rep, with their
// problems: a rule that runs after conntrack, one that clashes with a VIP
// Up set up, a second map-mode rule beside l3dsr's. A rule that maps a
// code to the VIP Up maps it to is no problem: it gets its delete command.
func handReport(rep *Report, hand []xtrule.Rule, ours map[xtrule.Family]bool, st upRecord, lo []rtnl.Addr) {
	rep.HandWritten = []HandRule{}
	n := len(rep.Problems)
	defer func() { // a VIP of Up's that a rule clashes with is not ok
		for i := range rep.VIPs {
			for _, p := range rep.Problems[n:] {
				rep.VIPs[i].OK = rep.VIPs[i].OK && p.VIP != rep.VIPs[i].VIP.String()
			}
		}
	}()
	for _, r := range hand {
		h := HandRule{Rule: r, Family: r.Family.Name(), DSCP: codeText(r), Narrower: r.Extra, Map: r.Map, Command: r.Command()}
		bad := func(vip, what, fix string) {
			rep.Problems = append(rep.Problems, Problem{VIP: vip, What: what, Fix: fix})
		}
		if r.Map {
			if ours[r.Family] {
				bad("", fmt.Sprintf("%s is a second map-mode rule besides l3dsr's: marked packets would be handled twice", r.Command()),
					fmt.Sprintf("delete it ('%s'): l3dsr keeps its own in raw PREROUTING", r.DeleteCommand()))
			}
		} else {
			h.VIP = r.VIP.String()
			for _, a := range lo {
				h.OnLo = h.OnLo || a.Prefix.Addr() == r.VIP
			}
			// A rule made redundant by Up's mapping is no problem, wherever
			// it runs: raw PREROUTING has rewritten to its VIP already.
			if h.Delete = stateClash(r, st, bad); h.Delete == "" && !r.BeforeConntrack() {
				bad(h.VIP, fmt.Sprintf("%s runs in %s %s, after conntrack: conntrack records the server's address, so replies from the VIP match no connection", r.Command(), r.Table, r.Chain),
					fmt.Sprintf("move it to raw PREROUTING: '%s' then '%s' (or move the VIP to l3dsr: 'l3dsr save --from-iptables', docs/realserver.md)", moveCommand(r), r.DeleteCommand()))
			}
		}
		rep.HandWritten = append(rep.HandWritten, h)
	}
}

// stateClash reports each code Up set up that the rev0 rule r clashes
// with; it returns r's delete command when Up maps r's one code to r's VIP,
// which makes r redundant.
func stateClash(r xtrule.Rule, st upRecord, bad func(vip, what, fix string)) (del string) {
	for _, v := range st.VIPs {
		for _, d := range v.Codes {
			c := v.withCode(d.DSCP)
			if what, fix := ruleClash(r, c); what != "" {
				bad(c.VIP.String(), what, fix)
			} else if r.VIP == c.VIP && r.Exact() && r.DSCP == int(d.DSCP) && (!c.Local.IsValid() || c.Local == r.Dst) {
				del = r.DeleteCommand()
			}
		}
	}
	return del
}

// moveCommand appends r's matches and target to raw PREROUTING.
func moveCommand(r xtrule.Rule) string {
	_, rest, _ := strings.Cut(strings.TrimPrefix(r.Line, "-A "), " ")
	return r.Binary() + " -t raw -A PREROUTING " + rest
}

func codeText(r xtrule.Rule) string {
	switch {
	case r.DSCP < 0:
		return "any"
	case r.NotDSCP:
		return fmt.Sprintf("not %d", r.DSCP)
	}
	return fmt.Sprint(r.DSCP)
}

// checkHandRules refuses the dscp-mode unit c (one VIP, one code) when a
// rule l3dsr did not write clashes with it (an error matching
// ErrRuleClash); notes name a rule that already maps c's code to c's VIP,
// which Up leaves alone and which can go once Up serves the VIP.
func (m *Manager) checkHandRules(ctx context.Context, c Config) (notes []string, err error) {
	if c.mode() != dsrtypes.ModeDSCP {
		return nil, nil
	}
	hand, _, err := m.readHandRules(ctx)
	if err != nil {
		return nil, fmt.Errorf("checking the DADDR rules l3dsr did not write, before any change: %w", err)
	}
	for _, r := range hand {
		if what, fix := ruleClash(r, c); what != "" {
			return nil, ruleClashf("%s: %s", what, fix)
		}
		if !r.Map && r.VIP == c.VIP && r.Covers(*c.DSCP) {
			notes = append(notes, fmt.Sprintf("left alone the DADDR rule l3dsr did not write, which maps the code to the same VIP: %s (delete it once the directors use l3dsr's mapping: '%s')",
				r.Command(), r.DeleteCommand()))
		}
	}
	return notes, nil
}

// handRules notes the rules l3dsr did not write that still serve vip:
// Down keeps them, as it keeps everything that was there before Up.
func (d *downRun) handRules(vip netip.Addr) {
	hand, _, err := d.m.readHandRules(d.ctx)
	if err != nil {
		return // a note only: the rules are not Down's to touch either way
	}
	for _, r := range hand {
		if !r.Map && r.VIP == vip {
			d.note("kept the DADDR rule l3dsr did not write: %s", r.Command())
		}
	}
}
