package director

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/ipvs"
)

// Every case of the one mapping from the kernel's facts to a mode.
func TestModeOf(t *testing.T) {
	const (
		masq, local, tun, route = ipvs.Masquerade, ipvs.Local, ipvs.Tunnel, ipvs.Route
		persistent              = ipvs.FlagPersistent
		onePacket, shPort       = ipvs.ServiceFlags(0x4), ipvs.ServiceFlags(0x10) // IP_VS_SVC_F_ONEPACKET, _SCHED2
	)
	fwd := func(f ...ipvs.ForwardMethod) []ipvs.ForwardMethod { return f }
	for _, c := range []struct {
		name    string
		marked  bool
		flags   ipvs.ServiceFlags
		fwd     []ipvs.ForwardMethod
		mode    dsrtypes.Mode
		managed bool
	}{
		// l3dsr's: the record decides, whatever the reals do.
		{"mark", true, 0, fwd(masq, masq), dsrtypes.ModeDSCP, true},
		{"mark and tag", true, dscpTag | persistent, fwd(masq), dsrtypes.ModeDSCP, true},
		{"mark, no real", true, 0, nil, dsrtypes.ModeDSCP, true},
		{"mark, tunnelled real", true, dscpTag, fwd(tun), dsrtypes.ModeDSCP, true},
		{"dscp tag, mark lost", false, dscpTag, fwd(masq), dsrtypes.ModeDSCP, true},
		{"ipip tag", false, ipipTag, fwd(tun, tun), dsrtypes.ModeIPIP, true},
		{"ipip tag, no real", false, ipipTag | persistent, nil, dsrtypes.ModeIPIP, true},
		{"dr tag", false, drTag, fwd(route), dsrtypes.ModeDR, true},
		{"dr tag, no real", false, drTag, nil, dsrtypes.ModeDR, true},
		{"dr tag, masq real", false, drTag, fwd(masq), dsrtypes.ModeDR, true},
		{"nat tag", false, natTag | persistent, fwd(masq), dsrtypes.ModeNAT, true},
		{"nat tag, no real", false, natTag, nil, dsrtypes.ModeNAT, true},
		{"addr tag", false, addrTag | persistent, fwd(masq), dsrtypes.ModeAddr, true},
		{"addr tag, no real", false, addrTag, nil, dsrtypes.ModeAddr, true},
		{"unknown tag", false, natTag | ipipTag, fwd(tun), dsrtypes.ModeIPIP, false},
		// Anyone else's (ipvsadm, keepalived): the reals decide.
		{"ipvsadm -m", false, persistent, fwd(masq, masq), dsrtypes.ModeNAT, false},
		{"ipvsadm -m -o", false, onePacket, fwd(masq), dsrtypes.ModeNAT, false},
		{"ipvsadm -i", false, 0, fwd(tun), dsrtypes.ModeIPIP, false},
		{"ipvsadm -g -b sh-port", false, shPort, fwd(route, route), dsrtypes.ModeDR, false},
		{"masq and tunnel", false, 0, fwd(masq, tun), modeMixed, false},
		{"route and masq", false, 0, fwd(route, masq, route), modeMixed, false},
		{"no real", false, 0, nil, modeNone, false},
		{"only local reals", false, 0, fwd(local, local), modeNone, false},
		{"local beside masq", false, 0, fwd(local, masq), dsrtypes.ModeNAT, false},
		{"local beside route", false, 0, fwd(route, local), dsrtypes.ModeDR, false},
		{"unknown method", false, 0, fwd(ipvs.ForwardMethod(5)), "fwd(5)", false},
	} {
		mode, managed := modeOf(c.marked, c.flags, c.fwd)
		if mode != c.mode || managed != c.managed {
			t.Errorf("%s: modeOf = %s, managed %v; want %s, %v", c.name, mode, managed, c.mode, c.managed)
		}
	}
	// What l3dsr makes reads back as what it made.
	for _, m := range []dsrtypes.Mode{dsrtypes.ModeDSCP, dsrtypes.ModeIPIP, dsrtypes.ModeDR, dsrtypes.ModeNAT, dsrtypes.ModeAddr} {
		if got, managed := modeOf(false, tagOf(m)|persistent, []ipvs.ForwardMethod{Forward(m)}); got != m || !managed {
			t.Errorf("tagOf(%s) reads back as %s, managed %v", m, got, managed)
		}
	}
	if tagOf(modeMixed) != 0 || tagOf(modeNone) != 0 {
		t.Error("a mode l3dsr does not make has a tag")
	}
}

