package realserver

import (
	"context"
	"errors"
	"net/netip"
	"slices"

	"github.com/l3dsr/l3dsr/internal/rtnl"
	"github.com/l3dsr/l3dsr/internal/xtrule"
)

// The layers a Batch puts between its calls and the system: each reads a
// piece of the running state once and keeps it up to date as the calls
// change it. Reads that fail are not kept, so a later call tries again.

// cachedNet keeps the links and the addresses it listed.
type cachedNet struct {
	netAPI
	links []rtnl.Link
	// addrs are the addresses by link index, 0 for all of them; on counts
	// those of each link by address (any prefix length), for hasAddr.
	addrs map[int][]rtnl.Addr
	on    map[int]map[netip.Addr]int
}

// hasAddr reports whether a is an address of the link index, without a
// walk of its addresses: a batch asks it for every VIP of lo.
func (c *cachedNet) hasAddr(index int, a netip.Addr) (bool, error) {
	if _, ok := c.on[index]; !ok {
		l, err := c.AddrList(index)
		if err != nil {
			return false, err
		}
		set := make(map[netip.Addr]int, len(l))
		for _, x := range l {
			set[x.Prefix.Addr()]++
		}
		if c.on == nil {
			c.on = map[int]map[netip.Addr]int{}
		}
		c.on[index] = set
	}
	return c.on[index][a] > 0, nil
}

// linkList is Links, kept. (Links itself is not overridden: it is read
// through linkList, and its deletions through dropLinks.)
func (c *cachedNet) linkList() ([]rtnl.Link, error) {
	if c.links == nil {
		l, err := c.netAPI.Links()
		if err != nil {
			return nil, err
		}
		c.links = l
	}
	return slices.Clone(c.links), nil
}

// dropLinks forgets the links and addresses after a link went.
func (c *cachedNet) dropLinks() { c.links, c.addrs, c.on = nil, nil, nil }

func (c *cachedNet) LinkByName(name string) (rtnl.Link, error) {
	if c.links != nil {
		if i := slices.IndexFunc(c.links, func(l rtnl.Link) bool { return l.Name == name }); i >= 0 {
			return c.links[i], nil
		}
	}
	return c.netAPI.LinkByName(name)
}

func (c *cachedNet) LinkSetUp(index int, up bool) error {
	c.links = nil
	return c.netAPI.LinkSetUp(index, up)
}

func (c *cachedNet) EnsureLink(kind, name string) (bool, error) {
	c.links = nil
	return c.netAPI.EnsureLink(kind, name)
}

func (c *cachedNet) AddrList(index int) ([]rtnl.Addr, error) {
	if a, ok := c.addrs[index]; ok {
		return slices.Clone(a), nil
	}
	a, err := c.netAPI.AddrList(index)
	if err != nil {
		return nil, err
	}
	if c.addrs == nil {
		c.addrs = map[int][]rtnl.Addr{}
	}
	c.addrs[index] = a
	return slices.Clone(a), nil
}

func (c *cachedNet) AddrAdd(index int, p netip.Prefix) error {
	if err := c.netAPI.AddrAdd(index, p); err != nil {
		delete(c.addrs, index) // p may be there all the same (EEXIST)
		delete(c.addrs, 0)
		delete(c.on, index)
		return err
	}
	for _, k := range []int{index, 0} {
		if a, ok := c.addrs[k]; ok {
			c.addrs[k] = append(a, rtnl.Addr{Index: index, Prefix: p})
		}
	}
	if set, ok := c.on[index]; ok {
		set[p.Addr()]++
	}
	return nil
}

func (c *cachedNet) AddrDel(index int, p netip.Prefix) error {
	err := c.netAPI.AddrDel(index, p)
	if err != nil && !errors.Is(err, rtnl.ErrNotFound) {
		// Whether p went is not known: list again when asked.
		delete(c.addrs, index)
		delete(c.addrs, 0)
		delete(c.on, index)
		return err
	}
	for _, k := range []int{index, 0} {
		if a, ok := c.addrs[k]; ok {
			n := len(a)
			c.addrs[k] = slices.DeleteFunc(a, func(x rtnl.Addr) bool { return x.Index == index && x.Prefix == p })
			if set := c.on[index]; k == index && set != nil && len(c.addrs[k]) < n {
				set[p.Addr()]--
			}
		}
	}
	return err
}

// cachedSysctl keeps the values it read or wrote.
type cachedSysctl struct {
	sysctlAPI
	v map[string]string
}

func (c *cachedSysctl) Get(name string) (string, error) {
	if v, ok := c.v[name]; ok {
		return v, nil
	}
	v, err := c.sysctlAPI.Get(name)
	if err == nil {
		c.v[name] = v
	}
	return v, err
}

// Set forgets every value first, not only name's: a write to conf/default
// changes the interfaces that never had their own, and a failed write may
// have changed some.
func (c *cachedSysctl) Set(name, value string) error {
	clear(c.v)
	return c.sysctlAPI.Set(name, value)
}

// cachedClamps keeps the clamps it listed or set.
type cachedClamps struct {
	clamper
	cur   []clamp
	known bool
}

func (c *cachedClamps) List() ([]clamp, error) {
	if !c.known {
		cur, err := c.clamper.List()
		if err != nil {
			return nil, err
		}
		c.cur, c.known = cur, true
	}
	return slices.Clone(c.cur), nil
}

func (c *cachedClamps) Set(cl []clamp) error {
	c.known = false
	if err := c.clamper.Set(cl); err != nil {
		return err
	}
	c.cur, c.known = slices.Clone(cl), true
	return nil
}

// cachedRules keeps whether the map-mode rule of each family is there (one
// iptables variant's).
type cachedRules struct {
	Rules
	known map[xtrule.Family]bool
	// limited: the keeper's rules are limited to ingress interfaces, so a
	// rule that exists (of another shape, maybe) is not one Ensure made.
	limited bool
}

func (c *cachedRules) Exists(ctx context.Context, f xtrule.Family) (bool, error) {
	if ok, has := c.known[f]; has {
		return ok, nil
	}
	ok, err := c.Rules.Exists(ctx, f)
	if err == nil && (!ok || !c.limited) {
		c.known[f] = ok
	}
	return ok, err
}

func (c *cachedRules) Ensure(ctx context.Context, f xtrule.Family) (bool, error) {
	if c.known[f] {
		return false, nil
	}
	added, err := c.Rules.Ensure(ctx, f)
	if err == nil {
		c.known[f] = true
	}
	return added, err
}

// Reshape forgets the family: the rules of other shapes went.
func (c *cachedRules) Reshape(ctx context.Context, f xtrule.Family) (bool, error) {
	delete(c.known, f)
	return c.Rules.Reshape(ctx, f)
}

// Delete forgets the family: it removes one rule, and there may be more.
func (c *cachedRules) Delete(ctx context.Context, f xtrule.Family) error {
	delete(c.known, f)
	return c.Rules.Delete(ctx, f)
}

// cachedReader reads the DADDR rules once. The batch's own map-mode rules
// are not among what its calls look for there (the rules l3dsr did not
// write), so what they append does not make the list stale.
type cachedReader struct {
	read0 func(ctx context.Context) ([]xtrule.Rule, error)
	rules []xtrule.Rule
	done  bool
}

func (c *cachedReader) read(ctx context.Context) ([]xtrule.Rule, error) {
	if !c.done {
		r, err := c.read0(ctx)
		if err != nil {
			return nil, err
		}
		c.rules, c.done = r, true
	}
	return c.rules, nil
}
