package main

// entry is the ENTRY nest of a request, before encoding.
type entry struct {
	family, dscp uint8
	local, vip   []byte // nil: absent
	dscpSet      int    // <0: absent
}

func (e entry) encode() []byte {
	b := attr(entryAttrFamily, u8(e.family))
	b = append(b, attr(entryAttrDSCP, u8(e.dscp))...)
	if e.local != nil {
		b = append(b, attr(entryAttrLocal, e.local)...)
	}
	if e.vip != nil {
		b = append(b, attr(entryAttrVIP, e.vip)...)
	}
	if e.dscpSet >= 0 {
		b = append(b, attr(entryAttrDSCPSet, u8(uint8(e.dscpSet)))...)
	}
	return b
}

// The keys come from small pools, so that adds, deletes and replaces of
// different workers meet on the same entries.
var (
	dscpPool   = []uint8{0, 1, 10, 46, 63, dscpAny}
	localPool4 = [][]byte{{192, 0, 2, 2}, {192, 0, 2, 3}, {10, 99, 0, 1}}
	localPool6 = [][]byte{
		{0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2},
		{0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3},
	}
	vipPool4 = [][]byte{{10, 80, 0, 1}, {10, 80, 0, 2}, {10, 80, 0, 3}}
	vipPool6 = [][]byte{
		{0x20, 0x01, 0x0d, 0xb8, 0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
		{0x20, 0x01, 0x0d, 0xb8, 0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2},
	}
)

func pick[T any](g *Gen, s []T) T { return s[g.r.IntN(len(s))] }

// entry is a well-formed entry (the key alone without withVIP); now and
// then an any-DSCP key without the local address it needs.
func (g *Gen) entry(withVIP bool) entry {
	e := entry{family: g.family(), dscp: pick(g, dscpPool), dscpSet: -1}
	locals, vips := localPool4, vipPool4
	if e.family == 10 {
		locals, vips = localPool6, vipPool6
	}
	if g.r.IntN(2) == 0 || (e.dscp == dscpAny && g.r.IntN(10) != 0) {
		e.local = pick(g, locals)
	}
	if withVIP {
		e.vip = pick(g, vips)
		if g.r.IntN(4) == 0 {
			e.dscpSet = g.r.IntN(dscpMax + 1)
		}
	}
	return e
}
