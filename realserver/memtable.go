package realserver

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/maptable"
)

// memTable is the table of a batch: listed once, changed in memory, and
// sent back as one replace at commit, only if it changed. A replace keeps
// the counters of the keys that stay (the module carries them over).
type memTable struct {
	t        Table
	loaded   bool
	had, now map[maptable.Key]maptable.Entry
	// stats is the module's path, read once: every add of a batch asks
	// for it (maptable.AddWithRule), and only SetMode changes it.
	stats *maptable.Stats
}

func normKey(k maptable.Key) maptable.Key {
	if k.Family == dsrtypes.AnyFamily && k.Local.IsValid() {
		k.Family = dsrtypes.FamilyOf(k.Local)
	}
	return k
}

func (t *memTable) load() error {
	if t.loaded {
		return nil
	}
	entries, err := t.t.List()
	if err != nil {
		return err
	}
	t.had = make(map[maptable.Key]maptable.Entry, len(entries))
	for _, e := range entries {
		t.had[normKey(e.Key())] = e
	}
	t.now, t.loaded = maps.Clone(t.had), true
	return nil
}

func (t *memTable) Get(k maptable.Key) (maptable.Entry, error) {
	if err := t.load(); err != nil {
		return maptable.Entry{}, err
	}
	e, ok := t.now[normKey(k)]
	if !ok {
		return e, fmt.Errorf("getting %v: %w", k, maptable.ErrNotFound)
	}
	return e, nil
}

func (t *memTable) Add(e maptable.Entry, replace bool) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if err := t.load(); err != nil {
		return err
	}
	if e.Family == dsrtypes.AnyFamily {
		e.Family = dsrtypes.FamilyOf(e.VIP)
	}
	k := normKey(e.Key())
	old, ok := t.now[k]
	if ok && !replace {
		return fmt.Errorf("adding %v: %w", e, maptable.ErrExists)
	}
	e.Packets, e.Bytes = old.Packets, old.Bytes
	t.now[k] = e
	return nil
}

func (t *memTable) Delete(k maptable.Key) error {
	if err := t.load(); err != nil {
		return err
	}
	k = normKey(k)
	if _, ok := t.now[k]; !ok {
		return fmt.Errorf("deleting %v: %w", k, maptable.ErrNotFound)
	}
	delete(t.now, k)
	return nil
}

func (t *memTable) List() ([]maptable.Entry, error) {
	if err := t.load(); err != nil {
		return nil, err
	}
	out := slices.Collect(maps.Values(t.now))
	slices.SortFunc(out, func(a, b maptable.Entry) int {
		ka, kb := normKey(a.Key()), normKey(b.Key())
		return cmp.Or(cmp.Compare(ka.Family, kb.Family), cmp.Compare(ka.DSCP, kb.DSCP), ka.Local.Compare(kb.Local))
	})
	return out, nil
}

// Close leaves the connection to its owner, the batch's manager.
func (t *memTable) Close() error { return nil }

// Replace is not a call of Up or Down: a batch's own replace is commit.
func (t *memTable) Replace([]maptable.Entry) error {
	return fmt.Errorf("replacing the table within a batch: not supported")
}

// commit sends the table as one replace if it is not what the kernel has.
func (t *memTable) commit() error {
	if !t.loaded || maps.EqualFunc(t.had, t.now, func(a, b maptable.Entry) bool { return a.VIP == b.VIP }) {
		return nil
	}
	entries, err := t.List()
	if err != nil {
		return err
	}
	if err := t.t.Replace(entries); err != nil {
		return fmt.Errorf("replacing the DSCP map of xt_DADDR with its %d entries: %w", len(entries), err)
	}
	t.had = maps.Clone(t.now)
	return nil
}

// Stats and SetMode reach the module at once: the path is not batched,
// and only its mode and hooks are read here (the counts are the
// module's, without the batch's pending changes).
func (t *memTable) Stats() (maptable.Stats, error) {
	pt, ok := t.t.(pathTable)
	if !ok || t.stats != nil {
		return *cmp.Or(t.stats, &maptable.Stats{}), nil
	}
	st, err := pt.Stats()
	if err == nil {
		t.stats = &st
	}
	return st, err
}

func (t *memTable) SetMode(m maptable.Mode) error {
	if pt, ok := t.t.(pathTable); ok {
		t.stats = nil
		return pt.SetMode(m)
	}
	return fmt.Errorf("the table has no map path to set to %s", m)
}
