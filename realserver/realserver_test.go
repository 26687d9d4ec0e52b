package realserver

import (
	"context"
	"errors"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/rtnl"
	"github.com/l3dsr/l3dsr/internal/undo"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/maptable"
)

var ctx = context.Background()

func u8(v uint8) *uint8 { return &v }

func dscpVIP(vip string, code uint8) Config {
	return Config{VIP: netip.MustParseAddr(vip), Mode: dsrtypes.ModeDSCP, DSCP: u8(code)}
}

func ipipVIP(vip string) Config {
	return Config{VIP: netip.MustParseAddr(vip), Mode: dsrtypes.ModeIPIP}
}

// snap copies everything Up and Down may touch, for before/after comparisons.
func (f *fakeSys) snap() hostState {
	return hostState{slices.Clone(f.addrs), slices.Clone(f.links), maps.Clone(f.sysctls), maps.Clone(f.table), maps.Clone(f.rules), slices.Clone(f.clamps)}
}

func sameSnap(t *testing.T, what string, a, b hostState) {
	t.Helper()
	if !slices.Equal(a.addrs, b.addrs) || !slices.Equal(a.links, b.links) || !maps.Equal(a.sysctls, b.sysctls) ||
		!maps.Equal(a.table, b.table) || !maps.Equal(a.rules, b.rules) || !slices.Equal(a.clamps, b.clamps) {
		t.Fatalf("%s: system changed\nbefore %+v\nafter  %+v", what, a, b)
	}
}

func (f *fakeSys) onLo(p string) bool {
	return slices.Contains(f.addrs, rtnl.Addr{Index: 1, Prefix: netip.MustParsePrefix(p)})
}

func mustUp(t *testing.T, m *Manager, c Config) Applied {
	t.Helper()
	a, err := m.Up(ctx, c, xtrule.Default)
	if err != nil {
		t.Fatalf("Up(%v): %v", c, err)
	}
	return a
}

func mustDown(t *testing.T, m *Manager, vip string) Applied {
	t.Helper()
	a, err := m.Down(ctx, netip.MustParseAddr(vip))
	if err != nil {
		t.Fatalf("Down(%s): %v", vip, err)
	}
	return a
}

