package xtrule

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// The -S output of a real server set up by hand, as iptables-legacy and
// iptables-nft 1.8.9 print it (nft puts -d before -m, as here).
const (
	legacyRaw4 = `-P PREROUTING ACCEPT
-P OUTPUT ACCEPT
-A PREROUTING -p tcp -m tcp --dport 22 -j ACCEPT
-A PREROUTING -m dscp --dscp 0x02 -j DADDR --set-daddr 10.8.0.2
-A PREROUTING -j DADDR --map
`
	legacyMangle4 = `-P PREROUTING ACCEPT
-P INPUT ACCEPT
-P FORWARD ACCEPT
-P OUTPUT ACCEPT
-P POSTROUTING ACCEPT
-N DSR
-A PREROUTING -j DSR
-A INPUT -m dscp --dscp 0x01 -j DADDR --set-daddr 10.8.0.1
-A DSR -i eth0 -m dscp ! --dscp 0x05 -m comment --comment "old \"dsr\" rules" -j DADDR --set-daddr=10.8.0.7
`
	nftRaw6 = `-P PREROUTING ACCEPT
-P OUTPUT ACCEPT
-A PREROUTING -d 2001:db8::10/128 -m dscp --dscp 0x03 -j DADDR --set-daddr 2001:db8::3
-A PREROUTING -m dscp --dscp-class CS1 -j DADDR --set-daddr 2001:db8::8
`
	nftMangle6 = `-P PREROUTING ACCEPT
-P INPUT ACCEPT
-A PREROUTING -j DADDR --map
-A INPUT -j DADDR --set-daddr 2001:db8::9
`
)

func mustParseRules(t *testing.T, f Family, v Variant, table, text string) []Rule {
	t.Helper()
	rules, err := ParseRules(f, v, table, text)
	if err != nil {
		t.Fatal(err)
	}
	return rules
}

// sameLines compares lines with the text want (a line each).
func sameLines(t *testing.T, what string, got []string, want string) {
	t.Helper()
	if g := strings.Join(got, "\n") + "\n"; g != want {
		t.Errorf("%s:\n%s\nwant:\n%s", what, g, want)
	}
}

func TestParseRules(t *testing.T) {
	raw, mangle := mustParseRules(t, IPv4, Legacy, "raw", legacyRaw4), mustParseRules(t, IPv4, Legacy, "mangle", legacyMangle4)
	raw6, mangle6 := mustParseRules(t, IPv6, NFT, "raw", nftRaw6), mustParseRules(t, IPv6, NFT, "mangle", nftMangle6)
	var got []string
	for _, r := range append(append(append(raw, mangle...), raw6...), mangle6...) {
		got = append(got, fmt.Sprintf("%v %s %s %s#%d map=%v vip=%v dscp=%d not=%v dst=%v extra=%q ours=%v exact=%v",
			r.Family, r.Backend, r.Table, r.Chain, r.Num, r.Map, r.VIP, r.DSCP, r.NotDSCP, r.Dst, r.Extra, r.Ours, r.Exact()))
	}
	sameLines(t, "rules", got, `IPv4 legacy raw PREROUTING#2 map=false vip=10.8.0.2 dscp=2 not=false dst=invalid IP extra=[] ours=false exact=true
IPv4 legacy raw PREROUTING#3 map=true vip=invalid IP dscp=-1 not=false dst=invalid IP extra=[] ours=true exact=false
IPv4 legacy mangle INPUT#1 map=false vip=10.8.0.1 dscp=1 not=false dst=invalid IP extra=[] ours=false exact=true
IPv4 legacy mangle DSR#1 map=false vip=10.8.0.7 dscp=5 not=true dst=invalid IP extra=["-i eth0" "-m comment" "--comment old \"dsr\" rules"] ours=false exact=false
IPv6 nft raw PREROUTING#1 map=false vip=2001:db8::3 dscp=3 not=false dst=2001:db8::10 extra=[] ours=false exact=true
IPv6 nft raw PREROUTING#2 map=false vip=2001:db8::8 dscp=8 not=false dst=invalid IP extra=[] ours=false exact=true
IPv6 nft mangle PREROUTING#1 map=true vip=invalid IP dscp=-1 not=false dst=invalid IP extra=[] ours=false exact=false
IPv6 nft mangle INPUT#1 map=false vip=2001:db8::9 dscp=-1 not=false dst=invalid IP extra=[] ours=false exact=false
`)
	r := mangle[0]
	if r.Command() != "iptables-legacy -t mangle -A INPUT -m dscp --dscp 0x01 -j DADDR --set-daddr 10.8.0.1" ||
		r.DeleteCommand() != "iptables-legacy -t mangle -D INPUT -m dscp --dscp 0x01 -j DADDR --set-daddr 10.8.0.1" {
		t.Errorf("command %q delete %q", r.Command(), r.DeleteCommand())
	}
	if r.BeforeConntrack() || !raw[0].BeforeConntrack() {
		t.Errorf("mangle INPUT runs after conntrack, raw before")
	}
	if !r.Covers(1) || r.Covers(2) || !mangle[1].Covers(1) || mangle[1].Covers(5) || !mangle6[1].Covers(63) {
		t.Errorf("Covers: a code, all but a negated code, every code without a match")
	}
	if raw6[0].Binary() != "ip6tables-nft" {
		t.Errorf("binary %q", raw6[0].Binary())
	}
}

