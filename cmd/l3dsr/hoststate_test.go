package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/layers"
	"github.com/l3dsr/l3dsr/config"
	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/hostcheck"
	"github.com/l3dsr/l3dsr/internal/ipvs"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/maptable"
	"github.com/l3dsr/l3dsr/pcapcheck"
	"github.com/l3dsr/l3dsr/realserver"
	"github.com/mdlayher/netlink"
	"github.com/spf13/cobra"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// testSys is the system of the running test: the host's, with the fakes the
// test put in; runCLI runs the commands on it.
var testSys *system

// sysFor gives t's system, made on first use and dropped when t ends.
func sysFor(t testing.TB) *system {
	if testSys == nil {
		testSys = hostSys()
		t.Cleanup(func() { testSys = nil })
	}
	return testSys
}

// currentSys is the running test's system, or the host's.
func currentSys() *system {
	if testSys != nil {
		return testSys
	}
	return hostSys()
}

// fakeHost stands for every piece of the host the CLI opens, each a fake
// that can be made to fail. Nothing of this host is touched.
type fakeHost struct {
	sys   *system
	rs    *fakeRS
	dir   *fakeDirector
	table *fakeTable
	rules *fakeRules

	rsOpenErr, dirOpenErr, tableOpenErr, verifyOpenErr, liveErr error
	ipvsLoaded                                                  bool

	dirCloses int
	captures  []string // interfaces a live capture was asked for
	writes    []string // capture files verify was asked to write
}

// installHost puts a fakeHost in place of every opener for the test.
func installHost(t testing.TB) *fakeHost {
	h := &fakeHost{
		rs:    &fakeRS{},
		dir:   &fakeDirector{},
		table: newFakeTable(),
		rules: &fakeRules{rules: map[xtrule.Family]int{}},
	}
	h.ipvsLoaded = true
	h.sys = sysFor(t)
	h.sys.openRealServer = func() (rsManager, error) {
		if h.rsOpenErr != nil {
			return nil, h.rsOpenErr
		}
		h.rs.opened = true
		return h.rs, nil
	}
	h.sys.openDirector = func() (directorAPI, func() error, error) {
		if h.dirOpenErr != nil {
			return nil, nil, h.dirOpenErr
		}
		return h.dir, func() error { h.dirCloses++; return nil }, nil
	}
	h.sys.dialTable = func() (maptable.Table, error) {
		if h.tableOpenErr != nil {
			return nil, h.tableOpenErr
		}
		return h.table, nil
	}
	h.sys.newRules = func(v xtrule.Variant) mapRules { h.rules.variant = v; return h.rules }
	h.sys.verifySystem = verifySystem{
		dialVerifyTable: func() (verifyTable, error) {
			if h.verifyOpenErr != nil {
				return nil, h.verifyOpenErr
			}
			return h.table, nil
		},
		openLive: func(iface string, _ []bpf.RawInstruction, _ int) (*pcapcheck.Live, error) {
			h.captures = append(h.captures, iface)
			if h.liveErr != nil {
				return nil, h.liveErr
			}
			return nil, errors.New("no live capture in tests")
		},
		createWriter: func(path string, _ layers.LinkType, _ uint32) (*pcapcheck.PacketWriter, error) {
			h.writes = append(h.writes, path)
			return nil, errors.New("no capture files written in tests")
		},
	}
	h.sys.ipvsLoaded = func() bool { return h.ipvsLoaded }
	fakeDrained(t, h.dir)
	h.sys.stdin = strings.NewReader("")
	h.sys.writeDocs = func(*cobra.Command, string, string) error { return nil }
	return h
}

