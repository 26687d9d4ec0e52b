package realserver

import (
	"context"
	"net/netip"
	"slices"

	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/maptable"
)

// Batch is a set of Up, Down and DownCode calls made against one read of
// the running state, for an apply of many VIPs. Each call on its own reads
// and writes the whole state file, lists the addresses and the DADDR rules
// (iptables-save, a process per family) and sends its own table request,
// so n calls would cost O(n) processes and O(n²) bytes of state. A batch
// takes the state's lock at Begin and holds it until Close, reads each
// piece of the running state once and keeps it up to date as its calls
// change it, adds and removes addresses as it goes, and holds the table
// and the state file back for Commit: one replace of the table (only if
// it changed), one write of the file. The calls keep their checks and
// their own undo on failure. A Commit that fails leaves the table as it
// was; the caller takes its calls back through the batch and commits again
// (config's apply does). A batch assumes that nobody changes the table,
// the addresses or the rules meanwhile (except through the lock, which
// other l3dsr processes wait for), and is not safe for concurrent use.
type Batch struct {
	m      Manager
	mem    *memState
	tab    *memTable
	unlock func()
}

// memState is the state file of a batch, in memory until Commit.
type memState struct {
	st    upRecord
	dirty bool
	// ix indexes st; nil until a call needs it, or after a change it
	// could not follow.
	ix *stateIndex
}

// stateIndex is what the calls of a batch look up in its state, so that a
// call costs the same however many VIPs the batch has set up: a walk of
// them all per call would make a batch of n calls cost O(n²).
type stateIndex struct {
	at map[netip.Addr]int // the index of each VIP's record
	// keys are the map keys of the dscp-mode VIPs' codes, with their VIP.
	keys  map[maptable.Key]netip.Addr
	kinds vipKinds
	// kindsStale: a VIP went, so kinds may name a kind no VIP is of.
	kindsStale bool
}

// Begin starts a batch: it takes the lock of the state (released by
// Close) and reads the state file.
func (m *Manager) Begin() (*Batch, error) {
	st, unlock, err := m.lockedState()
	if err != nil {
		return nil, err
	}
	b := &Batch{m: *m, mem: &memState{st: st}, unlock: unlock}
	b.m.mem = b.mem
	b.m.net = &cachedNet{netAPI: m.net}
	b.m.sysctl = &cachedSysctl{sysctlAPI: m.sysctl, v: map[string]string{}}
	b.m.clamps = &cachedClamps{clamper: m.clamps}
	rules := map[string]*cachedRules{}
	b.m.newRules = func(v xtrule.Variant, ing Ingress) Rules {
		k := string(v) + " " + ing.String()
		if rules[k] == nil {
			rules[k] = &cachedRules{Rules: m.newRules(v, ing), known: map[xtrule.Family]bool{}, limited: len(ing) > 0}
		}
		return rules[k]
	}
	if m.readRules != nil {
		b.m.readRules = (&cachedReader{read0: m.readRules}).read
	}
	// The parent keeps the table's connection (and closes it); the batch
	// reads and changes it in memory.
	b.m.dialTable = func() (Table, error) {
		if m.table == nil {
			t, err := m.dialTable()
			if err != nil {
				return nil, err
			}
			m.table = t
		}
		b.tab = &memTable{t: m.table}
		return b.tab, nil
	}
	b.m.table, b.m.close = nil, nil
	return b, nil
}

// Up is Manager.Up within the batch.
func (b *Batch) Up(ctx context.Context, c Config, v xtrule.Variant) (Applied, error) {
	return b.m.Up(ctx, c, v)
}

// SetMapPath is Manager.SetMapPath within the batch.
func (b *Batch) SetMapPath(ctx context.Context, want maptable.Mode, v xtrule.Variant) (Applied, error) {
	return b.m.SetMapPath(ctx, want, v)
}

// Down is Manager.Down within the batch.
func (b *Batch) Down(ctx context.Context, vip netip.Addr) (Applied, error) {
	return b.m.Down(ctx, vip)
}

// DownCode is Manager.DownCode within the batch.
func (b *Batch) DownCode(ctx context.Context, vip netip.Addr, d uint8) (Applied, error) {
	return b.m.DownCode(ctx, vip, d)
}

// Show is Manager.Show of the batch's view: a plan made from it and
// carried out by the batch reads the running state once.
func (b *Batch) Show(ctx context.Context, v xtrule.Variant) (Report, error) {
	return b.m.Show(ctx, v)
}

// Commit sends what the batch holds back: the table as one replace, if it
// changed, then the state file. It may be called again after more calls.
func (b *Batch) Commit() error {
	if b.tab != nil {
		if err := b.tab.commit(); err != nil {
			return err
		}
	}
	if b.mem.dirty {
		if err := saveState(b.m.stateDir, b.mem.st); err != nil {
			return err
		}
		b.mem.dirty = false
	}
	return nil
}

