package dscpmark

import (
	"errors"
	"fmt"
	"maps"
	"sync"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// marker reads and changes table inet l3dsr of one network namespace.
// Each method that changes something sends one netlink batch, which the
// kernel applies wholly or not at all. A marker serialises its own calls;
// it does not guard against another process changing the table between
// its read and its batch (the kernel then refuses or applies the batch on
// the changed table; nothing outside table inet l3dsr is ever touched).
type marker struct {
	mu   sync.Mutex
	opts []nftables.ConnOption
}

// New returns a marker for the current network namespace. It opens a
// netlink socket per call, so there is nothing to close.
func New() (*marker, error) {
	return newMarker(), nil
}

// newInNetNS returns a marker for the network namespace that fd refers
// to (an open /proc/PID/ns/net or /run/netns/NAME). The caller keeps fd
// open as long as the marker is used.
func newInNetNS(fd int) (*marker, error) {
	if fd <= 0 {
		// fd 0 would silently mean "the current namespace" to netlink.
		return nil, fmt.Errorf("network namespace fd %d: want an open file of /run/netns/NAME or /proc/PID/ns/net", fd)
	}
	return newMarker(nftables.WithNetNSFd(fd)), nil
}

func newMarker(opts ...nftables.ConnOption) *marker {
	return &marker{opts: append(opts, WithBuffers)}
}

func (m *marker) conn() (*nftables.Conn, error) {
	c, err := nftables.New(m.opts...)
	if err != nil {
		return nil, fmt.Errorf("opening an nftables netlink connection: %w", err)
	}
	return c, nil
}

// read returns a connection (fresh: no queued messages) and the table's state.
func (m *marker) read() (*nftables.Conn, *state, error) {
	c, err := m.conn()
	if err != nil {
		return nil, nil, err
	}
	st, err := readState(c)
	if err != nil {
		return nil, nil, err
	}
	return c, st, nil
}

// update reads the table, has edit turn the marks it holds into the marks
// it should hold, and sends the difference as one batch (none when nothing
// differs). The lock spans the read and the batch.
func (m *marker) update(what string, edit func(have map[key]uint8) (want map[key]uint8, err error)) ([]change, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, st, err := m.read()
	if err != nil {
		return nil, err
	}
	want, err := edit(st.marks)
	if err != nil {
		return nil, err
	}
	changes := plan(st, want)
	if err := apply(c, st, changes, what); err != nil {
		return nil, err
	}
	return changes, nil
}

// List returns the marks table inet l3dsr holds, sorted by VIP (IPv4
// first), protocol and port. No table: no marks, no error.
func (m *marker) List() ([]Mark, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, st, err := m.read()
	if err != nil {
		return nil, err
	}
	return marksOf(st.marks), nil
}

// Add adds marks, creating the table, its maps and chains as needed. A
// mark the table holds already is no change (and no error); a mark whose
// VIP, protocol and port the table holds with another code is refused
// (errConflict: use Replace), and then nothing is added.
func (m *marker) Add(marks ...Mark) error {
	if len(marks) == 0 {
		return nil
	}
	add, err := collect(marks)
	if err != nil {
		return err
	}
	_, err = m.update("adding marks", func(have map[key]uint8) (map[key]uint8, error) {
		want := maps.Clone(have)
		for _, mk := range marksOf(add) {
			if old, ok := have[mk.key()]; ok && old != mk.DSCP {
				return nil, fmt.Errorf("adding %s: %s is marked with DSCP %d already, not %d: replace the mark to change its code: %w", mk, mk.key(), old, mk.DSCP, errConflict)
			}
			want[mk.key()] = mk.DSCP
		}
		return want, nil
	})
	return err
}

// Replace changes the code of a mark the table holds (ErrNotFound if it
// holds none for mark's VIP, protocol and port).
func (m *marker) Replace(mark Mark) error {
	if err := mark.Validate(); err != nil {
		return err
	}
	_, err := m.update("replacing "+mark.String(), func(have map[key]uint8) (map[key]uint8, error) {
		if _, ok := have[mark.key()]; !ok {
			return nil, fmt.Errorf("replacing %s: table inet %s has no mark for %s: add it instead: %w", mark, TableName, mark.key(), ErrNotFound)
		}
		want := maps.Clone(have)
		want[mark.key()] = mark.DSCP
		return want, nil
	})
	return err
}

// Del deletes the marks for the VIPs, protocols and ports of marks (their
// DSCP is not looked at). One the table does not hold is an error
// (ErrNotFound), and then nothing is deleted. The chain of a code no
// longer used goes with its last mark; the table stays.
func (m *marker) Del(marks ...Mark) error {
	if len(marks) == 0 {
		return nil
	}
	for _, mk := range marks {
		k := mk
		k.DSCP = 0
		if err := k.Validate(); err != nil {
			return err
		}
	}
	_, err := m.update("deleting marks", func(have map[key]uint8) (map[key]uint8, error) {
		want := maps.Clone(have)
		for _, mk := range marks {
			if _, ok := have[mk.key()]; !ok {
				return nil, fmt.Errorf("deleting the mark for %s: table inet %s has none: %w", mk.key(), TableName, ErrNotFound)
			}
			delete(want, mk.key())
		}
		return want, nil
	})
	return err
}

// Sync makes the table hold exactly marks, touching only what differs,
// and returns what it added and removed (a mark whose code changed is in
// both, with its new and its old code). When nothing differs it sends
// nothing. An empty marks empties the table's maps but keeps the table
// (Remove deletes it).
func (m *marker) Sync(marks []Mark) (added, removed []Mark, err error) {
	want, err := collect(marks)
	if err != nil {
		return nil, nil, err
	}
	changes, err := m.update("syncing marks", func(map[key]uint8) (map[key]uint8, error) { return want, nil })
	if err != nil {
		return nil, nil, err
	}
	for _, ch := range changes {
		switch ch.kind {
		case addElem:
			added = append(added, ch.mark)
		case delElem:
			removed = append(removed, ch.mark)
		}
	}
	return added, removed, nil
}

// Remove deletes table inet l3dsr with everything in it, and nothing
// else. No table is no error.
func (m *marker) Remove() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, err := m.conn()
	if err != nil {
		return err
	}
	if _, err := c.ListTableOfFamily(TableName, nftables.TableFamilyINet); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("looking for table inet %s: %w", TableName, err)
	}
	c.DelTable(table)
	if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("deleting table inet %s: %w", TableName, err)
	}
	return nil
}

