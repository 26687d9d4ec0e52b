package director

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"text/tabwriter"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/ipvs"
	"github.com/l3dsr/l3dsr/internal/jsonout"
)

// WriteResult writes the warnings of a change to stderr and its changes to
// w; "no change" only when it succeeded (err is nil).
func WriteResult(w, stderr io.Writer, r Result, err error) {
	for _, warn := range r.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", warn)
	}
	if len(r.Changes) == 0 {
		if err != nil {
			return
		}
		fmt.Fprintln(w, "no change")
		return
	}
	for _, c := range r.Changes {
		fmt.Fprintf(w, "+ %s\n", c)
	}
}

// WriteStatus writes st as JSON ("json"), or as a table like
// 'ipvsadm -Ln --stats' with the L3 DSR columns ("table"): a service that
// l3dsr does not manage says "unmanaged" at the end of its line, the
// scheduler has its flags and one-packet after it ("sh,sh-port",
// "rr,ops"), persistence its netmask ("300/255.255.255.0"), and a real's
// forwarding method names a tunnel type other than ipip ("tunnel/gue:6080",
// "tunnel/gre") and a checksum ("tunnel/gre+csum").
func WriteStatus(w io.Writer, st Status, format string) error {
	if format == "json" {
		return jsonout.Write(w, st)
	}
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
		if s.Netmask != 0 {
			persist += "/" + FormatNetmask(s.VIP, s.Netmask)
		}
		sched := strings.Join(append([]string{s.Scheduler}, s.SchedFlags.Names(s.Scheduler)...), ",")
		if s.OnePacket {
			sched += ",ops"
		}
		if s.PE != "" {
			sched += ",pe=" + s.PE
		}
		// A service l3dsr does not manage ends with a word past the
		// columns; the lines of l3dsr's own stay as they were.
		unmanaged := ""
		if !s.Managed {
			unmanaged = "unmanaged"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", strings.ToUpper(dsrtypes.Proto(s.Proto).String()),
			netip.AddrPortFrom(s.VIP, s.Port), s.Mode, dscp, sched, persist,
			s.Stats.Connections, s.Stats.PacketsIn, s.Stats.PacketsOut, s.Stats.BytesIn, s.Stats.BytesOut, unmanaged)
		for _, r := range s.Reals {
			// The agent's health, like "unmanaged", is a word past the
			// columns, so that the lines without one stay as they were.
			fmt.Fprintf(tw, "  -> \t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n",
				netip.AddrPortFrom(r.Addr, cmp.Or(r.Port, s.Port)), r.forwardName(), r.Weight, r.ActiveConns, r.InactiveConns,
				r.Stats.Connections, r.Stats.PacketsIn, r.Stats.PacketsOut, r.Stats.BytesIn, r.Stats.BytesOut, r.Health)
		}
	}
	return tw.Flush()
}

// WriteProblems writes the problems of st to w, one a line with its fix,
// and returns the error 'director show' exits 1 with when there are any.
func WriteProblems(w io.Writer, st Status) error {
	for _, p := range st.Problems {
		fmt.Fprintf(w, "problem: %s\n", p)
	}
	if len(st.Problems) > 0 {
		return errors.New("the director is not set up as it should be (problems above)")
	}
	return nil
}

// forwardName is r's forwarding method as the table shows it: with the
// tunnel type after "tunnel/" where it is not ipip, and GUE's port.
func (r Real) forwardName() string {
	csum := ""
	if c := TunnelChecksumName(r.TunnelFlags); c != "" {
		csum = "+" + c
	}
	switch {
	case r.Forward != ipvs.Tunnel || r.Tunnel == ipvs.TunnelIPIP:
		return r.Forward.String()
	case r.Tunnel == ipvs.TunnelGUE:
		return fmt.Sprintf("tunnel/%s:%d%s", r.Tunnel, r.TunnelPort, csum)
	}
	return "tunnel/" + r.Tunnel.String() + csum
}
