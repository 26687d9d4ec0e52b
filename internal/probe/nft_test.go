package probe

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/l3dsr/l3dsr/internal/dscpmark"
	"github.com/l3dsr/l3dsr/internal/ipvs"
	"golang.org/x/sys/unix"
)

// The steering rule, expression by expression: a dscp-mode real's probe
// gets the code and the RIP, an addr-mode real's the RIP alone, checked
// for its family, and no DSCP write (the director marks nothing there).
func TestSteerRule(t *testing.T) {
	const mark = 0x4c330007
	head := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(mark)},
	}
	family := func(p byte) []expr.Any {
		return []expr.Any{&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}}}
	}
	daddr := func(rip netip.Addr) []expr.Any {
		off, csum, csumOff := uint32(24), expr.CsumTypeNone, uint32(0)
		if rip.Is4() {
			off, csum, csumOff = 16, expr.CsumTypeInet, 10
		}
		return []expr.Any{
			&expr.Immediate{Register: 1, Data: rip.AsSlice()},
			&expr.Payload{OperationType: expr.PayloadWrite, SourceRegister: 1, Base: expr.PayloadBaseNetworkHeader,
				Offset: off, Len: uint32(rip.BitLen() / 8), CsumType: csum, CsumOffset: csumOff, CsumFlags: unix.NFT_PAYLOAD_L4CSUM_PSEUDOHDR},
		}
	}
	cat := func(parts ...[]expr.Any) []expr.Any {
		var out []expr.Any
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	rip4, rip6 := netip.MustParseAddr("203.0.113.30"), netip.MustParseAddr("2001:db8:1::30")
	for _, c := range []struct {
		name string
		w    Want
		want []expr.Any
	}{
		{"dscp v4", Want{Mode: "dscp", DSCP: 21, Real: rip4}, cat(head, dscpmark.SetDSCP(true, 21), daddr(rip4))},
		{"dscp v6", Want{Mode: "dscp", DSCP: 21, Real: rip6}, cat(head, dscpmark.SetDSCP(false, 21), daddr(rip6))},
		{"addr v4", Want{Mode: "addr", Real: rip4}, cat(head, family(unix.NFPROTO_IPV4), daddr(rip4))},
		{"addr v6", Want{Mode: "addr", Real: rip6}, cat(head, family(unix.NFPROTO_IPV6), daddr(rip6))},
	} {
		got := steerRule(mark, c.w)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: steerRule =\n%#v\nwant\n%#v", c.name, got, c.want)
		}
		// No write of the header's first bytes (the TOS or traffic class)
		// in addr mode: the client's DSCP is what the real server sees.
		for _, e := range got {
			if p, ok := e.(*expr.Payload); ok && p.OperationType == expr.PayloadWrite && p.Offset == 0 && c.w.Mode == "addr" {
				t.Errorf("%s: writes the DSCP: %#v", c.name, p)
			}
		}
	}
}

// An addr-mode real is steered like a dscp one (the nft rule), not
// tunnelled; its Want keeps no code.
func TestSyncAddr(t *testing.T) {
	sc := fakeSysctl{"net.ipv4.conf.eth0.accept_local": "1", "net.ipv4.conf.all.rp_filter": "0", "net.ipv4.conf.eth0.rp_filter": "0"}
	p, fi, ft := newPaths(sc)
	w := Want{VIP: vip, Port: 443, Proto: ipvs.ProtoTCP, Mode: "addr", Real: rip2}
	routes, err := p.Sync([]Want{w})
	if err != nil {
		t.Fatal(err)
	}
	if len(routes) != 1 || routes[0].Mark != 0x4c330001 {
		t.Fatalf("routes %v", routes)
	}
	if len(ft.steer) != 1 || ft.steer[0] != w || ft.marks[0] != 0x4c330001 {
		t.Fatalf("steered %v %v, want the addr real with mark 0x4c330001", ft.steer, ft.marks)
	}
	if len(fi.dests) != 0 || len(fi.calls) != 0 {
		t.Fatalf("an addr real made a tunnel probe service: %v %q", fi.dests, fi.calls)
	}
}
