package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// The repository's own config files, read relative to this package.
var exampleConfigs = []string{"../packaging/l3dsr.conf.example", "../tests/scenarios/apply.d/*.conf"}

// yamlBlock is a ```yaml block of docs/config.md.
var yamlBlock = regexp.MustCompile("(?s)```yaml\n(.*?)```")

// configSeeds are the example files, the shipped example with its sections
// uncommented (as shipped it is all comments), and the YAML of the docs.
func configSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	for _, pat := range exampleConfigs {
		names, err := filepath.Glob(pat)
		if err != nil || len(names) == 0 {
			t.Fatalf("no seed files for %s (%v)", pat, err)
		}
		for _, n := range names {
			b, err := os.ReadFile(n)
			if err != nil {
				t.Fatal(err)
			}
			seeds = append(seeds, b)
		}
	}
	// "#realserver:" and "#  vips:" are commented-out keys; "# text" is prose.
	uncomment := regexp.MustCompile(`(?m)^#([^ #]| {2})`)
	seeds = append(seeds, uncomment.ReplaceAll(seeds[0], []byte("$1")))
	doc, err := os.ReadFile("../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range yamlBlock.FindAllSubmatch(doc, -1) {
		seeds = append(seeds, m[1])
	}
	return seeds
}

// withoutPositions is f as a saved file has it: the lines things were
// written on and the dsrtools directory (already merged in) are not part of
// the value, and an empty list is the same as none.
func withoutPositions(f *File) File {
	c := File{}
	if rs := f.realServer; rs != nil {
		c.realServer = &RealServer{iptables: rs.iptables}
		for _, v := range rs.VIPs {
			c.realServer.VIPs = append(c.realServer.VIPs, VIP{Config: v.Config})
		}
	}
	if d := f.director; d != nil {
		c.director = &Director{}
		for _, s := range d.Services {
			s.pos, s.realPos, s.sorryPos = Pos{}, nil, Pos{}
			if len(s.Service.Reals) == 0 {
				s.Service.Reals = nil
			}
			c.director.Services = append(c.director.Services, s)
		}
	}
	if a := f.agent; a != nil {
		c.agent = &Agent{Metrics: a.Metrics, Teardown: a.Teardown, RepairInterval: a.RepairInterval, ICMPRelay: a.ICMPRelay}
		if b := a.BGP; b != nil {
			nb := *b
			nb.Pos = Pos{}
			nb.Neighbors, nb.Announce = nil, nil
			for _, n := range b.Neighbors {
				n.Pos = Pos{}
				nb.Neighbors = append(nb.Neighbors, n)
			}
			for _, an := range b.Announce {
				an.Pos = Pos{}
				nb.Announce = append(nb.Announce, an)
			}
			c.agent.BGP = &nb
		}
	}
	return c
}

// roundTrip checks the property save relies on: what Marshal writes of a
// good file parses again, to the same value, and is written the same way.
func roundTrip(t *testing.T, f *File, input []byte) {
	t.Helper()
	out, err := Marshal(f, "# saved\n")
	if err != nil {
		t.Fatalf("Marshal of a loaded file failed: %v\ninput:\n%s", err, input)
	}
	g, err := parseFile("saved.conf", out)
	if err != nil {
		t.Fatalf("the saved file does not load: %v\ninput:\n%s\nsaved:\n%s", err, input, out)
	}
	if a, b := withoutPositions(f), withoutPositions(g); !reflect.DeepEqual(a, b) {
		t.Fatalf("the saved file loads to another value\ninput:\n%s\nsaved:\n%s\nfirst:  %+v\nsecond: %+v", input, out, a, b)
	}
	again, err := Marshal(g, "# saved\n")
	if err != nil || !bytes.Equal(out, again) {
		t.Fatalf("saving the reloaded file gives other text (%v)\nfirst:\n%s\nsecond:\n%s", err, out, again)
	}
}

// FuzzParse: any bytes give a File or Errors, never a panic, and a File
// survives save and load unchanged.
func FuzzParse(f *testing.F) {
	for _, s := range configSeeds(f) {
		f.Add(s)
	}
	// Checks of every kind, an agent section, and a check with a mistake
	// of each sort.
	f.Add([]byte(withChecks))
	// A bgp section with every key, one with the defaults, and one with a
	// mistake of each sort.
	f.Add([]byte(bgpFull + bgpServices))
	f.Add([]byte(bgpMinimal + bgpServices))
	f.Add([]byte("agent:\n  icmp_relay: maybe\n  bgp:\n    asn: 23456\n    router_id: \"::1\"\n    listen_port: 0\n    withdraw_delay: 11m\n    next_hop: [10.1.0.1, 10.1.0.2]\n    neighbors:\n      - {address: \"2001:db8::1\", asn: 0, hold_time: 2s, local_address: 10.1.0.11, multihop: 0}\n      - {address: \"2001:db8::1\", asn: 65000}\n    announce: [192.0.2.99, 192.0.2.10, {vip: 192.0.2.10, next_hop: \"::1\"}]\n" + bgpServices))
	f.Add([]byte("director:\n  services:\n    - vip: \"[2001:db8::1]:53\"\n      proto: udp\n      dscp: 9\n      sorry: 2001:db8::99\n      health:\n        kind: udp-dns\n        rise: 0\n        path: x\n        timeout: 7s\n        qtype: mx\n        body: (\nagent: {metrics: '[::1]:0', on_stop: keep, repair_interval: 2}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := parseFile("fuzz.conf", data)
		if err != nil {
			if file != nil {
				t.Fatalf("Parse returned both a File and the error %v", err)
			}
			if _, ok := err.(Errors); !ok {
				t.Fatalf("Parse error %T is not Errors: %v", err, err)
			}
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatalf("Parse error has no text")
			}
			return
		}
		if file.dsrTools != "" {
			// Load merges the directory in before save could see the
			// file; with the directory left out the rest must still
			// round-trip.
			file.dsrTools = ""
		}
		roundTrip(t, file, data)
	})
}

// FuzzDSRTools: any dsrtools file gives VIPs or errors with their line,
// never a panic; the VIPs, merged as Load merges them, save and load again
// to the same value.
func FuzzDSRTools(f *testing.F) {
	names, err := filepath.Glob("../tests/scenarios/apply.d/dsr.d/*.conf")
	if err != nil || len(names) == 0 {
		f.Fatalf("no dsrtools seed files (%v)", err)
	}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add("# VIP=DSCP\n98.139.235.245=28    # the best\n\n  201F::0080:1d0:f8 = 29\n")
	f.Add("10.0.0.9=041\n10.0.0.10=0x22\n10.0.0.11\nhost.example=3\n")
	f.Fuzz(func(t *testing.T, data string) {
		vips, errs := dsrTools{}.file("fuzz.conf", data)
		for _, e := range errs {
			if e.pos.File != "fuzz.conf" || e.pos.Line < 1 || e.Msg == "" {
				t.Fatalf("error without file, line or text: %+v", e)
			}
		}
		for _, v := range vips {
			if err := v.Config.Validate(); err != nil {
				t.Fatalf("parsed VIP %v does not validate: %v", v.Config, err)
			}
		}
		if len(errs) > 0 {
			return
		}
		file := &File{}
		mergeDSRTools(file, vips)
		if check(file) != nil {
			return // e.g. one VIP twice with two codes: check names both lines
		}
		roundTrip(t, file, []byte(data))
	})
}
