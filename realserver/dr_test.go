package realserver

import (
	"bytes"
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

func drVIP(vip string) Config {
	return Config{VIP: netip.MustParseAddr(vip), Mode: dsrtypes.ModeDR}
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