// The services of ipvsadmState.
var (
	kNAT   = svcKey(ipvs.ProtoTCP, "10.9.0.1:80")
	kDR    = svcKey(ipvs.ProtoUDP, "10.9.0.2:53")
	kOPS   = svcKey(ipvs.ProtoUDP, "10.9.0.3:5060")
	kTUN   = svcKey(ipvs.ProtoTCP, "[2001:db8:9::1]:443")
	kGUE   = svcKey(ipvs.ProtoTCP, "10.9.0.4:80")
	kMix   = svcKey(ipvs.ProtoTCP, "10.9.0.5:80")
	kEmpty = svcKey(ipvs.ProtoTCP, "10.9.0.5:81")
)

func svcKey(p ipvs.Protocol, vip string) Key {
	ap := netip.MustParseAddrPort(vip)
	return Key{VIP: ap.Addr(), Port: ap.Port(), Proto: p}
}

// showTable reads the director of f and writes its table; no problem is
// expected.
func showTable(t *testing.T, f *fakes) (Status, string) {
	t.Helper()
	st, err := f.d.Show()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Problems) != 0 {
		t.Errorf("problems: %q", st.Problems)
	}
	var b bytes.Buffer
	if err := WriteStatus(&b, st, "table"); err != nil {
		t.Fatal(err)
	}
	return st, b.String()
}

// ipvsadmState puts services into the fake IPVS as ipvsadm (or keepalived)
// leaves them: no tag, no mark, the kernel's hashed flag, netmasks and
// scheduler flags. The director:
//
//	-A -t 10.9.0.1:80 -s wlc -p 300 -M 255.255.255.0
//	-a -t 10.9.0.1:80 -r 192.0.2.50:80 -m -w 100
//	-A -u 10.9.0.2:53 -s sh -b sh-port
//	-a -u 10.9.0.2:53 -r 192.0.2.53:53 -g -w 1
//	-A -u 10.9.0.3:5060 -s rr -o
//	-a -u 10.9.0.3:5060 -r 192.0.2.54:5060 -m -w 1
//	-A -t [2001:db8:9::1]:443 -s mh -b mh-port
//	-a -t [2001:db8:9::1]:443 -r [2001:db8:1::50]:443 -i -w 1
//
// and besides: GUE and GRE tunnels, reals of two methods, a service with no
// real, and a firewall-mark service.
func ipvsadmState(f *fakes) {
	const hashed, onePacket, sched2 = ipvs.ServiceFlags(0x2), ipvs.ServiceFlags(0x4), ipvs.ServiceFlags(0x10)
	add := func(k Key, sched string, flags ipvs.ServiceFlags, timeout, netmask uint32, ds ...ipvs.Destination) {
		f.ipvs.svcs = append(f.ipvs.svcs, ipvs.Service{Protocol: k.Proto, Address: k.VIP, Port: k.Port, Scheduler: sched,
			Flags: flags | hashed, Timeout: timeout, Netmask: netmask})
		for i := range ds {
			ds[i].Port = k.Port
		}
		f.ipvs.dests[k] = ds
	}
	a := netip.MustParseAddr
	add(kNAT, "wlc", ipvs.FlagPersistent, 300, 0xffffff00, ipvs.Destination{Address: a("192.0.2.50"), Forward: ipvs.Masquerade, Weight: 100})
	add(kDR, "sh", sched2, 0, 0xffffffff, ipvs.Destination{Address: a("192.0.2.53"), Forward: ipvs.Route, Weight: 1})
	add(kOPS, "rr", onePacket, 0, 0xffffffff, ipvs.Destination{Address: a("192.0.2.54"), Forward: ipvs.Masquerade, Weight: 1})
	add(kTUN, "mh", sched2, 0, 128, ipvs.Destination{Address: a("2001:db8:1::50"), Forward: ipvs.Tunnel, Weight: 1})
	add(kGUE, "wrr", 0, 0, 0xffffffff,
		ipvs.Destination{Address: a("192.0.2.60"), Forward: ipvs.Tunnel, TunnelType: ipvs.TunnelGUE, TunnelPort: 6080, Weight: 1},
		ipvs.Destination{Address: a("192.0.2.61"), Forward: ipvs.Tunnel, TunnelType: ipvs.TunnelGRE, Weight: 1})
	add(kMix, "rr", 0, 0, 0xffffffff,
		ipvs.Destination{Address: a("192.0.2.70"), Forward: ipvs.Masquerade, Weight: 1},
		ipvs.Destination{Address: a("192.0.2.71"), Forward: ipvs.Route, Weight: 1})
	add(kEmpty, "wlc", 0, 0, 0xffffffff)
	f.ipvs.svcs = append(f.ipvs.svcs, ipvs.Service{FWMark: 7, Scheduler: "wlc", Flags: hashed})
}

