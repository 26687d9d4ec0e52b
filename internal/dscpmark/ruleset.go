package dscpmark

import (
	"encoding/binary"
	"fmt"
	"github.com/l3dsr/l3dsr/dsrtypes"
	"net/netip"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// TableName is the name of the package's own table, of family inet. The
// package creates, changes and deletes objects in this table only.
const TableName = "l3dsr"

const (
	chainPrerouting = "prerouting"
	mapVIP4         = "vip4"
	mapVIP6         = "vip6"
)

var table = &nftables.Table{Name: TableName, Family: nftables.TableFamilyINet}

// The map keys: daddr . l4proto . th dport, each field padded to the
// 4-byte register size (an IPv4 key is 12 bytes, an IPv6 key 24).
var (
	keyType4 = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetProto, nftables.TypeInetService)
	keyType6 = nftables.MustConcatSetType(nftables.TypeIP6Addr, nftables.TypeInetProto, nftables.TypeInetService)
)

func mapName(is4 bool) string {
	if is4 {
		return mapVIP4
	}
	return mapVIP6
}

func vipMap(name string) *nftables.Set {
	kt := keyType6
	if name == mapVIP4 {
		kt = keyType4
	}
	return &nftables.Set{
		Table:         table,
		Name:          name,
		IsMap:         true,
		Concatenation: true,
		KeyType:       kt,
		DataType:      nftables.TypeVerdict,
	}
}

// dscpChain names the chain that sets code d: dscp4_d for IPv4 (the
// TOS byte, with the header checksum), dscp6_d for IPv6 (the traffic
// class). One chain per family and code in use.
func dscpChain(is4 bool, d uint8) string {
	if is4 {
		return "dscp4_" + strconv.Itoa(int(d))
	}
	return "dscp6_" + strconv.Itoa(int(d))
}

// parseDSCPChain is dscpChain's inverse; ok is false for any other name.
func parseDSCPChain(name string) (is4 bool, d uint8, ok bool) {
	var rest string
	switch {
	case strings.HasPrefix(name, "dscp4_"):
		is4, rest = true, name[len("dscp4_"):]
	case strings.HasPrefix(name, "dscp6_"):
		rest = name[len("dscp6_"):]
	default:
		return false, 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 || n > int(dsrtypes.MaxDSCP) || dscpChain(is4, uint8(n)) != name {
		return false, 0, false
	}
	return is4, uint8(n), true
}

// Registers as nft numbers them: 1 is the first 16-byte register (the
// 32-bit registers 8 to 11), 9 is the 32-bit register after the start of
// register 1, and so on. nft places each field of a concatenation in the
// next free 32-bit register, and the lookup reads them as one key.
const (
	regVerdict = 0 // NFT_REG_VERDICT
	reg1       = 1 // NFT_REG_1 = NFT_REG32_00..03
	reg2       = 2 // NFT_REG_2 = NFT_REG32_04..07
	reg32of    = 8 // NFT_REG32_00
)

// preroutingRule returns, for one family, the expressions nft generates for
//
//	meta nfproto ipv4 ip daddr . meta l4proto . th dport vmap @vip4
//	meta nfproto ipv6 ip6 daddr . meta l4proto . th dport vmap @vip6
//
// (`nft --debug=netlink` prints them; the unit tests compare).
func preroutingRule(is4 bool) []expr.Any {
	nfproto := byte(unix.NFPROTO_IPV6)
	addrOff, addrLen := uint32(24), uint32(16)
	protoReg, portReg := uint32(reg2), uint32(reg32of+5)
	if is4 {
		nfproto = unix.NFPROTO_IPV4
		addrOff, addrLen = 16, 4
		protoReg, portReg = reg32of+1, reg32of+2
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: reg1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{nfproto}},
		&expr.Payload{OperationType: expr.PayloadLoad, DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: addrOff, Len: addrLen},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: protoReg},
		&expr.Payload{OperationType: expr.PayloadLoad, DestRegister: portReg, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Lookup{SourceRegister: reg1, DestRegister: regVerdict, IsDestRegSet: true, SetName: mapName(is4)},
	}
}

