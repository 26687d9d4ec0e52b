package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/nl"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/maptable"
	"golang.org/x/sys/unix"
)

// fakeTable is an in-memory map table with the kernel's semantics.
type fakeTable struct {
	entries map[maptable.Key]maptable.Entry
	calls   []string
	addErr  error
	// listErr fails List, as a dump the kernel cuts short.
	listErr error
	// replaceErr fails Replace; replaced records every table Replace got.
	replaceErr error
	replaced   [][]maptable.Entry
	// mode is the module's path ("" is rule); modeErr fails SetMode.
	mode    maptable.Mode
	modeErr error
}

func newFakeTable(entries ...maptable.Entry) *fakeTable {
	t := &fakeTable{entries: map[maptable.Key]maptable.Entry{}}
	for _, e := range entries {
		e.Family = dsrtypes.FamilyOf(e.VIP)
		t.entries[e.Key()] = e
	}
	return t
}

var errNotFound = fmt.Errorf("no such entry: %w", maptable.ErrNotFound)

func (t *fakeTable) Add(e maptable.Entry, replace bool) error {
	t.calls = append(t.calls, fmt.Sprintf("add %v replace=%v", e, replace))
	if t.addErr != nil {
		return t.addErr
	}
	e.Family = dsrtypes.FamilyOf(e.VIP)
	if _, ok := t.entries[e.Key()]; ok && !replace {
		return maptable.ErrExists
	}
	t.entries[e.Key()] = e
	return nil
}

func (t *fakeTable) Delete(k maptable.Key) error {
	t.calls = append(t.calls, fmt.Sprintf("delete %v", k))
	if _, ok := t.entries[k]; !ok {
		return errNotFound
	}
	delete(t.entries, k)
	return nil
}

func (t *fakeTable) Get(k maptable.Key) (maptable.Entry, error) {
	t.calls = append(t.calls, fmt.Sprintf("get %v", k))
	e, ok := t.entries[k]
	if !ok {
		return e, errNotFound
	}
	return e, nil
}

func (t *fakeTable) List() ([]maptable.Entry, error) {
	t.calls = append(t.calls, "list")
	if t.listErr != nil {
		return nil, t.listErr
	}
	var out []maptable.Entry
	for _, e := range t.entries {
		out = append(out, e)
	}
	return out, nil
}

func (t *fakeTable) Flush(f dsrtypes.Family) error {
	t.calls = append(t.calls, fmt.Sprintf("flush %v", f))
	for k := range t.entries {
		if f == dsrtypes.AnyFamily || k.Family == f {
			delete(t.entries, k)
		}
	}
	return nil
}

func (t *fakeTable) Stats() (maptable.Stats, error) {
	t.calls = append(t.calls, "stats")
	st := maptable.Stats{Rewritten: 10, NoEntry: 2, Errors: 1, Entries: uint32(len(t.entries)), Generation: 5, Mode: t.mode}
	for k := range t.entries {
		if t.mode == maptable.ModeDirect {
			st.Hooks |= maptable.Hooks(1 << (k.Family / 10)) // IPv4 (2): bit 0, IPv6 (10): bit 1
		}
	}
	return st, nil
}

// SetMode is the module's MODE_SET.
func (t *fakeTable) SetMode(m maptable.Mode) error {
	t.calls = append(t.calls, "mode "+string(m))
	if t.modeErr != nil {
		return t.modeErr
	}
	t.mode = m
	return nil
}

// Replace is the kernel's atomic replace: counters of a key in both tables
// are kept.
func (t *fakeTable) Replace(entries []maptable.Entry) error {
	t.calls = append(t.calls, fmt.Sprintf("replace %d", len(entries)))
	if t.replaceErr != nil {
		return t.replaceErr
	}
	t.replaced = append(t.replaced, entries)
	next := map[maptable.Key]maptable.Entry{}
	for _, e := range entries {
		if e.Family == dsrtypes.AnyFamily {
			return errors.New("entry without a family sent")
		}
		if old, ok := t.entries[e.Key()]; ok {
			e.Packets, e.Bytes = old.Packets, old.Bytes
		}
		next[e.Key()] = e
	}
	t.entries = next
	return nil
}

