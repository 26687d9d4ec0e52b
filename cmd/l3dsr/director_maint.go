package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/l3dsr/l3dsr/agent"
	"github.com/spf13/cobra"
)

func newDirMaintenanceCmd(sys *system) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "maintenance on|off|status [--timeout 30s]",
		Short: "Withdraw every VIP this director announces over BGP (on), announce them again (off), or show",
		Long: `maintenance on sets the flag /run/l3dsr/netns-INODE/maintenance. The agent (with a bgp
section) sees it within a second and withdraws every VIP; IPVS keeps forwarding, so the routers
move the flows to the other directors with no loss. The command waits until the agent says it
announces nothing (its bgp.json), printing what it withdrew, or fails (exit 1) after --timeout.
Without a running agent it only sets the flag: an agent that starts then announces nothing.
maintenance off clears the flag: the agent announces again each VIP a real serves.
The flag lives in /run: a reboot clears it.`,
		Example: `  l3dsr director maintenance on --timeout 1m && systemctl stop l3dsr-agent`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 || (args[0] != "on" && args[0] != "off" && args[0] != "status") {
				return usageErrorf("maintenance %q: give on, off or status", strings.Join(args, " "))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if timeout <= 0 {
				return usageErrorf("--timeout %s: give a time to wait of more than 0, e.g. 30s", timeout)
			}
			dir, err := agent.StateDir(sys.agentState)
			if err != nil {
				return err
			}
			st, err := agent.ReadBGPState(dir)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch args[0] {
			case "status":
				on, err := agent.InMaintenance(dir)
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "maintenance: %s\nannounced: %s\n", map[bool]string{true: "on", false: "off"}[on], st.AnnouncedText(time.Now()))
				return nil
			case "off":
				fmt.Fprintln(out, "maintenance off")
				return agent.SetMaintenance(dir, false)
			}
			if err := agent.SetMaintenance(dir, true); err != nil {
				return err
			}
			if !st.Live(time.Now()) {
				fmt.Fprintln(out, "maintenance on; no agent announces VIPs here: one that starts announces nothing until 'maintenance off'")
				return nil
			}
			fmt.Fprintln(out, "maintenance on; waiting for the agent to withdraw every VIP")
			if err := agent.WaitWithdrawn(cmd.Context(), dir, timeout); err != nil {
				return err
			}
			for _, vip := range st.Announced {
				fmt.Fprintf(out, "withdrew %s\n", vip)
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "on: how long to wait for the agent to withdraw")
	return cmd
}
