package realserver

import (
	"bytes"
	"context"
	"encoding/json"
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

func drVIP(vip string) Config {
	return Config{VIP: netip.MustParseAddr(vip), Mode: dsrtypes.ModeDR}
}

func localVIP(vip string, code uint8, local string) Config {
	c := dscpVIP(vip, code)
	c.Local = netip.MustParseAddr(local)
	return c
}

// snap copies everything Up and Down may touch, for before/after comparisons.
func (f *fakeSys) snap() hostState {
	return hostState{slices.Clone(f.addrs), slices.Clone(f.links), maps.Clone(f.sysctls), maps.Clone(f.table), maps.Clone(f.rules), slices.Clone(f.clamps)}
}

// changer is what the tests call of a Manager or a Batch.
type changer interface {
	Up(ctx context.Context, c Config, v xtrule.Variant) (Applied, error)
	Down(ctx context.Context, vip netip.Addr) (Applied, error)
	DownCode(ctx context.Context, vip netip.Addr, d uint8) (Applied, error)
}

// stateText is m's state file, "" if there is none.
func stateText(m *Manager) string {
	b, _ := os.ReadFile(filepath.Join(m.stateDir, stateFile))
	return string(b)
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

func mustDownCode(t *testing.T, m *Manager, vip string, d uint8) Applied {
	t.Helper()
	a, err := m.DownCode(ctx, netip.MustParseAddr(vip), d)
	if err != nil {
		t.Fatalf("DownCode(%s, %d): %v", vip, d, err)
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

// dr mode: the VIP on lo and the ARP settings, nothing else; down takes
// away exactly that.
func TestDR(t *testing.T) {
	f := newFakeSys()
	m := f.manager(t)
	before := f.snap()
	a := mustUp(t, m, drVIP("10.0.2.1"))
	want := []string{"added 10.0.2.1/32 to lo", "set net.ipv4.conf.all.arp_ignore = 1 (was 0)"}
	if !slices.Equal(a.Changes, want) {
		t.Fatalf("Up changes %q, want %q", a.Changes, want)
	}
	if !f.onLo("10.0.2.1/32") || len(f.table) != 0 || f.rules[xtrule.IPv4] != 0 || len(f.clamps) != 0 || len(f.links) != 2 {
		t.Fatalf("dr Up: on lo %v, table %v, rules %v, clamps %v, links %v", f.onLo("10.0.2.1/32"), f.table, f.rules, f.clamps, f.links)
	}
	// Neither rp_filter nor anything else beyond ARP moved.
	if f.sysctls["net.ipv4.conf.all.rp_filter"] != "1" || f.sysctls["net.ipv4.conf.all.arp_announce"] != "2" {
		t.Fatalf("sysctls %v", f.sysctls)
	}
	// IPv6: the kernel answers a neighbour solicitation only for an address
	// of the interface it came in on, never for the VIP on lo: lo alone.
	b6 := f.snap()
	a6 := mustUp(t, m, drVIP("2001:db8:72::1"))
	if !slices.Equal(a6.Changes, []string{"added 2001:db8:72::1/128 to lo"}) {
		t.Fatalf("IPv6 Up changes %q", a6.Changes)
	}
	b6.addrs = append(b6.addrs, f.addrs[len(f.addrs)-1])
	sameSnap(t, "IPv6 dr Up", b6, f.snap())
	// Up again: nothing to do.
	if a := mustUp(t, m, drVIP("10.0.2.1")); len(a.Changes) != 0 {
		t.Fatalf("second Up changed %q", a.Changes)
	}
	rep, err := m.Show(ctx, xtrule.Default)
	if err != nil || len(rep.Problems) != 0 || len(rep.VIPs) != 2 || !rep.VIPs[0].OK || rep.VIPs[0].Mode != dsrtypes.ModeDR {
		t.Fatalf("Show = %+v, %v", rep, err)
	}
	var b bytes.Buffer
	if err := WriteReport(&b, rep, "table"); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"10.0.2.1        dr    -     -      -    ok", "2001:db8:72::1  dr    -     -      -    ok"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("show lacks %q:\n%s", w, b.String())
		}
	}
	f.AddrDel(1, netip.MustParsePrefix("10.0.2.1/32"))
	if rep, _ = m.Show(ctx, xtrule.Default); len(rep.Problems) != 1 || rep.Problems[0].Fix != "run 'l3dsr realserver up --vip 10.0.2.1 --mode dr' (it adds back what is missing)" {
		t.Fatalf("VIP gone: problems %+v", rep.Problems)
	}
	f.AddrAdd(1, netip.MustParsePrefix("10.0.2.1/32"))
	d := mustDown(t, m, "10.0.2.1")
	if want := []string{"restored net.ipv4.conf.all.arp_ignore = 0", "removed 10.0.2.1/32 from lo"}; !slices.Equal(d.Changes, want) {
		t.Fatalf("Down changes %q, want %q", d.Changes, want)
	}
	mustDown(t, m, "2001:db8:72::1")
	sameSnap(t, "dr Up then Down", before, f.snap())
}

// One server, one VIP of each mode: each gets its own pieces, and taking
// one down leaves what the others need.
func TestDRMixed(t *testing.T) {
	f := newFakeSys()
	m := f.manager(t)
	before := f.snap()
	mustUp(t, m, dscpVIP("10.0.0.1", 21))
	mustUp(t, m, ipipVIP("10.0.1.1"))
	mustUp(t, m, drVIP("10.0.2.1"))
	if len(f.table) != 1 || len(f.clamps) != 1 || f.rules[xtrule.IPv4] != 1 {
		t.Fatalf("table %v clamps %v rules %v", f.table, f.clamps, f.rules)
	}
	if rep, err := m.Show(ctx, xtrule.Default); err != nil || len(rep.Problems) != 0 || len(rep.VIPs) != 3 {
		t.Fatalf("Show = %+v, %v", rep, err)
	}
	// dr down: the ARP settings stay for the others, the rest is untouched.
	mid := f.snap()
	d := mustDown(t, m, "10.0.2.1")
	if !slices.Equal(d.Changes, []string{"removed 10.0.2.1/32 from lo"}) {
		t.Fatalf("dr Down among others: %q", d.Changes)
	}
	mid.addrs = slices.DeleteFunc(mid.addrs, func(a rtnl.Addr) bool { return a.Prefix.Addr() == netip.MustParseAddr("10.0.2.1") })
	sameSnap(t, "dr Down among others", mid, f.snap())
	mustUp(t, m, drVIP("10.0.2.1"))
	mustDown(t, m, "10.0.0.1")
	mustDown(t, m, "10.0.1.1")
	if f.sysctls["net.ipv4.conf.all.arp_ignore"] != "1" || !f.onLo("10.0.2.1/32") || len(f.table) != 0 || len(f.clamps) != 0 {
		t.Fatalf("dr VIP lost its pieces when the others went: %v", f.sysctls)
	}
	mustDown(t, m, "10.0.2.1")
	after := f.snap()
	after.links = before.links // the tunnel fallback devices stay, down (see TestIPIP)
	after.sysctls = before.sysctls
	sameSnap(t, "mixed Up then Down", before, after)
	if f.sysctls["net.ipv4.conf.all.arp_ignore"] != "0" || f.sysctls["net.ipv4.conf.all.rp_filter"] != "1" {
		t.Fatalf("sysctls not restored: %v", f.sysctls)
	}
}

// A dr VIP takes no code, local address or MSS; a VIP set up in one mode
// is refused in another; nothing is changed.
func TestDRRefusals(t *testing.T) {
	dscp := drVIP("10.0.2.1")
	dscp.DSCP = u8(7)
	local := drVIP("10.0.2.1")
	local.Local = netip.MustParseAddr("192.0.2.10")
	mss := drVIP("10.0.2.1")
	mss.MSS = 1400
	for _, tc := range []struct {
		c    Config
		want string
	}{
		{dscp, "DSCP 7 given for VIP 10.0.2.1 in dr mode: dr mode uses no DSCP code (the director sends the packet to the VIP unchanged), leave --dscp out (or use --mode dscp)"},
		{local, "--local 192.0.2.10 given for VIP 10.0.2.1 in dr mode: --local selects a DSCP mapping, and dr mode has none; leave --local out"},
		{mss, "--mss 1400 is for ipip mode only (dr mode adds no header, so nothing needs clamping): leave it out"},
	} {
		f := newFakeSys()
		m := f.manager(t)
		before := f.snap()
		_, err := m.Up(ctx, tc.c, xtrule.Default)
		if !errors.Is(err, errInvalid) || err.Error() != tc.want {
			t.Errorf("Up(%v) = %v, want %q", tc.c, err, tc.want)
		}
		sameSnap(t, "refused Up", before, f.snap())
	}
	f := newFakeSys()
	m := f.manager(t)
	mustUp(t, m, dscpVIP("10.0.2.1", 9))
	before := f.snap()
	_, err := m.Up(ctx, drVIP("10.0.2.1"), xtrule.Default)
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "VIP 10.0.2.1 is set up as VIP 10.0.2.1 (dscp, DSCP 9), not as VIP 10.0.2.1 (dr): run 'l3dsr realserver down --vip 10.0.2.1' first") {
		t.Errorf("dr over dscp: %v", err)
	}
	sameSnap(t, "dr over dscp", before, f.snap())
	// A dr VIP needs no map table: the pieces check leaves it alone.
	dial := func() (maptable.Table, error) { return nil, errors.New("no xt_DADDR") }
	if err := CheckPieces(ctx, []Config{drVIP("10.0.2.1"), ipipVIP("10.0.1.1")}, dial, nil); err != nil {
		t.Errorf("CheckPieces of dr and ipip VIPs: %v", err)
	}
	if err := CheckPieces(ctx, []Config{drVIP("10.0.2.1"), dscpVIP("10.0.0.1", 3)}, dial, nil); err == nil {
		t.Errorf("CheckPieces of a dscp VIP without the table: no error")
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
