package doctor

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/realserver"
)

// Without a file the roles come from the running state, and the VIPs from
// what 'realserver up' recorded.
func TestRolesFromTheRunningState(t *testing.T) {
	h, _ := cleanHost()
	rep := run(t, h, &Expect{})
	if !slices.Equal(rep.Roles, []string{"real server", "director"}) || rep.Source != "running state" || len(rep.Findings) != 0 {
		t.Errorf("clean host: roles %q from %q, findings %+v", rep.Roles, rep.Source, rep.Findings)
	}
	// The record's codes are checked: code 22 of VIP 10.0.0.1.
	h.entries = slices.Delete(h.entries, 1, 2)
	if got := foundOf(run(t, h, &Expect{})); !slices.Equal(got, []found{{"mapping", "problem", "l3dsr rule add --dscp 22 --vip 10.0.0.1"}}) {
		t.Errorf("record's code missing: %+v", got)
	}

	// Nothing set up, no rule, no service: no role, nothing to check.
	empty := &fakeHost{sysctls: map[string]string{}, modules: map[string]bool{}}
	if rep := run(t, empty, &Expect{}); len(rep.Roles) != 0 || len(rep.Findings) != 0 || rep.Err() != nil {
		t.Errorf("empty host: %+v", rep)
	}
	// IPVS not loaded and nothing expected: no director, and no finding.
	empty.noIPVS = true
	if rep := run(t, empty, &Expect{}); len(rep.Roles) != 0 {
		t.Errorf("host without IPVS: %+v", rep)
	}

	// A hand-written revision-0 rule makes a real server: its VIP must be
	// on lo, and the module loaded.
	h, _ = cleanHost()
	h.rs = realserver.Report{}
	h.entries = nil
	h.dir = director.Status{}
	h.rules = []xtrule.Rule{{Family: dsrtypes.IPv4, Table: "raw", Chain: "PREROUTING", Line: "-A PREROUTING -m dscp --dscp 0x05 -j DADDR --set-daddr 10.0.0.7", VIP: netip.MustParseAddr("10.0.0.7"), DSCP: 5}}
	h.modules["xt_DADDR"] = false
	rep = run(t, h, &Expect{})
	want := []found{{"vip-on-lo", "problem", "ip addr add 10.0.0.7/32 dev lo"}, {"module", "problem", "modprobe xt_DADDR"}}
	if got := foundOf(rep); !slices.Equal(rep.Roles, []string{"real server"}) || !slices.Equal(got, want) {
		t.Errorf("hand-written rule: roles %q, findings %+v", rep.Roles, got)
	}
}

// Setting conf/all fixes every interface at once where it can; where an
// interface's own value is the culprit, the interface is set.
func TestConfFix(t *testing.T) {
	ignore := confRule{key: "arp_ignore", want: 1, ok: []int{1, 2, 8}, preferAll: true}
	rp := confRule{key: "rp_filter", want: 2, ok: []int{0, 2}}
	for _, tc := range []struct {
		r              confRule
		all, own       int
		setAll, setOwn bool
	}{
		{ignore, 0, 0, true, false},
		{ignore, 3, 0, true, false},
		{ignore, 0, 3, false, true},
		{ignore, 3, 3, true, true},
		{rp, 1, 0, false, true}, // 2 is the largest value: the interface alone will do
		{rp, 0, 1, false, true},
	} {
		a, o := tc.r.fix(tc.all, tc.own)
		if a != tc.setAll || o != tc.setOwn {
			t.Errorf("%s all %d own %d: set all %v, own %v; want %v, %v", tc.r.key, tc.all, tc.own, a, o, tc.setAll, tc.setOwn)
		}
	}
}
