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
		var olds []maptable.Entry
		if r.mode() == dsrtypes.ModeAddr {
			olds = append(olds, r.entry())
		}
		for _, c := range r.Codes {
			olds = append(olds, r.withCode(c.DSCP).entry())
		}
		r.SetDSCP = set
		if len(olds) == 0 {
			return nil
		}
		tab, err := m.mapTable()
		if err != nil {
			return err
		}
		for _, old := range olds {
			e := old
			e.SetDSCP = nil
			if set != nil {
				d := dsrtypes.DSCP(*set)
				e.SetDSCP = &d
			}
			if err := tab.Add(e, true); err != nil {
				return fmt.Errorf("setting the DSCP after the rewrite of %v: %w", e.Key(), err)
			}
			t.did(fmt.Sprintf("set %v", e), func() error { return tab.Add(old, true) })
		}
		return nil
	}
}
