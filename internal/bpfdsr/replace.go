package bpfdsr

import (
	"errors"
	"fmt"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// Replace swaps the whole table for items in one update of slot 0, so
// that traffic sees the old table or the new one, never a mix. An entry
// whose key stays keeps its counters, as the module's replace does: the
// new table starts at zero and the old one's final counts are carried
// (carried.go), so no packet counted during the fill is lost.
func (t *Table) Replace(items []Item) error {
	keys := make([]l3dsrL3dsrKey, len(items))
	seen := make(map[l3dsrL3dsrKey]bool, len(items))
	for i, it := range items {
		rk, err := it.Key.raw()
		if err != nil {
			return err
		}
		if _, err := rawVal(it.Key, it.Value, nil); err != nil {
			return err
		}
		if seen[rk] {
			return fmt.Errorf("replacing the table: key %+v is given twice", it.Key)
		}
		seen[rk] = true
		keys[i] = rk
	}
	old, err := t.current()
	if err != nil {
		return err
	}
	defer old.Close()
	kept, err := perCPUEntries(old)
	if err != nil {
		return err
	}
	var vals []l3dsrL3dsrVal
	for _, it := range items {
		per, _ := rawVal(it.Key, it.Value, nil)
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
	if beforeSwap != nil {
		beforeSwap()
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
	if err := t.carry(old, seen); err != nil {
		return err
	}
	return t.bump(len(keys), true)
}

// beforeSwap, when set (tests), runs between the fill and the swap: where
// the old table goes on counting while the new one is filled.
var beforeSwap func()

// fill writes the entries in batches where the kernel has batches for
// hash maps (5.6), else one by one. A table without preallocation takes
// its elements from a per-CPU cache that the kernel refills in the
// background (and per-CPU memory in atomic context comes from chunks a
// worker adds), so a long batch can run it dry (ENOMEM) part way: the
// batch says how far it got, and after a pause the rest goes on.
func fill(m *ebpf.Map, keys []l3dsrL3dsrKey, vals []l3dsrL3dsrVal) error {
	if len(keys) == 0 {
		return nil
	}
	ncpu := len(vals) / len(keys)
	stalls := 0
	for done := 0; done < len(keys); {
		end := min(done+fillBatch, len(keys))
		n, err := m.BatchUpdate(keys[done:end], vals[done*ncpu:end*ncpu], nil)
		done += n
		if n > 0 {
			stalls = 0
		}
		switch {
		case err == nil:
		case errors.Is(err, ebpf.ErrNotSupported):
			return fillOneByOne(m, keys[done:], vals[done*ncpu:], ncpu)
		case errors.Is(err, unix.ENOMEM) && stalls < maxStalls:
			stalls++
			time.Sleep(time.Millisecond)
		default:
			return fmt.Errorf("filling the new table (%d of %d entries written): %w", done, len(keys), err)
		}
	}
	return nil
}

// maxStalls is how many pauses in a row without progress fill waits out
// before the ENOMEM is real.
const maxStalls = 1000

// fillBatch bounds one batch, so that the element cache can refill
// between them.
const fillBatch = 4096

func fillOneByOne(m *ebpf.Map, keys []l3dsrL3dsrKey, vals []l3dsrL3dsrVal, ncpu int) error {
	for i, k := range keys {
		if err := m.Put(k, vals[i*ncpu:(i+1)*ncpu]); err != nil {
			return fmt.Errorf("filling the new table: %w", err)
		}
	}
	return nil
}

// perCPUEntries is m's entries with their per-CPU values.
func perCPUEntries(m *ebpf.Map) (map[l3dsrL3dsrKey][]l3dsrL3dsrVal, error) {
	keys, vals, err := dump(m)
	if err != nil {
		return nil, err
	}
	out := make(map[l3dsrL3dsrKey][]l3dsrL3dsrVal, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	n := len(vals) / len(keys)
	for i, k := range keys {
		out[k] = vals[i*n : (i+1)*n]
	}
	return out, nil
}
