package realserver

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/rtnl"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/maptable"
)

// ErrNotSetUp is matched (errors.Is) by Down's error for a VIP that Up did
// not set up in this network namespace.
var ErrNotSetUp = errors.New("VIP not set up by l3dsr realserver")

// Down undoes what Up did for vip, and only that: what was there before
// Up stays, a shared setting (sysctl, map-mode rule, tunnel device, clamp
// table) goes only when no other VIP set up by Up needs it, and anything
// changed by someone else since Up is left as it is (and said so in
// Notes). A step that fails does not stop the others; the record keeps
// what is still to be undone, so running Down again finishes the job.
func (m *Manager) Down(ctx context.Context, vip netip.Addr) (Applied, error) {
	st, idx, rec, unlock, err := m.lockedRecord(vip)
	if err != nil {
		return Applied{}, err
	}
	defer unlock()
	return m.down(ctx, st, idx, rec)
}

// DownCode takes the code d off the dscp-mode VIP vip: its mapping goes, and
// the VIP, its sysctls and the rule stay for its other codes. With no other
// code left, it is Down. A code the VIP does not have, or a VIP in a mode
// without codes, is an error matching ErrNoSuchCode, and nothing changes.
func (m *Manager) DownCode(ctx context.Context, vip netip.Addr, d uint8) (Applied, error) {
	st, idx, rec, unlock, err := m.lockedRecord(vip)
	if err != nil {
		return Applied{}, err
	}
	defer unlock()
	if rec.mode() != dsrtypes.ModeDSCP {
		return Applied{}, noSuchCodef("VIP %s is in %s mode, which uses no DSCP code: leave --dscp %d out to take it down ('l3dsr realserver down --vip %s')",
			vip, rec.mode(), d, vip)
	}
	ci := rec.code(d)
	if ci < 0 {
		return Applied{}, noSuchCodef("VIP %s has no DSCP %d: its codes are %s; give one of them, or leave --dscp out to take the whole VIP down",
			vip, d, rec.codes())
	}
	if len(rec.Codes) == 1 {
		return m.down(ctx, st, idx, rec)
	}
	next, _ := m.working(st, idx)
	r := &next.VIPs[idx]
	dr := &downRun{m: m, ctx: ctx}
	dr.mapping(r, ci)
	if len(dr.errs) == 0 {
		r.Codes = slices.Delete(r.Codes, ci, ci+1)
		m.indexCodeDown(rec.withCode(d))
	}
	if err := m.save(next); err != nil {
		dr.errs = append(dr.errs, err)
	}
	a := Applied{Changes: dr.changes, Notes: dr.notes, Config: rec.withCode(d), Codes: r.codes()}
	if len(dr.errs) > 0 {
		return a, fmt.Errorf("taking DSCP %d off VIP %s: %w (run 'l3dsr realserver down --vip %s --dscp %d' again once fixed: the record keeps what is left)",
			d, vip, errors.Join(dr.errs...), vip, d)
	}
	return a, nil
}

// lockedRecord is lockedState and vip's record in it (st.VIPs[idx]), or
// an error matching ErrNotSetUp, with the lock released, when Up did not
// set vip up.
func (m *Manager) lockedRecord(vip netip.Addr) (st upRecord, idx int, rec *vipRecord, unlock func(), err error) {
	if st, unlock, err = m.lockedState(); err != nil {
		return upRecord{}, -1, nil, nil, err
	}
	if idx, rec = m.find(&st, vip); rec == nil {
		unlock()
		return upRecord{}, -1, nil, nil, fmt.Errorf("VIP %s was not set up with 'l3dsr realserver up' in this network namespace (state in %s): %w", vip, m.stateDir, ErrNotSetUp)
	}
	return st, idx, rec, unlock, nil
}

