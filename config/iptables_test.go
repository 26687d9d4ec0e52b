package config

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/realserver"
)

// handRules reads -S text of one backend and table as Show lists it.
func handRules(t *testing.T, f xtrule.Family, v xtrule.Variant, table, text string) []realserver.HandRule {
	t.Helper()
	rules, err := xtrule.ParseRules(f, v, table, text)
	if err != nil {
		t.Fatal(err)
	}
	var out []realserver.HandRule
	for _, r := range rules {
		out = append(out, realserver.HandRule{Rule: r, Command: r.Command()})
	}
	return out
}

// The hand-made server of issue 26, with what save cannot convert, and a
// VIP l3dsr serves already.
func handServerRules(t *testing.T) []realserver.HandRule {
	hand := handRules(t, xtrule.IPv4, xtrule.Legacy, "mangle", "-A INPUT -m dscp --dscp 0x01 -j DADDR --set-daddr 10.8.0.1\n"+
		"-A INPUT -i eth1 -m dscp --dscp 0x04 -j DADDR --set-daddr 10.8.0.4\n-A PREROUTING -j DADDR --map\n")
	hand = append(hand, handRules(t, xtrule.IPv4, xtrule.Legacy, "raw", "-A PREROUTING -m dscp --dscp 0x02 -j DADDR --set-daddr 10.8.0.2\n"+
		"-A PREROUTING -m dscp --dscp 0x01 -j DADDR --set-daddr 10.8.0.1\n")...)
	hand = append(hand, handRules(t, xtrule.IPv4, xtrule.NFT, "raw", "-A PREROUTING -m dscp --dscp 0x05 -j DADDR --set-daddr 10.0.0.5\n")...)
	return append(hand, handRules(t, xtrule.IPv6, xtrule.NFT, "raw", "-A PREROUTING -d 2001:db8::10/128 -m dscp --dscp 0x03 -j DADDR --set-daddr 2001:db8::3\n"+
		"-A PREROUTING -j DADDR --set-daddr 2001:db8::9\n")...)
}

func TestFromHandRules(t *testing.T) {
	f := mustParse(t, "realserver:\n  vips:\n    - {vip: 10.0.0.5, dscp: 9}\n") // running already
	header, err := fromHandRules(f, handServerRules(t))
	if err != nil {
		t.Fatal(err)
	}
	out, err := Marshal(f, header)
	if err != nil {
		t.Fatal(err)
	}
	want := `# Made by 'l3dsr save --from-iptables' (docs/realserver.md, moving from hand-written rules):
# the VIPs l3dsr serves, and those that DADDR rules it did not write serve. The VIPs stay
# on lo as they are (labels such as lo:1 too). Check with 'l3dsr apply --dry-run -f FILE',
# apply, then delete the old rules.
# Once 'l3dsr apply' serves these VIPs, the old rules can go (l3dsr does not delete
# rules it did not write):
#   iptables-legacy -t mangle -D INPUT -m dscp --dscp 0x01 -j DADDR --set-daddr 10.8.0.1
#   iptables-legacy -t raw -D PREROUTING -m dscp --dscp 0x02 -j DADDR --set-daddr 10.8.0.2
#   iptables-legacy -t raw -D PREROUTING -m dscp --dscp 0x01 -j DADDR --set-daddr 10.8.0.1
#   iptables-nft -t raw -D PREROUTING -m dscp --dscp 0x05 -j DADDR --set-daddr 10.0.0.5
#   ip6tables-nft -t raw -D PREROUTING -d 2001:db8::10/128 -m dscp --dscp 0x03 -j DADDR --set-daddr 2001:db8::3
# Not converted (they keep running; apply refuses a code they map to another VIP):
#   iptables-legacy -t mangle -A INPUT -i eth1 -m dscp --dscp 0x04 -j DADDR --set-daddr 10.8.0.4
#     (it also matches -i eth1, which a config file's VIP cannot say (only a -d local address))
#   iptables-legacy -t mangle -A PREROUTING -j DADDR --map
#     (a map-mode rule: l3dsr keeps its own in raw PREROUTING; delete this one)
#   ip6tables-nft -t raw -A PREROUTING -j DADDR --set-daddr 2001:db8::9
#     (it matches no DSCP code: it rewrites every packet that reaches it, which a config file's VIP cannot say; keep it, or add a dscp match and save again)
realserver:
  vips:
    - vip: 10.0.0.5
      dscp: [9, 5]
    - vip: 10.8.0.1 # by hand: legacy mangle INPUT rule 1
      dscp: 1
    - vip: 10.8.0.2 # by hand: legacy raw PREROUTING rule 1
      dscp: 2
    - vip: 2001:db8::3 # by hand: nft raw PREROUTING rule 1
      dscp: 3
      local: 2001:db8::10
`
	if string(out) != want {
		t.Errorf("saved:\n%s\nwant:\n%s", out, want)
	}
	// What save prints, apply reads back.
	g := mustParse(t, string(out))
	if len(g.realServer.VIPs) != 4 || g.realServer.VIPs[0].codes.String() != "9, 5" {
		t.Errorf("read back %+v", g.realServer.VIPs)
	}
}

