package main

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/doctor"
	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/rtnl"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/maptable"
	"github.com/l3dsr/l3dsr/realserver"
	"golang.org/x/sys/unix"
)

// fakeDoctorHost is a real server with one dr-mode VIP, 10.0.0.3.
type fakeDoctorHost struct {
	sysctls map[string]string
	linkErr error
}

func (f *fakeDoctorHost) host() doctor.Host {
	return doctor.Host{
		Sysctl: func(key string) (string, error) {
			if v, ok := f.sysctls[key]; ok {
				return v, nil
			}
			return "", errors.New("reading sysctl " + key + ": no such key")
		},
		Links: func() ([]rtnl.Link, error) {
			return []rtnl.Link{
				{Index: 1, Name: "lo", Flags: unix.IFF_UP | unix.IFF_LOOPBACK},
				{Index: 2, Name: "eth0", Flags: unix.IFF_UP},
			}, f.linkErr
		},
		Addrs: func() ([]rtnl.Addr, error) {
			return []rtnl.Addr{
				{Index: 1, Prefix: netip.MustParsePrefix("10.0.0.3/32")},
				{Index: 2, Prefix: netip.MustParsePrefix("192.0.2.10/24")},
			}, nil
		},
		ModuleLoaded: func(string) bool { return true },
		Rules:        func(context.Context) ([]xtrule.Rule, error) { return nil, nil },
		Entries:      func() ([]maptable.Entry, error) { return nil, nil },
		RealServer: func(context.Context) (realserver.Report, error) {
			c := realserver.Config{VIP: netip.MustParseAddr("10.0.0.3"), Mode: dsrtypes.ModeDR}
			return realserver.Report{VIPs: []realserver.VIPStatus{{Config: c, OnLo: true, OK: true}}}, nil
		},
		Director: func() (director.Status, bool, error) { return director.Status{}, false, nil },
		Features: func(string) (doctor.Features, error) { return doctor.Features{RxChecksum: true, GRO: true}, nil },
		RouteOif: func(netip.Addr) (string, error) { return "eth0", nil },
	}
}

func withFakeDoctor(t *testing.T) *fakeDoctorHost {
	t.Helper()
	f := &fakeDoctorHost{sysctls: map[string]string{
		"net.ipv4.conf.all.arp_ignore": "1", "net.ipv4.conf.all.arp_announce": "2",
		"net.ipv4.conf.eth0.arp_ignore": "0", "net.ipv4.conf.eth0.arp_announce": "0",
	}}
	sysFor(t).openDoctor = func() (doctor.Host, func() error, error) { return f.host(), func() error { return nil }, nil }
	return f
}

const doctorConf = "realserver:\n  vips:\n    - vip: 10.0.0.3\n      mode: dr\n"

func TestDoctorExitStatus(t *testing.T) {
	f := withFakeDoctor(t)
	p := writeConf(t, doctorConf)
	rc, out, errs := runCLI("doctor", "-f", p)
	if rc != exitOK || errs != "" || out != "checked as real server (from "+p+")\n\nno problem found\n" {
		t.Errorf("clean: rc %d, stdout %q, stderr %q", rc, out, errs)
	}

	f.sysctls["net.ipv4.conf.all.arp_announce"] = "0"
	rc, out, errs = runCLI("doctor", "-f", p)
	if rc != exitRuntime || !strings.Contains(out, "problem [arp_announce]") || !strings.Contains(out, "fix: sysctl -w net.ipv4.conf.all.arp_announce=2\n") ||
		errs != "l3dsr: 1 finding(s) (listed above, each with the command that fixes it)\n" {
		t.Errorf("a finding: rc %d, stdout %q, stderr %q", rc, out, errs)
	}
	rc, out, _ = runCLI("doctor", "-f", p, "-o", "json")
	if rc != exitRuntime || !strings.Contains(out, `"fix": "sysctl -w net.ipv4.conf.all.arp_announce=2"`) {
		t.Errorf("json: rc %d, stdout %q", rc, out)
	}

	// The host cannot be read: exit 1 with the error, no report.
	f.linkErr = errors.New("listing links: permission denied")
	rc, out, errs = runCLI("doctor", "-f", p)
	if rc != exitRuntime || out != "" || !strings.Contains(errs, "permission denied") {
		t.Errorf("read error: rc %d, stdout %q, stderr %q", rc, out, errs)
	}
}

func TestDoctorUsage(t *testing.T) {
	withFakeDoctor(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"doctor", "-f", "/nonexistent/l3dsr.conf"}, "config file /nonexistent/l3dsr.conf does not exist"},
		{[]string{"doctor", "-f", writeConf(t, "realserver:\n  vips:\n    - vip: 10.0.0.1\n      dscp: 99\n")}, ":4: dscp 99 is out of range"},
		{[]string{"doctor", "-o", "xml"}, `output format "xml" is unknown`},
		{[]string{"doctor", "extra"}, "unknown command"},
	} {
		rc, out, errs := runCLI(tc.args...)
		if rc != exitUsage || out != "" || !strings.Contains(errs, tc.want) {
			t.Errorf("%q: rc %d, stdout %q, stderr %q", tc.args, rc, out, errs)
		}
	}
}