// A director with services made by ipvsadm beside l3dsr's own: each gets
// its true mode, only l3dsr's are managed, the others raise no problem
// (not even the sysctls l3dsr would want), and l3dsr's lines of the table
// stay as they were.
func TestShowIpvsadmServices(t *testing.T) {
	f := newFakes()
	ipvsadmState(f)
	f.host.sysctls["net.ipv4.vs.conntrack"] = "1" // keepalived's NAT may want it
	st, err := f.d.Show()
	if err != nil {
		t.Fatal(err)
	}
	got := map[Key]string{}
	for _, s := range st.Services {
		got[s.Key] = s.Mode.String()
		if s.Managed {
			t.Errorf("%s is managed", s.Key)
		}
	}
	want := map[Key]string{kNAT: "nat", kDR: "dr", kOPS: "nat", kTUN: "ipip", kGUE: "ipip", kMix: "mixed", kEmpty: "none"}
	if len(got) != len(want) {
		t.Errorf("services %v, want %v (no firewall-mark one)", got, want)
	}
	for k, m := range want {
		if got[k] != m {
			t.Errorf("%s: mode %q, want %q", k, got[k], m)
		}
	}
	if len(st.Problems) != 0 || WriteProblems(new(bytes.Buffer), st) != nil {
		t.Errorf("problems of services l3dsr does not manage: %q", st.Problems)
	}

	// l3dsr's own beside them, and the sysctls it needs.
	mustAdd(t, f, Service{Key: k1, DSCP: 21})
	mustAdd(t, f, Service{Key: k2, Mode: dsrtypes.ModeIPIP})
	if f.host.sysctls["net.ipv4.vs.conntrack"] != "0" || f.host.sysctls["net.ipv6.conf.all.forwarding"] != "0" {
		t.Errorf("sysctls: %v (IPv6 forwarding only for an IPv6 service of l3dsr's)", f.host.sysctls)
	}
	for _, k := range []Key{k1, k2} {
		if _, err := f.d.AddReal(k, Real{Addr: rs1, Weight: 100}); err != nil {
			t.Fatal(err)
		}
	}
	st, table := showTable(t, f)
	lines := map[string]string{}
	for _, l := range strings.Split(table, "\n") {
		lines[strings.Join(strings.Fields(l), " ")] = l
	}
	for _, w := range []string{
		"TCP 10.0.0.1:80 dscp 21 wlc - 0 0 0 0 0",
		"-> 10.1.0.10:80 masq 100 0 0 0 0 0 0 0",
		"TCP 10.0.0.2:80 ipip - wlc - 0 0 0 0 0",
		"-> 10.1.0.10:80 tunnel 100 0 0 0 0 0 0 0",
		"TCP 10.9.0.1:80 nat - wlc 300/255.255.255.0 0 0 0 0 0 unmanaged",
		"-> 192.0.2.50:80 masq 100 0 0 0 0 0 0 0",
		"UDP 10.9.0.2:53 dr - sh,sh-port - 0 0 0 0 0 unmanaged",
		"-> 192.0.2.53:53 route 1 0 0 0 0 0 0 0",
		"UDP 10.9.0.3:5060 nat - rr,ops - 0 0 0 0 0 unmanaged",
		"TCP 10.9.0.4:80 ipip - wrr - 0 0 0 0 0 unmanaged",
		"-> 192.0.2.60:80 tunnel/gue:6080 1 0 0 0 0 0 0 0",
		"-> 192.0.2.61:80 tunnel/gre 1 0 0 0 0 0 0 0",
		"TCP 10.9.0.5:80 mixed - rr - 0 0 0 0 0 unmanaged",
		"-> 192.0.2.70:80 masq 1 0 0 0 0 0 0 0",
		"-> 192.0.2.71:80 route 1 0 0 0 0 0 0 0",
		"TCP 10.9.0.5:81 none - wlc - 0 0 0 0 0 unmanaged",
		"TCP [2001:db8:9::1]:443 ipip - mh,mh-port - 0 0 0 0 0 unmanaged",
		"-> [2001:db8:1::50]:443 tunnel 1 0 0 0 0 0 0 0",
	} {
		if _, ok := lines[w]; !ok {
			t.Errorf("show table lacks %q:\n%s", w, table)
		}
	}
	// The lines of l3dsr's own services end as the columns do, as before.
	if l := lines["TCP 10.0.0.1:80 dscp 21 wlc - 0 0 0 0 0"]; strings.HasSuffix(strings.TrimRight(l, " "), "unmanaged") || !strings.HasSuffix(l, " ") {
		t.Errorf("managed line %q", l)
	}

	var b bytes.Buffer
	if err := WriteStatus(&b, st, "json"); err != nil {
		t.Fatal(err)
	}
	var js struct {
		Services []struct {
			VIP     string
			Port    uint16
			Mode    string
			Managed *bool
			Flags   []string `json:"scheduler_flags"`
			Ops     bool
			Netmask string `json:"persistence_netmask"`
			Reals   []struct {
				Address string
				Forward string
				Tunnel  *struct {
					Type string
					Port uint16
				}
			}
		}
	}
	if err := json.Unmarshal(b.Bytes(), &js); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, s := range js.Services {
		if s.Managed == nil || *s.Managed != (s.VIP == "10.0.0.1" || s.VIP == "10.0.0.2") {
			t.Errorf("json %s:%d managed %v", s.VIP, s.Port, s.Managed)
		}
		// ipvsadm's -M, -b and -o, as ipvsadm writes them.
		want := map[string]string{"10.9.0.1": "[] false 255.255.255.0", "10.9.0.2": "[sh-port] false 255.255.255.255",
			"10.9.0.3": "[] true 255.255.255.255", "2001:db8:9::1": "[mh-port] false 128"}[s.VIP]
		if got := fmt.Sprintf("%v %v %s", s.Flags, s.Ops, s.Netmask); want != "" && got != want {
			t.Errorf("json %s:%d flags, ops, netmask: %s, want %s", s.VIP, s.Port, got, want)
		}
		for _, r := range s.Reals {
			tun := ""
			if r.Tunnel != nil {
				tun = r.Tunnel.Type + ":" + strconv.Itoa(int(r.Tunnel.Port))
			}
			switch r.Address {
			case "192.0.2.60":
				seen++
				if r.Forward != "tunnel" || tun != "gue:6080" {
					t.Errorf("json GUE real: %s %s", r.Forward, tun)
				}
			case "2001:db8:1::50":
				seen++
				if r.Forward != "tunnel" || tun != "ipip:0" {
					t.Errorf("json IPIP real: %s %s", r.Forward, tun)
				}
			case "192.0.2.50":
				seen++
				if r.Forward != "masq" || r.Tunnel != nil {
					t.Errorf("json masq real: %s %v", r.Forward, r.Tunnel)
				}
			}
		}
	}
	if seen != 3 {
		t.Errorf("json: %d of 3 reals seen:\n%s", seen, b.String())
	}
}

