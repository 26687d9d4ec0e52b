package bpfdsr

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
)

// The table tests' addresses (the packet tests have their own, rip4 etc.).
var (
	tRIP4 = netip.MustParseAddr("10.9.0.1")
	tVIP4 = netip.MustParseAddr("10.99.0.1")
	tVIP6 = netip.MustParseAddr("fd00:99::1")
)

func mustPresent(t *testing.T, tb *Table, fam uint8, codes uint64, any uint32) {
	t.Helper()
	var p l3dsrL3dsrPresent
	if err := tb.present.Lookup(presentIndex(fam), &p); err != nil {
		t.Fatal(err)
	}
	if p.Codes != codes || p.AnyDscp != any {
		t.Fatalf("present[IPv%d] = codes %#x any %d, want %#x %d", fam, p.Codes, p.AnyDscp, codes, any)
	}
}

func mustTotals(t *testing.T, tb *Table, entries, gen uint32) {
	t.Helper()
	tot, err := tb.Totals()
	if err != nil {
		t.Fatal(err)
	}
	if tot.Entries != entries || tot.Generation != gen {
		t.Fatalf("entries %d generation %d, want %d %d", tot.Entries, tot.Generation, entries, gen)
	}
}

// setCounters writes per-CPU counters as the program would.
func setCounters(t *testing.T, tb *Table, k Key, packets uint64) {
	t.Helper()
	m, err := tb.current()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	rk, _ := k.raw()
	var per []l3dsrL3dsrVal
	if err := m.Lookup(rk, &per); err != nil {
		t.Fatal(err)
	}
	for i := range per {
		per[i].Packets, per[i].Bytes = packets, packets*100
	}
	if err := m.Update(rk, per, ebpf.UpdateExist); err != nil {
		t.Fatal(err)
	}
}

// freshTable is an installed table in a namespace of its own, and the
// number of CPUs its counters are kept for.
func freshTable(t *testing.T) (*Table, int) {
	t.Helper()
	needRoot(t)
	tempBPFFS(t)
	tb := install(t, newNS(t))
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		t.Fatal(err)
	}
	return tb, ncpu
}

func TestTableOps(t *testing.T) {
	tb, ncpu := freshTable(t)

	k10 := Key{Family: 4, DSCP: 10}
	kAny := Key{Family: 4, DSCP: 255, Local: tRIP4}
	k6 := Key{Family: 6, DSCP: 63}
	if err := tb.Put(k10, Value{VIP: tVIP4, SetDSCP: 0}, false); err != nil {
		t.Fatal(err)
	}
	mustPresent(t, tb, 4, 1<<10, 0)
	mustTotals(t, tb, 1, 1)
	if err := tb.Put(kAny, Value{VIP: tVIP4, SetDSCP: 255}, false); err != nil {
		t.Fatal(err)
	}
	if err := tb.Put(k6, Value{VIP: tVIP6, SetDSCP: 255}, false); err != nil {
		t.Fatal(err)
	}
	mustPresent(t, tb, 4, 1<<10, 1)
	mustPresent(t, tb, 6, 1<<63, 0)
	mustTotals(t, tb, 3, 3)

	if err := tb.Put(k10, Value{VIP: tVIP4}, false); !errors.Is(err, ErrExists) {
		t.Fatalf("Put of an existing key without replace: %v, want ErrExists", err)
	}
	if _, err := tb.Get(Key{Family: 4, DSCP: 11}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a missing key: %v, want ErrNotFound", err)
	}
	if err := tb.Put(Key{Family: 4, DSCP: 1, Local: netip.MustParseAddr("fd00::1")}, Value{VIP: tVIP4}, false); err == nil || !strings.Contains(err.Error(), "is not IPv4") {
		t.Fatalf("Put of a key whose local is IPv6 in family 4: %v", err)
	}
	if err := tb.Put(k10, Value{VIP: tVIP6}, true); err == nil || !strings.Contains(err.Error(), "VIP fd00:99::1 is not IPv4") {
		t.Fatalf("Put of an IPv6 VIP under an IPv4 key: %v", err)
	}

	// replace keeps the counters and takes the new VIP and code.
	setCounters(t, tb, k10, 7)
	newVIP := netip.MustParseAddr("10.99.0.2")
	if err := tb.Put(k10, Value{VIP: newVIP, SetDSCP: 5}, true); err != nil {
		t.Fatal(err)
	}
	got, err := tb.Get(k10)
	if err != nil {
		t.Fatal(err)
	}
	want := Value{VIP: newVIP, SetDSCP: 5, Packets: 7 * uint64(ncpu), Bytes: 700 * uint64(ncpu)}
	if got != want {
		t.Fatalf("after Put with replace: %+v, want %+v", got, want)
	}
	mustTotals(t, tb, 3, 4)

	items, err := tb.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 3 {
		t.Fatalf("List: %d items, want 3: %+v", len(items), items)
	}
	i := slices.IndexFunc(items, func(it Item) bool { return it.Key == kAny })
	if i < 0 || items[i].Value.VIP != tVIP4 || items[i].Value.SetDSCP != 255 {
		t.Fatalf("List lacks %+v: %+v", kAny, items)
	}

	if err := tb.Delete(kAny); err != nil {
		t.Fatal(err)
	}
	mustPresent(t, tb, 4, 1<<10, 0)
	if err := tb.Delete(kAny); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Delete: %v, want ErrNotFound", err)
	}
	mustTotals(t, tb, 2, 5)

	if err := tb.Flush(4); err != nil {
		t.Fatal(err)
	}
	mustPresent(t, tb, 4, 0, 0)
	mustPresent(t, tb, 6, 1<<63, 0)
	mustTotals(t, tb, 1, 6)
	if _, err := tb.Get(k6); err != nil {
		t.Fatalf("Flush(4) took the IPv6 entry: %v", err)
	}
	if err := tb.Flush(0); err != nil {
		t.Fatal(err)
	}
	mustPresent(t, tb, 6, 0, 0)
	mustTotals(t, tb, 0, 7)
}

