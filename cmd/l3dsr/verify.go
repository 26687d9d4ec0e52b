package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/gopacket/gopacket/layers"
	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/maptable"
	"github.com/l3dsr/l3dsr/pcapcheck"
	"github.com/spf13/cobra"
	"golang.org/x/net/bpf"
)

// verifyFlags are verify's flags: the verification's (pcapcheck.Args) and
// the output's.
type verifyFlags struct {
	pcapcheck.Args
	output  string
	verbose bool
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
	f.AddFlags(fl)
	fl.StringVarP(&f.output, "output", "o", "table", "output format: table or json")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "print a tcpdump-like line per packet, with the TOS/DSCP and what it was to the verdict")
	return cmd
}

// parseVerifyFlags checks the command line and turns it into the options
// of one verification.
func parseVerifyFlags(cmd *cobra.Command, f *verifyFlags) (*pcapcheck.Options, error) {
	switch {
	case f.Iface == "" && f.File == "":
		return nil, usageErrorf("give --iface IFACE to capture live or --pcap FILE to read a capture")
	case f.Iface != "" && f.File != "":
		return nil, usageErrorf("--iface and --pcap exclude each other: capture live or read a file")
	}
	if err := checkOutput(f.output); err != nil {
		return nil, err
	}
	f.DurationSet = cmd.Flags().Changed("duration")
	f.CheckMapping = func(e pcapcheck.MapEntry) error {
		return maptable.Entry{DSCP: dsrtypes.DSCP(e.DSCP), AnyDSCP: e.AnyDSCP, VIP: e.VIP, Local: e.Local}.Validate()
	}
	o, err := f.Options()
	if err != nil {
		return nil, &usageError{err}
	}
	return o, nil
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
		out[i] = pcapcheck.MapEntry{DSCP: uint8(e.DSCP), AnyDSCP: e.AnyDSCP, Local: e.Local, VIP: e.VIP, Packets: e.Packets, Bytes: e.Bytes}
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
	if f.File != "" && os.Getenv("GOGC") == "" {
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
			fmt.Fprintf(errOut, "l3dsr verify: capturing on %s (%s, DSCP %s); Ctrl-C stops and prints the summary\n", f.Iface, o.Role, o.Codes)
		}
	}
	o.OpenLive, o.CreateWriter = sys.openLive, sys.createWriter

	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := pcapcheck.Verify(ctx, *o)
	if err != nil {
		return err
	}
	if err := pcapcheck.WriteReport(out, f.output, o, res); err != nil {
		return err
	}
	err = res.Err()
	var pe *pcapcheck.PartialError
	if errors.As(err, &pe) {
		return partialError{pe}
	}
	return err
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