// Problems are those of l3dsr's services, and of none other: a dscp service
// that lost its mark, a real of l3dsr's that forwards otherwise (a local one
// is fine). A tunnel type is a setting (the config's tunnel), not a problem.
func TestShowManagedProblems(t *testing.T) {
	f := newFakes()
	ipvsadmState(f)
	mustAdd(t, f, Service{Key: k1, DSCP: 21})
	mustAdd(t, f, Service{Key: k2, Mode: dsrtypes.ModeIPIP})
	if _, err := f.d.AddReal(k2, Real{Addr: rs1, Weight: 1}); err != nil {
		t.Fatal(err)
	}
	f.marks.marks = nil
	f.ipvs.dests[k1] = []ipvs.Destination{{Address: rs1, Port: 80, Forward: ipvs.Local, Weight: 1}}
	f.ipvs.dests[k2][0].Forward = ipvs.Route
	gue := Key{VIP: k2.VIP, Port: 81, Proto: k2.Proto}
	mustAdd(t, f, Service{Key: gue, Mode: dsrtypes.ModeIPIP})
	if _, err := f.d.AddReal(gue, Real{Addr: rs1, Weight: 1, Tunnel: ipvs.TunnelGUE, TunnelPort: 6080}); err != nil {
		t.Fatal(err)
	}
	st, err := f.d.Show()
	if err != nil {
		t.Fatal(err)
	}
	i, _ := find(st.Services, k1)
	if s := st.Services[i]; s.Mode != dsrtypes.ModeDSCP || !s.Managed {
		t.Errorf("dscp service without its mark: mode %s, managed %v", s.Mode, s.Managed)
	}
	want := []string{
		"service tcp 10.0.0.1:80 (mode dscp) has lost its DSCP mark: its packets reach the real servers unmarked, and no real server maps them back to the VIP: delete it and add it again with 'l3dsr director service add --dscp N'",
		"service tcp 10.0.0.2:80 (mode ipip): real server 10.1.0.10 forwards by route, not tunnel: delete it and add it again with 'l3dsr director real add'",
	}
	if !slices.Equal(st.Problems, want) {
		t.Errorf("problems\n%q\nwant\n%q", st.Problems, want)
	}
	if err := WriteProblems(new(bytes.Buffer), st); err == nil {
		t.Error("WriteProblems: no error with problems")
	}
	// 'service edit --dscp' (and apply, which edits) puts the lost mark back.
	code := uint8(21)
	if r, err := f.d.EditService(k1, ServiceEdit{DSCP: &code}); err != nil || !slices.Equal(r.Changes, []string{"DSCP mark 21 for tcp 10.0.0.1:80 (it was lost)"}) {
		t.Errorf("EditService of a dscp service without its mark: %v %q", err, r.Changes)
	}
	if st, err = f.d.Show(); err != nil || len(st.Problems) != 1 {
		t.Errorf("after the mark is back: %v %q", err, st.Problems)
	}
	// A dscp service of an older l3dsr: its mark, no tag.
	i = f.ipvs.idx(ipvs.Service{Protocol: k1.Proto, Address: k1.VIP, Port: k1.Port})
	f.ipvs.svcs[i].Flags &^= tagMask
	if st, err = f.d.Show(); err != nil {
		t.Fatal(err)
	}
	if i, _ := find(st.Services, k1); !st.Services[i].Managed || st.Services[i].DSCP != 21 || len(st.Problems) != 1 {
		t.Errorf("untagged dscp service with its mark: %+v, problems %q", st.Services[i], st.Problems)
	}
}

