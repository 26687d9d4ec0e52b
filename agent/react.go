package agent

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/l3dsr/l3dsr/config"
	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/health"
)

// react takes one probe's result: the metrics always, and on a change of
// state what the check's on_failure says, then the service's sorry real.
func (c *checks) react(_ context.Context, ev health.Event) {
	j, ok := c.jobs[ev.ID]
	if !ok {
		return // a job of a file reloaded since
	}
	k, addr := j.key(), j.real.Addr
	c.a.reg.Health.Observe(k, addr, ev.Result.Latency, ev.Result.OK)
	r := c.record(ev.ID, j)
	r.Last, r.Checked = "", ev.Result.At
	if ev.Result.Err != nil {
		r.Last = ev.Result.Err.Error()
	}
	if !ev.Changed {
		// The first result of a job since the agent started shows its
		// state, also one the record brought over from before a restart.
		if !c.shown[ev.ID] {
			c.shown[ev.ID] = true
			c.a.reg.Health.SetState(k, addr, r.Up, r.Since)
		}
		return
	}
	c.shown[ev.ID] = true
	r.Up, r.Since = ev.State == health.Up, ev.Since
	c.a.reg.Health.SetState(k, addr, r.Up, r.Since)
	if err := c.act(j, r, ev); err != nil {
		c.a.reg.Agent.Error()
		c.a.log.Error("acting on a health change", "service", k.String(), "real", addr, "err", err)
	}
	_ = c.save()
}

// act changes the director for the real's new state.
func (c *checks) act(j job, r *RealHealth, ev health.Event) error {
	d, closeFn, err := c.a.o.Host.OpenDirector()
	if err != nil {
		return fmt.Errorf("opening the director: %w", err)
	}
	defer closeFn()
	st, err := d.Show()
	if err != nil {
		return err
	}
	k, addr := j.key(), j.real.Addr
	cur, present := findReal(st, k, addr)
	log := c.a.log.With("service", k.String(), "real", addr)
	if !r.Up {
		reason := ""
		if ev.Result.Err != nil {
			reason = ev.Result.Err.Error()
		}
		switch {
		case j.spec.OnFailure == health.Remove && present:
			if _, err := d.DelReal(k, addr); err != nil {
				return err
			}
			r.Action = "removed"
		case present && cur.Weight != 0:
			zero := int32(0)
			if _, err := d.EditReal(k, addr, director.RealEdit{Weight: &zero}); err != nil {
				return err
			}
			r.Action = "quiesced"
		default:
			// At weight 0 already, or gone: nothing to take back later.
			r.Action = ""
		}
		log.Warn("real down", "failed_checks", j.spec.Fall, "reason", reason, "action", actionText(r.Action, cur.Weight))
	} else {
		if err := c.restore(d, j, r, cur, present, log); err != nil {
			return err
		}
	}
	return c.sorryFor(d, st, j.svc)
}

// restore gives a real that is up again what the agent took from it, and
// leaves a weight that someone else changed meanwhile.
func (c *checks) restore(d config.DirectorHost, j job, r *RealHealth, cur director.Real, present bool, log logger) error {
	k, addr := j.key(), j.real.Addr
	did := r.Action
	r.Action = ""
	switch did {
	case "quiesced":
		switch {
		case !present:
			log.Info("real up; it is no longer in IPVS, the next repair adds it")
		case cur.Weight != 0:
			log.Info("real up; its weight was changed while it was down, and is left as it is", "weight", cur.Weight)
		case c.a.drained(k, addr):
			log.Info("real up; it is drained, and stays at weight 0 until 'l3dsr director real undrain'")
		default:
			w := j.real.Weight
			if _, err := d.EditReal(k, addr, director.RealEdit{Weight: &w}); err != nil {
				return err
			}
			log.Info("real up", "weight", w)
		}
	case "removed":
		if !present {
			if _, err := d.AddReal(k, j.real); err != nil {
				return err
			}
		}
		log.Info("real up; added back", "weight", j.real.Weight)
	default:
		log.Info("real up")
	}
	return nil
}

// sorryFor puts the sorry real of s in when every checked real of s is
// down, and takes it out when one is up.
//
// st is the status act read: what act changed is a real of s, never its
// sorry real, so st still tells whether the sorry real is in.
func (c *checks) sorryFor(d config.DirectorHost, st director.Status, s config.Service) error {
	k := s.Service.Key
	allDown, any := true, false
	for id, j := range c.jobs {
		if j.key() != k {
			continue
		}
		any = true
		if r, ok := c.reals[id]; !ok || r.Up {
			allDown = false
		}
	}
	allDown = allDown && any
	log := c.a.log.With("service", k.String())
	if !s.Sorry.IsValid() {
		if allDown {
			log.Warn("every real is down and the service has no sorry real: new connections are refused (ICMP port unreachable)")
		}
		return nil
	}
	_, present := findReal(st, k, s.Sorry)
	switch {
	case allDown && !c.sorry[k]:
		if !present {
			if _, err := d.AddReal(k, sorryReal(s)); err != nil {
				return err
			}
		}
		c.sorry[k] = true
		c.a.reg.Health.SetSorry(k, true)
		log.Warn("every real is down: the sorry real takes the traffic", "sorry", s.Sorry)
	case !allDown && c.sorry[k]:
		if present {
			if _, err := d.DelReal(k, s.Sorry); err != nil {
				return err
			}
		}
		c.sorry[k] = false
		c.a.reg.Health.SetSorry(k, false)
		log.Info("a real is up: the sorry real is taken out", "sorry", s.Sorry)
	}
	return nil
}

func findReal(st director.Status, k director.Key, a netip.Addr) (director.Real, bool) {
	for _, s := range st.Services {
		if s.Key != k {
			continue
		}
		for _, r := range s.Reals {
			if r.Addr == a {
				return r, true
			}
		}
	}
	return director.Real{}, false
}

func actionText(action string, weight int32) string {
	switch action {
	case "quiesced":
		return fmt.Sprintf("weight %d -> 0 (quiesced)", weight)
	case "removed":
		return "removed from the service"
	}
	return "none (its weight is 0 already)"
}

type logger interface {
	Info(msg string, args ...any)
}
