package realserver

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/errclass"
	"github.com/l3dsr/l3dsr/internal/rtnl"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/maptable"
)

// validateAddrFields checks the fields that belong to some modes only:
// --rip and --dev (addr mode), --set-dscp (dscp and addr modes).
func (c Config) validateAddrFields() error {
	if c.mode() != dsrtypes.ModeAddr && (c.RIP.IsValid() || c.Dev != "") {
		what := "--dev " + c.Dev
		if c.RIP.IsValid() {
			what = "--rip " + c.RIP.String()
		}
		return invalidf("%s given for VIP %s in %s mode: --rip and --dev are for addr mode only; leave them out, or use --mode addr", what, c.VIP, c.mode())
	}
	if c.SetDSCP == nil {
		return nil
	}
	if !c.mapped() {
		return invalidf("--set-dscp %d given for VIP %s in %s mode: only dscp and addr modes rewrite the packet, so only they can reset its DSCP; leave --set-dscp out", *c.SetDSCP, c.VIP, c.mode())
	}
	if dsrtypes.DSCP(*c.SetDSCP) > dsrtypes.MaxDSCP {
		return invalidf("--set-dscp %d is out of range: use 0-%d (0 clears the code after the rewrite)", *c.SetDSCP, dsrtypes.MaxDSCP)
	}
	return nil
}

// validateAddr checks an addr-mode VIP on its own; what depends on the
// host (the RIP not the server's primary address, --dev known) Up checks.
func (c Config) validateAddr() error {
	if c.DSCP != nil {
		return invalidf("--dscp %d given for VIP %s in addr mode: addr mode uses no DSCP code (the VIP is known by --rip); leave --dscp out, or use --mode dscp", *c.DSCP, c.VIP)
	}
	if c.Local.IsValid() {
		return invalidf("--local %s given for VIP %s in addr mode: the VIP's entry is keyed by its --rip already; leave --local out", c.Local, c.VIP)
	}
	if c.MSS != 0 {
		return invalidf("--mss %d is for ipip mode only (addr mode adds no header, so nothing needs clamping): leave it out", c.MSS)
	}
	if !c.RIP.IsValid() {
		return invalidf("VIP %s in addr mode needs its RIP: give --rip, an address of this server's that stands for the VIP alone (the director sends the VIP's packets to it)", c.VIP)
	}
	if c.RIP.Is4() != c.VIP.Is4() {
		return invalidf("VIP %s is %s but --rip %s is %s: give a RIP of the VIP's family", c.VIP, famName(c.VIP), c.RIP, famName(c.RIP))
	}
	if c.RIP == c.VIP {
		return invalidf("--rip %s is VIP %s itself: the RIP is a second address of the server's that stands for the VIP; give another one", c.RIP, c.VIP)
	}
	if c.RIP.Zone() != "" || c.RIP.Is4In6() || (!c.RIP.IsGlobalUnicast() && !c.RIP.IsPrivate()) {
		return invalidf("--rip %s is not a plain unicast address (zone, loopback, link-local, multicast or unspecified): give an address the director can send to", c.RIP)
	}
	return nil
}

// sameSet reports whether two optional DSCP resets are the same.
func sameSet(a, b *uint8) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

// ripName is the RIP with its device, for texts: "192.0.2.50 on eth0".
func ripName(c Config) string {
	return fmt.Sprintf("%s on %s", c.RIP, c.Dev)
}

// ErrHostInput is matched (errors.Is) by Up's error for a value of the
// command line that cannot work on this host (an addr-mode RIP that is the
// server's primary address, a --dev or an ingress interface it does not
// have): the command line is wrong, and nothing was changed.
var ErrHostInput = errors.New("a value that cannot be used on this host")

func hostInputf(format string, a ...any) error { return errclass.New(ErrHostInput, format, a...) }