// changes lists every call that would have changed the host.
func (h *fakeHost) changes() []string {
	var ch []string
	for _, c := range h.rs.ups {
		ch = append(ch, "realserver up "+c.String())
	}
	for _, a := range h.rs.downs {
		ch = append(ch, "realserver down "+a.String())
	}
	for _, c := range h.dir.calls {
		if c != "Show" {
			ch = append(ch, "director "+c)
		}
	}
	for _, c := range h.table.calls {
		if c != "list" && c != "stats" && !strings.HasPrefix(c, "get ") {
			ch = append(ch, "table "+c)
		}
	}
	for _, c := range h.rules.calls {
		if !strings.HasPrefix(c, "exists ") {
			ch = append(ch, "iptables "+c)
		}
	}
	return append(ch, h.writes...)
}

const rsConf = "realserver:\n  vips:\n    - vip: 10.0.0.1\n      dscp: 21\n"

func dscpVIP(vip string, code uint8) realserver.VIPStatus {
	return realserver.VIPStatus{Config: realserver.Config{VIP: netip.MustParseAddr(vip), Mode: dsrtypes.ModeDSCP, DSCP: &code}, OnLo: true, Rule: true, OK: true}
}

// missingIPTables is the error xtrule gives, for real, on a host without
// the iptables binary.
func missingIPTables(t *testing.T) error {
	t.Helper()
	// Not t.Setenv: PATH is empty only while xtrule looks, not for the
	// rest of the test.
	path := os.Getenv("PATH")
	os.Setenv("PATH", t.TempDir())
	_, err := (&xtrule.Rules{Variant: xtrule.Default}).Exists(context.Background(), xtrule.IPv4)
	os.Setenv("PATH", path)
	if err == nil || !strings.Contains(err.Error(), "iptables is not installed: install the iptables package") {
		t.Fatalf("xtrule without iptables: %v", err)
	}
	return err
}

