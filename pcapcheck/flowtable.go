package pcapcheck

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"unsafe"
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
// slots (the top 32 bits of the key's hash, the flow's number) over flows
// kept in chunks of fixed size, never moved. A lookup that misses reads
// one slot; one that hits, the slot and the flow. A slot's place is the
// top bits of the hash, which the slot holds, so growing the index moves
// slots without reading the flows. Kept at most half full, the index of
// a million flows is 16 MB.
//
// clients has a bit set for each flow's client address (by hash): a
// packet whose destination is no flow's client, as every request is, is
// no reply, found without a look at the index.
type flowTable struct {
	slots   []uint64
	shift   uint // 64 - log2(len(slots))
	seed    uint64
	clients *[clientBits / 64]uint64
	chunks  [][]flow
	n       int
	// addrs are the RIPs and VIPs of the flows, each once; addrIdx finds
	// them, last[i] is the address interned last through cache i.
	addrs   [][16]byte
	addrIdx map[[16]byte]uint32
	last    [2]uint32
}

const flowChunk = 4096

// clientBits is the size of the client address filter: 16 KB.
const clientBits = 1 << 17

func newFlowTable() flowTable {
	return flowTable{slots: make([]uint64, 2*initialFlows), shift: uint(64 - bits.Len(2*initialFlows-1)),
		seed: rand.Uint64() | 1, clients: new([clientBits / 64]uint64),
		addrIdx: map[[16]byte]uint32{}, addrs: [][16]byte{{}}}
}

// clientBit is the bit of the client address filter for client.
func (t *flowTable) clientBit(client *[16]byte) uint64 {
	a := binary.LittleEndian.Uint64(client[:8])
	b := binary.LittleEndian.Uint64(client[8:])
	return ((a^t.seed)*0x9e3779b97f4a7c15 ^ b) * 0xbf58476d1ce4e5b9 >> (64 - 17)
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

// find returns the flow for k, or nil and the slot where k would go; h
// is k's hash.
func (t *flowTable) find(k *flowKey) (f *flow, slot, h uint64) {
	h = t.hash(k)
	f, slot = t.findHash(k, h)
	return f, slot, h
}

// findHash is find for a key whose hash h is known.
func (t *flowTable) findHash(k *flowKey, h uint64) (*flow, uint64) {
	tag := h >> 32
	mask := uint64(len(t.slots) - 1)
	for i := h >> t.shift; ; i = (i + 1) & mask {
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
	if !t.mayHaveClient(&k.client) {
		return nil
	}
	f, _, _ := t.find(&k)
	return f
}

// add adds a flow for k, which get did not find.
func (t *flowTable) add(k flowKey, f flow) {
	_, slot, h := t.find(&k)
	t.insert(slot, h, &k, f)
}

// insert adds a flow for k at slot, which find returned for it with its
// hash h.
func (t *flowTable) insert(slot, h uint64, k *flowKey, f flow) {
	if 2*(t.n+1) > len(t.slots) {
		t.grow()
		_, slot, _ = t.find(k)
	}
	if t.n%flowChunk == 0 {
		t.chunks = append(t.chunks, make([]flow, 0, flowChunk))
	}
	f.client, f.cport, f.sport, f.fam, f.proto = k.client, k.cport, k.sport, k.fam, k.proto
	c := &t.chunks[len(t.chunks)-1]
	*c = append(*c, f)
	t.slots[slot] = h>>32<<32 | uint64(t.n+1)
	cb := t.clientBit(&k.client)
	t.clients[cb/64] |= 1 << (cb % 64)
	t.n++
}

func (t *flowTable) grow() {
	old := t.slots
	t.slots = make([]uint64, 2*len(old))
	t.shift--
	mask := uint64(len(t.slots) - 1)
	for _, s := range old {
		if s == 0 {
			continue
		}
		i := s >> 32 >> (t.shift - 32)
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

// mayHaveClient tells whether some flow may have client as its client
// (false: none has).
func (t *flowTable) mayHaveClient(client *[16]byte) bool {
	c := t.clientBit(client)
	return t.clients[c/64]&(1<<(c%64)) != 0
}

// prefetchSlot starts loading the slot where the lookup of a key with
// hash h starts.
func (t *flowTable) prefetchSlot(h uint64) {
	prefetch(uintptr(unsafe.Pointer(&t.slots[h>>t.shift])))
}

// prefetchFlow starts loading the flow named by that slot if its tag is
// h's (the slot itself should be in the cache by then).
func (t *flowTable) prefetchFlow(h uint64) {
	if s := t.slots[h>>t.shift]; s != 0 && s>>32 == h>>32 {
		prefetch(uintptr(unsafe.Pointer(t.at(uint32(s) - 1))))
	}
}
