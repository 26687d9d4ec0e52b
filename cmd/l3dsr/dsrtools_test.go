package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/internal/testfiles"
)

// A dsrtools server with L3 and L2 lines moves over in one conversion: the
// L2 line becomes mode dr, and the file applies. A line that is no entry
// stops the conversion with its file and line, exit 2.
func TestSaveFromDSRToolsMixed(t *testing.T) {
	installHost(t)
	dir := testfiles.Write(t, map[string]string{"vips.conf": "10.0.0.1 = 0x13   # L3\n10.0.0.9          # L2\n"})
	rc, out, errs := runCLI("save", "--from-dsrtools", dir)
	want := "realserver:\n  vips:\n    - vip: 10.0.0.1\n      dscp: 19\n    - vip: 10.0.0.9\n      mode: dr\n"
	if rc != exitOK || errs != "" || !strings.HasSuffix(out, want) {
		t.Fatalf("save: rc %d, stdout %q, stderr %q; want the file to end in %q", rc, out, errs, want)
	}
	rc, out, errs = runCLI("apply", "--dry-run", "-f", writeConf(t, out))
	plan := "plan (dry run, nothing changed): 2 change(s)\n  set up VIP 10.0.0.1 (dscp, DSCP 19)\n  set up VIP 10.0.0.9 (dr)\n"
	if rc != exitOK || errs != "" || out != plan {
		t.Fatalf("apply: rc %d, stdout %q, stderr %q; want %q", rc, out, errs, plan)
	}

	if err := os.WriteFile(filepath.Join(dir, "zz bad.conf"), []byte("10.0.0.2=21\nVIP 10.0.0.3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rc, out, errs = runCLI("save", "--from-dsrtools", dir)
	line := filepath.Join(dir, "zz bad.conf") + `:2: syntax error: "VIP 10.0.0.3" is neither VIP, VIP=DSCP nor a comment`
	if rc != exitUsage || out != "" || !strings.Contains(errs, line) {
		t.Errorf("garbage line: rc %d, stdout %q, stderr %q; want exit 2 and %q", rc, out, errs, line)
	}
}
