package main

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/maptable"
	"github.com/l3dsr/l3dsr/pcapcheck"
	"github.com/spf13/cobra"
	"golang.org/x/net/bpf"
)

type verifyFlags struct {
	iface, pcap, write, output, role string
	mode                             dsrtypes.Mode
	dscp                             pcapcheck.DSCPSet
	count                            int
	duration                         time.Duration
	verbose                          bool
	maps, expects, ports             []string
}

func newVerifyCmd(sys *system) *cobra.Command {
	var f verifyFlags
	cmd := &cobra.Command{
		Use:   "verify (--iface IFACE | --pcap FILE) [flags]",
		Short: "Prove on the wire that L3 DSR works: live on an interface or from a capture file",
		Long: `verify captures (or reads) the packets of an L3 DSR path and gives the verdict.

On a real server (--role realserver, the default) it reports per DSCP code the
packets and flows seen, the VIP the module's table maps the code to with its
counters, and the replies to those flows by source: the VIP (DSR works), the
RIP the request was sent to (broken: the destination was not rewritten), or
another address. It passes when every code seen is mapped and answered from
its VIP; it fails when a code has no mapping, when replies leave from the RIP,
or when no marked packet is seen at all.

On a director (--role director) it checks that the packets it sends to the
real servers carry the DSCP configured for their VIP, given with --expect
VIP:PORT=DSCP, and that no reply from a VIP leaves through the director.

Live capture uses an AF_PACKET socket with a classic BPF filter built for the
codes and addresses involved (no libpcap); it needs root. It stops after
--count packets, after --duration, or on Ctrl-C, and prints the summary of
what was seen so far. --pcap reads a pcap or pcapng file instead.

The mapping comes from the module's table; --map DSCP=VIP[@LOCAL] gives it
instead (to judge a capture file where the module is not loaded, or a real
server using revision-0 rules, -j DADDR --set-daddr).

With --mode ipip the director sends each request in a tunnel (IPIP,
IPv6-in-IP or GRE) to the RIP instead of marking it: a request is then a
tunnel packet whose outer destination is the RIP and whose inner destination
is the VIP (one of the --map VIPs when --map is given); its reply must leave
from that VIP, not from the RIP, and not through a tunnel. In --mode dscp
(the default) the DSCP code is read from the outer header, as tcpdump's
ip[1] reads it; a tunnel whose inner header carries another code is
reported with both codes.

IPv6 extension headers (hop-by-hop, routing, fragment, destination options,
AH; up to 8) are walked to the ports. Packets the network would not deliver
(an IP version that contradicts the EtherType, a frame shorter than an IP
header, an extension header chain that is too long or cut) are counted as
malformed and not judged.

pcap and pcapng files are read, including pcapng files whose interfaces have
different link types (Ethernet, Linux cooked SLL and SLL2, raw IP): each
packet is decoded with its interface's link type, and the packets read per
interface are reported. A damaged file (cut short, or a record longer than
the snap length) is judged on the packets before the damage, and the report
ends with where the damage is.

Exit status: 0 the verdict is OK; 1 it is not (the reasons are printed), or
verify could not run; 2 usage error; 3 the verdict is OK on the packets read,
but the file is damaged and the packets after the damage were not read
(partial). A damaged file whose verdict is not OK exits 1.`,
		Example: `  l3dsr verify --iface eth0 --duration 10s
  l3dsr verify --iface eth0 --dscp 21,22 --count 100 -v
  l3dsr verify --pcap dsr.pcap --map 21=10.80.0.1 -o json
  l3dsr verify --iface eth0 --role director --expect 10.80.0.1:80=21 --expect [2001:db8:80::1]:80=22`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runVerify(cmd, sys, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.iface, "iface", "", "capture live on this interface (needs root)")
	fl.StringVar(&f.pcap, "pcap", "", "read this pcap or pcapng file instead")
	fl.Var(&f.dscp, "dscp", "DSCP codes to look at: a list of codes and ranges, e.g. 21,22 or 1-63 (default: 1-63 on a real server, the --expect codes on a director)")
	fl.IntVar(&f.count, "count", 0, "stop after this many captured packets (0: no limit)")
	fl.DurationVar(&f.duration, "duration", 0, "stop a live capture after this long, e.g. 10s (0: until Ctrl-C)")
	fl.StringVar(&f.write, "write", "", "also write the packets looked at to this file (pcap; pcapng if it ends in .pcapng)")
	fl.StringVarP(&f.output, "output", "o", "table", "output format: table or json")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "print a tcpdump-like line per packet, with the TOS/DSCP and what it was to the verdict")
	fl.StringVar(&f.role, "role", "realserver", "where verify runs: realserver or director")
	f.mode = dsrtypes.ModeDSCP
	fl.Var(&f.mode, "mode", "how the director reaches the real servers: dscp (marked packets to the RIP) or ipip (a tunnel to the RIP)")
	fl.StringArrayVar(&f.maps, "map", nil, "DSCP=VIP[@LOCAL]: use this mapping instead of the module's table (repeatable)")
	fl.StringArrayVar(&f.expects, "expect", nil, "director: VIP[:PORT]=DSCP, the code packets for that service must carry (repeatable; IPv6 as [ADDR]:PORT)")
	fl.StringArrayVar(&f.ports, "port", nil, "real server: capture replies only from these service ports (default: every port of the VIPs and the interface's addresses)")
	return cmd
}

