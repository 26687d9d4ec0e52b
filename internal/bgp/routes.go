package bgp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/osrg/gobgp/v4/pkg/apiutil"
	"github.com/osrg/gobgp/v4/pkg/packet/bgp"
)

// Announce announces vip as a /32 or /128 to every neighbor, with origin
// IGP. A zero nextHop is the session's own address: GoBGP puts the
// address it speaks to each router from in place of an unspecified next
// hop. Announcing a VIP again replaces its route.
func (s *Speaker) Announce(ctx context.Context, vip, nextHop netip.Addr) error {
	if err := checkVIP(vip); err != nil {
		return fmt.Errorf("bgp: announce: %w", err)
	}
	if nextHop.IsValid() && (nextHop.Is4() != vip.Is4() || nextHop.Is4In6() || nextHop.Zone() != "") {
		return fmt.Errorf("bgp: announce %s: next hop %s is not an %s address: give one of the VIP's family, or none for the session's own address", vip, nextHop, familyName(vip))
	}
	p, err := pathOf(vip, nextHop)
	if err != nil {
		return fmt.Errorf("bgp: announce %s: %w", vip, err)
	}
	// GoBGP replaces a local path of the same prefix: announcing again
	// is an implicit withdraw of the old route.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bgp: announce %s: %w", vip, err)
	}
	// GoBGP v4's path calls take no context: they queue on the server's
	// loop and return when it has taken the path.
	if _, err := s.srv.AddPath(apiutil.AddPathRequest{Paths: []*apiutil.Path{p}}); err != nil {
		return fmt.Errorf("bgp: announce %s: %w", vip, err)
	}
	s.log.Info("bgp announce", "vip", vip, "next_hop", nextHopString(nextHop))
	return nil
}

// Withdraw withdraws vip from every neighbor. A VIP that is not announced
// is no error: GoBGP has nothing to send.
func (s *Speaker) Withdraw(ctx context.Context, vip netip.Addr) error {
	if err := checkVIP(vip); err != nil {
		return fmt.Errorf("bgp: withdraw: %w", err)
	}
	// The path names the prefix; GoBGP matches a local path by its prefix
	// alone, but wants a next hop to parse it.
	p, err := pathOf(vip, netip.Addr{})
	if err != nil {
		return fmt.Errorf("bgp: withdraw %s: %w", vip, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bgp: withdraw %s: %w", vip, err)
	}
	if err := s.srv.DeletePath(apiutil.DeletePathRequest{Paths: []*apiutil.Path{p}}); err != nil {
		return fmt.Errorf("bgp: withdraw %s: %w", vip, err)
	}
	s.log.Info("bgp withdraw", "vip", vip)
	return nil
}

func checkVIP(vip netip.Addr) error {
	switch {
	case !vip.IsValid():
		return errors.New("no VIP given")
	case vip.Is4In6():
		return fmt.Errorf("VIP %s is an IPv4-mapped IPv6 address: give it as %s", vip, vip.Unmap())
	case vip.Zone() != "":
		return fmt.Errorf("VIP %s has a zone: give a global address", vip)
	case vip.IsUnspecified():
		return fmt.Errorf("VIP %s is the unspecified address: give the service's address", vip)
	}
	return nil
}

func nextHopString(nh netip.Addr) string {
	if !nh.IsValid() {
		return "self"
	}
	return nh.String()
}

// pathOf is the route to vip via nextHop, in GoBGP's terms: IPv4 unicast
// carries its next hop in NEXT_HOP, IPv6 unicast in MP_REACH_NLRI (RFC
// 4760); GoBGP builds either from the next hop it is given.
func pathOf(vip, nextHop netip.Addr) (*apiutil.Path, error) {
	family, unspecified := bgp.RF_IPv4_UC, netip.IPv4Unspecified()
	if vip.Is6() {
		family, unspecified = bgp.RF_IPv6_UC, netip.IPv6Unspecified()
	}
	if !nextHop.IsValid() {
		nextHop = unspecified
	}
	nlri, err := bgp.NewIPAddrPrefix(netip.PrefixFrom(vip, vip.BitLen()))
	if err != nil {
		return nil, err
	}
	var nh bgp.PathAttributeInterface
	if vip.Is4() {
		nh, err = bgp.NewPathAttributeNextHop(nextHop)
	} else {
		nh, err = bgp.NewPathAttributeMpReachNLRI(family, []bgp.PathNLRI{{NLRI: nlri}}, nextHop)
	}
	if err != nil {
		return nil, err
	}
	origin := bgp.NewPathAttributeOrigin(bgp.BGP_ORIGIN_ATTR_TYPE_IGP)
	return &apiutil.Path{Family: family, Nlri: nlri, Attrs: []bgp.PathAttributeInterface{origin, nh}}, nil
}
