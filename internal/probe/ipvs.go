package probe

import (
	"fmt"

	"github.com/l3dsr/l3dsr/internal/ipvs"
	"golang.org/x/sys/unix"
)

// ipvsAPI is the part of the IPVS client that the tunnel probes use.
type ipvsAPI interface {
	Services() ([]ipvs.Service, error)
	Destinations(s ipvs.Service) ([]ipvs.Destination, error)
	CreateService(s ipvs.Service) error
	RemoveService(s ipvs.Service) error
	CreateDestination(s ipvs.Service, d ipvs.Destination) error
}

// tunnelService is the firewall-mark service that carries the probes of one
// ipip-mode real: one real, forwarding by tunnel with the service's
// encapsulation.
func tunnelService(mark uint32, w Want) (ipvs.Service, ipvs.Destination) {
	fam := uint16(unix.AF_INET)
	if w.VIP.Is6() {
		fam = unix.AF_INET6
	}
	s := ipvs.Service{Family: fam, FWMark: mark, Scheduler: "rr"}
	d := ipvs.Destination{Address: w.Real, Port: w.Port, Forward: ipvs.Tunnel, Weight: 1,
		TunnelType: w.Tunnel, TunnelPort: w.TunnelPort, TunnelFlags: w.TunnelFlags}
	return s, d
}

// syncTunnels makes the firewall-mark services of the probe range exactly
// those of want (mark → real). A service that already carries the right
// real is left alone, so that a restart of the agent changes nothing.
func syncTunnels(c ipvsAPI, want map[uint32]Want) error {
	svcs, err := c.Services()
	if err != nil {
		return fmt.Errorf("reading the IPVS services for the probes: %w", err)
	}
	have := map[uint32]bool{}
	for _, s := range svcs {
		if !ours(s.FWMark) {
			continue
		}
		w, ok := want[s.FWMark]
		if ok && sameTunnel(c, s, w) {
			have[s.FWMark] = true
			continue
		}
		if err := c.RemoveService(s); err != nil {
			return fmt.Errorf("removing the probe service of %s: %w", s, err)
		}
	}
	for mark, w := range want {
		if have[mark] {
			continue
		}
		s, d := tunnelService(mark, w)
		if err := c.CreateService(s); err != nil {
			return fmt.Errorf("adding the probe service of real %s (service %s): %w", w.Real, w.Name(), err)
		}
		if err := c.CreateDestination(s, d); err != nil {
			return fmt.Errorf("adding real %s to the probe service %s: %w", w.Real, s, err)
		}
	}
	return nil
}

// sameTunnel tells whether the probe service s already sends to w's real
// the way w's service does.
func sameTunnel(c ipvsAPI, s ipvs.Service, w Want) bool {
	ws, wd := tunnelService(s.FWMark, w)
	if s.Family != ws.Family {
		return false
	}
	ds, err := c.Destinations(s)
	if err != nil || len(ds) != 1 {
		return false
	}
	d := ds[0]
	return d.Address == wd.Address && d.Port == wd.Port && d.Forward == wd.Forward &&
		d.TunnelType == wd.TunnelType && d.TunnelPort == wd.TunnelPort && d.TunnelFlags == wd.TunnelFlags
}
