package realserver

import (
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/rtnl"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/maptable"
)

func localVIP(vip string, code uint8, local string) Config {
	c := dscpVIP(vip, code)
	c.Local = netip.MustParseAddr(local)
	return c
}

func mustDownCode(t *testing.T, m *Manager, vip string, d uint8) Applied {
	t.Helper()
	a, err := m.DownCode(ctx, netip.MustParseAddr(vip), d)
	if err != nil {
		t.Fatalf("DownCode(%s, %d): %v", vip, d, err)
	}
	return a
}

// A re-code without downtime: add the second code (only its mapping is
// new), take the first off (only its mapping goes), and the VIP, the
// sysctls and the rule stay all along.
func TestSeveralCodes(t *testing.T) {
	f := newFakeSys()
	m := f.manager(t)
	before := f.snap()
	mustUp(t, m, dscpVIP("10.0.0.1", 19))
	a := mustUp(t, m, dscpVIP("10.0.0.1", 20))
	if !slices.Equal(a.Changes, []string{"mapped IPv4 DSCP 20 local any -> VIP 10.0.0.1"}) || a.Codes.String() != "19, 20" || *a.Config.DSCP != 20 {
		t.Fatalf("second code: %+v", a)
	}
	if again := mustUp(t, m, dscpVIP("10.0.0.1", 20)); len(again.Changes) != 0 {
		t.Fatalf("the second code again changed %q", again.Changes)
	}
	rep, err := m.Show(ctx, xtrule.Default)
	if err != nil || len(rep.Problems) != 0 || len(rep.VIPs) != 1 {
		t.Fatalf("Show = %+v, %v", rep, err)
	}
	v := rep.VIPs[0]
	if v.DSCPs.String() != "19, 20" || *v.DSCP != 19 || len(v.Mappings) != 2 || v.Mappings[1].DSCP != 20 || v.Mapping.DSCP != 19 || !v.OK {
		t.Fatalf("Show VIP %+v", v)
	}
	js, _ := json.Marshal(v)
	if !strings.Contains(string(js), `"dscp":19,"dscps":[19,20],`) {
		t.Fatalf("JSON %s", js)
	}

	both := f.snap()
	_, err = m.DownCode(ctx, netip.MustParseAddr("10.0.0.1"), 7)
	if !errors.Is(err, ErrNoSuchCode) || err.Error() != "VIP 10.0.0.1 has no DSCP 7: its codes are 19, 20; give one of them, or leave --dscp out to take the whole VIP down" {
		t.Fatalf("DownCode of a code the VIP has not: %v", err)
	}
	sameSnap(t, "refused DownCode", both, f.snap())

	d := mustDownCode(t, m, "10.0.0.1", 19)
	if !slices.Equal(d.Changes, []string{"removed the mapping IPv4 DSCP 19 local any -> VIP 10.0.0.1"}) || d.Codes.String() != "20" {
		t.Fatalf("DownCode 19: %+v", d)
	}
	if !f.onLo("10.0.0.1/32") || f.rules[xtrule.IPv4] != 1 || f.sysctls["net.ipv4.conf.all.rp_filter"] != "2" || len(f.table) != 1 {
		t.Fatalf("the VIP did not stay up for its other code: %+v", f.snap())
	}
	if _, ok := f.table[maptable.Key{Family: dsrtypes.IPv4, DSCP: 20}]; !ok {
		t.Fatalf("the other code's mapping went: %+v", f.table)
	}
	// The last code: the VIP goes down, as Down would take it.
	last := mustDownCode(t, m, "10.0.0.1", 20)
	if len(last.Changes) != 5 || len(last.Codes) != 0 {
		t.Fatalf("DownCode of the last code: %+v", last)
	}
	sameSnap(t, "up 19, up 20, down 19, down 20", before, f.snap())

	// Down without a code takes every code.
	mustUp(t, m, dscpVIP("10.0.0.1", 19))
	mustUp(t, m, dscpVIP("10.0.0.1", 20))
	if d := mustDown(t, m, "10.0.0.1"); !slices.Contains(d.Changes, "removed the mapping IPv4 DSCP 19 local any -> VIP 10.0.0.1") ||
		!slices.Contains(d.Changes, "removed the mapping IPv4 DSCP 20 local any -> VIP 10.0.0.1") {
		t.Fatalf("Down of a VIP with two codes: %q", d.Changes)
	}
	sameSnap(t, "Down of a VIP with two codes", before, f.snap())
}

// Every code of one VIP is a key of its own: 63 fit, and Down takes them
// all.
func TestSixtyThreeCodes(t *testing.T) {
	f := newFakeSys()
	m := f.manager(t)
	before := f.snap()
	for d := uint8(1); d <= 63; d++ {
		mustUp(t, m, dscpVIP("10.0.0.1", d))
	}
	if len(f.table) != 63 {
		t.Fatalf("%d mappings", len(f.table))
	}
	mustDown(t, m, "10.0.0.1")
	sameSnap(t, "63 codes up and down", before, f.snap())
}

