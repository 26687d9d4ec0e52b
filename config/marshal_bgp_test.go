package config

import (
	"strings"
	"testing"
	"time"
)

// A parsed bgp section saves whole, defaults left out, and loads back to
// the same value (roundTrip); the fuzz test checks the value of any file,
// this the words.
func TestMarshalBGP(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"every key", bgpFull, `agent:
  icmp_relay: off
  bgp:
    asn: 65001
    router_id: 10.1.0.11
    listen_port: 1790
    withdraw_delay: 0s
    next_hop: [10.1.0.11, '2001:db8:1::11']
    neighbors:
      - {address: 10.1.0.1, asn: 65000, hold_time: 3s, password: 's3cret: key', port: 1179, multihop: 2, local_address: 10.1.0.11}
      - {address: '2001:db8:1::1', asn: 4200000000}
    announce:
      - 192.0.2.10
      - {vip: '2001:db8::10', next_hop: '2001:db8:1::12'}
      - {vip: 192.0.2.11, next_hop: 10.1.0.12}
`},
		{"the defaults", bgpMinimal, `agent:
  bgp:
    asn: 65001
    router_id: 10.1.0.11
    neighbors:
      - {address: 10.1.0.1, asn: 65000}
    announce:
      - 192.0.2.10
`},
		{"one next hop, a number for a password", bgpEdit(nb1, "    next_hop: \"2001:db8:1::11\"\n    withdraw_delay: 1m30s\n    neighbors: [{address: 10.1.0.1, asn: 65000, password: 1234, hold_time: 90s}]\n"),
			"    withdraw_delay: 1m30s\n    next_hop: 2001:db8:1::11\n    neighbors:\n      - {address: 10.1.0.1, asn: 65000, hold_time: 1m30s, password: \"1234\"}\n"},
		{"the relay on without bgp", "agent:\n  icmp_relay: on\n", "agent:\n  icmp_relay: on\n"},
		{"the relay off without bgp: the default", "agent:\n  icmp_relay: off\n  on_stop: teardown\n", "agent:\n  on_stop: teardown\n"},
		{"the relay on with bgp: the default", bgpEdit("agent:\n", "agent:\n  icmp_relay: on\n"), "agent:\n  bgp:\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in + bgpServices
			f := mustParse(t, in)
			out, err := Marshal(f, "")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("saved file has no\n%s\nin\n%s", tc.want, out)
			}
			roundTrip(t, f, []byte(in))
		})
	}
}

// A section made in code, not parsed, saves with the parser's defaults
// left out too: 0 is a withdraw delay of its own, written.
func TestMarshalBGPValues(t *testing.T) {
	f := mustParse(t, bgpMinimal+bgpServices)
	b := *f.agent.BGP
	b.WithdrawDelay = 0
	b.NextHop4 = mustAddr("10.1.0.11")
	f.agent.BGP = &b
	out, err := Marshal(f, "")
	want := "agent:\n  bgp:\n    asn: 65001\n    router_id: 10.1.0.11\n    withdraw_delay: 0s\n    next_hop: 10.1.0.11\n"
	if err != nil || !strings.Contains(string(out), want) {
		t.Fatalf("Marshal = %v\n%s\nwant it to contain\n%s", err, out, want)
	}
	g := mustParse(t, string(out))
	if d := g.Agent().BGP.WithdrawDelay; d != 0*time.Second {
		t.Errorf("withdraw_delay read back as %v", d)
	}
	roundTrip(t, f, out)
}
