package realserver

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/jsonout"
	"github.com/l3dsr/l3dsr/maptable"
)

// WriteApplied writes what 'up' or 'down' (verb: "set up", "took down")
// changed, with its notes. A VIP with several codes is named with all of
// them, and a code taken off a VIP that stays up is said so.
func WriteApplied(w io.Writer, verb string, a Applied) {
	if !a.Config.VIP.IsValid() {
		return
	}
	what := a.Config.String()
	switch {
	case verb == "set up" && len(a.Codes) > 1:
		what += ", which has DSCP " + a.Codes.String() + " now"
	case verb == "took down" && len(a.Codes) > 0 && a.Config.DSCP != nil:
		verb, what = fmt.Sprintf("took DSCP %d off", *a.Config.DSCP), a.Config.Describe(nil)+", which stays up with DSCP "+a.Codes.String()
	}
	if len(a.Changes) == 0 && verb == "set up" {
		fmt.Fprintf(w, "no change: %s is set up\n", what)
	} else if len(a.Changes) > 0 {
		fmt.Fprintf(w, "%s %s:\n", verb, what)
	} else {
		fmt.Fprintf(w, "%s %s: nothing to undo\n", verb, what)
	}
	if a.Backend != "" {
		fmt.Fprintf(w, "  %s\n", a.Backend)
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
		if len(rep.HandWritten) == 0 && len(rep.Problems) == 0 {
			return nil
		}
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	if len(rep.VIPs) > 0 {
		writeVIPs(tw, rep)
		fmt.Fprintf(tw, "\ningress: %s\n", rep.Ingress)
		if rep.Backend == dsrtypes.BackendBPF {
			fmt.Fprintf(tw, "backend: bpf, attached to %s\n", attachList(rep.Attachments))
		}
		if rep.MapPath != nil {
			fmt.Fprintf(tw, "path: %s\n", rep.MapPath.Path)
		}
	}
	writeHandRules(tw, rep.HandWritten)
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
	for _, h := range rep.HandWritten {
		if h.Delete != "" {
			fmt.Fprintf(w, "note: VIP %s: l3dsr maps DSCP %s to it too, so this rule can be deleted: %s\n", h.VIP, h.DSCP, h.Delete)
		}
	}
	return nil
}

// writeVIPs writes the VIPs Up set up, one line per code, and the sysctls.
func writeVIPs(tw io.Writer, rep Report) {
	fmt.Fprintln(tw, "VIP\tMODE\tDSCP\tLOCAL\tMSS\tSTATE\tPACKETS\tBYTES")
	for _, v := range rep.VIPs {
		state := "ok"
		if !v.OK {
			state = "WRONG"
		}
		mss := "-"
		if v.MSS != 0 {
			mss = strconv.Itoa(int(v.MSS))
		}
		codes, maps := v.DSCPs, v.Mappings
		if len(codes) == 0 && v.DSCP != nil { // a report made without the lists
			codes = Codes{*v.DSCP}
		}
		if len(maps) == 0 && v.Mapping != nil {
			maps = []maptable.Entry{*v.Mapping}
		}
		if v.RIP.IsValid() {
			pk, by := "-", "-"
			if v.Mapping != nil {
				pk, by = strconv.FormatUint(v.Mapping.Packets, 10), strconv.FormatUint(v.Mapping.Bytes, 10)
			}
			fmt.Fprintf(tw, "%s\t%s\tany%s\t%s\t-\t%s\t%s\t%s\n", v.VIP, v.Mode, setText(v.SetDSCP), ripName(v.Config), state, pk, by)
			continue
		}
		if len(codes) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t%s\t%s\t-\t-\n", v.VIP, v.Mode, mss, state)
			continue
		}
		// One line per code, each with its mapping's counters.
		for _, d := range codes {
			pk, by := "-", "-"
			for _, e := range maps {
				if uint8(e.DSCP) == d {
					pk, by = strconv.FormatUint(e.Packets, 10), strconv.FormatUint(e.Bytes, 10)
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%d%s\t%s\t%s\t%s\t%s\t%s\n", v.VIP, v.Mode, d, setText(v.SetDSCP), localName(v.Local), mss, state, pk, by)
		}
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "SYSCTL\tVALUE\tWANT")
	for _, s := range rep.Sysctls {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Key, s.Value, s.Want)
	}
}

// writeHandRules writes the VIPs that DADDR rules l3dsr did not write
// serve, each with its rule.
func writeHandRules(tw io.Writer, hand []HandRule) {
	if len(hand) == 0 {
		return
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "SET UP BY HAND\tDSCP\tON LO\tRULE (not written by l3dsr)")
	for _, h := range hand {
		vip, onLo := h.VIP, "no"
		if h.Map {
			vip, onLo = "(map "+h.Family+")", "-"
		} else if h.OnLo {
			onLo = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", vip, h.DSCP, onLo, h.Command)
	}
}

// setText is the DSCP column's note of a reset: " (set 0)".
func setText(d *uint8) string {
	if d == nil {
		return ""
	}
	return fmt.Sprintf(" (set %d)", *d)
}
