package main

import (
	"context"
	"errors"
	"io"

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
    up and the file no longer has are taken down. A VIP's codes are added and
    removed one at a time ('realserver up --dscp', 'down --dscp'), the new ones
    first, so it stays up. Nothing else is touched.
  director section: l3dsr owns every IPVS service by address in this network
    namespace; services and reals are added, edited and deleted to match the
    file, and services not in the file are deleted. Firewall-mark services are
    never touched. A file without a director section leaves IPVS alone.
    A real drained with 'director real drain' stays at weight 0 until
    'undrain', whatever the file says.

A file with any error (a bad value, a duplicate, an unknown key) changes
nothing and exits 2, naming the file and line. If a change fails half-way, the
changes made before it are undone, last first, and the error says what, if
anything, was left in place (exit 1). --dry-run prints the plan and changes
nothing.`,
		Example: `  l3dsr apply
  l3dsr apply -f ./l3dsr.conf --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := config.LoadGiven(file)
			if errors.Is(err, config.ErrGiven) {
				return &usageError{err}
			} else if err != nil {
				return err
			}
			return runApply(cmd.Context(), sys, cmd.OutOrStdout(), cmd.ErrOrStderr(), f, dryRun)
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", config.DefaultPath, "the config file")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan, change nothing")
	return cmd
}

// configHost is the running state as config reads it.
func (s *system) configHost() config.Host {
	return config.Host{
		OpenRealServer: func() (config.RealServerHost, error) {
			m, err := s.openRealServer()
			if err != nil {
				return nil, err
			}
			return m, nil
		},
		OpenDirector: func() (config.DirectorHost, func() error, error) { return s.openDirector() },
		Pieces:       s.realServerPieces,
		IPVSLoaded:   s.ipvsLoaded,
		Drained:      s.drained,
	}
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
	p, closeFn, err := config.PlanHost(ctx, sys.configHost(), f, config.PlanOptions{})
	if err != nil {
		return hostError(err)
	}
	defer closeFn()
	if dryRun || len(p.Steps) == 0 {
		config.WritePlan(stdout, p)
		return nil
	}
	out, err := p.Apply()
	config.WriteOutcome(stdout, stderr, out)
	return err
}
