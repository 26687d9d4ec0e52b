//go:build linux

package dscpmark

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"golang.org/x/sys/unix"
)

var (
	vip4  = netip.MustParseAddr("10.80.0.1")
	vip4b = netip.MustParseAddr("10.80.0.2")
	vip6  = netip.MustParseAddr("2001:db8:80::1")
)

// tcp(vip, port, code) and the like spell the tests' marks.
var (
	tcp  = markOf(unix.IPPROTO_TCP)
	udp  = markOf(unix.IPPROTO_UDP)
	sctp = markOf(unix.IPPROTO_SCTP)
)

func markOf(proto uint8) func(vip netip.Addr, port uint16, d uint8) Mark {
	return func(vip netip.Addr, port uint16, d uint8) Mark {
		return Mark{VIP: vip, Proto: proto, Port: port, DSCP: d}
	}
}

func mustList(t *testing.T, m *marker) []Mark {
	t.Helper()
	got, err := m.List()
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return got
}

func sameMarks(t *testing.T, what string, got, want []Mark) {
	t.Helper()
	want = append([]Mark(nil), want...)
	sortMarks(want)
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %v\nwant %v", what, got, want)
	}
}

// nftJSONMarks reads the maps with `nft -j list table inet l3dsr` and turns
// their elements into marks: nft's own reading of what the kernel holds.
func nftJSONMarks(t *testing.T, ns *testNS) []Mark {
	t.Helper()
	var doc struct {
		Nftables []map[string]json.RawMessage `json:"nftables"`
	}
	if err := json.Unmarshal([]byte(ns.run("nft", "-j", "list", "table", "inet", TableName)), &doc); err != nil {
		t.Fatalf("nft -j: %v", err)
	}
	var out []Mark
	for _, obj := range doc.Nftables {
		raw, ok := obj["map"]
		if !ok {
			continue
		}
		var m struct {
			Name string              `json:"name"`
			Elem [][]json.RawMessage `json:"elem"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("nft -j map: %v", err)
		}
		for _, e := range m.Elem {
			var k struct {
				Concat []any `json:"concat"`
			}
			var v struct {
				Goto struct{ Target string } `json:"goto"`
			}
			if len(e) != 2 || json.Unmarshal(e[0], &k) != nil || json.Unmarshal(e[1], &v) != nil || len(k.Concat) != 3 {
				t.Fatalf("nft -j: map %s: element %s: not VIP . proto . port : goto chain", m.Name, e)
			}
			vip, err := netip.ParseAddr(fmt.Sprint(k.Concat[0]))
			if err != nil {
				t.Fatalf("nft -j: map %s: element %s: %v", m.Name, e, err)
			}
			proto, err := dsrtypes.ParseProto(fmt.Sprint(k.Concat[1]))
			if err != nil {
				t.Fatalf("nft -j: map %s: element %s: %v", m.Name, e, err)
			}
			port, _ := k.Concat[2].(float64)
			is4, d, ok := parseDSCPChain(v.Goto.Target)
			if !ok || is4 != vip.Is4() {
				t.Fatalf("nft -j: map %s: element %s: target %q", m.Name, e, v.Goto.Target)
			}
			out = append(out, Mark{VIP: vip, Proto: uint8(proto), Port: uint16(port), DSCP: d})
		}
	}
	sortMarks(out)
	return out
}

// ourChains lists the chains of table inet l3dsr as nft sees them.
func ourChains(t *testing.T, ns *testNS) []string {
	t.Helper()
	out, err := ns.out("nft", "list", "table", "inet", TableName)
	if err != nil {
		if strings.Contains(out, "No such file or directory") {
			return nil
		}
		t.Fatalf("nft list table: %v: %s", err, out)
	}
	var chains []string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "chain" && f[2] == "{" {
			chains = append(chains, f[1])
		}
	}
	return chains
}

// chainsAre compares the chains of our table, in any order.
func chainsAre(t *testing.T, ns *testNS, what string, want ...string) {
	t.Helper()
	got := ourChains(t, ns)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("chains of table inet %s %s: got %v, want %v", TableName, what, got, want)
	}
}

func TestIntegrationListMatchesNft(t *testing.T) {
	ns := newNS(t)
	m := ns.marker()
	marks := []Mark{tcp(vip4, 80, 21), udp(vip4, 7, 21), sctp(vip4b, 9, 3), tcp(vip6, 80, 22), udp(vip6, 7, 22)}
	if err := m.Add(marks...); err != nil {
		t.Fatalf("Add: %v", err)
	}
	sameMarks(t, "List after Add", mustList(t, m), marks)
	sameMarks(t, "nft -j list table after Add", nftJSONMarks(t, ns), marks)
	t.Logf("nft list table inet %s:\n%s", TableName, ns.run("nft", "list", "table", "inet", TableName))

	// The rules, as nft prints them: the expressions are nft's own.
	want := map[string]string{
		"prerouting": "\t\ttype filter hook prerouting priority mangle; policy accept;\n" +
			"\t\tip daddr . meta l4proto . th dport vmap @vip4\n" +
			"\t\tip6 daddr . meta l4proto . th dport vmap @vip6\n",
		"dscp4_3":  "\t\tip dscp set 0x03\n",
		"dscp4_21": "\t\tip dscp set 0x15\n",
		"dscp6_22": "\t\tip6 dscp set af23\n",
	}
	for chain, body := range want {
		got := ns.run("nft", "list", "chain", "inet", TableName, chain)
		w := "table inet " + TableName + " {\n\tchain " + chain + " {\n" + body + "\t}\n}\n"
		if got != w {
			t.Errorf("nft list chain inet %s %s:\n%s\nwant:\n%s", TableName, chain, got, w)
		}
	}
	for _, mp := range []string{"vip4", "vip6"} {
		got := ns.run("nft", "list", "map", "inet", TableName, mp)
		typ := "ipv4_addr"
		if mp == "vip6" {
			typ = "ipv6_addr"
		}
		if w := "\t\ttype " + typ + " . inet_proto . inet_service : verdict\n"; !strings.Contains(got, w) {
			t.Errorf("nft list map inet %s %s: want the line %q in:\n%s", TableName, mp, w, got)
		}
	}

	// The other direction: what nft adds and deletes, List reads.
	ns.nft("add element inet l3dsr vip4 { 10.80.0.9 . udp . 53 : goto dscp4_21 }\n" +
		"add element inet l3dsr vip6 { 2001:db8:80::9 . sctp . 5060 : goto dscp6_22 }\n")
	added := []Mark{udp(netip.MustParseAddr("10.80.0.9"), 53, 21), sctp(netip.MustParseAddr("2001:db8:80::9"), 5060, 22)}
	sameMarks(t, "List after nft add element", mustList(t, m), append(append([]Mark(nil), marks...), added...))
	ns.nft("delete element inet l3dsr vip4 { 10.80.0.1 . tcp . 80 }\n")
	sameMarks(t, "List after nft delete element", mustList(t, m), append(append([]Mark(nil), marks[1:]...), added...))

	// An element that does not goto one of our chains is reported, not skipped.
	ns.nft("add element inet l3dsr vip4 { 10.80.0.10 . tcp . 443 : accept }\n")
	if _, err := m.List(); err == nil || !strings.Contains(err.Error(), "10.80.0.10:443") || !strings.Contains(err.Error(), `"accept"`) {
		t.Errorf("List with an element 'accept': want an error naming tcp 10.80.0.10:443 and its verdict \"accept\", got %v", err)
	}
}

func TestIntegrationIdempotent(t *testing.T) {
	ns := newNS(t)
	m := ns.marker()

	g0 := ns.genID()
	sameMarks(t, "List without a table", mustList(t, m), nil)
	if _, _, err := m.Sync(nil); err != nil {
		t.Fatalf("Sync(nil) without a table: %v", err)
	}
	if err := m.Remove(); err != nil {
		t.Fatalf("Remove without a table: %v", err)
	}
	if g := ns.genID(); g != g0 {
		t.Errorf("List, Sync(nil), Remove without a table: generation %d -> %d, want no batch", g0, g)
	}
	if c := ourChains(t, ns); c != nil {
		t.Errorf("Sync(nil) without a table created chains %v", c)
	}

	a := tcp(vip4, 80, 21)
	if err := m.Add(a); err != nil {
		t.Fatalf("Add: %v", err)
	}
	g1 := ns.genID()
	if g1 == g0 {
		t.Fatalf("Add of a new mark: generation stayed %d, want a batch", g1)
	}
	if err := m.Add(a, a); err != nil {
		t.Fatalf("Add of the same mark again: %v", err)
	}
	if g := ns.genID(); g != g1 {
		t.Errorf("Add of a mark the table holds: generation %d -> %d, want no batch", g1, g)
	}
	sameMarks(t, "nft -j after Add twice", nftJSONMarks(t, ns), []Mark{a})

	set := []Mark{a, udp(vip4, 7, 21), tcp(vip6, 80, 22)}
	added, removed, err := m.Sync(set)
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	sameMarks(t, "Sync added", added, set[1:])
	sameMarks(t, "Sync removed", removed, nil)
	g2 := ns.genID()
	added, removed, err = m.Sync(set)
	if err != nil || len(added) != 0 || len(removed) != 0 {
		t.Errorf("Sync with the same marks: want nothing added or removed, got %v, %v, %v", added, removed, err)
	}
	if g := ns.genID(); g != g2 {
		t.Errorf("Sync with the same marks: generation %d -> %d, want no batch", g2, g)
	}
	chainsAre(t, ns, "after Sync", "prerouting", "dscp4_21", "dscp6_22")

	// A chain someone else put into our table is left alone.
	ns.nft("add chain inet l3dsr mine\nadd rule inet l3dsr mine counter\n")

	// Replace: the old code's chain goes with its last user.
	if err := m.Replace(tcp(vip6, 80, 30)); err != nil {
		t.Fatalf("Replace: %v", err)
	}
	sameMarks(t, "nft -j after Replace", nftJSONMarks(t, ns), []Mark{a, udp(vip4, 7, 21), tcp(vip6, 80, 30)})
	chainsAre(t, ns, "after Replace", "prerouting", "dscp4_21", "dscp6_30", "mine")

	// Sync to another list: a changed code is removed and added.
	added, removed, err = m.Sync([]Mark{tcp(vip4, 80, 5), udp(vip4, 7, 21)})
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	sameMarks(t, "Sync added", added, []Mark{tcp(vip4, 80, 5)})
	sameMarks(t, "Sync removed", removed, []Mark{tcp(vip4, 80, 21), tcp(vip6, 80, 30)})
	chainsAre(t, ns, "after Sync", "prerouting", "dscp4_21", "dscp4_5", "mine")

	// Del of the last user of code 21 deletes its chain.
	if err := m.Del(udp(vip4, 7, 0)); err != nil {
		t.Fatalf("Del: %v", err)
	}
	chainsAre(t, ns, "after Del", "prerouting", "dscp4_5", "mine")

	// A damaged skeleton is repaired by the next change.
	ns.nft("flush chain inet l3dsr prerouting\nflush chain inet l3dsr dscp4_5\n")
	if err := m.Add(tcp(vip4, 80, 5)); err != nil {
		t.Fatalf("Add after flushing our chains: %v", err)
	}
	if got := ns.run("nft", "list", "chain", "inet", TableName, "prerouting"); !strings.Contains(got, "ip daddr . meta l4proto . th dport vmap @vip4") {
		t.Errorf("prerouting after repair:\n%s", got)
	}
	if got := ns.run("nft", "list", "chain", "inet", TableName, "dscp4_5"); !strings.Contains(got, "ip dscp set 0x05") {
		t.Errorf("dscp4_5 after repair:\n%s", got)
	}
	g3 := ns.genID()
	if err := m.Add(tcp(vip4, 80, 5)); err != nil {
		t.Fatal(err)
	}
	if g := ns.genID(); g != g3 {
		t.Errorf("Add after the repair: generation %d -> %d, want no batch", g3, g)
	}

	if err := m.Remove(); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if out := ns.run("nft", "list", "tables"); strings.Contains(out, TableName) {
		t.Errorf("nft list tables after Remove: %q", out)
	}
	if err := m.Remove(); err != nil {
		t.Errorf("Remove again: %v", err)
	}
	sameMarks(t, "List after Remove", mustList(t, m), nil)
}

func TestIntegrationErrorsChangeNothing(t *testing.T) {
	ns := newNS(t)
	m := ns.marker()
	base := []Mark{tcp(vip4, 80, 21), udp(vip6, 7, 22)}
	if err := m.Add(base...); err != nil {
		t.Fatal(err)
	}
	before := ns.run("nft", "list", "ruleset")
	g0 := ns.genID()

	cases := []struct {
		name string
		call func() error
		is   error
		says []string
	}{
		{"dscp-64", func() error { return m.Add(tcp(vip4, 81, 64)) }, errInvalid, []string{"DSCP 64", "0 to 63"}},
		{"port-0", func() error { return m.Add(tcp(vip4, 0, 1)) }, errInvalid, []string{"port 0", "1 to 65535"}},
		{"proto-icmp", func() error { return m.Add(Mark{VIP: vip4, Proto: unix.IPPROTO_ICMP, Port: 1, DSCP: 1}) }, errInvalid, []string{"icmp", "tcp, udp or sctp"}},
		{"one-bad-of-two", func() error { return m.Add(tcp(vip4, 82, 1), tcp(vip4, 83, 99)) }, errInvalid, []string{"DSCP 99"}},
		{"conflict", func() error { return m.Add(tcp(vip4, 84, 1), tcp(vip4, 80, 7)) }, errConflict, []string{"DSCP 21", "not 7"}},
		{"del-missing", func() error { return m.Del(tcp(vip4, 80, 0), tcp(vip4, 443, 0)) }, ErrNotFound, []string{"tcp 10.80.0.1:443"}},
		{"replace-missing", func() error { return m.Replace(udp(vip4, 53, 3)) }, ErrNotFound, []string{"udp 10.80.0.1:53"}},
		{"sync-bad", func() error { _, _, err := m.Sync([]Mark{tcp(vip4b, 80, 70)}); return err }, errInvalid, []string{"DSCP 70"}},
		{"multicast-vip", func() error { return m.Add(udp(netip.MustParseAddr("239.1.1.1"), 5, 1)) }, errInvalid, []string{"239.1.1.1", "multicast"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.call()
			if !errors.Is(err, c.is) {
				t.Fatalf("want an error matching %q, got %v", c.is, err)
			}
			for _, s := range c.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			if g := ns.genID(); g != g0 {
				t.Errorf("generation %d -> %d: a batch was applied", g0, g)
			}
		})
	}
	if after := ns.run("nft", "list", "ruleset"); after != before {
		t.Errorf("ruleset changed by refused calls:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	sameMarks(t, "List", mustList(t, m), base)
}

// A batch the kernel refuses halfway leaves nothing behind: here a
// hand-made table inet l3dsr whose vip4 map has the wrong key type makes
// the vmap rule and the element fail after the vip6 map and the chains
// were queued.
func TestIntegrationRefusedBatchIsAtomic(t *testing.T) {
	ns := newNS(t)
	ns.nft("add table inet l3dsr\nadd map inet l3dsr vip4 { type ipv4_addr : verdict; }\n")
	before := ns.run("nft", "list", "ruleset")
	g0 := ns.genID()
	err := ns.marker().Add(tcp(vip4, 80, 21), tcp(vip6, 80, 22))
	if err == nil {
		t.Fatal("Add into a table with a wrong vip4 map: want an error, got none")
	}
	t.Logf("Add refused: %v", err)
	if !strings.Contains(err.Error(), "as it was") {
		t.Errorf("error %q does not say the table is unchanged", err)
	}
	if g := ns.genID(); g != g0 {
		t.Errorf("generation %d -> %d: the refused batch was applied", g0, g)
	}
	if after := ns.run("nft", "list", "ruleset"); after != before {
		t.Errorf("ruleset changed by a refused batch:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}
