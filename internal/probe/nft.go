package probe

import (
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/dscpmark"
	"golang.org/x/sys/unix"
)

// tableName is the probes' own nft table, of family inet.
const tableName = "l3dsr_probe"

var table = &nftables.Table{Name: tableName, Family: nftables.TableFamilyINet}

// outputChain: type route, so that the kernel routes a packet again after a
// rule changed its destination; priority mangle (-150) runs after conntrack
// (-200), which so records the probe as sent to the VIP and matches the
// VIP's answer, and before IPVS's LOCAL_OUT hook (-99).
func outputChain() *nftables.Chain {
	accept := nftables.ChainPolicyAccept
	return &nftables.Chain{
		Name: "output", Table: table, Type: nftables.ChainTypeRoute,
		Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityMangle, Policy: &accept,
	}
}

// skipRule: `meta mark & 0xffff0000 != 0x4c330000 accept`. Every packet the
// director sends goes through the chain; this one comparison is all that
// what is not a probe pays.
func skipRule() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(markMask), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(markBase)},
		&expr.Verdict{Kind: expr.VerdictAccept},
	}
}

// steerRule: `meta mark M ip dscp set D ip daddr set RIP` (ip6 for IPv6):
// the probe of a dscp-mode real leaves as the director's IPVS sends a
// client's packet to it. An addr-mode real (w.Mode) gets the address alone,
// `meta mark M ip daddr set RIP`: the director marks nothing there, and a
// probe that carried a code would test a path no client takes.
func steerRule(mark uint32, w Want) []expr.Any {
	rip := w.Real
	is4 := rip.Is4()
	e := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(mark)},
	}
	if w.Mode != dsrtypes.ModeAddr {
		e = append(e, dscpmark.SetDSCP(is4, w.DSCP)...)
	} else {
		// The family check the DSCP write brings with it: an address
		// is written only into a header of its own family.
		nfproto := byte(unix.NFPROTO_IPV6)
		if is4 {
			nfproto = unix.NFPROTO_IPV4
		}
		e = append(e, &expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{nfproto}})
	}
	// The address write updates the IPv4 header checksum (at offset 10)
	// and, through the pseudo-header, the TCP or UDP one, as `ip daddr
	// set` does.
	off, csum, csumOff := uint32(24), expr.CsumTypeNone, uint32(0)
	if is4 {
		off, csum, csumOff = 16, expr.CsumTypeInet, 10
	}
	return append(e,
		&expr.Immediate{Register: 1, Data: rip.AsSlice()},
		&expr.Payload{OperationType: expr.PayloadWrite, SourceRegister: 1, Base: expr.PayloadBaseNetworkHeader,
			Offset: off, Len: uint32(rip.BitLen() / 8), CsumType: csum, CsumOffset: csumOff,
			CsumFlags: unix.NFT_PAYLOAD_L4CSUM_PSEUDOHDR},
	)
}

// hostTable makes table inet l3dsr_probe hold exactly the steering rules of
// steer (mark → real), in one transaction: the table is created (so that
// deleting it cannot fail), deleted, and created again with its content.
// With nothing to steer the table is left deleted.
func hostTable(steer []Want, marks []uint32) error {
	c, err := nftables.New(dscpmark.WithBuffers)
	if err != nil {
		return fmt.Errorf("opening nftables for the health probes: %w", err)
	}
	c.AddTable(table)
	c.DelTable(table)
	if len(steer) > 0 {
		c.AddTable(table)
		ch := c.AddChain(outputChain())
		c.AddRule(&nftables.Rule{Table: table, Chain: ch, Exprs: skipRule()})
		for i, w := range steer {
			c.AddRule(&nftables.Rule{Table: table, Chain: ch, Exprs: steerRule(marks[i], w)})
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("writing nftables table inet %s (%d probe routes): %w", tableName, len(steer), err)
	}
	return nil
}
