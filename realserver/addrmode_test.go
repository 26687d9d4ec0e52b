package realserver

import (
	"encoding/json"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/rtnl"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/maptable"
)

func addrVIP(vip, rip string) Config {
	return Config{VIP: netip.MustParseAddr(vip), Mode: dsrtypes.ModeAddr, RIP: netip.MustParseAddr(rip)}
}

func (f *fakeSys) hasAddr(index int, p string) bool {
	return slices.Contains(f.addrs, rtnl.Addr{Index: index, Prefix: netip.MustParsePrefix(p)})
}

// anyKey is the key of the any-DSCP entry of rip, as the fake stores it.
func anyKey(rip string) maptable.Key {
	a := netip.MustParseAddr(rip)
	return maptable.Key{Family: dsrtypes.FamilyOf(a), AnyDSCP: true, Local: a}
}

func TestUpDownAddr(t *testing.T) {
	f := newFakeSys()
	m := f.manager(t)
	before := f.snap()
	a := mustUp(t, m, addrVIP("10.0.0.4", "192.0.2.50"))
	want := []string{
		"added 10.0.0.4/32 to lo",
		"added 192.0.2.50/32 to eth0",
		"set net.ipv4.conf.all.arp_ignore = 1 (was 0)",
		"set net.ipv4.conf.all.rp_filter = 2 (was 1)",
		"appended the map-mode rule for IPv4 (-t raw -A PREROUTING -j DADDR --map)",
	}
	if len(a.Changes) != len(want)+1 || !slices.Equal(a.Changes[:len(want)], want) || !strings.HasPrefix(a.Changes[len(want)], "mapped IPv4") {
		t.Fatalf("changes:\n got %q\nwant %q and the mapping", a.Changes, want)
	}
	if a.Config.Dev != "eth0" {
		t.Fatalf("Dev %q, want eth0 (the route to the RIP's subnet)", a.Config.Dev)
	}
	e, ok := f.table[anyKey("192.0.2.50")]
	if !ok || e.VIP != netip.MustParseAddr("10.0.0.4") || !e.AnyDSCP || e.SetDSCP != nil || len(f.table) != 1 {
		t.Fatalf("table %+v", f.table)
	}
	if !f.hasAddr(2, "192.0.2.50/32") || !f.onLo("10.0.0.4/32") || f.rules[xtrule.IPv4] != 1 {
		t.Fatalf("after Up: %+v", f.snap())
	}
	if a := mustUp(t, m, addrVIP("10.0.0.4", "192.0.2.50")); len(a.Changes) != 0 {
		t.Fatalf("second Up changed %q", a.Changes)
	}
	// A fresh manager reads the record back from the state file.
	m2 := f.manager(t)
	m2.stateDir = m.stateDir
	d := mustDown(t, m2, "10.0.0.4")
	if !slices.Contains(d.Changes, "removed 192.0.2.50/32 from eth0") {
		t.Fatalf("down changes %q", d.Changes)
	}
	sameSnap(t, "Up then Down", before, f.snap())
	if stateText(m) != "" {
		t.Fatalf("state left: %s", stateText(m))
	}
}