// resolveRIP checks the RIP of the addr-mode VIP c against the host before
// anything changes, and fills in c.Dev: the interface that holds the RIP
// already, else --dev, else the interface of the route to the RIP. A VIP
// set up already keeps the device it was set up on (old).
func (m *Manager) resolveRIP(c *Config, old *vipRecord) error {
	if c.mode() != dsrtypes.ModeAddr {
		return nil
	}
	addrs, err := m.net.AddrList(0)
	if err != nil {
		return fmt.Errorf("listing the addresses, to place RIP %s: %w", c.RIP, err)
	}
	links, err := m.linkList()
	if err != nil {
		return fmt.Errorf("listing links: %w", err)
	}
	name := func(index int) string {
		for _, l := range links {
			if l.Index == index {
				return l.Name
			}
		}
		return fmt.Sprintf("#%d", index)
	}
	for i, a := range addrs {
		if a.Prefix.Addr() != c.RIP {
			continue
		}
		if primary(addrs, i) {
			return hostInputf("--rip %s is the primary address of %s (%s): the server's own traffic goes out from it, and the any-DSCP entry would hand every packet sent to it to VIP %s; give VIP %s an address of its own (e.g. an unused one of %s)",
				c.RIP, name(a.Index), a.Prefix, c.VIP, c.VIP, a.Prefix.Masked())
		}
		// The source of a route is an address of the host's: only a RIP
		// found here can be the default route's.
		if err := m.notDefaultSrc(*c); err != nil {
			return err
		}
		on := name(a.Index)
		if c.Dev != "" && c.Dev != on && (old == nil || old.Dev != c.Dev) {
			return hostInputf("--rip %s is on %s already, not on --dev %s: leave --dev out (the RIP stays where it is), or take it off %s first", c.RIP, on, c.Dev, on)
		}
		c.Dev = on
		return nil
	}
	if old != nil && old.Dev != "" && c.Dev == "" {
		c.Dev = old.Dev
	}
	if c.Dev == "" {
		idx, err := m.net.RouteOif(c.RIP)
		if err != nil {
			return hostInputf("--rip %s: no interface to put it on (%v): give --dev, the interface the director's packets arrive by", c.RIP, err)
		}
		c.Dev = name(idx)
		return nil
	}
	if _, err := m.net.LinkByName(c.Dev); err != nil {
		return hostInputf("--dev %s: %v: give an interface of this server's ('ip link' lists them), or leave --dev out for the one of the route to %s", c.Dev, err, c.RIP)
	}
	return nil
}

// internet is a destination only the default route covers on a server
// (nothing is sent to it: the kernel is asked which source it would use).
var internet = map[bool]netip.Addr{true: netip.MustParseAddr("192.88.99.1"), false: netip.MustParseAddr("2001:4860:4860::8888")}

// notDefaultSrc refuses a RIP that is the source address of the default
// route: the server's own traffic goes out from it (a /32 set as the
// route's src is no interface's primary address, so primary misses it).
// No default route: nothing to refuse.
func (m *Manager) notDefaultSrc(c Config) error {
	src, err := m.net.RouteSrc(internet[c.RIP.Is4()])
	if err != nil || src != c.RIP {
		return nil
	}
	return hostInputf("--rip %s is the source address of the default route: the server's own traffic goes out from it, and the any-DSCP entry would hand every answer sent to it to VIP %s; give VIP %s an address of its own",
		c.RIP, c.VIP, c.VIP)
}

// primary reports whether addrs[i] is a primary address of its interface:
// one that defines a subnet there (shorter than a host prefix) and is the
// first of that subnet (the kernel lists a subnet's primary address before
// its secondaries). The server's own traffic is sourced from those.
func primary(addrs []rtnl.Addr, i int) bool {
	a := addrs[i]
	if a.Prefix.Bits() == a.Prefix.Addr().BitLen() || a.Scope == rtnl.ScopeHost {
		return false
	}
	for _, b := range addrs[:i] {
		if b.Index == a.Index && b.Prefix.Bits() == a.Prefix.Bits() && b.Prefix.Masked() == a.Prefix.Masked() {
			return false
		}
	}
	return true
}

// upRIP puts the RIP on its device as a host address, unless it is on an
// interface already (Up leaves that one, and Down with it).
func (m *Manager) upRIP(_ *upRecord, r *vipRecord, t *txn) error {
	addrs, err := m.net.AddrList(0)
	if err != nil {
		return fmt.Errorf("listing the addresses: %w", err)
	}
	if hasAddr(addrs, r.RIP) {
		return nil
	}
	l, err := m.net.LinkByName(r.Dev)
	if err != nil {
		return err
	}
	p := netip.PrefixFrom(r.RIP, r.RIP.BitLen())
	if err := m.net.AddrAdd(l.Index, p); err != nil {
		return err
	}
	r.AddedRIP = true
	t.did(fmt.Sprintf("added %s to %s", p, r.Dev), func() error { return m.net.AddrDel(l.Index, p) })
	return nil
}

