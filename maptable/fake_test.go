package maptable

import (
	"encoding/binary"
	"fmt"
	"github.com/l3dsr/l3dsr/internal/nl"
	"net/netip"
	"sort"
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nltest"
	"golang.org/x/sys/unix"
)

// fakeKernel emulates the l3dsr family behind a netlink socket (nltest), with
// the kernel's framing: acks for NLM_F_ACK, NLMSG_ERROR with extended-ack
// attributes, multi-part dumps ended by NLMSG_DONE, NLM_F_DUMP_INTR. It
// keeps a table, so operations can be checked end to end, and records every
// request for checks of what was sent.
type fakeKernel struct {
	t        *testing.T
	familyID uint16
	missing  bool // no l3dsr family: CTRL_CMD_GETFAMILY fails with ENOENT
	// v1 refuses what genl version 2 added, as a version 1 module's strict
	// policy does: DSCP 255 (ERANGE) and DSCP_SET (unknown attribute).
	v1 bool
	// v2 is a module before the direct path: no MODE_SET (EOPNOTSUPP), no
	// mode or hooks in the statistics.
	v2 bool
	// mode is the namespace's path, modeRule or modeDirect.
	mode uint8

	table  map[Key]Entry
	gen    uint32
	nextID uint32
	staged map[Key]Entry
	stID   uint32

	// interrupt flags the next this many dumps NLM_F_DUMP_INTR.
	interrupt int
	// mixGenerations makes the next this many dumps carry two generations.
	mixGenerations int
	// truncate makes the next this many dumps behave as the kernel's does
	// when the table changes mid-dump: the generation is bumped, the dump
	// ends after half the entries, and only NLMSG_DONE is flagged
	// NLM_F_DUMP_INTR.
	truncate int
	// doneErrno makes the next this many dumps end with EINTR in NLMSG_DONE.
	doneErrno int
	// fail, if set, may reject a request: errno != 0.
	fail func(r request) (errno unix.Errno, msg string, offset uint32)

	requests []request
}

type request struct {
	cmd     uint8
	version uint8
	flags   netlink.HeaderFlags
	data    []byte
	raw     netlink.Message
}

// newClient is the table over an open connection (the tests' fake
// kernels).
func newClient(conn *genetlink.Conn) (*genlTable, error) {
	return tableOf(nl.Open(conn, familyName, genlVersion, ErrNotLoaded))
}

func newFakeKernel(t *testing.T) *fakeKernel {
	return &fakeKernel{t: t, familyID: 0x1c, table: map[Key]Entry{}, gen: 1, nextID: 100}
}

// client dials the fake and resolves the family.
func (k *fakeKernel) client() *genlTable {
	k.t.Helper()
	c, err := newClient(genetlink.NewConn(nltest.Dial(k.serve)))
	if err != nil {
		k.t.Fatalf("newClient: %v", err)
	}
	k.t.Cleanup(func() { c.Close() })
	k.requests = nil // forget the family lookup
	return c
}

func (k *fakeKernel) serve(reqs []netlink.Message) ([]netlink.Message, error) {
	if len(reqs) != 1 {
		return nil, fmt.Errorf("fake kernel: got %d messages in one send, want 1", len(reqs))
	}
	req := reqs[0]
	if req.Header.Type == unix.GENL_ID_CTRL {
		return k.serveCtrl(req)
	}
	if req.Header.Type != netlink.HeaderType(k.familyID) {
		return nil, fmt.Errorf("fake kernel: message type %d, want family %d", req.Header.Type, k.familyID)
	}
	var gm genetlink.Message
	if err := gm.UnmarshalBinary(req.Data); err != nil {
		return nil, err
	}
	r := request{cmd: gm.Header.Command, version: gm.Header.Version, flags: req.Header.Flags, data: gm.Data, raw: req}
	k.requests = append(k.requests, r)
	if k.fail != nil {
		if errno, msg, off := k.fail(r); errno != 0 {
			return k.errorMsg(req, errno, msg, off), nil
		}
	}
	replies, errno, msg := k.handle(r)
	if errno != 0 {
		return k.errorMsg(req, errno, msg, 0), nil
	}
	if req.Header.Flags&netlink.Dump == netlink.Dump {
		return replies, nil
	}
	if req.Header.Flags&netlink.Acknowledge != 0 {
		replies = append(replies, k.ack(req))
	}
	return replies, nil
}

