package config

import (
	"net/netip"
	"time"
)

// BGP is the agent's bgp section: the VIPs this director announces, and to
// which routers. A VIP is announced only while a service of it can serve.
type BGP struct {
	ASN      uint32
	RouterID netip.Addr
	// ListenPort is the port the speaker accepts sessions on; -1 (the
	// default) is none: the speaker only connects out, and no second BGP
	// daemon on the host conflicts with it.
	ListenPort int32
	// WithdrawDelay is how long a stopping agent keeps forwarding after it
	// withdrew its VIPs, so that the routers move the flows first.
	WithdrawDelay time.Duration
	// NextHop4 and NextHop6 are the next hops of the VIPs of each family
	// that do not give their own; the zero Addr is the session's own
	// address.
	NextHop4, NextHop6 netip.Addr
	Neighbors          []BGPNeighbor
	Announce           []BGPAnnounce
	Pos                Pos
}

// BGPNeighbor is one router the speaker keeps a session with.
type BGPNeighbor struct {
	Address  netip.Addr
	ASN      uint32
	Password string // TCP MD5 (RFC 2385); "" is none
	// HoldTime is the session's hold time; 0 is the speaker's default
	// (90 s).
	HoldTime time.Duration
	Port     uint16 // 0 is 179
	// Multihop is the TTL for a router that is not on a connected
	// network; 0 is a directly connected one.
	Multihop     uint8
	LocalAddress netip.Addr // the zero Addr: the kernel's choice
	// BFD is the session's BFD (RFC 5880); nil is none: the hold time
	// alone notices a dead router or director.
	BFD *BGPBFD
	Pos Pos
}

// BGPBFD is a neighbor's BFD timers.
type BGPBFD struct {
	MinTx, MinRx time.Duration
	Multiplier   uint8
}

// BGPAnnounce is one VIP to announce, as a /32 or /128.
type BGPAnnounce struct {
	VIP     netip.Addr
	NextHop netip.Addr // the zero Addr: the family's next hop of BGP
	Pos     Pos
}
