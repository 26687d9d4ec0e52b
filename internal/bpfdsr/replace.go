package bpfdsr

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
)

// Replace swaps the whole table for items in one update of slot 0, so
// that traffic sees the old table or the new one, never a mix. An entry
// whose key stays keeps its counters, as the module's replace does.
func (t *Table) Replace(items []Item) error {
	old, err := t.current()
	if err != nil {
		return err
	}
	defer old.Close()
	kept, err := perCPUEntries(old)
	if err != nil {
		return err
	}
	keys := make([]l3dsrL3dsrKey, 0, len(items))
	var vals []l3dsrL3dsrVal
	seen := make(map[l3dsrL3dsrKey]bool, len(items))
	for _, it := range items {
		rk, err := it.Key.raw()
		if err != nil {
			return err
		}
		if seen[rk] {
			return fmt.Errorf("replacing the table: key %+v is given twice", it.Key)
		}
		seen[rk] = true
		per, err := rawVal(it.Key, it.Value, kept[rk])
		if err != nil {
			return err
		}
		keys = append(keys, rk)
		vals = append(vals, per...)
	}
	next, err := t.newInner()
	if err != nil {
		return err
	}
	defer next.Close()
	if err := fill(next, keys, vals); err != nil {
		return err
	}
	// present stays a superset of the table in use: the union while the
	// slot changes, then the new table's alone.
	oldKeys := make([]l3dsrL3dsrKey, 0, len(kept))
	for k := range kept {
		oldKeys = append(oldKeys, k)
	}
	if err := t.writePresent(presentOf(oldKeys, keys)); err != nil {
		return err
	}
	if err := t.tables.Put(uint32(0), next); err != nil {
		return fmt.Errorf("swapping in the new table: %w", err)
	}
	if err := t.writePresent(presentOf(keys)); err != nil {
		return err
	}
	return t.bump(len(keys), true)
}

// fill writes the entries in one batch where the kernel has batches for
// hash maps (5.6), else one by one.
func fill(m *ebpf.Map, keys []l3dsrL3dsrKey, vals []l3dsrL3dsrVal) error {
	if len(keys) == 0 {
		return nil
	}
	_, err := m.BatchUpdate(keys, vals, nil)
	if err == nil {
		return nil
	}
	if !errors.Is(err, ebpf.ErrNotSupported) {
		return fmt.Errorf("filling the new table: %w", err)
	}
	n := len(vals) / len(keys)
	for i, k := range keys {
		if err := m.Put(k, vals[i*n:(i+1)*n]); err != nil {
			return fmt.Errorf("filling the new table: %w", err)
		}
	}
	return nil
}

// perCPUEntries is m's entries with their per-CPU values.
func perCPUEntries(m *ebpf.Map) (map[l3dsrL3dsrKey][]l3dsrL3dsrVal, error) {
	out := map[l3dsrL3dsrKey][]l3dsrL3dsrVal{}
	var (
		rk  l3dsrL3dsrKey
		per []l3dsrL3dsrVal
	)
	it := m.Iterate()
	for it.Next(&rk, &per) {
		out[rk] = per
		per = nil
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("reading the table in use: %w", err)
	}
	return out, nil
}