func (k *fakeKernel) serveCtrl(req netlink.Message) ([]netlink.Message, error) {
	if k.missing {
		return k.errorMsg(req, unix.ENOENT, "", 0), nil
	}
	ae := netlink.NewAttributeEncoder()
	ae.Uint16(unix.CTRL_ATTR_FAMILY_ID, k.familyID)
	ae.String(unix.CTRL_ATTR_FAMILY_NAME, familyName)
	ae.Uint32(unix.CTRL_ATTR_VERSION, genlVersion)
	b, err := ae.Encode()
	if err != nil {
		return nil, err
	}
	return []netlink.Message{k.reply(req, unix.GENL_ID_CTRL, 0, genetlink.Message{
		Header: genetlink.Header{Command: unix.CTRL_CMD_NEWFAMILY, Version: 2}, Data: b,
	})}, nil
}

func (k *fakeKernel) reply(req netlink.Message, typ uint16, flags netlink.HeaderFlags, gm genetlink.Message) netlink.Message {
	b, err := gm.MarshalBinary()
	if err != nil {
		k.t.Fatal(err)
	}
	return netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(typ), Flags: flags, Sequence: req.Header.Sequence, PID: req.Header.PID},
		Data:   b,
	}
}

func headerBytes(req netlink.Message) []byte {
	b, err := req.MarshalBinary()
	if err != nil {
		panic(err)
	}
	return b
}

// ack is the kernel's acknowledgement of a successful request: errno 0 and
// the request's header (NLM_F_CAPPED).
func (k *fakeKernel) ack(req netlink.Message) netlink.Message {
	data := make([]byte, 4, 20)
	data = append(data, headerBytes(req)[:16]...)
	return netlink.Message{
		Header: netlink.Header{Type: netlink.Error, Flags: 0x100, Sequence: req.Header.Sequence, PID: req.Header.PID},
		Data:   data,
	}
}

// errorMsg is the kernel's NLMSG_ERROR: -errno, the whole request, then the
// extended-ack attributes (NLMSGERR_ATTR_MSG, NLMSGERR_ATTR_OFFS).
func (k *fakeKernel) errorMsg(req netlink.Message, errno unix.Errno, msg string, offset uint32) []netlink.Message {
	data := binary.NativeEndian.AppendUint32(nil, uint32(-int32(errno)))
	data = append(data, headerBytes(req)...)
	flags := netlink.HeaderFlags(0)
	if msg != "" || offset != 0 {
		flags |= netlink.AcknowledgeTLVs
		ae := netlink.NewAttributeEncoder()
		if msg != "" {
			ae.String(unix.NLMSGERR_ATTR_MSG, msg)
		}
		if offset != 0 {
			ae.Uint32(unix.NLMSGERR_ATTR_OFFS, offset)
		}
		b, err := ae.Encode()
		if err != nil {
			k.t.Fatal(err)
		}
		data = append(data, b...)
	}
	return []netlink.Message{{
		Header: netlink.Header{Type: netlink.Error, Flags: flags, Sequence: req.Header.Sequence, PID: req.Header.PID},
		Data:   data,
	}}
}

// fakeEntry is an entry as the fake kernel decodes it, with what was
// missing noted.
type fakeEntry struct {
	Entry
	haveFamily, haveDSCP, haveVIP bool
}

func decodeFakeEntry(b []byte) (fakeEntry, error) {
	var fe fakeEntry
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return fe, err
	}
	for ad.Next() {
		switch ad.Type() {
		case entryAttrFamily:
			fe.Family, fe.haveFamily = dsrtypes.Family(ad.Uint8()), true
		case entryAttrDSCP:
			fe.DSCP, fe.haveDSCP = dsrtypes.DSCP(ad.Uint8()), true
			if fe.DSCP == dscpAny {
				fe.DSCP, fe.AnyDSCP = 0, true
			}
		case entryAttrDSCPSet:
			d := dsrtypes.DSCP(ad.Uint8())
			fe.SetDSCP = &d
		case entryAttrLocal:
			fe.Local, _ = netip.AddrFromSlice(ad.Bytes())
		case entryAttrVIP:
			fe.VIP, fe.haveVIP = netip.AddrFromSlice(ad.Bytes())
		default:
			return fe, fmt.Errorf("unexpected entry attribute %d", ad.Type())
		}
	}
	return fe, ad.Err()
}

// topAttrs decodes a request's top-level attributes strictly, as a genl
// family with strict validation does: nests must carry NLA_F_NESTED.
func topAttrs(b []byte) ([]netlink.Attribute, unix.Errno, string) {
	attrs, err := netlink.UnmarshalAttributes(b)
	if err != nil {
		return nil, unix.EINVAL, "malformed attributes"
	}
	for _, a := range attrs {
		typ := a.Type & 0x3fff
		if (typ == attrEntry || typ == attrStats) && a.Type&netlink.Nested == 0 {
			return nil, unix.EINVAL, "NLA_F_NESTED is missing"
		}
	}
	return attrs, 0, ""
}

