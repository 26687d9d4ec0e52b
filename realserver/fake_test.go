package realserver

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/rtnl"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/maptable"
	"golang.org/x/sys/unix"
)

// hostState is everything Up and Down may touch: addresses, links,
// sysctls, the map, the map-mode rules and the clamps.
type hostState struct {
	addrs   []rtnl.Addr
	links   []rtnl.Link
	sysctls map[string]string
	table   map[maptable.Key]maptable.Entry
	rules   map[xtrule.Family]int
	clamps  []clamp
}

// fakeSys is an in-memory real server. fail makes the named operation fail.
type fakeSys struct {
	hostState
	fail map[string]error
	// autoload: EnsureLink of these kinds makes the fallback device
	// appear (as the kernel's module autoload does) and reports EEXIST.
	autoload map[string]string
	nextIdx  int
	// defaultSrc is the source of the default route (none if invalid).
	defaultSrc netip.Addr
	explicit   map[string]bool
	// calls counts the operations by name (those that can fail on demand).
	calls map[string]int
}

func newFakeSys() *fakeSys {
	return &fakeSys{
		hostState: hostState{
			links: []rtnl.Link{
				{Index: 1, Name: "lo", Flags: unix.IFF_UP | unix.IFF_LOOPBACK, MTU: 65536},
				{Index: 2, Name: "eth0", Flags: unix.IFF_UP, MTU: 1500, Kind: "veth"},
			},
			addrs: []rtnl.Addr{
				{Index: 1, Prefix: netip.MustParsePrefix("127.0.0.1/8"), Scope: rtnl.ScopeHost},
				{Index: 2, Prefix: netip.MustParsePrefix("192.0.2.10/24")},
				{Index: 2, Prefix: netip.MustParsePrefix("2001:db8:1::10/64")},
			},
			sysctls: map[string]string{
				"net.ipv4.conf.all.arp_ignore":     "0",
				"net.ipv4.conf.all.arp_announce":   "2",
				"net.ipv4.conf.all.rp_filter":      "1",
				"net.ipv4.conf.default.rp_filter":  "1",
				"net.ipv4.conf.eth0.rp_filter":     "1",
				"net.ipv4.conf.lo.rp_filter":       "0",
				"net.ipv4.conf.all.arp_filter":     "0",
				"net.ipv4.conf.default.arp_ignore": "0",
			},
			table: map[maptable.Key]maptable.Entry{},
			rules: map[xtrule.Family]int{},
		},
		fail:     map[string]error{},
		autoload: map[string]string{"ipip": "tunl0", "ip6tnl": "ip6tnl0"},
		nextIdx:  10,
	}
}

func (f *fakeSys) manager(t *testing.T) *Manager {
	return &Manager{
		net:       f,
		sysctl:    f,
		dialTable: func() (Table, error) { return tableView{f}, f.fail["dial"] },
		newRules:  func(xtrule.Variant, Ingress) Rules { return rulesView{f} },
		clamps:    clampsView{f},
		stateDir:  t.TempDir(),
	}
}

func (f *fakeSys) op(name string) error {
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[name]++
	return f.fail[name]
}

func (f *fakeSys) LinkByName(name string) (rtnl.Link, error) {
	for _, l := range f.links {
		if l.Name == name {
			return l, nil
		}
	}
	return rtnl.Link{}, fmt.Errorf("looking up link %s: %w", name, rtnl.ErrNotFound)
}

func (f *fakeSys) Links() ([]rtnl.Link, error) { return slices.Clone(f.links), f.op("Links") }

func (f *fakeSys) LinkSetUp(index int, up bool) error {
	if err := f.op("LinkSetUp"); err != nil {
		return err
	}
	for i := range f.links {
		if f.links[i].Index == index {
			if up {
				f.links[i].Flags |= unix.IFF_UP
			} else {
				f.links[i].Flags &^= unix.IFF_UP
			}
			return nil
		}
	}
	return rtnl.ErrNotFound
}

func (f *fakeSys) addLink(name, kind string, mtu uint32) {
	f.links = append(f.links, rtnl.Link{Index: f.nextIdx, Name: name, Kind: kind, MTU: mtu})
	f.nextIdx++
	f.sysctls["net.ipv4.conf."+name+".rp_filter"] = f.sysctls["net.ipv4.conf.default.rp_filter"]
}

func (f *fakeSys) EnsureLink(kind, name string) (bool, error) {
	if err := f.op("EnsureLink"); err != nil {
		return false, err
	}
	if _, err := f.LinkByName(name); err == nil {
		return false, nil
	}
	if f.autoload[kind] == name {
		f.addLink(name, kind, 1480)
		return false, nil
	}
	f.addLink(name, kind, 1480)
	return true, nil
}

func (f *fakeSys) LinkDel(index int) error {
	if err := f.op("LinkDel"); err != nil {
		return err
	}
	f.links = slices.DeleteFunc(f.links, func(l rtnl.Link) bool { return l.Index == index })
	return nil
}

func (f *fakeSys) AddrList(index int) ([]rtnl.Addr, error) {
	var out []rtnl.Addr
	for _, a := range f.addrs {
		if index == 0 || a.Index == index {
			out = append(out, a)
		}
	}
	return out, f.op("AddrList")
}

func (f *fakeSys) AddrAdd(index int, p netip.Prefix) error {
	if err := f.op("AddrAdd"); err != nil {
		return err
	}
	for _, a := range f.addrs {
		if a.Index == index && a.Prefix == p {
			return rtnl.ErrExists
		}
	}
	f.addrs = append(f.addrs, rtnl.Addr{Index: index, Prefix: p})
	return nil
}

