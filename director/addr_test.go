package director

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/ipvs"
)

// Addr mode: dscp mode without the mark. IPVS masquerades to the real's
// address (the VIP's RIP on it), the director marks nothing, and its tag is
// all that tells the service from plain LVS-NAT.
func TestModeAddr(t *testing.T) {
	f := newFakes()
	rip := netip.MustParseAddr("10.1.0.101")
	r := mustAdd(t, f, Service{Key: k1, Mode: dsrtypes.ModeAddr, Persistent: 60})
	if _, err := f.d.AddReal(k1, Real{Addr: rip, Weight: 2}); err != nil {
		t.Fatal(err)
	}
	is := f.ipvs.svcs[0]
	if is.Flags&tagMask != addrTag || is.Flags&ipvs.FlagPersistent == 0 || is.Scheduler != "wlc" {
		t.Errorf("IPVS service: flags %#x, scheduler %s; want the addr tag %#x, persistent, wlc", uint32(is.Flags), is.Scheduler, uint32(addrTag))
	}
	if d := f.ipvs.dests[k1]; len(d) != 1 || d[0].Address != rip || d[0].Forward != ipvs.Masquerade || d[0].Port != 80 || d[0].Weight != 2 {
		t.Errorf("real: %+v; want %s masq port 80 weight 2", d, rip)
	}
	if len(f.marks.marks) != 0 {
		t.Errorf("addr mode marks nothing; marks %v", f.marks.marks)
	}
	for _, c := range r.Changes {
		if strings.Contains(c, "DSCP mark") {
			t.Errorf("change %q: addr mode has no mark", c)
		}
	}
	// The director's VIP and sysctls are dscp mode's.
	if !f.host.local[vip1] {
		t.Errorf("VIP %s not on lo: %v", vip1, f.host.local)
	}
	for k, v := range map[string]string{"net.ipv4.ip_forward": "1", "net.ipv4.vs.conntrack": "0", "net.ipv4.vs.expire_nodest_conn": "1"} {
		if f.host.sysctls[k] != v {
			t.Errorf("sysctl %s = %s, want %s", k, f.host.sysctls[k], v)
		}
	}

	st, table := showTable(t, f)
	if s := st.Services[0]; s.Mode != dsrtypes.ModeAddr || !s.Managed || s.DSCP != 0 {
		t.Errorf("read back: mode %s, managed %v, DSCP %d; want addr, true, 0", s.Mode, s.Managed, s.DSCP)
	}
	if !strings.Contains(table, "TCP    10.0.0.1:80      addr     -       wlc         60") {
		t.Errorf("table:\n%s", table)
	}
	var b bytes.Buffer
	if err := WriteStatus(&b, st, "json"); err != nil {
		t.Fatal(err)
	}
	var js struct {
		Services []map[string]any `json:"services"`
	}
	if err := json.Unmarshal(b.Bytes(), &js); err != nil {
		t.Fatal(err)
	}
	if s := js.Services[0]; s["mode"] != "addr" || s["managed"] != true || s["dscp"] != nil {
		t.Errorf("JSON service: %v; want mode addr, managed, no dscp", s)
	}

	// Without its tag (ipvsadm -S | ipvsadm -R) the same service is plain
	// LVS-NAT: nothing else in the kernel says addr.
	f.ipvs.svcs[0].Flags &^= tagMask
	st, _ = showTable(t, f)
	if s := st.Services[0]; s.Mode != dsrtypes.ModeNAT || s.Managed {
		t.Errorf("untagged: mode %s, managed %v; want nat, false", s.Mode, s.Managed)
	}
}

func TestModeAddrRefusesDSCP(t *testing.T) {
	f := newFakes()
	s := Service{Key: k1, Mode: dsrtypes.ModeAddr, DSCP: 5, Scheduler: "wlc"}
	const want = "--dscp 5 given for service 10.0.0.1:80 in addr mode: addr mode uses no DSCP code (the real server knows the VIP by the real's address); leave --dscp out, or use --mode dscp"
	if err := s.CheckNew(true); err == nil || err.Error() != want {
		t.Errorf("CheckNew: %v\nwant %s", err, want)
	}
	if _, err := f.d.AddService(s); err == nil || !strings.Contains(err.Error(), "--dscp 5 given for service tcp 10.0.0.1:80 in addr mode") {
		t.Errorf("AddService: %v", err)
	}
	if err := CheckService(s); err == nil || err.Error() != "DSCP 5 given for service tcp 10.0.0.1:80 in addr mode: addr mode uses no DSCP code (the real server knows the VIP by the real's address); leave DSCP out, or use mode dscp" {
		t.Errorf("CheckService: %v", err)
	}
	if len(f.ipvs.svcs) != 0 || len(f.host.local) != 0 || len(f.marks.marks) != 0 {
		t.Errorf("a refused add changed something: %v %v %v", f.ipvs.svcs, f.host.local, f.marks.marks)
	}
	s.DSCP = 0
	if err := s.CheckNew(false); err != nil {
		t.Errorf("CheckNew without --dscp: %v", err)
	}
	if err := CheckService(s); err != nil {
		t.Errorf("CheckService without a DSCP: %v", err)
	}
	if _, err := f.d.AddService(s); err != nil {
		t.Fatal(err)
	}
	code := uint8(7)
	if _, err := f.d.EditService(k1, ServiceEdit{DSCP: &code}); err == nil || !strings.Contains(err.Error(), "runs in mode addr, which uses no DSCP code") {
		t.Errorf("EditService --dscp: %v", err)
	}
}

// One address of a real server stands for one VIP in addr mode: a second
// VIP on it could not be told apart. The same VIP on other ports shares it.
func TestModeAddrAddressClash(t *testing.T) {
	rip := netip.MustParseAddr("10.1.0.101")
	svc := func(k Key) Service {
		return Service{Key: k, Mode: dsrtypes.ModeAddr, Scheduler: "wlc", Reals: []Real{{Addr: rip, Weight: 1}}}
	}
	k443 := Key{VIP: vip1, Port: 443, Proto: ipvs.ProtoTCP}
	if err := CheckDSCPConflicts([]Service{svc(k1), svc(k443)}); err != nil {
		t.Errorf("one VIP, two ports: %v", err)
	}
	err := CheckDSCPConflicts([]Service{svc(k1), svc(k2)})
	const want = "address 10.1.0.101 would stand for two VIPs on its real server in addr mode: 10.0.0.1 (service tcp 10.0.0.1:80) and 10.0.0.2 (service tcp 10.0.0.2:80)"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("two VIPs on one address: %v\nwant %s", err, want)
	}
	// A dscp service's (code, address) key is another key than addr's
	// (any code, address): the real server's lookup order decides.
	d := svc(k2)
	d.Mode, d.DSCP = dsrtypes.ModeDSCP, 20
	if err := CheckDSCPConflicts([]Service{svc(k1), d}); err != nil {
		t.Errorf("dscp beside addr: %v", err)
	}
}
