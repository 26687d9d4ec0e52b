package maptable

import (
	"errors"
	"net/netip"
	"reflect"
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
)

// fakeBPF is bpfdsr's table in memory, with its sentinels.
type fakeBPF struct {
	m        map[bpfKey]bpfValue
	replaced []bpfItem
	flushed  []uint8
	totals   bpfTotals
}

func newFakeBPF() *fakeBPF { return &fakeBPF{m: map[bpfKey]bpfValue{}} }

func (f *fakeBPF) Get(k bpfKey) (bpfValue, error) {
	v, ok := f.m[k]
	if !ok {
		return v, bpfErrNotFound
	}
	return v, nil
}

func (f *fakeBPF) Put(k bpfKey, v bpfValue, replace bool) error {
	old, ok := f.m[k]
	if ok && !replace {
		return bpfErrExists
	}
	v.Packets, v.Bytes = old.Packets, old.Bytes
	f.m[k] = v
	return nil
}

func (f *fakeBPF) Delete(k bpfKey) error {
	if _, ok := f.m[k]; !ok {
		return bpfErrNotFound
	}
	delete(f.m, k)
	return nil
}

func (f *fakeBPF) List() ([]bpfItem, error) {
	var out []bpfItem
	for k, v := range f.m {
		out = append(out, bpfItem{k, v})
	}
	return out, nil
}

func (f *fakeBPF) Replace(items []bpfItem) error { f.replaced = items; return nil }
func (f *fakeBPF) Flush(fam uint8) error         { f.flushed = append(f.flushed, fam); return nil }
func (f *fakeBPF) Totals() (bpfTotals, error)    { return f.totals, nil }
func (f *fakeBPF) Close() error                  { return nil }

// Each entry and the exact bytes of the map key and value it becomes, and back.
func TestBPFConversions(t *testing.T) {
	l4, v4 := netip.MustParseAddr("10.1.0.5"), netip.MustParseAddr("192.0.2.10")
	l6, v6 := netip.MustParseAddr("2001:db8::5"), netip.MustParseAddr("2001:db8:1::10")
	for _, c := range []struct {
		e   Entry
		key bpfKey
		val bpfValue
	}{
		{Entry{DSCP: 7, VIP: v4}, bpfKey{4, 7, netip.Addr{}}, bpfValue{VIP: v4, SetDSCP: 255}},
		{Entry{DSCP: 63, Local: l4, VIP: v4, SetDSCP: dscpPtr(0)}, bpfKey{4, 63, l4}, bpfValue{VIP: v4, SetDSCP: 0}},
		{Entry{AnyDSCP: true, Local: l4, VIP: v4}, bpfKey{4, 255, l4}, bpfValue{VIP: v4, SetDSCP: 255}},
		{Entry{DSCP: 0, VIP: v6, SetDSCP: dscpPtr(46)}, bpfKey{6, 0, netip.Addr{}}, bpfValue{VIP: v6, SetDSCP: 46}},
		{Entry{AnyDSCP: true, Local: l6, VIP: v6}, bpfKey{6, 255, l6}, bpfValue{VIP: v6, SetDSCP: 255}},
	} {
		f := newFakeBPF()
		tab := &bpfTable{m: f}
		if err := tab.Add(c.e, false); err != nil {
			t.Fatalf("Add(%v): %v", c.e, err)
		}
		v, ok := f.m[c.key]
		if !ok || v != c.val || len(f.m) != 1 {
			t.Errorf("Add(%v): map %v, want {%v: %v}", c.e, f.m, c.key, c.val)
		}
		if c.key.Local.IsValid() && c.key.Local.BitLen() != map[uint8]int{4: 32, 6: 128}[c.key.Family] {
			t.Errorf("%v: local %v is not %d bits", c.e, c.key.Local, c.key.Family)
		}
		f.m[c.key] = bpfValue{VIP: v.VIP, SetDSCP: v.SetDSCP, Packets: 3, Bytes: 180}
		want := c.e
		want.Family, want.Packets, want.Bytes = dsrtypes.FamilyOf(c.e.VIP), 3, 180
		got, err := tab.Get(c.e.Key())
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Get(%v) = %+v, %v; want %+v", c.e.Key(), got, err, want)
		}
		list, err := tab.List()
		if err != nil || len(list) != 1 || !reflect.DeepEqual(list[0], want) {
			t.Errorf("List = %+v, %v; want [%+v]", list, err, want)
		}
	}
}

