package metrics

import (
	"net/netip"

	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/ipvs"
	"github.com/l3dsr/l3dsr/maptable"
)

// big is past 2^32, to show the counters are the kernel's 64-bit ones.
const big = 1 << 40

var (
	web = director.Key{VIP: netip.MustParseAddr("192.0.2.10"), Port: 80, Proto: ipvs.ProtoTCP}
	dns = director.Key{VIP: netip.MustParseAddr("2001:db8::53"), Port: 53, Proto: ipvs.ProtoUDP}

	web1 = netip.MustParseAddr("198.51.100.1")
	web2 = netip.MustParseAddr("198.51.100.2")
	dns1 = netip.MustParseAddr("2001:db8:1::1")
)

// fakeStatus is a director of an IPv4 TCP service of two reals and an IPv6
// UDP service of one.
func fakeStatus() director.Status {
	return director.Status{Services: []director.Service{
		{
			Key: web, Mode: dsrtypes.ModeDSCP, DSCP: 21, Scheduler: "wrr", Managed: true,
			Stats: ipvs.Stats{Connections: 30, PacketsIn: big, PacketsOut: 0, BytesIn: big * 100, BytesOut: 0},
			Reals: []director.Real{
				{Addr: web1, Weight: 100, ActiveConns: 7, InactiveConns: 2,
					Stats: ipvs.Stats{Connections: 20, PacketsIn: 200, BytesIn: 20000}},
				{Addr: web2, Weight: 0, ActiveConns: 1,
					Stats: ipvs.Stats{Connections: 10, PacketsIn: 100, BytesIn: 10000}},
			},
		},
		{
			Key: dns, Mode: dsrtypes.ModeIPIP, Scheduler: "rr", Managed: true,
			Stats: ipvs.Stats{Connections: 5, PacketsIn: 5, PacketsOut: 3, BytesIn: 500, BytesOut: 300},
			Reals: []director.Real{
				{Addr: dns1, Weight: 1, InactiveConns: 5,
					Stats: ipvs.Stats{Connections: 5, PacketsIn: 5, PacketsOut: 3, BytesIn: 500, BytesOut: 300}},
			},
		},
	}}
}

// fakeTable is a real server's table: an IPv4 entry for any local address
// and an IPv6 one limited to one.
func fakeTable() ([]maptable.Entry, maptable.Stats) {
	return []maptable.Entry{
			{DSCP: 21, VIP: web.VIP, Packets: big, Bytes: big * 60},
			{DSCP: 22, Local: dns1, VIP: dns.VIP, Packets: 9, Bytes: 900},
		}, maptable.Stats{
			Rewritten: big + 9, NoEntry: 4, Errors: 1, Entries: 2, Generation: 7,
		}
}

// fakeSources reads the fakes, through the table's backend.
func fakeSources() Sources {
	return Sources{
		Director: func() (director.Status, error) { return fakeStatus(), nil },
		Table: func() ([]maptable.Entry, maptable.Stats, error) {
			e, s := fakeTable()
			return e, s, nil
		},
		Backend: func() string { return "xt_DADDR" },
	}
}
