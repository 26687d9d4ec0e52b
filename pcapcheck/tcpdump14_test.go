package pcapcheck

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/l3dsr/l3dsr/pcapcheck/pcapgen"
)

// rec14 is one record: the bytes captured and the length on the wire.
type rec14 struct {
	data []byte
	wire int
}

func whole(b []byte) rec14 { return rec14{b, len(b)} }

// cut is b as a capture with snap length n keeps it.
func cut(b []byte, n int) rec14 { return rec14{b[:min(n, len(b))], len(b)} }

// issue14Packets are the IP packets of the cross-check: every header
// combination issue 14 lists, over codes 0, 1, 21, 22, 46 and 63.
func issue14Packets() []pcapgen.Packet {
	var out []pcapgen.Packet
	exts := [][]pcapgen.Ext{nil, {{Type: 0}}, {{Type: 60, Len: 16}}, {{Type: 43}}, {{Type: 51, Len: 24}},
		{{Type: 44, MoreFrags: true}}, {{Type: 44, FragOffset: 100}}, {{Type: 0}, {Type: 60}, {Type: 43}, {Type: 44, MoreFrags: true}}}
	for i, code := range []uint8{0, 1, 21, 22, 46, 63} {
		ecn := uint8(i % 4)
		for j, ext := range exts {
			out = append(out, pcapgen.Packet{Src: cli6, Dst: rip6, DSCP: code, ECN: ecn, Proto: []uint8{6, 17}[j%2], SrcPort: 1000, DstPort: 80, Ext: ext})
		}
		out = append(out,
			pcapgen.Packet{Src: cli4, Dst: rip4, DSCP: code, ECN: ecn, Proto: 6, SrcPort: 1000, DstPort: 80, IPv4Options: i % 3},
			pcapgen.Packet{Src: cli4, Dst: rip4, DSCP: code, Proto: 17, SrcPort: 1000, DstPort: 80, MoreFrags: true, Payload: 50},
			pcapgen.Packet{Src: cli4, Dst: rip4, DSCP: code, Proto: 17, FragOffset: 50, Payload: 50},
			pcapgen.Packet{Src: cli4, Dst: vip4, DSCP: 21, Proto: 6, SrcPort: 1, DstPort: 80, Outer: &pcapgen.Outer{Src: rip4, Dst: cli4, DSCP: code}},
			pcapgen.Packet{Src: cli6, Dst: vip6, DSCP: code, Proto: 6, SrcPort: 1, DstPort: 80, Outer: &pcapgen.Outer{Src: rip4, Dst: cli4, DSCP: 63 - code, GRE: true}},
			pcapgen.Packet{Src: cli6, Dst: vip6, DSCP: 0, Proto: 17, SrcPort: 1, DstPort: 80, Outer: &pcapgen.Outer{Src: rip6, Dst: cli6, DSCP: code}},
		)
	}
	return out
}

// ethFrames are the packets as Ethernet frames: untagged, behind one tag
// of each kind and behind two; some cut inside their headers.
func ethFrames() []rec14 {
	var out []rec14
	tagSets := [][]uint16{nil, {0x8100}, {0x88a8}, {0x9100}, {0x88a8, 0x8100}, {0x9100, 0x8100}}
	for i, p := range issue14Packets() {
		p.Tags = tagSets[i%len(tagSets)]
		b := p.Bytes()
		out = append(out, whole(b))
		if i%5 == 0 {
			// Cut inside the IP header, at the ports, inside an extension header.
			l3 := 14 + 4*len(p.Tags)
			out = append(out, cut(b, l3+2), cut(b, l3+21), cut(b, l3+44))
		}
	}
	return out
}

