package maptable

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/errclass"
	"github.com/l3dsr/l3dsr/internal/xtrule"
)

// The tc-BPF backend's encoding (bpf/l3dsr.h): families 4 and 6, and 255
// for "any DSCP" and "keep the packet's DSCP".
const (
	bpfFamily4 = 4
	bpfFamily6 = 6
	bpfAnyDSCP = 255
	bpfKeep    = 255
)

// bpfKey, bpfValue, bpfItem and bpfTotals have the fields of bpfdsr's Key,
// Value, Item and Totals, so that bpf_dial.go converts them with a type
// conversion and this file's logic is tested without loading a program.
type bpfKey struct {
	Family uint8
	DSCP   uint8
	Local  netip.Addr
}

type bpfValue struct {
	VIP            netip.Addr
	SetDSCP        uint8
	Packets, Bytes uint64
}

type bpfItem struct {
	Key   bpfKey
	Value bpfValue
}

type bpfTotals struct {
	Rewritten, NoEntry, Errors, Skipped uint64
	Entries, Generation                 uint32
}

// bpfMaps is the part of *bpfdsr.Table a Table needs.
type bpfMaps interface {
	Get(k bpfKey) (bpfValue, error)
	Put(k bpfKey, v bpfValue, replace bool) error
	Delete(k bpfKey) error
	List() ([]bpfItem, error)
	Replace(items []bpfItem) error
	Flush(family uint8) error
	Totals() (bpfTotals, error)
	Close() error
}

// bpfTable is the table as the tc-BPF backend keeps it: the pinned maps of
// this network namespace. It checks entries as the module's table does and
// says "not found" and "exists" in the module's words, so that the CLI's
// output does not depend on the backend.
type bpfTable struct {
	m bpfMaps
}

// The module's words for a missing and an existing key (kmod/daddr_genl.c
// and the errno's text after it, as nl.KernelError prints them).
var (
	errBPFNotFound = errclass.New(ErrNotFound, "no entry with this key (%s)", ErrNotFound)
	errBPFExists   = errclass.New(ErrExists, "an entry with this key exists: use replace (NLM_F_REPLACE) to change its VIP or DSCP_SET (file exists)")
)

// bpfError maps bpfdsr's sentinels to this package's.
func bpfError(err error) error {
	switch {
	case errors.Is(err, bpfErrNotFound):
		return errBPFNotFound
	case errors.Is(err, bpfErrExists):
		return errBPFExists
	}
	return err
}

func bpfFamily(f dsrtypes.Family) uint8 {
	if f == dsrtypes.IPv6 {
		return bpfFamily6
	}
	return bpfFamily4
}

// toBPFKey encodes a normalized key.
func toBPFKey(k Key) bpfKey {
	bk := bpfKey{Family: bpfFamily(k.Family), DSCP: uint8(k.DSCP)}
	if k.AnyDSCP {
		bk.DSCP = bpfAnyDSCP
	}
	if k.Local.IsValid() {
		bk.Local = k.Local
	}
	return bk
}

// toBPFValue encodes a normalized entry's value.
func toBPFValue(e Entry) bpfValue {
	v := bpfValue{VIP: e.VIP, SetDSCP: bpfKeep}
	if e.SetDSCP != nil {
		v.SetDSCP = uint8(*e.SetDSCP)
	}
	return v
}

// fromBPF decodes one item of the map.
func fromBPF(it bpfItem) Entry {
	e := Entry{Family: dsrtypes.IPv4, DSCP: dsrtypes.DSCP(it.Key.DSCP), Local: it.Key.Local,
		VIP: it.Value.VIP, Packets: it.Value.Packets, Bytes: it.Value.Bytes}
	if it.Key.Family == bpfFamily6 {
		e.Family = dsrtypes.IPv6
	}
	if it.Key.DSCP == bpfAnyDSCP {
		e.AnyDSCP, e.DSCP = true, 0
	}
	if it.Value.SetDSCP != bpfKeep {
		d := dsrtypes.DSCP(it.Value.SetDSCP)
		e.SetDSCP = &d
	}
	return e
}

// Close closes the maps.
func (t *bpfTable) Close() error { return t.m.Close() }