// verifyRoles are the names --role takes.
var verifyRoles = map[string]pcapcheck.Role{
	"realserver": pcapcheck.RealServer, "real-server": pcapcheck.RealServer, "rs": pcapcheck.RealServer,
	"director": pcapcheck.Director,
}

// parseVerifyFlags checks the command line and turns it into the options
// of one verification.
func parseVerifyFlags(cmd *cobra.Command, f *verifyFlags) (*pcapcheck.Options, error) {
	fl := cmd.Flags()
	switch {
	case f.iface == "" && f.pcap == "":
		return nil, usageErrorf("give --iface IFACE to capture live or --pcap FILE to read a capture")
	case f.iface != "" && f.pcap != "":
		return nil, usageErrorf("--iface and --pcap exclude each other: capture live or read a file")
	}
	if err := checkOutput(f.output); err != nil {
		return nil, err
	}
	if f.count < 0 {
		return nil, usageErrorf("--count %d is negative: give a number of packets, or 0 for no limit", f.count)
	}
	if f.duration < 0 {
		return nil, usageErrorf("--duration %s is negative: give a duration such as 10s", f.duration)
	}
	if f.pcap != "" && fl.Changed("duration") {
		return nil, usageErrorf("--duration is for a live capture: a file is read to its end (use --count to stop early)")
	}
	if f.write != "" && f.write == f.pcap {
		return nil, usageErrorf("--write %s would overwrite the file being read: write to another file", f.write)
	}
	o := &pcapcheck.Options{Mode: f.mode, Codes: f.dscp, Iface: f.iface, File: f.pcap, Count: f.count, Duration: f.duration, Write: f.write}
	role, ok := verifyRoles[f.role]
	if !ok {
		return nil, usageErrorf("--role %q is unknown: use realserver or director", f.role)
	}
	o.Role = role
	for _, s := range f.maps {
		e, err := parseMapFlag(s)
		if err != nil {
			return nil, err
		}
		o.Mapping = append(o.Mapping, e)
	}
	for _, s := range f.expects {
		e, err := parseExpectFlag(s)
		if err != nil {
			return nil, err
		}
		o.Expect = append(o.Expect, e)
	}
	for _, s := range f.ports {
		for _, t := range strings.Split(s, ",") {
			v, err := strconv.ParseUint(strings.TrimSpace(t), 10, 16)
			if err != nil || v == 0 {
				return nil, usageErrorf("--port %q is not a port: give a number 1-65535", t)
			}
			o.Ports = append(o.Ports, uint16(v))
		}
	}
	if o.Role == pcapcheck.Director {
		if len(o.Expect) == 0 {
			return nil, usageErrorf("--role director needs the DSCP of each VIP: give --expect VIP:PORT=DSCP, e.g. --expect 10.80.0.1:80=21")
		}
		if len(o.Mapping) > 0 || len(o.Ports) > 0 {
			return nil, usageErrorf("--map and --port are for --role realserver; a director is checked against --expect")
		}
	} else if len(o.Expect) > 0 {
		return nil, usageErrorf("--expect is for --role director; a real server is checked against its table (or --map)")
	}
	// Check the mapping and expectations now, so that bad input is a usage
	// error before anything is opened.
	if err := o.Check(); err != nil {
		return nil, &usageError{err}
	}
	return o, nil
}

