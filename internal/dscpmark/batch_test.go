package dscpmark

import (
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/l3dsr/l3dsr/dsrtypes"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nltest"
	"golang.org/x/sys/unix"
)

// emptyKernel is a fake nf_tables without table inet l3dsr: it answers a
// table lookup with ENOENT, acknowledges every batch message and records
// the batches it got.
type emptyKernel struct {
	batches  [][]netlink.Message
	requests int
}

func (k *emptyKernel) dial(req []netlink.Message) ([]netlink.Message, error) {
	if req == nil { // a Receive after a batch: the next acknowledgement
		return []netlink.Message{{Header: netlink.Header{Type: netlink.Error}, Data: make([]byte, 20)}}, nil
	}
	k.requests++
	if req[0].Header.Type == netlink.HeaderType(unix.NFNL_MSG_BATCH_BEGIN) {
		k.batches = append(k.batches, req[1:len(req)-1])
		return nil, nil
	}
	if req[0].Header.Type == netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8|unix.NFT_MSG_GETTABLE) {
		return nltest.Error(int(unix.ENOENT), req)
	}
	return nil, fmt.Errorf("emptyKernel: unexpected request type %#x", req[0].Header.Type)
}

func (k *emptyKernel) marker() *marker {
	return newMarker(nftables.WithTestDial(k.dial))
}

var msgNames = map[int]string{
	unix.NFT_MSG_NEWTABLE:   "NEWTABLE",
	unix.NFT_MSG_DELTABLE:   "DELTABLE",
	unix.NFT_MSG_NEWCHAIN:   "NEWCHAIN",
	unix.NFT_MSG_DELCHAIN:   "DELCHAIN",
	unix.NFT_MSG_NEWRULE:    "NEWRULE",
	unix.NFT_MSG_DELRULE:    "DELRULE",
	unix.NFT_MSG_NEWSET:     "NEWSET",
	unix.NFT_MSG_NEWSETELEM: "NEWSETELEM",
	unix.NFT_MSG_DELSETELEM: "DELSETELEM",
}

func attrs(t *testing.T, b []byte) map[uint16][]byte {
	t.Helper()
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint16][]byte{}
	for ad.Next() {
		out[ad.Type()] = ad.Bytes()
	}
	if err := ad.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func list(t *testing.T, b []byte) [][]byte {
	t.Helper()
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for ad.Next() {
		out = append(out, ad.Bytes())
	}
	return out
}

func cstr(b []byte) string { return strings.TrimRight(string(b), "\x00") }

// describe renders a batch message: its type and object, for a rule its
// expressions as `nft --debug=netlink` prints them, for elements their
// keys and verdicts likewise, for a map its kernel attributes.
func describe(t *testing.T, m netlink.Message) string {
	t.Helper()
	typ := msgNames[int(m.Header.Type&0xff)]
	if m.Data[0] != unix.NFPROTO_INET {
		t.Errorf("%s: family %d, want inet (%d)", typ, m.Data[0], unix.NFPROTO_INET)
	}
	a := attrs(t, m.Data[4:])
	switch m.Header.Type & 0xff {
	case unix.NFT_MSG_NEWTABLE:
		return typ + " " + cstr(a[unix.NFTA_TABLE_NAME])
	case unix.NFT_MSG_NEWCHAIN:
		s := fmt.Sprintf("%s %s %s", typ, cstr(a[unix.NFTA_CHAIN_TABLE]), cstr(a[unix.NFTA_CHAIN_NAME]))
		if h, ok := a[unix.NFTA_CHAIN_HOOK]; ok {
			ha := attrs(t, h)
			s += fmt.Sprintf(" type %s hook %d prio %d", cstr(a[unix.NFTA_CHAIN_TYPE]),
				binary.BigEndian.Uint32(ha[unix.NFTA_HOOK_HOOKNUM]), int32(binary.BigEndian.Uint32(ha[unix.NFTA_HOOK_PRIORITY])))
		}
		return s
	case unix.NFT_MSG_NEWSET:
		u32 := func(t uint16) uint32 { return binary.BigEndian.Uint32(a[t]) }
		return fmt.Sprintf("%s %s flags %#x key type %#x len %d data type %#x len %d", typ, cstr(a[unix.NFTA_SET_NAME]),
			u32(unix.NFTA_SET_FLAGS), u32(unix.NFTA_SET_KEY_TYPE), u32(unix.NFTA_SET_KEY_LEN), u32(unix.NFTA_SET_DATA_TYPE), u32(unix.NFTA_SET_DATA_LEN))
	case unix.NFT_MSG_NEWRULE:
		var lines []string
		for _, le := range list(t, a[unix.NFTA_RULE_EXPRESSIONS]) {
			ea := attrs(t, le)
			e := exprByName(cstr(ea[unix.NFTA_EXPR_NAME]))
			if e == nil {
				t.Fatalf("NEWRULE: unexpected expression %q", cstr(ea[unix.NFTA_EXPR_NAME]))
			}
			if err := nftablesUnmarshal(e, ea[unix.NFTA_EXPR_DATA]); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, "  "+nftDebug(e))
		}
		return fmt.Sprintf("%s %s %s\n%s", typ, cstr(a[unix.NFTA_RULE_TABLE]), cstr(a[unix.NFTA_RULE_CHAIN]), strings.Join(lines, "\n"))
	case unix.NFT_MSG_NEWSETELEM, unix.NFT_MSG_DELSETELEM:
		lines := []string{fmt.Sprintf("%s %s %s", typ, cstr(a[unix.NFTA_SET_ELEM_LIST_TABLE]), cstr(a[unix.NFTA_SET_ELEM_LIST_SET]))}
		for _, el := range list(t, a[unix.NFTA_SET_ELEM_LIST_ELEMENTS]) {
			ea := attrs(t, el)
			k := attrs(t, ea[unix.NFTA_SET_ELEM_KEY])[unix.NFTA_DATA_VALUE]
			s := "\telement " + nftWords(k) + " "
			if d, ok := ea[unix.NFTA_SET_ELEM_DATA]; ok {
				code, chain, err := parseVerdict(attrs(t, d)[unix.NFTA_DATA_VERDICT])
				if err != nil {
					t.Fatal(err)
				}
				s += " : " + map[int32]string{unix.NFT_GOTO: "goto"}[code] + " -> " + chain + " 0"
			}
			lines = append(lines, s+" [end]")
		}
		return strings.Join(lines, "\n")
	}
	return typ
}

