package bgp

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	"github.com/osrg/gobgp/v4/pkg/packet/bgp"
)

// onEvent counts the establishments GoBGP reports.
func (s *Speaker) onEvent(ev *apiutil.WatchEventMessage_PeerEvent, _ time.Time) {
	if ev == nil || ev.Type != apiutil.PEER_EVENT_STATE {
		return
	}
	st := ev.Peer.State
	s.log.Info("bgp session state", "neighbor", st.NeighborAddress, "state", fsmStateName(st.SessionState))
	if st.SessionState != bgp.BGP_FSM_ESTABLISHED || !st.NeighborAddress.IsValid() {
		return
	}
	s.mu.Lock()
	s.established[st.NeighborAddress.Unmap()]++
	s.mu.Unlock()
}

// fsmStateName is the FSM state of an event as Session.State spells it.
func fsmStateName(st bgp.FSMState) string {
	switch st {
	case bgp.BGP_FSM_CONNECT:
		return "connect"
	case bgp.BGP_FSM_ACTIVE:
		return "active"
	case bgp.BGP_FSM_OPENSENT:
		return "opensent"
	case bgp.BGP_FSM_OPENCONFIRM:
		return "openconfirm"
	case bgp.BGP_FSM_ESTABLISHED:
		return "established"
	}
	return "idle"
}

// stateName is the FSM state of a listed peer as Session.State spells it.
func stateName(st api.PeerState_SessionState) string {
	name, ok := strings.CutPrefix(st.String(), "SESSION_STATE_")
	if st == api.PeerState_SESSION_STATE_UNSPECIFIED || !ok {
		return "idle"
	}
	return strings.ToLower(name)
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
	se.Up = st.GetSessionState() == api.PeerState_SESSION_STATE_ESTABLISHED
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
