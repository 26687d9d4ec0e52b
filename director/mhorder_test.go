package director

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/ipvs"
)

// Reals of 10.1.0.0/24 (the fakes' subnet) whose canonical order is not
// their text's (10.1.0.100 after 10.1.0.11), and one of IPv6.
var mhA, mhB, mhC, mhD, mhE, mh6 = netip.MustParseAddr("10.1.0.2"), netip.MustParseAddr("10.1.0.10"), netip.MustParseAddr("10.1.0.11"),
	netip.MustParseAddr("10.1.0.100"), netip.MustParseAddr("10.1.0.200"), netip.MustParseAddr("2001:db8:1::1")

// order is the fake kernel's list of k's destinations, head first, as
// ip_vs_mh walks it and ipvsadm -Ln shows it: the newest first, so the
// canonical add order shows backwards.
func order(f *fakes, k Key) string {
	var out []string
	for _, d := range f.ipvs.dests[k] {
		out = append(out, d.Address.String())
	}
	return strings.Join(out, " ")
}

// callsOf is how many calls of name the fake got since from.
func callsOf(f *fakes, from int, name string) int {
	n := 0
	for _, c := range f.ipvs.calls[from:] {
		if c == name {
			n++
		}
	}
	return n
}

// mhReal is a real with settings of its own, to see them survive a move.
func mhReal(a netip.Addr, w int32) Real {
	return Real{Addr: a, Weight: w, UpperThreshold: uint32(w) * 10, LowerThreshold: uint32(w)}
}

func mhFakes(t *testing.T) *fakes {
	t.Helper()
	f := newFakes()
	mustAdd(t, f, Service{Key: k1, Mode: dsrtypes.ModeIPIP, Scheduler: SchedulerMH})
	return f
}

func TestMHAddReverseOrder(t *testing.T) {
	f := mhFakes(t)
	for i, a := range []netip.Addr{mhE, mhD, mhC, mhB, mhA} {
		if _, err := f.d.AddReal(k1, mhReal(a, int32(i+1))); err != nil {
			t.Fatal(err)
		}
	}
	// By bytes: 10.1.0.100 after 10.1.0.11.
	if got, want := order(f, k1), "10.1.0.200 10.1.0.100 10.1.0.11 10.1.0.10 10.1.0.2"; got != want {
		t.Errorf("order %q, want %q", got, want)
	}
	for _, d := range f.ipvs.dests[k1] {
		if want := map[netip.Addr]int32{mhE: 1, mhD: 2, mhC: 3, mhB: 4, mhA: 5}[d.Address]; d.Weight != want || d.UpperThreshold != uint32(want)*10 || d.LowerThreshold != uint32(want) || d.Forward != ipvs.Tunnel {
			t.Errorf("real %s moved with weight %d thresholds %d/%d %s, want weight %d thresholds %d/%d tunnel",
				d.Address, d.Weight, d.UpperThreshold, d.LowerThreshold, d.Forward, want, want*10, want)
		}
	}
	if got := f.host.sysctls["net.ipv4.vs.sloppy_tcp"] + f.host.sysctls["net.ipv4.vs.sloppy_sctp"]; got != "11" {
		t.Errorf("sloppy_tcp and sloppy_sctp of a director with an mh service: %q, want both 1", got)
	}
}