// TestAddBatch checks every message of the batch that Add sends to a
// kernel without our table against what nft sends for the equivalent
// nft text (`nft --debug=netlink` for the rules and elements; `nft
// --debug=mnl` for the maps' key and data types).
func TestAddBatch(t *testing.T) {
	k := &emptyKernel{}
	err := k.marker().Add(
		Mark{VIP: netip.MustParseAddr("10.80.0.1"), Proto: unix.IPPROTO_TCP, Port: 80, DSCP: 21},
		Mark{VIP: netip.MustParseAddr("2001:db8:80::1"), Proto: unix.IPPROTO_UDP, Port: 7, DSCP: 22},
	)
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	if len(k.batches) != 1 {
		t.Fatalf("Add sent %d batches, want 1", len(k.batches))
	}
	var got []string
	for _, m := range k.batches[0] {
		got = append(got, describe(t, m))
	}
	want := []string{
		"NEWTABLE l3dsr",
		// nft: key type 0x730d (ipv4_addr . inet_proto . inet_service), len 12;
		// data type 0xffffff00 (verdict), len 0. Flags: map (0x8), concat (0x80).
		"NEWSET vip4 flags 0x88 key type 0x730d len 12 data type 0xffffff00 len 0",
		"NEWSET vip6 flags 0x88 key type 0x830d len 24 data type 0xffffff00 len 0",
		"NEWCHAIN l3dsr prerouting type filter hook 0 prio -150",
		`NEWRULE l3dsr prerouting
  [ meta load nfproto => reg 1 ]
  [ cmp eq reg 1 0x00000002 ]
  [ payload load 4b @ network header + 16 => reg 1 ]
  [ meta load l4proto => reg 9 ]
  [ payload load 2b @ transport header + 2 => reg 10 ]
  [ lookup reg 1 set vip4 dreg 0 ]`,
		`NEWRULE l3dsr prerouting
  [ meta load nfproto => reg 1 ]
  [ cmp eq reg 1 0x0000000a ]
  [ payload load 16b @ network header + 24 => reg 1 ]
  [ meta load l4proto => reg 2 ]
  [ payload load 2b @ transport header + 2 => reg 13 ]
  [ lookup reg 1 set vip6 dreg 0 ]`,
		"NEWCHAIN l3dsr dscp4_21",
		`NEWRULE l3dsr dscp4_21
  [ meta load nfproto => reg 1 ]
  [ cmp eq reg 1 0x00000002 ]
  [ payload load 2b @ network header + 0 => reg 1 ]
  [ bitwise reg 1 = ( reg 1 & 0x000003ff ) ^ 0x00005400 ]
  [ payload write reg 1 => 2b @ network header + 0 csum_type 1 csum_off 10 csum_flags 0x0 ]`,
		"NEWCHAIN l3dsr dscp6_22",
		`NEWRULE l3dsr dscp6_22
  [ meta load nfproto => reg 1 ]
  [ cmp eq reg 1 0x0000000a ]
  [ payload load 2b @ network header + 0 => reg 1 ]
  [ bitwise reg 1 = ( reg 1 & 0x00003ff0 ) ^ 0x00008005 ]
  [ payload write reg 1 => 2b @ network header + 0 csum_type 0 csum_off 0 csum_flags 0x0 ]`,
		"NEWSETELEM l3dsr vip4\n\telement 0100500a 00000006 00005000  : goto -> dscp4_21 0 [end]",
		"NEWSETELEM l3dsr vip6\n\telement b80d0120 00008000 00000000 01000000 00000011 00000700  : goto -> dscp6_22 0 [end]",
	}
	if g, w := strings.Join(got, "\n"), strings.Join(want, "\n"); g != w {
		t.Errorf("batch:\n%s\n\nwant:\n%s", g, w)
	}
}

