package main

import (
	"fmt"
	"math/rand/v2"
)

// Netlink header flags the generator picks from (linux/netlink.h).
const (
	flagRequest = 0x1
	flagMulti   = 0x2
	flagAck     = 0x4
	flagEcho    = 0x8
	flagRoot    = 0x100 // also NLM_F_REPLACE on new requests
	flagMatch   = 0x200 // also NLM_F_EXCL
	flagAtomic  = 0x400 // also NLM_F_CREATE
	flagDump    = flagRoot | flagMatch
	flagReplace = 0x100
	flagExcl    = 0x200
	flagCreate  = 0x400
)

// idKind says which replace id a request carries at IDOffset: the id the
// worker's last BEGIN got, or the bytes the generator wrote.
type idKind uint8

const (
	idNone idKind = iota
	idCurrent
	idFixed
)

// Request is one generic netlink message, everything after the netlink
// header: the generic netlink header (or less of it) and the attributes.
type Request struct {
	Flags uint16
	Body  []byte
	// IDOffset is where in Body the worker writes its current replace id
	// (ID idCurrent).
	IDOffset int
	ID       idKind
	// Desc says what the generator meant, for -v and findings.
	Desc string
}

// End is how a sequence ends.
type End uint8

const (
	endNone End = iota
	// endClose closes the socket and opens a new one: a staged replace
	// left behind by a client that went away.
	endClose
)

// Op is one iteration: a request, or a sequence sent in order on one socket.
type Op struct {
	Reqs []Request
	End  End
}

// Key is the entry the fuzzer keeps present for the scenario's traffic.
type Key struct {
	DSCP uint8
	VIP  [4]byte
}

// Gen makes the fuzzer's messages. Everything it makes comes from its
// random source alone, never from the kernel's answers, so that a seed
// replays: the replace id a request needs is written in by the worker
// (Request.IDOffset).
type Gen struct {
	r    *rand.Rand
	keep *Key
}

// NewGen is the generator of seed; keep, if set, is an entry it re-adds now
// and then.
func NewGen(seed uint64, keep *Key) *Gen {
	return &Gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), keep: keep}
}

// Next is the next iteration.
func (g *Gen) Next() Op {
	switch n := g.r.IntN(100); {
	case n < 10 && g.keep != nil:
		return Op{Reqs: []Request{g.keepAdd()}}
	case n < 25:
		return g.replaceSeq()
	case n < 60:
		return Op{Reqs: []Request{g.valid()}}
	default:
		return Op{Reqs: []Request{g.mutated()}}
	}
}

func (g *Gen) keepAdd() Request {
	e := entry{family: 2, dscp: g.keep.DSCP, vip: g.keep.VIP[:]}
	return g.request(cmdMapAdd, flagRequest|flagAck|flagCreate|flagReplace, attr(attrEntry|nlaNested, e.encode()), "MAP_ADD keep")
}

// replaceSeq is BEGIN, some REPLACE_ADDs, and COMMIT, ABORT, nothing, or a
// closed socket.
func (g *Gen) replaceSeq() Op {
	op := Op{Reqs: []Request{g.request(cmdReplaceBegin, flagRequest, nil, "REPLACE_BEGIN")}}
	for range g.r.IntN(5) {
		if g.r.IntN(8) == 0 {
			op.Reqs = append(op.Reqs, g.mutated())
			continue
		}
		op.Reqs = append(op.Reqs, g.replaceAdd())
	}
	switch n := g.r.IntN(10); {
	case n < 5:
		op.Reqs = append(op.Reqs, g.withID(cmdReplaceCommit, flagRequest|flagAck, "REPLACE_COMMIT"))
	case n < 7:
		op.Reqs = append(op.Reqs, g.withID(cmdReplaceAbort, flagRequest|flagAck, "REPLACE_ABORT"))
	case n < 9:
		op.End = endClose
	}
	return op
}

func (g *Gen) replaceAdd() Request {
	r := g.withID(cmdReplaceAdd, flagRequest|flagAck, "REPLACE_ADD")
	n := 1 + g.r.IntN(16)
	if g.keep != nil && g.r.IntN(2) == 0 {
		e := entry{family: 2, dscp: g.keep.DSCP, vip: g.keep.VIP[:]}
		r.Body = append(r.Body, attr(attrEntry|nlaNested, e.encode())...)
		n--
	}
	for range n {
		r.Body = append(r.Body, attr(attrEntry|nlaNested, g.entry(true).encode())...)
	}
	r.Desc = fmt.Sprintf("REPLACE_ADD %d entries", n)
	return r
}

// withID is a request of cmd with a replace id: mostly the current one,
// sometimes one made up.
func (g *Gen) withID(cmd uint8, flags uint16, desc string) Request {
	r := g.request(cmd, flags, nil, desc)
	r.IDOffset = len(r.Body) + 4
	r.ID = idCurrent
	id := uint32(0)
	if g.r.IntN(10) == 0 {
		r.ID = idFixed
		id = g.r.Uint32() % 4
		r.Desc += fmt.Sprintf(" id=%d", id)
	}
	r.Body = append(r.Body, attr(attrReplaceID, u32(id))...)
	return r
}

func (g *Gen) request(cmd uint8, flags uint16, attrs []byte, desc string) Request {
	return Request{Flags: flags, Body: append(genlHeader(cmd, genlVersion), attrs...), Desc: desc}
}

// valid is a well-formed request of one of the family's commands.
func (g *Gen) valid() Request {
	switch g.r.IntN(10) {
	case 0, 1:
		flags := uint16(flagRequest | flagAck | flagCreate | flagExcl)
		desc := "MAP_ADD"
		if g.r.IntN(2) == 0 {
			flags, desc = flagRequest|flagAck|flagCreate|flagReplace, "MAP_ADD replace"
		}
		return g.request(cmdMapAdd, flags, attr(attrEntry|nlaNested, g.entry(true).encode()), desc)
	case 2:
		return g.request(cmdMapDel, flagRequest|flagAck, attr(attrEntry|nlaNested, g.entry(false).encode()), "MAP_DEL")
	case 3:
		return g.request(cmdMapGet, flagRequest, attr(attrEntry|nlaNested, g.entry(false).encode()), "MAP_GET")
	case 4:
		return g.request(cmdMapGet, flagRequest|flagDump, nil, "MAP_GET dump")
	case 5:
		if g.r.IntN(4) != 0 {
			return g.request(cmdStatsGet, flagRequest, nil, "STATS_GET")
		}
		var a []byte
		if g.r.IntN(2) == 0 {
			a = attr(attrFamily, u8(g.family()))
		}
		return g.request(cmdMapFlush, flagRequest|flagAck, a, "MAP_FLUSH")
	case 6:
		return g.request(cmdReplaceBegin, flagRequest, nil, "REPLACE_BEGIN")
	case 7:
		return g.replaceAdd()
	case 8:
		if g.r.IntN(2) == 0 {
			return g.withID(cmdReplaceCommit, flagRequest|flagAck, "REPLACE_COMMIT")
		}
		return g.withID(cmdReplaceAbort, flagRequest|flagAck, "REPLACE_ABORT")
	default:
		m := uint8(g.r.IntN(modeMax + 1))
		return g.request(cmdModeSet, flagRequest|flagAck, attr(attrMode, u8(m)), fmt.Sprintf("MODE_SET %d", m))
	}
}

func (g *Gen) family() uint8 {
	if g.r.IntN(3) == 0 {
		return 10
	}
	return 2
}
