package doctor

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/rtnl"
	"github.com/l3dsr/l3dsr/maptable"
	"github.com/l3dsr/l3dsr/realserver"
)

var vipAddr, rip = netip.MustParseAddr("10.0.0.3"), netip.MustParseAddr("192.0.2.50")

func rtnlAddr(index int, p string) rtnl.Addr { return rtnl.Addr{Index: index, Prefix: prefix(p)} }

// addrHost is cleanHost with an addr-mode VIP: 10.0.0.3 on lo, its RIP
// 192.0.2.50/32 on eth0 after eth0's own address, and its any-DSCP entry.
func addrHost() (*fakeHost, *Expect) {
	h, e := cleanHost()
	u := realserver.Config{VIP: vipAddr, Mode: dsrtypes.ModeAddr, RIP: rip, Dev: "eth0"}
	h.addrs = append(h.addrs, rtnlAddr(1, "10.0.0.3/32"), rtnlAddr(2, "192.0.2.50/32"))
	h.entries = append(h.entries, maptable.Entry{Family: dsrtypes.IPv4, AnyDSCP: true, Local: rip, VIP: vipAddr})
	h.rs.VIPs = append(h.rs.VIPs, realserver.VIPStatus{Config: u})
	e.vips = append(e.vips, u)
	return h, e
}

func TestAddrMode(t *testing.T) {
	dropRIP := func(h *fakeHost) {
		h.addrs = slices.DeleteFunc(h.addrs, func(a rtnl.Addr) bool { return a.Prefix.Addr() == rip })
	}
	notOn := "VIP 10.0.0.3's RIP 192.0.2.50 is not on any interface"
	notOnWhy := "packets for it are not delivered: the kernel takes a packet in only for a local address, so the director's packets to the RIP are dropped (or routed on) before the any-DSCP entry can give them their VIP"
	primaryWhy := "it is the source of this host's own traffic out of eth0: the any-DSCP entry rewrites every packet to it to the VIP (SSH, the replies to the host's own connections, its monitoring), which then reach the VIP's sockets or none; a VIP's RIP must be an address of its own"
	runCases(t, addrHost, []findingCase{
		{"clean", func(h *fakeHost, e *Expect) *Expect { return e }, nil},
		{"clean from the running state", func(h *fakeHost, e *Expect) *Expect { return &Expect{} }, nil},
		// A RIP on an interface with no other address: it is that
		// interface's first; on lo it is no link's source.
		{"RIP on lo", func(h *fakeHost, e *Expect) *Expect {
			dropRIP(h)
			h.addrs = append(h.addrs, rtnlAddr(1, "192.0.2.50/32"))
			return e
		}, nil},
		{"RIP gone, from the file", func(h *fakeHost, e *Expect) *Expect { dropRIP(h); return e },
			[]Finding{{problem, "rip", notOn, notOnWhy, "l3dsr apply -f " + testFile}}},
		{"RIP gone, from the running state", func(h *fakeHost, e *Expect) *Expect { dropRIP(h); return &Expect{} },
			[]Finding{{problem, "rip", notOn, notOnWhy, "l3dsr realserver up --vip 10.0.0.3 --mode addr --rip 192.0.2.50 --dev eth0"}}},
		{"RIP of an entry made by hand gone", func(h *fakeHost, e *Expect) *Expect {
			dropRIP(h)
			h.rs.VIPs = h.rs.VIPs[:3]
			h.routes[rip] = "eth0"
			e.vips = e.vips[:4]
			h.addrs = append(h.addrs, rtnlAddr(1, "10.0.0.3/32"))
			return e
		}, []Finding{{problem, "rip", notOn, notOnWhy, "ip addr add 192.0.2.50/32 dev eth0"}}},
		{"RIP is eth0's primary address, by hand", func(h *fakeHost, e *Expect) *Expect {
			h.entries[3].Local = netip.MustParseAddr("192.0.2.10")
			h.rs.VIPs = h.rs.VIPs[:3]
			e.vips = e.vips[:4]
			return e
		}, []Finding{{problem, "rip", "VIP 10.0.0.3's RIP 192.0.2.10 is the primary IPv4 address of eth0 (its first)", primaryWhy,
			"l3dsr rule del --dscp any --local 192.0.2.10"}}},
		{"RIP is eth0's primary address, from the file", func(h *fakeHost, e *Expect) *Expect {
			h.entries[3].Local = netip.MustParseAddr("192.0.2.10")
			e.vips[4].RIP = netip.MustParseAddr("192.0.2.10")
			h.rs.VIPs[3].Config.RIP = e.vips[4].RIP
			return e
		}, []Finding{{problem, "rip", "VIP 10.0.0.3's RIP 192.0.2.10 is the primary IPv4 address of eth0 (its first)", primaryWhy,
			"give VIP 10.0.0.3 an address of its own as rip in " + testFile + ", then l3dsr apply -f " + testFile}}},
		{"entry missing", func(h *fakeHost, e *Expect) *Expect { h.entries = h.entries[:3]; return e },
			[]Finding{{problem, "mapping", "the table has no entry for IPv4 any DSCP local 192.0.2.50 (VIP 10.0.0.3)",
				"packets the director sends to the VIP's RIP keep that address: they reach no socket of the VIP",
				"l3dsr rule add --dscp any --vip 10.0.0.3 --local 192.0.2.50"}}},
		// A (DSCP 0, any) entry and the any-DSCP key are no code clash.
		{"a code 0 entry beside it", func(h *fakeHost, e *Expect) *Expect {
			h.entries = append(h.entries, maptable.Entry{Family: dsrtypes.IPv4, DSCP: 0, VIP: vip4})
			e.vips = append(e.vips, realserver.Config{VIP: vip4, Mode: dsrtypes.ModeDSCP, DSCP: code(0)})
			return e
		}, nil},
	})
}

// An addr-mode VIP alone needs the map rule, the module and the IPv4
// sysctls dscp mode needs.
func TestAddrModeNeedsTheRule(t *testing.T) {
	h, e := addrHost()
	h.rules = nil
	h.sysctls["net.ipv4.conf.eth0.rp_filter"] = "1"
	e.vips, e.dir = e.vips[4:], false
	h.rs.VIPs = h.rs.VIPs[3:]
	h.entries = h.entries[3:]
	var got []string
	for _, f := range run(t, h, e).Findings {
		got = append(got, f.Check+": "+f.Fix)
	}
	want := []string{"rp_filter: sysctl -w net.ipv4.conf.all.rp_filter=2", "map-rule: iptables -t raw -A PREROUTING -j DADDR --map"}
	if !slices.Equal(got, want) {
		t.Errorf("findings %q, want %q", got, want)
	}
}
