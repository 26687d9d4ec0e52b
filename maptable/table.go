package maptable

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/errclass"
)

// Table is the DSCP→VIP table of one network namespace, whatever keeps it.
// Dial opens the xt_DADDR module's. A Table is not safe for concurrent use.
type Table interface {
	Entries
	// List returns every entry with its counters, from one consistent
	// version of the table.
	List() ([]Entry, error)
	// Replace makes entries the whole table (both families) atomically:
	// traffic sees the old table or the new one, never a mix.
	Replace(entries []Entry) error
	// Flush removes every entry of family f, or of both with AnyFamily.
	Flush(f dsrtypes.Family) error
	// Stats returns the table's totals.
	Stats() (Stats, error)
	Close() error
}

// Entries is the part of a Table that edits one entry at a time.
type Entries interface {
	// Add adds e. Without replace an existing entry with e's key is an
	// error matching ErrExists; with replace the entry is created or its
	// VIP replaced (its counters are kept).
	Add(e Entry, replace bool) error
	// Delete removes the entry with key k; a missing one is an error
	// matching ErrNotFound.
	Delete(k Key) error
	// Get returns the entry with key k and its counters; a missing one is
	// an error matching ErrNotFound.
	Get(k Key) (Entry, error)
}

// Key identifies one entry of the table: (family, DSCP, local destination
// address or any).
type Key struct {
	// Family may be left zero when Local is set: it is then Local's.
	// With Local unset (any) it is required.
	Family dsrtypes.Family
	// DSCP is the code, 0..63; ignored with AnyDSCP.
	DSCP dsrtypes.DSCP
	// AnyDSCP makes the key match every code (addr mode): it needs Local.
	AnyDSCP bool
	// Local is the local destination address the entry is limited to; the
	// zero Addr means any.
	Local netip.Addr
}

// Entry is one mapping of the table, with its counters when read back.
type Entry struct {
	// Family may be left zero: it is then the VIP's.
	Family dsrtypes.Family
	// DSCP is the code, 0..63; ignored with AnyDSCP.
	DSCP dsrtypes.DSCP
	// AnyDSCP makes the entry match every code (addr mode): it needs Local.
	AnyDSCP bool
	// Local is the local destination address the entry is limited to; the
	// zero Addr means any.
	Local netip.Addr
	// VIP is the address the destination is rewritten to.
	VIP netip.Addr
	// SetDSCP, when set, is the DSCP the packet leaves the rewrite with
	// (its ECN bits are kept); nil keeps the packet's own.
	SetDSCP *dsrtypes.DSCP
	// Packets and Bytes count the packets rewritten by this entry. They are
	// filled in by Get and List and ignored when sending.
	Packets uint64
	Bytes   uint64
}

// Key returns the key of e.
func (e Entry) Key() Key {
	f := e.Family
	if f == dsrtypes.AnyFamily {
		f = dsrtypes.FamilyOf(e.VIP)
	}
	return Key{Family: f, DSCP: e.DSCP, AnyDSCP: e.AnyDSCP, Local: e.Local}.canonical()
}

// canonical zeroes the ignored code of an any-DSCP key, so that keys
// compare (and index maps) by what the kernel keys on.
func (k Key) canonical() Key {
	if k.AnyDSCP {
		k.DSCP = 0
	}
	return k
}

// ErrBothFamilies is ResolveFamily's answer when a key given without its
// family has an entry in both: the caller has to name one.
var ErrBothFamilies = errors.New("an entry in both families")

// ResolveFamily gives k its family when it has none: the one family in
// which t has an entry for k's code with local address any.
func ResolveFamily(t Entries, k Key) (Key, error) {
	if k.Family != dsrtypes.AnyFamily {
		return k, nil
	}
	var found []dsrtypes.Family
	for _, f := range []dsrtypes.Family{dsrtypes.IPv4, dsrtypes.IPv6} {
		_, err := t.Get(Key{Family: f, DSCP: k.DSCP})
		switch {
		case err == nil:
			found = append(found, f)
		case !errors.Is(err, ErrNotFound):
			return k, err
		}
	}
	switch len(found) {
	case 0:
		return k, fmt.Errorf("no entry for DSCP %d with local address any, in either family", k.DSCP)
	case 2:
		return k, fmt.Errorf("DSCP %d with local address any has %w: give --family 4 or --family 6", k.DSCP, ErrBothFamilies)
	}
	k.Family = found[0]
	return k, nil
}