func TestUpDownDSCP(t *testing.T) {
	f := newFakeSys()
	m := f.manager(t)
	before := f.snap()
	a := mustUp(t, m, dscpVIP("10.0.0.1", 21))
	want := []string{
		"added 10.0.0.1/32 to lo",
		"set net.ipv4.conf.all.arp_ignore = 1 (was 0)",
		"set net.ipv4.conf.all.rp_filter = 2 (was 1)",
		"appended the map-mode rule for IPv4 (-t raw -A PREROUTING -j DADDR --map)",
		"mapped IPv4 DSCP 21 local any -> VIP 10.0.0.1",
	}
	if !slices.Equal(a.Changes, want) {
		t.Fatalf("changes:\n got %q\nwant %q", a.Changes, want)
	}
	if !f.onLo("10.0.0.1/32") || f.rules[xtrule.IPv4] != 1 || f.sysctls["net.ipv4.conf.all.arp_announce"] != "2" {
		t.Fatalf("after Up: %+v", f.snap())
	}
	if _, err := os.Stat(filepath.Join(m.stateDir, stateFile)); err != nil {
		t.Fatalf("no state file after Up: %v", err)
	}

	up1 := f.snap()
	again := mustUp(t, m, dscpVIP("10.0.0.1", 21))
	if len(again.Changes) != 0 {
		t.Fatalf("second Up changed %q", again.Changes)
	}
	sameSnap(t, "second Up", up1, f.snap())

	d := mustDown(t, m, "10.0.0.1")
	if len(d.Changes) != 5 {
		t.Fatalf("Down changes %q", d.Changes)
	}
	sameSnap(t, "Up then Down", before, f.snap())
	if _, err := os.Stat(filepath.Join(m.stateDir, stateFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("state file left after the last Down: %v", err)
	}
	if _, err := m.Down(ctx, netip.MustParseAddr("10.0.0.1")); !errors.Is(err, ErrNotSetUp) {
		t.Fatalf("second Down: %v", err)
	}
}

func TestPreExistingStays(t *testing.T) {
	f := newFakeSys()
	m := f.manager(t)
	f.addrs = append(f.addrs, rtnl.Addr{Index: 1, Prefix: netip.MustParsePrefix("10.0.0.1/32")})
	f.rules[xtrule.IPv4] = 1
	f.table[maptable.Key{Family: dsrtypes.IPv4, DSCP: 21}] = maptable.Entry{Family: dsrtypes.IPv4, DSCP: 21, VIP: netip.MustParseAddr("10.0.0.1")}
	f.sysctls["net.ipv4.conf.all.arp_ignore"] = "2" // stricter than needed
	f.sysctls["net.ipv4.conf.all.rp_filter"] = "2"
	before := f.snap()
	a := mustUp(t, m, dscpVIP("10.0.0.1", 21))
	if len(a.Changes) != 0 {
		t.Fatalf("Up over a complete setup changed %q", a.Changes)
	}
	d := mustDown(t, m, "10.0.0.1")
	if len(d.Changes) != 0 || len(d.Notes) != 2 {
		t.Fatalf("Down changes %q notes %q: want none and two notes (address, mapping kept)", d.Changes, d.Notes)
	}
	sameSnap(t, "pre-existing setup", before, f.snap())
}

// A shared setting goes back only with the last VIP that needs it.
func TestSharedSettingsRefcounted(t *testing.T) {
	f := newFakeSys()
	m := f.manager(t)
	rp := func(i string) string { return f.sysctls["net.ipv4.conf."+i+".rp_filter"] }
	mustUp(t, m, dscpVIP("10.0.0.1", 21))
	if rp("all") != "2" {
		t.Fatalf("dscp mode: all.rp_filter %s, want 2", rp("all"))
	}
	mustUp(t, m, dscpVIP("10.0.0.2", 22))
	mustUp(t, m, ipipVIP("10.0.1.1"))
	// ipip mode needs rp_filter 0 on tunl0 and so on all; eth0 and default
	// keep their effective value, made loose for the dscp VIPs.
	if got := rp("all") + rp("tunl0") + rp("eth0") + rp("default"); got != "0022" {
		t.Fatalf("all tunl0 eth0 default rp_filter = %s, want 0022", got)
	}
	mustDown(t, m, "10.0.0.1")
	if f.rules[xtrule.IPv4] != 1 || rp("all")+rp("eth0") != "02" {
		t.Fatalf("the rule or rp_filter went with the first of two dscp VIPs: %+v", f.sysctls)
	}
	mustDown(t, m, "10.0.0.2")
	if f.rules[xtrule.IPv4] != 0 || rp("all")+rp("tunl0")+rp("eth0")+rp("default") != "0011" {
		t.Fatalf("after the last dscp VIP: rule %d, rp_filter %+v", f.rules[xtrule.IPv4], f.sysctls)
	}
	if f.sysctls["net.ipv4.conf.all.arp_ignore"] != "1" {
		t.Fatalf("arp_ignore restored while the ipip VIP needs it")
	}
	mustUp(t, m, dscpVIP("10.0.0.3", 23))
	mustDown(t, m, "10.0.1.1")
	// Without the ipip VIP, the dscp VIP wants all at 2 again.
	if rp("all")+rp("eth0")+rp("default") != "211" || f.sysctls["net.ipv4.conf.all.arp_ignore"] != "1" {
		t.Fatalf("after the ipip VIP, with a dscp VIP left: %+v", f.sysctls)
	}
	mustDown(t, m, "10.0.0.3")
	// tunl0 started with default's 1; the write of default (2) was copied
	// to it before up wrote its 0, and down must not restore the copy.
	if rp("all")+rp("tunl0")+rp("default") != "111" || f.sysctls["net.ipv4.conf.all.arp_ignore"] != "0" {
		t.Fatalf("not restored after the last IPv4 VIP: %+v", f.sysctls)
	}
}

func TestDownKeepsWhatOthersChanged(t *testing.T) {
	f := newFakeSys()
	m := f.manager(t)
	mustUp(t, m, dscpVIP("10.0.0.1", 21))
	f.sysctls["net.ipv4.conf.all.rp_filter"] = "0"
	k := maptable.Key{Family: dsrtypes.IPv4, DSCP: 21}
	f.table[k] = maptable.Entry{Family: dsrtypes.IPv4, DSCP: 21, VIP: netip.MustParseAddr("10.0.0.99")}
	d := mustDown(t, m, "10.0.0.1")
	if f.sysctls["net.ipv4.conf.all.rp_filter"] != "0" || f.table[k].VIP.String() != "10.0.0.99" {
		t.Fatalf("Down undid someone else's change: %+v", f.snap())
	}
	// The table still has an IPv4 entry, so the rule stays for it.
	if f.rules[xtrule.IPv4] != 1 {
		t.Fatalf("Down removed the map-mode rule that a remaining entry needs")
	}
	notes := strings.Join(d.Notes, "\n")
	for _, w := range []string{"kept net.ipv4.conf.all.rp_filter = 0", "maps to VIP 10.0.0.99 now", "kept the map-mode rule for IPv4"} {
		if !strings.Contains(notes, w) {
			t.Errorf("notes %q lack %q", notes, w)
		}
	}
}

func TestUpAllOrNothing(t *testing.T) {
	f := newFakeSys()
	m := f.manager(t)
	before := f.snap()
	f.fail["Add"] = errBoom
	_, err := m.Up(ctx, dscpVIP("10.0.0.1", 21), xtrule.Default)
	if !errors.Is(err, errBoom) || !strings.Contains(err.Error(), "undone: added 10.0.0.1/32 to lo; set net.ipv4.conf.all.arp_ignore") {
		t.Fatalf("err = %v", err)
	}
	sameSnap(t, "failed Up", before, f.snap())
	if _, err := os.Stat(filepath.Join(m.stateDir, stateFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("failed Up wrote state: %v", err)
	}

	// The undo itself fails: the error says exactly what was left.
	f.fail["AddrDel"] = errors.New("addr del refused")
	_, err = m.Up(ctx, dscpVIP("10.0.0.1", 21), xtrule.Default)
	if !errors.Is(err, undo.ErrLeftInPlace) || !errors.Is(err, errBoom) ||
		!strings.Contains(err.Error(), "left in place: added 10.0.0.1/32 to lo (undo failed: addr del refused)") {
		t.Fatalf("err = %v", err)
	}
	if f.rules[xtrule.IPv4] != 0 || f.sysctls["net.ipv4.conf.all.rp_filter"] != "1" {
		t.Fatalf("the other steps were not undone: %+v", f.snap())
	}
}

func TestConflicts(t *testing.T) {
	f := newFakeSys()
	m := f.manager(t)
	mustUp(t, m, dscpVIP("10.0.0.1", 21))
	before := f.snap()
	for _, tc := range []struct {
		c    Config
		want string
	}{
		{dscpVIP("10.0.0.9", 21), "VIP 10.0.0.9 and VIP 10.0.0.1 would both be DSCP 21 (local any)"},
		{localVIP("10.0.0.1", 22, "192.0.2.10"), "VIP 10.0.0.1 is set up as VIP 10.0.0.1 (dscp, DSCP 21), not as VIP 10.0.0.1 (dscp, DSCP 22, local 192.0.2.10)"},
		{ipipVIP("10.0.0.1"), "run 'l3dsr realserver down --vip 10.0.0.1' first"},
	} {
		_, err := m.Up(ctx, tc.c, xtrule.Default)
		if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Up(%v) = %v, want a conflict with %q", tc.c, err, tc.want)
		}
	}
	// Someone else's mapping on the key: refused, and nothing left behind.
	f.table[maptable.Key{Family: dsrtypes.IPv4, DSCP: 30}] = maptable.Entry{Family: dsrtypes.IPv4, DSCP: 30, VIP: netip.MustParseAddr("10.0.0.50")}
	before = f.snap()
	_, err := m.Up(ctx, dscpVIP("10.0.0.2", 30), xtrule.Default)
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "already maps to VIP 10.0.0.50") || !strings.Contains(err.Error(), "l3dsr rule del --dscp 30 --family 4") {
		t.Fatalf("foreign mapping: %v", err)
	}
	sameSnap(t, "refused Up", before, f.snap())
	// A different local address is another key: allowed.
	c := dscpVIP("10.0.0.3", 21)
	c.Local = netip.MustParseAddr("192.0.2.10")
	mustUp(t, m, c)
}

