// Package dscpmark sets, on an L3 DSR director, the DSCP code that stands
// for a VIP on the packets clients send to it, with nftables over netlink
// (github.com/google/nftables; no nft binary). IPVS NAT then rewrites the
// destination to a real server's address and leaves the TOS byte (IPv4)
// or traffic class (IPv6) alone, so the code reaches the real server,
// whose DADDR target turns it back into the VIP.
//
// Everything lives in one table of the package's own, table inet l3dsr
// (TableName); no other table, chain or rule is ever read-modified,
// flushed or deleted. Its content is what this nft text would create:
//
//	table inet l3dsr {
//		map vip4 { type ipv4_addr . inet_proto . inet_service : verdict; }
//		map vip6 { type ipv6_addr . inet_proto . inet_service : verdict; }
//		chain prerouting {
//			type filter hook prerouting priority mangle; policy accept;
//			ip daddr . meta l4proto . th dport vmap @vip4
//			ip6 daddr . meta l4proto . th dport vmap @vip6
//		}
//		chain dscp4_21 { ip dscp set 21 }   # one per IPv4 code in use
//		chain dscp6_22 { ip6 dscp set 22 }  # one per IPv6 code in use
//	}
//
// with one map element per Mark, such as
// "10.0.0.1 . tcp . 80 : goto dscp4_21".
//
// Why this shape:
//   - Priority mangle (-150) in prerouting runs before routing, so before
//     IPVS, which takes the packet in LOCAL_IN (or FORWARD).
//   - One lookup per packet in a hash keyed by (VIP, protocol, port): the
//     cost does not grow with the number of VIPs.
//   - The map jumps to a chain per code rather than writing the TOS byte
//     from a data map: `ip dscp set` rewrites only the 6 DSCP bits (the
//     ECN bits are kept) and updates the IPv4 header checksum, which a
//     plain byte write from a map value could not do.
//   - A chain of a code is created with its first mark and deleted with
//     its last.
//
// Each change is one netlink batch: the kernel applies it wholly or not
// at all. Calls that would change nothing send nothing.
package dscpmark