// Stats are the table's totals in one network namespace.
type Stats struct {
	// Rewritten counts packets given their VIP.
	Rewritten uint64
	// NoEntry counts packets that went through a map-mode rule and found no
	// entry (they pass untouched).
	NoEntry uint64
	// Errors counts packets dropped because they could not be rewritten.
	Errors uint64
	// Entries is the number of entries in the table.
	Entries uint32
	// Generation is bumped by every change of the table.
	Generation uint32
	// Mode is the path that reads the table: rule (also from a module
	// older than the direct path), direct, or bpf.
	Mode Mode
	// Hooks are the families whose direct hook is registered now.
	Hooks Hooks
}

func localString(a netip.Addr) string {
	if !a.IsValid() {
		return "any"
	}
	return a.String()
}

// dscpString is a key's code as the CLI and the JSON take it: "any" for
// an any-DSCP key.
func dscpString(anyDSCP bool, d dsrtypes.DSCP) string {
	if anyDSCP {
		return "any"
	}
	return strconv.Itoa(int(d))
}

func (k Key) String() string {
	return fmt.Sprintf("%v DSCP %s local %s", k.Family, dscpString(k.AnyDSCP, k.DSCP), localString(k.Local))
}

func (e Entry) String() string {
	if e.SetDSCP != nil {
		return fmt.Sprintf("%v -> VIP %s, DSCP set to %d", e.Key(), e.VIP, *e.SetDSCP)
	}
	return fmt.Sprintf("%v -> VIP %s", e.Key(), e.VIP)
}

// errInvalid is matched (errors.Is) by every error about a bad Key or
// Entry, found before anything is sent to the kernel.
var errInvalid = errors.New("invalid map entry")

func invalidf(format string, a ...any) error { return errclass.New(errInvalid, format, a...) }

// checkAddr rejects addresses the table cannot hold: zones and IPv4-mapped
// IPv6 addresses. what names the address in the message.
func checkAddr(what string, a netip.Addr) error {
	if a.Zone() != "" {
		return invalidf("%s %s has a zone (%%%s): the table has no interface, leave the zone out", what, a, a.Zone())
	}
	if a.Is4In6() {
		return invalidf("%s %s is an IPv4-mapped IPv6 address: write it as %s", what, a, a.Unmap())
	}
	return nil
}

// normalize checks k and fills in its family.
func (k Key) normalize() (Key, error) {
	k = k.canonical()
	if k.AnyDSCP && !k.Local.IsValid() {
		return k, invalidf("an any-DSCP entry needs --local: without it, it would capture every packet")
	}
	if k.DSCP > dsrtypes.MaxDSCP {
		return k, invalidf("DSCP %d is out of range: use 0-%d", k.DSCP, dsrtypes.MaxDSCP)
	}
	switch k.Family {
	case dsrtypes.AnyFamily, dsrtypes.IPv4, dsrtypes.IPv6:
	default:
		return k, invalidf("address family %d is not supported: use IPv4 (%d) or IPv6 (%d)", uint8(k.Family), dsrtypes.IPv4, dsrtypes.IPv6)
	}
	if !k.Local.IsValid() {
		if k.Family == dsrtypes.AnyFamily {
			return k, invalidf("the address family of the key DSCP %s local any is missing: give the family (IPv4 or IPv6) or a local address", dscpString(k.AnyDSCP, k.DSCP))
		}
		return k, nil
	}
	if err := checkAddr("local address", k.Local); err != nil {
		return k, err
	}
	if k.Local.IsUnspecified() {
		return k, invalidf("local address %s is unspecified: leave the local address out to match any", k.Local)
	}
	if k.Local.IsMulticast() {
		return k, invalidf("local address %s is a multicast address: use a unicast address of this host", k.Local)
	}
	lf := dsrtypes.FamilyOf(k.Local)
	if k.Family == dsrtypes.AnyFamily {
		k.Family = lf
	} else if k.Family != lf {
		return k, invalidf("local address %s is %v but the key's family is %v: use one family", k.Local, lf, k.Family)
	}
	return k, nil
}

