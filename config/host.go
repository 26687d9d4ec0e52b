package config

import (
	"context"
	"fmt"
	"io"

	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/maptable"
	"github.com/l3dsr/l3dsr/realserver"
)

// RealServerHost is what planning and saving use of a real server's
// manager (*realserver.Manager).
type RealServerHost interface {
	realServerAPI
	Show(ctx context.Context, v xtrule.Variant) (realserver.Report, error)
	Close() error
}

// DirectorHost is what planning and saving use of a director
// (*director.Director).
type DirectorHost interface {
	directorAPI
	Show() (director.Status, error)
}

// batcher is a director that takes a plan's changes as one batch
// (*director.Director): one read of IPVS (the plan's) and one nftables
// transaction for the whole plan, where one change at a time would read
// everything back each time. A fake without it is driven one change at a
// time.
type batcher interface {
	Begin() *director.Batch
}

// rsBatcher is a real server that takes a plan's changes as one batch
// (*realserver.Manager): one read of the running state, one replace of the
// table and one write of the state file for the whole plan, where each
// change on its own would read and write them all. A fake without it is
// driven one change at a time.
type rsBatcher interface {
	Begin() (*realserver.Batch, error)
}

// Host opens the running state that PlanHost and Running read: the CLI
// gives the running host's, tests give fakes.
type Host struct {
	OpenRealServer func() (RealServerHost, error)
	OpenDirector   func() (DirectorHost, func() error, error)
	// Pieces checks the host pieces the dscp-mode VIPs of vips need
	// (realserver.CheckPieces): the table, and with rules the iptables
	// binary of each family.
	Pieces func(ctx context.Context, v xtrule.Variant, vips []realserver.Config, rules bool) error
	// IPVSLoaded tells whether IPVS can have services at all: Running
	// does not load ip_vs (as opening the director would) on a host that
	// is no director.
	IPVSLoaded func() bool
	// Drained reads and holds the reals 'director real drain' drained
	// (director.HoldDrained), which a plan holds at weight 0, until
	// release; nil: none.
	Drained func() (_ director.Drained, release func(), _ error)
}

// PlanHost reads the running state of the sections f has and lists the
// changes, with the director's weights as o and the drained reals say; the
// func it returns releases what it opened and held (call it after Apply:
// no drain changes the plan's drained reals meanwhile). On an error everything opened
// is released already, and no plan is returned: a plan made without the
// running state would be wrong.
func PlanHost(ctx context.Context, h Host, f *File, o PlanOptions) (p Plan, _ func(), err error) {
	var closers []func()
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	defer func() {
		if err != nil {
			closeAll()
			p = Plan{}
		}
	}()
	if rs := f.realServer; rs != nil {
		m, err := h.OpenRealServer()
		if err != nil {
			return p, nil, fmt.Errorf("real server: %w", err)
		}
		closers = append(closers, func() { m.Close() })
		var api realServerAPI = m
		var commit func() error
		show := m.Show
		if b, ok := m.(rsBatcher); ok {
			batch, err := b.Begin()
			if err != nil {
				return p, nil, fmt.Errorf("real server: %w", err)
			}
			closers = append(closers, func() { batch.Close() })
			api, commit, show = batch, batch.Commit, batch.Show
		}
		rep, err := show(ctx, rs.iptables)
		if err != nil {
			return p, nil, fmt.Errorf("reading the real server's VIPs: %w", err)
		}
		if err := checkHandRules(rs, rep); err != nil {
			return p, nil, fmt.Errorf("real server: nothing was changed: %w", err)
		}
		if err := h.Pieces(ctx, rs.iptables, rs.Configs(), true); err != nil {
			return p, nil, err
		}
		steps := append(planMapPath(ctx, rs, rep.MapPath, api), planRealServer(ctx, rs, rep.VIPs, api)...)
		steps = append(steps, planIngress(ctx, rs, rep.Ingress, api)...)
		p.Steps = append(p.Steps, committed(steps, commit)...)
	}
	if d := f.director; d != nil {
		api, dclose, err := h.OpenDirector()
		if err != nil {
			return p, nil, fmt.Errorf("director: %w", err)
		}
		closers = append(closers, func() { dclose() })
		// After the open, which says when this needs root.
		ws := weights{PlanOptions: o}
		if h.Drained != nil {
			set, release, err := h.Drained()
			if err != nil {
				return p, nil, fmt.Errorf("director: %w", err)
			}
			closers = append(closers, release)
			ws.drained = set.Weight
		}
		var changer directorAPI = api
		var commit func() error
		show := api.Show
		if b, ok := api.(batcher); ok {
			batch := b.Begin()
			changer, commit, show = batch, batch.Commit, batch.Show
		}
		st, err := show()
		if err != nil {
			return p, nil, fmt.Errorf("reading the director's services: %w", err)
		}
		steps := append(planOrder(d, st, changer), planWeights(d, st.Services, changer, ws)...)
		p.Steps = append(p.Steps, committed(steps, commit)...)
	}
	return p, closeAll, nil
}

// Running reads what runs, as the file that would make it: the VIPs
// 'realserver up' set up and, where IPVS is loaded, the director's
// services.
func Running(ctx context.Context, h Host) (*File, error) {
	f, _, err := running(ctx, h)
	return f, err
}

// running is Running, with the real server's report it read.
func running(ctx context.Context, h Host) (*File, realserver.Report, error) {
	m, err := h.OpenRealServer()
	if err != nil {
		return nil, realserver.Report{}, err
	}
	defer m.Close()
	rep, err := m.Show(ctx, xtrule.Default)
	if err != nil {
		return nil, rep, fmt.Errorf("reading the real server's VIPs: %w", err)
	}
	if err := h.Pieces(ctx, xtrule.Default, rep.Configs(), false); err != nil {
		return nil, rep, err
	}
	var st director.Status
	if h.IPVSLoaded() {
		d, dclose, err := h.OpenDirector()
		if err != nil {
			return nil, rep, err
		}
		defer dclose()
		if st, err = d.Show(); err != nil {
			return nil, rep, fmt.Errorf("reading the director's services: %w", err)
		}
	}
	f := fromRunning(rep.VIPs, st.Services)
	if f.realServer != nil && len(rep.Ingress) > 0 {
		f.realServer.ingress = rep.Ingress
	}
	if f.realServer != nil && rep.Backend == dsrtypes.BackendBPF {
		f.realServer.backend = rep.Backend
	}
	if f.realServer != nil && rep.MapPath != nil && rep.MapPath.Mode == maptable.ModeDirect {
		f.realServer.mapPath = maptable.ModeDirect
	}
	if err := checkRebuilds(f, st.Services); err != nil {
		return nil, rep, err
	}
	return f, rep, nil
}

// WritePlan writes what a dry run shows: "no change", or the steps.
func WritePlan(w io.Writer, p Plan) {
	if len(p.Steps) == 0 {
		fmt.Fprintln(w, "no change")
		return
	}
	fmt.Fprintf(w, "plan (dry run, nothing changed): %d change(s)\n", len(p.Steps))
	for _, s := range p.Steps {
		fmt.Fprintf(w, "  %s\n", s.What)
	}
}

// WriteOutcome writes what Apply did: each step and its changes to w, the
// warnings to warn.
func WriteOutcome(w, warn io.Writer, out Outcome) {
	for _, s := range out.Warnings {
		fmt.Fprintf(warn, "warning: %s\n", s)
	}
	for _, d := range out.Done {
		fmt.Fprintf(w, "%s\n", d.What)
		for _, c := range d.Changes {
			fmt.Fprintf(w, "  + %s\n", c)
		}
	}
}
