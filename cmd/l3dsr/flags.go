package main

import (
	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Flag parsing helpers the commands share.

// The dsrtypes values as flags, their parse errors naming the flag where the
// value's own words do not ("--vip" + ` "x" is not an IP address`).
func addrFlag(flag string, a *dsrtypes.Addr) pflag.Value {
	return &dsrtypes.Flag{Value: a, Prefix: flag + " "}
}
func familyFlag(f *dsrtypes.Family) pflag.Value { return &dsrtypes.Flag{Value: f, Prefix: "--"} }

func checkOutput(o string) error {
	if o != "table" && o != "json" {
		return usageErrorf("output format %q is unknown: use -o table or -o json", o)
	}
	return nil
}

// outputCmd makes cmd take -o table|json and run run with the format once
// it is checked.
func outputCmd(cmd *cobra.Command, run func(cmd *cobra.Command, format string) error) *cobra.Command {
	var output string
	cmd.Args = cobra.NoArgs
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(output); err != nil {
			return err
		}
		return run(cmd, output)
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}
