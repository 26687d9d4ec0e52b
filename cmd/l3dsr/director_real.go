package main

import (
	"net/netip"

	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/spf13/cobra"
)

// realFlags are the flags that name a real server of a service, and its
// settings.
type realFlags struct {
	keyFlags
	real dsrtypes.Addr
	r    director.Real
}

func (f *realFlags) add(cmd *cobra.Command, weight int32, help ...string) {
	f.keyFlags.add(cmd)
	fl := cmd.Flags()
	fl.Var(&f.real, "real", "the real server's own address (required)")
	if len(help) > 0 {
		fl.Int32Var(&f.r.Weight, "weight", weight, help[0])
	}
	if len(help) == 3 {
		fl.Uint32Var(&f.r.UpperThreshold, "u-threshold", 0, help[1])
		fl.Uint32Var(&f.r.LowerThreshold, "l-threshold", 0, help[2])
	}
}

func (f *realFlags) parse() (director.Key, netip.Addr, error) {
	k, err := f.key()
	if err != nil {
		return k, netip.Addr{}, err
	}
	return k, f.real.Addr, director.CheckRealArgs(k, f.real.Addr, f.r.Weight)
}

// realCmd makes a command on a real server of a service: the flags of rf
// (with weight and the help of --weight, then of --u-threshold and
// --l-threshold, for those help has), checked before do gives the change.
func realCmd(sys *system, c *cobra.Command, weight int32, help []string, do func(*cobra.Command, *realFlags, director.Key, netip.Addr) (change, error)) *cobra.Command {
	var rf realFlags
	cmd := changeCmd(sys, c, func(cmd *cobra.Command) (change, error) {
		k, a, err := rf.parse()
		if err != nil {
			return nil, err
		}
		return do(cmd, &rf, k, a)
	})
	rf.add(cmd, weight, help...)
	return cmd
}

func newDirRealAddCmd(sys *system) *cobra.Command {
	return realCmd(sys, &cobra.Command{
		Use:     "add --vip VIP:PORT [--proto tcp] --real ADDR [--weight N] [--u-threshold N] [--l-threshold N]",
		Short:   "Add a real server to a service",
		Example: `  l3dsr director real add --vip 10.0.0.1:80 --proto tcp --real 10.1.0.10 --weight 100`,
	}, director.DefaultWeight, []string{"scheduling weight (0: no new connections)",
		"most connections the real server takes (0: no limit)",
		"connections below which an overloaded real server takes new ones again"},
		func(_ *cobra.Command, rf *realFlags, k director.Key, a netip.Addr) (change, error) {
			rf.r.Addr = a
			return func(d directorAPI) (director.Result, error) { return d.AddReal(k, rf.r) }, nil
		})
}

func newDirRealEditCmd(sys *system) *cobra.Command {
	return realCmd(sys, &cobra.Command{
		Use:   "edit --vip VIP:PORT [--proto tcp] --real ADDR [--weight N] [--u-threshold N] [--l-threshold N]",
		Short: "Change a real server's weight or thresholds (weight 0 drains it)",
	}, 0, []string{"new scheduling weight", "new upper connection threshold", "new lower connection threshold"},
		func(cmd *cobra.Command, rf *realFlags, k director.Key, a netip.Addr) (change, error) {
			var e director.RealEdit
			given(cmd, map[string]func(){
				"weight":      func() { e.Weight = &rf.r.Weight },
				"u-threshold": func() { e.UpperThreshold = &rf.r.UpperThreshold },
				"l-threshold": func() { e.LowerThreshold = &rf.r.LowerThreshold },
			})
			return func(d directorAPI) (director.Result, error) { return d.EditReal(k, a, e) }, e.Check()
		})
}

func newDirRealDelCmd(sys *system) *cobra.Command {
	return realCmd(sys, &cobra.Command{
		Use:   "del --vip VIP:PORT [--proto tcp] --real ADDR",
		Short: "Take a real server out of a service",
	}, 0, nil, func(_ *cobra.Command, _ *realFlags, k director.Key, a netip.Addr) (change, error) {
		return func(d directorAPI) (director.Result, error) { return d.DelReal(k, a) }, nil
	})
}
