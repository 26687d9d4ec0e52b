package maptable

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/nl"
	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/genetlink/genltest"
	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nltest"
	"golang.org/x/sys/unix"
)

const testFamilyID = 0x2a

var testFamily = genetlink.Family{ID: testFamilyID, Name: familyName, Version: genlVersion}

// nla builds one netlink attribute by hand (not with the package's
// encoder): header, payload, padding to 4 bytes.
func nla(typ uint16, payload ...[]byte) []byte {
	p := bytes.Join(payload, nil)
	b := binary.NativeEndian.AppendUint16(nil, uint16(4+len(p)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, p...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func u8(v uint8) []byte { return []byte{v} }
func u32(v uint32) []byte {
	return binary.NativeEndian.AppendUint32(nil, v)
}
func u64(v uint64) []byte {
	return binary.NativeEndian.AppendUint64(nil, v)
}
func addr(s string) []byte { return netip.MustParseAddr(s).AsSlice() }

const nested = uint16(netlink.Nested)

// genlClient returns a Client on genltest with fn serving the l3dsr family.
func genlClient(t *testing.T, fn genltest.Func) *genlTable {
	t.Helper()
	c, err := newClient(genltest.Dial(genltest.ServeFamily(testFamily, fn)))
	if err != nil {
		t.Fatalf("newClient: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Each operation sends exactly the command, flags and attributes of the
// ABI, with NLA_F_NESTED on every nest, and parses the reply.
func TestRequestsOnTheWire(t *testing.T) {
	ack := []genetlink.Message{{}} // genltest needs some answer; acks carry nothing
	entryV4 := Entry{DSCP: 1, Local: netip.MustParseAddr("10.1.0.10"), VIP: netip.MustParseAddr("10.0.0.1")}
	entryV6 := Entry{DSCP: 63, VIP: netip.MustParseAddr("2001:db8::1")}
	replyV6 := nla(attrEntry|nested,
		nla(entryAttrFamily, u8(10)), nla(entryAttrDSCP, u8(63)),
		nla(entryAttrVIP, addr("2001:db8::1")),
		nla(entryAttrPad), nla(entryAttrPackets, u64(7)), nla(entryAttrBytes, u64(700)))

	tests := []struct {
		name     string
		cmd      uint8
		flags    netlink.HeaderFlags
		wantData []byte
		reply    []genetlink.Message
		do       func(c *genlTable) (any, error)
		want     any
	}{
		{
			name: "add create-only", cmd: cmdMapAdd,
			flags: netlink.Request | netlink.Acknowledge | netlink.Create | netlink.Excl,
			wantData: nla(attrEntry|nested,
				nla(entryAttrFamily, u8(2)), nla(entryAttrDSCP, u8(1)),
				nla(entryAttrLocal, addr("10.1.0.10")), nla(entryAttrVIP, addr("10.0.0.1"))),
			reply: ack,
			do:    func(c *genlTable) (any, error) { return nil, c.Add(entryV4, false) },
		},
		{
			name: "add replace", cmd: cmdMapAdd,
			flags: netlink.Request | netlink.Acknowledge | netlink.Create | netlink.Replace,
			wantData: nla(attrEntry|nested,
				nla(entryAttrFamily, u8(10)), nla(entryAttrDSCP, u8(63)),
				nla(entryAttrVIP, addr("2001:db8::1"))),
			reply: ack,
			do:    func(c *genlTable) (any, error) { return nil, c.Add(entryV6, true) },
		},
		{
			name: "delete, local any", cmd: cmdMapDel,
			flags:    netlink.Request | netlink.Acknowledge,
			wantData: nla(attrEntry|nested, nla(entryAttrFamily, u8(2)), nla(entryAttrDSCP, u8(5))),
			reply:    ack,
			do:       func(c *genlTable) (any, error) { return nil, c.Delete(Key{Family: dsrtypes.IPv4, DSCP: 5}) },
		},
		{
			name: "delete, family from the local address", cmd: cmdMapDel,
			flags: netlink.Request | netlink.Acknowledge,
			wantData: nla(attrEntry|nested, nla(entryAttrFamily, u8(10)), nla(entryAttrDSCP, u8(0)),
				nla(entryAttrLocal, addr("fd00::10"))),
			reply: ack,
			do: func(c *genlTable) (any, error) {
				return nil, c.Delete(Key{DSCP: 0, Local: netip.MustParseAddr("fd00::10")})
			},
		},
		{
			name: "get", cmd: cmdMapGet, flags: netlink.Request,
			wantData: nla(attrEntry|nested, nla(entryAttrFamily, u8(10)), nla(entryAttrDSCP, u8(63))),
			reply:    []genetlink.Message{{Header: genetlink.Header{Command: cmdMapGet, Version: 1}, Data: append(nla(attrGeneration, u32(9)), replyV6...)}},
			do:       func(c *genlTable) (any, error) { return c.Get(Key{Family: dsrtypes.IPv6, DSCP: 63}) },
			want:     Entry{Family: dsrtypes.IPv6, DSCP: 63, VIP: netip.MustParseAddr("2001:db8::1"), Packets: 7, Bytes: 700},
		},
		{
			name: "flush all", cmd: cmdMapFlush, flags: netlink.Request | netlink.Acknowledge,
			wantData: nil, reply: ack,
			do: func(c *genlTable) (any, error) { return nil, c.Flush(dsrtypes.AnyFamily) },
		},
		{
			name: "flush IPv6", cmd: cmdMapFlush, flags: netlink.Request | netlink.Acknowledge,
			wantData: nla(attrFamily, u8(10)), reply: ack,
			do: func(c *genlTable) (any, error) { return nil, c.Flush(dsrtypes.IPv6) },
		},
		{
			name: "stats", cmd: cmdStatsGet, flags: netlink.Request,
			wantData: nil,
			reply: []genetlink.Message{{Header: genetlink.Header{Command: cmdStatsGet, Version: 1}, Data: append(
				nla(attrStats|nested,
					nla(statsAttrPad), nla(statsAttrRewritten, u64(1<<40)), nla(statsAttrNoEntry, u64(2)),
					nla(statsAttrErrors, u64(3)), nla(statsAttrEntries, u32(4))),
				nla(attrGeneration, u32(77))...)}},
			do:   func(c *genlTable) (any, error) { return c.Stats() },
			want: Stats{Rewritten: 1 << 40, NoEntry: 2, Errors: 3, Entries: 4, Generation: 77, Mode: ModeRule},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			c := genlClient(t, genltest.CheckRequest(testFamilyID, tt.cmd, tt.flags,
				func(greq genetlink.Message, _ netlink.Message) ([]genetlink.Message, error) {
					calls++
					if greq.Header.Version != genlVersion {
						t.Errorf("genl version %d, want %d", greq.Header.Version, genlVersion)
					}
					if !bytes.Equal(greq.Data, tt.wantData) {
						t.Errorf("attributes sent:\n% x\nwant:\n% x", greq.Data, tt.wantData)
					}
					return tt.reply, nil
				}))
			got, err := tt.do(c)
			if err != nil {
				t.Fatal(err)
			}
			if calls != 1 {
				t.Errorf("%d requests, want 1", calls)
			}
			if tt.want != nil && fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// List: a dump (NLM_F_DUMP, no attributes) between two STATS_GET, replies
// of several messages parsed, unknown attributes and padding skipped.
func TestListOnTheWire(t *testing.T) {
	gen := nla(attrGeneration, u32(9))
	stats := genetlink.Message{Header: genetlink.Header{Command: cmdStatsGet, Version: 1},
		Data: append(nla(attrStats|nested, nla(statsAttrEntries, u32(2))), gen...)}
	var seen []string
	c := genlClient(t, func(greq genetlink.Message, nreq netlink.Message) ([]genetlink.Message, error) {
		seen = append(seen, fmt.Sprintf("cmd %d flags %v data % x", greq.Header.Command, nreq.Header.Flags, greq.Data))
		if greq.Header.Command == cmdStatsGet {
			return []genetlink.Message{stats}, nil
		}
		return []genetlink.Message{
			{Header: genetlink.Header{Command: cmdMapGet, Version: 1}, Data: append(gen,
				nla(attrEntry|nested,
					nla(entryAttrFamily, u8(10)), nla(entryAttrDSCP, u8(63)),
					nla(entryAttrVIP, addr("2001:db8::1")),
					nla(entryAttrPad), nla(entryAttrPackets, u64(7)), nla(entryAttrBytes, u64(700)))...)},
			{Header: genetlink.Header{Command: cmdMapGet, Version: 1}, Data: append(gen,
				nla(attrEntry|nested, nla(entryAttrFamily, u8(2)), nla(entryAttrDSCP, u8(1)),
					nla(entryAttrLocal, addr("10.1.0.10")), nla(entryAttrVIP, addr("10.0.0.1")),
					nla(entryAttrPackets, u64(1)), nla(entryAttrBytes, u64(60)),
					nla(99, u32(0)))...)}, // unknown attributes are skipped
		}, nil
	})
	got, err := c.List()
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{Family: dsrtypes.IPv6, DSCP: 63, VIP: netip.MustParseAddr("2001:db8::1"), Packets: 7, Bytes: 700},
		{Family: dsrtypes.IPv4, DSCP: 1, Local: netip.MustParseAddr("10.1.0.10"), VIP: netip.MustParseAddr("10.0.0.1"), Packets: 1, Bytes: 60},
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	wantSeen := []string{
		"cmd 9 flags request data ",
		"cmd 3 flags request|0x300 data ",
		"cmd 9 flags request data ",
	}
	if !slices.Equal(seen, wantSeen) {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(seen, "\n"), strings.Join(wantSeen, "\n"))
	}
}

// The error of a missing family says how to fix it.
func TestDialWithoutModule(t *testing.T) {
	conn := genltest.Dial(func(greq genetlink.Message, nreq netlink.Message) ([]genetlink.Message, error) {
		if nreq.Header.Type != unix.GENL_ID_CTRL || greq.Header.Command != unix.CTRL_CMD_GETFAMILY {
			t.Errorf("unexpected request %+v", nreq.Header)
		}
		return nil, genltest.Error(int(unix.ENOENT))
	})
	defer conn.Close()
	_, err := newClient(conn)
	if !errors.Is(err, ErrNotLoaded) {
		t.Fatalf("err = %v, want ErrNotLoaded", err)
	}
	const want = "the l3dsr kernel module is not loaded: run 'modprobe xt_DADDR' (install the l3dsr-dkms package if modprobe cannot find it); a host without the module can use the tc-BPF backend instead: run 'l3dsr realserver up --backend bpf'"
	if err.Error() != want {
		t.Errorf("err = %q\nwant %q", err, want)
	}

	// The same through the emulated kernel's NLMSG_ERROR.
	k := newFakeKernel(t)
	k.missing = true
	if _, err := newClient(genetlink.NewConn(fakeConn(k))); !errors.Is(err, ErrNotLoaded) {
		t.Errorf("fake kernel: err = %v, want ErrNotLoaded", err)
	}

	// Another failure is not reported as a missing module.
	conn2 := genltest.Dial(func(genetlink.Message, netlink.Message) ([]genetlink.Message, error) {
		return nil, genltest.Error(int(unix.EIO))
	})
	defer conn2.Close()
	if _, err := newClient(conn2); err == nil || errors.Is(err, ErrNotLoaded) || !strings.Contains(err.Error(), `"l3dsr"`) {
		t.Errorf("EIO: err = %v, want a family resolution error", err)
	}
}

// A kernel rejection carries its extack text and errno to the caller.
func TestExtackReachesCaller(t *testing.T) {
	// genltest: the Func returns the error netlink would produce.
	c := genlClient(t, func(genetlink.Message, netlink.Message) ([]genetlink.Message, error) {
		return nil, &netlink.OpError{Op: "receive", Err: unix.EINVAL, Message: "VIP family differs from the key's"}
	})
	err := c.Add(Entry{DSCP: 1, VIP: netip.MustParseAddr("10.0.0.1")}, false)
	if err == nil || !strings.Contains(err.Error(), "VIP family differs from the key's") || !errors.Is(err, unix.EINVAL) {
		t.Errorf("genltest: err = %v, want the extack text and EINVAL", err)
	}

	// Emulated kernel: a real NLMSG_ERROR with NLM_F_ACK_TLVS.
	k := newFakeKernel(t)
	k.fail = func(r request) (unix.Errno, string, uint32) {
		if r.cmd == cmdMapFlush {
			return unix.EBUSY, "a replace is in progress", 0
		}
		return 0, "", 0
	}
	c2 := k.client()
	err = c2.Flush(dsrtypes.IPv4)
	const want = "flushing IPv4: a replace is in progress (device or resource busy)"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	var ke *nl.KernelError
	if !errors.As(err, &ke) || ke.Errno != unix.EBUSY || ke.Message != "a replace is in progress" {
		t.Errorf("err = %#v, want a *KernelError with EBUSY and the message", err)
	}
	var oe *netlink.OpError
	if !errors.As(err, &oe) {
		t.Errorf("err = %v does not unwrap to *netlink.OpError", err)
	}
}

func fakeConn(k *fakeKernel) *netlink.Conn {
	return nltest.Dial(k.serve)
}

// End to end against the emulated kernel: the errors a user meets.
func TestKernelErrors(t *testing.T) {
	k := newFakeKernel(t)
	c := k.client()
	e := Entry{DSCP: 3, VIP: netip.MustParseAddr("10.0.0.3")}
	must(t, c.Add(e, false))

	err := c.Add(e, false)
	if !errors.Is(err, ErrExists) || !errors.Is(err, unix.EEXIST) {
		t.Errorf("duplicate add: err = %v, want ErrExists", err)
	}
	if want := "adding IPv4 DSCP 3 local any -> VIP 10.0.0.3: entry exists (file exists)"; err == nil || err.Error() != want {
		t.Errorf("duplicate add: err = %v\nwant %s", err, want)
	}
	// Replace keeps the counters.
	k.table[e.Key()] = Entry{Family: dsrtypes.IPv4, DSCP: 3, VIP: e.VIP, Packets: 5, Bytes: 500}
	if err := c.Add(Entry{DSCP: 3, VIP: netip.MustParseAddr("10.0.0.33")}, true); err != nil {
		t.Fatal(err)
	}
	got, err := c.Get(Key{Family: dsrtypes.IPv4, DSCP: 3})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Entry{Family: dsrtypes.IPv4, DSCP: 3, VIP: netip.MustParseAddr("10.0.0.33"), Packets: 5, Bytes: 500}); got != want {
		t.Errorf("after replace: %+v, want %+v", got, want)
	}

	err = c.Delete(Key{Family: dsrtypes.IPv6, DSCP: 3})
	if !errors.Is(err, ErrNotFound) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("delete missing: err = %v, want ErrNotFound", err)
	}
	if want := "deleting IPv6 DSCP 3 local any: no such entry"; err == nil || err.Error() != want {
		t.Errorf("delete missing: err = %v\nwant %s", err, want)
	}
	if _, err := c.Get(Key{Family: dsrtypes.IPv4, DSCP: 9}); !errors.Is(err, ErrNotFound) {
		t.Errorf("get missing: err = %v, want ErrNotFound", err)
	}

	k.fail = func(request) (unix.Errno, string, uint32) { return unix.EPERM, "", 0 }
	err = c.Flush(dsrtypes.AnyFamily)
	if !errors.Is(err, os.ErrPermission) || !strings.Contains(err.Error(), "CAP_NET_ADMIN") {
		t.Errorf("EPERM: err = %v, want a permission error naming CAP_NET_ADMIN", err)
	}
}

// Bad input is refused before anything is sent, with the bad value named.
func TestValidation(t *testing.T) {
	a := netip.MustParseAddr
	tests := []struct {
		name string
		e    Entry
		want string
	}{
		{"DSCP 64", Entry{DSCP: 64, VIP: a("10.0.0.1")}, "DSCP 64 is out of range: use 0-63"},
		{"no VIP", Entry{DSCP: 1}, "the VIP of DSCP 1 is missing"},
		{"unspecified VIP", Entry{DSCP: 1, VIP: a("::")}, "VIP :: is unspecified"},
		{"multicast VIP", Entry{DSCP: 1, VIP: a("224.0.0.1")}, "VIP 224.0.0.1 is a multicast address"},
		{"multicast VIP6", Entry{DSCP: 1, VIP: a("ff02::1")}, "VIP ff02::1 is a multicast address"},
		{"broadcast VIP", Entry{DSCP: 1, VIP: a("255.255.255.255")}, "VIP 255.255.255.255 is the broadcast address"},
		{"mixed families", Entry{DSCP: 1, VIP: a("10.0.0.1"), Local: a("fd00::1")}, "VIP 10.0.0.1 is IPv4 but local address fd00::1 is IPv6"},
		{"family field", Entry{Family: dsrtypes.IPv6, DSCP: 1, VIP: a("10.0.0.1")}, "VIP 10.0.0.1 is IPv4 but the entry's family is IPv6"},
		{"bad family", Entry{Family: 7, DSCP: 1, VIP: a("10.0.0.1")}, "address family 7 is not supported"},
		{"mapped VIP", Entry{DSCP: 1, VIP: a("::ffff:10.0.0.1")}, "write it as 10.0.0.1"},
		{"zone", Entry{DSCP: 1, VIP: a("fe80::1%eth0")}, "has a zone (%eth0)"},
		{"unspecified local", Entry{DSCP: 1, VIP: a("10.0.0.1"), Local: a("0.0.0.0")}, "local address 0.0.0.0 is unspecified: leave the local address out to match any"},
		{"multicast local", Entry{DSCP: 1, VIP: a("10.0.0.1"), Local: a("239.1.1.1")}, "local address 239.1.1.1 is a multicast address"},
	}
	k := newFakeKernel(t)
	c := k.client()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.e.Validate()
			if !errors.Is(err, errInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want errInvalid containing %q", err, tt.want)
			}
			if err := c.Add(tt.e, false); !errors.Is(err, errInvalid) {
				t.Errorf("Add: %v, want errInvalid", err)
			}
			if err := c.Replace([]Entry{{DSCP: 0, VIP: a("10.9.9.9")}, tt.e}); !errors.Is(err, errInvalid) || !strings.Contains(err.Error(), "entry 1") {
				t.Errorf("Replace: %v, want errInvalid naming entry 1", err)
			}
		})
	}
	if err := c.Delete(Key{DSCP: 1}); !errors.Is(err, errInvalid) || !strings.Contains(err.Error(), "family") {
		t.Errorf("Delete without a family: %v", err)
	}
	if err := c.Flush(dsrtypes.Family(3)); !errors.Is(err, errInvalid) {
		t.Errorf("Flush(3): %v", err)
	}
	if err := c.Replace([]Entry{{DSCP: 4, VIP: a("10.0.0.1")}, {DSCP: 4, VIP: a("10.0.0.2")}}); !errors.Is(err, errInvalid) ||
		!strings.Contains(err.Error(), "entries 0 and 1 have the same key (IPv4 DSCP 4 local any)") {
		t.Errorf("Replace with a duplicate key: %v", err)
	}
	if len(k.requests) != 0 {
		t.Errorf("%d requests reached the kernel, want none", len(k.requests))
	}
	for _, ok := range []Entry{
		{DSCP: 0, VIP: a("10.0.0.1")},
		{DSCP: 63, VIP: a("2001:db8::1"), Local: a("2001:db8::10")},
		{Family: dsrtypes.IPv4, DSCP: 7, VIP: a("192.0.2.1"), Local: a("192.0.2.10")},
	} {
		if err := ok.Validate(); err != nil {
			t.Errorf("%v: %v", ok, err)
		}
	}
}

// List retries a dump the kernel flags NLM_F_DUMP_INTR, or whose replies
// come from different generations, and gives up after a bound.
func TestListRetriesInterruptedDump(t *testing.T) {
	k := newFakeKernel(t)
	c := k.client()
	for i := range 300 {
		if err := c.Add(Entry{DSCP: dsrtypes.DSCP(i % 64), Local: netip.AddrFrom4([4]byte{10, 1, 0, byte(i / 64)}), VIP: netip.AddrFrom4([4]byte{10, 0, byte(i / 256), byte(i)})}, false); err != nil {
			t.Fatal(err)
		}
	}
	dumps := func() int {
		n := 0
		for _, r := range k.requests {
			if r.cmd == cmdMapGet && r.flags&netlink.Dump == netlink.Dump {
				n++
			}
		}
		return n
	}

	k.requests = nil
	k.interrupt = 2
	got, err := c.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 300 {
		t.Errorf("%d entries, want 300", len(got))
	}
	if n := dumps(); n != 3 {
		t.Errorf("%d dumps, want 3 (two interrupted, one clean)", n)
	}

	k.requests = nil
	k.mixGenerations = 1
	if _, err := c.List(); err != nil {
		t.Fatal(err)
	}
	if n := dumps(); n != 2 {
		t.Errorf("mixed generations: %d dumps, want 2", n)
	}

	// The kernel's way: the dump ends early and only NLMSG_DONE carries
	// NLM_F_DUMP_INTR, which mdlayher/netlink does not show; the
	// generation read before and after the dump catches it.
	k.requests = nil
	k.truncate = 1
	got, err = c.List()
	if err != nil || len(got) != 300 {
		t.Errorf("truncated dump: %d entries, %v; want 300", len(got), err)
	}
	if n := dumps(); n != 2 {
		t.Errorf("truncated dump: %d dumps, want 2", n)
	}

	// A dump that ends with EINTR in NLMSG_DONE is retried too.
	k.requests = nil
	k.doneErrno = 1
	if got, err = c.List(); err != nil || len(got) != 300 {
		t.Errorf("EINTR dump: %d entries, %v; want 300", len(got), err)
	}
	if n := dumps(); n != 2 {
		t.Errorf("EINTR dump: %d dumps, want 2", n)
	}

	k.requests = nil
	k.interrupt = 1000
	_, err = c.List()
	if !errors.Is(err, errDumpInterrupted) {
		t.Errorf("always interrupted: err = %v, want errDumpInterrupted", err)
	}
	if n := dumps(); n != maxDumpAttempts {
		t.Errorf("always interrupted: %d dumps, want %d", n, maxDumpAttempts)
	}

	// An empty table is an empty list, not an error.
	k.interrupt = 0
	if err := c.Flush(dsrtypes.AnyFamily); err != nil {
		t.Fatal(err)
	}
	if got, err := c.List(); err != nil || len(got) != 0 {
		t.Errorf("empty table: %v, %v", got, err)
	}
}

func bigTable(n int) []Entry {
	entries := make([]Entry, 0, n)
	for i := range n {
		// 64 DSCP codes × n/64 local addresses; IPv6 for every fourth.
		local := netip.AddrFrom4([4]byte{10, 1, byte(i >> 14), byte(i >> 6)})
		vip := netip.AddrFrom4([4]byte{10, 2, byte(i >> 8), byte(i)})
		if i%4 == 3 {
			local = netip.AddrFrom16([16]byte{0xfd, 0, 15: byte(i >> 6), 14: byte(i >> 14)})
			vip = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i), 14: byte(i >> 8)})
		}
		entries = append(entries, Entry{DSCP: dsrtypes.DSCP(i % 64), Local: local, VIP: vip})
	}
	return entries
}

