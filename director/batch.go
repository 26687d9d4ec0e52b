package director

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/l3dsr/l3dsr/internal/dscpmark"
	"github.com/l3dsr/l3dsr/internal/ipvs"
	"github.com/l3dsr/l3dsr/internal/undo"
)

// Batch is a set of changes made against one read of the running state.
// Reading IPVS costs a request per service, so a change that read it
// afresh would make an apply of n services cost O(n²) requests. A batch
// reads once (at its first change), keeps its view up to date as each
// change succeeds, sends IPVS and address requests as it goes, and holds
// the DSCP mark changes back, to send them as one nftables transaction at
// Commit, or before a real is added to a service whose mark is not in
// place (AddReal). A change that fails undoes its own steps; a Commit that
// fails sends nothing, and the caller undoes the batch's changes through
// the batch and commits again (config's apply does). A batch is not safe
// for concurrent use, and it assumes nobody else changes IPVS or the
// marks meanwhile.
type Batch struct {
	d *Director
	// eager: the batch of one command checks DSCP conflicts before each
	// change, so that a refused one touches nothing; a larger batch checks
	// the whole intended state once, at Commit.
	eager bool
	// only, in a batch of one change to a real, narrows the view to that
	// real's service: such a change needs no other, and costs the same
	// few requests however many services run (what an agent's weight
	// changes need). Nothing but that change may run in the batch.
	only   *Key
	loaded bool
	svcs   []Service
	at     map[Key]int
	// byVIP are the services of each VIP, and managed counts l3dsr's
	// IPv4 and IPv6 services: what a change asks of the others without
	// walking them all.
	byVIP   map[netip.Addr][]Key
	managed [2]int
	// had are the marks the kernel holds, marks those it will hold after
	// Commit; both keyed by the mark without its code (markKey).
	had, marks map[dscpmark.Mark]dscpmark.Mark
	// local are the host's addresses (localAddrs), read at the first
	// change that needs them and kept up to date.
	local map[netip.Addr]bool
	// sysctlsOK are the settings found as they should be.
	sysctlsOK map[setting]bool
	// u undoes what the changes did, for a one-command batch whose
	// Commit fails.
	u undo.Stack
}

// Begin starts a batch. Nothing is read until its first change.
func (d *Director) Begin() *Batch { return &Batch{d: d} }

var _ Changer = (*Batch)(nil)

func markKey(m dscpmark.Mark) dscpmark.Mark { m.DSCP = 0; return m }

// load reads the running state the first time a change needs it.
func (b *Batch) load() error {
	if b.loaded {
		return nil
	}
	svcs, marks, err := b.d.readSome(b.only)
	if err != nil {
		return err
	}
	b.svcs, b.at, b.byVIP = nil, make(map[Key]int, len(svcs)), map[netip.Addr][]Key{}
	for _, s := range svcs {
		b.added(s)
	}
	b.had = make(map[dscpmark.Mark]dscpmark.Mark, len(marks))
	for _, m := range marks {
		b.had[markKey(m)] = m
	}
	b.marks, b.loaded = maps.Clone(b.had), true
	return nil
}

// Show is Director.Show of the batch's view: a plan made from it and
// carried out by the batch costs one read of the running state, not two.
func (b *Batch) Show() (Status, error) {
	if err := b.load(); err != nil {
		return Status{}, err
	}
	svcs, marks := slices.Clone(b.svcs), markList(b.marks)
	slices.SortFunc(svcs, func(a, b Service) int { return compareKey(a.Key, b.Key) })
	slices.SortFunc(marks, func(a, b dscpmark.Mark) int { return compareKey(keyOf(a), keyOf(b)) })
	return b.d.status(svcs, marks), nil
}

// localAddrs reads the host's addresses once.
func (b *Batch) localAddrs() (map[netip.Addr]bool, error) {
	if b.local == nil {
		local, err := b.d.host.localAddrs()
		if err != nil {
			return nil, err
		}
		if local == nil {
			local = map[netip.Addr]bool{} // a change writes to it
		}
		b.local = local
	}
	return b.local, nil
}

// existing checks k, loads the state and finds service k in it; an error
// names k, with fix after it, when k is not there.
func (b *Batch) existing(k Key, fix string) (int, error) {
	if err := checkKey(k); err != nil {
		return 0, err
	}
	if err := b.load(); err != nil {
		return 0, err
	}
	i, ok := b.at[k]
	if !ok {
		return 0, fmt.Errorf("service %s does not exist%s", k, fix)
	}
	return i, nil
}

func (b *Batch) added(s Service) {
	b.at[s.Key] = len(b.svcs)
	b.svcs = append(b.svcs, s)
	b.byVIP[s.VIP] = append(b.byVIP[s.VIP], s.Key)
	if s.Managed {
		b.managed[family(s.VIP)]++
	}
}

func (b *Batch) removed(i int) {
	s, last := b.svcs[i], len(b.svcs)-1
	b.svcs[i] = b.svcs[last]
	b.at[b.svcs[i].Key] = i
	b.svcs = b.svcs[:last]
	delete(b.at, s.Key)
	if b.byVIP[s.VIP] = slices.DeleteFunc(b.byVIP[s.VIP], func(k Key) bool { return k == s.Key }); len(b.byVIP[s.VIP]) == 0 {
		delete(b.byVIP, s.VIP)
	}
	if s.Managed {
		b.managed[family(s.VIP)]--
	}
}

// family indexes Batch.managed: 0 for IPv4, 1 for IPv6.
func family(a netip.Addr) int {
	if a.Is4() {
		return 0
	}
	return 1
}

