package agent

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/l3dsr/l3dsr/config"
	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/health"
	"github.com/l3dsr/l3dsr/internal/ipvs"
	"github.com/l3dsr/l3dsr/internal/probe"
	"golang.org/x/sys/unix"
)

// ProbePaths sets up the DSR path of the probes (*probe.Paths).
type ProbePaths interface {
	Sync(want []probe.Want) ([]probe.Route, error)
	Remove() error
}

// job is what the agent knows of one check: the service and the real as
// the file gives them.
type job struct {
	svc  config.Service
	real director.Real
	spec health.Spec
}

func (j job) key() director.Key { return j.svc.Service.Key }

// checks runs the health checks of the file and acts on what they find.
// Only the agent's loop calls its methods (react, set), so they need no
// lock; the monitor's goroutines hand their events over a queue.
type checks struct {
	a       *runner
	path    string
	monitor *health.Monitor
	jobs    map[string]job
	reals   map[string]*RealHealth
	sorry   map[director.Key]bool
	// shown: the jobs whose state the metrics show since the start.
	shown  map[string]bool
	probes ProbePaths
	closeP func() error
	closed sync.Once
}

func newChecks(a *runner, path string) (*checks, error) {
	path, err := statePath(path)
	if err != nil {
		return nil, err
	}
	rec, err := ReadHealth(path)
	if err != nil {
		return nil, err
	}
	c := &checks{a: a, path: path, jobs: map[string]job{},
		reals: map[string]*RealHealth{}, sorry: map[director.Key]bool{}, shown: map[string]bool{}}
	for i := range rec.Reals {
		r := rec.Reals[i]
		c.reals[r.Service+" "+r.Real.String()] = &r
	}
	for _, s := range rec.Sorry {
		c.sorry[keyOf(s)] = true
		a.reg.Health.SetSorry(keyOf(s), true)
	}
	c.monitor = health.NewMonitor(a.events.push)
	return c, nil
}

// keyOf parses a service's "tcp 10.0.0.1:80" of the record; an unreadable
// one is the zero Key, which matches no service.
func keyOf(s string) director.Key {
	var proto, ap string
	if _, err := fmt.Sscan(s, &proto, &ap); err != nil {
		return director.Key{}
	}
	p, err1 := dsrtypes.ParseProto(proto)
	addr, err2 := netip.ParseAddrPort(ap)
	if err1 != nil || err2 != nil {
		return director.Key{}
	}
	return director.Key{VIP: addr.Addr(), Port: addr.Port(), Proto: ipvs.Protocol(p)}
}

func (c *checks) close() {
	c.closed.Do(func() {
		c.monitor.Close()
		if c.closeP != nil {
			_ = c.closeP()
		}
	})
}

// set makes the checks those of f: new reals are checked, reals no longer
// in f forgotten, and the DSR path of the probes set up again.
func (c *checks) set(f *config.File) error {
	svcs, _ := f.DirectorServices()
	jobs := map[string]job{}
	var order []string
	var wants []probe.Want
	var wantIDs []string
	for _, s := range svcs {
		if s.Health == nil {
			continue
		}
		// The parser filled in every default and resolved the path for the
		// mode (none for exec).
		spec := *s.Health
		for _, r := range s.Service.Reals {
			id := realID(s.Service.Key, r.Addr)
			jobs[id] = job{svc: s, real: r, spec: spec}
			order = append(order, id)
			if spec.Via == health.ViaDSR {
				wants = append(wants, wantOf(s.Service, r))
				wantIDs = append(wantIDs, id)
			}
		}
	}
	routes := map[string]probe.Route{}
	if len(wants) > 0 || c.probes != nil {
		if err := c.openProbes(); err != nil {
			return err
		}
		rs, err := c.probes.Sync(wants)
		if err != nil {
			return fmt.Errorf("setting up the DSR path of the health probes: %w", err)
		}
		for i, id := range wantIDs {
			routes[id] = rs[i]
		}
	}
	var list []health.Job
	for _, id := range order {
		j := jobs[id]
		hj := health.Job{ID: id, Spec: j.spec, Target: targetOf(j, routes[id])}
		if r, ok := c.reals[id]; ok && !r.Up {
			hj.Start = health.Down
		}
		list = append(list, hj)
	}
	for id, j := range c.jobs {
		if _, ok := jobs[id]; !ok {
			c.a.reg.Health.Forget(j.key(), j.real.Addr)
			delete(c.reals, id)
			delete(c.shown, id)
		}
	}
	c.jobs = jobs
	c.monitor.Set(list)
	c.a.log.Info("health checks", "reals", len(list), "dsr_path", len(wants))
	return c.save()
}

