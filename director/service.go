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

// AddService creates a service, its DSCP mark (dsrtypes.ModeDSCP) and the VIP as a
// local address. Adding a service that runs with the same settings changes
// nothing; one that runs with other settings is refused (use EditService).
func (d *Director) AddService(s Service) (Result, error) {
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
	} else if s.DSCP != 0 {
		return res, fmt.Errorf("service %s: mode %s uses no DSCP code (got %d): drop --dscp, or use --mode dscp", s.Key, s.Mode, s.DSCP)
	}
	if len(s.Reals) > 0 {
		return res, fmt.Errorf("service %s: add real servers with AddReal", s.Key)
	}
	svcs, _, err := d.read()
	if err != nil {
		return res, err
	}
	if i, ok := find(svcs, s.Key); ok {
		cur := svcs[i]
		if cur.Mode == s.Mode && cur.DSCP == s.DSCP && cur.settings() == s.settings() {
			// Still make sure of the host settings: they may have been changed by hand.
			return d.ensureHost(res, append(svcs, s), s)
		}
		return res, fmt.Errorf("service %s exists with mode %s, DSCP %d, %s: use 'l3dsr director service edit' to change it",
			s.Key, cur.Mode, cur.DSCP, cur.settings())
	}
	for _, o := range svcs {
		if o.Mode == dsrtypes.ModeDSCP && s.Mode == dsrtypes.ModeDSCP && o.VIP == s.VIP && o.DSCP != s.DSCP {
			res.Warnings = append(res.Warnings, fmt.Sprintf(
				"VIP %s already uses DSCP %d (service %s): a second code for the same VIP uses up one more of the 64 codes", s.VIP, o.DSCP, o.Key))
			break
		}
	}

	var u undo.Stack
	after := append(svcs[:len(svcs):len(svcs)], s)
	res, err = d.ensureHostUndo(res, after, s, &u)
	if err != nil {
		return Result{}, rollback(&u, err)
	}
	is := d.ipvsService(s)
	if err := d.ipvs.CreateService(is); err != nil {
		return Result{}, rollback(&u, fmt.Errorf("create IPVS service %s: %w", s.Key, err))
	}
	u.Push("remove IPVS service "+s.Key.String(), func() error { return d.ipvs.RemoveService(is) })
	res.Changes = append(res.Changes, fmt.Sprintf("IPVS service %s %s", s.Key, s.settings()))
	if s.Mode == dsrtypes.ModeDSCP {
		if err := d.marks.Add(markOf(s)); err != nil {
			return Result{}, rollback(&u, fmt.Errorf("add DSCP mark %d for %s: %w", s.DSCP, s.Key, err))
		}
		res.Changes = append(res.Changes, fmt.Sprintf("DSCP mark %d for %s", s.DSCP, s.Key))
	}
	return res, nil
}

// ensureHost makes sure of the sysctls and the VIP for an existing service.
func (d *Director) ensureHost(res Result, svcs []Service, s Service) (Result, error) {
	var u undo.Stack
	res, err := d.ensureHostUndo(res, svcs, s, &u)
	if err != nil {
		return Result{}, rollback(&u, err)
	}
	return res, nil
}

func (d *Director) ensureHostUndo(res Result, svcs []Service, s Service, u *undo.Stack) (Result, error) {
	ch, err := d.ensureSysctls(svcs, u)
	res.Changes = append(res.Changes, ch...)
	if err != nil {
		return res, err
	}
	local, _, err := d.host.vipState(s.VIP)
	if err != nil {
		return res, err
	}
	if !local {
		if err := d.host.addVIP(s.VIP); err != nil {
			return res, fmt.Errorf("add VIP %s to lo: %w", s.VIP, err)
		}
		vip := s.VIP
		u.Push("remove VIP "+vip.String()+" from lo", func() error { return d.host.delVIP(vip) })
		res.Changes = append(res.Changes, fmt.Sprintf("VIP %s on lo", s.VIP))
	}
	return res, nil
}

