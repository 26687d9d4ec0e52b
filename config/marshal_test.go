package config

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/realserver"
)

// What Marshal writes parses back to the same plan: save then apply is a
// no-op.
func TestMarshalRoundTrip(t *testing.T) {
	f := mustParse(t, good)
	out, err := Marshal(f, "# saved\n")
	if err != nil {
		t.Fatal(err)
	}
	g, err := parseFile("saved", out)
	if err != nil {
		t.Fatalf("%v in\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), "# saved\nrealserver:\n  iptables: nft\n  vips:\n    - vip: 10.0.0.1\n      dscp: 21\n") ||
		!strings.Contains(string(out), `vip: '[2001:db8::1]:53'`) ||
		!strings.Contains(string(out), "- {address: 10.1.0.10, weight: 100}") {
		t.Errorf("unexpected text:\n%s", out)
	}
	d := newFakeDirector()
	for _, s := range f.director.Services {
		d.svcs = append(d.svcs, s.Service)
	}
	if steps := planDirector(g.director, d.svcs, d); len(steps) != 0 {
		t.Errorf("director plan after a round trip: %s", whats(steps))
	}
	rs := newFakeRS()
	if _, err := (Plan{planRealServer(context.Background(), f.realServer, nil, rs)}).Apply(); err != nil {
		t.Fatal(err)
	}
	if steps := planRealServer(context.Background(), g.realServer, rs.vips, rs); len(steps) != 0 {
		t.Errorf("real-server plan after a round trip: %s", whats(steps))
	}
}

func TestMarshalEmpty(t *testing.T) {
	out, err := Marshal(&File{}, "# nothing set up\n")
	if err != nil || string(out) != "# nothing set up\n" {
		t.Fatalf("Marshal = %q, %v", out, err)
	}
	f := mustParse(t, string(out))
	if f.realServer != nil || f.director != nil {
		t.Errorf("parsed back: %+v", f)
	}
}

// Every mode but the default is written out; a note becomes a comment
// beside the address.
func TestMarshalModesAndNotes(t *testing.T) {
	code := uint8(7)
	f := &File{realServer: &RealServer{VIPs: []VIP{
		{Config: realserver.Config{VIP: netip.MustParseAddr("10.0.0.1"), Mode: dsrtypes.ModeDSCP, DSCP: &code}, note: "www.example.com"},
		{Config: realserver.Config{VIP: netip.MustParseAddr("10.0.0.2"), Mode: dsrtypes.ModeIPIP, MSS: 1400}},
		{Config: realserver.Config{VIP: netip.MustParseAddr("2001:db8::3"), Mode: dsrtypes.ModeDR}},
	}}}
	out, err := Marshal(f, "")
	want := "realserver:\n  vips:\n    - vip: 10.0.0.1 # www.example.com\n      dscp: 7\n    - vip: 10.0.0.2\n      mode: ipip\n      mss: 1400\n    - vip: 2001:db8::3\n      mode: dr\n"
	if err != nil || string(out) != want {
		t.Errorf("Marshal = %q, %v; want %q", out, err, want)
	}
}
