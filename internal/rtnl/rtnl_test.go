package rtnl

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nltest"
	"golang.org/x/sys/unix"
)

// reply answers reqs[0] with msgs, as the kernel does: same sequence
// number, and a multipart dump ends with NLMSG_DONE.
// newConn wraps a fake netlink connection from nltest.
func newConn(c *netlink.Conn) *Conn { return &Conn{c: c} }

func reply(reqs []netlink.Message, msgs ...netlink.Message) ([]netlink.Message, error) {
	seq := reqs[0].Header.Sequence
	for i := range msgs {
		msgs[i].Header.Sequence = seq
	}
	if reqs[0].Header.Flags&netlink.Dump != 0 {
		for i := range msgs {
			msgs[i].Header.Flags |= netlink.Multi
		}
		msgs = append(msgs, netlink.Message{
			Header: netlink.Header{Type: netlink.Done, Flags: netlink.Multi, Sequence: seq},
			Data:   make([]byte, 4),
		})
	}
	return msgs, nil
}

// errReply is the kernel's ack (errno 0) or error for reqs[0]; the
// request's flags are not echoed (NLM_F_EXCL would read as NLM_F_ACK_TLVS).
func errReply(errno int, reqs []netlink.Message) ([]netlink.Message, error) {
	r := []netlink.Message{reqs[0]}
	r[0].Header.Flags = 0
	return nltest.Error(errno, r)
}

func attrs(t *testing.T, a []netlink.Attribute) []byte {
	t.Helper()
	return nltest.MustMarshalAttributes(a)
}

func linkMsg(t *testing.T, index int, flags uint32, name string, mtu uint32, kind string) netlink.Message {
	a := []netlink.Attribute{
		{Type: unix.IFLA_IFNAME, Data: append([]byte(name), 0)},
		{Type: unix.IFLA_MTU, Data: nlUint32(mtu)},
	}
	if kind != "" {
		a = append(a, netlink.Attribute{Type: unix.IFLA_LINKINFO, Data: attrs(t, []netlink.Attribute{
			{Type: unix.IFLA_INFO_KIND, Data: append([]byte(kind), 0)},
		})})
	}
	return netlink.Message{
		Header: netlink.Header{Type: unix.RTM_NEWLINK},
		Data:   append(ifinfomsg(index, flags, 0), attrs(t, a)...),
	}
}

func nlUint32(v uint32) []byte {
	b := make([]byte, 4)
	nativeEndian.PutUint32(b, v)
	return b
}

func TestLinkByName(t *testing.T) {
	var got netlink.Message
	c := newConn(nltest.Dial(func(reqs []netlink.Message) ([]netlink.Message, error) {
		got = reqs[0]
		return reply(reqs, linkMsg(t, 7, unix.IFF_UP|unix.IFF_NOARP, "tunl0", 1480, "ipip"))
	}))
	l, err := c.LinkByName("tunl0")
	if err != nil {
		t.Fatal(err)
	}
	if l != (Link{Index: 7, Name: "tunl0", Flags: unix.IFF_UP | unix.IFF_NOARP, MTU: 1480, Kind: "ipip"}) || !l.Up() {
		t.Fatalf("LinkByName = %+v", l)
	}
	if got.Header.Type != unix.RTM_GETLINK || got.Header.Flags&netlink.Dump != 0 {
		t.Fatalf("request header %+v: want RTM_GETLINK without NLM_F_DUMP", got.Header)
	}
	want := append(ifinfomsg(0, 0, 0), attrs(t, []netlink.Attribute{{Type: unix.IFLA_IFNAME, Data: []byte("tunl0\x00")}})...)
	if !bytes.Equal(got.Data, want) {
		t.Fatalf("request body\n got %x\nwant %x", got.Data, want)
	}
}

func TestLinkByNameMissing(t *testing.T) {
	c := newConn(nltest.Dial(func(reqs []netlink.Message) ([]netlink.Message, error) {
		return errReply(int(unix.ENODEV), reqs)
	}))
	_, err := c.LinkByName("nope0")
	if !errors.Is(err, ErrNotFound) || !errors.Is(err, unix.ENODEV) || !strings.Contains(err.Error(), "nope0") {
		t.Fatalf("err = %v; want ErrNotFound naming nope0", err)
	}
}

