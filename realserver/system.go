package realserver

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/l3dsr/l3dsr/internal/rtnl"
	"github.com/l3dsr/l3dsr/internal/sysctl"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/maptable"
)

// netAPI is what the package uses of rtnetlink (rtnl.Conn).
type netAPI interface {
	LinkByName(name string) (rtnl.Link, error)
	Links() ([]rtnl.Link, error)
	LinkSetUp(index int, up bool) error
	EnsureLink(kind, name string) (created bool, err error)
	LinkDel(index int) error
	AddrList(index int) ([]rtnl.Addr, error)
	AddrAdd(index int, p netip.Prefix) error
	AddrDel(index int, p netip.Prefix) error
	RouteOif(dst netip.Addr) (int, error)
	RouteSrc(dst netip.Addr) (netip.Addr, error)
}

// sysctlAPI reads and writes kernel parameters (sysctl.FS).
type sysctlAPI interface {
	Get(name string) (string, error)
	Set(name, value string) error
}

// Table is what the package uses of the module's map (maptable.Table).
type Table interface {
	Get(k maptable.Key) (maptable.Entry, error)
	Add(e maptable.Entry, replace bool) error
	Delete(k maptable.Key) error
	List() ([]maptable.Entry, error)
	Replace(entries []maptable.Entry) error
	Close() error
}

// Rules keeps the map-mode rule of one iptables variant (xtrule.Rules).
type Rules interface {
	Ensure(ctx context.Context, f xtrule.Family) (bool, error)
	Delete(ctx context.Context, f xtrule.Family) error
	Exists(ctx context.Context, f xtrule.Family) (bool, error)
	// Reshape makes the rules of f the keeper's shape, adding before
	// deleting (xtrule.Rules.Reshape).
	Reshape(ctx context.Context, f xtrule.Family) (bool, error)
}

// clamp is the MSS clamp of one ipip-mode VIP's SYN-ACKs.
type clamp struct {
	VIP netip.Addr `json:"vip"`
	MSS uint16     `json:"mss"`
}

// clamper holds the clamps, all in one nftables table of ours.
type clamper interface {
	// List returns the clamps in place (none if the table is missing).
	List() ([]clamp, error)
	// Set replaces them all in one transaction; none removes the table.
	Set(c []clamp) error
}

// Manager sets up VIPs in one network namespace. Open gives one for the
// running system; tests fill the fields with fakes.
type Manager struct {
	net    netAPI
	sysctl sysctlAPI
	// dialTable connects to the module's map; called only when a dscp-mode
	// VIP needs it, so ipip mode works without the module.
	dialTable func() (Table, error)
	// newRules returns the map-mode rule keeper for an iptables variant,
	// limited to the ingress interfaces (none: any).
	newRules func(v xtrule.Variant, ingress Ingress) Rules
	clamps   clamper
	// readRules reads every DADDR rule of the namespace (xtrule.Reader);
	// nil reads none.
	readRules func(ctx context.Context) ([]xtrule.Rule, error)
	// stateDir holds the state file (see stateDirOf).
	stateDir string
	// mem is the state of the Batch this manager belongs to, if any.
	mem *memState
	// bpf is the tc-BPF backend; loadModule loads xt_DADDR (auto's test).
	bpf        bpfAPI
	loadModule func(ctx context.Context) error

	table Table
	close func() error
}

// Open returns a Manager for the calling process's network namespace.
func Open() (*Manager, error) {
	dir, err := stateDirOf()
	if err != nil {
		return nil, err
	}
	nc, err := rtnl.Dial(0)
	if err != nil {
		return nil, err
	}
	return &Manager{
		net:        nc,
		sysctl:     sysctl.FS{},
		dialTable:  func() (Table, error) { return maptable.Dial() },
		newRules:   func(v xtrule.Variant, ing Ingress) Rules { return &xtrule.Rules{Variant: v, Ingress: ing} },
		clamps:     nftClamps{},
		bpf:        hostBPF{},
		loadModule: loadModule,
		readRules:  (&xtrule.Reader{}).Read,
		stateDir:   dir,
		close:      nc.Close,
	}, nil
}

// Close releases the netlink sockets.
func (m *Manager) Close() error {
	var errs []error
	if m.table != nil {
		errs = append(errs, m.table.Close())
		m.table = nil
	}
	if m.close != nil {
		errs = append(errs, m.close())
	}
	return errors.Join(errs...)
}

func (m *Manager) mapTable() (Table, error) {
	if m.table != nil {
		return m.table, nil
	}
	t, err := m.dialTable()
	if err != nil {
		return nil, fmt.Errorf("opening the DSCP map of xt_DADDR: %w", err)
	}
	m.table = t
	return t, nil
}

// linkList lists the links (kept in a batch).
func (m *Manager) linkList() ([]rtnl.Link, error) {
	if c, ok := m.net.(*cachedNet); ok {
		return c.linkList()
	}
	return m.net.Links()
}

// linkDel deletes a link (and forgets the batch's links).
func (m *Manager) linkDel(index int) error {
	if c, ok := m.net.(*cachedNet); ok {
		defer c.dropLinks()
	}
	return m.net.LinkDel(index)
}

func (m *Manager) lo() (rtnl.Link, error) {
	l, err := m.net.LinkByName("lo")
	if err != nil {
		return l, fmt.Errorf("finding lo: %w", err)
	}
	return l, nil
}

// onLo reports whether vip is an address of lo (any prefix length).
func (m *Manager) onLo(lo rtnl.Link, vip netip.Addr) (bool, error) {
	if c, ok := m.net.(*cachedNet); ok {
		return c.hasAddr(lo.Index, vip)
	}
	addrs, err := m.net.AddrList(lo.Index)
	if err != nil {
		return false, err
	}
	for _, a := range addrs {
		if a.Prefix.Addr() == vip {
			return true, nil
		}
	}
	return false, nil
}