// Replace of 65,536 entries: BEGIN, many REPLACE_ADD carrying every entry
// exactly once under the batch limits, COMMIT; the table is then exactly
// the new one.
func TestReplaceBatches(t *testing.T) {
	k := newFakeKernel(t)
	c := k.client()
	if err := c.Add(Entry{DSCP: 1, VIP: netip.MustParseAddr("192.0.2.1")}, false); err != nil {
		t.Fatal(err)
	}
	entries := bigTable(65536)
	k.requests = nil
	if err := c.Replace(entries); err != nil {
		t.Fatal(err)
	}

	reqs := k.requests
	if len(reqs) < 3 || reqs[0].cmd != cmdReplaceBegin || reqs[len(reqs)-1].cmd != cmdReplaceCommit {
		t.Fatalf("commands %v, want BEGIN, REPLACE_ADD..., COMMIT", cmds(reqs))
	}
	if reqs[0].flags != netlink.Request || len(reqs[0].data) != 0 {
		t.Errorf("BEGIN: flags %v, attributes % x", reqs[0].flags, reqs[0].data)
	}
	id := k.stID
	wantIDAttr := nla(attrReplaceID, u32(id))
	if last := reqs[len(reqs)-1]; last.flags != netlink.Request|netlink.Acknowledge || !bytes.Equal(last.data, wantIDAttr) {
		t.Errorf("COMMIT: flags %v, attributes % x, want % x", last.flags, last.data, wantIDAttr)
	}
	sent := map[Key]int{}
	adds := reqs[1 : len(reqs)-1]
	for i, r := range adds {
		if r.cmd != cmdReplaceAdd || r.flags != netlink.Request|netlink.Acknowledge {
			t.Fatalf("message %d: command %d flags %v, want REPLACE_ADD with an ack", i+1, r.cmd, r.flags)
		}
		if len(r.data) > maxBatchBytes+8 {
			t.Errorf("REPLACE_ADD %d carries %d bytes, more than %d", i, len(r.data), maxBatchBytes+8)
		}
		attrs, err := netlink.UnmarshalAttributes(r.data)
		if err != nil {
			t.Fatal(err)
		}
		if attrs[0].Type != attrReplaceID || binary.NativeEndian.Uint32(attrs[0].Data) != id {
			t.Fatalf("REPLACE_ADD %d: first attribute %+v, want the replace id %d", i, attrs[0], id)
		}
		if n := len(attrs) - 1; n == 0 || n > maxBatchEntries {
			t.Errorf("REPLACE_ADD %d carries %d entries, want 1-%d", i, n, maxBatchEntries)
		}
		for _, a := range attrs[1:] {
			if a.Type != attrEntry|netlink.Nested {
				t.Fatalf("attribute type %#x, want L3DSR_A_ENTRY with NLA_F_NESTED", a.Type)
			}
			fe, err := decodeFakeEntry(a.Data)
			if err != nil {
				t.Fatal(err)
			}
			sent[fe.Key()]++
		}
	}
	if len(adds) < 65536/maxBatchEntries {
		t.Errorf("%d REPLACE_ADD messages for 65536 entries, want at least %d", len(adds), 65536/maxBatchEntries)
	}
	if len(sent) != len(entries) {
		t.Errorf("%d distinct entries sent, want %d", len(sent), len(entries))
	}
	for key, n := range sent {
		if n != 1 {
			t.Errorf("%v sent %d times", key, n)
		}
	}
	if len(k.table) != len(entries) {
		t.Errorf("table holds %d entries after the commit, want %d", len(k.table), len(entries))
	}
	for _, e := range entries {
		got, ok := k.table[e.Key()]
		if !ok || got.VIP != e.VIP {
			t.Fatalf("%v: table has %+v", e, got)
		}
	}

	// An empty replace empties the table.
	k.requests = nil
	if err := c.Replace(nil); err != nil {
		t.Fatal(err)
	}
	if got := cmds(k.requests); !slices.Equal(got, []uint8{cmdReplaceBegin, cmdReplaceCommit}) || len(k.table) != 0 {
		t.Errorf("empty replace: commands %v, table %d entries", got, len(k.table))
	}
}