// Commit sends the batch's mark changes as one nftables transaction (none
// when the marks are as they were), after the DSCP conflict check over the
// whole intended state. When it fails, the kernel's marks are as they were
// and the batch's IPVS and address changes are in place: undo them through
// the batch, and Commit again (the marks sent before a real was added, see
// AddReal, go back then).
func (b *Batch) Commit() error {
	if !b.loaded {
		return nil
	}
	if !b.eager {
		if err := checkDSCPConflicts(b.svcs); err != nil {
			return err
		}
	}
	return b.send()
}

// pending says whether service k's mark is yet to be sent.
func (b *Batch) pending(k Key) bool {
	mk := markKey(markOf(Service{Key: k}))
	m, ok := b.marks[mk]
	old, had := b.had[mk]
	return ok != had || m != old
}

// send sends the mark changes not sent yet, as one transaction.
func (b *Batch) send() error {
	var add, del, repl []dscpmark.Mark
	for k, m := range b.marks {
		if old, ok := b.had[k]; !ok {
			add = append(add, m)
		} else if old != m {
			repl = append(repl, m)
		}
	}
	for k, m := range b.had {
		if _, ok := b.marks[k]; !ok {
			del = append(del, m)
		}
	}
	for _, ms := range [][]dscpmark.Mark{add, del, repl} {
		// In key order, so that an error names the same marks each time.
		slices.SortFunc(ms, func(a, b dscpmark.Mark) int { return compareKey(keyOf(a), keyOf(b)) })
	}
	var err error
	switch {
	case len(add)+len(del)+len(repl) == 0:
		return nil
	case len(b.marks) == 0:
		// The last mark takes the table with it: a director with no L3 DSR
		// service keeps no hook of ours in its packet path.
		if err = b.d.marks.Remove(); err != nil {
			err = fmt.Errorf("remove the empty nft table inet %s: %w", dscpmark.TableName, err)
		}
	case len(del)+len(repl) == 0:
		if err = b.d.marks.Add(add...); err != nil {
			err = fmt.Errorf("%s: %w", markWhat("add DSCP mark", add), err)
		}
	case len(add)+len(repl) == 0:
		if err = b.d.marks.Del(del...); err != nil {
			err = fmt.Errorf("%s: %w", markWhat("remove DSCP mark", del), err)
		}
	case len(add)+len(del) == 0 && len(repl) == 1:
		if err = b.d.marks.Replace(repl[0]); err != nil {
			err = fmt.Errorf("change DSCP mark of %s to %d: %w", keyOf(repl[0]), repl[0].DSCP, err)
		}
	default:
		if _, _, err = b.d.marks.Sync(markList(b.marks)); err != nil {
			err = fmt.Errorf("set the DSCP marks (%d added, %d changed, %d removed): %w", len(add), len(repl), len(del), err)
		}
	}
	if err != nil {
		return err
	}
	b.had = maps.Clone(b.marks)
	return nil
}

func markList(ms map[dscpmark.Mark]dscpmark.Mark) []dscpmark.Mark {
	out := make([]dscpmark.Mark, 0, len(ms))
	for _, m := range ms {
		out = append(out, m)
	}
	return out
}

func keyOf(m dscpmark.Mark) Key {
	return Key{VIP: m.VIP, Port: m.Port, Proto: ipvs.Protocol(m.Proto)}
}

// markWhat names the marks a failed commit carried: the first few, and how
// many more.
func markWhat(verb string, ms []dscpmark.Mark) string {
	var names []string
	for _, m := range ms[:min(3, len(ms))] {
		names = append(names, fmt.Sprintf("%d for %s", m.DSCP, keyOf(m)))
	}
	out := verb + " " + strings.Join(names, ", ")
	if len(ms) > 3 {
		out += fmt.Sprintf(" and %d more", len(ms)-3)
	}
	return out
}

// one runs a single command's change as a batch of one, undoing it when
// its marks cannot be committed.
func (d *Director) one(change func(b *Batch) (Result, error)) (Result, error) {
	b := d.Begin()
	b.eager = true
	res, err := change(b)
	// A change that failed undid itself, or (a VIP left on lo) stopped
	// after its IPVS part: the commit then sends that part's marks.
	if cerr := b.Commit(); cerr != nil {
		if err != nil {
			return res, errors.Join(err, cerr)
		}
		return Result{}, rollback(&b.u, cerr)
	}
	return res, err
}

// AddService: see Batch.AddService.
func (d *Director) AddService(s Service) (Result, error) {
	return d.one(func(b *Batch) (Result, error) { return b.AddService(s) })
}

// EditService: see Batch.EditService.
func (d *Director) EditService(k Key, e ServiceEdit) (Result, error) {
	return d.one(func(b *Batch) (Result, error) { return b.EditService(k, e) })
}

// DelService: see Batch.DelService.
func (d *Director) DelService(k Key) (Result, error) {
	return d.one(func(b *Batch) (Result, error) { return b.DelService(k) })
}

// oneReal runs a change to a real of service k, reading k's reals only.
func (d *Director) oneReal(k Key, change func(b *Batch) (Result, error)) (Result, error) {
	return d.one(func(b *Batch) (Result, error) {
		b.only = &k
		return change(b)
	})
}

// AddReal: see Batch.AddReal.
func (d *Director) AddReal(k Key, r Real) (Result, error) {
	return d.one(func(b *Batch) (Result, error) { return b.AddReal(k, r) })
}

// EditReal: see Batch.EditReal.
func (d *Director) EditReal(k Key, a netip.Addr, e RealEdit) (Result, error) {
	return d.oneReal(k, func(b *Batch) (Result, error) { return b.EditReal(k, a, e) })
}

// DelReal: see Batch.DelReal.
func (d *Director) DelReal(k Key, a netip.Addr) (Result, error) {
	return d.oneReal(k, func(b *Batch) (Result, error) { return b.DelReal(k, a) })
}
