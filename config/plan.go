package config

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/undo"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/realserver"
)

// directorAPI is what apply uses of *director.Director.
type directorAPI = director.Changer

// realServerAPI is what apply uses of *realserver.Manager.
type realServerAPI interface {
	Up(ctx context.Context, c realserver.Config, v xtrule.Variant) (realserver.Applied, error)
	Down(ctx context.Context, vip netip.Addr) (realserver.Applied, error)
}

// Step is one change of a plan, with the way to take it back.
type Step struct {
	// What says what the step changes, for the plan and the report.
	What string
	do   func() (changes, warnings []string, err error)
	// undo is nil for a step that cannot be taken back (a repair).
	undo func() error
}

// Plan is the list of changes that brings the running state to a file's.
// An empty plan means the running state is the file's.
type Plan struct {
	Steps []Step
}

// Done is a step carried out, with what the packages said they changed.
type Done struct {
	What    string
	Changes []string
}

// Outcome is what Apply did.
type Outcome struct {
	Done     []Done
	Warnings []string
}

// Apply carries out the steps in order. If one fails, the steps done before
// it are undone, last first, and the error says which step failed and what,
// if anything, could not be undone.
func (p Plan) Apply() (Outcome, error) {
	var out Outcome
	var done undo.Stack
	for _, s := range p.Steps {
		changes, warns, err := s.do()
		out.Warnings = append(out.Warnings, warns...)
		if err != nil {
			return out, fmt.Errorf("%s: %w; %s", s.What, err, rollback(&done))
		}
		out.Done = append(out.Done, Done{s.What, changes})
		done.Push(s.What, s.undo)
	}
	return out, nil
}

// rollback undoes done, last first, and says how that went.
func rollback(done *undo.Stack) string {
	n := done.Len()
	if n == 0 {
		return "nothing had been changed before it"
	}
	var left *undo.LeftError
	if !errors.As(done.Rollback(), &left) {
		return fmt.Sprintf("the %d change(s) made before it were undone", n)
	}
	return fmt.Sprintf("undoing the %d change(s) made before it left these in place: %s; run apply again once the cause is fixed",
		n, strings.Join(left.Left, "; "))
}

func fromResult(r director.Result, err error) ([]string, []string, error) {
	return r.Changes, r.Warnings, err
}

func undoResult(_ director.Result, err error) error { return err }

