// Package director sets up an L3 DSR director: IPVS services and real servers
// (package ipvs), the DSCP mark that stands for each VIP (package dscpmark), the
// VIP as a local address, and the sysctls IPVS needs for one-way flows.
//
// A service l3dsr makes runs in one of five modes:
//
//   - ModeDSCP (Yahoo's L3 DSR): IPVS masquerade rewrites the destination to
//     the real server's address and the nft mark sets the service's DSCP code;
//     the real server's xt_DADDR puts the VIP back.
//   - ModeAddr: IPVS masquerade to the real's address, which on the real
//     server stands for the VIP (the VIP's own RIP there), and no mark; the
//     real server's any-DSCP entry for that address puts the VIP back, so
//     the client's DSCP passes through. The director sets it up as dscp
//     mode without the mark.
//   - ModeIPIP (LVS-TUN): IPVS tunnel forwarding encapsulates the packet
//     (IPIP for IPv4, IP6IP6 for IPv6); no DSCP is used.
//   - ModeDR (LVS-DR, L2 DSR): IPVS direct routing sends the packet unchanged
//     to the real server's MAC address; no DSCP is used, and every real
//     server must be on a subnet of one of the director's links (AddReal
//     refuses others with ErrNotConnected).
//   - ModeNAT (plain LVS-NAT): IPVS masquerade without a mark; not DSR, the
//     real server replies through the director.
//
// The mode lives in the kernel, not in a file of ours: each service l3dsr
// makes carries its mode as a tag in its IPVS flags (tagOf), and a dscp
// service its mark in the nft map. Show reads every service back with one
// mapping (modeOf): a service of l3dsr's (Managed) has the mode of its tag
// or mark, and its reals are checked against it; any other (made by
// ipvsadm or keepalived) has the mode of its reals: nat for masquerading
// without a mark (an addr service is known by its tag alone), ipip, dr, or mixed and none, which l3dsr never makes.
// Problems are those of l3dsr's services only, so that what Show says is
// what runs, also after a reboot or a change made with ipvsadm, and a
// director that also carries others' services is not wrong.
//
// Every change is validated against the running state first (family, DSCP
// range, and that no real server would receive one DSCP code for two VIPs),
// then applied step by step; if a step fails, the steps already done are
// undone before the error is returned.
//
// The package never prints: warnings (a DSCP code with a standard meaning)
// are returned to the caller.
package director
