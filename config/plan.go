package config

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/ipvs"
	"github.com/l3dsr/l3dsr/internal/undo"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/maptable"
	"github.com/l3dsr/l3dsr/realserver"
)

// directorAPI is what apply uses of *director.Director.
type directorAPI = director.Changer

// realServerAPI is what apply uses of *realserver.Manager.
type realServerAPI interface {
	Up(ctx context.Context, c realserver.Config, v xtrule.Variant) (realserver.Applied, error)
	Down(ctx context.Context, vip netip.Addr) (realserver.Applied, error)
	DownCode(ctx context.Context, vip netip.Addr, d uint8) (realserver.Applied, error)
	UpIngress(ctx context.Context, c realserver.Config, v xtrule.Variant, ing *realserver.Ingress) (realserver.Applied, error)
	SetMapPath(ctx context.Context, want maptable.Mode, v xtrule.Variant) (realserver.Applied, error)
}

// planMapPath is the step that switches the map path to the file's when
// VIPs on the module run with another one (new VIPs' ups set it anyway:
// their Config carries it).
func planMapPath(ctx context.Context, want *RealServer, cur *maptable.PathInfo, api realServerAPI) []Step {
	if want.mapPath == "" || cur == nil || cur.Mode == want.mapPath {
		return nil
	}
	old, v := cur.Mode, want.iptables
	return []Step{{
		What: fmt.Sprintf("set the map path to %s (it is %s)", want.mapPath, old),
		do:   func() ([]string, []string, error) { return fromApplied(api.SetMapPath(ctx, want.mapPath, v)) },
		undo: func() error { _, err := api.SetMapPath(ctx, old, v); return err },
	}}
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
	seen := map[string]bool{}
	for _, s := range p.Steps {
		changes, warns, err := s.do()
		// Once each: a DSCP's warning comes with every service of the code.
		for _, w := range warns {
			if !seen[w] {
				seen[w] = true
				out.Warnings = append(out.Warnings, w)
			}
		}
		if err != nil {
			return out, fmt.Errorf("%s: %w; %s", s.What, err, rollback(&done))
		}
		out.Done = append(out.Done, Done{s.What, changes})
		done.Push(s.What, s.undo)
	}
	return out, nil
}

