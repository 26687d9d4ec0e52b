//go:build linux

package ipvs

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/l3dsr/l3dsr/internal/nstest"
	"golang.org/x/sys/unix"
)

// The tests below run against the kernel's IPVS, each in network
// namespaces of its own, and cross-check every read and write with
// ipvsadm.
const needs = "root, ip_vs and ipvsadm available"

// integration skips t unless the integration tests were asked for, and
// loads the IPVS modules they use.
func integration(t *testing.T) {
	t.Helper()
	nstest.Require(t, needs)
	modprobeOnce.Do(func() {
		modprobeOut, modprobeErr = exec.Command("modprobe", "-a", "ip_vs", "ip_vs_wlc", "ip_vs_rr", "ip_vs_mh", "ip_vs_sh").CombinedOutput()
	})
	if modprobeErr != nil {
		t.Fatalf("modprobe -a ip_vs ip_vs_wlc ip_vs_rr ip_vs_mh ip_vs_sh: %v: %s", modprobeErr, modprobeOut)
	}
}

var (
	modprobeOnce sync.Once
	modprobeOut  []byte
	modprobeErr  error
)

// run runs a command and returns its output; a failure fails the test.
func run(t *testing.T, stdin string, name string, args ...string) string {
	t.Helper()
	out, err := runErr(stdin, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func runErr(stdin string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// newNS creates a named network namespace with lo up and removes it when
// the test ends.
func newNS(t *testing.T) string {
	t.Helper()
	integration(t)
	return nstest.New(t, "l3dsr-ipvs", needs).Name
}

// dialNS returns a client of IPVS in namespace ns.
func dialNS(t *testing.T, ns string) *Client {
	t.Helper()
	fd, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	c, err := newInNetNS(fd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ipvsadm(t *testing.T, ns string, args ...string) string {
	t.Helper()
	return run(t, "", "ip", append([]string{"netns", "exec", ns, "ipvsadm"}, args...)...)
}

// saved is `ipvsadm -S -n` as a sorted list of lines.
func saved(t *testing.T, ns string) []string {
	t.Helper()
	return sortedLines(ipvsadm(t, ns, "-S", "-n"))
}

func sortedLines(s string) []string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	slices.Sort(lines)
	return lines
}

func equalLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	want = slices.Clone(want)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

// serviceCases are services with the ipvsadm -S line that says the same.
var serviceCases = []struct {
	line string
	svc  Service
}{
	{"-A -t 10.0.0.1:80 -s wlc -p 300",
		Service{Protocol: ProtoTCP, Address: addr("10.0.0.1"), Port: 80, Scheduler: "wlc", Flags: FlagPersistent, Timeout: 300}},
	{"-A -t 10.0.0.4:80 -s rr -p 30 -M 255.255.255.0 --pe sip",
		Service{Protocol: ProtoTCP, Address: addr("10.0.0.4"), Port: 80, Scheduler: "rr", Flags: FlagPersistent, Timeout: 30, Netmask: 0xffffff00, PEName: "sip"}},
	{"-A -u 10.0.0.2:53 -s rr -o",
		Service{Protocol: ProtoUDP, Address: addr("10.0.0.2"), Port: 53, Scheduler: "rr", Flags: FlagOnePacket}},
	{"-A --sctp-service 10.0.0.3:3868 -s sh -b sh-fallback,sh-port",
		Service{Protocol: ProtoSCTP, Address: addr("10.0.0.3"), Port: 3868, Scheduler: "sh", Flags: flagSchedSHFallback | flagSchedSHPort}},
	{"-A -t [2001:db8::1]:443 -s mh -p 60 -M 64 -b mh-port",
		Service{Protocol: ProtoTCP, Address: addr("2001:db8::1"), Port: 443, Scheduler: "mh", Flags: FlagPersistent | flagSchedMHPort, Timeout: 60, Netmask: 64}},
	{"-A -u [2001:db8::2]:53 -s wlc",
		Service{Protocol: ProtoUDP, Address: addr("2001:db8::2"), Port: 53, Scheduler: "wlc"}},
	{"-A --sctp-service [2001:db8::3]:3868 -s rr",
		Service{Protocol: ProtoSCTP, Address: addr("2001:db8::3"), Port: 3868, Scheduler: "rr"}},
	{"-A -f 7 -s wlc",
		Service{FWMark: 7, Scheduler: "wlc"}},
	{"-A -f 8 -6 -s rr -p 100 -M 96",
		Service{Family: unix.AF_INET6, FWMark: 8, Scheduler: "rr", Flags: FlagPersistent, Timeout: 100, Netmask: 96}},
}

// asRead is s as the kernel reports it: family and netmask filled in, the
// hashed flag set.
func asRead(t *testing.T, s Service) Service {
	t.Helper()
	n, err := s.normalize()
	if err != nil {
		t.Fatal(err)
	}
	n.Flags |= flagHashed
	return n
}

// checkServices compares what the package reads with the services wanted.
func checkServices(t *testing.T, c *Client, want []Service) {
	t.Helper()
	got, err := c.Services()
	if err != nil {
		t.Fatal(err)
	}
	key := func(s Service) string { return s.String() }
	slices.SortFunc(got, func(a, b Service) int { return strings.Compare(key(a), key(b)) })
	want = slices.Clone(want)
	for i := range want {
		want[i] = asRead(t, want[i])
	}
	slices.SortFunc(want, func(a, b Service) int { return strings.Compare(key(a), key(b)) })
	if len(got) != len(want) {
		t.Fatalf("%d services read, want %d:\n got %+v\nwant %+v", len(got), len(want), got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("service read\n got %+v\nwant %+v", got[i], want[i])
		}
	}
}

func TestIntegrationInfo(t *testing.T) {
	ns := newNS(t)
	info, err := dialNS(t, ns).info()
	if err != nil {
		t.Fatal(err)
	}
	head := strings.SplitN(ipvsadm(t, ns, "-L", "-n"), "\n", 2)[0]
	if want := fmt.Sprintf("IP Virtual Server version %s (size=%d)", info.version, info.connTableSize); head != want {
		t.Errorf("ipvsadm says %q, the package %q", head, want)
	}
}

// Services written by the package are what ipvsadm reads, and the package
// reads them back the same; updates and removals too.
func TestIntegrationServicesWrittenByPackage(t *testing.T) {
	ns := newNS(t)
	c := dialNS(t, ns)
	var lines []string
	var svcs []Service
	for _, sc := range serviceCases {
		if err := c.CreateService(sc.svc); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, sc.line)
		svcs = append(svcs, sc.svc)
	}
	equalLines(t, "ipvsadm -S -n", saved(t, ns), lines)
	checkServices(t, c, svcs)
	for _, s := range svcs {
		got, err := c.Service(Service{Family: s.Family, Protocol: s.Protocol, Address: s.Address, Port: s.Port, FWMark: s.FWMark})
		if err != nil {
			t.Fatal(err)
		}
		if want := asRead(t, s); got != want {
			t.Errorf("Service\n got %+v\nwant %+v", got, want)
		}
	}

	// An update replaces every option.
	upd := Service{Protocol: ProtoTCP, Address: addr("10.0.0.1"), Port: 80, Scheduler: "mh", Flags: flagSchedMHFallback}
	if err := c.UpdateService(upd); err != nil {
		t.Fatal(err)
	}
	lines[0], svcs[0] = "-A -t 10.0.0.1:80 -s mh -b mh-fallback", upd
	upd6 := Service{Family: unix.AF_INET6, FWMark: 8, Scheduler: "wlc", Flags: FlagPersistent, Timeout: 5, Netmask: 48}
	if err := c.UpdateService(upd6); err != nil {
		t.Fatal(err)
	}
	lines[8], svcs[8] = "-A -f 8 -6 -s wlc -p 5 -M 48", upd6
	equalLines(t, "ipvsadm -S -n after updates", saved(t, ns), lines)
	checkServices(t, c, svcs)

	if err := c.RemoveService(Service{Protocol: ProtoUDP, Address: addr("10.0.0.2"), Port: 53}); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveService(Service{FWMark: 7}); err != nil {
		t.Fatal(err)
	}
	lines = slices.Delete(lines, 7, 8)
	lines = slices.Delete(lines, 2, 3)
	svcs = slices.Delete(svcs, 7, 8)
	svcs = slices.Delete(svcs, 2, 3)
	equalLines(t, "ipvsadm -S -n after removals", saved(t, ns), lines)
	checkServices(t, c, svcs)

	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	equalLines(t, "ipvsadm -S -n after a flush", saved(t, ns), nil)
	checkServices(t, c, nil)
}

// The kernel keeps a service's flags as they are given, bits no IPVS flag
// uses too, through an update, and dumps them back: the director tags each
// service it makes with its mode in the top three bits (director's tagOf),
// which must survive. ipvsadm lists such a service as any other.
func TestIntegrationServiceFlagKept(t *testing.T) {
	ns := newNS(t)
	c := dialNS(t, ns)
	const tag ServiceFlags = 7 << 29
	s := Service{Protocol: ProtoTCP, Address: addr("10.0.0.3"), Port: 80, Scheduler: "rr", Flags: tag}
	if err := c.CreateService(s); err != nil {
		t.Fatal(err)
	}
	checkServices(t, c, []Service{s})
	s.Scheduler, s.Flags, s.Timeout = "wlc", tag|FlagPersistent, 60
	if err := c.UpdateService(s); err != nil {
		t.Fatal(err)
	}
	checkServices(t, c, []Service{s})
	equalLines(t, "ipvsadm -S -n", saved(t, ns), []string{"-A -t 10.0.0.3:80 -s wlc -p 60"})
}

// Services written by ipvsadm are read correctly; its updates and
// removals too.
func TestIntegrationServicesWrittenByIpvsadm(t *testing.T) {
	ns := newNS(t)
	c := dialNS(t, ns)
	var in strings.Builder
	var svcs []Service
	for _, sc := range serviceCases {
		in.WriteString(sc.line + "\n")
		svcs = append(svcs, sc.svc)
	}
	run(t, in.String(), "ip", "netns", "exec", ns, "ipvsadm", "-R")
	checkServices(t, c, svcs)

	ipvsadm(t, ns, "-E", "-t", "10.0.0.4:80", "-s", "wlc", "-p", "10")
	svcs[1] = Service{Protocol: ProtoTCP, Address: addr("10.0.0.4"), Port: 80, Scheduler: "wlc", Flags: FlagPersistent, Timeout: 10}
	ipvsadm(t, ns, "-D", "--sctp-service", "[2001:db8::3]:3868")
	svcs = slices.Delete(svcs, 6, 7)
	checkServices(t, c, svcs)

	ipvsadm(t, ns, "-C")
	checkServices(t, c, nil)
}

// destCases are destinations of the services of destServices, with the
// ipvsadm -S line and the thresholds ipvsadm -L --thresholds shows.
var (
	destServices = []string{"-A -t 10.0.0.1:80 -s wlc", "-A -t [2001:db8::1]:443 -s rr", "-A -f 7 -s wlc"}
	svcV4        = Service{Protocol: ProtoTCP, Address: addr("10.0.0.1"), Port: 80}
	svcV6        = Service{Protocol: ProtoTCP, Address: addr("2001:db8::1"), Port: 443}
	svcFW        = Service{FWMark: 7}
	destCases    = []struct {
		svc        Service
		line       string
		thresholds string // "U L" of ipvsadm -L --thresholds
		dest       Destination
	}{
		{svcV4, "-a -t 10.0.0.1:80 -r 10.1.0.10:8080 -m -w 100", "50 10",
			Destination{Address: addr("10.1.0.10"), Port: 8080, Forward: Masquerade, Weight: 100, UpperThreshold: 50, LowerThreshold: 10}},
		{svcV4, "-a -t 10.0.0.1:80 -r 10.1.0.11:80 -g -w 0", "0 0",
			Destination{Address: addr("10.1.0.11"), Forward: Route, Weight: 0}},
		{svcV4, "-a -t 10.0.0.1:80 -r 10.1.0.12:80 -i -w 5 --tun-type ipip", "0 0",
			Destination{Address: addr("10.1.0.12"), Forward: Tunnel, Weight: 5}},
		{svcV4, "-a -t 10.0.0.1:80 -r 10.1.0.13:80 -i -w 5 --tun-type gue --tun-port 6080 --tun-nocsum", "0 0",
			Destination{Address: addr("10.1.0.13"), Forward: Tunnel, Weight: 5, TunnelType: TunnelGUE, TunnelPort: 6080}},
		{svcV4, "-a -t 10.0.0.1:80 -r 10.1.0.14:80 -i -w 1 --tun-type gre --tun-csum", "0 0",
			Destination{Address: addr("10.1.0.14"), Forward: Tunnel, Weight: 1, TunnelType: TunnelGRE, TunnelFlags: TunnelFlagChecksum}},
		{svcV6, "-a -t [2001:db8::1]:443 -r [fd00::10]:8443 -m -w 3", "7 2",
			Destination{Address: addr("fd00::10"), Port: 8443, Forward: Masquerade, Weight: 3, UpperThreshold: 7, LowerThreshold: 2}},
		{svcV6, "-a -t [2001:db8::1]:443 -r 10.1.0.20:443 -i -w 1 --tun-type ipip", "0 0",
			Destination{Address: addr("10.1.0.20"), Forward: Tunnel, Weight: 1}},
		{svcFW, "-a -f 7 -r 10.1.0.30:0 -g -w 2", "0 0",
			Destination{Address: addr("10.1.0.30"), Forward: Route, Weight: 2}},
	}
)

// thresholds is `ipvsadm -L -n --thresholds --exact` as "ADDR:PORT U L"
// lines, sorted.
func thresholds(t *testing.T, ns string) []string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(ipvsadm(t, ns, "-L", "-n", "--thresholds", "--exact"), "\n") {
		f := strings.Fields(l)
		if len(f) >= 4 && f[0] == "->" && f[1] != "RemoteAddress:Port" {
			out = append(out, f[1]+" "+f[2]+" "+f[3])
		}
	}
	slices.Sort(out)
	return out
}

// destAsRead is d as the kernel reports it for service s.
func destAsRead(t *testing.T, s Service, d Destination) Destination {
	t.Helper()
	n, err := s.normalize()
	if err != nil {
		t.Fatal(err)
	}
	if d, err = d.normalize(n); err != nil {
		t.Fatal(err)
	}
	return d
}

// checkDests compares what the package reads with the destinations wanted
// (of destCases, by index), and what ipvsadm reads with their lines.
func checkDests(t *testing.T, c *Client, ns string, idx []int, change map[int]Destination) {
	t.Helper()
	lines := slices.Clone(destServices)
	var thr []string
	want := map[string][]Destination{}
	for _, i := range idx {
		dc := destCases[i]
		d, changed := change[i]
		if !changed {
			d = dc.dest
		}
		rd := destAsRead(t, dc.svc, d)
		want[dc.svc.String()] = append(want[dc.svc.String()], rd)
		lines = append(lines, dc.line)
		thr = append(thr, rd.String()+" "+dc.thresholds)
	}
	// Changed destinations have other lines: the callers check those.
	if len(change) == 0 {
		equalLines(t, "ipvsadm -S -n", saved(t, ns), lines)
		slices.Sort(thr)
		if got := thresholds(t, ns); !slices.Equal(got, thr) {
			t.Errorf("ipvsadm --thresholds:\n got %q\nwant %q", got, thr)
		}
	}
	for _, s := range []Service{svcV4, svcV6, svcFW} {
		got, err := c.Destinations(s)
		if err != nil {
			t.Fatal(err)
		}
		w := want[s.String()]
		key := func(a, b Destination) int { return strings.Compare(a.String(), b.String()) }
		slices.SortFunc(got, key)
		slices.SortFunc(w, key)
		if len(got) != len(w) {
			t.Errorf("%v: %d destinations read, want %d:\n got %+v\nwant %+v", s, len(got), len(w), got, w)
			continue
		}
		for i := range w {
			if got[i] != w[i] {
				t.Errorf("%v: destination read\n got %+v\nwant %+v", s, got[i], w[i])
			}
		}
	}
}

func allDests() []int {
	var idx []int
	for i := range destCases {
		idx = append(idx, i)
	}
	return idx
}

func createServicesForDests(t *testing.T, c *Client) {
	t.Helper()
	v6 := svcV6
	v6.Scheduler = "rr" // as destServices says
	for _, s := range []Service{svcV4, v6, svcFW} {
		if err := c.CreateService(s); err != nil {
			t.Fatal(err)
		}
	}
}

// Destinations written by the package are what ipvsadm reads; the
// package's updates and removals too.
func TestIntegrationDestinationsWrittenByPackage(t *testing.T) {
	ns := newNS(t)
	c := dialNS(t, ns)
	createServicesForDests(t, c)
	for _, dc := range destCases {
		if err := c.CreateDestination(dc.svc, dc.dest); err != nil {
			t.Fatal(err)
		}
	}
	checkDests(t, c, ns, allDests(), nil)

	// Route to tunnel, new weight and thresholds; masquerade to GUE.
	u1 := Destination{Address: addr("10.1.0.11"), Forward: Tunnel, Weight: 9, UpperThreshold: 20, LowerThreshold: 4}
	if err := c.UpdateDestination(svcV4, u1); err != nil {
		t.Fatal(err)
	}
	u2 := Destination{Address: addr("fd00::10"), Port: 8443, Forward: Masquerade, Weight: 0}
	if err := c.UpdateDestination(svcV6, u2); err != nil {
		t.Fatal(err)
	}
	got := saved(t, ns)
	for _, want := range []string{"-a -t 10.0.0.1:80 -r 10.1.0.11:80 -i -w 9 --tun-type ipip", "-a -t [2001:db8::1]:443 -r [fd00::10]:8443 -m -w 0"} {
		if !slices.Contains(got, want) {
			t.Errorf("ipvsadm -S -n after updates has no %q: %q", want, got)
		}
	}
	if thr := thresholds(t, ns); !slices.Contains(thr, "10.1.0.11:80 20 4") || !slices.Contains(thr, "[fd00::10]:8443 0 0") {
		t.Errorf("ipvsadm --thresholds after updates: %q", thr)
	}
	checkDests(t, c, ns, allDests(), map[int]Destination{1: u1, 5: u2})

	if err := c.RemoveDestination(svcV4, Destination{Address: addr("10.1.0.11")}); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveDestination(svcV6, Destination{Address: addr("fd00::10"), Port: 8443}); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveDestination(svcFW, Destination{Address: addr("10.1.0.30")}); err != nil {
		t.Fatal(err)
	}
	checkDests(t, c, ns, []int{0, 2, 3, 4, 6}, nil)
}

// Destinations written by ipvsadm are read correctly; its updates and
// removals too.
func TestIntegrationDestinationsWrittenByIpvsadm(t *testing.T) {
	ns := newNS(t)
	c := dialNS(t, ns)
	in := strings.Join(destServices, "\n") + "\n"
	for _, dc := range destCases {
		in += dc.line
		if dc.thresholds != "0 0" {
			f := strings.Fields(dc.thresholds)
			in += " -x " + f[0] + " -y " + f[1]
		}
		in += "\n"
	}
	run(t, in, "ip", "netns", "exec", ns, "ipvsadm", "-R")
	checkDests(t, c, ns, allDests(), nil)

	ipvsadm(t, ns, "-e", "-t", "10.0.0.1:80", "-r", "10.1.0.12", "-g", "-w", "77", "-x", "30", "-y", "3")
	ipvsadm(t, ns, "-e", "-t", "[2001:db8::1]:443", "-r", "10.1.0.20", "-i", "-w", "4", "--tun-type", "gue", "--tun-port", "7000", "--tun-csum")
	checkDests(t, c, ns, allDests(), map[int]Destination{
		2: {Address: addr("10.1.0.12"), Forward: Route, Weight: 77, UpperThreshold: 30, LowerThreshold: 3},
		6: {Address: addr("10.1.0.20"), Forward: Tunnel, Weight: 4, TunnelType: TunnelGUE, TunnelPort: 7000, TunnelFlags: TunnelFlagChecksum},
	})

	ipvsadm(t, ns, "-d", "-t", "10.0.0.1:80", "-r", "10.1.0.12")
	ipvsadm(t, ns, "-d", "-t", "[2001:db8::1]:443", "-r", "10.1.0.20")
	ipvsadm(t, ns, "-d", "-f", "7", "-r", "10.1.0.30")
	checkDests(t, c, ns, []int{0, 1, 3, 4, 5}, nil)
}

func TestIntegrationErrors(t *testing.T) {
	ns := newNS(t)
	c := dialNS(t, ns)
	svc := Service{Protocol: ProtoTCP, Address: addr("10.0.0.1"), Port: 80, Scheduler: "rr"}
	missing := Service{Protocol: ProtoUDP, Address: addr("10.0.0.9"), Port: 53}
	dst := Destination{Address: addr("10.1.0.10"), Forward: Masquerade, Weight: 1}
	if err := c.CreateService(svc); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateDestination(svc, dst); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name string
		err  error
		is   error
		text string
	}{
		{"create service twice", c.CreateService(svc), ErrExists, "ipvs: create service tcp 10.0.0.1:80: exists"},
		{"create destination twice", c.CreateDestination(svc, dst), ErrExists, "ipvs: create destination 10.1.0.10:80 of tcp 10.0.0.1:80: exists"},
		{"remove missing service", c.RemoveService(missing), ErrNotFound, "ipvs: remove service udp 10.0.0.9:53: not found"},
		{"update missing service", c.UpdateService(missing), ErrNotFound, "ipvs: update service udp 10.0.0.9:53: not found"},
		{"get missing service", func() error { _, err := c.Service(missing); return err }(), ErrNotFound, "ipvs: get service udp 10.0.0.9:53: not found"},
		{"destinations of missing service", func() error { _, err := c.Destinations(missing); return err }(), ErrNotFound, "ipvs: list destinations of udp 10.0.0.9:53: not found"},
		{"remove missing destination", c.RemoveDestination(svc, Destination{Address: addr("10.1.0.99")}), ErrNotFound, "ipvs: remove destination 10.1.0.99:80 of tcp 10.0.0.1:80: not found"},
		{"update missing destination", c.UpdateDestination(svc, Destination{Address: addr("10.1.0.99"), Weight: 1}), ErrNotFound, "ipvs: update destination 10.1.0.99:80 of tcp 10.0.0.1:80: not found"},
		{"destination of missing service", c.CreateDestination(missing, dst), ErrNotFound, "ipvs: create destination 10.1.0.10:53 of udp 10.0.0.9:53: service not found"},
		{"zero missing service", c.zeroStats(&missing), ErrNotFound, "ipvs: zero counters of service udp 10.0.0.9:53: not found"},
		{"unknown scheduler", c.CreateService(Service{Protocol: ProtoTCP, Address: addr("10.0.0.2"), Port: 80, Scheduler: "nosuchsched"}), nil,
			`ipvs: create service tcp 10.0.0.2:80: scheduler "nosuchsched" is not available: load it with 'modprobe ip_vs_nosuchsched', or check the name`},
		{"unknown scheduler on update", c.UpdateService(Service{Protocol: ProtoTCP, Address: addr("10.0.0.1"), Port: 80, Scheduler: "nosuchsched"}), nil,
			`ipvs: update service tcp 10.0.0.1:80: scheduler "nosuchsched" is not available: load it with 'modprobe ip_vs_nosuchsched', or check the name`},
	}
	for _, ch := range checks {
		t.Run(ch.name, func(t *testing.T) {
			if ch.err == nil {
				t.Fatal("no error")
			}
			if ch.err.Error() != ch.text {
				t.Errorf("error\n got %q\nwant %q", ch.err, ch.text)
			}
			for _, kind := range []error{ErrNotFound, ErrExists} {
				if got := errors.Is(ch.err, kind); got != (kind == ch.is) {
					t.Errorf("errors.Is(err, %q) = %v", kind, got)
				}
			}
		})
	}
	// Nothing was changed by the refused requests.
	equalLines(t, "ipvsadm -S -n", saved(t, ns), []string{"-A -t 10.0.0.1:80 -s rr", "-a -t 10.0.0.1:80 -r 10.1.0.10:80 -m -w 1"})
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	equalLines(t, "ipvsadm -S -n after a flush", saved(t, ns), nil)
	if s, err := c.Services(); err != nil || len(s) != 0 {
		t.Errorf("Services after a flush = %v, %v; want none", s, err)
	}
}

// inNS runs fn on a thread in network namespace ns. Sockets fn opens stay
// in ns. The thread is never given back to the Go scheduler.
func inNS(t *testing.T, ns string, fn func() error) {
	t.Helper()
	errc := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		fd, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("entering %s: %w", ns, err)
			return
		}
		errc <- fn()
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// ipvsadmStats is the "Conns InPkts OutPkts InBytes OutBytes" of one line
// of `ipvsadm -L -n --stats --exact`, by its first fields ("TCP
// 10.99.0.1:80" or "-> 10.99.0.1:80").
func ipvsadmStats(t *testing.T, ns string) map[string][5]uint64 {
	t.Helper()
	out := map[string][5]uint64{}
	for _, l := range strings.Split(ipvsadm(t, ns, "-L", "-n", "--stats", "--exact"), "\n") {
		f := strings.Fields(l)
		if len(f) != 7 {
			continue
		}
		var v [5]uint64
		ok := true
		for i := range v {
			n, err := strconv.ParseUint(f[2+i], 10, 64)
			ok = ok && err == nil
			v[i] = n
		}
		if ok {
			out[f[0]+" "+f[1]] = v
		}
	}
	return out
}

func counters(s Stats) [5]uint64 {
	return [5]uint64{s.Connections, s.PacketsIn, s.PacketsOut, s.BytesIn, s.BytesOut}
}

// Real traffic through a service: the package's 64-bit counters equal
// ipvsadm's, for the service and its destination, and zeroStats zeroes
// both.
func TestIntegrationCounters(t *testing.T) {
	integration(t)
	for _, fam := range []struct {
		name                 string
		vip, lbAddr, cliAddr string
		prefix               string
		proto                string
	}{
		{"IPv4", "10.99.0.1", "192.168.77.1", "192.168.77.2", "24", "TCP"},
		{"IPv6", "fd99::1", "fd77::1", "fd77::2", "64", "TCP"},
	} {
		t.Run(fam.name, func(t *testing.T) {
			lb, cli := newNS(t), newNS(t)
			run(t, "", "ip", "-n", lb, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1", "netns", cli)
			nodad := []string{}
			bits := "/32"
			if strings.Contains(fam.vip, ":") {
				nodad, bits = []string{"nodad"}, "/128"
			}
			run(t, "", "ip", append([]string{"-n", lb, "addr", "add", fam.lbAddr + "/" + fam.prefix, "dev", "veth0"}, nodad...)...)
			run(t, "", "ip", append([]string{"-n", cli, "addr", "add", fam.cliAddr + "/" + fam.prefix, "dev", "veth1"}, nodad...)...)
			run(t, "", "ip", append([]string{"-n", lb, "addr", "add", fam.vip + bits, "dev", "lo"}, nodad...)...)
			run(t, "", "ip", "-n", lb, "link", "set", "veth0", "up")
			run(t, "", "ip", "-n", cli, "link", "set", "veth1", "up")
			run(t, "", "ip", "-n", cli, "route", "add", fam.vip+bits, "via", fam.lbAddr)

			vip := addr(fam.vip)
			c := dialNS(t, lb)
			svc := Service{Protocol: ProtoTCP, Address: vip, Port: 80, Scheduler: "rr"}
			dst := Destination{Address: vip, Port: 8080, Forward: Masquerade, Weight: 1}
			if err := c.CreateService(svc); err != nil {
				t.Fatal(err)
			}
			if err := c.CreateDestination(svc, dst); err != nil {
				t.Fatal(err)
			}

			// A server in lb on the destination's port; a client in cli
			// that talks to the VIP.
			var ln net.Listener
			inNS(t, lb, func() (err error) {
				ln, err = net.Listen("tcp", netip.AddrPortFrom(vip, 8080).String())
				return err
			})
			t.Cleanup(func() { ln.Close() })
			var received atomic.Int64
			go func() {
				for {
					conn, err := ln.Accept()
					if err != nil {
						return
					}
					go func() {
						defer conn.Close()
						n, _ := io.Copy(io.Discard, conn)
						received.Add(n)
						conn.Write([]byte("thanks"))
					}()
				}
			}()
			const conns, size = 20, 3000
			payload := make([]byte, size)
			inNS(t, cli, func() error {
				for i := range conns {
					conn, err := net.DialTimeout("tcp", netip.AddrPortFrom(vip, 80).String(), 10*time.Second)
					if err != nil {
						return fmt.Errorf("connection %d to %v:80: %w", i, vip, err)
					}
					if _, err := conn.Write(payload); err != nil {
						return err
					}
					conn.(*net.TCPConn).CloseWrite()
					reply, err := io.ReadAll(conn)
					conn.Close()
					if err != nil || string(reply) != "thanks" {
						return fmt.Errorf("connection %d: reply %q, %v", i, reply, err)
					}
				}
				return nil
			})
			if got := received.Load(); got != conns*size {
				t.Fatalf("server received %d bytes, want %d", got, conns*size)
			}

			// The kernel folds its per-CPU counters in every 2 s or so:
			// wait until they account for every connection and stay put,
			// then compare with ipvsadm read in between two reads of ours.
			svcKey := fam.proto + " " + netip.AddrPortFrom(vip, 80).String()
			dstKey := "-> " + netip.AddrPortFrom(vip, 8080).String()
			var last string
			deadline := time.Now().Add(60 * time.Second)
			for {
				s1, d1 := readCounters(t, c, svc)
				adm := ipvsadmStats(t, lb)
				s2, d2 := readCounters(t, c, svc)
				last = fmt.Sprintf("package service %v dest %v; ipvsadm service %v dest %v", s1, d1, adm[svcKey], adm[dstKey])
				if s1.Connections == conns && counters(s1) == counters(s2) && counters(d1) == counters(d2) &&
					counters(s1) == adm[svcKey] && counters(d1) == adm[dstKey] {
					t.Logf("counters agree: %s", last)
					if s1.BytesIn < conns*size || s1.PacketsIn < conns*3 || s1.BytesOut == 0 {
						t.Errorf("counters too small for %d connections of %d bytes: %+v", conns, size, s1)
					}
					if counters(d1) != counters(s1) {
						t.Errorf("the only destination's counters %v differ from the service's %v", counters(d1), counters(s1))
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("counters did not settle and agree within 60 s: %s", last)
				}
				time.Sleep(time.Second)
			}

			if err := c.zeroStats(&svc); err != nil {
				t.Fatal(err)
			}
			s, d := readCounters(t, c, svc)
			adm := ipvsadmStats(t, lb)
			if counters(s) != [5]uint64{} || counters(d) != [5]uint64{} || adm[svcKey] != [5]uint64{} || adm[dstKey] != [5]uint64{} {
				t.Errorf("after zeroStats: package service %v dest %v, ipvsadm %v %v; want zeros", s, d, adm[svcKey], adm[dstKey])
			}
		})
	}
}

// readCounters reads the counters of service s and of its one destination.
func readCounters(t *testing.T, c *Client, s Service) (Stats, Stats) {
	t.Helper()
	got, err := c.Service(s)
	if err != nil {
		t.Fatal(err)
	}
	dests, err := c.Destinations(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(dests) != 1 {
		t.Fatalf("%d destinations, want 1", len(dests))
	}
	return got.Stats, dests[0].Stats
}
