package config

import (
	"context"
	"strings"
	"testing"
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
	for _, s := range f.Director.Services {
		d.svcs = append(d.svcs, s.Service)
	}
	if steps := PlanDirector(g.Director, d.svcs, d); len(steps) != 0 {
		t.Errorf("director plan after a round trip: %s", whats(steps))
	}
	rs := newFakeRS()
	if _, err := (Plan{PlanRealServer(context.Background(), f.RealServer, nil, rs)}).Apply(); err != nil {
		t.Fatal(err)
	}
	if steps := PlanRealServer(context.Background(), g.RealServer, rs.vips, rs); len(steps) != 0 {
		t.Errorf("real-server plan after a round trip: %s", whats(steps))
	}
}

func TestMarshalEmpty(t *testing.T) {
	out, err := Marshal(&File{}, "# nothing set up\n")
	if err != nil || string(out) != "# nothing set up\n" {
		t.Fatalf("Marshal = %q, %v", out, err)
	}
	f := mustParse(t, string(out))
	if f.RealServer != nil || f.Director != nil {
		t.Errorf("parsed back: %+v", f)
	}
}
