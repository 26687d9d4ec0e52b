package director

import (
	"fmt"
	"slices"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/dscpmark"
	"github.com/l3dsr/l3dsr/internal/ipvs"
	"github.com/l3dsr/l3dsr/internal/undo"
)

// DefaultScheduler is IPVS's weighted least-connection scheduler.
const DefaultScheduler = "wlc"

// Result says what a change did. No Changes means the system already was in
// the asked state.
type Result struct {
	Changes  []string
	Warnings []string
}

func (d *Director) ipvsService(s Service) ipvs.Service {
	is := ipvs.Service{
		Protocol:  s.Proto,
		Address:   s.VIP,
		Port:      s.Port,
		Scheduler: s.Scheduler,
		Netmask:   s.Netmask,
		Flags:     s.SchedFlags.ipvs(),
		PEName:    s.PE,
	}
	if is.Netmask == 0 {
		is.Netmask = allOnes(s.VIP)
	}
	if s.Persistent > 0 {
		is.Flags |= ipvs.FlagPersistent
		is.Timeout = s.Persistent
	}
	if s.OnePacket {
		is.Flags |= ipvs.FlagOnePacket
	}
	if s.Managed {
		is.Flags |= tagOf(s.Mode)
	}
	return is
}

// AddService creates a service, its DSCP mark (dsrtypes.ModeDSCP; an addr
// service has none) and the VIP as a local address. Adding a service that runs with the same settings changes
// nothing; one that runs with other settings is refused (use EditService).
func (b *Batch) AddService(s Service) (Result, error) {
	var res Result
	if s.Scheduler == "" {
		s.Scheduler = DefaultScheduler
	}
	if s.Mode == "" {
		s.Mode = dsrtypes.ModeDSCP
	}
	s.Managed = true
	if err := checkKey(s.Key); err != nil {
		return res, err
	}
	if err := checkSettings(s); err != nil {
		return res, err
	}
	if s.Mode == dsrtypes.ModeDSCP {
		if err := checkDSCP(s.DSCP); err != nil {
			return res, err
		}
		if w := dscpWarning(s.DSCP); w != "" {
			res.Warnings = append(res.Warnings, w)
		}
	} else if s.Mode == dsrtypes.ModeAddr && s.DSCP != 0 {
		return res, addrDSCPError("--dscp", s.DSCP, s.Key.String(), "--mode dscp")
	} else if s.DSCP != 0 {
		return res, fmt.Errorf("service %s: mode %s uses no DSCP code (got %d): drop --dscp, or use --mode dscp", s.Key, s.Mode, s.DSCP)
	}
	if len(s.Reals) > 0 {
		return res, fmt.Errorf("service %s: add real servers with AddReal", s.Key)
	}
	if err := b.load(); err != nil {
		return res, err
	}
	if i, ok := b.at[s.Key]; ok {
		cur := b.svcs[i]
		if cur.Mode == s.Mode && cur.DSCP == s.DSCP && cur.settings() == s.settings() {
			// Still make sure of the host settings: they may have been changed by hand.
			return b.ensureHost(res, s)
		}
		return res, fmt.Errorf("service %s exists with mode %s, DSCP %d, %s: use 'l3dsr director service edit' to change it",
			s.Key, cur.Mode, cur.DSCP, cur.settings())
	}
	for _, k := range b.byVIP[s.VIP] {
		if o := b.svcs[b.at[k]]; o.Mode == dsrtypes.ModeDSCP && s.Mode == dsrtypes.ModeDSCP && o.VIP == s.VIP && o.DSCP != s.DSCP {
			res.Warnings = append(res.Warnings, fmt.Sprintf(
				"VIP %s already uses DSCP %d (service %s): a second code for the same VIP uses up one more of the 64 codes", s.VIP, o.DSCP, o.Key))
			break
		}
	}

	var u undo.Stack
	res, err := b.ensureHostUndo(res, s, &u)
	if err != nil {
		return Result{}, rollback(&u, err)
	}
	is := b.d.ipvsService(s)
	if err := b.d.ipvs.CreateService(is); err != nil {
		return Result{}, rollback(&u, fmt.Errorf("create IPVS service %s: %w", s.Key, err))
	}
	u.Push("remove IPVS service "+s.Key.String(), func() error { return b.d.ipvs.RemoveService(is) })
	res.Changes = append(res.Changes, fmt.Sprintf("IPVS service %s %s", s.Key, s.settings()))
	if s.Mode == dsrtypes.ModeDSCP {
		b.marks[markKey(markOf(s))] = markOf(s)
		res.Changes = append(res.Changes, fmt.Sprintf("DSCP mark %d for %s", s.DSCP, s.Key))
	}
	b.added(s)
	b.done("add service "+s.Key.String(), &u)
	return res, nil
}

