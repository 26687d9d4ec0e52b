package main

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/maptable"
	"github.com/l3dsr/l3dsr/realserver"
)

type fakeRS struct {
	ups     []realserver.Config
	variant xtrule.Variant
	ingress *realserver.Ingress // UpIngress's
	paths   []maptable.Mode     // SetMapPath's
	downs   []netip.Addr
	codes   []uint8 // the --dscp of each DownCode
	applied realserver.Applied
	report  realserver.Report
	err     error
	opened  bool
	closed  int
}

func (f *fakeRS) Up(_ context.Context, c realserver.Config, v xtrule.Variant) (realserver.Applied, error) {
	f.ups, f.variant = append(f.ups, c), v
	a := f.applied
	a.Config = c
	return a, f.err
}

// SetMapPath is apply's switch of the map path.
func (f *fakeRS) SetMapPath(_ context.Context, want maptable.Mode, _ xtrule.Variant) (realserver.Applied, error) {
	f.paths = append(f.paths, want)
	return realserver.Applied{Changes: []string{"map path set to " + string(want)}}, f.err
}

func (f *fakeRS) UpIngress(ctx context.Context, c realserver.Config, v xtrule.Variant, ing *realserver.Ingress) (realserver.Applied, error) {
	f.ingress = ing
	return f.Up(ctx, c, v)
}

func (f *fakeRS) Down(_ context.Context, vip netip.Addr) (realserver.Applied, error) {
	f.downs = append(f.downs, vip)
	return f.applied, f.err
}

func (f *fakeRS) DownCode(_ context.Context, vip netip.Addr, d uint8) (realserver.Applied, error) {
	f.downs, f.codes = append(f.downs, vip), append(f.codes, d)
	return f.applied, f.err
}

func (f *fakeRS) Show(context.Context, xtrule.Variant) (realserver.Report, error) {
	return f.report, f.err
}

func (f *fakeRS) Close() error { f.closed++; return nil }

func withFakeRS(t *testing.T) *fakeRS {
	t.Helper()
	// show and apply open the map themselves to see that the module is
	// there: never this host's.
	fakeSystem(t, newFakeTable())
	f := &fakeRS{}
	sysFor(t).openRealServer = func() (rsManager, error) { f.opened = true; return f, nil }
	return f
}

// Usage errors exit 2, name the bad value, and never reach the system.
func TestRealServerUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"realserver", "up", "--vip", "10.0.0.1", "--dscp", "64"}, "DSCP 64 is out of range: use 0-63"},
		{[]string{"realserver", "up", "--vip", "10.0.0.1"}, "needs its DSCP code"},
		{[]string{"realserver", "up", "--dscp", "1"}, "--vip is missing"},
		{[]string{"realserver", "up", "--vip", "10.0.0.1/32", "--dscp", "1"}, `--vip "10.0.0.1/32" is a prefix`},
		{[]string{"realserver", "up", "--vip", "10.0.0.1", "--dscp", "1", "--local", "2001:db8::1"}, "VIP 10.0.0.1 is IPv4 but --local 2001:db8::1 is IPv6"},
		{[]string{"realserver", "up", "--vip", "10.0.0.1", "--mode", "ipip", "--dscp", "3"}, "DSCP 3 given for VIP 10.0.0.1 in ipip mode"},
		{[]string{"realserver", "up", "--vip", "10.0.0.1", "--mode", "gre"}, `invalid argument "gre" for "--mode" flag: mode "gre": use dscp, addr or ipip`},
		{[]string{"realserver", "up", "--vip", "10.0.0.1", "--mode", "ipip", "--mss", "abc"}, `--mss "abc" is not a valid MSS`},
		{[]string{"realserver", "up", "--vip", "10.0.0.1", "--mode", "ipip", "--mss", "100"}, "MSS 100 is out of range"},
		{[]string{"realserver", "up", "--vip", "10.0.0.1", "--dscp", "1", "--iptables", "xt"}, `iptables variant "xt" is unknown`},
		{[]string{"realserver", "down"}, "--vip is missing"},
		{[]string{"realserver", "down", "--vip", "nope"}, `--vip "nope" is not an IP address`},
		{[]string{"realserver", "down", "--vip", "10.0.0.1", "--dscp", "64"}, `invalid argument "64" for "--dscp" flag: DSCP 64 is out of range`},
		{[]string{"realserver", "up", "--vip", "10.0.0.1", "--mode", "dr", "--dscp", "7"}, "DSCP 7 given for VIP 10.0.0.1 in dr mode"},
		{[]string{"realserver", "show", "-o", "yaml"}, `output format "yaml" is unknown`},
		{[]string{"realserver"}, "needs a subcommand: up, down or show"},
		{[]string{"realserver", "up", "--vip", "10.0.0.1", "--mode", "addr", "--rip", "192.0.2.50", "--dscp", "5"},
			"--dscp 5 given for VIP 10.0.0.1 in addr mode: addr mode uses no DSCP code (the VIP is known by --rip); leave --dscp out, or use --mode dscp"},
		{[]string{"realserver", "up", "--vip", "10.0.0.1", "--mode", "addr"}, "VIP 10.0.0.1 in addr mode needs its RIP: give --rip"},
		{[]string{"realserver", "up", "--vip", "10.0.0.1", "--mode", "addr", "--rip", "2001:db8::5"}, "VIP 10.0.0.1 is IPv4 but --rip 2001:db8::5 is IPv6: give a RIP of the VIP's family"},
		{[]string{"realserver", "up", "--vip", "10.0.0.1", "--mode", "addr", "--rip", "10.0.0.1"}, "--rip 10.0.0.1 is VIP 10.0.0.1 itself"},
		{[]string{"realserver", "up", "--vip", "10.0.0.1", "--mode", "addr", "--rip", "192.0.2.50", "--local", "192.0.2.10"}, "--local 192.0.2.10 given for VIP 10.0.0.1 in addr mode"},
		{[]string{"realserver", "up", "--vip", "10.0.0.1", "--dscp", "5", "--rip", "192.0.2.50"}, "--rip 192.0.2.50 given for VIP 10.0.0.1 in dscp mode: --rip and --dev are for addr mode only"},
		{[]string{"realserver", "up", "--vip", "10.0.0.1", "--mode", "ipip", "--dev", "eth0"}, "--dev eth0 given for VIP 10.0.0.1 in ipip mode"},
		{[]string{"realserver", "up", "--vip", "10.0.0.1", "--mode", "dr", "--set-dscp", "0"}, "--set-dscp 0 given for VIP 10.0.0.1 in dr mode"},
		{[]string{"realserver", "up", "--vip", "10.0.0.1", "--dscp", "5", "--set-dscp", "64"}, `invalid argument "64" for "--set-dscp" flag: DSCP 64 is out of range`},
	} {
		t.Run(strings.Join(tc.args[1:], "_"), func(t *testing.T) {
			f := withFakeRS(t)
			rc, _, stderr := runCLI(tc.args...)
			if rc != exitUsage || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit 2 and %q", rc, stderr, tc.want)
			}
			if f.opened {
				t.Fatalf("a usage error reached the system")
			}
		})
	}
}

