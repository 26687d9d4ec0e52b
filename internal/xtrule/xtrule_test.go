package xtrule

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// fakeIptables emulates iptables' -S/-A/-D over raw PREROUTING, per binary,
// and records every command line.
type fakeIptables struct {
	chains map[string][]string // binary -> the rules, as -S prints them
	calls  []string
	// fail, if set, answers a command line instead of the emulation.
	fail func(cmdline string) (result, bool)
}

const mapLine = "-A PREROUTING -j DADDR --map"

func (f *fakeIptables) run(_ context.Context, name string, args ...string) result {
	cmdline := name + " " + strings.Join(args, " ")
	f.calls = append(f.calls, cmdline)
	if f.fail != nil {
		if r, ok := f.fail(cmdline); ok {
			return r
		}
	}
	if len(args) < 5 || strings.Join(args[:3], " ") != "-w -t raw" || args[4] != "PREROUTING" {
		return result{ExitCode: 2, Stderr: "unexpected command"}
	}
	rules := f.chains[name]
	switch rest := strings.Join(args[4:], " "); args[3] {
	case "-S":
		if len(args) != 5 {
			break
		}
		out := "-P PREROUTING ACCEPT\n"
		for _, r := range rules {
			out += r + "\n"
		}
		return result{Stdout: out}
	case "-A":
		f.chains[name] = append(rules, "-A "+rest)
		return result{}
	case "-D":
		n, err := strconv.Atoi(args[5])
		if len(args) != 6 || err != nil {
			return result{ExitCode: 2, Stderr: "only deletes by number are expected"}
		}
		if n < 1 || n > len(rules) {
			return result{ExitCode: 1, Stderr: "iptables: Index of deletion too big.\n"}
		}
		f.chains[name] = slices.Delete(rules, n-1, n)
		return result{}
	}
	return result{ExitCode: 2, Stderr: "bad command"}
}

// count is how many exact map-mode rules binary holds.
func (f *fakeIptables) count(binary string) int {
	n := 0
	for _, r := range f.chains[binary] {
		if r == mapLine {
			n++
		}
	}
	return n
}

func newFake() *fakeIptables { return &fakeIptables{chains: map[string][]string{}} }