func TestMHAddInTheMiddle(t *testing.T) {
	f := mhFakes(t)
	for _, a := range []netip.Addr{mhA, mhC, mhD} {
		if _, err := f.d.AddReal(k1, mhReal(a, 7)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.d.EditReal(k1, mhD, RealEdit{Weight: ptr[int32](3)}); err != nil {
		t.Fatal(err)
	}
	before := slices.Clone(f.ipvs.dests[k1])
	from := len(f.ipvs.calls)
	res, err := f.d.AddReal(k1, mhReal(mhB, 5))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := order(f, k1), "10.1.0.100 10.1.0.11 10.1.0.10 10.1.0.2"; got != want {
		t.Errorf("order %q, want %q", got, want)
	}
	// Only the tail after the new real moves: C and D, each deleted and
	// added once; A is not touched.
	if c, r := callsOf(f, from, "CreateDestination"), callsOf(f, from, "RemoveDestination"); c != 3 || r != 2 {
		t.Errorf("%d adds and %d deletes, want 3 and 2: %v", c, r, f.ipvs.calls[from:])
	}
	got := f.ipvs.dests[k1] // D C B A; before, D C A
	if !slices.Equal(got[:2], before[:2]) || got[3] != before[2] {
		t.Errorf("the moved reals changed: before %+v, after %+v", before, got)
	}
	if !slices.Contains(res.Changes, "reordered 2 reals of tcp 10.0.0.1:80 for mh") {
		t.Errorf("changes %q do not say what was reordered", res.Changes)
	}
	// A real that sorts last is just added.
	from = len(f.ipvs.calls)
	if _, err := f.d.AddReal(k1, mhReal(mhE, 1)); err != nil {
		t.Fatal(err)
	}
	if c, r := callsOf(f, from, "CreateDestination"), callsOf(f, from, "RemoveDestination"); c != 1 || r != 0 {
		t.Errorf("adding the last real: %d adds and %d deletes, want 1 and 0", c, r)
	}
}

func ptr[T any](v T) *T { return &v }

// handMade is an mh service made with ipvsadm, its reals added in the
// order given (so the kernel lists them backwards), each with settings of
// its own.
func handMade(f *fakes, addrs ...netip.Addr) {
	is := ipvs.Service{Protocol: k1.Proto, Address: k1.VIP, Port: k1.Port, Scheduler: SchedulerMH, Netmask: 0xffffffff}
	f.ipvs.svcs = append(f.ipvs.svcs, is)
	for i, a := range addrs {
		f.ipvs.dests[k1] = slices.Insert(f.ipvs.dests[k1], 0, ipvs.Destination{Address: a, Port: 80, Forward: ipvs.Tunnel,
			Weight: int32(i + 2), UpperThreshold: uint32(i), TunnelType: ipvs.TunnelGUE, TunnelPort: uint16(6080 + i)})
	}
}

func TestMHReorderHandMade(t *testing.T) {
	for _, tc := range []struct {
		name  string
		addrs []netip.Addr
		moved int
	}{
		{"reversed", []netip.Addr{mh6, mhD, mhC, mhB, mhA}, 5},
		{"last two swapped", []netip.Addr{mhA, mhB, mhD, mhC}, 2},
		// ipvsadm mixes families (a tunnel carries either): IPv4 first.
		{"IPv6 first", []netip.Addr{mh6, mhA, mhB}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakes()
			handMade(f, tc.addrs...)
			st, err := f.d.Show()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(st.OutOfOrder, []Key{k1}) {
				t.Errorf("Show's OutOfOrder %v, want [%v]", st.OutOfOrder, k1)
			}
			byAddr := map[netip.Addr]ipvs.Destination{}
			for _, d := range f.ipvs.dests[k1] {
				byAddr[d.Address] = d
			}
			from := len(f.ipvs.calls)
			res, err := f.d.Reorder(k1)
			if err != nil {
				t.Fatal(err)
			}
			want := slices.Clone(tc.addrs)
			slices.SortFunc(want, func(a, b netip.Addr) int { return b.Compare(a) }) // listed backwards
			var wantDests []ipvs.Destination
			for _, a := range want {
				wantDests = append(wantDests, byAddr[a])
			}
			if !slices.Equal(f.ipvs.dests[k1], wantDests) {
				t.Errorf("after Reorder %+v, want %+v", f.ipvs.dests[k1], wantDests)
			}
			if c, r := callsOf(f, from, "CreateDestination"), callsOf(f, from, "RemoveDestination"); c != tc.moved || r != tc.moved {
				t.Errorf("%d adds and %d deletes, want %d of each", c, r, tc.moved)
			}
			if wantCh := []string{reorderedText(tc.moved, k1)}; !slices.Equal(res.Changes, wantCh) {
				t.Errorf("changes %q, want %q", res.Changes, wantCh)
			}
			if st, _ := f.d.Show(); len(st.OutOfOrder) != 0 {
				t.Errorf("still out of order: %v", st.OutOfOrder)
			}
			if res, err := f.d.Reorder(k1); err != nil || len(res.Changes) != 0 {
				t.Errorf("second Reorder: %q, %v; want no change", res.Changes, err)
			}
		})
	}
}

// A failure in the middle of a reorder leaves the reals in the order, and
// with the settings, they had.
func TestMHReorderFailureRestores(t *testing.T) {
	for n := 1; n <= 4; n++ {
		f := newFakes()
		handMade(f, mhD, mhB, mhC, mhA)
		before := slices.Clone(f.ipvs.dests[k1])
		f.ipvs.failNth = map[string]int{"CreateDestination": n}
		_, err := f.d.Reorder(k1)
		if err == nil || !strings.Contains(err.Error(), "injected failure of CreateDestination") {
			t.Fatalf("add %d fails: Reorder returned %v", n, err)
		}
		if !slices.Equal(f.ipvs.dests[k1], before) {
			t.Errorf("add %d fails: left %+v, want %+v", n, f.ipvs.dests[k1], before)
		}
	}
}

func TestMHAddFailureRestores(t *testing.T) {
	f := mhFakes(t)
	for _, a := range []netip.Addr{mhA, mhC, mhD} {
		if _, err := f.d.AddReal(k1, mhReal(a, 4)); err != nil {
			t.Fatal(err)
		}
	}
	before := slices.Clone(f.ipvs.dests[k1])
	f.ipvs.failNth = map[string]int{"RemoveDestination": 2}
	if _, err := f.d.AddReal(k1, mhReal(mhB, 1)); err == nil {
		t.Fatal("AddReal succeeded with a failing delete")
	}
	if !slices.Equal(f.ipvs.dests[k1], before) {
		t.Errorf("left %+v, want %+v", f.ipvs.dests[k1], before)
	}
}

// A service switched to mh gets its reals in order, and the director the
// sloppy settings.
func TestMHSchedulerSwitch(t *testing.T) {
	f := newFakes()
	mustAdd(t, f, Service{Key: k1, Mode: dsrtypes.ModeIPIP})
	for _, a := range []netip.Addr{mhC, mhA, mhB} {
		if _, err := f.d.AddReal(k1, mhReal(a, 2)); err != nil {
			t.Fatal(err)
		}
	}
	if got := order(f, k1); got != "10.1.0.10 10.1.0.2 10.1.0.11" {
		t.Fatalf("wlc service reordered its reals: %q", got)
	}
	if f.host.sysctls["net.ipv4.vs.sloppy_tcp"] != "0" {
		t.Errorf("sloppy_tcp set without an mh service")
	}
	res, err := f.d.EditService(k1, ServiceEdit{Scheduler: ptr(SchedulerMH)})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := order(f, k1), "10.1.0.11 10.1.0.10 10.1.0.2"; got != want {
		t.Errorf("order %q, want %q", got, want)
	}
	if !slices.Contains(res.Changes, "reordered 3 reals of tcp 10.0.0.1:80 for mh") || !slices.Contains(res.Changes, "sysctl net.ipv4.vs.sloppy_tcp=1 (was 0)") {
		t.Errorf("changes %q", res.Changes)
	}
	if f.ipvs.svcs[0].Scheduler != SchedulerMH || f.host.sysctls["net.ipv4.vs.sloppy_sctp"] != "1" {
		t.Errorf("scheduler %s, sloppy_sctp %s", f.ipvs.svcs[0].Scheduler, f.host.sysctls["net.ipv4.vs.sloppy_sctp"])
	}
}

// A kernel whose IPVS has no SCTP has no sloppy_sctp: mh works without it,
// and any other missing setting still fails.
func TestMHWithoutSCTP(t *testing.T) {
	f := newFakes()
	delete(f.host.sysctls, "net.ipv4.vs.sloppy_sctp")
	mustAdd(t, f, Service{Key: k1, Mode: dsrtypes.ModeIPIP, Scheduler: SchedulerMH})
	if f.host.sysctls["net.ipv4.vs.sloppy_tcp"] != "1" {
		t.Errorf("sloppy_tcp %q, want 1", f.host.sysctls["net.ipv4.vs.sloppy_tcp"])
	}
	if st, err := f.d.Show(); err != nil || len(st.Problems) != 0 {
		t.Errorf("Show: %q, %v; want no problem", st.Problems, err)
	}
	f = newFakes()
	delete(f.host.sysctls, "net.ipv4.vs.sloppy_tcp")
	if _, err := f.d.AddService(Service{Key: k1, Mode: dsrtypes.ModeIPIP, Scheduler: SchedulerMH}); err == nil || !strings.Contains(err.Error(), "sloppy_tcp") {
		t.Errorf("without sloppy_tcp: %v, want an error naming it", err)
	}
}

// An mh service that fails to be made leaves the sloppy settings as they
// were.
func TestMHSloppyUndone(t *testing.T) {
	f := newFakes()
	f.ipvs.fail["CreateService"] = errors.New("no ip_vs_mh")
	if _, err := f.d.AddService(Service{Key: k1, Mode: dsrtypes.ModeIPIP, Scheduler: SchedulerMH}); err == nil {
		t.Fatal("AddService succeeded")
	}
	if got := f.host.sysctls["net.ipv4.vs.sloppy_tcp"] + f.host.sysctls["net.ipv4.vs.sloppy_sctp"]; got != "00" {
		t.Errorf("sloppy_tcp and sloppy_sctp after a failed add: %q, want both 0", got)
	}
}