func TestLinkSetUp(t *testing.T) {
	var got netlink.Message
	c := newConn(nltest.Dial(func(reqs []netlink.Message) ([]netlink.Message, error) {
		got = reqs[0]
		return errReply(0, reqs)
	}))
	if err := c.LinkSetUp(9, true); err != nil {
		t.Fatal(err)
	}
	if got.Header.Type != unix.RTM_NEWLINK || got.Header.Flags&netlink.Create != 0 {
		t.Fatalf("header %+v: want RTM_NEWLINK without NLM_F_CREATE", got.Header)
	}
	if !bytes.Equal(got.Data, ifinfomsg(9, unix.IFF_UP, unix.IFF_UP)) {
		t.Fatalf("body %x", got.Data)
	}
	if err := c.LinkSetUp(9, false); err != nil || !bytes.Equal(got.Data, ifinfomsg(9, 0, unix.IFF_UP)) {
		t.Fatalf("down: %v, body %x", err, got.Data)
	}
}

// EnsureLink: a present link of the right kind is left alone; a missing
// one is created with CREATE|EXCL; EEXIST (the module's fallback device
// appeared on autoload) is "there, not created".
func TestEnsureLink(t *testing.T) {
	for _, tc := range []struct {
		name        string
		lookup      func(reqs []netlink.Message) ([]netlink.Message, error)
		create      int // errno of the create, -1: no create expected
		wantCreated bool
		wantErr     string
	}{
		{"present", func(r []netlink.Message) ([]netlink.Message, error) {
			return reply(r, linkMsg(t, 3, 0, "tunl0", 1480, "ipip"))
		}, -1, false, ""},
		{"other-kind", func(r []netlink.Message) ([]netlink.Message, error) {
			return reply(r, linkMsg(t, 3, 0, "tunl0", 1500, "veth"))
		}, -1, false, `kind "veth", not "ipip"`},
		{"created", func(r []netlink.Message) ([]netlink.Message, error) { return errReply(int(unix.ENODEV), r) }, 0, true, ""},
		{"fallback-appeared", func(r []netlink.Message) ([]netlink.Message, error) { return errReply(int(unix.ENODEV), r) }, int(unix.EEXIST), false, ""},
		{"no-module", func(r []netlink.Message) ([]netlink.Message, error) { return errReply(int(unix.ENODEV), r) }, int(unix.EOPNOTSUPP), false, "load its module"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var creates []netlink.Message
			c := newConn(nltest.Dial(func(reqs []netlink.Message) ([]netlink.Message, error) {
				if reqs[0].Header.Type == unix.RTM_GETLINK {
					return tc.lookup(reqs)
				}
				creates = append(creates, reqs[0])
				return errReply(tc.create, reqs)
			}))
			created, err := c.EnsureLink("ipip", "tunl0")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || created != tc.wantCreated {
				t.Fatalf("EnsureLink = %v, %v; want %v", created, err, tc.wantCreated)
			}
			if tc.create < 0 {
				if len(creates) != 0 {
					t.Fatalf("sent a create for a present link")
				}
				return
			}
			if len(creates) != 1 {
				t.Fatalf("%d creates sent, want 1", len(creates))
			}
			m := creates[0]
			wantFlags := netlink.Request | netlink.Acknowledge | netlink.Create | netlink.Excl
			if m.Header.Type != unix.RTM_NEWLINK || m.Header.Flags != wantFlags {
				t.Fatalf("create header %+v", m.Header)
			}
			l, err := parseLink(m.Data)
			if err != nil || l.Name != "tunl0" || l.Kind != "ipip" {
				t.Fatalf("create body decodes to %+v, %v", l, err)
			}
		})
	}
}

func addrMsg(t *testing.T, fam uint8, plen, scope uint8, index int, a []netlink.Attribute) netlink.Message {
	return netlink.Message{
		Header: netlink.Header{Type: unix.RTM_NEWADDR},
		Data:   append(ifaddrmsg(fam, plen, scope, index), attrs(t, a)...),
	}
}