// Missing and existing keys say what the module's table says, and match
// this package's sentinels.
func TestBPFErrors(t *testing.T) {
	tab := &bpfTable{m: newFakeBPF()}
	e := Entry{DSCP: 2, VIP: netip.MustParseAddr("192.0.2.1")}
	err := tab.Delete(e.Key())
	if !errors.Is(err, ErrNotFound) || err.Error() != "deleting IPv4 DSCP 2 local any: no entry with this key (no such entry)" {
		t.Errorf("Delete of a missing key: %v", err)
	}
	if _, err := tab.Get(e.Key()); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of a missing key: %v", err)
	}
	if err := tab.Add(e, false); err != nil {
		t.Fatal(err)
	}
	err = tab.Add(e, false)
	if !errors.Is(err, ErrExists) || err.Error() != "adding IPv4 DSCP 2 local any -> VIP 192.0.2.1: an entry with this key exists: use replace (NLM_F_REPLACE) to change its VIP or DSCP_SET (file exists)" {
		t.Errorf("Add of an existing key: %v", err)
	}
	if err := tab.Add(e, true); err != nil {
		t.Errorf("Add with replace: %v", err)
	}
	// Bad input never reaches the maps.
	f := newFakeBPF()
	tab = &bpfTable{m: f}
	if err := tab.Add(Entry{AnyDSCP: true, VIP: netip.MustParseAddr("192.0.2.1")}, false); !errors.Is(err, errInvalid) || len(f.m) != 0 {
		t.Errorf("any-DSCP without local: %v, map %v", err, f.m)
	}
	if err := tab.Flush(dsrtypes.Family(9)); !errors.Is(err, errInvalid) || len(f.flushed) != 0 {
		t.Errorf("Flush(9): %v, flushed %v", err, f.flushed)
	}
}

func TestBPFReplaceFlushStats(t *testing.T) {
	f := newFakeBPF()
	tab := &bpfTable{m: f}
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	dup := []Entry{{DSCP: 1, VIP: a}, {DSCP: 2, VIP: b}, {DSCP: 1, VIP: b, Family: dsrtypes.IPv4}}
	if err := tab.Replace(dup); !errors.Is(err, errInvalid) || f.replaced != nil {
		t.Errorf("Replace with a bad entry: %v, sent %v", err, f.replaced)
	}
	dup[2] = Entry{DSCP: 1, VIP: a}
	if err := tab.Replace(dup); !errors.Is(err, errInvalid) || f.replaced != nil {
		t.Errorf("Replace with a duplicate key: %v, sent %v", err, f.replaced)
	}
	if err := tab.Replace(dup[:2]); err != nil {
		t.Fatal(err)
	}
	want := []bpfItem{{bpfKey{4, 1, netip.Addr{}}, bpfValue{VIP: a, SetDSCP: 255}}, {bpfKey{6, 2, netip.Addr{}}, bpfValue{VIP: b, SetDSCP: 255}}}
	if !reflect.DeepEqual(f.replaced, want) {
		t.Errorf("Replace sent %v, want %v", f.replaced, want)
	}
	for _, fam := range []dsrtypes.Family{dsrtypes.AnyFamily, dsrtypes.IPv4, dsrtypes.IPv6} {
		if err := tab.Flush(fam); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(f.flushed, []uint8{0, 4, 6}) {
		t.Errorf("flushed %v, want [0 4 6]", f.flushed)
	}
	f.totals = bpfTotals{Rewritten: 10, NoEntry: 20, Errors: 3, Skipped: 99, Entries: 2, Generation: 7}
	st, err := tab.Stats()
	if wantSt := (Stats{Rewritten: 10, NoEntry: 20, Errors: 3, Entries: 2, Generation: 7, Mode: modeBPF}); err != nil || st != wantSt {
		t.Errorf("Stats = %+v, %v; want %+v", st, err, wantSt)
	}
}
