package doctor

import (
	"context"
	"net/netip"

	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/internal/rtnl"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/maptable"
	"github.com/l3dsr/l3dsr/realserver"
)

// Host is what the checks read of the running host, as functions (like
// config.Host): Open gives this host's; tests give a fake's, so that every
// check runs without root.
type Host struct {
	// Sysctl reads a kernel parameter (internal/sysctl's names).
	Sysctl func(key string) (string, error)
	Links  func() ([]rtnl.Link, error)
	// Addrs lists the addresses of every link.
	Addrs func() ([]rtnl.Addr, error)
	// ModuleLoaded tells whether a kernel module is loaded (or built in):
	// /sys/module/NAME.
	ModuleLoaded func(name string) bool
	// Rules are every DADDR rule of the namespace (xtrule.Reader).
	Rules func(ctx context.Context) ([]xtrule.Rule, error)
	// Entries lists xt_DADDR's table; only called with the module loaded.
	Entries func() ([]maptable.Entry, error)
	// RealServer is realserver.Manager's Show: the VIPs 'realserver up'
	// set up, as they run.
	RealServer func(ctx context.Context) (realserver.Report, error)
	// Director is director.Show; loaded is false (and nothing read) when
	// IPVS is not loaded, which reading it would change.
	Director func() (st director.Status, loaded bool, err error)
	// Features reads a NIC's receive offloads.
	Features func(dev string) (Features, error)
	// RouteOif names the interface the route to dst leaves by.
	RouteOif func(dst netip.Addr) (string, error)
	// bpf reads the tc-BPF backend (bpfhost.go); nil: a host (a fake)
	// without that backend.
	bpf func() (bpfState, error)
}