// EditService changes the scheduler, persistence or DSCP code of a service.
func (d *Director) EditService(k Key, e ServiceEdit) (Result, error) {
	var res Result
	svcs, marks, i, err := d.existing(k, ": add it with 'l3dsr director service add'")
	if err != nil {
		return res, err
	}
	cur := svcs[i]
	// A dscp service that lost its mark (Show's problem) gets it back.
	lost := cur.Mode == dsrtypes.ModeDSCP && !slices.Contains(marks, markOf(cur))
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
	svcs[i] = next
	if err := checkDSCPConflicts(svcs); err != nil {
		return res, err
	}
	var u undo.Stack
	if next.settings() != cur.settings() {
		if err := d.ipvs.UpdateService(d.ipvsService(next)); err != nil {
			return res, fmt.Errorf("update IPVS service %s: %w", k, err)
		}
		old := d.ipvsService(cur)
		u.Push("restore IPVS service "+k.String(), func() error { return d.ipvs.UpdateService(old) })
		res.Changes = append(res.Changes, fmt.Sprintf("IPVS service %s %s (was %s)", k, next.settings(), cur.settings()))
	}
	if e.DSCP != nil && lost {
		if err := d.marks.Add(markOf(next)); err != nil {
			return Result{}, rollback(&u, fmt.Errorf("add the lost DSCP mark %d of %s: %w", next.DSCP, k, err))
		}
		res.Changes = append(res.Changes, fmt.Sprintf("DSCP mark %d for %s (it was lost)", next.DSCP, k))
	} else if next.DSCP != cur.DSCP {
		if err := d.marks.Replace(markOf(next)); err != nil {
			return Result{}, rollback(&u, fmt.Errorf("change DSCP mark of %s to %d: %w", k, next.DSCP, err))
		}
		res.Changes = append(res.Changes, fmt.Sprintf("DSCP mark for %s %d (was %d): real servers need the new code mapped to %s", k, next.DSCP, cur.DSCP, k.VIP))
	}
	return res, nil
}

// DelService removes a service with its reals and its mark, and the VIP from
// lo when the director put it there and no other service uses it.
func (d *Director) DelService(k Key) (Result, error) {
	var res Result
	svcs, marks, i, err := d.existing(k, " ('l3dsr director show' lists the services)")
	if err != nil {
		return res, err
	}
	cur := svcs[i]
	// The mark goes first: without it the service would send unmarked packets.
	left := 0
	for _, m := range marks {
		if m.VIP == k.VIP && m.Port == k.Port && m.Proto == uint8(k.Proto) {
			if err := d.marks.Del(m); err != nil {
				return res, fmt.Errorf("remove DSCP mark of %s: %w", k, err)
			}
			res.Changes = append(res.Changes, fmt.Sprintf("removed DSCP mark %d for %s", m.DSCP, k))
		} else {
			left++
		}
	}
	// The last mark takes the table with it: a director with no L3 DSR
	// service keeps no hook of ours in its packet path.
	if left == 0 && len(marks) > 0 {
		if err := d.marks.Remove(); err != nil {
			return res, fmt.Errorf("remove the empty nft table inet %s: %w", dscpmark.TableName, err)
		}
		res.Changes = append(res.Changes, "removed nft table inet "+dscpmark.TableName)
	}
	if err := d.ipvs.RemoveService(d.ipvsService(cur)); err != nil {
		err = fmt.Errorf("remove IPVS service %s: %w", k, err)
		if cur.Mode == dsrtypes.ModeDSCP {
			if rerr := d.marks.Add(markOf(cur)); rerr != nil {
				err = fmt.Errorf("%w; putting its DSCP mark %d back failed too (%v): the service now sends unmarked packets", err, cur.DSCP, rerr)
			}
		}
		return Result{}, err
	}
	res.Changes = append(res.Changes, fmt.Sprintf("removed IPVS service %s and its %d real servers", k, len(cur.Reals)))
	for _, o := range svcs {
		if o.Key != k && o.VIP == k.VIP {
			return res, nil
		}
	}
	_, ours, err := d.host.vipState(k.VIP)
	if err != nil {
		return res, err
	}
	if ours {
		if err := d.host.delVIP(k.VIP); err != nil {
			return res, fmt.Errorf("service removed, but removing VIP %s from lo failed: %w", k.VIP, err)
		}
		res.Changes = append(res.Changes, fmt.Sprintf("removed VIP %s from lo", k.VIP))
	}
	return res, nil
}
