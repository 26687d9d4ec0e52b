package main

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/testfiles"
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

// The config file's code lists, through apply and save: a code added to a
// running VIP is one step (the VIP is not taken down), a code twice for one
// VIP is exit 2 naming both lines, save writes the list, and dsrtools lines
// of one VIP become one VIP with a list.
func TestApplySaveCodes(t *testing.T) {
	h := installHost(t)
	running := dscpVIP("10.0.0.1", 19)
	running.DSCPs = realserver.Codes{19}
	h.rs.report.VIPs = []realserver.VIPStatus{running}

	file := writeConf(t, "realserver:\n  vips:\n    - {vip: 10.0.0.1, dscp: [19, 20]}\n")
	rc, out, errs := runCLI("apply", "--dry-run", "-f", file)
	if want := "plan (dry run, nothing changed): 1 change(s)\n  add DSCP 20 to VIP 10.0.0.1 (dscp)\n"; rc != exitOK || out != want {
		t.Fatalf("dry run: exit %d, stdout %q, stderr %q; want %q", rc, out, errs, want)
	}
	h.rs.applied = realserver.Applied{Changes: []string{"mapped IPv4 DSCP 20 local any -> VIP 10.0.0.1"}}
	rc, out, errs = runCLI("apply", "-f", file)
	if want := "add DSCP 20 to VIP 10.0.0.1 (dscp)\n  + mapped IPv4 DSCP 20 local any -> VIP 10.0.0.1\n"; rc != exitOK || out != want ||
		len(h.rs.ups) != 1 || *h.rs.ups[0].DSCP != 20 || len(h.rs.downs) != 0 {
		t.Fatalf("apply: exit %d, stdout %q, stderr %q, ups %v downs %v", rc, out, errs, h.rs.ups, h.rs.downs)
	}

	file = writeConf(t, "realserver:\n  vips:\n    - vip: 10.0.0.1\n      dscp:\n        - 19\n        - 19\n")
	rc, out, errs = runCLI("apply", "-f", file)
	if want := file + ":6: DSCP 19 of VIP 10.0.0.1 is given twice (also at " + file + ":5): keep one\n"; rc != exitUsage || out != "" || !strings.Contains(errs, want) {
		t.Fatalf("a code twice: exit %d, stdout %q, stderr %q; want exit 2 and %q", rc, out, errs, want)
	}

	running.DSCPs = realserver.Codes{19, 20}
	h.rs.report.VIPs = []realserver.VIPStatus{running}
	rc, out, _ = runCLI("save")
	if want := "realserver:\n  vips:\n    - vip: 10.0.0.1\n      dscp: [19, 20]\n"; rc != exitOK || !strings.HasSuffix(out, want) {
		t.Fatalf("save: exit %d, stdout %q; want it to end in %q", rc, out, want)
	}

	dir := testfiles.Write(t, map[string]string{"recode.conf": "10.0.0.2=19\n10.0.0.2 = 0x14\n"})
	rc, out, _ = runCLI("save", "--from-dsrtools", dir)
	if want := "realserver:\n  vips:\n    - vip: 10.0.0.2\n      dscp: [19, 20]\n"; rc != exitOK || !strings.HasSuffix(out, want) {
		t.Fatalf("save --from-dsrtools: exit %d, stdout %q; want it to end in %q", rc, out, want)
	}
	h.rs.report.VIPs = nil
	rc, out, _ = runCLI("apply", "--dry-run", "-f", writeConf(t, out))
	if want := "plan (dry run, nothing changed): 2 change(s)\n  set up VIP 10.0.0.2 (dscp, DSCP 19)\n  add DSCP 20 to VIP 10.0.0.2 (dscp)\n"; rc != exitOK || out != want {
		t.Fatalf("apply of the conversion: exit %d, stdout %q; want %q", rc, out, want)
	}
}
