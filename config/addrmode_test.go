package config

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
)

const addrFile = `realserver:
  vips:
    - vip: 10.0.0.1
      dscp: 21
      set_dscp: 0
    - vip: 10.0.0.4
      mode: addr
      rip: 192.0.2.50
      dev: eth1
      set_dscp: 10
    - vip: 2001:db8::4
      mode: addr
      rip: 2001:db8:1::40
`

// The addr-mode keys and set_dscp parse, save back as written, and a plan
// from the saved file changes nothing.
func TestAddrModeRoundTrip(t *testing.T) {
	f := mustParse(t, addrFile)
	v := f.realServer.VIPs
	if c := v[1].Config; c.Mode != dsrtypes.ModeAddr || c.RIP.String() != "192.0.2.50" || c.Dev != "eth1" || c.SetDSCP == nil || *c.SetDSCP != 10 || c.DSCP != nil {
		t.Fatalf("addr VIP %+v", c)
	}
	if c := v[0].Config; c.SetDSCP == nil || *c.SetDSCP != 0 {
		t.Fatalf("dscp VIP %+v", c)
	}
	out, err := Marshal(f, "")
	if err != nil || string(out) != addrFile {
		t.Fatalf("Marshal = %v\n%s\nwant\n%s", err, out, addrFile)
	}
	ctx := context.Background()
	rs := newFakeRS()
	steps := planRealServer(ctx, f.realServer, nil, rs)
	want := "set up VIP 10.0.0.1 (dscp, DSCP 21, set DSCP 0)\nset up VIP 10.0.0.4 (addr, RIP 192.0.2.50 on eth1, set DSCP 10)\nset up VIP 2001:db8::4 (addr, RIP 2001:db8:1::40)"
	if got := whats(steps); got != want {
		t.Fatalf("plan:\n%s\nwant\n%s", got, want)
	}
	if _, err := (Plan{steps}).Apply(); err != nil {
		t.Fatal(err)
	}
	// Up found the device the file leaves out.
	rs.vips[2].Dev = "eth0"
	g := mustParse(t, string(out))
	if steps := planRealServer(ctx, g.realServer, rs.vips, rs); len(steps) != 0 {
		t.Fatalf("plan after a round trip: %s", whats(steps))
	}
	// Another RIP, reset or device is another setup: down, then up.
	g = mustParse(t, strings.NewReplacer("set_dscp: 10", "set_dscp: 11", "rip: 2001:db8:1::40", "rip: 2001:db8:1::41").Replace(addrFile))
	want = "take down VIP 10.0.0.4 (addr, RIP 192.0.2.50 on eth1, set DSCP 10)\ntake down VIP 2001:db8::4 (addr, RIP 2001:db8:1::40 on eth0)\nset up VIP 10.0.0.4 (addr, RIP 192.0.2.50 on eth1, set DSCP 11)\nset up VIP 2001:db8::4 (addr, RIP 2001:db8:1::41)"
	if got := whats(planRealServer(ctx, g.realServer, rs.vips, rs)); got != want {
		t.Fatalf("plan:\n%s\nwant\n%s", got, want)
	}
	// A broken addr VIP is repaired.
	rs.vips[1].OK = false
	if got := whats(planRealServer(ctx, f.realServer, rs.vips, rs)); got != "repair VIP 10.0.0.4 (addr, RIP 192.0.2.50 on eth1, set DSCP 10) (not running as set up)" {
		t.Fatalf("plan: %s", got)
	}
}

func TestAddrModeParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		line     int
		want     string
	}{
		{"addr with dscp", "realserver:\n  vips:\n    - {vip: 10.0.0.1, mode: addr, rip: 192.0.2.50, dscp: 5}\n", 3,
			"--dscp 5 given for VIP 10.0.0.1 in addr mode: addr mode uses no DSCP code (the VIP is known by --rip); leave --dscp out, or use --mode dscp"},
		{"addr without rip", "realserver:\n  vips:\n    - {vip: 10.0.0.1, mode: addr}\n", 3, "VIP 10.0.0.1 in addr mode needs its RIP"},
		{"rip in dscp mode", "realserver:\n  vips:\n    - {vip: 10.0.0.1, dscp: 5, rip: 192.0.2.50}\n", 3, "--rip 192.0.2.50 given for VIP 10.0.0.1 in dscp mode"},
		{"bad rip", "realserver:\n  vips:\n    - {vip: 10.0.0.1, mode: addr, rip: 192.0.2.500}\n", 3, `rip "192.0.2.500" is not an IP address`},
		{"set_dscp 64", "realserver:\n  vips:\n    - {vip: 10.0.0.1, dscp: 5, set_dscp: 64}\n", 3, "set_dscp 64 is out of range: give the DSCP 0-63"},
		{"set_dscp on ipip", "realserver:\n  vips:\n    - {vip: 10.0.0.1, mode: ipip, set_dscp: 0}\n", 3, "--set-dscp 0 given for VIP 10.0.0.1 in ipip mode"},
		{"same rip twice", "realserver:\n  vips:\n    - {vip: 10.0.0.1, mode: addr, rip: 192.0.2.50}\n    - {vip: 10.0.0.2, mode: addr, rip: 192.0.2.50}\n", 4,
			"VIPs 10.0.0.2 and 10.0.0.1 (at f:3) both use RIP 192.0.2.50: the real server could not tell them apart; give each addr-mode VIP a rip of its own"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseFile("f", []byte(tc.in))
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("Parse: %v; want Errors", err)
			}
			if e := es[0]; e.pos.Line != tc.line || !strings.Contains(e.Msg, tc.want) {
				t.Errorf("error = %q (line %d); want line %d and %q", e.Error(), e.pos.Line, tc.line, tc.want)
			}
		})
	}
}