// done keeps the undo steps of a change that succeeded, for a Commit that
// fails.
func (b *Batch) done(what string, u *undo.Stack) {
	if u.Len() > 0 {
		b.u.Push(what, u.Rollback)
	}
}

// ensureHost makes sure of the sysctls and the VIP for an existing service.
func (b *Batch) ensureHost(res Result, s Service) (Result, error) {
	var u undo.Stack
	res, err := b.ensureHostUndo(res, s, &u)
	if err != nil {
		return Result{}, rollback(&u, err)
	}
	b.done("host settings for "+s.Key.String(), &u)
	return res, nil
}

// ensureHostUndo makes sure of the sysctls that l3dsr's services with s
// need, and of s's VIP.
func (b *Batch) ensureHostUndo(res Result, s Service, u *undo.Stack) (Result, error) {
	v4, v6 := b.managed[0] > 0 || s.VIP.Is4(), b.managed[1] > 0 || !s.VIP.Is4()
	mh := s.Scheduler == SchedulerMH || slices.ContainsFunc(b.svcs, usesMH)
	ch, err := b.ensureSysctls(settingsFor(v4, v6, mh), u)
	res.Changes = append(res.Changes, ch...)
	if err != nil {
		return res, err
	}
	local, err := b.localAddrs()
	if err != nil {
		return res, err
	}
	if _, ok := local[s.VIP]; !ok {
		if err := b.d.host.addVIP(s.VIP); err != nil {
			return res, fmt.Errorf("add VIP %s to lo: %w", s.VIP, err)
		}
		vip := s.VIP
		local[vip] = true
		u.Push("remove VIP "+vip.String()+" from lo", func() error {
			delete(local, vip)
			return b.d.host.delVIP(vip)
		})
		res.Changes = append(res.Changes, fmt.Sprintf("VIP %s on lo", s.VIP))
	}
	return res, nil
}