func (t *fakeTable) Close() error { return nil }

type fakeRules struct {
	variant xtrule.Variant
	rules   map[xtrule.Family]int
	calls   []string
	err     error
}

func (r *fakeRules) Ensure(_ context.Context, f xtrule.Family) (bool, error) {
	r.calls = append(r.calls, fmt.Sprintf("ensure %v", f))
	if r.err != nil {
		return false, r.err
	}
	if r.rules[f] > 0 {
		return false, nil
	}
	r.rules[f]++
	return true, nil
}

func (r *fakeRules) Delete(_ context.Context, f xtrule.Family) error {
	r.calls = append(r.calls, fmt.Sprintf("delete %v", f))
	r.rules[f] = 0
	return nil
}

func (r *fakeRules) Exists(_ context.Context, f xtrule.Family) (bool, error) {
	r.calls = append(r.calls, fmt.Sprintf("exists %v", f))
	return r.rules[f] > 0, r.err
}

// fakeSystem puts fakes in place of the table and the iptables rules.
func fakeSystem(t testing.TB, table *fakeTable) *fakeRules {
	t.Helper()
	rules := &fakeRules{rules: map[xtrule.Family]int{}}
	s := sysFor(t)
	s.dialTable = func() (maptable.Table, error) { return table, nil }
	s.newRules = func(v xtrule.Variant) mapRules { rules.variant = v; return rules }
	return rules
}

// tableFull is the kernel's answer when the table has no room, with its
// extack message.
func tableFull(msg string) error { return &nl.KernelError{Errno: unix.ENOSPC, Message: msg} }

// untouchable makes any use of netlink or iptables fail the test.
func untouchable(t *testing.T) {
	t.Helper()
	s := sysFor(t)
	s.dialTable = func() (maptable.Table, error) {
		t.Error("netlink was used before the command line was validated")
		return nil, errors.New("untouchable")
	}
	s.newRules = func(xtrule.Variant) mapRules {
		t.Error("iptables was used before the command line was validated")
		return nil
	}
	s.ensureBPF = func() ([]string, error) {
		t.Error("the BPF backend was installed before the command line was validated")
		return nil, errors.New("untouchable")
	}
}

func runCLI(args ...string) (status int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	status = runWith(currentSys(), args, &out, &errOut)
	return status, out.String(), errOut.String()
}

