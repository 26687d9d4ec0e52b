package ipvs

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"testing"
)

// The first 16 of the kernel's own hsiphash self-test vectors for 64-bit
// kernels (lib/siphash_kunit.c): input bytes 0, 1, ..., len-1, key bytes
// 0..15.
var hsiphashKunit = []uint32{
	0x050fc4dc, 0x7d57ca93, 0x4dc7d44d, 0xe7ddf7fb, 0x88d38328, 0x49533b67, 0xc59f22a7, 0x9bb11140,
	0x8d299a8e, 0x6c063de4, 0x92ff097f, 0xf94dc352, 0x57b4d9a2, 0x1229ffa7, 0xc0f95d34, 0x2a519956,
}

func TestHsiphashKernelVectors(t *testing.T) {
	in := make([]byte, 16)
	for i := range in {
		in[i] = byte(i)
	}
	for n, want := range hsiphashKunit {
		if got := hsiphash(in[:n], 0x0706050403020100, 0x0f0e0d0c0b0a0908); got != want {
			t.Errorf("hsiphash of %d bytes = %#08x, want %#08x", n, got, want)
		}
	}
}

// Vectors with ip_vs_mh's two keys on u32 inputs, from a C build of the
// kernel's 64-bit hsiphash (which reproduces the vectors above) run on
// this host (little-endian): the u32 is hashed as it lies in memory.
func TestHsiphashMHKeys(t *testing.T) {
	for _, c := range []struct {
		v      uint32
		k1, k2 uint32
	}{
		{0x00000000, 0x1d5a77c2, 0xf882433f},
		{0x00000001, 0x16ec66b2, 0x8210aad1},
		{0x00000050, 0x060b3a06, 0x2956c0e5},
		{0xc0a8000b, 0x58e3c1d9, 0x23afeb44},
		{0xc000025b, 0x0ef5809c, 0x0c67fc78},
		{0x0a089c42, 0x66fe5bbf, 0xc5118f6b},
		{0xffffffff, 0x22c5d719, 0xf75a0f5d},
		{0x20010db9, 0xcdc3f189, 0xea3450a8},
	} {
		b := binary.LittleEndian.AppendUint32(nil, c.v)
		if got := hsiphash(b, mhKey1, mhKey1); got != c.k1 {
			t.Errorf("hsiphash(%#08x, key1) = %#08x, want %#08x", c.v, got, c.k1)
		}
		if got := hsiphash(b, mhKey2, mhKey2); got != c.k2 {
			t.Errorf("hsiphash(%#08x, key2) = %#08x, want %#08x", c.v, got, c.k2)
		}
	}
}

var mhSvc = Service{Protocol: ProtoTCP, Address: netip.MustParseAddr("10.0.0.100"), Port: 80, Scheduler: "mh"}

func mhDests(weights []int32, addrs ...string) []MHDest {
	out := make([]MHDest, len(addrs))
	for i, a := range addrs {
		out[i] = MHDest{Addr: netip.MustParseAddr(a), Port: 80, Weight: weights[i]}
	}
	return out
}

