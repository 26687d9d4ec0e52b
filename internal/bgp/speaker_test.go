package bgp

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	"github.com/osrg/gobgp/v4/pkg/packet/bgp"
)

var (
	a4 = netip.MustParseAddr
)

func TestStartRejects(t *testing.T) {
	ok := Config{ASN: 65001, RouterID: a4("10.1.0.11"), ListenPort: -1}
	nb := Neighbor{Address: a4("10.1.0.1"), ASN: 65000}
	cases := []struct {
		name string
		edit func(c *Config)
		want string
	}{
		{"asn 0", func(c *Config) { c.ASN = 0 },
			"bgp: asn 0 is not an AS number: give the director's ASN (1 to 4294967295, a private one is 64512-65534 or 4200000000-4294967294)"},
		{"router id IPv6", func(c *Config) { c.RouterID = a4("2001:db8::1") },
			`bgp: router id "2001:db8::1" is not an IPv4 address: BGP router ids are 32-bit, give one of the director's IPv4 addresses`},
		{"no router id", func(c *Config) { c.RouterID = netip.Addr{} },
			`bgp: router id "" is not an IPv4 address: BGP router ids are 32-bit, give one of the director's IPv4 addresses`},
		{"listen port", func(c *Config) { c.ListenPort = 70000 },
			"bgp: listen port 70000 is out of range: give -1 (none) or 1 to 65535"},
		{"local address family", func(c *Config) {
			n := nb
			n.LocalAddress = a4("2001:db8:1::11")
			c.Neighbors = []Neighbor{n}
		}, "bgp: neighbor 10.1.0.1: local address 2001:db8:1::11 is of the other family: give an IPv4 address of the director, or none"},
		{"local address family 6", func(c *Config) {
			c.Neighbors = []Neighbor{{Address: a4("2001:db8:1::1"), ASN: 65000, LocalAddress: a4("10.1.0.11")}}
		}, "bgp: neighbor 2001:db8:1::1: local address 10.1.0.11 is of the other family: give an IPv6 address of the director, or none"},
		{"neighbor asn 0", func(c *Config) {
			n := nb
			n.ASN = 0
			c.Neighbors = []Neighbor{n}
		}, "bgp: neighbor 10.1.0.1: asn 0 is not an AS number: give the router's ASN"},
		{"hold time", func(c *Config) {
			n := nb
			n.HoldTime = 2 * time.Second
			c.Neighbors = []Neighbor{n}
		}, "bgp: neighbor 10.1.0.1: hold time 2s is not 0 or whole seconds of at least 3s (RFC 4271)"},
		{"bfd min tx", func(c *Config) {
			n := nb
			n.BFD = &BFD{MinTx: 5 * time.Millisecond, MinRx: 100 * time.Millisecond, Multiplier: 3}
			c.Neighbors = []Neighbor{n}
		}, "bgp: neighbor 10.1.0.1: bfd min tx interval 5ms is out of range: give 10ms to 1h (100ms-300ms is usual)"},
		{"bfd min rx", func(c *Config) {
			n := nb
			n.BFD = &BFD{MinTx: 100 * time.Millisecond, MinRx: 2 * time.Hour, Multiplier: 3}
			c.Neighbors = []Neighbor{n}
		}, "bgp: neighbor 10.1.0.1: bfd min rx interval 2h0m0s is out of range: give 10ms to 1h (100ms-300ms is usual)"},
		{"bfd unset", func(c *Config) {
			n := nb
			n.BFD = &BFD{}
			c.Neighbors = []Neighbor{n}
		}, "bgp: neighbor 10.1.0.1: bfd min tx interval 0s is out of range: give 10ms to 1h (100ms-300ms is usual)"},
		{"bfd multiplier", func(c *Config) {
			n := nb
			n.BFD = &BFD{MinTx: 10 * time.Millisecond, MinRx: 10 * time.Millisecond}
			c.Neighbors = []Neighbor{n}
		}, "bgp: neighbor 10.1.0.1: bfd multiplier 0 is out of range: give 1 to 255 (3 is usual)"},
		{"duplicate neighbor", func(c *Config) { c.Neighbors = []Neighbor{nb, nb} },
			"bgp: neighbor 10.1.0.1 is given twice: give each router once"},
		{"no neighbor address", func(c *Config) { c.Neighbors = []Neighbor{{ASN: 65000}} },
			"bgp: a neighbor has no address: give the router's IPv4 or IPv6 address"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			s, err := Start(t.Context(), c)
			if err == nil {
				s.Stop(t.Context())
				t.Fatalf("Start succeeded, want error %q", tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("Start error\n got %q\nwant %q", err, tc.want)
			}
		})
	}
}