func TestIPIP(t *testing.T) {
	f := newFakeSys()
	f.sysctls["net.ipv4.conf.eth0.rp_filter"] = "0"
	m := f.manager(t)
	before := f.snap()
	a := mustUp(t, m, ipipVIP("10.0.1.1"))
	if a.Config.MSS != 1440 {
		t.Fatalf("derived MSS %d, want 1440 (1500 - 60)", a.Config.MSS)
	}
	tun, err := f.LinkByName("tunl0")
	if err != nil || !tun.Up() || f.sysctls["net.ipv4.conf.tunl0.rp_filter"] != "0" {
		t.Fatalf("tunl0 %+v %v, rp_filter %s", tun, err, f.sysctls["net.ipv4.conf.tunl0.rp_filter"])
	}
	// conf/all goes to 0 (tunl0 has no address: any rp_filter drops its
	// packets); eth0 had 0 of its own under a strict all, so it gets 1.
	if got := f.sysctls["net.ipv4.conf.all.rp_filter"] + f.sysctls["net.ipv4.conf.eth0.rp_filter"] + f.sysctls["net.ipv4.conf.default.rp_filter"]; got != "011" {
		t.Fatalf("all eth0 default rp_filter = %s, want 011", got)
	}
	if f.rules[xtrule.IPv4] != 0 || len(f.table) != 0 {
		t.Fatalf("ipip mode made a rule or a mapping")
	}
	a6 := mustUp(t, m, ipipVIP("2001:db8:71::1"))
	if a6.Config.MSS != 1400 {
		t.Fatalf("derived IPv6 MSS %d, want 1400 (1500 - 100)", a6.Config.MSS)
	}
	want := []clamp{{netip.MustParseAddr("10.0.1.1"), 1440}, {netip.MustParseAddr("2001:db8:71::1"), 1400}}
	if !slices.Equal(f.clamps, want) {
		t.Fatalf("clamps %+v, want %+v", f.clamps, want)
	}
	mustDown(t, m, "10.0.1.1")
	mustDown(t, m, "2001:db8:71::1")
	after := f.snap()
	// The fallback devices came with the module and stay, down, with their
	// rp_filter as it was.
	for i := range after.links {
		if after.links[i].Name == "tunl0" || after.links[i].Name == "ip6tnl0" {
			if after.links[i].Up() {
				t.Fatalf("%s still up after Down", after.links[i].Name)
			}
		}
	}
	after.links = slices.DeleteFunc(after.links, func(l rtnl.Link) bool { return l.Kind == "ipip" || l.Kind == "ip6tnl" })
	delete(after.sysctls, "net.ipv4.conf.tunl0.rp_filter")
	delete(after.sysctls, "net.ipv4.conf.ip6tnl0.rp_filter")
	if f.sysctls["net.ipv4.conf.tunl0.rp_filter"] != "1" {
		t.Fatalf("tunl0 rp_filter not restored: %s", f.sysctls["net.ipv4.conf.tunl0.rp_filter"])
	}
	sameSnap(t, "ipip Up then Down", before, after)

	// A device this call created (no fallback) is deleted again.
	f2 := newFakeSys()
	f2.autoload = nil
	m2 := f2.manager(t)
	mustUp(t, m2, ipipVIP("10.0.1.1"))
	mustDown(t, m2, "10.0.1.1")
	if _, err := f2.LinkByName("tunl0"); !errors.Is(err, rtnl.ErrNotFound) {
		t.Fatalf("tunl0 created by Up survived Down: %v", err)
	}

	// Jumbo frames give a larger MSS; --mss wins over the derivation.
	f3 := newFakeSys()
	f3.links[1].MTU = 9000
	m3 := f3.manager(t)
	if a := mustUp(t, m3, ipipVIP("10.0.1.1")); a.Config.MSS != 8940 {
		t.Fatalf("MSS with MTU 9000: %d", a.Config.MSS)
	}
	c := ipipVIP("10.0.1.2")
	c.MSS = 1300
	if a := mustUp(t, m3, c); a.Config.MSS != 1300 || f3.clamps[1].MSS != 1300 {
		t.Fatalf("given MSS: %d, clamps %+v", a.Config.MSS, f3.clamps)
	}
}

