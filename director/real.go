package director

import (
	"fmt"
	"net/netip"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/ipvs"
)

// DefaultWeight is the weight of a real server added without one.
const DefaultWeight = 1

// destination is real r of service s as IPVS takes it: r forwards as it
// says (AddReal sets the mode's method), and only a tunnel real has tunnel
// settings.
func (d *Director) destination(s Service, r Real) ipvs.Destination {
	dst := ipvs.Destination{
		Address:        r.Addr,
		Port:           s.Port,
		Forward:        r.Forward,
		Weight:         r.Weight,
		UpperThreshold: r.UpperThreshold,
		LowerThreshold: r.LowerThreshold,
	}
	if r.Port != 0 {
		dst.Port = r.Port
	}
	if r.Forward == ipvs.Tunnel {
		dst.TunnelType, dst.TunnelPort, dst.TunnelFlags = r.Tunnel, r.TunnelPort, r.TunnelFlags
	}
	return dst
}

// realSettings are what a real's edit can change, comparable as one value.
type realSettings struct {
	weight       int32
	upper, lower uint32
	forward      ipvs.ForwardMethod
	tunnel       ipvs.TunnelType
	tunnelPort   uint16
	tunnelFlags  uint16
}

func (r Real) settings() realSettings {
	return realSettings{r.Weight, r.UpperThreshold, r.LowerThreshold, r.Forward, r.Tunnel, r.TunnelPort, r.TunnelFlags}
}

func (t realSettings) String() string {
	out := fmt.Sprintf("weight %d thresholds %d/%d %s", t.weight, t.upper, t.lower, t.forward)
	if t.forward == ipvs.Tunnel && t.tunnel != ipvs.TunnelIPIP {
		out += " " + t.tunnel.String()
		if t.tunnelPort != 0 {
			out += fmt.Sprintf(":%d", t.tunnelPort)
		}
	}
	if c := TunnelChecksumName(t.tunnelFlags); c != "" {
		out += " " + c
	}
	return out
}

// forwardText is the method, with a tunnel's type where it is not ipip.
func (t realSettings) forwardText() string {
	if t.forward == ipvs.Tunnel && t.tunnel != ipvs.TunnelIPIP {
		return t.forward.String() + "/" + t.tunnel.String()
	}
	return t.forward.String()
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
	if err := checkTunnel(k, s.Mode, r); err != nil {
		return res, err
	}
	r.Forward, r.Port = Forward(s.Mode), 0
	if s.Mode == dsrtypes.ModeDR {
		if err := d.checkConnected(k, r); err != nil {
			return res, err
		}
	}
	if cur, ok := findReal(s, r.Addr); ok {
		if cur.settings() == r.settings() && cur.Port == 0 {
			return res, nil
		}
		return res, fmt.Errorf("real server %s of %s exists with %s: use 'l3dsr director real edit' to change it",
			r.Addr, k, cur.settings())
	}
	s.Reals = append(s.Reals, r)
	svcs[i] = s
	if err := checkDSCPConflicts(svcs); err != nil {
		return res, err
	}
	if err := d.ipvs.CreateDestination(d.ipvsService(s), d.destination(s, r)); err != nil {
		return res, fmt.Errorf("add real server %s to %s: %w", r.Addr, k, err)
	}
	res.Changes = append(res.Changes, fmt.Sprintf("real server %s for %s (%s, weight %d)", r.Addr, k, r.settings().forwardText(), r.Weight))
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
	next := e.Apply(cur)
	if err := checkReal(k, next); err != nil {
		return res, err
	}
	if next.settings() == cur.settings() {
		return res, nil
	}
	if next.Forward == ipvs.Route && cur.Forward != ipvs.Route {
		if err := d.checkConnected(k, next); err != nil {
			return res, err
		}
	}
	if err := d.ipvs.UpdateDestination(d.ipvsService(s), d.destination(s, next)); err != nil {
		return res, fmt.Errorf("update real server %s of %s: %w", addr, k, err)
	}
	res.Changes = append(res.Changes, fmt.Sprintf("real server %s for %s %s (was %s)", addr, k, next.settings(), cur.settings()))
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
