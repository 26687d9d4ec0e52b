// Package realserver sets up, tears down and checks the real-server side of
// Direct Server Return, per VIP, in one of three modes:
//
//   - ModeDSCP (Yahoo's L3 DSR): the director rewrites a client's packet to
//     this server's own address and marks it with a DSCP code; xt_DADDR's
//     map-mode rule (iptables -t raw -A PREROUTING -j DADDR --map) looks the
//     code (and optionally the local address) up in the module's table and
//     puts the VIP back.
//   - ModeIPIP (LVS-TUN): the director encapsulates the packet (IPIP, or
//     IP6IP6 for IPv6) to this server; the tunnel fallback device (tunl0,
//     ip6tnl0) decapsulates it. The SYN-ACKs leaving from the VIP get their
//     MSS clamped in an nftables table of our own (inet l3dsr_rs), because
//     the client's segments carry the tunnel header on the way in.
//   - ModeDR (LVS-DR, L2 DSR): the director sends the packet unchanged,
//     addressed to the VIP, to this server's MAC address; nothing is
//     rewritten or decapsulated, so the VIP on lo is all it takes.
//
// In every mode the VIP is a /32 (/128) on lo, and for IPv4 ARP is kept from
// answering for it or announcing it (arp_ignore, arp_announce). IPv6 needs
// no such setting: the kernel answers a neighbour solicitation only for an
// address of the interface it arrived on, never for one on lo.
//
// A dscp-mode VIP may have several codes (Codes), one mapping each: Up of
// another code adds its mapping beside the others, and DownCode takes one
// off, leaving the VIP, its sysctls and the rule up for the codes it keeps.
//
// Up is all or nothing: a failed step undoes the steps already done. What Up
// changed is recorded in a state file per network namespace, so Down undoes
// exactly that: an address, sysctl, rule, mapping or tunnel that was there
// before Up stays, and a shared setting goes back to its old value only when
// no VIP still set up needs it. Show compares the running system with the
// record and names every difference with its fix.
//
// A Batch (Begin) runs many Up, Down and DownCode calls against one read of
// the running state, with one replace of the table and one write of the
// state file at its Commit: what apply uses, so that n VIPs cost O(n).
//
// Links and addresses go through rtnetlink (package rtnl), the mapping
// through the module's generic netlink family (package maptable), the clamp
// through nf_tables (google/nftables); only the one map-mode rule is made
// with the iptables binaries (package xtrule), because the DADDR target is
// an xtables extension. The package never prints.
package realserver
