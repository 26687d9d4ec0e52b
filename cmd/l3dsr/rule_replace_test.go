package main

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/maptable"
)

// replaceSystem puts fakes in place of the table and the rules.
func replaceSystem(t *testing.T, table *fakeTable) (*fakeTable, *fakeRules) {
	t.Helper()
	return table, fakeSystem(t, table)
}

func writeTable(t *testing.T, content string) string { return writeFile(t, "table.json", content) }

func withoutCounters(m map[maptable.Key]maptable.Entry) map[maptable.Key]maptable.Entry {
	out := map[maptable.Key]maptable.Entry{}
	for k, e := range m {
		e.Packets, e.Bytes = 0, 0
		out[k] = e
	}
	return out
}

// `rule list -o json > f; rule replace -f f` gives the same table back.
func TestRuleReplaceRoundTrip(t *testing.T) {
	a := netip.MustParseAddr
	table := newFakeTable(append(listedEntries(), maptable.Entry{DSCP: 63, Local: a("fd00::10"), VIP: a("2001:db8::63")})...)
	rt, rules := replaceSystem(t, table)
	t.Setenv(xtrule.VariantEnv, "")
	want := withoutCounters(maps.Clone(table.entries))

	status, listed, stderr := runCLI("rule", "list", "-o", "json")
	if status != exitOK {
		t.Fatalf("list: exit %d: %s", status, stderr)
	}
	file := writeTable(t, listed)
	// Change the table, then put the listed one back.
	table.entries = map[maptable.Key]maptable.Entry{}
	table.entries[maptable.Key{Family: dsrtypes.IPv4, DSCP: 40}] = maptable.Entry{Family: dsrtypes.IPv4, DSCP: 40, VIP: a("10.9.9.9")}

	status, stdout, stderr := runCLI("rule", "replace", "-f", file)
	if status != exitOK {
		t.Fatalf("replace: exit %d: %s", status, stderr)
	}
	wantOut := "appended the map-mode rule for IPv4: iptables -t raw -A PREROUTING -j DADDR --map\n" +
		"appended the map-mode rule for IPv6: ip6tables -t raw -A PREROUTING -j DADDR --map\n" +
		"replaced the table: 4 entries (IPv4 2, IPv6 2)\n"
	if stdout != wantOut {
		t.Errorf("stdout = %q\nwant %q", stdout, wantOut)
	}
	if got := withoutCounters(table.entries); !maps.Equal(got, want) {
		t.Errorf("table after replace:\n%v\nwant\n%v", got, want)
	}
	if len(rt.replaced) != 1 {
		t.Fatalf("%d replaces, want one (atomic, both families)", len(rt.replaced))
	}
	for _, e := range rt.replaced[0] {
		if e.Packets != 0 || e.Bytes != 0 {
			t.Errorf("counters sent: %v %d %d", e, e.Packets, e.Bytes)
		}
	}
	if rules.rules[xtrule.IPv4] != 1 || rules.rules[xtrule.IPv6] != 1 {
		t.Errorf("rules %v, want one per family", rules.rules)
	}

	// Again, from standard input: the rules are there, nothing appended,
	// and the listing is the same.
	sysFor(t).stdin = strings.NewReader(listed)
	status, stdout, stderr = runCLI("rule", "replace", "-f", "-", "--iptables", "legacy")
	if status != exitOK || stdout != "replaced the table: 4 entries (IPv4 2, IPv6 2)\n" {
		t.Errorf("replace from stdin: exit %d, stdout %q, stderr %q", status, stdout, stderr)
	}
	if rules.variant != xtrule.Legacy || rules.rules[xtrule.IPv4] != 1 || rules.rules[xtrule.IPv6] != 1 {
		t.Errorf("variant %q, rules %v", rules.variant, rules.rules)
	}
	// The counters started again at the first replace (its table had none
	// of these keys); everything else lists as before.
	counters := regexp.MustCompile(`"(packets|bytes)": \d+`)
	if _, again, _ := runCLI("rule", "list", "-o", "json"); counters.ReplaceAllString(again, "") != counters.ReplaceAllString(listed, "") {
		t.Errorf("list after the round trip:\n%s\nwant:\n%s", again, listed)
	}
}

