package director

import (
	"bytes"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/ipvs"
	"github.com/l3dsr/l3dsr/internal/rtnl"
)

// A dr service: an IPVS service tagged dr, no mark, the VIP on lo, reals
// that forward by direct routing; show says dr and route.
func TestModeDR(t *testing.T) {
	f := newFakes()
	k6 := Key{VIP: vip6, Port: 80, Proto: ipvs.ProtoTCP}
	r := mustAdd(t, f, Service{Key: k1, Mode: dsrtypes.ModeDR})
	mustAdd(t, f, Service{Key: k6, Mode: dsrtypes.ModeDR, Persistent: 60})
	if len(f.marks.marks) != 0 {
		t.Errorf("dr service got a DSCP mark: %v", f.marks.marks)
	}
	if !f.host.local[vip1] || !f.host.local[vip6] {
		t.Errorf("VIPs not on lo: %v", f.host.local)
	}
	if want := "IPVS service tcp 10.0.0.1:80 scheduler wlc persistent 0"; !slices.Contains(r.Changes, want) {
		t.Errorf("changes %q: want %q among them", r.Changes, want)
	}
	for _, s := range f.ipvs.svcs {
		if s.Flags&drTag == 0 {
			t.Errorf("IPVS service %v: flags %v lack the dr tag", s.Address, s.Flags)
		}
	}
	// With no real yet, the tag alone says dr.
	st, err := f.d.Show()
	if err != nil {
		t.Fatal(err)
	}
	if st.Services[0].Mode != dsrtypes.ModeDR || st.Services[1].Mode != dsrtypes.ModeDR {
		t.Fatalf("empty dr services read back as %s, %s", st.Services[0].Mode, st.Services[1].Mode)
	}
	for _, a := range []struct {
		k Key
		r netip.Addr
	}{{k1, rs1}, {k1, rs2}, {k6, rs6}} {
		res, err := f.d.AddReal(a.k, Real{Addr: a.r, Weight: 1})
		if err != nil {
			t.Fatal(err)
		}
		if want := "real server " + a.r.String() + " for " + a.k.String() + " (route, weight 1)"; !slices.Equal(res.Changes, []string{want}) {
			t.Errorf("AddReal changes %q, want %q", res.Changes, want)
		}
	}
	for k, ds := range f.ipvs.dests {
		for _, d := range ds {
			if d.Forward != ipvs.Route || d.Port != k.Port {
				t.Errorf("dr real %v: want route to port %d, got %+v", d.Address, k.Port, d)
			}
		}
	}
	// Persistence edits keep the tag.
	p := uint32(300)
	if _, err := f.d.EditService(k6, ServiceEdit{Persistent: &p}); err != nil {
		t.Fatal(err)
	}
	code := uint8(3)
	if _, err := f.d.EditService(k1, ServiceEdit{DSCP: &code}); err == nil ||
		err.Error() != "service tcp 10.0.0.1:80 runs in mode dr, which uses no DSCP code: delete it and add it again with --mode dscp" {
		t.Errorf("EditService DSCP of a dr service: %v", err)
	}
	st, table := showTable(t, f)
	for _, want := range []string{
		"TCP    10.0.0.1:80          dr       -       wlc         -  ",
		"  ->   10.1.0.10:80         route    1 ",
		"TCP    [2001:db8::1]:80     dr       -       wlc         300 ",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("show table lacks %q:\n%s", want, table)
		}
	}
	var b bytes.Buffer
	if err := WriteStatus(&b, st, "json"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"mode":"dr","managed":true,"dscp":null`, `"forward":"route"`} {
		if !strings.Contains(strings.Join(strings.Fields(b.String()), ""), want) {
			t.Errorf("show json lacks %s:\n%s", want, b.String())
		}
	}
	if _, err := f.d.DelService(k1); err != nil || f.host.local[vip1] {
		t.Errorf("DelService: %v, VIP left on lo: %v", err, f.host.local)
	}
}

// Read back without the tag (a service 'ipvsadm -R' restored), a service
// whose reals route is dr, and not l3dsr's: no problem. With the tag, a
// tunnelled real of a dr service is a problem.
func TestModeDRFromReals(t *testing.T) {
	f := newFakes()
	mustAdd(t, f, Service{Key: k1, Mode: dsrtypes.ModeDR})
	f.ipvs.dests[k1] = []ipvs.Destination{{Address: rs1, Port: 80, Forward: ipvs.Route, Weight: 1}, {Address: rs2, Port: 80, Forward: ipvs.Tunnel, Weight: 1}}
	st, err := f.d.Show()
	if err != nil {
		t.Fatal(err)
	}
	if s := st.Services[0]; s.Mode != dsrtypes.ModeDR || !s.Managed {
		t.Errorf("mode %s managed %v, want dr, managed", s.Mode, s.Managed)
	}
	want := "service tcp 10.0.0.1:80 (mode dr): real server 10.1.0.11 forwards by tunnel, not route: delete it and add it again with 'l3dsr director real add'"
	if !slices.Equal(st.Problems, []string{want}) {
		t.Errorf("problems %q, want %q", st.Problems, want)
	}
	f.ipvs.svcs[0].Flags &^= drTag
	f.ipvs.dests[k1] = f.ipvs.dests[k1][:1]
	if st, err = f.d.Show(); err != nil {
		t.Fatal(err)
	}
	if s := st.Services[0]; s.Mode != dsrtypes.ModeDR || s.Managed || len(st.Problems) != 0 {
		t.Errorf("untagged: mode %s managed %v problems %q, want dr, unmanaged, none", s.Mode, s.Managed, st.Problems)
	}
}

// A dr real must be on one of the director's subnets; the refusal names the
// real and the subnets of its family and touches nothing.
func TestModeDRRealNotConnected(t *testing.T) {
	f := newFakes()
	k6 := Key{VIP: vip6, Port: 80, Proto: ipvs.ProtoTCP}
	mustAdd(t, f, Service{Key: k1, Mode: dsrtypes.ModeDR})
	mustAdd(t, f, Service{Key: k6, Mode: dsrtypes.ModeDR})
	f.host.nets = append(f.host.nets, netip.MustParsePrefix("10.2.0.0/16"))
	for _, tc := range []struct {
		k    Key
		real string
		want string
	}{
		{k1, "10.9.0.5", "real server 10.9.0.5 of tcp 10.0.0.1:80 (direct routing) is on no subnet of this director (its IPv4 subnets: 10.1.0.0/24, 10.2.0.0/16): direct routing sends the packet to the real server's MAC address, so the real server must be on one of the director's links; add a real server of those subnets, or use mode dscp or ipip for this service"},
		{k6, "2001:db8:2::10", "real server 2001:db8:2::10 of tcp [2001:db8::1]:80 (direct routing) is on no subnet of this director (its IPv6 subnets: 2001:db8:1::/64)"},
	} {
		calls := len(f.ipvs.calls)
		_, err := f.d.AddReal(tc.k, Real{Addr: netip.MustParseAddr(tc.real), Weight: 1})
		if !errors.Is(err, ErrNotConnected) || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("AddReal %s: got %v, want %q", tc.real, err, tc.want)
		}
		if slices.Contains(f.ipvs.calls[calls:], "CreateDestination") {
			t.Errorf("AddReal %s reached IPVS", tc.real)
		}
	}
	f.host.nets = f.host.nets[:1]
	if _, err := f.d.AddReal(k6, Real{Addr: rs6, Weight: 1}); err == nil || !strings.Contains(err.Error(), "(its IPv6 subnets: none of its family)") {
		t.Errorf("no IPv6 subnet: %v", err)
	}
	f.host.netsErr = errors.New("netlink down")
	if _, err := f.d.AddReal(k1, Real{Addr: rs1}); err == nil || err.Error() != "reading the director's subnets for real server 10.1.0.10 of tcp 10.0.0.1:80: netlink down" {
		t.Errorf("subnets failing: %v", err)
	}
	// Only dr services check: a dscp real may be anywhere routed.
	mustAdd(t, f, Service{Key: k2, DSCP: 21})
	if _, err := f.d.AddReal(k2, Real{Addr: netip.MustParseAddr("10.9.0.5"), Weight: 1}); err != nil {
		t.Errorf("dscp real off-link: %v", err)
	}
	if len(f.ipvs.dests[k1])+len(f.ipvs.dests[k6]) != 0 {
		t.Errorf("refused reals were added: %v", f.ipvs.dests)
	}
}

func TestModeDRNoDSCP(t *testing.T) {
	f := newFakes()
	s := Service{Key: k1, Mode: dsrtypes.ModeDR, DSCP: 3, Scheduler: DefaultScheduler}
	if err := CheckService(s); err == nil || err.Error() != "service tcp 10.0.0.1:80: mode dr uses no DSCP code (got 3): drop the DSCP, or use mode dscp" {
		t.Errorf("CheckService: %v", err)
	}
	if _, err := f.d.AddService(s); err == nil || err.Error() != "service tcp 10.0.0.1:80: mode dr uses no DSCP code (got 3): drop --dscp, or use --mode dscp" {
		t.Errorf("AddService: %v", err)
	}
	if len(f.ipvs.calls) != 0 || len(f.host.local) != 0 {
		t.Errorf("refused service reached the system: %v", f.ipvs.calls)
	}
}

func TestConnectedSubnets(t *testing.T) {
	a := func(i int, p string) rtnl.Addr { return rtnl.Addr{Index: i, Prefix: netip.MustParsePrefix(p)} }
	got := connectedSubnets([]rtnl.Addr{
		a(1, "127.0.0.1/8"), a(1, "10.0.0.1/32"), // lo: the VIPs
		a(2, "10.1.0.2/24"), a(3, "10.1.0.3/24"), // one subnet on two links
		a(2, "192.0.2.7/32"), // a host address: no subnet
		a(2, "fe80::1/64"), a(2, "2001:db8:1::2/64"), a(4, "10.0.9.1/16"),
	}, 1)
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16"), netip.MustParsePrefix("10.1.0.0/24"), netip.MustParsePrefix("2001:db8:1::/64")}
	if !slices.Equal(got, want) {
		t.Errorf("connectedSubnets = %v, want %v", got, want)
	}
}
