//go:build linux

package maptable

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/nl"
	"github.com/l3dsr/l3dsr/internal/nstest"
	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// newNetNS creates a network namespace and returns an fd for it: the
// integration tests run against the kernel module, each in namespaces of
// its own.
func newNetNS(t *testing.T) int {
	t.Helper()
	return nstest.New(t, "l3dsr-map", "root, xt_DADDR available").FD
}

func dialNetNS(t *testing.T, fd int) *genlTable {
	t.Helper()
	c, err := dialGenl(fd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestIntegrationOperations(t *testing.T) {
	c := dialNetNS(t, newNetNS(t))
	a := netip.MustParseAddr

	v4 := Entry{DSCP: 1, VIP: a("10.0.0.1")}
	v4l := Entry{DSCP: 1, Local: a("10.1.0.10"), VIP: a("10.0.0.2")}
	v6 := Entry{DSCP: 63, Local: a("fd00::10"), VIP: a("2001:db8::1")}
	must(t, c.Add(v4, false))
	must(t, c.Add(v4l, false))
	must(t, c.Add(v6, false))

	err := c.Add(v4, false)
	var ke *nl.KernelError
	if !errors.Is(err, ErrExists) || !errors.As(err, &ke) || ke.Message == "" {
		t.Errorf("duplicate add: %v, want EEXIST with an extack message", err)
	}
	must(t, c.Add(Entry{DSCP: 1, VIP: a("10.0.0.9")}, true))
	got, err := c.Get(Key{Family: dsrtypes.IPv4, DSCP: 1})
	must(t, err)
	if got.VIP != a("10.0.0.9") || got.Family != dsrtypes.IPv4 {
		t.Errorf("after replace: %+v", got)
	}
	// Replace creates a missing entry too.
	must(t, c.Add(Entry{DSCP: 2, VIP: a("10.0.0.3")}, true))

	list, st := contents(t, c)
	if len(list) != 4 {
		t.Errorf("list: %v", list)
	}
	if st.Entries != 4 || st.Generation == 0 {
		t.Errorf("stats: %+v", st)
	}

	must(t, c.Delete(v4l.Key()))
	if err := c.Delete(v4l.Key()); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
	if _, err := c.Get(v4l.Key()); !errors.Is(err, ErrNotFound) {
		t.Errorf("get deleted: %v, want ErrNotFound", err)
	}
	must(t, c.Flush(dsrtypes.IPv4))
	list, err = c.List()
	must(t, err)
	if len(list) != 1 || list[0].Family != dsrtypes.IPv6 || list[0].Local != v6.Local {
		t.Errorf("after flushing IPv4: %v", list)
	}
	must(t, c.Flush(dsrtypes.AnyFamily))
	if list, err = c.List(); err != nil || len(list) != 0 {
		t.Errorf("after flushing all: %v, %v", list, err)
	}
}

func TestIntegrationReplace65536(t *testing.T) {
	ns1 := newNetNS(t)
	c := dialNetNS(t, ns1)
	entries := bigTable(65536)
	start := time.Now()
	if err := c.Replace(entries); err != nil {
		t.Fatal(err)
	}
	t.Logf("replace of %d entries took %v", len(entries), time.Since(start))
	start = time.Now()
	list, err := c.List()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("list of %d entries took %v", len(list), time.Since(start))
	if len(list) != len(entries) {
		t.Errorf("%d entries listed, want %d", len(list), len(entries))
	}
	want := make(map[Key]netip.Addr, len(entries))
	for _, e := range entries {
		want[e.Key()] = e.VIP
	}
	for _, e := range list {
		if want[e.Key()] != e.VIP {
			t.Fatalf("%v: want VIP %v", e, want[e.Key()])
		}
	}

	// Another namespace has its own, empty table.
	c2 := dialNetNS(t, newNetNS(t))
	if st, err := c2.Stats(); err != nil || st.Entries != 0 {
		t.Errorf("second namespace: %+v, %v; want an empty table", st, err)
	}
	if st, err := c.Stats(); err != nil || st.Entries != uint32(len(entries)) {
		t.Errorf("first namespace: %+v, %v", st, err)
	}
}

// Bad requests, sent raw (past the client's own checks), are rejected with
// an errno and an extack message.
func TestIntegrationRawRejections(t *testing.T) {
	c := dialNetNS(t, newNetNS(t))
	if err := c.Add(Entry{DSCP: 5, VIP: netip.MustParseAddr("10.0.0.5")}, false); err != nil {
		t.Fatal(err)
	}
	entry := func(attrs ...func(ae *netlink.AttributeEncoder)) func(*netlink.AttributeEncoder) {
		return func(ae *netlink.AttributeEncoder) {
			ae.Nested(attrEntry, func(nae *netlink.AttributeEncoder) error {
				for _, f := range attrs {
					f(nae)
				}
				return nil
			})
		}
	}
	fam := func(f uint8) func(*netlink.AttributeEncoder) {
		return func(ae *netlink.AttributeEncoder) { ae.Uint8(entryAttrFamily, f) }
	}
	dscp := func(d uint8) func(*netlink.AttributeEncoder) {
		return func(ae *netlink.AttributeEncoder) { ae.Uint8(entryAttrDSCP, d) }
	}
	vip := func(s string) func(*netlink.AttributeEncoder) {
		return func(ae *netlink.AttributeEncoder) { ae.Bytes(entryAttrVIP, netip.MustParseAddr(s).AsSlice()) }
	}
	local := func(s string) func(*netlink.AttributeEncoder) {
		return func(ae *netlink.AttributeEncoder) { ae.Bytes(entryAttrLocal, netip.MustParseAddr(s).AsSlice()) }
	}
	addFlags := netlink.Request | netlink.Acknowledge
	tests := []struct {
		name  string
		cmd   uint8
		flags netlink.HeaderFlags
		data  func() []byte
		errno unix.Errno
		text  string // a part of the extack message
		// offset, if not 0, is the extack offset the kernel must give: the
		// bad attribute in the request, from its netlink header.
		offset int
	}{
		// 0..63 or 255 (any): ERANGE, and the offset of the DSCP attribute
		// (after the 16-byte netlink header, the 4-byte genetlink header, the
		// ENTRY nest header and the 8-byte FAMILY attribute). The text is the
		// part 6.1 (no formatted extack) and 6.12 share.
		{"DSCP 64", cmdMapAdd, addFlags, enc(entry(fam(2), dscp(64), vip("10.0.0.1"))), unix.ERANGE, "use 0..63, or 255 (any) with LOCAL", 16 + 4 + 4 + 8},
		{"any DSCP without LOCAL", cmdMapAdd, addFlags, enc(entry(fam(2), dscp(dscpAny), vip("10.0.0.1"))), unix.EINVAL, "an any-DSCP entry needs LOCAL", 0},
		{"DSCP_SET 64", cmdMapAdd, addFlags, enc(entry(fam(2), dscp(1), vip("10.0.0.1"), func(ae *netlink.AttributeEncoder) { ae.Uint8(entryAttrDSCPSet, 64) })), unix.ERANGE, "integer out of range", 0},
		{"family mismatch", cmdMapAdd, addFlags, enc(entry(fam(2), dscp(1), vip("2001:db8::1"))), unix.EINVAL, "family mismatch: VIP is an IPv6 address (16 bytes) but FAMILY is AF_INET", 0},
		{"missing VIP", cmdMapAdd, addFlags, enc(entry(fam(2), dscp(1))), unix.EINVAL, "ENTRY needs VIP", 0},
		{"missing family", cmdMapAdd, addFlags, enc(entry(dscp(1), vip("10.0.0.1"))), unix.EINVAL, "ENTRY needs FAMILY (AF_INET or AF_INET6)", 0},
		{"missing DSCP", cmdMapAdd, addFlags, enc(entry(fam(2), vip("10.0.0.1"))), unix.EINVAL, "ENTRY needs DSCP (0..63, or 255 for any with LOCAL)", 0},
		{"bad family", cmdMapAdd, addFlags, enc(entry(fam(7), dscp(1), vip("10.0.0.1"))), unix.EAFNOSUPPORT, "FAMILY must be AF_INET (2) or AF_INET6 (10)", 0},
		{"multicast VIP", cmdMapAdd, addFlags, enc(entry(fam(2), dscp(1), vip("224.0.0.1"))), unix.EINVAL, "VIP must be a unicast address", 0},
		{"unspecified local", cmdMapAdd, addFlags, enc(entry(fam(2), dscp(1), local("0.0.0.0"), vip("10.0.0.1"))), unix.EINVAL, "LOCAL is the unspecified address: leave LOCAL out to match any local address", 0},
		{"duplicate on create", cmdMapAdd, addFlags, enc(entry(fam(2), dscp(5), vip("10.0.0.6"))), unix.EEXIST, "an entry with this key exists: use replace", 0},
		{"missing entry", cmdMapAdd, addFlags, enc(), unix.EINVAL, "missing ENTRY", 0},
		{"nest without NLA_F_NESTED", cmdMapAdd, addFlags, func() []byte {
			inner := enc(fam(2), dscp(1), vip("10.0.0.1"))()
			b, _ := netlink.MarshalAttributes([]netlink.Attribute{{Type: attrEntry, Data: inner}})
			return b
		}, unix.EINVAL, "NLA_F_NESTED is missing", 0},
		{"counters sent", cmdMapAdd, addFlags, enc(entry(fam(2), dscp(1), vip("10.0.0.1"), func(ae *netlink.AttributeEncoder) { ae.Uint64(entryAttrPackets, 1) })), unix.EINVAL, "PACKETS is a counter in replies", 0},
		{"VIP in a delete", cmdMapDel, addFlags, enc(entry(fam(2), dscp(5), vip("10.0.0.5"))), unix.EINVAL, "VIP is not part of the key", 0},
		{"delete missing", cmdMapDel, addFlags, enc(entry(fam(2), dscp(6))), unix.ENOENT, "", 0},
		{"stale replace id", cmdReplaceAdd, addFlags, enc(func(ae *netlink.AttributeEncoder) { ae.Uint32(attrReplaceID, 0xdead) }, entry(fam(2), dscp(1), vip("10.0.0.1"))), unix.ESTALE, "stale REPLACE_ID", 0},
		{"commit without id", cmdReplaceCommit, addFlags, enc(), unix.EINVAL, "missing REPLACE_ID", 0},
	}
	before, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := genetlink.Message{Header: genetlink.Header{Command: tt.cmd, Version: genlVersion}, Data: tt.data()}
			_, err := c.c.ExecuteMessage(msg, tt.flags)
			ke, ok := wrapKernel(err, "").(*nl.KernelError)
			if !ok {
				t.Fatalf("err = %v, want a kernel error", err)
			}
			t.Logf("%v", ke)
			if ke.Errno != tt.errno {
				t.Errorf("errno %v, want %v", ke.Errno, tt.errno)
			}
			if tt.errno != unix.ENOENT && ke.Message == "" {
				t.Errorf("no extack message")
			}
			if !strings.Contains(ke.Message, tt.text) {
				t.Errorf("extack %q, want it to contain %q", ke.Message, tt.text)
			}
			if tt.offset != 0 && ke.Offset != tt.offset {
				t.Errorf("extack offset %d, want %d (the bad attribute)", ke.Offset, tt.offset)
			}
		})
	}
	// Nothing was changed by the rejected requests.
	after, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if after.Entries != before.Entries || after.Generation != before.Generation {
		t.Errorf("after the rejections: %d entries, generation %d; want %d, %d as before", after.Entries, after.Generation, before.Entries, before.Generation)
	}
}