// maxElems elements of the largest kind (an IPv6 key and a verdict naming
// a chain, under 100 bytes) fit one netlink attribute, as nft splits them.
const maxElems = 512

// apply queues changes on c and sends them as one batch; no changes, no
// batch.
func apply(c *nftables.Conn, st *state, changes []change, what string) error {
	if len(changes) == 0 {
		return nil
	}
	for i := 0; i < len(changes); {
		ch := changes[i]
		switch ch.kind {
		case addTable:
			c.AddTable(table)
		case addMap:
			if err := c.AddSet(vipMap(ch.name), nil); err != nil {
				return fmt.Errorf("%s: map %s: %w", what, ch.name, err)
			}
		case addChain, resetChain:
			obj := chainObj(ch.name)
			if ch.kind == addChain {
				obj = c.AddChain(obj)
			} else {
				c.FlushChain(obj)
			}
			rules, _ := chainRules(ch.name)
			for _, r := range rules {
				c.AddRule(&nftables.Rule{Table: table, Chain: obj, Exprs: r})
			}
		case addElem, delElem:
			// One message per run of elements of the same map and kind,
			// of at most maxElems: the elements are one attribute, whose
			// length is 16 bits (64 KiB).
			j := i
			var elems []nftables.SetElement
			for ; j < len(changes) && j-i < maxElems && changes[j].kind == ch.kind && changes[j].name == ch.name; j++ {
				mk := changes[j].mark
				e := nftables.SetElement{Key: elemKey(mk.key())}
				if ch.kind == addElem {
					// A deletion names the key only, as nft does.
					e.VerdictData = &expr.Verdict{Kind: expr.VerdictGoto, Chain: dscpChain(mk.VIP.Is4(), mk.DSCP)}
				}
				elems = append(elems, e)
			}
			var err error
			if ch.kind == addElem {
				err = c.SetAddElements(vipMap(ch.name), elems)
			} else {
				err = c.SetDeleteElements(vipMap(ch.name), elems)
			}
			if err != nil {
				return fmt.Errorf("%s: map %s: %w", what, ch.name, err)
			}
			i = j
			continue
		case delChain:
			c.DelChain(chainObj(ch.name))
		}
		i++
	}
	if err := c.Flush(); err != nil {
		hint := ""
		if st.table {
			// Our own objects are checked before the batch, but not the
			// key types of the maps: a hand-made map is the likely cause.
			hint = fmt.Sprintf(" (if table inet %s was made or edited by hand, remove it: it is rebuilt on the next change)", TableName)
		}
		return fmt.Errorf("%s: the kernel refused the batch of %d changes (the first: %s), so table inet %s is as it was%s: %w", what, len(changes), changes[0], TableName, hint, err)
	}
	return nil
}