func cmds(reqs []request) []uint8 {
	var out []uint8
	for _, r := range reqs {
		out = append(out, r.cmd)
	}
	return out
}

// A failure during a replace aborts the staged table, leaves the old table,
// and names the entry the kernel's extack offset points at.
func TestReplaceAbortsOnFailure(t *testing.T) {
	k := newFakeKernel(t)
	c := k.client()
	old := Entry{DSCP: 1, VIP: netip.MustParseAddr("192.0.2.1")}
	must(t, c.Add(old, false))
	entries := bigTable(2000)
	adds := 0
	k.fail = func(r request) (unix.Errno, string, uint32) {
		if r.cmd != cmdReplaceAdd {
			return 0, "", 0
		}
		adds++
		if adds != 3 {
			return 0, "", 0
		}
		// Point at the DSCP attribute of the 5th entry in this message.
		attrs, _ := netlink.UnmarshalAttributes(r.data)
		off := 16 + 4 + 8
		for _, a := range attrs[1:5] {
			off += nlaAlign(4 + len(a.Data))
		}
		return unix.ENOSPC, "the table is full", uint32(off + 4 + 8)
	}
	k.requests = nil
	err := c.Replace(entries)
	if err == nil {
		t.Fatal("Replace succeeded, want an error")
	}
	got := cmds(k.requests)
	if got[0] != cmdReplaceBegin || got[len(got)-1] != cmdReplaceAbort || slices.Contains(got, cmdReplaceCommit) {
		t.Errorf("commands %v, want BEGIN, REPLACE_ADD x3, ABORT and no COMMIT", got)
	}
	if k.staged != nil {
		t.Error("the staged table was not aborted")
	}
	if len(k.table) != 1 || k.table[old.Key()].VIP != old.VIP {
		t.Errorf("old table changed: %v", k.table)
	}
	// The third message starts at entry 1024 (512 per message): the 5th is 1028.
	for _, want := range []string{"staging entries 1024-1535 of 2000", "entry 1028 (" + entries[1028].String() + ")", "the table is full (no space left on device)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v\nwant it to contain %q", err, want)
		}
	}

	// A failing COMMIT is aborted too; a failing BEGIN sends nothing more.
	for _, failCmd := range []uint8{cmdReplaceCommit, cmdReplaceBegin} {
		k.requests = nil
		k.fail = func(r request) (unix.Errno, string, uint32) {
			if r.cmd == failCmd {
				return unix.ESTALE, "replaced by a newer replace", 0
			}
			return 0, "", 0
		}
		err := c.Replace(entries[:10])
		if err == nil || !strings.Contains(err.Error(), "replaced by a newer replace") {
			t.Errorf("failing command %d: err = %v", failCmd, err)
		}
		got := cmds(k.requests)
		want := []uint8{cmdReplaceBegin, cmdReplaceAdd, cmdReplaceCommit, cmdReplaceAbort}
		if failCmd == cmdReplaceBegin {
			want = []uint8{cmdReplaceBegin}
		}
		if !slices.Equal(got, want) {
			t.Errorf("failing command %d: commands %v, want %v", failCmd, got, want)
		}
	}
}