// parseMapFlag parses DSCP=VIP[@LOCAL].
func parseMapFlag(s string) (pcapcheck.MapEntry, error) {
	code, rest, ok := strings.Cut(s, "=")
	if !ok {
		return pcapcheck.MapEntry{}, usageErrorf("--map %q: write DSCP=VIP or DSCP=VIP@LOCAL, e.g. --map 21=10.80.0.1", s)
	}
	c, err := dsrtypes.ParseDSCP(code)
	if err != nil {
		return pcapcheck.MapEntry{}, usageErrorf("--map %s: %w", s, err)
	}
	vip, local, hasLocal := strings.Cut(rest, "@")
	e := pcapcheck.MapEntry{DSCP: uint8(c)}
	if e.VIP, err = dsrtypes.ParseAddr(vip); err != nil {
		return e, usageErrorf("--map %s: VIP %w", s, err)
	}
	if hasLocal {
		if e.Local, err = dsrtypes.ParseAddr(local); err != nil {
			return e, usageErrorf("--map %s: local address %w", s, err)
		}
	}
	ge := maptable.Entry{DSCP: c, VIP: e.VIP, Local: e.Local}
	if err := ge.Validate(); err != nil {
		return e, &usageError{fmt.Errorf("--map %s: %w", s, err)}
	}
	return e, nil
}

// parseExpectFlag parses VIP[:PORT]=DSCP, with IPv6 as [ADDR]:PORT or ADDR.
func parseExpectFlag(s string) (pcapcheck.Expectation, error) {
	svc, code, ok := strings.Cut(s, "=")
	if !ok {
		return pcapcheck.Expectation{}, usageErrorf("--expect %q: write VIP:PORT=DSCP, e.g. --expect 10.80.0.1:80=21 or --expect [2001:db8:80::1]:80=22", s)
	}
	var e pcapcheck.Expectation
	c, err := dsrtypes.ParseDSCP(code)
	if err != nil {
		return e, usageErrorf("--expect %s: %w", s, err)
	}
	e.DSCP = uint8(c)
	if ap, err := netip.ParseAddrPort(svc); err == nil {
		e.VIP, e.Port = ap.Addr(), ap.Port()
		if e.Port == 0 {
			return e, usageErrorf("--expect %q: port 0 is not a service port: leave the port out to match any", s)
		}
	} else if e.VIP, err = netip.ParseAddr(strings.Trim(svc, "[]")); err != nil {
		return e, usageErrorf("--expect %q: %q is not VIP or VIP:PORT: write e.g. 10.80.0.1:80 or [2001:db8:80::1]:80", s, svc)
	}
	if e.VIP.Zone() != "" || e.VIP.Is4In6() || e.VIP.IsUnspecified() || e.VIP.IsMulticast() {
		return e, usageErrorf("--expect %q: %s is not a unicast VIP", s, e.VIP)
	}
	return e, nil
}

// verifyTable is what verify reads of the module's table.
type verifyTable interface {
	List() ([]maptable.Entry, error)
	Close() error
}

// moduleTable is the module's table as pcapcheck reads it. Its errors are
// the CLI's answers for a host that cannot be read.
type moduleTable struct{ t verifyTable }