// TestDSCPRuleAllCodes applies each code's bitwise step to every value of
// the first two header bytes: the code lands in the DSCP bits, and the
// version, IHL, ECN and flow label bits stay as they were.
func TestDSCPRuleAllCodes(t *testing.T) {
	for d := 0; d <= int(dsrtypes.MaxDSCP); d++ {
		for _, is4 := range []bool{true, false} {
			bw := dscpRule(is4, uint8(d))[3].(*expr.Bitwise)
			for v := 0; v < 1<<16; v++ {
				in := []byte{byte(v >> 8), byte(v)}
				out := []byte{in[0]&bw.Mask[0] ^ bw.Xor[0], in[1]&bw.Mask[1] ^ bw.Xor[1]}
				var want []byte
				if is4 {
					want = []byte{in[0], byte(d)<<2 | in[1]&3}
				} else {
					tc := byte(d)<<2 | (in[1]>>4)&3
					want = []byte{in[0]&0xf0 | tc>>4, tc<<4 | in[1]&0x0f}
				}
				if out[0] != want[0] || out[1] != want[1] {
					t.Fatalf("is4=%v DSCP %d: % x -> % x, want % x", is4, d, in, out, want)
				}
			}
		}
	}
}

func nftablesUnmarshal(e expr.Any, data []byte) error {
	return expr.Unmarshal(familyInet, data, e)
}

func TestRefusedBeforeTheKernel(t *testing.T) {
	k := &emptyKernel{}
	m := k.marker()
	bad := Mark{VIP: netip.MustParseAddr("10.80.0.1"), Proto: unix.IPPROTO_TCP, Port: 80, DSCP: 64}
	if err := m.Add(bad); !errors.Is(err, errInvalid) {
		t.Errorf("Add(DSCP 64): want errInvalid, got %v", err)
	}
	if _, _, err := m.Sync([]Mark{bad}); !errors.Is(err, errInvalid) {
		t.Errorf("Sync(DSCP 64): want errInvalid, got %v", err)
	}
	if err := m.Replace(bad); !errors.Is(err, errInvalid) {
		t.Errorf("Replace(DSCP 64): want errInvalid, got %v", err)
	}
	if k.requests != 0 {
		t.Errorf("invalid marks: %d netlink requests, want none", k.requests)
	}

	good := Mark{VIP: netip.MustParseAddr("10.80.0.1"), Proto: unix.IPPROTO_TCP, Port: 80, DSCP: 1}
	err := m.Del(good)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "tcp 10.80.0.1:80") {
		t.Errorf("Del without a table: want ErrNotFound naming tcp 10.80.0.1:80, got %v", err)
	}
	if err := m.Replace(good); !errors.Is(err, ErrNotFound) {
		t.Errorf("Replace without a table: want ErrNotFound, got %v", err)
	}
	if got, err := m.List(); err != nil || len(got) != 0 {
		t.Errorf("List without a table: got %v, %v; want nothing", got, err)
	}
	if _, _, err := m.Sync(nil); err != nil {
		t.Errorf("Sync(nil) without a table: %v", err)
	}
	if err := m.Remove(); err != nil {
		t.Errorf("Remove without a table: %v", err)
	}
	if len(k.batches) != 0 {
		t.Errorf("%d batches sent, want none", len(k.batches))
	}
}

func TestNewInNetNSRefusesBadFD(t *testing.T) {
	for _, fd := range []int{0, -1} {
		if _, err := newInNetNS(fd); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("fd %d", fd)) {
			t.Errorf("newInNetNS(%d): want an error naming the fd, got %v", fd, err)
		}
	}
}
