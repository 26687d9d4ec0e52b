package director

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/errclass"
	"github.com/l3dsr/l3dsr/internal/rtnl"
)

// ErrNotConnected is matched (errors.Is) by AddReal's error for a dr-mode
// real server on none of the director's subnets: a request that cannot
// work on this host, which the CLI reports as a usage error.
var ErrNotConnected = errors.New("real server not on a directly connected subnet")

// checkConnected refuses a real server of a dr-mode service that is on none
// of the director's subnets. IPVS direct routing sends the client's packet
// unchanged, still addressed to the VIP, to the real server's MAC address:
// the kernel resolves that address on the link of the route to the real
// server, so a real server behind a router would get the router's MAC and
// the router would send the packet back to the VIP, that is to the
// director. IPVS itself accepts such a real without a word.
func (d *Director) checkConnected(k Key, r Real) error {
	nets, err := d.host.subnets()
	if err != nil {
		return fmt.Errorf("reading the director's subnets for real server %s of %s: %w", r.Addr, k, err)
	}
	var fam []string
	for _, n := range nets {
		if n.Addr().Is4() != r.Addr.Is4() {
			continue
		}
		if n.Contains(r.Addr) {
			return nil
		}
		fam = append(fam, n.String())
	}
	have := "none of its family"
	if len(fam) > 0 {
		have = strings.Join(fam, ", ")
	}
	return errclass.New(ErrNotConnected,
		"real server %s of %s (direct routing) is on no subnet of this director (its %s subnets: %s): direct routing sends the packet to the real server's MAC address, so the real server must be on one of the director's links; add a real server of those subnets, or use mode dscp or ipip for this service",
		r.Addr, k, ipName(r.Addr), have)
}

func ipName(a netip.Addr) string { return dsrtypes.FamilyOf(a).String() }

// connectedSubnets are the subnets of addrs (an address with its prefix
// length, on the link ifindex) that a host reaches without a router: not
// those of lo (the VIPs), not host addresses (/32, /128: no subnet), not
// IPv6 link-local ones (every link has fe80::/64, a real server there needs
// a zone IPVS cannot take). Sorted, each once.
func connectedSubnets(addrs []rtnl.Addr, lo int) []netip.Prefix {
	var out []netip.Prefix
	for _, a := range addrs {
		p := a.Prefix
		if a.Index == lo || p.Bits() == p.Addr().BitLen() || p.Addr().IsLinkLocalUnicast() && p.Addr().Is6() {
			continue
		}
		p = p.Masked()
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	return out
}
