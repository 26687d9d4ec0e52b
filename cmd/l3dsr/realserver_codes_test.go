package main

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/maptable"
	"github.com/l3dsr/l3dsr/realserver"
)

// A VIP with several codes: up adds one beside the others, down --dscp takes
// one off and says which stay, a code the VIP has not is a usage error.
func TestRealServerCodes(t *testing.T) {
	f := withFakeRS(t)
	vip := netip.MustParseAddr("10.0.0.1")
	d19, d20 := uint8(19), uint8(20)

	f.applied = realserver.Applied{Changes: []string{"mapped IPv4 DSCP 20 local any -> VIP 10.0.0.1"}, Codes: realserver.Codes{19, 20}}
	rc, out, stderr := runCLI("realserver", "up", "--vip", "10.0.0.1", "--dscp", "20")
	want := "set up VIP 10.0.0.1 (dscp, DSCP 20), which has DSCP 19, 20 now:\n  mapped IPv4 DSCP 20 local any -> VIP 10.0.0.1\n"
	if rc != exitOK || out != want {
		t.Fatalf("up of a second code: exit %d, stdout\n%q\nwant\n%q\n%s", rc, out, want, stderr)
	}

	f.applied = realserver.Applied{Config: realserver.Config{VIP: vip, Mode: dsrtypes.ModeDSCP, DSCP: &d19},
		Changes: []string{"removed the mapping IPv4 DSCP 19 local any -> VIP 10.0.0.1"}, Codes: realserver.Codes{20}}
	rc, out, _ = runCLI("realserver", "down", "--vip", "10.0.0.1", "--dscp", "19")
	want = "took DSCP 19 off VIP 10.0.0.1 (dscp), which stays up with DSCP 20:\n  removed the mapping IPv4 DSCP 19 local any -> VIP 10.0.0.1\n"
	if rc != exitOK || out != want || len(f.codes) != 1 || f.codes[0] != 19 || f.downs[0] != vip {
		t.Fatalf("down --dscp: exit %d, codes %v, stdout\n%q\nwant\n%q", rc, f.codes, out, want)
	}

	// Its last code takes the VIP down, said as down says it.
	f.applied = realserver.Applied{Config: realserver.Config{VIP: vip, Mode: dsrtypes.ModeDSCP, DSCP: &d20}, Changes: []string{"removed 10.0.0.1/32 from lo"}}
	rc, out, _ = runCLI("realserver", "down", "--vip", "10.0.0.1", "--dscp", "20")
	if want := "took down VIP 10.0.0.1 (dscp, DSCP 20):\n  removed 10.0.0.1/32 from lo\n"; rc != exitOK || out != want {
		t.Fatalf("down --dscp of the last code: exit %d, stdout %q, want %q", rc, out, want)
	}

	// A code the VIP does not have: exit 2, the manager's text (which
	// lists the VIP's codes) on stderr, nothing on stdout.
	f.applied = realserver.Applied{}
	f.err = fmt.Errorf("VIP 10.0.0.1 has no DSCP 7: its codes are 19, 20; give one of them, or leave --dscp out to take the whole VIP down: %w", realserver.ErrNoSuchCode)
	rc, out, stderr = runCLI("realserver", "down", "--vip", "10.0.0.1", "--dscp", "7")
	if rc != exitUsage || out != "" || !strings.HasPrefix(stderr, "l3dsr: VIP 10.0.0.1 has no DSCP 7: its codes are 19, 20;") {
		t.Fatalf("down --dscp 7: exit %d, stdout %q, stderr %q", rc, out, stderr)
	}
	// Not set up at all is no usage error: exit 1, as down without --dscp.
	f.err = realserver.ErrNotSetUp
	if rc, _, _ := runCLI("realserver", "down", "--vip", "10.0.0.9", "--dscp", "7"); rc != exitRuntime {
		t.Fatalf("down --dscp of a VIP not set up: exit %d", rc)
	}
}

// show lists every code of a VIP on a line of its own, with its counters;
// the JSON keeps dscp and mapping (the first code's) and adds dscps and
// mappings.
func TestRealServerShowCodes(t *testing.T) {
	f := withFakeRS(t)
	vip := netip.MustParseAddr("10.0.0.1")
	d := uint8(19)
	e19 := maptable.Entry{Family: dsrtypes.IPv4, DSCP: 19, VIP: vip, Packets: 5, Bytes: 420}
	e20 := maptable.Entry{Family: dsrtypes.IPv4, DSCP: 20, VIP: vip, Packets: 7, Bytes: 588}
	f.report = realserver.Report{
		VIPs: []realserver.VIPStatus{{
			Config: realserver.Config{VIP: vip, Mode: dsrtypes.ModeDSCP, DSCP: &d},
			DSCPs:  realserver.Codes{19, 20}, OnLo: true, Mapping: &e19, Mappings: []maptable.Entry{e19, e20}, Rule: true, OK: true,
		}},
		Sysctls:  []realserver.SysctlStatus{},
		Problems: []realserver.Problem{},
	}
	rc, out, _ := runCLI("realserver", "show")
	want := "VIP       MODE  DSCP  LOCAL  MSS  STATE  PACKETS  BYTES\n" +
		"10.0.0.1  dscp  19    any    -    ok     5        420\n" +
		"10.0.0.1  dscp  20    any    -    ok     7        588\n"
	if rc != exitOK || !strings.HasPrefix(out, want) {
		t.Fatalf("exit %d, stdout\n%s\nwant it to start with\n%s", rc, out, want)
	}
	rc, out, _ = runCLI("realserver", "show", "-o", "json")
	for _, w := range []string{`"dscp": 19,`, "\"dscps\": [\n        19,\n        20\n      ],", `"mapping": {`, `"mappings": [`, `"packets": 7`} {
		if rc != exitOK || !strings.Contains(out, w) {
			t.Fatalf("json: exit %d, no %q in\n%s", rc, w, out)
		}
	}
}
