package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/maptable"
	"github.com/l3dsr/l3dsr/pcapcheck"
	"github.com/spf13/cobra"
)

// verifyTable is what verify uses of maptable.Table.
type verifyTable interface {
	List() ([]maptable.Entry, error)
	Close() error
}

// The module's table verify reads. Tests replace it.
var dialVerifyTable = func() (verifyTable, error) { return maptable.Dial() }

// The live capture and the capture file verify opens; tests replace them so
// that no test, fuzzing included, captures on this host or writes a file.
var (
	openLive     = pcapcheck.OpenLive
	createWriter = pcapcheck.CreateWriter
)

// verifySnaplen is how much of each packet a live capture keeps.
const verifySnaplen = 65535

type verifyFlags struct {
	iface, pcap, write, output, role string
	mode                             string
	dscp                             string
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
			return runVerify(cmd, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.iface, "iface", "", "capture live on this interface (needs root)")
	fl.StringVar(&f.pcap, "pcap", "", "read this pcap or pcapng file instead")
	fl.StringVar(&f.dscp, "dscp", "", "DSCP codes to look at: a list of codes and ranges, e.g. 21,22 or 1-63 (default: 1-63 on a real server, the --expect codes on a director)")
	fl.IntVar(&f.count, "count", 0, "stop after this many captured packets (0: no limit)")
	fl.DurationVar(&f.duration, "duration", 0, "stop a live capture after this long, e.g. 10s (0: until Ctrl-C)")
	fl.StringVar(&f.write, "write", "", "also write the packets looked at to this file (pcap; pcapng if it ends in .pcapng)")
	fl.StringVarP(&f.output, "output", "o", "table", "output format: table or json")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "print a tcpdump-like line per packet, with the TOS/DSCP and what it was to the verdict")
	fl.StringVar(&f.role, "role", "realserver", "where verify runs: realserver or director")
	fl.StringVar(&f.mode, "mode", "dscp", "how the director reaches the real servers: dscp (marked packets to the RIP) or ipip (a tunnel to the RIP)")
	fl.StringArrayVar(&f.maps, "map", nil, "DSCP=VIP[@LOCAL]: use this mapping instead of the module's table (repeatable)")
	fl.StringArrayVar(&f.expects, "expect", nil, "director: VIP[:PORT]=DSCP, the code packets for that service must carry (repeatable; IPv6 as [ADDR]:PORT)")
	fl.StringArrayVar(&f.ports, "port", nil, "real server: capture replies only from these service ports (default: every port of the VIPs and the interface's addresses)")
	return cmd
}

// verifyPlan is a checked command line.
type verifyPlan struct {
	role     pcapcheck.Role
	mode     pcapcheck.Mode
	codes    pcapcheck.DSCPSet
	mapping  []pcapcheck.MapEntry
	fromFlag bool
	expect   []pcapcheck.Expectation
	ports    []uint16
}

