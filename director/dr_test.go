package director

import (
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
)

// Until the director runs mode dr, it refuses it before touching anything.
func TestModeDRNotYet(t *testing.T) {
	f := newFakes()
	want := "service tcp 10.0.0.1:80: mode dr (L2 DSR) is not supported on the director yet: use dscp or ipip"
	s := Service{Key: k1, Mode: dsrtypes.ModeDR, Scheduler: DefaultScheduler}
	if err := CheckService(s); err == nil || err.Error() != want {
		t.Errorf("CheckService: got %v, want %q", err, want)
	}
	if _, err := f.d.AddService(s); err == nil || err.Error() != want {
		t.Errorf("AddService: got %v, want %q", err, want)
	}
	if len(f.ipvs.calls) != 0 || len(f.marks.marks) != 0 || len(f.host.local) != 0 {
		t.Errorf("mode dr reached the system: calls %v", f.ipvs.calls)
	}
}
