package main

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/l3dsr/l3dsr/director"
	"github.com/spf13/cobra"
)

// drainAPI is what drain and undrain use of *director.Director.
type drainAPI interface {
	Drain(k director.Key, a netip.Addr) (director.Result, error)
	Undrain(k director.Key, a netip.Addr, weight *int32) (director.Result, error)
	director.ConnReader
}

func newDirRealDrainCmd(sys *system) *cobra.Command {
	var rf realFlags
	var wait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "drain --vip VIP:PORT [--proto tcp] --real ADDR [--wait] [--timeout 10m]",
		Short: "Send a real server no new connections (weight 0) and remember its weight for undrain",
		Long: `drain sets the real server's weight to 0: its connections go on, IPVS sends it
no new ones. Its weight is kept in /run/l3dsr/netns-INODE/drained.json; 'apply' and the agent
hold a drained real at 0 whatever the config file says, until 'undrain'.
With --wait it then polls the real's active connections every second and
returns when none is left, or fails (exit 1) after --timeout, naming the
connections left; the real stays drained either way.`,
		Example: `  l3dsr director real drain --vip 10.0.0.1:80 --real 10.1.0.10 --wait --timeout 5m`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, a, err := rf.parse()
			if err == nil && timeout <= 0 {
				err = fmt.Errorf("--timeout %s: give a time to wait of more than 0, e.g. 10m", timeout)
			}
			if err != nil {
				return &usageError{err}
			}
			return sys.withDirector(func(d directorAPI) error {
				out := cmd.OutOrStdout()
				r, err := d.Drain(k, a)
				director.WriteResult(out, cmd.ErrOrStderr(), r, err)
				if err != nil || !wait {
					return err
				}
				ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
				defer cancel()
				return director.WaitDrained(ctx, d, k, a, sys.drainEvery, func(n uint32) {
					fmt.Fprintf(out, "real server %s of %s: %d active connection(s)\n", a, k, n)
				})
			})
		},
	}
	rf.add(cmd, 0)
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until the real server has no active connection")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "with --wait: how long to wait")
	return cmd
}

func newDirRealUndrainCmd(sys *system) *cobra.Command {
	return realCmd(sys, &cobra.Command{
		Use:   "undrain --vip VIP:PORT [--proto tcp] --real ADDR [--weight N]",
		Short: "Give a drained real server the weight it had back (or --weight N), and forget the drain",
	}, 0, []string{"the weight to set instead of the one it had"},
		func(cmd *cobra.Command, rf *realFlags, k director.Key, a netip.Addr) (change, error) {
			var w *int32
			if cmd.Flags().Changed("weight") {
				w = &rf.r.Weight
			}
			return func(d directorAPI) (director.Result, error) { return d.Undrain(k, a, w) }, nil
		})
}
