package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// bgpServices has the services the tests' VIPs belong to. It goes after
// the agent section, so that the lines of the tests are the file's.
const bgpServices = `director:
  services:
    - vip: 192.0.2.10:80
      mode: dr
    - vip: 192.0.2.11:80
      mode: dr
    - vip: "[2001:db8::10]:80"
      mode: dr
`

// bgpMinimal is the least a bgp section takes: lines 1-6.
const bgpMinimal = `agent:
  bgp:
    asn: 65001
    router_id: 10.1.0.11
    neighbors: [{address: 10.1.0.1, asn: 65000}]
    announce: [192.0.2.10]
`

// bgpFull has every key of the section, none at its default.
const bgpFull = `agent:
  icmp_relay: off
  bgp:
    asn: 65001
    router_id: 10.1.0.11
    listen_port: 1790
    withdraw_delay: 0
    next_hop: [10.1.0.11, "2001:db8:1::11"]
    neighbors:
      - address: 10.1.0.1
        asn: 65000
        hold_time: 3s
        password: "s3cret: key"
        port: 1179
        multihop: 2
        local_address: 10.1.0.11
      - {address: "2001:db8:1::1", asn: 4200000000, hold_time: 0}
    announce:
      - 192.0.2.10
      - {vip: "2001:db8::10", next_hop: "2001:db8:1::12"}
      - {vip: 192.0.2.11, next_hop: 10.1.0.12}
`

// bgpEdit is bgpMinimal with old replaced by new; a test whose edit
// missed would test the minimal file, so it panics.
func bgpEdit(old, new string) string {
	if !strings.Contains(bgpMinimal, old) {
		panic("no " + old + " in the minimal bgp section")
	}
	return strings.Replace(bgpMinimal, old, new, 1)
}

var (
	mustAddr = netip.MustParseAddr
	// The minimal section's neighbor line.
	nb1 = "    neighbors: [{address: 10.1.0.1, asn: 65000}]\n"
)

