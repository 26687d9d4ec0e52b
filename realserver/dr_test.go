package realserver

import (
	"net/netip"
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/xtrule"
)

// Until the real server runs mode dr, it refuses it before touching anything.
func TestModeDRNotYet(t *testing.T) {
	f := newFakeSys()
	m := f.manager(t)
	before := f.snap()
	want := "VIP 10.0.0.1: mode dr (L2 DSR) is not supported on the real server yet: use dscp or ipip"
	_, err := m.Up(ctx, Config{VIP: netip.MustParseAddr("10.0.0.1"), Mode: dsrtypes.ModeDR}, xtrule.Default)
	if err == nil || err.Error() != want {
		t.Fatalf("Up: got %v, want %q", err, want)
	}
	sameSnap(t, "Up in mode dr", before, f.snap())
}
