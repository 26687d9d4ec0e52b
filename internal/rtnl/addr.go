package rtnl

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Scopes of an address (struct ifaddrmsg's ifa_scope).
const (
	ScopeUniverse = unix.RT_SCOPE_UNIVERSE
	ScopeHost     = unix.RT_SCOPE_HOST
)

// Addr is one address of a link.
type Addr struct {
	Index  int
	Prefix netip.Prefix
	Scope  uint8
	// Proto is who added the address (IFA_PROTO, Linux 5.18+); 0 when
	// unknown. ProtoL3DSR marks the addresses l3dsr added.
	Proto uint8
}

// ifaProto is IFA_PROTO (include/uapi/linux/if_addr.h), not yet in x/sys.
const ifaProto = 11

// ProtoL3DSR is the IFA_PROTO value of the addresses l3dsr adds with
// AddrAddProto. Values 0-3 are the kernel's own (unspec, kernel_lo,
// kernel_ra, kernel_ll); 0x4c is "L".
const ProtoL3DSR = 0x4c

// ifaddrmsg is struct ifaddrmsg: family, prefixlen, flags, scope, index.
const ifaddrmsgLen = 8

func ifaddrmsg(family uint8, prefixLen, scope uint8, index int) []byte {
	b := make([]byte, ifaddrmsgLen)
	b[0] = family
	b[1] = prefixLen
	b[3] = scope
	nativeEndian.PutUint32(b[4:8], uint32(int32(index)))
	return b
}

func familyOf(a netip.Addr) uint8 {
	if a.Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

func parseAddr(b []byte) (Addr, error) {
	if len(b) < ifaddrmsgLen {
		return Addr{}, fmt.Errorf("short RTM_NEWADDR message: %d bytes", len(b))
	}
	fam, plen, scope := b[0], int(b[1]), b[3]
	idx := int(int32(nativeEndian.Uint32(b[4:8])))
	ad, err := netlink.NewAttributeDecoder(b[ifaddrmsgLen:])
	if err != nil {
		return Addr{}, fmt.Errorf("decoding address attributes: %w", err)
	}
	// IPv4 keeps the local address in IFA_LOCAL (IFA_ADDRESS is the peer
	// on point-to-point links); IPv6 sends IFA_ADDRESS only.
	var local, address netip.Addr
	var proto uint8
	for ad.Next() {
		switch ad.Type() {
		case ifaProto:
			proto = ad.Uint8()
		case unix.IFA_LOCAL:
			local, _ = netip.AddrFromSlice(ad.Bytes())
		case unix.IFA_ADDRESS:
			address, _ = netip.AddrFromSlice(ad.Bytes())
		}
	}
	if err := ad.Err(); err != nil {
		return Addr{}, fmt.Errorf("decoding address attributes: %w", err)
	}
	a := local
	if !a.IsValid() {
		a = address
	}
	if !a.IsValid() || (fam == unix.AF_INET) != a.Is4() {
		return Addr{}, fmt.Errorf("address message of family %d without a usable address", fam)
	}
	p, err := a.Prefix(plen)
	if err != nil {
		return Addr{}, fmt.Errorf("address %s/%d: %w", a, plen, err)
	}
	// Keep the host bits: Prefix() masked them.
	return Addr{Index: idx, Prefix: netip.PrefixFrom(a, p.Bits()), Scope: scope, Proto: proto}, nil
}

// AddrList lists the addresses of the link with index (all links when
// index is 0).
func (c *Conn) AddrList(index int) ([]Addr, error) {
	all, err := dump(c, unix.RTM_GETADDR, ifaddrmsg(unix.AF_UNSPEC, 0, 0, 0), unix.RTM_NEWADDR, parseAddr)
	if err != nil {
		return nil, fmt.Errorf("listing addresses: %w", err)
	}
	var out []Addr
	for _, a := range all {
		if index == 0 || a.Index == index {
			out = append(out, a)
		}
	}
	return out, nil
}

func addrAttrs(p netip.Prefix, proto uint8) ([]byte, error) {
	ae := netlink.NewAttributeEncoder()
	if proto != 0 {
		ae.Uint8(ifaProto, proto)
	}
	// Both attributes, as ip(8) sends them: IPv4 reads the address from
	// IFA_LOCAL, IPv6 from either.
	ae.Bytes(unix.IFA_LOCAL, p.Addr().AsSlice())
	ae.Bytes(unix.IFA_ADDRESS, p.Addr().AsSlice())
	return ae.Encode()
}

func checkPrefix(p netip.Prefix) error {
	if !p.IsValid() || p.Addr().Zone() != "" || p.Addr().Is4In6() {
		return fmt.Errorf("address %v is not valid: give an IPv4 or IPv6 address with its prefix length, e.g. 10.0.0.1/32", p)
	}
	return nil
}

// AddrAdd adds the address p (with exactly its prefix length) to the link
// with index, scope global, as `ip addr add P dev LINK` does for any
// address that is not 127.0.0.0/8. NLM_F_EXCL: an address already there is
// an error matching ErrExists, and nothing about it changes.
func (c *Conn) AddrAdd(index int, p netip.Prefix) error {
	return c.AddrAddProto(index, p, 0)
}

// AddrAddProto is AddrAdd with the address's IFA_PROTO set to proto, so
// that its owner can tell it from addresses others added. Kernels before
// 5.18 ignore the attribute.
func (c *Conn) AddrAddProto(index int, p netip.Prefix, proto uint8) error {
	if err := checkPrefix(p); err != nil {
		return err
	}
	attrs, err := addrAttrs(p, proto)
	if err != nil {
		return fmt.Errorf("adding address %v: %w", p, err)
	}
	_, err = c.execute(unix.RTM_NEWADDR, netlink.Request|netlink.Acknowledge|netlink.Create|netlink.Excl,
		append(ifaddrmsg(familyOf(p.Addr()), uint8(p.Bits()), ScopeUniverse, index), attrs...))
	if err != nil {
		if errors.Is(err, ErrExists) {
			return fmt.Errorf("adding address %v to link %d: it is there already: %w", p, index, err)
		}
		return fmt.Errorf("adding address %v to link %d: %w", p, index, err)
	}
	return nil
}

// AddrDel deletes the address p (address and prefix length must match)
// from the link with index; a missing address is an error matching
// ErrNotFound.
func (c *Conn) AddrDel(index int, p netip.Prefix) error {
	if err := checkPrefix(p); err != nil {
		return err
	}
	attrs, err := addrAttrs(p, 0)
	if err != nil {
		return fmt.Errorf("deleting address %v: %w", p, err)
	}
	_, err = c.execute(unix.RTM_DELADDR, netlink.Request|netlink.Acknowledge,
		append(ifaddrmsg(familyOf(p.Addr()), uint8(p.Bits()), 0, index), attrs...))
	if err != nil {
		return fmt.Errorf("deleting address %v from link %d: %w", p, index, err)
	}
	return nil
}