func (k *fakeKernel) handle(r request) ([]netlink.Message, unix.Errno, string) {
	if r.version != genlVersion {
		return nil, unix.EINVAL, "bad version"
	}
	attrs, errno, msg := topAttrs(r.data)
	if errno != 0 {
		return nil, errno, msg
	}
	var entries []fakeEntry
	var replaceID *uint32
	var family, mode *uint8
	for _, a := range attrs {
		switch a.Type & 0x3fff {
		case attrEntry:
			fe, err := decodeFakeEntry(a.Data)
			if err != nil {
				return nil, unix.EINVAL, err.Error()
			}
			if !fe.haveFamily || !fe.haveDSCP {
				return nil, unix.EINVAL, "missing family or DSCP"
			}
			switch {
			case k.v1 && fe.SetDSCP != nil:
				return nil, unix.EINVAL, "Unknown attribute type"
			case k.v1 && fe.AnyDSCP:
				return nil, unix.ERANGE, "integer out of range"
			case fe.AnyDSCP && !fe.Local.IsValid():
				return nil, unix.EINVAL, "an any-DSCP entry needs a local address"
			case fe.DSCP > dsrtypes.MaxDSCP || fe.SetDSCP != nil && *fe.SetDSCP > dsrtypes.MaxDSCP:
				return nil, unix.EINVAL, "DSCP above 63"
			}
			entries = append(entries, fe)
		case attrReplaceID:
			v := binary.NativeEndian.Uint32(a.Data)
			replaceID = &v
		case attrFamily:
			family = &a.Data[0]
		case attrMode:
			mode = &a.Data[0]
		default:
			return nil, unix.EINVAL, fmt.Sprintf("unexpected attribute %d", a.Type)
		}
	}
	one := func() (fakeEntry, unix.Errno, string) {
		if len(entries) != 1 {
			return fakeEntry{}, unix.EINVAL, "want exactly one entry"
		}
		return entries[0], 0, ""
	}
	req := r.raw
	msgOf := func(ae *netlink.AttributeEncoder, flags netlink.HeaderFlags) netlink.Message {
		b, err := ae.Encode()
		if err != nil {
			k.t.Fatal(err)
		}
		return k.reply(req, k.familyID, flags, genetlink.Message{Header: genetlink.Header{Command: r.cmd, Version: genlVersion}, Data: b})
	}
	switch r.cmd {
	case cmdMapAdd:
		fe, errno, msg := one()
		if errno != 0 {
			return nil, errno, msg
		}
		if !fe.haveVIP {
			return nil, unix.EINVAL, "missing VIP"
		}
		if dsrtypes.FamilyOf(fe.VIP) != fe.Family {
			return nil, unix.EINVAL, "VIP family differs from the key's"
		}
		key := fe.Key()
		old, exists := k.table[key]
		if exists && r.flags&netlink.Replace == 0 {
			return nil, unix.EEXIST, "entry exists"
		}
		fe.Packets, fe.Bytes = old.Packets, old.Bytes
		k.table[key] = fe.Entry
		k.gen++
	case cmdMapDel:
		fe, errno, msg := one()
		if errno != 0 {
			return nil, errno, msg
		}
		if _, ok := k.table[fe.Key()]; !ok {
			return nil, unix.ENOENT, ""
		}
		delete(k.table, fe.Key())
		k.gen++
	case cmdMapGet:
		if r.flags&netlink.Dump == netlink.Dump {
			return k.dump(req, msgOf), 0, ""
		}
		fe, errno, msg := one()
		if errno != 0 {
			return nil, errno, msg
		}
		e, ok := k.table[fe.Key()]
		if !ok {
			return nil, unix.ENOENT, ""
		}
		ae := netlink.NewAttributeEncoder()
		ae.Uint32(attrGeneration, k.gen)
		ae.Nested(attrEntry, func(nae *netlink.AttributeEncoder) error { fakeEncodeEntry(nae, e); return nil })
		return []netlink.Message{msgOf(ae, 0)}, 0, ""
	case cmdMapFlush:
		for key := range k.table {
			if family == nil || uint8(key.Family) == *family {
				delete(k.table, key)
			}
		}
		k.gen++
	case cmdReplaceBegin:
		k.nextID++
		k.stID, k.staged = k.nextID, map[Key]Entry{}
		ae := netlink.NewAttributeEncoder()
		ae.Uint32(attrReplaceID, k.stID)
		return []netlink.Message{msgOf(ae, 0)}, 0, ""
	case cmdReplaceAdd, cmdReplaceCommit, cmdReplaceAbort:
		if replaceID == nil {
			return nil, unix.EINVAL, "missing replace id"
		}
		if k.staged == nil || *replaceID != k.stID {
			return nil, unix.ESTALE, "no such replace in progress"
		}
		switch r.cmd {
		case cmdReplaceAdd:
			for _, fe := range entries {
				if _, dup := k.staged[fe.Key()]; dup {
					return nil, unix.EEXIST, "duplicate key in the replace"
				}
				k.staged[fe.Key()] = fe.Entry
			}
		case cmdReplaceCommit:
			k.table, k.staged = k.staged, nil
			k.gen++
		case cmdReplaceAbort:
			k.staged = nil
		}
	case cmdStatsGet:
		ae := netlink.NewAttributeEncoder()
		ae.Nested(attrStats, func(nae *netlink.AttributeEncoder) error {
			nae.Uint64(statsAttrRewritten, 1000)
			nae.Uint64(statsAttrNoEntry, 20)
			nae.Uint64(statsAttrErrors, 3)
			nae.Uint32(statsAttrEntries, uint32(len(k.table)))
			return nil
		})
		ae.Uint32(attrGeneration, k.gen)
		if !k.v2 {
			ae.Uint8(attrMode, k.mode)
			ae.Uint32(attrHooks, k.hooks())
		}
		return []netlink.Message{msgOf(ae, 0)}, 0, ""
	case cmdModeSet:
		switch {
		case k.v2:
			return nil, unix.EOPNOTSUPP, ""
		case mode == nil || *mode > modeMax:
			return nil, unix.EINVAL, "unknown mode"
		}
		k.mode = *mode
	default:
		return nil, unix.EOPNOTSUPP, "unknown command"
	}
	return nil, 0, ""
}

