package pcapcheck

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/l3dsr/l3dsr/dsrtypes"
)

// reportJSON is the verdict as 'verify -o json' prints it.
type reportJSON struct {
	Source     string           `json:"source"`
	Read       uint64           `json:"read"`
	Selected   uint64           `json:"selected"`
	Drops      uint64           `json:"kernel_drops"`
	Mapping    string           `json:"mapping"`
	Interfaces []interfaceStats `json:"interfaces"`
	// Damage is null for a whole file.
	Damage *damageJSON `json:"damage"`
	Report
}

type damageJSON struct {
	Offset int64  `json:"offset"`
	Record uint64 `json:"record"`
	Unit   string `json:"unit"`
	Reason string `json:"reason"`
}

// WriteReport writes res, the result of verifying with o, to w as a table
// ("table") or as JSON ("json").
func WriteReport(w io.Writer, format string, o *Options, res *Result) error {
	what, st, drops, r := res.Source, res.Stats, res.drops, res.Report
	fromFlags := len(o.Mapping) > 0
	mapping := "module"
	if fromFlags {
		mapping = "flags"
	}
	if o.Role == roleDirector {
		mapping = "none"
	}
	if format == "json" {
		j := reportJSON{Source: what, Read: st.Read, Selected: st.Selected, Drops: drops, Mapping: mapping, Report: r, Interfaces: st.PerInterface}
		if j.Interfaces == nil {
			j.Interfaces = []interfaceStats{}
		}
		if d := st.Damage; d != nil {
			j.Damage = &damageJSON{Offset: d.Offset, Record: d.Record, Unit: d.Unit, Reason: d.Reason}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(j)
	}
	mode := ""
	if o.Mode == dsrtypes.ModeIPIP || o.Mode == dsrtypes.ModeAddr {
		mode = " (" + string(o.Mode) + ")"
	}
	fmt.Fprintf(w, "%s: %s%s, DSCP %s: %s read, %d looked at", what, r.Role, mode, r.Codes, plural(st.Read, "packet"), st.Selected)
	if drops > 0 {
		fmt.Fprintf(w, ", %d dropped by the kernel", drops)
	}
	fmt.Fprintln(w)
	if len(st.PerInterface) > 1 {
		for _, i := range st.PerInterface {
			name := i.Name
			if name == "" {
				name = "-"
			}
			fmt.Fprintf(w, "  interface %d (%s, %s): %s read", i.Index, name, i.LinkType, plural(i.Read, "packet"))
			if i.Unsupported {
				fmt.Fprint(w, ", link type not supported: not looked at")
			}
			fmt.Fprintln(w)
		}
	}
	if err := writeTable(w, o.Role, r, fromFlags); err != nil {
		return err
	}
	if r.UntrackedFlows > 0 {
		fmt.Fprintf(w, "note: %s beyond the flow limit were counted but their replies not matched\n", plural(r.UntrackedFlows, "flow"))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if st.NotWritten > 0 {
		fmt.Fprintf(w, "note: %s of another link type than the first interface's were not written to --write's file\n", plural(st.NotWritten, "packet"))
	}
	switch {
	case !r.OK:
		fmt.Fprintln(w, "verdict: FAILED")
		for _, pr := range r.Problems {
			fmt.Fprintf(w, "  - %s\n", pr)
		}
	case st.Damage != nil:
		fmt.Fprintln(w, "verdict: PARTIAL: OK on the packets read, but the file is damaged (see the warning)")
	case o.Role == roleDirector:
		fmt.Fprintln(w, "verdict: OK: every service's packets leave for the real servers with its DSCP")
	case o.Mode == dsrtypes.ModeIPIP:
		fmt.Fprintln(w, "verdict: OK: every tunnel seen is answered from its VIP")
	case o.Mode == dsrtypes.ModeAddr:
		fmt.Fprintln(w, "verdict: OK: every flow to a VIP's own address is answered from its VIP")
	default:
		fmt.Fprintln(w, "verdict: OK: every DSCP code seen is mapped and answered from its VIP")
	}
	if d := st.Damage; d != nil {
		fmt.Fprintf(w, "warning: %s is damaged at byte %d (%s %d): %s; the report covers the %s before it\n", what, d.Offset, d.Unit, d.Record, d.Reason, plural(st.Read, "packet"))
	}
	return nil
}

// writeTable writes the table of codes (a real server) or services (a
// director). A mapping from flags has no counters.
func writeTable(w io.Writer, role Role, r Report, fromFlags bool) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	if role == roleRealServer {
		fmt.Fprintln(tw, "DSCP\tPACKETS\tFLOWS\tVIP (LOCAL)\tTABLE PACKETS (+RUN)\tREPLIES VIP/RIP/OTHER\tANSWERED\tRESULT")
		for _, c := range r.PerCode {
			vip, ctr := "-", "-"
			if len(c.Mappings) > 0 {
				var vs, cs []string
				for _, m := range c.Mappings {
					anyDSCP := ""
					if m.AnyDSCP {
						anyDSCP = ", any DSCP"
					}
					vs = append(vs, fmt.Sprintf("%s (%s%s)", m.VIP, m.Local, anyDSCP))
					if fromFlags {
						cs = append(cs, "n/a")
					} else {
						cs = append(cs, fmt.Sprintf("%d (+%d)", m.Packets, m.PacketsDelta))
					}
				}
				vip, ctr = strings.Join(vs, ", "), strings.Join(cs, ", ")
			}
			if c.Unmapped > 0 {
				vip += fmt.Sprintf(" [%d unmapped]", c.Unmapped)
			}
			fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%s\t%d/%d/%d\t%d/%d\t%s\n", c.DSCP, c.Packets, c.Flows, vip, ctr,
				c.RepliesFromVIP, c.RepliesFromRIP, c.RepliesOther, c.FlowsAnswered, c.Flows, okWord(c.OK))
		}
	} else {
		fmt.Fprintln(tw, "SERVICE\tDSCP\tCLIENT PACKETS\tTO REALS\tRIGHT DSCP\tWRONG DSCP\tREALS\tREPLIES VIA DIRECTOR\tRESULT")
		for _, s := range r.Services {
			reals := strings.Join(s.Reals, ",")
			if reals == "" {
				reals = "-"
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\t%d\t%s\n", s.Service, s.DSCP, s.ClientPackets, s.Forwarded, s.Right, s.Wrong, reals, s.ViaDirector, okWord(s.OK))
		}
	}
	return tw.Flush()
}

func okWord(ok bool) string {
	if ok {
		return "ok"
	}
	return "FAIL"
}
