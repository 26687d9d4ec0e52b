package realserver

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/maptable"
)

// Applied says what a call changed, one line per change; none means the
// system was set up already.
type Applied struct {
	Changes []string
	// Notes are things it left alone on purpose (Down: settings others
	// changed or still need).
	Notes []string
	// Config is the VIP as set up (with the MSS derived in ipip mode) or
	// taken down; in dscp mode its DSCP is the code set up or taken off.
	Config Config
	// Codes are the VIP's codes after the call (dscp mode): after Up, all
	// of them; after DownCode, those it keeps (none: the VIP went down).
	Codes Codes
	// Backend says which backend Up used and why, when there was a choice.
	Backend string
}

// Up sets the VIP c up, or checks that it is and repairs what is missing.
// A dscp-mode VIP set up already with other codes gets c's code beside
// them (the VIP, its sysctls and the rule are shared). v is the iptables
// variant that appends the map-mode rule if it is missing. All or nothing:
// if a step fails, what this call changed is undone, and the error says
// what failed (and what could not be undone).
func (m *Manager) Up(ctx context.Context, c Config, v xtrule.Variant) (Applied, error) {
	return m.up(ctx, c, v, nil)
}

// up is Up; ing, if not nil, is the ingress list to move to (UpIngress).
func (m *Manager) up(ctx context.Context, c Config, v xtrule.Variant, ing *Ingress) (_ Applied, err error) {
	if c.Mode == "" {
		c.Mode = dsrtypes.ModeDSCP
	}
	if err := c.Validate(); err != nil {
		return Applied{}, err
	}
	st, unlock, err := m.lockedState()
	if err != nil {
		return Applied{}, err
	}
	defer unlock()
	idx, old := m.find(&st, c.VIP)
	if old != nil && !old.takes(c) {
		return Applied{}, conflictf("VIP %s is set up as %v, not as %v: run 'l3dsr realserver down --vip %s' first to change it",
			c.VIP, old, c, c.VIP)
	}
	if err := m.ripClash(&st, c); err != nil {
		return Applied{}, err
	}
	if err := m.resolveRIP(&c, old); err != nil {
		return Applied{}, err
	}
	if o, ok := m.clash(&st, c); ok {
		if c.mode() == dsrtypes.ModeAddr {
			return Applied{}, conflictf("VIP %s and VIP %s would both have RIP %s: the server could not tell them apart; give VIP %s a --rip of its own",
				c.VIP, o, c.RIP, c.VIP)
		}
		return Applied{}, conflictf("VIP %s and VIP %s would both be DSCP %d (local %s): the server could not tell them apart; give VIP %s another --dscp or another --local",
			c.VIP, o, *c.DSCP, localName(c.Local), c.VIP)
	}
	notes, err := m.checkHandRules(ctx, c)
	if err != nil {
		return Applied{}, err
	}
	backend, said, err := m.chooseBackend(ctx, &st, c)
	if err != nil {
		return Applied{}, err
	}
	if err := checkMapPath(c, backend); err != nil {
		return Applied{}, err
	}
	rec := vipRecord{Config: c}
	rec.DSCP = nil
	if old != nil {
		rec = *old
		rec.Codes = slices.Clone(old.Codes)
	}
	rec.Backend, rec.MapPath = "", c.MapPath
	if backend == dsrtypes.BackendBPF {
		rec.Backend = backend
	}
	if c.mode() == dsrtypes.ModeIPIP && rec.MSS == 0 {
		if rec.MSS, err = m.deriveMSS(c.VIP); err != nil {
			return Applied{}, err
		}
	}
	next, restore := m.working(st, idx)
	defer func() {
		if err != nil {
			restore()
		}
	}()
	if idx >= 0 {
		next.VIPs[idx] = rec
	} else {
		next.VIPs = append(next.VIPs, rec)
		idx = len(next.VIPs) - 1
	}
	t := &txn{}
	steps := []func(*upRecord, *vipRecord, *txn) error{m.upAddr, m.upLink, m.upSysctls}
	if c.mode() == dsrtypes.ModeAddr {
		steps = []func(*upRecord, *vipRecord, *txn) error{m.upAddr, m.upRIP, m.upSysctls}
	}
	if ing != nil {
		steps = append(steps, m.ingressStep(ctx, *ing, v))
	}
	if old != nil {
		steps = append(steps, m.upReset(c.SetDSCP))
	}
	if rec.Backend == dsrtypes.BackendBPF {
		steps = append(steps, m.upBPF)
	} else if usesTable(c) {
		steps = append(steps, func(s *upRecord, r *vipRecord, t *txn) error { return m.upMapPath(ctx, s, r, t, v) })
	}
	switch c.mode() {
	case dsrtypes.ModeDSCP:
		steps = append(steps, func(s *upRecord, r *vipRecord, t *txn) error { return m.upMap(ctx, s, r, *c.DSCP, t, v) })
	case dsrtypes.ModeAddr:
		steps = append(steps, func(s *upRecord, r *vipRecord, t *txn) error { return m.upAddrEntry(ctx, s, r, t, v) })
	case dsrtypes.ModeIPIP:
		steps = append(steps, m.upClamp)
	}
	for _, step := range steps {
		if err := step(&next, &next.VIPs[idx], t); err != nil {
			return Applied{}, t.fail(fmt.Errorf("setting up %v: %w", c, err))
		}
	}
	if err := m.save(next); err != nil {
		return Applied{}, t.fail(err)
	}
	r := &next.VIPs[idx]
	m.indexUp(idx, r)
	done := r.Config
	done.DSCP = c.DSCP
	return Applied{Changes: t.changes, Notes: notes, Config: done, Codes: r.codes(), Backend: said}, nil
}