func TestParseRulesRefusesWhatItCannotRead(t *testing.T) {
	for _, line := range []string{
		"-A PREROUTING -j DADDR",
		"-A PREROUTING -j DADDR --set-daddr 10.0.0.0/24",
		"-A PREROUTING -j DADDR --set-daddr",
		"-A PREROUTING -j DADDR --set-daddr 10.0.0.1 --map",
		"-A PREROUTING -m dscp --dscp 64 -j DADDR --map",
		"-A PREROUTING -m dscp --dscp-class XX1 -j DADDR --map",
		"-A PREROUTING -j DADDR --frob",
		`-A PREROUTING -m comment --comment "open -j DADDR --map`,
	} {
		if _, err := ParseRules(IPv4, Legacy, "raw", line); err == nil {
			t.Errorf("%q: no error", line)
		}
	}
	// Other targets are not DADDR rules, but they count.
	rules, err := ParseRules(IPv4, NFT, "raw", "-A PREROUTING -j CT --notrack\n-A PREROUTING -g DSR\n-A PREROUTING -m dscp --dscp 7 -j DADDR --set-daddr 10.0.0.7/32\n")
	if err != nil || len(rules) != 1 || rules[0].Num != 3 || rules[0].VIP.String() != "10.0.0.7" || rules[0].DSCP != 7 {
		t.Errorf("got %+v, %v", rules, err)
	}
}

// fakeTables answers -S per binary and table; a binary missing from bins
// is not installed.
type fakeTables struct {
	bins  map[string]map[string]string // binary -> table -> -S output
	fail  map[string]result            // "binary table" -> the answer
	calls []string
}

func (f *fakeTables) run(_ context.Context, name string, args ...string) result {
	f.calls = append(f.calls, name+" "+strings.Join(args, " "))
	if len(args) != 4 || args[0] != "-w" || args[1] != "-t" || args[3] != "-S" {
		return result{ExitCode: 2, Stderr: "unexpected command"}
	}
	if r, ok := f.fail[name+" "+args[2]]; ok {
		return r
	}
	tabs, ok := f.bins[name]
	if !ok {
		return result{Err: &exec.Error{Name: name, Err: exec.ErrNotFound}}
	}
	return result{Stdout: tabs[args[2]]}
}

