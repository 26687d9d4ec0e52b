package agent

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/l3dsr/l3dsr/config"
	"github.com/l3dsr/l3dsr/director"
)

// apply brings the host to the file, as the checks see it (desired), and
// logs each change. With keepWeights (a repair) every real keeps the weight
// it runs with, so that only drift is changed. It returns how many steps
// it carried out.
func (a *Agent) apply(ctx context.Context, keepWeights bool) (int, error) {
	want, err := a.desired(keepWeights)
	if err != nil {
		a.reg.Agent.Error()
		a.log.Error("reading the running state", "err", err)
		return 0, err
	}
	p, closeFn, err := config.PlanHost(ctx, a.o.Host, want)
	if err != nil {
		a.reg.Agent.Applied(err)
		a.log.Error("planning", "file", a.o.File, "err", err)
		return 0, err
	}
	defer closeFn()
	if len(p.Steps) == 0 {
		if !keepWeights {
			a.reg.Agent.Applied(nil)
			a.log.Info("applied: no change", "file", a.o.File)
		}
		return 0, nil
	}
	out, err := p.Apply()
	a.reg.Agent.Applied(err)
	msg := "applied"
	if keepWeights {
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

// desired is the file as the health checks and the running weights make
// it: a real that is down is at weight 0 (quiesced) or left out (removed),
// a sorry real that is in is kept, and with keepWeights every real that runs
// keeps its weight.
func (a *Agent) desired(keepWeights bool) (*config.File, error) {
	svcs, ok := a.file.DirectorServices()
	if !ok {
		return a.file, nil
	}
	var running map[director.Key]map[netip.Addr]int32
	if keepWeights {
		st, err := a.showDirector()
		if err != nil {
			return nil, err
		}
		running = map[director.Key]map[netip.Addr]int32{}
		for _, s := range st.Services {
			m := map[netip.Addr]int32{}
			for _, r := range s.Reals {
				m[r.Addr] = r.Weight
			}
			running[s.Key] = m
		}
	}
	out := make([]config.Service, len(svcs))
	for i, s := range svcs {
		k := s.Service.Key
		var reals []director.Real
		for _, r := range s.Service.Reals {
			switch a.checks.action(k, r.Addr) {
			case actionRemoved:
				continue
			case actionQuiesced:
				r.Weight = 0
			}
			if w, ok := running[k][r.Addr]; ok {
				r.Weight = w
			}
			reals = append(reals, r)
		}
		if a.checks.sorryIn(k) && s.Sorry.IsValid() {
			sr := sorryReal(s)
			if w, ok := running[k][sr.Addr]; ok {
				sr.Weight = w
			}
			reals = append(reals, sr)
		}
		s.Service.Reals = reals
		out[i] = s
	}
	return a.file.WithDirectorServices(out), nil
}

// sorryReal is the real that takes a service's traffic while every real is
// down: forwarded as the service's mode does.
func sorryReal(s config.Service) director.Real {
	return director.Real{Addr: s.Sorry, Weight: 1, Forward: director.Forward(s.Service.Mode)}
}

func (a *Agent) showDirector() (director.Status, error) {
	d, closeFn, err := a.o.Host.OpenDirector()
	if err != nil {
		return director.Status{}, fmt.Errorf("opening the director: %w", err)
	}
	defer closeFn()
	return d.Show()
}

// teardown deletes what the file set up (on_stop: teardown), and the
// probes' path.
func (a *Agent) teardown() error {
	a.log.Info("tearing down what the file set up (on_stop: teardown)")
	p, closeFn, err := config.PlanHost(context.Background(), a.o.Host, a.file.Teardown())
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
func (a *Agent) drained(k director.Key, addr netip.Addr) bool { return false }
