// Package director sets up an L3 DSR director: IPVS services and real servers
// (package ipvs), the DSCP mark that stands for each VIP (package dscpmark), the
// VIP as a local address, and the sysctls IPVS needs for one-way flows.
//
// A service runs in one of three modes:
//
//   - ModeDSCP (Yahoo's L3 DSR): IPVS masquerade rewrites the destination to
//     the real server's address and the nft mark sets the service's DSCP code;
//     the real server's xt_DADDR puts the VIP back.
//   - ModeIPIP (LVS-TUN): IPVS tunnel forwarding encapsulates the packet
//     (IPIP for IPv4, IP6IP6 for IPv6); no DSCP is used.
//   - ModeDR (LVS-DR, L2 DSR): IPVS direct routing sends the packet unchanged
//     to the real server's MAC address; no DSCP is used, and every real
//     server must be on a subnet of one of the director's links (AddReal
//     refuses others with ErrNotConnected).
//
// The mode lives in the kernel, not in a file of ours: a DSCP-mode service
// always has a mark in the nft map and masquerading reals; an IPIP-mode
// service has no mark and tunnelling reals; a DR-mode service has no mark,
// routing reals and a tag in its IPVS flags (drTag), which tells it from an
// IPIP one while it has no real server. Show reads it back from the kernel,
// so what is shown is what runs, also after a reboot or a change made with
// ipvsadm.
//
// Every change is validated against the running state first (family, DSCP
// range, and that no real server would receive one DSCP code for two VIPs),
// then applied step by step; if a step fails, the steps already done are
// undone before the error is returned.
//
// The package never prints: warnings (a DSCP code with a standard meaning)
// are returned to the caller.
package director