// start runs a speaker that takes no sessions and has no neighbors unless
// given, and stops it when the test ends.
func start(t *testing.T, nbs ...Neighbor) *Speaker {
	t.Helper()
	s, err := Start(t.Context(), Config{ASN: 65001, RouterID: a4("10.1.0.11"), ListenPort: -1, Neighbors: nbs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return s
}

func TestStartStop(t *testing.T) {
	s, err := Start(t.Context(), Config{ASN: 65001, RouterID: a4("10.1.0.11"), ListenPort: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(t.Context()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	// A second Stop is the agent's shutdown path after an error: no hang.
	if err := s.Stop(t.Context()); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if err := s.Announce(t.Context(), a4("192.0.2.10"), netip.Addr{}); err == nil {
		t.Errorf("Announce after Stop succeeded")
	}
}

// rib is GoBGP's global RIB of a family: prefix -> next hops of its paths.
func rib(t *testing.T, s *Speaker, fam bgp.Family) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := s.srv.ListPath(apiutil.ListPathRequest{TableType: api.TableType_TABLE_TYPE_GLOBAL, Family: fam}, func(prefix bgp.NLRI, paths []*apiutil.Path) {
		for _, p := range paths {
			for _, a := range p.Attrs {
				switch a := a.(type) {
				case *bgp.PathAttributeNextHop:
					out[prefix.String()] = append(out[prefix.String()], a.Value.String())
				case *bgp.PathAttributeMpReachNLRI:
					out[prefix.String()] = append(out[prefix.String()], a.Nexthop.String())
				case *bgp.PathAttributeOrigin:
					if a.Value != 0 {
						t.Errorf("%s: origin %d, want 0 (IGP)", prefix, a.Value)
					}
				}
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAnnounceWithdraw(t *testing.T) {
	s := start(t)
	ctx := t.Context()
	cases := []struct {
		fam            bgp.Family
		vip, nh        netip.Addr
		prefix, wantNH string
	}{
		{bgp.RF_IPv4_UC, a4("192.0.2.10"), a4("10.1.0.11"), "192.0.2.10/32", "10.1.0.11"},
		{bgp.RF_IPv4_UC, a4("192.0.2.11"), netip.Addr{}, "192.0.2.11/32", "0.0.0.0"},
		{bgp.RF_IPv6_UC, a4("2001:db8::10"), a4("2001:db8:1::11"), "2001:db8::10/128", "2001:db8:1::11"},
		{bgp.RF_IPv6_UC, a4("2001:db8::11"), netip.Addr{}, "2001:db8::11/128", "::"},
	}
	for _, c := range cases {
		if err := s.Announce(ctx, c.vip, c.nh); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range cases {
		if got := rib(t, s, c.fam)[c.prefix]; !slices.Equal(got, []string{c.wantNH}) {
			t.Errorf("%s: next hops %q, want [%s]", c.prefix, got, c.wantNH)
		}
	}
	// Announcing again replaces the path, even with another next hop.
	for range 2 {
		if err := s.Announce(ctx, a4("192.0.2.10"), a4("10.1.0.12")); err != nil {
			t.Fatal(err)
		}
	}
	if got := rib(t, s, bgp.RF_IPv4_UC)["192.0.2.10/32"]; !slices.Equal(got, []string{"10.1.0.12"}) {
		t.Errorf("after announcing 192.0.2.10 again: next hops %q, want [10.1.0.12]", got)
	}
	for _, c := range cases {
		if err := s.Withdraw(ctx, c.vip); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []bgp.Family{bgp.RF_IPv4_UC, bgp.RF_IPv6_UC} {
		if got := rib(t, s, f); len(got) != 0 {
			t.Errorf("after withdrawing all: RIB %v, want empty", got)
		}
	}
	// A VIP never announced, and one withdrawn twice: nothing to do.
	for _, vip := range []netip.Addr{a4("198.51.100.1"), a4("192.0.2.10"), a4("2001:db8::99")} {
		if err := s.Withdraw(ctx, vip); err != nil {
			t.Errorf("Withdraw(%s): %v", vip, err)
		}
	}
}

func TestAnnounceRejects(t *testing.T) {
	s := start(t)
	cases := []struct {
		vip, nh netip.Addr
		want    string
	}{
		{a4("192.0.2.10"), a4("2001:db8:1::11"),
			"bgp: announce 192.0.2.10: next hop 2001:db8:1::11 is not an IPv4 address: give one of the VIP's family, or none for the session's own address"},
		{a4("2001:db8::10"), a4("10.1.0.11"),
			"bgp: announce 2001:db8::10: next hop 10.1.0.11 is not an IPv6 address: give one of the VIP's family, or none for the session's own address"},
		{netip.Addr{}, netip.Addr{}, "bgp: announce: no VIP given"},
		{a4("::ffff:192.0.2.10"), netip.Addr{}, "bgp: announce: VIP ::ffff:192.0.2.10 is an IPv4-mapped IPv6 address: give it as 192.0.2.10"},
		{a4("0.0.0.0"), netip.Addr{}, "bgp: announce: VIP 0.0.0.0 is the unspecified address: give the service's address"},
	}
	for _, c := range cases {
		err := s.Announce(t.Context(), c.vip, c.nh)
		if err == nil || err.Error() != c.want {
			t.Errorf("Announce(%v, %v) = %v, want %q", c.vip, c.nh, err, c.want)
		}
	}
	if got := rib(t, s, bgp.RF_IPv4_UC); len(got) != 0 {
		t.Errorf("RIB after rejected announcements: %v, want empty", got)
	}
}

// A neighbor nobody answers is listed, down.
func TestSessionsDown(t *testing.T) {
	s := start(t, Neighbor{Address: a4("127.0.0.1"), ASN: 65000, Port: 1, HoldTime: 3 * time.Second})
	got, err := s.Sessions(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("Sessions: %+v, want one", got)
	}
	se := got[0]
	if se.Neighbor != a4("127.0.0.1") || se.ASN != 65000 || se.Up || !se.Since.IsZero() || se.Transitions != 0 {
		t.Errorf("Sessions: %+v, want 127.0.0.1 AS65000 down, never established", se)
	}
	if !slices.Contains([]string{"idle", "connect", "active"}, se.State) {
		t.Errorf("state %q, want idle, connect or active", se.State)
	}
}

// BFD's durations reach GoBGP in microseconds; no BFD is BFD off.
func TestPeerBFD(t *testing.T) {
	n := Neighbor{Address: a4("10.1.0.1"), ASN: 65000}
	if b := peerOf(n).GetBfd(); b != nil {
		t.Errorf("without BFD: GoBGP's BFD config %v, want none", b)
	}
	n.BFD = &BFD{MinTx: 150 * time.Millisecond, MinRx: 10 * time.Millisecond, Multiplier: 255}
	b := peerOf(n).GetBfd()
	if !b.GetEnabled() || b.GetDesiredMinimumTxInterval() != 150000 || b.GetRequiredMinimumReceive() != 10000 || b.GetDetectionMultiplier() != 255 || b.GetPort() != 0 {
		t.Errorf("GoBGP's BFD config %v, want enabled, tx 150000 us, rx 10000 us, multiplier 255, default port", b)
	}
	// A neighbor with BFD is accepted and listed like any other.
	s := start(t, Neighbor{Address: a4("127.0.0.1"), ASN: 65000, Port: 1, BFD: n.BFD})
	if got, err := s.Sessions(t.Context()); err != nil || len(got) != 1 {
		t.Errorf("Sessions = %+v, %v; want the one neighbor", got, err)
	}
}