func TestAddrList(t *testing.T) {
	v4 := netip.MustParseAddr("10.0.0.1")
	peer := netip.MustParseAddr("10.9.9.9")
	v6 := netip.MustParseAddr("2001:db8::1")
	c := newConn(nltest.Dial(func(reqs []netlink.Message) ([]netlink.Message, error) {
		if reqs[0].Header.Flags&netlink.Dump == 0 {
			t.Errorf("AddrList without NLM_F_DUMP")
		}
		return reply(reqs,
			addrMsg(t, unix.AF_INET, 32, 0, 1, []netlink.Attribute{
				{Type: unix.IFA_ADDRESS, Data: peer.AsSlice()}, {Type: unix.IFA_LOCAL, Data: v4.AsSlice()}}),
			addrMsg(t, unix.AF_INET6, 128, 0, 1, []netlink.Attribute{{Type: unix.IFA_ADDRESS, Data: v6.AsSlice()}}),
			addrMsg(t, unix.AF_INET, 24, 0, 2, []netlink.Attribute{{Type: unix.IFA_LOCAL, Data: []byte{192, 0, 2, 10}}}),
		)
	}))
	got, err := c.AddrList(1)
	if err != nil {
		t.Fatal(err)
	}
	want := []Addr{
		{Index: 1, Prefix: netip.MustParsePrefix("10.0.0.1/32")},
		{Index: 1, Prefix: netip.MustParsePrefix("2001:db8::1/128")},
	}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("AddrList(1) = %+v, want %+v (IFA_LOCAL wins over the peer in IFA_ADDRESS)", got, want)
	}
	all, err := c.AddrList(0)
	if err != nil || len(all) != 3 || all[2].Prefix.String() != "192.0.2.10/24" {
		t.Fatalf("AddrList(0) = %+v, %v (host bits must stay)", all, err)
	}
}

func TestAddrAddDel(t *testing.T) {
	var got []netlink.Message
	errno := 0
	c := newConn(nltest.Dial(func(reqs []netlink.Message) ([]netlink.Message, error) {
		got = append(got, reqs[0])
		return errReply(errno, reqs)
	}))
	p := netip.MustParsePrefix("10.0.0.1/32")
	if err := c.AddrAdd(1, p); err != nil {
		t.Fatal(err)
	}
	m := got[0]
	if m.Header.Type != unix.RTM_NEWADDR || m.Header.Flags != netlink.Request|netlink.Acknowledge|netlink.Create|netlink.Excl {
		t.Fatalf("add header %+v", m.Header)
	}
	want := append(ifaddrmsg(unix.AF_INET, 32, unix.RT_SCOPE_UNIVERSE, 1), attrs(t, []netlink.Attribute{
		{Type: unix.IFA_LOCAL, Data: []byte{10, 0, 0, 1}}, {Type: unix.IFA_ADDRESS, Data: []byte{10, 0, 0, 1}}})...)
	if !bytes.Equal(m.Data, want) {
		t.Fatalf("add body\n got %x\nwant %x", m.Data, want)
	}

	errno = int(unix.EEXIST)
	if err := c.AddrAdd(1, p); !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "10.0.0.1/32") {
		t.Fatalf("add of a present address: %v", err)
	}

	errno = 0
	p6 := netip.MustParsePrefix("2001:db8::1/128")
	if err := c.AddrDel(1, p6); err != nil {
		t.Fatal(err)
	}
	m = got[len(got)-1]
	if m.Header.Type != unix.RTM_DELADDR || m.Data[0] != unix.AF_INET6 || m.Data[1] != 128 {
		t.Fatalf("del header %+v body %x", m.Header, m.Data)
	}
	errno = int(unix.EADDRNOTAVAIL)
	if err := c.AddrDel(1, p6); !errors.Is(err, ErrNotFound) {
		t.Fatalf("del of a missing address: %v", err)
	}
	if err := c.AddrAdd(1, netip.Prefix{}); err == nil || !strings.Contains(err.Error(), "not valid") {
		t.Fatalf("add of an invalid prefix: %v", err)
	}
}

func TestKernelMessageKept(t *testing.T) {
	c := newConn(nltest.Dial(func(reqs []netlink.Message) ([]netlink.Message, error) {
		return errReply(int(unix.EPERM), reqs)
	}))
	err := c.LinkSetUp(1, true)
	if !errors.Is(err, unix.EPERM) || errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v", err)
	}
}
