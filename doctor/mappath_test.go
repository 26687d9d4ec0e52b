package doctor

import (
	"slices"
	"testing"

	"github.com/l3dsr/l3dsr/maptable"
)

// Direct mode with both hooks stands for the --map rules; a family with
// entries but no hook is a problem naming it.
func TestDirectPathStandsForTheRule(t *testing.T) {
	h, e := cleanHost()
	h.rules = nil
	h.rs.MapPath = &maptable.PathInfo{Mode: maptable.ModeDirect, Hooks: []string{"ipv4", "ipv6"}, Path: "direct hook (IPv4, IPv6)"}
	if rep := run(t, h, e); len(rep.Findings) != 0 {
		t.Fatalf("direct with both hooks, no rule: findings %+v, want none", rep.Findings)
	}
	h.rs.MapPath.Hooks = []string{"ipv4"}
	rep := run(t, h, e)
	want := []found{{"map-path", "problem", "l3dsr rule mode direct (or l3dsr rule mode rule)"}}
	if got := foundOf(rep); !slices.Equal(got, want) || rep.Findings[0].What != "the map path is direct but the module has no IPv6 hook" {
		t.Fatalf("findings %+v, want %+v about IPv6", rep.Findings, want)
	}
	// The rule path without the rule is still the missing-rule problem.
	h.rs.MapPath = &maptable.PathInfo{Mode: maptable.ModeRule, Hooks: []string{}}
	if got := foundOf(run(t, h, e)); len(got) != 2 || got[0].check != "map-rule" {
		t.Fatalf("rule path, no rules: %+v, want two map-rule problems", got)
	}
}