func TestShow(t *testing.T) {
	f := newFakeSys()
	m := f.manager(t)
	mustUp(t, m, dscpVIP("10.0.0.1", 21))
	mustUp(t, m, ipipVIP("10.0.1.1"))
	k := maptable.Key{Family: dsrtypes.IPv4, DSCP: 21}
	e := f.table[k]
	e.Packets, e.Bytes = 7, 700
	f.table[k] = e
	rep, err := m.Show(ctx, xtrule.Default)
	if err != nil || len(rep.Problems) != 0 || len(rep.VIPs) != 2 {
		t.Fatalf("Show = %+v, %v; want 2 VIPs and no problem", rep, err)
	}
	if rep.VIPs[0].Mapping == nil || rep.VIPs[0].Mapping.Packets != 7 || !rep.VIPs[0].OK || rep.VIPs[1].ClampMSS != 1440 {
		t.Fatalf("Show VIPs %+v", rep.VIPs)
	}

	f.AddrDel(1, netip.MustParsePrefix("10.0.0.1/32"))
	f.sysctls["net.ipv4.conf.all.arp_ignore"] = "0"
	f.rules[xtrule.IPv4] = 0
	f.table[k] = maptable.Entry{Family: dsrtypes.IPv4, DSCP: 21, VIP: netip.MustParseAddr("10.0.0.9")}
	tun, _ := f.LinkByName("tunl0")
	f.LinkSetUp(tun.Index, false)
	f.clamps = nil
	rep, err = m.Show(ctx, xtrule.Default)
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, p := range rep.Problems {
		all = append(all, p.What+" => "+p.Fix)
	}
	got := strings.Join(all, "\n")
	for _, w := range []string{
		"VIP 10.0.0.1 is not on lo: the server drops its packets instead of answering => run 'l3dsr realserver up --vip 10.0.0.1 --dscp 21'",
		"raw PREROUTING has no map-mode rule for IPv4",
		"IPv4 DSCP 21 local any maps to VIP 10.0.0.9, not 10.0.0.1 => run 'l3dsr rule add --replace --dscp 21 --vip 10.0.0.1'",
		"tunl0 is down",
		"clamped to MSS 0, not 1440",
		"net.ipv4.conf.all.arp_ignore is 0, want 1",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("problems lack %q:\n%s", w, got)
		}
	}
	if len(rep.Problems) != 6 || rep.VIPs[0].OK || rep.VIPs[1].OK {
		t.Fatalf("%d problems, VIPs %+v", len(rep.Problems), rep.VIPs)
	}
}