func enc(fs ...func(*netlink.AttributeEncoder)) func() []byte {
	return func() []byte {
		ae := netlink.NewAttributeEncoder()
		for _, f := range fs {
			f(ae)
		}
		b, err := ae.Encode()
		if err != nil {
			panic(err)
		}
		return b
	}
}

// Against a module of genl version 2: an any-DSCP entry with a DSCP after
// the rewrite goes in and comes back as it went, beside a (DSCP, local)
// entry of the same address; its key ignores the code; the kernel refuses
// an any-DSCP entry without a local address, and a DSCP_SET above 63.
func TestIntegrationAnyDSCP(t *testing.T) {
	c := dialNetNS(t, newNetNS(t))
	a := netip.MustParseAddr
	anyE := Entry{AnyDSCP: true, Local: a("10.1.0.7"), VIP: a("10.0.0.3"), SetDSCP: dscpPtr(0)}
	coded := Entry{DSCP: 5, Local: a("10.1.0.7"), VIP: a("10.0.0.5")}
	must(t, c.Add(anyE, false))
	must(t, c.Add(coded, false))
	got, err := c.Get(Key{AnyDSCP: true, DSCP: 9, Local: a("10.1.0.7")})
	must(t, err)
	if !got.AnyDSCP || got.VIP != anyE.VIP || got.SetDSCP == nil || *got.SetDSCP != 0 || got.Family != dsrtypes.IPv4 {
		t.Errorf("get: %+v", got)
	}
	if err := c.Add(Entry{AnyDSCP: true, Local: a("10.1.0.7"), VIP: a("10.0.0.4")}, false); !errors.Is(err, ErrExists) {
		t.Errorf("a second any-DSCP entry of 10.1.0.7: %v, want ErrExists", err)
	}
	if list, st := contents(t, c); len(list) != 2 || st.Entries != 2 {
		t.Errorf("list: %v", list)
	}
	for name, data := range map[string][]byte{
		"any DSCP, no LOCAL": enc(func(ae *netlink.AttributeEncoder) {
			ae.Nested(attrEntry, func(nae *netlink.AttributeEncoder) error {
				nae.Uint8(entryAttrFamily, 2)
				nae.Uint8(entryAttrDSCP, dscpAny)
				nae.Bytes(entryAttrVIP, a("10.0.0.8").AsSlice())
				return nil
			})
		})(),
		"DSCP_SET 64": enc(func(ae *netlink.AttributeEncoder) {
			ae.Nested(attrEntry, func(nae *netlink.AttributeEncoder) error {
				nae.Uint8(entryAttrFamily, 2)
				nae.Uint8(entryAttrDSCP, 7)
				nae.Bytes(entryAttrVIP, a("10.0.0.8").AsSlice())
				nae.Uint8(entryAttrDSCPSet, 64)
				return nil
			})
		})(),
	} {
		msg := genetlink.Message{Header: genetlink.Header{Command: cmdMapAdd, Version: genlVersion}, Data: data}
		_, err := c.c.ExecuteMessage(msg, netlink.Request|netlink.Acknowledge)
		ke, ok := wrapKernel(err, "").(*nl.KernelError)
		if !ok || (ke.Errno != unix.EINVAL && ke.Errno != unix.ERANGE) || ke.Message == "" {
			t.Errorf("%s: %v, want EINVAL or ERANGE with an extack message", name, err)
		}
	}
	must(t, c.Delete(Key{AnyDSCP: true, Local: a("10.1.0.7")}))
	if _, err := c.Get(Key{AnyDSCP: true, Local: a("10.1.0.7")}); !errors.Is(err, ErrNotFound) {
		t.Errorf("after delete: %v, want ErrNotFound", err)
	}
	if _, err := c.Get(coded.Key()); err != nil {
		t.Errorf("the (DSCP 5, local) entry went with the any-DSCP one: %v", err)
	}
}