// Bad input: exit status 2, a message naming the bad value and the fix, and
// neither netlink nor iptables touched.
func TestRuleUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		env  string
		want string
	}{
		{[]string{"rule", "add", "--dscp", "64", "--vip", "10.0.0.1"}, "", "DSCP 64 is out of range: use 0-63"},
		{[]string{"rule", "add", "--dscp", "0x40", "--vip", "10.0.0.1"}, "", "DSCP 0x40 (64) is out of range: use 0-63"},
		{[]string{"rule", "add", "--dscp", "banana", "--vip", "10.0.0.1"}, "", `DSCP "banana" is not a number: give the code 0-63 in decimal or hex`},
		{[]string{"rule", "add", "--dscp", "010", "--vip", "10.0.0.1"}, "", `DSCP "010" is ambiguous`},
		{[]string{"rule", "add", "--dscp", "1", "--vip", "banana"}, "", `--vip "banana" is not an IP address: give an IPv4 or IPv6 address`},
		{[]string{"rule", "add", "--dscp", "1", "--vip", "10.0.0.0/24"}, "", `--vip "10.0.0.0/24" is a prefix`},
		{[]string{"rule", "add", "--dscp", "1", "--vip", "10.0.0.1", "--local", "fd00::1"}, "", "VIP 10.0.0.1 is IPv4 but local address fd00::1 is IPv6: use addresses of one family"},
		{[]string{"rule", "add", "--dscp", "1", "--vip", "10.0.0.1", "--local", "nope"}, "", `--local "nope" is not an IP address`},
		{[]string{"rule", "add", "--dscp", "1", "--vip", "224.0.0.5"}, "", "VIP 224.0.0.5 is a multicast address: use a unicast VIP"},
		{[]string{"rule", "add", "--dscp", "1", "--vip", "0.0.0.0"}, "", "VIP 0.0.0.0 is unspecified"},
		{[]string{"rule", "add", "--dscp", "1"}, "", "--vip is missing: give the VIP that DSCP 1 stands for"},
		{[]string{"rule", "add", "--vip", "10.0.0.1"}, "", "--dscp is missing: give the code 0-63"},
		{[]string{"rule", "add", "--dscp", "1", "--vip", "10.0.0.1", "--iptables", "ebtables"}, "", `--iptables: iptables variant "ebtables" is unknown: use default, legacy or nft`},
		{[]string{"rule", "add", "--dscp", "1", "--vip", "10.0.0.1"}, "bogus", `$L3DSR_IPTABLES: iptables variant "bogus" is unknown`},
		{[]string{"rule", "add", "--dscp", "1", "--vip", "10.0.0.1", "extra"}, "", `unknown command "extra"`},
		{[]string{"rule", "add", "--dscp"}, "", "flag needs an argument: --dscp"},
		{[]string{"rule", "del"}, "", "--dscp is missing"},
		{[]string{"rule", "del", "--dscp", "99"}, "", "DSCP 99 is out of range: use 0-63"},
		{[]string{"rule", "del", "--dscp", "1", "--family", "5"}, "", `--family "5" is unknown: use 4 or 6`},
		{[]string{"rule", "del", "--dscp", "1", "--family", "6", "--local", "10.1.0.1"}, "", "--family 6 does not match --local 10.1.0.1 (IPv4)"},
		{[]string{"rule", "del", "--dscp", "1", "--local", "0.0.0.0"}, "", "local address 0.0.0.0 is unspecified: leave the local address out to match any"},
		{[]string{"rule", "add", "--dscp", "any", "--vip", "10.0.0.1"}, "", "an any-DSCP entry needs --local: without it, it would capture every packet"},
		{[]string{"rule", "add", "--dscp", "all", "--vip", "10.0.0.1"}, "", `DSCP "all" is not a number: give the code 0-63 in decimal or hex (e.g. 10 or 0x0a), or any (with --local)`},
		{[]string{"rule", "add", "--dscp", "1", "--vip", "10.0.0.1", "--set-dscp", "64"}, "", `invalid argument "64" for "--set-dscp" flag: DSCP 64 is out of range: use 0-63`},
		{[]string{"rule", "add", "--dscp", "1", "--vip", "10.0.0.1", "--set-dscp", "any"}, "", `for "--set-dscp" flag: DSCP "any" is not a number`},
		{[]string{"rule", "del", "--dscp", "any"}, "", "an any-DSCP entry needs --local"},
		{[]string{"rule", "del", "--dscp", "any", "--family", "4"}, "", "an any-DSCP entry needs --local"},
		{[]string{"rule", "list", "-o", "yaml"}, "", `output format "yaml" is unknown: use -o table or -o json`},
		{[]string{"rule", "stats", "-o", "xml"}, "", `output format "xml" is unknown`},
		{[]string{"rule", "flush", "--family", "ipx"}, "", `--family "ipx" is unknown: use 4 or 6`},
		{[]string{"rule"}, "", "needs a subcommand"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			untouchable(t)
			t.Setenv(xtrule.VariantEnv, tt.env)
			status, stdout, stderr := runCLI(tt.args...)
			if status != exitUsage {
				t.Errorf("exit status %d, want %d; stderr %q", status, exitUsage, stderr)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr = %q\nwant it to contain %q", stderr, tt.want)
			}
			if !strings.Contains(stderr, "--help' for usage") {
				t.Errorf("stderr = %q, want a usage hint", stderr)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
		})
	}
}

