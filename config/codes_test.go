package config

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/realserver"
)

// A realserver VIP takes one code or a list; each code is a key of its own
// for the clash rule, and a code twice for one VIP is a duplicate.
func TestParseCodes(t *testing.T) {
	f := mustParse(t, "realserver:\n  vips:\n    - {vip: 10.0.0.1, dscp: [19, 20]}\n    - {vip: 2001:db8::1, dscp: [20, 19]}\n    - {vip: 10.0.0.2, dscp: 21}\n")
	v := f.realServer.VIPs
	if v[0].codes.String() != "19, 20" || *v[0].Config.DSCP != 19 || v[1].codes.String() != "20, 19" || *v[1].Config.DSCP != 20 || v[2].codes.String() != "21" {
		t.Fatalf("codes: %v %v %v", v[0].codes, v[1].codes, v[2].codes)
	}
	if s := v[0].String(); s != "VIP 10.0.0.1 (dscp, DSCP 19, 20)" {
		t.Fatalf("String = %q", s)
	}
	for _, tc := range []struct{ in, want string }{
		{"    - {vip: 10.0.0.1, dscp: []}\n",
			"t:3: dscp is an empty list: give the VIP's code, or its codes as 'dscp: [19, 20]'"},
		{"    - vip: 10.0.0.1\n      dscp:\n        - 19\n        - 20\n        - 19\n",
			"t:7: DSCP 19 of VIP 10.0.0.1 is given twice (also at t:5): keep one"},
		{"    - {vip: 10.0.0.1, dscp: [19, 64]}\n",
			"t:3: dscp 64 is out of range: give a DSCP code 0-63"},
		{"    - {vip: 10.0.0.1, dscp: [19, x]}\n",
			`t:3: dscp "x" is not a whole number: give a DSCP code 0-63`},
		{"    - {vip: 10.0.0.1, dscp: [19, 20]}\n    - {vip: 10.0.0.2, dscp: 20}\n",
			"t:4: VIPs 10.0.0.2 and 10.0.0.1 (at t:3) both use DSCP 20: the real server could not tell them apart; give one of them another dscp (or another local)"},
		{"    - {vip: 10.0.0.2, dscp: 20}\n    - vip: 10.0.0.1\n      dscp: [19,\n        20]\n",
			"t:6: VIPs 10.0.0.1 and 10.0.0.2 (at t:3) both use DSCP 20"},
		{"    - {vip: 10.0.0.1, mode: dr, dscp: [19, 20]}\n",
			"t:3: DSCP 19 given for VIP 10.0.0.1 in dr mode"},
		{"    - {vip: 10.0.0.1, dscp: [19]}\n    - {vip: 10.0.0.1, dscp: [20]}\n",
			"t:4: VIP 10.0.0.1 is given twice (also at t:3): keep one"},
	} {
		_, err := parseFile("t", []byte("realserver:\n  vips:\n"+tc.in))
		var es Errors
		if !errors.As(err, &es) || len(es) != 1 || !strings.HasPrefix(es[0].Error(), tc.want) {
			t.Errorf("%s: got %v\nwant %s", tc.in, err, tc.want)
		}
	}
}

// save writes a list when a VIP has several codes, and one code as before;
// the file reads back to the same codes.
func TestMarshalCodes(t *testing.T) {
	one, two := uint8(21), uint8(19)
	vips := []realserver.VIPStatus{
		{Config: realserver.Config{VIP: netip.MustParseAddr("10.0.0.1"), Mode: dsrtypes.ModeDSCP, DSCP: &two}, DSCPs: realserver.Codes{19, 20}},
		{Config: realserver.Config{VIP: netip.MustParseAddr("10.0.0.2"), Mode: dsrtypes.ModeDSCP, DSCP: &one}, DSCPs: realserver.Codes{21}},
	}
	out, err := Marshal(fromRunning(vips, nil), "")
	want := "realserver:\n  vips:\n    - vip: 10.0.0.1\n      dscp: [19, 20]\n    - vip: 10.0.0.2\n      dscp: 21\n"
	if err != nil || string(out) != want {
		t.Fatalf("Marshal (%v):\n%s\nwant:\n%s", err, out, want)
	}
	g := mustParse(t, string(out))
	if g.realServer.VIPs[0].codes.String() != "19, 20" {
		t.Fatalf("read back: %v", g.realServer.VIPs[0].codes)
	}
}

