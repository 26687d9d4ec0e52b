package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/ipvs"
	"github.com/l3dsr/l3dsr/internal/statedir"
)

// fakeDirector records the calls the director commands make.
type fakeDirector struct {
	calls  []string
	svc    director.Service
	key    director.Key
	sedit  director.ServiceEdit
	real   director.Real
	redit  director.RealEdit
	result director.Result
	err    error
	status director.Status
	// weight is the undrain's --weight (nil: none given); conns the
	// real's active connections, less drainBy at each read.
	weight  *int32
	conns   uint32
	drainBy uint32
	// drainedPath is the drained file apply reads (none there unless a
	// test writes it).
	drainedPath string
}

// record records the call name and gives the set result.
func (f *fakeDirector) record(name string) (director.Result, error) {
	f.calls = append(f.calls, name)
	return f.result, f.err
}

func (f *fakeDirector) AddService(s director.Service) (director.Result, error) {
	f.svc = s
	return f.record("AddService")
}

func (f *fakeDirector) EditService(k director.Key, e director.ServiceEdit) (director.Result, error) {
	f.key, f.sedit = k, e
	return f.record("EditService")
}

func (f *fakeDirector) DelService(k director.Key) (director.Result, error) {
	f.key = k
	return f.record("DelService")
}

func (f *fakeDirector) AddReal(k director.Key, r director.Real) (director.Result, error) {
	f.key, f.real = k, r
	return f.record("AddReal")
}

func (f *fakeDirector) EditReal(k director.Key, a netip.Addr, e director.RealEdit) (director.Result, error) {
	f.key, f.real.Addr, f.redit = k, a, e
	return f.record("EditReal")
}

func (f *fakeDirector) DelReal(k director.Key, a netip.Addr) (director.Result, error) {
	f.key, f.real.Addr = k, a
	return f.record("DelReal")
}

func (f *fakeDirector) Show() (director.Status, error) {
	f.calls = append(f.calls, "Show")
	return f.status, f.err
}

func (f *fakeDirector) Drain(k director.Key, a netip.Addr) (director.Result, error) {
	f.key, f.real.Addr = k, a
	return f.record("Drain")
}

func (f *fakeDirector) Undrain(k director.Key, a netip.Addr, w *int32) (director.Result, error) {
	f.key, f.real.Addr, f.weight = k, a, w
	return f.record("Undrain")
}

func (f *fakeDirector) ActiveConns(director.Key, netip.Addr) (uint32, error) {
	f.calls = append(f.calls, "ActiveConns")
	n := f.conns
	f.conns -= min(f.conns, f.drainBy)
	return n, f.err
}

// fakeDrained puts the state directories, and so the drained file apply
// reads (f.drainedPath), in a temporary directory: never the host's.
func fakeDrained(t testing.TB, f *fakeDirector) {
	t.Setenv(statedir.Env, t.TempDir())
	dir, err := statedir.Of()
	if err != nil {
		t.Fatal(err)
	}
	f.drainedPath = filepath.Join(dir, "drained.json")
}

func withFakeDirector(t *testing.T) *fakeDirector {
	t.Helper()
	f := &fakeDirector{}
	sysFor(t).openDirector = func() (directorAPI, func() error, error) { return f, func() error { return nil }, nil }
	fakeDrained(t, f)
	return f
}

func TestDirectorUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"service", "add", "--vip", "10.0.0.1:80"}, "--dscp is required in mode dscp"},
		{[]string{"service", "add", "--vip", "10.0.0.1", "--dscp", "5"}, `invalid argument "10.0.0.1" for "--vip" flag: --vip "10.0.0.1" has no port: give VIP:PORT, e.g. 10.0.0.1:80`},
		{[]string{"service", "add", "--vip", "10.0.0.1:80", "--dscp", "64"}, "DSCP 64 is out of range: use 0-63"},
		{[]string{"service", "add", "--vip", "10.0.0.1:80", "--dscp", "5", "--proto", "icmp"}, `invalid argument "icmp" for "--proto" flag: protocol "icmp" is not supported: use tcp, udp or sctp`},
		{[]string{"service", "add", "--vip", "10.0.0.1:80", "--dscp", "5", "--mode", "gre"}, `mode "gre"`},
		{[]string{"service", "add", "--vip", "10.0.0.1:80", "--dscp", "5", "--mode", "ipip"}, "mode ipip uses no DSCP code"},
		{[]string{"service", "add", "--vip", "10.0.0.1:80", "--mode", "nat", "--dscp", "3"}, "mode nat uses no DSCP code"},
		{[]string{"service", "add", "--vip", "10.0.0.1:80", "--mode", "addr", "--dscp", "5"}, "--dscp 5 given for service 10.0.0.1:80 in addr mode: addr mode uses no DSCP code (the real server knows the VIP by the real's address); leave --dscp out, or use --mode dscp"},
		{[]string{"service", "add", "--vip", "2001:db8::1:80", "--dscp", "5"}, `--vip "2001:db8::1:80" has no port: give VIP:PORT, e.g. [2001:db8::1:80]:80`},
		{[]string{"service", "add", "--vip", "10.0.0.1:0", "--dscp", "5"}, "port 0"},
		{[]string{"service", "edit", "--vip", "10.0.0.1:80"}, "nothing to change"},
		{[]string{"real", "add", "--vip", "10.0.0.1:80"}, "--real is required"},
		{[]string{"real", "add", "--vip", "10.0.0.1:80", "--real", "2001:db8::10"}, "--real 2001:db8::10 and --vip 10.0.0.1 are of different address families"},
		{[]string{"real", "add", "--vip", "10.0.0.1:80", "--real", "10.1.0.10", "--weight", "-1"}, "--weight -1"},
		{[]string{"show", "-o", "yaml"}, `output format "yaml" is unknown`},
	} {
		f := withFakeDirector(t)
		st, _, stderr := runCLI(append([]string{"director"}, tc.args...)...)
		if st != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("l3dsr director %s: want exit 2 with %q, got %d %q", strings.Join(tc.args, " "), tc.want, st, stderr)
		}
		if len(f.calls) != 0 {
			t.Errorf("l3dsr director %s: usage error reached the system: %v", strings.Join(tc.args, " "), f.calls)
		}
	}
}

func TestDirectorServiceAdd(t *testing.T) {
	f := withFakeDirector(t)
	f.result = director.Result{Changes: []string{"IPVS service tcp 10.0.0.1:80"}, Warnings: []string{"DSCP 10 is AF11"}}
	st, stdout, stderr := runCLI("director", "service", "add", "--vip", "10.0.0.1:80", "--proto", "tcp", "--dscp", "10",
		"--scheduler", "mh", "--persistent", "300")
	if st != exitOK || stdout != "+ IPVS service tcp 10.0.0.1:80\n" || stderr != "warning: DSCP 10 is AF11\n" {
		t.Fatalf("got %d %q %q", st, stdout, stderr)
	}
	want := director.Service{Key: director.Key{VIP: netip.MustParseAddr("10.0.0.1"), Port: 80, Proto: ipvs.ProtoTCP},
		Mode: dsrtypes.ModeDSCP, DSCP: 10, Scheduler: "mh", Persistent: 300}
	if f.svc.Key != want.Key || f.svc.DSCP != 10 || f.svc.Scheduler != "mh" || f.svc.Persistent != 300 || f.svc.Mode != dsrtypes.ModeDSCP {
		t.Errorf("service: want %+v, got %+v", want, f.svc)
	}

	f.result = director.Result{}
	st, stdout, _ = runCLI("director", "service", "add", "--vip", "[2001:db8::1]:53", "--proto", "udp", "--mode", "ipip")
	if st != exitOK || stdout != "no change\n" || f.svc.Mode != dsrtypes.ModeIPIP || f.svc.Key.VIP != netip.MustParseAddr("2001:db8::1") || f.svc.Scheduler != "wlc" {
		t.Errorf("ipip add: got %d %q %+v", st, stdout, f.svc)
	}
	if st, _, stderr = runCLI("director", "service", "add", "--vip", "10.0.0.9:80", "--mode", "NAT"); st != exitOK || f.svc.Mode != dsrtypes.ModeNAT {
		t.Errorf("nat add: got %d %q %+v", st, stderr, f.svc)
	}
	if st, _, stderr = runCLI("director", "service", "add", "--vip", "10.0.0.9:80", "--mode", "addr"); st != exitOK || f.svc.Mode != dsrtypes.ModeAddr || f.svc.DSCP != 0 {
		t.Errorf("addr add: got %d %q %+v", st, stderr, f.svc)
	}

	f.err = errors.New("service tcp 10.0.0.1:80 exists with mode dscp")
	st, _, stderr = runCLI("director", "service", "add", "--vip", "10.0.0.1:80", "--dscp", "11")
	if st != exitRuntime || !strings.Contains(stderr, "exists with mode dscp") {
		t.Errorf("runtime error: want exit 1 with the error, got %d %q", st, stderr)
	}
}