func parseVerifyFlags(cmd *cobra.Command, f *verifyFlags) (*verifyPlan, error) {
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
	p := &verifyPlan{}
	switch f.role {
	case "realserver", "real-server", "rs":
		p.role = pcapcheck.RealServer
	case "director":
		p.role = pcapcheck.Director
	default:
		return nil, usageErrorf("--role %q is unknown: use realserver or director", f.role)
	}
	switch f.mode {
	case "dscp", "":
		p.mode = pcapcheck.ModeDSCP
	case "ipip", "tunnel":
		p.mode = pcapcheck.ModeIPIP
	default:
		return nil, usageErrorf("--mode %q is unknown: use dscp or ipip", f.mode)
	}
	for _, s := range f.maps {
		e, err := parseMapFlag(s)
		if err != nil {
			return nil, err
		}
		p.mapping = append(p.mapping, e)
	}
	p.fromFlag = len(f.maps) > 0
	for _, s := range f.expects {
		e, err := parseExpectFlag(s)
		if err != nil {
			return nil, err
		}
		p.expect = append(p.expect, e)
	}
	for _, s := range f.ports {
		for _, t := range strings.Split(s, ",") {
			v, err := strconv.ParseUint(strings.TrimSpace(t), 10, 16)
			if err != nil || v == 0 {
				return nil, usageErrorf("--port %q is not a port: give a number 1-65535", t)
			}
			p.ports = append(p.ports, uint16(v))
		}
	}
	if p.role == pcapcheck.Director {
		if len(p.expect) == 0 {
			return nil, usageErrorf("--role director needs the DSCP of each VIP: give --expect VIP:PORT=DSCP, e.g. --expect 10.80.0.1:80=21")
		}
		if len(p.maps()) > 0 || len(p.ports) > 0 {
			return nil, usageErrorf("--map and --port are for --role realserver; a director is checked against --expect")
		}
	} else if len(p.expect) > 0 {
		return nil, usageErrorf("--expect is for --role director; a real server is checked against its table (or --map)")
	}
	if fl.Changed("dscp") {
		set, err := parseDSCPSet(f.dscp)
		if err != nil {
			return nil, err
		}
		p.codes = set
	} else if p.role == pcapcheck.Director {
		for _, e := range p.expect {
			p.codes |= 1 << e.DSCP
		}
	} else {
		p.codes = pcapcheck.AllMarked
	}
	// Check the mapping and expectations now, so that bad input is a usage
	// error before anything is opened.
	if _, err := pcapcheck.NewAnalyzer(pcapcheck.Config{Role: p.role, Mode: p.mode, Codes: p.codes, Mapping: p.mapping, Expect: p.expect}); err != nil {
		return nil, &usageError{err}
	}
	return p, nil
}

func (p *verifyPlan) maps() []pcapcheck.MapEntry {
	if p.fromFlag {
		return p.mapping
	}
	return nil
}

// parseDSCPSet parses "21,22", "1-63", "0x0a,5-7".
func parseDSCPSet(s string) (pcapcheck.DSCPSet, error) {
	var set pcapcheck.DSCPSet
	for _, t := range strings.Split(s, ",") {
		t = strings.TrimSpace(t)
		lo, hi, isRange := strings.Cut(t, "-")
		a, err := parseDSCP(lo)
		if err != nil {
			return 0, err
		}
		b := a
		if isRange {
			if b, err = parseDSCP(hi); err != nil {
				return 0, err
			}
			if b < a {
				return 0, usageErrorf("DSCP range %q runs backwards: write it low-high, e.g. %d-%d", t, b, a)
			}
		}
		for c := a; c <= b; c++ {
			set |= 1 << c
		}
	}
	return set, nil
}

