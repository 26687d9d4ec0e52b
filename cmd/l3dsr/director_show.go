package main

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"text/tabwriter"

	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/spf13/cobra"
)

func newDirShowCmd(sys *system) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "show [-o table|json]",
		Short: "Show services, real servers, DSCP codes, connections and 64-bit counters",
		Long: `Show lists what runs, read back from the kernel: each IPVS service with its mode,
DSCP code, scheduler and persistence, and each real server with its forwarding
method, weight, connections and 64-bit packet and byte counters (like
'ipvsadm -Ln --stats' plus the L3 DSR columns). Anything set up wrongly is
listed after it, with the fix; then the exit status is 1.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			return sys.withDirector(func(d directorAPI) error {
				st, err := d.Show()
				if err != nil {
					return hostError(fmt.Errorf("reading the director's services: %w", err))
				}
				if output == "json" {
					if err := writeJSON(cmd.OutOrStdout(), st); err != nil {
						return err
					}
				} else {
					printDirector(cmd.OutOrStdout(), st)
				}
				for _, p := range st.Problems {
					fmt.Fprintf(cmd.ErrOrStderr(), "problem: %s\n", p)
				}
				if len(st.Problems) > 0 {
					return errors.New("the director is not set up as it should be (problems above)")
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

func printDirector(w io.Writer, st director.Status) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "Prot\tVIP:Port\tMode\tDSCP\tScheduler\tPersist\tConns\tInPkts\tOutPkts\tInBytes\tOutBytes\t")
	fmt.Fprintln(tw, "  -> \tRealServer:Port\tForward\tWeight\tActiveConn\tInActConn\tConns\tInPkts\tOutPkts\tInBytes\tOutBytes\t")
	for _, s := range st.Services {
		dscp := "-"
		if s.Mode == dsrtypes.ModeDSCP {
			dscp = fmt.Sprint(s.DSCP)
		}
		persist := "-"
		if s.Persistent > 0 {
			persist = fmt.Sprint(s.Persistent)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t\n", strings.ToUpper(dsrtypes.Proto(s.Proto).String()),
			netip.AddrPortFrom(s.VIP, s.Port), s.Mode, dscp, s.Scheduler, persist,
			s.Stats.Connections, s.Stats.PacketsIn, s.Stats.PacketsOut, s.Stats.BytesIn, s.Stats.BytesOut)
		for _, r := range s.Reals {
			fmt.Fprintf(tw, "  -> \t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n",
				netip.AddrPortFrom(r.Addr, s.Port), r.Forward, r.Weight, r.ActiveConns, r.InactiveConns,
				r.Stats.Connections, r.Stats.PacketsIn, r.Stats.PacketsOut, r.Stats.BytesIn, r.Stats.BytesOut)
		}
	}
	tw.Flush()
}
