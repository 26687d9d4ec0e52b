package director

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/dscpmark"
	"github.com/l3dsr/l3dsr/internal/ipvs"
)

var (
	vip1 = netip.MustParseAddr("10.0.0.1")
	vip2 = netip.MustParseAddr("10.0.0.2")
	vip6 = netip.MustParseAddr("2001:db8::1")
	rs1  = netip.MustParseAddr("10.1.0.10")
	rs2  = netip.MustParseAddr("10.1.0.11")
	rs6  = netip.MustParseAddr("2001:db8:1::10")
	k1   = Key{VIP: vip1, Port: 80, Proto: ipvs.ProtoTCP}
	k2   = Key{VIP: vip2, Port: 80, Proto: ipvs.ProtoTCP}
)

func mustAdd(t *testing.T, f *fakes, s Service) Result {
	t.Helper()
	r, err := f.d.AddService(s)
	if err != nil {
		t.Fatalf("AddService(%v): %v", s.Key, err)
	}
	return r
}

func TestAddServiceDSCP(t *testing.T) {
	f := newFakes()
	r := mustAdd(t, f, Service{Key: k1, DSCP: 10, Persistent: 300})
	if len(f.ipvs.svcs) != 1 {
		t.Fatalf("IPVS services: want 1, got %v", f.ipvs.svcs)
	}
	s := f.ipvs.svcs[0]
	if s.Scheduler != "wlc" || s.Flags&ipvs.FlagPersistent == 0 || s.Timeout != 300 || s.Netmask != 0xffffffff {
		t.Errorf("IPVS service: want wlc, persistent 300, netmask 255.255.255.255; got %+v", s)
	}
	want := []dscpmark.Mark{{VIP: vip1, Proto: 6, Port: 80, DSCP: 10}}
	if !reflect.DeepEqual(f.marks.marks, want) {
		t.Errorf("marks: want %v, got %v", want, f.marks.marks)
	}
	if !f.host.local[vip1] {
		t.Errorf("VIP %s not added to lo as ours: %v", vip1, f.host.local)
	}
	for k, v := range map[string]string{"net.ipv4.ip_forward": "1", "net.ipv4.vs.conntrack": "0",
		"net.ipv4.vs.expire_nodest_conn": "1", "net.ipv4.vs.expire_quiescent_template": "1", "net.ipv6.conf.all.forwarding": "0"} {
		if f.host.sysctls[k] != v {
			t.Errorf("sysctl %s: want %s, got %s", k, v, f.host.sysctls[k])
		}
	}
	if len(r.Changes) != 6 {
		t.Errorf("changes: want 6 (3 sysctls, VIP, service, mark), got %q", r.Changes)
	}
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "DSCP 10 is AF11") {
		t.Errorf("warnings: want one about AF11, got %q", r.Warnings)
	}

	// The same again: nothing to do.
	r = mustAdd(t, f, Service{Key: k1, DSCP: 10, Persistent: 300})
	if len(r.Changes) != 0 || len(f.ipvs.svcs) != 1 || len(f.marks.marks) != 1 {
		t.Errorf("second add: want no change, got %q, %d services, %d marks", r.Changes, len(f.ipvs.svcs), len(f.marks.marks))
	}
	// Other settings: refused, nothing changed.
	_, err := f.d.AddService(Service{Key: k1, DSCP: 11})
	if err == nil || !strings.Contains(err.Error(), "exists with mode dscp, DSCP 10") || !strings.Contains(err.Error(), "service edit") {
		t.Errorf("add with another DSCP: want 'exists ... use service edit', got %v", err)
	}
	if f.marks.marks[0].DSCP != 10 {
		t.Errorf("mark changed by a refused add: %v", f.marks.marks)
	}
}

func TestAddServiceRollsBack(t *testing.T) {
	f := newFakes()
	f.marks.fail["Add"] = errors.New("netlink: boom")
	_, err := f.d.AddService(Service{Key: k1, DSCP: 21})
	if err == nil || !strings.Contains(err.Error(), "add DSCP mark 21 for tcp 10.0.0.1:80: netlink: boom") {
		t.Fatalf("want the mark's error, got %v", err)
	}
	if len(f.ipvs.svcs) != 0 || len(f.host.local) != 0 {
		t.Errorf("not rolled back: services %v, local %v", f.ipvs.svcs, f.host.local)
	}
	if f.host.sysctls["net.ipv4.ip_forward"] != "0" || f.host.sysctls["net.ipv4.vs.expire_nodest_conn"] != "0" {
		t.Errorf("sysctls not restored: %v", f.host.sysctls)
	}
}