// Add adds e; see Entries.
func (t *bpfTable) Add(e Entry, replace bool) error {
	e, err := e.normalize()
	if err != nil {
		return fmt.Errorf("adding %v: %w", e, err)
	}
	if err := t.m.Put(toBPFKey(e.Key()), toBPFValue(e), replace); err != nil {
		return fmt.Errorf("adding %v: %w", e, bpfError(err))
	}
	return nil
}

// Delete removes the entry with key k; see Entries.
func (t *bpfTable) Delete(k Key) error {
	k, err := k.normalize()
	if err != nil {
		return fmt.Errorf("deleting %v: %w", k, err)
	}
	if err := t.m.Delete(toBPFKey(k)); err != nil {
		return fmt.Errorf("deleting %v: %w", k, bpfError(err))
	}
	return nil
}

// Get returns the entry with key k; see Entries.
func (t *bpfTable) Get(k Key) (Entry, error) {
	k, err := k.normalize()
	if err != nil {
		return Entry{}, fmt.Errorf("getting %v: %w", k, err)
	}
	bk := toBPFKey(k)
	v, err := t.m.Get(bk)
	if err != nil {
		return Entry{}, fmt.Errorf("getting %v: %w", k, bpfError(err))
	}
	return fromBPF(bpfItem{Key: bk, Value: v}), nil
}

// List returns every entry; bpfdsr reads them from the one table in use.
func (t *bpfTable) List() ([]Entry, error) {
	items, err := t.m.List()
	if err != nil {
		return nil, fmt.Errorf("listing the table: %w", err)
	}
	out := make([]Entry, len(items))
	for i, it := range items {
		out[i] = fromBPF(it)
	}
	return out, nil
}

// Replace checks every entry first (nothing changes if one is invalid or
// two share a key), then has bpfdsr swap in a new table.
func (t *bpfTable) Replace(entries []Entry) error {
	norm, err := normalizeAll(entries)
	if err != nil {
		return err
	}
	items := make([]bpfItem, len(norm))
	for i, n := range norm {
		items[i] = bpfItem{Key: toBPFKey(n.Key()), Value: toBPFValue(n)}
	}
	if err := t.m.Replace(items); err != nil {
		return fmt.Errorf("replacing the table: committing %d entries: %w", len(entries), err)
	}
	return nil
}

// Flush removes every entry of family f, or of both with AnyFamily.
func (t *bpfTable) Flush(f dsrtypes.Family) error {
	var bf uint8
	switch f {
	case dsrtypes.AnyFamily:
	case dsrtypes.IPv4, dsrtypes.IPv6:
		bf = bpfFamily(f)
	default:
		return fmt.Errorf("flushing: %w", invalidf("address family %d is not supported: use IPv4 (%d), IPv6 (%d) or all (0)", uint8(f), dsrtypes.IPv4, dsrtypes.IPv6))
	}
	if err := t.m.Flush(bf); err != nil {
		return fmt.Errorf("flushing %v: %w", f, err)
	}
	return nil
}

// Stats returns the program's totals. Skipped (packets the program did not
// look up) has no counterpart in the module's statistics.
func (t *bpfTable) Stats() (Stats, error) {
	tot, err := t.m.Totals()
	if err != nil {
		return Stats{}, fmt.Errorf("reading the statistics: %w", err)
	}
	return Stats{Rewritten: tot.Rewritten, NoEntry: tot.NoEntry, Errors: tot.Errors,
		Entries: tot.Entries, Generation: tot.Generation, Mode: modeBPF}, nil
}

// rulesFor is rules, or none for the tc-BPF backend and for a module in
// direct mode: the program sees every packet of the interfaces it is
// attached to, the module's hook every packet of a family with entries, and
// an iptables map-mode rule would only walk the raw table for nothing.
func rulesFor(t any, rules Rules) (Rules, error) {
	switch t := t.(type) {
	case *bpfTable:
		return noMapRule{}, nil
	case interface{ Stats() (Stats, error) }:
		st, err := t.Stats()
		if err != nil {
			return nil, fmt.Errorf("reading the map path: %w", err)
		}
		if st.Mode == ModeDirect {
			return noMapRule{}, nil
		}
	}
	return rules, nil
}

type noMapRule struct{}

func (noMapRule) Ensure(context.Context, xtrule.Family) (bool, error) { return false, nil }
func (noMapRule) Delete(context.Context, xtrule.Family) error         { return nil }
