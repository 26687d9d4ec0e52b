package main

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/ipvs"
	"github.com/l3dsr/l3dsr/internal/testfiles"
)

// writeFile writes text to the file name in a new temporary directory and
// returns its path.
func writeFile(t *testing.T, name, text string) string {
	return filepath.Join(testfiles.Write(t, map[string]string{name: text}), name)
}

func writeConf(t *testing.T, text string) string { return writeFile(t, "l3dsr.conf", text) }

const applyConf = `director:
  services:
    - vip: 10.0.0.1:80
      dscp: 21
      reals:
        - {address: 10.1.0.10, weight: 100}
`

func TestApplyBadFile(t *testing.T) {
	f := withFakeDirector(t)
	p := writeConf(t, "director:\n  services:\n    - vip: 10.0.0.1:80\n      dscp: 99\n")
	rc, out, errs := runCLI("apply", "-f", p)
	if rc != exitUsage || out != "" || !strings.Contains(errs, p+":4: dscp 99 is out of range") || !strings.Contains(errs, "nothing was changed") {
		t.Errorf("rc %d, stdout %q, stderr %q", rc, out, errs)
	}
	if len(f.calls) != 0 {
		t.Errorf("a bad file reached the director: %q", f.calls)
	}
	rc, _, errs = runCLI("apply", "-f", filepath.Join(t.TempDir(), "nope.conf"))
	if rc != exitUsage || !strings.Contains(errs, "nope.conf does not exist") {
		t.Errorf("missing file: rc %d, stderr %q", rc, errs)
	}
}

func TestApplyDryRunAndApply(t *testing.T) {
	f := withFakeDirector(t)
	p := writeConf(t, applyConf)
	rc, out, errs := runCLI("apply", "-f", p, "--dry-run")
	if rc != exitOK || errs != "" || out != "plan (dry run, nothing changed): 2 change(s)\n  add service tcp 10.0.0.1:80 (dscp 21, wlc)\n  add real 10.1.0.10 to service tcp 10.0.0.1:80 (weight 100)\n" {
		t.Errorf("dry run: rc %d, stdout %q, stderr %q", rc, out, errs)
	}
	if strings.Join(f.calls, ",") != "Show" {
		t.Errorf("dry run called %q, want Show only", f.calls)
	}
	f.calls = nil
	f.result = director.Result{Changes: []string{"IPVS service added"}}
	rc, out, _ = runCLI("apply", "-f", p)
	if rc != exitOK || strings.Join(f.calls, ",") != "Show,AddService,AddReal" ||
		!strings.Contains(out, "add service tcp 10.0.0.1:80 (dscp 21, wlc)\n  + IPVS service added\n") {
		t.Errorf("apply: rc %d, calls %q, stdout %q", rc, f.calls, out)
	}

	// The running state as in the file: no change, nothing called but Show.
	f.calls = nil
	k := director.Key{VIP: netip.MustParseAddr("10.0.0.1"), Port: 80, Proto: ipvs.ProtoTCP}
	f.status = director.Status{Services: []director.Service{{Key: k, Mode: dsrtypes.ModeDSCP, DSCP: 21, Scheduler: "wlc",
		Reals: []director.Real{{Addr: netip.MustParseAddr("10.1.0.10"), Weight: 100}}}}}
	rc, out, _ = runCLI("apply", "-f", p)
	if rc != exitOK || out != "no change\n" || strings.Join(f.calls, ",") != "Show" {
		t.Errorf("second apply: rc %d, stdout %q, calls %q", rc, out, f.calls)
	}
}

// apply holds a drained real at 0 whatever the file says, and says why.
func TestApplyKeepsDrain(t *testing.T) {
	f := withFakeDirector(t)
	p := writeConf(t, applyConf)
	k := director.Key{VIP: netip.MustParseAddr("10.0.0.1"), Port: 80, Proto: ipvs.ProtoTCP}
	f.status = director.Status{Services: []director.Service{{Key: k, Mode: dsrtypes.ModeDSCP, DSCP: 21, Scheduler: "wlc",
		Reals: []director.Real{{Addr: netip.MustParseAddr("10.1.0.10"), Weight: 100}}}}}
	if err := os.MkdirAll(filepath.Dir(f.drainedPath), 0o755); err != nil {
		t.Fatal(err)
	}
	drained := `{"drained": [{"protocol": "tcp", "vip": "10.0.0.1", "port": 80, "real": "10.1.0.10", "weight": 100, "since": "2026-12-05T20:00:00Z"}]}`
	if err := os.WriteFile(f.drainedPath, []byte(drained), 0o644); err != nil {
		t.Fatal(err)
	}
	rc, out, errs := runCLI("apply", "-f", p, "--dry-run")
	if rc != exitOK || !strings.Contains(out, "edit real 10.1.0.10 of service tcp 10.0.0.1:80: weight 100 -> 0 (drained)") {
		t.Errorf("dry run with 10.1.0.10 drained: rc %d, stdout %q, stderr %q", rc, out, errs)
	}
	if err := os.WriteFile(f.drainedPath, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.calls = nil
	rc, _, errs = runCLI("apply", "-f", p)
	if rc != exitRuntime || !strings.Contains(errs, f.drainedPath) || len(f.calls) != 0 {
		t.Errorf("unreadable drained file: want exit 1 naming it and nothing done, got rc %d, stderr %q, calls %q", rc, errs, f.calls)
	}
}

func TestSaveFromDSRTools(t *testing.T) {
	dir := testfiles.Write(t, map[string]string{"vips.conf": "# VIP=DSCP\n10.0.0.1=21\n2001:db8::1=0x16 # v6\n"})
	rc, out, errs := runCLI("save", "--from-dsrtools", dir)
	want := "realserver:\n  vips:\n    - vip: 10.0.0.1\n      dscp: 21\n    - vip: 2001:db8::1\n      dscp: 22\n"
	if rc != exitOK || !strings.HasSuffix(out, want) || errs != "" {
		t.Errorf("rc %d, stdout %q, stderr %q", rc, out, errs)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.conf"), []byte("10.0.0.2=77\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rc, _, errs = runCLI("save", "--from-dsrtools", dir)
	if rc != exitUsage || !strings.Contains(errs, "bad.conf:1: DSCP \"77\"") {
		t.Errorf("bad dsrtools file: rc %d, stderr %q", rc, errs)
	}
}