// Only the families in the file get their rule; the other is left alone.
// An empty array empties the table and needs no rule.
func TestRuleReplaceFamilies(t *testing.T) {
	table := newFakeTable(maptable.Entry{DSCP: 1, VIP: netip.MustParseAddr("2001:db8::1")})
	rt, rules := replaceSystem(t, table)
	file := writeTable(t, `[{"family": "ipv4", "dscp": 1, "local": "10.1.0.1", "vip": "10.0.0.1"},
 {"family": "ipv4", "dscp": "0x0a", "vip": "10.0.0.2", "local": null}]`)
	status, stdout, stderr := runCLI("rule", "replace", "-f", file)
	if status != exitOK || !strings.HasSuffix(stdout, "replaced the table: 2 entries (IPv4 2, IPv6 0)\n") {
		t.Fatalf("exit %d, stdout %q, stderr %q", status, stdout, stderr)
	}
	if strings.Join(rules.calls, ",") != "ensure IPv4" {
		t.Errorf("iptables calls %v, want only IPv4's", rules.calls)
	}
	if len(table.entries) != 2 || table.entries[maptable.Key{Family: dsrtypes.IPv4, DSCP: 10}].VIP != netip.MustParseAddr("10.0.0.2") {
		t.Errorf("table %v", table.entries)
	}

	rules.calls = nil
	status, stdout, _ = runCLI("rule", "replace", "-f", writeTable(t, "[]\n"))
	if status != exitOK || stdout != "replaced the table: 0 entries (IPv4 0, IPv6 0)\n" || len(table.entries) != 0 {
		t.Errorf("empty: exit %d, stdout %q, table %v", status, stdout, table.entries)
	}
	if len(rules.calls) != 0 || len(rt.replaced) != 2 || len(rt.replaced[1]) != 0 {
		t.Errorf("empty: iptables %v, replaces %v", rules.calls, rt.replaced)
	}
}

