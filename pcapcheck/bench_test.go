package pcapcheck

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/l3dsr/l3dsr/pcapcheck/pcapgen"
)

// benchFrames is a mixed set of frames, as the benchmark script's file.
func benchFrames(b *testing.B, n int) [][]byte {
	var buf bytes.Buffer
	w, err := pcapgen.NewWriter(&buf, false, 65535)
	if err != nil {
		b.Fatal(err)
	}
	if err := (pcapgen.Mix{Seed: 1, Codes: []uint8{21, 22, 23, 46}, IPv6: true, Tags: true, Truncate: true, Noise: true}).Generate(w, n); err != nil {
		b.Fatal(err)
	}
	w.Close()
	path := filepath.Join(b.TempDir(), "b.pcap")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	src, err := openFile(path)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	var out [][]byte
	for {
		d, _, err := src.readPacket()
		if err != nil {
			break
		}
		out = append(out, bytes.Clone(d))
	}
	return out
}

// BenchmarkDecode: decoding alone (gopacket's DecodingLayerParser plus the
// DSCP/ports extraction), frames in memory.
func BenchmarkDecode(b *testing.B) {
	frames := benchFrames(b, 4096)
	dec, _ := newDecoder(layers.LinkTypeEthernet)
	var p Packet
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f := frames[i%len(frames)]
		dec.Decode(f, gopacket.CaptureInfo{Length: len(f)}, &p)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
}

// BenchmarkDecodeAndJudge: decoding plus the verdict's bookkeeping.
func BenchmarkDecodeAndJudge(b *testing.B) {
	frames := benchFrames(b, 4096)
	dec, _ := newDecoder(layers.LinkTypeEthernet)
	an, _ := newAnalyzer(config{Role: roleRealServer, Codes: allMarked, Mapping: []MapEntry{{DSCP: 21, VIP: pcapgen.VIP4(0)}}})
	var p Packet
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f := frames[i%len(frames)]
		if dec.Decode(f, gopacket.CaptureInfo{Length: len(f)}, &p) {
			an.Add(&p)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
}

// BenchmarkRunFile: the whole offline path (read a pcap file, decode,
// judge) over a 100,000-packet file.
func BenchmarkRunFile(b *testing.B) {
	path := filepath.Join(b.TempDir(), "run.pcap")
	f, _ := os.Create(path)
	w, _ := pcapgen.NewWriter(f, false, 65535)
	const n = 100000
	if err := (pcapgen.Mix{Seed: 1, Codes: []uint8{21, 22, 23, 46}, IPv6: true, Tags: true, Truncate: true, Noise: true}).Generate(w, n); err != nil {
		b.Fatal(err)
	}
	w.Close()
	f.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		src, err := openFile(path)
		if err != nil {
			b.Fatal(err)
		}
		an, _ := newAnalyzer(config{Role: roleRealServer, Codes: allMarked})
		if _, err := run(context.Background(), src, an, runOptions{}); err != nil {
			b.Fatal(err)
		}
		src.Close()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "packets/s")
}
