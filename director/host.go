package director

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/l3dsr/l3dsr/internal/rtnl"
	"github.com/l3dsr/l3dsr/internal/sysctl"
)

// addrProto tags the VIPs the director puts on lo (the address's IFA_PROTO,
// Linux 5.18+), so that deleting a service takes away only an address it
// added, never one an operator or another tool configured. On kernels that
// drop the tag the director never removes a VIP: a safe failure.
const addrProto = rtnl.ProtoL3DSR

type host struct {
	rt *rtnl.Conn
	lo int
}

func newHost() (*host, error) {
	rt, err := rtnl.Dial(0)
	if err != nil {
		return nil, err
	}
	lo, err := rt.LinkByName("lo")
	if err != nil {
		rt.Close()
		return nil, fmt.Errorf("find lo: %w", err)
	}
	return &host{rt: rt, lo: lo.Index}, nil
}

func (h *host) close() error { return h.rt.Close() }

func hostPrefix(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }

// localAddrs: an address is local when it is an address of any link; it is
// the director's when it sits on lo with the director's tag.
func (h *host) localAddrs() (map[netip.Addr]bool, error) {
	addrs, err := h.rt.AddrList(0)
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	out := make(map[netip.Addr]bool, len(addrs))
	for _, x := range addrs {
		a := x.Prefix.Addr()
		out[a] = out[a] || x.Index == h.lo && x.Prefix == hostPrefix(a) && x.Proto == addrProto
	}
	return out, nil
}

func (h *host) addVIP(a netip.Addr) error {
	err := h.rt.AddrAddProto(h.lo, hostPrefix(a), addrProto)
	if errors.Is(err, rtnl.ErrExists) {
		return nil
	}
	return err
}

func (h *host) delVIP(a netip.Addr) error {
	return h.rt.AddrDel(h.lo, hostPrefix(a))
}

func (h *host) subnets() ([]netip.Prefix, error) {
	addrs, err := h.rt.AddrList(0)
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	return connectedSubnets(addrs, h.lo), nil
}

func (h *host) sysctl(name string) (string, error) { return sysctl.Get(name) }
func (h *host) setSysctl(name, value string) error { return sysctl.Set(name, value) }