// TestParseDSCP: --dscp as iptables reads it; a bad code is a usage error
// naming the code and the fix.
func TestParseDSCP(t *testing.T) {
	good := map[string]uint8{"0": 0, "1": 1, "63": 63, "0x0a": 10, "0xA": 10, "0X3F": 63, "0x00": 0, " 7 ": 7, "0x3f": 63}
	for in, want := range good {
		var got dsrtypes.DSCP
		if err := (&dsrtypes.Flag{Value: &got}).Set(in); err != nil || uint8(got) != want {
			t.Errorf("--dscp %q = %d, %v; want %d", in, got, err, want)
		}
	}
	bad := map[string]string{
		"64":                    "DSCP 64 is out of range: use 0-63",
		"0x40":                  "DSCP 0x40 (64) is out of range: use 0-63",
		"255":                   "DSCP 255 is out of range",
		"99999999999999999999":  "DSCP 99999999999999999999 is out of range",
		"0xfffffffffffffffffff": "is out of range",
		"-1":                    `DSCP "-1" is not a number`,
		"":                      `for "--dscp" flag: DSCP is empty`,
		"0x":                    `DSCP "0x" is not a number`,
		"1.5":                   "is not a number",
		"ef":                    "is not a number",
		"0x1g":                  "is not a number",
		"07":                    "ambiguous",
	}
	for in, want := range bad {
		untouchable(t)
		st, _, stderr := runCLI("rule", "add", "--dscp", in, "--vip", "10.0.0.1")
		if st != exitUsage || !strings.Contains(stderr, want) {
			t.Errorf("--dscp %q: exit %d, %q; want a usage error containing %q", in, st, stderr, want)
		}
	}
}

func TestRuleAdd(t *testing.T) {
	table := newFakeTable()
	rules := fakeSystem(t, table)
	t.Setenv(xtrule.VariantEnv, "")

	status, stdout, stderr := runCLI("rule", "add", "--dscp", "0x0a", "--vip", "10.0.0.1", "--local", "10.1.0.10")
	if status != exitOK {
		t.Fatalf("exit %d: %s", status, stderr)
	}
	wantOut := "appended the map-mode rule for IPv4: iptables -t raw -A PREROUTING -j DADDR --map\nadded IPv4 DSCP 10 local 10.1.0.10 -> VIP 10.0.0.1\n"
	if stdout != wantOut {
		t.Errorf("stdout = %q\nwant %q", stdout, wantOut)
	}
	key := maptable.Key{Family: dsrtypes.IPv4, DSCP: 10, Local: netip.MustParseAddr("10.1.0.10")}
	if e, ok := table.entries[key]; !ok || e.VIP != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("table %v", table.entries)
	}

	// A second entry of the family: the rule is checked, not added again.
	status, stdout, _ = runCLI("rule", "add", "--dscp", "11", "--vip", "10.0.0.2")
	if status != exitOK || strings.Contains(stdout, "appended") {
		t.Errorf("second add: exit %d, stdout %q", status, stdout)
	}
	if rules.rules[xtrule.IPv4] != 1 {
		t.Errorf("%d IPv4 rules, want 1", rules.rules[xtrule.IPv4])
	}

	// A duplicate is refused before iptables is touched.
	rules.calls, table.calls = nil, nil
	status, _, stderr = runCLI("rule", "add", "--dscp", "11", "--vip", "10.0.0.3")
	if status != exitRuntime || !strings.Contains(stderr, "IPv4 DSCP 11 local any already maps to VIP 10.0.0.2: use --replace to change it") {
		t.Errorf("duplicate: exit %d, stderr %q", status, stderr)
	}
	if len(rules.calls) != 0 || len(table.calls) != 1 {
		t.Errorf("duplicate: iptables calls %v, table calls %v; want only the lookup", rules.calls, table.calls)
	}

	status, stdout, _ = runCLI("rule", "add", "--dscp", "11", "--vip", "10.0.0.3", "--replace")
	if status != exitOK || stdout != "set IPv4 DSCP 11 local any -> VIP 10.0.0.3\n" {
		t.Errorf("replace: exit %d, stdout %q", status, stdout)
	}

	// IPv6 gets its own rule, with the variant chosen.
	status, stdout, stderr = runCLI("rule", "add", "--dscp", "63", "--vip", "2001:db8::1", "--iptables", "legacy")
	if status != exitOK {
		t.Fatalf("IPv6: exit %d: %s", status, stderr)
	}
	if rules.rules[xtrule.IPv6] != 1 || rules.variant != xtrule.Legacy || !strings.Contains(stdout, "ip6tables-legacy -t raw -A PREROUTING -j DADDR --map") {
		t.Errorf("IPv6: rules %v variant %q stdout %q", rules.rules, rules.variant, stdout)
	}
	t.Setenv(xtrule.VariantEnv, "nft")
	if status, _, _ := runCLI("rule", "add", "--dscp", "62", "--vip", "2001:db8::2"); status != exitOK || rules.variant != xtrule.NFT {
		t.Errorf("$%s=nft: exit %d, variant %q", xtrule.VariantEnv, status, rules.variant)
	}
}