func localName(a interface{ IsValid() bool }) string {
	if !a.IsValid() {
		return "any"
	}
	return fmt.Sprint(a)
}

func (m *Manager) upAddr(_ *upRecord, r *vipRecord, t *txn) error {
	lo, err := m.lo()
	if err != nil {
		return err
	}
	on, err := m.onLo(lo, r.VIP)
	if err != nil {
		return fmt.Errorf("listing the addresses of lo: %w", err)
	}
	if on {
		return nil
	}
	p := r.prefix()
	if err := m.net.AddrAdd(lo.Index, p); err != nil {
		return err
	}
	r.AddedAddr = true
	t.did(fmt.Sprintf("added %s to lo", p), func() error { return m.net.AddrDel(lo.Index, p) })
	return nil
}

func (m *Manager) upLink(s *upRecord, r *vipRecord, t *txn) error {
	if r.mode() != dsrtypes.ModeIPIP {
		return nil
	}
	tun := tunnelOf(r.Config)
	created, err := m.net.EnsureLink(tun.Kind, tun.Name)
	if err != nil {
		return err
	}
	l, err := m.net.LinkByName(tun.Name)
	if err != nil {
		return err
	}
	lc := s.Links[tun.Name]
	lc.Kind = tun.Kind
	if created {
		lc.Created = true
		t.did(fmt.Sprintf("created %s (%s)", tun.Name, tun.Kind), func() error { return m.linkDel(l.Index) })
	}
	if !l.Up() {
		if err := m.net.LinkSetUp(l.Index, true); err != nil {
			return err
		}
		lc.SetUp = true
		t.did("set "+tun.Name+" up", func() error { return m.net.LinkSetUp(l.Index, false) })
	}
	if lc.Created || lc.SetUp {
		s.Links[tun.Name] = lc
	}
	return nil
}

func (m *Manager) upSysctls(s *upRecord, r *vipRecord, t *txn) error {
	return m.ensureSysctls(s, m.kinds(s, r.Config), []Config{r.Config}, t)
}

// ensureSysctls sets what vips need and is not so, recording each old value
// in s. A key that cannot be read is an error only if one of mine needs it:
// another VIP's key gone with its device (tunl0 after an rmmod) is for that
// VIP's own up to repair, and for show to report.
func (m *Manager) ensureSysctls(s *upRecord, vips vipKinds, mine []Config, t *txn) error {
	env, err := m.rpEnv(s)
	if err != nil {
		return err
	}
	mineNeeds := sysctlNeeds(mine, env)
	needs := vips.needs(env)
	// Old values are read before anything is written: a write to
	// conf/default is copied by the kernel to every interface that never
	// had its own value written, so reading later would record the copy.
	old := map[string]string{}
	for _, n := range needs {
		if v, err := m.sysctl.Get(n.Key); err == nil {
			old[n.Key] = v
		}
	}
	for _, n := range needs {
		cur, err := m.sysctl.Get(n.Key)
		if err != nil {
			if !hasKey(mineNeeds, n.Key) {
				continue
			}
			return err
		}
		if n.ok(cur) {
			continue
		}
		if err := m.sysctl.Set(n.Key, n.Want); err != nil {
			return err
		}
		ch, had := s.Sysctls[n.Key]
		if !had {
			ch.Old = old[n.Key]
		}
		ch.Set = n.Want
		s.Sysctls[n.Key] = ch
		key, was := n.Key, old[n.Key]
		t.did(fmt.Sprintf("set %s = %s (was %s)", n.Key, n.Want, was), func() error { return m.sysctl.Set(key, was) })
	}
	return nil
}

