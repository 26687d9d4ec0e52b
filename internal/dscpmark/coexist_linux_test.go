//go:build linux

package dscpmark

import (
	"strings"
	"testing"
)

// othersSnapshot is everything in the namespace's firewall but our table:
// `nft -a list ruleset` (with handles, so a deleted and re-created object
// would show) minus table inet l3dsr, and the legacy iptables tables.
func othersSnapshot(t *testing.T, ns *testNS) (others string, ours bool) {
	t.Helper()
	var b strings.Builder
	skip := false
	for _, l := range strings.SplitAfter(ns.run("nft", "-a", "list", "ruleset"), "\n") {
		if strings.HasPrefix(l, "table inet "+TableName+" ") {
			skip, ours = true, true
		}
		if !skip {
			b.WriteString(l)
		}
		if skip && l == "}\n" {
			skip = false
		}
	}
	for _, save := range []string{"iptables-legacy-save", "ip6tables-legacy-save"} {
		b.WriteString("--- " + save + "\n")
		for _, l := range strings.SplitAfter(ns.run(save), "\n") {
			if !strings.HasPrefix(l, "#") { // comments carry the time
				b.WriteString(l)
			}
		}
	}
	return b.String(), ours
}

func TestIntegrationCoexistence(t *testing.T) {
	ns := newNS(t)
	// Tables of others, some on our very hook and priority, and rules made
	// with both iptables back ends, before we arrive.
	ns.nft(`table ip myfilter {
	chain input {
		type filter hook input priority filter; policy accept;
		tcp dport 22 counter accept
	}
}
table inet other {
	set blocked {
		type ipv4_addr
		elements = { 192.0.2.66 }
	}
	chain pre {
		type filter hook prerouting priority mangle; policy accept;
		ip saddr @blocked counter drop
	}
}
`)
	for _, c := range [][]string{
		{"iptables-nft", "-t", "mangle", "-A", "PREROUTING", "-d", "10.80.0.1", "-p", "tcp", "--dport", "80", "-j", "DSCP", "--set-dscp", "9"},
		{"ip6tables-nft", "-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT"},
		{"iptables-legacy", "-t", "mangle", "-A", "PREROUTING", "-p", "udp", "--dport", "53", "-j", "DSCP", "--set-dscp", "10"},
		{"ip6tables-legacy", "-A", "INPUT", "-s", "2001:db8::/32", "-j", "ACCEPT"},
	} {
		ns.run(c...)
	}
	before, ours := othersSnapshot(t, ns)
	if ours {
		t.Fatal("table inet l3dsr exists before the first Add")
	}
	for _, want := range []string{"table ip myfilter", "table inet other", "table ip mangle", "table ip6 filter", "--set-dscp 0x0a", "-A INPUT -s 2001:db8::/32"} {
		if !strings.Contains(before, want) {
			t.Fatalf("setup: %q missing from the snapshot:\n%s", want, before)
		}
	}

	m := ns.marker()
	steps := []struct {
		name string
		do   func() error
		ours bool
	}{
		{"add", func() error { return m.Add(tcp(vip4, 80, 21), udp(vip6, 7, 22)) }, true},
		{"sync", func() error { _, _, err := m.Sync([]Mark{tcp(vip4, 80, 21), tcp(vip4b, 443, 30)}); return err }, true},
		{"replace", func() error { return m.Replace(tcp(vip4b, 443, 31)) }, true},
		{"del", func() error { return m.Del(tcp(vip4, 80, 0)) }, true},
		{"remove", m.Remove, false},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		after, ours := othersSnapshot(t, ns)
		if ours != s.ours {
			t.Errorf("after %s: table inet %s present = %v, want %v", s.name, TableName, ours, s.ours)
		}
		if after != before {
			t.Errorf("after %s, the other tables changed:\nbefore:\n%s\nafter:\n%s", s.name, before, after)
		}
	}
}
