package agent

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	"github.com/l3dsr/l3dsr/config"
	"github.com/l3dsr/l3dsr/director"
)

// apply brings the host to the file as the checks see it, and logs each
// change. A repair keeps every running weight (PlanOptions.KeepWeights), so
// that only drift is changed; both hold a down real at 0, or out when its
// check removes it. It returns how many steps it carried out.
func (a *runner) apply(ctx context.Context, repair bool) (int, error) {
	opts := config.PlanOptions{KeepWeights: repair, Weights: a.checks.weight}
	p, closeFn, err := config.PlanHost(ctx, a.o.Host, a.withSorry(), opts)
	if err != nil {
		a.reg.Agent.Applied(err)
		a.log.Error("planning", "file", a.o.File, "err", err)
		return 0, err
	}
	defer closeFn()
	if len(p.Steps) == 0 {
		if !repair {
			a.reg.Agent.Applied(nil)
			a.log.Info("applied: no change", "file", a.o.File)
		}
		return 0, nil
	}
	out, err := p.Apply()
	a.reg.Agent.Applied(err)
	msg := "applied"
	if repair {
		msg = "repaired drift"
	}
	for _, d := range out.Done {
		a.log.Info(msg, "step", d.What, "changes", d.Changes)
	}
	for _, w := range out.Warnings {
		a.log.Warn(msg, "warning", w)
	}
	if err != nil {
		a.log.Error(msg+": failed", "err", err)
		return len(out.Done), err
	}
	return len(out.Done), nil
}

// withSorry is the file with the sorry real of each service whose reals
// are all down among its reals: the plan does not see sorry reals
// otherwise, and would delete it.
func (a *runner) withSorry() *config.File {
	svcs, ok := a.file.DirectorServices()
	if !ok {
		return a.file
	}
	out := make([]config.Service, len(svcs))
	for i, s := range svcs {
		if a.checks.sorryIn(s.Service.Key) && s.Sorry.IsValid() {
			s.Service.Reals = append(slices.Clone(s.Service.Reals), sorryReal(s))
		}
		out[i] = s
	}
	return a.file.WithDirectorServices(out)
}

// sorryReal is the real that takes a service's traffic while every real is
// down: forwarded as the service's mode does.
func sorryReal(s config.Service) director.Real {
	return director.Real{Addr: s.Sorry, Weight: 1, Forward: director.Forward(s.Service.Mode)}
}

func (a *runner) showDirector() (director.Status, error) {
	d, closeFn, err := a.o.Host.OpenDirector()
	if err != nil {
		return director.Status{}, fmt.Errorf("opening the director: %w", err)
	}
	defer closeFn()
	return d.Show()
}

// teardown deletes what the file set up (on_stop: teardown), and the
// probes' path.
func (a *runner) teardown() error {
	a.log.Info("tearing down what the file set up (on_stop: teardown)")
	p, closeFn, err := config.PlanHost(context.Background(), a.o.Host, a.file.Teardown(), config.PlanOptions{})
	if err != nil {
		return err
	}
	defer closeFn()
	out, err := p.Apply()
	for _, d := range out.Done {
		a.log.Info("teardown", "step", d.What, "changes", d.Changes)
	}
	return err
}

// drained tells whether real a of service k is drained (`l3dsr director
// real drain`): the checks never give it a weight back.
func (a *runner) drained(k director.Key, addr netip.Addr) bool {
	if a.o.Host.Drained == nil {
		return false
	}
	set, release, err := a.o.Host.Drained()
	if err != nil {
		a.log.Warn("reading the drained reals", "err", err)
		return false
	}
	defer release()
	_, ok := set.Weight(k, addr)
	return ok
}
