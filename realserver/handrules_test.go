package realserver

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/internal/rtnl"
	"github.com/l3dsr/l3dsr/internal/xtrule"
)

// handServer is a real server set up by hand, as issue 26 found one: VIP
// 10.8.0.1 with DSCP 1 by a mangle INPUT rule, VIP 10.8.0.2 with DSCP 2 by
// a raw PREROUTING rule (iptables-legacy), an IPv6 VIP with DSCP 3 by
// ip6tables-nft, all VIPs on lo. The rules l3dsr's map-mode rule adds
// (the fake's rule count) are read beside them.
func handServer(t *testing.T) (*fakeSys, *Manager, *[]xtrule.Rule) {
	t.Helper()
	f := newFakeSys()
	m := f.manager(t)
	for _, p := range []string{"10.8.0.1/32", "10.8.0.2/32", "2001:db8::3/128"} {
		f.addrs = append(f.addrs, rtnl.Addr{Index: 1, Prefix: netip.MustParsePrefix(p)})
	}
	var hand []xtrule.Rule
	for _, s := range []struct {
		f            xtrule.Family
		v            xtrule.Variant
		table, lines string
	}{
		{xtrule.IPv4, xtrule.Legacy, "raw", "-P PREROUTING ACCEPT\n-A PREROUTING -m dscp --dscp 0x02 -j DADDR --set-daddr 10.8.0.2\n"},
		{xtrule.IPv4, xtrule.Legacy, "mangle", "-P INPUT ACCEPT\n-A INPUT -m dscp --dscp 0x01 -j DADDR --set-daddr 10.8.0.1\n"},
		{xtrule.IPv6, xtrule.NFT, "raw", "-A PREROUTING -m dscp --dscp 0x03 -j DADDR --set-daddr 2001:db8::3\n"},
	} {
		rules, err := xtrule.ParseRules(s.f, s.v, s.table, s.lines)
		if err != nil {
			t.Fatal(err)
		}
		hand = append(hand, rules...)
	}
	m.readRules = func(context.Context) ([]xtrule.Rule, error) {
		out := append([]xtrule.Rule(nil), hand...)
		for _, fam := range []xtrule.Family{xtrule.IPv4, xtrule.IPv6} {
			if f.rules[fam] > 0 {
				ours, _ := xtrule.ParseRules(fam, xtrule.NFT, "raw", "-A PREROUTING -j DADDR --map\n")
				out = append(out, ours...)
			}
		}
		return out, nil
	}
	return f, m, &hand
}

func TestShowListsHandWrittenRules(t *testing.T) {
	_, m, _ := handServer(t)
	rep, err := m.Show(ctx, xtrule.Default)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.HandWritten) != 3 || len(rep.Problems) != 1 || rep.Err() == nil {
		t.Fatalf("report %+v: want 3 rules by hand and 1 problem (the mangle INPUT rule)", rep)
	}
	var out bytes.Buffer
	if err := WriteReport(&out, rep, "table"); err != nil {
		t.Fatal(err)
	}
	want := `no VIP set up by 'l3dsr realserver up' in this network namespace

SET UP BY HAND  DSCP  ON LO  RULE (not written by l3dsr)
10.8.0.2        2     yes    iptables-legacy -t raw -A PREROUTING -m dscp --dscp 0x02 -j DADDR --set-daddr 10.8.0.2
10.8.0.1        1     yes    iptables-legacy -t mangle -A INPUT -m dscp --dscp 0x01 -j DADDR --set-daddr 10.8.0.1
2001:db8::3     3     yes    ip6tables-nft -t raw -A PREROUTING -m dscp --dscp 0x03 -j DADDR --set-daddr 2001:db8::3
problem: VIP 10.8.0.1: iptables-legacy -t mangle -A INPUT -m dscp --dscp 0x01 -j DADDR --set-daddr 10.8.0.1 runs in mangle INPUT, after conntrack: conntrack records the server's address, so replies from the VIP match no connection
  fix: move it to raw PREROUTING: 'iptables-legacy -t raw -A PREROUTING -m dscp --dscp 0x01 -j DADDR --set-daddr 10.8.0.1' then 'iptables-legacy -t mangle -D INPUT -m dscp --dscp 0x01 -j DADDR --set-daddr 10.8.0.1' (or move the VIP to l3dsr: 'l3dsr save --from-iptables', docs/realserver.md)
`
	if out.String() != want {
		t.Errorf("report:\n%s\nwant:\n%s", out.String(), want)
	}
	out.Reset()
	if err := WriteReport(&out, rep, "json"); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{`"hand_written": [`, `"vip": "10.8.0.1"`, `"dscp": "1"`, `"rule": "iptables-legacy -t mangle -A INPUT -m dscp --dscp 0x01 -j DADDR --set-daddr 10.8.0.1"`, `"on_lo": true`} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("JSON lacks %s:\n%s", w, out.String())
		}
	}
}