// EditService changes the scheduler, persistence or DSCP code of a service.
func (b *Batch) EditService(k Key, e ServiceEdit) (Result, error) {
	var res Result
	i, err := b.existing(k, ": add it with 'l3dsr director service add'")
	if err != nil {
		return res, err
	}
	cur := b.svcs[i]
	// A dscp service that lost its mark (Show's problem) gets it back.
	_, marked := b.marks[markKey(markOf(cur))]
	lost := cur.Mode == dsrtypes.ModeDSCP && !marked
	next := e.Apply(cur)
	next.DSCP = cur.DSCP // below, once checked
	if err := checkSettings(next); err != nil {
		return res, err
	}
	if e.DSCP != nil {
		if cur.Mode != dsrtypes.ModeDSCP {
			return res, fmt.Errorf("service %s runs in mode %s, which uses no DSCP code: delete it and add it again with --mode dscp", k, cur.Mode)
		}
		if err := checkDSCP(*e.DSCP); err != nil {
			return res, err
		}
		next.DSCP = *e.DSCP
		if w := dscpWarning(next.DSCP); w != "" {
			res.Warnings = append(res.Warnings, w)
		}
	}
	if b.eager {
		svcs := slices.Clone(b.svcs)
		svcs[i] = next
		if err := checkDSCPConflicts(svcs); err != nil {
			return res, err
		}
	}
	var u undo.Stack
	if next.settings() != cur.settings() {
		if err := b.d.ipvs.UpdateService(b.d.ipvsService(next)); err != nil {
			return res, fmt.Errorf("update IPVS service %s: %w", k, err)
		}
		old := b.d.ipvsService(cur)
		u.Push("restore IPVS service "+k.String(), func() error { return b.d.ipvs.UpdateService(old) })
		res.Changes = append(res.Changes, fmt.Sprintf("IPVS service %s %s (was %s)", k, next.settings(), cur.settings()))
	}
	reals, ch, err := b.toMH(cur, next, &u)
	res.Changes = append(res.Changes, ch...)
	if err != nil {
		return Result{}, rollback(&u, err)
	}
	next.Reals = reals
	if e.DSCP != nil && lost {
		b.marks[markKey(markOf(next))] = markOf(next)
		res.Changes = append(res.Changes, fmt.Sprintf("DSCP mark %d for %s (it was lost)", next.DSCP, k))
	} else if next.DSCP != cur.DSCP {
		b.marks[markKey(markOf(next))] = markOf(next)
		res.Changes = append(res.Changes, fmt.Sprintf("DSCP mark for %s %d (was %d): real servers need the new code mapped to %s", k, next.DSCP, cur.DSCP, k.VIP))
	}
	b.svcs[i] = next
	b.done("edit service "+k.String(), &u)
	return res, nil
}

// DelService removes a service with its reals and its mark, and the VIP from
// lo when the director put it there and no other service uses it.
func (b *Batch) DelService(k Key) (Result, error) {
	var res Result
	i, err := b.existing(k, " ('l3dsr director show' lists the services)")
	if err != nil {
		return res, err
	}
	cur := b.svcs[i]
	is := b.d.ipvsService(cur)
	if err := b.d.ipvs.RemoveService(is); err != nil {
		return Result{}, fmt.Errorf("remove IPVS service %s: %w", k, err)
	}
	var u undo.Stack
	u.Push("add IPVS service "+k.String()+" and its real servers again", func() error {
		if err := b.d.ipvs.CreateService(is); err != nil {
			return err
		}
		for _, r := range cur.Reals {
			if err := b.d.ipvs.CreateDestination(is, b.d.destination(cur, r)); err != nil {
				return err
			}
		}
		return nil
	})
	// The mark goes in the same commit: the service sends nothing once
	// IPVS has it no more.
	if m, ok := b.marks[markKey(markOf(cur))]; ok {
		delete(b.marks, markKey(m))
		res.Changes = append(res.Changes, fmt.Sprintf("removed DSCP mark %d for %s", m.DSCP, k))
		if len(b.marks) == 0 {
			res.Changes = append(res.Changes, "removed nft table inet "+dscpmark.TableName)
		}
	}
	res.Changes = append(res.Changes, fmt.Sprintf("removed IPVS service %s and its %d real servers", k, len(cur.Reals)))
	b.removed(i)
	defer b.done("delete service "+k.String(), &u)
	if len(b.byVIP[k.VIP]) > 0 {
		return res, nil
	}
	local, err := b.localAddrs()
	if err != nil {
		return res, err
	}
	if local[k.VIP] {
		if err := b.d.host.delVIP(k.VIP); err != nil {
			return res, fmt.Errorf("service removed, but removing VIP %s from lo failed: %w", k.VIP, err)
		}
		vip := k.VIP
		delete(local, vip)
		u.Push("add VIP "+vip.String()+" to lo again", func() error {
			local[vip] = true
			return b.d.host.addVIP(vip)
		})
		res.Changes = append(res.Changes, fmt.Sprintf("removed VIP %s from lo", k.VIP))
	}
	return res, nil
}