func TestParseBGP(t *testing.T) {
	minimal := &BGP{
		ASN: 65001, RouterID: mustAddr("10.1.0.11"), ListenPort: -1, WithdrawDelay: 5 * time.Second,
		Neighbors: []BGPNeighbor{{Address: mustAddr("10.1.0.1"), ASN: 65000, Pos: Pos{"t", 5}}},
		Announce:  []BGPAnnounce{{VIP: mustAddr("192.0.2.10"), Pos: Pos{"t", 6}}},
		Pos:       Pos{"t", 2},
	}
	with := func(change func(b *BGP)) *BGP {
		b := *minimal
		b.Neighbors = append([]BGPNeighbor(nil), minimal.Neighbors...)
		b.Announce = append([]BGPAnnounce(nil), minimal.Announce...)
		change(&b)
		return &b
	}
	for _, tc := range []struct {
		name, in string
		want     *BGP
		relay    bool
	}{
		{"every key", bgpFull, &BGP{
			ASN: 65001, RouterID: mustAddr("10.1.0.11"), ListenPort: 1790, WithdrawDelay: 0,
			NextHop4: mustAddr("10.1.0.11"), NextHop6: mustAddr("2001:db8:1::11"),
			Neighbors: []BGPNeighbor{
				{Address: mustAddr("10.1.0.1"), ASN: 65000, HoldTime: 3 * time.Second, Password: "s3cret: key", Port: 1179, Multihop: 2, LocalAddress: mustAddr("10.1.0.11"), Pos: Pos{"t", 10}},
				{Address: mustAddr("2001:db8:1::1"), ASN: 4200000000, Pos: Pos{"t", 17}},
			},
			Announce: []BGPAnnounce{
				{VIP: mustAddr("192.0.2.10"), Pos: Pos{"t", 19}},
				{VIP: mustAddr("2001:db8::10"), NextHop: mustAddr("2001:db8:1::12"), Pos: Pos{"t", 20}},
				{VIP: mustAddr("192.0.2.11"), NextHop: mustAddr("10.1.0.12"), Pos: Pos{"t", 21}},
			},
			Pos: Pos{"t", 3},
		}, false},
		{"the least: the defaults, and the relay on", bgpMinimal, minimal, true},
		{"no bgp: the relay off", "agent:\n  metrics: off\n", nil, false},
		{"the relay on without bgp", "agent:\n  icmp_relay: on\n", nil, true},
		{"the relay, as true", "agent:\n  icmp_relay: TRUE\n", nil, true},
		{"the relay off, as false", bgpEdit("agent:\n", "agent:\n  icmp_relay: false\n"), with(func(b *BGP) {
			b.Pos.Line, b.Neighbors[0].Pos.Line, b.Announce[0].Pos.Line = 3, 6, 7
		}), false},
		{"one next hop, IPv6", bgpEdit(nb1, "    next_hop: \"2001:db8:1::11\"\n"+nb1), with(func(b *BGP) {
			b.NextHop6 = mustAddr("2001:db8:1::11")
			b.Neighbors[0].Pos.Line, b.Announce[0].Pos.Line = 6, 7
		}), true},
		{"one next hop in a list", bgpEdit(nb1, "    next_hop: [10.1.0.11]\n"+nb1), with(func(b *BGP) {
			b.NextHop4 = mustAddr("10.1.0.11")
			b.Neighbors[0].Pos.Line, b.Announce[0].Pos.Line = 6, 7
		}), true},
		{"withdraw_delay at the most", bgpEdit(nb1, "    withdraw_delay: 10m\n    listen_port: 179\n"+nb1), with(func(b *BGP) {
			b.WithdrawDelay, b.ListenPort = 10*time.Minute, 179
			b.Neighbors[0].Pos.Line, b.Announce[0].Pos.Line = 7, 8
		}), true},
		{"hold_time at the most, ASN at the most", bgpEdit("{address: 10.1.0.1, asn: 65000}", "{address: 10.1.0.1, asn: 4294967295, hold_time: 65535s, multihop: 255, port: 65535}"), with(func(b *BGP) {
			b.Neighbors[0].ASN, b.Neighbors[0].HoldTime = 4294967295, 65535*time.Second
			b.Neighbors[0].Multihop, b.Neighbors[0].Port = 255, 65535
		}), true},
		{"a flow-style section", "agent: {bgp: {asn: 1, router_id: 10.1.0.11, neighbors: [{address: 10.1.0.1, asn: 2}], announce: [192.0.2.10]}}\n", &BGP{
			ASN: 1, RouterID: mustAddr("10.1.0.11"), ListenPort: -1, WithdrawDelay: 5 * time.Second,
			Neighbors: []BGPNeighbor{{Address: mustAddr("10.1.0.1"), ASN: 2, Pos: Pos{"t", 1}}},
			Announce:  []BGPAnnounce{{VIP: mustAddr("192.0.2.10"), Pos: Pos{"t", 1}}},
			Pos:       Pos{"t", 1},
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := mustParse(t, tc.in+bgpServices).Agent()
			if a.ICMPRelay != tc.relay {
				t.Errorf("ICMPRelay = %v, want %v", a.ICMPRelay, tc.relay)
			}
			if (a.BGP == nil) != (tc.want == nil) {
				t.Fatalf("BGP = %+v, want %+v", a.BGP, tc.want)
			}
			if tc.want == nil {
				return
			}
			got, want := *a.BGP, *tc.want
			// Field by field, so that a failure names the field.
			for _, f := range []struct {
				name      string
				got, want any
			}{
				{"ASN", got.ASN, want.ASN},
				{"RouterID", got.RouterID, want.RouterID},
				{"ListenPort", got.ListenPort, want.ListenPort},
				{"WithdrawDelay", got.WithdrawDelay, want.WithdrawDelay},
				{"NextHop4", got.NextHop4, want.NextHop4},
				{"NextHop6", got.NextHop6, want.NextHop6},
				{"Neighbors", got.Neighbors, want.Neighbors},
				{"Announce", got.Announce, want.Announce},
				{"Pos", got.Pos, want.Pos},
			} {
				if !reflect.DeepEqual(f.got, f.want) {
					t.Errorf("%s = %+v\nwant %+v", f.name, f.got, f.want)
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("BGP = %+v\nwant %+v", got, want)
			}
		})
	}
}

// wantBGPErr is wantErr with the error's whole text: FILE:LINE: message.
func wantBGPErr(t *testing.T, in string, line int, want string) {
	t.Helper()
	f, err := parseFile("f", []byte(in))
	var es Errors
	if !errors.As(err, &es) || f != nil {
		t.Fatalf("Parse = %+v, %v; want Errors\n%s", f, err, in)
	}
	if len(es) != 1 || es[0].pos.Line != line || es[0].Error() != fmt.Sprintf("f:%d: %s", line, want) {
		t.Errorf("errors:\n%v\nwant one, at line %d:\n%s\nin\n%s", es, line, want, in)
	}
}

func TestParseBGPErrors(t *testing.T) {
	const (
		asnFix   = "the AS number of this director, 1-4294967295"
		asTrans  = "is AS_TRANS, which stands in for a 4-byte ASN toward old speakers (RFC 6793) and is never a real AS: give "
		nbKeys   = "address, asn, bfd, hold_time, local_address, multihop, password, port"
		bgpKeys  = "announce, asn, listen_port, neighbors, next_hop, router_id, withdraw_delay"
		nextFix  = "an address of this director the routers reach, or leave the key out for each session's own address"
		holdLeft = "give 3s or more, or leave the key out for the speaker's 90s"
	)
	nb := func(keys string) string {
		return bgpEdit("{address: 10.1.0.1, asn: 65000}", "{"+keys+"}")
	}
	ann := func(list string) string { return bgpEdit("[192.0.2.10]", list) }
	for _, tc := range []struct {
		name, in string
		line     int
		want     string
	}{
		// The director's own settings.
		{"ASN 0", bgpEdit("asn: 65001", "asn: 0"), 3, "ASN 0 is reserved: give " + asnFix},
		{"AS_TRANS", bgpEdit("asn: 65001", "asn: 23456"), 3, "ASN 23456 " + asTrans + asnFix},
		{"ASN too big", bgpEdit("asn: 65001", "asn: 4294967296"), 3, "asn 4294967296 is out of range: give " + asnFix},
		{"ASN negative", bgpEdit("asn: 65001", "asn: -1"), 3, `asn "-1" is not a whole number: give ` + asnFix},
		{"ASN in asdot", bgpEdit("asn: 65001", "asn: 1.10"), 3, `asn "1.10" is not a whole number: give ` + asnFix},
		{"no asn", bgpEdit("    asn: 65001\n", ""), 2, "bgp needs the key asn: the AS number of this director, e.g. 'asn: 65001'"},
		{"no router_id", bgpEdit("    router_id: 10.1.0.11\n", ""), 2, "bgp needs the key router_id: an IPv4 address of this director (the BGP identifier), e.g. 'router_id: 10.1.0.11'"},
		{"router_id IPv6", bgpEdit("router_id: 10.1.0.11", "router_id: 2001:db8::11"), 4, "router_id 2001:db8::11 is IPv6: the BGP identifier is 32 bits; give an IPv4 address of this director, e.g. 10.1.0.11"},
		{"router_id zero", bgpEdit("router_id: 10.1.0.11", "router_id: 0.0.0.0"), 4, "router_id 0.0.0.0 is not a BGP identifier (RFC 6286 wants it nonzero): give an IPv4 address of this director, e.g. 10.1.0.11"},
		{"router_id a name", bgpEdit("router_id: 10.1.0.11", "router_id: director1"), 4, `router_id "director1" is not an IP address: give an IPv4 or IPv6 address, e.g. 10.0.0.1`},
		{"listen_port 0", bgpEdit(nb1, "    listen_port: 0\n"+nb1), 5, "listen_port 0: give a TCP port 1-65535 (179 is BGP's), or leave the key out to accept no sessions"},
		{"listen_port too big", bgpEdit(nb1, "    listen_port: 65536\n"+nb1), 5, "listen_port 65536 is out of range: give a TCP port 1-65535 (179 is BGP's), or leave the key out to accept no sessions"},
		{"withdraw_delay too long", bgpEdit(nb1, "    withdraw_delay: 11m\n"+nb1), 5, "withdraw_delay 11m is over 10m: a stop would wait that long with the VIPs withdrawn; give at most 10m (5s is the default)"},
		{"withdraw_delay without unit", bgpEdit(nb1, "    withdraw_delay: 5\n"+nb1), 5, "withdraw_delay 5 has no unit: write 5s (or ms, m)"},
		{"withdraw_delay negative", bgpEdit(nb1, "    withdraw_delay: -1s\n"+nb1), 5, "withdraw_delay -1s is negative: give 0 or a duration such as 5s"},
		{"withdraw_delay not a duration", bgpEdit(nb1, "    withdraw_delay: soon\n"+nb1), 5, `withdraw_delay "soon" is not a duration: write e.g. 500ms, 2s or 1m`},
		{"two IPv4 next hops", bgpEdit(nb1, "    next_hop:\n      - 10.1.0.11\n      - 10.1.0.12\n"+nb1), 7, "next_hop gives two IPv4 addresses, 10.1.0.11 and 10.1.0.12: give at most one per family"},
		{"two IPv6 next hops", bgpEdit(nb1, "    next_hop: [\"2001:db8::1\", 10.1.0.11, \"2001:db8::2\"]\n"+nb1), 5, "next_hop gives two IPv6 addresses, 2001:db8::1 and 2001:db8::2: give at most one per family"},
		{"next hops, none", bgpEdit(nb1, "    next_hop: []\n"+nb1), 5, "next_hop is an empty list: give one address per family, or leave the key out for each session's own address"},
		{"next hop unspecified", bgpEdit(nb1, "    next_hop: 0.0.0.0\n"+nb1), 5, "next_hop 0.0.0.0 is not a unicast address: give " + nextFix},
		{"unknown key", bgpEdit("    asn: 65001\n", "    asn: 65001\n    as: 65001\n"), 4, `unknown key "as" in bgp: the keys are ` + bgpKeys},
		{"a list", "agent:\n  bgp:\n    - asn: 65001\n", 3, "bgp must be a mapping with the keys " + bgpKeys + ", not a list"},
		{"empty", "agent:\n  bgp:\n", 2, "bgp must be a mapping with the keys " + bgpKeys + ", not empty"},
		// The neighbors.
		{"no neighbors", bgpEdit(nb1, ""), 2, "bgp needs the key neighbors: the routers to announce to, e.g. 'neighbors: [{address: 10.1.0.1, asn: 65000}]'"},
		{"neighbors, none", bgpEdit(nb1, "    neighbors: []\n"), 5, "neighbors is empty: give at least one router, e.g. '- {address: 10.1.0.1, asn: 65000}'"},
		{"a neighbor without address", nb("asn: 65000"), 5, "a neighbor needs the key address: the router's address, e.g. '{address: 10.1.0.1, asn: 65000}'"},
		{"a neighbor without asn", nb("address: 10.1.0.1"), 5, "neighbor 10.1.0.1 needs the key asn: the router's AS number, e.g. '{address: 10.1.0.1, asn: 65000}'"},
		{"a neighbor's ASN 0", nb("address: 10.1.0.1, asn: 0"), 5, "ASN of neighbor 10.1.0.1 0 is reserved: give the router's AS number"},
		{"a neighbor's AS_TRANS", nb("asn: 23456, address: 10.1.0.1"), 5, "ASN of neighbor 10.1.0.1 23456 " + asTrans + "the router's AS number"},
		{"a neighbor's ASN too big", nb("address: 10.1.0.1, asn: 4294967296"), 5, "asn 4294967296 is out of range: give the router's AS number, 1-4294967295"},
		{"a neighbor at 0.0.0.0", nb("address: 0.0.0.0, asn: 65000"), 5, "address 0.0.0.0 is not a unicast address: give the router's address"},
		{"a neighbor at a group", nb("address: \"ff02::5\", asn: 65000"), 5, "address ff02::5 is not a unicast address: give the router's address"},
		{"hold_time under 3s", nb("address: 10.1.0.1, asn: 65000, hold_time: 2s"), 5, "hold_time 2s is under 3s, the least RFC 4271 allows: " + holdLeft},
		{"hold_time in ms", nb("address: 10.1.0.1, asn: 65000, hold_time: 3500ms"), 5, "hold_time 3500ms is not whole seconds: BGP carries the hold time in seconds; give e.g. 4s"},
		{"hold_time too long", nb("address: 10.1.0.1, asn: 65000, hold_time: 20h"), 5, "hold_time 20h is over 18h12m15s (65535 s, the most BGP carries): give e.g. 90s"},
		{"hold_time without unit", nb("address: 10.1.0.1, asn: 65000, hold_time: 9"), 5, "hold_time 9 has no unit: write 9s (or ms, m)"},
		{"password empty", nb("address: 10.1.0.1, asn: 65000, password: ''"), 5, "password is empty: give the TCP MD5 key, or leave the key out for none"},
		{"password too long", nb("address: 10.1.0.1, asn: 65000, password: " + strings.Repeat("k", 81)), 5, "password is 81 bytes: the kernel's TCP MD5 keys are at most 80; give a shorter one"},
		{"port 0", nb("address: 10.1.0.1, asn: 65000, port: 0"), 5, "port 0: give the router's TCP port 1-65535, or leave the key out for 179"},
		{"multihop 0", nb("address: 10.1.0.1, asn: 65000, multihop: 0"), 5, "multihop 0: give the TTL 1-255 that reaches a router not on a connected network, or leave the key out for a connected one"},
		{"multihop too big", nb("address: 10.1.0.1, asn: 65000, multihop: 256"), 5, "multihop 256 is out of range: give the TTL 1-255 that reaches a router not on a connected network, or leave the key out for a connected one"},
		{"local_address IPv4 for IPv6", nb("address: \"2001:db8::1\", asn: 65000, local_address: 10.1.0.11"), 5, "local_address 10.1.0.11 of neighbor 2001:db8::1 is IPv4: give an IPv6 address"},
		{"local_address IPv6 for IPv4", bgpEdit(nb1, "    neighbors:\n      - address: 10.1.0.1\n        asn: 65000\n        local_address: \"2001:db8::11\"\n"), 8, "local_address 2001:db8::11 of neighbor 10.1.0.1 is IPv6: give an IPv4 address"},
		{"a neighbor twice", bgpEdit(nb1, "    neighbors:\n      - {address: 10.1.0.1, asn: 65000}\n      - {address: 10.1.0.2, asn: 65000}\n      - {address: 10.1.0.1, asn: 65002}\n"), 8, "neighbor 10.1.0.1 is given twice (also on line 6): keep one"},
		{"a neighbor's unknown key", nb("address: 10.1.0.1, asn: 65000, holdtime: 3s"), 5, `unknown key "holdtime" in a neighbor: the keys are ` + nbKeys},
		{"a neighbor as an address", bgpEdit(nb1, "    neighbors: [10.1.0.1]\n"), 5, `a neighbor must be a mapping with the keys ` + nbKeys + `, not the value "10.1.0.1"`},
		// The VIPs.
		{"no announce", bgpEdit("    announce: [192.0.2.10]\n", ""), 2, "bgp needs the key announce: the VIPs this director announces, e.g. 'announce: [192.0.2.10]'"},
		{"announce, none", ann("[]"), 6, "announce is empty: give the VIPs to announce, e.g. 'announce: [192.0.2.10]'"},
		{"announce a prefix", ann("[192.0.2.10/32]"), 6, `VIP "192.0.2.10/32" is a prefix: give the address alone, e.g. 192.0.2.10`},
		{"announce without vip", ann("[{next_hop: 10.1.0.11}]"), 6, "an announce entry needs the key vip: e.g. '{vip: 192.0.2.10, next_hop: 10.1.0.11}'"},
		{"announce a list", ann("[[192.0.2.10]]"), 6, "an announce entry must be a VIP or a mapping with the keys next_hop, vip, not a list"},
		{"announce's unknown key", ann("[{vip: 192.0.2.10, nexthop: 10.1.0.11}]"), 6, `unknown key "nexthop" in an announce entry: the keys are next_hop, vip`},
		{"next hop IPv4 for IPv6", ann("[{vip: \"2001:db8::10\", next_hop: 10.1.0.11}]"), 6, "next_hop 10.1.0.11 for VIP 2001:db8::10 is IPv4: give an IPv6 next hop"},
		{"next hop IPv6 for IPv4", ann("\n      - 192.0.2.11\n      - {vip: 192.0.2.10, next_hop: \"2001:db8::11\"}"), 8, "next_hop 2001:db8::11 for VIP 192.0.2.10 is IPv6: give an IPv4 next hop"},
		{"IPv6 VIP over IPv4 sessions", ann("[\"2001:db8::10\"]"), 6, "VIP 2001:db8::10 is IPv6, and every neighbor is IPv4: give its IPv6 next hop (next_hop of the entry, or an IPv6 address in bgp's next_hop)"},
		{"announced, no service", ann("[192.0.2.99]"), 6, "VIP 192.0.2.99 is announced, but no service has it: add a service for it, or remove it from announce"},
		{"announced twice", ann("\n      - 192.0.2.10\n      - 192.0.2.11\n      - {vip: 192.0.2.10, next_hop: 10.1.0.11}"), 9, "VIP 192.0.2.10 is announced twice (also on line 7): keep one entry"},
		// The relay.
		{"icmp_relay", "agent:\n  icmp_relay: maybe\n", 2, `icmp_relay "maybe": use on (ICMP "too big" for a VIP goes on to the real server that owns the flow) or off`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantBGPErr(t, tc.in+bgpServices, tc.line, tc.want)
		})
	}
}

