package realserver

import (
	"context"
	"fmt"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/maptable"
)

// RuleFinder looks for the map-mode rule of a family (xtrule.Rules).
type RuleFinder interface {
	Exists(ctx context.Context, f xtrule.Family) (bool, error)
}

// CheckPieces checks the host pieces that the dscp-mode VIPs among vips
// need: xt_DADDR's table, which dial opens, and, when rules is not nil, the
// iptables binary of each family, which asking for the map-mode rule runs.
// apply checks both for the file's VIPs before it plans: for a VIP not set
// up yet Show looks at neither, and the plan would promise a change that
// cannot be made. show and save check the table for the VIPs set up (Show
// counts a table it cannot open as a problem of each VIP, where the answer
// is one missing module); Show itself runs iptables with the variant that
// appended each rule.
func CheckPieces(ctx context.Context, vips []Config, dial func() (maptable.Table, error), rules func() RuleFinder) error {
	fams := map[xtrule.Family]bool{}
	for _, c := range vips {
		// bpf needs neither (up installs it), and auto falls back to it.
		if c.mapped() && (c.Backend == "" || c.Backend == dsrtypes.BackendModule) {
			fams[xtrule.IPv4] = fams[xtrule.IPv4] || c.VIP.Is4()
			fams[xtrule.IPv6] = fams[xtrule.IPv6] || c.VIP.Is6()
		}
	}
	if !fams[xtrule.IPv4] && !fams[xtrule.IPv6] {
		return nil
	}
	t, err := dial()
	if err != nil {
		return fmt.Errorf("opening the DSCP map of xt_DADDR: %w", err)
	}
	t.Close()
	if rules == nil {
		return nil
	}
	r := rules()
	for _, f := range []xtrule.Family{xtrule.IPv4, xtrule.IPv6} {
		if !fams[f] {
			continue
		}
		if _, err := r.Exists(ctx, f); err != nil {
			return fmt.Errorf("looking for the map-mode rule: %w", err)
		}
	}
	return nil
}
