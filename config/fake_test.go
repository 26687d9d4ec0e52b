package config

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/maptable"
	"github.com/l3dsr/l3dsr/realserver"
)

// recorder records every call of a fake and fails one on demand.
type recorder struct {
	calls []string
	// failAt makes the call with this index (0-based, over all calls) fail;
	// -1 fails none.
	failAt int
}

func (f *recorder) call(format string, a ...any) error {
	f.calls = append(f.calls, fmt.Sprintf(format, a...))
	if len(f.calls)-1 == f.failAt {
		return fmt.Errorf("injected failure")
	}
	return nil
}

// sortedState is a fake's state as lines in a canonical order.
func sortedState(lines []string) string {
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// fakeDirector keeps services as the director would and records every call.
type fakeDirector struct {
	svcs []director.Service
	recorder
}

func newFakeDirector() *fakeDirector { return &fakeDirector{recorder: recorder{failAt: -1}} }

func (f *fakeDirector) idx(k director.Key) int {
	return slices.IndexFunc(f.svcs, func(s director.Service) bool { return s.Key == k })
}

func (f *fakeDirector) AddService(s director.Service) (director.Result, error) {
	if err := f.call("AddService %s", describeService(s)); err != nil {
		return director.Result{}, err
	}
	if f.idx(s.Key) >= 0 {
		return director.Result{}, fmt.Errorf("exists")
	}
	f.svcs = append(f.svcs, s)
	return director.Result{Changes: []string{"added " + s.Key.String()}}, nil
}

func (f *fakeDirector) EditService(k director.Key, e director.ServiceEdit) (director.Result, error) {
	if err := f.call("EditService %s", k); err != nil {
		return director.Result{}, err
	}
	i := f.idx(k)
	f.svcs[i] = e.Apply(f.svcs[i])
	return director.Result{Changes: []string{"edited"}}, nil
}

func (f *fakeDirector) DelService(k director.Key) (director.Result, error) {
	if err := f.call("DelService %s", k); err != nil {
		return director.Result{}, err
	}
	i := f.idx(k)
	f.svcs = slices.Delete(f.svcs, i, i+1)
	return director.Result{Changes: []string{"deleted"}}, nil
}

func (f *fakeDirector) AddReal(k director.Key, r director.Real) (director.Result, error) {
	if err := f.call("AddReal %s %s w%d", k, r.Addr, r.Weight); err != nil {
		return director.Result{}, err
	}
	i := f.idx(k)
	r.Forward = director.Forward(f.svcs[i].Mode)
	f.svcs[i].Reals = append(f.svcs[i].Reals, r)
	return director.Result{Changes: []string{"real added"}}, nil
}

func (f *fakeDirector) EditReal(k director.Key, a netip.Addr, e director.RealEdit) (director.Result, error) {
	w := int32(-1)
	if e.Weight != nil {
		w = *e.Weight
	}
	if err := f.call("EditReal %s %s w%d", k, a, w); err != nil {
		return director.Result{}, err
	}
	i := f.idx(k)
	j := slices.IndexFunc(f.svcs[i].Reals, func(r director.Real) bool { return r.Addr == a })
	f.svcs[i].Reals[j] = e.Apply(f.svcs[i].Reals[j])
	return director.Result{Changes: []string{"real edited"}}, nil
}

func (f *fakeDirector) DelReal(k director.Key, a netip.Addr) (director.Result, error) {
	if err := f.call("DelReal %s %s", k, a); err != nil {
		return director.Result{}, err
	}
	i := f.idx(k)
	f.svcs[i].Reals = slices.DeleteFunc(f.svcs[i].Reals, func(r director.Real) bool { return r.Addr == a })
	return director.Result{Changes: []string{"real deleted"}}, nil
}

// state is the fake's services in a canonical order: an undone delete adds
// a service (and its reals) back at the end.
func (f *fakeDirector) state() string {
	var lines []string
	for _, s := range f.svcs {
		var reals []string
		for _, r := range s.Reals {
			reals = append(reals, fmt.Sprintf("%+v", r))
		}
		slices.Sort(reals)
		lines = append(lines, fmt.Sprintf("%s %d %s %d %v", describeService(s), s.DSCP, s.Scheduler, s.Persistent, reals))
	}
	return sortedState(lines)
}

// fakeRS keeps the VIPs set up as realserver.Manager would and records
// every call.
type fakeRS struct {
	vips    []realserver.VIPStatus
	ingress realserver.Ingress
	recorder
}

func newFakeRS() *fakeRS { return &fakeRS{recorder: recorder{failAt: -1}} }

func (f *fakeRS) Up(_ context.Context, c realserver.Config, v xtrule.Variant) (realserver.Applied, error) {
	if err := f.call("Up %s %s", c, v); err != nil {
		return realserver.Applied{}, err
	}
	i := slices.IndexFunc(f.vips, func(s realserver.VIPStatus) bool { return s.VIP == c.VIP })
	if i < 0 {
		f.vips = append(f.vips, realserver.VIPStatus{Config: c})
		i = len(f.vips) - 1
	}
	s := &f.vips[i]
	s.OK = true
	if c.DSCP == nil || slices.Contains(s.DSCPs, *c.DSCP) {
		return realserver.Applied{Config: c, Codes: s.DSCPs}, nil
	}
	// As the manager keeps them: ascending, the first in Config.
	s.DSCPs = append(slices.Clone(s.DSCPs), *c.DSCP)
	slices.Sort(s.DSCPs)
	d := s.DSCPs[0]
	s.Config.DSCP = &d
	return realserver.Applied{Config: c, Codes: s.DSCPs, Changes: []string{fmt.Sprintf("set up %s DSCP %d", c.VIP, *c.DSCP)}}, nil
}

func (f *fakeRS) SetMapPath(_ context.Context, want maptable.Mode, v xtrule.Variant) (realserver.Applied, error) {
	if err := f.call("SetMapPath %s %s", want, v); err != nil {
		return realserver.Applied{}, err
	}
	return realserver.Applied{Changes: []string{"map path set to " + string(want)}}, nil
}

func (f *fakeRS) UpIngress(ctx context.Context, c realserver.Config, v xtrule.Variant, ing *realserver.Ingress) (realserver.Applied, error) {
	if ing == nil {
		return f.Up(ctx, c, v)
	}
	if err := f.call("UpIngress %s %s %s", c, v, ing); err != nil {
		return realserver.Applied{}, err
	}
	f.ingress = *ing
	return realserver.Applied{Config: c, Changes: []string{"ingress " + ing.String()}}, nil
}

func (f *fakeRS) Down(_ context.Context, vip netip.Addr) (realserver.Applied, error) {
	if err := f.call("Down %s", vip); err != nil {
		return realserver.Applied{}, err
	}
	f.vips = slices.DeleteFunc(f.vips, func(s realserver.VIPStatus) bool { return s.VIP == vip })
	return realserver.Applied{Changes: []string{"took down " + vip.String()}}, nil
}

func (f *fakeRS) DownCode(_ context.Context, vip netip.Addr, d uint8) (realserver.Applied, error) {
	if err := f.call("DownCode %s %d", vip, d); err != nil {
		return realserver.Applied{}, err
	}
	i := slices.IndexFunc(f.vips, func(s realserver.VIPStatus) bool { return s.VIP == vip })
	s := &f.vips[i]
	s.DSCPs = slices.DeleteFunc(slices.Clone(s.DSCPs), func(x uint8) bool { return x == d })
	if len(s.DSCPs) == 0 {
		f.vips = slices.Delete(f.vips, i, i+1)
		return realserver.Applied{Changes: []string{"took down " + vip.String()}}, nil
	}
	first := s.DSCPs[0]
	s.Config.DSCP = &first
	return realserver.Applied{Changes: []string{fmt.Sprintf("took DSCP %d off %s", d, vip)}, Codes: s.DSCPs}, nil
}

func (f *fakeRS) state() string {
	var lines []string
	for _, v := range f.vips {
		lines = append(lines, fmt.Sprintf("%s ok=%v", v.Config.Describe(v.DSCPs), v.OK))
	}
	return sortedState(lines)
}

// Reorder sorts the reals of service k, as the director puts an mh
// service's in canonical order.
func (f *fakeDirector) Reorder(k director.Key) (director.Result, error) {
	if err := f.call("Reorder %s", k); err != nil {
		return director.Result{}, err
	}
	i := f.idx(k)
	f.svcs[i].Reals = director.Canonical(f.svcs[i], f.svcs[i].Reals)
	return director.Result{Changes: []string{"reordered"}}, nil
}
