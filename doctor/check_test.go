package doctor

import (
	"context"
	"slices"
	"testing"

	"net/netip"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/rtnl"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/maptable"
	"github.com/l3dsr/l3dsr/realserver"
)

// found is a finding as the tests compare it: its check, level and fix.
type found struct{ check, level, fix string }

// run is Check's report without the dscp-ingress note, which every host
// with coded entries gets (runAll keeps it).
func run(t *testing.T, h *fakeHost, e *Expect) Report {
	t.Helper()
	rep := runAll(t, h, e)
	rep.Findings = slices.DeleteFunc(rep.Findings, func(f Finding) bool { return f.Check == "dscp-ingress" })
	return rep
}

func runAll(t *testing.T, h *fakeHost, e *Expect) Report {
	t.Helper()
	rep, err := Check(context.Background(), h.host(), e)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return rep
}

func foundOf(rep Report) []found {
	var out []found
	for _, f := range rep.Findings {
		out = append(out, found{f.Check, string(f.Level), f.Fix})
	}
	return out
}

func TestCleanHostHasNoFinding(t *testing.T) {
	h, e := cleanHost()
	rep := run(t, h, e)
	if len(rep.Findings) != 0 || rep.Err() != nil {
		t.Fatalf("findings on a clean host: %+v", rep.Findings)
	}
	if !slices.Equal(rep.Roles, []string{"real server", "director"}) || rep.Source != testFile {
		t.Errorf("roles %q from %q", rep.Roles, rep.Source)
	}
}