// rpEnv reads what the rp_filter needs of ipip mode depend on; the old
// values come from s where Up recorded them.
func (m *Manager) rpEnv(s *upRecord) (*rpEnv, error) {
	links, err := m.linkList()
	if err != nil {
		return nil, fmt.Errorf("listing links: %w", err)
	}
	var names []string
	for _, l := range links {
		if !l.Loopback() && l.Name != tunnel4.Name {
			names = append(names, l.Name)
		}
	}
	return &rpEnv{ifaces: names, orig: func(k string) (string, bool) {
		if ch, ok := s.Sysctls[k]; ok {
			return ch.Old, true
		}
		v, err := m.sysctl.Get(k)
		return v, err == nil
	}}, nil
}

// upMap makes sure of the map-mode rule of the VIP's family and of the
// mapping of its code d, and records in s and r what it changed.
func (m *Manager) upMap(ctx context.Context, s *upRecord, r *vipRecord, d uint8, t *txn, v xtrule.Variant) error {
	i := r.addCode(d)
	added, err := m.ensureEntry(ctx, s, r, r.withCode(d).entry(), t, v)
	r.Codes[i].AddedMapping = r.Codes[i].AddedMapping || added
	return err
}

// ensureEntry makes sure of the map-mode rule of the VIP's family and of
// the entry e of r, records the rule in s, and says whether it added e.
func (m *Manager) ensureEntry(ctx context.Context, s *upRecord, r *vipRecord, e maptable.Entry, t *txn, v xtrule.Variant) (bool, error) {
	tab, err := m.mapTable()
	if err != nil {
		return false, err
	}
	var rules maptable.Rules = noRules{}
	if r.Backend != dsrtypes.BackendBPF {
		rules = m.newRules(v, s.Ingress)
	}
	added, err := maptable.AddWithRule(ctx, tab, rules, e, maptable.KeepSame, t.did)
	var ee *maptable.ExistsError
	if errors.As(err, &ee) {
		other := "another --dscp"
		if e.AnyDSCP {
			other = "another --rip"
		}
		return false, conflictf("%v already maps to VIP %s, which 'l3dsr realserver' did not set up: remove it ('l3dsr rule del %s') or give VIP %s %s",
			e.Key(), ee.Entry.VIP, keyFlags(e, true), r.VIP, other)
	}
	if err != nil {
		return false, err
	}
	if _, had := s.Rules[famKey(r.Config)]; added.Rule && !had {
		s.Rules[famKey(r.Config)] = ruleChange{Variant: string(v)}
	}
	return added.Entry, nil
}

// keyFlags are the `l3dsr rule` flags that select e's key; withFamily adds
// --family to a key with no local address (rule del needs it).
func keyFlags(e maptable.Entry, withFamily bool) string {
	s := fmt.Sprintf("--dscp %d", e.DSCP)
	if e.AnyDSCP {
		s = "--dscp any"
	}
	switch {
	case e.Local.IsValid():
		return s + " --local " + e.Local.String()
	case !withFamily:
		return s
	case e.VIP.Is4():
		return s + " --family 4"
	}
	return s + " --family 6"
}

func (m *Manager) upClamp(s *upRecord, _ *vipRecord, t *txn) error {
	want := clampsOf(configs(s.VIPs))
	cur, err := m.clamps.List()
	if err != nil {
		return err
	}
	if slices.Equal(cur, want) {
		return nil
	}
	if err := m.clamps.Set(want); err != nil {
		return err
	}
	t.did(fmt.Sprintf("set the MSS clamps (nftables table inet %s) to %s", clampTable, clampList(want)),
		func() error { return m.clamps.Set(cur) })
	return nil
}

func clampList(c []clamp) string {
	if len(c) == 0 {
		return "none"
	}
	s := ""
	for i, x := range c {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s MSS %d", x.VIP, x.MSS)
	}
	return s
}