// dscpRule returns the expressions of `ip dscp set d` (`ip6 dscp set d`):
// load the first two bytes of the network header, keep everything but
// the DSCP bits (so ECN survives), put d in, write back; for IPv4 with
// the incremental header checksum update at offset 10.
func dscpRule(is4 bool, d uint8) []expr.Any {
	nfproto := byte(unix.NFPROTO_IPV6)
	// IPv6: version(4) traffic class(8) flow label(20); DSCP is the
	// class's upper 6 bits, across the byte boundary.
	mask := []byte{0xf0, 0x3f}
	xor := []byte{d >> 2, (d & 3) << 6}
	csum := expr.CsumTypeNone
	csumOff := uint32(0)
	if is4 {
		nfproto = unix.NFPROTO_IPV4
		// IPv4: version/IHL, then TOS = DSCP(6) ECN(2).
		mask = []byte{0xff, 0x03}
		xor = []byte{0x00, d << 2}
		csum, csumOff = expr.CsumTypeInet, 10
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: reg1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{nfproto}},
		&expr.Payload{OperationType: expr.PayloadLoad, DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: 0, Len: 2},
		&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 2, Mask: mask, Xor: xor},
		&expr.Payload{OperationType: expr.PayloadWrite, SourceRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: 0, Len: 2, CsumType: csum, CsumOffset: csumOff},
	}
}

// chainRules returns the rules a chain of ours holds; ok is false for a
// name that is not ours.
func chainRules(name string) (rules [][]expr.Any, ok bool) {
	if name == chainPrerouting {
		return [][]expr.Any{preroutingRule(true), preroutingRule(false)}, true
	}
	is4, d, ok := parseDSCPChain(name)
	if !ok {
		return nil, false
	}
	return [][]expr.Any{dscpRule(is4, d)}, true
}

func chainObj(name string) *nftables.Chain {
	c := &nftables.Chain{Name: name, Table: table}
	if name == chainPrerouting {
		// Priority mangle (-150): after conntrack (-200) and before the
		// routing decision, so before IPVS, which takes the packet in
		// LOCAL_IN (or FORWARD).
		c.Type = nftables.ChainTypeFilter
		c.Hooknum = nftables.ChainHookPrerouting
		c.Priority = nftables.ChainPriorityMangle
		accept := nftables.ChainPolicyAccept
		c.Policy = &accept
	}
	return c
}

// elemKey encodes k as the map stores it.
func elemKey(k key) []byte {
	a := k.vip.AsSlice()
	b := make([]byte, len(a)+8)
	copy(b, a)
	b[len(a)] = k.proto
	binary.BigEndian.PutUint16(b[len(a)+4:], k.port)
	return b
}

// parseElemKey is elemKey's inverse.
func parseElemKey(b []byte) (key, error) {
	var n int
	switch len(b) {
	case 12:
		n = 4
	case 24:
		n = 16
	default:
		return key{}, fmt.Errorf("a map key of %d bytes, want 12 (IPv4) or 24 (IPv6)", len(b))
	}
	a, _ := netip.AddrFromSlice(b[:n])
	return key{vip: a, proto: b[n], port: binary.BigEndian.Uint16(b[n+4:])}, nil
}

// parseVerdict decodes a verdict map element's data (NFTA_DATA_VERDICT's
// content): a verdict code and, for jump and goto, a chain.
func parseVerdict(b []byte) (code int32, chain string, err error) {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return 0, "", err
	}
	ad.ByteOrder = binary.BigEndian
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_VERDICT_CODE:
			code = int32(ad.Uint32())
		case unix.NFTA_VERDICT_CHAIN:
			chain = ad.String()
		}
	}
	return code, chain, ad.Err()
}

func verdictString(code int32, chain string) string {
	switch code {
	case unix.NFT_GOTO:
		return "goto " + chain
	case unix.NFT_JUMP:
		return "jump " + chain
	case unix.NFT_RETURN:
		return "return"
	case 1: // NF_ACCEPT
		return "accept"
	case 0: // NF_DROP
		return "drop"
	case unix.NFT_CONTINUE:
		return "continue"
	}
	return fmt.Sprintf("verdict %d", code)
}

// SetDSCP returns the expressions of `ip dscp set d` (is4) or `ip6 dscp
// set d`, for the probes' own table (internal/probe), which marks as this
// package does.
func SetDSCP(is4 bool, d uint8) []expr.Any { return dscpRule(is4, d) }
