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
	b := make([]byte, rtmsgLen)
	b[0] = familyOf(dst)
	b[1] = uint8(dst.BitLen())
	ae := netlink.NewAttributeEncoder()
	ae.Bytes(unix.RTA_DST, dst.AsSlice())
	attrs, err := ae.Encode()
	if err != nil {
		return 0, fmt.Errorf("looking up the route to %s: %w", dst, err)
	}
	msgs, err := c.execute(unix.RTM_GETROUTE, netlink.Request, append(b, attrs...))
	if err != nil {
		return 0, fmt.Errorf("looking up the route to %s: %w", dst, err)
	}
	for _, m := range msgs {
		if m.Header.Type != unix.RTM_NEWROUTE || len(m.Data) < rtmsgLen {
			continue
		}
		ad, err := netlink.NewAttributeDecoder(m.Data[rtmsgLen:])
		if err != nil {
			return 0, fmt.Errorf("decoding the route to %s: %w", dst, err)
		}
		for ad.Next() {
			if ad.Type() == unix.RTA_OIF {
				return int(ad.Uint32()), nil
			}
		}
		if err := ad.Err(); err != nil {
			return 0, fmt.Errorf("decoding the route to %s: %w", dst, err)
		}
	}
	return 0, fmt.Errorf("looking up the route to %s: the kernel's answer names no interface (an unreachable or blackhole route?)", dst)
}
