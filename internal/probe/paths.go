package probe

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/ipvs"
	"github.com/l3dsr/l3dsr/internal/rtnl"
	"github.com/l3dsr/l3dsr/internal/sysctl"
)

const (
	markBase = 0x4c330000
	markMask = 0xffff0000
	// maxProbes: the marks of the range but the range's own.
	maxProbes = 0xfffe
)

func ours(mark uint32) bool { return mark&markMask == markBase }

// Want is one real server to probe along the DSR path, with what its
// service's packets get: the DSCP code, the address alone (addr), or
// the tunnel.
type Want struct {
	VIP   netip.Addr
	Port  uint16
	Proto ipvs.Protocol
	Mode  dsrtypes.Mode // dscp, addr or ipip
	DSCP  uint8         // dscp mode only
	// Real is the real's address; in addr mode the VIP's own address
	// on the real server (its RIP), which the real server rewrites to the
	// VIP whatever the DSCP.
	Real netip.Addr
	// The tunnel of an ipip-mode real.
	Tunnel      ipvs.TunnelType
	TunnelPort  uint16
	TunnelFlags uint16
}

// Name is the service's "tcp 10.0.0.1:80".
func (w Want) Name() string {
	return fmt.Sprintf("%s %s", w.Proto, netip.AddrPortFrom(w.VIP, w.Port))
}

// Route is how a probe of one Want is sent: a socket with this mark, bound
// to this source, connected to VIP:port.
type Route struct {
	Mark   uint32
	Source netip.Addr
}

// Paths sets up the probes' path on this host.
type Paths struct {
	ipvs ipvsAPI
	// table writes the steering rules (hostTable); nil steer deletes it.
	table func(steer []Want, marks []uint32) error
	// source returns the address the host sends from toward a, and the
	// name of the interface the route to a leaves by.
	source func(a netip.Addr) (netip.Addr, string, error)
	sysctl sysctlAPI
}

type sysctlAPI interface {
	Get(name string) (string, error)
	Set(name, value string) error
}

// Open returns the host's Paths.
func Open() (*Paths, func() error, error) {
	c, err := ipvs.New()
	if err != nil {
		return nil, nil, fmt.Errorf("opening IPVS for the health probes: %w", err)
	}
	p := &Paths{ipvs: c, table: hostTable, source: hostSource, sysctl: sysctl.FS{}}
	return p, c.Close, nil
}

// Sync sets up the path of every Want (dscp, addr and ipip mode only) and returns
// their routes, in want's order. Marks are given in want's order, so the
// same list gets the same marks after a restart.
func (p *Paths) Sync(want []Want) ([]Route, error) {
	if len(want) > maxProbes {
		return nil, fmt.Errorf("%d reals to probe along the DSR path: at most %d", len(want), maxProbes)
	}
	routes := make([]Route, len(want))
	var steer []Want
	var steerMarks []uint32
	tunnels := map[uint32]Want{}
	ifaces := map[string]bool{}
	type source struct {
		addr  netip.Addr
		iface string
	}
	// A real of many services is looked up once.
	sources := map[netip.Addr]source{}
	for i, w := range want {
		mark := markBase + uint32(i) + 1
		sc, ok := sources[w.Real]
		if !ok {
			var err error
			sc.addr, sc.iface, err = p.source(w.Real)
			if err != nil {
				return nil, fmt.Errorf("the probes of real %s (service %s): %w", w.Real, w.Name(), err)
			}
			sources[w.Real] = sc
		}
		src, iface := sc.addr, sc.iface
		routes[i] = Route{Mark: mark, Source: src}
		if src.Is4() {
			ifaces[iface] = true
		}
		switch w.Mode {
		case dsrtypes.ModeDSCP, dsrtypes.ModeAddr:
			steer, steerMarks = append(steer, w), append(steerMarks, mark)
		case dsrtypes.ModeIPIP:
			tunnels[mark] = w
		default:
			return nil, fmt.Errorf("service %s is in %s mode: only dscp, addr and ipip services are probed along the DSR path; give it 'via: rip'", w.Name(), w.Mode)
		}
	}
	if err := p.sysctls(slices.Sorted(maps.Keys(ifaces))); err != nil {
		return nil, err
	}
	if err := p.table(steer, steerMarks); err != nil {
		return nil, err
	}
	if err := syncTunnels(p.ipvs, tunnels); err != nil {
		return nil, err
	}
	return routes, nil
}

// Remove takes every probe path away: the table, the probe services.
// The sysctls stay: other things may have come to need them.
func (p *Paths) Remove() error {
	return errors.Join(p.table(nil, nil), syncTunnels(p.ipvs, nil))
}

// sysctls lets the VIP's answers to the probes in on each interface: see the
// package comment.
func (p *Paths) sysctls(ifaces []string) error {
	for _, dev := range ifaces {
		if err := p.ensure(sysctl.IPv4Conf(dev, "accept_local"), "1", "1"); err != nil {
			return err
		}
		all, err := p.sysctl.Get(sysctl.IPv4Conf("all", "rp_filter"))
		if err != nil {
			return err
		}
		// The effective rp_filter is the larger of all's and the
		// interface's; loose (2) on the interface makes it loose.
		if all == "1" {
			err = p.ensure(sysctl.IPv4Conf(dev, "rp_filter"), "2", "2")
		} else {
			err = p.ensureNot(sysctl.IPv4Conf(dev, "rp_filter"), "1", "2")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (p *Paths) ensure(name, want, set string) error {
	v, err := p.sysctl.Get(name)
	if err != nil {
		return err
	}
	if v == want {
		return nil
	}
	return p.set(name, set)
}

func (p *Paths) ensureNot(name, bad, set string) error {
	v, err := p.sysctl.Get(name)
	if err != nil {
		return err
	}
	if v != bad {
		return nil
	}
	return p.set(name, set)
}

func (p *Paths) set(name, value string) error {
	if err := p.sysctl.Set(name, value); err != nil {
		return fmt.Errorf("the health probes' answers come from the VIP, a local address: %w", err)
	}
	return nil
}

// hostSource asks the kernel which address it sends from toward a (a UDP
// socket's connect sends nothing) and which interface the route to a
// leaves by (rtnl.RouteOif, as doctor checks it): the answers come back in
// by that interface.
func hostSource(a netip.Addr) (netip.Addr, string, error) {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, 9)))
	if err != nil {
		return netip.Addr{}, "", fmt.Errorf("no route to %s: %w", a, err)
	}
	src := c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
	c.Close()
	rt, err := rtnl.Dial(0)
	if err != nil {
		return netip.Addr{}, "", err
	}
	defer rt.Close()
	index, err := rt.RouteOif(a)
	if err != nil {
		return netip.Addr{}, "", fmt.Errorf("the route to %s: %w", a, err)
	}
	links, err := rt.Links()
	if err != nil {
		return netip.Addr{}, "", fmt.Errorf("listing links: %w", err)
	}
	for _, l := range links {
		if l.Index == index {
			return src, l.Name, nil
		}
	}
	return netip.Addr{}, "", fmt.Errorf("the route to %s leaves by interface %d, which is gone", a, index)
}
