package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/l3dsr/l3dsr/internal/statedir"
)

// maintDir gives the test a state directory of its own and returns it.
func maintDir(t *testing.T) string {
	t.Helper()
	sysFor(t)
	t.Setenv(statedir.Env, t.TempDir())
	dir, err := statedir.Of()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// writeRecord writes bgp.json as a running agent does.
func writeRecord(t *testing.T, dir string, maint bool, vips ...string) {
	t.Helper()
	list := `[]`
	if len(vips) > 0 {
		list = `["` + strings.Join(vips, `", "`) + `"]`
	}
	rec := `{"maintenance": ` + map[bool]string{true: "true", false: "false"}[maint] + `, "announced": ` + list +
		`, "updated": "` + time.Now().UTC().Format(time.RFC3339Nano) + `"}`
	if err := statedir.WriteFile(filepath.Join(dir, "bgp.json"), []byte(rec)); err != nil {
		t.Fatal(err)
	}
}

func TestMaintenanceUsage(t *testing.T) {
	maintDir(t)
	for _, tc := range []struct{ args, want string }{
		{"foo", `maintenance "foo": give on, off or status`},
		{"", `maintenance "": give on, off or status`},
		{"on off", `maintenance "on off": give on, off or status`},
		{"on --timeout 0s", "--timeout 0s: give a time to wait of more than 0, e.g. 30s"},
	} {
		st, out, stderr := runCLI(append([]string{"director", "maintenance"}, strings.Fields(tc.args)...)...)
		if st != exitUsage || out != "" || !strings.Contains(stderr, tc.want) {
			t.Errorf("maintenance %s: got %d %q %q, want exit 2 and %q", tc.args, st, out, stderr, tc.want)
		}
	}
}

func TestMaintenanceWithoutAgent(t *testing.T) {
	dir := maintDir(t)
	st, out, stderr := runCLI("director", "maintenance", "on")
	if st != exitOK || out != "maintenance on; no agent announces VIPs here: one that starts announces nothing until 'maintenance off'\n" {
		t.Errorf("on: got %d %q %q", st, out, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "maintenance")); err != nil {
		t.Errorf("the flag: %v", err)
	}
	st, out, _ = runCLI("director", "maintenance", "status")
	if st != exitOK || out != "maintenance: on\nannounced: none (no agent with BGP runs here)\n" {
		t.Errorf("status: got %d %q", st, out)
	}
	st, out, _ = runCLI("director", "maintenance", "off")
	if _, err := os.Stat(filepath.Join(dir, "maintenance")); st != exitOK || out != "maintenance off\n" || !os.IsNotExist(err) {
		t.Errorf("off: got %d %q, flag %v", st, out, err)
	}
}

func TestMaintenanceWithAgent(t *testing.T) {
	dir := maintDir(t)
	writeRecord(t, dir, false, "192.0.2.10", "2001:db8::10")
	st, out, _ := runCLI("director", "maintenance", "status")
	if st != exitOK || out != "maintenance: off\nannounced: 192.0.2.10, 2001:db8::10\n" {
		t.Errorf("status: got %d %q", st, out)
	}
	// The agent withdraws a little later.
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(300 * time.Millisecond)
		writeRecord(t, dir, true)
	}()
	st, out, stderr := runCLI("director", "maintenance", "on")
	<-done
	want := "maintenance on; waiting for the agent to withdraw every VIP\nwithdrew 192.0.2.10\nwithdrew 2001:db8::10\n"
	if st != exitOK || out != want {
		t.Errorf("on: got %d %q %q, want %q", st, out, stderr, want)
	}
	// An agent that does not withdraw: exit 1 after the timeout, naming
	// what it announces.
	writeRecord(t, dir, true, "192.0.2.10")
	st, _, stderr = runCLI("director", "maintenance", "on", "--timeout", "200ms")
	if st != exitRuntime || !strings.Contains(stderr, "l3dsr: after 200ms the agent still announces 192.0.2.10: see its log") {
		t.Errorf("on, stuck agent: got %d %q", st, stderr)
	}
}
