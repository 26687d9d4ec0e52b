package main

import (
	"errors"

	"github.com/l3dsr/l3dsr/config"
	"github.com/l3dsr/l3dsr/doctor"
	"github.com/spf13/cobra"
)

// doctorSystem is the part of system doctor reads.
type doctorSystem struct {
	openDoctor func() (doctor.Host, func() error, error)
}

func hostDoctorSystem(need func() error) doctorSystem {
	return doctorSystem{openDoctor: func() (doctor.Host, func() error, error) {
		if err := need(); err != nil {
			return doctor.Host{}, nil, err
		}
		return doctor.Open()
	}}
}

func newDoctorCmd(sys *system) *cobra.Command {
	var file string
	cmd := outputCmd(&cobra.Command{
		Use:   "doctor [-f FILE] [-o table|json]",
		Short: "Check this host for what breaks DSR silently, each finding with the command that fixes it",
		Long: `doctor reads this host, director or real server, and lists what breaks L3 DSR
without an error anywhere: ARP and reverse-path sysctls (effective per
interface), the module, the map-mode rule (once per interface), the table,
each VIP on lo, a code that stands for two VIPs, each addr-mode RIP (on an
interface, not its primary address), tcp_reflect_tos without a DSCP reset,
where DSR codes are honoured, the ipip tunnel and MSS clamp, receive
offloads, IPVS's sysctls, and on a director with DSR-path health checks
accept_local and rp_filter toward the real servers. Each finding says what,
why it matters, and the command that fixes it. It changes nothing.

The roles and VIPs come from the config file (default ` + config.DefaultPath + `)
when it exists; without it, from the running state. Exit status: 0 clean,
1 with problems or warnings (or when the host cannot be read), 2 usage
(a config file given with -f that is missing or has errors). See
docs/doctor.md.`,
		Example: `  l3dsr doctor
  l3dsr doctor -f ./l3dsr.conf -o json`,
	}, func(cmd *cobra.Command, output string) error {
		want, err := doctor.Expected(file, cmd.Flags().Changed("file"))
		if errors.Is(err, config.ErrGiven) {
			return &usageError{err}
		} else if err != nil {
			return err
		}
		h, closeFn, err := sys.openDoctor()
		if err != nil {
			return hostError(err)
		}
		defer closeFn()
		rep, err := doctor.Check(cmd.Context(), h, want)
		if err != nil {
			return hostError(err)
		}
		if err := doctor.WriteReport(cmd.OutOrStdout(), rep, output); err != nil {
			return err
		}
		return rep.Err()
	})
	cmd.Flags().StringVarP(&file, "file", "f", config.DefaultPath, "the config file (used when it exists)")
	return cmd
}
