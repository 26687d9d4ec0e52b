package config

import (
	"context"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
)

// mode: dr on both sides parses, plans, applies, and saves back to a file
// that plans nothing.
func TestModeDR(t *testing.T) {
	in := `realserver:
  vips:
    - {vip: 10.0.0.1, dscp: 21}
    - {vip: 10.0.0.3, mode: ipip}
    - {vip: 10.0.0.4, mode: dr}
    - {vip: 2001:db8::4, mode: DR}
director:
  services:
    - vip: 10.0.0.4:80
      mode: dr
      scheduler: rr
      reals:
        - {address: 10.1.0.10}
        - {address: 10.1.0.11}
`
	f := mustParse(t, in)
	if c := f.realServer.VIPs[2].Config; c.Mode != dsrtypes.ModeDR || c.DSCP != nil {
		t.Fatalf("dr VIP parsed as %v", c)
	}
	if s := f.director.Services[0].Service; s.Mode != dsrtypes.ModeDR || s.DSCP != 0 {
		t.Fatalf("dr service parsed as %+v", s)
	}
	ctx := context.Background()
	rs := newFakeRS()
	steps := planRealServer(ctx, f.realServer, nil, rs)
	want := "set up VIP 10.0.0.1 (dscp, DSCP 21)\nset up VIP 10.0.0.3 (ipip)\nset up VIP 10.0.0.4 (dr)\nset up VIP 2001:db8::4 (dr)"
	if got := whats(steps); got != want {
		t.Fatalf("real-server plan:\n%s\nwant\n%s", got, want)
	}
	if _, err := (Plan{steps}).Apply(); err != nil {
		t.Fatal(err)
	}
	d := newFakeDirector()
	steps = planDirector(f.director, nil, d)
	want = "add service tcp 10.0.0.4:80 (dr, rr)\nadd real 10.1.0.10 to service tcp 10.0.0.4:80 (weight 1)\nadd real 10.1.0.11 to service tcp 10.0.0.4:80 (weight 1)"
	if got := whats(steps); got != want {
		t.Fatalf("director plan:\n%s\nwant\n%s", got, want)
	}
	if _, err := (Plan{steps}).Apply(); err != nil {
		t.Fatal(err)
	}
	// save | apply: no change.
	out, err := Marshal(&File{realServer: &RealServer{VIPs: f.realServer.VIPs}, director: f.director}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"    - vip: 10.0.0.4\n      mode: dr\n    - vip: 2001:db8::4\n      mode: dr\n", "      mode: dr\n      scheduler: rr\n"} {
		if !strings.Contains(string(out), w) {
			t.Errorf("saved file lacks %q:\n%s", w, out)
		}
	}
	g, err := parseFile("saved", out)
	if err != nil {
		t.Fatalf("%v in\n%s", err, out)
	}
	if steps := planRealServer(ctx, g.realServer, rs.vips, rs); len(steps) != 0 {
		t.Errorf("real-server plan after save: %s", whats(steps))
	}
	if steps := planDirector(g.director, d.svcs, d); len(steps) != 0 {
		t.Errorf("director plan after save: %s", whats(steps))
	}
	// A VIP moved from dscp to dr is taken down and set up again.
	f = mustParse(t, strings.Replace(in, "{vip: 10.0.0.1, dscp: 21}", "{vip: 10.0.0.1, mode: dr}", 1))
	want = "take down VIP 10.0.0.1 (dscp, DSCP 21)\nset up VIP 10.0.0.1 (dr)"
	if got := whats(planRealServer(ctx, f.realServer, rs.vips, rs)); got != want {
		t.Errorf("dscp to dr:\n%s\nwant\n%s", got, want)
	}
}

// modeRoundTrip parses in, a director of one service in mode, plans it
// on an empty director (the plan is want), applies it, and saves it: the
// file says the mode, and reads back to a plan of nothing. It returns
// the saved file.
func modeRoundTrip(t *testing.T, in string, mode dsrtypes.Mode, want string) string {
	t.Helper()
	f := mustParse(t, in)
	if s := f.director.Services[0].Service; s.Mode != mode || s.DSCP != 0 {
		t.Fatalf("%s service parsed as %+v", mode, s)
	}
	d := newFakeDirector()
	steps := planDirector(f.director, nil, d)
	if got := whats(steps); got != want {
		t.Fatalf("director plan:\n%s\nwant\n%s", got, want)
	}
	if _, err := (Plan{steps}).Apply(); err != nil {
		t.Fatal(err)
	}
	out, err := Marshal(&File{director: f.director}, "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "      mode: "+string(mode)+"\n") {
		t.Errorf("saved file lacks mode: %s:\n%s", mode, out)
	}
	g, err := parseFile("saved", out)
	if err != nil {
		t.Fatalf("%v in\n%s", err, out)
	}
	if steps := planDirector(g.director, d.svcs, d); len(steps) != 0 {
		t.Errorf("director plan after save: %s", whats(steps))
	}
	return string(out)
}

// mode: nat is a director's: a service parses, plans and saves back to a
// file that plans nothing; a real-server VIP in nat mode is refused.
func TestModeNAT(t *testing.T) {
	in := `director:
  services:
    - vip: 10.0.0.5:80
      mode: nat
      persistent: 60
      reals:
        - {address: 10.1.0.10, weight: 5}
`
	modeRoundTrip(t, in, dsrtypes.ModeNAT,
		"add service tcp 10.0.0.5:80 (nat, wlc, persistent 60)\nadd real 10.1.0.10 to service tcp 10.0.0.5:80 (weight 5)")
	for in, msg := range map[string]string{
		"director:\n  services:\n    - {vip: 10.0.0.5:80, mode: nat, dscp: 3}\n": "service tcp 10.0.0.5:80 is in nat mode, which uses no DSCP code",
		"realserver:\n  vips:\n    - {vip: 10.0.0.5, mode: nat}\n":               "mode nat (plain LVS-NAT) is the director's only",
	} {
		if _, err := parseFile("f", []byte(in)); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: %v, want %q", in, err, msg)
		}
	}
}