// Up of a code a rule l3dsr did not write maps to another VIP is refused
// before anything changes; the same VIP and code is fine, and Down keeps
// the address and the rule.
func TestUpRefusesACodeAHandRuleMapsElsewhere(t *testing.T) {
	f, m, _ := handServer(t)
	before := f.snap()
	for _, tc := range []struct {
		c    Config
		want string
	}{
		{dscpVIP("10.8.0.9", 1), "IPv4 DSCP 1 is mapped to VIP 10.8.0.1 already, by a DADDR rule l3dsr did not write: iptables-legacy -t mangle -A INPUT -m dscp --dscp 0x01 -j DADDR --set-daddr 10.8.0.1; VIP 10.8.0.9 with the same code would break one of the two (the rule that runs later wins): give VIP 10.8.0.9 another DSCP code, or, once nothing needs VIP 10.8.0.1 with DSCP 1, delete the rule ('iptables-legacy -t mangle -D INPUT -m dscp --dscp 0x01 -j DADDR --set-daddr 10.8.0.1')"},
		{dscpVIP("10.8.0.1", 2), "IPv4 DSCP 2 is mapped to VIP 10.8.0.2 already, by a DADDR rule l3dsr did not write: iptables-legacy -t raw -A PREROUTING -m dscp --dscp 0x02 -j DADDR --set-daddr 10.8.0.2"},
		{localVIP("2001:db8::9", 3, "2001:db8:1::10"), "IPv6 DSCP 3 is mapped to VIP 2001:db8::3 already"},
	} {
		_, err := m.Up(ctx, tc.c, xtrule.Default)
		if !errors.Is(err, ErrRuleClash) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Up(%v) = %v\nwant ErrRuleClash with %q", tc.c, err, tc.want)
		}
		sameSnap(t, "a refused Up", before, f.snap())
	}
	// Another family's code, and another code, are free.
	mustUp(t, m, dscpVIP("2001:db8::1", 1))
	mustUp(t, m, dscpVIP("10.8.0.9", 9))

	a := mustUp(t, m, dscpVIP("10.8.0.2", 2))
	if len(a.Notes) != 1 || !strings.Contains(a.Notes[0], "left alone the DADDR rule l3dsr did not write, which maps the code to the same VIP: iptables-legacy -t raw -A PREROUTING -m dscp --dscp 0x02 -j DADDR --set-daddr 10.8.0.2") {
		t.Errorf("Up notes %q", a.Notes)
	}
	rep, err := m.Show(ctx, xtrule.Default)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 || rep.HandWritten[0].Delete != "iptables-legacy -t raw -D PREROUTING -m dscp --dscp 0x02 -j DADDR --set-daddr 10.8.0.2" || rep.HandWritten[1].Delete != "" {
		t.Errorf("Show after up of the VIP a rule serves: problems %+v, rules %+v", rep.Problems, rep.HandWritten)
	}
	var out bytes.Buffer
	WriteReport(&out, rep, "table")
	if !strings.Contains(out.String(), "note: VIP 10.8.0.2: l3dsr maps DSCP 2 to it too, so this rule can be deleted: iptables-legacy -t raw -D PREROUTING") {
		t.Errorf("report lacks the delete note:\n%s", out.String())
	}
	// Once Up maps the mangle INPUT rule's code to its VIP, the rule is
	// redundant, not a problem.
	mustUp(t, m, dscpVIP("10.8.0.1", 1))
	if rep, err = m.Show(ctx, xtrule.Default); err != nil || len(rep.Problems) != 0 || rep.Err() != nil ||
		rep.HandWritten[1].Delete != "iptables-legacy -t mangle -D INPUT -m dscp --dscp 0x01 -j DADDR --set-daddr 10.8.0.1" {
		t.Errorf("Show after up of the mangle rule's VIP: %v, problems %+v, rules %+v", err, rep.Problems, rep.HandWritten)
	}
	mustDown(t, m, "10.8.0.1")
	d := mustDown(t, m, "10.8.0.2")
	if !f.onLo("10.8.0.2/32") || !strings.Contains(strings.Join(d.Notes, "\n"), "kept 10.8.0.2 on lo: it was there before up") ||
		!strings.Contains(strings.Join(d.Notes, "\n"), "kept the DADDR rule l3dsr did not write: iptables-legacy -t raw -A PREROUTING -m dscp --dscp 0x02 -j DADDR --set-daddr 10.8.0.2") {
		t.Errorf("Down: on lo %v, notes %q", f.onLo("10.8.0.2/32"), d.Notes)
	}
}