// down takes the VIP of st.VIPs[idx] (rec) down, every code of it.
func (m *Manager) down(ctx context.Context, st upRecord, idx int, rec *vipRecord) (Applied, error) {
	vip, first := rec.VIP, rec.first()
	next, _ := m.working(st, idx) // saved whatever happens: no restore
	r := &next.VIPs[idx]
	rest := configs(slices.Delete(slices.Clone(next.VIPs), idx, idx+1))
	d := &downRun{m: m, ctx: ctx}

	switch r.mode() {
	case dsrtypes.ModeDSCP:
		for i := range r.Codes {
			d.mapping(r, i)
		}
		d.rule(&next, r.Config, rest)
	case dsrtypes.ModeAddr:
		d.entry(r.entry(), &r.AddedEntry)
		d.rule(&next, r.Config, rest)
		d.rip(r)
	}
	switch r.mode() {
	case dsrtypes.ModeDSCP, dsrtypes.ModeAddr:
		d.bpf(r.Config, rest)
	case dsrtypes.ModeIPIP:
		d.clamps(rest)
	}
	d.sysctls(&next, rest)
	d.links(&next, rest)
	d.addr(r)
	d.handRules(vip)

	if len(d.errs) == 0 {
		m.indexDown(idx, r)
		next.VIPs = slices.Delete(next.VIPs, idx, idx+1)
	}
	if err := m.save(next); err != nil {
		d.errs = append(d.errs, err)
	}
	a := Applied{Changes: d.changes, Notes: d.notes, Config: first}
	if len(d.errs) > 0 {
		return a, fmt.Errorf("taking down VIP %s: %w (run 'l3dsr realserver down --vip %s' again once fixed: the record keeps what is left)", vip, errors.Join(d.errs...), vip)
	}
	return a, nil
}

type downRun struct {
	m       *Manager
	ctx     context.Context
	changes []string
	notes   []string
	errs    []error
}

func (d *downRun) did(f string, a ...any)  { d.changes = append(d.changes, fmt.Sprintf(f, a...)) }
func (d *downRun) note(f string, a ...any) { d.notes = append(d.notes, fmt.Sprintf(f, a...)) }

// failed keeps err, if there is one, and says whether there was: a step
// that fails does not stop the others.
func (d *downRun) failed(err error) bool {
	if err != nil {
		d.errs = append(d.errs, err)
	}
	return err != nil
}

// mapping removes the mapping of r's code r.Codes[i] if Up added it.
func (d *downRun) mapping(r *vipRecord, i int) {
	d.entry(r.withCode(r.Codes[i].DSCP).entry(), &r.Codes[i].AddedMapping)
}

// entry removes the entry e if Up added it (*added), and clears *added
// once it is gone.
func (d *downRun) entry(e maptable.Entry, added *bool) {
	if !*added {
		d.note("kept the mapping %v: it was there before up", e)
		return
	}
	tab, err := d.m.mapTable()
	if d.failed(err) {
		return
	}
	got, err := tab.Get(e.Key())
	switch {
	case errors.Is(err, maptable.ErrNotFound):
		d.note("the mapping %v was gone already", e)
	case d.failed(err):
		return
	case got.VIP != e.VIP:
		d.note("kept %v: it maps to VIP %s now, not to %s as up set it", e.Key(), got.VIP, e.VIP)
	default:
		if err := tab.Delete(e.Key()); err != nil && !errors.Is(err, maptable.ErrNotFound) {
			d.errs = append(d.errs, err)
			return
		}
		d.did("removed the mapping %v", e)
	}
	*added = false
}

