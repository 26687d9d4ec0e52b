package director

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/l3dsr/l3dsr/internal/ipvs"
	"github.com/l3dsr/l3dsr/internal/statedir"
)

// drainFakes is a dscp service k1 with reals rs1 (weight 100) and rs2, and
// a drained file in a temporary directory.
func drainFakes(t *testing.T) *fakes {
	t.Helper()
	f := newFakes()
	f.d.drained = filepath.Join(t.TempDir(), "run", "drained.json")
	mustAdd(t, f, Service{Key: k1, DSCP: 21})
	for _, r := range []Real{{Addr: rs1, Weight: 100}, {Addr: rs2, Weight: 5}} {
		if _, err := f.d.AddReal(k1, r); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func weightOf(t *testing.T, f *fakes, k Key, i int) int32 {
	t.Helper()
	return added(f, k, i).Weight
}

// added is the ith destination added to k: the fake kernel, as the real
// one, keeps the newest first.
func added(f *fakes, k Key, i int) *ipvs.Destination {
	d := f.ipvs.dests[k]
	return &d[len(d)-1-i]
}

func TestDrainRecordsAndUndrainRestores(t *testing.T) {
	f := drainFakes(t)
	r, err := f.d.Drain(k1, rs1)
	if err != nil {
		t.Fatal(err)
	}
	if w := weightOf(t, f, k1, 0); w != 0 {
		t.Errorf("drained weight: want 0, got %d", w)
	}
	if len(r.Changes) != 2 || !strings.Contains(r.Changes[0], "weight 100 kept in") || !strings.Contains(r.Changes[1], "weight 0") {
		t.Errorf("changes: %q", r.Changes)
	}
	set, err := loadDrained(f.d.drained)
	if err != nil {
		t.Fatal(err)
	}
	if w, ok := set.Weight(k1, rs1); !ok || w != 100 {
		t.Errorf("recorded: want 100, got %d %v", w, ok)
	}
	if _, ok := set.Weight(k1, rs2); ok {
		t.Errorf("rs2 recorded, never drained")
	}

	// Twice: the first weight stays, nothing changes.
	if r, err = f.d.Drain(k1, rs1); err != nil || len(r.Changes) != 0 || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "undrain sets weight 100 back") {
		t.Errorf("second drain: %+v %v", r, err)
	}
	if set, _ = loadDrained(f.d.drained); func() int32 { w, _ := set.Weight(k1, rs1); return w }() != 100 {
		t.Errorf("second drain changed the record")
	}

	r, err = f.d.Undrain(k1, rs1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if w := weightOf(t, f, k1, 0); w != 100 {
		t.Errorf("undrained weight: want 100, got %d", w)
	}
	if _, err := os.Stat(f.d.drained); !os.IsNotExist(err) {
		t.Errorf("the last undrain leaves the file: %v", err)
	}
	if len(r.Changes) != 2 || !strings.Contains(r.Changes[1], "undrained real server 10.1.0.10 of tcp 10.0.0.1:80: weight 100") {
		t.Errorf("undrain changes: %q", r.Changes)
	}
	// Not drained: refused, with the fix; --weight sets it.
	if _, err := f.d.Undrain(k1, rs1, nil); err == nil || !strings.Contains(err.Error(), "is not drained") || !strings.Contains(err.Error(), "--weight N") {
		t.Errorf("undrain of an undrained real: %v", err)
	}
	seven := int32(7)
	if _, err := f.d.Undrain(k1, rs1, &seven); err != nil || weightOf(t, f, k1, 0) != 7 {
		t.Errorf("undrain --weight 7: %v, weight %d", err, weightOf(t, f, k1, 0))
	}
}

func TestDrainMissing(t *testing.T) {
	f := drainFakes(t)
	for _, tc := range []struct {
		k    Key
		a    netip.Addr
		want string
	}{
		{k2, rs1, "service tcp 10.0.0.2:80 does not exist: add it first"},
		{k1, netip.MustParseAddr("10.1.0.99"), "real server 10.1.0.99 is not a real server of tcp 10.0.0.1:80"},
	} {
		if _, err := f.d.Drain(tc.k, tc.a); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("drain %s %s: want %q, got %v", tc.k, tc.a, tc.want, err)
		}
		if _, err := f.d.Undrain(tc.k, tc.a, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("undrain %s %s: want %q, got %v", tc.k, tc.a, tc.want, err)
		}
	}
	if _, err := os.Stat(f.d.drained); !os.IsNotExist(err) {
		t.Errorf("a refused drain wrote the file: %v", err)
	}
}

// A drain whose weight cannot be set forgets its record: nothing says a
// real is drained that is not.
func TestDrainFailureForgets(t *testing.T) {
	f := drainFakes(t)
	f.ipvs.fail["UpdateDestination"] = errors.New("boom")
	if _, err := f.d.Drain(k1, rs1); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("want the IPVS error, got %v", err)
	}
	set, err := loadDrained(f.d.drained)
	if _, ok := set.Weight(k1, rs1); ok || err != nil {
		t.Errorf("record kept after a failed drain (%v)", err)
	}
}

