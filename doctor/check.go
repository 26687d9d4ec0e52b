package doctor

import (
	"context"
	"fmt"

	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/internal/rtnl"
	"github.com/l3dsr/l3dsr/maptable"
	"github.com/l3dsr/l3dsr/realserver"
)

// checker runs the checks of one host and collects their findings.
type checker struct {
	ctx   context.Context
	h     Host
	e     *Expect
	links []rtnl.Link
	addrs []rtnl.Addr
	out   []Finding
	// entries is xt_DADDR's table, read once by tableEntries (nil
	// while the module is not loaded).
	entries     []maptable.Entry
	entriesRead bool
	// bpf is the tc-BPF backend, read once by bpfState.
	bpf     bpfState
	bpfRead bool
	// served names the backend that serves the table (Report.Backend).
	served string
	// path is the module's map path (Report.MapPath); nil: not known.
	path *maptable.PathInfo
}

// tableEntries reads the table once, from the backend that serves it;
// with neither there is no table (the module check says so).
func (c *checker) tableEntries() ([]maptable.Entry, error) {
	if c.entriesRead {
		return c.entries, nil
	}
	c.entriesRead = true
	if !c.h.ModuleLoaded("xt_DADDR") && c.served != "bpf" {
		return nil, nil
	}
	e, err := c.h.Entries()
	if err != nil {
		return nil, fmt.Errorf("listing the table: %w", err)
	}
	c.entries = e
	return e, nil
}

// add records a finding; one with the check, what and fix of an earlier
// one (an interface both roles need loose) is the same finding.
func (c *checker) add(l Level, check, what, why, fix string) {
	for _, f := range c.out {
		if f.Check == check && f.What == what && f.Fix == fix {
			return
		}
	}
	c.out = append(c.out, Finding{Level: l, Check: check, What: what, Why: why, Fix: fix})
}

// Check reads h and reports what breaks DSR there. The roles come from e's
// sections; with no file, from the running state: IPVS services by address
// make a director, VIPs that 'realserver up' set up or DADDR rules a real
// server. An error means a check could not read the host.
func Check(ctx context.Context, h Host, e *Expect) (Report, error) {
	c := &checker{ctx: ctx, h: h, e: e}
	rep := Report{Source: "running state", Roles: []string{}}
	if e.file != "" {
		rep.Source = e.file
	}
	var err error
	if c.links, err = h.Links(); err != nil {
		return Report{}, err
	}
	if c.addrs, err = h.Addrs(); err != nil {
		return Report{}, err
	}
	if e.file == "" || e.rs {
		rs, err := h.RealServer(ctx)
		if err != nil {
			return Report{}, fmt.Errorf("reading the real server's VIPs: %w", err)
		}
		rules, err := h.Rules(ctx)
		if err != nil {
			return Report{}, err
		}
		vips := e.vips
		if e.file == "" {
			vips = unitsOf(rs)
		}
		if e.rs || len(vips) > 0 || len(rules) > 0 {
			rep.Roles = append(rep.Roles, "real server")
			if err := c.realServer(vips, rs, rules); err != nil {
				return Report{}, err
			}
		}
	}
	if e.file == "" || e.dir {
		st, loaded, err := h.Director()
		if err != nil {
			return Report{}, fmt.Errorf("reading the director's services: %w", err)
		}
		svcs := e.services
		if e.file == "" {
			svcs = servicesOf(st)
		}
		if e.dir || len(svcs) > 0 {
			rep.Roles = append(rep.Roles, "director")
			if err := c.director(st, loaded, svcs); err != nil {
				return Report{}, err
			}
		}
	}
	rep.Findings, rep.Backend = c.out, c.served
	if rep.Findings == nil {
		rep.Findings = []Finding{}
	}
	return rep, nil
}

// unitsOf are the VIPs 'realserver up' set up, one Config per code.
func unitsOf(rep realserver.Report) []realserver.Config {
	var out []realserver.Config
	for _, v := range rep.VIPs {
		if len(v.DSCPs) == 0 {
			out = append(out, v.Config)
			continue
		}
		for _, d := range v.DSCPs {
			c := v.Config
			c.DSCP = &d
			out = append(out, c)
		}
	}
	return out
}

// servicesOf are the running services by address; without the file, which
// of them have health checks is not known.
func servicesOf(st director.Status) []service {
	var out []service
	for _, s := range st.Services {
		svc := service{key: s.Key, mode: s.Mode}
		for _, r := range s.Reals {
			svc.reals = append(svc.reals, r.Addr)
		}
		out = append(out, svc)
	}
	return out
}
