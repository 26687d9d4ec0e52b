package director

import (
	"fmt"
	"net/netip"
	"slices"

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

// AddReal adds a real server to a service, forwarding by the service's mode.
// Adding a real that runs with the same settings changes nothing.
func (b *Batch) AddReal(k Key, r Real) (Result, error) {
	var res Result
	i, err := b.existing(k, ": add it first with 'l3dsr director service add'")
	if err != nil {
		return res, err
	}
	if err := checkReal(k, r); err != nil {
		return res, err
	}
	s := b.svcs[i]
	if s.Mode == modeMixed || s.Mode == modeNone {
		return res, fmt.Errorf("service %s is not l3dsr's and its mode is %s, so the forwarding method of a new real server is unknown: add it with ipvsadm, or make the service with 'l3dsr director service add'", k, s.Mode)
	}
	if err := checkTunnel(k, s.Mode, r); err != nil {
		return res, err
	}
	r.Forward, r.Port = Forward(s.Mode), 0
	if s.Mode == dsrtypes.ModeDR {
		if err := b.d.checkConnected(k, r); err != nil {
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
	s.Reals = append(slices.Clip(s.Reals), r)
	if b.eager {
		svcs := slices.Clone(b.svcs)
		svcs[i] = s
		if err := checkDSCPConflicts(svcs); err != nil {
			return res, err
		}
	}
	// A real gets no packet of a service whose mark is not in place: the
	// marks held back so far go first, in one transaction. An apply adds
	// its services before their reals, so all its marks go in that one.
	if b.pending(k) {
		if err := b.send(); err != nil {
			return res, err
		}
	}
	if s.Scheduler == SchedulerMH {
		return b.addInOrder(i, s, r)
	}
	is, dst := b.d.ipvsService(s), b.d.destination(s, r)
	if err := b.d.ipvs.CreateDestination(is, dst); err != nil {
		return res, fmt.Errorf("add real server %s to %s: %w", r.Addr, k, err)
	}
	b.u.Push("remove real server "+r.Addr.String()+" from "+k.String(), func() error { return b.d.ipvs.RemoveDestination(is, dst) })
	b.svcs[i] = s
	res.Changes = append(res.Changes, addedText(k, r))
	return res, nil
}

// addedText is what AddReal reports for real r of service k, in mh order or not.
func addedText(k Key, r Real) string {
	return fmt.Sprintf("real server %s for %s (%s, weight %d)", r.Addr, k, r.settings().forwardText(), r.Weight)
}

// EditReal changes a real server's weight or thresholds. Weight 0 drains it:
// no new connections, existing ones go on.
func (b *Batch) EditReal(k Key, addr netip.Addr, e RealEdit) (Result, error) {
	var res Result
	i, cur, err := b.real(k, addr)
	if err != nil {
		return res, err
	}
	s := b.svcs[i]
	next := e.Apply(cur)
	if err := checkReal(k, next); err != nil {
		return res, err
	}
	if next.settings() == cur.settings() {
		return res, nil
	}
	if next.Forward == ipvs.Route && cur.Forward != ipvs.Route {
		if err := b.d.checkConnected(k, next); err != nil {
			return res, err
		}
	}
	is := b.d.ipvsService(s)
	if err := b.d.ipvs.UpdateDestination(is, b.d.destination(s, next)); err != nil {
		return res, fmt.Errorf("update real server %s of %s: %w", addr, k, err)
	}
	old := b.d.destination(s, cur)
	b.u.Push("restore real server "+addr.String()+" of "+k.String(), func() error { return b.d.ipvs.UpdateDestination(is, old) })
	b.setReal(i, next)
	res.Changes = append(res.Changes, fmt.Sprintf("real server %s for %s %s (was %s)", addr, k, next.settings(), cur.settings()))
	return res, nil
}

// setReal puts r in place of the real of its address in service i of the
// view (a copy: the slice may be another view's).
func (b *Batch) setReal(i int, r Real) {
	s := b.svcs[i]
	s.Reals = slices.Clone(s.Reals)
	j := slices.IndexFunc(s.Reals, func(o Real) bool { return o.Addr == r.Addr })
	s.Reals[j] = r
	b.svcs[i] = s
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

// real finds real server addr of service k: the service's index in the
// view, and the real.
func (b *Batch) real(k Key, addr netip.Addr) (int, Real, error) {
	i, err := b.existing(k, ": add it first with 'l3dsr director service add'")
	if err != nil {
		return 0, Real{}, err
	}
	r, ok := findReal(b.svcs[i], addr)
	if !ok {
		return 0, Real{}, fmt.Errorf("real server %s is not a real server of %s ('l3dsr director show' lists them)", addr, k)
	}
	return i, r, nil
}

// DelReal takes a real server out of a service. New connections no longer
// reach it; with expire_nodest_conn=1 its existing flows end at their next
// packet.
func (b *Batch) DelReal(k Key, addr netip.Addr) (Result, error) {
	var res Result
	i, cur, err := b.real(k, addr)
	if err != nil {
		return res, err
	}
	s := b.svcs[i]
	is, dst := b.d.ipvsService(s), b.d.destination(s, cur)
	if err := b.d.ipvs.RemoveDestination(is, dst); err != nil {
		return res, fmt.Errorf("remove real server %s from %s: %w", addr, k, err)
	}
	b.u.Push("add real server "+addr.String()+" to "+k.String()+" again", func() error { return b.d.ipvs.CreateDestination(is, dst) })
	s.Reals = slices.DeleteFunc(slices.Clone(s.Reals), func(o Real) bool { return o.Addr == addr })
	b.svcs[i] = s
	res.Changes = append(res.Changes, fmt.Sprintf("removed real server %s from %s", addr, k))
	return res, nil
}
