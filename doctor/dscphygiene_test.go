package doctor

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/maptable"
)

func dscp(d dsrtypes.DSCP) *dsrtypes.DSCP { return &d }

// With tcp_reflect_tos on, each VIP whose coded entries keep the
// packet's DSCP gets one warning, with the fix of whoever owns it.
func TestReflectTOS(t *testing.T) {
	why := "replies reflect the SYN's DSCP: the DSR code 21, 22 leaks into every reply to the Internet (where it means a class, or tells the world which VIP this is); set a reset (realserver up ... --set-dscp 0, or set_dscp: 0 in the config)"
	runCases(t, cleanHost, []findingCase{
		{"off", func(h *fakeHost, e *Expect) *Expect { return e }, nil},
		{"a kernel without the key", func(h *fakeHost, e *Expect) *Expect { delete(h.sysctls, reflectTOS); return e }, nil},
		{"on, from the file", func(h *fakeHost, e *Expect) *Expect { h.sysctls[reflectTOS] = "1"; return e }, []Finding{
			{warning, "tcp_reflect_tos", "net.ipv4.tcp_reflect_tos is 1 and VIP 10.0.0.1's DSCP 21, 22 has no reset after the rewrite", why,
				"add set_dscp: 0 to VIP 10.0.0.1 in " + testFile + ", then l3dsr apply -f " + testFile},
			{warning, "tcp_reflect_tos", "net.ipv4.tcp_reflect_tos is 1 and VIP 2001:db8::1's DSCP 21 has no reset after the rewrite",
				"replies reflect the SYN's DSCP: the DSR code 21 leaks into every reply to the Internet (where it means a class, or tells the world which VIP this is); set a reset (realserver up ... --set-dscp 0, or set_dscp: 0 in the config)",
				"add set_dscp: 0 to VIP 2001:db8::1 in " + testFile + ", then l3dsr apply -f " + testFile},
		}},
		{"on, from the running state, IPv6 reset", func(h *fakeHost, e *Expect) *Expect {
			h.sysctls[reflectTOS] = "1"
			h.entries[2].SetDSCP = dscp(0)
			h.rs.VIPs[2].Config.SetDSCP = code(0)
			return &Expect{}
		}, []Finding{
			{warning, "tcp_reflect_tos", "net.ipv4.tcp_reflect_tos is 1 and VIP 10.0.0.1's DSCP 21, 22 has no reset after the rewrite", why,
				"l3dsr realserver up --vip 10.0.0.1 --dscp 21 --set-dscp 0 && l3dsr realserver up --vip 10.0.0.1 --dscp 22 --set-dscp 0"},
		}},
		{"on, entries made by hand", func(h *fakeHost, e *Expect) *Expect {
			h.sysctls[reflectTOS] = "1"
			h.entries = append(h.entries, maptable.Entry{Family: dsrtypes.IPv4, DSCP: 30, Local: netip.MustParseAddr("192.0.2.10"), VIP: netip.MustParseAddr("10.0.0.9")},
				maptable.Entry{Family: dsrtypes.IPv4, DSCP: 31, VIP: netip.MustParseAddr("10.0.0.8"), SetDSCP: dscp(0)})
			h.entries[0].SetDSCP, h.entries[1].SetDSCP, h.entries[2].SetDSCP = dscp(0), dscp(10), dscp(0)
			e.vips[0].SetDSCP, e.vips[1].SetDSCP, e.vips[3].SetDSCP = code(0), code(10), code(0)
			h.addrs = append(h.addrs, rtnlAddr(1, "10.0.0.9/32"))
			return e
		}, []Finding{
			{warning, "tcp_reflect_tos", "net.ipv4.tcp_reflect_tos is 1 and VIP 10.0.0.9's DSCP 30 has no reset after the rewrite",
				"replies reflect the SYN's DSCP: the DSR code 30 leaks into every reply to the Internet (where it means a class, or tells the world which VIP this is); set a reset (realserver up ... --set-dscp 0, or set_dscp: 0 in the config)",
				"l3dsr rule add --replace --dscp 30 --vip 10.0.0.9 --local 192.0.2.10 --set-dscp 0"},
		}},
		// The file asks for a reset the table lacks: the mapping check's,
		// whatever tcp_reflect_tos says.
		{"a reset asked for and missing", func(h *fakeHost, e *Expect) *Expect {
			h.sysctls[reflectTOS] = "1"
			h.entries[2].SetDSCP = dscp(0)
			e.vips[0].SetDSCP, e.vips[1].SetDSCP, e.vips[3].SetDSCP = code(0), code(0), code(0)
			h.entries[1].SetDSCP = dscp(0)
			return e
		}, []Finding{
			{warning, "mapping", "IPv4 DSCP 21 local any (VIP 10.0.0.1) sets the DSCP after the rewrite to none (the packet's own is kept), want 0",
				"the reset asked for is not what runs: the packets keep (or get) a DSCP nobody asked for, and with net.ipv4.tcp_reflect_tos the replies carry it",
				"l3dsr rule add --replace --dscp 21 --vip 10.0.0.1 --set-dscp 0"},
		}},
	})
}