func TestFromHandRulesRefusesTwoVIPsForACode(t *testing.T) {
	hand := handRules(t, xtrule.IPv4, xtrule.Legacy, "mangle", "-A INPUT -m dscp --dscp 0x01 -j DADDR --set-daddr 10.8.0.1\n")
	hand = append(hand, handRules(t, xtrule.IPv4, xtrule.NFT, "raw", "-A PREROUTING -j CT --notrack\n-A PREROUTING -m dscp --dscp 0x01 -j DADDR --set-daddr 10.8.0.7\n")...)
	_, err := fromHandRules(&File{}, hand)
	if !errors.Is(err, realserver.ErrRuleClash) || !strings.Contains(err.Error(), "iptables-nft -t raw -S PREROUTING:2: VIPs 10.8.0.7 and 10.8.0.1 (at iptables-legacy -t mangle -S INPUT:1) both use DSCP 1") {
		t.Errorf("err = %v, want both rules named", err)
	}
}

// rsWithReport is a real server whose Show gives rep.
type rsWithReport struct {
	*fakeRS
	rep realserver.Report
}

func (r rsWithReport) Show(context.Context, xtrule.Variant) (realserver.Report, error) {
	return r.rep, nil
}

func (r rsWithReport) Close() error { return nil }

// apply (and its dry run) refuses a code a rule l3dsr did not write maps
// elsewhere, before anything is opened for a change.
func TestPlanHostRefusesACodeAHandRuleMaps(t *testing.T) {
	rs := newFakeRS()
	hand := handServerRules(t)
	if !hand[2].Rule.Map {
		t.Fatalf("rule 2 is %s, want the map-mode rule", hand[2].Command)
	}
	hand = append(hand[:2], hand[3:]...) // the second map rule takes every code
	h := Host{
		OpenRealServer: func() (RealServerHost, error) {
			return rsWithReport{rs, realserver.Report{HandWritten: hand}}, nil
		},
		Pieces: func(context.Context, xtrule.Variant, []realserver.Config, bool) error { return nil },
	}
	f := mustParse(t, "realserver:\n  vips:\n    - {vip: 10.8.0.1, dscp: [1, 2]}\n")
	_, _, err := PlanHost(context.Background(), h, f, PlanOptions{})
	if !errors.Is(err, realserver.ErrRuleClash) || !strings.Contains(err.Error(), "IPv4 DSCP 2 is mapped to VIP 10.8.0.2 already, by a DADDR rule l3dsr did not write: iptables-legacy -t raw -A PREROUTING -m dscp --dscp 0x02 -j DADDR --set-daddr 10.8.0.2") {
		t.Errorf("err = %v", err)
	}
	if len(rs.calls) != 0 {
		t.Errorf("calls %q, want none", rs.calls)
	}
	// The VIPs the rules serve, with their codes: a plan.
	f = mustParse(t, "realserver:\n  vips:\n    - {vip: 10.8.0.1, dscp: 1}\n    - {vip: 10.8.0.2, dscp: 2}\n")
	p, closeFn, err := PlanHost(context.Background(), h, f, PlanOptions{})
	if err != nil || len(p.Steps) != 2 {
		t.Fatalf("plan %+v, %v", p, err)
	}
	closeFn()
}