// Each broken setting gives its one finding, with the command that fixes
// it.
func TestEachBreakGivesItsFix(t *testing.T) {
	set := func(kv ...string) func(*fakeHost, *Expect) {
		return func(h *fakeHost, _ *Expect) {
			for i := 0; i < len(kv); i += 2 {
				h.sysctls[kv[i]] = kv[i+1]
			}
		}
	}
	dropAddr := func(p string) func(*fakeHost, *Expect) {
		return func(h *fakeHost, _ *Expect) {
			h.addrs = slices.DeleteFunc(h.addrs, func(a rtnl.Addr) bool { return a.Prefix.String() == p })
		}
	}
	withLink := func(name string, edit func(*rtnl.Link) bool) func(*fakeHost, *Expect) {
		return func(h *fakeHost, _ *Expect) {
			h.links = slices.DeleteFunc(h.links, func(l rtnl.Link) bool { return l.Name == name && !edit(&h.links[slices.Index(h.links, l)]) })
		}
	}
	rev0 := xtrule.Rule{Family: dsrtypes.IPv4, Table: "raw", Chain: "PREROUTING", Line: "-A PREROUTING -m dscp --dscp 0x16 -j DADDR --set-daddr 10.0.0.9",
		VIP: netip.MustParseAddr("10.0.0.9"), DSCP: 22}
	mangle := xtrule.Rule{Family: dsrtypes.IPv4, Table: "mangle", Chain: "PREROUTING", Line: "-A PREROUTING -m dscp --dscp 0x05 -j DADDR --set-daddr 10.0.0.7",
		VIP: netip.MustParseAddr("10.0.0.7"), DSCP: 5}
	handMap := xtrule.Rule{Family: dsrtypes.IPv4, Backend: xtrule.Legacy, Table: "mangle", Chain: "PREROUTING",
		Line: "-A PREROUTING -i eth0 -j DADDR --map", Map: true, DSCP: -1, Extra: []string{"-i eth0"}}
	for _, tc := range []struct {
		name   string
		break_ func(*fakeHost, *Expect)
		want   found
	}{
		{"VIP off lo", dropAddr("10.0.0.1/32"), found{"vip-on-lo", "problem", "ip addr add 10.0.0.1/32 dev lo"}},
		{"IPv6 VIP off lo", dropAddr("2001:db8::1/128"), found{"vip-on-lo", "problem", "ip addr add 2001:db8::1/128 dev lo"}},
		{"arp_ignore all 0", set("net.ipv4.conf.all.arp_ignore", "0"), found{"arp_ignore", "problem", "sysctl -w net.ipv4.conf.all.arp_ignore=1"}},
		{"arp_ignore eth0 3", set("net.ipv4.conf.eth0.arp_ignore", "3"), found{"arp_ignore", "problem", "sysctl -w net.ipv4.conf.eth0.arp_ignore=1"}},
		{"arp_announce all 1", set("net.ipv4.conf.all.arp_announce", "1"), found{"arp_announce", "problem", "sysctl -w net.ipv4.conf.all.arp_announce=2"}},
		// With an ipip VIP conf/all stays 0: the interface is set.
		{"rp_filter eth0 strict", set("net.ipv4.conf.eth0.rp_filter", "1"), found{"rp_filter", "problem", "sysctl -w net.ipv4.conf.eth0.rp_filter=2"}},
		{"rp_filter all loose, tunl0 filtered", set("net.ipv4.conf.all.rp_filter", "2"), found{"rp_filter", "problem", "sysctl -w net.ipv4.conf.all.rp_filter=0"}},
		{"rp_filter tunl0", set("net.ipv4.conf.tunl0.rp_filter", "2"), found{"rp_filter", "problem", "sysctl -w net.ipv4.conf.tunl0.rp_filter=0"}},
		{"module", func(h *fakeHost, _ *Expect) { h.modules["xt_DADDR"] = false }, found{"module", "problem", "modprobe xt_DADDR"}},
		{"no map rule", func(h *fakeHost, _ *Expect) { h.rules = h.rules[1:] }, found{"map-rule", "problem", "iptables -t raw -A PREROUTING -j DADDR --map"}},
		{"no IPv6 map rule", func(h *fakeHost, _ *Expect) { h.rules = h.rules[:1] }, found{"map-rule", "problem", "ip6tables -t raw -A PREROUTING -j DADDR --map"}},
		{"map rule twice", func(h *fakeHost, _ *Expect) { h.rules = append([]xtrule.Rule{handMap}, h.rules...) },
			found{"map-rule", "problem", "iptables-legacy -t mangle -D PREROUTING -i eth0 -j DADDR --map"}},
		{"map rule limited to two interfaces", func(h *fakeHost, _ *Expect) {
			h.rules[0].Line, h.rules[0].Ingress = "-A PREROUTING -i eth0 -j DADDR --map", "eth0"
			eth1 := h.rules[0]
			eth1.Line, eth1.Ingress = "-A PREROUTING -i eth1 -j DADDR --map", "eth1"
			h.rules = append(h.rules, eth1)
		}, found{}},
		{"mapping missing", func(h *fakeHost, _ *Expect) { h.entries = slices.Delete(h.entries, 1, 2) },
			found{"mapping", "problem", "l3dsr rule add --dscp 22 --vip 10.0.0.1"}},
		{"mapping to another VIP", func(h *fakeHost, _ *Expect) { h.entries[0].VIP = vipIPIP },
			found{"mapping", "problem", "l3dsr rule add --replace --dscp 21 --vip 10.0.0.1"}},
		{"a code for two VIPs", func(h *fakeHost, _ *Expect) {
			h.entries = append(h.entries, maptable.Entry{Family: dsrtypes.IPv4, DSCP: 21, Local: netip.MustParseAddr("192.0.2.10"), VIP: netip.MustParseAddr("10.0.0.9")})
		}, found{"dscp-two-vips", "problem", "l3dsr rule del --dscp 21 --local 192.0.2.10"}},
		{"a rule maps a code to another VIP", func(h *fakeHost, _ *Expect) {
			h.rules = append(h.rules, rev0)
			h.rs.HandWritten = []realserver.HandRule{{Rule: rev0}}
			h.addrs = append(h.addrs, rtnl.Addr{Index: 1, Prefix: netip.MustParsePrefix("10.0.0.9/32")})
		}, found{"dscp-two-vips", "problem", "iptables -t raw -D PREROUTING -m dscp --dscp 0x16 -j DADDR --set-daddr 10.0.0.9"}},
		{"a rule after conntrack", func(h *fakeHost, _ *Expect) {
			h.rs.HandWritten = []realserver.HandRule{{Rule: mangle}}
		}, found{"conntrack", "problem", "iptables -t raw -A PREROUTING -m dscp --dscp 0x05 -j DADDR --set-daddr 10.0.0.7 && iptables -t mangle -D PREROUTING -m dscp --dscp 0x05 -j DADDR --set-daddr 10.0.0.7"}},
		{"a rule l3dsr's mapping makes redundant", func(h *fakeHost, _ *Expect) {
			h.rs.HandWritten = []realserver.HandRule{{Rule: mangle, Delete: "iptables -t mangle -D ..."}}
		}, found{}},
		{"tunl0 down", withLink("tunl0", func(l *rtnl.Link) bool { l.Flags &^= 1; return true }), found{"tunnel", "problem", "ip link set tunl0 up"}},
		{"tunl0 gone", withLink("tunl0", func(*rtnl.Link) bool { return false }),
			found{"tunnel", "problem", "ip link add name tunl0 type ipip && ip link set tunl0 up"}},
		{"tunl0 gone, ipip not loaded", func(h *fakeHost, e *Expect) {
			withLink("tunl0", func(*rtnl.Link) bool { return false })(h, e)
			h.modules["ipip"] = false
		}, found{"tunnel", "problem", "modprobe ipip && ip link set tunl0 up"}},
		{"MSS clamp", func(h *fakeHost, _ *Expect) { h.rs.VIPs[1].ClampMSS = 0 },
			found{"mss-clamp", "problem", "l3dsr realserver up --vip 10.0.0.2 --mode ipip --mss 1440"}},
		{"rx checksum off", func(h *fakeHost, _ *Expect) { h.features["eth0"] = Features{GRO: true} }, found{"offload", "warning", "ethtool -K eth0 rx on"}},
		{"GRO off", func(h *fakeHost, _ *Expect) { h.features["eth1"] = Features{RxChecksum: true} }, found{"offload", "warning", "ethtool -K eth1 gro on"}},
		{"VIP not set up", func(h *fakeHost, _ *Expect) { h.rs.VIPs = h.rs.VIPs[1:] }, found{"not-set-up", "problem", "l3dsr apply -f " + testFile}},
		{"IPVS conntrack", set("net.ipv4.vs.conntrack", "1"), found{"ipvs-sysctl", "problem", "sysctl -w net.ipv4.vs.conntrack=0"}},
		{"IPVS expire_nodest_conn", set("net.ipv4.vs.expire_nodest_conn", "0"), found{"ipvs-sysctl", "problem", "sysctl -w net.ipv4.vs.expire_nodest_conn=1"}},
		{"IPVS expire_quiescent_template", set("net.ipv4.vs.expire_quiescent_template", "0"), found{"ipvs-sysctl", "problem", "sysctl -w net.ipv4.vs.expire_quiescent_template=1"}},
		{"service missing", func(h *fakeHost, _ *Expect) { h.dir.Services = nil }, found{"service", "problem", "l3dsr apply -f " + testFile}},
		{"IPVS not loaded", func(h *fakeHost, _ *Expect) { h.noIPVS = true }, found{"ipvs", "problem", "l3dsr apply -f " + testFile}},
		{"lost mark", func(h *fakeHost, _ *Expect) {
			h.dir.Problems = []string{"service tcp 10.0.0.1:80 (mode dscp) has lost its DSCP mark: ...", "sysctl net.ipv4.vs.conntrack is 1, want 0 (...)"}
		}, found{"director", "problem", "l3dsr apply -f " + testFile}},
		{"accept_local toward a real", set("net.ipv4.conf.eth1.accept_local", "0"), found{"accept_local", "problem", "sysctl -w net.ipv4.conf.eth1.accept_local=1"}},
		// Both roles need eth1 loose: one finding.
		{"rp_filter toward a real", set("net.ipv4.conf.eth1.rp_filter", "1"), found{"rp_filter", "problem", "sysctl -w net.ipv4.conf.eth1.rp_filter=2"}},
		{"sloppy_tcp", set("net.ipv4.vs.sloppy_tcp", "0"), found{"sloppy_tcp", "info", "sysctl -w net.ipv4.vs.sloppy_tcp=1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, e := cleanHost()
			tc.break_(h, e)
			rep := run(t, h, e)
			if tc.want == (found{}) {
				if len(rep.Findings) != 0 {
					t.Fatalf("findings %+v, want none", rep.Findings)
				}
				return
			}
			if got := foundOf(rep); !slices.Equal(got, []found{tc.want}) {
				t.Fatalf("findings %+v, want [%+v]", rep.Findings, tc.want)
			}
			if f := rep.Findings[0]; f.What == "" || f.Why == "" {
				t.Errorf("finding without what or why: %+v", f)
			}
			if err := rep.Err(); (err != nil) != (tc.want.level != "info") {
				t.Errorf("Err() = %v for a finding of level %s", err, tc.want.level)
			}
		})
	}
}

// Findings with one fix but about different things are each listed.
func TestEachVIPNotSetUpIsListed(t *testing.T) {
	h, e := cleanHost()
	h.rs.VIPs = h.rs.VIPs[:1]
	rep := run(t, h, e)
	var what []string
	for _, f := range rep.Findings {
		what = append(what, f.Check+": "+f.What)
	}
	if !slices.Equal(what, []string{
		"not-set-up: VIP 10.0.0.2 (mode ipip) is in " + testFile + " but not set up",
		"not-set-up: VIP 2001:db8::1 (mode dscp) is in " + testFile + " but not set up",
	}) {
		t.Errorf("findings %q", what)
	}
}

// findingCase edits a host (and may give another expectation) and wants
// exactly these findings, texts and levels included.
type findingCase struct {
	name string
	edit func(*fakeHost, *Expect) *Expect
	want []Finding
}

func runCases(t *testing.T, host func() (*fakeHost, *Expect), cases []findingCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, e := host()
			e = tc.edit(h, e)
			if got := run(t, h, e).Findings; !slices.Equal(got, tc.want) {
				t.Errorf("findings:\n%+v\nwant:\n%+v", got, tc.want)
			}
		})
	}
}
