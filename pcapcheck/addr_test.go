package pcapcheck

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/pcapcheck/pcapgen"
)

// addrMapping: VIP 10.80.0.1 by its own address 203.0.113.30 here, and
// the IPv6 one by its own, whatever the code.
var addrMapping = []MapEntry{
	{AnyDSCP: true, Local: rip4, VIP: vip4, Packets: 7},
	{AnyDSCP: true, Local: rip6, VIP: vip6},
}

// other2 is an address of this server that stands for no VIP.
var other2 = netip.MustParseAddr("203.0.113.46")

func addrCfg() config {
	return config{Role: roleRealServer, Mode: dsrtypes.ModeAddr, Codes: allMarked, Mapping: slices.Clone(addrMapping)}
}

// In addr mode requests reach the RIP with whatever code the client sent,
// 0 included, and the replies must leave from the VIP.
func TestJudgeAddrOK(t *testing.T) {
	pkts := append(pcapgen.Exchange(cli4, rip4, vip4, 34, 40000, 3), pcapgen.Exchange(cli4, rip4, vip4, 0, 40001, 2)...)
	pkts = append(pkts, pcapgen.Exchange(cli6, rip6, vip6, 0, 40002, 1)...)
	// Another address's traffic, marked or not, is not judged.
	pkts = append(pkts, pcapgen.Packet{Src: cli4, Dst: netip.MustParseAddr("203.0.113.99"), DSCP: 21, Proto: 6, SrcPort: 1, DstPort: 22})
	r := judge(t, addrCfg(), pkts...)
	if !r.OK {
		t.Fatalf("want OK, got %q", r.Problems)
	}
	if r.Codes != "any" || r.Mode != "addr" || r.Marked != 6 {
		t.Errorf("codes %q, mode %q, counted %d; want any, addr, 6", r.Codes, r.Mode, r.Marked)
	}
	c34, c0 := code(r, 34), code(r, 0)
	if c34 == nil || c34.Packets != 3 || c34.Flows != 1 || c34.RepliesFromVIP != 3 || c34.FlowsAnswered != 1 {
		t.Fatalf("DSCP 34: %+v", c34)
	}
	if c0 == nil || c0.Packets != 3 || c0.Flows != 2 || c0.RepliesFromVIP != 3 {
		t.Fatalf("DSCP 0: %+v", c0)
	}
	want := []mappingReport{{AnyDSCP: true, Local: "203.0.113.30", VIP: "10.80.0.1", Packets: 7}}
	if !slices.Equal(c34.Mappings, want) {
		t.Errorf("DSCP 34 mappings %+v, want %+v", c34.Mappings, want)
	}
	if len(c0.Mappings) != 2 {
		t.Errorf("DSCP 0 mappings %+v, want both any-DSCP entries", c0.Mappings)
	}
}

func TestJudgeAddrFailures(t *testing.T) {
	for _, c := range []struct {
		name    string
		mapping []MapEntry
		pkts    []pcapgen.Packet
		want    string
	}{
		{"reply from the RIP", addrMapping, pcapgen.Exchange(cli4, rip4, rip4, 34, 40000, 2),
			"DSCP 34: 2 replies left from the RIP (203.0.113.30) instead of the VIP 10.80.0.1: the destination was not rewritten before the socket"},
		{"no reply", addrMapping, []pcapgen.Packet{{Src: cli4, Dst: rip4, DSCP: 0, Proto: 6, SrcPort: 1, DstPort: 80}},
			"DSCP 0: 1 packet in 1 flow, but no reply from the VIP 10.80.0.1 seen"},
		{"nothing to a RIP", addrMapping, pcapgen.Exchange(cli4, vip4, vip4, 21, 40000, 1),
			"no packet to an addr-mode RIP (203.0.113.30, 2001:db8:e::30) seen (2 packets read): nothing reached this host through an addr-mode director"},
		{"no any-DSCP entry", mapping, pcapgen.Exchange(cli4, rip4, vip4, 0, 40000, 1),
			"the table has no any-DSCP entry, so no address here stands for a VIP in addr mode: add one with 'l3dsr realserver up --mode addr --vip VIP --rip RIP', or give --map any=VIP@RIP"},
	} {
		cfg := addrCfg()
		cfg.Mapping = slices.Clone(c.mapping)
		r := judge(t, cfg, c.pkts...)
		if r.OK || !hasProblem(r, c.want) {
			t.Errorf("%s: problems %q\nwant %s", c.name, r.Problems, c.want)
		}
	}
}

func TestAddrConfigErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  config
		want string
	}{
		{"director", config{Role: roleDirector, Mode: dsrtypes.ModeAddr, Expect: []Expectation{{VIP: vip4, DSCP: 1}}},
			"mode addr marks nothing on the director, so there is no code to check there: verify an addr-mode VIP on its real server (--role realserver)"},
		{"no local", config{Role: roleRealServer, Mode: dsrtypes.ModeAddr, Codes: allMarked, Mapping: []MapEntry{{AnyDSCP: true, VIP: vip4}}},
			"the any-DSCP mapping of VIP 10.80.0.1 has no local address: it would take every packet; give the VIP's own address on this server (its RIP), e.g. --map any=10.80.0.1@RIP"},
		{"twice", config{Role: roleRealServer, Mode: dsrtypes.ModeAddr, Codes: allMarked, Mapping: []MapEntry{{AnyDSCP: true, Local: rip4, VIP: vip4}, {AnyDSCP: true, Local: rip4, VIP: netip.MustParseAddr("10.80.0.2")}}},
			"local address 203.0.113.30 is mapped twice for any DSCP: to 10.80.0.1 and 10.80.0.2"},
	} {
		if _, err := newAnalyzer(c.cfg); err == nil || err.Error() != c.want {
			t.Errorf("%s: %v\nwant %s", c.name, err, c.want)
		}
	}
}

// The module's lookup order: (code, local), (code, any), (any code, local).
func TestLookupOrderAnyDSCP(t *testing.T) {
	other := netip.MustParseAddr("10.80.0.9")
	cfg := config{Role: roleRealServer, Mode: dsrtypes.ModeDSCP, Codes: allMarked, Mapping: []MapEntry{
		{DSCP: 21, Local: rip4, VIP: other}, {AnyDSCP: true, Local: rip4, VIP: vip4}, {DSCP: 22, VIP: other}}}
	a, err := newAnalyzer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		code uint8
		dst  netip.Addr
		want int
	}{{21, rip4, 0}, {22, rip4, 2}, {34, rip4, 1}, {0, rip4, 1}, {34, other2, -1}} {
		i, ok := a.lookup(4, c.code, c.dst)
		if !ok {
			i = -1
		}
		if i != c.want {
			t.Errorf("lookup(DSCP %d, %s) = entry %d, want %d", c.code, c.dst, i, c.want)
		}
	}
}

// A router that bleaches DSCP leaves dscp mode's packets at the RIP
// unmarked: verify says so, where it knows the RIP (a local-keyed entry) or
// the service's port (--port), and says only that nothing marked came
// where it knows neither.
func TestJudgeDSCPBleached(t *testing.T) {
	bleached := append(pcapgen.Exchange(cli4, rip4, rip4, 0, 40000, 2), pcapgen.Exchange(cli4, rip4, rip4, 0, 40001, 1)...)
	const want = "3 packets reach RIP 203.0.113.30 unmarked (DSCP 0) and none with DSCP 1-63: a router on the path re-marks DSCP; use addr mode or ipip"
	local := config{Role: roleRealServer, Codes: allMarked, Mapping: []MapEntry{{DSCP: 21, Local: rip4, VIP: vip4}}}
	ports := config{Role: roleRealServer, Codes: allMarked, Mapping: mapping, Ports: []uint16{80}}
	for name, cfg := range map[string]config{"local-keyed entry": local, "--port": ports} {
		r := judge(t, cfg, bleached...)
		if r.OK || len(r.Problems) != 1 || r.Problems[0] != want {
			t.Errorf("%s: problems %q\nwant %s", name, r.Problems, want)
		}
	}
	// Re-marked to another code outside the set than 0: each code is
	// named.
	only21 := local
	only21.Codes = 1 << 21
	r := judge(t, only21, append(bleached, pcapgen.Packet{Src: cli4, Dst: rip4, DSCP: 8, Proto: 6, SrcPort: 2, DstPort: 80})...)
	if !hasProblem(r, "4 packets reach RIP 203.0.113.30 unmarked (DSCP 0, 8) and none with DSCP 21") {
		t.Errorf("re-marked to 8: %q", r.Problems)
	}
	r = judge(t, config{Role: roleRealServer, Codes: allMarked, Mapping: mapping}, bleached...)
	if len(r.Problems) != 1 || !strings.HasPrefix(r.Problems[0], "no packet marked with DSCP 1-63 seen") {
		t.Errorf("neither RIP nor port known: %q", r.Problems)
	}
	// Marked traffic arrives too: the unmarked is a note, not a failure.
	r = judge(t, local, append(pcapgen.Exchange(cli4, rip4, vip4, 21, 40005, 1), bleached[:2]...)...)
	if !r.OK || !slices.Contains(r.Notes, "1 packet reached RIP 203.0.113.30 unmarked (DSCP 0): ordinary traffic to the RIP, or a router on the path that re-marks some packets' DSCP") {
		t.Errorf("mixed: ok %v, problems %q, notes %q", r.OK, r.Problems, r.Notes)
	}
}

