package ipvs

import (
	"encoding/binary"
	"github.com/l3dsr/l3dsr/internal/nl"
	"io"
	"testing"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/genetlink/genltest"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

const fakeFamilyID = 0x23

// request is one request the fake kernel received.
type request struct {
	cmd     uint8
	version uint8
	flags   netlink.HeaderFlags
	data    []byte
}

// fakeKernel answers for the IPVS family through genltest and records
// every request. reply, when set, answers a request; otherwise requests are
// acknowledged.
type fakeKernel struct {
	t        *testing.T
	requests []request
	reply    func(r request) ([]genetlink.Message, error)
}

func newFake(t *testing.T, reply func(r request) ([]genetlink.Message, error)) (*fakeKernel, *Client) {
	t.Helper()
	k := &fakeKernel{t: t, reply: reply}
	fam := genetlink.Family{ID: fakeFamilyID, Name: familyName, Version: genlVersion}
	conn := genltest.Dial(genltest.ServeFamily(fam, k.serve))
	c, err := newClient(conn)
	if err != nil {
		t.Fatalf("newClient: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return k, c
}

// newClient is a client over an open connection (the tests' fake kernel).
func newClient(conn *genetlink.Conn) (*Client, error) {
	return clientOf(nl.Open(conn, familyName, genlVersion, ErrNotAvailable))
}

func (k *fakeKernel) serve(greq genetlink.Message, nreq netlink.Message) ([]genetlink.Message, error) {
	if nreq.Header.Type != fakeFamilyID {
		k.t.Errorf("request to family %d, want %d", nreq.Header.Type, fakeFamilyID)
	}
	r := request{cmd: greq.Header.Command, version: greq.Header.Version, flags: nreq.Header.Flags, data: greq.Data}
	k.requests = append(k.requests, r)
	if k.reply != nil {
		msgs, err := k.reply(r)
		if err != nil || len(msgs) > 0 {
			return msgs, err
		}
	}
	if r.flags&netlink.Acknowledge != 0 {
		return nil, genltest.Error(0) // the kernel's ack: an NLMSG_ERROR with errno 0
	}
	return nil, io.EOF // an empty dump
}

// only returns the one request the fake received.
func (k *fakeKernel) only() request {
	k.t.Helper()
	if len(k.requests) != 1 {
		k.t.Fatalf("%d requests sent, want 1", len(k.requests))
	}
	return k.requests[0]
}

// errno makes the fake refuse every request with e.
func errno(e unix.Errno) func(request) ([]genetlink.Message, error) {
	return func(request) ([]genetlink.Message, error) { return nil, genltest.Error(int(e)) }
}

// Raw attribute builders, independent of the package's encoder, so that
// the tests state the bytes the kernel expects.
type attr = netlink.Attribute

func a(typ uint16, data []byte) attr { return attr{Type: typ, Data: data} }

func nest(typ uint16, attrs ...attr) attr {
	return attr{Type: typ | netlink.Nested, Data: marshal(attrs...)}
}

func marshal(attrs ...attr) []byte {
	b, err := netlink.MarshalAttributes(attrs)
	if err != nil {
		panic(err)
	}
	return b
}

func u8(v uint8) []byte   { return []byte{v} }
func u16(v uint16) []byte { return binary.NativeEndian.AppendUint16(nil, v) }
func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }
func u64(v uint64) []byte { return binary.NativeEndian.AppendUint64(nil, v) }
func n16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func n32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func str(s string) []byte { return append([]byte(s), 0) }

// flagsAttr is struct ip_vs_flags with every bit in the mask.
func flagsAttr(f uint32) []byte { return append(u32(f), u32(0xffffffff)...) }

// inet is a union nf_inet_addr: 16 bytes, IPv4 in the first 4.
func inet(b ...byte) []byte { return append(b, make([]byte, 16-len(b))...) }

// reply builds one reply message of the kernel.
func reply(cmd uint8, attrs ...attr) genetlink.Message {
	return genetlink.Message{Header: genetlink.Header{Command: cmd, Version: genlVersion}, Data: marshal(attrs...)}
}

// sameList fails t unless got and want hold the same whats, in order.
func sameList[T comparable](t *testing.T, what string, got, want []T) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d %ss, want %d: %+v", len(got), what, len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%s %d:\n got %+v\nwant %+v", what, i, got[i], want[i])
		}
	}
}
