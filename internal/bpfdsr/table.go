package bpfdsr

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/cilium/ebpf"
)

const dscpAny = 255

// Key is a table key: Local invalid means any local address, DSCP 255
// any code (which needs a local address).
type Key struct {
	Family uint8 // 4 or 6
	DSCP   uint8 // 0..63, 255 any
	Local  netip.Addr
}

// Value is an entry: the VIP, the code to set after the rewrite (255
// keeps the packet's), and its counters summed over the CPUs.
type Value struct {
	VIP            netip.Addr
	SetDSCP        uint8 // 255 keep
	Packets, Bytes uint64
}

// Item is one entry of the table.
type Item struct {
	Key   Key
	Value Value
}

// Totals are the program's counters summed over the CPUs, and the
// table's size and generation.
type Totals struct {
	Rewritten, NoEntry, Errors, Skipped uint64
	Entries, Generation                 uint32
}

// Table is the pinned maps and program of one network namespace.
type Table struct {
	dir                                           string
	inner                                         *ebpf.MapSpec
	tables, present, totals, meta, owned, carried *ebpf.Map
	prog                                          *ebpf.Program
}

// Close closes the descriptors; the pins stay.
func (t *Table) Close() error {
	for _, m := range []*ebpf.Map{t.tables, t.present, t.totals, t.meta, t.owned, t.carried} {
		if m != nil {
			m.Close()
		}
	}
	if t.prog != nil {
		t.prog.Close()
	}
	return nil
}

func famOf(a netip.Addr) uint8 {
	if a.Is4() {
		return 4
	}
	return 6
}

func (k Key) raw() (l3dsrL3dsrKey, error) {
	if k.Family != 4 && k.Family != 6 {
		return l3dsrL3dsrKey{}, fmt.Errorf("key family %d: want 4 or 6", k.Family)
	}
	r := l3dsrL3dsrKey{Family: k.Family, Dscp: k.DSCP}
	if k.Local.IsValid() {
		if famOf(k.Local) != k.Family {
			return r, fmt.Errorf("key local address %s is not IPv%d, the key's family", k.Local, k.Family)
		}
		copy(r.Local[:], k.Local.AsSlice())
	}
	return r, nil
}

func keyOf(r l3dsrL3dsrKey) Key {
	k := Key{Family: r.Family, DSCP: r.Dscp}
	if r.Local != ([16]byte{}) {
		k.Local = addrOf(r.Family, r.Local)
	}
	return k
}

func addrOf(fam uint8, b [16]byte) netip.Addr {
	if fam == 4 {
		return netip.AddrFrom4([4]byte(b[:4]))
	}
	return netip.AddrFrom16(b)
}

func valueOf(fam uint8, per []l3dsrL3dsrVal) Value {
	v := Value{VIP: addrOf(fam, per[0].Vip), SetDSCP: per[0].SetDscp}
	for _, p := range per {
		v.Packets += p.Packets
		v.Bytes += p.Bytes
	}
	return v
}

// rawVal is v for every CPU, with the counters of old (or zero).
func rawVal(k Key, v Value, old []l3dsrL3dsrVal) ([]l3dsrL3dsrVal, error) {
	if !v.VIP.IsValid() || famOf(v.VIP) != k.Family {
		return nil, fmt.Errorf("VIP %s is not IPv%d, the key's family", v.VIP, k.Family)
	}
	n, err := ebpf.PossibleCPU()
	if err != nil {
		return nil, err
	}
	out := make([]l3dsrL3dsrVal, n)
	for i := range out {
		if i < len(old) {
			out[i].Packets, out[i].Bytes = old[i].Packets, old[i].Bytes
		}
		copy(out[i].Vip[:], v.VIP.AsSlice())
		out[i].SetDscp = v.SetDSCP
	}
	return out, nil
}

// keyed is k as the map spells it, and the table in use.
func (t *Table) keyed(k Key) (l3dsrL3dsrKey, *ebpf.Map, error) {
	rk, err := k.raw()
	if err != nil {
		return rk, nil, err
	}
	m, err := t.current()
	return rk, m, err
}

// current is the table in slot 0.
func (t *Table) current() (*ebpf.Map, error) {
	var m *ebpf.Map
	if err := t.tables.Lookup(uint32(0), &m); err != nil {
		return nil, fmt.Errorf("reading the table in use: %w", err)
	}
	return m, nil
}

func (t *Table) newInner() (*ebpf.Map, error) {
	m, err := ebpf.NewMap(t.inner.Copy())
	if err != nil {
		return nil, fmt.Errorf("creating a table: %w", permErr(err))
	}
	return m, nil
}

// Get is the entry of k.
func (t *Table) Get(k Key) (Value, error) {
	rk, m, err := t.keyed(k)
	if err != nil {
		return Value{}, err
	}
	defer m.Close()
	var per []l3dsrL3dsrVal
	if err := m.Lookup(rk, &per); err != nil {
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return Value{}, ErrNotFound
		}
		return Value{}, fmt.Errorf("looking up an entry: %w", err)
	}
	v := valueOf(k.Family, per)
	c, err := t.carriedOf(rk)
	v.Packets, v.Bytes = v.Packets+c.Packets, v.Bytes+c.Bytes
	return v, err
}

