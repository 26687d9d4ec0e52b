package director

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/l3dsr/l3dsr/internal/ipvs"
)

var ownerClient = netip.MustParseAddr("198.51.100.7")

// handMadeMH reads back (as the director does) an mh service whose reals
// were added by hand in the order addrs, with scheduler flags fl, and
// builds ipvs's model of it straight from the fake kernel's list, newest
// first, the way tests/tools/mhpick reads a kernel's.
// weights overrides the reals' weights; last gives the model a real's last
// non-zero weight (the kernel's, which netlink does not report).
func handMadeMH(t *testing.T, fl ipvs.ServiceFlags, weights, last map[netip.Addr]int32, addrs ...netip.Addr) (Service, *ipvs.MHTable, []ipvs.MHDest) {
	t.Helper()
	f := newFakes()
	handMade(f, addrs...)
	f.ipvs.svcs[0].Flags |= fl
	for i, d := range f.ipvs.dests[k1] {
		if w, ok := weights[d.Address]; ok {
			f.ipvs.dests[k1][i].Weight = w
		}
	}
	svcs, _, err := f.d.read()
	if err != nil {
		t.Fatal(err)
	}
	i, ok := find(svcs, k1)
	if !ok {
		t.Fatalf("service %s not read back", k1)
	}
	var dests []ipvs.MHDest
	for _, d := range f.ipvs.dests[k1] {
		dests = append(dests, ipvs.MHDest{Addr: d.Address, Port: d.Port, Weight: d.Weight, LastWeight: last[d.Address]})
	}
	tab, err := ipvs.NewMHTable(f.ipvs.svcs[0], dests, ipvs.MHTableSize)
	if err != nil {
		t.Fatal(err)
	}
	return svcs[i], tab, dests
}

// modelPick is the address the model schedules the flow to, or the zero
// address for none.
func modelPick(tab *ipvs.MHTable, dests []ipvs.MHDest, client netip.Addr, port uint16) netip.Addr {
	if i, ok := tab.Pick(client, port); ok {
		return dests[i].Addr
	}
	return netip.Addr{}
}

func ownerAddr(s Service, client netip.Addr, port uint16) netip.Addr {
	if r, ok := Owner(s, client, port); ok {
		return r.Addr
	}
	return netip.Addr{}
}

const ownerPorts = 3000

func TestOwnerMatchesModelInKernelOrder(t *testing.T) {
	// Not canonical, so that a sort inside Owner would change the table.
	s, tab, dests := handMadeMH(t, ipvs.FlagSched2, nil, nil, mhD, mhA, mhE, mhC, mhB)
	if got := s.SchedFlags.Names(s.Scheduler); !slices.Equal(got, []string{"mh-port"}) {
		t.Fatalf("scheduler flags read back %v, want [mh-port]", got)
	}
	seen := map[netip.Addr]int{}
	for p := range uint16(ownerPorts) {
		port := 40000 + p
		got, want := ownerAddr(s, ownerClient, port), modelPick(tab, dests, ownerClient, port)
		if got != want {
			t.Fatalf("flow %s:%d: Owner %v, model %v", ownerClient, port, got, want)
		}
		if o := OwnersOf(s, ownerClient, port); len(o) != 1 || o[0].Addr != want {
			t.Fatalf("flow %s:%d: OwnersOf %v, want just %v", ownerClient, port, o, want)
		}
		seen[got]++
	}
	// mh-port spreads one client's flows over every real.
	if len(seen) != 5 {
		t.Errorf("%d flows of one client went to %d reals (%v), want all 5", ownerPorts, len(seen), seen)
	}
}

// The table depends on the reals' order: Owner given them in another order
// answers otherwise for some flows, so a test that ignored the order would
// see it.
func TestOwnerDependsOnOrder(t *testing.T) {
	s, tab, dests := handMadeMH(t, ipvs.FlagSched2, nil, nil, mhD, mhA, mhE, mhC, mhB)
	for name, reals := range map[string][]Real{
		"reversed":  reversed(s.Reals),
		"canonical": Canonical(s, s.Reals),
	} {
		o := s
		o.Reals = reals
		differ := 0
		for p := range uint16(ownerPorts) {
			if ownerAddr(o, ownerClient, 40000+p) != modelPick(tab, dests, ownerClient, 40000+p) {
				differ++
			}
		}
		// Measured: a few percent of the flows move.
		if differ == 0 {
			t.Errorf("reals %s: all %d flows have the same owner as in the kernel's order; the order is ignored", name, ownerPorts)
		}
		t.Logf("reals %s: %d of %d flows change owner", name, differ, ownerPorts)
	}
}

func reversed(r []Real) []Real {
	out := slices.Clone(r)
	slices.Reverse(out)
	return out
}

func TestOwnerWithoutMHPortIgnoresPort(t *testing.T) {
	s, tab, dests := handMadeMH(t, 0, nil, nil, mhD, mhA, mhE, mhC, mhB)
	clients := map[netip.Addr]bool{}
	for c := range 64 {
		client := netip.AddrFrom4([4]byte{198, 51, 100, byte(c + 1)})
		want := modelPick(tab, dests, client, 0)
		for _, port := range []uint16{0, 1, 40000, 65535} {
			if got := ownerAddr(s, client, port); got != want {
				t.Fatalf("flow %s:%d without mh-port: Owner %v, model (port 0) %v", client, port, got, want)
			}
		}
		clients[want] = true
	}
	if len(clients) < 4 {
		t.Errorf("64 clients went to %d reals, want them spread", len(clients))
	}
}

