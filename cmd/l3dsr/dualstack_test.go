package main

import (
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/internal/testfiles"
)

const dualStackPlan = "plan (dry run, nothing changed): 2 change(s)\n  set up VIP 10.0.0.1 (dscp, DSCP 19)\n  set up VIP 2001:db8::1 (dscp, DSCP 19)\n"

// The v4 and the v6 address of a dual-stack VIP may share a code: the map's
// key has the family (issue 23). Once the file refused it with "the real
// server could not tell them apart", exit 2.
func TestApplyDualStackOneCode(t *testing.T) {
	installHost(t)
	p := writeConf(t, "realserver:\n  vips:\n    - {vip: 10.0.0.1, dscp: 19}\n    - {vip: 2001:db8::1, dscp: 19}\n")
	rc, out, errs := runCLI("apply", "--dry-run", "-f", p)
	if rc != exitOK || errs != "" || out != dualStackPlan {
		t.Fatalf("rc %d, stdout %q, stderr %q; want exit 0 and %q", rc, out, errs, dualStackPlan)
	}

	// Two IPv4 VIPs with one code are still refused, naming both.
	p = writeConf(t, "realserver:\n  vips:\n    - {vip: 10.0.0.1, dscp: 19}\n    - {vip: 10.0.0.2, dscp: 19}\n")
	rc, _, errs = runCLI("apply", "--dry-run", "-f", p)
	if rc != exitUsage || !strings.Contains(errs, p+":4: VIPs 10.0.0.2 and 10.0.0.1 (at "+p+":3) both use DSCP 19") {
		t.Errorf("two IPv4 VIPs: rc %d, stderr %q", rc, errs)
	}
}

// A dsrtools directory with a dual-stack VIP converts, and the result
// applies.
func TestSaveFromDSRToolsDualStackApplies(t *testing.T) {
	installHost(t)
	dir := testfiles.Write(t, map[string]string{"vips.conf": "10.0.0.1=19\n2001:db8::1=19\n"})
	rc, out, errs := runCLI("save", "--from-dsrtools", dir)
	if rc != exitOK || errs != "" {
		t.Fatalf("save: rc %d, stderr %q", rc, errs)
	}
	p := writeConf(t, out)
	rc, out, errs = runCLI("apply", "--dry-run", "-f", p)
	if rc != exitOK || errs != "" || out != dualStackPlan {
		t.Fatalf("apply: rc %d, stdout %q, stderr %q; want exit 0 and %q", rc, out, errs, dualStackPlan)
	}
}
