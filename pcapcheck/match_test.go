package pcapcheck

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/l3dsr/l3dsr/pcapcheck/pcapgen"
)

var (
	vip4 = netip.MustParseAddr("10.80.0.1")
	vip6 = netip.MustParseAddr("2001:db8:80::1")
	rip4 = pcapgen.RIP4
	rip6 = pcapgen.RIP6
	cli4 = pcapgen.Client4
	cli6 = pcapgen.Client6
)

// crafted returns frames covering the filter's cases: both families, 0-2
// VLAN tags, TCP/UDP/ICMP, fragments, IPv4 options, truncated captures.
func crafted() map[string][]byte {
	out := map[string][]byte{}
	tagSets := [][]uint16{nil, {0x8100}, {0x88a8, 0x8100}, {0x9100}, {0x9100, 0x8100}}
	for ti, tags := range tagSets {
		for _, fam := range []int{4, 6} {
			src, dst, vip, rip := cli4, rip4, vip4, rip4
			icmp := uint8(1)
			if fam == 6 {
				src, dst, vip, rip, icmp = cli6, rip6, vip6, rip6, 58
			}
			name := func(s string) string { return fmt.Sprintf("v%d/tags%d/%s", fam, ti, s) }
			add := func(s string, p pcapgen.Packet) { p.Tags = tags; out[name(s)] = p.Bytes() }
			add("req-21", pcapgen.Packet{Src: src, Dst: dst, DSCP: 21, ECN: 3, Proto: 6, SrcPort: 40000, DstPort: 80})
			add("req-0", pcapgen.Packet{Src: src, Dst: dst, Proto: 6, SrcPort: 40000, DstPort: 80})
			add("req-63-udp", pcapgen.Packet{Src: src, Dst: dst, DSCP: 63, Proto: 17, SrcPort: 40000, DstPort: 7})
			add("reply-vip", pcapgen.Packet{Src: vip, Dst: src, Proto: 6, SrcPort: 80, DstPort: 40000})
			add("reply-vip-443", pcapgen.Packet{Src: vip, Dst: src, Proto: 6, SrcPort: 443, DstPort: 40000})
			add("reply-rip", pcapgen.Packet{Src: rip, Dst: src, Proto: 17, SrcPort: 80, DstPort: 40000})
			add("icmp-vip", pcapgen.Packet{Src: vip, Dst: src, Proto: icmp})
			add("to-vip-80", pcapgen.Packet{Src: src, Dst: vip, Proto: 6, SrcPort: 40000, DstPort: 80})
			add("other-80", pcapgen.Packet{Src: src, Dst: netip.MustParseAddr(map[int]string{4: "192.0.2.99", 6: "2001:db8::99"}[fam]), Proto: 6, SrcPort: 40000, DstPort: 80})
			if fam == 4 {
				add("frag-first", pcapgen.Packet{Src: vip, Dst: src, Proto: 17, SrcPort: 80, DstPort: 40000, MoreFrags: true, Payload: 20})
				add("frag-later", pcapgen.Packet{Src: vip, Dst: src, Proto: 17, FragOffset: 10, Payload: 20})
				add("options", pcapgen.Packet{Src: vip, Dst: src, Proto: 6, SrcPort: 80, DstPort: 40000, IPv4Options: 3})
			}
			full := pcapgen.Packet{Tags: tags, Src: vip, Dst: src, DSCP: 21, Proto: 6, SrcPort: 80, DstPort: 40000}.Bytes()
			l3 := 14 + 4*len(tags)
			for _, cut := range []int{l3 - 1, l3 + 1, l3 + 2, l3 + 10, l3 + 16, l3 + 20, l3 + 21, l3 + 22, l3 + 24, l3 + 30, l3 + 40, l3 + 41, l3 + 42} {
				out[name(fmt.Sprintf("cut%d", cut-l3))] = full[:cut]
			}
		}
	}
	out["arp"] = pcapgen.Packet{EtherType: 0x0806}.Bytes()
	out["three-tags"] = pcapgen.Packet{Tags: []uint16{0x8100, 0x8100, 0x8100}, Src: cli4, Dst: rip4, DSCP: 21, Proto: 6}.Bytes()
	out["empty"] = nil
	return out
}

var specs = map[string]filterSpec{
	"dscp21":           {DSCP: 1 << 21},
	"dscp-all":         {DSCP: allMarked},
	"dscp63+vip-src":   {DSCP: 1 << 63, Matches: []match{{Src: true, Addr: vip4}, {Src: true, Addr: vip6}}},
	"vip-src-port80":   {Matches: []match{{Src: true, Addr: vip4, Port: 80}, {Src: true, Addr: vip6, Port: 80}}},
	"rip-src+vip":      {DSCP: 1 << 21, Matches: []match{{Src: true, Addr: rip4, Port: 80}, {Src: true, Addr: rip6, Port: 80}, {Src: true, Addr: vip4, Port: 80}, {Src: true, Addr: vip6, Port: 80}}},
	"director":         {DSCP: 1 << 21, Matches: []match{{Addr: vip4, Port: 80}, {Src: true, Addr: vip4, Port: 80}, {Port: 80}, {Addr: vip6}}},
	"dst-port-7":       {Matches: []match{{Port: 7}}},
	"src-port-443-any": {Matches: []match{{Src: true, Port: 443}}},
}

