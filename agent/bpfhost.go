package agent

import (
	"context"
	"errors"
	"fmt"

	"github.com/l3dsr/l3dsr/config"
	"github.com/l3dsr/l3dsr/internal/bpfdsr"
	"github.com/l3dsr/l3dsr/internal/rtnl"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// The BPF backend of this namespace (internal/bpfdsr); variables so that
// the tests' fakes can stand in.
var (
	bpfInstalled = bpfdsr.Installed
	bpfAttach    = func(ifname string) (changed bool, err error) {
		err = bpfdsr.With(func(t *bpfdsr.Table) (e error) { changed, e = t.Attach(ifname); return e })
		return changed, err
	}
)

// hostLinks is bpfLinks on this host, in this network namespace (netns
// 0) or the one netns refers to (tests).
type hostLinks struct {
	host  config.Host
	netns int
}

func (h hostLinks) installed() (bool, error) { return bpfInstalled() }

func (h hostLinks) attach(ifname string) (bool, error) { return bpfAttach(ifname) }

func (h hostLinks) ingress(ctx context.Context) ([]string, error) {
	rs, err := h.host.OpenRealServer()
	if err != nil {
		return nil, fmt.Errorf("opening the real server: %w", err)
	}
	defer rs.Close()
	// The variant of $L3DSR_IPTABLES, as doctor reads it; a bad value is
	// the default's.
	v, _ := (&xtrule.VariantFlag{}).Variant()
	rep, err := rs.Show(ctx, v)
	if err != nil {
		return nil, err
	}
	return rep.Ingress, nil
}

func (h hostLinks) links() ([]rtnl.Link, error) {
	c, err := rtnl.Dial(h.netns)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.Links()
}

// watch listens on RTNLGRP_LINK. Any message is only a hint to look again
// (reconcile lists the links itself), so nothing of it is parsed; ENOBUFS
// (events lost) is a hint too.
func (h hostLinks) watch(ctx context.Context) (<-chan struct{}, error) {
	c, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{NetNS: h.netns, Groups: 1 << (unix.RTNLGRP_LINK - 1)})
	if err != nil {
		return nil, fmt.Errorf("subscribing to link events: %w", err)
	}
	kick := make(chan struct{}, 1)
	go func() {
		<-ctx.Done()
		c.Close()
	}()
	go func() {
		for {
			_, err := c.Receive()
			if err != nil && !errors.Is(err, unix.ENOBUFS) {
				return // closed: ctx ended
			}
			select {
			case kick <- struct{}{}:
			default:
			}
		}
	}()
	return kick, nil
}