// Close releases the lock; what was not committed is not sent.
func (b *Batch) Close() error {
	if b.unlock != nil {
		b.unlock()
		b.unlock = nil
	}
	return nil
}

func (ix *stateIndex) add(i int, r *vipRecord) {
	ix.at[r.VIP] = i
	ix.kinds = ix.kinds.with(r.Config)
	for _, e := range r.entries() {
		ix.keys[e.Key()] = r.VIP
	}
}

// index is the batch's index of its state, nil outside a batch.
func (m *Manager) index() *stateIndex {
	if m.mem == nil {
		return nil
	}
	if m.mem.ix == nil {
		st := &m.mem.st
		ix := &stateIndex{at: make(map[netip.Addr]int, len(st.VIPs)), keys: make(map[maptable.Key]netip.Addr, len(st.VIPs))}
		for i := range st.VIPs {
			ix.add(i, &st.VIPs[i])
		}
		m.mem.ix = ix
	}
	return m.mem.ix
}

// find is st.vip: the record of vip in st and its index, or -1 and nil.
func (m *Manager) find(st *upRecord, vip netip.Addr) (int, *vipRecord) {
	if ix := m.index(); ix != nil {
		if i, ok := ix.at[vip]; ok {
			return i, &st.VIPs[i]
		}
		return -1, nil
	}
	return st.vip(Config{VIP: vip})
}

// clash returns the VIP of st that has the map key c needs, if it is not
// c's own (clashes).
func (m *Manager) clash(st *upRecord, c Config) (netip.Addr, bool) {
	if ix := m.index(); ix != nil {
		if !c.keyed() {
			return netip.Addr{}, false
		}
		o, ok := ix.keys[c.entry().Key()]
		return o, ok && o != c.VIP
	}
	for _, o := range st.VIPs {
		if o.VIP != c.VIP && clashes(o.Config, c) {
			return o.VIP, true
		}
		for _, d := range o.Codes {
			if clashes(o.withCode(d.DSCP), c) {
				return o.VIP, true
			}
		}
	}
	return netip.Addr{}, false
}

// kinds is the vipKinds of s's VIPs, r among them.
func (m *Manager) kinds(s *upRecord, r Config) vipKinds {
	ix := m.index()
	if ix == nil {
		return kindsOf(configs(s.VIPs)...)
	}
	if ix.kindsStale {
		ix.kinds, ix.kindsStale = kindsOf(configs(m.mem.st.VIPs)...), false
	}
	return ix.kinds.with(r)
}

// indexUp follows an Up that set up r as the record i of the state.
func (m *Manager) indexUp(i int, r *vipRecord) {
	if m.mem != nil && m.mem.ix != nil {
		m.mem.ix.add(i, r)
	}
}

// indexDown follows a Down that takes the record i, r, out of the state.
// Taken from the end (as a batch taken back is), the index stays.
func (m *Manager) indexDown(i int, r *vipRecord) {
	if m.mem == nil || m.mem.ix == nil {
		return
	}
	ix := m.mem.ix
	if i != len(m.mem.st.VIPs)-1 {
		m.mem.ix = nil
		return
	}
	delete(ix.at, r.VIP)
	for _, c := range r.Codes {
		m.indexCodeDown(r.withCode(c.DSCP))
	}
	if r.keyed() {
		m.indexCodeDown(r.Config)
	}
	ix.kindsStale = true
}

// indexCodeDown follows the removal of the code of c.
func (m *Manager) indexCodeDown(c Config) {
	if m.mem == nil || m.mem.ix == nil {
		return
	}
	if k := c.entry().Key(); m.mem.ix.keys[k] == c.VIP {
		delete(m.mem.ix.keys, k)
	}
}

// load is the state: the batch's, or the file's.
func (m *Manager) load() (upRecord, error) {
	if m.mem != nil {
		return m.mem.st, nil
	}
	return loadState(m.stateDir)
}

// working is the state a call changes, from st: a copy, or in a batch st
// itself with its maps copied. A call changes one record, which restore
// puts back when it fails (and before its Commit a batch's state is no
// file's): a copy of every record per call would make a batch of n calls
// cost O(n²).
func (m *Manager) working(st upRecord, idx int) (next upRecord, restore func()) {
	if m.mem == nil {
		return st.clone(), func() {}
	}
	next = st.cloneMaps()
	if idx < 0 {
		return next, func() {}
	}
	saved := st.VIPs[idx]
	next.VIPs[idx].Codes = slices.Clone(saved.Codes)
	return next, func() { st.VIPs[idx] = saved }
}

// save records s: in the batch until its Commit, or in the file.
func (m *Manager) save(s upRecord) error {
	if m.mem != nil {
		m.mem.st, m.mem.dirty = s, true
		return nil
	}
	return saveState(m.stateDir, s)
}
