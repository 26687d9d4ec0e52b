package agent

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"

	"github.com/l3dsr/l3dsr/config"
	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/health"
	"github.com/l3dsr/l3dsr/internal/ipvs"
	"github.com/l3dsr/l3dsr/metrics"
)

// fakeDirector is IPVS as the agent sees it: services and their reals, and
// the calls that changed them.
type fakeDirector struct {
	svcs  []director.Service
	calls []string
}

func (f *fakeDirector) Show() (director.Status, error) {
	out := make([]director.Service, len(f.svcs))
	for i, s := range f.svcs {
		s.Reals = slices.Clone(s.Reals)
		out[i] = s
	}
	return director.Status{Services: out}, nil
}

func (f *fakeDirector) svc(k director.Key) (*director.Service, error) {
	for i := range f.svcs {
		if f.svcs[i].Key == k {
			return &f.svcs[i], nil
		}
	}
	return nil, fmt.Errorf("no service %s", k)
}

func (f *fakeDirector) AddService(s director.Service) (director.Result, error) {
	f.calls = append(f.calls, "add service "+s.Key.String())
	f.svcs = append(f.svcs, s)
	return director.Result{}, nil
}

func (f *fakeDirector) EditService(k director.Key, _ director.ServiceEdit) (director.Result, error) {
	f.calls = append(f.calls, "edit service "+k.String())
	return director.Result{}, nil
}

func (f *fakeDirector) DelService(k director.Key) (director.Result, error) {
	f.calls = append(f.calls, "del service "+k.String())
	f.svcs = slices.DeleteFunc(f.svcs, func(s director.Service) bool { return s.Key == k })
	return director.Result{}, nil
}

func (f *fakeDirector) AddReal(k director.Key, r director.Real) (director.Result, error) {
	s, err := f.svc(k)
	if err != nil {
		return director.Result{}, err
	}
	f.calls = append(f.calls, fmt.Sprintf("add real %s weight %d", r.Addr, r.Weight))
	s.Reals = append(s.Reals, r)
	return director.Result{}, nil
}

func (f *fakeDirector) EditReal(k director.Key, a netip.Addr, e director.RealEdit) (director.Result, error) {
	s, err := f.svc(k)
	if err != nil {
		return director.Result{}, err
	}
	for i := range s.Reals {
		if s.Reals[i].Addr == a && e.Weight != nil {
			f.calls = append(f.calls, fmt.Sprintf("edit real %s weight %d", a, *e.Weight))
			s.Reals[i].Weight = *e.Weight
			return director.Result{}, nil
		}
	}
	return director.Result{}, fmt.Errorf("no real %s", a)
}

func (f *fakeDirector) DelReal(k director.Key, a netip.Addr) (director.Result, error) {
	s, err := f.svc(k)
	if err != nil {
		return director.Result{}, err
	}
	f.calls = append(f.calls, "del real "+a.String())
	s.Reals = slices.DeleteFunc(s.Reals, func(r director.Real) bool { return r.Addr == a })
	return director.Result{}, nil
}

func (f *fakeDirector) weight(k director.Key, a netip.Addr) (int32, bool) {
	s, _ := f.svc(k)
	for _, r := range s.Reals {
		if r.Addr == a {
			return r.Weight, true
		}
	}
	return 0, false
}

var (
	svcKey = director.Key{VIP: netip.MustParseAddr("10.0.0.1"), Port: 80, Proto: ipvs.ProtoTCP}
	rip1   = netip.MustParseAddr("192.0.2.10")
	rip2   = netip.MustParseAddr("192.0.2.11")
	sorry  = netip.MustParseAddr("192.0.2.99")
)

// testService is a dscp-mode service with two reals at weight 100, its
// check (fall 2, rise 2) and a sorry real.
func testService(onFailure health.OnFailure) config.Service {
	spec := health.Spec{Kind: health.KindTCP, Via: health.ViaRIP, OnFailure: onFailure}.WithDefaults()
	return config.Service{
		Service: director.Service{Key: svcKey, Mode: "dscp", DSCP: 21, Scheduler: "wlc", Reals: []director.Real{
			{Addr: rip1, Weight: 100, Forward: ipvs.Masquerade}, {Addr: rip2, Weight: 100, Forward: ipvs.Masquerade}}},
		Health: &spec,
		Sorry:  sorry,
	}
}

// newTestAgent is an agent over fd, with the checks of svc set up (the
// monitor runs no probe: the tests hand events to react).
func newTestAgent(t *testing.T, fd *fakeDirector, svc config.Service, state string) (*runner, *checks) {
	t.Helper()
	if state == "" {
		state = filepath.Join(t.TempDir(), "agent.json")
	}
	a := &runner{
		o: Options{Host: config.Host{OpenDirector: func() (config.DirectorHost, func() error, error) {
			return fd, func() error { return nil }, nil
		}}},
		log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		reg:    metrics.New(metrics.Sources{}),
		events: newQueue(),
	}
	c, err := newChecks(a, state)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.close)
	a.checks = c
	for _, r := range svc.Service.Reals {
		c.jobs[realID(svcKey, r.Addr)] = job{svc: svc, real: r, spec: *svc.Health}
	}
	return a, c
}

func event(real netip.Addr, s health.State) health.Event {
	ev := health.Event{ID: realID(svcKey, real), State: s, Changed: true, Result: health.Result{OK: s == health.Up}}
	if s == health.Down {
		ev.Result.Err = fmt.Errorf("tcp %s:80: connection refused", real)
	}
	return ev
}

func fileWith(t *testing.T, svcs ...config.Service) *config.File {
	t.Helper()
	return (&config.File{}).WithDirectorServices(svcs)
}

func weights(f *config.File) map[netip.Addr]int32 {
	svcs, _ := f.DirectorServices()
	m := map[netip.Addr]int32{}
	for _, r := range svcs[0].Service.Reals {
		m[r.Addr] = r.Weight
	}
	return m
}