// An announced VIP is one of a service; a file without a director section
// has none.
func TestBGPWithoutDirector(t *testing.T) {
	wantBGPErr(t, bgpMinimal, 6, "VIP 192.0.2.10 is announced, but no service has it: add a service for it, or remove it from announce")
}

// Every mistake of a section is named at once, in line order.
func TestParseBGPManyErrors(t *testing.T) {
	in := "agent:\n  bgp:\n    asn: 0\n    router_id: \"::1\"\n    neighbors:\n      - {address: 10.1.0.1, asn: 65000, hold_time: 1s}\n      - {address: 10.1.0.2}\n    announce: [{vip: 192.0.2.10, next_hop: \"::1\"}]\n"
	_, err := parseFile("f", []byte(in+bgpServices))
	want := `f:3: ASN 0 is reserved: give the AS number of this director, 1-4294967295
f:4: router_id ::1 is IPv6: the BGP identifier is 32 bits; give an IPv4 address of this director, e.g. 10.1.0.11
f:6: hold_time 1s is under 3s, the least RFC 4271 allows: give 3s or more, or leave the key out for the speaker's 90s
f:7: neighbor 10.1.0.2 needs the key asn: the router's AS number, e.g. '{address: 10.1.0.2, asn: 65000}'
f:8: next_hop ::1 for VIP 192.0.2.10 is IPv6: give an IPv4 next hop`
	if err == nil || err.Error() != want {
		t.Errorf("errors:\n%v\nwant\n%s", err, want)
	}
}

// The example of docs/config.md loads, with what its comments say.
func TestDocBGPExample(t *testing.T) {
	doc, err := os.ReadFile("../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	var example string
	for _, m := range yamlBlock.FindAllSubmatch(doc, -1) {
		if strings.Contains(string(m[1]), "  bgp:\n") {
			example = string(m[1])
		}
	}
	if example == "" {
		t.Fatal("docs/config.md has no example with a bgp section")
	}
	a := mustParse(t, example).Agent()
	b := a.BGP
	if !a.ICMPRelay || b == nil || b.WithdrawDelay != 5*time.Second || b.ListenPort != -1 || len(b.Neighbors) != 2 || len(b.Announce) != 2 ||
		b.Neighbors[0].HoldTime != 9*time.Second || b.Neighbors[0].Password != "a shared key" {
		t.Errorf("the example loads as %+v, relay %v", b, a.ICMPRelay)
	}
}
