package xtrule

import (
	"context"
	"slices"
	"strings"
	"testing"
)

const foreign = "-A PREROUTING -m dscp --dscp 0x05 -j DADDR --set-daddr 10.0.0.7"

func wantCalls(t *testing.T, fake *fakeIptables, want ...string) {
	t.Helper()
	if got := strings.Join(fake.calls, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("commands:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	fake.calls = nil
}

func TestEnsureIngress(t *testing.T) {
	ctx := context.Background()
	fake := newFake()
	fake.chains["ip6tables"] = []string{foreign}
	r := &Rules{Ingress: []string{"eth1", "eth2"}, runCmd: fake.run}
	if added, err := r.Ensure(ctx, IPv6); !added || err != nil {
		t.Fatalf("Ensure = %v, %v", added, err)
	}
	wantCalls(t, fake,
		"ip6tables -w -t raw -S PREROUTING",
		"ip6tables -w -t raw -A PREROUTING -i eth1 -j DADDR --map",
		"ip6tables -w -t raw -A PREROUTING -i eth2 -j DADDR --map")
	if added, err := r.Ensure(ctx, IPv6); added || err != nil {
		t.Errorf("second Ensure = %v, %v; want nothing appended", added, err)
	}
	if n, err := r.Count(ctx, IPv6); n != 2 || err != nil {
		t.Errorf("Count = %d, %v; want 2", n, err)
	}
	// Without a list, the limited rules are the map rule: nothing appended.
	plain := &Rules{runCmd: fake.run}
	if added, err := plain.Ensure(ctx, IPv6); added || err != nil {
		t.Errorf("plain Ensure beside -i rules = %v, %v; want nothing appended", added, err)
	}
	if ok, err := plain.Exists(ctx, IPv6); !ok || err != nil {
		t.Errorf("Exists = %v, %v", ok, err)
	}
	// Delete of the plain shape leaves the -i rules; of the list, removes both.
	if err := plain.Delete(ctx, IPv6); err != nil {
		t.Fatal(err)
	}
	if len(fake.chains["ip6tables"]) != 3 {
		t.Errorf("plain Delete took a limited rule: %q", fake.chains["ip6tables"])
	}
	fake.calls = nil
	if err := r.Delete(ctx, IPv6); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, fake, "ip6tables -w -t raw -S PREROUTING",
		"ip6tables -w -t raw -D PREROUTING 3", "ip6tables -w -t raw -D PREROUTING 2")
	if got := fake.chains["ip6tables"]; !slices.Equal(got, []string{foreign}) {
		t.Errorf("after Delete: %q", got)
	}
}

// Changing the list appends the new rules before deleting the old ones:
// no packet on an allowed interface passes unrewritten meanwhile.
func TestReshapeAddsBeforeDeleting(t *testing.T) {
	ctx := context.Background()
	fake := newFake()
	fake.chains["iptables"] = []string{mapLine, foreign}
	to := func(ifaces ...string) *Rules { return &Rules{Ingress: ifaces, runCmd: fake.run} }

	if ch, err := to("eth1", "eth2").Reshape(ctx, IPv4); !ch || err != nil {
		t.Fatalf("Reshape = %v, %v", ch, err)
	}
	wantCalls(t, fake, "iptables -w -t raw -S PREROUTING",
		"iptables -w -t raw -A PREROUTING -i eth1 -j DADDR --map",
		"iptables -w -t raw -A PREROUTING -i eth2 -j DADDR --map",
		"iptables -w -t raw -D PREROUTING 1")
	if ch, err := to("eth2", "eth3").Reshape(ctx, IPv4); !ch || err != nil {
		t.Fatalf("Reshape = %v, %v", ch, err)
	}
	wantCalls(t, fake, "iptables -w -t raw -S PREROUTING",
		"iptables -w -t raw -A PREROUTING -i eth3 -j DADDR --map",
		"iptables -w -t raw -D PREROUTING 2")
	want := []string{foreign, "-A PREROUTING -i eth2 -j DADDR --map", "-A PREROUTING -i eth3 -j DADDR --map"}
	if got := fake.chains["iptables"]; !slices.Equal(got, want) {
		t.Errorf("rules %q, want %q", got, want)
	}
	if ch, err := to("eth3", "eth2").Reshape(ctx, IPv4); ch || err != nil {
		t.Errorf("Reshape to the same set = %v, %v; want no change", ch, err)
	}
	fake.calls = nil
	// Back to any interface: the plain rule first, then the limited ones.
	if ch, err := to().Reshape(ctx, IPv4); !ch || err != nil {
		t.Fatalf("Reshape = %v, %v", ch, err)
	}
	wantCalls(t, fake, "iptables -w -t raw -S PREROUTING",
		"iptables -w -t raw -A PREROUTING -j DADDR --map",
		"iptables -w -t raw -D PREROUTING 3", "iptables -w -t raw -D PREROUTING 2")
	if got := fake.chains["iptables"]; !slices.Equal(got, []string{foreign, mapLine}) {
		t.Errorf("rules %q", got)
	}
}

// An append that fails takes back the rules the call appended before it.
func TestEnsureIngressFailureUndoes(t *testing.T) {
	fake := newFake()
	fake.fail = func(cmdline string) (result, bool) {
		if strings.Contains(cmdline, "-A PREROUTING -i eth2 ") {
			return result{ExitCode: 4, Stderr: "iptables: RULE_APPEND failed (No such file or directory)\n"}, true
		}
		return result{}, false
	}
	r := &Rules{Ingress: []string{"eth1", "eth2"}, runCmd: fake.run}
	added, err := r.Ensure(context.Background(), IPv4)
	if added || err == nil || !strings.Contains(err.Error(), "-A PREROUTING -i eth2 -j DADDR --map: exit status 4") {
		t.Fatalf("Ensure = %v, %v", added, err)
	}
	if got := fake.chains["iptables"]; len(got) != 0 {
		t.Errorf("rules left after the failure: %q (%q)", got, fake.calls)
	}
}

func TestParseIngressRules(t *testing.T) {
	out := strings.Join([]string{
		"-P PREROUTING ACCEPT",
		"-A PREROUTING -i eth1 -j DADDR --map",
		"-A PREROUTING -i eth1 -p tcp -j DADDR --map",
		"-A PREROUTING ! -i eth1 -j DADDR --map",
		"-A PREROUTING -i eth+ -j DADDR --map",
	}, "\n")
	rules, err := ParseRules(IPv4, NFT, "raw", out)
	if err != nil || len(rules) != 4 {
		t.Fatalf("ParseRules = %d rules, %v", len(rules), err)
	}
	if !rules[0].Ours || rules[0].Ingress != "eth1" {
		t.Errorf("the -i rule: Ours %v, Ingress %q", rules[0].Ours, rules[0].Ingress)
	}
	for _, r := range rules[1:] {
		if r.Ours {
			t.Errorf("%q taken for l3dsr's own rule", r.Line)
		}
	}
	mangle, _ := ParseRules(IPv4, NFT, "mangle", "-A PREROUTING -i eth1 -j DADDR --map\n")
	if len(mangle) != 1 || mangle[0].Ours {
		t.Errorf("a mangle -i rule taken for l3dsr's own: %+v", mangle)
	}
}

func TestCheckIface(t *testing.T) {
	for _, ok := range []string{"eth0", "enp0s31f6", "bond0.100", "a-b_c"} {
		if err := CheckIface(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "eth+", "-j", "a b", "0123456789abcdef", "!eth0", "a/b"} {
		err := CheckIface(bad)
		if err == nil || !strings.Contains(err.Error(), "'ip link'") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
