package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/icmprelay"
	"github.com/l3dsr/l3dsr/internal/ipvs"
)

// Relay is the ICMP relay's socket (*icmprelay.Relay): tests fake it.
type Relay interface {
	Run(ctx context.Context, look icmprelay.Lookup, count func(icmprelay.Result)) error
	Close() error
}

// resultOtherMode counts a "too big" for a service that is not L3 DSR: dr
// and nat flows are IPVS's own (it relays ICMP of the connections it
// knows), and the relay leaves them be.
const resultOtherMode icmprelay.Result = "other_mode"

// statusMaxAge bounds how stale the services the relay looks up may be: a
// real added or removed is seen within it, and a burst of ICMP costs one
// read of IPVS a second, not one a packet.
const statusMaxAge = time.Second

// relayer sends ICMP "too big" for a VIP on to the real server that owns
// the quoted flow. A reply's ICMP from a router on the return path reaches
// whichever director the routers' ECMP picks for the VIP; mh makes every
// director pick the same real, so this one can compute it.
type relayer struct {
	a      *runner
	relay  Relay
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	status director.Status
	read   time.Time
	// sources is the director's own address toward each real, as routing
	// picks it: the copy goes out from it, since a router drops a packet
	// that carries the router's own address as its source.
	sources map[netip.Addr]netip.Addr
	// route is the source toward a real (routeSource; tests fake it).
	route func(netip.Addr) (netip.Addr, error)
}

// startRelay opens the relay when the file asks for it on a director.
func (a *runner) startRelay(ctx context.Context) error {
	if !a.settings.ICMPRelay || a.o.OpenRelay == nil {
		return nil
	}
	if svcs, _ := a.file.DirectorServices(); len(svcs) == 0 {
		return nil
	}
	r, err := a.o.OpenRelay()
	if err != nil {
		return fmt.Errorf("icmp_relay: opening the packet socket: %w (or set 'icmp_relay: off')", err)
	}
	a.reg.ICMP.Results(string(icmprelay.Relayed), string(icmprelay.NotVIP), string(icmprelay.NoReal),
		string(icmprelay.Malformed), string(icmprelay.SendError), string(resultOtherMode))
	ctx, cancel := context.WithCancel(ctx)
	rl := &relayer{a: a, relay: r, cancel: cancel, done: make(chan struct{}), sources: map[netip.Addr]netip.Addr{}, route: routeSource}
	go func() {
		defer close(rl.done)
		if err := r.Run(ctx, rl.lookup, func(res icmprelay.Result) { a.reg.ICMP.Relayed(string(res)) }); err != nil && !errors.Is(err, context.Canceled) {
			a.log.Error("icmp relay stopped", "err", err)
		}
	}()
	a.relay = rl
	a.log.Info("relaying ICMP too-big for the VIPs to the real servers that own the flows")
	return nil
}

func (rl *relayer) stop() {
	if rl == nil {
		return
	}
	rl.cancel()
	_ = rl.relay.Close()
	<-rl.done
}

// lookup is the target of one quoted reply: the service's owner of the
// flow, in the service's encoding.
func (rl *relayer) lookup(q icmprelay.Quoted) (icmprelay.Target, icmprelay.Result) {
	st, err := rl.services()
	if err != nil {
		rl.a.log.Warn("icmp relay: reading IPVS", "err", err)
		return icmprelay.Target{}, icmprelay.NoReal
	}
	k := director.Key{VIP: q.VIP, Port: q.VIPPort, Proto: ipvs.Protocol(q.Proto)}
	s, ok := findService(st, k)
	if !ok {
		return icmprelay.Target{}, icmprelay.NotVIP
	}
	var t icmprelay.Target
	switch s.Mode {
	case dsrtypes.ModeDSCP, "":
		t.DSCP = s.DSCP
	case dsrtypes.ModeIPIP:
		t.Tunnel = true
	case dsrtypes.ModeAddr:
		t.KeepTOS = true
	default:
		return icmprelay.Target{}, resultOtherMode
	}
	if slices.Contains(st.OutOfOrder, k) {
		// Show sorts the reals, and mh's table follows the order they
		// were added in; apply puts them in order.
		return icmprelay.Target{}, icmprelay.NoReal
	}
	r, ok := director.Owner(s, q.Client, q.ClientPort)
	if !ok {
		// Not mh: the flow's real is in another director's connection
		// table, and a guess would hand a real a flow it does not have.
		owners := director.OwnersOf(s, q.Client, q.ClientPort)
		if len(owners) != 1 {
			return icmprelay.Target{}, icmprelay.NoReal
		}
		r = owners[0]
	}
	t.RIP = r.Addr
	if t.Source, err = rl.source(r.Addr); err != nil {
		rl.a.log.Warn("icmp relay: no route to the real", "real", r.Addr, "err", err)
		return icmprelay.Target{}, icmprelay.NoReal
	}
	return t, ""
}

func findService(st director.Status, k director.Key) (director.Service, bool) {
	for _, s := range st.Services {
		if s.Key == k {
			return s, true
		}
	}
	return director.Service{}, false
}

// services is IPVS's services, read at most once per statusMaxAge.
func (rl *relayer) services() (director.Status, error) {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	if time.Since(rl.read) < statusMaxAge {
		return rl.status, nil
	}
	st, err := rl.a.showDirector()
	if err != nil {
		return director.Status{}, err
	}
	// Routes may have changed with the services: ask routing again.
	rl.status, rl.read, rl.sources = st, time.Now(), map[netip.Addr]netip.Addr{}
	return st, nil
}

// source is the address this host sends from toward rip.
func (rl *relayer) source(rip netip.Addr) (netip.Addr, error) {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	if s, ok := rl.sources[rip]; ok {
		return s, nil
	}
	src, err := rl.route(rip)
	if err != nil {
		return netip.Addr{}, err
	}
	rl.sources[rip] = src
	return src, nil
}

// routeSource asks routing for the source toward rip with a connected UDP
// socket, which sends nothing.
func routeSource(rip netip.Addr) (netip.Addr, error) {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(rip, 9)))
	if err != nil {
		return netip.Addr{}, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap(), nil
}