// Every command that reads the running state, on a host missing a piece:
// exit 1, one line on stderr that names the piece and the fix, nothing on
// stdout, nothing changed.
func TestMissingHostPieces(t *testing.T) {
	rsFile := writeConf(t, rsConf)
	dirFile := writeConf(t, applyConf)
	eperm := fmt.Errorf("ipvs: list services: %w", &netlink.OpError{Op: "receive", Err: unix.EPERM})
	geperm := fmt.Errorf("listing the map: %w", &netlink.OpError{Op: "receive", Err: unix.EPERM})
	dump := fmt.Errorf("ipvs: list destinations of tcp 10.0.0.1:80: %w", &netlink.OpError{Op: "receive", Err: unix.ENOBUFS})
	noIPVS := fmt.Errorf("%w (modprobe ip_vs: exit status 1: modprobe: FATAL: Module ip_vs not found in directory /lib/modules/6.1.0-28-amd64)", ipvs.ErrNotAvailable)
	noModule := fmt.Errorf("resolving the generic netlink family: %w", maptable.ErrNotLoaded)
	noIPTables := missingIPTables(t)
	recorded := func(h *fakeHost) { h.rs.report.VIPs = []realserver.VIPStatus{dscpVIP("10.0.0.1", 21)} }

	for _, tc := range []struct {
		name  string
		args  []string
		fault func(h *fakeHost)
		want  string // stderr, after "l3dsr: ", starts with it
	}{
		// apply, real-server section
		{"apply rs: not root", []string{"apply", "--dry-run", "-f", rsFile}, func(h *fakeHost) { h.rs.err = geperm }, hostcheck.MsgNeedRoot + " (reading the real server's VIPs: listing the map: netlink receive: operation not permitted)"},
		{"apply rs: no xt_DADDR", []string{"apply", "--dry-run", "-f", rsFile}, func(h *fakeHost) { h.tableOpenErr = noModule }, hostcheck.MsgNoModule + "\n"},
		{"apply rs: no iptables", []string{"apply", "--dry-run", "-f", rsFile}, func(h *fakeHost) { h.rules.err = noIPTables }, "looking for the map-mode rule: " + noIPTables.Error() + "\n"},
		{"apply rs: dump cut short", []string{"apply", "-f", rsFile}, func(h *fakeHost) { h.rs.err = dump }, hostcheck.MsgInterrupted + " (reading the real server's VIPs: ipvs: list destinations"},
		// apply, director section
		{"apply dir: no IPVS", []string{"apply", "--dry-run", "-f", dirFile}, func(h *fakeHost) { h.dirOpenErr = noIPVS }, hostcheck.MsgNoIPVS + "\n"},
		{"apply dir: not root", []string{"apply", "-f", dirFile}, func(h *fakeHost) { h.dir.err = eperm }, hostcheck.MsgNeedRoot + " (reading the director's services: ipvs: list services"},
		{"apply dir: dump cut short", []string{"apply", "--dry-run", "-f", dirFile}, func(h *fakeHost) { h.dir.err = dump }, hostcheck.MsgInterrupted},
		// save
		{"save: not root", []string{"save"}, func(h *fakeHost) { h.rs.err = geperm }, hostcheck.MsgNeedRoot},
		{"save: no xt_DADDR", []string{"save"}, func(h *fakeHost) { recorded(h); h.tableOpenErr = noModule }, hostcheck.MsgNoModule + "\n"},
		{"save: no iptables", []string{"save"}, func(h *fakeHost) { h.rs.err = noIPTables }, "reading the real server's VIPs: " + noIPTables.Error() + "\n"},
		{"save: dump cut short", []string{"save"}, func(h *fakeHost) { h.rs.err = dump }, hostcheck.MsgInterrupted},
		{"save: no IPVS", []string{"save"}, func(h *fakeHost) { h.dirOpenErr = noIPVS }, hostcheck.MsgNoIPVS + "\n"},
		{"save: not root for IPVS", []string{"save"}, func(h *fakeHost) { h.dir.err = eperm }, hostcheck.MsgNeedRoot},
		{"save: IPVS dump cut short", []string{"save"}, func(h *fakeHost) { h.dir.err = dump }, hostcheck.MsgInterrupted},
		// director show
		{"director show: no IPVS", []string{"director", "show"}, func(h *fakeHost) { h.dirOpenErr = noIPVS }, hostcheck.MsgNoIPVS + "\n"},
		{"director show: not root", []string{"director", "show", "-o", "json"}, func(h *fakeHost) { h.dir.err = eperm }, hostcheck.MsgNeedRoot},
		{"director show: dump cut short", []string{"director", "show"}, func(h *fakeHost) { h.dir.err = dump }, hostcheck.MsgInterrupted},
		// realserver show
		{"realserver show: not root", []string{"realserver", "show"}, func(h *fakeHost) { h.rs.err = geperm }, hostcheck.MsgNeedRoot},
		{"realserver show: state unreadable", []string{"realserver", "show"}, func(h *fakeHost) {
			h.rs.err = fmt.Errorf("reading the real-server state: %w", &pathError{unix.EACCES})
		}, hostcheck.MsgNeedRoot},
		{"realserver show: no xt_DADDR", []string{"realserver", "show"}, func(h *fakeHost) { recorded(h); h.tableOpenErr = noModule }, hostcheck.MsgNoModule + "\n"},
		{"realserver show: no iptables", []string{"realserver", "show"}, func(h *fakeHost) { h.rs.err = noIPTables }, "reading the real server's VIPs: " + noIPTables.Error() + "\n"},
		{"realserver show: dump cut short", []string{"realserver", "show", "-o", "json"}, func(h *fakeHost) { h.rs.err = dump }, hostcheck.MsgInterrupted},
		// rule list
		{"rule list: not root", []string{"rule", "list"}, func(h *fakeHost) { h.table.listErr = geperm }, hostcheck.MsgNeedRoot + " (listing the DSCP map: listing the map: netlink receive: operation not permitted)\n"},
		{"rule list: no xt_DADDR", []string{"rule", "list", "-o", "json"}, func(h *fakeHost) { h.tableOpenErr = noModule }, hostcheck.MsgNoModule + "\n"},
		{"rule list: dump cut short", []string{"rule", "list"}, func(h *fakeHost) { h.table.listErr = dump }, hostcheck.MsgInterrupted + " (listing the DSCP map: ipvs: list destinations"},
		// verify --iface
		{"verify: not root", []string{"verify", "--iface", "lo", "--map", "21=10.0.0.1"}, func(h *fakeHost) {
			h.liveErr = fmt.Errorf("opening a packet socket needs CAP_NET_RAW (run as root): %w", unix.EPERM)
		}, "opening a packet socket needs CAP_NET_RAW (run as root): operation not permitted\n"},
		{"verify: not root for the table", []string{"verify", "--iface", "lo"}, func(h *fakeHost) { h.table.listErr = geperm }, hostcheck.MsgNeedRoot + " (reading the DSCP→VIP table: listing the map"},
		{"verify: no xt_DADDR", []string{"verify", "--iface", "lo", "--duration", "1s"}, func(h *fakeHost) { h.verifyOpenErr = noModule },
			"reading the DSCP→VIP table: resolving the generic netlink family: " + maptable.ErrNotLoaded.Error() + "; or give the mapping with --map DSCP=VIP\n"},
		{"verify: dump cut short", []string{"verify", "--iface", "lo"}, func(h *fakeHost) { h.table.listErr = dump }, hostcheck.MsgInterrupted + " (reading the DSCP→VIP table"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := installHost(t)
			h.ipvsLoaded = true
			tc.fault(h)
			rc, out, stderr := runCLI(tc.args...)
			if rc != exitRuntime || out != "" {
				t.Errorf("exit %d, stdout %q; want exit 1 and no output", rc, out)
			}
			if !strings.HasPrefix(stderr, "l3dsr: "+tc.want) || strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
				t.Errorf("stderr\n%q\nwant one line starting with\n%q", stderr, "l3dsr: "+tc.want)
			}
			if ch := h.changes(); len(ch) > 0 {
				t.Errorf("changed the host: %q", ch)
			}
			if h.rs.opened && h.rs.closed != 1 {
				t.Errorf("real-server manager opened, closed %d times", h.rs.closed)
			}
		})
	}
}