// normalize checks e and fills in its family.
func (e Entry) normalize() (Entry, error) {
	if !e.VIP.IsValid() {
		return e, invalidf("the VIP of DSCP %s is missing: give the address the code stands for", dscpString(e.AnyDSCP, e.DSCP))
	}
	if e.SetDSCP != nil && *e.SetDSCP > dsrtypes.MaxDSCP {
		return e, invalidf("--set-dscp %d is out of range: use 0-%d, the DSCP the packet leaves the rewrite with", *e.SetDSCP, dsrtypes.MaxDSCP)
	}
	if err := checkAddr("VIP", e.VIP); err != nil {
		return e, err
	}
	if e.VIP.IsUnspecified() {
		return e, invalidf("VIP %s is unspecified: give the service address", e.VIP)
	}
	if e.VIP.Is4() && e.VIP.As4()[0] == 0 {
		return e, invalidf("VIP %s is in 0.0.0.0/8, which is not a unicast destination: give the service address", e.VIP)
	}
	if e.VIP.IsMulticast() {
		return e, invalidf("VIP %s is a multicast address: use a unicast VIP", e.VIP)
	}
	if e.VIP == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return e, invalidf("VIP %s is the broadcast address: use a unicast VIP", e.VIP)
	}
	vf := dsrtypes.FamilyOf(e.VIP)
	if e.Family != dsrtypes.AnyFamily && e.Family != vf {
		if e.Family != dsrtypes.IPv4 && e.Family != dsrtypes.IPv6 {
			return e, invalidf("address family %d is not supported: use IPv4 (%d) or IPv6 (%d)", uint8(e.Family), dsrtypes.IPv4, dsrtypes.IPv6)
		}
		return e, invalidf("VIP %s is %v but the entry's family is %v: use one family", e.VIP, vf, e.Family)
	}
	if e.Local.IsValid() && dsrtypes.FamilyOf(e.Local) != vf && checkAddr("local address", e.Local) == nil {
		return e, invalidf("VIP %s is %v but local address %s is %v: use addresses of one family", e.VIP, vf, e.Local, dsrtypes.FamilyOf(e.Local))
	}
	k, err := Key{Family: vf, DSCP: e.DSCP, AnyDSCP: e.AnyDSCP, Local: e.Local}.normalize()
	if err != nil {
		return e, err
	}
	e.Family, e.DSCP = k.Family, k.DSCP
	return e, nil
}

// Validate reports whether k can be sent to the kernel, with an error
// (matching errInvalid) that names the bad value and the fix.
func (k Key) Validate() error {
	_, err := k.normalize()
	return err
}

// Validate reports whether e can be sent to the kernel, with an error
// (matching errInvalid) that names the bad value and the fix.
func (e Entry) Validate() error {
	_, err := e.normalize()
	return err
}

// Snapshot opens a table with dial and returns its entries and totals: what
// a scrape of the metrics reads.
func Snapshot(dial func() (Table, error)) ([]Entry, Stats, error) {
	t, err := dial()
	if err != nil {
		return nil, Stats{}, err
	}
	defer t.Close()
	es, err := t.List()
	if err != nil {
		return nil, Stats{}, err
	}
	st, err := t.Stats()
	return es, st, err
}

// normalizeAll checks the entries of a Replace before anything is sent:
// each valid, no two with one key, no more than a table holds (the
// module's L3DSR_MAX_ENTRIES and the program's L3DSR_BPF_MAX_ENTRIES are
// the same).
func normalizeAll(entries []Entry) ([]Entry, error) {
	if len(entries) > maxEntries {
		return nil, fmt.Errorf("replacing the table: %w", invalidf("%d entries are more than the table holds (%d)", len(entries), maxEntries))
	}
	norm := make([]Entry, len(entries))
	seen := make(map[Key]int, len(entries))
	for i, e := range entries {
		n, err := e.normalize()
		if err != nil {
			return nil, fmt.Errorf("replacing the table: entry %d (%v): %w", i, e, err)
		}
		k := n.Key()
		if j, dup := seen[k]; dup {
			return nil, fmt.Errorf("replacing the table: %w", invalidf("entries %d and %d have the same key (%v): keep one", j, i, k))
		}
		seen[k] = i
		norm[i] = n
	}
	return norm, nil
}
