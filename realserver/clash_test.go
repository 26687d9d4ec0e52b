package realserver_test

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/config"
	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/ipvs"
	"github.com/l3dsr/l3dsr/realserver"
)

// The one rule for "these two VIPs clash" (maptable.Clash) is asked in four
// places: the config file's real-server section, its director section,
// 'realserver up' and the director's own check. Given the same two VIPs,
// all four must answer alike.
//
// A VIP maps onto the director as a service VIP:80 with one real: its local
// address if it has one, else an address no local of the test uses (the
// real server is reached at some address, and an entry for any address
// serves it unless an entry for that address exists).

func dscpVIP(vip string, code uint8, local string) realserver.Config {
	c := realserver.Config{VIP: netip.MustParseAddr(vip), Mode: dsrtypes.ModeDSCP, DSCP: &code}
	if local != "" {
		c.Local = netip.MustParseAddr(local)
	}
	return c
}

func ipipVIP(vip string) realserver.Config {
	return realserver.Config{VIP: netip.MustParseAddr(vip), Mode: dsrtypes.ModeIPIP}
}

func drVIP(vip string) realserver.Config {
	return realserver.Config{VIP: netip.MustParseAddr(vip), Mode: dsrtypes.ModeDR}
}

// realOf is the address the director sends c's traffic to.
func realOf(c realserver.Config) netip.Addr {
	switch {
	case c.Local.IsValid():
		return c.Local
	case c.VIP.Is4():
		return netip.MustParseAddr("192.0.2.99")
	}
	return netip.MustParseAddr("2001:db8:1::99")
}

func serviceOf(c realserver.Config) director.Service {
	s := director.Service{Key: director.Key{VIP: c.VIP, Port: 80, Proto: ipvs.ProtoTCP}, Mode: c.Mode, Scheduler: "wlc",
		Reals: []director.Real{{Addr: realOf(c), Weight: 1}}}
	if c.DSCP != nil {
		s.DSCP = *c.DSCP
	}
	return s
}

// yamlVIP and yamlService write c as the config file does.
func yamlVIP(c realserver.Config) string {
	if c.Mode != dsrtypes.ModeDSCP {
		return fmt.Sprintf("    - {vip: %s, mode: %s}\n", c.VIP, c.Mode)
	}
	s := fmt.Sprintf("    - {vip: %s, dscp: %d", c.VIP, *c.DSCP)
	if c.Local.IsValid() {
		s += ", local: " + c.Local.String()
	}
	return s + "}\n"
}

func yamlService(c realserver.Config) string {
	s := serviceOf(c)
	mode := string(c.Mode)
	if c.Mode == dsrtypes.ModeDSCP {
		mode = fmt.Sprintf("dscp\n      dscp: %d", s.DSCP)
	}
	return fmt.Sprintf("    - vip: %q\n      mode: %s\n      reals:\n        - {address: %s}\n",
		netip.AddrPortFrom(c.VIP, 80), mode, s.Reals[0].Addr)
}

// clashVerdicts asks all four places whether a and b clash.
func clashVerdicts(t *testing.T, a, b realserver.Config) map[string]bool {
	t.Helper()
	load := func(text string) error {
		p := filepath.Join(t.TempDir(), "l3dsr.conf")
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := config.Load(p)
		var es config.Errors
		if err != nil && !errors.As(err, &es) {
			t.Fatalf("loading %q: %v", text, err)
		}
		if err != nil && !strings.Contains(err.Error(), "could not tell them apart") {
			t.Fatalf("loading %q: not a clash: %v", text, err)
		}
		return err
	}
	v := map[string]bool{}
	v["config realserver"] = load("realserver:\n  vips:\n"+yamlVIP(a)+yamlVIP(b)) != nil
	v["config director"] = load("director:\n  services:\n"+yamlService(a)+yamlService(b)) != nil
	err := realserver.UpAll(t, a, b)
	if err != nil && !errors.Is(err, realserver.ErrConflict) {
		t.Fatalf("realserver up %v, %v: not a clash: %v", a, b, err)
	}
	v["realserver up"] = err != nil
	v["director"] = director.CheckDSCPConflicts([]director.Service{serviceOf(a), serviceOf(b)}) != nil
	return v
}

