package realserver

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/rtnl"
	"github.com/l3dsr/l3dsr/internal/xtrule"
)

// scaleUp sets up n dscp VIPs with local keys (63 codes per local
// address), through a batch if batch, and returns the system calls made
// and the DADDR rule listings (iptables-save, a process per family).
func scaleUp(t *testing.T, n int, batch bool) (calls, listings int) {
	f := newFakeSys()
	m := f.manager(t)
	m.readRules = func(context.Context) ([]xtrule.Rule, error) { listings++; return nil, nil }
	var api changer = m
	var b *Batch
	if batch {
		var err error
		if b, err = m.Begin(); err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		api = b
	}
	for i := range n {
		local := netip.AddrFrom4([4]byte{100, 65, byte(i / 63 / 256), byte(i / 63 % 256)})
		if i%63 == 0 {
			f.addrs = append(f.addrs, rtnl.Addr{Index: 2, Prefix: netip.PrefixFrom(local, 32)})
		}
		d := uint8(i%63 + 1)
		c := Config{VIP: netip.AddrFrom4([4]byte{10, 110, byte(i / 63), d}), Mode: dsrtypes.ModeDSCP, DSCP: &d, Local: local}
		if _, err := api.Up(context.Background(), c, xtrule.Default); err != nil {
			t.Fatalf("Up %v: %v", c, err)
		}
	}
	if batch {
		if err := b.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	if len(f.table) != n {
		t.Fatalf("%d VIPs set up, %d in the table", n, len(f.table))
	}
	for _, c := range f.calls {
		calls += c
	}
	return calls, listings
}

// An apply's batch of n VIPs costs a number of system calls linear in n
// (an address each, and a few more), where one Up per VIP costs a table
// request and a rule listing each, and a state file written n times.
// The counts are deterministic; the times are logged, never asserted.
func TestScaleBatch(t *testing.T) {
	prev := 0
	for _, n := range []int{63, 252, 1008, 4032} {
		t0 := time.Now()
		calls, listings := scaleUp(t, n, true)
		took := time.Since(t0)
		if listings != 1 {
			t.Errorf("%d VIPs: the DADDR rules were listed %d times, want once", n, listings)
		}
		if prev > 0 && float64(calls) > 4.5*float64(prev) {
			t.Errorf("%d VIPs cost %d calls, more than 4.5 times the %d of a quarter as many", n, calls, prev)
		}
		if calls > 2*n+10 {
			t.Errorf("%d VIPs cost %d calls: want about one per VIP (its address) and the table's List and Replace", n, calls)
		}
		prev = calls
		t.Logf("%4d VIPs in one batch: %5d calls, %d rule listing, %v", n, calls, listings, took)
	}
	if testing.Short() {
		return
	}
	for _, n := range []int{63, 252} {
		t0 := time.Now()
		calls, listings := scaleUp(t, n, false)
		t.Logf("%4d VIPs one Up each: %5d calls, %d rule listings, state file written %d times, %v", n, calls, listings, n, time.Since(t0))
	}
}
