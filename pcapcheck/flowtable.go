package pcapcheck

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
)

// flowKey names a flow by the client's end and the service port, which
// is what a request and its reply share whatever address the server
// answers from.
type flowKey struct {
	fam    uint8
	proto  uint8
	client [16]byte
	cport  uint16
	sport  uint16
}

// flow is one tracked flow: its key and what its replies are judged
// against, in 32 bytes (two to a cache line) and no pointer, so the
// collector does not scan the table. The RIP and the VIP are indexes
// into the table's addresses: a flow's 16-byte addresses are few and
// shared by many flows.
type flow struct {
	client       [16]byte
	cport, sport uint16
	fam, proto   uint8
	code         uint8
	flags        uint8 // flowHasVIP, flowAnswered
	rip, vip     uint32
}

const (
	flowHasVIP   = 1 << iota // vip is set (false: unmapped)
	flowAnswered             // a reply from the VIP was seen
)

func (f *flow) is(k *flowKey) bool {
	return f.client == k.client && f.cport == k.cport && f.sport == k.sport && f.fam == k.fam && f.proto == k.proto
}

// flowTable maps flow keys to flows: an open-addressing index of 8-byte
// slots (32 bits of the key's hash, the flow's number) over flows kept in
// chunks of fixed size, never moved. A lookup that misses reads one slot;
// one that hits, the slot and the flow. Kept at most half full, the index
// of a million flows is 16 MB; growing it rehashes the slots, never copies
// the flows.
type flowTable struct {
	slots  []uint64
	seed   uint64
	chunks [][]flow
	n      int
	// addrs are the RIPs and VIPs of the flows, each once; addrIdx finds
	// them, last[i] is the address interned last through cache i.
	addrs   [][16]byte
	addrIdx map[[16]byte]uint32
	last    [2]uint32
}

const flowChunk = 4096

func newFlowTable() flowTable {
	return flowTable{slots: make([]uint64, 2*initialFlows), seed: rand.Uint64() | 1,
		addrIdx: map[[16]byte]uint32{}, addrs: [][16]byte{{}}}
}

func (t *flowTable) hash(k *flowKey) uint64 {
	a := binary.LittleEndian.Uint64(k.client[:8])
	b := binary.LittleEndian.Uint64(k.client[8:])
	c := uint64(k.cport)<<32 | uint64(k.sport)<<16 | uint64(k.fam)<<8 | uint64(k.proto)
	hi, lo := bits.Mul64(a^t.seed, b^c^0x9e3779b97f4a7c15)
	hi, lo = bits.Mul64(hi^lo^c, 0xbf58476d1ce4e5b9^t.seed)
	return hi ^ lo
}

func (t *flowTable) at(i uint32) *flow {
	return &t.chunks[i/flowChunk][i%flowChunk]
}

// find returns the flow for k, or nil and the slot where k would go.
func (t *flowTable) find(k *flowKey) (*flow, uint64) {
	h := t.hash(k)
	tag := h >> 32
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := t.slots[i]
		if s == 0 {
			return nil, i
		}
		if s>>32 == tag {
			if f := t.at(uint32(s) - 1); f.is(k) {
				return f, i
			}
		}
	}
}

func (t *flowTable) get(k flowKey) *flow {
	f, _ := t.find(&k)
	return f
}

// add adds a flow for k, which get did not find.
func (t *flowTable) add(k flowKey, f flow) {
	_, slot := t.find(&k)
	t.insert(slot, &k, f)
}

// insert adds a flow for k at slot, which find returned for it.
func (t *flowTable) insert(slot uint64, k *flowKey, f flow) {
	if 2*(t.n+1) > len(t.slots) {
		t.grow()
		_, slot = t.find(k)
	}
	if t.n%flowChunk == 0 {
		t.chunks = append(t.chunks, make([]flow, 0, flowChunk))
	}
	f.client, f.cport, f.sport, f.fam, f.proto = k.client, k.cport, k.sport, k.fam, k.proto
	c := &t.chunks[len(t.chunks)-1]
	*c = append(*c, f)
	t.slots[slot] = t.hash(k)>>32<<32 | uint64(t.n+1)
	t.n++
}

func (t *flowTable) grow() {
	old := t.slots
	t.slots = make([]uint64, 2*len(old))
	mask := uint64(len(t.slots) - 1)
	for _, s := range old {
		if s == 0 {
			continue
		}
		f := t.at(uint32(s) - 1)
		k := flowKey{fam: f.fam, proto: f.proto, client: f.client, cport: f.cport, sport: f.sport}
		i := t.hash(&k) & mask
		for t.slots[i] != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = s
	}
}

// intern returns the index of a in addrs, adding it if new; cache (0 or
// 1) remembers the last one, as a flow's RIP or VIP is mostly its
// predecessor's.
func (t *flowTable) intern(a [16]byte, cache int) uint32 {
	if i := t.last[cache]; i != 0 && t.addrs[i] == a {
		return i
	}
	i, ok := t.addrIdx[a]
	if !ok {
		i = uint32(len(t.addrs))
		t.addrs = append(t.addrs, a)
		t.addrIdx[a] = i
	}
	t.last[cache] = i
	return i
}