func TestRealServerUp(t *testing.T) {
	f := withFakeRS(t)
	t.Setenv(xtrule.VariantEnv, "legacy")
	f.applied = realserver.Applied{Changes: []string{"added 2001:db8::1/128 to lo"}}
	rc, out, stderr := runCLI("realserver", "up", "--vip", "2001:db8::1", "--dscp", "0x0a", "--local", "2001:db8::10")
	if rc != exitOK {
		t.Fatalf("exit %d: %s", rc, stderr)
	}
	c := f.ups[0]
	if c.VIP.String() != "2001:db8::1" || *c.DSCP != 10 || c.Local.String() != "2001:db8::10" || c.Mode != dsrtypes.ModeDSCP || f.variant != xtrule.Legacy {
		t.Fatalf("Up got %+v variant %q", c, f.variant)
	}
	if out != "set up VIP 2001:db8::1 (dscp, DSCP 10, local 2001:db8::10):\n  added 2001:db8::1/128 to lo\n" {
		t.Fatalf("stdout %q", out)
	}

	f.applied = realserver.Applied{}
	rc, out, _ = runCLI("realserver", "up", "--vip", "10.0.0.2", "--mode", "ipip", "--mss", "1400")
	if rc != exitOK || out != "no change: VIP 10.0.0.2 (ipip, MSS 1400) is set up\n" || f.ups[1].MSS != 1400 {
		t.Fatalf("exit %d stdout %q config %+v", rc, out, f.ups[1])
	}

	// A runtime failure (a conflict with the running setup) exits 1.
	f.err = fmt.Errorf("VIP 10.0.0.9 and VIP 10.0.0.1 would both be DSCP 21: %w", realserver.ErrConflict)
	rc, _, stderr = runCLI("realserver", "up", "--vip", "10.0.0.9", "--dscp", "21")
	if rc != exitRuntime || !strings.Contains(stderr, "VIP 10.0.0.9 and VIP 10.0.0.1") {
		t.Fatalf("conflict: exit %d, stderr %q", rc, stderr)
	}

	// A code a DADDR rule l3dsr did not write maps elsewhere is the command
	// line's to fix: exit 2, the rule named.
	f.err = fmt.Errorf("setting up: IPv4 DSCP 1 is mapped to VIP 10.8.0.1 already, by a DADDR rule l3dsr did not write: iptables-legacy -t mangle -A INPUT ...: %w", realserver.ErrRuleClash)
	rc, _, stderr = runCLI("realserver", "up", "--vip", "10.8.0.9", "--dscp", "1")
	if rc != exitUsage || !strings.Contains(stderr, "iptables-legacy -t mangle -A INPUT") {
		t.Fatalf("rule clash: exit %d, stderr %q", rc, stderr)
	}
}