func TestEnsureIsIdempotent(t *testing.T) {
	ctx := context.Background()
	fake := newFake()
	r := &Rules{runCmd: fake.run}
	for i, f := range []Family{IPv4, IPv4, IPv6, IPv4, IPv6} {
		added, err := r.Ensure(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if want := i == 0 || i == 2; added != want {
			t.Errorf("call %d (%v): added = %v, want %v", i, f, added, want)
		}
	}
	if fake.count("iptables") != 1 || fake.count("ip6tables") != 1 {
		t.Errorf("rules %v, want one per family", fake.chains)
	}
	want := []string{
		"iptables -w -t raw -S PREROUTING",
		"iptables -w -t raw -A PREROUTING -j DADDR --map",
		"iptables -w -t raw -S PREROUTING",
		"ip6tables -w -t raw -S PREROUTING",
		"ip6tables -w -t raw -A PREROUTING -j DADDR --map",
		"iptables -w -t raw -S PREROUTING",
		"ip6tables -w -t raw -S PREROUTING",
	}
	if strings.Join(fake.calls, "\n") != strings.Join(want, "\n") {
		t.Errorf("commands:\n%s\nwant:\n%s", strings.Join(fake.calls, "\n"), strings.Join(want, "\n"))
	}
	if n, err := r.Count(ctx, IPv4); n != 1 || err != nil {
		t.Errorf("Count = %d, %v; want 1", n, err)
	}

	if err := r.Delete(ctx, IPv4); err != nil {
		t.Fatal(err)
	}
	if err := r.Delete(ctx, IPv4); err != nil {
		t.Errorf("deleting a missing rule: %v", err)
	}
	if fake.count("iptables") != 0 {
		t.Errorf("rule still there after Delete")
	}
}

// Only the exact rule counts: other DADDR rules (which iptables-legacy's -C
// was seen to confuse with it) neither stop Ensure nor get deleted.
func TestOtherRulesAreNotTheMapRule(t *testing.T) {
	ctx := context.Background()
	fake := newFake()
	others := []string{
		"-A PREROUTING -j DADDR --set-daddr 10.0.0.1",
		"-A PREROUTING -m dscp --dscp 0x01 -j DADDR --map",
		"-A PREROUTING -j DADDR --map --foo",
		"-A PREROUTING -p tcp -j DADDR --map",
	}
	fake.chains["ip6tables-legacy"] = slices.Clone(others)
	r := &Rules{Variant: Legacy, runCmd: fake.run}
	if ok, err := r.Exists(ctx, IPv6); ok || err != nil {
		t.Fatalf("Exists = %v, %v with only other DADDR rules; want false", ok, err)
	}
	added, err := r.Ensure(ctx, IPv6)
	if err != nil || !added {
		t.Fatalf("Ensure = %v, %v; want it appended", added, err)
	}
	if added, err := r.Ensure(ctx, IPv6); err != nil || added {
		t.Fatalf("second Ensure = %v, %v; want nothing appended", added, err)
	}
	// Delete removes the map rule (rule 5) by number, nothing else.
	if err := r.Delete(ctx, IPv6); err != nil {
		t.Fatal(err)
	}
	if got := fake.chains["ip6tables-legacy"]; !slices.Equal(got, others) {
		t.Errorf("after Delete: %q, want %q", got, others)
	}
	if last := fake.calls[len(fake.calls)-1]; last != "ip6tables-legacy -w -t raw -D PREROUTING 5" {
		t.Errorf("delete command %q", last)
	}

	// Two map rules (added by hand): Count says so, Delete takes the last.
	fake.chains["iptables-legacy"] = []string{mapLine, others[0], mapLine}
	if n, err := r.Count(ctx, IPv4); n != 2 || err != nil {
		t.Errorf("Count = %d, %v; want 2", n, err)
	}
	if err := r.Delete(ctx, IPv4); err != nil {
		t.Fatal(err)
	}
	if got := fake.chains["iptables-legacy"]; !slices.Equal(got, []string{mapLine, others[0]}) {
		t.Errorf("after Delete: %q", got)
	}
}

func TestVariants(t *testing.T) {
	for _, tt := range []struct {
		in     string
		v4, v6 string
	}{
		{"", "iptables", "ip6tables"},
		{"default", "iptables", "ip6tables"},
		{"legacy", "iptables-legacy", "ip6tables-legacy"},
		{"NFT", "iptables-nft", "ip6tables-nft"},
	} {
		v, err := ParseVariant(tt.in)
		if err != nil {
			t.Fatalf("%q: %v", tt.in, err)
		}
		r := &Rules{Variant: v}
		if r.Binary(IPv4) != tt.v4 || r.Binary(IPv6) != tt.v6 {
			t.Errorf("%q: binaries %s, %s; want %s, %s", tt.in, r.Binary(IPv4), r.Binary(IPv6), tt.v4, tt.v6)
		}
	}
	if _, err := ParseVariant("iptables-ng"); err == nil || !strings.Contains(err.Error(), `"iptables-ng" is unknown: use default, legacy or nft`) {
		t.Errorf("bad variant: %v", err)
	}
	fake := newFake()
	if _, err := (&Rules{Variant: Legacy, runCmd: fake.run}).Ensure(context.Background(), IPv6); err != nil {
		t.Fatal(err)
	}
	if fake.count("ip6tables-legacy") != 1 {
		t.Errorf("legacy variant ran %v", fake.calls)
	}
}

// onAppend answers res to the append (-A) and leaves the other commands
// to the fake.
func onAppend(res result) func(cmdline string) (result, bool) {
	return func(cmdline string) (result, bool) {
		if strings.Contains(cmdline, " -A ") {
			return res, true
		}
		return result{}, false
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		answer func(cmdline string) (result, bool)
		want   []string
		noA    bool
	}{
		{
			name:   "no extension",
			answer: onAppend(result{ExitCode: 2, Stderr: "iptables v1.8.9 (nf_tables): unknown option \"--map\"\nTry `iptables -h' or 'iptables --help' for more information.\n"}),
			want:   []string{"iptables -w -t raw -A PREROUTING -j DADDR --map: exit status 2: iptables v1.8.9 (nf_tables): unknown option \"--map\": ", "libxt_DADDR.so", "XTABLES_LIBDIR"},
		},
		{
			name: "listing fails",
			answer: func(string) (result, bool) {
				return result{ExitCode: 4, Stderr: "iptables v1.8.9 (legacy): can't initialize iptables table `raw': Permission denied (you must be root)\n"}, true
			},
			want: []string{"iptables -w -t raw -S PREROUTING: exit status 4", "Permission denied", "run as root"},
			noA:  true,
		},
		{
			name:   "kernel refuses",
			answer: onAppend(result{ExitCode: 4, Stderr: "iptables v1.8.9 (nf_tables):  RULE_APPEND failed (No such file or directory): rule in chain PREROUTING\n"}),
			want:   []string{"exit status 4", "RULE_APPEND failed", "modprobe xt_DADDR"},
		},
		{
			name: "not installed",
			answer: func(string) (result, bool) {
				return result{Err: &exec.Error{Name: "iptables", Err: exec.ErrNotFound}}, true
			},
			want: []string{"iptables is not installed"},
			noA:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFake()
			fake.fail = tt.answer
			_, err := (&Rules{runCmd: fake.run}).Ensure(ctx, IPv4)
			if err == nil {
				t.Fatal("Ensure succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v\nwant it to contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "Try `") {
				t.Errorf("err = %v: iptables' help hint should be cut", err)
			}
			if tt.noA && len(fake.calls) != 1 {
				t.Errorf("commands %v, want only the check", fake.calls)
			}
		})
	}
	if _, err := (&Rules{runCmd: newFake().run}).Ensure(ctx, Family(5)); err == nil {
		t.Error("family 5 accepted")
	}
}

func TestExec(t *testing.T) {
	ctx := context.Background()
	if r := execCmd(ctx, "sh", "-c", "echo oops >&2; exit 3"); r.Err != nil || r.ExitCode != 3 || r.Stderr != "oops\n" {
		t.Errorf("sh: %+v", r)
	}
	if r := execCmd(ctx, "true"); r.Err != nil || r.ExitCode != 0 {
		t.Errorf("true: %+v", r)
	}
	r := execCmd(ctx, "l3dsr-no-such-binary")
	if r.Err == nil {
		t.Fatalf("missing binary: %+v", r)
	}
	err := (&Rules{}).startError(IPv4, "iptables ...", r.Err)
	if !strings.Contains(err.Error(), "iptables is not installed") {
		t.Errorf("missing binary: %v", err)
	}
}

// The target name matches the uapi header's.
func TestTargetNameMatchesHeader(t *testing.T) {
	src, err := os.ReadFile("../../kmod/uapi/linux/netfilter/xt_DADDR.h")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`#define\s+XT_DADDR_NAME\s+"(\w+)"`).FindSubmatch(src)
	if m == nil || string(m[1]) != MapRule[2] {
		t.Errorf("XT_DADDR_NAME = %q, rule uses %q", m, MapRule[2])
	}
}
