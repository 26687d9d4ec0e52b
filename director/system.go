package director

import (
	"net/netip"

	"github.com/l3dsr/l3dsr/internal/dscpmark"
	"github.com/l3dsr/l3dsr/internal/ipvs"
)

// ipvsAPI is what the director uses of *ipvs.Client.
type ipvsAPI interface {
	Services() ([]ipvs.Service, error)
	Service(s ipvs.Service) (ipvs.Service, error)
	CreateService(s ipvs.Service) error
	UpdateService(s ipvs.Service) error
	RemoveService(s ipvs.Service) error
	Destinations(s ipvs.Service) ([]ipvs.Destination, error)
	CreateDestination(s ipvs.Service, d ipvs.Destination) error
	UpdateDestination(s ipvs.Service, d ipvs.Destination) error
	RemoveDestination(s ipvs.Service, d ipvs.Destination) error
}

// marksAPI is what the director uses of *dscpmark.Marker.
type marksAPI interface {
	List() ([]dscpmark.Mark, error)
	Add(marks ...dscpmark.Mark) error
	Replace(mark dscpmark.Mark) error
	Sync(marks []dscpmark.Mark) (added, removed []dscpmark.Mark, err error)
	Del(marks ...dscpmark.Mark) error
	Remove() error
}

// hostAPI is the director host itself: its addresses and sysctls.
type hostAPI interface {
	// localAddrs are the addresses of every link, each true when the
	// director put it on lo (and so may take it away again). One dump
	// costs as much as one look-up: a batch reads them once.
	localAddrs() (map[netip.Addr]bool, error)
	addVIP(a netip.Addr) error
	delVIP(a netip.Addr) error
	// subnets are the subnets of the director's links (see
	// connectedSubnets): where a dr-mode real server can be.
	subnets() ([]netip.Prefix, error)
	sysctl(name string) (string, error)
	setSysctl(name, value string) error
}

// Director applies services and real servers to one network namespace.
type Director struct {
	ipvs  ipvsAPI
	marks marksAPI
	host  hostAPI
	// drained is the file of drained reals (drainedPath; tests give a
	// temporary one).
	drained string
}

// Changer is the part of *Director that changes the running state. The CLI
// and the config planner work through it, so their tests can use fakes.
type Changer interface {
	AddService(s Service) (Result, error)
	EditService(k Key, e ServiceEdit) (Result, error)
	DelService(k Key) (Result, error)
	AddReal(k Key, r Real) (Result, error)
	EditReal(k Key, a netip.Addr, e RealEdit) (Result, error)
	DelReal(k Key, a netip.Addr) (Result, error)
}

var _ Changer = (*Director)(nil)
