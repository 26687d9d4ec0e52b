package main

import "fmt"

// mutated is a request the module must refuse, or survive: a valid one
// bent one to three ways.
func (g *Gen) mutated() Request {
	r := g.valid()
	for range 1 + g.r.IntN(3) {
		g.mutate(&r)
	}
	return r
}

func (g *Gen) randomBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = uint8(g.r.Uint32())
	}
	return b
}

// mutate bends r one way. A change that moves the attributes drops the
// replace id the worker would write in (it would land elsewhere).
func (g *Gen) mutate(r *Request) {
	hdrOK := len(r.Body) >= 4
	switch n := g.r.IntN(13); {
	case n == 0 && hdrOK:
		c := pick(g, []uint8{cmdUnspec, cmdMax + 1, 0x7f, 0xff, uint8(g.r.Uint32())})
		r.Body[0] = c
		r.Desc += fmt.Sprintf(" cmd=%d", c)
	case n == 1 && hdrOK:
		r.Body[1] = uint8(g.r.Uint32())
		r.Desc += " version"
	case n == 2:
		typ := pick(g, []uint16{attrUnspec, attrMax + 1, 0x3fff, uint16(g.r.IntN(0x4000))})
		r.Body = append(r.Body, attr(typ, g.randomBytes(g.r.IntN(40)))...)
		r.Desc += fmt.Sprintf(" +attr%d", typ)
	case n == 3:
		r.Body = append(r.Body, attr(attrEntry|nlaNested, g.badEntry())...)
		r.Desc += " +bad-entry"
	case n == 4:
		depth := 1 + g.r.IntN(8)
		r.Body = append(r.Body, g.deepNest(depth)...)
		r.Desc += fmt.Sprintf(" +nest%d", depth)
	case n == 5:
		r.Flags = uint16(g.r.Uint32())
		if g.r.IntN(10) != 0 {
			r.Flags |= flagRequest
		}
		r.Desc += fmt.Sprintf(" flags=%#x", r.Flags)
	case n == 6:
		r.Flags ^= pick(g, []uint16{flagDump, flagReplace, flagExcl, flagCreate, flagAck, flagEcho, flagMulti})
		r.Desc += fmt.Sprintf(" flags=%#x", r.Flags)
	case n == 7 && hdrOK:
		r.Body = append(r.Body[:4:4], g.randomBytes(g.r.IntN(128))...)
		r.ID = idNone
		r.Desc += " random-attrs"
	case n == 8:
		r.Body = r.Body[:g.r.IntN(len(r.Body)+1)]
		r.ID = idNone
		r.Desc += fmt.Sprintf(" cut=%d", len(r.Body))
	case n == 9:
		// nla_len shorter than a header, or past the end of the message.
		l := pick(g, []int{0, 1, 3, 200, 0xffff})
		r.Body = append(r.Body, rawAttr(uint16(g.r.IntN(attrMax+2)), l, g.randomBytes(g.r.IntN(8)))...)
		r.Desc += fmt.Sprintf(" nla_len=%d", l)
	case n == 10:
		typ := pick(g, []uint16{attrGeneration, attrStats, attrHooks, attrPad})
		r.Body = append(r.Body, attr(typ, u32(g.r.Uint32()))...)
		r.Desc += fmt.Sprintf(" +reply-only%d", typ)
	case n == 11:
		// Oversized: a long run of entries, or one huge attribute.
		if g.r.IntN(2) == 0 {
			for range 200 + g.r.IntN(800) {
				r.Body = append(r.Body, attr(attrEntry|nlaNested, g.entry(true).encode())...)
			}
		} else {
			r.Body = append(r.Body, attr(pick(g, []uint16{attrEntry, attrReplaceID, attrFamily, attrMode}), g.randomBytes(1000+g.r.IntN(8000)))...)
		}
		r.Desc += " oversized"
	default:
		typ := pick(g, []uint16{attrFamily, attrMode, attrReplaceID})
		r.Body = append(r.Body, attr(typ, g.randomBytes(pick(g, []int{0, 1, 2, 3, 5, 8})))...)
		r.Desc += fmt.Sprintf(" +attr%d-badlen", typ)
	}
}

// badEntry is an ENTRY nest with one field of a wrong length or value, a
// reply-only field, or an unknown type.
func (g *Gen) badEntry() []byte {
	e := g.entry(true)
	b := e.encode()
	switch g.r.IntN(7) {
	case 0:
		return append(b, attr(pick(g, []uint16{entryAttrLocal, entryAttrVIP}), g.randomBytes(pick(g, []int{0, 1, 3, 5, 15, 17, 32})))...)
	case 1:
		return append(b, attr(pick(g, []uint16{entryAttrFamily, entryAttrDSCP, entryAttrDSCPSet}), g.randomBytes(pick(g, []int{0, 2, 4})))...)
	case 2:
		return append(b, attr(pick(g, []uint16{entryAttrPackets, entryAttrBytes}), g.randomBytes(8))...)
	case 3:
		return append(b, attr(pick(g, []uint16{entryAttrUnspec, entryAttrMax + 1, 0x3fff}), g.randomBytes(g.r.IntN(20)))...)
	case 4:
		e.dscp = uint8(64 + g.r.IntN(191)) // neither a code nor ANY
		return e.encode()
	case 5:
		e.family = uint8(g.r.Uint32())
		return e.encode()
	default:
		e.vip, e.local = e.local, e.vip // a family's address of the wrong length, or none
		if e.family == 2 {
			e.vip = localPool6[0]
		}
		return e.encode()
	}
}

// deepNest is ENTRY attributes nested depth deep, with bogus types inside.
func (g *Gen) deepNest(depth int) []byte {
	inner := attr(uint16(g.r.IntN(entryAttrMax+3)), g.randomBytes(g.r.IntN(17)))
	for range depth {
		typ := uint16(g.r.IntN(entryAttrMax + 3))
		if g.r.IntN(2) == 0 {
			typ |= nlaNested
		}
		inner = attr(typ, inner)
	}
	return attr(attrEntry|nlaNested, inner)
}