// A bad file: exit 2, the entry's index and line, the bad value and the fix;
// neither netlink nor iptables touched.
func TestRuleReplaceUsageErrors(t *testing.T) {
	good := `{"family": "ipv4", "dscp": 1, "local": "any", "vip": "10.0.0.1"}`
	tests := []struct {
		name, file string
		want       string
	}{
		{"dscp 64", `[` + good + `,
  {"family": "ipv4", "dscp": 64, "local": "any", "vip": "10.0.0.2"}]`, `:2: entry 1: "dscp" 64 is out of range: use 0-63`},
		{"dscp hex 64", `[{"family": "ipv4", "dscp": "0x40", "vip": "10.0.0.2"}]`, `:1: entry 0: "dscp": DSCP 0x40 (64) is out of range: use 0-63`},
		{"dscp negative", `[{"family": "ipv4", "dscp": -1, "vip": "10.0.0.2"}]`, `entry 0: "dscp" -1 is not a code: give a whole number 0-63`},
		{"dscp fraction", `[{"family": "ipv4", "dscp": 1.5, "vip": "10.0.0.2"}]`, `entry 0: "dscp" 1.5 is not a code`},
		{"dscp bool", `[{"family": "ipv4", "dscp": true, "vip": "10.0.0.2"}]`, `entry 0: "dscp" true is not a number: give the code 0-63`},
		{"dscp missing", `[{"family": "ipv4", "vip": "10.0.0.2"}]`, `entry 0: "dscp" is missing: give the code 0-63`},
		{"vip banana", "[\n" + good + ",\n" + `{"family": "ipv4", "dscp": 2, "vip": "10.0.0.2"}` + ",\n" + `{"family": "ipv4", "dscp": 3, "vip": "banana"}` + "\n]", `:4: entry 2: "vip" "banana" is not an IP address: give an IPv4 or IPv6 address`},
		{"vip prefix", `[{"family": "ipv4", "dscp": 3, "vip": "10.0.0.0/24"}]`, `"vip" "10.0.0.0/24" is a prefix: give the address alone, e.g. "10.0.0.0"`},
		{"vip missing", `[{"family": "ipv4", "dscp": 3}]`, `entry 0: "vip" is missing: give the address DSCP 3 stands for`},
		{"vip number", `[{"family": "ipv4", "dscp": 3, "vip": 167772161}]`, `"vip" 167772161 is not a string`},
		{"vip multicast", `[{"family": "ipv4", "dscp": 3, "vip": "224.0.0.5"}]`, "entry 0: VIP 224.0.0.5 is a multicast address: use a unicast VIP"},
		{"vip v6 in ipv4", `[{"family": "ipv4", "dscp": 3, "vip": "2001:db8::1"}]`, `entry 0: "vip" 2001:db8::1 is IPv6 but "family" is "ipv4": make "family" "ipv6" or give an IPv4 VIP`},
		{"local v6 with v4 vip", `[{"family": "ipv4", "dscp": 3, "local": "fd00::1", "vip": "10.0.0.1"}]`, `entry 0: "local" fd00::1 is IPv6 but "family" and "vip" 10.0.0.1 are IPv4: use addresses of one family`},
		{"local bad", `[{"family": "ipv4", "dscp": 3, "local": "eth0", "vip": "10.0.0.1"}]`, `"local" "eth0" is not an IP address: give "any" or a local IPv4 or IPv6 address`},
		{"local unspecified", `[{"family": "ipv4", "dscp": 3, "local": "0.0.0.0", "vip": "10.0.0.1"}]`, "local address 0.0.0.0 is unspecified: leave the local address out to match any"},
		{"family bad", `[{"family": "ipx", "dscp": 3, "vip": "10.0.0.1"}]`, `entry 0: "family" "ipx" is unknown: give "ipv4" or "ipv6"`},
		{"family missing", `[{"dscp": 3, "vip": "10.0.0.1"}]`, `entry 0: "family" is missing: give "ipv4" or "ipv6"`},
		{"family number", `[{"family": 2, "dscp": 3, "vip": "10.0.0.1"}]`, `"family" 2 is not a string`},
		{"unknown field", `[{"family": "ipv4", "dscp": 3, "vlp": "10.0.0.1"}]`, `entry 0: unknown field "vlp": the fields are family, dscp, local, vip`},
		{"packets string", `[{"family": "ipv4", "dscp": 3, "vip": "10.0.0.1", "packets": "many"}]`, `"packets" "many" is not a number`},
		{"duplicate key", "[" + good + ",\n" + `{"family": "ipv4", "dscp": 1, "vip": "10.0.0.9"}]`, ":2: entry 1 has the key of entry 0 (IPv4 DSCP 1 local any): a key may map to one VIP only, keep one of them"},
		{"not an object", `[` + good + `, 5]`, `entry 1 is not an object: write it as {"family": "ipv4"`},
		{"not an array", `{"family": "ipv4"}`, "the file must be a JSON array of entries, [ ... ], as 'l3dsr rule list -o json' prints it; it starts with {"},
		{"empty file", "", "is empty: give a JSON array of entries ([] for an empty table)"},
		{"truncated", `[` + good + `,`, "the JSON ends early"},
		{"syntax", "[\n" + good + "\n" + good + "]", ":3: not valid JSON: "},
		{"trailing", `[]` + "\n[]", ":2: [ after the array: the file must hold one JSON array only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			untouchable(t)
			file := writeTable(t, tt.file)
			status, stdout, stderr := runCLI("rule", "replace", "-f", file)
			if status != exitUsage {
				t.Errorf("exit status %d, want %d; stderr %q", status, exitUsage, stderr)
			}
			if !strings.Contains(stderr, file+tt.want) && !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr = %q\nwant it to contain %q", stderr, tt.want)
			}
			if !strings.HasPrefix(stderr, "l3dsr: "+file) {
				t.Errorf("stderr = %q, want it to start with the file name", stderr)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
		})
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"rule", "replace"}, "-f is missing: give the JSON file of the new table (- for standard input)"},
		{[]string{"rule", "replace", "-f", "/nonexistent/t.json"}, "-f /nonexistent/t.json: cannot read it (no such file or directory)"},
		{[]string{"rule", "replace", "-f", ""}, "-f is empty"},
		{[]string{"rule", "replace", "-f", writeTable(t, "[]"), "--iptables", "ebtables"}, `--iptables: iptables variant "ebtables" is unknown`},
		{[]string{"rule", "replace", "-f", writeTable(t, "[]"), "extra"}, `unknown command "extra"`},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			untouchable(t)
			status, _, stderr := runCLI(tt.args...)
			if status != exitUsage || !strings.Contains(stderr, tt.want) || !strings.Contains(stderr, "--help' for usage") {
				t.Errorf("exit %d, stderr %q; want %d and %q", status, stderr, exitUsage, tt.want)
			}
		})
	}
}

