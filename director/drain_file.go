package director

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/ipvs"
	"github.com/l3dsr/l3dsr/internal/statedir"
	"golang.org/x/sys/unix"
)

// drainedFile, in the namespace's state directory (statedir.Of), keeps the
// weights of the reals drain drained: one file per network namespace, as
// IPVS is. /run is the right lifetime: after a reboot IPVS is empty, and
// the next apply sets the weights from the file.
const drainedFile = "drained.json"

// drainedPath is the drained file of the calling process's network
// namespace.
func drainedPath() (string, error) {
	dir, err := statedir.Of()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, drainedFile), nil
}

// Drained is the set of drained reals, each with the weight it had when it
// was drained (what undrain sets back). apply and the agent read it so
// that they hold a drained real at weight 0 whatever the file says.
type Drained struct {
	m map[drainKey]drainRecord
}

type drainKey struct {
	k Key
	a netip.Addr
}

// drainRecord is one drained real as drained.json holds it.
type drainRecord struct {
	Protocol string     `json:"protocol"`
	VIP      netip.Addr `json:"vip"`
	Port     uint16     `json:"port"`
	Real     netip.Addr `json:"real"`
	Weight   int32      `json:"weight"`
	Since    time.Time  `json:"since"`
}

type drainedJSON struct {
	Drained []drainRecord `json:"drained"`
}

// Weight is the weight real a of service k had when it was drained, and
// whether it is drained.
func (d Drained) Weight(k Key, a netip.Addr) (int32, bool) {
	r, ok := d.m[drainKey{k, a}]
	return r.Weight, ok
}

func (d *Drained) add(k Key, a netip.Addr, weight int32, now time.Time) {
	if d.m == nil {
		d.m = map[drainKey]drainRecord{}
	}
	d.m[drainKey{k, a}] = drainRecord{Protocol: k.Proto.String(), VIP: k.VIP, Port: k.Port, Real: a, Weight: weight, Since: now.UTC()}
}

func (d *Drained) remove(k Key, a netip.Addr) { delete(d.m, drainKey{k, a}) }

// HoldDrained reads the drained reals of this network namespace (none
// when there is no file) and holds them: no drain or undrain changes them
// until release is called. apply holds them from its plan to its last
// step, so that a drain made meanwhile waits, and is not undone by a plan
// made before it.
func HoldDrained() (Drained, func(), error) {
	path, err := drainedPath()
	if err != nil {
		return Drained{}, nil, err
	}
	return lockedDrained(path, unix.LOCK_SH)
}

// loadDrained reads the drained reals at path; a missing file is none.
// The file is only ever replaced whole (saveDrained), so a read sees one
// version or the other.
func loadDrained(path string) (Drained, error) {
	var f drainedJSON
	err := statedir.ReadJSON(path, &f)
	if errors.Is(err, statedir.ErrCorrupt) {
		return Drained{}, fmt.Errorf("read the drained reals in %w: fix or remove the file (undrain then needs --weight)", err)
	}
	if err != nil {
		return Drained{}, fmt.Errorf("read the drained reals: %w", err)
	}
	d := Drained{m: make(map[drainKey]drainRecord, len(f.Drained))}
	for _, r := range f.Drained {
		p, err := dsrtypes.ParseProto(r.Protocol)
		if err != nil {
			return Drained{}, fmt.Errorf("read the drained reals in %s: real %s of %s: %w", path, r.Real, r.VIP, err)
		}
		d.m[drainKey{Key{VIP: r.VIP, Port: r.Port, Proto: ipvs.Protocol(p)}, r.Real}] = r
	}
	return d, nil
}

// saveDrained replaces the file at path with d: a temporary file, synced,
// renamed over it. No drained real removes the file.
func saveDrained(path string, d Drained) error {
	if len(d.m) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("write the drained reals: %w", err)
		}
		return nil
	}
	f := drainedJSON{Drained: make([]drainRecord, 0, len(d.m))}
	for _, r := range d.m {
		f.Drained = append(f.Drained, r)
	}
	// In key order, so that the file is the same for the same set.
	slices.SortFunc(f.Drained, func(a, b drainRecord) int {
		if c := compareKey(recordKey(a), recordKey(b)); c != 0 {
			return c
		}
		return a.Real.Compare(b.Real)
	})
	data, err := json.MarshalIndent(f, "", "  ")
	if err == nil {
		err = statedir.WriteFile(path, append(data, '\n'))
	}
	if err != nil {
		return fmt.Errorf("write the drained reals: %w", err)
	}
	return nil
}

func recordKey(r drainRecord) Key {
	p, _ := dsrtypes.ParseProto(r.Protocol)
	return Key{VIP: r.VIP, Port: r.Port, Proto: ipvs.Protocol(p)}
}

// lockedDrained takes a lock beside the file at path (how: unix.LOCK_EX,
// so that two drains never lose each other's record; LOCK_SH, to hold the
// set as read) and reads the set; unlock releases the lock.
func lockedDrained(path string, how int) (d Drained, unlock func(), err error) {
	if unlock, err = statedir.Lock(path+".lock", how); err != nil {
		return Drained{}, nil, fmt.Errorf("lock the drained reals: %w", err)
	}
	if d, err = loadDrained(path); err != nil {
		unlock()
		return Drained{}, nil, err
	}
	return d, unlock, nil
}