// The RIP on an interface before Up stays after Down; --dev puts it on
// another interface than the route's.
func TestAddrRIPThereBefore(t *testing.T) {
	f := newFakeSys()
	f.addLink("eth1", "veth", 1500)
	f.addrs = append(f.addrs, rtnl.Addr{Index: 2, Prefix: netip.MustParsePrefix("192.0.2.51/24")}) // a secondary
	m := f.manager(t)
	a := mustUp(t, m, addrVIP("10.0.0.5", "192.0.2.51"))
	if slices.ContainsFunc(a.Changes, func(s string) bool { return strings.Contains(s, "192.0.2.51/") }) || a.Config.Dev != "eth0" {
		t.Fatalf("Up touched the RIP there before: %q (dev %q)", a.Changes, a.Config.Dev)
	}
	d := mustDown(t, m, "10.0.0.5")
	if !f.hasAddr(2, "192.0.2.51/24") || !slices.Contains(d.Notes, "kept 192.0.2.51 on eth0: it was there before up") {
		t.Fatalf("Down: addrs %v notes %q", f.addrs, d.Notes)
	}

	c := addrVIP("10.0.0.6", "192.0.2.60")
	c.Dev = "eth1"
	mustUp(t, m, c)
	if !f.hasAddr(10, "192.0.2.60/32") {
		t.Fatalf("RIP not on eth1: %v", f.addrs)
	}
	mustDown(t, m, "10.0.0.6")
	if f.hasAddr(10, "192.0.2.60/32") {
		t.Fatalf("RIP left on eth1 after down: %v", f.addrs)
	}
}

// Each error names the value and the fix; nothing changes, and the
// errors of the host's making match ErrHostInput (the CLI's exit 2).
func TestAddrRefusals(t *testing.T) {
	withDev := func(c Config, dev string) Config { c.Dev = dev; return c }
	for _, tc := range []struct {
		name  string
		c     Config
		class error
		want  string
	}{
		{"primary v4", addrVIP("10.0.0.4", "192.0.2.10"), ErrHostInput,
			"--rip 192.0.2.10 is the primary address of eth0 (192.0.2.10/24): the server's own traffic goes out from it, and the any-DSCP entry would hand every packet sent to it to VIP 10.0.0.4; give VIP 10.0.0.4 an address of its own (e.g. an unused one of 192.0.2.0/24)"},
		{"primary v6", addrVIP("2001:db8::4", "2001:db8:1::10"), ErrHostInput, "--rip 2001:db8:1::10 is the primary address of eth0"},
		{"unknown dev", withDev(addrVIP("10.0.0.4", "192.0.2.50"), "eth9"), ErrHostInput,
			"--dev eth9: looking up link eth9: not found: give an interface of this server's ('ip link' lists them), or leave --dev out for the one of the route to 192.0.2.50"},
		{"no route", addrVIP("10.0.0.4", "198.51.100.7"), ErrHostInput, "--rip 198.51.100.7: no interface to put it on"},
		{"on another dev", withDev(addrVIP("10.0.0.4", "127.0.0.1"), "eth0"), errInvalid, "--rip 127.0.0.1 is not a plain unicast address"},
		{"dscp given", func() Config { c := addrVIP("10.0.0.4", "192.0.2.50"); c.DSCP = u8(5); return c }(), errInvalid,
			"--dscp 5 given for VIP 10.0.0.4 in addr mode: addr mode uses no DSCP code (the VIP is known by --rip); leave --dscp out, or use --mode dscp"},
		{"no rip", Config{VIP: netip.MustParseAddr("10.0.0.4"), Mode: dsrtypes.ModeAddr}, errInvalid, "VIP 10.0.0.4 in addr mode needs its RIP: give --rip"},
		{"rip is vip", addrVIP("10.0.0.4", "10.0.0.4"), errInvalid, "--rip 10.0.0.4 is VIP 10.0.0.4 itself"},
		{"rip family", addrVIP("10.0.0.4", "2001:db8::5"), errInvalid, "VIP 10.0.0.4 is IPv4 but --rip 2001:db8::5 is IPv6"},
		{"local", func() Config { c := addrVIP("10.0.0.4", "192.0.2.50"); c.Local = c.RIP; return c }(), errInvalid, "--local 192.0.2.50 given for VIP 10.0.0.4 in addr mode"},
		{"rip in dscp mode", func() Config { c := dscpVIP("10.0.0.4", 5); c.RIP = netip.MustParseAddr("192.0.2.50"); return c }(), errInvalid,
			"--rip 192.0.2.50 given for VIP 10.0.0.4 in dscp mode: --rip and --dev are for addr mode only; leave them out, or use --mode addr"},
		{"set in ipip mode", func() Config { c := ipipVIP("10.0.0.4"); c.SetDSCP = u8(0); return c }(), errInvalid, "--set-dscp 0 given for VIP 10.0.0.4 in ipip mode"},
		{"set out of range", func() Config { c := dscpVIP("10.0.0.4", 5); c.SetDSCP = u8(64); return c }(), errInvalid, "--set-dscp 64 is out of range: use 0-63"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSys()
			m := f.manager(t)
			before := f.snap()
			_, err := m.Up(ctx, tc.c, xtrule.Default)
			if err == nil || !errors.Is(err, tc.class) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v; want %v with %q", err, tc.class, tc.want)
			}
			sameSnap(t, tc.name, before, f.snap())
			if f.calls["AddrAdd"] != 0 || stateText(m) != "" {
				t.Fatalf("a refused Up reached the system: calls %v state %q", f.calls, stateText(m))
			}
		})
	}
}