// A failed add removes the map-mode rule it appended, and is exit 1.
func TestRuleAddRollsBack(t *testing.T) {
	table := newFakeTable()
	table.addErr = tableFull("the table is full")
	rules := fakeSystem(t, table)
	status, _, stderr := runCLI("rule", "add", "--dscp", "1", "--vip", "10.0.0.1")
	if status != exitRuntime || !strings.Contains(stderr, "the table is full") || !strings.Contains(stderr, "removed again") {
		t.Errorf("exit %d, stderr %q", status, stderr)
	}
	if rules.rules[xtrule.IPv4] != 0 {
		t.Errorf("the appended rule stayed")
	}

	// iptables failing: exit 1, nothing added.
	table.addErr = nil
	rules.err = errors.New("iptables -w -t raw -C PREROUTING -j DADDR --map: exit status 2: unknown option \"--map\"")
	status, _, stderr = runCLI("rule", "add", "--dscp", "1", "--vip", "10.0.0.1")
	if status != exitRuntime || !strings.Contains(stderr, "adding the map-mode rule: iptables") || len(table.entries) != 0 {
		t.Errorf("iptables failure: exit %d, stderr %q, table %v", status, stderr, table.entries)
	}
}

// No module: exit 1 with the fix, for every command.
func TestRuleModuleMissing(t *testing.T) {
	fakeSystem(t, newFakeTable())
	sysFor(t).dialTable = func() (maptable.Table, error) { return nil, maptable.ErrNotLoaded }
	for _, args := range [][]string{
		{"rule", "add", "--dscp", "1", "--vip", "10.0.0.1"},
		{"rule", "del", "--dscp", "1"},
		{"rule", "list"},
		{"rule", "flush"},
		{"rule", "stats"},
	} {
		status, _, stderr := runCLI(args...)
		want := "l3dsr: the l3dsr kernel module is not loaded: run 'modprobe xt_DADDR' (install the l3dsr-dkms package if modprobe cannot find it); a host without the module can use the tc-BPF backend instead: run 'l3dsr realserver up --backend bpf'\n"
		if status != exitRuntime || stderr != want {
			t.Errorf("%v: exit %d, stderr %q", args, status, stderr)
		}
	}
}

