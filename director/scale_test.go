package director

import (
	"net/netip"
	"testing"

	"github.com/l3dsr/l3dsr/internal/ipvs"
)

// scaleServices are n dscp services of 2 reals each, as the control-plane
// bench makes them: codes spread so that no real gets a code twice.
func scaleServices(n int) []Service {
	out := make([]Service, n)
	for i := range out {
		g := i / 64
		vip := netip.AddrFrom4([4]byte{10, 100 + byte(g>>8), byte(g), byte(i%64 + 1)})
		out[i] = Service{Key: Key{VIP: vip, Port: 80, Proto: ipvs.ProtoTCP}, DSCP: uint8(i % 64), Reals: []Real{
			{Addr: netip.AddrFrom4([4]byte{10, 2, byte(g), 1}), Weight: 1},
			{Addr: netip.AddrFrom4([4]byte{10, 2, byte(g), 2}), Weight: 1},
		}}
	}
	return out
}

// requests is the number of netlink requests the fakes saw: IPVS calls,
// nft batches or dumps, and address dumps.
func requests(f *fakes) int {
	n := len(f.ipvs.calls) + f.host.dumps
	for _, c := range f.marks.calls {
		n += c
	}
	return n
}

// applyOneByOne adds svcs with their reals as apply did before batches:
// one director change per service and per real.
func applyOneByOne(t testing.TB, f *fakes, svcs []Service) {
	for _, s := range svcs {
		bare := s
		bare.Reals = nil
		if _, err := f.d.AddService(bare); err != nil {
			t.Fatal(err)
		}
		for _, r := range s.Reals {
			if _, err := f.d.AddReal(s.Key, r); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestScaleOneByOne measures what one change at a time costs: each change
// reads the whole state back, so n services cost O(n²) requests.
func TestScaleOneByOne(t *testing.T) {
	for _, n := range []int{63, 252} { // 1008: 1,534,680 requests, 19 s of fakes alone
		f := newFakes()
		applyOneByOne(t, f, scaleServices(n))
		t.Logf("one by one, %4d services: %7d requests (Services %d, Destinations %d, address dumps %d, marks %v)",
			n, requests(f), count(f.ipvs.calls, "Services"), count(f.ipvs.calls, "Destinations"), f.host.dumps, f.marks.calls)
	}
}

func count(calls []string, name string) int {
	n := 0
	for _, c := range calls {
		if c == name {
			n++
		}
	}
	return n
}

// applyBatch adds svcs in one batch, then their reals, as apply's plan does.
func applyBatch(t testing.TB, f *fakes, svcs []Service) {
	b := f.d.Begin()
	for _, s := range svcs {
		bare := s
		bare.Reals = nil
		if _, err := b.AddService(bare); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range svcs {
		for _, r := range s.Reals {
			if _, err := b.AddReal(s.Key, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestScaleBatch: a batch reads the state once and sends its marks in one
// transaction, so four times the services cost at most about four times
// the requests.
func TestScaleBatch(t *testing.T) {
	calls := map[int]int{}
	for _, n := range []int{63, 252, 1008, 4032} {
		f := newFakes()
		applyBatch(t, f, scaleServices(n))
		calls[n] = requests(f)
		t.Logf("batch, %4d services: %6d requests (Services %d, Destinations %d, address dumps %d, marks %v)",
			n, calls[n], count(f.ipvs.calls, "Services"), count(f.ipvs.calls, "Destinations"), f.host.dumps, f.marks.calls)
		if got := count(f.ipvs.calls, "Services"); got != 1 || f.host.dumps != 1 {
			t.Errorf("%d services: read IPVS %d times and the addresses %d times, want once each", n, got, f.host.dumps)
		}
		if f.marks.calls["Add"] != 1 || len(f.marks.marks) != n {
			t.Errorf("%d services: %d mark batches carrying %d marks, want one of %d", n, f.marks.calls["Add"], len(f.marks.marks), n)
		}
	}
	for _, n := range []int{63, 252, 1008} {
		if calls[4*n] > calls[n]*9/2+10 {
			t.Errorf("requests grow faster than linearly: %d services %d, %d services %d", n, calls[n], 4*n, calls[4*n])
		}
	}
}

// A real's weight edited, or a real deleted, by one command costs the same
// few requests however many services run: the service's reals are read,
// not every service's.
func TestScaleOneRealChange(t *testing.T) {
	calls := map[int]int{}
	for _, n := range []int{63, 1008} {
		f := newFakes()
		svcs := scaleServices(n)
		applyBatch(t, f, svcs)
		f.ipvs.calls, f.marks.calls, f.host.dumps = nil, nil, 0
		w, s := int32(7), svcs[n/2]
		if _, err := f.d.EditReal(s.Key, s.Reals[0].Addr, RealEdit{Weight: &w}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.d.DelReal(s.Key, s.Reals[1].Addr); err != nil {
			t.Fatal(err)
		}
		calls[n] = requests(f)
		if got := f.ipvs.dests[s.Key]; len(got) != 1 || got[0].Weight != 7 {
			t.Errorf("%d services: reals after the edit and the delete: %+v", n, got)
		}
		if dumps := count(f.ipvs.calls, "Services"); dumps != 0 {
			t.Errorf("%d services: IPVS's services dumped %d times for a change to one real, want a get of its service", n, dumps)
		}
		t.Logf("%4d services: a real edited and one deleted, %d requests: IPVS %v, marks %v", n, calls[n], f.ipvs.calls, f.marks.calls)
	}
	// Each: the service (a get, not a dump of them all), the nft dump, the
	// service's reals, the change.
	if calls[63] != calls[1008] || calls[63] != 8 {
		t.Errorf("requests: %d with 63 services, %d with 1008; want the same few", calls[63], calls[1008])
	}
}