// PlanDirector lists the steps from the running services cur to want:
// services and reals not in want go first (so that their DSCP codes are free
// for what comes), then edits, then additions. Every IPVS service by address
// in cur is the director's to remove; Show leaves firewall-mark services out,
// so they are never touched.
func PlanDirector(want *Director, cur []director.Service, api directorAPI) []Step {
	curBy := index(cur, func(s director.Service) (director.Key, director.Service) { return s.Key, s })
	wantBy := index(want.Services, func(s Service) (director.Key, director.Service) { return s.Service.Key, s.Service })
	var delReals, delSvcs, editSvcs, addSvcs, addReals, editReals []Step

	addWhole := func(s director.Service) {
		bare := s
		bare.Reals = nil
		addSvcs = append(addSvcs, Step{
			What: "add service " + describeService(s),
			do:   func() ([]string, []string, error) { return fromResult(api.AddService(bare)) },
			undo: func() error { return undoResult(api.DelService(s.Key)) },
		})
		for _, r := range s.Reals {
			addReals = append(addReals, addRealStep(api, s.Key, r))
		}
	}
	for _, c := range cur {
		w, keep := wantBy[c.Key]
		if !keep || w.Mode != c.Mode {
			delSvcs = append(delSvcs, delServiceStep(api, c))
			if keep {
				addWhole(w)
			}
			continue
		}
		if e, what := serviceEdit(c, w); what != "" {
			back := director.ServiceEdit{Scheduler: &c.Scheduler, Persistent: &c.Persistent}
			if c.Mode == dsrtypes.ModeDSCP {
				back.DSCP = &c.DSCP
			}
			editSvcs = append(editSvcs, Step{
				What: fmt.Sprintf("edit service %s: %s", c.Key, what),
				do:   func() ([]string, []string, error) { return fromResult(api.EditService(c.Key, e)) },
				undo: func() error { return undoResult(api.EditService(c.Key, back)) },
			})
		}
		curReals := map[netip.Addr]director.Real{}
		for _, r := range c.Reals {
			curReals[r.Addr] = r
		}
		wantReals := map[netip.Addr]bool{}
		for _, r := range w.Reals {
			wantReals[r.Addr] = true
			old, ok := curReals[r.Addr]
			if !ok {
				addReals = append(addReals, addRealStep(api, c.Key, r))
				continue
			}
			if e, what := realEdit(old, r); what != "" {
				back := director.RealEdit{Weight: &old.Weight, UpperThreshold: &old.UpperThreshold, LowerThreshold: &old.LowerThreshold}
				k, a := c.Key, r.Addr
				editReals = append(editReals, Step{
					What: fmt.Sprintf("edit real %s of service %s: %s", a, k, what),
					do:   func() ([]string, []string, error) { return fromResult(api.EditReal(k, a, e)) },
					undo: func() error { return undoResult(api.EditReal(k, a, back)) },
				})
			}
		}
		for _, r := range c.Reals {
			if !wantReals[r.Addr] {
				k, old := c.Key, r
				delReals = append(delReals, Step{
					What: fmt.Sprintf("delete real %s from service %s", old.Addr, k),
					do:   func() ([]string, []string, error) { return fromResult(api.DelReal(k, old.Addr)) },
					undo: func() error { return undoResult(api.AddReal(k, bareReal(old))) },
				})
			}
		}
	}
	for _, s := range want.Services {
		if _, ok := curBy[s.Service.Key]; !ok {
			addWhole(s.Service)
		}
	}
	var steps []Step
	for _, l := range [][]Step{delReals, delSvcs, editSvcs, addSvcs, addReals, editReals} {
		steps = append(steps, l...)
	}
	return steps
}

// bareReal is a real's settings without what Show reads back.
func bareReal(r director.Real) director.Real {
	return director.Real{Addr: r.Addr, Weight: r.Weight, UpperThreshold: r.UpperThreshold, LowerThreshold: r.LowerThreshold}
}

func addRealStep(api directorAPI, k director.Key, r director.Real) Step {
	r = bareReal(r)
	return Step{
		What: fmt.Sprintf("add real %s to service %s (weight %d)", r.Addr, k, r.Weight),
		do:   func() ([]string, []string, error) { return fromResult(api.AddReal(k, r)) },
		undo: func() error { return undoResult(api.DelReal(k, r.Addr)) },
	}
}

