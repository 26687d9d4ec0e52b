// Package probe sets up, on a director, the path that the agent's DSR-path
// health probes take: the same as a client's packets, so that a probe fails
// when the real server's mapping, its VIP on lo or its tunnel is missing,
// where a plain check to the real server's address would pass.
//
// A probe is a socket of the director's, bound to the director's own address
// toward the real server (Route.Source), with SO_MARK set (Route.Mark), and
// connected to VIP:port. Left alone, the kernel would deliver it locally (the
// director holds the VIP). Per real server one of two things happens to it:
//
//   - dscp mode: a rule of table inet l3dsr_probe, in a route-type output
//     chain at priority mangle (after conntrack, before IPVS's LOCAL_OUT
//     hook), sets the service's DSCP code and the real server's address as
//     the destination, and the kernel routes it again. IPVS is not involved:
//     had the probe gone through IPVS NAT, IPVS would undo a reply sent from
//     the real server's own address, and the probe would pass without DSR.
//   - ipip mode: a firewall-mark IPVS service with this one real, forwarding
//     by tunnel as the service does, takes it in LOCAL_OUT and encapsulates
//     it exactly as it does a client's packet.
//
// The real server answers from the VIP, which is the director's own address:
// the kernel takes such a packet for a martian unless accept_local is 1 on
// the interface it arrives on, and strict rp_filter drops it. Sync sets
// accept_local=1, and rp_filter=2 (loose) where the effective value is strict,
// on the interface the route to each real leaves by. Conntrack matches
// the answer to the probe's own entry (director → VIP), so no NAT is needed.
//
// Marks are 0x4c33NNNN ("L3"), one per probed real in the order Sync is
// given them; other firewall-mark services (keepalived's, ipvsadm's) are
// never touched, and the marks of this range are the only ones read.
package probe
