package pcapcheck

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// damageError says where a capture file stops being readable. Every
// record before it was read whole; run reports on those and returns it.
type damageError struct {
	Name string
	// Offset is the byte where the damaged record starts, Record its
	// number (1 = the file's first packet record or pcapng block).
	Offset int64
	Record uint64
	// Unit is "record" (pcap) or "block" (pcapng).
	Unit   string
	Reason string
}

func (e *damageError) Error() string {
	return fmt.Sprintf("%s is damaged at byte %d (%s %d): %s; the packets before it were read", e.Name, e.Offset, e.Unit, e.Record, e.Reason)
}

// capIface is one capture interface of a file: pcap has one, pcapng one
// per Interface Description Block.
type capIface struct {
	Name     string
	LinkType layers.LinkType
	SnapLen  uint32
	// tsUnit: nanoseconds per timestamp unit when tsPow10 is 0; else
	// the timestamp counts 10^-tsPow10 s (or 2^-tsPow2 s).
	tsPow10, tsPow2 int
}

// maxRecord bounds a record's length when the header gives no snap length,
// as libpcap does (262144 is its largest snap length).
const maxRecord = 262144

// fileReader reads pcap and pcapng records without copying them: the data
// returned points into its buffer until the next call.
type fileReader struct {
	br     *bufio.Reader
	name   string
	ng     bool
	order  binary.ByteOrder
	nanos  bool // pcap: nanosecond timestamps
	swap   bool // pcap: big-endian
	ifaces []capIface
	off    int64  // of the next record
	rec    uint64 // records (pcap) or blocks (pcapng) read
	big    []byte // for records longer than the buffer
	// pending is a packet read ahead by peekInterfaces.
	pending *pendingPacket
}

type pendingPacket struct {
	data []byte
	ci   gopacket.CaptureInfo
	err  error
}

// peekInterfaces reads a pcapng file up to its first packet, so that the
// interfaces described before it are known; next returns that packet.
func (r *fileReader) peekInterfaces() {
	if r.pending == nil {
		d, ci, err := r.nextNg()
		r.pending = &pendingPacket{d, ci, err}
	}
}

func (r *fileReader) damaged(reason string, args ...any) error {
	unit := "record"
	if r.ng {
		unit = "block"
	}
	return &damageError{Name: r.name, Offset: r.off, Record: r.rec + 1, Unit: unit, Reason: fmt.Sprintf(reason, args...)}
}

// take returns the next n bytes and consumes them. A short read at the
// end of the file is damage unless nothing of the record was there.
func (r *fileReader) take(n int) ([]byte, error) {
	var b []byte
	var err error
	if n <= r.br.Size() {
		b, err = r.br.Peek(n)
		if err == nil {
			r.br.Discard(n)
		}
	} else {
		// Grown as the data comes: a damaged header may claim far more
		// than the file holds.
		r.big = r.big[:0]
		for len(r.big) < n {
			var c []byte
			c, err = r.br.Peek(min(n-len(r.big), r.br.Size()))
			r.big = append(r.big, c...)
			r.br.Discard(len(c))
			if err != nil {
				break
			}
		}
		b = r.big
	}
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("reading %s: %w", r.name, err)
	}
	if len(b) < n {
		return b, io.ErrUnexpectedEOF
	}
	return b, nil
}

func newFileReader(br *bufio.Reader, name string) (*fileReader, error) {
	r := &fileReader{br: br, name: name}
	head, err := br.Peek(4)
	if err != nil {
		return nil, fmt.Errorf("%s is not a pcap or pcapng file: it is shorter than a file header", name)
	}
	if binary.BigEndian.Uint32(head) == 0x0a0d0d0a {
		r.ng = true
		// The Section Header Block is read like any block.
		return r, nil
	}
	h, err := r.take(24)
	if err != nil {
		return nil, fmt.Errorf("%s is not a pcap or pcapng file: it is shorter than a file header", name)
	}
	switch binary.LittleEndian.Uint32(h) {
	case 0xa1b2c3d4:
		r.order = binary.LittleEndian
	case 0xa1b23c4d:
		r.order, r.nanos = binary.LittleEndian, true
	case 0xd4c3b2a1:
		r.order, r.swap = binary.BigEndian, true
	case 0x4d3cb2a1:
		r.order, r.nanos, r.swap = binary.BigEndian, true, true
	default:
		return nil, fmt.Errorf("%s: not a pcap or pcapng file (magic %#08x)", name, binary.BigEndian.Uint32(h))
	}
	// The link type's upper bits may carry FCS information (pcap 2.4).
	link := layers.LinkType(r.order.Uint32(h[20:]) & 0xffff)
	r.ifaces = []capIface{{LinkType: link, SnapLen: r.order.Uint32(h[16:])}}
	r.off = 24
	return r, nil
}