func TestReplace(t *testing.T) {
	tb, ncpu := freshTable(t)

	stay := Key{Family: 4, DSCP: 3}
	gone := Key{Family: 4, DSCP: 4}
	for _, k := range []Key{stay, gone} {
		if err := tb.Put(k, Value{VIP: tVIP4, SetDSCP: 255}, false); err != nil {
			t.Fatal(err)
		}
	}
	setCounters(t, tb, stay, 2)
	setCounters(t, tb, gone, 9)

	// 65,536 entries: 64 codes and 1,024 IPv6 local addresses.
	items := []Item{{Key: stay, Value: Value{VIP: netip.MustParseAddr("10.99.0.3"), SetDSCP: 255}}}
	for i := range 65535 {
		local := netip.AddrFrom16([16]byte{0xfd, 0, 15: byte(i), 14: byte(i >> 8)})
		items = append(items, Item{Key: Key{Family: 6, DSCP: uint8(i % 64), Local: local}, Value: Value{VIP: tVIP6, SetDSCP: 255}})
	}
	start := time.Now()
	if err := tb.Replace(items); err != nil {
		t.Fatal(err)
	}
	t.Logf("Replace of %d entries: %v", len(items), time.Since(start))

	got, err := tb.Get(stay)
	if err != nil {
		t.Fatal(err)
	}
	if got.Packets != 2*uint64(ncpu) || got.VIP != netip.MustParseAddr("10.99.0.3") {
		t.Fatalf("a key that stays: %+v, want its counters kept (%d packets) and the new VIP", got, 2*ncpu)
	}
	if _, err := tb.Get(gone); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a key that went: %v, want ErrNotFound", err)
	}
	mustPresent(t, tb, 4, 1<<3, 0)
	mustPresent(t, tb, 6, ^uint64(0), 0)
	mustTotals(t, tb, 65536, 3)
	list, err := tb.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 65536 {
		t.Fatalf("List after Replace: %d entries, want 65536", len(list))
	}
	dup := []Item{items[0], items[0]}
	if err := tb.Replace(dup); err == nil || !strings.Contains(err.Error(), "given twice") {
		t.Fatalf("Replace with a duplicate key: %v", err)
	}
}

// Packets the old table counts while the new one is filled are carried
// over too, and so again at the next replace; a key that goes, and one
// deleted, come back from zero.
func TestReplaceCarriesCountsOfTheFill(t *testing.T) {
	tb, ncpu := freshTable(t)
	n := uint64(ncpu)
	stay, gone := Key{Family: 4, DSCP: 3}, Key{Family: 4, DSCP: 4}
	v := Value{VIP: tVIP4, SetDSCP: 255}
	for _, k := range []Key{stay, gone} {
		if err := tb.Put(k, v, false); err != nil {
			t.Fatal(err)
		}
		setCounters(t, tb, k, 2)
	}
	packets := func(k Key) uint64 {
		t.Helper()
		got, err := tb.Get(k)
		if err != nil {
			t.Fatal(err)
		}
		return got.Packets
	}
	// 3 more a CPU on the old table during the fill.
	beforeSwap = func() { setCounters(t, tb, stay, 5) }
	t.Cleanup(func() { beforeSwap = nil })
	if err := tb.Replace([]Item{{Key: stay, Value: v}}); err != nil {
		t.Fatal(err)
	}
	if got := packets(stay); got != 5*n {
		t.Fatalf("after a replace with 3 packets a CPU counted during the fill: %d packets, want %d", got, 5*n)
	}
	beforeSwap = nil
	setCounters(t, tb, stay, 1) // the new table's own
	if got := packets(stay); got != 6*n {
		t.Fatalf("carried plus the table's own: %d, want %d", got, 6*n)
	}
	if err := tb.Replace([]Item{{Key: stay, Value: v}, {Key: gone, Value: v}}); err != nil {
		t.Fatal(err)
	}
	if got, back := packets(stay), packets(gone); got != 6*n || back != 0 {
		t.Fatalf("after a second replace: %d packets (want %d), and the key that came back %d (want 0)", got, 6*n, back)
	}
	if err := tb.Delete(stay); err != nil {
		t.Fatal(err)
	}
	if err := tb.Put(stay, v, false); err != nil {
		t.Fatal(err)
	}
	if got := packets(stay); got != 0 {
		t.Fatalf("deleted and added again: %d packets, want 0", got)
	}
	list, err := tb.List()
	if err != nil || len(list) != 2 {
		t.Fatalf("List: %+v %v", list, err)
	}
	for _, it := range list {
		if it.Value.Packets != 0 {
			t.Fatalf("List: %+v counts %d packets, want 0", it.Key, it.Value.Packets)
		}
	}
}
