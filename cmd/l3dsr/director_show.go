package main

import (
	"fmt"

	"github.com/l3dsr/l3dsr/agent"
	"github.com/l3dsr/l3dsr/director"
	"github.com/spf13/cobra"
)

func newDirShowCmd(sys *system) *cobra.Command {
	return outputCmd(&cobra.Command{
		Use:   "show [-o table|json]",
		Short: "Show services, real servers, DSCP codes, connections and 64-bit counters",
		Long: `Show lists what runs, read back from the kernel: each IPVS service with its mode
(dscp, ipip, dr, nat; mixed or none too for services l3dsr did not make, which
are marked "unmanaged"), DSCP code, scheduler and persistence, and each real server with its
forwarding method, weight, connections and 64-bit counters (like 'ipvsadm -Ln --stats'
plus the L3 DSR columns). What is wrong with l3dsr's services is listed after it,
with the fix; then the exit status is 1. Services of others are never a problem.`,
	}, func(cmd *cobra.Command, output string) error {
		return sys.withDirector(func(d directorAPI) error {
			st, err := d.Show()
			if err != nil {
				return hostError(fmt.Errorf("reading the director's services: %w", err))
			}
			// The agent's record, when one runs: its health checks' view.
			if h, err := agent.ReadHealth(sys.agentState); err == nil {
				agent.Annotate(&st, h)
			}
			if err := director.WriteStatus(cmd.OutOrStdout(), st, output); err != nil {
				return err
			}
			return director.WriteProblems(cmd.ErrOrStderr(), st)
		})
	})
}