// pathError is an *os.PathError's shape without a real file.
type pathError struct{ errno unix.Errno }

func (e *pathError) Error() string {
	return "open /run/l3dsr/netns-1/realserver.json: " + e.errno.Error()
}
func (e *pathError) Unwrap() error { return e.errno }

// Without CAP_NET_ADMIN the real openers answer before they touch anything:
// one line, exit 1, for every command that opens the host. (The real
// openers are safe to call here for that reason.)
func TestNeedRootBeforeOpening(t *testing.T) {
	rsFile := writeConf(t, rsConf)
	dirFile := writeConf(t, applyConf)
	table := writeConf(t, "[]")
	h := installHost(t)
	h.sys.hostSystem = hostHostSystem(h.sys.needNetAdmin)
	h.sys.ruleSystem = hostRuleSystem(h.sys.needNetAdmin)
	h.sys.hasNetAdmin = func() bool { return false }
	for _, args := range [][]string{
		{"apply", "--dry-run", "-f", rsFile},
		{"apply", "--dry-run", "-f", dirFile},
		{"apply", "-f", dirFile},
		{"save"},
		{"director", "show"},
		{"director", "service", "add", "--vip", "10.0.0.1:80", "--dscp", "21"},
		{"realserver", "show"},
		{"realserver", "up", "--vip", "10.0.0.1", "--dscp", "21"},
		{"realserver", "down", "--vip", "10.0.0.1"},
		{"rule", "list"},
		{"rule", "add", "--dscp", "1", "--vip", "10.0.0.1"},
		{"rule", "replace", "-f", table},
	} {
		rc, out, stderr := runCLI(args...)
		if rc != exitRuntime || out != "" || stderr != "l3dsr: "+hostcheck.MsgNeedRoot+"\n" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, rc, out, stderr)
		}
	}
	if ch := h.changes(); len(ch) > 0 {
		t.Errorf("changed the host: %q", ch)
	}
}

