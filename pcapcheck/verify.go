package pcapcheck

import (
	"context"
	"fmt"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/l3dsr/l3dsr/dsrtypes"
	"golang.org/x/net/bpf"
)

// captureSnaplen is how much of each packet a live capture keeps, and the snap
// length of the file Options.Write names.
const captureSnaplen = 65535

// Table is the real server's DSCP→VIP table as verify reads it: once
// before the capture (the mapping) and once after (the counters). The
// backend behind it is the caller's: pcapcheck reads no kernel table.
type Table interface {
	List() ([]MapEntry, error)
}

// Options are one verification: what to judge, against what, from where.
type Options struct {
	Role Role
	Mode dsrtypes.Mode
	// Codes are the DSCP codes looked at; zero means the role's default:
	// every marked code (1-63) on a real server, the expect codes on a
	// director. Check fills it in.
	Codes DSCPSet
	// Mapping is the DSCP→VIP table given by the operator; Table, when
	// set, is read instead (see UsesTable).
	Mapping []MapEntry
	Table   Table
	// expect is the director's DSCP per VIP.
	expect []Expectation
	// ports narrow a live capture on a real server to the replies from
	// these service ports (none: every port).
	ports []uint16

	// Iface captures live on an interface; File reads a pcap or pcapng
	// file. One of them.
	Iface, File string
	// Count stops after this many packets looked at (0: no limit);
	// Duration stops a live capture after this long (0: when ctx ends).
	Count    int
	Duration time.Duration
	// Write, if set, names a file that receives the packets looked at
	// (pcap; pcapng if it ends in .pcapng).
	Write string

	// OnPacket, if set, is called for each packet looked at that counts
	// to the verdict (for -v).
	OnPacket func(p *Packet, c Class)
	// OnCapture, if set, is called once a live capture is open, before
	// its first packet.
	OnCapture func()
	// OpenLive and CreateWriter open the live capture and the file Write
	// names; nil means this package's own (tests give fakes, so that no
	// test captures on its host or writes a file).
	OpenLive     func(iface string, filter []bpf.RawInstruction, snaplen int) (*Live, error)
	CreateWriter func(name string, link layers.LinkType, snaplen uint32) (*PacketWriter, error)
}

// UsesTable tells whether the mapping comes from the module's table: on a
// real server in DSCP mode with no Mapping given. The caller opens the
// table then and sets Table.
func (o *Options) UsesTable() bool {
	return o.Role == roleRealServer && o.Mode != dsrtypes.ModeIPIP && len(o.Mapping) == 0
}

// Check fills in the defaults (Mode, Codes) and checks the mapping and the
// expectations, so that bad input is refused before anything is opened.
func (o *Options) Check() error {
	if o.Mode == "" {
		o.Mode = dsrtypes.ModeDSCP
	}
	if o.Codes == 0 {
		if o.Role == roleDirector {
			for _, e := range o.expect {
				o.Codes |= 1 << (e.DSCP & uint8(dsrtypes.MaxDSCP))
			}
		} else {
			o.Codes = allMarked
		}
	}
	_, err := newAnalyzer(o.config())
	return err
}

func (o *Options) config() config {
	return config{Role: o.Role, Mode: o.Mode, Codes: o.Codes, Mapping: o.Mapping, Expect: o.expect, Ports: o.ports}
}

// Result is what Verify saw and its verdict.
type Result struct {
	// Source is the file or interface read.
	Source string
	Stats  runStats
	// drops counts the packets the kernel dropped during a live capture.
	drops  uint64
	Report Report
}

// Err is the verdict as an error: nil when it is OK on the whole capture,
// a *verdictError when it is not OK, a *PartialError when it is OK on the
// packets before the damage of a damaged file.
func (r *Result) Err() error {
	switch {
	case !r.Report.OK:
		return &verdictError{r.Report.Problems}
	case r.Stats.Damage != nil:
		return &PartialError{r.Stats.Damage}
	}
	return nil
}

// verdictError is a verdict that is not OK.
type verdictError struct{ Problems []string }

func (e *verdictError) Error() string {
	if len(e.Problems) == 1 {
		return "L3 DSR verification failed: " + e.Problems[0]
	}
	return fmt.Sprintf("L3 DSR verification failed: %s (and %s, listed in the report)", e.Problems[0], plural(len(e.Problems)-1, "more reason"))
}

// PartialError is an OK verdict on a damaged file: it covers only the
// packets before the damage.
type PartialError struct{ Damage *damageError }

func (e *PartialError) Error() string { return "partial verdict: " + e.Damage.Error() }

func (e *PartialError) Unwrap() error { return e.Damage }

// Verify captures (Iface) or reads (File) packets until the source ends,
// Count or Duration is reached, or ctx is done, and judges them. Its error
// says that verify could not run (Table's errors are returned as they
// are); the verdict is in the Result (see Result.Err), which is valid
// whenever the error is nil.
func Verify(ctx context.Context, o Options) (*Result, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	if o.Table != nil {
		entries, err := o.Table.List()
		if err != nil {
			return nil, err
		}
		o.Mapping = entries
	}
	an, err := newAnalyzer(o.config())
	if err != nil {
		return nil, err
	}
	res := &Result{}
	var src packetSource
	var live *Live
	opt := runOptions{Count: o.Count}
	if o.File != "" {
		fs, err := openFile(o.File)
		if err != nil {
			return nil, err
		}
		src, res.Source = fs, o.File
	} else {
		spec, err := liveFilter(&o)
		if err != nil {
			return nil, err
		}
		prog, err := filter(spec)
		if err != nil {
			return nil, fmt.Errorf("building the capture filter: %w", err)
		}
		open := o.OpenLive
		if open == nil {
			open = openLive
		}
		if live, err = open(o.Iface, prog, captureSnaplen); err != nil {
			return nil, err
		}
		src, res.Source = live, o.Iface
		opt.filter = &spec
	}
	defer src.Close()
	if o.Write != "" {
		create := o.CreateWriter
		if create == nil {
			create = createWriter
		}
		if opt.Write, err = create(o.Write, src.LinkType(), captureSnaplen); err != nil {
			return nil, err
		}
	}
	if o.OnPacket != nil {
		opt.OnPacket = func(p *Packet, c Class) {
			if c != ignored {
				o.OnPacket(p, c)
			}
		}
	}
	if live != nil {
		if o.Duration > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, o.Duration)
			defer cancel()
		}
		if o.OnCapture != nil {
			o.OnCapture()
		}
	}
	st, runErr := run(ctx, src, an, opt)
	if opt.Write != nil {
		if err := opt.Write.Close(); err != nil && runErr == nil {
			runErr = err
		}
	}
	if runErr != nil {
		return nil, runErr
	}
	res.Stats = st
	if live != nil {
		res.drops, _ = live.drops()
	}
	if o.Table != nil {
		// The counters after the run; a failure here only loses them.
		if entries, err := o.Table.List(); err == nil {
			an.updateCounters(entries)
		}
	}
	res.Report = an.report()
	return res, nil
}