// next returns the next packet; io.EOF at a clean end, a *damageError
// where the file is damaged.
func (r *fileReader) next() ([]byte, gopacket.CaptureInfo, error) {
	if r.ng {
		if p := r.pending; p != nil {
			r.pending = nil
			return p.data, p.ci, p.err
		}
		return r.nextNg()
	}
	var ci gopacket.CaptureInfo
	h, err := r.take(16)
	if err != nil {
		if len(h) == 0 && errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, ci, io.EOF
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, ci, r.damaged("the file ends inside a record header (%d of 16 bytes): cut short, as by a killed capture or a full disk", len(h))
		}
		return nil, ci, err
	}
	// The byte order by hand: four calls through the ByteOrder interface
	// per record were a few percent of reading a file.
	sec, frac := binary.LittleEndian.Uint32(h), binary.LittleEndian.Uint32(h[4:])
	caplen, wire := binary.LittleEndian.Uint32(h[8:]), binary.LittleEndian.Uint32(h[12:])
	if r.swap {
		sec, frac = bits.ReverseBytes32(sec), bits.ReverseBytes32(frac)
		caplen, wire = bits.ReverseBytes32(caplen), bits.ReverseBytes32(wire)
	}
	limit := r.ifaces[0].SnapLen
	if limit == 0 || limit > maxRecord {
		limit = maxRecord
	}
	if caplen > limit {
		return nil, ci, r.damaged("the record header claims %d captured bytes, more than the snap length %d", caplen, limit)
	}
	data, err := r.take(int(caplen))
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, ci, r.damaged("the file ends inside a packet (%d of %d bytes): cut short, as by a killed capture or a full disk", len(data), caplen)
		}
		return nil, ci, err
	}
	if !r.nanos {
		frac *= 1000
	}
	ci = gopacket.CaptureInfo{Timestamp: time.Unix(int64(sec), int64(frac)).UTC(), CaptureLength: int(caplen), Length: int(wire)}
	r.off += 16 + int64(caplen)
	r.rec++
	return data, ci, nil
}

func (r *fileReader) nextNg() ([]byte, gopacket.CaptureInfo, error) {
	var ci gopacket.CaptureInfo
	for {
		h, err := r.br.Peek(12)
		if len(h) == 0 && err != nil {
			if errors.Is(err, io.EOF) {
				return nil, ci, io.EOF
			}
			return nil, ci, fmt.Errorf("reading %s: %w", r.name, err)
		}
		if len(h) < 12 {
			return nil, ci, r.damaged("the file ends inside a block header (%d of 12 bytes): cut short, as by a killed capture or a full disk", len(h))
		}
		btype := binary.BigEndian.Uint32(h)
		if btype == 0x0a0d0d0a {
			// A new section: its byte order is in its own header.
			switch binary.LittleEndian.Uint32(h[8:]) {
			case 0x1a2b3c4d:
				r.order = binary.LittleEndian
			case 0x4d3c2b1a:
				r.order = binary.BigEndian
			default:
				return nil, ci, r.damaged("a section header with an unknown byte-order magic")
			}
			r.ifaces = r.ifaces[:0]
		} else if r.order == nil {
			return nil, ci, fmt.Errorf("%s: not a pcapng file: it does not start with a section header", r.name)
		} else {
			btype = r.order.Uint32(h)
		}
		blen := r.order.Uint32(h[4:])
		if blen < 12 || blen%4 != 0 || blen > 64<<20 {
			return nil, ci, r.damaged("a block claims a length of %d bytes", blen)
		}
		b, err := r.take(int(blen))
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, ci, r.damaged("the file ends inside a block (%d of %d bytes): cut short, as by a killed capture or a full disk", len(b), blen)
			}
			return nil, ci, err
		}
		if r.order.Uint32(b[blen-4:]) != blen {
			return nil, ci, r.damaged("a block's trailing length does not match its leading length %d", blen)
		}
		body := b[8 : blen-4]
		data, ci, ok, err := r.block(btype, body)
		if err != nil {
			return nil, ci, err
		}
		r.off += int64(blen)
		r.rec++
		if ok {
			return data, ci, nil
		}
	}
}