// Put adds an entry; with replace, an existing entry takes v's VIP and
// code and keeps its counters, else it is ErrExists.
func (t *Table) Put(k Key, v Value, replace bool) error {
	rk, m, err := t.keyed(k)
	if err != nil {
		return err
	}
	defer m.Close()
	var old []l3dsrL3dsrVal
	err = m.Lookup(rk, &old)
	switch {
	case err == nil && !replace:
		return ErrExists
	case err != nil && !errors.Is(err, ebpf.ErrKeyNotExist):
		return fmt.Errorf("looking up an entry: %w", err)
	}
	added := err != nil
	per, err := rawVal(k, v, old)
	if err != nil {
		return err
	}
	// A counter the program bumps between the read and this write is
	// lost: the cost of keeping counters without a lock the program
	// would take per packet.
	flags := ebpf.UpdateExist
	if added {
		flags = ebpf.UpdateNoExist
	}
	if err := m.Update(rk, per, flags); err != nil {
		if errors.Is(err, ebpf.ErrKeyExist) {
			return ErrExists
		}
		return fmt.Errorf("writing an entry: %w", err)
	}
	if added {
		// A new entry counts from zero, whatever an old one of its key
		// carried.
		if err := t.dropCarried(rk); err != nil {
			return err
		}
		if err := t.orPresent(k); err != nil {
			return err
		}
		return t.bump(1, false)
	}
	return t.bump(0, false)
}

// Delete removes the entry of k.
func (t *Table) Delete(k Key) error {
	rk, m, err := t.keyed(k)
	if err != nil {
		return err
	}
	defer m.Close()
	if err := m.Delete(rk); err != nil {
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return ErrNotFound
		}
		return fmt.Errorf("deleting an entry: %w", err)
	}
	if err := t.dropCarried(rk); err != nil {
		return err
	}
	if err := t.setPresent(m); err != nil {
		return err
	}
	return t.bump(-1, false)
}

// List is every entry, the counters summed over the CPUs.
func (t *Table) List() ([]Item, error) {
	m, err := t.current()
	if err != nil {
		return nil, err
	}
	defer m.Close()
	keys, vals, err := dump(m)
	if err != nil || len(keys) == 0 {
		return nil, err
	}
	carried, err := t.allCarried()
	if err != nil {
		return nil, err
	}
	n := len(vals) / len(keys)
	out := make([]Item, len(keys))
	for i, rk := range keys {
		v := valueOf(rk.Family, vals[i*n:(i+1)*n])
		c := carried[rk]
		v.Packets, v.Bytes = v.Packets+c.Packets, v.Bytes+c.Bytes
		out[i] = Item{Key: keyOf(rk), Value: v}
	}
	return out, nil
}

// Flush removes the entries of a family, or of both with 0: a Replace by
// what stays, so that it is one swap too.
func (t *Table) Flush(family uint8) error {
	var keep []Item
	if family != 0 {
		items, err := t.List()
		if err != nil {
			return err
		}
		for _, it := range items {
			if it.Key.Family != family {
				keep = append(keep, it)
			}
		}
	}
	if err := t.Replace(keep); err != nil {
		return fmt.Errorf("flushing: %w", err)
	}
	return nil
}

// Totals are the program's counters and the table's size and generation.
func (t *Table) Totals() (Totals, error) {
	sum, err := sumTotals(t.totals)
	if err != nil {
		return Totals{}, err
	}
	out := Totals{Rewritten: sum.Rewritten, NoEntry: sum.NoEntry, Errors: sum.Errors, Skipped: sum.Skipped}
	var meta l3dsrL3dsrMeta
	if err := t.meta.Lookup(uint32(0), &meta); err != nil {
		return Totals{}, fmt.Errorf("reading meta: %w", err)
	}
	out.Entries, out.Generation = meta.Entries, meta.Generation
	return out, nil
}

// bump adds delta to meta's entries (or sets them to delta with set), and
// bumps the generation. Only userspace writes meta; two processes that
// change one table at once may lose a bump (the table itself stays right).
func (t *Table) bump(delta int, set bool) error {
	var meta l3dsrL3dsrMeta
	if err := t.meta.Lookup(uint32(0), &meta); err != nil {
		return fmt.Errorf("reading meta: %w", err)
	}
	if set {
		meta.Entries = uint32(delta)
	} else {
		meta.Entries = uint32(int(meta.Entries) + delta)
	}
	meta.Generation++
	if err := t.meta.Put(uint32(0), meta); err != nil {
		return fmt.Errorf("writing meta: %w", err)
	}
	return nil
}

// sumTotals adds up the per-CPU slots of the totals map m.
func sumTotals(m *ebpf.Map) (l3dsrL3dsrTotals, error) {
	var per []l3dsrL3dsrTotals
	var sum l3dsrL3dsrTotals
	if err := m.Lookup(uint32(0), &per); err != nil {
		return sum, fmt.Errorf("reading the totals: %w", err)
	}
	for _, p := range per {
		sum.Rewritten += p.Rewritten
		sum.NoEntry += p.NoEntry
		sum.Errors += p.Errors
		sum.Skipped += p.Skipped
	}
	return sum, nil
}
