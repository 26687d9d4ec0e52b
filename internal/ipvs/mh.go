package ipvs

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"net/netip"
	"slices"

	"golang.org/x/sys/unix"
)

// MHTableSize is the size of ip_vs_mh's lookup table in Debian's kernels
// (CONFIG_IP_VS_MH_TAB_INDEX=12). It is a kernel build option, so NewMHTable
// takes the size.
const MHTableSize = 4093

// mhPrimes are the table sizes a kernel can be built with, by
// CONFIG_IP_VS_MH_TAB_INDEX - 8. Each is prime, which is what makes every
// skip walk the whole table.
var mhPrimes = []int{251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071}

// ip_vs_mh's hash keys are constants, not per-boot secrets: this is what
// lets two directors, and this model, agree on every flow.
const (
	mhKey1 = 2654435761
	mhKey2 = 2654446892
)

// MHDest is a destination as ip_vs_mh sees it.
type MHDest struct {
	Addr netip.Addr
	Port uint16
	// Weight is the destination's weight now; 0 (or less) makes it
	// unavailable: it keeps its slots, and a flow hashed to them finds
	// no destination unless the service has the mh-fallback flag.
	Weight int32
	// LastWeight is the last non-zero weight the kernel saw for the
	// destination, which is what its share of the table follows: a
	// destination set to weight 0 keeps its slots. Zero means Weight
	// (a destination added with weight 0 has no slots).
	LastWeight int32
	// Overloaded is the kernel's IP_VS_DEST_F_OVERLOAD (its active
	// connections reached the upper threshold): unavailable as with weight
	// 0. Netlink does not report it, so a caller that reads destinations
	// from the kernel cannot set it.
	Overloaded bool
}

func (d MHDest) tableWeight() int32 {
	if d.LastWeight > 0 {
		return d.LastWeight
	}
	return max(d.Weight, 0)
}

func (d MHDest) unavailable() bool { return d.Weight <= 0 || d.Overloaded }

// MHTable is ip_vs_mh's lookup table for one service, built as the kernel
// builds it, so that Pick names the destination the kernel schedules a new
// flow to. Not modelled: the sloppy/persistence paths (a persistent service
// does not schedule each flow), and the overload flag's changes over time.
type MHTable struct {
	dests    []MHDest
	v6       bool
	port     bool
	fallback bool
	// lookup is each slot's index into dests, -1 for none.
	lookup []int
}

// NewMHTable builds svc's table from its destinations in the order of the
// kernel's list (the order Client.Destinations reports, newest first: not
// sorted), with svc's family and mh flags, for a kernel with a table of
// size slots (MHTableSize on Debian).
func NewMHTable(svc Service, dests []MHDest, size int) (*MHTable, error) {
	idx := slices.Index(mhPrimes, size)
	if idx < 0 {
		return nil, fmt.Errorf("mh table size %d: not one a kernel can have (one of %v; Debian's is %d)", size, mhPrimes, MHTableSize)
	}
	if len(dests) > size {
		return nil, fmt.Errorf("mh table of %d slots cannot hold %d destinations (the kernel refuses them too)", size, len(dests))
	}
	t := &MHTable{
		dests:    slices.Clone(dests),
		v6:       svc.family() == unix.AF_INET6,
		port:     svc.Flags&flagSchedMHPort != 0,
		fallback: svc.Flags&flagSchedMHFallback != 0,
		lookup:   make([]int, size),
	}
	for i := range t.lookup {
		t.lookup[i] = -1
	}
	t.populate((idx + 8) / 2)
	return t, nil
}

// turns is how many slots each destination claims per pass of the fill:
// its weight over the weights' gcd, shifted right so that the largest fits
// in tabBits bits; a non-zero weight gets at least one.
func (t *MHTable) turns(tabBits int) []int {
	g, most := int32(0), int32(0)
	for _, d := range t.dests {
		w := d.tableWeight()
		if w > 0 {
			g = gcd(g, w)
			most = max(most, w)
		}
	}
	turns := make([]int, len(t.dests))
	if g < 1 {
		return turns
	}
	shift := max(bits.Len32(uint32(most/g))-tabBits, 0)
	for i, d := range t.dests {
		w := d.tableWeight()
		turns[i] = int((w / g) >> shift)
		if turns[i] == 0 && w != 0 {
			turns[i] = 1
		}
	}
	return turns
}

func gcd(a, b int32) int32 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// populate is Maglev's fill: the destinations take turns, in list order,
// each claiming the next free slot of its own permutation of the table
// (an offset and a skip hashed from its address and port) as many times as
// its turns say, until every slot is taken.
func (t *MHTable) populate(tabBits int) {
	size := len(t.lookup)
	turns := t.turns(tabBits)
	if !slices.ContainsFunc(turns, func(n int) bool { return n > 0 }) {
		return
	}
	perm := make([]int, len(t.dests))
	skip := make([]int, len(t.dests))
	for i, d := range t.dests {
		perm[i] = int(t.hash(d.Addr, d.Port, mhKey1, 0) % uint32(size))
		skip[i] = int(t.hash(d.Addr, d.Port, mhKey2, 0)%uint32(size-1)) + 1
	}
	taken := make([]bool, size)
	n, claimed := 0, 0
	for i := 0; ; {
		if i == len(t.dests) {
			i = 0
		}
		if turns[i] < 1 {
			i++
			continue
		}
		for taken[perm[i]] {
			perm[i] = (perm[i] + skip[i]) % size
		}
		taken[perm[i]] = true
		t.lookup[perm[i]] = i
		if n++; n == size {
			return
		}
		if claimed++; claimed >= turns[i] {
			claimed = 0
			i++
		}
	}
}

// hash is ip_vs_mh's hash of an address and port: the address folded to 32
// bits (an IPv6 one by XOR of its words), plus the port and offset, hashed
// as the 4 bytes of a little-endian u32 (the kernel hashes the u32 in
// memory, and it runs little-endian here).
func (t *MHTable) hash(a netip.Addr, port uint16, key uint64, offset uint32) uint32 {
	b := a.As16()
	var fold uint32
	switch {
	case t.v6:
		for w := 0; w < 16; w += 4 {
			fold ^= binary.BigEndian.Uint32(b[w:])
		}
	case a.Is4() || a.Is4In6():
		fold = binary.BigEndian.Uint32(b[12:])
	default:
		// An IPv6 address in an IPv4 service: the kernel reads its first word.
		fold = binary.BigEndian.Uint32(b[:4])
	}
	v := binary.LittleEndian.AppendUint32(nil, offset+uint32(port)+fold)
	return hsiphash(v, key, key)
}

// Pick is the index in the table's destinations of the one the kernel
// schedules a new flow from client (and clientPort, which counts only with
// the mh-port flag) to; ok is false when the kernel finds none (the slot's
// destination unavailable without mh-fallback, or every one walked
// unavailable, or no destination with a weight).
func (t *MHTable) Pick(client netip.Addr, clientPort uint16) (index int, ok bool) {
	if !t.port {
		clientPort = 0
	}
	size := uint32(len(t.lookup))
	first := t.hash(client, clientPort, mhKey1, 0) % size
	i := t.lookup[first]
	if i < 0 {
		return -1, false
	}
	if !t.dests[i].unavailable() {
		return i, true
	}
	if !t.fallback {
		return -1, false
	}
	for off := uint32(0); off < size; off++ {
		i = t.lookup[t.hash(client, clientPort, mhKey1, (off+first)%size)%size]
		if i < 0 {
			break
		}
		if !t.dests[i].unavailable() {
			return i, true
		}
	}
	return -1, false
}