func TestRuleDel(t *testing.T) {
	a := netip.MustParseAddr
	table := newFakeTable(
		maptable.Entry{DSCP: 1, VIP: a("10.0.0.1")},
		maptable.Entry{DSCP: 2, VIP: a("10.0.0.2")},
		maptable.Entry{DSCP: 2, VIP: a("2001:db8::2")},
		maptable.Entry{DSCP: 3, Local: a("fd00::10"), VIP: a("2001:db8::3")},
	)
	fakeSystem(t, table)
	for _, tt := range []struct {
		args   []string
		status int
		out    string
		err    string
	}{
		{[]string{"--dscp", "1"}, exitOK, "deleted IPv4 DSCP 1 local any\n", ""},
		{[]string{"--dscp", "1"}, exitRuntime, "", "no entry for DSCP 1 with local address any, in either family"},
		{[]string{"--dscp", "2"}, exitUsage, "", "DSCP 2 with local address any has an entry in both families: give --family 4 or --family 6"},
		{[]string{"--dscp", "2", "--family", "6"}, exitOK, "deleted IPv6 DSCP 2 local any\n", ""},
		{[]string{"--dscp", "0x03", "--local", "fd00::10"}, exitOK, "deleted IPv6 DSCP 3 local fd00::10\n", ""},
		{[]string{"--dscp", "2", "--family", "ipv4"}, exitOK, "deleted IPv4 DSCP 2 local any\n", ""},
		{[]string{"--dscp", "2", "--family", "4"}, exitRuntime, "", "no such entry"},
	} {
		status, stdout, stderr := runCLI(append([]string{"rule", "del"}, tt.args...)...)
		if status != tt.status || stdout != tt.out || !strings.Contains(stderr, tt.err) {
			t.Errorf("del %v: exit %d, stdout %q, stderr %q; want %d, %q, %q", tt.args, status, stdout, stderr, tt.status, tt.out, tt.err)
		}
	}
	if len(table.entries) != 0 {
		t.Errorf("left %v", table.entries)
	}
}

// listedEntries are the table the list and replace tests start from.
func listedEntries() []maptable.Entry {
	a := netip.MustParseAddr
	return []maptable.Entry{
		{DSCP: 2, VIP: a("2001:db8::2"), Packets: 5, Bytes: 400},
		{DSCP: 10, Local: a("10.1.0.10"), VIP: a("10.0.0.10"), Packets: 1, Bytes: 60},
		{DSCP: 10, VIP: a("10.0.0.1"), Packets: 123456789, Bytes: 9876543210},
	}
}

func TestRuleListAndStats(t *testing.T) {
	table := newFakeTable(listedEntries()...)
	fakeSystem(t, table)

	status, stdout, stderr := runCLI("rule", "list")
	want := `path: iptables rule (-t raw PREROUTING -j DADDR --map)
FAMILY  DSCP  LOCAL      VIP          PACKETS    BYTES       SET-DSCP
ipv4    10    any        10.0.0.1     123456789  9876543210  -
ipv4    10    10.1.0.10  10.0.0.10    1          60          -
ipv6    2     any        2001:db8::2  5          400         -
`
	if status != exitOK || stdout != want {
		t.Errorf("list: exit %d, stderr %q, stdout:\n%s\nwant:\n%s", status, stderr, stdout, want)
	}

	status, stdout, _ = runCLI("rule", "list", "-o", "json")
	want = `[
  {
    "family": "ipv4",
    "dscp": 10,
    "local": "any",
    "vip": "10.0.0.1",
    "packets": 123456789,
    "bytes": 9876543210
  },
  {
    "family": "ipv4",
    "dscp": 10,
    "local": "10.1.0.10",
    "vip": "10.0.0.10",
    "packets": 1,
    "bytes": 60
  },
  {
    "family": "ipv6",
    "dscp": 2,
    "local": "any",
    "vip": "2001:db8::2",
    "packets": 5,
    "bytes": 400
  }
]
`
	if status != exitOK || stdout != want {
		t.Errorf("list json: exit %d, stdout:\n%s", status, stdout)
	}

	status, stdout, _ = runCLI("rule", "stats", "-o", "json")
	if want := "{\n  \"rewritten\": 10,\n  \"no_entry\": 2,\n  \"errors\": 1,\n  \"entries\": 3,\n  \"generation\": 5,\n  \"mode\": \"rule\",\n  \"hooks\": [],\n  \"path\": \"iptables rule (-t raw PREROUTING -j DADDR --map)\"\n}\n"; status != exitOK || stdout != want {
		t.Errorf("stats json: exit %d, stdout %q", status, stdout)
	}
	status, stdout, _ = runCLI("rule", "stats")
	if want := "path: iptables rule (-t raw PREROUTING -j DADDR --map)\nREWRITTEN  NO ENTRY  ERRORS  ENTRIES  GENERATION\n10         2         1       3        5\n"; status != exitOK || stdout != want {
		t.Errorf("stats: exit %d, stdout %q", status, stdout)
	}

	status, stdout, _ = runCLI("rule", "flush", "--family", "6")
	if status != exitOK || stdout != "flushed IPv6\n" || len(table.entries) != 2 {
		t.Errorf("flush 6: exit %d, stdout %q, left %d", status, stdout, len(table.entries))
	}
	status, stdout, _ = runCLI("rule", "flush")
	if status != exitOK || stdout != "flushed all families\n" || len(table.entries) != 0 {
		t.Errorf("flush: exit %d, stdout %q, left %d", status, stdout, len(table.entries))
	}
	// An empty table is an empty JSON array, not null.
	if _, stdout, _ = runCLI("rule", "list", "-o", "json"); stdout != "[]\n" {
		t.Errorf("empty list json = %q", stdout)
	}
}