func TestValidate(t *testing.T) {
	c6 := dscpVIP("10.0.0.1", 1)
	c6.Local = netip.MustParseAddr("2001:db8::1")
	ipipDSCP := ipipVIP("10.0.0.1")
	ipipDSCP.DSCP = u8(3)
	ipipLocal := ipipVIP("10.0.0.1")
	ipipLocal.Local = netip.MustParseAddr("10.0.0.2")
	dscpMSS := dscpVIP("10.0.0.1", 1)
	dscpMSS.MSS = 1400
	for _, tc := range []struct {
		c    Config
		want string
	}{
		{dscpVIP("10.0.0.1", 64), "DSCP 64 is out of range: use 0-63"},
		{Config{VIP: netip.MustParseAddr("10.0.0.1")}, "needs its DSCP code"},
		{c6, "VIP 10.0.0.1 is IPv4 but --local 2001:db8::1 is IPv6"},
		{ipipDSCP, "DSCP 3 given for VIP 10.0.0.1 in ipip mode"},
		{ipipLocal, "--local 10.0.0.2 given for VIP 10.0.0.1 in ipip mode"},
		{dscpMSS, "--mss 1400 is for ipip mode only"},
		{dscpVIP("127.0.0.1", 1), "VIP 127.0.0.1 is not a unicast service address"},
		{Config{Mode: "gre"}, `mode "gre" is unknown`},
	} {
		err := tc.c.Validate()
		if !errors.Is(err, errInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.c, err, tc.want)
		}
	}
	if err := dscpVIP("2001:db8::1", 63).Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func TestClampRuleRoundTrip(t *testing.T) {
	for _, c := range []clamp{{netip.MustParseAddr("10.0.1.1"), 1440}, {netip.MustParseAddr("2001:db8::1"), 1400}} {
		got, ok := parseClampRule(clampExprs(c))
		if !ok || got != c {
			t.Errorf("parse(exprs(%+v)) = %+v, %v", c, got, ok)
		}
	}
	if _, ok := parseClampRule(clampExprs(clamp{netip.MustParseAddr("10.0.1.1"), 1440})[:9]); ok {
		t.Errorf("a rule without the maxseg write parsed as a clamp")
	}
}