// addr mode's flags reach Up; a RIP the host cannot use is a usage error.
func TestRealServerUpAddr(t *testing.T) {
	f := withFakeRS(t)
	rc, out, stderr := runCLI("realserver", "up", "--vip", "10.0.0.4", "--mode", "addr", "--rip", "192.0.2.50", "--dev", "eth1", "--set-dscp", "0")
	if rc != exitOK {
		t.Fatalf("exit %d: %s", rc, stderr)
	}
	c := f.ups[0]
	if c.Mode != dsrtypes.ModeAddr || c.RIP.String() != "192.0.2.50" || c.Dev != "eth1" || c.SetDSCP == nil || *c.SetDSCP != 0 || c.DSCP != nil {
		t.Fatalf("Up got %+v", c)
	}
	if out != "no change: VIP 10.0.0.4 (addr, RIP 192.0.2.50 on eth1, set DSCP 0) is set up\n" {
		t.Fatalf("stdout %q", out)
	}
	f.err = fmt.Errorf("setting up: --rip 192.0.2.10 is the primary address of eth0: %w", realserver.ErrHostInput)
	rc, _, stderr = runCLI("realserver", "up", "--vip", "10.0.0.4", "--mode", "addr", "--rip", "192.0.2.10")
	if rc != exitUsage || !strings.Contains(stderr, "is the primary address of eth0") {
		t.Fatalf("host input: exit %d, stderr %q", rc, stderr)
	}
}

func TestRealServerDown(t *testing.T) {
	f := withFakeRS(t)
	f.applied = realserver.Applied{Config: realserver.Config{VIP: netip.MustParseAddr("10.0.0.1"), Mode: dsrtypes.ModeDSCP},
		Changes: []string{"removed 10.0.0.1/32 from lo"}, Notes: []string{"kept net.ipv4.conf.all.rp_filter = 0: it was changed since up set it to 2"}}
	rc, out, _ := runCLI("realserver", "down", "--vip", "10.0.0.1")
	if rc != exitOK || f.downs[0].String() != "10.0.0.1" {
		t.Fatalf("exit %d downs %v", rc, f.downs)
	}
	want := "took down VIP 10.0.0.1 (dscp):\n  removed 10.0.0.1/32 from lo\n  note: kept net.ipv4.conf.all.rp_filter = 0: it was changed since up set it to 2\n"
	if out != want {
		t.Fatalf("stdout\n%q\nwant\n%q", out, want)
	}
	f.err = realserver.ErrNotSetUp
	if rc, _, _ := runCLI("realserver", "down", "--vip", "10.0.0.1"); rc != exitRuntime {
		t.Fatalf("failed down: exit %d", rc)
	}
}

func TestRealServerShow(t *testing.T) {
	f := withFakeRS(t)
	d := uint8(21)
	f.report = realserver.Report{
		VIPs: []realserver.VIPStatus{{
			Config:  realserver.Config{VIP: netip.MustParseAddr("10.0.0.1"), Mode: dsrtypes.ModeDSCP, DSCP: &d},
			OnLo:    true,
			Mapping: &maptable.Entry{Family: dsrtypes.IPv4, DSCP: 21, VIP: netip.MustParseAddr("10.0.0.1"), Packets: 5, Bytes: 420},
			Rule:    true, OK: true,
		}},
		Sysctls:  []realserver.SysctlStatus{{Key: "net.ipv4.conf.all.arp_ignore", Value: "1", Want: "1", OK: true}},
		Problems: []realserver.Problem{},
	}
	rc, out, _ := runCLI("realserver", "show")
	if rc != exitOK || !strings.Contains(out, "10.0.0.1  dscp  21    any    -    ok     5        420") || strings.Contains(out, "problem") {
		t.Fatalf("exit %d stdout\n%s", rc, out)
	}
	f.report.Problems = []realserver.Problem{{VIP: "10.0.0.1", What: "VIP 10.0.0.1 is not on lo", Fix: "run 'l3dsr realserver up --vip 10.0.0.1 --dscp 21'"}}
	rc, out, stderr := runCLI("realserver", "show")
	if rc != exitRuntime || !strings.Contains(out, "problem: VIP 10.0.0.1: VIP 10.0.0.1 is not on lo\n  fix: run 'l3dsr realserver up --vip 10.0.0.1 --dscp 21'") ||
		!strings.Contains(stderr, "1 problem(s) found") {
		t.Fatalf("exit %d stdout\n%s\nstderr %s", rc, out, stderr)
	}
	rc, out, _ = runCLI("realserver", "show", "-o", "json")
	if rc != exitRuntime || !strings.Contains(out, `"packets": 5`) || !strings.Contains(out, `"fix": "run 'l3dsr realserver up --vip 10.0.0.1 --dscp 21'"`) {
		t.Fatalf("json: exit %d\n%s", rc, out)
	}
}