func TestDirectorEdits(t *testing.T) {
	f := withFakeDirector(t)
	if st, _, stderr := runCLI("director", "service", "edit", "--vip", "10.0.0.1:80", "--persistent", "0"); st != exitOK {
		t.Fatal(stderr)
	}
	if f.sedit.Persistent == nil || *f.sedit.Persistent != 0 || f.sedit.DSCP != nil || f.sedit.Scheduler != nil {
		t.Errorf("edit: want only persistent 0, got %+v", f.sedit)
	}
	if st, _, stderr := runCLI("director", "real", "edit", "--vip", "10.0.0.1:80", "--real", "10.1.0.10", "--weight", "0"); st != exitOK {
		t.Fatal(stderr)
	}
	if f.redit.Weight == nil || *f.redit.Weight != 0 || f.real.Addr != netip.MustParseAddr("10.1.0.10") {
		t.Errorf("real edit: got %+v %v", f.redit, f.real.Addr)
	}
	if st, _, stderr := runCLI("director", "real", "add", "--vip", "10.0.0.1:80", "--real", "10.1.0.10"); st != exitOK || f.real.Weight != 1 {
		t.Errorf("real add default weight: want 1, got %d (%d %s)", f.real.Weight, st, stderr)
	}
	if st, _, _ := runCLI("director", "real", "del", "--vip", "10.0.0.1:80", "--proto", "sctp", "--real", "10.1.0.11"); st != exitOK ||
		f.key.Proto != ipvs.ProtoSCTP || f.real.Addr != netip.MustParseAddr("10.1.0.11") {
		t.Errorf("real del: %+v %v", f.key, f.real.Addr)
	}
}

