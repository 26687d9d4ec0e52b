package config

import (
	"context"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/maptable"
)

const mapPathFile = "realserver:\n  map_path: direct\n  vips:\n    - vip: 10.0.0.1\n      dscp: 21\n    - vip: 10.0.0.2\n      mode: ipip\n"

// The key gives the table-using VIPs their path, and survives a save;
// the default is not written.
func TestMapPathKey(t *testing.T) {
	f := mustParse(t, mapPathFile)
	if a, b := f.realServer.VIPs[0].Config.MapPath, f.realServer.VIPs[1].Config.MapPath; a != maptable.ModeDirect || b != "" {
		t.Errorf("map paths %q, %q; want direct for the dscp VIP, none for ipip", a, b)
	}
	out, err := Marshal(f, "")
	if err != nil || !strings.HasPrefix(string(out), "realserver:\n  map_path: direct\n  vips:\n") {
		t.Errorf("saved (%v):\n%s", err, out)
	}
	if g := mustParse(t, string(out)); g.realServer.mapPath != maptable.ModeDirect {
		t.Errorf("round trip lost it: %q", g.realServer.mapPath)
	}
	if out, _ := Marshal(mustParse(t, backendFile), ""); strings.Contains(string(out), "map_path") {
		t.Errorf("no map_path key, none saved:\n%s", out)
	}
}

func TestMapPathKeyErrors(t *testing.T) {
	for in, want := range map[string]string{
		"  map_path: fast\n":                   `t:2: map_path "fast": use rule (the -j DADDR --map iptables rule) or direct (the module's own hook, no table walk)`,
		"  map_path: direct\n  backend: bpf\n": "map_path direct with backend bpf: the BPF backend has no iptables rule to skip: direct mode is for the module",
	} {
		_, err := parseFile("t", []byte("realserver:\n"+in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v\nwant %q", in, err, want)
		}
	}
}

// A running module with another path gets one step, undone by switching
// back; the same path, no key, or no VIP on the module, none.
func TestPlanMapPath(t *testing.T) {
	ctx := context.Background()
	rs := newFakeRS()
	want := mustParse(t, mapPathFile).realServer
	steps := planMapPath(ctx, want, &maptable.PathInfo{Mode: maptable.ModeRule}, rs)
	if whats(steps) != "set the map path to direct (it is rule)" {
		t.Fatalf("steps %q", whats(steps))
	}
	if _, err := (Plan{steps}).Apply(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rs.calls, ", "); got != "SetMapPath direct " {
		t.Errorf("calls %q", got)
	}
	for _, cur := range []*maptable.PathInfo{nil, {Mode: maptable.ModeDirect}} {
		if s := planMapPath(ctx, want, cur, rs); len(s) != 0 {
			t.Errorf("cur %+v: steps %q, want none", cur, whats(s))
		}
	}
	if s := planMapPath(ctx, mustParse(t, backendFile).realServer, &maptable.PathInfo{Mode: maptable.ModeDirect}, rs); len(s) != 0 {
		t.Errorf("no key: steps %q, want none (the path is left as it is)", whats(s))
	}
}
