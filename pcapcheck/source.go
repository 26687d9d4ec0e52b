package pcapcheck

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// packetSource is where packets come from: a capture file or a live interface.
type packetSource interface {
	// readPacket returns the next frame; the data is valid until the next
	// call. At the end of a file the error is io.EOF; a live source
	// returns errNoPacket when none came for a while, so the caller can
	// look at its context.
	readPacket() ([]byte, gopacket.CaptureInfo, error)
	LinkType() layers.LinkType
	Close() error
}

// errNoPacket is returned by a live Source's readPacket when no packet
// arrived within its poll interval.
var errNoPacket = errors.New("no packet within the poll interval")

// multiLink is a Source whose packets come from several interfaces, each
// with its own link type (a pcapng file): CaptureInfo.InterfaceIndex
// names the interface.
type multiLink interface {
	Interfaces() []capIface
}

// fileSource reads a pcap or pcapng file.
type fileSource struct {
	f *os.File
	r *fileReader
}

// openFile opens a capture file, pcap or pcapng (told apart by content).
func openFile(name string) (*fileSource, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("opening the capture: %w", err)
	}
	r, err := newFileReader(bufio.NewReaderSize(f, 1<<20), name)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &fileSource{f: f, r: r}, nil
}

// newReaderSource reads a pcap or pcapng capture from r (named name in
// messages); Close does not close r.
func newReaderSource(r io.Reader, name string) (*fileSource, error) {
	// A small buffer: records longer than it take the other path.
	fr, err := newFileReader(bufio.NewReaderSize(r, 4096), name)
	if err != nil {
		return nil, err
	}
	return &fileSource{r: fr}, nil
}

// readPacket implements Source. A damaged file ends with a *damageError.
func (s *fileSource) readPacket() ([]byte, gopacket.CaptureInfo, error) {
	return s.r.next()
}

// LinkType implements Source: the first interface's (pcapng files may
// have more, see Interfaces).
func (s *fileSource) LinkType() layers.LinkType {
	if len(s.r.ifaces) == 0 && s.r.ng {
		// The interfaces of a pcapng file are described in blocks
		// after the section header: read up to the first one.
		s.r.peekInterfaces()
	}
	if len(s.r.ifaces) == 0 {
		return layers.LinkTypeEthernet
	}
	return s.r.ifaces[0].LinkType
}

// Interfaces implements multiLink: the interfaces described so far.
func (s *fileSource) Interfaces() []capIface { return s.r.ifaces }

// Close implements Source.
func (s *fileSource) Close() error {
	if s.f == nil {
		return nil
	}
	return s.f.Close()
}

// PacketWriter writes packets to a pcap file, or pcapng when its name ends
// in .pcapng.
type PacketWriter struct {
	f  *os.File
	bw *bufio.Writer
	pw *pcapgo.Writer
	nw *pcapgo.NgWriter
}

// createWriter creates (or truncates) name for packets of link type link.
func createWriter(name string, link layers.LinkType, snaplen uint32) (*PacketWriter, error) {
	f, err := os.Create(name)
	if err != nil {
		return nil, fmt.Errorf("creating the capture file: %w", err)
	}
	w := &PacketWriter{f: f, bw: bufio.NewWriterSize(f, 1<<16)}
	if strings.HasSuffix(strings.ToLower(name), ".pcapng") {
		w.nw, err = pcapgo.NewNgWriter(w.bw, link)
	} else {
		w.pw = pcapgo.NewWriter(w.bw)
		err = w.pw.WriteFileHeader(snaplen, link)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("writing the header of %s: %w", name, err)
	}
	return w, nil
}

// Write appends one packet.
func (w *PacketWriter) Write(ci gopacket.CaptureInfo, data []byte) error {
	ci.CaptureLength = len(data)
	if ci.Length < len(data) {
		ci.Length = len(data)
	}
	var err error
	if w.nw != nil {
		err = w.nw.WritePacket(ci, data)
	} else {
		err = w.pw.WritePacket(ci, data)
	}
	if err != nil {
		return fmt.Errorf("writing to %s: %w", w.f.Name(), err)
	}
	return nil
}

