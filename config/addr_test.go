package config

import (
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/dsrtypes"
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
	out := modeRoundTrip(t, in, dsrtypes.ModeAddr,
		"add service tcp 10.0.0.6:443 (addr, wlc)\nadd real 10.1.0.106 to service tcp 10.0.0.6:443 (weight 5)")
	if strings.Contains(out, "dscp") {
		t.Errorf("saved file names a dscp:\n%s", out)
	}
	_, err := parseFile("f", []byte("director:\n  services:\n    - vip: 10.0.0.6:443\n      mode: addr\n      dscp: 5\n"))
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
	file := func(mode string) *File {
		return mustParse(t, "director:\n  services:\n    - {vip: 10.0.0.6:443, mode: "+mode+", reals: [{address: 10.1.0.106, weight: 1}]}\n")
	}
	// What Show reads of it: not managed, its reals masquerading.
	c := file("nat").director.Services[0].Service
	c.Managed, c.Reals[0].Forward = false, director.Forward(dsrtypes.ModeNAT)
	cur := []director.Service{c}
	for mode, want := range map[string]string{
		"addr": "delete service tcp 10.0.0.6:443 (nat, wlc)\nadd service tcp 10.0.0.6:443 (addr, wlc)\nadd real 10.1.0.106 to service tcp 10.0.0.6:443 (weight 1)",
		"nat":  "",
	} {
		if got := whats(planDirector(file(mode).director, cur, newFakeDirector())); got != want {
			t.Errorf("mode %s over an untagged nat service:\n%s\nwant\n%s", mode, got, want)
		}
	}
}