func TestAddServiceValidation(t *testing.T) {
	f := newFakes()
	for _, tc := range []struct {
		s    Service
		want string
	}{
		{Service{Key: Key{VIP: vip1, Port: 0, Proto: ipvs.ProtoTCP}, DSCP: 2}, "port 0"},
		{Service{Key: Key{VIP: netip.MustParseAddr("0.0.0.0"), Port: 80, Proto: ipvs.ProtoTCP}, DSCP: 2}, "VIP 0.0.0.0"},
		{Service{Key: Key{VIP: vip1, Port: 80, Proto: 1}, DSCP: 2}, "protocol 1"},
		{Service{Key: k1, DSCP: 64}, "DSCP 64"},
		{Service{Key: k1, Mode: dsrtypes.ModeIPIP, DSCP: 3}, "mode ipip uses no DSCP code (got 3)"},
	} {
		_, err := f.d.AddService(tc.s)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("AddService(%+v): want error with %q, got %v", tc.s, tc.want, err)
		}
	}
	if len(f.ipvs.calls) != 0 || len(f.marks.marks) != 0 || len(f.host.local) != 0 {
		t.Errorf("invalid input reached the system: calls %v", f.ipvs.calls)
	}
}

func TestDSCPConflictNamesBothVIPs(t *testing.T) {
	f := newFakes()
	mustAdd(t, f, Service{Key: k1, DSCP: 21})
	mustAdd(t, f, Service{Key: k2, DSCP: 21})
	if _, err := f.d.AddReal(k1, Real{Addr: rs1, Weight: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.d.AddReal(k2, Real{Addr: rs2, Weight: 1}); err != nil {
		t.Fatalf("same DSCP on two VIPs with different reals must be fine: %v", err)
	}
	_, err := f.d.AddReal(k2, Real{Addr: rs1, Weight: 1})
	if err == nil || !strings.Contains(err.Error(), "DSCP 21 would stand for two VIPs on real server 10.1.0.10: 10.0.0.1") ||
		!strings.Contains(err.Error(), "10.0.0.2") {
		t.Fatalf("want the conflict naming both VIPs, got %v", err)
	}
	if n := len(f.ipvs.dests[k2]); n != 1 {
		t.Errorf("refused real was added: %v", f.ipvs.dests[k2])
	}
	// The same VIP on another port with the same code and real is fine.
	k3 := Key{VIP: vip1, Port: 443, Proto: ipvs.ProtoTCP}
	mustAdd(t, f, Service{Key: k3, DSCP: 21})
	if _, err := f.d.AddReal(k3, Real{Addr: rs1, Weight: 1}); err != nil {
		t.Errorf("same VIP, same code, same real: %v", err)
	}
	// Editing k2's code to one that is free on its reals works; to k1's with rs1 added does not.
	d := uint8(22)
	if _, err := f.d.EditService(k2, ServiceEdit{DSCP: &d}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.d.AddReal(k2, Real{Addr: rs1, Weight: 1}); err != nil {
		t.Fatal(err)
	}
	d = 21
	if _, err := f.d.EditService(k2, ServiceEdit{DSCP: &d}); err == nil || !strings.Contains(err.Error(), "two VIPs") {
		t.Errorf("edit into a conflict: want refusal, got %v", err)
	}
	if f.marks.marks[1].DSCP != 22 {
		t.Errorf("refused edit changed the mark: %v", f.marks.marks)
	}
}

func TestRealsAndModes(t *testing.T) {
	f := newFakes()
	mustAdd(t, f, Service{Key: k1, DSCP: 21})
	k6 := Key{VIP: vip6, Port: 53, Proto: ipvs.ProtoUDP}
	mustAdd(t, f, Service{Key: k6, Mode: dsrtypes.ModeIPIP, Scheduler: "mh"})
	if len(f.marks.marks) != 1 {
		t.Errorf("ipip service got a mark: %v", f.marks.marks)
	}
	if f.host.sysctls["net.ipv6.conf.all.forwarding"] != "1" {
		t.Errorf("IPv6 service without IPv6 forwarding")
	}
	if _, err := f.d.AddReal(k1, Real{Addr: rs1, Weight: 100}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.d.AddReal(k6, Real{Addr: rs6, Weight: 5}); err != nil {
		t.Fatal(err)
	}
	if d := f.ipvs.dests[k1][0]; d.Forward != ipvs.Masquerade || d.Port != 80 || d.Weight != 100 {
		t.Errorf("dscp real: want masq port 80 weight 100, got %+v", d)
	}
	if d := f.ipvs.dests[k6][0]; d.Forward != ipvs.Tunnel || d.Port != 53 {
		t.Errorf("ipip real: want tunnel port 53, got %+v", d)
	}
	if _, err := f.d.AddReal(k1, Real{Addr: rs6}); err == nil || !strings.Contains(err.Error(), "different address families") {
		t.Errorf("family mismatch: got %v", err)
	}
	r, err := f.d.AddReal(k1, Real{Addr: rs1, Weight: 100})
	if err != nil || len(r.Changes) != 0 {
		t.Errorf("re-adding the same real: want no change, got %v %v", r.Changes, err)
	}
	w := int32(0)
	if _, err := f.d.EditReal(k1, rs1, RealEdit{Weight: &w}); err != nil || f.ipvs.dests[k1][0].Weight != 0 {
		t.Errorf("edit weight 0: %v %+v", err, f.ipvs.dests[k1])
	}
	st, err := f.d.Show()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Services) != 2 || st.Services[0].Mode != dsrtypes.ModeDSCP || st.Services[0].DSCP != 21 || st.Services[1].Mode != dsrtypes.ModeIPIP {
		t.Errorf("show: %+v", st.Services)
	}
	if len(st.Problems) != 0 {
		t.Errorf("show problems: %q", st.Problems)
	}
	if _, err := f.d.DelReal(k1, rs2); err == nil || !strings.Contains(err.Error(), "10.1.0.11 is not a real server of tcp 10.0.0.1:80") {
		t.Errorf("del unknown real: %v", err)
	}
	if _, err := f.d.DelReal(k1, rs1); err != nil || len(f.ipvs.dests[k1]) != 0 {
		t.Errorf("del real: %v %v", err, f.ipvs.dests[k1])
	}
}

func TestDelServiceKeepsOthersVIP(t *testing.T) {
	f := newFakes()
	f.host.local[vip2] = false // configured by someone else
	mustAdd(t, f, Service{Key: k1, DSCP: 21})
	mustAdd(t, f, Service{Key: Key{VIP: vip1, Port: 443, Proto: ipvs.ProtoTCP}, DSCP: 21})
	mustAdd(t, f, Service{Key: k2, DSCP: 23})
	if _, err := f.d.DelService(k1); err != nil {
		t.Fatal(err)
	}
	if !f.host.local[vip1] {
		t.Errorf("VIP %s removed while :443 still uses it", vip1)
	}
	if _, err := f.d.DelService(Key{VIP: vip1, Port: 443, Proto: ipvs.ProtoTCP}); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.host.local[vip1]; ok {
		t.Errorf("VIP %s left on lo after its last service", vip1)
	}
	if _, err := f.d.DelService(k2); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.host.local[vip2]; !ok {
		t.Errorf("VIP %s that the director did not add was removed", vip2)
	}
	if len(f.marks.marks) != 0 || len(f.ipvs.svcs) != 0 || !f.marks.removed {
		t.Errorf("left: marks %v services %v, table removed %v", f.marks.marks, f.ipvs.svcs, f.marks.removed)
	}
	if _, err := f.d.DelService(k2); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("deleting twice: %v", err)
	}
}

func TestShowProblems(t *testing.T) {
	f := newFakes()
	mustAdd(t, f, Service{Key: k1, DSCP: 21})
	f.host.sysctls["net.ipv4.vs.conntrack"] = "1"
	f.marks.marks = append(f.marks.marks, dscpmark.Mark{VIP: vip2, Proto: 17, Port: 53, DSCP: 9})
	st, err := f.d.Show()
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(st.Problems, "\n")
	for _, want := range []string{"sysctl net.ipv4.vs.conntrack is 1, want 0", "DSCP mark 9 for udp 10.0.0.2:53 has no IPVS service"} {
		if !strings.Contains(all, want) {
			t.Errorf("problems: want %q in %q", want, all)
		}
	}
}

func TestDSCPWarning(t *testing.T) {
	for d, want := range map[uint8]string{0: "DSCP 0 is CS0", 1: "LE", 46: "EF", 34: "AF41", 48: "CS6", 21: "", 63: ""} {
		got := dscpWarning(d)
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("DSCPWarning(%d) = %q, want it to contain %q", d, got, want)
		}
	}
}
