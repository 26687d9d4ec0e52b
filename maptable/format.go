package maptable

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"text/tabwriter"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/jsonout"
	"github.com/l3dsr/l3dsr/internal/xtrule"
)

// WriteEntries writes entries sorted by family, DSCP, then local address
// (any first), as a table ("table") or as the table's JSON ("json"), the
// format readTable reads.
func WriteEntries(w io.Writer, entries []Entry, format string) error {
	entries = slices.Clone(entries)
	slices.SortFunc(entries, func(a, b Entry) int {
		return cmp.Or(cmp.Compare(a.Family, b.Family), cmp.Compare(dscpOrder(a), dscpOrder(b)), a.Local.Compare(b.Local))
	})
	if format == "json" {
		if entries == nil {
			entries = []Entry{} // [], not null
		}
		return jsonout.Write(w, entries)
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "FAMILY\tDSCP\tLOCAL\tVIP\tPACKETS\tBYTES\tSET-DSCP")
	for _, e := range entries {
		set := "-" // the packet's own DSCP is kept
		if e.SetDSCP != nil {
			set = strconv.Itoa(int(*e.SetDSCP))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", e.Family.Name(), dscpString(e.AnyDSCP, e.DSCP), localString(e.Local), e.VIP, e.Packets, e.Bytes, set)
	}
	return tw.Flush()
}

// dscpOrder sorts any-DSCP entries after the coded ones, as the kernel
// looks them up last.
func dscpOrder(e Entry) int {
	if e.AnyDSCP {
		return int(dsrtypes.MaxDSCP) + 1
	}
	return int(e.DSCP)
}

type statsJSON struct {
	Rewritten  uint64 `json:"rewritten"`
	NoEntry    uint64 `json:"no_entry"`
	Errors     uint64 `json:"errors"`
	Entries    uint32 `json:"entries"`
	Generation uint32 `json:"generation"`
	PathInfo
}

// WriteStats writes the table's totals after its path line as a table
// ("table"), or as JSON ("json") with the fields of `rule mode -o json`.
func WriteStats(w io.Writer, s Stats, format string) error {
	if format == "json" {
		return jsonout.Write(w, statsJSON{s.Rewritten, s.NoEntry, s.Errors, s.Entries, s.Generation, s.PathInfo()})
	}
	writePath(w, s)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "REWRITTEN\tNO ENTRY\tERRORS\tENTRIES\tGENERATION")
	fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\n", s.Rewritten, s.NoEntry, s.Errors, s.Entries, s.Generation)
	return tw.Flush()
}

// WriteAdded writes what AddEntry did for e: the map-mode rule appended
// (added.Rule), with the command of variant v that appended it, and the
// entry, "set" when it replaced one.
func WriteAdded(w io.Writer, v xtrule.Variant, e Entry, added Added, replace bool) {
	e.Family = dsrtypes.FamilyOf(e.VIP)
	if added.Rule {
		writeAppended(w, v, e.Family)
	}
	verb := "added"
	if replace {
		verb = "set"
	}
	fmt.Fprintf(w, "%s %v\n", verb, e)
}

// WriteReplaced writes what ReplaceWithRules did: the map-mode rules
// appended, with the commands of variant v, and the entries' count.
func WriteReplaced(w io.Writer, v xtrule.Variant, appended []dsrtypes.Family, entries []Entry) {
	for _, f := range appended {
		writeAppended(w, v, f)
	}
	var n6 int
	for _, e := range entries {
		if e.Family == dsrtypes.IPv6 {
			n6++
		}
	}
	fmt.Fprintf(w, "replaced the table: %d entries (IPv4 %d, IPv6 %d)\n", len(entries), len(entries)-n6, n6)
}

// writeAppended says that the map-mode rule of family f was appended, and
// the command that did it.
func writeAppended(w io.Writer, v xtrule.Variant, f dsrtypes.Family) {
	fmt.Fprintf(w, "appended the map-mode rule for %v: %s\n", f, mapRuleCommand(&xtrule.Rules{Variant: v}, xtFamily(f), "-A"))
}