func TestAddrFlags(t *testing.T) {
	e, err := parseMapFlag("any=10.80.0.1@203.0.113.30")
	if err != nil || e != (MapEntry{AnyDSCP: true, VIP: vip4, Local: rip4}) {
		t.Errorf("any=VIP@RIP: %+v, %v", e, err)
	}
	if _, err := parseMapFlag("ANY=10.80.0.1"); err == nil || err.Error() != "--map ANY=10.80.0.1: an any-DSCP mapping needs the VIP's own address on this server, or it would take every packet: write any=VIP@RIP" {
		t.Errorf("any=VIP: %v", err)
	}
	a := Args{Role: "realserver", Mode: dsrtypes.ModeAddr, File: "x.pcap", maps: []string{"any=10.80.0.1@203.0.113.30"}}
	o, err := a.Options()
	if err != nil || o.Mode != dsrtypes.ModeAddr || len(o.Mapping) != 1 || !o.Mapping[0].AnyDSCP || o.UsesTable() {
		t.Errorf("--mode addr --map any=...: %+v, %v", o, err)
	}
	a = Args{Role: "director", Mode: dsrtypes.ModeAddr, File: "x.pcap", expects: []string{"10.80.0.1:80=0"}}
	if _, err := a.Options(); err == nil || !strings.Contains(err.Error(), "mode addr marks nothing on the director") {
		t.Errorf("--role director --mode addr: %v", err)
	}
}

// A live capture in addr mode takes every packet to a RIP, whatever its
// code, and none for its code alone; in dscp mode it also takes the
// packets to a local-keyed entry's RIP, to see unmarked ones.
func TestLiveFilterAddr(t *testing.T) {
	o := &Options{Role: roleRealServer, Mode: dsrtypes.ModeAddr, Codes: allMarked, Iface: "lo", Mapping: addrMapping}
	spec, err := liveFilter(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []match{{Src: true, Addr: vip4}, {Addr: rip4}, {Src: true, Addr: vip6}, {Addr: rip6}} {
		if !slices.Contains(spec.Matches, m) {
			t.Errorf("addr filter lacks %s: %v", m, spec.Matches)
		}
	}
	if spec.DSCP != 0 {
		t.Errorf("addr filter takes codes %s", spec.DSCP)
	}
	accepts := func(p pcapgen.Packet) bool { return spec.accepts(&decodeAll(t, p)[0]) }
	if !accepts(pcapgen.Packet{Src: cli4, Dst: rip4, Proto: 6, SrcPort: 1, DstPort: 80}) || accepts(pcapgen.Packet{Src: cli4, Dst: other2, DSCP: 21, Proto: 6, SrcPort: 1, DstPort: 80}) {
		t.Errorf("addr filter: a request to the RIP with DSCP 0 must pass, a marked one elsewhere not")
	}
	o = &Options{Role: roleRealServer, Mode: dsrtypes.ModeDSCP, Codes: allMarked, Iface: "lo", Mapping: []MapEntry{{DSCP: 21, Local: rip4, VIP: vip4}}, ports: []uint16{80}}
	if spec, err = liveFilter(o); err != nil || !slices.Contains(spec.Matches, match{Addr: rip4, Port: 80}) || spec.DSCP != allMarked {
		t.Errorf("dscp filter: %+v, %v", spec, err)
	}
	// With an addr-mode RIP in the table, an unmarked request to the port
	// at another address (the dscp-mode VIPs' RIP) is still taken.
	o.Mapping = append(addrMapping, MapEntry{DSCP: 21, VIP: vip4})
	if spec, err = liveFilter(o); err != nil {
		t.Fatal(err)
	}
	if p := (pcapgen.Packet{Src: cli4, Dst: other2, Proto: 17, SrcPort: 1, DstPort: 80}); !spec.accepts(&decodeAll(t, p)[0]) {
		t.Errorf("dscp filter with --port 80 beside addr RIPs drops an unmarked request to %s: %v", other2, spec.Matches)
	}
}