var _ pcapcheck.Table = moduleTable{}

func (m moduleTable) List() ([]pcapcheck.MapEntry, error) {
	entries, err := m.t.List()
	if err != nil {
		return nil, hostError(fmt.Errorf("reading the DSCP→VIP table: %w", err))
	}
	out := make([]pcapcheck.MapEntry, len(entries))
	for i, e := range entries {
		out[i] = pcapcheck.MapEntry{DSCP: uint8(e.DSCP), Local: e.Local, VIP: e.VIP, Packets: e.Packets, Bytes: e.Bytes}
	}
	return out, nil
}

// partialError is verify's "partial" verdict, which has an exit status of
// its own.
type partialError struct{ *pcapcheck.PartialError }

// ExitCode tells run the status that says "partial".
func (e partialError) ExitCode() int { return exitPartial }

func runVerify(cmd *cobra.Command, sys *system, f *verifyFlags) error {
	o, err := parseVerifyFlags(cmd, f)
	if err != nil {
		return err
	}
	out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
	fromFlags := len(o.Mapping) > 0
	if o.UsesTable() {
		t, err := sys.dialVerifyTable()
		if err != nil {
			if errors.Is(err, maptable.ErrNotLoaded) {
				return fmt.Errorf("reading the DSCP→VIP table: %w; or give the mapping with --map DSCP=VIP", err)
			}
			return hostError(fmt.Errorf("reading the DSCP→VIP table: %w", err))
		}
		defer t.Close()
		o.Table = moduleTable{t}
	}
	if f.pcap != "" && os.Getenv("GOGC") == "" {
		// Reading a file, the heap is mostly the flow table, which only
		// grows: collecting at every doubling of the heap costs time (a
		// fifth of it on a file of a million packets) and frees little.
		// The setting is the whole process's, so the program makes it.
		defer debug.SetGCPercent(debug.SetGCPercent(400))
	}
	if f.verbose {
		vout := out
		if f.output == "json" {
			vout = errOut
		}
		o.OnPacket = func(pk *pcapcheck.Packet, c pcapcheck.Class) {
			fmt.Fprintf(vout, "%s [%s]\n", pk, c)
		}
	}
	if f.output != "json" {
		o.OnCapture = func() {
			fmt.Fprintf(errOut, "l3dsr verify: capturing on %s (%s, DSCP %s); Ctrl-C stops and prints the summary\n", f.iface, o.Role, o.Codes)
		}
	}
	o.OpenLive, o.CreateWriter = sys.openLive, sys.createWriter

	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := pcapcheck.Verify(ctx, *o)
	if err != nil {
		return err
	}
	if err := printVerify(out, f.output, fromFlags, o, res); err != nil {
		return err
	}
	err = res.Err()
	var pe *pcapcheck.PartialError
	if errors.As(err, &pe) {
		return partialError{pe}
	}
	return err
}

type verifyJSON struct {
	Source     string                     `json:"source"`
	Read       uint64                     `json:"read"`
	Selected   uint64                     `json:"selected"`
	Drops      uint64                     `json:"kernel_drops"`
	Mapping    string                     `json:"mapping"`
	Interfaces []pcapcheck.InterfaceStats `json:"interfaces"`
	// Damage is null for a whole file.
	Damage *damageJSON `json:"damage"`
	pcapcheck.Report
}

type damageJSON struct {
	Offset int64  `json:"offset"`
	Record uint64 `json:"record"`
	Unit   string `json:"unit"`
	Reason string `json:"reason"`
}

