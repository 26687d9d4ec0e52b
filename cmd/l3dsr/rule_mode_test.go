package main

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/maptable"
)

// rule mode: shows the path, switches it in the no-gap order, and in
// direct mode rule add appends no rule.
func TestRuleMode(t *testing.T) {
	table := newFakeTable(maptable.Entry{DSCP: 1, VIP: netip.MustParseAddr("10.0.0.1")})
	rules := fakeSystem(t, table)
	rules.rules[xtrule.IPv4] = 1

	status, stdout, _ := runCLI("rule", "mode")
	if status != exitOK || stdout != "mode: rule\n" {
		t.Errorf("show: exit %d, stdout %q", status, stdout)
	}

	table.calls = nil
	status, stdout, stderr := runCLI("rule", "mode", "direct")
	want := "map path set to direct\ndeleted the map-mode rule for IPv4: iptables -t raw -D PREROUTING -j DADDR --map\nmode: direct (hook: IPv4)\n"
	if status != exitOK || stdout != want {
		t.Errorf("direct: exit %d, stderr %q, stdout:\n%s\nwant:\n%s", status, stderr, stdout, want)
	}
	if table.calls[0] != "mode direct" || rules.rules[xtrule.IPv4] != 0 {
		t.Errorf("direct: table calls %v, IPv4 rules %d; want the kernel switched, the rule gone", table.calls, rules.rules[xtrule.IPv4])
	}

	rules.calls = nil
	status, stdout, _ = runCLI("rule", "add", "--dscp", "2", "--vip", "2001:db8::2")
	if status != exitOK || strings.Contains(stdout, "appended") || strings.Join(rules.calls, ",") != "" {
		t.Errorf("add in direct mode: exit %d, stdout %q, iptables calls %v; want no rule", status, stdout, rules.calls)
	}

	status, stdout, _ = runCLI("rule", "list")
	if status != exitOK || !strings.HasPrefix(stdout, "path: direct hook (IPv4, IPv6)\nFAMILY") {
		t.Errorf("list in direct mode: exit %d, stdout %q", status, stdout)
	}
	status, stdout, _ = runCLI("rule", "mode", "-o", "json")
	if want := "{\n  \"mode\": \"direct\",\n  \"hooks\": [\n    \"ipv4\",\n    \"ipv6\"\n  ],\n  \"path\": \"direct hook (IPv4, IPv6)\"\n}\n"; status != exitOK || stdout != want {
		t.Errorf("json: exit %d, stdout %q", status, stdout)
	}

	table.calls, rules.calls = nil, nil
	status, stdout, _ = runCLI("rule", "mode", "rule")
	want = "appended the map-mode rule for IPv4: iptables -t raw -A PREROUTING -j DADDR --map\n" +
		"appended the map-mode rule for IPv6: ip6tables -t raw -A PREROUTING -j DADDR --map\nmap path set to rule\nmode: rule\n"
	if status != exitOK || stdout != want {
		t.Errorf("rule: exit %d, stdout:\n%s\nwant:\n%s", status, stdout, want)
	}
	if strings.Join(rules.calls, ",") != "ensure IPv4,ensure IPv6" || table.calls[len(table.calls)-2] != "mode rule" {
		t.Errorf("rule: iptables calls %v, table calls %v; want both rules before the kernel", rules.calls, table.calls)
	}
}

func TestRuleModeErrors(t *testing.T) {
	untouchable(t)
	status, _, stderr := runCLI("rule", "mode", "fast")
	if status != exitUsage || !strings.Contains(stderr, `map path "fast" is not one of rule, direct`) {
		t.Errorf("fast: exit %d, stderr %q", status, stderr)
	}

	table := newFakeTable()
	fakeSystem(t, table)
	table.modeErr = maptable.ErrNoDirect
	status, _, stderr = runCLI("rule", "mode", "direct")
	if status != exitRuntime || !strings.Contains(stderr, "has no direct path (genl version 2): load this release's module") {
		t.Errorf("old module: exit %d, stderr %q", status, stderr)
	}
	sysFor(t).dialTable = func() (maptable.Table, error) { return nil, maptable.ErrNotLoaded }
	status, _, stderr = runCLI("rule", "mode")
	if status != exitRuntime || !strings.Contains(stderr, "modprobe xt_DADDR") {
		t.Errorf("no module: exit %d, stderr %q", status, stderr)
	}
}