// The note on where DSR codes are honoured: from everywhere with a
// map-mode rule without -i, else the interfaces of the -i rules.
func TestIngressNote(t *testing.T) {
	threat := "any host that can reach a RIP of this server can set a DSR code and reach that VIP's socket, around the director and its ACLs; two defences: re-mark (clear) DSCP where traffic enters your network, or honour the codes only on the interfaces the directors' packets come in by"
	fix := "ingress: [IFACE, ...] in the realserver section of " + testFile + ", then l3dsr apply -f " + testFile + " (or clear DSCP at the network's edge)"
	limited := func(in string) xtrule.Rule {
		return xtrule.Rule{Family: dsrtypes.IPv4, Table: "raw", Chain: "PREROUTING", Line: "-A PREROUTING -i " + in + " -j DADDR --map",
			Map: true, DSCP: -1, Extra: []string{"-i " + in}, Ours: true}
	}
	h, e := cleanHost()
	want := []Finding{
		{info, "dscp-ingress", "IPv4 DSR codes are honoured from every interface (a map-mode rule without -i)", threat, fix},
		{info, "dscp-ingress", "IPv6 DSR codes are honoured from every interface (a map-mode rule without -i)", threat, fix},
	}
	rep := runAll(t, h, e)
	if !slices.Equal(rep.Findings, want) || rep.Err() != nil {
		t.Errorf("clean host:\n%+v\nwant:\n%+v", rep.Findings, want)
	}

	h.rules[0] = limited("eth1")
	h.rules = append(h.rules, limited("eth0"))
	want[0] = Finding{info, "dscp-ingress", "IPv4 DSR codes are honoured only on eth1, eth0 (map-mode rules with -i)",
		"a coded packet that comes in by another interface is not rewritten: it reaches no VIP", "none needed; to change the list: " + fix}
	if got := runAll(t, h, e).Findings; !slices.Equal(got, want) {
		t.Errorf("-i rules:\n%+v\nwant:\n%+v", got, want)
	}

	// Without coded entries, codes do nothing here: no note.
	h.entries = nil
	e.vips = e.vips[2:3]
	if got := runAll(t, h, e).Findings; len(got) != 0 {
		t.Errorf("no coded entry: %+v", got)
	}
}

// A rule without -i beside rules with -i: the limited interfaces' packets
// meet two rules; the limit is kept unless only the open rule is l3dsr's.
func TestMapRulesWithIngress(t *testing.T) {
	open := xtrule.Rule{Family: dsrtypes.IPv4, Table: "raw", Chain: "PREROUTING", Line: "-A PREROUTING -j DADDR --map", Map: true, DSCP: -1}
	eth1 := xtrule.Rule{Family: dsrtypes.IPv4, Table: "raw", Chain: "PREROUTING", Line: "-A PREROUTING -i eth1 -j DADDR --map", Map: true, DSCP: -1, Extra: []string{"-i eth1"}}
	eth0 := eth1
	eth0.Line, eth0.Extra = "-A PREROUTING -i eth0 -j DADDR --map", []string{"-i eth0"}
	for _, tc := range []struct {
		name  string
		rules []xtrule.Rule
		fix   string
	}{
		{"one per interface", []xtrule.Rule{eth1, eth0}, ""},
		{"an interface twice", []xtrule.Rule{eth1, eth0, eth1}, "iptables -t raw -D PREROUTING -i eth1 -j DADDR --map"},
		{"open beside limited, l3dsr's limited", []xtrule.Rule{open, withOurs(eth1)}, "iptables -t raw -D PREROUTING -j DADDR --map"},
		{"open beside limited, l3dsr's open", []xtrule.Rule{withOurs(open), eth1, eth0},
			"iptables -t raw -D PREROUTING -i eth1 -j DADDR --map && iptables -t raw -D PREROUTING -i eth0 -j DADDR --map"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, e := cleanHost()
			h.rules = append(tc.rules, h.rules[1])
			var got []string
			for _, f := range run(t, h, e).Findings {
				got = append(got, f.Check+": "+f.Fix)
			}
			var want []string
			if tc.fix != "" {
				want = []string{"map-rule: " + tc.fix}
			}
			if !slices.Equal(got, want) {
				t.Errorf("findings %q, want %q", got, want)
			}
		})
	}
}

func withOurs(r xtrule.Rule) xtrule.Rule { r.Ours = true; return r }