func TestClashRuleTable(t *testing.T) {
	tests := []struct {
		name  string
		a, b  realserver.Config
		clash bool
	}{
		{"dual stack, one code", dscpVIP("10.0.0.1", 19, ""), dscpVIP("2001:db8::1", 19, ""), false},
		{"dual stack, code 63", dscpVIP("2001:db8::1", 63, ""), dscpVIP("10.0.0.1", 63, ""), false},
		{"two IPv4, one code", dscpVIP("10.0.0.1", 19, ""), dscpVIP("10.0.0.2", 19, ""), true},
		{"two IPv6, one code", dscpVIP("2001:db8::1", 19, ""), dscpVIP("2001:db8::2", 19, ""), true},
		{"two IPv4, two codes", dscpVIP("10.0.0.1", 19, ""), dscpVIP("10.0.0.2", 20, ""), false},
		{"one code, two locals", dscpVIP("10.0.0.1", 19, "192.0.2.10"), dscpVIP("10.0.0.2", 19, "192.0.2.11"), false},
		{"one code, one local", dscpVIP("10.0.0.1", 19, "192.0.2.10"), dscpVIP("10.0.0.2", 19, "192.0.2.10"), true},
		{"one code, IPv6 local", dscpVIP("2001:db8::1", 5, "2001:db8:1::10"), dscpVIP("2001:db8::2", 5, "2001:db8:1::10"), true},
		{"one code, a local and any", dscpVIP("10.0.0.1", 19, "192.0.2.10"), dscpVIP("10.0.0.2", 19, ""), false},
		{"dual stack with locals", dscpVIP("10.0.0.1", 19, "192.0.2.10"), dscpVIP("2001:db8::1", 19, "2001:db8:1::10"), false},
		{"dscp and ipip", dscpVIP("10.0.0.1", 19, ""), ipipVIP("10.0.0.2"), false},
		{"dscp and dr", dscpVIP("2001:db8::1", 19, ""), drVIP("2001:db8::2"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for where, clash := range clashVerdicts(t, tc.a, tc.b) {
				if clash != tc.clash {
					t.Errorf("%s: clash = %v, want %v", where, clash, tc.clash)
				}
			}
		})
	}
}

// Every pair drawn from a few VIPs, codes, locals and modes: the four places
// agree on each, whatever the answer.
func TestClashRuleAgreesEverywhere(t *testing.T) {
	locals := map[bool][]string{true: {"", "192.0.2.10"}, false: {"", "2001:db8:1::10"}}
	var all []realserver.Config
	for _, vip := range []string{"10.0.0.1", "10.0.0.2", "2001:db8::1", "2001:db8::2"} {
		all = append(all, ipipVIP(vip), drVIP(vip))
		for _, code := range []uint8{19, 20} {
			for _, l := range locals[netip.MustParseAddr(vip).Is4()] {
				all = append(all, dscpVIP(vip, code, l))
			}
		}
	}
	var pairs, clashes int
	for _, a := range all {
		for _, b := range all {
			if a.VIP == b.VIP {
				continue // one VIP twice is refused as such, not as a clash
			}
			pairs++
			v := clashVerdicts(t, a, b)
			want := v["director"]
			for _, clash := range v {
				if clash != want {
					t.Errorf("%v and %v: %v", a, b, v)
					break
				}
			}
			if want {
				clashes++
			}
		}
	}
	if clashes == 0 || clashes == pairs {
		t.Errorf("%d of %d pairs clash: the pools test nothing", clashes, pairs)
	}
	t.Logf("%d pairs, %d clash", pairs, clashes)
}
