package config

import (
	"context"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/realserver"
)

const ingressFile = "realserver:\n  ingress: [eth2, eth1]\n  vips:\n    - vip: 10.0.0.1\n      dscp: 21\n"

func TestIngressKeyRoundTrip(t *testing.T) {
	f := mustParse(t, ingressFile)
	if got := f.realServer.ingress.String(); got != "eth1,eth2" {
		t.Fatalf("ingress %q", got)
	}
	out, err := Marshal(f, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := "realserver:\n  ingress: [eth1, eth2]\n  vips:\n"; !strings.HasPrefix(string(out), want) {
		t.Errorf("saved:\n%s\nwant it to start %q", out, want)
	}
	if g := mustParse(t, string(out)); g.realServer.ingress.String() != "eth1,eth2" {
		t.Errorf("parsed back: %q", g.realServer.ingress)
	}
	for in, want := range map[string]string{"[any]": "any", "[]": "any"} {
		if g := mustParse(t, "realserver:\n  ingress: "+in+"\n"); g.realServer.ingress.String() != want {
			t.Errorf("%s: %q", in, g.realServer.ingress)
		}
	}
	if out, _ := Marshal(mustParse(t, "realserver:\n  ingress: [any]\n"), ""); strings.Contains(string(out), "ingress") {
		t.Errorf("any is the default, left out:\n%s", out)
	}
}

func TestIngressKeyErrors(t *testing.T) {
	for in, want := range map[string]string{
		"[eth+]":     `t:2: realserver.ingress interface "eth+" is not an interface name: give the names 'ip link' lists`,
		"eth1":       "t:2: realserver.ingress must be a list",
		"[eth1, {}]": "t:2: an ingress interface must be a single value",
	} {
		_, err := parseFile("t", []byte("realserver:\n  ingress: "+in+"\n"))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v\nwant %q", in, err, want)
		}
	}
}

// apply moves the running list to the file's, after the VIPs, through
// the file's first VIP; a list already as the file's is no step.
func TestIngressPlan(t *testing.T) {
	ctx := context.Background()
	plan := func(rs *fakeRS, running realserver.Ingress) Plan {
		t.Helper()
		h := Host{
			OpenRealServer: func() (RealServerHost, error) {
				return rsWithReport{rs, realserver.Report{Ingress: running, VIPs: rs.vips}}, nil
			},
			Pieces: func(context.Context, xtrule.Variant, []realserver.Config, bool) error { return nil },
		}
		p, done, err := PlanHost(ctx, h, mustParse(t, ingressFile), PlanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		done()
		return p
	}
	rs := newFakeRS()
	p := plan(rs, nil)
	if got, want := whats(p.Steps), "set up VIP 10.0.0.1 (dscp, DSCP 21)\nlimit the map-mode rules to ingress eth1,eth2 (was any)"; got != want {
		t.Fatalf("plan:\n%s\nwant:\n%s", got, want)
	}
	if _, err := p.Apply(); err != nil {
		t.Fatal(err)
	}
	if rs.ingress.String() != "eth1,eth2" || !strings.HasPrefix(rs.calls[len(rs.calls)-1], "UpIngress VIP 10.0.0.1 (dscp, DSCP 21)  eth1,eth2") {
		t.Errorf("ingress %q, calls %q", rs.ingress, rs.calls)
	}
	if p := plan(rs, realserver.Ingress{"eth1", "eth2"}); len(p.Steps) != 0 {
		t.Errorf("plan with the list running: %s", whats(p.Steps))
	}

	// The move fails: it and the VIP's setup are taken back.
	rs = newFakeRS()
	rs.failAt = 1
	if _, err := plan(rs, realserver.Ingress{"eth0"}).Apply(); err == nil {
		t.Fatal("Apply succeeded")
	}
	if got := strings.Join(rs.calls, "\n"); !strings.Contains(got, "UpIngress VIP 10.0.0.1 (dscp, DSCP 21)  eth1,eth2\nDown 10.0.0.1") {
		t.Errorf("calls:\n%s", got)
	}
}
