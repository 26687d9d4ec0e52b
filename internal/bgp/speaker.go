// Failure detection: without BFD only the BGP hold timer tells a router
// that a director died, and RFC 4271 allows 3 s at least (or 0, no
// keepalives at all). With BFD (GoBGP v4's own, see BFD) the router
// notices in Multiplier packet intervals, well under a second.

package bgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/server"
)

// minHoldTime is RFC 4271's least hold time other than 0.
const minHoldTime = 3 * time.Second

// connectRetry is how long the speaker waits between attempts to connect
// to a neighbor. GoBGP's default is 120 s: a router that restarted would
// get the VIPs back only two minutes later.
const connectRetry = 5 * time.Second

// Speaker is a running BGP speaker: the VIPs it announces go to every
// neighbor.
type Speaker struct {
	srv *server.BgpServer
	log *slog.Logger

	stopWatch context.CancelFunc

	mu sync.Mutex
	// established counts, by neighbor address, the times its session
	// became established: GoBGP keeps the count but its API does not
	// return it, so the speaker counts the state changes it is told of.
	established map[netip.Addr]uint64
	stopped     bool
}

var (
	apiFamilyIPv4 = &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
	apiFamilyIPv6 = &api.Family{Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_UNICAST}
)

// Start starts the speaker and adds its neighbors; it connects to them in
// the background. On an error nothing is left running.
func Start(ctx context.Context, c Config) (*Speaker, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	log := c.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// No level variable: the handler's own level decides what is logged.
	srv := server.NewBgpServer(server.LoggerOption(log.With("component", "gobgp"), nil))
	go srv.Serve()
	s := &Speaker{srv: srv, log: log, established: map[netip.Addr]uint64{}}

	err := srv.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn:        c.ASN,
		RouterId:   c.RouterID.String(),
		ListenPort: c.ListenPort,
	}})
	if err != nil {
		srv.Stop()
		return nil, fmt.Errorf("bgp: start: %w", err)
	}
	// The watch is in place before the first neighbor, so that no
	// establishment goes uncounted.
	wctx, cancel := context.WithCancel(context.Background())
	s.stopWatch = cancel
	err = srv.WatchEvent(wctx, server.WatchEventMessageCallbacks{OnPeerUpdate: s.onEvent}, server.WatchPeer())
	if err != nil {
		s.Stop(ctx)
		return nil, fmt.Errorf("bgp: watch sessions: %w", err)
	}
	for _, n := range c.Neighbors {
		if err := srv.AddPeer(ctx, &api.AddPeerRequest{Peer: peerOf(n)}); err != nil {
			s.Stop(ctx)
			return nil, fmt.Errorf("bgp: add neighbor %s: %w", n.Address, err)
		}
	}
	log.Info("bgp speaker started", "asn", c.ASN, "router_id", c.RouterID, "neighbors", len(c.Neighbors))
	return s, nil
}

func (c Config) validate() error {
	if c.ASN == 0 {
		return errors.New("bgp: asn 0 is not an AS number: give the director's ASN (1 to 4294967295, a private one is 64512-65534 or 4200000000-4294967294)")
	}
	if !c.RouterID.Is4() {
		return fmt.Errorf("bgp: router id %q is not an IPv4 address: BGP router ids are 32-bit, give one of the director's IPv4 addresses", addrString(c.RouterID))
	}
	if c.ListenPort < -1 || c.ListenPort > 65535 {
		return fmt.Errorf("bgp: listen port %d is out of range: give -1 (none) or 1 to 65535", c.ListenPort)
	}
	seen := map[netip.Addr]bool{}
	for _, n := range c.Neighbors {
		if err := n.validate(); err != nil {
			return err
		}
		if seen[n.Address] {
			return fmt.Errorf("bgp: neighbor %s is given twice: give each router once", n.Address)
		}
		seen[n.Address] = true
	}
	return nil
}

func (n Neighbor) validate() error {
	if !n.Address.IsValid() {
		return errors.New("bgp: a neighbor has no address: give the router's IPv4 or IPv6 address")
	}
	if n.Address.Zone() != "" {
		return fmt.Errorf("bgp: neighbor %s: zoned addresses are not supported: give a global address", n.Address)
	}
	if n.ASN == 0 {
		return fmt.Errorf("bgp: neighbor %s: asn 0 is not an AS number: give the router's ASN", n.Address)
	}
	if n.HoldTime != 0 && (n.HoldTime < minHoldTime || n.HoldTime%time.Second != 0) {
		return fmt.Errorf("bgp: neighbor %s: hold time %s is not 0 or whole seconds of at least 3s (RFC 4271)", n.Address, n.HoldTime)
	}
	if n.LocalAddress.IsValid() && n.LocalAddress.Is4() != n.Address.Is4() {
		return fmt.Errorf("bgp: neighbor %s: local address %s is of the other family: give an %s address of the director, or none", n.Address, n.LocalAddress, familyName(n.Address))
	}
	if n.BFD != nil {
		if err := n.BFD.validate(n); err != nil {
			return err
		}
	}
	return nil
}

func familyName(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// peerOf is n in GoBGP's terms. Every neighbor carries both unicast
// families, so that a VIP of either family reaches every router.
func peerOf(n Neighbor) *api.Peer {
	p := &api.Peer{
		Conf: &api.PeerConf{
			NeighborAddress: n.Address.String(),
			PeerAsn:         n.ASN,
			AuthPassword:    n.Password,
		},
		Timers: &api.Timers{Config: &api.TimersConfig{
			ConnectRetry: uint64(connectRetry / time.Second),
		}},
		Transport: &api.Transport{RemotePort: uint32(n.Port)},
		AfiSafis: []*api.AfiSafi{
			{Config: &api.AfiSafiConfig{Family: apiFamilyIPv4, Enabled: true}},
			{Config: &api.AfiSafiConfig{Family: apiFamilyIPv6, Enabled: true}},
		},
	}
	if n.HoldTime > 0 {
		hold := uint64(n.HoldTime / time.Second)
		p.Timers.Config.HoldTime = hold
		// RFC 4271 suggests a third of the hold time: two keepalives may
		// be lost before the session drops.
		p.Timers.Config.KeepaliveInterval = max(hold/3, 1)
	}
	if n.LocalAddress.IsValid() {
		p.Transport.LocalAddress = n.LocalAddress.String()
	}
	if n.Multihop > 0 {
		p.EbgpMultihop = &api.EbgpMultihop{Enabled: true, MultihopTtl: uint32(n.Multihop)}
	}
	if n.BFD != nil {
		p.Bfd = n.BFD.config()
	}
	return p
}

// Stop withdraws nothing itself: it sends a Cease to every neighbor (the
// routers drop the speaker's routes at once) and stops the server, its
// BFD sessions with it.
func (s *Speaker) Stop(ctx context.Context) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		// StopBgp waits until every session is closed.
		s.srv.Stop()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		s.stopWatch()
		return fmt.Errorf("bgp: stop: %w", ctx.Err())
	}
	s.stopWatch()
	s.log.Info("bgp speaker stopped")
	return nil
}
