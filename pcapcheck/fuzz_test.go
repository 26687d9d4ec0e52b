package pcapcheck

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/l3dsr/l3dsr/pcapcheck/pcapgen"
)

// fuzzLinks are the link types a fuzzed frame is decoded as.
var fuzzLinks = []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeLinuxSLL, linkTypeLinuxSLL2, layers.LinkTypeRaw}

func seedFrames() [][]byte {
	o := &pcapgen.Outer{Src: rip4, Dst: cli4, DSCP: 21}
	ps := []pcapgen.Packet{
		{Src: cli4, Dst: rip4, DSCP: 21, Proto: 6, SrcPort: 1, DstPort: 80},
		{Tags: []uint16{0x9100, 0x8100}, Src: cli6, Dst: rip6, DSCP: 22, Proto: 17, SrcPort: 1, DstPort: 80,
			Ext: []pcapgen.Ext{{Type: 0}, {Type: 60, Len: 16}, {Type: 43}, {Type: 51, Len: 24}, {Type: 44, MoreFrags: true}}},
		{Src: cli6, Dst: rip6, DSCP: 22, Proto: 17, Ext: []pcapgen.Ext{{Type: 44, FragOffset: 9}}},
		{Src: cli4, Dst: vip4, DSCP: 21, Proto: 6, SrcPort: 1, DstPort: 80, Outer: o},
		{Src: cli6, Dst: vip6, Proto: 6, SrcPort: 1, DstPort: 80, Outer: &pcapgen.Outer{Src: rip6, Dst: cli6, GRE: true}},
		{Src: cli4, Dst: rip4, DSCP: 21, Proto: 6, IPv4Options: 3, Version: 6},
	}
	var out [][]byte
	for _, p := range ps {
		out = append(out, p.Bytes())
	}
	return out
}

// FuzzDecode: any frame, of any link type verify reads, decodes to a
// Packet the analyzer and the -v line take, without a panic.
func FuzzDecode(f *testing.F) {
	for _, b := range seedFrames() {
		f.Add(b)
		f.Add(b[14:])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := newAnalyzer(config{Role: roleRealServer, Codes: allMarked, Mapping: []MapEntry{{DSCP: 21, VIP: vip4}, {DSCP: 22, VIP: vip6}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, link := range fuzzLinks {
			d, err := newDecoder(link)
			if err != nil {
				t.Fatal(err)
			}
			for _, wire := range []int{len(data), len(data) + 100} {
				var p Packet
				if !d.Decode(data, gopacket.CaptureInfo{Length: wire, CaptureLength: len(data)}, &p) {
					continue
				}
				if p.Malformed == "" && p.Family != 4 && p.Family != 6 || p.DSCP > 63 || p.Malformed != "" && p.Family != 0 {
					t.Fatalf("%v: decoded %+v", link, p)
				}
				a.Add(&p)
				_ = p.String()
			}
		}
		a.report()
	})
}

// seedFiles are whole captures: pcap and pcapng, whole and cut.
func seedFiles(f *testing.F) [][]byte {
	var out [][]byte
	for _, ng := range []bool{false, true} {
		var buf bytes.Buffer
		w, err := pcapgen.NewWriter(&buf, ng, 65535)
		if err != nil {
			f.Fatal(err)
		}
		for _, b := range seedFrames() {
			if err := w.Write(b, 0); err != nil {
				f.Fatal(err)
			}
		}
		w.Close()
		b := buf.Bytes()
		out = append(out, b, b[:len(b)-7])
	}
	// A big-endian nanosecond pcap header with one record.
	be := binary.BigEndian.AppendUint32(nil, 0xa1b23c4d)
	be = append(be, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 1)
	frame := seedFrames()[0]
	be = binary.BigEndian.AppendUint32(be, 1)
	be = binary.BigEndian.AppendUint32(be, 5)
	be = binary.BigEndian.AppendUint32(be, uint32(len(frame)))
	be = binary.BigEndian.AppendUint32(be, uint32(len(frame)))
	out = append(out, append(be, frame...))
	return out
}

// FuzzReadCapture: any file gives a report, or an error saying why it
// cannot be read (a damaged file a report and a damageError), never a panic.
func FuzzReadCapture(f *testing.F) {
	for _, b := range seedFiles(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		src, err := newReaderSource(bytes.NewReader(data), "fuzz")
		if err != nil {
			return
		}
		a, err := newAnalyzer(config{Role: roleRealServer, Codes: allMarked, Mapping: []MapEntry{{DSCP: 21, VIP: vip4}}})
		if err != nil {
			t.Fatal(err)
		}
		st, err := run(context.Background(), src, a, runOptions{OnPacket: func(p *Packet, _ Class) { _ = p.String() }})
		var de *damageError
		if errors.As(err, &de) {
			t.Fatalf("a damageError is returned in runStats, not as an error: %v", err)
		}
		if err != nil {
			return
		}
		r := a.report()
		if r.Packets != st.Read {
			t.Fatalf("report counts %d packets, %d were read", r.Packets, st.Read)
		}
		if st.Damage != nil && st.Damage.Offset < 0 {
			t.Fatalf("damage at a negative offset: %v", st.Damage)
		}
	})
}
