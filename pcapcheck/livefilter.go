package pcapcheck

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/l3dsr/l3dsr/dsrtypes"
)

// liveFilter is the capture filter of a live capture on o.Iface: the codes
// looked at, and the packets the verdict needs whatever their code.
func liveFilter(o *Options) (filterSpec, error) {
	spec := filterSpec{DSCP: o.Codes}
	add := func(src bool, a netip.Addr, ports []uint16) {
		if len(ports) == 0 {
			spec.Matches = append(spec.Matches, match{Src: src, Addr: a})
		}
		for _, port := range ports {
			spec.Matches = append(spec.Matches, match{Src: src, Addr: a, Port: port})
		}
	}
	switch o.Role {
	case roleRealServer:
		// Replies: from the VIPs (DSR working) and from this interface's
		// own addresses (the RIPs: broken DSR). Requests to the RIPs
		// the table names whatever their code: addr mode's, and in dscp
		// mode the unmarked ones a router that re-marks DSCP leaves.
		seen, rips := map[netip.Addr]bool{}, map[netip.Addr]bool{}
		for _, e := range o.Mapping {
			if (e.AnyDSCP || o.Codes.has(e.DSCP)) && !seen[e.VIP] {
				seen[e.VIP] = true
				add(true, e.VIP, o.ports)
			}
			if e.Local.IsValid() && !rips[e.Local] {
				rips[e.Local] = true
				add(false, e.Local, o.ports)
			}
		}
		// A --port takes its requests whatever their code and address
		// too: on a server with addr-mode RIPs beside dscp-mode codes
		// for any local address, that is how unmarked ones are seen.
		if o.Mode == dsrtypes.ModeAddr {
			spec.DSCP = 0
		} else {
			for _, port := range o.ports {
				spec.Matches = append(spec.Matches, match{Port: port})
			}
		}
		addrs, err := ifaceAddrs(o.Iface)
		if err != nil {
			return spec, err
		}
		for _, ip := range addrs {
			if !seen[ip] {
				seen[ip] = true
				add(true, ip, o.ports)
			}
		}
	case roleDirector:
		for _, e := range o.expect {
			var ports []uint16
			if e.Port != 0 {
				ports = []uint16{e.Port}
				// Packets to the real servers on the same port, whatever
				// their DSCP: a missing mark must be seen too.
				spec.Matches = append(spec.Matches, match{Port: e.Port})
			}
			add(false, e.VIP, ports)
			add(true, e.VIP, ports)
		}
	}
	return spec, nil
}

// ifaceAddrs returns the addresses of iface that replies may leave from:
// not link-local, IPv4 in IPv4 form.
func ifaceAddrs(iface string) ([]netip.Addr, error) {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, fmt.Errorf("interface %q: %w", iface, err)
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return nil, fmt.Errorf("addresses of %s: %w", iface, err)
	}
	var out []netip.Addr
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipn.IP)
		if !ok || ip.Unmap().IsLinkLocalUnicast() {
			continue
		}
		out = append(out, ip.Unmap())
	}
	return out, nil
}
