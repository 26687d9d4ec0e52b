package config

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/ipvs"
)

// mode: addr in the director section: a service parses, plans without a
// DSCP, saves back to a file that plans nothing; a dscp with it is refused
// at its line.
func TestDirectorModeAddr(t *testing.T) {
	in := `director:
  services:
    - vip: 10.0.0.6:443
      mode: addr
      reals:
        - {address: 10.1.0.106, weight: 5}
`
	f := mustParse(t, in)
	if s := f.director.Services[0].Service; s.Mode != dsrtypes.ModeAddr || s.DSCP != 0 {
		t.Fatalf("addr service parsed as %+v", s)
	}
	d := newFakeDirector()
	steps := planDirector(f.director, nil, d)
	want := "add service tcp 10.0.0.6:443 (addr, wlc)\nadd real 10.1.0.106 to service tcp 10.0.0.6:443 (weight 5)"
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
	if !strings.Contains(string(out), "      mode: addr\n") || strings.Contains(string(out), "dscp") {
		t.Errorf("saved file: want mode: addr and no dscp:\n%s", out)
	}
	g, err := parseFile("saved", out)
	if err != nil {
		t.Fatalf("%v in\n%s", err, out)
	}
	if steps := planDirector(g.director, d.svcs, d); len(steps) != 0 {
		t.Errorf("director plan after save: %s", whats(steps))
	}

	_, err = parseFile("f", []byte("director:\n  services:\n    - vip: 10.0.0.6:443\n      mode: addr\n      dscp: 5\n"))
	const msg = "f:5: service tcp 10.0.0.6:443 is in addr mode, which uses no DSCP code: drop 'dscp', or use 'mode: dscp'"
	if err == nil || !strings.Contains(err.Error(), msg) {
		t.Errorf("addr with dscp: %v, want %q", err, msg)
	}
	// Two VIPs on one real address cannot be told apart on the real server.
	_, err = parseFile("f", []byte(`director:
  services:
    - {vip: 10.0.0.6:443, mode: addr, reals: [{address: 10.1.0.106}]}
    - {vip: 10.0.0.7:443, mode: addr, reals: [{address: 10.1.0.106}]}
`))
	if err == nil || !strings.Contains(err.Error(), "address 10.1.0.106 would stand for two VIPs on its real server in addr mode") {
		t.Errorf("two VIPs on one address: %v", err)
	}
}

// An untagged masquerading service (ipvsadm's, or an addr service that
// ipvsadm -S | ipvsadm -R stripped of its tag) reads as nat; a file that
// wants it in addr mode makes it anew, so that it carries the tag, where
// a file that wants nat takes it as it is.
func TestPlanAddrOverUntaggedNAT(t *testing.T) {
	k := director.Key{VIP: netip.MustParseAddr("10.0.0.6"), Port: 443, Proto: ipvs.ProtoTCP}
	cur := []director.Service{{Key: k, Mode: dsrtypes.ModeNAT, Scheduler: "wlc",
		Reals: []director.Real{{Addr: netip.MustParseAddr("10.1.0.106"), Weight: 1, Forward: ipvs.Masquerade}}}}
	for mode, want := range map[string]string{
		"addr": "delete service tcp 10.0.0.6:443 (nat, wlc)\nadd service tcp 10.0.0.6:443 (addr, wlc)\nadd real 10.1.0.106 to service tcp 10.0.0.6:443 (weight 1)",
		"nat":  "",
	} {
		f := mustParse(t, "director:\n  services:\n    - {vip: 10.0.0.6:443, mode: "+mode+", reals: [{address: 10.1.0.106, weight: 1}]}\n")
		if got := whats(planDirector(f.director, cur, newFakeDirector())); got != want {
			t.Errorf("mode %s over an untagged nat service:\n%s\nwant\n%s", mode, got, want)
		}
	}
}