func writeFrames(t *testing.T, path string, link layers.LinkType, fs []rec14, nanos bool) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var w *pcapgo.Writer
	if nanos {
		w = pcapgo.NewWriterNanos(f)
	} else {
		w = pcapgo.NewWriter(f)
	}
	if err := w.WriteFileHeader(65535, link); err != nil {
		t.Fatal(err)
	}
	for i, fr := range fs {
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(1700000000, int64(i)*1001), CaptureLength: len(fr.data), Length: fr.wire}
		if err := w.WritePacket(ci, fr.data); err != nil {
			t.Fatal(err)
		}
	}
}

// writeBigEndian writes a big-endian pcap with nanosecond timestamps, as
// a capture taken on a big-endian host is.
func writeBigEndian(t *testing.T, path string, fs []rec14) {
	t.Helper()
	var b bytes.Buffer
	be := binary.BigEndian
	b.Write(be.AppendUint32(nil, 0xa1b23c4d))
	b.Write([]byte{0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 1})
	for i, fr := range fs {
		var h []byte
		h = be.AppendUint32(h, 1700000000)
		h = be.AppendUint32(h, uint32(i))
		h = be.AppendUint32(h, uint32(len(fr.data)))
		h = be.AppendUint32(h, uint32(fr.wire))
		b.Write(h)
		b.Write(fr.data)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// relink puts the IP packet of an Ethernet frame, without its VLAN tags,
// behind another link header (as tcpdump -i any sees it: the kernel has
// taken the tags off).
func relink(fs []rec14, link layers.LinkType) []rec14 {
	var out []rec14
	for _, f := range fs {
		off := 12
		for off+4 <= len(f.data) {
			if et := binary.BigEndian.Uint16(f.data[off:]); et != 0x8100 && et != 0x88a8 && et != 0x9100 {
				break
			}
			off += 4
		}
		if off+2 > len(f.data) {
			continue
		}
		et, ip := f.data[off:off+2], f.data[off+2:]
		wire := f.wire - (off + 2)
		var h []byte
		switch link {
		case layers.LinkTypeLinuxSLL:
			h = make([]byte, 16)
			h[3] = 1
			copy(h[14:], et)
		case linkTypeLinuxSLL2:
			h = make([]byte, 20)
			copy(h, et)
			h[9], h[11] = 1, 6
		}
		out = append(out, rec14{append(h, ip...), wire + len(h)})
	}
	return out
}

// tcpdumpTry is tcpdumpCount that reports tcpdump's failure instead of
// failing the test (a damaged file makes tcpdump exit 1 after writing the
// packets before the damage).
func tcpdumpTry(t *testing.T, tcpdump, file, expr string) (int, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "sel.pcap")
	cmd := exec.Command(tcpdump, "-r", file, "-w", out, expr)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	err := cmd.Run()
	msg := ""
	if err != nil {
		msg = fmt.Sprintf("%v: %s", err, strings.TrimSpace(errb.String()))
	}
	if _, serr := os.Stat(out); serr != nil {
		return -1, msg
	}
	src, oerr := openFile(out)
	if oerr != nil {
		return -1, msg + "; " + oerr.Error()
	}
	defer src.Close()
	n := 0
	for {
		if _, _, err := src.readPacket(); err != nil {
			return n, msg
		}
		n++
	}
}

var issue14Codes = []int{0, 1, 21, 22, 46, 63}

// exprFor is TcpdumpExpr for an Ethernet file; libpcap refuses "vlan" on
// the other link types, whose frames carry no tag.
func exprFor(file string, code int) string {
	if strings.Contains(file, "sll") || strings.Contains(file, "raw") {
		return fmt.Sprintf("(ip and (ip[1] & 0xfc) >> 2 == %d) or (ip6 and (ip6[0:2] & 0x0fc0) >> 6 == %d)", code, code)
	}
	return TcpdumpExpr(code)
}

// TestIssue14CountsMatchTcpdump: per DSCP code, verify counts the packets
// tcpdump selects with 'ip and (ip[1] & 0xfc) >> 2 == N' and its IPv6 and
// VLAN forms, on captures covering every case of issue 14. Where the two
// must differ, the difference is written down with its reason.
func TestIssue14CountsMatchTcpdump(t *testing.T) {
	tcpdump := needTcpdump(t)
	dir := t.TempDir()
	eth := ethFrames()
	files := map[string]string{}
	add := func(name string, link layers.LinkType, fs []rec14, nanos bool) {
		files[name] = filepath.Join(dir, name)
		writeFrames(t, files[name], link, fs, nanos)
	}
	add("ethernet.pcap", layers.LinkTypeEthernet, eth, false)
	add("ethernet-ns.pcap", layers.LinkTypeEthernet, eth, true)
	add("sll.pcap", layers.LinkTypeLinuxSLL, relink(eth, layers.LinkTypeLinuxSLL), false)
	add("sll2.pcap", linkTypeLinuxSLL2, relink(eth, linkTypeLinuxSLL2), false)
	var raw []rec14
	for _, f := range relink(eth, layers.LinkTypeRaw) {
		raw = append(raw, f)
	}
	add("raw.pcap", layers.LinkTypeRaw, raw, false)
	files["big-endian.pcap"] = filepath.Join(dir, "big-endian.pcap")
	writeBigEndian(t, files["big-endian.pcap"], eth)

	for _, name := range []string{"ethernet.pcap", "ethernet-ns.pcap", "sll.pcap", "sll2.pcap", "raw.pcap", "big-endian.pcap"} {
		got := countPerCode(t, files[name])
		var total uint64
		for _, c := range issue14Codes {
			want, msg := tcpdumpTry(t, tcpdump, files[name], exprFor(name, c))
			if msg != "" || got[c] != uint64(want) {
				t.Errorf("%s, DSCP %d: verify %d packets, tcpdump %d %s", name, c, got[c], want, msg)
			}
			total += got[c]
		}
		if total < 100 {
			t.Errorf("%s: %d packets in all: the file proves little", name, total)
		}
	}

	t.Run("malformed", func(t *testing.T) {
		// tcpdump's ip[1] reads any frame with the IP EtherType; verify
		// does not count what the network would not deliver. The frames
		// below are malformed: 2 with code 21 (IPv6 version behind
		// 0x0800), 3 with code 22 (runts: 2 IPv4, 1 IPv6), 2 with code 46
		// (an IPv6 chain of 9 headers, one cut). verify counts exactly
		// those fewer, and calls them malformed.
		fs := slices.Clone(eth[:40])
		v6in4 := pcapgen.Packet{Src: cli4, Dst: rip4, DSCP: 21, Proto: 6, Version: 6}.Bytes()
		fs = append(fs, whole(v6in4), whole(v6in4))
		r4 := pcapgen.Packet{Src: cli4, Dst: rip4, DSCP: 22, Proto: 6}.Bytes()
		r6 := pcapgen.Packet{Src: cli6, Dst: rip6, DSCP: 22, Proto: 6}.Bytes()
		fs = append(fs, whole(r4[:14+6]), whole(r4[:14+19]), whole(r6[:14+39]))
		nine := make([]pcapgen.Ext, 9)
		for i := range nine {
			nine[i] = pcapgen.Ext{Type: 60}
		}
		fs = append(fs, whole(pcapgen.Packet{Src: cli6, Dst: rip6, DSCP: 46, Proto: 6, Ext: nine}.Bytes()))
		chainCut := pcapgen.Packet{Src: cli6, Dst: rip6, DSCP: 46, Proto: 59, Ext: []pcapgen.Ext{{Type: 60}}}.Bytes()
		chainCut[14+40+1] = 3 // claims 32 bytes, the packet holds 8
		fs = append(fs, whole(chainCut))
		path := filepath.Join(dir, "malformed.pcap")
		writeFrames(t, path, layers.LinkTypeEthernet, fs, false)
		fewer := map[int]uint64{21: 2, 22: 3, 46: 2}
		got := countPerCode(t, path)
		for _, c := range issue14Codes {
			want, msg := tcpdumpTry(t, tcpdump, path, TcpdumpExpr(c))
			if msg != "" || got[c]+fewer[c] != uint64(want) {
				t.Errorf("DSCP %d: verify %d + %d malformed, tcpdump %d %s", c, got[c], fewer[c], want, msg)
			}
		}
		a := judgeFile(t, path)
		if a.Malformed != 7 {
			t.Errorf("malformed %d, want 7 (%v)", a.Malformed, a.MalformedReasons)
		}
	})

	t.Run("damaged", func(t *testing.T) {
		// Cut inside the last record: tcpdump writes the packets before
		// it and exits 1 ("truncated dump file"); verify counts the same
		// packets and reports the damage.
		b, err := os.ReadFile(files["ethernet.pcap"])
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "damaged.pcap")
		os.WriteFile(path, b[:len(b)-5], 0o644)
		got := countPerCode(t, path)
		for _, c := range issue14Codes {
			want, msg := tcpdumpTry(t, tcpdump, path, TcpdumpExpr(c))
			if !strings.Contains(msg, "truncated") || got[c] != uint64(want) {
				t.Errorf("DSCP %d: verify %d, tcpdump %d (%s)", c, got[c], want, msg)
			}
		}
	})

	t.Run("multi-link pcapng", func(t *testing.T) {
		// libpcap refuses a pcapng file whose interfaces have different
		// link types; verify reads each packet with its interface's. Its
		// counts must equal tcpdump's over three single-link files with
		// the same packets.
		path := filepath.Join(dir, "multi.pcapng")
		f, _ := os.Create(path)
		w, err := pcapgo.NewNgWriterInterface(f, pcapgo.NgInterface{Name: "eth0", LinkType: layers.LinkTypeEthernet}, pcapgo.DefaultNgWriterOptions)
		if err != nil {
			t.Fatal(err)
		}
		parts := []struct {
			link layers.LinkType
			fs   []rec14
		}{{layers.LinkTypeEthernet, eth}, {layers.LinkTypeLinuxSLL, relink(eth, layers.LinkTypeLinuxSLL)}, {layers.LinkTypeRaw, raw}}
		for i, p := range parts {
			id := 0
			if i > 0 {
				id, _ = w.AddInterface(pcapgo.NgInterface{Name: fmt.Sprint("if", i), LinkType: p.link})
			}
			for _, fr := range p.fs {
				if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(1700000000, 0), CaptureLength: len(fr.data), Length: fr.wire, InterfaceIndex: id}, fr.data); err != nil {
					t.Fatal(err)
				}
			}
		}
		w.Flush()
		f.Close()
		if _, msg := tcpdumpTry(t, tcpdump, path, TcpdumpExpr(21)); msg == "" {
			t.Logf("this tcpdump reads multi-link pcapng files (it refused them when this test was written)")
		}
		got := countPerCode(t, path)
		single := []string{files["ethernet.pcap"], files["sll.pcap"], files["raw.pcap"]}
		for _, c := range issue14Codes {
			want := 0
			for _, s := range single {
				n, msg := tcpdumpTry(t, tcpdump, s, exprFor(s, c))
				if msg != "" {
					t.Fatal(msg)
				}
				want += n
			}
			if got[c] != uint64(want) {
				t.Errorf("DSCP %d: verify %d on the pcapng file, tcpdump %d over its three interfaces' files", c, got[c], want)
			}
		}
	})
}

// judgeFile is the report on a file with every code looked at.
func judgeFile(t *testing.T, path string) Report {
	t.Helper()
	src, err := openFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	an, _ := newAnalyzer(config{Role: roleRealServer, Codes: ^DSCPSet(0), Mapping: []MapEntry{{DSCP: 21, VIP: netip.MustParseAddr("10.80.0.1")}}})
	if _, err := run(t.Context(), src, an, runOptions{}); err != nil {
		t.Fatal(err)
	}
	return an.report()
}