// Close flushes and closes the file.
func (w *PacketWriter) Close() error {
	if w.nw != nil {
		if err := w.nw.Flush(); err != nil {
			w.f.Close()
			return fmt.Errorf("writing to %s: %w", w.f.Name(), err)
		}
	}
	if err := w.bw.Flush(); err != nil {
		w.f.Close()
		return fmt.Errorf("writing to %s: %w", w.f.Name(), err)
	}
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", w.f.Name(), err)
	}
	return nil
}

// runOptions steer run.
type runOptions struct {
	// filter, if set, selects the packets looked at, with the capture
	// filter's semantics (a live capture's kernel filter has already
	// applied it; applying it again costs little). Nil: every IP packet.
	filter *filterSpec
	// Count stops after this many selected packets (0: no limit).
	Count int
	// OnPacket, if set, is called for each selected packet (for -v).
	OnPacket func(p *Packet, c Class)
	// Write, if set, receives each selected packet.
	Write *PacketWriter
}

// runStats are the figures of one run.
type runStats struct {
	Read     uint64 // frames read from the source
	Selected uint64 // frames the filter selected
	// PerInterface counts the frames read per capture interface (one for
	// a pcap file or a live capture).
	PerInterface []interfaceStats
	// Damage, when set, says where a capture file stopped being readable:
	// the figures are those of the packets before it.
	Damage *damageError
	// NotWritten counts packets Write could not take: their link type is
	// not the written file's.
	NotWritten uint64
}

// interfaceStats are the frames read from one capture interface.
type interfaceStats struct {
	Index    int    `json:"index"`
	Name     string `json:"name"`
	LinkType string `json:"link_type"`
	Read     uint64 `json:"read"`
	// Unsupported: the link type is one verify does not decode, so its
	// frames were read but not looked at.
	Unsupported bool `json:"unsupported"`
}

// linkNames are the link types a frameDecoder reads, named as tcpdump
// names them.
var linkNames = map[layers.LinkType]string{
	layers.LinkTypeEthernet: "EN10MB",
	layers.LinkTypeLinuxSLL: "LINUX_SLL",
	linkTypeLinuxSLL2:       "LINUX_SLL2",
	layers.LinkTypeRaw:      "RAW", 12: "RAW", 14: "RAW",
	layers.LinkTypeIPv4: "IPV4",
	layers.LinkTypeIPv6: "IPV6",
}

// linkName names a link type as tcpdump does.
func linkName(l layers.LinkType) string {
	if n, ok := linkNames[l]; ok {
		return n
	}
	return fmt.Sprintf("linktype %d", int(l))
}

// run reads src until it ends (io.EOF), ctx is done, or Count packets were
// selected, feeding the selected packets to an. Stopping through ctx is
// not an error: the caller reports what was seen so far. A damaged file is
// not an error either: run stops there and sets runStats.Damage.
func run(ctx context.Context, src packetSource, an *analyzer, opt runOptions) (runStats, error) {
	var st runStats
	first := src.LinkType()
	ml, multi := src.(multiLink)
	if !multi || len(ml.Interfaces()) <= 1 {
		// One link type for the whole source: refuse it up front.
		if _, err := newDecoder(first); err != nil {
			return st, err
		}
	}
	ld := &linkDecoders{first: first}
	if multi {
		ld.ml = ml
	}
	if fs, ok := src.(*fileSource); ok && opt.Write == nil && opt.filter == nil {
		return runFile(ctx, fs, ld, an, opt)
	}
	var writeLink layers.LinkType = first
	decoder := func(i int) *frameDecoder {
		d := ld.get(i)
		st.PerInterface = append(st.PerInterface, ld.added...)
		ld.added = ld.added[:0]
		return d
	}
	decoder(0)
	var p Packet
	done := ctx.Done()
	for {
		select {
		case <-done:
			return st, nil
		default:
		}
		data, ci, err := src.readPacket()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return st, nil
			}
			if errors.Is(err, errNoPacket) {
				continue
			}
			var de *damageError
			if errors.As(err, &de) {
				st.Damage = de
				return st, nil
			}
			return st, err
		}
		st.Read++
		ifi := ci.InterfaceIndex
		if ifi < 0 || ifi > 1<<16 {
			ifi = 0
		}
		dec := decoder(ifi)
		st.PerInterface[ifi].Read++
		if dec == nil || !dec.Decode(data, ci, &p) {
			an.packets++
			continue
		}
		if opt.filter != nil && p.Malformed == "" && !opt.filter.accepts(&p) {
			an.packets++
			continue
		}
		st.Selected++
		c := an.Add(&p)
		if opt.OnPacket != nil {
			opt.OnPacket(&p, c)
		}
		if opt.Write != nil {
			if dec.link != writeLink {
				st.NotWritten++
			} else if err := opt.Write.Write(ci, data); err != nil {
				return st, err
			}
		}
		if opt.Count > 0 && st.Selected >= uint64(opt.Count) {
			return st, nil
		}
	}
}