func TestDirectorShow(t *testing.T) {
	f := withFakeDirector(t)
	f.status = director.Status{Services: []director.Service{{
		Key:  director.Key{VIP: netip.MustParseAddr("10.0.0.1"), Port: 80, Proto: ipvs.ProtoTCP},
		Mode: dsrtypes.ModeDSCP, DSCP: 21, Scheduler: "wlc", Persistent: 300, Managed: true,
		Stats: ipvs.Stats{Connections: 1 << 33, PacketsIn: 7},
		Reals: []director.Real{{Addr: netip.MustParseAddr("10.1.0.10"), Weight: 100, Forward: ipvs.Masquerade, ActiveConns: 2,
			Stats: ipvs.Stats{Connections: 5, BytesIn: 1 << 40}}},
	}}}
	st, stdout, _ := runCLI("director", "show")
	if st != exitOK {
		t.Fatalf("exit %d", st)
	}
	lines := strings.Split(stdout, "\n")
	if len(lines) < 4 || !strings.Contains(lines[0], "DSCP") {
		t.Fatalf("table: %q", stdout)
	}
	if f := strings.Fields(lines[2]); strings.Join(f, " ") != "TCP 10.0.0.1:80 dscp 21 wlc 300 8589934592 7 0 0 0" {
		t.Errorf("service line: %q", lines[2])
	}
	if f := strings.Fields(lines[3]); strings.Join(f, " ") != "-> 10.1.0.10:80 masq 100 2 0 5 0 0 1099511627776 0" {
		t.Errorf("real line: %q", lines[3])
	}
	st, stdout, _ = runCLI("director", "show", "-o", "json")
	var js struct {
		Services []struct {
			DSCP  *int `json:"dscp"`
			Mode  string
			Stats struct {
				Connections uint64 `json:"connections"`
			}
			Reals []struct {
				Address string
				Forward string
				Stats   struct {
					BytesIn uint64 `json:"bytes_in"`
				}
			}
		}
		Problems []string
	}
	if err := json.Unmarshal([]byte(stdout), &js); err != nil || st != exitOK {
		t.Fatalf("json: %v %d %q", err, st, stdout)
	}
	s := js.Services[0]
	if s.DSCP == nil || *s.DSCP != 21 || s.Mode != "dscp" || s.Stats.Connections != 1<<33 || s.Reals[0].Stats.BytesIn != 1<<40 || s.Reals[0].Forward != "masq" {
		t.Errorf("json: %+v", js)
	}
	// A service of ipvsadm's beside: its line ends with "unmanaged", the
	// line of l3dsr's does not change, and the exit status stays 0.
	f.status.Services = append(f.status.Services, director.Service{
		Key:  director.Key{VIP: netip.MustParseAddr("10.9.0.1"), Port: 80, Proto: ipvs.ProtoTCP},
		Mode: dsrtypes.ModeNAT, Scheduler: "wlc",
		Reals: []director.Real{{Addr: netip.MustParseAddr("192.0.2.50"), Weight: 1, Forward: ipvs.Masquerade}},
	})
	st, stdout, _ = runCLI("director", "show")
	lines = strings.Split(stdout, "\n")
	if f := strings.Fields(lines[2]); st != exitOK || strings.Join(f, " ") != "TCP 10.0.0.1:80 dscp 21 wlc 300 8589934592 7 0 0 0" {
		t.Errorf("exit %d, service line: %q", st, lines[2])
	}
	if f := strings.Fields(lines[4]); strings.Join(f, " ") != "TCP 10.9.0.1:80 nat - wlc - 0 0 0 0 0 unmanaged" {
		t.Errorf("unmanaged service line: %q", lines[4])
	}
	_, stdout, _ = runCLI("director", "show", "-o", "json")
	var managed struct{ Services []struct{ Managed bool } }
	if err := json.Unmarshal([]byte(stdout), &managed); err != nil || len(managed.Services) != 2 || !managed.Services[0].Managed || managed.Services[1].Managed {
		t.Errorf("json managed: %v %+v", err, managed)
	}
	f.status.Problems = []string{"sysctl net.ipv4.vs.conntrack is 1, want 0"}
	st, _, stderr := runCLI("director", "show")
	if st != exitRuntime || !strings.Contains(stderr, "problem: sysctl net.ipv4.vs.conntrack is 1, want 0") {
		t.Errorf("problems: want exit 1 and the problem, got %d %q", st, stderr)
	}
}

// A dr-mode real on none of the director's subnets is the command line's
// fault: exit 2, with the director's text.
func TestDirectorRealNotConnected(t *testing.T) {
	f := withFakeDirector(t)
	f.err = fmt.Errorf("real server 192.0.2.9 of tcp 10.0.0.1:80 (direct routing) is on no subnet of this director: %w", director.ErrNotConnected)
	st, _, stderr := runCLI("director", "real", "add", "--vip", "10.0.0.1:80", "--real", "192.0.2.9")
	if st != exitUsage || !strings.Contains(stderr, "is on no subnet of this director") {
		t.Errorf("want exit 2 naming the real, got %d %q", st, stderr)
	}
	f.err = errors.New("netlink: no such service")
	if st, _, _ := runCLI("director", "real", "add", "--vip", "10.0.0.1:80", "--real", "192.0.2.9"); st != exitRuntime {
		t.Errorf("another error: want exit 1, got %d", st)
	}
}

// A scheduler the kernel lacks (mh before 4.18) is the command line's error:
// exit 2, with the kernel's refusal as ipvs words it.
func TestServiceAddNoScheduler(t *testing.T) {
	f := withFakeDirector(t)
	f.err = fmt.Errorf("add service tcp 10.0.0.1:80: %w", ipvs.ErrNoScheduler)
	st, stdout, stderr := runCLI("director", "service", "add", "--vip", "10.0.0.1:80", "--dscp", "10", "--scheduler", "mh")
	if st != exitUsage || stdout != "" || !strings.Contains(stderr, "scheduler not available") {
		t.Errorf("status %d, stdout %q, stderr %q", st, stdout, stderr)
	}
	if strings.Join(f.calls, ",") != "AddService" {
		t.Errorf("calls %q", f.calls)
	}
}