func TestSeveralCodesRefusals(t *testing.T) {
	f := newFakeSys()
	m := f.manager(t)
	mustUp(t, m, dscpVIP("10.0.0.1", 19))
	mustUp(t, m, dscpVIP("10.0.0.1", 20))
	mustUp(t, m, ipipVIP("10.0.1.1"))
	mustUp(t, m, drVIP("10.0.2.1"))
	before := f.snap()
	for _, tc := range []struct {
		c    Config
		want string
	}{
		// The clash rule holds for each code, across VIPs.
		{dscpVIP("10.0.0.2", 20), "VIP 10.0.0.2 and VIP 10.0.0.1 would both be DSCP 20 (local any): the server could not tell them apart"},
		// A VIP's codes share its local address.
		{localVIP("10.0.0.1", 21, "192.0.2.10"), "VIP 10.0.0.1 is set up as VIP 10.0.0.1 (dscp, DSCP 19, 20), not as VIP 10.0.0.1 (dscp, DSCP 21, local 192.0.2.10): run 'l3dsr realserver down --vip 10.0.0.1' first to change it"},
		{dscpVIP("10.0.1.1", 21), "VIP 10.0.1.1 is set up as VIP 10.0.1.1 (ipip, MSS 1440), not as VIP 10.0.1.1 (dscp, DSCP 21)"},
	} {
		if _, err := m.Up(ctx, tc.c, xtrule.Default); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Up(%v) = %v, want a conflict with %q", tc.c, err, tc.want)
		}
	}
	// An IPv6 VIP may take a code an IPv4 VIP has: the family is in the key.
	for _, tc := range []struct {
		vip  string
		d    uint8
		want string
	}{
		{"10.0.1.1", 3, "VIP 10.0.1.1 is in ipip mode, which uses no DSCP code: leave --dscp 3 out to take it down ('l3dsr realserver down --vip 10.0.1.1')"},
		{"10.0.2.1", 3, "VIP 10.0.2.1 is in dr mode, which uses no DSCP code: leave --dscp 3 out to take it down ('l3dsr realserver down --vip 10.0.2.1')"},
		{"10.0.0.1", 63, "VIP 10.0.0.1 has no DSCP 63: its codes are 19, 20"},
	} {
		if _, err := m.DownCode(ctx, netip.MustParseAddr(tc.vip), tc.d); !errors.Is(err, ErrNoSuchCode) || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("DownCode(%s, %d) = %v, want %q", tc.vip, tc.d, err, tc.want)
		}
	}
	if _, err := m.DownCode(ctx, netip.MustParseAddr("10.0.0.9"), 19); !errors.Is(err, ErrNotSetUp) {
		t.Errorf("DownCode of a VIP not set up: %v", err)
	}
	sameSnap(t, "refusals", before, f.snap())
	mustUp(t, m, dscpVIP("2001:db8::1", 20))
}

// A code's mapping that cannot be removed keeps the code in the record, so
// running DownCode again finishes the job.
func TestDownCodeRetry(t *testing.T) {
	f := newFakeSys()
	m := f.manager(t)
	mustUp(t, m, dscpVIP("10.0.0.1", 19))
	mustUp(t, m, dscpVIP("10.0.0.1", 20))
	f.fail["Delete"] = errBoom
	_, err := m.DownCode(ctx, netip.MustParseAddr("10.0.0.1"), 19)
	if !errors.Is(err, errBoom) || !strings.Contains(err.Error(), "run 'l3dsr realserver down --vip 10.0.0.1 --dscp 19' again once fixed") {
		t.Fatalf("DownCode with a failing delete: %v", err)
	}
	delete(f.fail, "Delete")
	if d := mustDownCode(t, m, "10.0.0.1", 19); d.Codes.String() != "20" || len(f.table) != 1 {
		t.Fatalf("second DownCode: %+v, table %+v", d, f.table)
	}
}

// A record written by the previous version, which gave a VIP one code
// (the code and added_mapping beside the VIP), is read, taken further and
// taken down.
func TestStateFromPreviousVersion(t *testing.T) {
	f := newFakeSys()
	m := f.manager(t)
	before := f.snap()
	// The host as the previous version's Up left it, and its record.
	f.addrs = append(f.addrs, rtnl.Addr{Index: 1, Prefix: netip.MustParsePrefix("10.0.0.1/32")})
	f.sysctls["net.ipv4.conf.all.arp_ignore"] = "1"
	f.sysctls["net.ipv4.conf.all.rp_filter"] = "2"
	f.rules[xtrule.IPv4] = 1
	f.table[maptable.Key{Family: dsrtypes.IPv4, DSCP: 21}] = maptable.Entry{Family: dsrtypes.IPv4, DSCP: 21, VIP: netip.MustParseAddr("10.0.0.1")}
	old, err := os.ReadFile(filepath.Join("testdata", "state-one-code.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(m.stateDir, stateFile), old, 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := m.Show(ctx, xtrule.Default)
	if err != nil || len(rep.Problems) != 0 || rep.VIPs[0].DSCPs.String() != "21" || *rep.VIPs[0].DSCP != 21 {
		t.Fatalf("Show of the old record: %+v, %v", rep, err)
	}
	mustUp(t, m, dscpVIP("10.0.0.1", 22))
	b, _ := os.ReadFile(filepath.Join(m.stateDir, stateFile))
	// Written anew with the codes, and the first code where the previous
	// version looks for it.
	if !strings.Contains(string(b), `"dscp": 21,`) || !strings.Contains(string(b), `"codes": [`) {
		t.Fatalf("record written:\n%s", b)
	}
	if d := mustDownCode(t, m, "10.0.0.1", 21); !slices.Equal(d.Changes, []string{"removed the mapping IPv4 DSCP 21 local any -> VIP 10.0.0.1"}) {
		t.Fatalf("DownCode of the old code: %q", d.Changes)
	}
	mustDown(t, m, "10.0.0.1")
	sameSnap(t, "the old record's VIP taken down", before, f.snap())
}
