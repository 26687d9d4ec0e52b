package main

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/ipvs"
	"github.com/l3dsr/l3dsr/maptable"
	"github.com/l3dsr/l3dsr/realserver"
	"github.com/spf13/cobra"
)

// tableSeeds are table files as 'rule list -o json' writes them and as the
// tests and docs write them, good and bad.
var tableSeeds = []string{
	"[]\n",
	`[{"family": "ipv4", "dscp": 1, "local": "10.1.0.1", "vip": "10.0.0.1"},
  {"family": "ipv6", "dscp": 63, "local": "any", "vip": "2001:db8::1", "packets": 5, "bytes": 420}]`,
	`[{"family": "ipv4", "dscp": 2, "vip": "10.0.0.2"}, {"family": "ipv6", "dscp": 2, "vip": "2001:db8::2"}]`,
	`[{"family": "ipv4", "dscp": "0x40", "vip": "10.0.0.2"}]`,
	`[{"family": "ipv4", "dscp": 1.5, "vip": "10.0.0.2"}]`,
	`[{"family": "ipv4", "dscp": 3, "local": "fd00::1", "vip": "10.0.0.1"}]`,
	`[{"family": "ipv4", "dscp": 3, "vlp": "10.0.0.1"}]`,
	"[\n{\"family\": \"ipv4\", \"dscp\": 1, \"vip\": \"10.0.0.1\"},\n{\"family\": \"ipv4\", \"dscp\": 1, \"vip\": \"10.0.0.9\"}]",
	`[{"family": "ipv4", "dscp": 1, "local": "any", "vip": "10.0.0.1"}, 5]`,
	"[]\n[]",
}

func sortedEntries(es []maptable.Entry) []maptable.Entry {
	es = slices.Clone(es)
	slices.SortFunc(es, func(a, b maptable.Entry) int {
		if c := a.Key().Family - b.Key().Family; c != 0 {
			return int(c)
		}
		if c := int(a.DSCP) - int(b.DSCP); c != 0 {
			return c
		}
		return a.Local.Compare(b.Local)
	})
	for i := range es {
		es[i].Packets, es[i].Bytes = 0, 0
	}
	return es
}

// FuzzTableJSON: any file for 'rule replace -f' gives entries or a usage
// error that names the file, never a panic; and entries written as 'rule
// list -o json' writes them read back the same.
func FuzzTableJSON(f *testing.F) {
	var listed bytes.Buffer
	if err := maptable.WriteEntries(&listed, []maptable.Entry{
		{Family: dsrtypes.IPv4, DSCP: 21, VIP: netip.MustParseAddr("10.0.0.1"), Packets: 3, Bytes: 180},
		{Family: dsrtypes.IPv6, DSCP: 22, Local: netip.MustParseAddr("2001:db8:e::30"), VIP: netip.MustParseAddr("2001:db8::1")},
	}, "json"); err != nil {
		f.Fatal(err)
	}
	f.Add(listed.Bytes())
	for _, s := range tableSeeds {
		f.Add([]byte(s))
	}
	// readTable reads data as 'rule replace -f -' reads standard input.
	readTable := func(data []byte) ([]maptable.Entry, error) {
		return (&ruleSystem{stdin: bytes.NewReader(data)}).readTable("-")
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := readTable(data)
		if err != nil {
			var ue *usageError
			if !errors.As(err, &ue) || !strings.HasPrefix(err.Error(), "standard input") {
				t.Fatalf("error %T %q is not a usage error naming the file", err, err)
			}
			return
		}
		for _, e := range entries {
			if e.Family == dsrtypes.AnyFamily {
				t.Fatalf("entry without a family: %v", e)
			}
			if err := e.Validate(); err != nil {
				t.Fatalf("accepted entry %v does not validate: %v", e, err)
			}
		}
		var out bytes.Buffer
		if err := maptable.WriteEntries(&out, entries, "json"); err != nil {
			t.Fatal(err)
		}
		again, err := readTable(out.Bytes())
		if err != nil {
			t.Fatalf("the listing of an accepted table does not read back: %v\n%s", err, out.Bytes())
		}
		if !reflect.DeepEqual(sortedEntries(entries), sortedEntries(again)) {
			t.Fatalf("the listing reads back to other entries:\n%v\n%v", entries, again)
		}
	})
}