// A re-code in the file: the new code is added before the old one goes,
// each its own step, and the VIP is never taken down.
func TestPlanCodes(t *testing.T) {
	ctx := context.Background()
	rs := newFakeRS()
	plan := func(in string) []Step {
		t.Helper()
		return planRealServer(ctx, mustParse(t, "realserver:\n  vips:\n"+in).realServer, rs.vips, rs)
	}
	apply := func(steps []Step) {
		t.Helper()
		if _, err := (Plan{steps}).Apply(); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ in, want, state string }{
		{"    - {vip: 10.0.0.1, dscp: [19, 20]}\n",
			"set up VIP 10.0.0.1 (dscp, DSCP 19)\nadd DSCP 20 to VIP 10.0.0.1 (dscp)",
			"VIP 10.0.0.1 (dscp, DSCP 19, 20) ok=true"},
		{"    - {vip: 10.0.0.1, dscp: [20, 19]}\n", "", "VIP 10.0.0.1 (dscp, DSCP 19, 20) ok=true"},
		{"    - {vip: 10.0.0.1, dscp: 20}\n",
			"take DSCP 19 off VIP 10.0.0.1 (dscp)",
			"VIP 10.0.0.1 (dscp, DSCP 20) ok=true"},
		// 20 -> 21 in one go: 21 first, then 20 goes.
		{"    - {vip: 10.0.0.1, dscp: 21}\n",
			"add DSCP 21 to VIP 10.0.0.1 (dscp)\ntake DSCP 20 off VIP 10.0.0.1 (dscp)",
			"VIP 10.0.0.1 (dscp, DSCP 21) ok=true"},
		{"    - {vip: 10.0.0.1, dscp: 21}\n    - {vip: 10.0.0.2, dscp: 22}\n",
			"set up VIP 10.0.0.2 (dscp, DSCP 22)",
			"VIP 10.0.0.1 (dscp, DSCP 21) ok=true\nVIP 10.0.0.2 (dscp, DSCP 22) ok=true"},
		// Two VIPs swap codes: each old code must go before the other VIP
		// can take it.
		{"    - {vip: 10.0.0.1, dscp: 22}\n    - {vip: 10.0.0.2, dscp: 21}\n",
			"take DSCP 21 off VIP 10.0.0.1 (dscp)\ntake DSCP 22 off VIP 10.0.0.2 (dscp)\nadd DSCP 22 to VIP 10.0.0.1 (dscp)\nadd DSCP 21 to VIP 10.0.0.2 (dscp)",
			"VIP 10.0.0.1 (dscp, DSCP 22) ok=true\nVIP 10.0.0.2 (dscp, DSCP 21) ok=true"},
		// Another local address is another setup: down, then up.
		{"    - {vip: 10.0.0.1, dscp: [22, 23], local: 192.0.2.10}\n    - {vip: 10.0.0.2, dscp: 21}\n",
			"take down VIP 10.0.0.1 (dscp, DSCP 22)\nset up VIP 10.0.0.1 (dscp, DSCP 22, local 192.0.2.10)\nadd DSCP 23 to VIP 10.0.0.1 (dscp, local 192.0.2.10)",
			"VIP 10.0.0.1 (dscp, DSCP 22, 23, local 192.0.2.10) ok=true\nVIP 10.0.0.2 (dscp, DSCP 21) ok=true"},
	} {
		steps := plan(tc.in)
		if got := whats(steps); got != tc.want {
			t.Fatalf("plan for\n%s:\n%s\nwant\n%s", tc.in, got, tc.want)
		}
		apply(steps)
		if got := rs.state(); got != tc.state {
			t.Fatalf("after applying\n%s:\n%s\nwant\n%s", tc.in, got, tc.state)
		}
		if again := plan(tc.in); len(again) != 0 {
			t.Fatalf("second plan: %s", whats(again))
		}
	}

	// A failing step undoes the codes added and taken off before it.
	before := rs.state()
	steps := plan("    - {vip: 10.0.0.1, dscp: [22, 23], local: 192.0.2.10}\n    - {vip: 10.0.0.2, dscp: [24, 25]}\n")
	if got := whats(steps); got != "add DSCP 24 to VIP 10.0.0.2 (dscp)\nadd DSCP 25 to VIP 10.0.0.2 (dscp)\ntake DSCP 21 off VIP 10.0.0.2 (dscp)" {
		t.Fatalf("plan: %s", got)
	}
	rs.failAt = len(rs.calls) + 2
	if _, err := (Plan{steps}).Apply(); err == nil || !strings.Contains(err.Error(), "the 2 change(s) made before it were undone") {
		t.Fatalf("err = %v", err)
	}
	if rs.state() != before {
		t.Fatalf("state not restored:\nbefore %s\nafter  %s", before, rs.state())
	}
}
