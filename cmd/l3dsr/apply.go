package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/l3dsr/l3dsr/config"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/realserver"
	"github.com/spf13/cobra"
)

func newApplyCmd(sys *system) *cobra.Command {
	var file string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "apply [-f FILE] [--dry-run]",
		Short: "Bring this host to the state of the config file, changing only the differences",
		Long: `apply reads the config file (default ` + config.DefaultPath + `, see
docs/config.md), compares it with the running state and makes only the
changes needed, like 'wg syncconf': running it twice changes nothing the
second time ("no change").

  realserver section: VIPs missing are set up ('realserver up'), VIPs set up
    differently are taken down and set up again, VIPs that 'realserver up' set
    up and the file no longer has are taken down. Nothing else is touched.
  director section: l3dsr owns every IPVS service by address in this network
    namespace; services and reals are added, edited and deleted to match the
    file, and services not in the file are deleted. Firewall-mark services are
    never touched. A file without a director section leaves IPVS alone.

A file with any error (a bad value, a duplicate, an unknown key) changes
nothing and exits 2, naming the file and line. If a change fails half-way, the
changes made before it are undone, last first, and the error says what, if
anything, was left in place (exit 1). --dry-run prints the plan and changes
nothing.`,
		Example: `  l3dsr apply
  l3dsr apply -f ./l3dsr.conf --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := loadConfig(file)
			if err != nil {
				return err
			}
			return runApply(cmd.Context(), sys, cmd.OutOrStdout(), cmd.ErrOrStderr(), f, dryRun)
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", config.DefaultPath, "the config file")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan, change nothing")
	return cmd
}

// loadConfig reads the file; a file that is missing or wrong is the
// caller's input to fix (exit 2), and nothing has been touched yet.
func loadConfig(file string) (*config.File, error) {
	f, err := config.Load(file)
	var es config.Errors
	switch {
	case errors.As(err, &es):
		return nil, usageErrorf("%s has errors, nothing was changed:\n%v", file, es)
	case errors.Is(err, fs.ErrNotExist):
		return nil, usageErrorf("config file %s does not exist: write it (see docs/config.md) or give another with -f", file)
	case err != nil:
		return nil, err
	}
	return f, nil
}

// plan reads the running state of the sections the file has and lists the
// changes; the func it returns releases what it opened. On an error
// everything opened is released already, and no plan is returned: a plan
// made without the running state would be wrong.
func plan(ctx context.Context, sys *system, f *config.File) (p config.Plan, _ func(), err error) {
	var closers []func()
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	defer func() {
		if err != nil {
			closeAll()
			p, err = config.Plan{}, hostError(err)
		}
	}()
	if rs := f.RealServer; rs != nil {
		m, err := sys.openRealServer()
		if err != nil {
			return p, nil, fmt.Errorf("real server: %w", err)
		}
		closers = append(closers, func() { m.Close() })
		rep, err := m.Show(ctx, rs.IPTables)
		if err != nil {
			return p, nil, fmt.Errorf("reading the real server's VIPs: %w", err)
		}
		if err := sys.realServerPieces(ctx, rs.IPTables, rs.Configs(), true); err != nil {
			return p, nil, err
		}
		p.Steps = append(p.Steps, config.PlanRealServer(ctx, rs, rep.VIPs, m)...)
	}
	if d := f.Director; d != nil {
		api, dclose, err := sys.openDirector()
		if err != nil {
			return p, nil, fmt.Errorf("director: %w", err)
		}
		closers = append(closers, func() { dclose() })
		st, err := api.Show()
		if err != nil {
			return p, nil, fmt.Errorf("reading the director's services: %w", err)
		}
		p.Steps = append(p.Steps, config.PlanDirector(d, st.Services, api)...)
	}
	return p, closeAll, nil
}

// realServerPieces checks the host pieces that the dscp-mode VIPs of vips
// need (realserver.CheckPieces): the table, and with rules the iptables
// binary of each family.
func (rs *ruleSystem) realServerPieces(ctx context.Context, v xtrule.Variant, vips []realserver.Config, rules bool) error {
	var finder func() realserver.RuleFinder
	if rules {
		finder = func() realserver.RuleFinder { return rs.newRules(v) }
	}
	return hostError(realserver.CheckPieces(ctx, vips, rs.dialTable, finder))
}

func runApply(ctx context.Context, sys *system, stdout, stderr io.Writer, f *config.File, dryRun bool) error {
	p, closeFn, err := plan(ctx, sys, f)
	if err != nil {
		return err
	}
	defer closeFn()
	if len(p.Steps) == 0 {
		fmt.Fprintln(stdout, "no change")
		return nil
	}
	if dryRun {
		fmt.Fprintf(stdout, "plan (dry run, nothing changed): %d change(s)\n", len(p.Steps))
		for _, s := range p.Steps {
			fmt.Fprintf(stdout, "  %s\n", s.What)
		}
		return nil
	}
	out, err := p.Apply()
	for _, w := range out.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	for _, d := range out.Done {
		fmt.Fprintf(stdout, "%s\n", d.What)
		for _, c := range d.Changes {
			fmt.Fprintf(stdout, "  + %s\n", c)
		}
	}
	return err
}
