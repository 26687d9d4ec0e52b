package health

import (
	"context"
	"math/rand/v2"
	"time"
)

// run probes r's job until ctx ends: first after a random part of the
// interval, so that jobs started together spread their probes, then on
// every tick of the interval. Probes of one job never overlap: one that
// overruns skips the ticks it covered.
func (m *Monitor) run(ctx context.Context, r *running) {
	defer close(r.done)
	s := r.job.Spec.WithDefaults()
	if s.Interval <= 0 {
		s.Interval = DefaultInterval // rand.N panics on it, and a busy loop is no check
	}
	tr := newTracker(s.Rise, s.Fall, r.job.Start)
	since := time.Now()
	next := since.Add(rand.N(s.Interval))
	timer := time.NewTimer(time.Until(next))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		res := m.probe(ctx, s, *r.target.Load())
		if ctx.Err() != nil {
			return // stopped mid-probe: its failure says nothing of the real
		}
		changed := tr.observe(res.OK)
		if changed {
			since = res.At
		}
		m.report(Event{ID: r.job.ID, Result: res, State: tr.state, Changed: changed, Since: since})
		next = nextTick(next, s.Interval, time.Now())
		timer.Reset(time.Until(next))
	}
}

// nextTick is the first tick of the schedule after now, ticks being prev
// plus whole intervals.
func nextTick(prev time.Time, every time.Duration, now time.Time) time.Time {
	if next := prev.Add(every); next.After(now) {
		return next
	}
	return prev.Add((now.Sub(prev)/every + 1) * every)
}