func nlaAlign(n int) int { return (n + 3) &^ 3 }

// Every nest the client sends carries NLA_F_NESTED: a strict genl family
// rejects it otherwise ("NLA_F_NESTED is missing"). The emulated kernel
// checks it on every request; this drives every operation through it.
func TestAllOperationsAgainstStrictKernel(t *testing.T) {
	k := newFakeKernel(t)
	c := k.client()
	v4 := Entry{DSCP: 10, Local: netip.MustParseAddr("10.1.0.10"), VIP: netip.MustParseAddr("10.0.0.10")}
	v6 := Entry{DSCP: 10, VIP: netip.MustParseAddr("2001:db8::10")}
	must(t, c.Add(v4, false))
	must(t, c.Add(v6, false))
	list, st := contents(t, c)
	if len(list) != 2 {
		t.Errorf("list: %v", list)
	}
	if st.Entries != 2 || st.Rewritten != 1000 || st.Generation != k.gen {
		t.Errorf("stats: %+v", st)
	}
	must(t, c.Delete(v4.Key()))
	must(t, c.Replace([]Entry{v4, v6}))
	must(t, c.Flush(dsrtypes.IPv6))
	list, err := c.List()
	must(t, err)
	if len(list) != 1 || list[0].VIP != v4.VIP || list[0].Family != dsrtypes.IPv4 {
		t.Errorf("after flushing IPv6: %v", list)
	}
}