func (c *checks) openProbes() error {
	if c.probes != nil {
		return nil
	}
	if c.a.o.Probes == nil {
		return fmt.Errorf("this host cannot send probes along the DSR path: give the checks 'via: rip'")
	}
	p, closeFn, err := c.a.o.Probes()
	if err != nil {
		return fmt.Errorf("setting up the DSR path of the health probes: %w", err)
	}
	c.probes, c.closeP = p, closeFn
	return nil
}

func wantOf(s director.Service, r director.Real) probe.Want {
	return probe.Want{VIP: s.VIP, Port: s.Port, Proto: s.Proto, Mode: s.Mode, DSCP: s.DSCP, Real: r.Addr,
		Tunnel: r.Tunnel, TunnelPort: r.TunnelPort, TunnelFlags: r.TunnelFlags}
}

func targetOf(j job, rt probe.Route) health.Target {
	s := j.svc.Service
	t := health.Target{Service: netip.AddrPortFrom(s.VIP, s.Port), Proto: s.Proto, Real: j.real.Addr}
	if j.spec.Via == health.ViaRIP {
		t.Addr = netip.AddrPortFrom(j.real.Addr, s.Port)
		return t
	}
	t.Addr = t.Service
	t.Dialer = markedDialer(rt)
	return t
}

// markedDialer makes the probe's sockets: bound to the route's source and
// with its mark, which the probes' path steers to the real (internal/probe).
func markedDialer(rt probe.Route) *net.Dialer {
	return &net.Dialer{
		LocalAddr: &net.TCPAddr{IP: rt.Source.AsSlice()},
		Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, int(rt.Mark))
			})
			if err == nil && serr != nil {
				err = fmt.Errorf("setting the probe's mark %#x: %w", rt.Mark, serr)
			}
			return err
		},
	}
}

// save writes the record of what the checks found and did.
func (c *checks) save() error {
	var h Health
	for id := range c.jobs {
		if r, ok := c.reals[id]; ok {
			h.Reals = append(h.Reals, *r)
		}
	}
	for k, in := range c.sorry {
		if in {
			h.Sorry = append(h.Sorry, k.String())
		}
	}
	if err := writeHealth(c.path, h); err != nil {
		c.a.log.Error("saving the health record", "err", err)
		return err
	}
	return nil
}

type action int

const (
	actionNone action = iota
	actionQuiesced
	actionRemoved
)

// weight is the plan's hook (config.PlanOptions.Weights): a real that is
// down is held at 0, or out when its check removed it.
func (c *checks) weight(k director.Key, a netip.Addr) (int32, bool) {
	r, ok := c.reals[realID(k, a)]
	if !ok || r.Up {
		return 0, false
	}
	if r.Action == "removed" {
		return config.WeightOut, true
	}
	return 0, true
}

// action is what the checks did to real a of service k.
func (c *checks) action(k director.Key, a netip.Addr) action {
	r, ok := c.reals[realID(k, a)]
	if !ok || r.Up {
		return actionNone
	}
	switch r.Action {
	case "quiesced":
		return actionQuiesced
	case "removed":
		return actionRemoved
	}
	return actionNone
}

func (c *checks) sorryIn(k director.Key) bool { return c.sorry[k] }

func (c *checks) record(id string, j job) *RealHealth {
	r, ok := c.reals[id]
	if !ok {
		r = &RealHealth{Service: j.key().String(), Real: j.real.Addr, Up: true, Since: time.Now()}
		c.reals[id] = r
	}
	return r
}

// serving tells whether a service of f with VIP vip has a real that can
// take traffic: one without a check, or one whose check has shown it up
// since the agent started. A real not yet probed does not count, also one
// the record of a run before says is up: a VIP is announced on evidence.
// A sorry real does not count either: it answers, it does not serve; nor
// does a real the file gives weight 0, to which IPVS sends no new flow.
func (c *checks) serving(f *config.File, vip netip.Addr) bool {
	svcs, _ := f.DirectorServices()
	for _, s := range svcs {
		if s.Service.VIP != vip {
			continue
		}
		for _, r := range s.Service.Reals {
			if r.Weight <= 0 {
				continue
			}
			id := realID(s.Service.Key, r.Addr)
			if _, checked := c.jobs[id]; !checked {
				return true
			}
			if rh, ok := c.reals[id]; ok && rh.Up && c.shown[id] {
				return true
			}
		}
	}
	return false
}