// upAddrEntry makes sure of the map-mode rule and of the VIP's any-DSCP
// entry.
func (m *Manager) upAddrEntry(ctx context.Context, s *upRecord, r *vipRecord, t *txn, v xtrule.Variant) error {
	added, err := m.ensureEntry(ctx, s, r, r.entry(), t, v)
	r.AddedEntry = r.AddedEntry || added
	return err
}

// rip removes the RIP from its device if Up added it.
func (d *downRun) rip(r *vipRecord) {
	if !r.AddedRIP {
		d.note("kept %s: it was there before up", ripName(r.Config))
		return
	}
	p := netip.PrefixFrom(r.RIP, r.RIP.BitLen())
	l, err := d.m.net.LinkByName(r.Dev)
	if err == nil {
		err = d.m.net.AddrDel(l.Index, p)
	}
	switch {
	case errors.Is(err, rtnl.ErrNotFound):
		d.note("%s was gone from %s already", p, r.Dev)
	case d.failed(err):
		return
	default:
		d.did("removed %s from %s", p, r.Dev)
	}
	r.AddedRIP = false
}

// hasAddr reports whether a is one of addrs, on any interface.
func hasAddr(addrs []rtnl.Addr, a netip.Addr) bool {
	return slices.ContainsFunc(addrs, func(x rtnl.Addr) bool { return x.Prefix.Addr() == a })
}

// showRIP checks that the RIP of the addr-mode VIP vs is on an interface.
func showRIP(vs *VIPStatus, addrs []rtnl.Addr, bad func(what, fix string), again string) {
	if vs.RIPPresent = hasAddr(addrs, vs.RIP); vs.RIPPresent {
		return
	}
	bad(fmt.Sprintf("RIP %s is on no interface (up put it on %s): the director's packets for VIP %s are not taken in", vs.RIP, vs.Dev, vs.VIP), again)
}

func setOf(e maptable.Entry) *uint8 {
	if e.SetDSCP == nil {
		return nil
	}
	d := uint8(*e.SetDSCP)
	return &d
}

func setName(d *uint8) string {
	if d == nil {
		return "none (the packet's own kept)"
	}
	return fmt.Sprint(*d)
}

// setFlag is the --set-dscp flag of e, if it has a reset.
func setFlag(e maptable.Entry) string {
	if e.SetDSCP == nil {
		return ""
	}
	return fmt.Sprintf(" --set-dscp %d", *e.SetDSCP)
}

// ripClash refuses an address that would be a VIP and a RIP at once: the
// any-DSCP entry of the RIP would take the other VIP's packets.
func (m *Manager) ripClash(st *upRecord, c Config) error {
	if c.mode() == dsrtypes.ModeAddr {
		if _, o := m.find(st, c.RIP); o != nil {
			return conflictf("--rip %s is a VIP set up here (%v): its packets would all go to VIP %s; give VIP %s another --rip", c.RIP, o, c.VIP, c.VIP)
		}
	}
	if o, ok := m.ripOwner(st, c.VIP); ok {
		return conflictf("VIP %s is the RIP of VIP %s: packets to it go to VIP %s; give VIP %s another address, or take VIP %s down first", c.VIP, o, o, c.VIP, o)
	}
	return nil
}

// ripOwner is the addr-mode VIP of st whose RIP is a, if any.
func (m *Manager) ripOwner(st *upRecord, a netip.Addr) (netip.Addr, bool) {
	probe := Config{VIP: a, Mode: dsrtypes.ModeAddr, RIP: a}
	if ix := m.index(); ix != nil {
		o, ok := ix.keys[probe.entry().Key()]
		return o, ok
	}
	for _, o := range st.VIPs {
		if o.mode() == dsrtypes.ModeAddr && o.RIP == a {
			return o.VIP, true
		}
	}
	return netip.Addr{}, false
}
