package bgp

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	api "github.com/osrg/gobgp/v3/api"
)

// onEvent counts the establishments GoBGP reports.
func (s *Speaker) onEvent(r *api.WatchEventResponse) {
	ev := r.GetPeer()
	if ev == nil || ev.Type != api.WatchEventResponse_PeerEvent_STATE {
		return
	}
	st := ev.Peer.GetState()
	if st == nil {
		return
	}
	state := stateName(st.SessionState)
	s.log.Info("bgp session state", "neighbor", st.NeighborAddress, "state", state)
	if st.SessionState != api.PeerState_ESTABLISHED {
		return
	}
	addr, err := netip.ParseAddr(st.NeighborAddress)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.established[addr.Unmap()]++
	s.mu.Unlock()
}

// stateName is the FSM state as Session.State spells it.
func stateName(st api.PeerState_SessionState) string {
	if st == api.PeerState_UNKNOWN {
		return "idle"
	}
	return strings.ToLower(st.String())
}

// Sessions lists the neighbors' sessions, by neighbor address.
func (s *Speaker) Sessions(ctx context.Context) ([]Session, error) {
	var out []Session
	err := s.srv.ListPeer(ctx, &api.ListPeerRequest{}, func(p *api.Peer) {
		out = append(out, s.session(p))
	})
	if err != nil {
		return nil, fmt.Errorf("bgp: list sessions: %w", err)
	}
	slices.SortFunc(out, func(a, b Session) int { return a.Neighbor.Compare(b.Neighbor) })
	return out, nil
}

func (s *Speaker) session(p *api.Peer) Session {
	conf, st := p.GetConf(), p.GetState()
	addr, _ := netip.ParseAddr(conf.GetNeighborAddress())
	se := Session{
		Neighbor:        addr,
		ASN:             conf.GetPeerAsn(),
		State:           stateName(st.GetSessionState()),
		UpdatesSent:     st.GetMessages().GetSent().GetUpdate(),
		UpdatesReceived: st.GetMessages().GetReceived().GetUpdate(),
	}
	se.Up = st.GetSessionState() == api.PeerState_ESTABLISHED
	// GoBGP keeps the uptime after a session went down: Since is only
	// for a session that is up.
	if up := p.GetTimers().GetState().GetUptime(); se.Up && up != nil && up.GetSeconds() > 0 {
		se.Since = time.Unix(up.GetSeconds(), int64(up.GetNanos()))
	}
	s.mu.Lock()
	se.Transitions = s.established[addr]
	s.mu.Unlock()
	// The count comes from GoBGP's events, which may trail its state by
	// a moment: a session that is up became established at least once.
	if se.Up && se.Transitions == 0 {
		se.Transitions = 1
	}
	return se
}
