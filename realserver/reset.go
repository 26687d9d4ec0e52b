package realserver

import (
	"fmt"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/maptable"
)

// upReset gives the VIP's entries the --set-dscp of an up that changes
// only it, in place: each entry is replaced (NLM_F_REPLACE keeps its
// counters), so the VIP never goes down for it, and the DSR code stops
// leaking into replies (tcp_reflect_tos) the moment the entry changes.
func (m *Manager) upReset(set *uint8) func(*upRecord, *vipRecord, *txn) error {
	return func(_ *upRecord, r *vipRecord, t *txn) error {
		if sameSet(r.SetDSCP, set) {
			return nil
		}
		olds := r.entries()
		r.SetDSCP = set
		news := r.entries()
		if len(news) == 0 {
			return nil
		}
		tab, err := m.mapTable()
		if err != nil {
			return err
		}
		for i, e := range news {
			if err := tab.Add(e, true); err != nil {
				return fmt.Errorf("setting the DSCP after the rewrite of %v: %w", e.Key(), err)
			}
			old := olds[i]
			t.did(fmt.Sprintf("set %v", e), func() error { return tab.Add(old, true) })
		}
		return nil
	}
}

// entries are the table entries of r as it is set up: addr mode's one,
// or one per code.
func (r *vipRecord) entries() []maptable.Entry {
	var es []maptable.Entry
	if r.mode() == dsrtypes.ModeAddr {
		es = append(es, r.entry())
	}
	for _, c := range r.Codes {
		es = append(es, r.withCode(c.DSCP).entry())
	}
	return es
}