// cliSeeds are the command lines of the CLI's own examples, each command
// bare and with --help, and the repository's config files for apply.
func cliSeeds(t testing.TB) [][]string {
	var seeds [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		seeds = append(seeds, slices.Clone(path), append(slices.Clone(path), "--help"))
		for _, line := range strings.Split(c.Example, "\n") {
			_, cmdline, ok := strings.Cut(line, "l3dsr ")
			if !ok {
				continue
			}
			cmdline, _, _ = strings.Cut(cmdline, ">") // a shell redirection
			seeds = append(seeds, strings.Fields(cmdline))
		}
		for _, sub := range c.Commands() {
			walk(sub, append(slices.Clone(path), sub.Name()))
		}
	}
	walk(newCLI(hostSys(), nil, nil).root, nil)
	confs, err := filepath.Glob("../../tests/scenarios/apply.d/*.conf")
	if err != nil || len(confs) == 0 {
		t.Fatalf("no config files to seed with (%v)", err)
	}
	for _, c := range confs {
		seeds = append(seeds, []string{"apply", "--dry-run", "-f", c}, []string{"apply", "-f", c})
	}
	seeds = append(seeds,
		[]string{"save", "--from-dsrtools", "../../tests/scenarios/apply.d/dsr.d"},
		[]string{"verify", "--pcap", "nope.pcap", "--role", "director", "--expect", "10.80.0.1:80=21"},
		[]string{"rule", "replace", "-f", "-"},
		[]string{"gen-docs", "--man", "man", "--completions", "compl"},
	)
	return seeds
}

// The state the fakes report when the host is "up": a VIP, a service and
// a mapping, so that commands past their flags print and plan something.
func cannedHost(h *fakeHost) {
	code := uint8(21)
	h.rs.report = realserver.Report{VIPs: []realserver.VIPStatus{{
		Config: realserver.Config{VIP: netip.MustParseAddr("10.0.0.1"), Mode: dsrtypes.ModeDSCP, DSCP: &code},
		OnLo:   true, Rule: true, OK: true,
	}}}
	k := director.Key{VIP: netip.MustParseAddr("10.0.0.1"), Port: 80, Proto: ipvs.ProtoTCP}
	h.dir.status = director.Status{Services: []director.Service{{Key: k, Mode: dsrtypes.ModeDSCP, DSCP: 21, Scheduler: "wlc",
		Reals: []director.Real{{Addr: netip.MustParseAddr("10.1.0.10"), Weight: 100}}}}}
	h.table.entries[maptable.Key{Family: dsrtypes.IPv4, DSCP: 21}] = maptable.Entry{Family: dsrtypes.IPv4, DSCP: 21, VIP: netip.MustParseAddr("10.0.0.1")}
}

// FuzzRun: any command line, through the CLI's own run, ends in exit 0, 1
// or 2 (or verify's 3, a damaged capture) with an error line for all but 0,
// never a panic. Every opener is a
// fake (hostUp picks a host that answers or one that fails everything), so
// nothing on this host is read through netlink, captured, written or
// changed.
func FuzzRun(f *testing.F) {
	for _, args := range cliSeeds(f) {
		f.Add(true, strings.Join(args, "\x00"))
		f.Add(false, strings.Join(args, "\x00"))
	}
	f.Fuzz(func(t *testing.T, hostUp bool, line string) {
		var args []string
		if line != "" {
			args = strings.Split(line, "\x00")
		}
		for _, a := range args {
			// A device or a FIFO named as a file never ends: reading
			// one is not what this target is about.
			if strings.Contains(a, "/dev") || strings.Contains(a, "/proc") || strings.Contains(a, "/sys") || strings.Contains(a, "/run") {
				return
			}
		}
		h := installHost(t)
		if hostUp {
			cannedHost(h)
		} else {
			boom := errors.New("the fuzzed host has nothing")
			h.rsOpenErr, h.dirOpenErr, h.tableOpenErr, h.verifyOpenErr = boom, boom, boom, boom
			h.rs.err, h.dir.err, h.table.listErr, h.rules.err = boom, boom, boom, boom
		}
		var out, errOut bytes.Buffer
		rc := runWith(h.sys, args, &out, &errOut)
		stderr := errOut.String()
		switch {
		case rc == exitOK:
		case rc == exitRuntime, rc == exitUsage, rc == exitPartial && slices.Contains(args, "verify"):
			if !strings.HasPrefix(stderr, "l3dsr: ") && !strings.Contains(stderr, "\nl3dsr: ") {
				t.Fatalf("%q: exit %d without an error line; stderr %q", args, rc, stderr)
			}
			if rc == exitUsage && !strings.Contains(stderr, "--help' for usage") {
				t.Fatalf("%q: usage error without the help hint; stderr %q", args, stderr)
			}
		default:
			t.Fatalf("%q: exit %d", args, rc)
		}
		if len(h.writes) > 0 {
			t.Fatalf("%q: asked to write %q", args, h.writes)
		}
	})
}

// The seeds themselves run in every 'go test': the examples of every
// command end in 0, 1 or 2. This also keeps cliSeeds honest: a seed per
// command at least.
func TestCLISeedsCoverEveryCommand(t *testing.T) {
	seeds := cliSeeds(t)
	var walk func(c *cobra.Command, path string)
	walk = func(c *cobra.Command, path string) {
		if !slices.ContainsFunc(seeds, func(s []string) bool { return strings.Join(s, " ") == path }) {
			t.Errorf("no seed for %q", path)
		}
		for _, sub := range c.Commands() {
			walk(sub, strings.TrimSpace(path+" "+sub.Name()))
		}
	}
	walk(newCLI(hostSys(), nil, nil).root, "")
	if _, err := os.Stat("../../tests/scenarios/apply.d/rs-v1.conf"); err != nil {
		t.Fatal(err)
	}
}
