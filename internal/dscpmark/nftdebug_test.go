package dscpmark

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// The tests compare expressions with what `nft --debug=netlink` prints for
// the equivalent nft text (libnftnl's format), so that the expected values
// are nft's own and not a copy of the code under test.

// nftWords prints b as libnftnl prints data: 32-bit words in host (x86:
// little-endian) order, the last one zero-padded.
func nftWords(b []byte) string {
	var w []string
	for i := 0; i < len(b); i += 4 {
		var word [4]byte
		copy(word[:], b[i:])
		w = append(w, fmt.Sprintf("%08x", binary.LittleEndian.Uint32(word[:])))
	}
	return strings.Join(w, " ")
}

func nftData(b []byte) string {
	return "0x" + strings.ReplaceAll(nftWords(b), " ", " 0x")
}

var (
	metaKeyNames = map[expr.MetaKey]string{expr.MetaKeyNFPROTO: "nfproto", expr.MetaKeyL4PROTO: "l4proto"}
	baseNames    = map[expr.PayloadBase]string{expr.PayloadBaseLLHeader: "link", expr.PayloadBaseNetworkHeader: "network", expr.PayloadBaseTransportHeader: "transport"}
	cmpNames     = map[expr.CmpOp]string{expr.CmpOpEq: "eq", expr.CmpOpNeq: "neq"}
)

// nftDebug renders one expression like `nft --debug=netlink`.
func nftDebug(e expr.Any) string {
	switch e := e.(type) {
	case *expr.Meta:
		if e.SourceRegister {
			return fmt.Sprintf("[ meta set %s with reg %d ]", metaKeyNames[e.Key], e.Register)
		}
		return fmt.Sprintf("[ meta load %s => reg %d ]", metaKeyNames[e.Key], e.Register)
	case *expr.Cmp:
		return fmt.Sprintf("[ cmp %s reg %d %s ]", cmpNames[e.Op], e.Register, nftData(e.Data))
	case *expr.Payload:
		if e.OperationType == expr.PayloadWrite {
			return fmt.Sprintf("[ payload write reg %d => %db @ %s header + %d csum_type %d csum_off %d csum_flags 0x%x ]",
				e.SourceRegister, e.Len, baseNames[e.Base], e.Offset, e.CsumType, e.CsumOffset, e.CsumFlags)
		}
		return fmt.Sprintf("[ payload load %db @ %s header + %d => reg %d ]", e.Len, baseNames[e.Base], e.Offset, e.DestRegister)
	case *expr.Bitwise:
		return fmt.Sprintf("[ bitwise reg %d = ( reg %d & %s ) ^ %s ]", e.DestRegister, e.SourceRegister, nftData(e.Mask), nftData(e.Xor))
	case *expr.Lookup:
		s := fmt.Sprintf("[ lookup reg %d set %s", e.SourceRegister, e.SetName)
		if e.IsDestRegSet {
			s += fmt.Sprintf(" dreg %d", e.DestRegister)
		}
		return s + " ]"
	}
	return fmt.Sprintf("[ unknown %T ]", e)
}

func nftDebugRule(exprs []expr.Any) string {
	var lines []string
	for _, e := range exprs {
		lines = append(lines, "  "+nftDebug(e))
	}
	return strings.Join(lines, "\n")
}

// exprByName returns an empty expression of the kind nft names name.
func exprByName(name string) expr.Any {
	switch name {
	case "meta":
		return &expr.Meta{}
	case "cmp":
		return &expr.Cmp{}
	case "payload":
		return &expr.Payload{}
	case "bitwise":
		return &expr.Bitwise{}
	case "lookup":
		return &expr.Lookup{}
	}
	return nil
}

const familyInet = unix.NFPROTO_INET