// --dscp any with --local (addr mode) and --set-dscp: added, listed,
// warned about when the lookup order shadows it (exit 0 all the same),
// deleted.
func TestRuleAnyDSCP(t *testing.T) {
	table := newFakeTable(maptable.Entry{DSCP: 10, Local: netip.MustParseAddr("10.1.1.5"), VIP: netip.MustParseAddr("10.0.0.1")})
	fakeSystem(t, table)
	t.Setenv(xtrule.VariantEnv, "")

	status, stdout, stderr := runCLI("rule", "add", "--dscp", "any", "--local", "10.1.1.5", "--vip", "10.0.0.2", "--set-dscp", "0")
	wantOut := "appended the map-mode rule for IPv4: iptables -t raw -A PREROUTING -j DADDR --map\nadded IPv4 DSCP any local 10.1.1.5 -> VIP 10.0.0.2, DSCP set to 0\n"
	wantErr := "warning: DSCP 10 to 10.1.1.5 goes to VIP 10.0.0.1, not VIP 10.0.0.2's any-DSCP entry: (DSCP, local) is looked up first\n"
	if status != exitOK || stdout != wantOut || stderr != wantErr {
		t.Errorf("add: exit %d\nstdout %q\nwant   %q\nstderr %q\nwant   %q", status, stdout, wantOut, stderr, wantErr)
	}
	key := maptable.Key{Family: dsrtypes.IPv4, AnyDSCP: true, Local: netip.MustParseAddr("10.1.1.5")}
	if e, ok := table.entries[key]; !ok || e.VIP != netip.MustParseAddr("10.0.0.2") || e.SetDSCP == nil || *e.SetDSCP != 0 {
		t.Errorf("table %v", table.entries)
	}

	status, stdout, _ = runCLI("rule", "list")
	want := `path: iptables rule (-t raw PREROUTING -j DADDR --map)
FAMILY  DSCP  LOCAL     VIP       PACKETS  BYTES  SET-DSCP
ipv4    10    10.1.1.5  10.0.0.1  0        0      -
ipv4    any   10.1.1.5  10.0.0.2  0        0      0
`
	if status != exitOK || stdout != want {
		t.Errorf("list: exit %d\n%s\nwant\n%s", status, stdout, want)
	}
	status, stdout, _ = runCLI("rule", "list", "-o", "json")
	if status != exitOK || !strings.Contains(stdout, `"dscp": "any",
    "local": "10.1.1.5",
    "vip": "10.0.0.2",
    "set_dscp": 0,`) {
		t.Errorf("list json: exit %d\n%s", status, stdout)
	}

	status, stdout, stderr = runCLI("rule", "del", "--dscp", "any", "--local", "10.1.1.5")
	if status != exitOK || stdout != "deleted IPv4 DSCP any local 10.1.1.5\n" || len(table.entries) != 1 {
		t.Errorf("del: exit %d, stdout %q, stderr %q, left %v", status, stdout, stderr, table.entries)
	}
	status, _, stderr = runCLI("rule", "del", "--dscp", "any", "--local", "10.1.1.5")
	if status != exitRuntime || !strings.Contains(stderr, "no such entry") {
		t.Errorf("del again: exit %d, stderr %q", status, stderr)
	}
}
