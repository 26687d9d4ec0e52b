package probe

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/internal/ipvs"
)

type fakeIPVS struct {
	svcs  []ipvs.Service
	dests map[uint32][]ipvs.Destination
	calls []string
}

func (f *fakeIPVS) Services() ([]ipvs.Service, error) { return slices.Clone(f.svcs), nil }
func (f *fakeIPVS) Destinations(s ipvs.Service) ([]ipvs.Destination, error) {
	return f.dests[s.FWMark], nil
}
func (f *fakeIPVS) CreateService(s ipvs.Service) error {
	f.calls = append(f.calls, fmt.Sprintf("add %d", s.FWMark))
	f.svcs = append(f.svcs, s)
	return nil
}
func (f *fakeIPVS) RemoveService(s ipvs.Service) error {
	f.calls = append(f.calls, fmt.Sprintf("del %d", s.FWMark))
	f.svcs = slices.DeleteFunc(f.svcs, func(x ipvs.Service) bool { return x.FWMark == s.FWMark })
	delete(f.dests, s.FWMark)
	return nil
}
func (f *fakeIPVS) CreateDestination(s ipvs.Service, d ipvs.Destination) error {
	f.dests[s.FWMark] = append(f.dests[s.FWMark], d)
	return nil
}

type fakeSysctl map[string]string

func (f fakeSysctl) Get(n string) (string, error) {
	v, ok := f[n]
	if !ok {
		return "", errors.New("no " + n)
	}
	return v, nil
}
func (f fakeSysctl) Set(n, v string) error { f[n] = v; return nil }

type fakeTable struct {
	steer []Want
	marks []uint32
}

func newPaths(sc fakeSysctl) (*Paths, *fakeIPVS, *fakeTable) {
	fi := &fakeIPVS{dests: map[uint32][]ipvs.Destination{}}
	ft := &fakeTable{}
	p := &Paths{ipvs: fi, sysctl: sc,
		table: func(s []Want, m []uint32) error { ft.steer, ft.marks = s, m; return nil },
		source: func(a netip.Addr) (netip.Addr, string, error) {
			return netip.MustParseAddr("192.0.2.20"), "eth0", nil
		}}
	return p, fi, ft
}

var (
	vip  = netip.MustParseAddr("10.0.0.1")
	rip1 = netip.MustParseAddr("203.0.113.30")
	rip2 = netip.MustParseAddr("203.0.113.46")
)

func wants() []Want {
	return []Want{
		{VIP: vip, Port: 80, Proto: ipvs.ProtoTCP, Mode: "dscp", DSCP: 21, Real: rip1},
		{VIP: vip, Port: 80, Proto: ipvs.ProtoTCP, Mode: "ipip", Real: rip2},
	}
}

func TestSyncRoutes(t *testing.T) {
	sc := fakeSysctl{"net.ipv4.conf.eth0.accept_local": "0", "net.ipv4.conf.all.rp_filter": "0", "net.ipv4.conf.eth0.rp_filter": "1"}
	p, fi, ft := newPaths(sc)
	routes, err := p.Sync(wants())
	if err != nil {
		t.Fatal(err)
	}
	want := []Route{{Mark: 0x4c330001, Source: netip.MustParseAddr("192.0.2.20")}, {Mark: 0x4c330002, Source: netip.MustParseAddr("192.0.2.20")}}
	if !slices.Equal(routes, want) {
		t.Fatalf("routes %v, want %v", routes, want)
	}
	if len(ft.steer) != 1 || ft.steer[0].Real != rip1 || ft.marks[0] != 0x4c330001 {
		t.Fatalf("steered %v %v, want rip1 with mark 0x4c330001 (the dscp real)", ft.steer, ft.marks)
	}
	d := fi.dests[0x4c330002]
	if len(d) != 1 || d[0].Address != rip2 || d[0].Forward != ipvs.Tunnel || d[0].Port != 80 {
		t.Fatalf("tunnel probe service of mark 0x4c330002: %+v, want rip2:80 by tunnel", d)
	}
	if sc["net.ipv4.conf.eth0.accept_local"] != "1" || sc["net.ipv4.conf.eth0.rp_filter"] != "2" {
		t.Fatalf("sysctls %v, want accept_local 1 and rp_filter 2 on eth0", sc)
	}
	// Again: nothing changes in IPVS.
	fi.calls = nil
	if _, err := p.Sync(wants()); err != nil {
		t.Fatal(err)
	}
	if len(fi.calls) != 0 {
		t.Fatalf("a second Sync changed IPVS: %q", fi.calls)
	}
}

// Other firewall-mark services (keepalived's) are never touched; ours that
// are no longer wanted go.
func TestSyncLeavesForeignMarks(t *testing.T) {
	p, fi, _ := newPaths(fakeSysctl{"net.ipv4.conf.eth0.accept_local": "1", "net.ipv4.conf.all.rp_filter": "0", "net.ipv4.conf.eth0.rp_filter": "0"})
	fi.svcs = []ipvs.Service{{FWMark: 7}, {FWMark: 0x4c330009}}
	if _, err := p.Sync(wants()); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(fi.calls, ",")
	if got != "del 1278410761,add 1278410754" {
		t.Fatalf("IPVS calls %q, want the stale probe service deleted and the new one added, mark 7 untouched", got)
	}
}

// With all.rp_filter strict the interface gets loose (the larger counts).
func TestSyncRPFilterAllStrict(t *testing.T) {
	sc := fakeSysctl{"net.ipv4.conf.eth0.accept_local": "1", "net.ipv4.conf.all.rp_filter": "1", "net.ipv4.conf.eth0.rp_filter": "0"}
	p, _, _ := newPaths(sc)
	if _, err := p.Sync(wants()); err != nil {
		t.Fatal(err)
	}
	if sc["net.ipv4.conf.eth0.rp_filter"] != "2" {
		t.Fatalf("eth0 rp_filter %s, want 2", sc["net.ipv4.conf.eth0.rp_filter"])
	}
}

func TestSyncRefusesDR(t *testing.T) {
	p, _, _ := newPaths(fakeSysctl{})
	_, err := p.Sync([]Want{{VIP: vip, Port: 80, Proto: ipvs.ProtoTCP, Mode: "dr", Real: rip1}})
	if err == nil || !strings.Contains(err.Error(), "via: rip") {
		t.Fatalf("err %v, want the fix 'via: rip'", err)
	}
}