// l3dsr makes nat services (tagged, no mark, masquerading reals), and
// refuses reals of a service whose method is unknown (mixed or none).
// Editing a service of ipvsadm's leaves it unmanaged.
func TestModeNAT(t *testing.T) {
	f := newFakes()
	ipvsadmState(f)
	k := svcKey(ipvs.ProtoTCP, "10.9.0.9:80")
	s := Service{Key: k, Mode: dsrtypes.ModeNAT, Scheduler: "wlc"}
	if err := CheckService(s); err != nil {
		t.Errorf("CheckService nat: %v", err)
	}
	if err := s.CheckNew(true); err == nil || !strings.Contains(err.Error(), "mode nat uses no DSCP code") {
		t.Errorf("CheckNew nat with --dscp: %v", err)
	}
	s.DSCP = 3
	if err := CheckService(s); err == nil || !strings.Contains(err.Error(), "mode nat uses no DSCP code") {
		t.Errorf("CheckService nat with a DSCP: %v", err)
	}
	s.DSCP = 0
	mustAdd(t, f, s)
	if _, err := f.d.AddReal(k, Real{Addr: netip.MustParseAddr("192.0.2.90"), Weight: 3}); err != nil {
		t.Fatal(err)
	}
	if i := f.ipvs.idx(ipvs.Service{Protocol: k.Proto, Address: k.VIP, Port: k.Port}); f.ipvs.svcs[i].Flags&tagMask != natTag || len(f.marks.marks) != 0 {
		t.Errorf("nat service: flags %v, marks %v", f.ipvs.svcs[i].Flags, f.marks.marks)
	}
	if d := f.ipvs.dests[k][0]; d.Forward != ipvs.Masquerade || d.Port != 80 || d.Weight != 3 {
		t.Errorf("nat real: %+v", d)
	}
	st, _ := showTable(t, f)
	if i, _ := find(st.Services, k); st.Services[i].Mode != dsrtypes.ModeNAT || !st.Services[i].Managed {
		t.Errorf("nat service read back: %+v", st.Services[i])
	}
	// A tunnelled real in l3dsr's nat service is a problem.
	f.ipvs.dests[k][0].Forward = ipvs.Tunnel
	if st, _ = f.d.Show(); len(st.Problems) != 1 || !strings.Contains(st.Problems[0], "real server 192.0.2.90 forwards by tunnel, not masq") {
		t.Errorf("problems: %q", st.Problems)
	}
	for _, k := range []Key{kMix, kEmpty} {
		_, err := f.d.AddReal(k, Real{Addr: netip.MustParseAddr("192.0.2.99"), Weight: 1})
		if err == nil || !strings.Contains(err.Error(), "is not l3dsr's and its mode is") {
			t.Errorf("AddReal to %s: %v", k, err)
		}
	}
	// A real added to ipvsadm's nat service masquerades, as its others do.
	if _, err := f.d.AddReal(kNAT, Real{Addr: netip.MustParseAddr("192.0.2.51"), Weight: 1}); err != nil {
		t.Fatal(err)
	}
	if d := f.ipvs.dests[kNAT][1]; d.Forward != ipvs.Masquerade {
		t.Errorf("real of a nat service: %+v", d)
	}
	sched := "rr"
	if _, err := f.d.EditService(kNAT, ServiceEdit{Scheduler: &sched}); err != nil {
		t.Fatal(err)
	}
	st, err := f.d.Show()
	if err != nil {
		t.Fatal(err)
	}
	if i, _ := find(st.Services, kNAT); st.Services[i].Managed || st.Services[i].Mode != dsrtypes.ModeNAT {
		t.Errorf("edited nat service: %+v", st.Services[i])
	}
}