func TestReaderReadsBothBackendsAndFamilies(t *testing.T) {
	fake := &fakeTables{bins: map[string]map[string]string{
		"iptables-legacy":  {"raw": legacyRaw4, "mangle": legacyMangle4},
		"iptables-nft":     {"raw": "-P PREROUTING ACCEPT\n"},
		"ip6tables-nft":    {"raw": nftRaw6, "mangle": nftMangle6},
		"ip6tables-legacy": {"raw": "-A PREROUTING -m dscp --dscp 0x04 -j DADDR --set-daddr 2001:db8::4\n"},
	}}
	legacy := map[Family]map[string]bool{IPv4: {"raw": true, "mangle": true, "filter": true}, IPv6: {"raw": true}}
	rd := &Reader{runCmd: fake.run, legacyTables: func(f Family) (map[string]bool, error) { return legacy[f], nil }}
	rules, err := rd.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rules {
		got = append(got, r.Command())
	}
	sameLines(t, "rules", got, `iptables-legacy -t raw -A PREROUTING -m dscp --dscp 0x02 -j DADDR --set-daddr 10.8.0.2
iptables-legacy -t raw -A PREROUTING -j DADDR --map
iptables-legacy -t mangle -A INPUT -m dscp --dscp 0x01 -j DADDR --set-daddr 10.8.0.1
iptables-legacy -t mangle -A DSR -i eth0 -m dscp ! --dscp 0x05 -m comment --comment "old \"dsr\" rules" -j DADDR --set-daddr=10.8.0.7
ip6tables-legacy -t raw -A PREROUTING -m dscp --dscp 0x04 -j DADDR --set-daddr 2001:db8::4
ip6tables-nft -t raw -A PREROUTING -d 2001:db8::10/128 -m dscp --dscp 0x03 -j DADDR --set-daddr 2001:db8::3
ip6tables-nft -t raw -A PREROUTING -m dscp --dscp-class CS1 -j DADDR --set-daddr 2001:db8::8
ip6tables-nft -t mangle -A PREROUTING -j DADDR --map
ip6tables-nft -t mangle -A INPUT -j DADDR --set-daddr 2001:db8::9
`)
	// The legacy IPv6 mangle table does not exist: it is not listed (which
	// would create it).
	for _, c := range fake.calls {
		if c == "ip6tables-legacy -w -t mangle -S" {
			t.Errorf("listed a legacy table the kernel does not have: %s", c)
		}
	}
}

func TestReaderSkipsMissingBackendsAndFailsOnErrors(t *testing.T) {
	ctx := context.Background()
	none := func(Family) (map[string]bool, error) { return map[string]bool{}, nil }
	fake := &fakeTables{bins: map[string]map[string]string{}}
	rules, err := (&Reader{runCmd: fake.run, legacyTables: none}).Read(ctx)
	if err != nil || len(rules) != 0 {
		t.Errorf("no iptables at all: %v, %v; want none and no error", rules, err)
	}
	fake = &fakeTables{
		bins: map[string]map[string]string{"iptables-nft": {}, "ip6tables-nft": {}},
		fail: map[string]result{"iptables-nft raw": {ExitCode: 1, Stderr: "iptables v1.8.9 (nf_tables): Could not fetch rule set generation id: Invalid argument\n"}},
	}
	if _, err := (&Reader{runCmd: fake.run, legacyTables: none}).Read(ctx); err != nil {
		t.Errorf("a kernel without nf_tables: %v, want no rules and no error", err)
	}
	fake.fail["ip6tables-nft mangle"] = result{ExitCode: 4, Stderr: "ip6tables: Permission denied (you must be root)\n"}
	if _, err := (&Reader{runCmd: fake.run, legacyTables: none}).Read(ctx); err == nil || !strings.Contains(err.Error(), "ip6tables-nft -w -t mangle -S: exit status 4") || !strings.Contains(err.Error(), "run as root") {
		t.Errorf("err = %v, want the failed command and its fix", err)
	}
	fake.fail["ip6tables-nft mangle"] = result{Stdout: "-A INPUT -j DADDR --set-daddr 10.0.0.0/8\n"}
	if _, err := (&Reader{runCmd: fake.run, legacyTables: none}).Read(ctx); err == nil || !strings.Contains(err.Error(), "not a single address") {
		t.Errorf("err = %v, want the rule it cannot read", err)
	}
}
