package icmprelay

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The copies leave on a packet socket, to the next hop's link-layer
// address, not through the IP stack: on a director, IPVS's LOCAL_OUT hook
// takes an ICMP error about a flow it forwards as its own, and rewrites the
// quoted packet's source from the VIP to the real's address (its NAT of
// ICMP), which no socket on the real server then matches. bgp_ecmp's pmtu
// case saw exactly that on 6.12: every copy reached the real with the
// quoted reply "from" the RIP, and every one was counted in IcmpInErrors.
// A packet socket's send passes no netfilter hook.

// linkSend sends pkt, a whole IP packet, toward dst on the link routing
// picks, to the next hop's link-layer address from the neighbor table.
func (r *Relay) linkSend(pkt []byte, dst netip.Addr) error {
	routes, err := r.nl.RouteGet(dst.AsSlice())
	if err != nil || len(routes) == 0 {
		return fmt.Errorf("no route to %s: %v", dst, err)
	}
	rt := routes[0]
	hop := dst
	if gw, ok := netip.AddrFromSlice(rt.Gw); ok && gw.IsValid() {
		hop = gw.Unmap()
	}
	mac, err := neighbor(r.nl, rt.LinkIndex, hop)
	if err != nil {
		return err
	}
	proto, fd := uint16(unix.ETH_P_IP), r.link4
	if dst.Is6() {
		proto, fd = unix.ETH_P_IPV6, r.link6
	}
	to := &unix.SockaddrLinklayer{Protocol: htons(proto), Ifindex: rt.LinkIndex, Halen: uint8(len(mac))}
	copy(to.Addr[:], mac)
	if err := unix.Sendto(fd, pkt, 0, to); err != nil {
		return fmt.Errorf("send to %s via %s: %w", dst, hop, err)
	}
	return nil
}

// neighbor is hop's link-layer address on link, as the neighbor table
// has it: the director sends to its reals all the time, so the entry is
// there unless the real is gone.
func neighbor(h *netlink.Handle, link int, hop netip.Addr) (net.HardwareAddr, error) {
	fam := netlink.FAMILY_V4
	if hop.Is6() {
		fam = netlink.FAMILY_V6
	}
	neighs, err := h.NeighList(link, fam)
	if err != nil {
		return nil, fmt.Errorf("reading the neighbor table: %w", err)
	}
	for _, n := range neighs {
		a, ok := netip.AddrFromSlice(n.IP)
		if !ok || a.Unmap() != hop || len(n.HardwareAddr) == 0 ||
			n.State&(netlink.NUD_INCOMPLETE|netlink.NUD_FAILED) != 0 {
			continue
		}
		return n.HardwareAddr, nil
	}
	return nil, fmt.Errorf("no link-layer address for next hop %s", hop)
}