// A rule that comes after Up and shadows its mapping, and a second
// map-mode rule, are problems of Show; the second map rule is refused by Up.
func TestShowFindsRulesThatClashWithUp(t *testing.T) {
	f, m, hand := handServer(t)
	mustUp(t, m, dscpVIP("10.0.0.5", 5))
	more, err := xtrule.ParseRules(xtrule.IPv4, xtrule.NFT, "raw", "-A PREROUTING -j CT --notrack\n-A PREROUTING -i eth0 -j DADDR --set-daddr 10.8.0.7\n")
	if err != nil {
		t.Fatal(err)
	}
	mapRule, err := xtrule.ParseRules(xtrule.IPv4, xtrule.NFT, "mangle", "-A PREROUTING -m dscp --dscp 7 -j DADDR --map\n")
	if err != nil {
		t.Fatal(err)
	}
	*hand = append(*hand, append(more, mapRule...)...)
	rep, err := m.Show(ctx, xtrule.Default)
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, p := range rep.Problems {
		all = append(all, "VIP "+p.VIP+": "+p.What+" => "+p.Fix)
	}
	got := strings.Join(all, "\n")
	for _, w := range []string{
		"VIP 10.0.0.5: IPv4 DSCP 5 is mapped to VIP 10.8.0.7 already, by a DADDR rule l3dsr did not write: iptables-nft -t raw -A PREROUTING -i eth0 -j DADDR --set-daddr 10.8.0.7",
		"VIP : iptables-nft -t mangle -A PREROUTING -m dscp --dscp 7 -j DADDR --map is a second map-mode rule besides l3dsr's: marked packets would be handled twice => delete it ('iptables-nft -t mangle -D PREROUTING -m dscp --dscp 7 -j DADDR --map')",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("problems lack %q:\n%s", w, got)
		}
	}
	if len(rep.VIPs) != 1 || rep.VIPs[0].OK {
		t.Errorf("VIPs %+v: want 10.0.0.5 not ok", rep.VIPs)
	}
	if rep.HandWritten[3].DSCP != "any" || rep.HandWritten[3].Narrower[0] != "-i eth0" || !rep.HandWritten[4].Map {
		t.Errorf("rules %+v", rep.HandWritten)
	}
	// The rule without a dscp match takes every code of IPv4; the map
	// rule would handle code 7 twice.
	*hand = (*hand)[:3]
	*hand = append(*hand, mapRule...)
	before := f.snap()
	if _, err := m.Up(ctx, dscpVIP("10.0.0.6", 7), xtrule.Default); !errors.Is(err, ErrRuleClash) || !strings.Contains(err.Error(), "IPv4 DSCP 7 would be handled twice") {
		t.Errorf("Up under a second map rule: %v", err)
	}
	sameSnap(t, "a refused Up", before, f.snap())
	if err := rep.CheckRules([]Config{dscpVIP("10.0.0.6", 6)}); !errors.Is(err, ErrRuleClash) || !strings.Contains(err.Error(), "10.8.0.7") {
		t.Errorf("CheckRules = %v, want the rule without a dscp match", err)
	}
	if rep, err = m.Show(ctx, xtrule.Default); err != nil {
		t.Fatal(err)
	}
	if err := rep.CheckRules([]Config{dscpVIP("10.8.0.2", 2), drVIP("10.0.0.8"), dscpVIP("2001:db8::5", 5), dscpVIP("10.0.0.6", 6)}); err != nil {
		t.Errorf("CheckRules = %v, want no clash", err)
	}
}

func TestShowReportsUnreadableRules(t *testing.T) {
	f := newFakeSys()
	m := f.manager(t)
	m.readRules = func(context.Context) ([]xtrule.Rule, error) { return nil, errBoom }
	rep, err := m.Show(ctx, xtrule.Default)
	if err != nil || len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0].What, "boom") {
		t.Fatalf("Show = %+v, %v: want the failure as a problem", rep, err)
	}
	if _, err := m.Up(ctx, dscpVIP("10.0.0.1", 1), xtrule.Default); !errors.Is(err, errBoom) {
		t.Errorf("Up without the rules read: %v, want the failure (nothing can be checked)", err)
	}
}
