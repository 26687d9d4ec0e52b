package bpfdsr

import (
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// The counts an entry brought from the tables a replace took out of use.
// The program counts in the table in use, per CPU; a replace fills a new
// table while the old one goes on counting, and writing the old counts
// into the new table once it is live would race the program's own
// increments (a per-CPU value is written whole). So the new table starts
// at zero and, once the old one has stopped moving, its final counts are
// added here, in a map only userspace writes; Get and List add the two.

// carried is one key's count in the carried map.
type carried struct {
	Packets, Bytes uint64
}

func newCarried() (*ebpf.Map, error) {
	m, err := ebpf.NewMap(&ebpf.MapSpec{
		Name: "l3dsr_carried", Type: ebpf.Hash, KeySize: 20, ValueSize: 16,
		MaxEntries: 1 << 20, Flags: unix.BPF_F_NO_PREALLOC,
	})
	if err != nil {
		return nil, fmt.Errorf("creating the map of carried counters: %w", permErr(err))
	}
	return m, nil
}

func (t *Table) carriedOf(rk l3dsrL3dsrKey) (carried, error) {
	var c carried
	err := t.carried.Lookup(rk, &c)
	if err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return c, fmt.Errorf("reading an entry's carried counters: %w", err)
	}
	return c, nil
}

func (t *Table) dropCarried(rk l3dsrL3dsrKey) error {
	if err := t.carried.Delete(rk); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("clearing an entry's carried counters: %w", err)
	}
	return nil
}

func (t *Table) allCarried() (map[l3dsrL3dsrKey]carried, error) {
	out := map[l3dsrL3dsrKey]carried{}
	var (
		k l3dsrL3dsrKey
		c carried
	)
	it := t.carried.Iterate()
	for it.Next(&k, &c) {
		out[k] = c
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("reading the carried counters: %w", err)
	}
	return out, nil
}

// settleWait and settleTries bound how long carry waits for the old table
// to stop moving: a program that looked it up before the swap finishes
// within microseconds, but a vCPU can be held off longer.
const (
	settleWait  = 2 * time.Millisecond
	settleTries = 100
)

// sums is m's counts per key, summed over the CPUs.
func sums(m *ebpf.Map) (map[l3dsrL3dsrKey]carried, error) {
	per, err := perCPUEntries(m)
	if err != nil {
		return nil, err
	}
	out := make(map[l3dsrL3dsrKey]carried, len(per))
	for k, vs := range per {
		var c carried
		for _, v := range vs {
			c.Packets += v.Packets
			c.Bytes += v.Bytes
		}
		out[k] = c
	}
	return out, nil
}

// carry adds the final counts of old, the table a replace took out of use,
// to the keys the new table keeps (in keep), and clears what the others
// carried.
func (t *Table) carry(old *ebpf.Map, keep map[l3dsrL3dsrKey]bool) error {
	final, err := sums(old)
	for i := 0; err == nil && i < settleTries; i++ {
		time.Sleep(settleWait)
		var again map[l3dsrL3dsrKey]carried
		if again, err = sums(old); err == nil {
			if maps.Equal(again, final) {
				break
			}
			final = again
		}
	}
	if err != nil {
		return fmt.Errorf("reading the replaced table's counters: %w", err)
	}
	had, err := t.allCarried()
	if err != nil {
		return err
	}
	for k, c := range had {
		if !keep[k] {
			if err := t.dropCarried(k); err != nil {
				return err
			}
			continue
		}
		f := final[k]
		c.Packets, c.Bytes = c.Packets+f.Packets, c.Bytes+f.Bytes
		final[k] = c
	}
	for k, c := range final {
		if !keep[k] || c == (carried{}) {
			continue
		}
		if err := t.carried.Put(k, c); err != nil {
			return fmt.Errorf("carrying an entry's counters: %w", err)
		}
	}
	return nil
}
