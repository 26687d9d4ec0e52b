package director

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
)

// The command line's checks, each error naming the flag and the fix (the
// CLI's tests run them through the flags).
func TestArgs(t *testing.T) {
	v4 := netip.MustParseAddrPort("10.0.0.1:80")
	k := Key{VIP: v4.Addr(), Port: 80, Proto: 6}
	empty, w := " ", int32(-1)
	for _, tt := range []struct {
		name string
		err  error
		want string // "" for no error
	}{
		{"no vip", second(KeyOf(netip.AddrPort{}, "", dsrtypes.TCP)), "--vip is required"},
		{"multicast vip", second(KeyOf(netip.MustParseAddrPort("224.0.0.1:80"), "224.0.0.1:80", dsrtypes.TCP)), `--vip "224.0.0.1:80": the VIP must be a unicast`},
		{"vip", second(KeyOf(v4, "10.0.0.1:80", dsrtypes.TCP)), ""},
		{"dscp mode without --dscp", Service{Key: k, Mode: dsrtypes.ModeDSCP, Scheduler: "wlc"}.CheckNew(false), "--dscp is required in mode dscp"},
		{"ipip with --dscp", Service{Key: k, Mode: dsrtypes.ModeIPIP, DSCP: 5, Scheduler: "wlc"}.CheckNew(true), "--dscp 5: mode ipip uses no DSCP code"},
		{"empty scheduler", Service{Key: k, Mode: dsrtypes.ModeIPIP, Scheduler: " "}.CheckNew(false), "--scheduler is empty"},
		{"service", Service{Key: k, Mode: dsrtypes.ModeDSCP, Scheduler: "wlc"}.CheckNew(true), ""},
		{"service edit of nothing", ServiceEdit{}.Check(), "nothing to change: give --dscp, --scheduler or --persistent"},
		{"service edit to no scheduler", ServiceEdit{Scheduler: &empty}.Check(), "--scheduler is empty"},
		{"real edit of nothing", RealEdit{}.Check(), "nothing to change: give --weight, --u-threshold or --l-threshold"},
		{"real edit", RealEdit{Weight: &w}.Check(), ""},
		{"no real", CheckRealArgs(k, netip.Addr{}, 1), "--real is required"},
		{"real of another family", CheckRealArgs(k, netip.MustParseAddr("2001:db8::10"), 1), "--real 2001:db8::10 and --vip 10.0.0.1 are of different address families"},
		{"negative weight", CheckRealArgs(k, netip.MustParseAddr("10.1.0.10"), -1), "--weight -1"},
	} {
		if tt.want == "" && tt.err != nil || tt.want != "" && (tt.err == nil || !strings.Contains(tt.err.Error(), tt.want)) {
			t.Errorf("%s: %v, want %q", tt.name, tt.err, tt.want)
		}
	}
}

func second[T any](_ T, err error) error { return err }