// Undrain of a real that is gone forgets its record, the one thing left
// to do.
func TestUndrainGoneReal(t *testing.T) {
	f := drainFakes(t)
	if _, err := f.d.Drain(k1, rs1); err != nil {
		t.Fatal(err)
	}
	if _, err := f.d.DelReal(k1, rs1); err != nil {
		t.Fatal(err)
	}
	r, err := f.d.Undrain(k1, rs1, nil)
	if err != nil || len(r.Changes) != 1 || !strings.Contains(r.Changes[0], "forgot the drain") {
		t.Fatalf("undrain of a gone real: %+v %v", r, err)
	}
	if set, _ := loadDrained(f.d.drained); len(set.m) != 0 {
		t.Errorf("record kept: %v", set.m)
	}
}

func TestWaitDrained(t *testing.T) {
	f := drainFakes(t)
	added(f, k1, 0).ActiveConns = 3
	f.ipvs.drainBy = 1
	var seen []uint32
	err := WaitDrained(context.Background(), f.d, k1, rs1, time.Millisecond, func(n uint32) { seen = append(seen, n) })
	if err != nil || !slices.Equal(seen, []uint32{3, 2, 1, 0}) {
		t.Errorf("wait: want counts 3 2 1 0 and no error, got %v %v", seen, err)
	}

	added(f, k1, 0).ActiveConns, f.ipvs.drainBy = 4, 0
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	seen = nil
	err = WaitDrained(ctx, f.d, k1, rs1, time.Millisecond, func(n uint32) { seen = append(seen, n) })
	if err == nil || !strings.Contains(err.Error(), "real server 10.1.0.10 of tcp 10.0.0.1:80 still has 4 active connection(s) after") || !slices.Equal(seen, []uint32{4}) {
		t.Errorf("timeout: got %v, progress %v", err, seen)
	}
	if err := WaitDrained(context.Background(), f.d, k2, rs1, time.Millisecond, func(uint32) {}); err == nil || !strings.Contains(err.Error(), "service tcp 10.0.0.2:80 does not exist") {
		t.Errorf("wait on no service: %v", err)
	}
}

func TestLoadDrainedBadFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "drained.json")
	if err := os.WriteFile(p, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadDrained(p); err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "fix or remove the file") {
		t.Errorf("bad file: %v", err)
	}
	if d, err := loadDrained(filepath.Join(t.TempDir(), "none.json")); err != nil || len(d.m) != 0 {
		t.Errorf("missing file: want none, got %v %v", d, err)
	}
}

// A drain waits while an apply holds the drained reals (HoldDrained), so
// that a plan made before it cannot undo it; it goes on once released.
func TestDrainWaitsForHold(t *testing.T) {
	f := drainFakes(t)
	t.Setenv(statedir.Env, t.TempDir())
	p, err := drainedPath()
	if err != nil {
		t.Fatal(err)
	}
	f.d.drained = p
	set, release, err := HoldDrained()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := set.Weight(k1, rs1); ok {
		t.Fatal("drained before any drain")
	}
	done := make(chan error)
	go func() { _, err := f.d.Drain(k1, rs1); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("drain went through a hold: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	set, release, err = HoldDrained()
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if w, ok := set.Weight(k1, rs1); !ok || w != 100 {
		t.Errorf("after the hold: want 100 drained, got %d %v", w, ok)
	}
}
