package director

import (
	"fmt"
	"net/netip"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/ipvs"
)

// DefaultWeight is the weight of a real server added without one.
const DefaultWeight = 1

func (d *Director) destination(s Service, r Real) ipvs.Destination {
	return ipvs.Destination{
		Address:        r.Addr,
		Port:           s.Port,
		Forward:        forward(s.Mode),
		Weight:         r.Weight,
		UpperThreshold: r.UpperThreshold,
		LowerThreshold: r.LowerThreshold,
	}
}

// service reads the running state and finds service k in it.
func (d *Director) service(k Key) ([]Service, int, error) {
	svcs, _, i, err := d.existing(k, ": add it first with 'l3dsr director service add'")
	return svcs, i, err
}

// AddReal adds a real server to a service, forwarding by the service's mode.
// Adding a real that runs with the same settings changes nothing.
func (d *Director) AddReal(k Key, r Real) (Result, error) {
	var res Result
	svcs, i, err := d.service(k)
	if err != nil {
		return res, err
	}
	if err := checkReal(k, r); err != nil {
		return res, err
	}
	s := svcs[i]
	if s.Mode == modeMixed || s.Mode == modeNone {
		return res, fmt.Errorf("service %s is not l3dsr's and its mode is %s, so the forwarding method of a new real server is unknown: add it with ipvsadm, or make the service with 'l3dsr director service add'", k, s.Mode)
	}
	if s.Mode == dsrtypes.ModeDR {
		if err := d.checkConnected(k, r); err != nil {
			return res, err
		}
	}
	if cur, ok := findReal(s, r.Addr); ok {
		if cur.Weight == r.Weight && cur.UpperThreshold == r.UpperThreshold && cur.LowerThreshold == r.LowerThreshold && cur.Forward == forward(s.Mode) {
			return res, nil
		}
		return res, fmt.Errorf("real server %s of %s exists with weight %d (thresholds %d/%d, %s): use 'l3dsr director real edit' to change it",
			r.Addr, k, cur.Weight, cur.UpperThreshold, cur.LowerThreshold, cur.Forward)
	}
	s.Reals = append(s.Reals, r)
	svcs[i] = s
	if err := checkDSCPConflicts(svcs); err != nil {
		return res, err
	}
	if err := d.ipvs.CreateDestination(d.ipvsService(s), d.destination(s, r)); err != nil {
		return res, fmt.Errorf("add real server %s to %s: %w", r.Addr, k, err)
	}
	res.Changes = append(res.Changes, fmt.Sprintf("real server %s for %s (%s, weight %d)", r.Addr, k, forward(s.Mode), r.Weight))
	return res, nil
}

// EditReal changes a real server's weight or thresholds. Weight 0 drains it:
// no new connections, existing ones go on.
func (d *Director) EditReal(k Key, addr netip.Addr, e RealEdit) (Result, error) {
	var res Result
	s, cur, err := d.real(k, addr)
	if err != nil {
		return res, err
	}
	next := cur
	edit(&next.Weight, e.Weight)
	edit(&next.UpperThreshold, e.UpperThreshold)
	edit(&next.LowerThreshold, e.LowerThreshold)
	if err := checkReal(k, next); err != nil {
		return res, err
	}
	if next == cur {
		return res, nil
	}
	if err := d.ipvs.UpdateDestination(d.ipvsService(s), d.destination(s, next)); err != nil {
		return res, fmt.Errorf("update real server %s of %s: %w", addr, k, err)
	}
	res.Changes = append(res.Changes, fmt.Sprintf("real server %s for %s weight %d thresholds %d/%d (was %d, %d/%d)",
		addr, k, next.Weight, next.UpperThreshold, next.LowerThreshold, cur.Weight, cur.UpperThreshold, cur.LowerThreshold))
	return res, nil
}

// findReal returns the real server addr of s.
func findReal(s Service, addr netip.Addr) (Real, bool) {
	for _, r := range s.Reals {
		if r.Addr == addr {
			return r, true
		}
	}
	return Real{}, false
}

// real reads the running state and finds real server addr of service k.
func (d *Director) real(k Key, addr netip.Addr) (Service, Real, error) {
	svcs, i, err := d.service(k)
	if err != nil {
		return Service{}, Real{}, err
	}
	r, ok := findReal(svcs[i], addr)
	if !ok {
		return Service{}, Real{}, fmt.Errorf("real server %s is not a real server of %s ('l3dsr director show' lists them)", addr, k)
	}
	return svcs[i], r, nil
}

// DelReal takes a real server out of a service. New connections no longer
// reach it; with expire_nodest_conn=1 its existing flows end at their next
// packet.
func (d *Director) DelReal(k Key, addr netip.Addr) (Result, error) {
	var res Result
	s, cur, err := d.real(k, addr)
	if err != nil {
		return res, err
	}
	if err := d.ipvs.RemoveDestination(d.ipvsService(s), d.destination(s, cur)); err != nil {
		return res, fmt.Errorf("remove real server %s from %s: %w", addr, k, err)
	}
	res.Changes = append(res.Changes, fmt.Sprintf("removed real server %s from %s", addr, k))
	return res, nil
}
