package doctor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"

	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/ipvs"
	"github.com/l3dsr/l3dsr/internal/rtnl"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/maptable"
	"github.com/l3dsr/l3dsr/realserver"
	"golang.org/x/sys/unix"
)

// fakeHost is a host in memory; cleanHost is one with nothing wrong.
type fakeHost struct {
	sysctls  map[string]string
	links    []rtnl.Link
	addrs    []rtnl.Addr
	modules  map[string]bool
	rules    []xtrule.Rule
	entries  []maptable.Entry
	rs       realserver.Report
	dir      director.Status
	noIPVS   bool
	features map[string]Features
	routes   map[netip.Addr]string
	// bpf is the tc-BPF backend; nil: a build without it.
	bpf *bpfState
}

func (f *fakeHost) host() Host {
	h := Host{
		Sysctl: f.Sysctl, Links: f.Links, Addrs: f.Addrs, ModuleLoaded: f.ModuleLoaded, Rules: f.Rules, Entries: f.Entries,
		RealServer: f.RealServer, Director: f.Director, Features: f.Features, RouteOif: f.RouteOif,
	}
	if f.bpf != nil {
		h.bpf = func() (bpfState, error) { return *f.bpf, nil }
	}
	return h
}

func (f *fakeHost) Sysctl(key string) (string, error) {
	v, ok := f.sysctls[key]
	if !ok {
		return "", fmt.Errorf("reading sysctl %s: %w", key, fs.ErrNotExist)
	}
	return v, nil
}
func (f *fakeHost) Links() ([]rtnl.Link, error)        { return f.links, nil }
func (f *fakeHost) Addrs() ([]rtnl.Addr, error)        { return f.addrs, nil }
func (f *fakeHost) ModuleLoaded(name string) bool      { return f.modules[name] }
func (f *fakeHost) Entries() ([]maptable.Entry, error) { return f.entries, nil }
func (f *fakeHost) Rules(context.Context) ([]xtrule.Rule, error) {
	return f.rules, nil
}
func (f *fakeHost) RealServer(context.Context) (realserver.Report, error) { return f.rs, nil }
func (f *fakeHost) Director() (director.Status, bool, error) {
	return f.dir, !f.noIPVS, nil
}
func (f *fakeHost) Features(dev string) (Features, error) {
	ft, ok := f.features[dev]
	if !ok {
		return Features{}, errors.New("operation not supported")
	}
	return ft, nil
}
func (f *fakeHost) RouteOif(dst netip.Addr) (string, error) {
	i, ok := f.routes[dst]
	if !ok {
		return "", fmt.Errorf("no route to %s", dst)
	}
	return i, nil
}

// The VIPs of cleanHost's real server, and the reals of its director.
var vip4, vipIPIP, vip6 = netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("2001:db8::1")
var real1, real2 = netip.MustParseAddr("192.0.2.20"), netip.MustParseAddr("198.51.100.20")

const testFile = "/etc/l3dsr/l3dsr.conf"

func code(d uint8) *uint8 { return &d }

func prefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// cleanHost is a real server with a dscp-mode VIP of two codes, an
// ipip-mode VIP and an IPv6 dscp-mode VIP, and a director whose one
// service has a DSR-path health check toward reals by eth0 and eth1; and
// what its config file expects.
func cleanHost() (*fakeHost, *Expect) {
	up := uint32(unix.IFF_UP)
	h := &fakeHost{
		sysctls: map[string]string{
			"net.ipv4.conf.all.arp_ignore": "1", "net.ipv4.conf.all.arp_announce": "2",
			"net.ipv4.conf.all.rp_filter": "0", "net.ipv4.conf.tunl0.rp_filter": "0",
			"net.ipv4.conf.eth0.arp_ignore": "0", "net.ipv4.conf.eth0.arp_announce": "0", "net.ipv4.conf.eth0.rp_filter": "2",
			"net.ipv4.conf.eth1.arp_ignore": "0", "net.ipv4.conf.eth1.arp_announce": "0", "net.ipv4.conf.eth1.rp_filter": "0",
			"net.ipv4.conf.all.accept_local": "0", "net.ipv4.conf.eth0.accept_local": "1", "net.ipv4.conf.eth1.accept_local": "1",
			"net.ipv4.vs.conntrack": "0", "net.ipv4.vs.expire_nodest_conn": "1", "net.ipv4.vs.expire_quiescent_template": "1",
			"net.ipv4.vs.sloppy_tcp": "1", "net.ipv4.tcp_reflect_tos": "0",
		},
		links: []rtnl.Link{
			{Index: 1, Name: "lo", Flags: up | unix.IFF_LOOPBACK},
			{Index: 2, Name: "eth0", Flags: up},
			{Index: 3, Name: "eth1", Flags: up},
			{Index: 4, Name: "tunl0", Flags: up | unix.IFF_NOARP, Kind: "ipip"},
		},
		addrs: []rtnl.Addr{
			{Index: 1, Prefix: prefix("127.0.0.1/8"), Scope: rtnl.ScopeHost},
			{Index: 1, Prefix: prefix("10.0.0.1/32")},
			{Index: 1, Prefix: prefix("10.0.0.2/32")},
			{Index: 1, Prefix: prefix("2001:db8::1/128")},
			{Index: 2, Prefix: prefix("192.0.2.10/24")},
			{Index: 2, Prefix: prefix("2001:db8:e::10/64")},
			{Index: 3, Prefix: prefix("198.51.100.10/24")},
		},
		modules: map[string]bool{"xt_DADDR": true, "ipip": true},
		rules: []xtrule.Rule{
			{Family: dsrtypes.IPv4, Table: "raw", Chain: "PREROUTING", Line: "-A PREROUTING -j DADDR --map", Map: true, DSCP: -1, Ours: true},
			{Family: dsrtypes.IPv6, Table: "raw", Chain: "PREROUTING", Line: "-A PREROUTING -j DADDR --map", Map: true, DSCP: -1, Ours: true},
		},
		entries: []maptable.Entry{
			{Family: dsrtypes.IPv4, DSCP: 21, VIP: vip4},
			{Family: dsrtypes.IPv4, DSCP: 22, VIP: vip4},
			{Family: dsrtypes.IPv6, DSCP: 21, VIP: vip6},
		},
		rs: realserver.Report{VIPs: []realserver.VIPStatus{
			{Config: realserver.Config{VIP: vip4, Mode: dsrtypes.ModeDSCP, DSCP: code(21)}, DSCPs: realserver.Codes{21, 22}},
			{Config: realserver.Config{VIP: vipIPIP, Mode: dsrtypes.ModeIPIP, MSS: 1440}, Tunnel: "tunl0", TunnelUp: true, ClampMSS: 1440},
			{Config: realserver.Config{VIP: vip6, Mode: dsrtypes.ModeDSCP, DSCP: code(21)}, DSCPs: realserver.Codes{21}},
		}},
		dir: director.Status{Services: []director.Service{{
			Key: director.Key{VIP: vip4, Port: 80, Proto: ipvs.ProtoTCP}, Mode: dsrtypes.ModeDSCP, DSCP: 21, Managed: true,
			Reals: []director.Real{{Addr: real1, Weight: 1}, {Addr: real2, Weight: 1}},
		}}},
		features: map[string]Features{"eth0": {RxChecksum: true, GRO: true}, "eth1": {RxChecksum: true, GRO: true}},
		routes:   map[netip.Addr]string{real1: "eth0", real2: "eth1"},
	}
	e := &Expect{
		file: testFile,
		rs:   true,
		vips: []realserver.Config{
			{VIP: vip4, Mode: dsrtypes.ModeDSCP, DSCP: code(21)},
			{VIP: vip4, Mode: dsrtypes.ModeDSCP, DSCP: code(22)},
			{VIP: vipIPIP, Mode: dsrtypes.ModeIPIP},
			{VIP: vip6, Mode: dsrtypes.ModeDSCP, DSCP: code(21)},
		},
		dir: true,
		services: []service{{
			key: director.Key{VIP: vip4, Port: 80, Proto: ipvs.ProtoTCP}, mode: dsrtypes.ModeDSCP,
			reals: []netip.Addr{real1, real2}, dsrCheck: true,
		}},
	}
	return h, e
}
