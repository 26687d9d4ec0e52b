package pcapcheck

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/l3dsr/l3dsr/pcapcheck/pcapgen"
)

// decodeAll decodes frames built from descriptions.
func decodeAll(t *testing.T, pkts ...pcapgen.Packet) []Packet {
	t.Helper()
	dec, err := newDecoder(layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]Packet, 0, len(pkts))
	for _, d := range pkts {
		b := d.Bytes()
		var p Packet
		if !dec.Decode(b, gopacket.CaptureInfo{Length: len(b), CaptureLength: len(b)}, &p) {
			t.Fatalf("frame %+v does not decode", d)
		}
		out = append(out, p)
	}
	return out
}

func judge(t *testing.T, cfg config, pkts ...pcapgen.Packet) Report {
	t.Helper()
	r, err := judgeAll(cfg, decodeAll(t, pkts...))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func code(r Report, c uint8) *codeReport {
	for i := range r.PerCode {
		if r.PerCode[i].DSCP == c {
			return &r.PerCode[i]
		}
	}
	return nil
}

func hasProblem(r Report, sub string) bool {
	for _, p := range r.Problems {
		if strings.Contains(p, sub) {
			return true
		}
	}
	return false
}

var mapping = []MapEntry{
	{DSCP: 21, VIP: vip4, Packets: 100, Bytes: 9000},
	{DSCP: 22, VIP: vip6},
}

func TestJudgeRealServerOK(t *testing.T) {
	pkts := append(pcapgen.Exchange(cli4, rip4, vip4, 21, 40000, 3), pcapgen.Exchange(cli4, rip4, vip4, 21, 40001, 2)...)
	pkts = append(pkts, pcapgen.Exchange(cli6, rip6, vip6, 22, 40000, 2)...)
	// Unrelated unmarked traffic is not judged.
	pkts = append(pkts, pcapgen.Packet{Src: rip4, Dst: cli4, Proto: 6, SrcPort: 22, DstPort: 5555})
	r := judge(t, config{Role: roleRealServer, Codes: allMarked, Mapping: mapping}, pkts...)
	if !r.OK {
		t.Fatalf("want OK, got problems %q", r.Problems)
	}
	c := code(r, 21)
	if c == nil || c.Packets != 5 || c.Flows != 2 || c.RepliesFromVIP != 5 || c.FlowsAnswered != 2 || c.RepliesFromRIP != 0 {
		t.Errorf("DSCP 21: %+v", c)
	}
	if len(c.Mappings) != 1 || c.Mappings[0].VIP != "10.80.0.1" || c.Mappings[0].Packets != 100 {
		t.Errorf("DSCP 21 mappings: %+v", c.Mappings)
	}
	if c := code(r, 22); c == nil || c.Packets != 2 || c.RepliesFromVIP != 2 {
		t.Errorf("DSCP 22: %+v", c)
	}
	if r.Marked != 7 {
		t.Errorf("Marked = %d, want 7", r.Marked)
	}
}

func TestJudgeRealServerFailures(t *testing.T) {
	cfg := config{Role: roleRealServer, Codes: allMarked, Mapping: mapping}
	t.Run("unmapped", func(t *testing.T) {
		r := judge(t, cfg, pcapgen.Exchange(cli4, rip4, rip4, 30, 40000, 2)...)
		if r.OK || !hasProblem(r, "DSCP 30: 2 packets to 203.0.113.30, but the table maps no VIP to DSCP 30") {
			t.Errorf("problems %q", r.Problems)
		}
	})
	t.Run("family without entry", func(t *testing.T) {
		// DSCP 22 is mapped for IPv6 only.
		r := judge(t, cfg, pcapgen.Exchange(cli4, rip4, vip4, 22, 40000, 1)...)
		if r.OK || !hasProblem(r, "DSCP 22: 1 packet to 203.0.113.30, but the table maps DSCP 22 to IPv6 VIPs only (2001:db8:80::1) and these packets are IPv4: add an IPv4 VIP") {
			t.Errorf("problems %q", r.Problems)
		}
	})
	t.Run("replies from RIP", func(t *testing.T) {
		r := judge(t, cfg, pcapgen.Exchange(cli4, rip4, rip4, 21, 40000, 3)...)
		if r.OK || !hasProblem(r, "DSCP 21: 3 replies left from the RIP (203.0.113.30) instead of the VIP 10.80.0.1") {
			t.Errorf("problems %q", r.Problems)
		}
	})
	t.Run("replies from elsewhere", func(t *testing.T) {
		r := judge(t, cfg, pcapgen.Exchange(cli4, rip4, netip.MustParseAddr("10.9.9.9"), 21, 40000, 1)...)
		if r.OK || !hasProblem(r, "DSCP 21: 1 reply left from 10.9.9.9, neither the VIP") {
			t.Errorf("problems %q", r.Problems)
		}
	})
	t.Run("no reply", func(t *testing.T) {
		r := judge(t, cfg, pcapgen.Packet{Src: cli4, Dst: rip4, DSCP: 21, Proto: 6, SrcPort: 1, DstPort: 80})
		if r.OK || !hasProblem(r, "no reply from the VIP 10.80.0.1 seen") {
			t.Errorf("problems %q", r.Problems)
		}
	})
	t.Run("no marked traffic", func(t *testing.T) {
		r := judge(t, cfg, pcapgen.Packet{Src: cli4, Dst: rip4, Proto: 6, SrcPort: 1, DstPort: 80})
		if r.OK || !hasProblem(r, "no packet marked with DSCP 1-63 seen") {
			t.Errorf("problems %q", r.Problems)
		}
	})
	t.Run("codes outside the set are not judged", func(t *testing.T) {
		c := cfg
		c.Codes = 1 << 21
		pkts := append(pcapgen.Exchange(cli4, rip4, vip4, 21, 40000, 1), pcapgen.Exchange(cli4, rip4, rip4, 30, 40001, 1)...)
		if r := judge(t, c, pkts...); !r.OK {
			t.Errorf("problems %q", r.Problems)
		}
	})
}

func TestJudgeLocalAddressEntries(t *testing.T) {
	rip2 := netip.MustParseAddr("203.0.113.31")
	vip2 := netip.MustParseAddr("10.80.0.2")
	cfg := config{Role: roleRealServer, Codes: 1 << 21, Mapping: []MapEntry{{DSCP: 21, Local: rip4, VIP: vip4}, {DSCP: 21, Local: rip2, VIP: vip2}}}
	pkts := append(pcapgen.Exchange(cli4, rip4, vip4, 21, 40000, 1), pcapgen.Exchange(cli4, rip2, vip2, 21, 40001, 1)...)
	if r := judge(t, cfg, pkts...); !r.OK {
		t.Fatalf("problems %q", r.Problems)
	}
	// The reply to the flow for rip2 from vip4 is from the wrong VIP.
	pkts = append(pcapgen.Exchange(cli4, rip4, vip4, 21, 40000, 1), pcapgen.Exchange(cli4, rip2, vip4, 21, 40001, 1)...)
	if r := judge(t, cfg, pkts...); r.OK || !hasProblem(r, "left from 10.80.0.1, neither") {
		t.Fatalf("problems %q", r.Problems)
	}
}

func TestCounters(t *testing.T) {
	a, err := newAnalyzer(config{Role: roleRealServer, Codes: allMarked, Mapping: mapping})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range decodeAll(t, pcapgen.Exchange(cli4, rip4, vip4, 21, 1, 1)...) {
		a.Add(&p)
	}
	a.updateCounters([]MapEntry{{DSCP: 21, VIP: vip4, Packets: 104, Bytes: 9400}})
	m := code(a.report(), 21).Mappings[0]
	if m.Packets != 104 || m.PacketsDelta != 4 || m.Bytes != 9400 {
		t.Errorf("mapping report %+v", m)
	}
}

func TestJudgeDirector(t *testing.T) {
	cfg := config{Role: roleDirector, Codes: 1 << 21, Expect: []Expectation{{VIP: vip4, Port: 80, DSCP: 21}}}
	in := pcapgen.Packet{Src: cli4, Dst: vip4, Proto: 6, SrcPort: 40000, DstPort: 80}
	out := pcapgen.Packet{Src: cli4, Dst: rip4, DSCP: 21, Proto: 6, SrcPort: 40000, DstPort: 80}
	r := judge(t, cfg, in, out, in, out)
	if !r.OK || len(r.Services) != 1 || r.Services[0].Forwarded != 2 || r.Services[0].Right != 2 || r.Services[0].Reals[0] != "203.0.113.30" {
		t.Fatalf("report %+v", r)
	}
	wrong := out
	wrong.DSCP = 0
	r = judge(t, cfg, in, wrong)
	if r.OK || !hasProblem(r, "10.80.0.1:80: 1 of 1 packets to the real servers (203.0.113.30) carry DSCP 0 instead of 21") {
		t.Errorf("problems %q", r.Problems)
	}
	r = judge(t, cfg, in)
	if r.OK || !hasProblem(r, "none seen leaving for a real server") || !hasProblem(r, "no packet for 10.80.0.1:80 seen leaving") {
		t.Errorf("problems %q", r.Problems)
	}
	reply := pcapgen.Packet{Src: vip4, Dst: cli4, Proto: 6, SrcPort: 80, DstPort: 40000}
	r = judge(t, cfg, in, out, reply)
	if r.OK || !hasProblem(r, "1 reply from the VIP left through the director") {
		t.Errorf("problems %q", r.Problems)
	}
	v6 := config{Role: roleDirector, Codes: 1 << 22, Expect: []Expectation{{VIP: vip6, Port: 80, DSCP: 22}}}
	r = judge(t, v6, pcapgen.Packet{Src: cli6, Dst: vip6, Proto: 17, SrcPort: 5, DstPort: 80},
		pcapgen.Packet{Tags: []uint16{0x8100}, Src: cli6, Dst: rip6, DSCP: 22, Proto: 17, SrcPort: 5, DstPort: 80})
	if !r.OK {
		t.Errorf("IPv6 director: problems %q", r.Problems)
	}
}

func TestAnalyzerConfigErrors(t *testing.T) {
	for name, cfg := range map[string]config{
		"no codes":     {Role: roleRealServer},
		"dup mapping":  {Role: roleRealServer, Codes: 1, Mapping: []MapEntry{{DSCP: 1, VIP: vip4}, {DSCP: 1, VIP: netip.MustParseAddr("10.0.0.9")}}},
		"mixed family": {Role: roleRealServer, Codes: 1, Mapping: []MapEntry{{DSCP: 1, VIP: vip4, Local: rip6}}},
		"no expect":    {Role: roleDirector, Codes: 1},
		"dup expect":   {Role: roleDirector, Codes: 1, Expect: []Expectation{{VIP: vip4, Port: 80, DSCP: 1}, {VIP: vip4, Port: 80, DSCP: 2}}},
	} {
		if _, err := newAnalyzer(cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestDecode(t *testing.T) {
	dec, _ := newDecoder(layers.LinkTypeEthernet)
	b := pcapgen.Packet{Tags: []uint16{0x88a8, 0x8100}, Src: cli6, Dst: rip6, DSCP: 46, ECN: 1, Proto: 6, SrcPort: 1234, DstPort: 80, TCPFlags: pcapgen.SYN}.Bytes()
	var p Packet
	if !dec.Decode(b, gopacket.CaptureInfo{Length: len(b)}, &p) {
		t.Fatal("no decode")
	}
	if p.Family != 6 || p.DSCP != 46 || p.ECN != 1 || p.Tags != 2 || p.Src != cli6 || p.Dst != rip6 || !p.ports || p.SrcPort != 1234 || p.DstPort != 80 || !p.TCP || p.TCPFlags != pcapgen.SYN {
		t.Errorf("decoded %+v", p)
	}
	if s := p.String(); !strings.Contains(s, "IP6 (class 0xb9, DSCP 46, 2 VLAN tag(s)) 2001:db8:c::10.1234 > 2001:db8:e::30.80: tcp Flags [S]") {
		t.Errorf("String() = %q", s)
	}
	// Raw IP link type.
	raw, _ := newDecoder(layers.LinkTypeRaw)
	ip := pcapgen.Packet{Src: cli4, Dst: rip4, DSCP: 21, Proto: 17, SrcPort: 1, DstPort: 2}.Bytes()[14:]
	if !raw.Decode(ip, gopacket.CaptureInfo{Length: len(ip)}, &p) || p.DSCP != 21 || p.Dst != rip4 || p.DstPort != 2 {
		t.Errorf("raw IPv4: %+v", p)
	}
	if _, err := newDecoder(layers.LinkTypeIEEE802_11); err == nil {
		t.Error("802.11: no error")
	}
}

// The decoding path allocates nothing per packet.
func TestDecodeAllocs(t *testing.T) {
	dec, _ := newDecoder(layers.LinkTypeEthernet)
	frames := [][]byte{
		pcapgen.Packet{Src: cli4, Dst: rip4, DSCP: 21, Proto: 6, SrcPort: 1, DstPort: 80, Payload: 100}.Bytes(),
		pcapgen.Packet{Tags: []uint16{0x8100}, Src: cli6, Dst: rip6, DSCP: 22, Proto: 17, SrcPort: 1, DstPort: 80}.Bytes(),
		pcapgen.Packet{Src: cli4, Dst: rip4, DSCP: 21, Proto: 6, IPv4Options: 2}.Bytes(),
	}
	var p Packet
	for i, f := range frames {
		ci := gopacket.CaptureInfo{Length: len(f)}
		if n := testing.AllocsPerRun(100, func() { dec.Decode(f, ci, &p) }); n != 0 {
			t.Errorf("frame %d: %v allocations per decode", i, n)
		}
	}
	a, _ := newAnalyzer(config{Role: roleRealServer, Codes: allMarked, Mapping: mapping})
	pk := decodeAll(t, pcapgen.Exchange(cli4, rip4, vip4, 21, 40000, 1)...)
	a.Add(&pk[0])
	if n := testing.AllocsPerRun(100, func() { a.Add(&pk[0]); a.Add(&pk[1]) }); n != 0 {
		t.Errorf("analyzer.Add of a known flow: %v allocations", n)
	}
}

// TestFlowTable: every flow added is found again, across chunks, and
// keys never added are not.
func TestFlowTable(t *testing.T) {
	ft := newFlowTable()
	key := func(i int) flowKey {
		return flowKey{fam: 4, proto: 6, client: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).As16(), cport: uint16(i), sport: 80}
	}
	const n = 100000
	for i := 0; i < n; i++ {
		ft.add(key(i), flow{code: uint8(i % 64)})
	}
	for i := 0; i < n; i++ {
		if f := ft.get(key(i)); f == nil || f.code != uint8(i%64) {
			t.Fatalf("flow %d: %+v", i, f)
		}
	}
	for i := n; i < n+1000; i++ {
		if f := ft.get(key(i)); f != nil {
			t.Fatalf("flow %d was never added, found %+v", i, f)
		}
	}
	if ft.n != n || len(ft.chunks) != (n+flowChunk-1)/flowChunk {
		t.Errorf("%d flows in %d chunks, want %d in %d", ft.n, len(ft.chunks), n, (n+flowChunk-1)/flowChunk)
	}
}