func TestAddrConflicts(t *testing.T) {
	f := newFakeSys()
	m := f.manager(t)
	mustUp(t, m, addrVIP("10.0.0.4", "192.0.2.50"))
	before := f.snap()
	_, err := m.Up(ctx, addrVIP("10.0.0.5", "192.0.2.50"), xtrule.Default)
	if !errors.Is(err, ErrConflict) || err.Error() != "VIP 10.0.0.5 and VIP 10.0.0.4 would both have RIP 192.0.2.50: the server could not tell them apart; give VIP 10.0.0.5 a --rip of its own" {
		t.Fatalf("same RIP: %v", err)
	}
	// The same VIP with another RIP is another setup: down first.
	if _, err := m.Up(ctx, addrVIP("10.0.0.4", "192.0.2.51"), xtrule.Default); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "run 'l3dsr realserver down --vip 10.0.0.4' first") {
		t.Fatalf("other RIP: %v", err)
	}
	// A RIP that is a VIP, and a VIP that is a RIP.
	mustUp(t, m, dscpVIP("10.0.0.1", 21))
	before = f.snap()
	if _, err := m.Up(ctx, addrVIP("10.0.0.6", "10.0.0.1"), xtrule.Default); !errors.Is(err, ErrConflict) ||
		err.Error() != "--rip 10.0.0.1 is a VIP set up here (VIP 10.0.0.1 (dscp, DSCP 21)): its packets would all go to VIP 10.0.0.6; give VIP 10.0.0.6 another --rip" {
		t.Fatalf("RIP is a VIP: %v", err)
	}
	if _, err := m.Up(ctx, dscpVIP("192.0.2.50", 30), xtrule.Default); !errors.Is(err, ErrConflict) ||
		err.Error() != "VIP 192.0.2.50 is the RIP of VIP 10.0.0.4: packets to it go to VIP 10.0.0.4; give VIP 192.0.2.50 another address, or take VIP 10.0.0.4 down first" {
		t.Fatalf("VIP is a RIP: %v", err)
	}
	sameSnap(t, "refused Ups", before, f.snap())

	// An entry someone else made for the RIP is left alone.
	f2 := newFakeSys()
	f2.table[anyKey("192.0.2.52")] = maptable.Entry{Family: dsrtypes.IPv4, AnyDSCP: true, Local: netip.MustParseAddr("192.0.2.52"), VIP: netip.MustParseAddr("10.9.9.9")}
	m2 := f2.manager(t)
	before = f2.snap()
	_, err = m2.Up(ctx, addrVIP("10.0.0.4", "192.0.2.52"), xtrule.Default)
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "already maps to VIP 10.9.9.9, which 'l3dsr realserver' did not set up: remove it ('l3dsr rule del --dscp any --local 192.0.2.52') or give VIP 10.0.0.4 another --rip") {
		t.Fatalf("foreign entry: %v", err)
	}
	sameSnap(t, "foreign entry", before, f2.snap())
}

