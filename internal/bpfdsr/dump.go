package bpfdsr

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
)

// dumpBatch is how many entries one batch lookup reads: far more than a
// hash bucket holds (the kernel's ENOSPC), and few syscalls for 65,536.
const dumpBatch = 4096

// dump reads every entry of a table with its per-CPU values (ncpu per
// key, flat): in batches where the kernel has them for hash maps (5.6),
// else with the iterator, two syscalls an entry.
func dump(m *ebpf.Map) ([]l3dsrL3dsrKey, []l3dsrL3dsrVal, error) {
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		return nil, nil, err
	}
	var (
		keys   []l3dsrL3dsrKey
		vals   []l3dsrL3dsrVal
		cursor ebpf.MapBatchCursor
	)
	kb := make([]l3dsrL3dsrKey, dumpBatch)
	vb := make([]l3dsrL3dsrVal, dumpBatch*ncpu)
	for {
		n, err := m.BatchLookup(&cursor, kb, vb, nil)
		keys = append(keys, kb[:n]...)
		vals = append(vals, vb[:n*ncpu]...)
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return keys, vals, nil
		}
		if errors.Is(err, ebpf.ErrNotSupported) {
			return dumpIterate(m, ncpu)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("reading the table: %w", err)
		}
	}
}

func dumpIterate(m *ebpf.Map, ncpu int) ([]l3dsrL3dsrKey, []l3dsrL3dsrVal, error) {
	var (
		keys []l3dsrL3dsrKey
		vals []l3dsrL3dsrVal
		rk   l3dsrL3dsrKey
		per  []l3dsrL3dsrVal
	)
	it := m.Iterate()
	for it.Next(&rk, &per) {
		keys = append(keys, rk)
		vals = append(vals, per[:ncpu]...)
	}
	if err := it.Err(); err != nil {
		return nil, nil, fmt.Errorf("reading the table: %w", err)
	}
	return keys, vals, nil
}