func delServiceStep(api directorAPI, c director.Service) Step {
	return Step{
		What: "delete service " + describeService(c),
		do:   func() ([]string, []string, error) { return fromResult(api.DelService(c.Key)) },
		undo: func() error {
			bare := c
			bare.Reals = nil
			bare.Stats = director.Service{}.Stats
			if _, err := api.AddService(bare); err != nil {
				return err
			}
			for _, r := range c.Reals {
				if _, err := api.AddReal(c.Key, bareReal(r)); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

func describeService(s director.Service) string {
	d := fmt.Sprintf("%s (%s", s.Key, s.Mode)
	if s.Mode == dsrtypes.ModeDSCP {
		d += fmt.Sprintf(" %d", s.DSCP)
	}
	d += ", " + s.Scheduler
	if s.Persistent != 0 {
		d += fmt.Sprintf(", persistent %d", s.Persistent)
	}
	return d + ")"
}

func serviceEdit(c, w director.Service) (director.ServiceEdit, string) {
	var e director.ServiceEdit
	var what []string
	if c.Mode == dsrtypes.ModeDSCP {
		edit(&what, &e.DSCP, "dscp", c.DSCP, &w.DSCP)
	}
	edit(&what, &e.Scheduler, "scheduler", c.Scheduler, &w.Scheduler)
	edit(&what, &e.Persistent, "persistent", c.Persistent, &w.Persistent)
	return e, strings.Join(what, ", ")
}

func realEdit(c, w director.Real) (director.RealEdit, string) {
	var e director.RealEdit
	var what []string
	edit(&what, &e.Weight, "weight", c.Weight, &w.Weight)
	edit(&what, &e.UpperThreshold, "upper_threshold", c.UpperThreshold, &w.UpperThreshold)
	edit(&what, &e.LowerThreshold, "lower_threshold", c.LowerThreshold, &w.LowerThreshold)
	return e, strings.Join(what, ", ")
}

// edit sets one field of an edit (nil stays) when the running value cur is
// not the wanted one, and says so in what as "name cur -> want".
func edit[T comparable](what *[]string, field **T, name string, cur T, want *T) {
	if cur != *want {
		*field = want
		*what = append(*what, fmt.Sprintf("%s %v -> %v", name, cur, *want))
	}
}

// index maps each of xs by the key kv gives it (a later one wins).
func index[K comparable, T, V any](xs []T, kv func(T) (K, V)) map[K]V {
	m := make(map[K]V, len(xs))
	for _, x := range xs {
		k, v := kv(x)
		m[k] = v
	}
	return m
}

// PlanRealServer lists the steps from the VIPs realserver.Manager.Show
// reports (only VIPs that Up set up, so nobody else's VIP is ever taken
// down) to want: VIPs to take down first (their DSCP keys become free), then
// VIPs to set up. A VIP set up as in the file but not running as it should
// (Show found a problem) is set up again, which repairs it.
func PlanRealServer(ctx context.Context, want *RealServer, cur []realserver.VIPStatus, api realServerAPI) []Step {
	curBy := index(cur, func(c realserver.VIPStatus) (netip.Addr, realserver.VIPStatus) { return c.VIP, c })
	wantBy := index(want.VIPs, func(v VIP) (netip.Addr, realserver.Config) { return v.Config.VIP, v.Config })
	v := want.IPTables
	up := func(c realserver.Config) Step {
		return Step{
			What: "set up " + c.String(),
			do:   func() ([]string, []string, error) { return fromApplied(api.Up(ctx, c, v)) },
			undo: func() error { _, err := api.Down(ctx, c.VIP); return err },
		}
	}
	down := func(c realserver.Config) Step {
		return Step{
			What: "take down " + c.String(),
			do:   func() ([]string, []string, error) { return fromApplied(api.Down(ctx, c.VIP)) },
			undo: func() error { _, err := api.Up(ctx, c, v); return err },
		}
	}
	var downs, ups []Step
	for _, c := range cur {
		w, keep := wantBy[c.VIP]
		switch {
		case !keep || !sameVIP(c.Config, w):
			downs = append(downs, down(c.Config))
			if keep {
				ups = append(ups, up(w))
			}
		case !c.OK:
			ups = append(ups, Step{
				What: "repair " + w.String() + " (not running as set up)",
				do:   func() ([]string, []string, error) { return fromApplied(api.Up(ctx, w, v)) },
			})
		}
	}
	for _, w := range want.VIPs {
		if _, ok := curBy[w.Config.VIP]; !ok {
			ups = append(ups, up(w.Config))
		}
	}
	return append(downs, ups...)
}

// sameVIP reports whether the running VIP c is set up as w asks. An MSS left
// out of the file is derived by Up, so any running MSS matches it.
func sameVIP(c, w realserver.Config) bool {
	if c.VIP != w.VIP || c.Mode != w.Mode || c.Local != w.Local {
		return false
	}
	if (c.DSCP == nil) != (w.DSCP == nil) || (c.DSCP != nil && *c.DSCP != *w.DSCP) {
		return false
	}
	return w.MSS == 0 || w.MSS == c.MSS
}

func fromApplied(a realserver.Applied, err error) ([]string, []string, error) {
	return a.Changes, a.Notes, err
}
