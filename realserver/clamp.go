package realserver

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// The clamps live in a table of our own, so they never touch anyone
// else's rules and Set can replace them all in one transaction:
//
//	table inet l3dsr_rs {
//		chain mss {
//			type filter hook postrouting priority mangle;
//			ip saddr VIP tcp flags & (syn|ack) == syn|ack tcp option maxseg size set MSS
//			...
//		}
//	}
//
// The kernel's maxseg set only ever lowers the option (a larger value
// could stall the connection), so a client that asked for less keeps it.
const (
	clampTable = "l3dsr_rs"
	clampChain = "mss"
)

type nftClamps struct{}

func (nftClamps) conn() (*nftables.Conn, error) {
	c, err := nftables.New()
	if err != nil {
		return nil, fmt.Errorf("opening an nftables netlink socket: %w", err)
	}
	return c, nil
}

func (n nftClamps) table(c *nftables.Conn) (*nftables.Table, error) {
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, fmt.Errorf("listing nftables tables: %w", err)
	}
	for _, t := range tables {
		if t.Name == clampTable {
			return t, nil
		}
	}
	return nil, nil
}

// List reads the clamps back from the rules' expressions, not from their
// comments, so what it returns is what the kernel does.
func (n nftClamps) List() ([]clamp, error) {
	c, err := n.conn()
	if err != nil {
		return nil, err
	}
	defer c.CloseLasting()
	t, err := n.table(c)
	if err != nil || t == nil {
		return nil, err
	}
	rules, err := c.GetRules(t, &nftables.Chain{Name: clampChain, Table: t})
	if err != nil {
		return nil, fmt.Errorf("reading the MSS clamps (nft list chain inet %s %s): %w", clampTable, clampChain, err)
	}
	var out []clamp
	for _, r := range rules {
		if cl, ok := parseClampRule(r.Exprs); ok {
			out = append(out, cl)
		}
	}
	sortClamps(out)
	return out, nil
}

// Set replaces the table with one holding exactly cl (none: no table).
func (n nftClamps) Set(cl []clamp) error {
	c, err := n.conn()
	if err != nil {
		return err
	}
	defer c.CloseLasting()
	old, err := n.table(c)
	if err != nil {
		return err
	}
	if old != nil {
		c.DelTable(old)
	}
	if len(cl) > 0 {
		t := c.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: clampTable})
		ch := c.AddChain(&nftables.Chain{
			Name: clampChain, Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityMangle,
		})
		for _, x := range cl {
			c.AddRule(&nftables.Rule{
				Table: t, Chain: ch, Exprs: clampExprs(x),
				UserData: userdata.AppendString(nil, userdata.TypeComment,
					fmt.Sprintf("l3dsr realserver: ipip VIP %s, MSS %d", x.VIP, x.MSS)),
			})
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("writing the MSS clamps to nftables table inet %s: %w", clampTable, err)
	}
	return nil
}

// clampExprs is the rule of one clamp:
// meta nfproto ipv4|ipv6 ip(6) saddr VIP meta l4proto tcp
// tcp flags & (syn|ack) == syn|ack tcp option maxseg size set MSS.
func clampExprs(cl clamp) []expr.Any {
	proto, off, l := byte(unix.NFPROTO_IPV4), uint32(12), uint32(4)
	if cl.VIP.Is6() {
		proto, off, l = unix.NFPROTO_IPV6, 8, 16
	}
	const synAck = 0x12
	mss := make([]byte, 2)
	binary.BigEndian.PutUint16(mss, cl.MSS)
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: l},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: cl.VIP.AsSlice()},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 13, Len: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 1, Mask: []byte{synAck}, Xor: []byte{0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{synAck}},
		&expr.Immediate{Register: 1, Data: mss},
		&expr.Exthdr{SourceRegister: 1, Type: 2, Offset: 2, Len: 2, Op: expr.ExthdrOpTcpopt},
	}
}

// parseClampRule recognises a rule clampExprs made: the VIP compared after
// the network-header load, and the MSS written by the TCP-option exthdr.
func parseClampRule(ex []expr.Any) (clamp, bool) {
	var cl clamp
	var afterAddr, haveWrite bool
	var imm []byte
	for _, e := range ex {
		switch v := e.(type) {
		case *expr.Payload:
			afterAddr = v.Base == expr.PayloadBaseNetworkHeader && (v.Len == 4 || v.Len == 16)
			continue
		case *expr.Cmp:
			if afterAddr {
				cl.VIP, _ = netip.AddrFromSlice(v.Data)
			}
		case *expr.Immediate:
			imm = v.Data
		case *expr.Exthdr:
			if v.Op == expr.ExthdrOpTcpopt && v.Type == 2 && v.SourceRegister != 0 && len(imm) == 2 {
				cl.MSS = binary.BigEndian.Uint16(imm)
				haveWrite = true
			}
		}
		afterAddr = false
	}
	return cl, haveWrite && cl.VIP.IsValid()
}