// rule removes the map-mode rule of c's family if Up appended it, no other
// dscp-mode VIP of the family remains, and the table has no entry of the
// family left (someone's 'l3dsr rule add' would still need the rule).
func (d *downRun) rule(s *upRecord, c Config, rest []Config) {
	fam := famKey(c)
	rc, ours := s.Rules[fam]
	if !ours || needsRule(rest, fam) {
		return
	}
	tab, err := d.m.mapTable()
	if d.failed(err) {
		return
	}
	entries, err := tab.List()
	if d.failed(err) {
		return
	}
	n := 0
	for _, e := range entries {
		if e.Family == dsrtypes.FamilyOf(c.VIP) {
			n++
		}
	}
	f := xtFamilyOf(c)
	if n > 0 {
		d.note("kept the map-mode rule for %v: the table still has %d %v entries not set up by 'l3dsr realserver'", f, n, f)
		delete(s.Rules, fam)
		return
	}
	if err := d.m.newRules(xtrule.Variant(rc.Variant), s.Ingress).Delete(d.ctx, f); err != nil {
		d.errs = append(d.errs, fmt.Errorf("removing the map-mode rule: %w", err))
		return
	}
	delete(s.Rules, fam)
	d.did("removed the map-mode rule for %v", f)
}

func (d *downRun) clamps(rest []Config) {
	want := clampsOf(rest)
	cur, err := d.m.clamps.List()
	if d.failed(err) {
		return
	}
	if slices.Equal(cur, want) {
		return
	}
	if d.failed(d.m.clamps.Set(want)) {
		return
	}
	d.did("set the MSS clamps (nftables table inet %s) to %s", clampTable, clampList(want))
}

// sysctls restores what no remaining VIP needs, then makes sure the
// remaining VIPs have what they need (without an ipip VIP, dscp mode wants
// conf/all/rp_filter at 2 again, not at the 0 ipip mode left).
func (d *downRun) sysctls(s *upRecord, rest []Config) {
	env, err := d.m.rpEnv(s)
	if d.failed(err) {
		return
	}
	needed := sysctlNeeds(rest, env)
	d.restore(s, needed)
	t := &txn{}
	if err := d.m.ensureSysctls(s, kindsOf(rest...), nil, t); err != nil {
		d.errs = append(d.errs, err)
	}
	d.changes = append(d.changes, t.changes...)
}

func (d *downRun) restore(s *upRecord, needed []sysctlNeed) {
	keys := make([]string, 0, len(s.Sysctls))
	for k := range s.Sysctls {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		ch := s.Sysctls[k]
		if hasKey(needed, k) {
			continue
		}
		cur, err := d.m.sysctl.Get(k)
		switch {
		case d.failed(err):
			continue
		case cur != ch.Set:
			d.note("kept %s = %s: it was changed since up set it to %s", k, cur, ch.Set)
		default:
			if d.failed(d.m.sysctl.Set(k, ch.Old)) {
				continue
			}
			d.did("restored %s = %s", k, ch.Old)
		}
		delete(s.Sysctls, k)
	}
}

func (d *downRun) links(s *upRecord, rest []Config) {
	for _, name := range []string{tunnel4.Name, tunnel6.Name} {
		lc, ok := s.Links[name]
		if !ok || needsLink(rest, name) {
			continue
		}
		l, err := d.m.net.LinkByName(name)
		switch {
		case errors.Is(err, rtnl.ErrNotFound):
			d.note("%s was gone already", name)
		case d.failed(err):
			continue
		case lc.Created:
			if d.failed(d.m.linkDel(l.Index)) {
				continue
			}
			d.did("deleted %s", name)
		case lc.SetUp && l.Up():
			if d.failed(d.m.net.LinkSetUp(l.Index, false)) {
				continue
			}
			d.did("set %s down", name)
		}
		delete(s.Links, name)
	}
}

func (d *downRun) addr(r *vipRecord) {
	if !r.AddedAddr {
		d.note("kept %s on lo: it was there before up", r.VIP)
		return
	}
	lo, err := d.m.lo()
	if d.failed(err) {
		return
	}
	p := r.prefix()
	err = d.m.net.AddrDel(lo.Index, p)
	switch {
	case errors.Is(err, rtnl.ErrNotFound):
		d.note("%s was gone from lo already", p)
	case d.failed(err):
		return
	default:
		d.did("removed %s from lo", p)
	}
	r.AddedAddr = false
}
