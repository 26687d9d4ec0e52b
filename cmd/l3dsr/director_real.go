package main

import (
	"net/netip"

	"github.com/l3dsr/l3dsr/director"
	"github.com/spf13/cobra"
)

// realFlags are the flags that name a real server of a service.
type realFlags struct {
	keyFlags
	real string
}

func (f *realFlags) add(cmd *cobra.Command) {
	f.keyFlags.add(cmd)
	cmd.Flags().StringVar(&f.real, "real", "", "the real server's own address (required)")
}

func (f *realFlags) parse() (director.Key, netip.Addr, error) {
	k, err := f.key()
	if err != nil {
		return k, netip.Addr{}, err
	}
	if f.real == "" {
		return k, netip.Addr{}, usageErrorf("--real is required: give the real server's own address, e.g. --real 10.1.0.10")
	}
	a, err := parseAddr("--real", f.real)
	if err != nil {
		return k, a, err
	}
	if a.Is4() != k.VIP.Is4() {
		return k, a, usageErrorf("--real %s and --vip %s are of different address families: give an IPv%d real server for an IPv%d VIP",
			a, k.VIP, ipv(k.VIP), ipv(k.VIP))
	}
	return k, a, nil
}

func ipv(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}

func newDirRealAddCmd() *cobra.Command {
	var rf realFlags
	var weight int32
	var upper, lower uint32
	cmd := &cobra.Command{
		Use:     "add --vip VIP:PORT [--proto tcp] --real ADDR [--weight N] [--u-threshold N] [--l-threshold N]",
		Short:   "Add a real server to a service",
		Example: `  l3dsr director real add --vip 10.0.0.1:80 --proto tcp --real 10.1.0.10 --weight 100`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, a, err := rf.parse()
			if err != nil {
				return err
			}
			if weight < 0 {
				return usageErrorf("--weight %d: use 0 (no new connections) or more", weight)
			}
			return withDirector(func(d directorAPI) error {
				r, err := d.AddReal(k, director.Real{Addr: a, Weight: weight, UpperThreshold: upper, LowerThreshold: lower})
				printResult(cmd.OutOrStdout(), cmd.ErrOrStderr(), r, err)
				return err
			})
		},
	}
	rf.add(cmd)
	cmd.Flags().Int32Var(&weight, "weight", director.DefaultWeight, "scheduling weight (0: no new connections)")
	cmd.Flags().Uint32Var(&upper, "u-threshold", 0, "most connections the real server takes (0: no limit)")
	cmd.Flags().Uint32Var(&lower, "l-threshold", 0, "connections below which an overloaded real server takes new ones again")
	return cmd
}

func newDirRealEditCmd() *cobra.Command {
	var rf realFlags
	var weight int32
	var upper, lower uint32
	cmd := &cobra.Command{
		Use:   "edit --vip VIP:PORT [--proto tcp] --real ADDR [--weight N] [--u-threshold N] [--l-threshold N]",
		Short: "Change a real server's weight or thresholds (weight 0 drains it)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, a, err := rf.parse()
			if err != nil {
				return err
			}
			var e director.RealEdit
			if cmd.Flags().Changed("weight") {
				if weight < 0 {
					return usageErrorf("--weight %d: use 0 (no new connections) or more", weight)
				}
				e.Weight = &weight
			}
			if cmd.Flags().Changed("u-threshold") {
				e.UpperThreshold = &upper
			}
			if cmd.Flags().Changed("l-threshold") {
				e.LowerThreshold = &lower
			}
			if e == (director.RealEdit{}) {
				return usageErrorf("nothing to change: give --weight, --u-threshold or --l-threshold")
			}
			return withDirector(func(d directorAPI) error {
				r, err := d.EditReal(k, a, e)
				printResult(cmd.OutOrStdout(), cmd.ErrOrStderr(), r, err)
				return err
			})
		},
	}
	rf.add(cmd)
	cmd.Flags().Int32Var(&weight, "weight", 0, "new scheduling weight")
	cmd.Flags().Uint32Var(&upper, "u-threshold", 0, "new upper connection threshold")
	cmd.Flags().Uint32Var(&lower, "l-threshold", 0, "new lower connection threshold")
	return cmd
}

func newDirRealDelCmd() *cobra.Command {
	var rf realFlags
	cmd := &cobra.Command{
		Use:   "del --vip VIP:PORT [--proto tcp] --real ADDR",
		Short: "Take a real server out of a service",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, a, err := rf.parse()
			if err != nil {
				return err
			}
			return withDirector(func(d directorAPI) error {
				r, err := d.DelReal(k, a)
				printResult(cmd.OutOrStdout(), cmd.ErrOrStderr(), r, err)
				return err
			})
		},
	}
	rf.add(cmd)
	return cmd
}
