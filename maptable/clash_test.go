package maptable

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/internal/xtrule"
)

// AddEntry reports the entries the new one shadows, or is shadowed by, once
// it is in the table: the add stands.
func TestAddEntryWarns(t *testing.T) {
	a := netip.MustParseAddr
	anyA := Entry{AnyDSCP: true, Local: a("10.1.1.5"), VIP: a("10.0.0.2")}
	codedLocal := Entry{DSCP: 10, Local: a("10.1.1.5"), VIP: a("10.0.0.1")}
	const wantA = "DSCP 10 to 10.1.1.5 goes to VIP 10.0.0.1, not VIP 10.0.0.2's any-DSCP entry: (DSCP, local) is looked up first"

	k := newFakeKernel(t)
	c := k.client()
	must(t, c.Add(anyA, false))
	added, err := AddEntry(context.Background(), c, noRules{}, codedLocal, false)
	if err != nil || !added.Entry || strings.Join(added.Warnings, "\n") != wantA {
		t.Errorf("AddEntry: %+v, %v", added, err)
	}
	if _, err := c.Get(codedLocal.Key()); err != nil {
		t.Errorf("the shadowing entry is not in the table: %v", err)
	}
}

// noRules is a map-mode rule that is always in place.
type noRules struct{}

func (noRules) Ensure(context.Context, xtrule.Family) (bool, error) { return false, nil }
func (noRules) Delete(context.Context, xtrule.Family) error         { return nil }