// committed makes the last of steps also commit what the steps sent to a
// batch (commit nil: nothing to commit). A commit that fails undoes that
// last step, and Apply then undoes the ones before it, through the batch.
// The first step's undo, the last of a rollback, commits too: a batch may
// have sent marks before its end, which then go back.
func committed(steps []Step, commit func() error) []Step {
	if commit == nil || len(steps) == 0 {
		return steps
	}
	if first := &steps[0]; first.undo != nil {
		undo := first.undo
		first.undo = func() error { return errors.Join(undo(), commit()) }
	}
	last := &steps[len(steps)-1]
	do, undo := last.do, last.undo
	last.do = func() ([]string, []string, error) {
		changes, warns, err := do()
		if err != nil {
			return changes, warns, err
		}
		if err := commit(); err != nil {
			if undo != nil {
				if uerr := undo(); uerr != nil {
					err = errors.Join(err, fmt.Errorf("undoing this step failed too: %w", uerr))
				}
			}
			return nil, warns, err
		}
		return changes, warns, nil
	}
	return steps
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

// planDirector is planWeights with the file's weights.
func planDirector(want *Director, cur []director.Service, api directorAPI) []Step {
	return planWeights(want, cur, api, weights{})
}

// planWeights lists the steps from the running services cur to want:
// services and reals not in want go first (so that their DSCP codes are free
// for what comes), then edits, then additions. Every IPVS service by address
// in cur is the director's to remove; Show leaves firewall-mark services out,
// so they are never touched. ws decides each real's weight.
func planWeights(want *Director, cur []director.Service, api directorAPI, ws weights) []Step {
	curBy := index(cur, func(s director.Service) (director.Key, director.Service) { return s.Key, s })
	wantBy := index(want.Services, func(s Service) (director.Key, director.Service) { return s.Service.Key, s.Service })
	var delReals, delSvcs, editSvcs, addSvcs, addReals, editReals []Step

	// addReal adds real r of service k, at the weight ws gives it.
	addReal := func(k director.Key, r director.Real) {
		w, out, why := ws.of(k, r, nil)
		if !out {
			r.Weight = w
			addReals = append(addReals, addRealStep(api, k, r, why))
		}
	}
	addWhole := func(s director.Service) {
		bare := s
		bare.Reals = nil
		addSvcs = append(addSvcs, Step{
			What: "add service " + describeService(s),
			do:   func() ([]string, []string, error) { return fromResult(api.AddService(bare)) },
			undo: func() error { return undoResult(api.DelService(s.Key)) },
		})
		for _, r := range addOrder(s) {
			addReal(s.Key, r)
		}
	}
	for _, c := range cur {
		w, keep := wantBy[c.Key]
		if !keep || !sameKind(c, w) {
			delSvcs = append(delSvcs, delServiceStep(api, c))
			if keep {
				addWhole(w)
			}
			continue
		}
		if e, what := serviceEdit(c, w); what != "" {
			back := director.ServiceEdit{Scheduler: &c.Scheduler, Persistent: &c.Persistent,
				Netmask: &c.Netmask, SchedFlags: &c.SchedFlags, OnePacket: &c.OnePacket, PE: &c.PE}
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
		for _, r := range addOrder(w) {
			old, ok := curReals[r.Addr]
			if !ok || old.Port != 0 {
				// A real on another port than the service's is
				// another IPVS destination: it goes, and this one comes.
				addReal(c.Key, r)
				continue
			}
			weight, out, why := ws.of(c.Key, r, &old)
			if out {
				continue // not wanted: deleted below
			}
			wantReals[r.Addr] = true
			r.Weight = weight
			if e, what := realEdit(old, r, why); what != "" {
				back := director.RealEdit{Weight: &old.Weight, UpperThreshold: &old.UpperThreshold, LowerThreshold: &old.LowerThreshold,
					Forward: &old.Forward, Tunnel: &old.Tunnel, TunnelPort: &old.TunnelPort, TunnelFlags: &old.TunnelFlags}
				k, a := c.Key, r.Addr
				editReals = append(editReals, Step{
					What: fmt.Sprintf("edit real %s of service %s: %s", a, k, what),
					do:   func() ([]string, []string, error) { return fromResult(api.EditReal(k, a, e)) },
					undo: func() error { return undoResult(api.EditReal(k, a, back)) },
				})
			}
		}
		for _, r := range c.Reals {
			if !wantReals[r.Addr] || r.Port != 0 {
				k, old := c.Key, r
				what := fmt.Sprintf("delete real %s from service %s", old.Addr, k)
				if r.Port != 0 {
					what += fmt.Sprintf(" (it listens on port %d, not the service's %d)", r.Port, k.Port)
				}
				delReals = append(delReals, Step{
					What: what,
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
	return director.Real{Addr: r.Addr, Weight: r.Weight, UpperThreshold: r.UpperThreshold, LowerThreshold: r.LowerThreshold,
		Tunnel: r.Tunnel, TunnelPort: r.TunnelPort, TunnelFlags: r.TunnelFlags}
}

// addRealStep adds real r to service k; why says why its weight is not the
// file's ("" when it is).
func addRealStep(api directorAPI, k director.Key, r director.Real, why string) Step {
	r = bareReal(r)
	if why != "" {
		why = ", " + why
	}
	return Step{
		What: fmt.Sprintf("add real %s to service %s (weight %d%s)", r.Addr, k, r.Weight, why),
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

// sameKind says whether the running service c can become w by edits: the
// same mode, or, for a service l3dsr did not tag (its mode is its reals'),
// any mode but dscp and addr, which the reals' methods alone do not make
// (an edit keeps an untagged service untagged, and an untagged addr
// service reads as nat). Otherwise it is made anew.
func sameKind(c, w director.Service) bool {
	if c.Mode == w.Mode {
		return true
	}
	byReals := func(m dsrtypes.Mode) bool { return m != dsrtypes.ModeDSCP && m != dsrtypes.ModeAddr }
	return !c.Managed && byReals(c.Mode) && byReals(w.Mode)
}

func serviceEdit(c, w director.Service) (director.ServiceEdit, string) {
	var e director.ServiceEdit
	var what []string
	if c.Mode == dsrtypes.ModeDSCP {
		edit(&what, &e.DSCP, "dscp", c.DSCP, &w.DSCP)
	}
	edit(&what, &e.Scheduler, "scheduler", c.Scheduler, &w.Scheduler)
	editAs(&what, &e.SchedFlags, "scheduler_flags", c.SchedFlags, &w.SchedFlags, func(f director.SchedFlags) string {
		return "[" + strings.Join(f.Names(w.Scheduler), ", ") + "]"
	})
	edit(&what, &e.Persistent, "persistent", c.Persistent, &w.Persistent)
	editAs(&what, &e.Netmask, "persistence_netmask", c.Netmask, &w.Netmask, func(m uint32) string { return director.FormatNetmask(w.VIP, m) })
	edit(&what, &e.OnePacket, "ops", c.OnePacket, &w.OnePacket)
	editAs(&what, &e.PE, "persistence engine", c.PE, &w.PE, func(pe string) string { return cmp.Or(pe, "none") })
	return e, strings.Join(what, ", ")
}

// realEdit compares a running real c with the wanted w; why says why w's
// weight is not the file's ("" when it is). A local real is delivered here
// whatever its method (the kernel makes it local), so its method and
// tunnel are not compared.
func realEdit(c, w director.Real, why string) (director.RealEdit, string) {
	var e director.RealEdit
	var what []string
	if edit(&what, &e.Weight, "weight", c.Weight, &w.Weight); e.Weight != nil && why != "" {
		what[len(what)-1] += " (" + why + ")"
	}
	edit(&what, &e.UpperThreshold, "upper_threshold", c.UpperThreshold, &w.UpperThreshold)
	edit(&what, &e.LowerThreshold, "lower_threshold", c.LowerThreshold, &w.LowerThreshold)
	if c.Forward != ipvs.Local {
		edit(&what, &e.Forward, "forwarding", c.Forward, &w.Forward)
		edit(&what, &e.Tunnel, "tunnel", c.Tunnel, &w.Tunnel)
		edit(&what, &e.TunnelPort, "tunnel_port", c.TunnelPort, &w.TunnelPort)
		editAs(&what, &e.TunnelFlags, "tunnel_checksum", c.TunnelFlags, &w.TunnelFlags, func(f uint16) string {
			return cmp.Or(director.TunnelChecksumName(f), "nocsum")
		})
	}
	return e, strings.Join(what, ", ")
}

// edit sets one field of an edit (nil stays) when the running value cur is
// not the wanted one, and says so in what as "name cur -> want".
func edit[T comparable](what *[]string, field **T, name string, cur T, want *T) {
	editAs(what, field, name, cur, want, func(v T) string { return fmt.Sprint(v) })
}

// editAs is edit with the values written by text.
func editAs[T comparable](what *[]string, field **T, name string, cur T, want *T, text func(T) string) {
	if cur != *want {
		*field = want
		*what = append(*what, fmt.Sprintf("%s %s -> %s", name, text(cur), text(*want)))
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
// down) to want. A VIP set up otherwise than the file says (mode, local
// address, MSS), or not in the file, is taken down first (its DSCP keys
// become free); one set up as in the file gets its codes added and taken
// off one at a time, so that it never goes dark: a code is taken off after
// the codes to add are up, unless the VIP keeps another of its codes or
// another VIP's new code needs the key. A VIP set up as in the file but not
// running as it should (Show found a problem) is set up again, which
// repairs it.
func planRealServer(ctx context.Context, want *RealServer, cur []realserver.VIPStatus, api realServerAPI) []Step {
	curBy := index(cur, func(c realserver.VIPStatus) (netip.Addr, realserver.VIPStatus) { return c.VIP, c })
	wantBy := index(want.VIPs, func(v VIP) (netip.Addr, VIP) { return v.Config.VIP, v })
	rp := rsPlan{ctx: ctx, api: api, v: want.iptables}
	type removal struct {
		vip   realserver.VIPStatus
		d     uint8
		keeps bool // the VIP keeps one of its running codes
	}
	var removals []removal
	for _, c := range cur {
		w, keep := wantBy[c.VIP]
		if !keep || !sameVIP(c.Config, w.Config) {
			rp.downs = append(rp.downs, rp.down(c))
			if keep {
				rp.setUp(w)
			}
			continue
		}
		have := runningCodes(c)
		var kept []uint8
		for _, d := range w.codes {
			if slices.Contains(have, d) {
				kept = append(kept, d)
			}
		}
		if !c.OK {
			rp.ups = append(rp.ups, rp.repair(w, kept))
		}
		for _, d := range w.codes {
			if !slices.Contains(have, d) {
				rp.ups = append(rp.ups, rp.addCode(w, d))
				rp.added = append(rp.added, w.withCode(d))
			}
		}
		for _, d := range have {
			if !slices.Contains(w.codes, d) {
				removals = append(removals, removal{c, d, len(kept) > 0})
			}
		}
	}
	for _, w := range want.VIPs {
		if _, ok := curBy[w.Config.VIP]; !ok {
			rp.setUp(w)
		}
	}
	var early, late []Step
	for _, r := range removals {
		s := rp.takeOff(r.vip.Config, r.d)
		if r.keeps || rp.needed(r.vip.Config, r.d) {
			early = append(early, s)
		} else {
			late = append(late, s)
		}
	}
	steps := append(rp.downs, early...)
	steps = append(steps, rp.ups...)
	return append(steps, late...)
}

// rsPlan collects the steps of PlanRealServer.
type rsPlan struct {
	ctx   context.Context
	api   realServerAPI
	v     xtrule.Variant
	downs []Step
	ups   []Step
	// added are the codes the plan adds to VIPs that are up, one Config each.
	added []realserver.Config
}

// setUp sets w up: the VIP with its first code, then each other code.
func (rp *rsPlan) setUp(w VIP) {
	rp.ups = append(rp.ups, rp.up(w.Config))
	for _, d := range w.codes[min(1, len(w.codes)):] {
		rp.ups = append(rp.ups, rp.addCode(w, d))
		rp.added = append(rp.added, w.withCode(d))
	}
}

func (rp *rsPlan) up(c realserver.Config) Step {
	ctx, api, v := rp.ctx, rp.api, rp.v
	return Step{
		What: "set up " + c.String(),
		do:   func() ([]string, []string, error) { return fromApplied(api.Up(ctx, c, v)) },
		undo: func() error { _, err := api.Down(ctx, c.VIP); return err },
	}
}

func (rp *rsPlan) addCode(w VIP, d uint8) Step {
	ctx, api, v, c := rp.ctx, rp.api, rp.v, w.withCode(d)
	return Step{
		What: fmt.Sprintf("add DSCP %d to %s", d, w.Config.Describe(nil)),
		do:   func() ([]string, []string, error) { return fromApplied(api.Up(ctx, c, v)) },
		undo: func() error { _, err := api.DownCode(ctx, c.VIP, d); return err },
	}
}

func (rp *rsPlan) takeOff(c realserver.Config, d uint8) Step {
	ctx, api, v := rp.ctx, rp.api, rp.v
	c.DSCP = &d
	return Step{
		What: fmt.Sprintf("take DSCP %d off %s", d, c.Describe(nil)),
		do:   func() ([]string, []string, error) { return fromApplied(api.DownCode(ctx, c.VIP, d)) },
		undo: func() error { _, err := api.Up(ctx, c, v); return err },
	}
}

// down takes the running VIP c down, every code of it; undone by setting
// each code up again.
func (rp *rsPlan) down(c realserver.VIPStatus) Step {
	ctx, api, v := rp.ctx, rp.api, rp.v
	codes := runningCodes(c)
	return Step{
		What: "take down " + c.Config.Describe(codes),
		do:   func() ([]string, []string, error) { return fromApplied(api.Down(ctx, c.VIP)) },
		undo: func() error {
			if len(codes) == 0 {
				_, err := api.Up(ctx, c.Config, v)
				return err
			}
			for _, d := range codes {
				x := c.Config
				x.DSCP = &d
				if _, err := api.Up(ctx, x, v); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// repair sets w up again with each of its codes that runs (codes), which
// adds back what is missing.
func (rp *rsPlan) repair(w VIP, codes []uint8) Step {
	ctx, api, v := rp.ctx, rp.api, rp.v
	return Step{
		What: "repair " + w.Config.Describe(codes) + " (not running as set up)",
		do: func() ([]string, []string, error) {
			if len(codes) == 0 {
				return fromApplied(api.Up(ctx, w.Config, v))
			}
			var changes, notes []string
			for _, d := range codes {
				ch, n, err := fromApplied(api.Up(ctx, w.withCode(d), v))
				changes, notes = append(changes, ch...), append(notes, n...)
				if err != nil {
					return changes, notes, err
				}
			}
			return changes, notes, nil
		},
	}
}

// needed reports whether a code the plan adds needs the key of c's code d.
func (rp *rsPlan) needed(c realserver.Config, d uint8) bool {
	e := entryOf(withDSCP(c, d))
	return slices.ContainsFunc(rp.added, func(a realserver.Config) bool { return maptable.Clash(entryOf(a), e) })
}

func withDSCP(c realserver.Config, d uint8) realserver.Config {
	c.DSCP = &d
	return c
}

// runningCodes are the codes of a running VIP (its DSCP alone in a report
// made without the list).
func runningCodes(c realserver.VIPStatus) realserver.Codes {
	if len(c.DSCPs) > 0 || c.DSCP == nil {
		return c.DSCPs
	}
	return realserver.Codes{*c.DSCP}
}

// sameVIP reports whether the running VIP c is set up as w asks, its codes
// aside (they are added and taken off one by one). An MSS left out of the
// file is derived by Up, so any running MSS matches it; so does the device
// of a RIP (addr mode), which Up finds.
func sameVIP(c, w realserver.Config) bool {
	if c.VIP != w.VIP || c.Mode != w.Mode || c.Local != w.Local || c.RIP != w.RIP || !sameSet(c.SetDSCP, w.SetDSCP) {
		return false
	}
	if w.Dev != "" && w.Dev != c.Dev {
		return false
	}
	return w.MSS == 0 || w.MSS == c.MSS
}

// sameSet reports whether two optional DSCP resets are the same.
func sameSet(a, b *uint8) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

func fromApplied(a realserver.Applied, err error) ([]string, []string, error) {
	return a.Changes, a.Notes, err
}
