package ipvs

import (
	"hash/fnv"
	"net/netip"
	"testing"
)

// Digests of tables and picks from the kernel's own ip_vs_mh.c (its
// permutate, populate, gcd/shift and get/get_fallback, compiled on the
// host with stand-ins for lists, bitmaps and RCU; not committed, being the
// kernel's code). Each case lists its reals in the kernel's list order, all
// on port 80; table is FNV-1a (32) over the slots' destination (index + 1),
// picks over the pick (index, 255 for none) of client ports 40000-42999.
var mhKernelCases = []struct {
	name         string
	v6           bool
	flags        ServiceFlags
	addrs        []string
	weight, last []int32
	client       string
	table, picks uint32
}{
	{"order1", false, flagSchedMHPort, []string{"192.0.2.12", "192.0.2.14", "192.0.2.11", "192.0.2.13"}, []int32{1, 1, 1, 1}, nil, "10.8.0.2", 0x71043910, 0x0f92fa27},
	{"order2", false, flagSchedMHPort, []string{"192.0.2.13", "192.0.2.11", "192.0.2.14", "192.0.2.12"}, []int32{1, 1, 1, 1}, nil, "10.8.0.2", 0xdf54ee7e, 0xd8119b55},
	{"weights", false, flagSchedMHPort, []string{"192.0.2.11", "192.0.2.12", "192.0.2.13", "192.0.2.14"}, []int32{1, 2, 3, 4}, nil, "10.8.0.2", 0x66ec6ec0, 0x587db34f},
	// 70000/1000 needs 7 bits: shifted right by one for a table of 4093.
	{"big", false, 0, []string{"192.0.2.11", "192.0.2.12", "192.0.2.13"}, []int32{1000, 3000, 70000}, nil, "10.8.0.2", 0xca9bc529, 0xb8acb5c5},
	{"drained", false, flagSchedMHPort, []string{"192.0.2.13", "192.0.2.12", "192.0.2.11"}, []int32{1, 0, 1}, []int32{1, 1, 1}, "10.8.0.2", 0x2004dc82, 0x32cf443a},
	{"drained-fb", false, flagSchedMHPort | flagSchedMHFallback, []string{"192.0.2.13", "192.0.2.12", "192.0.2.11"}, []int32{1, 0, 1}, []int32{1, 1, 1}, "10.8.0.2", 0x2004dc82, 0x0e9c2755},
	{"zero-added", false, flagSchedMHPort | flagSchedMHFallback, []string{"192.0.2.13", "192.0.2.12", "192.0.2.11"}, []int32{1, 0, 1}, nil, "10.8.0.2", 0x9dc3ac80, 0x49e6802d},
	{"ipv6", true, flagSchedMHPort, []string{"2001:db8::11", "2001:db8::12", "2001:db8:1::13"}, []int32{1, 1, 2}, nil, "2001:db8:8::2", 0x7789e785, 0x9d9b5191},
}

func TestMHKernelDigests(t *testing.T) {
	for _, c := range mhKernelCases {
		svc := Service{Protocol: ProtoTCP, Address: netip.MustParseAddr("10.0.0.100"), Port: 80, Flags: c.flags}
		if c.v6 {
			svc.Address = netip.MustParseAddr("2001:db8::100")
		}
		dests := mhDests(c.weight, c.addrs...)
		for i := range c.last {
			dests[i].LastWeight = c.last[i]
		}
		tab := mustMH(t, svc, dests)
		h := fnv.New32a()
		for _, i := range tab.lookup {
			h.Write([]byte{byte(i + 1)})
		}
		p := fnv.New32a()
		for port := uint16(40000); port < 43000; port++ {
			i, ok := tab.Pick(netip.MustParseAddr(c.client), port)
			if !ok {
				i = 255
			}
			p.Write([]byte{byte(i)})
		}
		if h.Sum32() != c.table || p.Sum32() != c.picks {
			t.Errorf("%s: table digest %#08x, picks %#08x; the kernel's %#08x and %#08x", c.name, h.Sum32(), p.Sum32(), c.table, c.picks)
		}
	}
}