// A /32 that the default route uses as its source is the server's own
// address too, though no interface's primary one.
func TestAddrRefusesDefaultSrc(t *testing.T) {
	f := newFakeSys()
	f.addrs = append(f.addrs, rtnl.Addr{Index: 2, Prefix: netip.MustParsePrefix("192.0.2.99/32")})
	f.defaultSrc = netip.MustParseAddr("192.0.2.99")
	m := f.manager(t)
	before := f.snap()
	_, err := m.Up(ctx, addrVIP("10.0.0.4", "192.0.2.99"), xtrule.Default)
	if !errors.Is(err, ErrHostInput) || err.Error() != "--rip 192.0.2.99 is the source address of the default route: the server's own traffic goes out from it, and the any-DSCP entry would hand every answer sent to it to VIP 10.0.0.4; give VIP 10.0.0.4 an address of its own" {
		t.Fatalf("Up: %v", err)
	}
	sameSnap(t, "refused Up", before, f.snap())
	// Another /32 of eth0 is fine.
	f.addrs = append(f.addrs, rtnl.Addr{Index: 2, Prefix: netip.MustParsePrefix("192.0.2.98/32")})
	mustUp(t, m, addrVIP("10.0.0.4", "192.0.2.98"))
}

// A failing step undoes the RIP with the rest.
func TestAddrAllOrNothing(t *testing.T) {
	f := newFakeSys()
	f.fail["Ensure"] = errBoom
	m := f.manager(t)
	before := f.snap()
	if _, err := m.Up(ctx, addrVIP("10.0.0.4", "192.0.2.50"), xtrule.Default); !errors.Is(err, errBoom) {
		t.Fatalf("Up: %v", err)
	}
	sameSnap(t, "failed Up", before, f.snap())
	if f.calls["AddrAdd"] != 2 || stateText(m) != "" {
		t.Fatalf("calls %v state %q", f.calls, stateText(m))
	}
}

// --set-dscp reaches the entry in both modes, and show reports a reset
// that differs.
func TestSetDSCP(t *testing.T) {
	f := newFakeSys()
	m := f.manager(t)
	c := dscpVIP("10.0.0.1", 21)
	c.SetDSCP = u8(0)
	mustUp(t, m, c)
	a := addrVIP("10.0.0.4", "192.0.2.50")
	a.SetDSCP = u8(10)
	mustUp(t, m, a)
	e1 := f.table[maptable.Key{Family: dsrtypes.IPv4, DSCP: 21}]
	e2 := f.table[anyKey("192.0.2.50")]
	if e1.SetDSCP == nil || *e1.SetDSCP != 0 || e2.SetDSCP == nil || *e2.SetDSCP != 10 {
		t.Fatalf("entries %+v %+v", e1, e2)
	}
	// Another reset for a VIP that is up changes its entry in place.
	c.SetDSCP = u8(1)
	if _, err := m.Up(ctx, c, xtrule.Default); err != nil {
		t.Fatalf("other reset: %v", err)
	}
	if e := f.table[maptable.Key{Family: dsrtypes.IPv4, DSCP: 21}]; e.SetDSCP == nil || *e.SetDSCP != 1 {
		t.Fatalf("entry after the new reset: %+v", e)
	}
	c.SetDSCP = u8(0)
	mustUp(t, m, c)
	rep, err := m.Show(ctx, xtrule.Default)
	if err != nil || len(rep.Problems) != 0 || len(rep.VIPs) != 2 || !rep.VIPs[1].RIPPresent || rep.VIPs[1].Mapping == nil {
		t.Fatalf("show: %v %+v", err, rep)
	}
	var out strings.Builder
	if err := WriteReport(&out, rep, "table"); err != nil || !strings.Contains(out.String(), "10.0.0.1  dscp  21 (set 0)") || !strings.Contains(out.String(), "10.0.0.4  addr  any (set 10)  192.0.2.50 on eth0") {
		t.Fatalf("table:\n%s", out.String())
	}
	e2.SetDSCP = nil
	f.table[anyKey("192.0.2.50")] = e2
	rep, _ = m.Show(ctx, xtrule.Default)
	if len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0].What, "resets the DSCP to none (the packet's own kept), not to 10 as up set it") ||
		rep.Problems[0].Fix != "run 'l3dsr realserver up --vip 10.0.0.4 --mode addr --rip 192.0.2.50 --dev eth0 --set-dscp 10' (it adds back what is missing)" {
		t.Fatalf("problems %+v", rep.Problems)
	}
	// The fix show prints repairs it.
	mustUp(t, m, a)
	if e := f.table[anyKey("192.0.2.50")]; e.SetDSCP == nil || *e.SetDSCP != 10 {
		t.Fatalf("entry after the fix: %+v", e)
	}
}

