package doctor

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/internal/rtnl"
	"github.com/l3dsr/l3dsr/internal/sysctl"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/maptable"
	"github.com/l3dsr/l3dsr/realserver"
)

// live is this host. The table, the real-server manager and IPVS are
// opened on first use: a real server need not have IPVS, nor a director
// the module.
type live struct {
	rt    *rtnl.Conn
	table maptable.Table
	rs    *realserver.Manager
	dir   *director.Director
	// closers run in reverse order by Close.
	closers []func() error
}

// Open connects to this network namespace; close releases what the checks
// opened.
func Open() (h Host, closeFn func() error, err error) {
	rt, err := rtnl.Dial(0)
	if err != nil {
		return Host{}, nil, err
	}
	l := &live{rt: rt, closers: []func() error{rt.Close}}
	return Host{
		Sysctl: sysctl.Get, Links: rt.Links, Addrs: func() ([]rtnl.Addr, error) { return rt.AddrList(0) },
		ModuleLoaded: moduleLoaded, Rules: (&xtrule.Reader{}).Read, Entries: l.entries,
		RealServer: l.realServer, Director: l.director, Features: readFeatures, RouteOif: l.routeOif, bpf: readBPF,
	}, l.close, nil
}

func (l *live) close() error {
	var errs []error
	for i := len(l.closers) - 1; i >= 0; i-- {
		errs = append(errs, l.closers[i]())
	}
	return errors.Join(errs...)
}

func moduleLoaded(name string) bool {
	_, err := os.Stat(filepath.Join("/sys/module", name))
	return err == nil
}

func (l *live) entries() ([]maptable.Entry, error) {
	if l.table == nil {
		t, err := maptable.Dial()
		if err != nil {
			return nil, err
		}
		l.table = t
		l.closers = append(l.closers, t.Close)
	}
	return l.table.List()
}

func (l *live) realServer(ctx context.Context) (realserver.Report, error) {
	if l.rs == nil {
		m, err := realserver.Open()
		if err != nil {
			return realserver.Report{}, err
		}
		l.rs = m
		l.closers = append(l.closers, m.Close)
	}
	// The variant of $L3DSR_IPTABLES, as 'realserver show' without
	// --iptables; a bad value is the default's.
	v, _ := (&xtrule.VariantFlag{}).Variant()
	return l.rs.Show(ctx, v)
}

func (l *live) director() (director.Status, bool, error) {
	// Opening the director loads ip_vs: a host without it has no services,
	// and is left as it is.
	if _, err := os.Stat("/proc/net/ip_vs"); err != nil {
		return director.Status{}, false, nil
	}
	if l.dir == nil {
		d, closeFn, err := director.Open()
		if err != nil {
			return director.Status{}, true, err
		}
		l.dir = d
		l.closers = append(l.closers, closeFn)
	}
	st, err := l.dir.Show()
	return st, true, err
}

func (l *live) routeOif(dst netip.Addr) (string, error) {
	idx, err := l.rt.RouteOif(dst)
	if err != nil {
		return "", err
	}
	links, err := l.rt.Links()
	if err != nil {
		return "", err
	}
	for _, k := range links {
		if k.Index == idx {
			return k.Name, nil
		}
	}
	return "", fmt.Errorf("the route to %s leaves by interface %d, which is gone", dst, idx)
}