func printVerify(w io.Writer, format string, fromFlags bool, o *pcapcheck.Options, res *pcapcheck.Result) error {
	what, st, drops, r := res.Source, res.Stats, res.Drops, res.Report
	mapping := "module"
	if fromFlags {
		mapping = "flags"
	}
	if o.Role == pcapcheck.Director {
		mapping = "none"
	}
	if format == "json" {
		j := verifyJSON{Source: what, Read: st.Read, Selected: st.Selected, Drops: drops, Mapping: mapping, Report: r, Interfaces: st.PerInterface}
		if j.Interfaces == nil {
			j.Interfaces = []pcapcheck.InterfaceStats{}
		}
		if d := st.Damage; d != nil {
			j.Damage = &damageJSON{Offset: d.Offset, Record: d.Record, Unit: d.Unit, Reason: d.Reason}
		}
		return writeJSON(w, j)
	}
	mode := ""
	if o.Mode == dsrtypes.ModeIPIP {
		mode = " (ipip)"
	}
	fmt.Fprintf(w, "%s: %s%s, DSCP %s: %s read, %d looked at", what, r.Role, mode, r.Codes, pcapcheck.Plural(st.Read, "packet"), st.Selected)
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
			fmt.Fprintf(w, "  interface %d (%s, %s): %s read", i.Index, name, i.LinkType, pcapcheck.Plural(i.Read, "packet"))
			if i.Unsupported {
				fmt.Fprint(w, ", link type not supported: not looked at")
			}
			fmt.Fprintln(w)
		}
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	if o.Role == pcapcheck.RealServer {
		fmt.Fprintln(tw, "DSCP\tPACKETS\tFLOWS\tVIP (LOCAL)\tTABLE PACKETS (+RUN)\tREPLIES VIP/RIP/OTHER\tANSWERED\tRESULT")
		for _, c := range r.PerCode {
			vip, ctr := "-", "-"
			if len(c.Mappings) > 0 {
				var vs, cs []string
				for _, m := range c.Mappings {
					vs = append(vs, fmt.Sprintf("%s (%s)", m.VIP, m.Local))
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
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.UntrackedFlows > 0 {
		fmt.Fprintf(w, "note: %s beyond the flow limit were counted but their replies not matched\n", pcapcheck.Plural(r.UntrackedFlows, "flow"))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if st.NotWritten > 0 {
		fmt.Fprintf(w, "note: %s of another link type than the first interface's were not written to --write's file\n", pcapcheck.Plural(st.NotWritten, "packet"))
	}
	switch {
	case !r.OK:
		fmt.Fprintln(w, "verdict: FAILED")
		for _, pr := range r.Problems {
			fmt.Fprintf(w, "  - %s\n", pr)
		}
	case st.Damage != nil:
		fmt.Fprintln(w, "verdict: PARTIAL: OK on the packets read, but the file is damaged (see the warning)")
	case o.Role == pcapcheck.Director:
		fmt.Fprintln(w, "verdict: OK: every service's packets leave for the real servers with its DSCP")
	case o.Mode == dsrtypes.ModeIPIP:
		fmt.Fprintln(w, "verdict: OK: every tunnel seen is answered from its VIP")
	default:
		fmt.Fprintln(w, "verdict: OK: every DSCP code seen is mapped and answered from its VIP")
	}
	if d := st.Damage; d != nil {
		fmt.Fprintf(w, "warning: %s is damaged at byte %d (%s %d): %s; the report covers the %s before it\n", what, d.Offset, d.Unit, d.Record, d.Reason, pcapcheck.Plural(st.Read, "packet"))
	}
	return nil
}

func okWord(ok bool) string {
	if ok {
		return "ok"
	}
	return "FAIL"
}

// verifySystem is the part of system the verify commands act on: the
// module's table, the live capture and the capture file written. Tests
// give fakes, so that no test, fuzzing included, reads this host's table,
// captures on it or writes a file.
type verifySystem struct {
	dialVerifyTable func() (verifyTable, error)
	// nil: pcapcheck's own.
	openLive     func(iface string, filter []bpf.RawInstruction, snaplen int) (*pcapcheck.Live, error)
	createWriter func(name string, link layers.LinkType, snaplen uint32) (*pcapcheck.PacketWriter, error)
}

func hostVerifySystem() verifySystem {
	return verifySystem{dialVerifyTable: func() (verifyTable, error) { return maptable.Dial() }}
}