// show reports a RIP or an entry that went, and up puts them back.
func TestShowAddrDrift(t *testing.T) {
	f := newFakeSys()
	m := f.manager(t)
	mustUp(t, m, addrVIP("10.0.0.4", "192.0.2.50"))
	f.addrs = slices.DeleteFunc(f.addrs, func(a rtnl.Addr) bool { return a.Prefix.Addr() == netip.MustParseAddr("192.0.2.50") })
	delete(f.table, anyKey("192.0.2.50"))
	rep, err := m.Show(ctx, xtrule.Default)
	if err != nil || len(rep.Problems) != 2 || rep.VIPs[0].OK || rep.VIPs[0].RIPPresent {
		t.Fatalf("show: %v %+v", err, rep)
	}
	if w := rep.Problems[0].What; w != "RIP 192.0.2.50 is on no interface (up put it on eth0): the director's packets for VIP 10.0.0.4 are not taken in" {
		t.Fatalf("problem %q", w)
	}
	if w := rep.Problems[1].What; !strings.HasPrefix(w, "the map has no entry for") {
		t.Fatalf("problem %q", w)
	}
	mustUp(t, m, addrVIP("10.0.0.4", "192.0.2.50"))
	if rep, _ := m.Show(ctx, xtrule.Default); len(rep.Problems) != 0 {
		t.Fatalf("after repair: %+v", rep.Problems)
	}
	// The repaired RIP is Up's again: Down removes it.
	mustDown(t, m, "10.0.0.4")
	if f.hasAddr(2, "192.0.2.50/32") || len(f.table) != 0 {
		t.Fatalf("after down: %v %v", f.addrs, f.table)
	}
}

// The state file records what addr mode added; one from before addr mode
// (without the new keys) still loads.
func TestAddrState(t *testing.T) {
	f := newFakeSys()
	m := f.manager(t)
	mustUp(t, m, addrVIP("10.0.0.4", "192.0.2.50"))
	var st struct {
		VIPs []map[string]any `json:"vips"`
	}
	if err := json.Unmarshal([]byte(stateText(m)), &st); err != nil || len(st.VIPs) != 1 {
		t.Fatalf("state %v: %s", err, stateText(m))
	}
	v := st.VIPs[0]
	if v["mode"] != "addr" || v["rip"] != "192.0.2.50" || v["dev"] != "eth0" || v["added_rip"] != true || v["added_entry"] != true || v["added_addr"] != true {
		t.Fatalf("state record %v", v)
	}
	old, err := func() (upRecord, error) {
		dir := t.TempDir()
		if err := saveState(dir, upRecord{VIPs: []vipRecord{{Config: dscpVIP("10.0.0.1", 21), AddedAddr: true}}}); err != nil {
			return upRecord{}, err
		}
		return loadState(dir)
	}()
	if err != nil || len(old.VIPs) != 1 || old.VIPs[0].AddedRIP || old.VIPs[0].RIP.IsValid() {
		t.Fatalf("old record %v %+v", err, old)
	}
}
