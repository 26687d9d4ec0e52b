package director

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// Drain sets real a of service k to weight 0 (quiescent: its connections
// go on, IPVS sends it no new one) and remembers the weight it had, for
// Undrain, in the drained file of the director's network namespace. The
// record is written first: a drain cut short leaves a real recorded and
// not yet at 0, which apply then sets to 0, never one at 0 that nothing
// knows was drained. A real drained already keeps its first weight.
func (d *Director) Drain(k Key, a netip.Addr) (Result, error) {
	path := d.drained
	set, unlock, err := lockedDrained(path, unix.LOCK_EX)
	if err != nil {
		return Result{}, err
	}
	defer unlock()
	return d.oneReal(k, func(b *Batch) (Result, error) {
		var res Result
		_, cur, err := b.real(k, a)
		if err != nil {
			return res, err
		}
		had, drained := set.Weight(k, a)
		if drained {
			res.Warnings = append(res.Warnings, fmt.Sprintf("real server %s of %s was drained already: undrain sets weight %d back", a, k, had))
		} else {
			set.add(k, a, cur.Weight, time.Now())
			if err := saveDrained(path, set); err != nil {
				return res, err
			}
			b.u.Push("forget the drain of real server "+a.String()+" of "+k.String(), func() error {
				set.remove(k, a)
				return saveDrained(path, set)
			})
			res.Changes = append(res.Changes, fmt.Sprintf("drained real server %s of %s: weight %d kept in %s for undrain", a, k, cur.Weight, path))
			if cur.Weight == 0 {
				res.Warnings = append(res.Warnings, fmt.Sprintf("real server %s of %s had weight 0 already: undrain will need --weight N", a, k))
			}
		}
		zero := int32(0)
		r, err := b.EditReal(k, a, RealEdit{Weight: &zero})
		res.Changes = append(res.Changes, r.Changes...)
		if err != nil {
			return Result{}, rollback(&b.u, err)
		}
		return res, nil
	})
}

// Undrain sets real a of service k back to the weight it had when it was
// drained, or to weight when that is given, and forgets the drain. A
// record whose real is gone (deleted, or its service) is only forgotten:
// that is what undrain of it can still mean.
func (d *Director) Undrain(k Key, a netip.Addr, weight *int32) (Result, error) {
	path := d.drained
	set, unlock, err := lockedDrained(path, unix.LOCK_EX)
	if err != nil {
		return Result{}, err
	}
	defer unlock()
	w, drained := set.Weight(k, a)
	return d.oneReal(k, func(b *Batch) (Result, error) {
		var res Result
		if err := b.load(); err != nil {
			return res, err
		}
		if _, _, err := b.real(k, a); err != nil {
			if !drained {
				return res, err
			}
			set.remove(k, a)
			if err := saveDrained(path, set); err != nil {
				return res, err
			}
			res.Changes = append(res.Changes, fmt.Sprintf("forgot the drain of real server %s of %s (weight %d): it is no longer a real server there", a, k, w))
			return res, nil
		}
		switch {
		case weight != nil:
			w = *weight
		case !drained:
			return res, fmt.Errorf("real server %s of %s is not drained (%s has no record of it): give its weight with --weight N, or use 'l3dsr director real edit --weight N'", a, k, path)
		case w == 0:
			return res, fmt.Errorf("real server %s of %s had weight 0 when it was drained: give the weight to set with --weight N", a, k)
		}
		r, err := b.EditReal(k, a, RealEdit{Weight: &w})
		if err != nil {
			return res, err
		}
		res.Changes = r.Changes
		if drained {
			set.remove(k, a)
			if err := saveDrained(path, set); err != nil {
				// The record left would drain it again at the next
				// apply: the weight goes back to 0, as it says.
				return Result{}, rollback(&b.u, fmt.Errorf("%w; the real stays drained: run undrain again once the cause is fixed", err))
			}
			res.Changes = append(res.Changes, fmt.Sprintf("undrained real server %s of %s: weight %d", a, k, w))
		}
		return res, nil
	})
}

// ActiveConns is the number of active connections of real a of service k,
// from a read of that service alone.
func (d *Director) ActiveConns(k Key, a netip.Addr) (uint32, error) {
	svcs, _, err := d.readSome(&k)
	if err != nil {
		return 0, err
	}
	i, ok := find(svcs, k)
	if !ok {
		return 0, fmt.Errorf("service %s does not exist ('l3dsr director show' lists the services)", k)
	}
	r, ok := findReal(svcs[i], a)
	if !ok {
		return 0, fmt.Errorf("real server %s is not a real server of %s ('l3dsr director show' lists them)", a, k)
	}
	return r.ActiveConns, nil
}

// ConnReader is what WaitDrained polls: *Director, or a fake.
type ConnReader interface {
	ActiveConns(k Key, a netip.Addr) (uint32, error)
}

// WaitDrained polls the active connections of real a of service k every
// every, until none is left or ctx ends (its deadline is the timeout: the
// error names the connections left). progress gets the first count and
// each change of it.
func WaitDrained(ctx context.Context, c ConnReader, k Key, a netip.Addr, every time.Duration, progress func(active uint32)) error {
	start := time.Now()
	t := time.NewTicker(every)
	defer t.Stop()
	last := ^uint32(0)
	for {
		n, err := c.ActiveConns(k, a)
		if err != nil {
			return fmt.Errorf("wait for real server %s of %s to drain: %w", a, k, err)
		}
		if n != last {
			progress(n)
			last = n
		}
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("real server %s of %s still has %d active connection(s) after %s; it stays drained (weight 0): wait longer with --timeout, or cut them with 'l3dsr director real del'",
				a, k, n, time.Since(start).Round(time.Millisecond))
		case <-t.C:
		}
	}
}