// parseMapFlag parses DSCP=VIP[@LOCAL].
func parseMapFlag(s string) (pcapcheck.MapEntry, error) {
	code, rest, ok := strings.Cut(s, "=")
	if !ok {
		return pcapcheck.MapEntry{}, usageErrorf("--map %q: write DSCP=VIP or DSCP=VIP@LOCAL, e.g. --map 21=10.80.0.1", s)
	}
	c, err := parseDSCP(code)
	if err != nil {
		return pcapcheck.MapEntry{}, err
	}
	vip, local, hasLocal := strings.Cut(rest, "@")
	e := pcapcheck.MapEntry{DSCP: c}
	if e.VIP, err = parseAddr("--map VIP", vip); err != nil {
		return e, err
	}
	if hasLocal {
		if e.Local, err = parseAddr("--map local address", local); err != nil {
			return e, err
		}
	}
	ge := maptable.Entry{DSCP: dsrtypes.DSCP(c), VIP: e.VIP, Local: e.Local}
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
	c, err := parseDSCP(code)
	if err != nil {
		return e, err
	}
	e.DSCP = c
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

func fromGenl(entries []maptable.Entry) []pcapcheck.MapEntry {
	out := make([]pcapcheck.MapEntry, len(entries))
	for i, e := range entries {
		out[i] = pcapcheck.MapEntry{DSCP: uint8(e.DSCP), Local: e.Local, VIP: e.VIP, Packets: e.Packets, Bytes: e.Bytes}
	}
	return out
}

// filterSpec is the capture filter of a live capture.
func (p *verifyPlan) filterSpec(iface string) (pcapcheck.FilterSpec, error) {
	spec := pcapcheck.FilterSpec{DSCP: p.codes}
	add := func(src bool, a netip.Addr, ports []uint16) {
		if len(ports) == 0 {
			spec.Matches = append(spec.Matches, pcapcheck.Match{Src: src, Addr: a})
		}
		for _, port := range ports {
			spec.Matches = append(spec.Matches, pcapcheck.Match{Src: src, Addr: a, Port: port})
		}
	}
	switch p.role {
	case pcapcheck.RealServer:
		// Replies: from the VIPs (DSR working) and from this interface's
		// own addresses (the RIPs: broken DSR).
		seen := map[netip.Addr]bool{}
		for _, e := range p.mapping {
			if p.codes.Has(e.DSCP) && !seen[e.VIP] {
				seen[e.VIP] = true
				add(true, e.VIP, p.ports)
			}
		}
		ifi, err := net.InterfaceByName(iface)
		if err != nil {
			return spec, fmt.Errorf("interface %q: %w", iface, err)
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			return spec, fmt.Errorf("addresses of %s: %w", iface, err)
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP)
			if !ok || ip.Unmap().IsLinkLocalUnicast() {
				continue
			}
			ip = ip.Unmap()
			if !seen[ip] {
				seen[ip] = true
				add(true, ip, p.ports)
			}
		}
	case pcapcheck.Director:
		for _, e := range p.expect {
			var ports []uint16
			if e.Port != 0 {
				ports = []uint16{e.Port}
				// Packets to the real servers on the same port, whatever
				// their DSCP: a missing mark must be seen too.
				spec.Matches = append(spec.Matches, pcapcheck.Match{Port: e.Port})
			}
			add(false, e.VIP, ports)
			add(true, e.VIP, ports)
		}
	}
	return spec, nil
}

// verdictError is a verdict that is not OK (exit status 1).
type verdictError struct{ problems []string }

// partialError is an OK verdict on a damaged file: it covers only the
// packets before the damage (exit status 3).
type partialError struct{ damage *pcapcheck.DamageError }

func (e *partialError) Error() string {
	return "partial verdict: " + e.damage.Error()
}

// ExitCode tells run the status that says "partial".
func (e *partialError) ExitCode() int { return exitPartial }

func (e *verdictError) Error() string {
	if len(e.problems) == 1 {
		return "L3 DSR verification failed: " + e.problems[0]
	}
	return fmt.Sprintf("L3 DSR verification failed: %s (and %s, listed in the report)", e.problems[0], pcapcheck.Plural(len(e.problems)-1, "more reason"))
}

