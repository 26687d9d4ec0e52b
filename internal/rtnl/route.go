package rtnl

import (
	"fmt"
	"net/netip"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// rtmsgLen is struct rtmsg: family, dst_len, src_len, tos, table,
// protocol, scope, type, flags.
const rtmsgLen = 12

// RouteOif asks the kernel which interface a packet to dst leaves by, as
// `ip route get DST` does: the answer of the routing lookup itself (policy
// rules, the most specific route, a gateway's link), not a guess from the
// addresses. It returns the interface index.
func (c *Conn) RouteOif(dst netip.Addr) (int, error) {
	oif, _, err := c.routeGet(dst)
	if err == nil && oif == 0 {
		err = fmt.Errorf("looking up the route to %s: the kernel's answer names no interface (an unreachable or blackhole route?)", dst)
	}
	return oif, err
}

// RouteSrc asks the kernel which source address a packet to dst gets (the
// "src" of `ip route get DST`): the address the host's own traffic there
// goes out from.
func (c *Conn) RouteSrc(dst netip.Addr) (netip.Addr, error) {
	_, src, err := c.routeGet(dst)
	if err == nil && !src.IsValid() {
		err = fmt.Errorf("looking up the route to %s: the kernel's answer names no source address (an unreachable or blackhole route?)", dst)
	}
	return src, err
}

// routeGet is the kernel's answer for dst: its interface and source
// address (0 and the zero Addr when it names none).
func (c *Conn) routeGet(dst netip.Addr) (oif int, src netip.Addr, err error) {
	b := make([]byte, rtmsgLen)
	b[0] = familyOf(dst)
	b[1] = uint8(dst.BitLen())
	ae := netlink.NewAttributeEncoder()
	ae.Bytes(unix.RTA_DST, dst.AsSlice())
	attrs, err := ae.Encode()
	if err != nil {
		return 0, src, fmt.Errorf("looking up the route to %s: %w", dst, err)
	}
	msgs, err := c.execute(unix.RTM_GETROUTE, netlink.Request, append(b, attrs...))
	if err != nil {
		return 0, src, fmt.Errorf("looking up the route to %s: %w", dst, err)
	}
	for _, m := range msgs {
		if m.Header.Type != unix.RTM_NEWROUTE || len(m.Data) < rtmsgLen {
			continue
		}
		ad, err := netlink.NewAttributeDecoder(m.Data[rtmsgLen:])
		if err != nil {
			return 0, src, fmt.Errorf("decoding the route to %s: %w", dst, err)
		}
		for ad.Next() {
			switch ad.Type() {
			case unix.RTA_OIF:
				oif = int(ad.Uint32())
			case unix.RTA_PREFSRC:
				src, _ = netip.AddrFromSlice(ad.Bytes())
			}
		}
		if err := ad.Err(); err != nil {
			return 0, netip.Addr{}, fmt.Errorf("decoding the route to %s: %w", dst, err)
		}
		return oif, src, nil
	}
	return 0, src, nil
}
