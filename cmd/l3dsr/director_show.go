package main

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"text/tabwriter"

	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/ipvs"
	"github.com/spf13/cobra"
)

func newDirShowCmd() *cobra.Command {
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
			return withDirector(func(d directorAPI) error {
				st, err := d.Show()
				if err != nil {
					return hostError(fmt.Errorf("reading the director's services: %w", err))
				}
				if output == "json" {
					if err := writeJSON(cmd.OutOrStdout(), showJSON(st)); err != nil {
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t\n", protoName(s.Proto),
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

func protoName(p ipvs.Protocol) string {
	switch p {
	case ipvs.ProtoTCP:
		return "TCP"
	case ipvs.ProtoUDP:
		return "UDP"
	case ipvs.ProtoSCTP:
		return "SCTP"
	}
	return fmt.Sprint(uint16(p))
}

type jsonStats struct {
	Connections uint64 `json:"connections"`
	PacketsIn   uint64 `json:"packets_in"`
	PacketsOut  uint64 `json:"packets_out"`
	BytesIn     uint64 `json:"bytes_in"`
	BytesOut    uint64 `json:"bytes_out"`
	CPS         uint64 `json:"cps"`
	PPSIn       uint64 `json:"pps_in"`
	PPSOut      uint64 `json:"pps_out"`
	BPSIn       uint64 `json:"bps_in"`
	BPSOut      uint64 `json:"bps_out"`
}

type jsonReal struct {
	Address        string    `json:"address"`
	Port           uint16    `json:"port"`
	Forward        string    `json:"forward"`
	Weight         int32     `json:"weight"`
	UpperThreshold uint32    `json:"upper_threshold"`
	LowerThreshold uint32    `json:"lower_threshold"`
	ActiveConns    uint32    `json:"active_conns"`
	InactiveConns  uint32    `json:"inactive_conns"`
	PersistConns   uint32    `json:"persist_conns"`
	Stats          jsonStats `json:"stats"`
}

type jsonService struct {
	Protocol   string     `json:"protocol"`
	VIP        string     `json:"vip"`
	Port       uint16     `json:"port"`
	Mode       string     `json:"mode"`
	DSCP       *uint8     `json:"dscp"`
	Scheduler  string     `json:"scheduler"`
	Persistent uint32     `json:"persistent"`
	Stats      jsonStats  `json:"stats"`
	Reals      []jsonReal `json:"reals"`
}

type jsonDirector struct {
	Services []jsonService `json:"services"`
	Problems []string      `json:"problems"`
}

func ipvsStatsJSON(s ipvs.Stats) jsonStats {
	return jsonStats{s.Connections, s.PacketsIn, s.PacketsOut, s.BytesIn, s.BytesOut, s.CPS, s.PPSIn, s.PPSOut, s.BPSIn, s.BPSOut}
}

func showJSON(st director.Status) jsonDirector {
	out := jsonDirector{Services: []jsonService{}, Problems: st.Problems}
	if out.Problems == nil {
		out.Problems = []string{}
	}
	for _, s := range st.Services {
		js := jsonService{
			Protocol: s.Proto.String(), VIP: s.VIP.String(), Port: s.Port, Mode: s.Mode.String(),
			Scheduler: s.Scheduler, Persistent: s.Persistent, Stats: ipvsStatsJSON(s.Stats), Reals: []jsonReal{},
		}
		if s.Mode == dsrtypes.ModeDSCP {
			d := s.DSCP
			js.DSCP = &d
		}
		for _, r := range s.Reals {
			js.Reals = append(js.Reals, jsonReal{
				Address: r.Addr.String(), Port: s.Port, Forward: r.Forward.String(), Weight: r.Weight,
				UpperThreshold: r.UpperThreshold, LowerThreshold: r.LowerThreshold,
				ActiveConns: r.ActiveConns, InactiveConns: r.InactiveConns, PersistConns: r.PersistConns,
				Stats: ipvsStatsJSON(r.Stats),
			})
		}
		out.Services = append(out.Services, js)
	}
	return out
}