// The kernel refusing the table: exit 1 with its message, the old table
// kept, and the map-mode rules appended for it removed again.
func TestRuleReplaceFailureRollsBack(t *testing.T) {
	a := netip.MustParseAddr
	table := newFakeTable(maptable.Entry{DSCP: 1, VIP: a("10.0.0.1")})
	rt, rules := replaceSystem(t, table)
	rules.rules[xtrule.IPv4] = 1 // IPv4's rule was there before
	rt.replaceErr = fmt.Errorf("replacing the table: staging entries 0-1 of 2: %w", tableFull("table full"))
	file := writeTable(t, `[{"family": "ipv4", "dscp": 2, "vip": "10.0.0.2"}, {"family": "ipv6", "dscp": 2, "vip": "2001:db8::2"}]`)
	status, stdout, stderr := runCLI("rule", "replace", "-f", file)
	if status != exitRuntime || !strings.Contains(stderr, "table full") || !strings.Contains(stderr, "removed again") || stdout != "" {
		t.Errorf("exit %d, stdout %q, stderr %q", status, stdout, stderr)
	}
	if rules.rules[xtrule.IPv4] != 1 || rules.rules[xtrule.IPv6] != 0 {
		t.Errorf("rules %v: want IPv4's kept, IPv6's (appended for this) removed", rules.rules)
	}
	if len(table.entries) != 1 {
		t.Errorf("table changed: %v", table.entries)
	}

	// iptables failing: exit 1, the table not touched.
	rt.replaceErr = nil
	rules.err = errors.New("iptables -w -t raw -S PREROUTING: exit status 4: Permission denied: run as root")
	table.calls = nil
	status, _, stderr = runCLI("rule", "replace", "-f", file)
	if status != exitRuntime || !strings.Contains(stderr, "adding the map-mode rule for IPv4: iptables") || strings.Join(table.calls, " ") != "stats" {
		t.Errorf("iptables failure: exit %d, stderr %q, table calls %v", status, stderr, table.calls)
	}

	// No module: exit 1 with the fix, iptables not touched.
	rules.err, rules.calls = nil, nil
	sysFor(t).dialTable = func() (maptable.Table, error) { return nil, maptable.ErrNotLoaded }
	status, _, stderr = runCLI("rule", "replace", "-f", file)
	if status != exitRuntime || !strings.Contains(stderr, "modprobe xt_DADDR") || len(rules.calls) != 0 {
		t.Errorf("no module: exit %d, stderr %q, iptables %v", status, stderr, rules.calls)
	}
}
