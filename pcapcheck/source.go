package pcapcheck

import (
	"bufio"
	"bytes"
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

// Source is where packets come from: a capture file or a live interface.
type Source interface {
	// ReadPacket returns the next frame; the data is valid until the next
	// call. At the end of a file the error is io.EOF; a live source
	// returns ErrNoPacket when none came for a while, so the caller can
	// look at its context.
	ReadPacket() ([]byte, gopacket.CaptureInfo, error)
	LinkType() layers.LinkType
	Close() error
}

// ErrNoPacket is returned by a live Source's ReadPacket when no packet
// arrived within its poll interval.
var ErrNoPacket = errors.New("no packet within the poll interval")

type zeroCopyReader interface {
	ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	LinkType() layers.LinkType
}

// FileSource reads a pcap or pcapng file.
type FileSource struct {
	f    *os.File
	r    zeroCopyReader
	name string
}

var pcapngMagic = []byte{0x0a, 0x0d, 0x0d, 0x0a}

// OpenFile opens a capture file, pcap or pcapng (told apart by content).
func OpenFile(name string) (*FileSource, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("opening the capture: %w", err)
	}
	br := bufio.NewReaderSize(f, 1<<20)
	head, err := br.Peek(4)
	if err != nil {
		f.Close()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s is not a pcap or pcapng file: it is shorter than a file header", name)
		}
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	s := &FileSource{f: f, name: name}
	if bytes.Equal(head, pcapngMagic) {
		r, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{})
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: not a readable pcapng file: %w", name, err)
		}
		s.r = r
	} else {
		r, err := pcapgo.NewReader(br)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: not a pcap or pcapng file: %w", name, err)
		}
		s.r = r
	}
	return s, nil
}

// ReadPacket implements Source.
func (s *FileSource) ReadPacket() ([]byte, gopacket.CaptureInfo, error) {
	data, ci, err := s.r.ZeroCopyReadPacketData()
	if err != nil && !errors.Is(err, io.EOF) {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, ci, fmt.Errorf("%s: the file ends in the middle of a packet (cut short?): %w", s.name, err)
		}
		return nil, ci, fmt.Errorf("reading %s: %w", s.name, err)
	}
	return data, ci, err
}

// LinkType implements Source.
func (s *FileSource) LinkType() layers.LinkType { return s.r.LinkType() }

// Close implements Source.
func (s *FileSource) Close() error { return s.f.Close() }

// PacketWriter writes packets to a pcap file, or pcapng when its name ends
// in .pcapng.
type PacketWriter struct {
	f  *os.File
	bw *bufio.Writer
	pw *pcapgo.Writer
	nw *pcapgo.NgWriter
}

// CreateWriter creates (or truncates) name for packets of link type link.
func CreateWriter(name string, link layers.LinkType, snaplen uint32) (*PacketWriter, error) {
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

// RunOptions steer Run.
type RunOptions struct {
	// Filter, if set, selects the packets looked at, with the capture
	// filter's semantics (a live capture's kernel filter has already
	// applied it; applying it again costs little). Nil: every IP packet.
	Filter *FilterSpec
	// Count stops after this many selected packets (0: no limit).
	Count int
	// OnPacket, if set, is called for each selected packet (for -v).
	OnPacket func(p *Packet, c Class)
	// Write, if set, receives each selected packet.
	Write *PacketWriter
}

// RunStats are the figures of one Run.
type RunStats struct {
	Read     uint64 // frames read from the source
	Selected uint64 // frames the filter selected
}

// Run reads src until it ends (io.EOF), ctx is done, or Count packets were
// selected, feeding the selected packets to an. Stopping through ctx is
// not an error: the caller reports what was seen so far.
func Run(ctx context.Context, src Source, an *Analyzer, opt RunOptions) (RunStats, error) {
	var st RunStats
	dec, err := NewDecoder(src.LinkType())
	if err != nil {
		return st, err
	}
	var p Packet
	done := ctx.Done()
	for {
		select {
		case <-done:
			return st, nil
		default:
		}
		data, ci, err := src.ReadPacket()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return st, nil
			}
			if errors.Is(err, ErrNoPacket) {
				continue
			}
			return st, err
		}
		st.Read++
		if !dec.Decode(data, ci, &p) {
			continue
		}
		if opt.Filter != nil && !opt.Filter.Accepts(&p) {
			continue
		}
		st.Selected++
		c := an.Add(&p)
		if opt.OnPacket != nil {
			opt.OnPacket(&p, c)
		}
		if opt.Write != nil {
			if err := opt.Write.Write(ci, data); err != nil {
				return st, err
			}
		}
		if opt.Count > 0 && st.Selected >= uint64(opt.Count) {
			return st, nil
		}
	}
}