// A real quiesced (weight 0) keeps its slots at its last weight: without
// mh-fallback the flows hashed to them have no owner, with it they walk on
// to another real, as the kernel does.
func TestOwnerQuiesced(t *testing.T) {
	weights := map[netip.Addr]int32{mhD: 5, mhA: 5, mhE: 5, mhC: 0, mhB: 5}
	last := map[netip.Addr]int32{mhC: 5}
	for _, tc := range []struct {
		name     string
		fl       ipvs.ServiceFlags
		fallback bool
	}{{"mh-port", ipvs.FlagSched2, false}, {"mh-port,mh-fallback", ipvs.FlagSched2 | ipvs.FlagSched1, true}} {
		t.Run(tc.name, func(t *testing.T) {
			s, tab, dests := handMadeMH(t, tc.fl, weights, last, mhD, mhA, mhE, mhC, mhB)
			none := 0
			for p := range uint16(ownerPorts) {
				port := 40000 + p
				got, want := ownerAddr(s, ownerClient, port), modelPick(tab, dests, ownerClient, port)
				if got != want {
					t.Fatalf("flow %s:%d: Owner %v, model %v", ownerClient, port, got, want)
				}
				if got == mhC {
					t.Fatalf("flow %s:%d went to %s, of weight 0", ownerClient, port, mhC)
				}
				if !got.IsValid() {
					none++
					if o := OwnersOf(s, ownerClient, port); o != nil {
						t.Fatalf("flow %s:%d has no owner, but OwnersOf says %v", ownerClient, port, o)
					}
				}
			}
			// About a fifth of the flows hash to the quiesced real's slots.
			if tc.fallback && none != 0 {
				t.Errorf("mh-fallback: %d of %d flows without owner, want 0", none, ownerPorts)
			}
			if !tc.fallback && (none < ownerPorts/10 || none > ownerPorts*3/10) {
				t.Errorf("without mh-fallback: %d of %d flows without owner, want about a fifth", none, ownerPorts)
			}
		})
	}
}

func TestUsualWeight(t *testing.T) {
	for _, tc := range []struct {
		w    []int32
		want int32
	}{{nil, 1}, {[]int32{0, 0}, 1}, {[]int32{3, 0, 3, 7}, 3}, {[]int32{2, 7}, 7}, {[]int32{0, 4}, 4}} {
		var reals []Real
		for _, w := range tc.w {
			reals = append(reals, Real{Weight: w})
		}
		if got := usualWeight(reals); got != tc.want {
			t.Errorf("usualWeight(%v) = %d, want %d", tc.w, got, tc.want)
		}
	}
}

func TestOwnerIPv6(t *testing.T) {
	k := Key{VIP: vip6, Port: 443, Proto: ipvs.ProtoTCP}
	reals := []netip.Addr{netip.MustParseAddr("2001:db8:1::20"), netip.MustParseAddr("2001:db8:1::3"), netip.MustParseAddr("2001:db8:1::10")}
	s := Service{Key: k, Scheduler: SchedulerMH, SchedFlags: schedFlag2}
	var kernel []ipvs.MHDest
	for _, a := range reals {
		s.Reals = append(s.Reals, Real{Addr: a, Weight: 1})
		kernel = slices.Insert(kernel, 0, ipvs.MHDest{Addr: a, Port: 443, Weight: 1})
	}
	tab, err := ipvs.NewMHTable(ipvs.Service{Protocol: k.Proto, Address: k.VIP, Port: k.Port, Flags: ipvs.FlagSched2}, kernel, ipvs.MHTableSize)
	if err != nil {
		t.Fatal(err)
	}
	client := netip.MustParseAddr("2001:db8:99::7")
	for p := range uint16(ownerPorts) {
		if got, want := ownerAddr(s, client, 30000+p), modelPick(tab, kernel, client, 30000+p); got != want {
			t.Fatalf("flow [%s]:%d: Owner %v, model %v", client, 30000+p, got, want)
		}
	}
}

func TestOwnersOfOtherSchedulers(t *testing.T) {
	s := Service{Key: k1, Scheduler: "wlc", Reals: []Real{{Addr: rs2, Weight: 0}, {Addr: rs1, Weight: 3}, {Addr: mhA, Weight: 1}}}
	if r, ok := Owner(s, ownerClient, 40000); ok {
		t.Errorf("Owner of a wlc service: %v, want none (not modelled)", r)
	}
	var got []netip.Addr
	for _, r := range OwnersOf(s, ownerClient, 40000) {
		got = append(got, r.Addr)
	}
	if want := []netip.Addr{rs1, mhA}; !slices.Equal(got, want) {
		t.Errorf("OwnersOf a wlc service: %v, want %v (every real with a weight)", got, want)
	}
	s.Scheduler = SchedulerMH
	s.Reals = nil
	if o := OwnersOf(s, ownerClient, 40000); o != nil {
		t.Errorf("OwnersOf an mh service without reals: %v, want none", o)
	}
}