func TestStateFileAtomic(t *testing.T) {
	dir := t.TempDir()
	s := upRecord{VIPs: []vipRecord{{Config: dscpVIP("10.0.0.1", 21), AddedAddr: true}}, Sysctls: map[string]sysctlChange{"k": {"0", "1"}}}
	if err := saveState(dir, s); err != nil {
		t.Fatal(err)
	}
	got, err := loadState(dir)
	if err != nil || len(got.VIPs) != 1 || got.VIPs[0].codes().String() != "21" || got.VIPs[0].DSCP != nil || !got.VIPs[0].AddedAddr || got.Sysctls["k"].Old != "0" {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != stateFile {
		t.Fatalf("files left in the state dir: %v", ents)
	}
	os.WriteFile(filepath.Join(dir, stateFile), []byte("{"), 0o644)
	if _, err := loadState(dir); err == nil || !strings.Contains(err.Error(), "Down needs it") {
		t.Fatalf("corrupt state: %v", err)
	}
}

func TestStateDirPerNetns(t *testing.T) {
	t.Setenv(StateDirEnv, "/x")
	d, err := stateDirOf()
	if err != nil || !strings.HasPrefix(d, "/x/netns-") {
		t.Fatalf("StateDir = %q, %v", d, err)
	}
}

// A failed step of Down leaves the rest done and the record of what is
// left, so a second Down finishes the job.
func TestDownRetry(t *testing.T) {
	f := newFakeSys()
	m := f.manager(t)
	before := f.snap()
	mustUp(t, m, dscpVIP("10.0.0.1", 21))
	f.fail["AddrDel"] = errBoom
	a, err := m.Down(ctx, netip.MustParseAddr("10.0.0.1"))
	if !errors.Is(err, errBoom) || !strings.Contains(err.Error(), "run 'l3dsr realserver down --vip 10.0.0.1' again") {
		t.Fatalf("Down with a failing step: %v", err)
	}
	if len(f.table) != 0 || f.rules[xtrule.IPv4] != 0 || !f.onLo("10.0.0.1/32") || len(a.Changes) != 4 {
		t.Fatalf("the other steps did not run: changes %q, %+v", a.Changes, f.snap())
	}
	st, _ := loadState(m.stateDir)
	if len(st.VIPs) != 1 || !st.VIPs[0].AddedAddr || st.VIPs[0].Codes[0].AddedMapping {
		t.Fatalf("record after a partial Down: %+v", st)
	}
	delete(f.fail, "AddrDel")
	d := mustDown(t, m, "10.0.0.1")
	if !slices.Equal(d.Changes, []string{"removed 10.0.0.1/32 from lo"}) {
		t.Fatalf("second Down changes %q", d.Changes)
	}
	sameSnap(t, "Down finished by a second Down", before, f.snap())
}