func (f *fakeSys) AddrDel(index int, p netip.Prefix) error {
	if err := f.op("AddrDel"); err != nil {
		return err
	}
	n := len(f.addrs)
	f.addrs = slices.DeleteFunc(f.addrs, func(a rtnl.Addr) bool { return a.Index == index && a.Prefix == p })
	if len(f.addrs) == n {
		return fmt.Errorf("deleting %v: %w", p, rtnl.ErrNotFound)
	}
	return nil
}

func (f *fakeSys) Get(k string) (string, error) {
	v, ok := f.sysctls[k]
	if !ok {
		return "", fmt.Errorf("reading sysctl %s: no such key", k)
	}
	return v, nil
}

func (f *fakeSys) Set(k, v string) error {
	if err := f.op("Set " + k); err != nil {
		return err
	}
	if _, ok := f.sysctls[k]; !ok {
		return fmt.Errorf("setting sysctl %s: no such key", k)
	}
	f.sysctls[k] = v
	// As the kernel does: a write to conf/default is copied to every
	// interface whose own value was never written.
	if f.explicit == nil {
		f.explicit = map[string]bool{}
	}
	f.explicit[k] = true
	if rest, ok := strings.CutPrefix(k, "net.ipv4.conf.default."); ok {
		for _, l := range f.links {
			ik := "net.ipv4.conf." + l.Name + "." + rest
			if _, has := f.sysctls[ik]; has && !f.explicit[ik] {
				f.sysctls[ik] = v
			}
		}
	}
	return nil
}

func (f *fakeSys) key(k maptable.Key) maptable.Key {
	if k.Family == 0 {
		k.Family = dsrtypes.FamilyOf(k.Local)
	}
	return k
}

func (f *fakeSys) GetEntry(k maptable.Key) (maptable.Entry, error) {
	e, ok := f.table[f.key(k)]
	if !ok {
		return e, fmt.Errorf("getting %v: %w", k, maptable.ErrNotFound)
	}
	return e, nil
}

// fakeSys is the Table too; Get is taken by Sysctls, so the table's Get
// goes through tableView.
type tableView struct{ *fakeSys }

func (t tableView) Get(k maptable.Key) (maptable.Entry, error) { return t.GetEntry(k) }

func (f *fakeSys) Add(e maptable.Entry, replace bool) error {
	if err := f.op("Add"); err != nil {
		return err
	}
	k := f.key(e.Key())
	if _, ok := f.table[k]; ok && !replace {
		return maptable.ErrExists
	}
	e.Family = k.Family
	f.table[k] = e
	return nil
}

func (f *fakeSys) Delete(k maptable.Key) error {
	if err := f.op("Delete"); err != nil {
		return err
	}
	k = f.key(k)
	if _, ok := f.table[k]; !ok {
		return maptable.ErrNotFound
	}
	delete(f.table, k)
	return nil
}

func (f *fakeSys) List() ([]maptable.Entry, error) {
	var out []maptable.Entry
	for _, e := range f.table {
		out = append(out, e)
	}
	return out, f.op("List")
}

func (f *fakeSys) Close() error { return nil }

func (f *fakeSys) Replace(entries []maptable.Entry) error {
	if err := f.op("Replace"); err != nil {
		return err
	}
	clear(f.table)
	for _, e := range entries {
		if err := f.Add(e, false); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeSys) Ensure(_ context.Context, fam xtrule.Family) (bool, error) {
	if err := f.op("Ensure"); err != nil {
		return false, err
	}
	if f.rules[fam] > 0 {
		return false, nil
	}
	f.rules[fam]++
	return true, nil
}

func (f *fakeSys) DeleteRule(fam xtrule.Family) error {
	if err := f.op("DeleteRule"); err != nil {
		return err
	}
	if f.rules[fam] > 1 {
		f.rules[fam]--
	} else {
		delete(f.rules, fam)
	}
	return nil
}

func (f *fakeSys) Exists(_ context.Context, fam xtrule.Family) (bool, error) {
	return f.rules[fam] > 0, nil
}

type rulesView struct{ *fakeSys }

func (r rulesView) Delete(_ context.Context, fam xtrule.Family) error { return r.DeleteRule(fam) }

// Reshape: the count has no shapes (ingress_test.go's fake has).
func (r rulesView) Reshape(context.Context, xtrule.Family) (bool, error) { return false, nil }

type clampsView struct{ *fakeSys }

func (c clampsView) List() ([]clamp, error) { return slices.Clone(c.clamps), c.op("ClampList") }
func (c clampsView) Set(cl []clamp) error {
	if err := c.op("ClampSet"); err != nil {
		return err
	}
	c.clamps = slices.Clone(cl)
	return nil
}

var errBoom = errors.New("boom")

// RouteOif is the interface holding dst's subnet, as the kernel's lookup
// of a connected route answers.
func (f *fakeSys) RouteOif(dst netip.Addr) (int, error) {
	if err := f.op("RouteOif"); err != nil {
		return 0, err
	}
	for _, a := range f.addrs {
		if a.Index != 1 && a.Prefix.Bits() < dst.BitLen() && a.Prefix.Contains(dst) {
			return a.Index, nil
		}
	}
	return 0, fmt.Errorf("looking up the route to %s: network unreachable", dst)
}

func (f *fakeSys) RouteSrc(dst netip.Addr) (netip.Addr, error) {
	if f.defaultSrc.IsValid() && f.defaultSrc.Is4() == dst.Is4() {
		return f.defaultSrc, nil
	}
	return netip.Addr{}, fmt.Errorf("looking up the route to %s: network unreachable", dst)
}
