package realserver

import (
	"context"
	"fmt"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/maptable"
)

// The map path (realserver.map_path, `l3dsr rule mode`) is the module's,
// per namespace: the --map rule reads the table, or the module's own
// hook does. A VIP's Config.MapPath asks for one; empty leaves the
// namespace's as it is.

// pathTable is a module table whose path can be read and switched.
type pathTable interface {
	maptable.ModeTable
	Stats() (maptable.Stats, error)
}

// checkMapPath refuses direct on the tc-BPF backend before anything
// changes: its program reads the table itself.
func checkMapPath(c Config, backend dsrtypes.Backend) error {
	if c.MapPath == maptable.ModeDirect && backend == dsrtypes.BackendBPF {
		return hostInputf("map_path direct with the bpf backend: the BPF backend has no iptables rule to skip: direct mode is for the module; use map_path rule, or the module backend")
	}
	return nil
}

// upMapPath switches the namespace's path to r's before its entry is
// added, in SwitchMode's no-gap order; the switch back is its undo.
func (m *Manager) upMapPath(ctx context.Context, s *upRecord, r *vipRecord, t *txn, v xtrule.Variant) error {
	if r.MapPath == "" || r.Backend == dsrtypes.BackendBPF {
		return nil
	}
	return m.switchPath(ctx, s.Ingress, r.MapPath, t, v)
}

// SetMapPath switches the namespace's path to want (apply's step when
// only realserver.map_path changed); a failure switches it back.
func (m *Manager) SetMapPath(ctx context.Context, want maptable.Mode, v xtrule.Variant) (Applied, error) {
	st, unlock, err := m.lockedState()
	if err != nil {
		return Applied{}, err
	}
	defer unlock()
	var t txn
	if err := m.switchPath(ctx, st.Ingress, want, &t, v); err != nil {
		return Applied{}, t.fail(err)
	}
	return Applied{Changes: t.changes}, nil
}

func (m *Manager) switchPath(ctx context.Context, ing Ingress, want maptable.Mode, t *txn, v xtrule.Variant) error {
	// The hook sees every interface: it would honour codes from all.
	if want == maptable.ModeDirect && len(ing) > 0 {
		return hostInputf("map_path direct with ingress %s: the direct hook reads packets of every interface, and only the rule path can be limited to some; use map_path rule, or drop the ingress list", ing)
	}
	tab, err := m.mapTable()
	if err != nil {
		return err
	}
	pt, ok := tab.(pathTable)
	if !ok {
		return fmt.Errorf("the table has no map path to set to %s", want)
	}
	st, err := pt.Stats()
	if err != nil || st.Mode == want {
		return err
	}
	rules := m.newRules(v, ing)
	changes, err := maptable.SwitchMode(ctx, pt, rules, want)
	if err != nil {
		return err
	}
	back := func() error { _, err := maptable.SwitchMode(ctx, pt, rules, st.Mode); return err }
	for i, c := range changes {
		if i == 0 {
			t.did(c, back)
		} else {
			t.did(c, nil)
		}
	}
	return nil
}

// showMapPath fills in rep's path when the module keeps the table.
func (m *Manager) showMapPath(rep *Report) (maptable.Stats, bool) {
	if rep.Backend != dsrtypes.BackendModule {
		return maptable.Stats{}, false
	}
	tab, err := m.mapTable()
	if err != nil {
		return maptable.Stats{}, false
	}
	pt, ok := tab.(pathTable)
	if !ok {
		return maptable.Stats{}, false
	}
	st, err := pt.Stats()
	if err != nil {
		rep.Problems = append(rep.Problems, Problem{What: fmt.Sprintf("reading the map path: %v", err), Fix: "run 'l3dsr realserver show' as root"})
		return st, false
	}
	p := st.PathInfo()
	rep.MapPath = &p
	return st, true
}