// TestFilterAgreesWithAccepts runs each program in x/net/bpf's VM over the
// crafted frames and compares with filterSpec.accepts over the decoded
// frame: the kernel's filter and the Go decoder select the same packets.
func TestFilterAgreesWithAccepts(t *testing.T) {
	frames := crafted()
	dec, err := newDecoder(layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	for sname, spec := range specs {
		raw, err := filter(spec)
		if err != nil {
			t.Fatalf("%s: %v", sname, err)
		}
		accepted := 0
		for fname, f := range frames {
			got := runFilter(t, raw, f)
			var p Packet
			want := false
			// The cut frames stand for captures cut by the snap length, not
			// runts: on the wire they were whole.
			if dec.Decode(f, gopacket.CaptureInfo{Length: len(f) + 1500}, &p) {
				want = spec.accepts(&p)
			}
			if got != want {
				t.Errorf("%s, %s: BPF accepted=%v, accepts=%v (decoded %+v)", sname, fname, got, want, p)
			}
			if got {
				accepted++
			}
		}
		if accepted == 0 {
			t.Errorf("%s accepted no frame: the test proves nothing", sname)
		}
	}
}

// Spot checks with the answer written down, so that a bug shared by the
// program and accepts cannot hide.
func TestFilterExpected(t *testing.T) {
	frames := crafted()
	// Each spec with the frames it must accept and those it must not. The
	// cut frames end after N bytes of IP header: the TOS byte (traffic
	// class) is captured from cut2 on, not in cut1; the IPv4 source port
	// is not in cut20. Three tags are beyond the two the filter reads;
	// tags3 puts the frame behind a 0x9100 tag, tags4 behind 0x9100,
	// 0x8100.
	cases := []struct {
		spec           string
		accept, reject []string
	}{
		{"dscp21", []string{"v4/tags0/req-21", "v6/tags2/req-21", "v4/tags0/cut2", "v6/tags1/cut2", "v4/tags3/req-21", "v6/tags4/req-21"},
			[]string{"v4/tags1/req-0", "v4/tags0/cut1", "three-tags"}},
		{"vip-src-port80", []string{"v4/tags4/reply-vip", "v4/tags0/reply-vip", "v6/tags2/reply-vip", "v4/tags1/frag-first", "v4/tags2/options", "v4/tags0/cut30", "v6/tags0/cut42"},
			[]string{"v4/tags0/reply-vip-443", "v4/tags1/frag-later", "v4/tags0/icmp-vip", "v4/tags0/cut20"}},
		{"dscp63+vip-src", []string{"v6/tags0/icmp-vip", "v4/tags0/req-63-udp"}, nil},
		{"director", []string{"v4/tags0/to-vip-80", "v6/tags1/other-80", "v6/tags0/to-vip-80"}, []string{"v6/tags1/reply-vip-443"}},
		{"dst-port-7", []string{"v6/tags0/req-63-udp"}, nil},
		{"src-port-443-any", []string{"v4/tags2/reply-vip-443"}, nil},
	}
	for _, c := range cases {
		raw, err := filter(specs[c.spec])
		if err != nil {
			t.Fatal(err)
		}
		for want, names := range map[bool][]string{true: c.accept, false: c.reject} {
			for _, name := range names {
				f, ok := frames[name]
				if !ok {
					t.Fatalf("no frame %s", name)
				}
				if got := runFilter(t, raw, f); got != want {
					t.Errorf("%s on %s: accepted=%v, want %v", c.spec, name, got, want)
				}
			}
		}
	}
}

func TestFilterSpecValidation(t *testing.T) {
	if _, err := filter(filterSpec{}); err == nil {
		t.Error("empty spec: no error")
	}
	if _, err := filter(filterSpec{Matches: []match{{Src: true}}}); err == nil {
		t.Error("match without address or port: no error")
	}
	many := filterSpec{}
	for i := 0; i < maxMatches; i++ {
		many.Matches = append(many.Matches, match{Src: true, Addr: pcapgen.VIP6(i % 250), Port: uint16(i + 1)})
	}
	if _, err := filter(many); err != nil {
		t.Errorf("%d IPv6 address+port matches: %v", maxMatches, err)
	}
	many.Matches = append(many.Matches, match{Port: 1})
	if _, err := filter(many); err == nil {
		t.Error("too many matches: no error")
	}
}

func TestDSCPSetString(t *testing.T) {
	s, _ := newDSCPSet(1, 2, 3, 10, 21, 22, 63)
	if got := s.String(); got != "1-3,10,21-22,63" {
		t.Errorf("String() = %q", got)
	}
	if got := allMarked.String(); got != "1-63" {
		t.Errorf("allMarked = %q", got)
	}
}
