package main

import (
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/realserver"
)

// handReport is what show reads on the hand-made server of issue 26.
func handReport(t *testing.T, text string) realserver.Report {
	t.Helper()
	rules, err := xtrule.ParseRules(xtrule.IPv4, xtrule.Legacy, "mangle", text)
	if err != nil {
		t.Fatal(err)
	}
	rep := realserver.Report{VIPs: []realserver.VIPStatus{}, Problems: []realserver.Problem{}}
	for _, r := range rules {
		rep.HandWritten = append(rep.HandWritten, realserver.HandRule{Rule: r, VIP: r.VIP.String(), DSCP: "1", Command: r.Command(), OnLo: true})
	}
	return rep
}

func TestSaveFromIPTables(t *testing.T) {
	f := withFakeRS(t)
	f.report = handReport(t, "-A INPUT -m dscp --dscp 0x01 -j DADDR --set-daddr 10.8.0.1\n")
	rc, out, errs := runCLI("save", "--from-iptables")
	if rc != exitOK || !strings.Contains(out, "#   iptables-legacy -t mangle -D INPUT -m dscp --dscp 0x01 -j DADDR --set-daddr 10.8.0.1\n") ||
		!strings.HasSuffix(out, "realserver:\n  iptables: legacy\n  vips:\n    - vip: 10.8.0.1 # by hand: legacy mangle INPUT rule 1\n      dscp: 1\n") {
		t.Errorf("rc %d, stdout %q, stderr %q", rc, out, errs)
	}
	// Two VIPs for one code: the rules are the operator's to fix first.
	f.report = handReport(t, "-A INPUT -m dscp --dscp 0x01 -j DADDR --set-daddr 10.8.0.1\n-A INPUT -m dscp --dscp 0x01 -j DADDR --set-daddr 10.8.0.2\n")
	rc, _, errs = runCLI("save", "--from-iptables")
	if rc != exitUsage || !strings.Contains(errs, "iptables-legacy -t mangle -S INPUT:2: VIPs 10.8.0.2 and 10.8.0.1") {
		t.Errorf("clashing rules: rc %d, stderr %q", rc, errs)
	}
	if rc, _, errs = runCLI("save", "--from-iptables", "--from-dsrtools", "/etc/dsr.d"); rc != exitUsage {
		t.Errorf("both sources: rc %d, stderr %q", rc, errs)
	}
}

// apply --dry-run refuses what apply would: exit 2, the rule named.
func TestApplyRefusesACodeAHandRuleMaps(t *testing.T) {
	f := withFakeRS(t)
	f.report = handReport(t, "-A INPUT -m dscp --dscp 0x01 -j DADDR --set-daddr 10.8.0.1\n")
	p := writeFile(t, "l3dsr.conf", "realserver:\n  vips:\n    - {vip: 10.8.0.9, dscp: 1}\n")
	for _, args := range [][]string{{"apply", "-f", p, "--dry-run"}, {"apply", "-f", p}} {
		rc, out, errs := runCLI(args...)
		if rc != exitUsage || out != "" || !strings.Contains(errs, "nothing was changed: IPv4 DSCP 1 is mapped to VIP 10.8.0.1 already, by a DADDR rule l3dsr did not write: iptables-legacy -t mangle -A INPUT") {
			t.Errorf("%q: rc %d, stdout %q, stderr %q", args, rc, out, errs)
		}
	}
	if len(f.ups) != 0 {
		t.Errorf("apply set up %v", f.ups)
	}
}
