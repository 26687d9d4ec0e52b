package director

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/ipvs"
)

// Editing a service that ipvsadm made keeps what ipvsadm set and the edit
// does not name: one-packet, the scheduler flags, the netmask. Before,
// every edit wrote the flags and netmask anew.
func TestEditServiceKeepsIpvsadmSettings(t *testing.T) {
	f := newFakes()
	ipvsadmState(f)
	wrr, p := "wrr", uint32(60)
	if _, err := f.d.EditService(kOPS, ServiceEdit{Scheduler: &wrr}); err != nil {
		t.Fatal(err)
	}
	if s := f.ipvs.svcs[f.ipvs.idx(ipvs.Service{Protocol: kOPS.Proto, Address: kOPS.VIP, Port: kOPS.Port})]; s.Scheduler != "wrr" || s.Flags&ipvs.FlagOnePacket == 0 || s.Flags&tagMask != 0 {
		t.Errorf("one-packet service after a scheduler edit: %s flags %s", s.Scheduler, s.Flags)
	}
	r, err := f.d.EditService(kNAT, ServiceEdit{Persistent: &p})
	if err != nil {
		t.Fatal(err)
	}
	if s := f.ipvs.svcs[f.ipvs.idx(ipvs.Service{Protocol: kNAT.Proto, Address: kNAT.VIP, Port: kNAT.Port})]; s.Netmask != 0xffffff00 || s.Timeout != 60 {
		t.Errorf("netmask service after a persistence edit: netmask %#x timeout %d", s.Netmask, s.Timeout)
	}
	if want := "IPVS service tcp 10.9.0.1:80 scheduler wlc persistent 60 netmask 255.255.255.0 (was scheduler wlc persistent 300 netmask 255.255.255.0)"; len(r.Changes) != 1 || r.Changes[0] != want {
		t.Errorf("changes %q, want %q", r.Changes, want)
	}
	sh := SchedFlags(0)
	if _, err := f.d.EditService(kDR, ServiceEdit{SchedFlags: &sh}); err != nil {
		t.Fatal(err)
	}
	if s := f.ipvs.svcs[f.ipvs.idx(ipvs.Service{Protocol: kDR.Proto, Address: kDR.VIP, Port: kDR.Port})]; s.Flags&(ipvs.FlagSched1|ipvs.FlagSched2|ipvs.FlagSched3) != 0 {
		t.Errorf("sh-port not cleared: %s", s.Flags)
	}
	ops := true
	if _, err := f.d.EditService(kNAT, ServiceEdit{OnePacket: &ops}); err == nil || !strings.Contains(err.Error(), "one-packet scheduling (ops) is for UDP services only") {
		t.Errorf("ops on a TCP service: %v", err)
	}
}

// A real's forwarding method and tunnel are edited in place: apply puts
// back a method changed by hand without remaking the service. Route needs
// the real on one of the director's subnets, as real add does.
func TestEditRealForwarding(t *testing.T) {
	f := newFakes()
	ipvsadmState(f)
	a := netip.MustParseAddr("192.0.2.50")
	route, tunnel := ipvs.Route, ipvs.Tunnel
	if _, err := f.d.EditReal(kNAT, a, RealEdit{Forward: &route}); err == nil || !strings.Contains(err.Error(), "192.0.2.50 of tcp 10.9.0.1:80 (direct routing) is on no subnet of this director") {
		t.Errorf("route to a real off the director's subnets: %v", err)
	}
	f.host.nets = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	r, err := f.d.EditReal(kNAT, a, RealEdit{Forward: &route})
	if err != nil {
		t.Fatal(err)
	}
	if want := "real server 192.0.2.50 for tcp 10.9.0.1:80 weight 100 thresholds 0/0 route (was weight 100 thresholds 0/0 masq)"; len(r.Changes) != 1 || r.Changes[0] != want {
		t.Errorf("changes %q, want %q", r.Changes, want)
	}
	gue, port := ipvs.TunnelGUE, uint16(5555)
	if _, err := f.d.EditReal(kNAT, a, RealEdit{Forward: &tunnel, Tunnel: &gue, TunnelPort: &port}); err != nil {
		t.Fatal(err)
	}
	if d := f.ipvs.dests[kNAT][0]; d.Forward != ipvs.Tunnel || d.TunnelType != ipvs.TunnelGUE || d.TunnelPort != 5555 {
		t.Errorf("after the edit to gue: %+v", d)
	}
	// Back to masq: the tunnel settings go with the method.
	masq := ipvs.Masquerade
	if _, err := f.d.EditReal(kNAT, a, RealEdit{Forward: &masq}); err != nil {
		t.Fatal(err)
	}
	if d := f.ipvs.dests[kNAT][0]; d.Forward != ipvs.Masquerade || d.TunnelType != ipvs.TunnelIPIP || d.TunnelPort != 0 {
		t.Errorf("after the edit back to masq: %+v", d)
	}
}

