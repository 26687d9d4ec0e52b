package realserver

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/l3dsr/l3dsr/internal/jsonout"
)

// WriteApplied writes what 'up' or 'down' (verb: "set up", "took down")
// changed, with its notes.
func WriteApplied(w io.Writer, verb string, a Applied) {
	if !a.Config.VIP.IsValid() {
		return
	}
	if len(a.Changes) == 0 && verb == "set up" {
		fmt.Fprintf(w, "no change: %v is set up\n", a.Config)
	} else if len(a.Changes) > 0 {
		fmt.Fprintf(w, "%s %v:\n", verb, a.Config)
	} else {
		fmt.Fprintf(w, "%s %v: nothing to undo\n", verb, a.Config)
	}
	for _, c := range a.Changes {
		fmt.Fprintf(w, "  %s\n", c)
	}
	for _, n := range a.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
}

// WriteReport writes rep as tables with its problems and their fixes
// ("table"), or as JSON ("json").
func WriteReport(w io.Writer, rep Report, format string) error {
	if format == "json" {
		return jsonout.Write(w, rep)
	}
	if len(rep.VIPs) == 0 {
		fmt.Fprintln(w, "no VIP set up by 'l3dsr realserver up' in this network namespace")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "VIP\tMODE\tDSCP\tLOCAL\tMSS\tSTATE\tPACKETS\tBYTES")
	for _, v := range rep.VIPs {
		dscp, local, mss, pk, by := "-", "-", "-", "-", "-"
		if v.DSCP != nil {
			dscp = strconv.Itoa(int(*v.DSCP))
			local = localName(v.Local)
		}
		if v.MSS != 0 {
			mss = strconv.Itoa(int(v.MSS))
		}
		if v.Mapping != nil {
			pk, by = strconv.FormatUint(v.Mapping.Packets, 10), strconv.FormatUint(v.Mapping.Bytes, 10)
		}
		state := "ok"
		if !v.OK {
			state = "WRONG"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.VIP, v.Mode, dscp, local, mss, state, pk, by)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "SYSCTL\tVALUE\tWANT")
	for _, s := range rep.Sysctls {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Key, s.Value, s.Want)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, p := range rep.Problems {
		if p.VIP != "" {
			fmt.Fprintf(w, "problem: VIP %s: %s\n  fix: %s\n", p.VIP, p.What, p.Fix)
		} else {
			fmt.Fprintf(w, "problem: %s\n  fix: %s\n", p.What, p.Fix)
		}
	}
	return nil
}