// block decodes one pcapng block body; ok tells that it held a packet.
func (r *fileReader) block(btype uint32, body []byte) (data []byte, ci gopacket.CaptureInfo, ok bool, err error) {
	o := r.order
	switch btype {
	case 1: // capIface Description Block
		if len(body) < 8 {
			return nil, ci, false, r.damaged("an interface description block of %d bytes", len(body))
		}
		ifc := capIface{LinkType: layers.LinkType(o.Uint16(body)), SnapLen: o.Uint32(body[4:]), tsPow10: 6}
		opts := body[8:]
		for len(opts) >= 4 {
			code, l := o.Uint16(opts), int(o.Uint16(opts[2:]))
			if code == 0 || 4+l > len(opts) {
				break
			}
			v := opts[4 : 4+l]
			switch {
			case code == 2 && l > 0: // if_name
				ifc.Name = string(v)
			case code == 9 && l >= 1: // if_tsresol
				if v[0]&0x80 != 0 {
					ifc.tsPow10, ifc.tsPow2 = 0, int(v[0]&0x7f)
				} else {
					ifc.tsPow10 = int(v[0])
				}
			}
			// Options are padded to 32 bits; a last one may lack its padding.
			opts = opts[min(4+(l+3)&^3, len(opts)):]
		}
		r.ifaces = append(r.ifaces, ifc)
		return nil, ci, false, nil
	case 6: // Enhanced Packet Block
		if len(body) < 20 {
			return nil, ci, false, r.damaged("an enhanced packet block of %d bytes", len(body))
		}
		id := o.Uint32(body)
		ts := uint64(o.Uint32(body[4:]))<<32 | uint64(o.Uint32(body[8:]))
		caplen, wire := o.Uint32(body[12:]), o.Uint32(body[16:])
		if int(id) >= len(r.ifaces) {
			return nil, ci, false, r.damaged("a packet names interface %d, but the section describes %d", id, len(r.ifaces))
		}
		if uint64(caplen) > uint64(len(body)-20) {
			return nil, ci, false, r.damaged("a packet claims %d captured bytes in a block of %d", caplen, len(body)+12)
		}
		if s := r.ifaces[id].SnapLen; s != 0 && caplen > s {
			return nil, ci, false, r.damaged("a packet claims %d captured bytes, more than its interface's snap length %d", caplen, s)
		}
		ci = gopacket.CaptureInfo{Timestamp: r.ifaces[id].time(ts), CaptureLength: int(caplen), Length: int(wire), InterfaceIndex: int(id)}
		return body[20 : 20+caplen], ci, true, nil
	case 3: // Simple Packet Block: interface 0, no timestamp
		if len(body) < 4 || len(r.ifaces) == 0 {
			return nil, ci, false, r.damaged("a simple packet block without an interface")
		}
		wire := o.Uint32(body)
		caplen := min(uint32(len(body)-4), wire)
		if s := r.ifaces[0].SnapLen; s != 0 {
			caplen = min(caplen, s)
		}
		ci = gopacket.CaptureInfo{CaptureLength: int(caplen), Length: int(wire)}
		return body[4 : 4+caplen], ci, true, nil
	case 2: // Packet Block (obsolete)
		if len(body) < 20 {
			return nil, ci, false, r.damaged("a packet block of %d bytes", len(body))
		}
		id := o.Uint16(body)
		ts := uint64(o.Uint32(body[4:]))<<32 | uint64(o.Uint32(body[8:]))
		caplen, wire := o.Uint32(body[12:]), o.Uint32(body[16:])
		if int(id) >= len(r.ifaces) || uint64(caplen) > uint64(len(body)-20) {
			return nil, ci, false, r.damaged("a packet block with a bad interface or length")
		}
		ci = gopacket.CaptureInfo{Timestamp: r.ifaces[id].time(ts), CaptureLength: int(caplen), Length: int(wire), InterfaceIndex: int(id)}
		return body[20 : 20+caplen], ci, true, nil
	}
	return nil, ci, false, nil
}

func (i *capIface) time(ts uint64) time.Time {
	if i.tsPow2 != 0 {
		sec := ts >> i.tsPow2
		frac := ts & (1<<i.tsPow2 - 1)
		return time.Unix(int64(sec), int64(frac*1e9>>i.tsPow2)).UTC()
	}
	div := uint64(1)
	for k := 0; k < i.tsPow10 && k < 19; k++ {
		div *= 10
	}
	sec, frac := ts/div, ts%div
	ns := frac
	switch {
	case i.tsPow10 < 9:
		for k := i.tsPow10; k < 9; k++ {
			ns *= 10
		}
	case i.tsPow10 > 9:
		for k := 9; k < i.tsPow10; k++ {
			ns /= 10
		}
	}
	return time.Unix(int64(sec), int64(ns)).UTC()
}