func mustMH(t *testing.T, svc Service, dests []MHDest) *MHTable {
	t.Helper()
	tab, err := NewMHTable(svc, dests, MHTableSize)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

func slotCounts(tab *MHTable) []int {
	n := make([]int, len(tab.dests))
	for _, i := range tab.lookup {
		if i < 0 {
			return nil
		}
		n[i]++
	}
	return n
}

// Weights 1, 2, 3, 4 take 10, 20, 30 and 40% of the slots: the fill gives
// each destination its weight's turns per pass.
func TestMHSharesFollowWeights(t *testing.T) {
	tab := mustMH(t, mhSvc, mhDests([]int32{1, 2, 3, 4}, "192.0.2.11", "192.0.2.12", "192.0.2.13", "192.0.2.14"))
	n := slotCounts(tab)
	if n == nil {
		t.Fatal("the table has an empty slot")
	}
	for i, c := range n {
		want := MHTableSize * (i + 1) / 10
		if c < want-3 || c > want+3 {
			t.Errorf("destination %d (weight %d) has %d slots, want %d±3 (all: %v)", i, i+1, c, want, n)
		}
	}
	// Large weights are shifted down to the table's bits, keeping the shares.
	big := mustMH(t, mhSvc, mhDests([]int32{1000, 3000}, "192.0.2.11", "192.0.2.12"))
	if n := slotCounts(big); n[0] < 1020 || n[0] > 1026 {
		t.Errorf("weights 1000 and 3000 give %v slots, want about 1023 and 3070", n)
	}
}

// Four equal reals listed in two orders fill the table alike but for a few
// slots: the ones mh_order's reals contend for late in the fill.
func TestMHOrderSensitivity(t *testing.T) {
	// The kernel's list of mh_order's two directors: newest first.
	a := mustMH(t, mhSvc, mhDests([]int32{1, 1, 1, 1}, "192.0.2.12", "192.0.2.14", "192.0.2.11", "192.0.2.13"))
	b := mustMH(t, mhSvc, mhDests([]int32{1, 1, 1, 1}, "192.0.2.13", "192.0.2.11", "192.0.2.14", "192.0.2.12"))
	differ := 0
	for s := range a.lookup {
		if a.dests[a.lookup[s]].Addr != b.dests[b.lookup[s]].Addr {
			differ++
		}
	}
	if differ == 0 || differ > MHTableSize/100 {
		t.Errorf("%d of %d slots differ between the two orders, want 1 to 1%%", differ, MHTableSize)
	}
	t.Logf("%d slots differ", differ)

	// With mh-port, 3,000 client ports from 40000 map apart on one port:
	// what the mh_order scenario saw on the kernel (one port of 3,000).
	a.port, b.port = true, true
	client := netip.MustParseAddr("10.8.0.2")
	var apart []string
	for p := uint16(40000); p < 43000; p++ {
		i, _ := a.Pick(client, p)
		j, _ := b.Pick(client, p)
		if a.dests[i].Addr != b.dests[j].Addr {
			apart = append(apart, fmt.Sprintf("%d %v %v", p, a.dests[i].Addr, b.dests[j].Addr))
		}
	}
	if want := []string{"42140 192.0.2.11 192.0.2.12"}; !slices.Equal(apart, want) {
		t.Errorf("ports apart (port, director 1's real, director 2's) = %q, want %q", apart, want)
	}
}

func TestMHPickPort(t *testing.T) {
	dests := mhDests([]int32{1, 1, 1, 1}, "192.0.2.14", "192.0.2.13", "192.0.2.12", "192.0.2.11")
	client := netip.MustParseAddr("10.8.0.2")
	noPort := mustMH(t, mhSvc, dests)
	first, ok := noPort.Pick(client, 40000)
	if !ok {
		t.Fatal("no destination without mh-port")
	}
	for p := uint16(40001); p < 40100; p++ {
		if i, _ := noPort.Pick(client, p); i != first {
			t.Fatalf("without mh-port, port %d picks %d and port 40000 %d: the port counted", p, i, first)
		}
	}
	withPort := mhSvc
	withPort.Flags = flagSchedMHPort
	tab := mustMH(t, withPort, dests)
	seen := map[int]int{}
	for p := uint16(40000); p < 41000; p++ {
		i, ok := tab.Pick(client, p)
		if !ok {
			t.Fatalf("with mh-port, port %d has no destination", p)
		}
		seen[i]++
	}
	if len(seen) != 4 {
		t.Errorf("with mh-port, 1000 ports spread over %v, want all 4 destinations", seen)
	}
}

// A destination set to weight 0 keeps its slots (its last weight): its
// flows find nothing, or with mh-fallback a destination that is available.
func TestMHPickUnavailable(t *testing.T) {
	dests := mhDests([]int32{1, 0, 1}, "192.0.2.13", "192.0.2.12", "192.0.2.11")
	dests[1].LastWeight = 1
	client := netip.MustParseAddr("10.8.0.2")
	svc := mhSvc
	svc.Flags = flagSchedMHPort
	tab := mustMH(t, svc, dests)
	if n := slotCounts(tab); n[1] < 1300 {
		t.Fatalf("the drained destination has %d slots, want about a third (%v)", n[1], n)
	}
	svc.Flags |= flagSchedMHFallback
	fb := mustMH(t, svc, dests)
	none := 0
	for p := uint16(40000); p < 41000; p++ {
		i, ok := tab.Pick(client, p)
		j, fok := fb.Pick(client, p)
		switch {
		case !fok || j == 1:
			t.Fatalf("with fallback, port %d picks %d (ok %v): want 0 or 2", p, j, fok)
		case !ok:
			none++
		case ok && i != j:
			t.Fatalf("port %d: an available pick %d changed to %d with fallback", p, i, j)
		}
	}
	if none < 250 || none > 420 {
		t.Errorf("without fallback %d of 1000 ports found no destination, want about a third", none)
	}
	// A destination added with weight 0 has no slots at all.
	dests[1].LastWeight = 0
	if n := slotCounts(mustMH(t, svc, dests)); n[1] != 0 {
		t.Errorf("a destination added with weight 0 has %d slots, want 0", n[1])
	}
}

func TestMHTableSize(t *testing.T) {
	if _, err := NewMHTable(mhSvc, nil, 4096); err == nil {
		t.Error("a table of 4096 slots was accepted; kernels have prime sizes")
	}
	tab, err := NewMHTable(mhSvc, nil, 251)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tab.Pick(netip.MustParseAddr("10.8.0.2"), 1); ok {
		t.Error("a service without destinations picked one")
	}
}

func TestMHIPv6Fold(t *testing.T) {
	svc := Service{Protocol: ProtoTCP, Address: netip.MustParseAddr("2001:db8::100"), Port: 80}
	tab := mustMH(t, svc, nil)
	// Words 2001:0db8, 0, 0, 1 fold to 0x20010db9 (a vector above).
	if got := tab.hash(netip.MustParseAddr("2001:db8::1"), 0, mhKey1, 0); got != 0xcdc3f189 {
		t.Errorf("hash of 2001:db8::1 = %#08x, want %#08x", got, 0xcdc3f189)
	}
}