func runVerify(cmd *cobra.Command, f *verifyFlags) error {
	p, err := parseVerifyFlags(cmd, f)
	if err != nil {
		return err
	}
	out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()

	// The mapping: from the flags, or from the module.
	var table verifyTable
	if p.role == pcapcheck.RealServer && !p.fromFlag && p.mode == pcapcheck.ModeDSCP {
		t, err := dialVerifyTable()
		if err != nil {
			if errors.Is(err, maptable.ErrNotLoaded) {
				return fmt.Errorf("reading the DSCP→VIP table: %w; or give the mapping with --map DSCP=VIP", err)
			}
			return hostError(fmt.Errorf("reading the DSCP→VIP table: %w", err))
		}
		defer t.Close()
		entries, err := t.List()
		if err != nil {
			return hostError(fmt.Errorf("reading the DSCP→VIP table: %w", err))
		}
		p.mapping = fromGenl(entries)
		table = t
	}
	an, err := pcapcheck.NewAnalyzer(pcapcheck.Config{Role: p.role, Mode: p.mode, Codes: p.codes, Mapping: p.mapping, Expect: p.expect})
	if err != nil {
		return err
	}

	var src pcapcheck.Source
	var live *pcapcheck.Live
	opt := pcapcheck.RunOptions{Count: f.count}
	what := ""
	if f.pcap != "" {
		// Reading a file, the heap is mostly the flow table, which only
		// grows: collecting at every doubling of the heap costs time (a
		// fifth of it on a file of a million packets) and frees little.
		if os.Getenv("GOGC") == "" {
			defer debug.SetGCPercent(debug.SetGCPercent(400))
		}
		fs, err := pcapcheck.OpenFile(f.pcap)
		if err != nil {
			return err
		}
		src, what = fs, f.pcap
	} else {
		spec, err := p.filterSpec(f.iface)
		if err != nil {
			return err
		}
		prog, err := pcapcheck.Filter(spec)
		if err != nil {
			return fmt.Errorf("building the capture filter: %w", err)
		}
		live, err = openLive(f.iface, prog, verifySnaplen)
		if err != nil {
			return err
		}
		src, what = live, f.iface
		opt.Filter = &spec
	}
	defer src.Close()

	if f.write != "" {
		w, err := createWriter(f.write, src.LinkType(), verifySnaplen)
		if err != nil {
			return err
		}
		opt.Write = w
	}
	if f.verbose {
		vout := out
		if f.output == "json" {
			vout = errOut
		}
		opt.OnPacket = func(pk *pcapcheck.Packet, c pcapcheck.Class) {
			if c != pcapcheck.Ignored {
				fmt.Fprintf(vout, "%s [%s]\n", pk, c)
			}
		}
	}

	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if f.duration > 0 && live != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.duration)
		defer cancel()
	}
	if live != nil && f.output != "json" {
		fmt.Fprintf(errOut, "l3dsr verify: capturing on %s (%s, DSCP %s); Ctrl-C stops and prints the summary\n", f.iface, p.role, p.codes)
	}
	st, runErr := pcapcheck.Run(ctx, src, an, opt)
	if opt.Write != nil {
		if err := opt.Write.Close(); err != nil && runErr == nil {
			runErr = err
		}
	}
	if runErr != nil {
		return runErr
	}
	var drops uint64
	if live != nil {
		drops, _ = live.Drops()
	}
	if table != nil {
		// The counters after the run; a failure here only loses them.
		if entries, err := table.List(); err == nil {
			an.UpdateCounters(fromGenl(entries))
		}
	}
	rep := an.Report()
	if err := printVerify(out, f.output, what, st, drops, p, rep); err != nil {
		return err
	}
	if !rep.OK {
		return &verdictError{rep.Problems}
	}
	if st.Damage != nil {
		return &partialError{st.Damage}
	}
	return nil
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

func printVerify(w io.Writer, format, what string, st pcapcheck.RunStats, drops uint64, p *verifyPlan, r pcapcheck.Report) error {
	mapping := "module"
	if p.fromFlag {
		mapping = "flags"
	}
	if p.role == pcapcheck.Director {
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
	if p.mode == pcapcheck.ModeIPIP {
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
	if p.role == pcapcheck.RealServer {
		fmt.Fprintln(tw, "DSCP\tPACKETS\tFLOWS\tVIP (LOCAL)\tTABLE PACKETS (+RUN)\tREPLIES VIP/RIP/OTHER\tANSWERED\tRESULT")
		for _, c := range r.PerCode {
			vip, ctr := "-", "-"
			if len(c.Mappings) > 0 {
				var vs, cs []string
				for _, m := range c.Mappings {
					vs = append(vs, fmt.Sprintf("%s (%s)", m.VIP, m.Local))
					if p.fromFlag {
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
	case p.role == pcapcheck.Director:
		fmt.Fprintln(w, "verdict: OK: every service's packets leave for the real servers with its DSCP")
	case p.mode == pcapcheck.ModeIPIP:
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

// verifySystem is the part of system the verify commands act on.
type verifySystem struct{}

func hostVerifySystem() verifySystem { return verifySystem{} }
