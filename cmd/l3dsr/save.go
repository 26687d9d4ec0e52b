package main

import (
	"fmt"

	"github.com/l3dsr/l3dsr/config"
	"github.com/spf13/cobra"
)

func newSaveCmd(sys *system) *cobra.Command {
	var fromDSR string
	fromIPT := false
	cmd := &cobra.Command{
		Use:   "save [--from-dsrtools DIR | --from-iptables]",
		Short: "Print the running state (or a dsrtools directory) as a config file",
		Long: `save prints the running state of this network namespace in the config file
format (docs/config.md): the VIPs 'l3dsr realserver up' set up, and the IPVS
services by address with their reals. 'l3dsr save > FILE' then
'l3dsr apply -f FILE' changes nothing.

With --from-dsrtools DIR it prints the config equivalent to Yahoo dsrtools'
DIR/*.conf instead (nothing running is read), so a real server can switch from
dsrtools to l3dsr: a VIP=DSCP line becomes a dscp-mode VIP, several lines of
one VIP become one VIP with a list of codes (dscp: [19, 20]), and an L2 line (a
VIP alone) becomes a mode dr VIP. A host name is resolved now, at conversion,
and written as its address with a comment naming the host. A line that is
neither VIP, VIP=DSCP nor a comment is refused naming its file and line (exit 2).
--from-iptables adds what DADDR rules l3dsr did not write serve (docs/realserver.md).`,
		Example: `  l3dsr save > /etc/l3dsr/l3dsr.conf
  l3dsr save --from-dsrtools /etc/dsr.d > /etc/l3dsr/l3dsr.conf`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var f *config.File
			var err error
			header := "# Running state, saved by 'l3dsr save' (docs/config.md).\n"
			switch {
			case fromIPT && cmd.Flags().Changed("from-dsrtools"):
				return usageErrorf("--from-iptables and --from-dsrtools are two sources: give one")
			case cmd.Flags().Changed("from-dsrtools"):
				if f, err = config.FromDSRTools(fromDSR); err != nil {
					return &usageError{err}
				}
				header = fmt.Sprintf("# Made by 'l3dsr save --from-dsrtools %s' (docs/config.md).\n", fromDSR)
			case fromIPT:
				f, header, err = config.FromIPTables(cmd.Context(), sys.configHost())
			default:
				f, err = config.Running(cmd.Context(), sys.configHost())
			}
			if err != nil {
				return hostError(err)
			}
			out, err := config.Marshal(f, header)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	cmd.Flags().StringVar(&fromDSR, "from-dsrtools", "", "convert the dsrtools *.conf files of this directory (e.g. /etc/dsr.d)")
	cmd.Flags().BoolVar(&fromIPT, "from-iptables", false, "add the VIPs that DADDR rules l3dsr did not write serve (docs/realserver.md)")
	return cmd
}
