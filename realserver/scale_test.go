package realserver

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/rtnl"
	"github.com/l3dsr/l3dsr/internal/xtrule"
)

// TestScaleUpOneByOne measures what an apply of n dscp VIPs costs today:
// one Up per VIP (with local keys, 63 codes per local address), each of
// which reads and writes the whole state file and lists the addresses,
// the links and the hand-written rules (iptables-save, a process per
// family on a real host). The counts are logged for issue 27; nothing is
// asserted of them.
func TestScaleUpOneByOne(t *testing.T) {
	for _, n := range []int{63, 252} {
		f := newFakeSys()
		m := f.manager(t)
		rules := 0
		m.readRules = func(context.Context) ([]xtrule.Rule, error) { rules++; return nil, nil }
		state := 0
		for i := range n {
			local := netip.AddrFrom4([4]byte{192, 0, 2, byte(100 + i/63)})
			if i%63 == 0 {
				f.addrs = append(f.addrs, rtnl.Addr{Index: 2, Prefix: netip.PrefixFrom(local, 24)})
			}
			d := uint8(i%63 + 1)
			c := Config{VIP: netip.AddrFrom4([4]byte{10, 100, byte(i / 63), byte(i%63 + 1)}), Mode: dsrtypes.ModeDSCP, DSCP: &d, Local: local}
			if _, err := m.Up(context.Background(), c, xtrule.Default); err != nil {
				t.Fatalf("Up %v: %v", c, err)
			}
			fi, err := os.Stat(filepath.Join(m.stateDir, stateFile))
			if err != nil {
				t.Fatal(err)
			}
			state += int(fi.Size())
		}
		t.Logf("%3d VIPs one Up each: rule listings %d, state file written %d times (%d bytes in all), calls %v",
			n, rules, n, state, f.calls)
	}
}
