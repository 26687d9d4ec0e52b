// Package bgp is the agent's BGP speaker: it announces VIPs as /32 and
// /128 routes to the routers in front of the directors, and reports its
// sessions. GoBGP runs embedded, so the agent is one binary.
package bgp

import (
	"log/slog"
	"net/netip"
	"time"
)

// Config is the speaker's identity and its neighbors.
type Config struct {
	ASN        uint32
	RouterID   netip.Addr
	ListenPort int32 // -1: accept no sessions, only connect out
	Neighbors  []Neighbor
	Log        *slog.Logger
}

// Neighbor is one router.
type Neighbor struct {
	Address      netip.Addr
	ASN          uint32
	Password     string
	HoldTime     time.Duration // 0: 90 s
	Port         uint16        // 0: 179
	Multihop     uint8         // 0: directly connected
	LocalAddress netip.Addr
	BFD          *BFD // nil: no BFD, the hold time alone detects a dead session
}

// Session is one neighbor's session as the speaker sees it.
type Session struct {
	Neighbor netip.Addr
	ASN      uint32
	// State is the BGP FSM's state, lower case: idle, connect, active,
	// opensent, openconfirm, established.
	State string
	Up    bool
	// Since is when the session became established; zero when it is not.
	Since time.Time
	// Transitions counts the times the session became established.
	Transitions     uint64
	UpdatesSent     uint64
	UpdatesReceived uint64
}