// A tunnel real takes its type, GUE port and checksum; any other mode
// refuses them, and a GUE tunnel needs its port.
func TestAddRealTunnel(t *testing.T) {
	f := newFakes()
	ipvsadmState(f)
	k := Key{VIP: netip.MustParseAddr("10.0.0.9"), Port: 80, Proto: ipvs.ProtoTCP}
	mustAdd(t, f, Service{Key: k, Mode: dsrtypes.ModeIPIP})
	rs := netip.MustParseAddr("10.1.0.20")
	if _, err := f.d.AddReal(k, Real{Addr: rs, Weight: 1, Tunnel: ipvs.TunnelGUE}); err == nil || !strings.Contains(err.Error(), "a gue tunnel needs tunnel_port") {
		t.Errorf("gue without a port: %v", err)
	}
	if _, err := f.d.AddReal(kNAT, Real{Addr: rs, Weight: 1, Tunnel: ipvs.TunnelGRE}); err == nil || !strings.Contains(err.Error(), "tunnel, tunnel_port and tunnel_checksum are for mode ipip, and the service is nat") {
		t.Errorf("tunnel on a nat service: %v", err)
	}
	r, err := f.d.AddReal(k, Real{Addr: rs, Weight: 1, Tunnel: ipvs.TunnelGRE, TunnelFlags: ipvs.TunnelFlagChecksum})
	if err != nil {
		t.Fatal(err)
	}
	if d := f.ipvs.dests[k][0]; d.Forward != ipvs.Tunnel || d.TunnelType != ipvs.TunnelGRE || d.TunnelFlags != ipvs.TunnelFlagChecksum {
		t.Errorf("gre real: %+v", d)
	}
	if want := "real server 10.1.0.20 for tcp 10.0.0.9:80 (tunnel/gre, weight 1)"; len(r.Changes) != 1 || r.Changes[0] != want {
		t.Errorf("changes %q, want %q", r.Changes, want)
	}
	st, table := showTable(t, f)
	if !strings.Contains(table, "tunnel/gre+csum") || len(st.Problems) != 0 {
		t.Errorf("show of the gre real: %q\n%s", st.Problems, table)
	}
}

func TestNetmaskAndSchedFlagWords(t *testing.T) {
	v4, v6 := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("2001:db8::1")
	for _, c := range []struct {
		vip  netip.Addr
		in   string
		want uint32
		err  string
	}{
		{v4, "255.255.255.0", 0xffffff00, ""},
		{v4, "24", 0xffffff00, ""},
		{v4, "255.0.255.0", 0xff00ff00, ""},
		{v4, "255.255.255.255", 0, ""},
		{v4, "32", 0, ""},
		{v6, "64", 64, ""},
		{v6, "128", 0, ""},
		{v4, "0.0.0.0", 0, "groups every client into one"},
		{v4, "33", 0, "use a prefix length of 1-32 for 10.0.0.1"},
		{v6, "255.255.0.0", 0, "an IPv6 VIP takes a prefix length of 1-128"},
		{v4, "/24", 0, "an IPv4 VIP takes a dotted mask such as 255.255.255.0"},
	} {
		got, err := ParseNetmask(c.vip, c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseNetmask(%s, %q) = %v, want an error with %q", c.vip, c.in, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseNetmask(%s, %q) = %#x, %v; want %#x", c.vip, c.in, got, err, c.want)
		}
		if back, _ := ParseNetmask(c.vip, FormatNetmask(c.vip, got)); back != got {
			t.Errorf("FormatNetmask(%s, %#x) = %q reads back as %#x", c.vip, got, FormatNetmask(c.vip, got), back)
		}
	}
	for _, c := range []struct{ sched, name, err string }{
		{"sh", "sh-port", ""}, {"sh", "flag-2", ""}, {"mh", "mh-fallback", ""}, {"wlc", "flag-3", ""},
		{"wlc", "sh-port", `scheduler flag "sh-port" is for scheduler sh, not wlc: use 'scheduler: sh', or one of flag-1, flag-2, flag-3`},
		{"mh", "sh-fallback", `is for scheduler sh, not mh`},
		{"sh", "port", `scheduler flag "port" is unknown: use one of sh-fallback, sh-port, flag-3`},
	} {
		f, err := ParseSchedFlag(c.sched, c.name)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseSchedFlag(%s, %s) = %v, want %q", c.sched, c.name, err, c.err)
			}
			continue
		}
		if err != nil || len(f.Names(c.sched)) != 1 {
			t.Errorf("ParseSchedFlag(%s, %s) = %v, %v", c.sched, c.name, f, err)
		}
	}
}