// plan's error paths, each with a fake that fails: an error, no plan, no
// close func to call, and everything opened closed once. The code before
// issue 25 panicked on each (a nil close func called in a defer).
func TestPlanErrorPaths(t *testing.T) {
	file := func(t *testing.T) *config.File {
		p := writeConf(t, rsConf+applyConf)
		f, err := config.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	boom := errors.New("boom")
	for _, tc := range []struct {
		name      string
		fault     func(h *fakeHost)
		want      string
		rs, dir   bool // opened, so must be closed
		wantSteps bool
	}{
		{"real server open", func(h *fakeHost) { h.rsOpenErr = boom }, "real server: boom", false, false, false},
		{"real server show", func(h *fakeHost) { h.rs.err = boom }, "reading the real server's VIPs: boom", true, false, false},
		{"xt_DADDR table", func(h *fakeHost) { h.tableOpenErr = maptable.ErrNotLoaded }, hostcheck.MsgNoModule, true, false, false},
		{"iptables", func(h *fakeHost) { h.rules.err = boom }, "looking for the map-mode rule: boom", true, false, false},
		{"director open", func(h *fakeHost) { h.dirOpenErr = ipvs.ErrNotAvailable }, hostcheck.MsgNoIPVS, true, false, false},
		{"director show", func(h *fakeHost) { h.dir.err = &netlink.OpError{Op: "receive", Err: unix.EACCES} }, hostcheck.MsgNeedRoot, true, true, false},
		{"none", func(*fakeHost) {}, "", true, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := installHost(t)
			tc.fault(h)
			p, closeFn, err := config.PlanHost(context.Background(), h.sys.configHost(), file(t), config.PlanOptions{})
			err = hostError(err)
			if tc.want == "" {
				if err != nil || closeFn == nil || len(p.Steps) == 0 {
					t.Fatalf("plan: %v, close func %v, %d steps", err, closeFn != nil, len(p.Steps))
				}
				closeFn()
			} else {
				if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
					t.Fatalf("error %v, want it to start with %q", err, tc.want)
				}
				if closeFn != nil || len(p.Steps) != 0 {
					t.Fatalf("a failed plan gave a close func (%v) or steps (%d)", closeFn != nil, len(p.Steps))
				}
			}
			if want := map[bool]int{true: 1}[tc.rs]; h.rs.closed != want {
				t.Errorf("real-server manager closed %d times, want %d", h.rs.closed, want)
			}
			if want := map[bool]int{true: 1}[tc.dir]; h.dirCloses != want {
				t.Errorf("director closed %d times, want %d", h.dirCloses, want)
			}
			if ch := h.changes(); len(ch) > 0 {
				t.Errorf("planning changed the host: %q", ch)
			}
		})
	}
}

// hostError: each class by errors.Is through any wrapping; anything else
// unchanged.
func TestHostErrorClasses(t *testing.T) {
	other := errors.New("ipvs: list services: netlink receive: invalid argument")
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{other, other.Error()},
		{hostcheck.ErrNeedRoot, hostcheck.MsgNeedRoot},
		{fmt.Errorf("x: %w", &netlink.OpError{Op: "receive", Err: unix.EPERM}), hostcheck.MsgNeedRoot + " (x: netlink receive: operation not permitted)"},
		{fmt.Errorf("x: %w", unix.EACCES), hostcheck.MsgNeedRoot + " (x: permission denied)"},
		{fmt.Errorf("x: %w", ipvs.ErrNotAvailable), hostcheck.MsgNoIPVS},
		{fmt.Errorf("x: %w", maptable.ErrNotLoaded), hostcheck.MsgNoModule},
		{fmt.Errorf("x: %w", &netlink.OpError{Op: "receive", Err: unix.EINTR}), hostcheck.MsgInterrupted + " (x: netlink receive: interrupted system call)"},
		{fmt.Errorf("x: %w", unix.ENOBUFS), "x: no buffer space available"},
		{fmt.Errorf("multi\nline: %w", unix.EPERM), hostcheck.MsgNeedRoot + " (multi line: operation not permitted)"},
	} {
		got := hostError(tc.err)
		if (got == nil) != (tc.err == nil) || (got != nil && got.Error() != tc.want) {
			t.Errorf("hostError(%v) = %v, want %q", tc.err, got, tc.want)
		}
		if got != nil && !errors.Is(got, tc.err) {
			t.Errorf("hostError(%v) no longer wraps it", tc.err)
		}
	}
}