// linkDecoders are the decoders of a source's interfaces, made as the
// interfaces appear.
type linkDecoders struct {
	first layers.LinkType
	ml    multiLink // nil: one link type
	decs  []*frameDecoder
	// added are the interfaces met since the caller last took them.
	added []interfaceStats
}

// get returns interface i's decoder, nil for a link type not supported.
func (l *linkDecoders) get(i int) *frameDecoder {
	for len(l.decs) <= i {
		n := len(l.decs)
		link, name := l.first, ""
		if l.ml != nil {
			if ifs := l.ml.Interfaces(); n < len(ifs) {
				link, name = ifs[n].LinkType, ifs[n].Name
			}
		}
		d, err := newDecoder(link)
		l.added = append(l.added, interfaceStats{Index: n, Name: name, LinkType: linkName(link), Unsupported: err != nil})
		l.decs = append(l.decs, d)
	}
	return l.decs[i]
}

// ctxEvery is how many packets runFile reads between looks at its context.
const ctxEvery = 256

// readAhead is how many packets runFile decodes before judging them, so
// that the flow table's cache lines they need are loading meanwhile.
const readAhead = 8

type aheadItem struct {
	p   Packet
	x   lookAhead
	ifi int
	nif int // interfaces met up to this packet
	ok  bool
}

// runFile is run for a file with neither filter nor writer: read, decode
// and judge in one loop, in the caller's goroutine, decoding readAhead
// packets ahead. (Reading and decoding in another goroutine, handing
// packets over in batches, saved about a tenth of the wall-clock time
// when the second core was idle, but cost half as much CPU time again,
// and gained nothing when that core was busy.)
func runFile(ctx context.Context, src *fileSource, ld *linkDecoders, an *analyzer, opt runOptions) (runStats, error) {
	var st runStats
	var ifs []interfaceStats // met so far, read ahead included
	ring := make([]aheadItem, readAhead)
	head, n := 0, 0
	var rerr error
	done := ctx.Done()
	for {
		for n < readAhead && rerr == nil {
			data, ci, err := src.readPacket()
			if err != nil {
				rerr = err
				break
			}
			ifi := ci.InterfaceIndex
			if ifi < 0 || ifi > 1<<16 {
				ifi = 0
			}
			dec := ld.get(ifi)
			if len(ld.added) > 0 {
				ifs = append(ifs, ld.added...)
				ld.added = ld.added[:0]
			}
			it := &ring[(head+n)%readAhead]
			it.ifi, it.nif = ifi, len(ifs)
			it.ok = dec != nil && dec.Decode(data, ci, &it.p)
			if it.ok {
				it.x = an.ahead(&it.p)
			}
			n++
		}
		if n == 0 {
			var de *damageError
			switch {
			case errors.Is(rerr, io.EOF):
				return st, nil
			case errors.As(rerr, &de):
				st.Damage = de
				return st, nil
			}
			return st, rerr
		}
		if n > readAhead/2 {
			an.ahead2(&ring[(head+readAhead/2)%readAhead].x)
		}
		it := &ring[head]
		head, n = (head+1)%readAhead, n-1
		if st.Read%ctxEvery == 0 {
			select {
			case <-done:
				return st, nil
			default:
			}
		}
		for len(st.PerInterface) < it.nif {
			st.PerInterface = append(st.PerInterface, ifs[len(st.PerInterface)])
		}
		st.Read++
		st.PerInterface[it.ifi].Read++
		if !it.ok {
			an.packets++
			continue
		}
		st.Selected++
		c := an.add(&it.p, it.x)
		if opt.OnPacket != nil {
			opt.OnPacket(&it.p, c)
		}
		if opt.Count > 0 && st.Selected >= uint64(opt.Count) {
			return st, nil
		}
	}
}