// hooks are the families with a registered hook: in direct mode, those
// with entries.
func (k *fakeKernel) hooks() uint32 {
	var h uint32
	for key := range k.table {
		if k.mode == modeDirect && key.Family == dsrtypes.IPv6 {
			h |= hookIPv6
		} else if k.mode == modeDirect {
			h |= hookIPv4
		}
	}
	return h
}

func fakeEncodeEntry(nae *netlink.AttributeEncoder, e Entry) {
	nae.Uint8(entryAttrFamily, uint8(e.Family))
	if e.AnyDSCP {
		nae.Uint8(entryAttrDSCP, dscpAny)
	} else {
		nae.Uint8(entryAttrDSCP, uint8(e.DSCP))
	}
	if e.Local.IsValid() {
		nae.Bytes(entryAttrLocal, e.Local.AsSlice())
	}
	nae.Bytes(entryAttrVIP, e.VIP.AsSlice())
	if e.SetDSCP != nil {
		nae.Uint8(entryAttrDSCPSet, uint8(*e.SetDSCP))
	}
	nae.Uint64(entryAttrPackets, e.Packets)
	nae.Uint64(entryAttrBytes, e.Bytes)
}

// dump answers with one message per entry, in a stable order, then
// NLMSG_DONE.
func (k *fakeKernel) dump(req netlink.Message, msgOf func(*netlink.AttributeEncoder, netlink.HeaderFlags) netlink.Message) []netlink.Message {
	keys := make([]Key, 0, len(k.table))
	for key := range k.table {
		keys = append(keys, key)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	done := netlink.Message{
		Header: netlink.Header{Type: netlink.Done, Flags: netlink.Multi, Sequence: req.Header.Sequence, PID: req.Header.PID},
		Data:   make([]byte, 4),
	}
	if k.truncate > 0 {
		k.truncate--
		keys = keys[:len(keys)/2]
		done.Header.Flags |= netlink.DumpInterrupted
		defer func() { k.gen++ }()
	}
	if k.doneErrno > 0 {
		k.doneErrno--
		keys = keys[:len(keys)/3]
		errno := -int32(unix.EINTR)
		binary.NativeEndian.PutUint32(done.Data, uint32(errno))
	}
	var out []netlink.Message
	for i, key := range keys {
		gen := k.gen
		if k.mixGenerations > 0 && i == len(keys)-1 {
			gen++
		}
		ae := netlink.NewAttributeEncoder()
		ae.Uint32(attrGeneration, gen)
		e := k.table[key]
		ae.Nested(attrEntry, func(nae *netlink.AttributeEncoder) error { fakeEncodeEntry(nae, e); return nil })
		flags := netlink.Multi
		if k.interrupt > 0 && i == len(keys)-1 {
			flags |= netlink.DumpInterrupted
		}
		out = append(out, msgOf(ae, flags))
	}
	if k.interrupt > 0 {
		k.interrupt--
	}
	if k.mixGenerations > 0 {
		k.mixGenerations--
	}
	return append(out, done)
}

// must ends the test on an error.
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// contents is what the table holds and its totals.
func contents(t testing.TB, c *genlTable) ([]Entry, Stats) {
	t.Helper()
	list, err := c.List()
	must(t, err)
	st, err := c.Stats()
	must(t, err)
	return list, st
}