// TestMain lets the test binary run as l3dsr itself (main), for
// TestNotRootForReal: no toolchain is needed to get an l3dsr binary.
func TestMain(m *testing.M) {
	if os.Getenv("L3DSR_TEST_RUN_MAIN") == "1" {
		main()
	}
	os.Exit(m.Run())
}

// The real thing, without CAP_NET_ADMIN: l3dsr run as nobody (or as the
// unprivileged user running the tests) answers each reading command with
// the one line, exit 1, and verify --iface with the packet socket's.
// Nothing can change: the process has no right to.
func TestNotRootForReal(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// nobody must reach the binary and the files: a directory of its own,
	// not t.TempDir (0700).
	dir, err := os.MkdirTemp("", "l3dsr-nonroot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "l3dsr")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	rsFile, dirFile := filepath.Join(dir, "rs.conf"), filepath.Join(dir, "dir.conf")
	for name, f := range map[string]struct {
		data []byte
		mode os.FileMode
	}{bin: {data, 0o755}, rsFile: {[]byte(rsConf), 0o644}, dirFile: {[]byte(applyConf), 0o644}} {
		if err := os.WriteFile(name, f.data, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var wrap []string
	if os.Geteuid() == 0 {
		// Changing every uid from 0 clears the capabilities.
		wrap = []string{"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"}
	}
	root := "l3dsr: " + hostcheck.MsgNeedRoot + "\n"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"apply", "--dry-run", "-f", rsFile}, root},
		{[]string{"apply", "--dry-run", "-f", dirFile}, root},
		{[]string{"save"}, root},
		{[]string{"director", "show"}, root},
		{[]string{"realserver", "show"}, root},
		{[]string{"rule", "list"}, root},
		{[]string{"verify", "--iface", "lo", "--map", "21=10.0.0.1", "--duration", "1s"}, "l3dsr: opening a packet socket needs CAP_NET_RAW (run as root): operation not permitted\n"},
	} {
		argv := append(append(slices.Clone(wrap), bin), tc.args...)
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "L3DSR_TEST_RUN_MAIN=1")
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitRuntime || out.String() != "" || errOut.String() != tc.want {
			t.Errorf("%q as an unprivileged user: %v, stdout %q, stderr %q; want exit 1 and %q", tc.args, err, out.String(), errOut.String(), tc.want)
		}
	}
}

// A host without ip_vs is no director: save leaves the director section out
// and does not open IPVS (which would load the module).
func TestSaveWithoutIPVS(t *testing.T) {
	h := installHost(t)
	h.ipvsLoaded = false
	h.dirOpenErr = errors.New("IPVS opened")
	h.rs.report.VIPs = []realserver.VIPStatus{dscpVIP("10.0.0.1", 21)}
	rc, out, stderr := runCLI("save")
	if rc != exitOK || stderr != "" || !strings.HasSuffix(out, "realserver:\n  vips:\n    - vip: 10.0.0.1\n      dscp: 21\n") || strings.Contains(out, "director") {
		t.Errorf("exit %d, stdout %q, stderr %q", rc, out, stderr)
	}
	if len(h.dir.calls) != 0 {
		t.Errorf("IPVS read on a host without it: %q", h.dir.calls)
	}
}
